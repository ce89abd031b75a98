"""Volunteers in the central PostgreSQL: the roster each kiosk sends with its sync, and the
sessions of every kiosk read back as the kiosk's own store gives them, so that
``kiosk.volunteers.report.hours_report`` makes the hours report across sites unchanged.

Volunteer numbers are the key across kiosks (a volunteer who serves at the hall and on a
village point is one person). The kiosk that first sent a number registered it: only that
kiosk (by its signature) or the admin role may change the entry; a change from another
kiosk is refused and named in the sync's summary.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from store.central.signing import SignedRow
from store.filters import POSTGRES, roster_conditions, session_conditions
from store.rows import (
    CORRECTION_COLUMNS,
    SESSION_COLUMNS,
    VOLUNTEER_COLUMNS,
    SessionCorrection,
    Volunteer,
    VolunteerSession,
    correction_from_row,
    session_from_row,
    volunteer_from_row,
)

ROSTER_COLUMNS = tuple(column.strip() for column in VOLUNTEER_COLUMNS.split(","))

ROSTER_SCHEMA = (
    "CREATE TABLE volunteers (number text PRIMARY KEY, name text NOT NULL, phone text,"
    " id_card text, team text NOT NULL DEFAULT '', organisation text NOT NULL DEFAULT '',"
    " joined text, status text NOT NULL, card_serial integer NOT NULL, origin text NOT NULL,"
    " updated_at timestamptz NOT NULL DEFAULT now())",
    "CREATE INDEX volunteer_checkins_number ON volunteer_checkins (number, at_epoch)",
    "CREATE INDEX volunteer_corrections_session ON volunteer_corrections (origin, session_id)",
)


@dataclass
class RosterResult:
    new: int = 0
    updated: int = 0
    # Entries the central database refused: (volunteer number, why), e.g. a number another
    # kiosk registered, or a signature that does not match.
    refused: list[tuple[str, str]] = field(default_factory=list)


def push_roster(connection: Any, entries: Sequence[SignedRow]) -> RosterResult:
    """Send a kiosk's whole roster (small: hundreds of rows), each entry signed, in the
    caller's transaction, through the database's ``kiosk_push_roster``: new numbers are
    added as registered by the kiosk that signed them, changed entries updated when that
    same kiosk signed the change; what it refuses is said by number."""
    if not entries:
        return RosterResult()
    found = connection.execute(
        "SELECT new, updated, refused_at, refused_why FROM kiosk_push_roster("
        "%b::text[], %b::integer[], %b::text[], %b::bytea[])",
        ([entry.signer for entry in entries], [entry.key_version for entry in entries],
         [entry.payload for entry in entries], [entry.signature for entry in entries]),
    ).fetchone()
    refused = []
    for index, why in zip(found[2] or [], found[3] or [], strict=True):
        try:
            number = str(json.loads(entries[index - 1].payload)[0])
        except (ValueError, TypeError, IndexError, KeyError):
            number = f"entry {index}"
        refused.append((number, why))
    return RosterResult(int(found[0]), int(found[1]), refused)


def roster_row(volunteer: Volunteer) -> list[Any]:
    """A volunteer as signed and sent (store/central/signing.py ROSTER_FIELDS)."""
    return [volunteer.number, volunteer.name, volunteer.phone, volunteer.id_card,
            volunteer.team, volunteer.organisation,
            volunteer.joined.isoformat() if volunteer.joined else None, volunteer.status,
            volunteer.card_serial]


# The kiosk's own columns first, then the origin: the kiosk's row readers serve.
_SESSION_COLUMNS = f"{SESSION_COLUMNS}, c.origin"
_CORRECTION_COLUMNS = f"{CORRECTION_COLUMNS}, origin"


class CentralVolunteers:
    """The two queries ``hours_report`` asks of a store, over every kiosk's sessions.

    A session's ``kiosk`` is the kiosk that recorded it (so the report's 终端 column tells
    sites apart, as session ids repeat across kiosks)."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def _roster_columns(self) -> str:
        """The roster's columns, phone and ID number blank for a role that may not read
        them (the reader role: store/central/trust.py)."""
        allowed = self.connection.execute(
            "SELECT has_column_privilege('volunteers', 'phone', 'SELECT')"
            " AND has_column_privilege('volunteers', 'id_card', 'SELECT')").fetchone()[0]
        if allowed:
            return VOLUNTEER_COLUMNS
        return ", ".join("NULL" if column in ("phone", "id_card") else column
                         for column in ROSTER_COLUMNS)

    def volunteers(self, *, team: str | None = None,
                   numbers: Iterable[str] | None = None) -> list[Volunteer]:
        where, parameters = roster_conditions(POSTGRES, team=team, numbers=numbers)
        rows = self.connection.execute(
            f"SELECT {self._roster_columns()} FROM volunteers WHERE true{where}"
            " ORDER BY number", parameters).fetchall()
        return [volunteer_from_row(row) for row in rows]

    def volunteer_sessions(self, *, number: str | None = None, team: str | None = None,
                           since: float | None = None, until: float | None = None,
                           ) -> list[VolunteerSession]:
        where, parameters = session_conditions(POSTGRES, number=number, team=team,
                                               since=since, until=until)
        rows = self.connection.execute(
            f"SELECT {_SESSION_COLUMNS} FROM volunteer_checkins c LEFT JOIN"
            " volunteer_checkouts o ON o.origin = c.origin AND o.session_id = c.id"
            f" WHERE true{where} ORDER BY c.at_epoch, c.origin, c.id", parameters).fetchall()
        corrections: dict[tuple[str, int], list[SessionCorrection]] = {}
        if rows:
            for row in self.connection.execute(
                    f"SELECT {_CORRECTION_COLUMNS} FROM volunteer_corrections WHERE"
                    " (origin, session_id) IN (SELECT c.origin, c.id FROM volunteer_checkins c"
                    f" WHERE true{where}) ORDER BY at_epoch, origin, id", parameters):
                corrections.setdefault((row[12], row[1]), []).append(correction_from_row(row))
        sessions = []
        for row in rows:
            found = session_from_row(row, tuple(corrections.get((row[11], row[0]), ())))
            # A check-in without its kiosk id counts as the origin's.
            sessions.append(found if found.kiosk else replace(found, kiosk=row[11]))
        return sessions

    def stations(self) -> dict[str, str]:
        """Kiosk id -> the station that recorded its sessions (记录单位 in the report)."""
        return {row[0]: row[1] for row in self.connection.execute(
            "SELECT kiosk_id, station FROM kiosks WHERE station <> ''")}

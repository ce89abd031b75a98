"""Volunteers in the central PostgreSQL: the roster each kiosk sends with its sync, and the
sessions of every kiosk read back as the kiosk's own store gives them, so that
``kiosk.volunteers.report.hours_report`` makes the hours report across sites unchanged.

Volunteer numbers are the key across kiosks (a volunteer who serves at the hall and on a
village point is one person). A number that another kiosk already sent for a different name
is not overwritten: the sync names it, for staff to renumber one of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

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
    # Numbers another kiosk sent for someone else: (number, name here, name there, kiosk).
    clashes: list[tuple[str, str, str, str]] = field(default_factory=list)


def push_roster(connection: Any, origin: str, volunteers: Sequence[Volunteer]) -> RosterResult:
    """Send a kiosk's whole roster (small: hundreds of rows) in the caller's transaction:
    new numbers are added, changed entries (status, card serial, team …) updated."""
    result = RosterResult()
    existing = {row[0]: (row[1], row[2]) for row in connection.execute(
        "SELECT number, name, origin FROM volunteers WHERE number = ANY(%s)",
        ([volunteer.number for volunteer in volunteers],))}
    for volunteer in volunteers:
        values = (volunteer.number, volunteer.name, volunteer.phone, volunteer.id_card,
                  volunteer.team, volunteer.organisation,
                  volunteer.joined.isoformat() if volunteer.joined else None,
                  volunteer.status, volunteer.card_serial)
        there = existing.get(volunteer.number)
        if there is not None and there[1] != origin and there[0] != volunteer.name:
            result.clashes.append((volunteer.number, volunteer.name, there[0], there[1]))
            continue
        changed = connection.execute(
            f"INSERT INTO volunteers ({', '.join(ROSTER_COLUMNS)}, origin) VALUES"
            f" ({', '.join('%s' for _ in ROSTER_COLUMNS)}, %s)"
            " ON CONFLICT (number) DO UPDATE SET"
            + ", ".join(f" {column} = EXCLUDED.{column}" for column in ROSTER_COLUMNS[1:])
            + ", origin = EXCLUDED.origin, updated_at = now() WHERE ("
            + ", ".join(f"volunteers.{column}" for column in ROSTER_COLUMNS[1:])
            + ") IS DISTINCT FROM ("
            + ", ".join(f"EXCLUDED.{column}" for column in ROSTER_COLUMNS[1:]) + ")",
            (*values, origin)).rowcount
        if changed:
            if there is None:
                result.new += 1
            else:
                result.updated += 1
    return result


# The kiosk's own columns first, then the origin: the kiosk's row readers serve.
_SESSION_COLUMNS = f"{SESSION_COLUMNS}, c.origin"
_CORRECTION_COLUMNS = f"{CORRECTION_COLUMNS}, origin"


class CentralVolunteers:
    """The two queries ``hours_report`` asks of a store, over every kiosk's sessions.

    A session's ``kiosk`` is the kiosk that recorded it (so the report's 终端 column tells
    sites apart, as session ids repeat across kiosks)."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def volunteers(self, *, team: str | None = None,
                   numbers: Iterable[str] | None = None) -> list[Volunteer]:
        where, parameters = roster_conditions(POSTGRES, team=team, numbers=numbers)
        rows = self.connection.execute(
            f"SELECT {VOLUNTEER_COLUMNS} FROM volunteers WHERE true{where} ORDER BY number",
            parameters).fetchall()
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

"""The volunteer roster, check-ins, check-outs and staff corrections. The rules (cards,
check-in or out, day end, hours) live in kiosk/volunteers/; these are its queries. Sessions
and corrections are only ever added (see schema step 4)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from store.errors import VolunteerError
from store.filters import SQLITE, roster_conditions, session_conditions
from store.rows import (
    CLOSED_BY,
    CORRECTION_ACTIONS,
    CORRECTION_COLUMNS,
    SESSION_COLUMNS,
    VOLUNTEER_COLUMNS,
    VOLUNTEER_STATES,
    SessionCorrection,
    Volunteer,
    VolunteerSession,
    correction_from_row,
    session_from_row,
    volunteer_from_row,
)
from store.sqlite.connection import StoreBase
from surveys.clock import format_datetime, now_local, now_stamp


def stored_moment(moment: dt.datetime) -> tuple[str, float]:
    """An aware date-time as stored: ISO 8601 to the second with its offset, and Unix time."""
    if moment.tzinfo is None:
        raise ValueError("volunteer times must be aware date-times (with their zone)")
    return moment.isoformat(timespec="seconds"), moment.timestamp()


class Volunteers(StoreBase):
    """The roster and the sessions of volunteers."""

    def add_volunteers(self, volunteers: Sequence[Volunteer], *,
                       at: dt.datetime | None = None) -> int:
        """Add roster entries in one transaction; a number already there refuses them all."""
        stamp = format_datetime(at or now_local())
        with self.transaction():
            numbers = [volunteer.number for volunteer in volunteers]
            taken = self.existing_volunteer_numbers(numbers)
            if taken:
                raise VolunteerError(
                    f"volunteer number {', '.join(sorted(taken))} is already on the roster")
            self.conn.executemany(
                "INSERT INTO volunteers(number, name, phone, id_card, team, organisation,"
                " joined, status, card_serial, added_at, updated_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [(volunteer.number, volunteer.name, volunteer.phone, volunteer.id_card,
                  volunteer.team, volunteer.organisation,
                  volunteer.joined.isoformat() if volunteer.joined else None,
                  volunteer.status, volunteer.card_serial, stamp, stamp)
                 for volunteer in volunteers])
        return len(volunteers)

    def existing_volunteer_numbers(self, numbers: Iterable[str]) -> set[str]:
        """Which of these numbers are on the roster already."""
        wanted = list(dict.fromkeys(numbers))
        found: set[str] = set()
        for start in range(0, len(wanted), 500):  # within SQLite's parameter limit
            chunk = wanted[start:start + 500]
            found.update(row[0] for row in self.conn.execute(
                f"SELECT number FROM volunteers WHERE number IN ({', '.join('?' * len(chunk))})",
                chunk))
        return found

    def volunteer(self, number: str) -> Volunteer | None:
        row = self.conn.execute(
            f"SELECT {VOLUNTEER_COLUMNS} FROM volunteers WHERE number=?", (number,)).fetchone()
        return volunteer_from_row(row) if row else None

    def volunteers(self, *, team: str | None = None,
                   numbers: Iterable[str] | None = None) -> list[Volunteer]:
        """The roster (of one team when given), by number."""
        where, parameters = roster_conditions(SQLITE, team=team, numbers=numbers)
        rows = self.conn.execute(f"SELECT {VOLUNTEER_COLUMNS} FROM volunteers WHERE 1=1{where}"
                                 " ORDER BY number", parameters).fetchall()
        return [volunteer_from_row(row) for row in rows]

    def volunteer_count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM volunteers").fetchone()[0])

    def set_volunteer_status(self, number: str, status: str) -> Volunteer:
        """Suspend or reactivate a volunteer (their cards are refused while suspended)."""
        if status not in VOLUNTEER_STATES:
            raise ValueError(f"status must be one of {', '.join(VOLUNTEER_STATES)}")
        with self.transaction():
            self._volunteer_for_staff(number)
            self.conn.execute("UPDATE volunteers SET status=?, updated_at=? WHERE number=?",
                              (status, now_stamp(), number))
            return self._volunteer_for_staff(number)

    def bump_card_serial(self, number: str) -> Volunteer:
        """A new card: the serial goes up by one, so every older card is refused."""
        with self.transaction():
            self._volunteer_for_staff(number)
            self.conn.execute(
                "UPDATE volunteers SET card_serial=card_serial+1, updated_at=? WHERE number=?",
                (now_stamp(), number))
            return self._volunteer_for_staff(number)

    def _volunteer_for_staff(self, number: str) -> Volunteer:
        volunteer = self.volunteer(number)
        if volunteer is None:
            raise VolunteerError(f"there is no volunteer {number} on the roster")
        return volunteer

    def add_checkin(self, number: str, at: dt.datetime, *, kiosk: str = "",
                    service: str = "") -> int:
        """Record a check-in; returns the new session's id."""
        text, epoch = stored_moment(at)
        cursor = self.conn.execute(
            "INSERT INTO volunteer_checkins(number, kiosk, service, at, at_epoch, recorded_at)"
            " VALUES (?,?,?,?,?,?)", (number, kiosk, service, text, epoch, now_stamp()))
        return int(cursor.lastrowid or 0)

    def add_checkout(self, session_id: int, at: dt.datetime, *, closed_by: str = "scan",
                     flags: Sequence[str] = (), kiosk: str = "") -> None:
        """Close a session (once: a second check-out of the same session is refused)."""
        if closed_by not in CLOSED_BY:
            raise ValueError(f"closed_by must be one of {', '.join(CLOSED_BY)}")
        text, epoch = stored_moment(at)
        try:
            self.conn.execute(
                "INSERT INTO volunteer_checkouts(session_id, kiosk, at, at_epoch, closed_by,"
                " flags, recorded_at) VALUES (?,?,?,?,?,?,?)",
                (session_id, kiosk, text, epoch, closed_by, ",".join(flags), now_stamp()))
        except sqlite3.IntegrityError:
            raise VolunteerError(f"session {session_id} does not exist or is already closed"
                                 ) from None

    def volunteer_session(self, session_id: int) -> VolunteerSession | None:
        sessions = self._sessions(" AND c.id=?", [session_id])
        return sessions[0] if sessions else None

    def last_volunteer_session(self, number: str) -> VolunteerSession | None:
        """The volunteer's latest check-in (the last recorded, whatever the clock said), with
        its check-out if closed."""
        row = self.conn.execute(
            "SELECT max(id) FROM volunteer_checkins WHERE number=?", (number,)).fetchone()
        if row is None or row[0] is None:
            return None
        return self.volunteer_session(row[0])

    def open_volunteer_sessions(self, *, number: str | None = None) -> list[VolunteerSession]:
        """Sessions not closed yet, oldest first."""
        where, parameters = session_conditions(SQLITE, number=number)
        where += " AND c.id IN (SELECT session_id FROM volunteer_open_sessions)"
        return self._sessions(where, parameters)

    def volunteer_sessions(self, *, number: str | None = None, team: str | None = None,
                           since: float | None = None, until: float | None = None,
                           ) -> list[VolunteerSession]:
        """Sessions with their corrections, by check-in time; ``since`` (inclusive) and
        ``until`` (exclusive) are Unix times of the check-in as recorded."""
        where, parameters = session_conditions(SQLITE, number=number, team=team,
                                               since=since, until=until)
        return self._sessions(where, parameters)

    def _sessions(self, where: str, parameters: list[Any]) -> list[VolunteerSession]:
        rows = self.conn.execute(
            f"SELECT {SESSION_COLUMNS} FROM volunteer_checkins c LEFT JOIN volunteer_checkouts"
            f" o ON o.session_id = c.id WHERE 1=1{where} ORDER BY c.at_epoch, c.id",
            parameters).fetchall()
        corrections: dict[int, list[SessionCorrection]] = {}
        if rows:
            cursor = self.conn.execute(
                f"SELECT {CORRECTION_COLUMNS} FROM volunteer_corrections WHERE session_id IN"
                f" (SELECT c.id FROM volunteer_checkins c LEFT JOIN volunteer_checkouts o"
                f" ON o.session_id = c.id WHERE 1=1{where}) ORDER BY at_epoch, id", parameters)
            for row in cursor:
                corrections.setdefault(row[1], []).append(correction_from_row(row))
        return [session_from_row(row, tuple(corrections.get(row[0], ()))) for row in rows]

    def add_session_correction(self, session_id: int, *, action: str, reason: str, staff: str,
                               at: dt.datetime, checked_in: dt.datetime | None = None,
                               checked_out: dt.datetime | None = None,
                               kiosk: str = "") -> int:
        """Add a staff correction beside a session (the session itself is not changed)."""
        if action not in CORRECTION_ACTIONS:
            raise ValueError(f"action must be one of {', '.join(CORRECTION_ACTIONS)}")
        if not reason.strip() or not staff.strip():
            raise VolunteerError("a correction needs the reason and the staff member's name")
        at_text, at_epoch = stored_moment(at)
        in_text, in_epoch = stored_moment(checked_in) if checked_in else (None, None)
        out_text, out_epoch = stored_moment(checked_out) if checked_out else (None, None)
        try:
            cursor = self.conn.execute(
                "INSERT INTO volunteer_corrections(session_id, action, checked_in,"
                " checked_in_epoch, checked_out, checked_out_epoch, reason, staff, at,"
                " at_epoch, kiosk) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (session_id, action, in_text, in_epoch, out_text, out_epoch, reason.strip(),
                 staff.strip(), at_text, at_epoch, kiosk))
        except sqlite3.IntegrityError:
            raise VolunteerError(f"there is no session {session_id}") from None
        return int(cursor.lastrowid or 0)

"""Hours: a session's length rounded half-up to 0.01 h, the corrections applied in order, and
the sessions of a period with the hours they are credited (see the package's rules)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

from kiosk.config import VolunteerSettings
from store import KioskStore
from store.rows import SessionCorrection, Volunteer, VolunteerSession

HUNDREDTH = Decimal("0.01")


# A correction keeps a session near where it was recorded (and the month queries can look
# only this far around a month).
MAX_CORRECTION_SHIFT = dt.timedelta(days=1)


MAX_SESSION = dt.timedelta(hours=24)


MONTH_MARGIN = dt.timedelta(days=3)


# Flags on a session.
SHORT_SESSION = "short_session"


CLOSED_AT_DAY_END = "closed_at_day_end"


# Flag on a check-in: the volunteer's last session was closed at day end, not by a scan.
LAST_NOT_CHECKED_OUT = "last_not_checked_out"


def hours_between(start: dt.datetime, end: dt.datetime) -> Decimal:
    """A session's hours: its length rounded half-up to 0.01 h (36 seconds)."""
    seconds = Decimal(round((end - start).total_seconds()))
    return (seconds / 3600).quantize(HUNDREDTH, rounding=ROUND_HALF_UP)


def month_bounds(day: dt.date, zone: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """The first moment of ``day``'s calendar month and of the next, in ``zone``."""
    first = day.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return (dt.datetime.combine(first, dt.time(), tzinfo=zone),
            dt.datetime.combine(following, dt.time(), tzinfo=zone))


def day_end_after(moment: dt.datetime, settings: VolunteerSettings) -> dt.datetime:
    """The first day end (``[volunteers] day_end`` in its zone) after ``moment``."""
    zone = settings.zone
    local = moment.astimezone(zone)
    end = dt.datetime.combine(local.date(), settings.day_end_time, tzinfo=zone)
    if end <= local:
        end = dt.datetime.combine(local.date() + dt.timedelta(days=1), settings.day_end_time,
                                  tzinfo=zone)
    return end


# ---- sessions and their hours ---------------------------------------------------------------


@dataclass(frozen=True)
class SessionHours:
    """A session as it counts: its recorded times, its times after the staff's corrections,
    and the hours credited.

    ``state``: ``open`` (not checked out yet), ``credited``, ``review`` (closed at day end,
    waiting for staff: no hours yet) or ``void`` (voided by staff).
    """

    session: VolunteerSession
    recorded_in: dt.datetime
    recorded_out: dt.datetime | None
    checked_in: dt.datetime
    checked_out: dt.datetime | None
    state: str
    hours: Decimal  # credited
    corrected: bool

    @property
    def id(self) -> int:
        return self.session.id

    @property
    def number(self) -> str:
        return self.session.number

    @property
    def day(self) -> dt.date:
        """The day the session counts in: that of its check-in."""
        return self.checked_in.date()

    @property
    def recorded_hours(self) -> Decimal | None:
        if self.recorded_out is None:
            return None
        return hours_between(self.recorded_in, self.recorded_out)

    @property
    def flags(self) -> tuple[str, ...]:
        return self.session.flags

    @property
    def corrections(self) -> tuple[SessionCorrection, ...]:
        return self.session.corrections


def session_hours(session: VolunteerSession, zone: dt.tzinfo) -> SessionHours:
    """Apply a session's corrections (in order) and credit its hours."""
    recorded_in = dt.datetime.fromtimestamp(session.checked_in_epoch, zone)
    recorded_out = (None if session.checked_out_epoch is None
                    else dt.datetime.fromtimestamp(session.checked_out_epoch, zone))
    checked_in, checked_out = recorded_in, recorded_out
    voided = False
    for correction in session.corrections:
        if correction.action == "void":
            voided = True
            continue
        voided = False
        if correction.checked_in_epoch is not None:
            checked_in = dt.datetime.fromtimestamp(correction.checked_in_epoch, zone)
        if correction.checked_out_epoch is not None:
            checked_out = dt.datetime.fromtimestamp(correction.checked_out_epoch, zone)
    if checked_out is None:
        state = "open"
    elif voided:
        state = "void"
    elif session.closed_by == "day_end" and not session.corrections:
        state = "review"
    else:
        state = "credited"
    hours = (hours_between(checked_in, checked_out)
             if state == "credited" and checked_out is not None else Decimal("0.00"))
    return SessionHours(session, recorded_in, recorded_out, checked_in, checked_out, state,
                        hours, bool(session.corrections))


class VolunteerRecords(Protocol):
    """Where sessions and the roster come from: a kiosk's database, or the central one
    (store.central.volunteers.CentralVolunteers) for the hours of every site."""

    def volunteer_sessions(self, *, number: str | None = None, team: str | None = None,
                           since: float | None = None, until: float | None = None,
                           ) -> list[VolunteerSession]: ...

    def volunteers(self, *, team: str | None = None,
                   numbers: Iterable[str] | None = None) -> list[Volunteer]: ...


def sessions_between(store: VolunteerRecords, settings: VolunteerSettings, *,
                     start: dt.date | None = None, end: dt.date | None = None,
                     number: str | None = None, team: str | None = None,
                     ) -> list[SessionHours]:
    """Sessions whose (corrected) check-in falls on ``start`` … ``end`` (inclusive, days in
    the configured zone), with their credited hours; by check-in."""
    zone = settings.zone
    since = (None if start is None
             else (dt.datetime.combine(start, dt.time(), tzinfo=zone) - MONTH_MARGIN).timestamp())
    until = (None if end is None
             else (dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=zone)
                   + MONTH_MARGIN).timestamp())
    found = [session_hours(session, zone) for session in
             store.volunteer_sessions(number=number, team=team, since=since, until=until)]
    return sorted((item for item in found
                   if (start is None or item.day >= start) and (end is None or item.day <= end)),
                  key=lambda item: (item.checked_in, item.id))


def month_hours(store: KioskStore, settings: VolunteerSettings, number: str,
                day: dt.date) -> Decimal:
    """The hours credited to a volunteer in ``day``'s calendar month."""
    first, following = month_bounds(day, settings.zone)
    last = (following - dt.timedelta(days=1)).date()
    return sum((item.hours for item in sessions_between(store, settings, start=first.date(),
                                                          end=last, number=number)),
               Decimal("0.00"))

"""Staff corrections of a session: new times, a confirmation of the recorded times, or void,
kept beside the recorded check-in and check-out (which never change)."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from kiosk.config import VolunteerSettings
from kiosk.i18n import hours_text
from kiosk.volunteers.hours import (
    MAX_CORRECTION_SHIFT,
    MAX_SESSION,
    SessionHours,
    hours_between,
    session_hours,
)
from store import KioskStore
from store.errors import VolunteerError

# ---- staff corrections --------------------------------------------------------------------------


def parse_staff_time(text: str, day: dt.date, zone: dt.tzinfo) -> dt.datetime:
    """"17:30" (on ``day``) or "2026-12-01 01:30", in the configured zone."""
    cleaned = unicodedata.normalize("NFKC", text).strip()
    match = re.fullmatch(r"(?:(\d{4}-\d{1,2}-\d{1,2})[ T])?(\d{1,2}):(\d{2})(?::(\d{2}))?",
                         cleaned)
    if not match:
        raise ValueError(f"time {text!r} must be HH:MM or YYYY-MM-DD HH:MM")
    date_text, hour, minute, second = match.groups()
    try:
        on = dt.date.fromisoformat(
            "-".join(part.zfill(2) for part in date_text.split("-"))) if date_text else day
        return dt.datetime.combine(on, dt.time(int(hour), int(minute), int(second or 0)),
                                   tzinfo=zone)
    except ValueError:
        raise ValueError(f"time {text!r} is not a valid date and time") from None


def correct_session(store: KioskStore, settings: VolunteerSettings, session_id: int, *,
                    reason: str, staff: str, checked_in: str | None = None,
                    checked_out: str | None = None, void: bool = False,
                    confirm: bool = False, kiosk: str = "",
                    now: dt.datetime | None = None) -> SessionHours:
    """Add a staff correction beside a session: new times (HH:MM on the session's day, or
    YYYY-MM-DD HH:MM), ``confirm`` (the recorded times stand, e.g. after a day-end
    closing) or ``void``. Returns the session as it now counts."""
    zone = settings.zone
    session = store.volunteer_session(session_id)
    if session is None:
        raise VolunteerError(f"there is no session {session_id}")
    current = session_hours(session, zone)
    if session.open:
        raise VolunteerError(
            f"session {session_id} is still open: it closes at the volunteer's next scan, or "
            f"at day end ({settings.day_end}); correct it after that")
    if not reason.strip():
        raise VolunteerError("give the reason for the correction (--reason)")
    if not staff.strip():
        raise VolunteerError("give the name of the staff member correcting (--staff)")
    chosen = [name for name, given in (("--in/--out", checked_in or checked_out),
                                       ("--void", void), ("--confirm", confirm)) if given]
    if len(chosen) != 1:
        raise VolunteerError("give new times (--in and/or --out), --confirm or --void"
                             if not chosen else f"give only one of {', '.join(chosen)}")
    new_in = new_out = None
    action = "void" if void else "confirm" if confirm else "times"
    if action == "times":
        try:
            if checked_in:
                new_in = parse_staff_time(checked_in, current.day, zone)
            start = new_in or current.checked_in
            if checked_out:
                new_out = parse_staff_time(checked_out, start.date(), zone)
        except ValueError as error:
            raise VolunteerError(str(error)) from None
        start = new_in or current.checked_in
        end = new_out or current.checked_out
        assert end is not None
        if end <= start:
            raise VolunteerError(
                f"check-out {end:%Y-%m-%d %H:%M} is not after check-in {start:%Y-%m-%d %H:%M}"
                + ("; for a session past midnight give the date, e.g. --out "
                   f"'{(start + dt.timedelta(days=1)):%Y-%m-%d} {end:%H:%M}'"
                   if checked_out and ":" in checked_out and "-" not in checked_out else ""))
        if end - start > MAX_SESSION:
            raise VolunteerError(f"a session of {hours_text(hours_between(start, end))} hours "
                                 "is longer than 24 hours")
        if abs(start - current.recorded_in) > MAX_CORRECTION_SHIFT:
            raise VolunteerError(
                f"check-in {start:%Y-%m-%d %H:%M} is more than a day from the recorded "
                f"{current.recorded_in:%Y-%m-%d %H:%M}; void this session instead")
    store.add_session_correction(session_id, action=action, reason=reason, staff=staff,
                                 at=(now or dt.datetime.now(zone)).astimezone(zone),
                                 checked_in=new_in, checked_out=new_out, kiosk=kiosk)
    corrected = store.volunteer_session(session_id)
    assert corrected is not None
    return session_hours(corrected, zone)

"""The kiosk's clock: the current time, date-times as ODK writes them, and the station's day.

A station keeps one clock, its configured zone (``[station] timezone``, China time by
default), whatever zone the machine itself is set to: every time shown, printed, stored
or reported is read in it. Statistics count a submission on the calendar day of its
completion there, fixed when it is stored.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

CHINA_ZONE_NAME = "Asia/Shanghai"
CHINA = ZoneInfo(CHINA_ZONE_NAME)
_CHINA_SUFFIX = "+08:00"  # China has one offset all year: the day is the text's own date


# The process's one station zone: set once by whatever starts the kiosk, a command or
# the app, from the configuration (never from the machine's own TZ).
_station_zone: dt.tzinfo = CHINA


def set_station_zone(zone: str | dt.tzinfo) -> None:
    """Make ``zone`` (an IANA name or a tzinfo) the clock of every later reading."""
    global _station_zone
    _station_zone = ZoneInfo(zone) if isinstance(zone, str) else zone


def station_zone() -> dt.tzinfo:
    return _station_zone


def now_local() -> dt.datetime:
    """The current time in the station's zone, aware of its offset."""
    return dt.datetime.now(_station_zone)


def local(moment: dt.datetime) -> dt.datetime:
    """``moment`` in the station's zone; a naive time is taken as already station time."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=_station_zone)
    return moment.astimezone(_station_zone)


def from_epoch(seconds: float) -> dt.datetime:
    """A Unix time as the station's wall clock shows it."""
    return dt.datetime.fromtimestamp(seconds, _station_zone)


def format_datetime(moment: dt.datetime) -> str:
    """ISO 8601 with milliseconds and offset, as ODK writes date-times."""
    return moment.isoformat(timespec="milliseconds")


def now_stamp() -> str:
    """The current time as records keep it: ISO 8601 with milliseconds and offset."""
    return format_datetime(now_local())


def day_of(completed: str | None) -> str:
    """The calendar day (station time) of an ISO 8601 completion time."""
    if not completed:
        return ""
    if _station_zone is CHINA and completed.endswith(_CHINA_SUFFIX) and len(completed) >= 10:
        return completed[:10]
    try:
        moment = dt.datetime.fromisoformat(completed.replace("Z", "+00:00"))
    except ValueError:
        return completed[:10]
    if moment.tzinfo is None:
        return moment.date().isoformat()
    return moment.astimezone(_station_zone).date().isoformat()

"""The kiosk's clock: the current time, date-times as ODK writes them, and the China day.

Stations keep China time (Asia/Shanghai, one offset all year). Statistics count a
submission on the calendar day of its completion there, fixed when it is stored.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

CHINA_ZONE_NAME = "Asia/Shanghai"
CHINA = ZoneInfo(CHINA_ZONE_NAME)
_CHINA_SUFFIX = "+08:00"  # China has one offset all year: the day is the text's own date


def now_local() -> dt.datetime:
    """The current local time, aware of its offset (kiosks run on China time)."""
    return dt.datetime.now().astimezone()


def format_datetime(moment: dt.datetime) -> str:
    """ISO 8601 with milliseconds and offset, as ODK writes date-times."""
    return moment.isoformat(timespec="milliseconds")


def now_stamp() -> str:
    """The current time as records keep it: ISO 8601 with milliseconds and offset."""
    return format_datetime(now_local())


def day_of(completed: str | None) -> str:
    """The calendar day (China time) of an ISO 8601 completion time."""
    if not completed:
        return ""
    if completed.endswith(_CHINA_SUFFIX) and len(completed) >= 10:
        return completed[:10]
    try:
        moment = dt.datetime.fromisoformat(completed.replace("Z", "+00:00"))
    except ValueError:
        return completed[:10]
    if moment.tzinfo is None:
        return moment.date().isoformat()
    return moment.astimezone(CHINA).date().isoformat()

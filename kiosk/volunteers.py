"""Volunteers: the roster, check-in and check-out at the kiosk, staff corrections, hours.

The rules, in one place:

- **Cards.** A scan is accepted only when the card's signature matches (``kiosk.cards``),
  its serial is the volunteer's current one (``reissue`` bumps it, so an old card is refused)
  and the volunteer is active.
- **Check-in and out.** A volunteer's first scan checks in, the next checks out. A scan within
  ``repeat_seconds`` of that volunteer's last scan is ignored (刚刚已经扫过了).
- **Day end.** A session still open at the configured ``day_end`` (the first one after its
  check-in, in the configured zone) is closed there, flagged ``closed_at_day_end``, and
  counts no hours until staff review it (``kiosk volunteer correct``): the volunteer forgot
  to check out, and nobody knows when they left.
- **Hours.** A session's hours are its length rounded half-up to 0.01 h (36 s); every total
  (the slip's month, the report) is the sum of those rounded session hours, so the numbers
  on paper add up. A session shorter than ``min_session_minutes`` is flagged
  ``short_session`` and still counted.
- **Days and months.** A session belongs to the day, and the calendar month, of its check-in
  in the configured zone (Asia/Shanghai by default) — also when it runs past midnight or
  past a month's end; it is never split.
- **Corrections.** Check-ins and check-outs are never changed (the database refuses it).
  Staff add corrections beside them, with their name and the reason: new times, a
  confirmation of the recorded times, or void. They apply in order; any correction counts
  as the staff review of a day-end closing. A correction keeps the session within a day of
  its recorded check-in and at most 24 hours long.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from kiosk.cards.payload import CardError, normalise_number, read_payload, valid_number
from kiosk.config import VolunteerSettings
from kiosk.i18n import code_of
from store import KioskStore
from store.errors import VolunteerError
from store.rows import SessionCorrection, Volunteer, VolunteerSession

if TYPE_CHECKING:
    from kiosk.config import KioskConfig
    from kiosk.printing.queue import PrintQueue

__all__ = [
    "HoursReport",
    "RosterReport",
    "ScanResult",
    "SessionHours",
    "Volunteer",
    "VolunteerDesk",
    "VolunteerError",
    "VolunteerSettings",
]

log = logging.getLogger("kiosk.volunteers")
log.addHandler(logging.NullHandler())

HUNDREDTH = Decimal("0.01")
# A correction keeps a session near where it was recorded (and the month queries can look
# only this far around a month).
MAX_CORRECTION_SHIFT = dt.timedelta(days=1)
MAX_SESSION = dt.timedelta(hours=24)
MONTH_MARGIN = dt.timedelta(days=3)
MOBILE = re.compile(r"1[3-9]\d{9}")
ID_CARD = re.compile(r"\d{17}[\dX]")
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"

# Flags on a session.
SHORT_SESSION = "short_session"
CLOSED_AT_DAY_END = "closed_at_day_end"
# Flag on a check-in: the volunteer's last session was closed at day end, not by a scan.
LAST_NOT_CHECKED_OUT = "last_not_checked_out"


def hours_between(start: dt.datetime, end: dt.datetime) -> Decimal:
    """A session's hours: its length rounded half-up to 0.01 h (36 seconds)."""
    seconds = Decimal(round((end - start).total_seconds()))
    return (seconds / 3600).quantize(HUNDREDTH, rounding=ROUND_HALF_UP)


def hours_text(hours: Decimal | float) -> str:
    """2.50 -> "2.5", 3.00 -> "3" (as on the slip)."""
    return f"{Decimal(str(hours)).quantize(HUNDREDTH):f}".rstrip("0").rstrip(".")


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
    (store.central_volunteers.CentralVolunteers) for the hours of every site."""

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


# ---- scanning at the kiosk ------------------------------------------------------------------

# What the screen says, in 中文 and English.
_MESSAGES: dict[str, tuple[str, str]] = {
    "checked_in": ("{name}，您好！签到成功，签到时间 {time}。",
                   "Hello, {name}! You are checked in at {time}."),
    "last_not_checked_out": ("上次服务没有签退，已请工作人员核实时长。",
                             "Last time you did not check out; the staff will check those "
                             "hours."),
    "checked_out": ("{name}，签退成功！签退时间 {time}，本次服务 {hours} 小时，本月累计 "
                    "{month} 小时。感谢您的付出！",
                    "Thank you, {name}! Checked out at {time}: {hours} h this time, {month} h "
                    "this month."),
    "short_session": ("本次服务时间较短，已提醒工作人员核实。",
                      "This was a short session; the staff will check it."),
    "repeat_in": ("{name}，刚刚已经扫过了，您已在 {time} 签到，不用再扫。",
                  "{name}, you just scanned: you checked in at {time}. No need to scan again."),
    "repeat_out": ("{name}，刚刚已经扫过了，您已在 {time} 签退，不用再扫。",
                   "{name}, you just scanned: you checked out at {time}. No need to scan "
                   "again."),
    "identified": ("{name}，您好！身份已确认。", "Hello, {name}! You are signed in."),
    "not_a_card": ("这不是志愿者卡的二维码，请扫描志愿者卡。",
                   "This is not a volunteer card. Please scan your volunteer card."),
    "tampered": ("这张卡无法识别，可能不是本站的卡，请找工作人员。",
                 "This card cannot be accepted (it may be from another station). Please ask "
                 "the staff."),
    "old_card": ("这张卡已经作废（已补办新卡），请用新卡，或找工作人员。",
                 "This card has been replaced by a new one. Please use the new card or ask "
                 "the staff."),
    "suspended": ("{name}，您的志愿者服务已暂停，请找工作人员。",
                  "{name}, your volunteer service is on hold. Please ask the staff."),
    "unknown_volunteer": ("没有找到这张卡的志愿者，请找工作人员登记。",
                          "This card's volunteer is not registered here. Please ask the "
                          "staff."),
}


@dataclass(frozen=True)
class ScanResult:
    """What a scan did, for the screen (``message``) and for tests.

    ``outcome``: ``checked_in``, ``checked_out``, ``repeat`` (ignored: scanned again within
    ``repeat_seconds``), ``identified`` (field mode) or ``refused`` (``reason`` says why).
    Times are aware, in the configured zone; for a repeat they are those of the session
    the volunteer already has. ``hours`` and ``month_hours`` are set at check-out.
    """

    outcome: str
    volunteer: Volunteer | None
    reason: str = ""
    checked_in_at: dt.datetime | None = None
    checked_out_at: dt.datetime | None = None
    hours: float | None = None
    month_hours: float | None = None
    flags: tuple[str, ...] = ()
    session_id: int | None = None
    slip_job: int | None = None  # the check-out slip's print job

    @property
    def accepted(self) -> bool:
        return self.outcome != "refused"

    def message(self, language: str = "zh") -> str:
        """One friendly line for the screen, in Chinese or English."""
        english = code_of(language) == "en"

        def say(key: str, **values: object) -> str:
            zh, en = _MESSAGES[key]
            return (en if english else zh).format(**values)

        name = self.volunteer.name if self.volunteer else ""
        if self.outcome == "refused":
            return say(self.reason if self.reason in _MESSAGES else "not_a_card", name=name)
        if self.outcome == "identified":
            return say("identified", name=name)
        if self.outcome == "checked_in" and self.checked_in_at:
            text = say("checked_in", name=name, time=f"{self.checked_in_at:%H:%M}")
            if LAST_NOT_CHECKED_OUT in self.flags:
                text += (" " if english else "") + say("last_not_checked_out")
            return text
        if self.outcome == "checked_out" and self.checked_out_at:
            text = say("checked_out", name=name, time=f"{self.checked_out_at:%H:%M}",
                       hours=hours_text(self.hours or 0), month=hours_text(self.month_hours or 0))
            if SHORT_SESSION in self.flags:
                text += (" " if english else "") + say("short_session")
            return text
        if self.outcome == "repeat":
            if self.checked_out_at is not None:
                return say("repeat_out", name=name, time=f"{self.checked_out_at:%H:%M}")
            moment = self.checked_in_at
            return say("repeat_in", name=name, time=f"{moment:%H:%M}" if moment else "")
        return ""


def _now_in(zone: dt.tzinfo) -> Callable[[], dt.datetime]:
    return lambda: dt.datetime.now(zone)


class VolunteerDesk:
    """Check-in and check-out at the kiosk, and card sign-in in field mode.

    ``secret`` is the installation's card secret (``kiosk.cards.load_secret``); ``clock``
    gives the time (default: now in the configured zone). Every scan is one transaction, so
    two kiosks on one database never check a volunteer in twice.

    Printing the check-out slip is the caller's (the kiosk app queues it with its own print
    queue). With ``print_slips=True`` the desk queues it itself, on ``print_queue`` when
    given, else straight into the store's print queue, which the running kiosk's worker
    prints; ``ScanResult.slip_job`` is then the job's id.
    """

    def __init__(self, store: KioskStore, secret: bytes, *, kiosk: str,
                 settings: VolunteerSettings, clock: Callable[[], dt.datetime] | None = None,
                 station: str = "社工站", footer: str = "", language: str = "zh",
                 print_queue: PrintQueue | None = None, print_slips: bool = False) -> None:
        self.store = store
        self.secret = secret
        self.kiosk = kiosk
        self.settings = settings
        self.zone = settings.zone
        self.clock = clock or _now_in(self.zone)
        self.station = station
        self.footer = footer
        self.language = language
        self.print_queue = print_queue
        self.print_slips = print_slips

    @classmethod
    def from_config(cls, store: KioskStore, config: KioskConfig, secret: bytes,
                    **options: Any) -> VolunteerDesk:
        """A desk with the kiosk id, settings, station name and slip footer of ``config``."""
        options.setdefault("language", config.language)
        return cls(store, secret, kiosk=config.kiosk_id, settings=config.volunteers,
                   station=config.station_name, footer=config.printer.footer, **options)

    def now(self) -> dt.datetime:
        return self.clock().astimezone(self.zone)

    # ---- verifying a card -----------------------------------------------------------------

    def _verify(self, text: str) -> tuple[Volunteer | None, ScanResult | None]:
        """The card's volunteer, or the refusal (never raises on any text)."""
        try:
            card = read_payload(text, self.secret)
        except CardError as error:
            return None, ScanResult("refused", None, reason=error.reason)
        except Exception:  # a crafted code must never take the kiosk down
            log.exception("card could not be read")
            return None, ScanResult("refused", None, reason="not_a_card")
        volunteer = self.store.volunteer(card.number)
        if volunteer is None:
            return None, ScanResult("refused", None, reason="unknown_volunteer")
        if card.serial != volunteer.card_serial:
            return None, ScanResult("refused", volunteer, reason="old_card")
        if not volunteer.active:
            return None, ScanResult("refused", volunteer, reason="suspended")
        return volunteer, None

    def identify(self, text: str) -> ScanResult:
        """Field mode sign-in: check the card only (outcome ``identified`` or ``refused``)."""
        volunteer, refused = self._verify(text)
        return refused or ScanResult("identified", volunteer)

    # ---- checking in and out ---------------------------------------------------------------

    def scan(self, text: str) -> ScanResult:
        """Check the card, then check its volunteer in or out (see the module's rules)."""
        volunteer, refused = self._verify(text)
        if refused is not None or volunteer is None:
            return refused or ScanResult("refused", None, reason="not_a_card")
        now = self.now()
        with self.store.transaction():
            self._close_stale(now)
            result = self._check_in_or_out(volunteer, now)
        if result.outcome == "checked_out" and self.print_slips:
            result = self._print_slip(result)
        return result

    def _check_in_or_out(self, volunteer: Volunteer, now: dt.datetime) -> ScanResult:
        last = self.store.last_volunteer_session(volunteer.number)
        if last is not None:
            last_in = dt.datetime.fromtimestamp(last.checked_in_epoch, self.zone)
            last_out = (dt.datetime.fromtimestamp(last.checked_out_epoch, self.zone)
                        if last.checked_out_epoch is not None else None)
            scanned = [last.checked_in_epoch]
            if last.closed_by == "scan" and last.checked_out_epoch is not None:
                scanned.append(last.checked_out_epoch)
            # abs(): a clock set back a little must not open a second session either
            if abs(now.timestamp() - max(scanned)) < self.settings.repeat_seconds or (
                    last.open and now <= last_in):
                return ScanResult("repeat", volunteer, checked_in_at=last_in,
                                  checked_out_at=last_out if last.closed_by == "scan" else None,
                                  session_id=last.id)
            if last.open:
                return self._check_out(volunteer, last, last_in, now)
        flags: tuple[str, ...] = ()
        if last is not None and last.closed_by == "day_end" and not last.corrections:
            flags = (LAST_NOT_CHECKED_OUT,)
        session_id = self.store.add_checkin(volunteer.number, now, kiosk=self.kiosk,
                                            service=self.settings.service)
        return ScanResult("checked_in", volunteer, checked_in_at=now, flags=flags,
                          session_id=session_id)

    def _check_out(self, volunteer: Volunteer, session: VolunteerSession,
                   checked_in: dt.datetime, now: dt.datetime) -> ScanResult:
        flags = self._short(checked_in, now)
        self.store.add_checkout(session.id, now, closed_by="scan", flags=flags,
                                kiosk=self.kiosk)
        hours = hours_between(checked_in, now)
        month = month_hours(self.store, self.settings, volunteer.number, checked_in.date())
        return ScanResult("checked_out", volunteer, checked_in_at=checked_in,
                          checked_out_at=now, hours=float(hours), month_hours=float(month),
                          flags=flags, session_id=session.id)

    def _short(self, start: dt.datetime, end: dt.datetime) -> tuple[str, ...]:
        if end - start < dt.timedelta(minutes=self.settings.min_session_minutes):
            return (SHORT_SESSION,)
        return ()

    def close_stale_sessions(self) -> list[VolunteerSession]:
        """Close every session still open at its day end, at that day end, flagged for
        staff review (it counts no hours until reviewed). Returns the sessions closed."""
        with self.store.transaction():
            return self._close_stale(self.now())

    def _close_stale(self, now: dt.datetime) -> list[VolunteerSession]:
        closed: list[VolunteerSession] = []
        for session in self.store.open_volunteer_sessions():
            checked_in = dt.datetime.fromtimestamp(session.checked_in_epoch, self.zone)
            end = day_end_after(checked_in, self.settings)
            if end > now:
                continue
            flags = (CLOSED_AT_DAY_END, *self._short(checked_in, end))
            self.store.add_checkout(session.id, end, closed_by="day_end", flags=flags,
                                    kiosk=self.kiosk)
            log.info("volunteer %s's session %s was still open at day end: closed at %s "
                     "for staff review", session.number, session.id, end.isoformat())
            closed.append(self.store.volunteer_session(session.id) or session)
        return closed

    def _print_slip(self, result: ScanResult) -> ScanResult:
        """Queue the check-out slip; the hours are saved already, so a failure here only
        costs the slip (logged)."""
        from dataclasses import replace

        from kiosk.printing.receipts import checkout_slip

        volunteer = result.volunteer
        if volunteer is None or result.checked_in_at is None or result.checked_out_at is None:
            return result
        try:
            document = checkout_slip(
                station=self.station, name=volunteer.name, team=volunteer.team,
                checked_in=result.checked_in_at, checked_out=result.checked_out_at,
                hours=result.hours or 0.0, month_hours=result.month_hours or 0.0,
                language=self.language, footer=self.footer)
            title = f"签退 {volunteer.name}"
            source = f"volunteer-session:{result.session_id}"
            if self.print_queue is not None:
                job = self.print_queue.enqueue(document, "slip", source=source, title=title)
            else:
                job = self.store.add_print_job("slip", document.to_json(),
                                               at=result.checked_out_at.timestamp(),
                                               source=source, title=title, kiosk=self.kiosk)
        except Exception:
            log.exception("the check-out slip of session %s could not be queued",
                          result.session_id)
            return result
        return replace(result, slip_job=job)


# ---- the roster --------------------------------------------------------------------------------

# Column headers a roster file may use (after dropping spaces, '*' and bracketed notes).
ROSTER_HEADERS: dict[str, tuple[str, ...]] = {
    "number": ("编号", "志愿者编号", "志愿者号", "number", "volunteer_number", "volunteerno",
               "no", "no."),
    "name": ("姓名", "name"),
    "phone": ("手机", "手机号", "手机号码", "电话", "联系电话", "phone", "mobile"),
    "id_card": ("身份证号", "身份证", "身份证号码", "id_card", "idcard", "id_number"),
    "team": ("服务队", "队伍", "志愿服务队", "所属服务队", "team"),
    "organisation": ("单位", "工作单位", "所在单位", "organisation", "organization"),
    "joined": ("加入日期", "加入时间", "入队日期", "注册日期", "joined", "joined_date"),
}
REQUIRED_COLUMNS = ("number", "name", "phone")
_HEADER_OF = {alias: key for key, aliases in ROSTER_HEADERS.items() for alias in aliases}


class RosterFileError(ValueError):
    """A roster file that cannot be read at all (the message names the file)."""


@dataclass
class RosterReport:
    """What an import did: the numbers added and each bad row's number and reasons."""

    added: list[str] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    sheet: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"added": len(self.added), "numbers": self.added,
                "rejected": [{"row": row, "error": error} for row, error in self.rejected],
                "ignored_columns": self.ignored_columns}


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFKC", str(value)).strip()


def normalise_phone(value: Any) -> str:
    """A mainland mobile number as 11 digits, or ValueError saying what is wrong.

    Full-width digits, spaces, '-' and a leading +86 / 86 are accepted.
    """
    text = re.sub(r"[\s\-()]", "", _cell_text(value))
    if text.startswith("+86"):
        text = text[3:]
    elif text.startswith("86") and len(text) == 13:
        text = text[2:]
    if not MOBILE.fullmatch(text):
        raise ValueError(f"phone {_cell_text(value)!r} is not a mainland mobile number "
                         "(11 digits starting 13–19)")
    return text


def normalise_id_card(value: Any) -> str:
    """An 18-character resident ID number with a correct check digit ("" when empty)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("ID number is stored as a number, so Excel has lost its last digits; "
                         "format the column as text (文本) and type it again")
    text = re.sub(r"\s", "", _cell_text(value)).upper()
    if not text:
        return ""
    if not ID_CARD.fullmatch(text):
        raise ValueError(f"ID number {text!r} must be 18 characters (17 digits and a digit "
                         "or X)")
    total = sum(int(digit) * weight for digit, weight in zip(text[:17], ID_WEIGHTS,
                                                            strict=True))
    if ID_CHECK[total % 11] != text[17]:
        raise ValueError(f"ID number {text!r} has a wrong check digit (mistyped?)")
    return text


def parse_date(value: Any, *, what: str = "date") -> dt.date | None:
    """2024-03-01, 2024/3/1, 2024.3.1, 2024年3月1日 or a spreadsheet date; None when empty."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = _cell_text(value)
    if not text:
        return None
    match = re.fullmatch(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
                         r"(?:[ T]00:00(?::00)?)?", text)
    if match:
        try:
            return dt.date(*map(int, match.groups()))
        except ValueError:
            pass
    raise ValueError(f"{what} {text!r} is not a date (write it as 2024-03-01)")


def new_volunteer(number: Any, name: Any, phone: Any, *, id_card: Any = "", team: Any = "",
                  organisation: Any = "", joined: Any = None,
                  today: dt.date | None = None) -> Volunteer:
    """A roster entry from what staff typed, or ValueError listing every problem."""
    problems: list[str] = []
    number_text = normalise_number(_cell_text(number))
    if not number_text:
        problems.append("missing volunteer number (编号)")
    elif not valid_number(number_text):
        problems.append(f"volunteer number {number_text!r} must be letters, digits and '-' "
                        "(at most 24, starting with a letter or digit)")
    name_text = _cell_text(name)
    if not name_text:
        problems.append("missing name (姓名)")
    elif len(name_text) > 50:
        problems.append(f"name is longer than 50 characters ({len(name_text)})")
    phone_text = ""
    if not _cell_text(phone):
        problems.append("missing phone (手机)")
    else:
        try:
            phone_text = normalise_phone(phone)
        except ValueError as error:
            problems.append(str(error))
    id_text = ""
    try:
        id_text = normalise_id_card(id_card)
    except ValueError as error:
        problems.append(str(error))
    joined_date = None
    try:
        joined_date = parse_date(joined, what="joined date")
    except ValueError as error:
        problems.append(str(error))
    today = today or dt.date.today()
    if joined_date and joined_date > today:
        problems.append(f"joined date {joined_date.isoformat()} is in the future")
    team_text, organisation_text = _cell_text(team), _cell_text(organisation)
    if len(team_text) > 50:
        problems.append(f"team is longer than 50 characters ({len(team_text)})")
    if len(organisation_text) > 100:
        problems.append(f"organisation is longer than 100 characters "
                        f"({len(organisation_text)})")
    if problems:
        raise ValueError("; ".join(problems))
    return Volunteer(number=number_text, name=name_text, phone=phone_text, id_card=id_text,
                     team=team_text, organisation=organisation_text,
                     joined=joined_date or today, status="active", card_serial=1)


def add_volunteer(store: KioskStore, volunteer: Volunteer) -> Volunteer:
    """Put one volunteer on the roster (VolunteerError if the number is taken)."""
    store.add_volunteers([volunteer])
    return volunteer


def _header_key(header: Any) -> str:
    text = _cell_text(header).lower()
    text = re.sub(r"[(（\[【].*?[)）\]】]", "", text)
    return re.sub(r"[\s*:：]", "", text)


def _read_rows(path: Path) -> tuple[str, list[tuple[int, list[Any]]]]:
    """(sheet name or "", [(row number as the spreadsheet shows it, cells)])."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:  # Excel on Chinese Windows saves "CSV" in GB18030/GBK
                text = raw.decode("gb18030")
            except UnicodeDecodeError:
                raise RosterFileError(f"{path}: not a UTF-8 (or GBK) text file") from None
        reader = csv.reader(text.splitlines())
        return "", [(index, row) for index, row in enumerate(reader, start=1)]
    if suffix in (".xlsx", ".xlsm"):
        import openpyxl
        from openpyxl.utils.exceptions import InvalidFileException

        try:
            book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except (InvalidFileException, OSError, KeyError, ValueError) as error:
            raise RosterFileError(f"{path}: cannot read the workbook ({error})") from None
        try:
            for sheet in book.worksheets:
                rows = [(index, list(row)) for index, row in
                        enumerate(sheet.iter_rows(values_only=True), start=1)]
                if _find_header(rows) is not None:
                    return sheet.title, rows
            first = book.worksheets[0]
            return first.title, [(index, list(row)) for index, row in
                                 enumerate(first.iter_rows(values_only=True), start=1)]
        finally:
            book.close()
    raise RosterFileError(f"{path}: a roster must be a .csv or .xlsx file")


def _find_header(rows: list[tuple[int, list[Any]]]) -> int | None:
    """The index of the header row: the first of the first ten naming number and name."""
    for position, (_row, cells) in enumerate(rows[:10]):
        keys = {_HEADER_OF.get(_header_key(cell)) for cell in cells}
        if {"number", "name"} <= keys:
            return position
    return None


def import_roster(store: KioskStore, path: Path, *, today: dt.date | None = None
                  ) -> RosterReport:
    """Import a roster file: good rows are added (in one transaction), bad rows reported
    by their row number with every reason. Headers in Chinese or English (see
    ``ROSTER_HEADERS``); a title line above the headers is skipped. A number that repeats
    in the file is kept on its first row and reported on the later ones."""
    sheet, rows = _read_rows(path)
    header_at = _find_header(rows)
    where = f"{path}" + (f", sheet '{sheet}'" if sheet else "")
    if header_at is None:
        raise RosterFileError(
            f"{where}: no header row naming the columns; the first row should read e.g. "
            "编号, 姓名, 手机, 身份证号, 服务队, 单位, 加入日期 (or number, name, phone, id_card, "
            "team, organisation, joined)")
    header_row, headers = rows[header_at]
    columns: dict[str, int] = {}
    report = RosterReport(sheet=sheet)
    for index, header in enumerate(headers):
        key = _HEADER_OF.get(_header_key(header))
        if key is None:
            if _cell_text(header):
                report.ignored_columns.append(_cell_text(header))
            continue
        if key in columns:
            raise RosterFileError(f"{where}, row {header_row}: two columns for {key} "
                                  f"({_cell_text(headers[columns[key]])!r} and "
                                  f"{_cell_text(header)!r})")
        columns[key] = index
    missing = [key for key in REQUIRED_COLUMNS if key not in columns]
    if missing:
        names = {key: ROSTER_HEADERS[key][0] for key in missing}
        raise RosterFileError(f"{where}, row {header_row}: no column for "
                              + ", ".join(f"{key} ({names[key]})" for key in missing))
    candidates: list[tuple[int, Volunteer]] = []
    first_row: dict[str, int] = {}
    for row_number, cells in rows[header_at + 1:]:
        if not any(_cell_text(cell) for cell in cells):
            continue  # blank line

        def cell(key: str, cells: list[Any] = cells) -> Any:
            index = columns.get(key)
            return cells[index] if index is not None and index < len(cells) else None

        number = normalise_number(_cell_text(cell("number")))
        if number and number in first_row:
            report.rejected.append((row_number, f"volunteer number {number} appears again "
                                                f"(first on row {first_row[number]})"))
            continue
        if number:
            first_row[number] = row_number
        try:
            volunteer = new_volunteer(number, cell("name"), cell("phone"),
                                      id_card=cell("id_card"), team=cell("team"),
                                      organisation=cell("organisation"), joined=cell("joined"),
                                      today=today)
        except ValueError as error:
            report.rejected.append((row_number, str(error)))
            continue
        candidates.append((row_number, volunteer))
    with store.transaction():
        taken = store.existing_volunteer_numbers(volunteer.number for _, volunteer in candidates)
        good = []
        for row_number, volunteer in candidates:
            if volunteer.number in taken:
                report.rejected.append((row_number, f"volunteer number {volunteer.number} is "
                                                    "already on the roster"))
            else:
                good.append(volunteer)
        if good:
            store.add_volunteers(good)
    report.added = [volunteer.number for volunteer in good]
    report.rejected.sort()
    return report


def mask_phone(phone: str) -> str:
    """139****5678."""
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 8 else "*" * len(phone)


def mask_id_card(id_card: str) -> str:
    """3201**********0012."""
    return f"{id_card[:4]}{'*' * (len(id_card) - 8)}{id_card[-4:]}" if len(id_card) > 8 else (
        "*" * len(id_card))


def volunteer_record(volunteer: Volunteer, *, include_pii: bool = False) -> dict[str, Any]:
    """A roster entry as JSON; phone and ID number masked unless ``include_pii``."""
    return {
        "number": volunteer.number, "name": volunteer.name,
        "phone": volunteer.phone if include_pii else mask_phone(volunteer.phone),
        "id_card": volunteer.id_card if include_pii else mask_id_card(volunteer.id_card),
        "team": volunteer.team, "organisation": volunteer.organisation,
        "joined": volunteer.joined.isoformat() if volunteer.joined else None,
        "status": volunteer.status, "card_serial": volunteer.card_serial,
    }


def find_volunteer(store: KioskStore, number: str) -> Volunteer:
    volunteer = store.volunteer(normalise_number(number))
    if volunteer is None:
        raise VolunteerError(f"there is no volunteer {normalise_number(number)} on the roster")
    return volunteer


def set_status(store: KioskStore, number: str, status: str) -> Volunteer:
    """Suspend (cards refused) or reactivate a volunteer; logged in the staff log."""
    volunteer = store.set_volunteer_status(find_volunteer(store, number).number, status)
    store.log_staff_event(f"volunteer_{'suspended' if status == 'suspended' else 'activated'}",
                          volunteer.number)
    return volunteer


def reissue_card(store: KioskStore, number: str) -> Volunteer:
    """A new card: the serial goes up, so the old card is refused from now on."""
    volunteer = store.bump_card_serial(find_volunteer(store, number).number)
    store.log_staff_event("volunteer_card_reissued",
                          f"{volunteer.number} serial {volunteer.card_serial}")
    return volunteer


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


# ---- the hours report -------------------------------------------------------------------------

STATE_WORDS = {"open": "未签退", "credited": "已计入", "review": "待核实", "void": "已作废"}
FLAG_WORDS = {SHORT_SESSION: "时长过短", CLOSED_AT_DAY_END: "日终自动签退"}
ACTION_WORDS = {"times": "更正", "confirm": "核实无误", "void": "作废"}


@dataclass(frozen=True)
class SummaryRow:
    volunteer: Volunteer
    sessions: int  # credited
    hours: Decimal
    review: int  # closed at day end, not reviewed yet
    short: int


@dataclass
class HoursReport:
    """Service hours of a period: a row per volunteer and every session (see the module's
    rules for what counts)."""

    station: str
    start: dt.date | None
    end: dt.date | None
    team: str | None
    sessions: list[SessionHours]
    volunteers: dict[str, Volunteer]
    made_at: dt.datetime
    # Kiosk id -> its station, when sessions come from several (the central database).
    station_of: dict[str, str] = field(default_factory=dict)

    def summary(self) -> list[SummaryRow]:
        rows: dict[str, list[SessionHours]] = {}
        for item in self.sessions:
            rows.setdefault(item.number, []).append(item)
        return [SummaryRow(
            volunteer=self.volunteers[number],
            sessions=sum(1 for item in items if item.state == "credited"),
            hours=sum((item.hours for item in items), Decimal("0.00")),
            review=sum(1 for item in items if item.state == "review"),
            short=sum(1 for item in items if SHORT_SESSION in item.flags
                      and item.state == "credited"))
            for number, items in sorted(rows.items())]

    @property
    def total_hours(self) -> Decimal:
        return sum((item.hours for item in self.sessions), Decimal("0.00"))

    def period_text(self) -> str:
        start = self.start.isoformat() if self.start else "最早"
        end = self.end.isoformat() if self.end else "至今"
        return f"{start} 至 {end}"


def hours_report(store: VolunteerRecords, settings: VolunteerSettings, *, station: str,
                 start: dt.date | None = None, end: dt.date | None = None,
                 team: str | None = None, now: dt.datetime | None = None,
                 station_of: dict[str, str] | None = None) -> HoursReport:
    """Collect the sessions of ``start`` … ``end`` (days of check-in, inclusive)."""
    sessions = sessions_between(store, settings, start=start, end=end, team=team)
    numbers = {item.number for item in sessions}
    volunteers = {volunteer.number: volunteer
                  for volunteer in store.volunteers(numbers=numbers)}
    for number in numbers - volunteers.keys():  # central: a roster not sent (yet)
        volunteers[number] = Volunteer(number=number, name="（名册中没有）", phone="",
                                       id_card="", team="", organisation="", joined=None,
                                       status="active", card_serial=0)
    return HoursReport(station, start, end, team, sessions, volunteers,
                       (now or dt.datetime.now(settings.zone)).astimezone(settings.zone),
                       station_of or {})


def _when(moment: dt.datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else ""


def _hours_cell(hours: Decimal | None) -> str:
    return "" if hours is None else f"{hours:.2f}"


def correction_text(correction: SessionCorrection, zone: dt.tzinfo) -> str:
    """2026-11-24 10:05 王社工 更正 签退→17:30：忘记签退."""
    made = dt.datetime.fromtimestamp(correction.at_epoch, zone)
    changes = []
    if correction.checked_in_epoch is not None:
        changes.append(
            f"签到→{_when(dt.datetime.fromtimestamp(correction.checked_in_epoch, zone))}")
    if correction.checked_out_epoch is not None:
        changes.append(
            f"签退→{_when(dt.datetime.fromtimestamp(correction.checked_out_epoch, zone))}")
    words = " ".join([ACTION_WORDS.get(correction.action, correction.action), *changes])
    return f"{_when(made)} {correction.staff} {words}：{correction.reason}"


SUMMARY_HEADERS = ("志愿者编号", "姓名", "服务队", "单位", "服务次数", "服务时长(小时)",
                   "待核实次数", "过短次数")
DETAIL_HEADERS = ("记录号", "志愿者编号", "姓名", "服务队", "单位", "服务内容", "服务日期",
                  "签到", "签退", "时长(小时)", "更正后签到", "更正后签退", "计入时长(小时)",
                  "状态", "标记", "更正记录", "记录单位", "终端")
PII_HEADERS = ("手机", "身份证号")


def summary_table(report: HoursReport, *, include_pii: bool = False
                  ) -> tuple[list[str], list[list[Any]]]:
    """The summary's header and rows (hours as Decimal), with a 合计 row at the end."""
    headers = list(SUMMARY_HEADERS)
    if include_pii:
        headers[2:2] = PII_HEADERS
    rows: list[list[Any]] = []
    summary = report.summary()
    for row in summary:
        volunteer = row.volunteer
        cells: list[Any] = [volunteer.number, volunteer.name, volunteer.team,
                            volunteer.organisation, row.sessions, row.hours, row.review,
                            row.short]
        if include_pii:
            cells[2:2] = [volunteer.phone, volunteer.id_card]
        rows.append(cells)
    total: list[Any] = ["合计", f"{len(summary)} 人", "", "",
                        sum(row.sessions for row in summary), report.total_hours,
                        sum(row.review for row in summary), sum(row.short for row in summary)]
    if include_pii:
        total[2:2] = ["", ""]
    rows.append(total)
    return headers, rows


def detail_table(report: HoursReport, *, zone: dt.tzinfo, include_pii: bool = False
                 ) -> tuple[list[str], list[list[Any]]]:
    """The detailed listing: one row per session, corrections beside the recorded times."""
    headers = list(DETAIL_HEADERS)
    if include_pii:
        headers[3:3] = PII_HEADERS
    rows: list[list[Any]] = []
    for item in report.sessions:
        volunteer = report.volunteers[item.number]
        changed_in = item.checked_in != item.recorded_in
        changed_out = item.checked_out != item.recorded_out
        cells: list[Any] = [
            item.id, volunteer.number, volunteer.name, volunteer.team, volunteer.organisation,
            item.session.service, item.day.isoformat(), _when(item.recorded_in),
            _when(item.recorded_out), item.recorded_hours,
            _when(item.checked_in) if changed_in else "",
            _when(item.checked_out) if changed_out else "",
            item.hours, STATE_WORDS[item.state],
            "、".join(FLAG_WORDS.get(flag, flag) for flag in item.flags),
            "；".join(correction_text(correction, zone) for correction in item.corrections),
            report.station_of.get(item.session.kiosk, report.station), item.session.kiosk]
        if include_pii:
            cells[3:3] = [volunteer.phone, volunteer.id_card]
        rows.append(cells)
    return headers, rows


def _csv_value(value: Any) -> Any:
    return _hours_cell(value) if isinstance(value, Decimal) else value


def write_hours_csv(report: HoursReport, path: Path, *, zone: dt.tzinfo,
                    include_pii: bool = False) -> None:
    """One CSV (UTF-8 with BOM, for Excel and WPS) with two blocks: the summary, a blank
    line, then the detailed listing; each block starts with a title line and its header."""
    scope = f"服务队：{report.team}" if report.team else "服务队：全部"
    summary_headers, summary_rows = summary_table(report, include_pii=include_pii)
    detail_headers, detail_rows = detail_table(report, zone=zone, include_pii=include_pii)
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["志愿服务时长汇总", report.station, report.period_text(), scope])
        writer.writerow(summary_headers)
        writer.writerows([_csv_value(value) for value in row] for row in summary_rows)
        writer.writerow([])
        writer.writerow(["志愿服务记录明细", report.station, report.period_text(), scope])
        writer.writerow(detail_headers)
        writer.writerows([_csv_value(value) for value in row] for row in detail_rows)


def write_hours_xlsx(report: HoursReport, path: Path, *, zone: dt.tzinfo,
                     include_pii: bool = False) -> None:
    """A workbook with the sheets 汇总 (summary), 明细 (every session) and 说明 (about)."""
    import openpyxl
    from openpyxl.styles import Font

    book = openpyxl.Workbook()
    tables = [("汇总", summary_table(report, include_pii=include_pii)),
              ("明细", detail_table(report, zone=zone, include_pii=include_pii))]
    for index, (title, (headers, rows)) in enumerate(tables):
        sheet = book.active if index == 0 else book.create_sheet()
        sheet.title = title
        sheet.append(headers)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append([float(value) if isinstance(value, Decimal) else value
                          for value in row])
            for cell, value in zip(sheet[sheet.max_row], row, strict=True):
                if isinstance(value, Decimal):
                    cell.number_format = "0.00"
        sheet.freeze_panes = "A2"
        for column, header in enumerate(headers, start=1):
            width = max([_display_width(header)] + [_display_width(row[column - 1])
                                                     for row in rows[:200]])
            sheet.column_dimensions[openpyxl.utils.get_column_letter(column)].width = min(
                max(width + 2, 8), 60)
    about = book.create_sheet("说明")
    for row in (("站点", report.station), ("时段", report.period_text()),
                ("服务队", report.team or "全部"), ("生成时间", _when(report.made_at)),
                ("计时", "每次服务按签到至签退计，四舍五入到 0.01 小时；合计为各次之和"),
                ("归属", "跨午夜或跨月的服务计入签到当天和当月"),
                ("待核实", "到日终仍未签退的服务在日终自动签退，工作人员核实前不计时长"),
                ("更正", "原始签到签退记录不修改；工作人员的更正另行记录，列在原记录旁")):
        about.append(row)
    about.column_dimensions["A"].width = 10
    about.column_dimensions["B"].width = 70
    book.save(path)


def _display_width(value: Any) -> int:
    text = _hours_cell(value) if isinstance(value, Decimal) else str(value or "")
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def write_hours_report(report: HoursReport, path: Path, file_format: str, *,
                       zone: dt.tzinfo, include_pii: bool = False) -> None:
    """Write the report as ``csv`` or ``xlsx``."""
    if file_format == "csv":
        write_hours_csv(report, path, zone=zone, include_pii=include_pii)
    elif file_format == "xlsx":
        write_hours_xlsx(report, path, zone=zone, include_pii=include_pii)
    else:
        raise ValueError(f"format must be csv or xlsx (got {file_format!r})")


def session_record(item: SessionHours, volunteer: Volunteer | None) -> dict[str, Any]:
    """A session as JSON for ``kiosk volunteer sessions --json``."""
    return {
        "id": item.id, "number": item.number, "name": volunteer.name if volunteer else "",
        "day": item.day.isoformat(), "checked_in": item.session.checked_in,
        "checked_out": item.session.checked_out, "closed_by": item.session.closed_by,
        "corrected_in": item.checked_in.isoformat(timespec="seconds")
        if item.checked_in != item.recorded_in else None,
        "corrected_out": item.checked_out.isoformat(timespec="seconds")
        if item.checked_out and item.checked_out != item.recorded_out else None,
        "hours": float(item.hours), "state": item.state, "flags": list(item.flags),
        "corrections": [{"action": correction.action, "staff": correction.staff,
                         "reason": correction.reason, "at": correction.at}
                        for correction in item.corrections],
    }


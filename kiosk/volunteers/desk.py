"""The volunteer desk at the kiosk: a scanned card checks its volunteer in or out (or, in field
mode, signs them in), with the message the screen shows and the check-out slip."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kiosk.cards.payload import CardError, read_payload
from kiosk.config import VolunteerSettings
from kiosk.i18n import STRINGS, code_of, hours_text, tr
from kiosk.volunteers.hours import (
    CLOSED_AT_DAY_END,
    LAST_NOT_CHECKED_OUT,
    SHORT_SESSION,
    day_end_after,
    hours_between,
    month_hours,
)
from store import KioskStore
from store.rows import Volunteer, VolunteerSession

if TYPE_CHECKING:
    from kiosk.config import KioskConfig
    from kiosk.printing.queue import PrintQueue

log = logging.getLogger("kiosk.volunteers")


log.addHandler(logging.NullHandler())


# ---- scanning at the kiosk ------------------------------------------------------------------

# What the screen says, in 中文 and English.
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
            return tr(f"scan.{key}", language, **values)

        name = self.volunteer.name if self.volunteer else ""
        if self.outcome == "refused":
            known = f"scan.{self.reason}" in STRINGS
            return say(self.reason if known else "not_a_card", name=name)
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
            title = tr("print.slip_title", "zh", name=volunteer.name)
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

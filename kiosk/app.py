"""The kiosk's Textual app: home → questions → 提交 → receipt code → home.

Residents cannot leave the app: there is no command palette and no quit key; staff leave
through the PIN screen (工作人员 on the home screen). Developers start it with the
environment variable ``KIOSK_DEV=1`` to make ``ctrl+q`` quit.

Nobody touching the kiosk for ``idle_seconds`` brings the "还在吗？" countdown; when it runs
out the questionnaire's draft is kept or abandoned (the form's ``draft_on_idle`` setting)
and a new home screen is built, so nothing of the previous resident stays on screen.
An unexpected exception in a screen saves the draft, is logged, and brings home back.

Volunteer cards are recognised on every screen: a keyboard-wedge scanner's burst of keys
(``kiosk.widgets.wedge``), a paste holding a card, or the camera (``card_scanned``). At the
hall a scan checks the volunteer in or out; in field mode (tablets, or the kiosk when staff
choose it) it signs the volunteer in, and every questionnaire started while signed in
carries the volunteer's number as its enumerator.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import replace
from logging.handlers import RotatingFileHandler
from pathlib import Path
from time import monotonic
from typing import TYPE_CHECKING, ClassVar

from textual import events
from textual.app import App
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.timer import Timer

from kiosk.appliance.session import HALL_SCREEN
from kiosk.cards.payload import load_secret, secret_path
from kiosk.config import ConfigError, KioskConfig, load_config
from kiosk.i18n import tr
from kiosk.paths import log_directory, owner_only_directory
from kiosk.screens.base import KioskScreen, Recovering
from kiosk.screens.home import HomeScreen, OutOfOrderScreen
from kiosk.screens.idle import IdleScreen
from kiosk.widgets.wedge import GAP, WEB_GAP, KeyboardWedge, pasted_card
from store import FormInfo, KioskStore
from surveys.clock import now_local, set_station_zone
from surveys.form import Form
from surveys.paradata import Paradata
from surveys.session import FormIncomplete, FormSession, Problem, Submission

if TYPE_CHECKING:
    from kiosk.cards.scanning import Camera
    from kiosk.printing.queue import PrinterState, PrintQueue
    from kiosk.speech import Speaker
    from kiosk.volunteers.desk import ScanResult, VolunteerDesk
    from store.rows import Volunteer
    from store.sqlite.submissions import KeptDraft

# Recorders of questionnaires kept as drafts in this process (continued later: their paradata
# carries on); the oldest is dropped past this many — a draft resumed then starts anew.
KEPT_PARADATA = 16
# Below this many columns × rows only "请放大窗口" is shown.
MIN_WIDTH, MIN_HEIGHT = 60, 20
# This many unexpected errors within ERROR_WINDOW seconds: the kiosk stops offering forms.
ERROR_LIMIT, ERROR_WINDOW = 3, 60.0
log = logging.getLogger("kiosk.app")
# What goes to kiosk.log: the kiosk's own messages and the printer's (ports, status replies).
LOGGERS = ("kiosk", "printers")


def developer_mode() -> bool:
    """``KIOSK_DEV=1`` (or true/yes) in the environment."""
    return os.environ.get("KIOSK_DEV", "").strip().lower() in ("1", "true", "yes")


def draft_on_idle(session: FormSession) -> str:
    """The form's settings column ``draft_on_idle``: ``keep`` or ``discard`` (default)."""
    policy = session.form.settings.get("draft_on_idle", "").strip().lower()
    return "keep" if policy == "keep" else "discard"


class KioskApp(Recovering, App[None], inherit_bindings=False):
    """The resident-facing kiosk screens.

    ``home_after`` is how long the thank-you screen stays before home comes back;
    ``tap_guard`` is how long after a screen change a tap on its navigation buttons is
    ignored (a double tap on 下一题 would otherwise skip a question; the receipt screen
    ignores taps for twice as long). ``idle_seconds`` and ``countdown_seconds`` override
    the config's (tests use short ones). ``clock`` gives the time shown on the home screen,
    the receipt countdown and the PIN lockout; ``new_instance_id`` the id (and so the receipt
    code) of each new questionnaire — both are fixed in screenshot tests. ``read_aloud``
    offers 朗读 (None: where espeak-ng can speak the language, and not in a browser), spoken
    by ``speaker`` (default: a ``kiosk.speech.Speaker``). Developers quit
    with ``ctrl+q`` when ``KIOSK_DEV=1`` is set (or ``developer=True`` is passed).
    ``print_queue`` prints the receipts (default: the config's printer, or files in
    ``receipts/`` beside the database); its worker runs while the app does.

    Volunteer cards are checked with ``card_secret`` (default: the ``card-secret`` file
    beside the config). ``field_mode`` starts the kiosk in field mode (None: in a browser,
    i.e. on tablets through ``kiosk serve``). ``scan_gap`` is the longest pause between two
    keys of a scanner's burst, ``scan_hold`` how long keys that may begin a card are held
    back before they reach the screen (both ``wedge.GAP``, or ``wedge.WEB_GAP`` in a
    browser when not given); ``scan_clock`` stamps each key
    (default: when the key event was made) — tests pass one to choose the pace of the keys.
    ``camera_source`` is the camera that reads cards while the check-in help or the
    sign-in screen is up (an OpenCV index or a video file; None: no camera).
    """

    CSS_PATH = "app.tcss"
    TITLE = "社工站问卷"
    ENABLE_COMMAND_PALETTE = False
    ALLOW_SELECT = False
    AUTO_FOCUS = "Input"
    # inherit_bindings=False drops Textual's ctrl+q / ctrl+c quit bindings.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "developer_quit", show=False, priority=True, system=True)]

    def __init__(self, store: KioskStore, kiosk_id: str | None = None, *,
                 config: KioskConfig | None = None, language: str | None = None,
                 home_after: float = 15.0, tap_guard: float = 0.5,
                 developer: bool | None = None, idle_seconds: float | None = None,
                 countdown_seconds: float | None = None,
                 clock: Callable[[], dt.datetime] | None = None,
                 new_instance_id: Callable[[], str] | None = None,
                 log_dir: Path | None = None, animations: bool = True,
                 cursor_blink: bool = True, read_aloud: bool | None = None,
                 speaker: Speaker | None = None,
                 print_queue: PrintQueue | None = None,
                 card_secret: bytes | None = None, field_mode: bool | None = None,
                 scan_gap: float | None = None, scan_hold: float | None = None,
                 scan_clock: Callable[[], float] | None = None,
                 camera_source: int | str | None = 0) -> None:
        super().__init__()
        self.store = store
        self.config = config or KioskConfig(kiosk_id=kiosk_id or "kiosk")
        set_station_zone(self.config.timezone)
        self.kiosk_id = kiosk_id or self.config.kiosk_id
        self.default_language = language or self.config.language
        self.language = self.default_language
        self.large_text = self.config.large_text
        self.home_after = home_after
        self.tap_guard = tap_guard
        self.developer = developer_mode() if developer is None else developer
        self.idle_seconds = float(idle_seconds or self.config.idle_seconds)
        self.countdown_seconds = float(countdown_seconds or self.config.countdown_seconds)
        self.clock = clock or now_local
        self._question_counts: dict[tuple[str, str], int] = {}  # (survey, version): 共 N 题
        self.new_instance_id = new_instance_id
        self.log_dir = log_dir
        self.cursor_blink = cursor_blink
        if not animations:
            self.animation_level = "none"
        self.read_aloud = read_aloud
        self._speaker = speaker
        self._print_queue = print_queue
        self.current_session: FormSession | None = None
        # How the current questionnaire is filled (instance id, recorder): fed by the screens.
        self._paradata: tuple[str, Paradata] | None = None
        self._kept_paradata: dict[str, Paradata] = {}
        self.recovers = False  # set once home is up: errors before that end the app
        self._last_input = monotonic()
        self._errors: list[float] = []
        self._log_handler: logging.Handler | None = None
        # Volunteers: the card scanner on every screen, the desk behind it (made on the first
        # scan), and field mode with the volunteer signed in on this kiosk or tablet.
        self.wedge = KeyboardWedge(GAP if scan_gap is None else scan_gap, clock=scan_clock)
        self.scan_hold = self.wedge.gap if scan_hold is None else scan_hold
        self._scan_timing_given = (scan_gap is not None, scan_hold is not None)
        self._wedge_timer: Timer | None = None
        self._wedge_round = 0
        self._card_secret = card_secret
        self._desk: VolunteerDesk | None = None
        self._field_mode = field_mode
        self.field_volunteer: Volunteer | None = None
        self.camera_source = camera_source
        self._camera: Camera | None = None

    def on_mount(self) -> None:
        if self.is_web:  # a tablet: the scanner's keys cross the Wi-Fi
            gap_given, hold_given = self._scan_timing_given
            if not gap_given:
                self.wedge.gap = WEB_GAP
            if not hold_given:
                self.scan_hold = self.wedge.gap
        self.push_screen(self._home())
        self.tell_page_text_size()
        self.set_interval(0.25, self._check_idle)
        self.recovers = True
        # The printer is set up once home is on screen: residents need not wait for it.
        self.call_after_refresh(self._start_printing)

    def _start_printing(self) -> None:
        if self.log_dir is not None:
            self._error_log()  # a given log directory: printer trouble is logged from the start
        try:
            self.print_queue.start()  # a thread: the screens never wait for the printer
        except Exception:
            log.exception("the print queue did not start; receipts stay queued")

    def on_unmount(self) -> None:
        self.stop_camera()
        if self._print_queue is not None:
            self._print_queue.close()
        self.stop_speaking()
        if self._log_handler is not None:
            for name in LOGGERS:
                logging.getLogger(name).removeHandler(self._log_handler)
            self._log_handler.close()

    # ---- what is offered -------------------------------------------------------------------

    def offered_forms(self) -> list[FormInfo]:
        """The config's questionnaires that are installed, in the config's order, each
        counting the questions its first screen will say (共 N 题 on home and in the form
        alike: those a resident is asked before any answer opens or closes a branch)."""
        installed = {info.survey_id: info for info in self.store.list_forms()}
        return [replace(installed[survey],
                        question_count=self._questions_asked(installed[survey]))
                for survey in self.config.surveys if survey in installed]

    def _questions_asked(self, info: FormInfo) -> int:
        key = (info.survey_id, info.version)
        if key not in self._question_counts:
            self._question_counts[key] = self.store.opening_question_count(*key)
        return self._question_counts[key]

    def epoch(self) -> float:
        """The clock as a Unix time (for the PIN lockout)."""
        return self.clock().timestamp()

    @property
    def too_small(self) -> bool:
        width, height = self.size
        return width < MIN_WIDTH or height < MIN_HEIGHT

    # ---- read aloud --------------------------------------------------------------------------

    def can_read_aloud(self, language: str) -> bool:
        """Offer 朗读 for this language? (espeak-ng plays where the app runs: not a tablet.)"""
        if self.read_aloud is not None:
            return self.read_aloud
        if self.is_tablet:
            return False
        from kiosk import speech  # only when a question screen asks

        return speech.available(language)

    @property
    def speaker(self) -> Speaker:
        if self._speaker is None:
            from kiosk.speech import Speaker

            self._speaker = Speaker()
        return self._speaker

    def stop_speaking(self) -> None:
        """Speech belongs to the screen it was asked on: stop it when that screen goes."""
        if self._speaker is not None:
            self._speaker.stop()

    # ---- receipts ----------------------------------------------------------------------------

    @property
    def print_queue(self) -> PrintQueue:
        if self._print_queue is None:
            from kiosk.printing.queue import queue_from_config

            self._print_queue = queue_from_config(self.store, self.config)
        return self._print_queue

    def printer_state(self) -> PrinterState | None:
        """What the print queue last heard from the printer (None: not asked yet). The
        queue's worker holds the printer's port, so the system check reads this instead."""
        return None if self._print_queue is None else self._print_queue.state

    def print_receipt(self, submission: Submission, form: Form, code: str) -> int | None:
        """Put the questionnaire's receipt in the print queue (saved, not yet printed).

        Returns the job id; None when the receipt could not even be queued (logged: the
        submission itself is stored, and the desk can print from it).
        """
        try:
            from kiosk.printing.receipts import receipt_for_submission

            volunteer = self.field_volunteer if self.field_mode else None
            if submission.enumerator and (volunteer is None
                                          or volunteer.number != submission.enumerator):
                # A kept draft finished by staff or on another sign-in: the name of the
                # volunteer who made the visit, from the roster.
                volunteer = self.store.volunteer(submission.enumerator)
            receipt = receipt_for_submission(
                submission, form, code, station=self.config.station_name,
                footer=self.config.printer.footer,
                volunteer_name=volunteer.name if volunteer is not None else "",
                follow_up_days=self.config.follow_up_days)
            return self.print_queue.enqueue(receipt.document, receipt.kind, receipt.source,
                                            receipt.title)
        except Exception as error:
            self._error_log().error("the receipt for %s was not queued", code, exc_info=error)
            return None

    def receipt_delayed(self, job_id: int | None) -> bool:
        """Is this receipt held up (printer not ready, or the job waiting)?"""
        if job_id is None:
            return True
        job = self.store.print_job(job_id)
        if job is None or job.state == "waiting":
            return True
        return job.state != "done" and not self.print_queue.printer_ready

    # ---- moving between screens (each move builds a new screen: nothing stays behind) ---

    def _home(self, notice: str = "") -> HomeScreen:
        return HomeScreen(self.offered_forms(), tap_guard=self.tap_guard, notice=notice)

    def start_form(self, survey_id: str) -> None:
        """A resident chose a questionnaire: start a new session on its first screen."""
        form = self.store.load_form(survey_id)
        instance_id = self.new_instance_id() if self.new_instance_id else None
        language = form.language_or_default(self.language)
        # Field mode: what a signed-in volunteer starts is recorded under their number.
        volunteer = self.field_volunteer if self.field_mode else None
        session = FormSession(form, language, kiosk=self.kiosk_id, instance_id=instance_id,
                              enumerator=volunteer.number if volunteer else None,
                              entities=self.store)
        self._paradata = (session.instance_id, Paradata())
        self.show_session(session)

    def show_session(self, session: FormSession, problems: list[Problem] | None = None, *,
                     returning: bool = False) -> None:
        """The session's current screen, or the review step after the last one (forms with
        ``review`` in their settings; the others are stored on 完成). ``returning``: the
        resident came from the review to change an answer."""
        self.current_session = session
        if self._paradata is None or self._paradata[0] != session.instance_id:
            # (a session shown without start_form or resume_draft: its start was not seen)
            self._paradata = (session.instance_id, Paradata(resumed=True))
        self.stop_speaking()
        if session.at_end:
            from kiosk.screens.questionnaire import ReviewScreen

            self.switch_screen(ReviewScreen(session, self.store, tap_guard=self.tap_guard))
        else:
            from kiosk.screens.questionnaire import FormScreen

            self.switch_screen(FormScreen(session, self.store, problems=problems or (),
                                          tap_guard=self.tap_guard, returning=returning))

    @property
    def paradata(self) -> Paradata | None:
        """The recorder of the questionnaire on screen (None when there is none)."""
        session, found = self.current_session, self._paradata
        if session is None or found is None or found[0] != session.instance_id:
            return None
        return found[1]

    def _keep_paradata(self) -> None:
        """The questionnaire is left unfinished (its draft may be continued): the recorder's
        clock stops and it waits for ``resume_draft`` in this process."""
        if self._paradata is None:
            return
        instance_id, recorder = self._paradata
        self._paradata = None
        recorder.pause()
        self._kept_paradata.pop(instance_id, None)
        self._kept_paradata[instance_id] = recorder
        while len(self._kept_paradata) > KEPT_PARADATA:
            del self._kept_paradata[next(iter(self._kept_paradata))]

    def submit(self, session: FormSession) -> None:
        """Finish and store the questionnaire, then show the receipt code."""
        try:
            submission = session.finish()
        except FormIncomplete as incomplete:
            # The session moved to the first screen with a problem; show it there.
            self.show_session(session, incomplete.problems)
            return
        # The site (街道/社区) of this kiosk goes with every submission it makes.
        submission.site = self.config.site.label
        # Through the record gate like every other road in (a refusal is an error: the
        # draft stays, the kiosk recovers to home and logs it).
        recorder = self.paradata
        checked = self.store.record_gate().check_submission(submission)
        code = self.store.save_submission_with_paradata(
            checked, recorder.finish() if recorder is not None else None)
        self._paradata = None
        self.current_session = None
        job_id = self.print_receipt(submission, session.form, code)
        from kiosk.screens.thanks import ThanksScreen

        self.switch_screen(ThanksScreen(code, self.home_after, tap_guard=2 * self.tap_guard,
                                        language=session.language,
                                        receipt_delayed=lambda: self.receipt_delayed(job_id)))

    # ---- kept drafts: questionnaires left unfinished and continued later ---------------------

    def volunteer_drafts(self) -> list[KeptDraft]:
        """The signed-in field volunteer's own unfinished questionnaires, newest first;
        none when nobody is signed in (or at the hall): they hold households' names."""
        volunteer = self.field_volunteer if self.field_mode else None
        if volunteer is None:
            return []
        return self.store.kept_drafts(volunteer.number)

    def resume_draft(self, instance_id: str) -> None:
        """Continue a kept draft on the screen where it stopped, every answer kept;
        finishing it stores the submission under the same instance id (and ends the draft)."""
        try:
            session = self.store.resume_draft(instance_id)
        except KeyError:  # finished or discarded meanwhile (another tablet, staff)
            self.go_home(notice="home.draft_gone")
            return
        recorder = self._kept_paradata.pop(session.instance_id, None)
        if recorder is not None:
            recorder.resume()  # left on this kiosk earlier: its time carries on
        self._paradata = (session.instance_id, recorder or Paradata(resumed=True))
        self.show_session(session)

    def open_kept_drafts(self) -> None:
        """The staff list of kept drafts (only from the staff menu, so only after the PIN)."""
        from kiosk.screens.drafts import KeptDraftsScreen

        self.switch_screen(KeptDraftsScreen(self.store, tap_guard=self.tap_guard))

    def leave_form(self, session: FormSession) -> None:
        """The resident left from the first screen (e.g. chose the wrong questionnaire)."""
        self.store.abandon_draft(session.instance_id)
        self._paradata = None
        self.go_home()

    def go_home(self, notice: str = "") -> None:
        """A new home screen, with nothing above it (overlays, staff screens) left over."""
        self._keep_paradata()  # (unfinished: submit and leave_form already let it go)
        self.current_session = None
        self.stop_speaking()
        while len(self.screen_stack) > 2:
            self.pop_screen()
        self.switch_screen(self._home(notice))
        self.tell_page_text_size()  # 大字 switched, or reset for the next resident

    def tell_page_text_size(self) -> None:
        """On a tablet the page's font follows 大字: a terminal's cells cannot grow, a
        browser's can (kiosk/serve.py sets xterm.js's font size from this packet)."""
        if self.is_web and self._driver is not None:
            from kiosk.serve import text_size_meta

            self._driver.write_meta(text_size_meta(self.large_text))  # type: ignore[attr-defined]

    def finish_visit(self) -> None:
        """The resident is done (receipt seen, or gone): home in the kiosk's own language."""
        self.language = self.default_language
        self.large_text = self.config.large_text
        self.go_home()

    def set_language(self, language: str) -> None:
        """The home screen's 中文 / English toggle."""
        self.language = language
        self.go_home()

    def toggle_large_text(self) -> None:
        self.large_text = not self.large_text
        self.go_home()

    # ---- staff ---------------------------------------------------------------------------

    def open_staff(self) -> None:
        from kiosk.screens.staff import PinScreen

        self.switch_screen(PinScreen(self.store, self._staff_pin_hash()))

    def _staff_pin_hash(self) -> str:
        """The staff PIN as the configuration file holds it now: `kiosk config set-pin`
        takes effect at once, here and on every tablet this kiosk serves. A file that is
        gone or cannot be read leaves the PIN the kiosk started with."""
        path = self.config.path
        if path is not None and path.exists():
            try:
                return load_config(path).staff_pin_hash
            except (ConfigError, OSError):
                pass
        return self.config.staff_pin_hash

    def open_staff_menu(self) -> None:
        from kiosk.screens.staff import StaffMenuScreen

        self.switch_screen(StaffMenuScreen(self.store))

    def open_dashboard(self) -> None:
        """Only from the staff menu, so only after the right PIN."""
        from kiosk.screens.dashboard import StaffDashboardScreen

        self.switch_screen(StaffDashboardScreen(self.store))

    def set_field_mode(self, on: bool) -> None:
        """The staff menu's field-mode switch (for the kiosk taken on household visits)."""
        self._field_mode = on
        self.field_volunteer = None
        self.go_home()

    def staff_exit(self) -> None:
        """退出程序 on the staff menu (after the right PIN): the only way out for staff."""
        self.store.log_staff_event("exit", "staff left the kiosk app", kiosk=self.kiosk_id,
                                   at=self.epoch())
        self.exit()

    def action_developer_quit(self) -> None:
        if self.developer:
            self.exit()

    # ---- volunteers: scanning, check-in and check-out, field mode ---------------------------

    @property
    def field_mode(self) -> bool:
        """A scan signs the volunteer in (household visits) rather than checking in and out:
        on tablets unless told otherwise, on the kiosk when staff switch it on."""
        return self.is_tablet if self._field_mode is None else self._field_mode

    @property
    def is_tablet(self) -> bool:
        """In a browser that is not the hall's own screen. The hall screen of ``kiosk
        appliance`` is a browser on this machine too (``KIOSK_HALL_SCREEN=1``): its camera and
        speaker are this machine's, and a scan there checks volunteers in and out."""
        return self.is_web and os.environ.get(HALL_SCREEN) != "1"

    @property
    def volunteers_enabled(self) -> bool:
        """Are volunteer cards set up here (the card secret beside the config)? Until then
        the home screen offers no volunteer button."""
        if self._card_secret is not None:
            return True
        return self.config.path is not None and secret_path(self.config.path).exists()

    @property
    def volunteer_desk(self) -> VolunteerDesk:
        """Checks cards and records check-ins (loaded on the first scan, not at start)."""
        if self._desk is None:
            from kiosk.volunteers.desk import VolunteerDesk

            secret = self._card_secret
            if secret is None:
                if not self.volunteers_enabled or self.config.path is None:
                    raise RuntimeError("volunteer cards are not set up on this kiosk (no "
                                       "card secret beside the config)")
                secret = load_secret(secret_path(self.config.path))
            # The kiosk's clock: the time greeted on screen is the time shown on home.
            self._desk = VolunteerDesk(self.store, secret, kiosk=self.kiosk_id,
                                       settings=self.config.volunteers, clock=self.clock,
                                       station=self.config.station_name,
                                       footer=self.config.printer.footer,
                                       language=self.default_language)
        return self._desk

    def card_scanned(self, text: str) -> None:
        """A volunteer card from the scanner (keys or a paste) or the camera.

        At the hall it checks the volunteer in or out (a slip is printed at check-out); in
        field mode it signs the volunteer in. The result covers the screen for a few seconds;
        then the screen below (a resident's questionnaire too) is back as it was.
        """
        self.note_input()
        self.stop_speaking()
        take_scan = getattr(self.screen, "take_card_scan", None)
        if take_scan is not None and take_scan(text):
            return  # a screen testing the scanner (系统检查): nobody checks in or out
        if not self.volunteers_enabled:
            log.warning("a volunteer card was scanned, but no cards are set up on this kiosk")
            self.show_volunteer_result(None)
            return
        try:
            desk = self.volunteer_desk
            result = desk.identify(text) if self.field_mode else desk.scan(text)
        except Exception as error:  # a card must never take the kiosk down
            self._error_log().error("a volunteer card could not be checked", exc_info=error)
            self.show_volunteer_result(None)
            return
        slip: int | None = None
        if result.outcome == "identified":
            self.field_volunteer = result.volunteer
            from kiosk.screens.volunteer import SignInScreen

            if isinstance(self.screen, SignInScreen):
                self.go_home()  # signed in: the home screen now shows who
        elif result.outcome == "checked_out":
            slip = self.print_checkout_slip(result)
        self.show_volunteer_result(result, slip)

    def show_volunteer_result(self, result: ScanResult | None,
                              slip: int | None = None) -> None:
        """Cover the screen with what the scan did (a newer scan replaces an older one)."""
        from kiosk.screens.volunteer import ScanResultScreen

        overlay = ScanResultScreen(
            result, language=self.default_language, tap_guard=self.tap_guard,
            slip_delayed=None if slip is None else (lambda: self.receipt_delayed(slip)))
        if isinstance(self.screen, ScanResultScreen):
            self.switch_screen(overlay)
        else:
            if isinstance(self.screen, IdleScreen):
                self.pop_screen()  # the scan was a touch: the countdown goes
            self.push_screen(overlay)

    def print_checkout_slip(self, result: ScanResult) -> int | None:
        """Queue the check-out slip (hours this time and this month); None if it could not
        be queued (logged: the hours are recorded all the same)."""
        volunteer = result.volunteer
        try:
            from kiosk.printing.receipts import checkout_slip

            assert volunteer is not None and result.checked_in_at and result.checked_out_at
            document = checkout_slip(
                station=self.config.station_name, name=volunteer.name,
                team=volunteer.team or "", checked_in=result.checked_in_at,
                checked_out=result.checked_out_at, hours=result.hours or 0.0,
                month_hours=result.month_hours or 0.0, language=self.default_language,
                footer=self.config.printer.footer)
            return self.print_queue.enqueue(document, "slip",
                                            f"volunteer-session:{result.session_id}",
                                            tr("print.slip_title", "zh", name=volunteer.name))
        except Exception as error:
            self._error_log().error("the check-out slip was not queued", exc_info=error)
            return None

    def sign_out_volunteer(self) -> None:
        """退出登录 (or the idle timeout): questionnaires started from now on carry no
        volunteer number."""
        self.field_volunteer = None

    def open_volunteer_help(self) -> None:
        """志愿者签到 on home: where to scan (a scan works on every screen anyway)."""
        from kiosk.screens.volunteer import CheckInHelpScreen

        self.switch_screen(CheckInHelpScreen(tap_guard=self.tap_guard))

    def open_volunteer_sign_in(self) -> None:
        """志愿者登录 on home in field mode."""
        from kiosk.screens.volunteer import SignInScreen

        self.switch_screen(SignInScreen(tap_guard=self.tap_guard))

    # The camera (kiosk.cards.scanning.Camera, through OpenCV where installed) reads cards only
    # while the check-in help or the sign-in screen is up — never watching the hall all day;
    # what it reads goes to card_scanned like a scanner's burst.

    def camera_available(self) -> bool:
        """Can a camera read cards here? OpenCV installed and the camera device present;
        never on a tablet (the camera would be the server's, not the tablet's)."""
        source = self.camera_source
        if source is None or self.is_tablet:
            return False
        if isinstance(source, int) and not Path(f"/dev/video{source}").exists():
            return False
        from importlib.util import find_spec  # without importing OpenCV (slow) yet

        return find_spec("cv2") is not None and find_spec("kiosk.cards.scanning") is not None

    def start_camera(self) -> None:
        """Start reading cards from the camera (where ``camera_available``); the camera
        opens and decodes in its own thread and worker process, so no screen waits."""
        if self._camera is not None or not self.camera_available():
            return
        try:
            from kiosk.cards.scanning import Camera

            camera = Camera(self.camera_source if self.camera_source is not None else 0)
            camera.start(lambda text: self.call_from_thread(self._camera_card, camera, text),
                         on_error=lambda problem: log.warning("%s", problem))
        except Exception:
            log.exception("the camera could not be started")
            return
        self._camera = camera

    def _camera_card(self, camera: object, text: str) -> None:
        if camera is self._camera:  # not a card read just before the camera was stopped
            self.card_scanned(text)

    def stop_camera(self) -> None:
        """Stop the camera (the screen that wanted it is gone); it is released in the
        background, as stopping waits for a frame being decoded."""
        camera, self._camera = self._camera, None
        if camera is not None:
            threading.Thread(target=camera.close, name="kiosk-camera-close",
                             daemon=True).start()

    class WedgeFlush(Message):
        """No key came for ``scan_hold`` seconds: held keys were a person's, not a scan."""

        def __init__(self, round_: int) -> None:
            super().__init__()
            self.round = round_

    async def _scanner_key(self, event: events.Key) -> None:
        fed = self.wedge.feed(event)
        for key in fed.release:
            await self._deliver_key(key)
        if fed.scan is not None:
            self.card_scanned(fed.scan)
        self._wedge_round += 1
        if self._wedge_timer is not None:
            self._wedge_timer.stop()
            self._wedge_timer = None
        if self.wedge.holding:
            round_ = self._wedge_round
            # The flush goes through the message queue, so keys already waiting come first.
            self._wedge_timer = self.set_timer(
                self.scan_hold, lambda: self.post_message(self.WedgeFlush(round_)))

    async def on_kiosk_app_wedge_flush(self, message: WedgeFlush) -> None:
        if message.round == self._wedge_round:
            for key in self.wedge.take():
                await self._deliver_key(key)

    async def _deliver_key(self, event: events.Key | events.Paste) -> None:
        """A key (or paste) for the screen, as if the scanner watch were not there."""
        overlay = isinstance(self.screen, IdleScreen)
        self.note_input()
        if overlay or self.too_small:
            return  # the key that wakes the kiosk (or that nobody can see) does nothing
        await super().on_event(event)

    # ---- idle ----------------------------------------------------------------------------

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded:
            self._last_input = monotonic()  # held keys are input too
            await self._scanner_key(event)
            return
        if isinstance(event, events.Paste) and not event.is_forwarded:
            for key in self.wedge.take():  # keys held before the paste come first
                await self._deliver_key(key)
            card = pasted_card(event.text)
            if card is not None:
                self.card_scanned(card)
                return
            await self._deliver_key(event)
            return
        await super().on_event(event)

    def note_input(self) -> None:
        """A key or a tap: the resident is still there."""
        self._last_input = monotonic()
        if isinstance(self.screen, IdleScreen):
            self.still_here()

    def still_here(self) -> None:
        """继续 on the countdown (or any tap): back to where the resident was."""
        self._last_input = monotonic()
        if isinstance(self.screen, IdleScreen):
            self.pop_screen()
            if self.paradata is not None:
                self.paradata.idle_end()

    def idle_seconds_passed(self) -> float:
        return monotonic() - self._last_input

    def _check_idle(self) -> None:
        if not self.is_running:
            # Shutting down: Textual empties the screen stack before it stops the app's
            # timers, so this tick may come with no screen at all; nobody is watched now.
            return
        screen = self.screen
        if isinstance(screen, IdleScreen) or self.idle_seconds_passed() < self.idle_seconds:
            return
        if isinstance(screen, HomeScreen):
            if self.field_volunteer is not None:
                # A volunteer signed in and gone: the countdown, then signed out.
                self.push_screen(IdleScreen(self.countdown_seconds))
                return
            # A resident who switched to English or large text and left: reset quietly.
            if (self.language, self.large_text) != (self.default_language,
                                                    self.config.large_text):
                self._last_input = monotonic()
                self.finish_visit()
            return
        if isinstance(screen, KioskScreen) and screen.IDLE_WATCH:
            self.stop_speaking()
            if self.paradata is not None:
                self.paradata.idle_start()
            self.push_screen(IdleScreen(self.countdown_seconds))

    def idle_timeout(self) -> None:
        """Nobody answered "还在吗？": keep or abandon the draft, then a clean home screen."""
        session = self.current_session
        if session is not None:
            if draft_on_idle(session) == "keep":
                below = self.screen_stack[-2] if len(self.screen_stack) > 2 else None
                if isinstance(below, KioskScreen):
                    below.save_work()
                if session.progress()[0]:
                    self.store.save_draft(session)
            else:
                self.store.abandon_draft(session.instance_id)
                self._paradata = None
        self.sign_out_volunteer()  # the tablet was left: nobody stays signed in on it
        self._last_input = monotonic()
        self.finish_visit()

    # ---- unexpected errors ---------------------------------------------------------------

    def recover(self, error: BaseException, where: str = "") -> None:
        """An exception escaped a screen: save the draft, log it, show home; never a
        traceback for the resident."""
        now = monotonic()
        self._errors = [moment for moment in self._errors if now - moment < ERROR_WINDOW]
        self._errors.append(now)
        self._error_log().error("unexpected error in %s", where or "the kiosk", exc_info=error)
        try:
            self.store.log_staff_event(
                "error", f"{where}: {type(error).__name__}: {error}"[:300], kiosk=self.kiosk_id,
                at=self.epoch())
        except Exception:
            log.exception("could not record the error in the staff log")
        session = self.current_session
        if session is not None:
            try:
                self.store.save_draft(session)
            except Exception:
                log.exception("could not save the draft after an error")
        if len(self._errors) > 2 * ERROR_LIMIT:
            self.recovers = False  # recovering does not help: stop, the log says why
            self.exit(return_code=1)
            return
        try:
            if len(self._errors) >= ERROR_LIMIT:
                self.current_session = None
                while len(self.screen_stack) > 2:
                    self.pop_screen()
                self.switch_screen(OutOfOrderScreen())
            else:
                self.go_home(notice="home.recovered")
        except Exception:
            log.exception("could not show the home screen after an error")
            self.recovers = False
            self.exit(return_code=1)

    def _handle_exception(self, error: Exception) -> None:
        # Errors Textual catches itself (composing a screen, rendering) come here.
        if self.recovers and self.is_running:
            self.recover(error, where="textual")
            return
        super()._handle_exception(error)

    def _error_log(self) -> logging.Logger:
        """The error log file in the user log directory, opened on the first error."""
        if self._log_handler is None:
            directory = self.log_dir or log_directory()
            try:
                owner_only_directory(directory)
                handler: logging.Handler = RotatingFileHandler(
                    directory / "kiosk.log", maxBytes=1_000_000, backupCount=3,
                    encoding="utf-8")
            except OSError:
                handler = logging.NullHandler()
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
            for name in LOGGERS:
                logging.getLogger(name).addHandler(handler)
            self._log_handler = handler
        return log

"""Thank-you screen with the receipt code; goes home by itself or on a tap.

It says what the printer is doing for the resident (回执 / 登记单 / 改造建议方案 正在打印)
when the kiosk has a printer, and for a service request by when a social worker follows up:
the very sentence the ticket prints, with the station's ``[requests] follow_up_days``.
When the printer is not ready the screen says so in a line instead (the receipt waits in
the print queue and prints later, or the desk reprints it); it never waits for the printer.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from textual import events
from textual.app import ComposeResult
from textual.containers import Center, Vertical
from textual.widgets import Button, Static

from kiosk.i18n import code_of
from kiosk.printing.receipts import promise_for_submission, slip_kind
from kiosk.screens.base import KioskScreen
from surveys.session import Submission


class PrintNotice(Static):
    """回执稍后打印: the printer is down, the receipt waits in the queue."""

    DEFAULT_CSS = """
    PrintNotice {
        width: 100%;
        content-align: center middle;
        background: $warning;
        color: $text;
        padding: 0 1;
        margin: 0 0 1 0;
    }
    """


class ThanksScreen(KioskScreen):
    """Shows the receipt code a resident can read out at the desk.

    ``receipt_delayed()`` says whether the printed receipt is held up (printer not ready);
    it is asked when the screen opens and every second after, and the notice, once shown,
    stays until the screen goes.
    """

    def __init__(self, code: str, home_after: float = 15.0, tap_guard: float = 0.0,
                 language: str = "zh",
                 receipt_delayed: Callable[[], bool] | None = None) -> None:
        super().__init__(tap_guard)
        self.code = code
        self.receipt_delayed = receipt_delayed
        self.home_after = home_after
        self._language = code_of(language)
        self._left = False
        self._home_due = False
        self._started = None

    @property
    def language(self) -> str:
        return self._language  # the questionnaire's, until home comes back

    def compose_screen(self) -> ComposeResult:
        self._started = self.kiosk.clock()
        with Vertical(id="thanks"):
            yield Static(self.t("thanks.title"), classes="big")
            yield Static(self.t("thanks.code"), classes="explain")
            with Center():
                yield Static(self.code, id="receipt-code")
            yield Static(self.t("thanks.keep"), classes="explain")
            survey, promise = self._what_was_submitted()
            if promise:
                yield Static(promise, id="follow-up", classes="explain")
            if self.kiosk.config.printer.url:
                yield Static(self.t(f"thanks.printing.{slip_kind(survey)}"), id="printing",
                             classes="explain")
            yield Static(self._countdown_text(), id="countdown")
            with Center():
                yield Button(self.t("thanks.home"), id="home", variant="primary")

    def _what_was_submitted(self) -> tuple[str, str]:
        """The survey of the stored submission with this code and, for a service request,
        its follow-up promise. Read back by the code, as the desk does: the screen says what
        was stored, and a lookup that fails only leaves the lines out."""
        store = getattr(self.app, "store", None)
        try:
            instance_id = store.instance_of_receipt_code(self.code) if store else None
            record = store.submission_record(instance_id) if instance_id else None
            if record is None:
                return "", ""
            submission = Submission(**record)
            form = store.load_form(submission.survey, submission.version)
            days = self.kiosk.config.follow_up_days
            return submission.survey, promise_for_submission(submission, form, days)
        except Exception:  # a missing line must never cost the resident the code
            return "", ""

    def on_mount(self) -> None:
        self.mark_shown()
        self.set_focus(None)
        self.set_timer(self.home_after, self.go_home)
        self.set_interval(1.0, self._tick)
        self._check_printing()

    def _countdown_text(self) -> str:
        # The app's clock, so a screenshot test with a fixed clock always reads the same.
        passed = (self.kiosk.clock() - self._started).total_seconds() if self._started else 0
        left = max(0, math.ceil(self.home_after - passed))
        return self.t("thanks.countdown", seconds=left)

    def _tick(self) -> None:
        self.query_one("#countdown", Static).update(self._countdown_text())
        self._check_printing()

    def _check_printing(self) -> None:
        if self.receipt_delayed is None or self.query(PrintNotice):
            return
        try:
            delayed = self.receipt_delayed()
        except Exception:  # a question about the printer must never cost the resident
            delayed = True
        if delayed:
            for printing in self.query("#printing"):
                printing.display = False  # not printing now: the notice says what instead
            self.query_one("#thanks", Vertical).mount(
                PrintNotice(self.t("thanks.print_later"), id="print-notice"),
                before=self.query_one("#countdown", Static))

    def on_click(self, event: events.Click) -> None:
        self._tapped()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self._tapped()

    def on_key(self, event: events.Key) -> None:
        event.stop()
        self._tapped()

    def _tapped(self) -> None:
        # A double tap on 提交 must not hide the code before the resident has seen it.
        if not self.guarded():
            self.go_home()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        if self._home_due:
            self.go_home()

    def go_home(self) -> None:
        if not self.is_current:
            # A volunteer's scan covers the screen: home comes once it is closed.
            self._home_due = True
            return
        if not self._left:
            self._left = True
            self.kiosk.finish_visit()

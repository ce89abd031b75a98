"""Volunteer screens: what a card scan did, how to check in, and field-mode sign-in.

A scan is recognised on every screen (``KioskApp.card_scanned``); its result covers the
whole screen — opaque, so whoever scans sees nothing of a resident's questionnaire below —
for a few seconds or until a tap, and then the screen below is back as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual import events
from textual.app import ComposeResult
from textual.containers import Center, Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Input, Static

from kiosk.i18n import code_of
from kiosk.screens.base import KioskScreen
from kiosk.screens.thanks import PrintNotice

if TYPE_CHECKING:
    from kiosk.volunteers.desk import ScanResult

# How long each result stays (seconds) unless tapped away: long enough to read, short
# enough that the next volunteer in the queue need not wait.
SHOWN_FOR = {"checked_in": 5.0, "identified": 5.0, "repeat": 5.0, "checked_out": 10.0,
             "refused": 10.0}


class ScanResultScreen(KioskScreen):
    """你好，王芳！签到时间 14:05 — or the hours at check-out, or why a card was refused.

    ``result`` None: the card could not be checked at all (the error is logged).
    ``slip_delayed()`` says whether the check-out slip is held up (printer not ready).
    """

    IDLE_WATCH = False  # it closes by itself

    def __init__(self, result: ScanResult | None, *, language: str = "zh",
                 tap_guard: float = 0.0,
                 slip_delayed: Callable[[], bool] | None = None) -> None:
        super().__init__(tap_guard)
        self.result = result
        self.slip_delayed = slip_delayed
        self._language = code_of(language)
        self._closed = False

    @property
    def language(self) -> str:
        return self._language  # the kiosk's own language: the card is a volunteer's

    @property
    def outcome(self) -> str:
        return self.result.outcome if self.result is not None else "refused"

    def heading(self) -> str:
        """签到成功, 签退成功 … in big letters; the line below says who and when."""
        if self.result is None:
            return self.t("volunteer.failed")
        return self.t(f"volunteer.{self.outcome}")

    def lines(self) -> list[str]:
        result = self.result
        if result is None:
            return [self.t("volunteer.failed_explain")]
        found = [result.message(self.language)]
        if result.outcome == "identified" and result.volunteer is not None:
            found.append(self.t("volunteer.signed_in", number=result.volunteer.number))
        return [line for line in found if line]

    def compose_screen(self) -> ComposeResult:
        with Vertical(id="volunteer-result", classes=f"outcome-{self.outcome}"):
            yield Static(Content(self.heading()), id="volunteer-heading", classes="big")
            for line in self.lines():
                yield Static(Content(line), classes="volunteer-line")
            if self.outcome == "checked_out":
                yield Static(self.t("volunteer.slip"), id="slip-line", classes="explain")
            yield Static(self.t("volunteer.tap"), id="volunteer-tap", classes="explain")
            with Center():
                yield Button(self.t("volunteer.ok"), id="volunteer-ok", variant="primary")

    def on_mount(self) -> None:
        self.mark_shown()
        self.set_focus(None)
        self.set_timer(SHOWN_FOR.get(self.outcome, 5.0), self.close)
        if self.slip_delayed is not None:
            self._check_printing()
            self.set_interval(1.0, self._check_printing)

    def _check_printing(self) -> None:
        if self.slip_delayed is None or self.query(PrintNotice):
            return
        try:
            delayed = self.slip_delayed()
        except Exception:  # the printer never costs the volunteer their hours
            delayed = True
        if delayed:
            self.query_one("#slip-line", Static).update(self.t("volunteer.slip_later"))
            self.query_one("#volunteer-result", Vertical).mount(
                PrintNotice(self.t("volunteer.slip_later"), id="print-notice"),
                before=self.query_one("#slip-line", Static))
            self.query_one("#slip-line", Static).display = False

    def on_click(self, event: events.Click) -> None:
        if not self.guarded():
            self.close()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if not self.guarded():
            self.close()

    def on_key(self, event: events.Key) -> None:
        event.stop()  # keys are not for the screen below while this covers it

    def close(self) -> None:
        """Back to the screen below, as it was (only while this is still on top)."""
        if self._closed:
            return
        self._closed = True
        if self.is_current:
            self.dismiss()


class CheckInHelpScreen(KioskScreen):
    """志愿者签到 on the home screen: where to scan (the scan itself works on any screen)."""

    def compose_screen(self) -> ComposeResult:
        with Vertical(id="volunteer-help"):
            yield Static(self.t("volunteer.scan_here"), classes="big")
            yield Static(self.t("volunteer.scan_explain"), classes="explain")
            if self.kiosk.camera_available():
                yield Static(self.t("volunteer.camera"), classes="explain")
            with Center():
                yield Button(self.t("volunteer.back"), id="volunteer-back", variant="primary")

    def on_mount(self) -> None:
        self.set_focus(None)
        self.kiosk.start_camera()

    def on_unmount(self) -> None:
        self.kiosk.stop_camera()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "volunteer-back":
            self.kiosk.go_home()


class SignInScreen(KioskScreen):
    """Field mode: 志愿者登录 — scan the card, or type its code where there is no scanner."""

    def compose_screen(self) -> ComposeResult:
        with Vertical(id="volunteer-signin"):
            yield Static(self.t("signin.title"), classes="big")
            yield Static(self.t("signin.explain"), classes="explain")
            if self.kiosk.camera_available():
                yield Static(self.t("volunteer.camera"), classes="explain")
            with Center():
                yield Input(placeholder=self.t("signin.placeholder"), id="card-code",
                            max_length=64)
            with Center(), Horizontal(id="signin-buttons"):
                yield Button(self.t("volunteer.back"), id="signin-back")
                yield Button(self.t("signin.ok"), id="signin-ok", variant="primary")

    def on_mount(self) -> None:
        field = self.query_one("#card-code", Input)
        field.cursor_blink = self.kiosk.cursor_blink
        self.set_focus(field)
        self.kiosk.start_camera()

    def on_unmount(self) -> None:
        self.kiosk.stop_camera()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.sign_in()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "signin-back":
            self.kiosk.go_home()
        elif event.button.id == "signin-ok":
            self.sign_in()

    def sign_in(self) -> None:
        """The typed code, checked like a scan (a wrong one is shown, the box keeps it)."""
        text = self.query_one("#card-code", Input).value.strip()
        if text:
            self.kiosk.card_scanned(text)


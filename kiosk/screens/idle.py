"""The "还在吗？" countdown shown when nobody has touched the kiosk for a while.

It covers the whole screen (opaque: a passer-by reads nothing of the resident's answers);
any tap or key brings the questionnaire back; at zero the app goes home.
"""

from __future__ import annotations

import math
from time import monotonic

from textual import events
from textual.app import ComposeResult
from textual.containers import Center, Vertical
from textual.widgets import Button, Static

from kiosk.screens.base import KioskScreen


class IdleScreen(KioskScreen):
    IDLE_WATCH = False

    def __init__(self, countdown: float) -> None:
        super().__init__()
        self.countdown = countdown
        self._since = monotonic()
        self._done = False

    def compose_screen(self) -> ComposeResult:
        with Vertical(id="idle"):
            yield Static(self.t("idle.title"), classes="big")
            yield Static(self._text(), id="idle-countdown")
            with Center():
                yield Button(self.t("idle.continue"), id="continue", variant="success")

    def on_mount(self) -> None:
        self._since = monotonic()
        self.set_focus(None)
        self.set_interval(0.1, self._tick)

    def left(self) -> float:
        return self.countdown - (monotonic() - self._since)

    def _text(self) -> str:
        return self.t("idle.countdown", seconds=max(0, math.ceil(self.left())))

    def _tick(self) -> None:
        if self._done:
            return
        if self.left() <= 0:
            self._done = True
            self.kiosk.idle_timeout()
            return
        self.query_one("#idle-countdown", Static).update(self._text())

    def _forward_event(self, event: events.Event) -> None:
        # Any tap anywhere continues; acting on the click (not the press) means the
        # press and release both land here, never on the screen underneath.
        if isinstance(event, events.Click | events.MouseScrollDown | events.MouseScrollUp):
            if not self._done:
                self._done = True
                self.kiosk.still_here()
            return
        if isinstance(event, events.MouseEvent):
            return
        super()._forward_event(event)

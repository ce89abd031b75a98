"""Thank-you screen with the receipt code; goes home by itself or on a tap."""

from __future__ import annotations

import math

from textual import events
from textual.app import ComposeResult
from textual.containers import Center, Vertical
from textual.widgets import Button, Static

from kiosk.screens.base import KioskScreen


class ThanksScreen(KioskScreen):
    """Shows the receipt code a resident can read out at the desk."""

    def __init__(self, code: str, home_after: float = 15.0, tap_guard: float = 0.0) -> None:
        super().__init__(tap_guard)
        self.code = code
        self.home_after = home_after
        self._left = False

    def compose(self) -> ComposeResult:
        with Vertical(id="thanks"):
            yield Static("提交成功，谢谢您！", classes="big")
            yield Static("您的回执号：", classes="explain")
            with Center():
                yield Static(self.code, id="receipt-code")
            yield Static("请记下回执号，到服务台可以凭它查询。", classes="explain")
            yield Static(self._countdown_text(), id="countdown")
            with Center():
                yield Button("回到首页", id="home", variant="primary")

    def on_mount(self) -> None:
        self.mark_shown()
        self.set_focus(None)
        self.set_timer(self.home_after, self.go_home)
        self.set_interval(1.0, self._tick)

    def _countdown_text(self) -> str:
        left = max(0, math.ceil(self.home_after - self.shown_for()))
        return f"{left} 秒后自动回到首页，点屏幕任意处可以马上回去。"

    def _tick(self) -> None:
        self.query_one("#countdown", Static).update(self._countdown_text())

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

    def go_home(self) -> None:
        if not self._left:
            self._left = True
            self.kiosk.go_home()

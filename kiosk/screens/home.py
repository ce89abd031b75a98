"""Home: the station's questionnaires, one big button each."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Button, Static

from kiosk.screens.base import KioskScreen
from store import FormInfo


class HomeScreen(KioskScreen):
    """Lists the questionnaires; number keys 1–9 open one as well as a tap does."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(str(number), f"open({number})", show=False) for number in range(1, 10)]

    def __init__(self, forms: list[FormInfo], language: str = "zh", tap_guard: float = 0.0) -> None:
        super().__init__(tap_guard)
        self.forms = forms
        self.language = language

    def compose(self) -> ComposeResult:
        with Vertical(id="home-top"):
            yield Static("社工站 · 居民问卷", id="home-title")
            yield Static("请点一下您要填写的问卷", id="home-hint")
        with VerticalScroll(id="forms"):
            for number, info in enumerate(self.forms, start=1):
                prefix = f"{number}  " if number <= 9 else ""
                label = f"{prefix}{info.title_in(self.language)}　（共 {info.question_count} 题）"
                yield Button(Content(label), name=info.survey_id, classes="form-button")
            if not self.forms:
                yield Static("现在没有可以填写的问卷，请找工作人员。", id="no-forms")
        yield Static("填写时可以随时点“上一题”修改。需要帮助请找工作人员。", id="home-footer")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.name:
            self._open(event.button.name)

    def action_open(self, number: int) -> None:
        if 1 <= number <= len(self.forms):
            self._open(self.forms[number - 1].survey_id)

    def _open(self, survey_id: str) -> None:
        # The tap that closed the previous resident's receipt must not open a form.
        if self.guarded():
            return
        self.kiosk.start_form(survey_id)

"""One question on a kiosk screen: its label, hint, control and the problems with its answer.

A block only shows a ``QuestionView`` and reports what the resident did (``Answered``); the
screen that owns it passes the answer to the ``FormSession`` and shows what comes back.
"""

from __future__ import annotations

import calendar
import datetime as dt
import unicodedata
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Input, Static, TextArea

from kiosk.i18n import month_name, tr
from kiosk.widgets.inputs import KioskInput, KioskTextArea
from kiosk.widgets.register_picker import Register, RegisterPicker
from surveys.clock import now_local
from surveys.expressions import parse_date
from surveys.numbers import written_number
from surveys.session import DECIMAL, Problem, QuestionView

SELECT_KINDS = ("select_one", "select_multiple")
INPUT_KINDS = ("integer", "decimal", "text", "date")
# More choices than this go into two columns so that they still fit a 40-line screen
# (fewer when the question shares its screen with others, as in a field-list group).
ONE_COLUMN_CHOICES = 8
ONE_COLUMN_CHOICES_SHARED = 4
# Large text makes each choice five lines tall: past four, two columns keep them in view.
ONE_COLUMN_CHOICES_LARGE = 4
# A text question that allows this many characters gets a box of several lines.
MULTILINE_FROM = 100
# A Likert scale is a row of buttons when each gets this many columns, else a column.
LIKERT_MIN_WIDTH = 16


def value_text(value: Any) -> str:
    """An answer as a resident typed it (whole floats without '.0')."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return " ".join(str(part) for part in value)
    return str(value)


def number_echo(typed: str) -> str:
    """"= 15000" when a number box holds a number written with 万, 千 or Chinese numerals;
    nothing for plain digits (they need no echo) or for what is no number (下一题 says so)."""
    text = unicodedata.normalize("NFKC", typed).strip()
    if not text or DECIMAL.fullmatch(text):
        return ""
    number = written_number(text)
    if number is None:
        return ""
    return f"= {format(number.normalize(), 'f')}"


def label_text(view: QuestionView, language: str) -> Text:
    label = Text(view.label)
    if view.required and view.kind != "note":
        label.append(f"  {tr('required', language)}", style="bold red")
    return label


def is_likert(view: QuestionView) -> bool:
    return view.kind == "select_one" and "likert" in view.item.appearance.split()


def shift_date(day: dt.date, part: str, step: int) -> dt.date:
    """``day`` moved by ``step`` years, months or days; the day is kept within the month."""
    if part == "day":
        return day + dt.timedelta(days=step)
    year, month = day.year, day.month
    if part == "year":
        year += step
    else:
        month += step
        year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    year = min(max(year, 1), 9999)
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Toggle:
    """Tick or untick one choice of a multi-select.

    Sent as the intent, not as the resulting list: two quick taps (or number keys) are both
    applied, in order, to the session's answer, even before the first one is on screen.
    """

    name: str

    def applied_to(self, chosen: list[str] | None) -> list[str]:
        current = list(chosen or [])
        return [part for part in current if part != self.name] if self.name in current else [
            *current, self.name]


class ChoiceButton(Button):
    """One choice. Space picks (or ticks) it; Enter picks it and goes on as Enter in a box
    does: to the next question, or on the last one to 下一题 (a tick box only ticks: Enter
    cannot mean "done" where several may be ticked)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("space", "pick", show=False)]

    def action_press(self) -> None:  # Enter
        block_of(self).choose(self.name or "", submitted=True)

    def action_pick(self) -> None:
        block_of(self).choose(self.name or "")


def block_of(widget: Widget) -> QuestionBlock:
    """The question a widget (a choice, a box) belongs to."""
    node = widget.parent
    while not isinstance(node, QuestionBlock):
        assert node is not None, f"{widget!r} is outside a question"
        node = node.parent
    return node


class QuestionBlock(Vertical):
    """Label, required mark, hint, the answer control and an inline problem line."""

    class Answered(Message):
        """The resident gave (or changed) an answer; ``submitted`` when Enter was pressed."""

        def __init__(self, block: QuestionBlock, value: Any, submitted: bool = False) -> None:
            super().__init__()
            self.block = block
            self.value = value
            self.submitted = submitted

    def __init__(self, view: QuestionView, *, language: str = "zh", number_keys: bool = False,
                 shared: bool = False, typed: str | None = None,
                 problems: list[str] | None = None, cursor_blink: bool = True,
                 large: bool = False, register: Register | None = None) -> None:
        super().__init__(classes=f"question kind-{view.kind}")
        # select_one_from_file: the register a household is picked from (by a search)
        self.register = register if view.item.entity_list is not None else None
        self.large = large  # large text: taller choices
        self.view = view
        self.language = language
        self.number_keys = number_keys
        self.shared = shared  # other questions are on the same screen
        self.cursor_blink = cursor_blink
        self._typed = typed  # text a resident typed but that was not accepted yet
        self._problems = problems or []
        self._stacked = False  # a Likert scale shown as a column (narrow screen)
        self._refused = False  # the problem line shows refused input, not a session problem
        # What was last handed to the session, so the same text is not answered twice.
        self.last_sent: str | None = None if typed is not None else value_text(view.value)
        self.last_problems: list[Problem] = []

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.view.name

    @property
    def kind(self) -> str:
        return self.view.kind

    @property
    def takes_keys(self) -> bool:
        return self.kind in SELECT_KINDS and not self.view.read_only

    # ---- building ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        view = self.view
        yield Static(label_text(view, self.language), classes="label")
        if view.hint:
            yield Static(Content(view.hint), classes="hint")
        if view.kind == "note":
            pass
        elif view.read_only:
            yield Static(Content(self._read_only_text()), classes="read-only")
        elif self.register is not None:
            yield RegisterPicker(self.register, self._chosen()[0] if self._chosen() else None,
                                 language=self.language, cursor_blink=self.cursor_blink)
        elif is_likert(view):
            with Horizontal(classes="choices likert"):
                for index, choice in enumerate(view.choices):
                    yield ChoiceButton(self._choice_label(index, choice.label, choice.name),
                                       name=choice.name, classes="choice")
        elif view.kind in SELECT_KINDS:
            limit = (ONE_COLUMN_CHOICES_SHARED if self.shared or self.large
                     else ONE_COLUMN_CHOICES)
            columns = "two-columns" if len(view.choices) > limit else ""
            with Vertical(classes=f"choices {columns}"):
                for index, choice in enumerate(view.choices):
                    yield ChoiceButton(self._choice_label(index, choice.label, choice.name),
                                       name=choice.name, classes="choice")
        elif view.kind in INPUT_KINDS:
            text = self._typed if self._typed is not None else value_text(view.value)
            placeholder = tr(f"placeholder.{view.kind}", self.language)
            field: KioskInput | KioskTextArea
            if self.multiline:
                field = KioskTextArea(text, placeholder=placeholder, classes="answer",
                                      cursor_blink=self.cursor_blink,
                                      limit=view.item.length_limit)
            else:
                field = KioskInput(view.kind, text, placeholder=placeholder, classes="answer",
                                   cursor_blink=self.cursor_blink,
                                   limit=view.item.length_limit)
            if view.kind == "date":
                with Horizontal(classes="date-row"):
                    yield field
                    yield Button(tr("today", self.language), classes="today")
                yield from self._compose_date_steppers()
            else:
                yield field
            if view.kind == "text":
                # The one limit, said before it is reached (the box refuses past it).
                yield Static(self._length_text(text, field.limit), classes="length")
            if view.kind in ("integer", "decimal"):
                # The number read from what was typed ("1万" → "= 10000"), before 下一题.
                echo = number_echo(text)
                yield Static(echo, classes="number-echo shown" if echo else "number-echo")
        elif view.kind == "acknowledge":
            yield Button(self._acknowledge_label(), classes="acknowledge")
        problem = Static("", classes="problem")
        yield problem
        self._problem_line = problem

    @property
    def multiline(self) -> bool:
        """A box of several lines: asked for (``appearance multiline``), or a long answer
        the form allows (100 characters or more) on a screen of its own."""
        view = self.view
        if view.kind != "text":
            return False
        if "multiline" in view.item.appearance.split():
            return True
        return not self.shared and (view.item.length_limit or 0) >= MULTILINE_FROM

    def _length_text(self, text: str, limit: int) -> str:
        return tr("text.length", self.language, limit=limit, count=len(text))

    def _compose_date_steppers(self) -> ComposeResult:
        """Year, month and day, each between big − and + buttons: no format to type."""
        yield Static(tr("date.pick", self.language), classes="date-pick-hint")
        with Horizontal(classes="date-steppers"):
            for part in ("year", "month", "day"):
                yield Button("－", name=f"{part}:-1", classes="step")
                yield Static("", classes=f"step-value step-{part}")
                yield Button("＋", name=f"{part}:1", classes="step plus")

    def on_mount(self) -> None:
        self.show_problems(self._problems)
        if is_likert(self.view):
            self._fit_likert(self.app.size.width)
        self._mark_choices()
        self._show_date_parts()

    def on_resize(self, event: events.Resize) -> None:
        if is_likert(self.view) and self._fit_likert(event.size.width):
            self._mark_choices()

    def _fit_likert(self, width: int) -> bool:
        """A row of the scale's buttons when they fit side by side, else a column."""
        stacked = width < LIKERT_MIN_WIDTH * max(len(self.view.choices), 1)
        changed = stacked != self._stacked
        self._stacked = stacked
        for row in self.query(".likert"):
            row.set_class(stacked, "stacked")
        return changed

    def _read_only_text(self) -> str:
        if self.register is not None and self._chosen():
            entity = self.register.entry(self._chosen()[0])
            return entity.label if entity is not None and entity.label else self._chosen()[0]
        if self.view.kind in SELECT_KINDS:
            chosen = self.view.value if isinstance(self.view.value, list) else [self.view.value]
            labels = [choice.label for choice in self.view.choices if choice.name in chosen]
            return "、".join(labels) or tr("unanswered", self.language)
        return value_text(self.view.value) or tr("unanswered", self.language)

    def _chosen(self) -> list[str]:
        value = self.view.value
        if value is None:
            return []
        return list(value) if isinstance(value, list) else [str(value)]

    def _choice_label(self, index: int, label: str, name: str) -> Content:
        chosen = name in self._chosen()
        if self.kind == "select_multiple":
            mark = "☑" if chosen else "☐"
        else:
            mark = "●" if chosen else "○"
        if is_likert(self.view) and not self._stacked:
            # One column of the scale: its number above, the label below.
            number = str(index + 1) if self.number_keys and index < 9 else ""
            return Content(f"{number}\n{mark} {label}")
        number = f"{index + 1}  " if self.number_keys and index < 9 else ""
        return Content(f"{number}{mark} {label}")

    def _acknowledge_label(self) -> Content:
        return Content(tr("acknowledged" if self.view.value else "acknowledge", self.language))

    @property
    def picker(self) -> RegisterPicker | None:
        if self.register is None or self.view.read_only:
            return None
        return next(iter(self.query(RegisterPicker).results(RegisterPicker)), None)

    def _mark_choices(self) -> None:
        chosen = self._chosen()
        if self.register is not None:
            picker = self.picker
            if picker is not None:
                picker.show_chosen(chosen[0] if chosen else None)
            return
        labels = {choice.name: choice.label for choice in self.view.choices}
        for index, button in enumerate(self.query("Button.choice").results(Button)):
            selected = button.name in chosen
            # Only what changed: a restyled button costs a CSS pass (the answer→next-screen
            # time is mostly this on a screen of choices).
            if button.has_class("-chosen") != selected:
                button.set_class(selected, "-chosen")  # green (app.tcss): one class, one pass
            label = self._choice_label(index, labels[button.name or ""], button.name or "")
            if button.label != label:
                button.label = label
        for button in self.query("Button.acknowledge").results(Button):
            button.label = self._acknowledge_label()
            button.variant = "success" if self.view.value else "primary"

    # ---- dates ---------------------------------------------------------------------------

    def _date_shown(self) -> dt.date:
        """The date in the box if it is one, else the answer, else today."""
        typed = self.typed_text()
        for text in (typed, value_text(self.view.value)):
            if text:
                day = parse_date(unicodedata.normalize("NFKC", text).strip())
                if day is not None:
                    return day
        return now_local().date()

    def _show_date_parts(self) -> None:
        if self.kind != "date" or self.view.read_only:
            return
        day = self._date_shown()
        texts = {"year": tr("date.year", self.language, value=day.year),
                 "month": month_name(day.month, self.language),
                 "day": tr("date.day", self.language, value=day.day)}
        for part, text in texts.items():
            for value in self.query(f".step-{part}").results(Static):
                value.update(text)

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self._refused:
            # Something was taken after a refusal: the refusal message has done its job.
            self._refused = False
            self.show_problems([])
        self._show_date_parts()
        for echo in self.query(".number-echo").results(Static):
            read = number_echo(event.value)
            echo.update(read)
            echo.set_class(bool(read), "shown")
        self._count_length(event.value)

    def _count_length(self, text: str) -> None:
        for shown in self.query(".length").results(Static):
            shown.update(self._length_text(text, self._box().limit))

    def _box(self) -> KioskInput | KioskTextArea:
        return self.query_one(".answer", (KioskInput, KioskTextArea))  # type: ignore[arg-type]

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        event.stop()
        if self._refused:
            self._refused = False
            self.show_problems([])
        self._count_length(event.text_area.text)

    def on_kiosk_text_area_submitted(self, event: KioskTextArea.Submitted) -> None:
        event.stop()
        self.post_message(self.Answered(self, event.value, submitted=True))

    def on_kiosk_text_area_left(self, event: KioskTextArea.Left) -> None:
        event.stop()
        self.post_message(self.Answered(self, event.value))

    def _set_date(self, day: dt.date) -> None:
        text = day.isoformat()
        self.query_one(KioskInput).value = text
        self._show_date_parts()
        self.post_message(self.Answered(self, text))

    # ---- showing the session's answer again ----------------------------------------------

    def show(self, view: QuestionView) -> None:
        """Show the session's current state of this question (same question, new value)."""
        before, self.view = self.view, view
        # Labels and hints may quote other answers; redrawn only when they did change.
        if (view.label, view.required) != (before.label, before.required):
            self.query_one(".label", Static).update(label_text(view, self.language))
        if view.hint != before.hint:
            for hint in self.query(".hint").results(Static):
                hint.update(Content(view.hint))
        self._mark_choices()

    def replace_view(self, view: QuestionView) -> None:
        """Become the block of another question of the same shape (kind, choices, hint):
        its label, hint and answer shown, nothing of the last question's left."""
        self._typed, self.last_sent, self.last_problems = None, None, []
        self.show(view)
        self.show_problems([])

    def show_problems(self, messages: list[str]) -> None:
        if not messages and not self._problems and self.is_mounted:
            return  # nothing shown, nothing to show: no redraw
        self._problems = messages
        line = self._problem_line
        line.update(Content("\n".join(f"⚠ {message}" for message in messages)))
        line.set_class(bool(messages), "shown")
        self.set_class(bool(messages), "has-problem")

    # ---- what the resident does ------------------------------------------------------------

    def typed_text(self) -> str | None:
        """The text in this question's input box (None for questions without one)."""
        if self.kind not in INPUT_KINDS or self.view.read_only:
            return None
        return self._box().value

    def first_control(self) -> Widget | None:
        """What Enter on the question before moves to: the box, the chosen choice (else the
        first), or the acknowledge button; None for notes and read-only answers."""
        if self.view.read_only or self.kind == "note":
            return None
        picker = self.picker
        if picker is not None:
            return picker.first_control()
        choices = list(self.query(ChoiceButton).results(ChoiceButton))
        if choices:
            chosen = self._chosen()
            return next((button for button in choices if button.name in chosen), choices[0])
        for found in self.query("KioskInput, KioskTextArea, Button.acknowledge"):
            return found
        return None

    def pick(self, number: int) -> bool:
        """Choose (or for multi-select toggle) choice ``number`` (1-based); the choice gets
        the focus, which scrolls it into view: a number key never picks an unseen choice."""
        if (not self.takes_keys or self.register is not None
                or not 1 <= number <= len(self.view.choices)):
            return False
        name = self.view.choices[number - 1].name
        for button in self.query(ChoiceButton).results(ChoiceButton):
            if button.name == name:
                button.focus()
        self.choose(name)
        return True

    def choose(self, name: str, *, submitted: bool = False) -> None:
        """Pick choice ``name`` (a tick box: tick or untick it); ``submitted`` when Enter
        picked it, which on a single choice also goes on."""
        if self.kind == "select_multiple":
            self.post_message(self.Answered(self, Toggle(name)))
        else:
            self.post_message(self.Answered(self, name, submitted=submitted))

    def on_register_picker_picked(self, event: RegisterPicker.Picked) -> None:
        event.stop()
        self.choose(event.entity_id, submitted=event.submitted)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        button = event.button
        event.stop()
        if button.has_class("choice") and button.name:
            self.choose(button.name)
        elif button.has_class("acknowledge"):
            self.post_message(self.Answered(self, True))
        elif button.has_class("today"):
            self._set_date(now_local().date())
        elif button.has_class("step") and button.name:
            part, step = button.name.split(":")
            self._set_date(shift_date(self._date_shown(), part, int(step)))

    def on_kiosk_input_refused(self, event: KioskInput.Refused) -> None:
        event.stop()
        self.show_problems([tr(f"refused.{event.reason}", self.language, limit=event.limit)])
        self._refused = True

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Answered(self, event.value, submitted=True))

    def on_input_blurred(self, event: Input.Blurred) -> None:
        event.stop()
        self.post_message(self.Answered(self, event.value))

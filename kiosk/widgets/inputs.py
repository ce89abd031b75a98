"""Input boxes that refuse what a resident cannot have meant, and say so.

A Textual ``Input`` silently drops what it refuses (and keeps only the first line of a paste).
At the kiosk a refused paste must be visible: control characters (line breaks, tabs, escape
sequences from a scanner), too much text. A number box takes letters too: 1万 is a number
(surveys/numbers.py), and what is none is refused with a message on 下一题.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from textual import events
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, TextArea
from textual.widgets.text_area import EditResult, Location

# Most a resident can type into one box: enough for any description, short enough to show.
LIMITS = {"text": 500, "integer": 10, "decimal": 20, "date": 20}
# Every box takes any character: a number box that dropped what is not a digit stored "1万"
# as 1. What a number box holds is read as people write it (surveys/numbers.py) and, when it
# is no number, refused with a message on 下一题.
INPUT_TYPES: dict[str, Literal["integer", "number", "text"]] = {
    "integer": "text", "decimal": "text", "text": "text", "date": "text"}
# Bidirectional overrides can make a text read differently from what is stored.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
# Chinese input methods type full-width digits and 。 for the decimal point.
NUMBER_TRANSLATION = str.maketrans({"。": ".", "．": "."})


def box_limit(kind: str, form_limit: int | None) -> int:
    """The most a box of ``kind`` takes: the form's limit, within the kiosk's own."""
    own = LIMITS.get(kind, LIMITS["text"])
    return own if form_limit is None else max(1, min(own, form_limit))


def has_control(text: str) -> bool:
    """Control characters (C0, DEL, C1: tabs, line breaks, escape) or bidi overrides."""
    return any(unicodedata.category(char) in ("Cc", "Cs") for char in text) or bool(
        BIDI_CONTROLS.search(text))


class KioskInput(Input):
    """An answer box for one question kind (``integer``, ``decimal``, ``text``, ``date``)."""

    class Refused(Message):
        """Something typed or pasted was not taken; ``reason`` is control or too_long."""

        def __init__(self, field: Widget, reason: str, limit: int) -> None:
            super().__init__()
            self.field = field
            self.reason = reason
            self.limit = limit

    def __init__(self, kind: str, value: str = "", *, placeholder: str = "",
                 classes: str | None = None, cursor_blink: bool = True,
                 limit: int | None = None) -> None:
        self.kind = kind
        # The form's own length limit where it states one: refused while typing at the
        # length 下一题 would refuse (one limit, not 500 here and 300 there).
        self.limit = box_limit(kind, limit)
        # Nothing selected when a resident comes back to an answer: selected, the first
        # character typed replaced the whole of it ("希望政府多办集体婚礼" became "，补贴新人").
        super().__init__(value=value[: self.limit], placeholder=placeholder,
                         type=INPUT_TYPES.get(kind, "text"), classes=classes,
                         select_on_focus=False)
        self.cursor_blink = cursor_blink

    def on_focus(self) -> None:
        # The cursor at the end of what is there: the resident goes on from where they were.
        self.cursor_position = len(self.value)

    def replace(self, text: str, start: int, end: int) -> None:
        if has_control(text):
            self._refuse("control")
            return
        if self.kind in ("integer", "decimal"):
            text = unicodedata.normalize("NFKC", text.translate(NUMBER_TRANSLATION))
        start, end = sorted((max(0, start), min(len(self.value), end)))
        if len(self.value) - (end - start) + len(text) > self.limit:
            self._refuse("too_long")
            return
        super().replace(text, start, end)

    def _refuse(self, reason: str) -> None:
        self.post_message(self.Refused(self, reason, self.limit))

    def _on_paste(self, event: events.Paste) -> None:
        # Take the whole paste or nothing (Textual would keep its first line silently).
        event.stop()
        event.prevent_default()
        if not event.text:
            return
        start, end = self.selection
        self.replace(event.text, start, end)


class KioskTextArea(TextArea):
    """A box for a long answer that shows everything typed, wrapped over several lines.

    It keeps the answer box's rules: what cannot be taken (control characters, more than the
    limit) is refused whole with a message, never cut. Enter does what it does in a one-line
    box (the next question, or 下一题), so no line break is typed into an answer.
    """

    class Submitted(Message):
        """Enter was pressed."""

        def __init__(self, field: KioskTextArea) -> None:
            super().__init__()
            self.field = field
            self.value = field.text

    class Left(Message):
        """The box lost the focus (its text is handed to the session, as a box's is)."""

        def __init__(self, field: KioskTextArea) -> None:
            super().__init__()
            self.field = field
            self.value = field.text

    def __init__(self, value: str = "", *, placeholder: str = "", classes: str | None = None,
                 cursor_blink: bool = True, limit: int | None = None) -> None:
        self.kind = "text"
        self.limit = box_limit("text", limit)
        super().__init__(value[: self.limit], soft_wrap=True, show_line_numbers=False,
                         tab_behavior="focus", placeholder=placeholder, classes=classes)
        self.cursor_blink = cursor_blink

    @property
    def value(self) -> str:
        return self.text

    @value.setter
    def value(self, text: str) -> None:
        self.text = text

    def on_focus(self) -> None:
        self.move_cursor(self.document.end)  # on from where the resident was, nothing selected

    def on_blur(self) -> None:
        self.post_message(self.Left(self))

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.post_message(self.Submitted(self))
            return
        await super()._on_key(event)

    def _replace_via_keyboard(self, insert: str, start: Location,
                              end: Location) -> EditResult | None:
        if has_control(insert):
            self._refuse("control")
            return None
        taken = len(self.get_text_range(*sorted((start, end))))
        if len(self.text) - taken + len(insert) > self.limit:
            self._refuse("too_long")
            return None
        return super()._replace_via_keyboard(insert, start, end)

    def _refuse(self, reason: str) -> None:
        self.post_message(KioskInput.Refused(self, reason, self.limit))

"""Picking a household from the register (``select_one_from_file households.csv``).

A search box (a name, part of an address, the last digits of a phone) and below it the
households it finds as big buttons: the entry's label, and a line of what helps tell two
households apart without showing what a resident standing by should not read (no pii
property; a phone only by its last four digits). An empty box lists the households changed
most recently, so a volunteer on a visit round picks without typing.

The search runs in the kiosk's database (``FormSession.search_register``), a moment after
the typing stops; the answer is the entry's id, handed to the session like any choice.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Button, Input, Static

from kiosk.i18n import tr
from kiosk.widgets.inputs import KioskInput
from surveys.entities import SEARCH_LIMIT, Entity
from surveys.form import Form

# A name, an address and a phone's digits fit; a paste of a page is refused whole.
SEARCH_BOX_LIMIT = 40
# Typing waits this long after the last key before the database is asked.
SEARCH_DELAY = 0.25
# One property's text on an entry's second line, at most.
DETAIL_LIMIT = 20
# A phone number: digits, maybe a leading + and spaces or dashes between (7 digits or more).
PHONE = re.compile(r"\+?\d[\d \-]{5,}\d")


@dataclass(frozen=True)
class Register:
    """What the picker reads: a search and one entry by id (the questionnaire's register),
    and which properties may be shown on an entry's second line."""

    search: Callable[[str, int], list[Entity]]
    entry: Callable[[str], Entity | None]
    shown: tuple[str, ...] = ()


def shown_properties(forms: Iterable[Form], dataset: str) -> tuple[str, ...]:
    """The properties of ``dataset`` worth a line under an entry's label: those saved from
    text questions not marked pii by any installed form (numbers and calculated states
    say little without their question)."""
    text: list[str] = []
    private: set[str] = set()
    for form in forms:
        if form.entity is None or form.entity.dataset != dataset:
            continue
        for prop, name in form.saved_to.items():
            item = form.by_name.get(name)
            if item is None:
                continue
            if item.pii:
                private.add(prop)
            elif item.kind == "text" and prop not in text:
                text.append(prop)
    return tuple(prop for prop in text if prop not in private)


def mask_phone(value: str) -> str:
    """A phone number by its last four digits only (the rest as *)."""
    digits = re.sub(r"\D", "", value)
    return "*" * max(len(digits) - 4, 0) + digits[-4:]


def entry_details(entity: Entity, shown: Iterable[str], language: str) -> str:
    """The line under an entry's label: what it does not say already (an address, a plan),
    a phone's last four digits, and the date of its last visit."""
    parts: list[str] = []
    phones: list[str] = []
    shown = tuple(shown)
    for prop, value in entity.properties.items():
        value = " ".join(value.split())
        if not value:
            continue
        if PHONE.fullmatch(value):
            phones.append(tr("register.phone", language, digits=mask_phone(value)))
        elif prop in shown and value not in entity.label:
            parts.append(value if len(value) <= DETAIL_LIMIT else f"{value[:DETAIL_LIMIT]}…")
    parts.extend(phones)
    if entity.updated:
        parts.append(tr("register.updated", language, date=entity.updated[:10]))
    return " · ".join(parts)


class EntryButton(Button):
    """One household found: a tap or Space picks it, Enter picks it and goes on (as a
    choice does)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("space", "pick", show=False)]

    def __init__(self, label: Content, entity_id: str) -> None:
        super().__init__(label, classes="choice entry")
        self.entity_id = entity_id  # changes when the button shows another household

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.entity_id

    def action_press(self) -> None:  # Enter
        self.post_message(RegisterPicker.Picked(self.entity_id, submitted=True))

    def action_pick(self) -> None:
        self.post_message(RegisterPicker.Picked(self.entity_id))


class RegisterPicker(Vertical):
    """The search box, a line saying what is listed, and the households found."""

    DEFAULT_CLASSES = "register-picker"

    class Picked(Message):
        """A household was picked (its entry id); ``submitted`` when Enter picked it."""

        def __init__(self, entity_id: str, submitted: bool = False) -> None:
            super().__init__()
            self.entity_id = entity_id
            self.submitted = submitted

    def __init__(self, register: Register, chosen: str | None, *, language: str = "zh",
                 cursor_blink: bool = True) -> None:
        super().__init__()
        self.register = register
        self.chosen = chosen
        self.language = language
        self.cursor_blink = cursor_blink
        self.results: list[Entity] = []
        self.more = False  # more were found than are listed
        self.empty = False  # the register holds no entry at all
        self.searched: str | None = None  # the text the list was found for
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static("", classes="register-chosen")
        yield KioskInput("text", "", placeholder=tr("register.placeholder", self.language),
                         classes="answer register-search", cursor_blink=self.cursor_blink,
                         limit=SEARCH_BOX_LIMIT)
        yield Static("", classes="register-status")
        yield Vertical(classes="choices register-results")

    async def on_mount(self) -> None:
        await self.search_now()

    @property
    def box(self) -> KioskInput:
        return self.query_one(".register-search", KioskInput)

    def first_control(self) -> Widget | None:
        """The search box (or, for an empty register, nothing to go to)."""
        return None if self.empty else self.box

    def entries(self) -> list[EntryButton]:
        """The households listed (spare buttons hidden are not)."""
        return [button for button in self.query(EntryButton).results(EntryButton)
                if button.display]

    # ---- searching -------------------------------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        # (the question block sees it too: a refusal's message goes once something is taken)
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(SEARCH_DELAY, self.search_now)

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the box: the search at once, and the focus to the first household."""
        event.stop()  # the text typed is a search, never the answer
        await self.search_now()
        entries = self.entries()
        if entries:
            entries[0].focus()

    def on_input_blurred(self, event: Input.Blurred) -> None:
        event.stop()  # (a box's text is handed to the session when it loses the focus)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if isinstance(event.button, EntryButton):
            self.post_message(self.Picked(event.button.entity_id))

    async def search_now(self) -> None:
        """List what the box's text finds (the most recently changed for an empty box)."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if not self.is_attached:
            return
        text = self.box.value
        if text == self.searched:
            return
        self.searched = text
        found = self.register.search(text, SEARCH_LIMIT + 1)
        self.more = len(found) > SEARCH_LIMIT
        found = found[:SEARCH_LIMIT]
        if not text.strip():
            self.empty = not found
            chosen = self.chosen_entry()
            if chosen is not None and all(e.entity_id != chosen.entity_id for e in found):
                found = [chosen, *found[: SEARCH_LIMIT - 1]]  # coming back: it stays in view
        before = [(e.entity_id, e.version) for e in self.results]
        self.results = found
        self._show_status(text)
        if before != [(e.entity_id, e.version) for e in found]:
            await self._show_results()
        self.show_chosen(self.chosen)

    def chosen_entry(self) -> Entity | None:
        return self.register.entry(self.chosen) if self.chosen else None

    def _show_status(self, text: str) -> None:
        status = self.query_one(".register-status", Static)
        self.box.display = not self.empty
        if self.empty:
            said = tr("register.empty", self.language)
        elif not self.results:
            said = tr("register.none_found", self.language)
        elif self.more:
            said = tr("register.more", self.language)
        elif text.strip():
            said = tr("register.found", self.language, count=len(self.results))
        else:
            said = tr("register.recent", self.language)
        status.update(Content(said))
        status.set_class(self.empty or not self.results or self.more, "register-warning")

    async def _show_results(self) -> None:
        """The buttons already there show the new households (a new button only for a
        longer list; the spare ones hidden): mounting 50 buttons for every search made
        each key wait a quarter of a second."""
        area = self.query_one(".register-results", Vertical)
        focused = self.app.focused
        buttons = list(area.query_children(EntryButton).results(EntryButton))
        new: list[EntryButton] = []
        lost_focus = False
        with self.app.batch_update():
            for index, entity in enumerate(self.results):
                label = self._entry_label(entity)
                if index < len(buttons):
                    button = buttons[index]
                    if button is focused and button.entity_id != entity.entity_id:
                        lost_focus = True  # another household under the focus
                    button.entity_id = entity.entity_id
                    if button.label != label:
                        button.label = label
                    button.display = True
                else:
                    new.append(EntryButton(label, entity.entity_id))
            for button in buttons[len(self.results):]:
                button.display = False
                lost_focus = lost_focus or button is focused
            if new:
                await area.mount_all(new)
        if lost_focus:  # the list changed under the focus: it goes back to the box
            self.box.focus()

    # ---- what is chosen --------------------------------------------------------------------

    def _entry_label(self, entity: Entity) -> Content:
        mark = "●" if entity.entity_id == self.chosen else "○"
        label = entity.label or entity.entity_id
        details = entry_details(entity, self.register.shown, self.language)
        return Content(f"{mark} {label}\n   {details}" if details else f"{mark} {label}")

    def show_chosen(self, chosen: str | None) -> None:
        """Mark the household the session holds (green, ●) and name it above the box."""
        self.chosen = chosen
        by_id = {entity.entity_id: entity for entity in self.results}
        for button in self.entries():
            selected = button.entity_id == chosen
            if button.has_class("-chosen") != selected:
                button.set_class(selected, "-chosen")
            entity = by_id.get(button.entity_id)
            if entity is not None:
                label = self._entry_label(entity)
                if button.label != label:
                    button.label = label
        line = self.query_one(".register-chosen", Static)
        entity = self.chosen_entry()
        text = tr("register.chosen", self.language,
                  label=entity.label or entity.entity_id) if entity is not None else ""
        line.update(Content(text))
        line.set_class(bool(text), "shown")

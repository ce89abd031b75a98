"""Staff: the PIN screen (on-screen keypad, 5 wrong PINs lock it for 5 minutes) and the
staff menu behind it (退出程序, 返回首页, counts of unfinished questionnaires and the list of
kept ones, the field-mode switch for taking the kiosk on household visits, and how the
nightly backup went)."""

from __future__ import annotations

import math
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Center, Grid, Vertical
from textual.widgets import Button, Static

from kiosk.nightly import status as nightly_status
from kiosk.pin import PinGate
from kiosk.screens.base import KioskScreen
from kiosk.screens.drafts import drafts_host
from store import KioskStore
from surveys.clock import from_epoch

MAX_PIN_DIGITS = 12


class PinScreen(KioskScreen):
    """A masked PIN display over a big digit keypad; keyboard digits work too."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(str(digit), f"digit({digit})", show=False) for digit in range(10)),
        Binding("backspace", "delete", show=False),
        Binding("enter", "confirm", show=False),
    ]

    def __init__(self, store: KioskStore, pin_hash: str) -> None:
        super().__init__()
        self.store = store
        self.pin_hash = pin_hash
        self.entered = ""
        self.gate: PinGate | None = None

    def compose_screen(self) -> ComposeResult:
        self.gate = PinGate(self.store, self.pin_hash, kiosk=self.kiosk.kiosk_id,
                            clock=self.kiosk.epoch)
        with Vertical(id="pin"):
            yield Static(self.t("pin.title"), classes="big")
            if not self.pin_hash:
                yield Static(self.t("pin.unset"), id="pin-status", classes="problem shown")
            else:
                yield Static(self.t("pin.prompt"), id="pin-status")
                with Center():
                    yield Static("", id="pin-display")
                with Center(), Grid(id="keypad"):
                    for digit in (1, 2, 3, 4, 5, 6, 7, 8, 9):
                        yield Button(str(digit), name=str(digit), classes="key")
                    yield Button(self.t("pin.delete"), id="pin-delete", classes="key")
                    yield Button("0", name="0", classes="key")
                    yield Button(self.t("pin.ok"), id="pin-ok", classes="key",
                                 variant="success")
            with Center():
                yield Button(self.t("pin.back"), id="pin-back")

    def on_mount(self) -> None:
        self.set_focus(None)
        self._show_lock()
        if self.pin_hash:
            self.set_interval(1.0, self._show_lock)

    # ---- state ---------------------------------------------------------------------------

    def locked_until(self) -> float | None:
        return self.gate.locked_until() if self.gate and self.pin_hash else None

    def _show_lock(self) -> bool:
        """Show the lockout (and refuse the keypad) while it lasts; True when locked."""
        until = self.locked_until()
        for key in self.query("#keypad Button").results(Button):
            key.disabled = until is not None
        if until is not None:
            self._status(self._locked_text(until), problem=True, locked=True)
        elif self.query("#pin-status.locked"):
            self._status(self.t("pin.prompt"))  # the lockout is over
        return until is not None

    def _locked_text(self, until: float) -> str:
        moment = from_epoch(until)
        minutes = max(1, math.ceil((until - self.kiosk.epoch()) / 60))
        return self.t("pin.locked", until=f"{moment:%H:%M}", minutes=minutes)

    def _status(self, text: str, problem: bool = False, locked: bool = False) -> None:
        status = self.query_one("#pin-status", Static)
        status.update(text)
        status.set_class(problem, "problem")
        status.set_class(problem, "shown")
        status.set_class(locked, "locked")

    def _show_entered(self) -> None:
        self.query_one("#pin-display", Static).update(" ".join("●" * len(self.entered)))

    # ---- keys ----------------------------------------------------------------------------

    def action_digit(self, digit: int) -> None:
        if not self.pin_hash or self._show_lock():
            return
        if len(self.entered) < MAX_PIN_DIGITS:
            self.entered += str(digit)
            self._show_entered()

    def action_delete(self) -> None:
        if self.pin_hash:
            self.entered = self.entered[:-1]
            self._show_entered()

    def action_confirm(self) -> None:
        if not self.pin_hash or self._show_lock() or not self.entered or self.gate is None:
            return
        result = self.gate.attempt(self.entered)
        self.entered = ""
        self._show_entered()
        if result.ok:
            self.kiosk.open_staff_menu()
        elif result.locked_until is not None:
            self._show_lock()
        else:
            self._status(self.t("pin.wrong", left=result.failures_left), problem=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        button = event.button
        if button.id == "pin-back":
            self.kiosk.go_home()
        elif button.id == "pin-delete":
            self.action_delete()
        elif button.id == "pin-ok":
            self.action_confirm()
        elif button.name and button.name.isdigit():
            self.action_digit(int(button.name))


class StaffMenuScreen(KioskScreen):
    """What staff can do at the kiosk: the dashboard, home, field mode, leaving the app."""

    def __init__(self, store: KioskStore) -> None:
        super().__init__()
        self.store = store

    def compose_screen(self) -> ComposeResult:
        counts = self.store.draft_counts()
        with Vertical(id="staff-menu"):
            yield Static(self.t("staff.title"), classes="big")
            yield Static(self.t("staff.drafts", abandoned=counts.get("abandoned", 0),
                                open=counts.get("open", 0)), classes="explain")
            with Center():
                yield Button(self.t("staff.kept_drafts", count=counts.get("open", 0)),
                             id="staff-drafts")
            with Center():
                yield Button(self.t("staff.dashboard"), id="staff-dashboard",
                             variant="success")
            with Center():
                yield Button(self.t("staff.home"), id="staff-home", variant="primary")
            field = self.kiosk.field_mode
            yield Static(self.t("staff.field_explain"), classes="explain")
            with Center():
                yield Button(self.t("staff.field_on" if field else "staff.field_off"),
                             id="staff-field", variant="warning" if field else "default")
            with Center():
                yield Button(self.t("staff.exit"), id="staff-exit", variant="error")
            # Last: a stick left out shows here without moving the buttons above.
            line, problem = nightly_status(self.store, self.kiosk.config.backup,
                                           self.kiosk.language)
            yield Static(line, id="staff-backup",
                         classes="explain problem shown" if problem else "explain")

    def on_mount(self) -> None:
        self.set_focus(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "staff-exit":
            self.kiosk.staff_exit()
        elif event.button.id == "staff-dashboard":
            self.kiosk.open_dashboard()
        elif event.button.id == "staff-drafts":
            drafts_host(self).open_kept_drafts()
        elif event.button.id == "staff-home":
            self.kiosk.go_home()
        elif event.button.id == "staff-field":
            self.kiosk.set_field_mode(not self.kiosk.field_mode)

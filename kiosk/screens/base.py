"""What every kiosk screen shares: access to the app and the double-tap guard."""

from __future__ import annotations

from time import monotonic
from typing import TYPE_CHECKING

from textual.screen import Screen

if TYPE_CHECKING:
    from kiosk.app import KioskApp


class KioskScreen(Screen[None]):
    """A screen that ignores taps arriving within ``tap_guard`` seconds of being shown.

    Elderly residents often tap twice; the second tap must not act on the next screen
    (skip a question, open a form, or hide a receipt code unseen).
    """

    def __init__(self, tap_guard: float = 0.0) -> None:
        super().__init__()
        self.tap_guard = tap_guard
        self._shown_at = monotonic()

    @property
    def kiosk(self) -> KioskApp:
        return self.app  # type: ignore[return-value]

    def mark_shown(self) -> None:
        """Restart the guard (the screen's content changed as if newly shown)."""
        self._shown_at = monotonic()

    def shown_for(self) -> float:
        return monotonic() - self._shown_at

    def guarded(self) -> bool:
        """True for a tap that arrives just after the screen changed (a double tap)."""
        return self.shown_for() < self.tap_guard

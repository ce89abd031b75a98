"""What every kiosk screen shares: the app, its language, the double-tap guard, the
"please enlarge the window" cover, and catching errors so the resident never sees one."""

from __future__ import annotations

from asyncio import CancelledError
from pathlib import Path
from time import monotonic
from typing import TYPE_CHECKING, ClassVar

from textual import events
from textual.app import ComposeResult
from textual.message import Message
from textual.reactive import Reactive
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static

from kiosk.i18n import tr

if TYPE_CHECKING:
    from kiosk.screens.host import KioskHost


class Recovering:
    """Mixin for screens and widgets: an exception in a handler goes to the app's recovery
    (save the draft, log, home screen) instead of ending the app with a traceback."""

    async def _dispatch_message(self, message: Message) -> None:
        try:
            await super()._dispatch_message(message)  # type: ignore[misc]
        except CancelledError:
            raise
        except Exception as error:
            app = self.app  # type: ignore[attr-defined]
            if not getattr(app, "recovers", False):
                raise
            app.recover(error, where=type(self).__name__)


SCREENS_CSS = str(Path(__file__).parents[1] / "screens.tcss")


class KioskScreen(Recovering, Screen[None]):
    """A screen that ignores taps arriving within ``tap_guard`` seconds of being shown.

    Elderly residents often tap twice; the second tap must not act on the next screen
    (skip a question, open a form, or hide a receipt code unseen). ``IDLE_WATCH`` screens
    get the "还在吗？" countdown when nobody touches the kiosk for a while.
    """

    IDLE_WATCH: ClassVar[bool] = True
    # Textual repaints the whole screen when focus moves; the widgets that gain or lose it
    # are restyled (and repainted) anyway, so a number key that picks and focuses a choice
    # redrew every line for nothing (issue 14, item 13).
    focused: Reactive[Widget | None] = Reactive(None, repaint=False)
    # The rules of every screen but home, read when the first of them opens: at a cold
    # start home is drawn with its own rules alone (kiosk/app.tcss), a third of them.
    CSS_PATH = SCREENS_CSS

    def __init__(self, tap_guard: float = 0.0) -> None:
        super().__init__()
        self.tap_guard = tap_guard
        self._shown_at = monotonic()

    @property
    def kiosk(self) -> KioskHost:
        """The app, as far as screens use it (kiosk/screens/host.py)."""
        return self.app  # type: ignore[return-value]

    @property
    def language(self) -> str:
        """The language of this screen's kiosk texts (``zh`` or ``en``)."""
        return self.kiosk.language

    def t(self, key: str, **values: object) -> str:
        return tr(key, self.language, **values)

    def compose(self) -> ComposeResult:
        yield from self.compose_screen()
        # Last, so it covers everything when the terminal is too small.
        yield Static(self.t("too_small"), id="too-small")

    def compose_screen(self) -> ComposeResult:
        """The screen's own widgets."""
        yield from ()

    def on_mount(self) -> None:
        self.set_class(self.kiosk.large_text, "large-text")
        self.fit_terminal()

    def on_screen_resume(self) -> None:
        self.set_class(self.kiosk.large_text, "large-text")
        self.fit_terminal()

    def on_resize(self, event: events.Resize) -> None:
        self.fit_terminal()

    def fit_terminal(self) -> None:
        """Below the minimum size only "请放大窗口" shows; the screen comes back as it was."""
        self.set_class(self.kiosk.too_small, "too-small")

    def _forward_event(self, event: events.Event) -> None:
        if isinstance(event, events.MouseDown | events.MouseScrollDown | events.MouseScrollUp):
            self.kiosk.note_input()
        if isinstance(event, events.MouseEvent) and self.kiosk.too_small:
            return  # nothing the resident can see may be tapped
        super()._forward_event(event)

    def mark_shown(self) -> None:
        """Restart the guard (the screen's content changed as if newly shown)."""
        self._shown_at = monotonic()

    def shown_for(self) -> float:
        return monotonic() - self._shown_at

    def guarded(self) -> bool:
        """True for a tap that arrives just after the screen changed (a double tap)."""
        return self.shown_for() < self.tap_guard

    def save_work(self) -> None:
        """Hand over what the resident typed but did not confirm (before an idle reset)."""

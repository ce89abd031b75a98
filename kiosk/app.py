"""The kiosk's Textual app: home → questions → 提交 → receipt code → home.

Residents cannot leave the app: there is no command palette and no quit key. Developers
start it with the environment variable ``KIOSK_DEV=1`` to make ``ctrl+q`` quit (staff will
leave through a PIN screen in a later version).
"""

from __future__ import annotations

import os
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType

from kiosk.config import KioskConfig
from kiosk.screens.form import FinishScreen, FormScreen
from kiosk.screens.home import HomeScreen
from kiosk.screens.thanks import ThanksScreen
from store import KioskStore
from surveys.session import FormIncomplete, FormSession, Problem


def developer_mode() -> bool:
    """``KIOSK_DEV=1`` (or true/yes) in the environment."""
    return os.environ.get("KIOSK_DEV", "").strip().lower() in ("1", "true", "yes")


class KioskApp(App[None], inherit_bindings=False):
    """The resident-facing kiosk screens.

    ``home_after`` is how long the thank-you screen stays before home comes back;
    ``tap_guard`` is how long after a screen change a tap on its navigation buttons is
    ignored (a double tap on 下一题 would otherwise skip a question; the receipt screen
    ignores taps for twice as long). Developers quit with ``ctrl+q`` when ``KIOSK_DEV=1``
    is set (or ``developer=True`` is passed); otherwise no key leaves the app.
    """

    CSS_PATH = "app.tcss"
    TITLE = "社工站问卷"
    ENABLE_COMMAND_PALETTE = False
    AUTO_FOCUS = "Input"
    # inherit_bindings=False drops Textual's ctrl+q / ctrl+c quit bindings.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "developer_quit", show=False, priority=True, system=True)]

    def __init__(self, store: KioskStore, kiosk_id: str | None = None, *,
                 config: KioskConfig | None = None, language: str | None = None,
                 home_after: float = 15.0, tap_guard: float = 0.5,
                 developer: bool | None = None) -> None:
        super().__init__()
        self.store = store
        self.config = config or KioskConfig(kiosk_id=kiosk_id or "kiosk")
        self.kiosk_id = kiosk_id or self.config.kiosk_id
        self.language = language or self.config.language
        self.home_after = home_after
        self.tap_guard = tap_guard
        self.developer = developer_mode() if developer is None else developer

    def on_mount(self) -> None:
        self.push_screen(self._home())

    def _home(self) -> HomeScreen:
        return HomeScreen(self.store.list_forms(), self.language, tap_guard=self.tap_guard)

    # ---- moving between screens (each move builds a new screen: nothing stays behind) ---

    def start_form(self, survey_id: str) -> None:
        """A resident chose a questionnaire: start a new session on its first screen."""
        session = FormSession(self.store.load_form(survey_id), self.language,
                              kiosk=self.kiosk_id)
        self.show_session(session)

    def show_session(self, session: FormSession, problems: list[Problem] | None = None) -> None:
        """The session's current screen, or the 提交 step after the last one (forms with
        ``review`` in their settings; the others are stored on 完成)."""
        if session.at_end:
            self.switch_screen(FinishScreen(session, self.store, tap_guard=self.tap_guard))
        else:
            self.switch_screen(FormScreen(session, self.store, problems=problems or (),
                                          tap_guard=self.tap_guard))

    def submit(self, session: FormSession) -> None:
        """Finish and store the questionnaire, then show the receipt code."""
        try:
            submission = session.finish()
        except FormIncomplete as incomplete:
            # The session moved to the first screen with a problem; show it there.
            self.show_session(session, incomplete.problems)
            return
        code = self.store.save_submission(submission)
        self.switch_screen(ThanksScreen(code, self.home_after, tap_guard=2 * self.tap_guard))

    def leave_form(self, session: FormSession) -> None:
        """The resident left from the first screen (e.g. chose the wrong questionnaire)."""
        self.store.abandon_draft(session.instance_id)
        self.go_home()

    def go_home(self) -> None:
        self.switch_screen(self._home())

    def action_developer_quit(self) -> None:
        if self.developer:
            self.exit()

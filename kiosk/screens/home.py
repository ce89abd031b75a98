"""Home: station name, date and time, one big button per questionnaire, the 中文 / English
toggle, large text, the volunteers' button (志愿者签到 at the hall, 志愿者登录 in field mode)
and a small 工作人员 button for staff. In field mode with a volunteer signed in, a line
says who (志愿者：王芳（编号 JG0042）) beside 退出登录, and above the questionnaires that
volunteer's own unfinished visits wait, one button each, to be continued."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Button, Static

from kiosk.i18n import clock_text
from kiosk.screens.base import KioskScreen
from kiosk.screens.drafts import drafts_host, household_of, saved_when, title_of
from kiosk.widgets.more_below import MoreBelow
from store import FormInfo

# Lines of a questionnaire button in large text: at least, at most.
LARGE_FORM_BUTTON = (3, 7)


class HomeScreen(KioskScreen):
    """Lists the questionnaires; number keys 1–9 open one as well as a tap does."""

    IDLE_WATCH = False  # nothing of a resident is on it
    CSS_PATH = None  # home's rules are the app's own (kiosk/app.tcss): the first frame waits
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(str(number), f"open({number})", show=False) for number in range(1, 10)]

    def __init__(self, forms: list[FormInfo], tap_guard: float = 0.0,
                 notice: str = "") -> None:
        super().__init__(tap_guard)
        self.forms = forms
        self.notice = notice  # a string key, e.g. after an error was recovered from
        self._volunteer: object = None  # the field-mode volunteer shown (None: nobody)

    def compose_screen(self) -> ComposeResult:
        kiosk = self.kiosk
        with Vertical(id="home-top"):
            yield Static(Content(kiosk.config.station_name), id="home-title")
            yield Static(self._clock(), id="clock")
            volunteer = kiosk.field_volunteer if kiosk.field_mode else None
            self._volunteer = volunteer
            if volunteer is not None:
                with Horizontal(id="volunteer-bar"):
                    yield Static(Content(self.t("home.volunteer_signed_in", name=volunteer.name,
                                                number=volunteer.number)),
                                 id="volunteer-who")
                    yield Button(self.t("home.volunteer_sign_out"), id="volunteer-sign-out",
                                 compact=True, variant="warning")
            if self.notice:
                yield Static(self.t(self.notice), id="home-notice")
            yield Static(self.t("home.hint"), id="home-hint")
        with VerticalScroll(id="forms"):
            yield from self.compose_drafts(volunteer)
            for number, info in enumerate(self.forms, start=1):
                prefix = f"{number}  " if number <= 9 else ""
                count = self.t("home.questions", count=info.question_count)
                space = "　" if self.language == "zh" else "  "  # full-width in Chinese
                label = f"{prefix}{info.title_in(self.language)}{space}{count}"
                yield Button(Content(label), name=info.survey_id, classes="form-button")
            if not self.forms:
                yield Static(self.t("home.no_forms"), id="no-forms")
        yield MoreBelow("forms", ".form-button", self.language, id="more-below")
        with Vertical(id="home-bottom"):
            yield Static(self.t("home.footer"), id="home-footer")
            with Horizontal(id="home-bar"):
                yield Button("中文", id="lang-zh",
                             variant="primary" if self.language == "zh" else "default")
                yield Button("English", id="lang-en",
                             variant="primary" if self.language == "en" else "default")
                yield Button(self.t("home.large_on" if kiosk.large_text else "home.large_off"),
                             id="large-text",
                             variant="primary" if kiosk.large_text else "default")
                yield Static("", id="home-bar-space")
                if not kiosk.volunteers_enabled:
                    pass  # no cards issued here: nothing to offer volunteers
                elif not kiosk.field_mode:
                    yield Button(self.t("home.volunteer"), id="volunteer")
                elif volunteer is None:
                    yield Button(self.t("home.volunteer_sign_in"), id="volunteer-sign-in")
                yield Button(self.t("home.staff"), id="staff", compact=True)

    def compose_drafts(self, volunteer: object) -> ComposeResult:
        """The signed-in volunteer's unfinished visits (names and addresses are theirs to
        see: never shown when nobody is signed in, nor at the hall)."""
        drafts = drafts_host(self).volunteer_drafts() if volunteer is not None else []
        if not drafts:
            return
        yield Static(self.t("home.drafts", count=len(drafts)), id="home-drafts")
        for draft in drafts:
            first = self.t("home.draft_title", title=title_of(draft, self.language),
                           answered=draft.answered)
            second = self.t("home.draft_saved", when=saved_when(draft, self.language,
                                                                   self.kiosk.clock()))
            separator = self.t("drafts.sep")
            household = household_of(draft, separator)
            if household:
                second = f"{household}{separator}{second}"
            yield Button(Content(f"{first}\n{second}"), name=draft.instance_id,
                         classes="draft-button", variant="warning")

    def on_mount(self) -> None:
        self.set_focus(None)
        self.set_interval(1.0, self._tick)
        self.call_after_refresh(self._fit_forms)

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit_forms)

    def _fit_forms(self) -> None:
        """Large text: the questionnaire buttons as tall as the room allows (3 to 7 lines),
        so that the fourth questionnaire is not below the edge on a small screen."""
        buttons = list(self.query(".form-button").results(Button))
        if not self.kiosk.large_text or not buttons or not self.is_mounted:
            return
        room = self.query_one("#forms").scrollable_content_region.height
        for widget in self.query("#home-drafts, .draft-button"):  # the volunteer's visits
            margin = widget.styles.margin
            room -= widget.outer_size.height + margin.top + margin.bottom
        each = (room - (len(buttons) - 1)) // len(buttons)  # a line between two buttons
        height = max(LARGE_FORM_BUTTON[0], min(LARGE_FORM_BUTTON[1], each))
        for button in buttons:
            if button.styles.height is None or button.styles.height.value != height:
                button.styles.height = height

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        kiosk = self.kiosk
        if (kiosk.field_volunteer if kiosk.field_mode else None) is not self._volunteer:
            self.refresh(recompose=True)  # a volunteer signed in or out over this screen
            self.call_after_refresh(self._fit_forms)  # (their visits take room too)

    def _clock(self) -> str:
        return clock_text(self.kiosk.clock(), self.language)

    def _tick(self) -> None:
        self.query_one("#clock", Static).update(self._clock())

    def on_button_pressed(self, event: Button.Pressed) -> None:
        button = event.button
        if self.guarded():
            # The tap that closed the previous resident's receipt must not open anything.
            return
        if button.has_class("draft-button") and button.name:
            drafts_host(self).resume_draft(button.name)
        elif button.name:
            self.kiosk.start_form(button.name)
        elif button.id in ("lang-zh", "lang-en"):
            self.kiosk.set_language(button.id.removeprefix("lang-"))
        elif button.id == "large-text":
            self.kiosk.toggle_large_text()
        elif button.id == "staff":
            self.kiosk.open_staff()
        elif button.id == "volunteer":
            self.kiosk.open_volunteer_help()
        elif button.id == "volunteer-sign-in":
            self.kiosk.open_volunteer_sign_in()
        elif button.id == "volunteer-sign-out":
            self.kiosk.sign_out_volunteer()
            self.refresh(recompose=True)

    def action_open(self, number: int) -> None:
        if 1 <= number <= len(self.forms) and not self.guarded():
            self.kiosk.start_form(self.forms[number - 1].survey_id)


class OutOfOrderScreen(KioskScreen):
    """Shown when errors keep coming: no forms, only the way for staff to get in."""

    IDLE_WATCH = False

    def compose_screen(self) -> ComposeResult:
        with Vertical(id="out-of-order"):
            yield Static(self.t("out_of_order"), classes="big")
        with Horizontal(id="home-bar"):
            yield Static("", id="home-bar-space")
            yield Button(self.t("home.staff"), id="staff", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "staff":
            self.kiosk.open_staff()

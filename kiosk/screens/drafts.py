"""Kept drafts: questionnaires left unfinished (a visit interrupted by the idle countdown, an
error) and continued later. A signed-in volunteer finds their own on home (with the
household's name and address, shown to nobody else); staff, behind the PIN, see every one
here (form, volunteer number or 大厅, when last saved, how many answered — no names) and
continue one or discard it with a reason written into the audit record."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Protocol, cast

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Button, Input, Static

from kiosk.i18n import tr, when_text
from kiosk.screens.base import KioskScreen
from kiosk.screens.host import KioskHost
from store import KioskStore
from surveys.clock import local

if TYPE_CHECKING:
    from store.sqlite.submissions import KeptDraft

# The answers that tell a volunteer which household a visit was (home adaptation, requests).
HOUSEHOLD_NAME = ("resident_name", "contact_name")
HOUSEHOLD_ADDRESS = ("address", "contact_address")


class DraftsHost(KioskHost, Protocol):
    """What the screens of kept drafts ask of the app, beyond ``KioskHost``."""

    def volunteer_drafts(self) -> list[KeptDraft]: ...
    def resume_draft(self, instance_id: str) -> None: ...
    def open_kept_drafts(self) -> None: ...


def drafts_host(screen: KioskScreen) -> DraftsHost:
    return cast(DraftsHost, screen.kiosk)


def saved_when(draft: KeptDraft, language: str, today: dt.datetime) -> str:
    """When the draft was last saved, on the station's clock: 11月23日 14:05 this year
    (23 Nov 14:05), with the year before that."""
    try:
        moment = local(dt.datetime.fromisoformat(draft.updated))
    except ValueError:
        return draft.updated
    if moment.year != today.year:
        return when_text(moment, language)
    return tr("drafts.when", language, month=moment.month, day=moment.day,
              short=tr("month.short", "en").split()[moment.month - 1],
              time=f"{moment:%H:%M}")


def household_of(draft: KeptDraft, separator: str = "　") -> str:
    """The household's name and address as answered ('' when not yet): only for the
    volunteer whose visit it is."""
    found = []
    for names in (HOUSEHOLD_NAME, HOUSEHOLD_ADDRESS):
        value = next((draft.answers[name] for name in names if draft.answers.get(name)), None)
        if value is not None:
            found.append(str(value))
    return separator.join(found)


def title_of(draft: KeptDraft, language: str) -> str:
    return draft.form.title_in(language)


class KeptDraftsScreen(KioskScreen):
    """Every kept draft for staff: 继续填写, or 作废 with a reason (and the staff name)."""

    def __init__(self, store: KioskStore, tap_guard: float = 0.0) -> None:
        super().__init__(tap_guard)
        self.store = store
        self.drafts = {draft.instance_id: draft for draft in store.kept_drafts()}
        self.picked: str | None = None  # the draft 作废 was tapped on

    def row_text(self, draft: KeptDraft, lines: str | None = None) -> str:
        """Form and whose, then how far and when (on two lines in the list)."""
        who = (self.t("drafts.volunteer", number=draft.enumerator) if draft.enumerator
               else self.t("drafts.hall"))
        detail = self.t("drafts.row_detail", answered=draft.answered,
                        when=saved_when(draft, self.language, self.kiosk.clock()))
        return f"{self.t('drafts.row', title=title_of(draft, self.language), who=who)}" \
               f"{self.t('drafts.sep') if lines is None else lines}{detail}"

    def compose_screen(self) -> ComposeResult:
        with Vertical(id="kept-drafts"):
            with Horizontal(id="drafts-bar"):
                yield Static(self.t("drafts.title"), id="drafts-title", classes="big")
                yield Input(placeholder=self.t("dash.staff_name"), id="drafts-staff-name",
                            max_length=20)
                yield Button(self.t("dash.back"), id="drafts-back")
            yield Static(self.t("drafts.explain"), classes="explain")
            yield Static("", id="drafts-status")
            with Vertical(id="discard-panel"):
                yield Static("", id="discard-what")
                with Horizontal(id="discard-row"):
                    yield Input(placeholder=self.t("drafts.reason"), id="discard-reason",
                                max_length=100)
                    yield Button(self.t("drafts.confirm"), id="discard-confirm",
                                 variant="error")
                    yield Button(self.t("drafts.cancel"), id="discard-cancel")
            with VerticalScroll(id="drafts-list"):
                for draft in self.drafts.values():
                    with Horizontal(classes="draft-row"):
                        yield Static(Content(self.row_text(draft, "\n")),
                                     classes="draft-text")
                        yield Button(self.t("drafts.resume"), name=draft.instance_id,
                                     classes="resume-draft", variant="primary")
                        yield Button(self.t("drafts.discard"), name=draft.instance_id,
                                     classes="discard-draft", variant="error")
                yield Static(self.t("drafts.none"), id="drafts-none")
        self.call_after_refresh(self._show_none)

    def on_mount(self) -> None:
        super().on_mount()
        self.set_focus(None)

    def _show_none(self) -> None:
        self.query_one("#drafts-none").display = not self.drafts

    def status(self, text: str, problem: bool = False) -> None:
        status = self.query_one("#drafts-status", Static)
        status.update(Content(text))
        status.set_class(problem, "drafts-problem")

    def staff_name(self) -> str:
        return self.query_one("#drafts-staff-name", Input).value.strip()

    # ---- resuming ------------------------------------------------------------------------

    def resume(self, instance_id: str) -> None:
        draft = self.drafts.get(instance_id)
        if draft is None or self.store.draft_snapshot(instance_id) is None:
            self.status(self.t("drafts.gone"), problem=True)
            return
        self.store.add_audit("draft_resume", instance_id,
                             f"form {draft.form.survey_id};"
                             f" by {draft.enumerator or 'hall'}; {draft.answered} answered",
                             staff=self.staff_name() or "PIN", kiosk=self.kiosk.kiosk_id,
                             at=self.kiosk.epoch())
        drafts_host(self).resume_draft(instance_id)

    # ---- discarding ----------------------------------------------------------------------

    def pick(self, instance_id: str | None) -> None:
        """Open (or close) the reason box for one draft."""
        self.picked = instance_id
        self.set_class(instance_id is not None, "discarding")
        draft = self.drafts.get(instance_id) if instance_id else None
        self.query_one("#discard-what", Static).update(
            Content(self.t("drafts.discard_what", row=self.row_text(draft))) if draft else "")
        reason = self.query_one("#discard-reason", Input)
        reason.value = ""
        if draft is not None:
            reason.focus()
        else:
            self.set_focus(None)

    def confirm_discard(self) -> None:
        draft = self.drafts.get(self.picked or "")
        if draft is None:
            return
        if not self.staff_name():
            self.status(self.t("drafts.need_name"), problem=True)
            self.query_one("#drafts-staff-name", Input).focus()
            return
        reason = self.query_one("#discard-reason", Input).value.strip()
        if not reason:
            self.status(self.t("drafts.need_reason"), problem=True)
            self.query_one("#discard-reason", Input).focus()
            return
        try:
            self.store.discard_draft(draft.instance_id, reason, staff=self.staff_name(),
                                     kiosk=self.kiosk.kiosk_id, at=self.kiosk.epoch())
        except KeyError:
            self.status(self.t("drafts.gone"), problem=True)
        else:
            self.status(self.t("drafts.discarded", row=self.row_text(draft)))
        self._drop(draft.instance_id)

    def _drop(self, instance_id: str) -> None:
        """The draft is gone from the list (discarded here, or finished elsewhere)."""
        self.drafts.pop(instance_id, None)
        for button in self.query(".discard-draft").results(Button):
            if button.name == instance_id and button.parent is not None:
                button.parent.remove()
        self.pick(None)
        self._show_none()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "discard-reason":
            self.confirm_discard()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        button = event.button
        if self.guarded():
            return
        if button.id == "drafts-back":
            self.kiosk.open_staff_menu()
        elif button.id == "discard-confirm":
            self.confirm_discard()
        elif button.id == "discard-cancel":
            self.pick(None)
        elif button.has_class("resume-draft") and button.name:
            self.resume(button.name)
        elif button.has_class("discard-draft") and button.name:
            self.pick(button.name)

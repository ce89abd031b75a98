"""The question screens and the review (submit) screen of one resident's questionnaire.

Both only render a ``FormSession`` and forward what the resident does to it: the session
decides what is relevant, what is valid and where 上一题/下一题 lead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Button, Input, ProgressBar, Static

from kiosk.i18n import code_of, tr
from kiosk.screens.base import KioskScreen
from kiosk.screens.repeats import END, AddPoint, Key, RepeatLayout, instance_place
from kiosk.widgets.inputs import KioskTextArea
from kiosk.widgets.more_below import MoreBelow
from kiosk.widgets.question import (
    INPUT_KINDS,
    SELECT_KINDS,
    QuestionBlock,
    Toggle,
    block_of,
    value_text,
)
from kiosk.widgets.register_picker import Register, shown_properties
from store import KioskStore
from surveys.entities import Entity
from surveys.session import FormSession, Problem, QuestionView, RepeatSession, ScreenView

PROGRESS_STEPS = 1000  # the bar shows a share, not a count


def layout_of(view: ScreenView) -> tuple[Any, ...]:
    """What makes a screen need rebuilding rather than updating in place."""
    questions = [
        (question.name, question.kind, question.read_only, bool(question.hint),
         tuple((choice.name, choice.label) for choice in question.choices))
        for question in view.questions
    ]
    return (view.title, view.instance, *questions)


def shape_of(view: ScreenView) -> tuple[Any, ...] | None:
    """What widgets a screen of only choice questions needs (None for any other screen):
    two screens of one shape can be shown by the same widgets."""
    shape = []
    for question in view.questions:
        if (question.kind not in SELECT_KINDS or question.read_only
                or question.item.entity_list is not None):  # (a search box: typed text)
            return None
        shape.append((question.kind, question.item.appearance, bool(question.hint),
                      tuple((choice.name, choice.label) for choice in question.choices)))
    return tuple(shape)


def messages_by_question(problems: Iterable[Problem]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for problem in problems:
        found.setdefault(problem.question, []).append(problem.message)
    return found


@dataclass
class RepeatPrompt:
    """What a screen between questions asks: 再添加一位？ at each point passed (``points``,
    the first is asked), or 删除这一位？ for the instance ``place`` of ``repeat``."""

    kind: str  # "add" or "remove"
    points: list[AddPoint] = field(default_factory=list)
    repeat: str = ""
    instance: tuple[int, ...] = ()


class SessionScreen(KioskScreen):
    """Shared parts: the form title, the progress bar and guarded navigation buttons."""

    def __init__(self, session: FormSession, store: KioskStore, tap_guard: float = 0.0) -> None:
        super().__init__(tap_guard)
        self.session = session
        self.store = store

    @property
    def language(self) -> str:
        # A form without English runs in Chinese, and so do the buttons around it.
        return code_of(self.session.language)

    def compose_top(self) -> ComposeResult:
        with Vertical(id="top"):
            yield Static(Content(self.session.form.title_in(self.session.language)),
                         id="form-title")
            with Horizontal(id="progress-row"):
                yield ProgressBar(show_eta=False, show_percentage=False, id="progress")
                yield Static("", id="progress-text")

    def next_label(self) -> str:
        return self.t("nav.finish" if self.session.is_last else "nav.next")

    def action_move(self, step: int) -> None:
        """An arrow key: the focus to the next (or previous) control, scrolled into view."""
        if step > 0:
            self.focus_next()
        else:
            self.focus_previous()

    # The bar's share last shown: an answer that opens a branch adds to the total, and the
    # bar must not slide back for it while the resident goes forward (上一题 may).
    shown_share = 0.0
    _progress_shown: tuple[int, int, int] | None = None

    def update_progress(self) -> None:
        answered, relevant = self.session.progress()
        share = max(self.shown_share, answered / max(relevant, 1))
        self.shown_share = share
        shown = (round(share * PROGRESS_STEPS), answered, relevant)
        if shown == self._progress_shown:
            return  # as on screen already (it is asked after every answer and every move)
        self._progress_shown = shown
        self.query_one("#progress", ProgressBar).update(total=PROGRESS_STEPS,
                                                        progress=shown[0])
        text = self.t("progress", answered=answered, total=relevant)
        progress_text = self.query_one("#progress-text", Static)
        # A layout only when the text's width changes (9 → 10 answered): otherwise Textual
        # would lay the whole screen out again and redraw it all after every answer.
        progress_text.update(text, layout=cell_len(text) != progress_text.content_size.width)


class FormScreen(SessionScreen):
    """The current screen of the session: one question, or a field-list group of them."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(str(number), f"pick({number})", show=False) for number in range(1, 10)),
        # 朗读: F1 anywhere, 0 when no box takes the digit.
        Binding("f1", "read_aloud", show=False),
        Binding("0", "read_aloud", show=False),
        # A keyboard or keypad alone walks every form: arrows go from control to control
        # (a box keeps left and right for its cursor), Enter is 下一题 where nothing focused
        # takes it (a box: next box; a choice: pick it and go on; a button: press it).
        Binding("enter", "enter", show=False),
        Binding("down,right", "move(1)", show=False),
        Binding("up,left", "move(-1)", show=False),
    ]

    def __init__(self, session: FormSession, store: KioskStore, *,
                 problems: Iterable[Problem] = (), tap_guard: float = 0.0,
                 returning: bool = False) -> None:
        super().__init__(session, store, tap_guard)
        # Opened from the review step with 修改: 下一题 becomes 回到核对.
        self.returning = returning
        self._problems = messages_by_question(problems)
        self._typed: dict[str, str] = {}
        self._layout: tuple[Any, ...] = ()
        self._shape: tuple[Any, ...] | None = None
        # What the screen shows besides the questions (kept, not queried: a query walks the
        # screen's widgets, and the in-place path asks on every 下一题).
        self._title_line: Static | None = None
        self._remove_shown = False
        self._focus_name: str | None = None
        self._leave_warned = False
        # Only a form with repeats pays for them (the answer → next path stays as it was).
        self.repeats = (RepeatLayout(session.form) if isinstance(session, RepeatSession)
                        else None)
        self.prompt: RepeatPrompt | None = None
        self._shown_properties: dict[str, tuple[str, ...]] = {}  # per register
        if self.repeats is not None and not returning and not self._problems:
            self.prompt = self._opening_prompt()

    # ---- building -----------------------------------------------------------------------

    def next_label(self) -> str:
        if self.returning:
            return self.t("nav.to_review")
        return super().next_label()

    def compose_screen(self) -> ComposeResult:
        yield from self.compose_top()
        # Not a focus stop: the arrows move between the controls, which scroll into view.
        with VerticalScroll(id="body", can_focus=False):
            yield from self.body_widgets()
        yield MoreBelow("body", ".choice, .answer, .acknowledge", self.language,
                        id="more-below")
        with Horizontal(id="nav"):
            yield from self.nav_buttons()

    def nav_buttons(self) -> list[Button]:
        # New buttons for every screen: Textual ignores a second press on the same button
        # within 0.2 s, which would swallow a quick 下一题 on the next screen.
        if self.prompt is not None:
            return self.prompt_buttons(self.prompt)
        buttons = [Button(self.t("nav.home" if self.session.is_first else "nav.back"),
                          id="back")]
        self._remove_shown = self.repeats is not None and self.removable() is not None
        if self._remove_shown:
            buttons.append(Button(self.t("repeat.remove"), id="remove-instance",
                                  variant="error"))
        if self.kiosk.can_read_aloud(self.language):
            buttons.append(Button(self.t("read_aloud"), id="read-aloud"))
        buttons.append(Button(self.next_label(), id="next", variant="primary"))
        return buttons

    def body_widgets(self) -> list[Widget]:
        """The questions of the session's current screen (what changes from screen to screen)."""
        if self.prompt is not None:
            return self.prompt_widgets(self.prompt)
        view = self.session.screen
        assert view is not None, "FormScreen shown after the last screen"
        self._layout = layout_of(view)
        self._shape = shape_of(view)
        # A household picked from the register is found by typing: its search box takes the
        # digits (the last four of a phone), so no number keys on its screen.
        selects = [q for q in view.questions if q.kind in SELECT_KINDS and not q.read_only
                   and q.item.entity_list is None]
        typing = [q for q in view.questions if not q.read_only and (
            q.kind in INPUT_KINDS or q.item.entity_list is not None)]
        number_keys = len(selects) == 1 and not typing
        names = {question.name for question in view.questions}
        widgets: list[Widget] = []
        title = self.instance_title(view) if view.instance else view.title
        self._title_line = Static(Content(title), id="screen-title") if title else None
        if self._title_line is not None:
            widgets.append(self._title_line)
        for question in view.questions:
            widgets.append(QuestionBlock(question, language=self.language,
                                         number_keys=number_keys and question in selects,
                                         shared=len(view.questions) > 1,
                                         typed=self._typed.get(question.name),
                                         problems=self._problems.get(question.name),
                                         cursor_blink=self.kiosk.cursor_blink,
                                         large=self.kiosk.large_text,
                                         register=self.register_of(question)))
        general = [message for name, messages in self._problems.items()
                   if name not in names for message in messages]
        widgets.append(Static(Content("\n".join(f"⚠ {message}" for message in general)),
                              id="screen-problems",
                              classes="problem shown" if general else "problem"))
        return widgets

    def register_of(self, question: QuestionView) -> Register | None:
        """What a select_one_from_file question picks from: the session's register, searched
        in the kiosk's database."""
        item, session = question.item, self.session
        dataset = item.entity_list
        if dataset is None:
            return None
        if dataset not in self._shown_properties:
            forms = [self.store.load_form(info.survey_id, info.version)
                     for info in self.store.list_forms()]
            self._shown_properties[dataset] = shown_properties(forms, dataset)

        def entry(entity_id: str) -> Entity | None:
            return session.entities.entity(dataset, entity_id) if session.entities else None

        return Register(search=lambda text, limit: session.search_register(item, text, limit),
                        entry=entry, shown=self._shown_properties[dataset])

    def on_mount(self) -> None:
        self._after_build()

    async def rebuild(self) -> None:
        """Show the session's current screen: the questions and buttons are replaced, the
        title and progress bar stay (quicker than recomposing the whole screen). A screen
        of the same shape as the one shown (the next point of a Likert run, the next of 300
        single choices) is shown by the same widgets, given the new question."""
        self.kiosk.stop_speaking()
        body = self.query_one("#body", VerticalScroll)
        if self._show_in_place():
            body.scroll_home(animate=False)
            self._after_build()
            return
        nav = self.query_one("#nav", Horizontal)
        with self.app.batch_update():
            await body.remove_children()
            await nav.remove_children()
            await body.mount_all(self.body_widgets())
            await nav.mount_all(self.nav_buttons())
        body.scroll_home(animate=False)
        self._after_build()
        self.query_one(MoreBelow).recount_later()

    def _show_in_place(self) -> bool:
        """The current screen shown by the widgets already there, when it has their shape:
        the same kinds of choice questions, with the same choices (no boxes: what is typed
        and its focus stay with a rebuild)."""
        view = self.session.screen
        blocks = self.blocks()
        shape = shape_of(view) if view is not None else None
        if (view is None or shape is None or self.prompt is not None
                or shape != self._shape or self._problems
                or self._typed or len(blocks) != len(view.questions)):
            return False
        # A title (第 3 位家庭成员 › 健康) is said by the same line; 删除这一位 comes and goes
        # with the instances a resident may remove, which a rebuild shows.
        title = self.instance_title(view) if view.instance else view.title
        removable = self.repeats is not None and self.removable() is not None
        if bool(title) != (self._title_line is not None) or removable != self._remove_shown:
            return False
        with self.app.batch_update():
            if self._title_line is not None:
                self._title_line.update(Content(title))
            for found, question in zip(blocks, view.questions, strict=True):
                found.replace_view(question)
            general = self.query_one("#screen-problems", Static)
            general.update("")
            general.set_class(False, "shown")
            back = self.query_one("#back", Button)
            back.label = self.t("nav.home" if self.session.is_first else "nav.back")
            forward = self.query_one("#next", Button)
            forward.label = self.next_label()
            for button in (back, forward):
                button.remove_class("-active")  # a quick 下一题 on this screen counts too
        self._layout = layout_of(view)
        return True

    def _after_build(self) -> None:
        self.mark_shown()
        self._record_shown()
        self._leave_warned = False
        self.update_progress()
        inputs = list(self.query("#body KioskInput, #body KioskTextArea"))
        wanted = [field for field in inputs if block_of(field).name == self._focus_name]
        focus = (wanted or inputs or [None])[0]
        self._focus_name = None
        self.set_focus(focus)

    def _record_shown(self) -> None:
        """Paradata: this screen (or the repeat's prompt) is what the resident sees now."""
        recorder = self.kiosk.paradata
        if recorder is None:
            return
        if self.prompt is not None:
            repeat = self.prompt.points[0].repeat if self.prompt.points else self.prompt.repeat
            recorder.enter((repeat,), "prompt")
        elif self.session.screen is not None:
            recorder.enter([question.name for question in self.session.screen.questions])

    def blocks(self) -> list[QuestionBlock]:
        return list(self.query(QuestionBlock).results(QuestionBlock))

    # ---- answering ----------------------------------------------------------------------

    def commit(self, block: QuestionBlock, value: Any) -> list[Problem]:
        """Give the session an answer; save the draft when the session kept a change."""
        text = value_text(value) if block.kind in INPUT_KINDS else None
        if text is not None and text == block.last_sent:
            return block.last_problems
        if isinstance(value, Toggle):
            value = value.applied_to(self.session.value(block.name))
        before = self.session.raw(block.name)
        problems = self.session.answer(block.name, value)
        block.last_sent, block.last_problems = text, problems
        after = self.session.raw(block.name)
        if not problems and after != before:
            self.store.save_draft(self.session)
            recorder = self.kiosk.paradata
            if recorder is not None:  # (that it changed, never what to: no answers kept)
                recorder.answered(block.name, before, after,
                                  multiple=block.kind == "select_multiple")
        return problems

    async def on_question_block_answered(self, message: QuestionBlock.Answered) -> None:
        block = message.block
        if block not in self.blocks():
            return  # an answer from a screen that was already left
        problems = self.commit(block, message.value)
        block.show_problems([problem.message for problem in problems])
        rebuilt = await self.sync()
        if message.submitted and not problems and not rebuilt:
            # (after a rebuild a question appeared or went: let the resident see it first)
            await self._enter_pressed(block.name)

    async def _enter_pressed(self, name: str) -> None:
        """Enter in a box (or on a choice) moves to the next question that takes an answer,
        or after the last one to the next screen."""
        blocks = self.blocks()
        names = [block.name for block in blocks]
        later = blocks[names.index(name) + 1:] if name in names else []
        for block in later:
            control = block.first_control()
            if control is not None:
                control.focus()
                return
        await self.go_next()

    async def action_enter(self) -> None:
        """Enter with nothing focused that takes it: 下一题 (on 再添加一位？ that is 不用了，
        继续; on 删除这一位？ it is 不删除: Enter never adds or deletes by itself)."""
        if self.prompt is not None:
            await (self.decline_add() if self.prompt.kind == "add" else self.keep_instance())
            return
        await self.go_next()

    async def sync(self) -> bool:
        """Show the session's state: in place, or rebuilt (True) if questions came or went."""
        view = self.session.screen
        if view is None:
            return False
        if layout_of(view) != self._layout:
            self._keep_unsaved()
            await self.rebuild()
            return True
        views = {question.name: question for question in view.questions}
        for block in self.blocks():
            block.show(views[block.name])
        self.update_progress()
        # An answer can make later screens relevant or not: 下一题 or 完成.
        self.query_one("#next", Button).label = self.next_label()
        return False

    def _keep_unsaved(self) -> None:
        """Carry typed text and shown problems over a rebuild of the same screen."""
        self._typed, self._problems = {}, {}
        for block in self.blocks():
            typed = block.typed_text()
            if typed is not None and typed != value_text(self.session.value(block.name)):
                self._typed[block.name] = typed
            if block.last_problems:
                self._problems[block.name] = [p.message for p in block.last_problems]
        focused = self.focused
        if isinstance(focused, Input | KioskTextArea) and focused.parent is not None:
            self._focus_name = block_of(focused).name

    def commit_typed(self) -> list[Problem]:
        """Hand every input box's text to the session (before leaving the screen)."""
        problems: list[Problem] = []
        for block in self.blocks():
            text = block.typed_text()
            if text is None:
                continue
            found = self.commit(block, text)
            block.show_problems([problem.message for problem in found])
            problems.extend(found)
        return problems

    def on_unmount(self) -> None:
        self.kiosk.stop_speaking()

    def action_read_aloud(self) -> None:
        """朗读: speak the question and its choices; pressed again, stop."""
        if not self.kiosk.can_read_aloud(self.language) or self.prompt is not None:
            return
        speaker = self.kiosk.speaker
        if speaker.speaking:
            speaker.stop()
            return
        view = self.session.screen
        if view is not None:
            speaker.say_screen(view, self.session.language)

    def save_work(self) -> None:
        self.commit_typed()  # what is valid is kept (and saved with the draft)

    def action_pick(self, number: int) -> None:
        keyed = [block for block in self.blocks() if block.number_keys]
        if len(keyed) == 1:
            keyed[0].pick(number)

    # ---- moving -------------------------------------------------------------------------

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "next":
            await self.go_next()
        elif event.button.id == "back":
            await self.go_back()
        elif event.button.id == "read-aloud":
            self.action_read_aloud()
        elif event.button.id in self.REPEAT_BUTTONS and not self.guarded():
            await getattr(self, self.REPEAT_BUTTONS[event.button.id])()

    REPEAT_BUTTONS: ClassVar[dict[str, str]] = {
        "add-instance": "add_instance", "no-more": "decline_add",
        "remove-instance": "ask_remove", "remove-confirm": "remove_instance",
        "keep-instance": "keep_instance",
    }

    async def go_next(self) -> None:
        if self.guarded():
            return
        if self.commit_typed():
            await self.sync()
            return
        before = self.repeats.position_key(self.session) if self.repeats else None
        problems = self.session.next()
        if problems:
            self._show_problems(problems)
            await self.sync()
            return
        if self.returning:
            # Back to the review, past every screen that is complete; a question the change
            # made relevant and required stops the way there.
            while not self.session.at_end and not self.session.screen_problems():
                self.session.next()
            self.store.save_draft(self.session)
            self.kiosk.show_session(self.session, returning=True)
            return
        self.store.save_draft(self.session)  # the draft remembers the screen too
        if before is not None and await self.ask_to_add(before):
            return
        await self.arrive()

    async def arrive(self) -> None:
        """Show where the session now stands: the review or 完成 after the last screen."""
        if self.session.at_end:
            if self.session.form.review_before_submit:
                self.kiosk.show_session(self.session)  # the 提交 step
            else:
                self.kiosk.submit(self.session)  # 完成 on the last screen stores it
            return
        self._problems, self._typed = {}, {}
        await self.rebuild()

    async def go_back(self) -> None:
        if self.guarded():
            return
        self.prompt = None  # 上一题 on 再添加一位？: to the screen before it
        self.commit_typed()  # keep what is valid; going back is never refused
        if self.session.is_first:
            answered, _ = self.session.progress()
            if answered and not self._leave_warned:
                # One tap too many on 上一题 must not throw away a whole questionnaire.
                self._leave_warned = True
                self._show_problems([Problem("", "leave", self.t("leave_warning"))])
                return
            self.kiosk.leave_form(self.session)
            return
        self.session.back()
        if self.kiosk.paradata is not None:
            self.kiosk.paradata.back()
        self.store.save_draft(self.session)
        self._problems, self._typed = {}, {}
        self.shown_share = 0.0  # going back, the bar may show less
        await self.rebuild()

    # ---- repeat groups: which instance, 再添加一位？ and 删除这一位 ------------------------

    def instance_title(self, view: ScreenView) -> str:
        """第 2 位家庭成员, and a group's title inside the instance after it."""
        assert self.repeats is not None
        chain = self.repeats.chains[view.index]
        title = self.repeats.instance_title(chain, view.instance, self.session.language,
                                            self.language)
        own = self.repeats.label(chain[-1], self.session.language) if chain else ""
        if view.title and view.title != own:
            title = f"{title} · {view.title}"
        return title

    def _opening_prompt(self) -> RepeatPrompt | None:
        """A questionnaire that begins with an open-ended repeat asks 再添加一位？ first
        (nothing answered yet: no move forward passed it)."""
        session = self.session
        assert self.repeats is not None and isinstance(session, RepeatSession)
        if session.progress()[0]:
            return None
        points = self.repeats.points_between(session, (-1.0,),
                                             self.repeats.position_key(session))
        return RepeatPrompt("add", points) if points else None

    def removable(self) -> tuple[str, tuple[int, ...]] | None:
        """The open-ended repeat's instance this screen belongs to (删除这一位 removes it)."""
        view = self.session.screen
        if self.repeats is None or view is None or not view.instance:
            return None
        assert isinstance(self.session, RepeatSession)
        return self.repeats.open_repeat(self.session, view.instance, view.index)

    def prompt_widgets(self, prompt: RepeatPrompt) -> list[Widget]:
        assert self.repeats is not None and isinstance(self.session, RepeatSession)
        self._layout, self._shape = ("prompt",), None
        language = self.session.language
        if prompt.kind == "add":
            point = prompt.points[0]
            label = self.repeats.label(point.repeat, language)
            outer = self.repeats.instance_title(self.session.form.repeat_chain[point.repeat][:-1],
                                                point.parent, language, self.language)
            count = self.session.instances(point.repeat, point.parent)
            lines = [self.t("repeat.count", count=count, label=label) if count
                     else self.t("repeat.none", label=label)]
            title = f"{outer} › {label}" if outer else label
            question = self.t("repeat.add_question")
        else:
            chain = self.session.form.repeat_chain[prompt.repeat]
            instance = self.repeats.instance_title(chain, prompt.instance, language,
                                                   self.language)
            title = instance
            lines = []
            question = self.t("repeat.remove_title", instance=instance)
            lines.append(self.t("repeat.remove_warning"))
        said = [Static(Content(line), classes="repeat-line") for line in lines]
        asked = Static(Content(question), id="repeat-question")
        # 还没有填家庭成员。 then 再添加一位？; 删除第 2 位家庭成员？ then what it clears
        return [Static(Content(title), id="screen-title"),
                *([*said, asked] if prompt.kind == "add" else [asked, *said]),
                Static("", id="screen-problems", classes="problem")]

    def prompt_buttons(self, prompt: RepeatPrompt) -> list[Button]:
        if prompt.kind == "add":
            # 不用了，继续 where 下一题 stands (Enter means it too); 再添加一位 beside it.
            back = "nav.home" if self.session.is_first else "nav.back"  # (a form's start)
            return [Button(self.t(back), id="back"),
                    Button(self.t("repeat.add"), id="add-instance", variant="success"),
                    Button(self.t("repeat.no_more"), id="no-more", variant="primary")]
        return [Button(self.t("repeat.remove_no"), id="keep-instance", variant="primary"),
                Button(self.t("repeat.remove_yes"), id="remove-confirm", variant="error")]

    async def show_prompt(self, prompt: RepeatPrompt | None) -> None:
        self.prompt = prompt
        self._problems, self._typed = {}, {}
        await self.rebuild()

    async def ask_to_add(self, before: Key) -> bool:
        """After a move forward: 再添加一位？ for each open-ended repeat passed (ODK Collect
        asks after the last instance, and where a repeat with none would begin)."""
        assert self.repeats is not None and isinstance(self.session, RepeatSession)
        points = self.repeats.points_between(self.session, before,
                                             self.repeats.position_key(self.session))
        if not points:
            return False
        await self.show_prompt(RepeatPrompt("add", points))
        return True

    async def add_instance(self) -> None:
        """再添加一位: a new instance at the end, and its first screen."""
        session = self.session
        assert self.prompt is not None and isinstance(session, RepeatSession)
        point = self.prompt.points[0]
        problems = session.add_instance(point.place(session.form))
        if problems:  # full, or the repeat does not apply here: say so, 不用了 goes on
            self._show_problems([Problem("", p.code, p.message) for p in problems])
            return
        number = session.instances(point.repeat, point.parent) - 1
        session.go_to(instance_place(session.form, point.repeat, (*point.parent, number)))
        self._skip_unshown()
        self.store.save_draft(session)
        await self.show_prompt(None)

    def _skip_unshown(self) -> None:
        """An instance whose first screen does not apply starts at its first one that does."""
        view = self.session.screen
        if view is not None and not view.questions:
            self.session.next()

    async def decline_add(self) -> None:
        """不用了，继续: the next repeat passed, or the screen the move forward led to."""
        assert self.prompt is not None
        points = self.prompt.points[1:]
        if points:
            await self.show_prompt(RepeatPrompt("add", points))
            return
        self.prompt = None
        self._problems, self._typed = {}, {}
        if self.session.at_end:
            await self.arrive()
        else:
            await self.rebuild()

    async def ask_remove(self) -> None:
        """删除这一位: first the confirmation (what is typed on the screen is kept)."""
        target = self.removable()
        if target is None:
            return
        self.commit_typed()
        await self.show_prompt(RepeatPrompt("remove", repeat=target[0], instance=target[1]))

    async def keep_instance(self) -> None:
        await self.show_prompt(None)

    async def remove_instance(self) -> None:
        """确定删除: the instance goes, the later ones move up; the next one is shown, or after
        the last one 再添加一位？ as when it was finished."""
        session = self.session
        assert (self.prompt is not None and self.repeats is not None
                and isinstance(session, RepeatSession))
        repeat, instance = self.prompt.repeat, self.prompt.instance
        place = instance_place(session.form, repeat, instance)
        last = instance[-1] == session.instances(repeat, instance[:-1]) - 1
        problems = session.remove_instance(place)
        self.prompt = None
        if problems:
            await self.show_prompt(None)
            self._show_problems(problems)
            return
        if not last:
            session.go_to(place)  # the next one has moved up to this place
            self._skip_unshown()
        self.store.save_draft(session)
        if last:
            start = self.repeats.start[repeat]
            prefix = self.repeats.key(self.repeats.start[repeat], instance)[:-3]
            before = (*prefix, start, instance[-1] - 0.5)
            if await self.ask_to_add(before):
                return
            if session.at_end:
                await self.arrive()
                return
        await self.show_prompt(None)

    def _show_problems(self, problems: list[Problem]) -> None:
        by_name = messages_by_question(problems)
        blocks = self.blocks()
        for block in blocks:
            if block.name in by_name:
                block.show_problems(by_name[block.name])
        first = next((block for block in blocks if block.name in by_name), None)
        if first is not None:
            first.scroll_visible(animate=False)  # a problem below the fold must not go unseen
        names = {block.name for block in blocks}
        general = [message for name, messages in by_name.items() if name not in names
                   for message in messages]
        line = self.query_one("#screen-problems", Static)
        line.update(Content("\n".join(f"⚠ {message}" for message in general)))
        line.set_class(bool(general), "shown")




def answer_text(view: QuestionView, language: str) -> str:
    """An answer as the review lists it: choice labels, numbers and text as given."""
    value = view.value
    if value is None or value == "" or value == []:
        return tr("unanswered", language)
    if view.kind in SELECT_KINDS:
        chosen = value if isinstance(value, list) else [value]
        labels = [choice.label for choice in view.choices if choice.name in chosen]
        return ("、" if language == "zh" else ", ").join(labels or map(str, chosen))
    if view.kind == "acknowledge":
        return tr("acknowledged", language)
    return value_text(value)


class ReviewScreen(SessionScreen):
    """After the last question of a form whose settings ask for ``review``: every answer,
    each with 修改 to go back and change it, then 提交."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # Enter is 提交 unless a focused button (修改, 上一题) takes it; arrows move the focus.
        Binding("enter", "submit", show=False),
        Binding("down,right", "move(1)", show=False),
        Binding("up,left", "move(-1)", show=False),
    ]

    def compose_screen(self) -> ComposeResult:
        yield from self.compose_top()
        session = self.session
        with VerticalScroll(id="review", can_focus=False):
            yield Static(self.t("review.done"), classes="big")
            yield Static(self.t("review.explain"), classes="explain")
            if isinstance(session, RepeatSession):
                yield from self.repeat_rows(session)
            else:
                for screen in session.form.screens:
                    if not session.screen_relevant(screen):
                        continue
                    for item in screen.items:
                        if not item.answerable or not session.is_relevant(item.name):
                            continue
                        yield from self.review_row(session.question_view(item))
        with Horizontal(id="nav"):
            yield Button(self.t("nav.back"), id="back")
            yield Button(self.t("review.submit"), id="submit", variant="success")

    def review_row(self, view: QuestionView) -> ComposeResult:
        """One answer, with 修改 (to its place: members[2].age in a repeat)."""
        missing = view.required and view.value in (None, "", [])
        with Horizontal(classes="review-row missing" if missing else "review-row"):
            with Vertical(classes="review-text"):
                yield Static(Content(view.label), classes="review-label")
                answer = answer_text(view, self.language)
                if view.item.entity_list is not None and view.value:
                    answer = self.session.display(view.name)  # the household's label
                if missing:
                    answer = f"⚠ {self.t('review.missing')}"
                yield Static(Content(answer), classes="review-answer")
            if not view.read_only:
                yield Button(self.t("review.change"), name=view.address or view.name,
                             classes="change")

    def repeat_rows(self, session: RepeatSession) -> ComposeResult:
        """The answers in the order of the walk, each instance under its own heading
        (第 1 位家庭成员), and an open-ended repeat left empty said so."""
        layout = RepeatLayout(session.form)
        language = session.language
        shown: set[tuple[str, tuple[int, ...]]] = set()
        empty = [point for point in layout.add_points(session)
                 if session.instances(point.repeat, point.parent) == 0]
        for screen, indices in [*layout.walk(session), (None, ())]:
            key = layout.key(screen.index, indices) if screen is not None else END
            while empty and empty[0].key < key:
                label = layout.label(empty.pop(0).repeat, language)
                yield Static(Content(self.t("review.no_instances", label=label)),
                             classes="review-instance")
            if screen is None or not session.screen_relevant(screen, indices):
                continue
            view = session.view(screen, indices)
            rows = [question for question in view.questions if question.item.answerable]
            if not rows:
                continue
            chain = layout.chains[screen.index]
            for depth in range(len(indices)):
                slot = (chain[depth], indices[:depth + 1])
                if slot not in shown:
                    shown.add(slot)
                    yield Static(Content(layout.instance_title(
                        chain[:depth + 1], indices[:depth + 1], language, self.language)),
                        classes="review-instance")
            for question in rows:
                yield from self.review_row(question)

    def on_mount(self) -> None:
        self.update_progress()
        self.set_focus(None)
        if self.kiosk.paradata is not None:
            self.kiosk.paradata.enter((), "review")

    def action_submit(self) -> None:
        if not self.guarded():
            self.kiosk.submit(self.session)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if self.guarded():
            return
        button = event.button
        if button.id == "submit":
            self.kiosk.submit(self.session)
        elif button.id == "back":
            self.session.back()
            if self.kiosk.paradata is not None:
                self.kiosk.paradata.back()
            self.store.save_draft(self.session)
            self.kiosk.show_session(self.session)
        elif button.has_class("change") and button.name:
            if self.kiosk.paradata is not None:
                self.kiosk.paradata.jump(button.name)
            self.session.go_to(button.name)
            self.store.save_draft(self.session)
            self.kiosk.show_session(self.session, returning=True)

"""The dashboard's 审核 tab: review before counting (issue 17), as ``kiosk review`` does it
from a terminal. Staff pick a survey and which states to see (待审核 and 有问题 first), read
each questionnaire's flags (答得过快: filled far faster than the others; 量表题全选同一项:
the same choice on every rating), then mark it 通过, 有问题 or 作废 with a note, or correct one
answer with a reason. The store does the work (store/sqlite/reviews.py); this widget reads
what staff type and shows what happened, Chinese first. Answers are shown only after a
questionnaire is picked, and personal ones never.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, DataTable, Input, Select, Static

from surveys.review import ReviewError, answer_text, state_word

WORDS = {
    "zh": {"tab": "审核", "open": "待审核和有问题", "all": "全部",
           "columns": ("完成时间", "回执码", "状态", "提示", "更正", "说明"),
           "pick": "请在上面选一份问卷。", "note": "审核说明（有问题、作废必填）",
           "approve": "通过", "question": "有问题", "void": "作废", "reset": "改回未审核",
           "q": "要更正的题（题目名）", "value": "正确的回答", "why": "更正原因",
           "correct": "更正", "done": "已把 {code} 标为{state}。",
           "corrected": "已更正 {code} 的“{question}”：{old} → {new}。",
           "refused": "没有保存：{error}", "counts": "未审核 {pending} · 已通过 {approved} · "
           "有问题 {questioned} · 作废 {void}", "speeder": "答得过快",
           "straight_line": "量表题全选同一项", "unanswered": "（未答）",
           "hidden": "（个人信息，不显示）", "history": "审核记录", "answers": "回答（已更正）"},
    "en": {"tab": "Review", "open": "To review and questioned", "all": "All",
           "columns": ("Completed", "Code", "State", "Flags", "Fixes", "Note"),
           "pick": "Pick a questionnaire above.", "note": "Note (needed for questioned, void)",
           "approve": "Approve", "question": "Question", "void": "Void",
           "reset": "Back to not reviewed", "q": "Question to correct (its name)",
           "value": "Right answer", "why": "Why", "correct": "Correct",
           "done": "{code} is now {state}.",
           "corrected": "Corrected '{question}' of {code}: {old} → {new}.",
           "refused": "Not saved: {error}", "counts": "not reviewed {pending} · approved "
           "{approved} · questioned {questioned} · void {void}", "speeder": "too fast",
           "straight_line": "straight-lined", "unanswered": "(none)",
           "hidden": "(personal, not shown)", "history": "History",
           "answers": "Answers (as corrected)"},
}
_STATE_BUTTONS = {"review-approve": "approved", "review-question": "questioned",
                  "review-void": "void", "review-reset": "pending"}


def review_words(language: str) -> dict[str, Any]:
    return WORDS["en" if language.startswith("en") else "zh"]


class ReviewPanel(Vertical):
    """The review queue of a survey, one questionnaire's history, and the decisions."""

    DEFAULT_CSS = """
    ReviewPanel { height: 1fr; }
    ReviewPanel > Horizontal { height: auto; }
    ReviewPanel #review-queue { height: 12; }
    ReviewPanel #review-counts { height: auto; color: $text-muted; }
    ReviewPanel #review-scroll { height: 1fr; }
    """

    def __init__(self, store: Any, surveys: Sequence[tuple[str, str]], language: str, *,
                 staff: Callable[[], str | None], kiosk_id: str | None,
                 status: Callable[[str, bool], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.store = store
        self.surveys = list(surveys)
        self.language = language
        self.staff = staff  # the name staff typed on the dashboard (None: asked for)
        self.kiosk_id = kiosk_id
        self.status = status
        self.selected: str | None = None

    def compose(self) -> ComposeResult:
        w = review_words(self.language)
        with Horizontal(classes="dash-controls"):
            yield Select(self.surveys, id="review-survey", allow_blank=False,
                         value=self.surveys[0][1] if self.surveys else Select.BLANK,
                         classes="dash-grow")
            yield Select([(w["open"], "open"), *((state_word(state, self.language), state)
                                                  for state in ("approved", "void")),
                          (w["all"], "all")], id="review-states", allow_blank=False,
                         value="open", classes="dash-grow")
        yield Static("", id="review-counts")
        yield DataTable(id="review-queue", cursor_type="row", zebra_stripes=True)
        with Horizontal(classes="dash-controls"):
            yield Input(placeholder=w["note"], id="review-note", max_length=200,
                        classes="dash-grow")
            yield Button(w["approve"], id="review-approve", variant="success")
            yield Button(w["question"], id="review-question", variant="warning")
            yield Button(w["void"], id="review-void", variant="error")
            yield Button(w["reset"], id="review-reset")
        with Horizontal(classes="dash-controls"):
            yield Input(placeholder=w["q"], id="review-q", max_length=100, classes="dash-grow")
            yield Input(placeholder=w["value"], id="review-value", max_length=500,
                        classes="dash-grow")
            yield Input(placeholder=w["why"], id="review-why", max_length=200,
                        classes="dash-grow")
            yield Button(w["correct"], id="review-correct", variant="primary")
        with VerticalScroll(id="review-scroll"):
            yield Static("", id="review-detail")

    def on_mount(self) -> None:
        table = self.query_one("#review-queue", DataTable)
        table.add_columns(*review_words(self.language)["columns"])
        self.refresh_queue()

    def survey(self) -> str | None:
        value = self.query_one("#review-survey", Select).value
        return value if isinstance(value, str) else None

    def refresh_queue(self) -> None:
        """The queue of the survey and states picked, the cursor kept on the one picked."""
        w = review_words(self.language)
        table = self.query_one("#review-queue", DataTable)
        table.clear()
        survey = self.survey()
        if survey is None:
            return
        wanted = self.query_one("#review-states", Select).value
        states = {"open": ("pending", "questioned"), "all": ()}.get(
            str(wanted), (str(wanted),))
        flags_of = getattr(self.store, "paradata_flags", None)
        flags = flags_of(survey) if flags_of is not None else {}
        for entry in self.store.review_queue(survey, states, limit=500):
            table.add_row(entry["completed"][5:16].replace("T", " "),
                          entry["receipt_code"] or "", state_word(entry["state"], self.language),
                          " ".join(w.get(flag, flag) for flag in
                                   flags.get(entry["instance_id"], [])),
                          str(entry["corrections"] or ""), entry["note"][:24],
                          key=entry["instance_id"])
        self.query_one("#review-counts", Static).update(
            w["counts"].format(**self.store.review_counts(survey)))
        if self.selected is not None and self.selected in table.rows:
            table.move_cursor(row=table.get_row_index(self.selected))
        elif table.row_count:
            # The one picked left the queue (voided, say): the row under the cursor is the
            # one shown and acted on, never a questionnaire staff no longer see.
            row = min(table.cursor_row, table.row_count - 1)
            self.selected = str(table.coordinate_to_cell_key((row, 0)).row_key.value)
        else:
            self.selected = None
        self.show_selected()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id in ("review-survey", "review-states"):
            event.stop()
            self.selected = None
            self.refresh_queue()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "review-queue":
            event.stop()
            self.selected = event.row_key.value if event.row_key is not None else None
            self.show_selected()

    def show_selected(self) -> None:
        """The questionnaire picked: its decisions, corrections and answers (as corrected;
        personal answers are not shown)."""
        w = review_words(self.language)
        detail = self.query_one("#review-detail", Static)
        if self.selected is None:
            detail.update(w["pick"])
            return
        try:
            history = self.store.review_history(self.selected)
        except ReviewError:
            detail.update(w["pick"])
            return
        form = self.store.load_form(history["survey"])
        language = form.language_or_default(self.language)
        lines = [Text(f"{w['history']} · {history['completed'][:16].replace('T', ' ')}",
                      style="bold")]
        for decision in history["reviews"]:
            lines.append(Text(f"{decision['at'][5:16]}  {decision['staff']}  "
                              f"{state_word(decision['state'], self.language)}  "
                              f"{decision['note']}"))
        for correction in history["corrections"]:
            hidden = correction["question"] in form.pii_names
            old, new = ((w["hidden"], w["hidden"]) if hidden else
                        (self._shown(correction["old"]), self._shown(correction["new"])))
            lines.append(Text(f"{correction['at'][5:16]}  {correction['staff']}  "
                              f"{correction['question']}: {old} → {new}  ({correction['why']})"))
        lines.append(Text(f"\n{w['answers']}", style="bold"))
        for name, value in history["corrected"].items():
            item = form.by_name.get(name)
            if item is None or item.pii:
                continue
            label = form.text(item.label, language) or name
            lines.append(Text(f"{name} · {label[:40]}: {self._labelled(form, item, value)}"))
        detail.update(Text("\n").join(lines))

    def _labelled(self, form: Any, item: Any, value: Any) -> str:
        """An answer as staff read it on the questionnaire: choices by their labels."""
        if item.list_name and value is not None:
            language = form.language_or_default(self.language)
            names = value if isinstance(value, list) else [value]
            labels = []
            for name in names:
                choice = form.choice(item, str(name))
                labels.append(form.text(choice.label, language) if choice else str(name))
            return "、".join(labels)
        return self._shown(value)

    def _shown(self, value: Any) -> str:
        return answer_text(value, review_words(self.language)["unanswered"])

    def on_button_pressed(self, event: Button.Pressed) -> None:
        button = event.button.id or ""
        if button in _STATE_BUTTONS:
            event.stop()
            self.decide(_STATE_BUTTONS[button])
        elif button == "review-correct":
            event.stop()
            self.correct()

    def _picked(self) -> tuple[str, str] | None:
        """(the questionnaire picked, the staff member's name), or None after saying
        what is missing."""
        if self.selected is None:
            self.status(review_words(self.language)["pick"], True)
            return None
        staff = self.staff()
        return (self.selected, staff) if staff else None

    def decide(self, state: str) -> None:
        picked = self._picked()
        if picked is None:
            return
        w = review_words(self.language)
        note = self.query_one("#review-note", Input)
        try:
            decision = self.store.set_review(picked[0], state, note.value, staff=picked[1],
                                             kiosk=self.kiosk_id)
        except ReviewError as error:
            self.status(w["refused"].format(error=error), True)
            return
        note.value = ""
        code = self.store.receipt_code_of(decision.instance_id) or decision.instance_id[:8]
        self.status(w["done"].format(code=code, state=state_word(state, self.language)), False)
        self.refresh_queue()

    def correct(self) -> None:
        picked = self._picked()
        if picked is None:
            return
        w = review_words(self.language)
        fields = [self.query_one(f"#review-{name}", Input) for name in ("q", "value", "why")]
        try:
            entry = self.store.add_correction(picked[0], fields[0].value.strip(),
                                              fields[1].value, fields[2].value,
                                              staff=picked[1], kiosk=self.kiosk_id)
        except ReviewError as error:
            self.status(w["refused"].format(error=error), True)
            return
        for field in fields:
            field.value = ""
        code = self.store.receipt_code_of(entry.instance_id) or entry.instance_id[:8]
        personal = entry.question in self.store.load_form(
            self.store.review_history(entry.instance_id)["survey"]).pii_names
        old, new = ((w["hidden"], w["hidden"]) if personal
                    else (self._shown(entry.old), self._shown(entry.new)))
        self.status(w["corrected"].format(code=code, question=entry.question, old=old,
                                          new=new), False)
        self.refresh_queue()

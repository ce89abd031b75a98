"""FormSession: one resident (or one imported record) going through one form.

The session owns an ODK-style instance (an lxml tree, one node per question) and keeps it
consistent after every change: calculates are recomputed, relevance is re-evaluated and the
answers of questions that stopped being relevant are cleared. Screens, bulk import, field
mode and the browser all drive the form through this class; it knows nothing of any UI.
A form with repeat groups runs in ``RepeatSession`` (at the end of this module).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
import uuid
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from surveys.clock import format_datetime, now_local
from surveys.entities import LABEL_LIMIT, SEARCH_LIMIT, Entity, EntitySource
from surveys.expressions import (
    LANG_ATTRIBUTE,
    ExpressionError,
    attach_entity_source,
    format_number,
    parse_date,
    parse_datetime,
    string_to_number,
)
from surveys.form import REPEAT_LIMIT, REPEAT_TOTAL_LIMIT, Choice, Form, Item, Screen, language_code
from surveys.numbers import written_number

if TYPE_CHECKING:
    from lxml import etree

# Built-in messages; a form's own required_message / constraint_message take precedence.
MESSAGES: dict[str, dict[str, str]] = {
    "required": {"zh": "这一题需要回答。", "en": "This question needs an answer."},
    "constraint": {"zh": "这个答案不符合要求，请再看一下。",
                   "en": "This answer is not accepted; please check it."},
    "integer": {"zh": "请填一个整数，例如 3。", "en": "Please enter a whole number, such as 3."},
    "integer_range": {"zh": "这个数太大了。", "en": "This number is too large."},
    "decimal": {"zh": "请填一个数字，例如 2.5。", "en": "Please enter a number, such as 2.5."},
    "date": {"zh": "请填一个日期，例如 2026-11-23。",
             "en": "Please enter a date, such as 2026-11-23."},
    "choice": {"zh": "没有这个选项。", "en": "That is not one of the choices."},
    "text": {"zh": "请填写文字。", "en": "Please enter text."},
    "acknowledge": {"zh": "请点“确认”。", "en": "Please tap OK."},
    "not_relevant": {"zh": "这一题现在不用回答。", "en": "This question does not apply now."},
    "read_only": {"zh": "这一题不能修改。", "en": "This question cannot be changed."},
    "not_answerable": {"zh": "这一项不用填写。", "en": "This item takes no answer."},
    "unknown": {"zh": "问卷里没有这一题。", "en": "There is no such question in this form."},
    "type": {"zh": "答案的类型不对。", "en": "The answer has the wrong type."},
    "number_range": {"zh": "这个数太大了。", "en": "This number is too large."},
    "too_long": {"zh": "写得太长了，请少写一些。", "en": "This answer is too long."},
    "calculate": {"zh": "这个计算结果和问卷的计算不一致。",
                  "en": "This calculated value does not match the form's calculation."},
    # Repeat groups (a household's members …), named by their place: members[2].age
    "repeat_type": {"zh": "这一组应该是一个列表，每一位一项。",
                    "en": "This repeat must be a list, one entry per instance."},
    "repeat_entry": {"zh": "这一项应该是一组答案（一个 JSON 对象）。",
                     "en": "This entry must be a set of answers (a JSON object)."},
    "repeat_limit": {"zh": "这一组的项数太多了（最多 100 项）。",
                     "en": "This repeat has too many entries (at most 100)."},
    "repeat_total": {"zh": "所有重复组加起来最多 1000 项。",
                     "en": "All repeats together hold at most 1000 entries."},
    "repeat_count": {"zh": "这一组的项数和问卷规定的数目不一致。",
                     "en": "The number of entries differs from the number the form sets."},
    "repeat_fixed": {"zh": "这一组的数目由问卷决定，不能添加或删除。",
                     "en": "The form sets how many entries this repeat has; they cannot be "
                           "added or removed."},
    "no_instance": {"zh": "没有这一项。", "en": "There is no such entry."},
    # A register entry (household) picked with select_one_from_file
    "entity": {"zh": "名单里没有这一户，请重新搜索选择。",
               "en": "This household is not in the register; please search again."},
}
# Register entries are named by UUIDs (a creating questionnaire's instance id, or ODK's).
ENTITY_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
INTEGER = re.compile(r"[+-]?\d+")
DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
# Characters XML 1.0 cannot hold (lxml refuses them); a scanner may send ESC and the like.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Characters no answer may hold: control characters (a newline only where a text question
# is multiline), line and paragraph separators, bidi overrides that can make a text read
# other than it is, and what XML cannot hold.
_REFUSED = ("\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
            "\ud800-\udfff\ufffe\uffff")
REFUSED_IN_MULTILINE = re.compile(f"[{_REFUSED}]")
REFUSED_IN_LINE = re.compile(f"[\n{_REFUSED}]")
# XForms integers are 32-bit; ODK Collect refuses more than 9 digits.
INTEGER_LIMIT = 10**9
# Decimals: amounts such as a bride price in yuan fit many times over; beyond this a value
# is a typing slip (or an attack on the statistics: squares of 1e308 overflow).
DECIMAL_LIMIT = 10**12
# The longest answer a text box takes (the screen stops there too), and the longest value a
# calculate or a metadata field may hold.
TEXT_LIMIT = 500
CALCULATE_LIMIT = 4000
ACKNOWLEDGED = "OK"


def builtin_message(code: str, language: str) -> str:
    table = MESSAGES[code]
    return table["zh"] if language_code(language).startswith("zh") else table["en"]


@dataclass(frozen=True)
class Problem:
    """Why an answer or a form cannot be accepted, in the session's language."""

    question: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.question}: {self.message}"


class FormIncomplete(Exception):
    """finish() was called while some relevant question is unanswered or invalid."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(problem) for problem in problems))
        self.problems = problems


class AnswerError(ValueError):
    """A value that cannot be an answer to this question (type or choice)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Submission:
    """A finished questionnaire, as stored and exported (one JSONL record)."""

    instance_id: str
    survey: str
    version: str
    started: str
    completed: str
    lang: str
    answers: dict[str, Any]
    kiosk: str | None = None
    enumerator: str | None = None
    site: str | None = None  # the station's site, when the kiosk's configuration names one
    # What it does to a register: {"dataset", "id", "action": "create"|"update", "label",
    # "base_version" (the version the visitor saw)}; None for forms without one.
    entity: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSONL record; ``site`` only when there is one."""
        record = {
            "instance_id": self.instance_id,
            "survey": self.survey,
            "version": self.version,
            "kiosk": self.kiosk,
            "started": self.started,
            "completed": self.completed,
            "lang": self.lang,
            "enumerator": self.enumerator,
            "answers": self.answers,
        }
        if self.site is not None:
            record["site"] = self.site
        if self.entity is not None:
            record["entity"] = self.entity
        return record


@dataclass
class ChoiceView:
    name: str
    label: str


@dataclass
class QuestionView:
    """One question as a screen shows it, in the session's language."""

    item: Item
    label: str
    hint: str
    required: bool
    read_only: bool
    value: Any
    choices: list[ChoiceView] = field(default_factory=list)
    # Where the answer goes: the name, or inside a repeat its place (members[2].age).
    address: str = ""

    @property
    def name(self) -> str:
        return self.item.name

    @property
    def kind(self) -> str:
        return self.item.kind


@dataclass
class ScreenView:
    index: int
    title: str  # the field-list group's label, or the enclosing group's
    questions: list[QuestionView]
    # Which instance of each enclosing repeat (0-based, outermost first); () outside repeats.
    instance: tuple[int, ...] = ()


class FormSession:
    """Answers, relevance, validation and navigation for one run through a form.

    A form with repeat groups gets a ``RepeatSession`` (below) (the same methods,
    answers addressed per instance): forms without them keep this code path unchanged."""

    def __new__(cls, form: Form, *args: Any, **kwargs: Any) -> FormSession:
        if form.repeats and cls is FormSession:
            return super().__new__(RepeatSession)
        return super().__new__(cls)

    def __init__(
        self,
        form: Form,
        language: str | None = None,
        *,
        instance_id: str | None = None,
        started: dt.datetime | str | None = None,
        enumerator: str | None = None,
        kiosk: str | None = None,
        apply_defaults: bool = True,
        entities: EntitySource | None = None,
    ) -> None:
        self.form = form
        # The registers this questionnaire reads (None when a record is checked again: its
        # register reads keep the values it was filled with).
        self.entities = _RegisterView(entities) if entities is not None else None
        self.language = form.resolve_language(language)
        self.instance_id = instance_id or str(uuid.uuid4())
        moment = started or now_local()
        self.started = moment if isinstance(moment, str) else format_datetime(moment)
        self.enumerator = enumerator
        self.kiosk = kiosk
        self.root, self.nodes = form.new_instance()
        self.root.set(LANG_ATTRIBUTE, self.language)
        if self.entities is not None:
            attach_entity_source(self.root, self.entities)
        self.relevance: dict[str, bool] = {}
        # Bumped by every change (each goes through _recompute): what was counted for the
        # progress bar at one generation holds until the next (the screen asks twice a step).
        self._generation = 0
        self._counted: tuple[int, tuple[int, int]] = (-1, (0, 0))
        self._pinned: set[str] = set()  # calculates whose value came with an imported record
        self._apply_defaults = apply_defaults
        self._set_metadata()
        self._recompute()
        self.position = self._next_relevant(0)

    # ---- values ---------------------------------------------------------------------

    def raw(self, name: str) -> str:
        """The stored text of an answer ('' when empty), as XPath sees it."""
        return self.nodes[name].text or ""

    def value(self, name: str) -> Any:
        """The typed answer: int, float, list of choice names, ISO date text, text or None."""
        return typed_value(self.form.by_name[name], self.raw(name))

    def answers(self) -> dict[str, Any]:
        """Relevant, non-empty values by question name, typed, in form order."""
        result = {}
        for item in self.form.value_items:
            text = self.nodes[item.name].text
            if text and self.relevance.get(item.name, True):
                result[item.name] = typed_value(item, text)
        return result

    def is_relevant(self, name: str) -> bool:
        return self.relevance.get(name, True)

    # ---- answering --------------------------------------------------------------------

    def answer(self, name: str, value: Any) -> list[Problem]:
        """Set an answer. Returns the problems; an answer with problems is not kept."""
        item = self.form.by_name.get(name)
        if item is None:
            return [self._problem(name, "unknown")]
        if not item.answerable:
            return [self._problem(name, "not_answerable")]
        if not self.is_relevant(name):
            return [self._problem(name, "not_relevant")]
        if self._is_read_only(item):
            return [self._problem(name, "read_only")]
        try:
            text = self._canonical(item, value)
        except AnswerError as error:
            return [self._problem(name, error.code)]
        node = self.nodes[name]
        if (node.text or "") == text:
            # Unchanged, but other answers may have changed since: `. <= ${household}`.
            problem = self._constraint_problem(item) if text else None
            return [problem] if problem else []
        before, relevance_before = self._texts(), dict(self.relevance)
        node.text = text or None
        self._recompute()
        if text:
            problem = self._constraint_problem(item)
            if problem is not None:
                # Put everything back, including answers the new value made non-relevant.
                self._load_raw(before)
                self.relevance = relevance_before
                self._recompute()
                return [problem]
        return []

    def _texts(self) -> dict[str, str]:
        return {name: node.text for name, node in self.nodes.items() if node.text}

    def clear(self, name: str) -> None:
        """Remove an answer (a resident un-ticking a choice or emptying a field)."""
        self.answer(name, None)

    def _canonical(self, item: Item, value: Any) -> str:
        text = canonical_text(item, value)
        if text and item.kind in ("select_one", "select_multiple"):
            allowed = self.allowed_choice_names(item)
            if any(part not in allowed for part in text.split()):
                raise AnswerError(_choice_code(item))
            if item.kind == "select_multiple":
                text = self._in_choice_order(item, text)
        return text

    def _in_choice_order(self, item: Item, text: str) -> str:
        """Multi-select answers are kept in the order of the choices sheet, not of taps."""
        order = self.form.choice_order(item)
        return " ".join(sorted(text.split(), key=lambda name: order.get(name, len(order))))

    # ---- what a screen shows -----------------------------------------------------------

    @property
    def at_end(self) -> bool:
        return self.position >= len(self.form.screens)

    @property
    def end_position(self) -> int:
        """The position after the last screen (ready to finish)."""
        return len(self.form.screens)

    @property
    def screen(self) -> ScreenView | None:
        """The current screen, or None after the last one (ready to finish)."""
        if self.at_end:
            return None
        return self.view(self.form.screens[self.position])

    def view(self, screen: Screen) -> ScreenView:
        questions = [
            self.question_view(item) for item in screen.items if self.is_relevant(item.name)
        ]
        title_item = screen.group
        if title_item is None and screen.items[0].parent:
            title_item = self.form.by_name[screen.items[0].parent]
        title = self.render(self.form.text(title_item.label, self.language)) if title_item else ""
        return ScreenView(index=screen.index, title=title, questions=questions)

    def question_view(self, item: Item) -> QuestionView:
        return QuestionView(
            item=item,
            label=self.label(item),
            hint=self.render(self.form.text(item.hint, self.language)),
            required=self._is_required(item),
            read_only=self._is_read_only(item),
            value=typed_value(item, self.raw(item.name)) if item.has_value else None,
            choices=[ChoiceView(choice.name, self.form.text(choice.label, self.language))
                     for choice in self.choices(item)],
            address=item.name,
        )

    def label(self, item: Item) -> str:
        return self.render(self.form.text(item.label, self.language)) or item.name

    def render(self, text: str) -> str:
        """Fill ``${name}`` in a label with the answer as the resident would read it."""
        if "${" not in text:
            return text
        return re.sub(r"\$\{([^}]*)\}", lambda match: self.display(match.group(1).strip()), text)

    def display(self, name: str) -> str:
        item = self.form.by_name.get(name)
        if item is None or not item.has_value:
            return ""
        text = self.raw(name)
        if item.entity_list is not None and text:
            entity = self.entities.entity(item.entity_list, text) if self.entities else None
            return entity.label if entity is not None and entity.label else text
        if item.kind in ("select_one", "select_multiple") and text:
            labels = []
            for part in text.split():
                choice = self.form.choice(item, part)
                labels.append(self.form.text(choice.label, self.language) if choice else part)
            return "、".join(labels)
        return text

    def choices(self, item: Item) -> list[Choice]:
        """The item's choices after its choice_filter."""
        expression = self.form.expression(item, "choice_filter")
        if expression is None:
            return self.form.choices_for(item)
        values = {name: self.raw(name) for name in sorted(expression.references)}
        return self.form.filtered_choices(item, expression, values)

    def allowed_choice_names(self, item: Item) -> Collection[str]:
        if item.entity_list is not None:
            return _EntityIds(item.entity_list, self.entities)
        if self.form.expression(item, "choice_filter") is None:
            return self.form.choice_names(item)
        return {choice.name for choice in self.choices(item)}

    def search_register(self, item: Item, text: str,
                        limit: int = SEARCH_LIMIT) -> list[Entity]:
        """Register entries a select_one_from_file question may pick, found by the words
        of a name, an address or the last digits of a phone ([] without a register)."""
        if item.entity_list is None or self.entities is None:
            return []
        return self.entities.search_entities(item.entity_list, text, limit)

    def entity_block(self, instance_id: str | None = None) -> dict[str, Any] | None:
        """What finishing now does to the form's register: update the entry ``entity_id``
        names (when given and ``update_if`` holds), else create one (when ``create_if``
        holds), named by the questionnaire's instance id; None when neither."""
        declared = self.form.entity
        if declared is None:
            return None
        expressions = self.form.entity_expressions

        def holds(key: str) -> bool:
            expression = expressions.get(key)
            return expression is None or expression.as_boolean(self.root)

        def text(key: str) -> str:
            expression = expressions.get(key)
            return expression.as_string(self.root).strip() if expression is not None else ""

        target = text("entity_id") if declared.update else ""
        if target and holds("update_if"):
            block: dict[str, Any] = {"dataset": declared.dataset, "id": target,
                                     "action": "update"}
            known = self.entities.entity(declared.dataset, target) if self.entities else None
            block["base_version"] = known.version if known is not None else None
        elif declared.create and holds("create_if"):
            block = {"dataset": declared.dataset, "id": instance_id or self.instance_id,
                     "action": "create"}
        else:
            return None
        label = " ".join(text("label").split())[:LABEL_LIMIT]
        if label:
            block["label"] = label
        return block

    def progress(self) -> tuple[int, int]:
        """(answered, relevant) over the questions a resident answers."""
        if self._counted[0] == self._generation:
            return self._counted[1]
        answered = relevant = 0
        for item in self.form.items:
            if item.answerable and self.is_relevant(item.name):
                relevant += 1
                if self.nodes[item.name].text:
                    answered += 1
        self._counted = (self._generation, (answered, relevant))
        return answered, relevant

    def set_language(self, language: str) -> None:
        self.language = self.form.resolve_language(language)
        self.root.set(LANG_ATTRIBUTE, self.language)
        # Calculates may hold choice labels (jr:choice-name), which follow the language.
        self._recompute()

    # ---- navigation ------------------------------------------------------------------

    def screen_relevant(self, screen: Screen) -> bool:
        if screen.group is not None and not self.is_relevant(screen.group.name):
            return False
        return any(self.is_relevant(item.name) for item in screen.items)

    def _next_relevant(self, start: int) -> int:
        screens = self.form.screens
        for index in range(max(start, 0), len(screens)):
            if self.screen_relevant(screens[index]):
                return index
        return len(screens)

    def _previous_relevant(self, start: int) -> int | None:
        screens = self.form.screens
        for index in range(min(start, len(screens) - 1), -1, -1):
            if self.screen_relevant(screens[index]):
                return index
        return None

    def screen_problems(self, index: int | None = None) -> list[Problem]:
        """What stops the resident leaving this screen: required, constraints, choices."""
        index = self.position if index is None else index
        if index >= len(self.form.screens):
            return []
        screen = self.form.screens[index]
        return [problem for item in screen.items for problem in self._item_problems(item)]

    def next(self) -> list[Problem]:
        """Go to the next relevant screen if this one is complete; else return why not."""
        if self.at_end:
            return []
        problems = self.screen_problems()
        if problems:
            return problems
        self.position = self._next_relevant(self.position + 1)
        return []

    def back(self) -> bool:
        """Go to the previous relevant screen; False on the first one."""
        previous = self._previous_relevant(self.position - 1)
        if previous is None:
            return False
        self.position = previous
        return True

    def go_to(self, name: str) -> None:
        """Jump to the screen holding a question (the review step uses this)."""
        for screen in self.form.screens:
            if screen.name == name or any(item.name == name for item in screen.items):
                self.position = screen.index
                return
        raise KeyError(name)

    @property
    def is_first(self) -> bool:
        return self._previous_relevant(self.position - 1) is None

    @property
    def is_last(self) -> bool:
        """On the last relevant screen (given the answers so far): next() will finish."""
        return not self.at_end and self._next_relevant(self.position + 1) >= len(
            self.form.screens)

    # ---- validation and finishing -----------------------------------------------------

    def problems(self) -> list[Problem]:
        """Everything wrong with the form as it stands, in form order."""
        found = []
        for item in self.form.items:
            found.extend(self._item_problems(item))
        return found

    def _item_problems(self, item: Item) -> list[Problem]:
        if not item.answerable or not self.is_relevant(item.name):
            return []
        text = self.nodes[item.name].text
        if not text:
            return [self._required_problem(item)] if self._is_required(item) else []
        if item.kind in ("select_one", "select_multiple"):
            allowed = self.allowed_choice_names(item)
            if any(part not in allowed for part in text.split()):
                return [self._problem(item.name, _choice_code(item))]
        problem = self._constraint_problem(item)
        return [problem] if problem else []

    def finish(self, completed: dt.datetime | None = None) -> Submission:
        """Close the form. Raises FormIncomplete (and moves to the first problem) if needed."""
        problems = self.problems()
        if problems:
            self.go_to(problems[0].question)
            raise FormIncomplete(problems)
        moment = format_datetime(completed or now_local())
        for item in self.form.value_items:
            if item.kind == "end":
                self.nodes[item.name].text = moment
        return Submission(
            instance_id=self.instance_id, survey=self.form.survey_id,
            version=self.form.version, started=self.started, completed=moment,
            lang=language_code(self.language), answers=self.answers(), kiosk=self.kiosk,
            enumerator=self.enumerator, entity=self.entity_block(),
        )

    # ---- drafts ------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Everything needed to resume this session after a crash (saved as the draft)."""
        answers = self._texts()
        screen = None if self.at_end else self.form.screens[self.position].name
        return {
            "instance_id": self.instance_id, "survey": self.form.survey_id,
            "version": self.form.version, "lang": self.language, "started": self.started,
            "enumerator": self.enumerator, "kiosk": self.kiosk, "screen": screen,
            "answers": answers,
        }

    @classmethod
    def restore(cls, form: Form, snapshot: Mapping[str, Any], *,
                entities: EntitySource | None = None) -> FormSession:
        """Resume a session from its snapshot (an interrupted draft)."""
        session = cls(form, snapshot.get("lang"), instance_id=snapshot["instance_id"],
                      started=snapshot.get("started"), enumerator=snapshot.get("enumerator"),
                      kiosk=snapshot.get("kiosk"), apply_defaults=False, entities=entities)
        session._load_raw(snapshot.get("answers", {}))
        session._recompute()
        session._apply_defaults = True
        screen = snapshot.get("screen")
        if screen:
            try:
                session.go_to(screen)
            except KeyError:
                session.position = session._next_relevant(0)
        else:
            session.position = session.end_position
        return session

    # ---- import ------------------------------------------------------------------------

    def _read_answer(self, item: Item, place: str, value: Any, raw: dict[str, str],
                     problems: list[Problem]) -> None:
        """One answer of a record into ``raw`` as the screens would take it, or a problem
        named by its place (a plain name, or members[2].age inside a repeat)."""
        if not item.has_value:
            if value not in (None, ""):
                problems.append(self._problem(place, "not_answerable"))
            return
        try:
            text = strict_text(item, value)
            if NOT_XML.search(text):
                raise AnswerError("type")
        except AnswerError as error:
            problems.append(self._problem(place, error.code))
            return
        if text:
            raw[place] = (self._in_choice_order(item, text)
                          if item.kind == "select_multiple" else text)

    def load_record(self, answers: Mapping[str, Any]) -> list[Problem]:
        """Check a whole record (bulk import) by the rules a resident meets.

        Every answer must fit its question's type and choices, answer a question that is
        relevant given the others, meet required, constraint and length rules. Calculates
        are computed again from the answers: a value sent that the form does not give is a
        problem; only a calculate depending on the moment or chance keeps the value sent.
        """
        problems: list[Problem] = []
        raw: dict[str, str] = {}
        for name, value in answers.items():
            item = self.form.by_name.get(name)
            if item is None or item.is_group:
                problems.append(self._problem(name, "unknown"))
                continue
            self._read_answer(item, name, value, raw, problems)
        if problems:
            return problems
        self._load_raw(raw)
        self.relevance = {}
        # Calculates are computed again from the answers, never taken as sent; only those
        # that depend on the moment or chance (now(), uuid() …) keep the value sent.
        sent = {name: text for name, text in raw.items()
                if self.form.by_name[name].kind == "calculate"}
        self._pinned = {name for name in sent if self.form.depends_on_the_moment(name)}
        self._recompute(clear=False)
        for name in raw:
            if not self.relevance.get(name, True):
                problems.append(self._problem(name, "not_relevant"))
        for name, text in sent.items():
            if name in self._pinned:
                if len(text) > CALCULATE_LIMIT:
                    problems.append(self._problem(name, "too_long"))
            elif self.raw(name) != text:
                problems.append(self._problem(name, "calculate"))
        if problems:
            return problems
        return self.problems()

    def _load_raw(self, raw: Mapping[str, str]) -> None:
        self._generation += 1
        for name, node in self.nodes.items():
            node.text = raw.get(name) or None

    # ---- internals ---------------------------------------------------------------------

    def _problem(self, name: str, code: str) -> Problem:
        return Problem(name, code, builtin_message(code, self.language))

    def _required_problem(self, item: Item) -> Problem:
        message = self.form.text(item.required_message, self.language)
        return Problem(item.name, "required",
                       self.render(message) or builtin_message("required", self.language))

    def _constraint_problem(self, item: Item) -> Problem | None:
        """The form's constraint, then the kiosk's length limit."""
        expression = self.form.expression(item, "constraint")
        if expression is not None and not expression.as_boolean(self.nodes[item.name]):
            message = self.form.text(item.constraint_message, self.language)
            return Problem(item.name, "constraint", self.render(message)
                           or builtin_message("constraint", self.language))
        limit = length_limit(item)
        if limit is not None and len(self.nodes[item.name].text or "") > limit:
            return self._problem(item.name, "too_long")
        return None

    def _is_required(self, item: Item) -> bool:
        expression = self.form.expression(item, "required")
        return expression is not None and expression.as_boolean(self.nodes[item.name])

    def _is_read_only(self, item: Item) -> bool:
        expression = self.form.expression(item, "read_only")
        return expression is not None and expression.as_boolean(self.nodes[item.name])

    def _set_metadata(self) -> None:
        for item in self.form.value_items:
            if item.kind == "start":
                self.nodes[item.name].text = self.started
            elif item.kind == "today":
                moment = parse_datetime(self.started)
                self.nodes[item.name].text = (moment or now_local()).date().isoformat()

    def _recompute(self, clear: bool = True) -> None:
        """Bring calculates, relevance and choice filters up to date with the answers."""
        self._generation += 1
        for _ in range(len(self.form.items) + 2):
            self._run_calculates()
            if not self._update_relevance(clear):
                return
        raise ExpressionError("relevance does not settle: the form's expressions form a loop")

    def _run_calculates(self) -> None:
        for item in self.form.calculate_order:
            if item.name in self._pinned or not self.relevance.get(item.name, True):
                continue
            node = self.nodes[item.name]
            expression = self.form.expression(item, "calculate")
            assert expression is not None
            text = expression.as_string(node)
            if text == "NaN":
                text = ""
            node.text = text or None

    def _update_relevance(self, clear: bool) -> bool:
        """Re-evaluate relevance in form order; True if that cleared any value."""
        cleared = False
        relevance = self.relevance
        form = self.form
        for item in form.items:
            parent_ok = relevance[item.parent] if item.parent is not None else True
            node = self.nodes[item.name]
            if parent_ok:
                expression = form.expression(item, "relevant")
                now = expression.as_boolean(node) if expression is not None else True
            else:
                now = False
            before = relevance.get(item.name)
            relevance[item.name] = now
            if not item.has_value:
                continue
            if not now:
                if node.text is not None and (clear or (item.name not in self._pinned
                                              and item.kind == "calculate")):
                    node.text = None
                    cleared = True
            elif (before is not True and self._apply_defaults and not node.text
                  and self._apply_default(item)):
                cleared = True
            if now and clear and node.text and form.expression(item, "choice_filter"):
                allowed = self.allowed_choice_names(item)
                kept = [part for part in node.text.split() if part in allowed]
                if len(kept) != len(node.text.split()):
                    node.text = " ".join(kept) or None
                    cleared = True
        return cleared

    def _apply_default(self, item: Item) -> bool:
        expression = self.form.expression(item, "default")
        if expression is None:
            return False
        try:
            text = canonical_text(item, expression.as_string(self.nodes[item.name]))
        except AnswerError:
            return False
        self.nodes[item.name].text = text or None
        return bool(text)


def _choice_code(item: Item) -> str:
    """The problem of an answer that is not one of the item's choices."""
    return "entity" if item.entity_list is not None else "choice"


class _RegisterView:
    """A questionnaire's view of the registers: each entry read once and kept, so every
    calculate sees the same entry however often it runs, and the database is asked once."""

    def __init__(self, source: EntitySource) -> None:
        self.source = source
        self._read: dict[tuple[str, str], Entity | None] = {}

    def entity(self, dataset: str, entity_id: str) -> Entity | None:
        key = (dataset, entity_id)
        if key not in self._read:
            if len(self._read) > 1000:
                self._read.clear()
            self._read[key] = self.source.entity(dataset, entity_id)
        return self._read[key]

    def search_entities(self, dataset: str, text: str,
                        limit: int = SEARCH_LIMIT) -> list[Entity]:
        return self.source.search_entities(dataset, text, limit)


class _EntityIds(Collection[str]):
    """The answers a select_one_from_file question takes: an entry of the register (a
    well-formed id when a record is checked again without one, where the store checks it)."""

    def __init__(self, dataset: str, register: _RegisterView | None) -> None:
        self.dataset = dataset
        self.register = register

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, str) or not ENTITY_ID.fullmatch(value):
            return False
        if self.register is None:
            return True
        entity = self.register.entity(self.dataset, value)
        return entity is not None and entity.exists

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


# ---- typed values <-> instance text -----------------------------------------------------


def _normalise(value: str) -> str:
    # Full-width digits and punctuation from Chinese input methods become ASCII.
    return unicodedata.normalize("NFKC", value).strip()


def canonical_text(item: Item, value: Any) -> str:
    """The instance text for an answer typed or tapped by a resident ('' for no answer)."""
    if value is None:
        return ""
    kind = item.kind
    if kind == "integer":
        if isinstance(value, bool):
            raise AnswerError("integer")
        if isinstance(value, int):
            number = value
        else:
            text = _normalise(str(value))
            if text == "":
                return ""
            if INTEGER.fullmatch(text):
                number = int(text)
            else:  # as people write it: 1万, 两千, 800元; anything else is refused
                written = written_number(text)
                if written is None or written != written.to_integral_value():
                    raise AnswerError("integer")
                number = int(written)
        if abs(number) >= INTEGER_LIMIT:
            raise AnswerError("integer_range")
        return str(number)
    if kind == "decimal":
        if isinstance(value, bool):
            raise AnswerError("decimal")
        if isinstance(value, int | float):
            number = float(value)
        else:
            text = _normalise(str(value))
            if text == "":
                return ""
            if DECIMAL.fullmatch(text):
                number = float(text)
            else:
                written = written_number(text)
                if written is None:
                    raise AnswerError("decimal")
                number = float(written)
        if math.isnan(number) or math.isinf(number):
            raise AnswerError("decimal")
        if abs(number) >= DECIMAL_LIMIT:
            raise AnswerError("number_range")
        return format_number(number)
    if kind == "date":
        if isinstance(value, dt.datetime):
            return value.date().isoformat()
        if isinstance(value, dt.date):
            return value.isoformat()
        text = _normalise(str(value))
        if text == "":
            return ""
        day = parse_date(text)
        if day is None:
            raise AnswerError("date")
        return day.isoformat()
    if kind == "select_one":
        text = str(value).strip()
        if len(text.split()) > 1:
            raise AnswerError("choice")
        return text
    if kind == "select_multiple":
        if isinstance(value, str):
            parts = value.split()
        elif isinstance(value, list | tuple | set | frozenset):
            parts = [str(part) for part in value]
        else:  # a number or a flag is no list of choices (and must not crash the screen)
            raise AnswerError("type")
        unique = list(dict.fromkeys(part.strip() for part in parts if str(part).strip()))
        return " ".join(unique)
    if kind == "acknowledge":
        if value is True or str(value).strip().upper() in ("OK", "TRUE", "YES", "1"):
            return ACKNOWLEDGED
        if value is False or str(value).strip() == "":
            return ""
        raise AnswerError("acknowledge")
    # text, calculate and metadata keep what they are given, within bounds
    text = str(value) if not isinstance(value, str) else value.strip()
    return bounded_text(item, text)


def bounded_text(item: Item, text: str) -> str:
    """``text`` as the answer of a text question, a calculate or a metadata field, or
    AnswerError: no refused characters (a newline only in a multiline text). Its length is
    checked after the form's own constraint, whose message says it better
    (``length_limit``)."""
    multiline = item.kind != "text" or "multiline" in item.appearance.split()
    if (REFUSED_IN_MULTILINE if multiline else REFUSED_IN_LINE).search(text):
        raise AnswerError("text")
    return text


def length_limit(item: Item) -> int | None:
    """The most characters an answer may have (text questions, calculates, metadata)."""
    if item.kind == "text":
        return TEXT_LIMIT
    if item.kind in ("calculate", "start", "end", "today"):
        return CALCULATE_LIMIT
    return None


def strict_text(item: Item, value: Any) -> str:
    """The instance text for a value read from JSON, where types must already be right."""
    if value is None:
        return ""
    kind = item.kind
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise AnswerError("integer")
        if isinstance(value, float) and not value.is_integer():
            raise AnswerError("integer")
        return canonical_text(item, int(value))
    if kind == "decimal":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise AnswerError("decimal")
        return canonical_text(item, value)
    if kind == "select_multiple":
        if not isinstance(value, list) or not all(isinstance(part, str) for part in value):
            raise AnswerError("type")
        if any(not part or part != part.strip() or " " in part for part in value):
            raise AnswerError("choice")
        return canonical_text(item, value)
    if kind == "acknowledge":
        if value is True or value == ACKNOWLEDGED:
            return ACKNOWLEDGED
        raise AnswerError("acknowledge")
    if kind == "calculate":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return format_number(float(value))
        if not isinstance(value, str):
            raise AnswerError("type")
        return value
    if not isinstance(value, str):
        raise AnswerError("text" if kind == "text" else "type")
    if kind == "date":
        if parse_date(value) is None or value.strip() != value:
            raise AnswerError("date")
        return value
    if kind in ("start", "end"):
        if parse_datetime(value) is None:
            raise AnswerError("type")
        return value
    if kind == "select_one":
        if value != value.strip() or " " in value:
            raise AnswerError("choice")
        return value
    # A refused character is refused where it stands, even at an edge that strip would drop
    return canonical_text(item, bounded_text(item, value))


def typed_value(item: Item, text: str) -> Any:
    """The JSON value of an instance text: numbers as numbers, multi-selects as lists."""
    if not text:
        return None
    kind = item.kind
    if kind == "integer":
        return int(text)
    if kind == "decimal":
        number = string_to_number(text)
        return number if not math.isnan(number) else text
    if kind == "select_multiple":
        return text.split()
    return text


# ---- repeat groups ----------------------------------------------------------------------
#
# Repeat groups in a FormSession: a household's members, one instance each.
#
# ``FormSession(form)`` gives a ``RepeatSession`` when the form has repeats (forms without them
# keep the plain code path). The instance is the ODK one: each repeat instance is an element of
# the lxml tree, so ``count(${members})``, ``sum(${age})``, ``position(..)`` and
# ``indexed-repeat()`` are XPath over real nodes, and ``${name}`` inside a repeat was compiled to
# a path relative to the item (the same instance's sibling), as pyxform writes it.
#
# An item inside repeats is addressed by its place, outermost first, 1-based:
# ``members[2].age``; nested ``members[2].kids[1].name``; an instance ``members[2]``; a repeat
# within an instance ``members[2].kids``. A plain name inside a repeat means the instance on the
# current screen. Internally a *slot* is (name, indices) with 0-based indices.
#
# Drafts keep every answer by its place, and each repeat's number of instances under its place
# followed by ``#`` (``members#``: "3"), which no name can hold.

Indices = tuple[int, ...]
Slot = tuple[str, Indices]
COUNT_SUFFIX = "#"
_STEP = re.compile(r"([A-Za-z_][\w\-]*)(?:\[(\d{1,6})\])?")


def address(form: Form, name: str, indices: Indices) -> str:
    """The place of a slot: ``members[2].age`` (1-based); a repeat given its parent's
    indices only is the repeat within that instance (``members[2].kids``)."""
    chain = form.repeat_chain.get(name, ())
    parts = [f"{repeat}[{index + 1}]" for repeat, index in zip(chain, indices, strict=False)]
    if len(indices) < len(chain) or name not in form.repeats:
        parts.append(name)
    return ".".join(parts)


def parse_address(form: Form, text: str) -> Slot | None:
    """(name, 0-based indices) of a place, or None when it names nothing in the form. A
    repeat without its own index (``members``, ``members[1].kids``) has its parent's."""
    if not isinstance(text, str) or len(text) > 400:
        return None
    steps = text.split(".")
    names: list[str] = []
    indices: list[int] = []
    for position, step in enumerate(steps):
        match = _STEP.fullmatch(step)
        if match is None:
            return None
        names.append(match.group(1))
        if match.group(2) is not None:
            number = int(match.group(2))
            if number < 1:
                return None
            indices.append(number - 1)
        elif position < len(steps) - 1:
            return None
    name = names[-1]
    if name not in form.by_name:
        return None
    if len(steps) == 1 and not indices:
        return name, ()  # a plain name: the caller knows which instance
    chain = form.repeat_chain[name]
    indexed = names if len(indices) == len(names) else names[:-1]
    if name in form.repeats and len(indices) == len(names):
        if tuple(names) != chain:
            return None
    elif tuple(indexed) != (chain if name not in form.repeats else chain[:-1]):
        return None
    return name, tuple(indices)


class RepeatSession(FormSession):
    """FormSession for a form with repeat groups (see the module's notes)."""

    # ---- set-up ------------------------------------------------------------------------

    def __init__(self, form: Form, language: str | None = None, **kwargs: Any) -> None:
        self._layouts = _layouts(form)
        self._scope_members = _scope_members(form)
        self.slots: dict[Slot, etree._Element] = {}
        self.markers: dict[Slot, etree._Element] = {}
        self._slots_by_name: dict[str, list[Indices]] = {}
        self._walk: list[tuple[Screen, Indices]] = []
        self._pinned_slots: set[Slot] = set()
        self.slot_relevance: dict[Slot, bool] = {}
        super().__init__(form, language, **kwargs)

    # ---- the instance's structure ---------------------------------------------------------

    def _index(self) -> None:
        """Rebuild the slot and marker tables and the walk from the tree (after instances
        were added or removed)."""
        slots: dict[Slot, etree._Element] = {}
        markers: dict[Slot, etree._Element] = {}
        by_name: dict[str, list[Indices]] = {}

        def scope(nodes: Mapping[str, etree._Element], indices: Indices,
                  own: str | None) -> None:
            for name, element in nodes.items():
                if name == own:
                    continue
                if name in self.form.repeats:
                    markers[(name, indices)] = element
                    tag = self.form.repeats[name].path.rsplit("/", 1)[-1]
                    parent = element.getparent()
                    instances = [child for child in parent if child.tag == tag]
                    for number, instance in enumerate(instances):
                        here = (*indices, number)
                        slots[(name, here)] = instance
                        by_name.setdefault(name, []).append(here)
                        scope(self._instance_nodes(name, instance), here, name)
                else:
                    slots[(name, indices)] = element
                    by_name.setdefault(name, []).append(indices)

        scope(self.nodes, (), None)
        self.slots, self.markers, self._slots_by_name = slots, markers, by_name
        self._walk = self._build_walk()

    def _instance_nodes(self, repeat: str, instance: etree._Element) -> dict[str, Any]:
        nodes: dict[str, Any] = {}
        for name, steps, is_marker in self._layouts[repeat]:
            element = instance
            for tag in steps:
                element = element.find(tag)
            if is_marker:
                element = next(child for child in element
                               if not isinstance(child.tag, str) and child.text == name)
            else:
                element = element.find(name_tag(self.form, name))
            nodes[name] = element
        return nodes

    def instances(self, repeat: str, parent: Indices = ()) -> int:
        """How many instances a repeat has (within the instance ``parent`` of the repeats
        around it)."""
        marker = self.markers.get((repeat, parent))
        if marker is None:
            return 0
        tag = self.form.repeats[repeat].path.rsplit("/", 1)[-1]
        return sum(1 for child in marker.getparent() if child.tag == tag)

    def total_instances(self) -> int:
        """Instances of every repeat, nested ones too."""
        return sum(len(self._slots_by_name.get(name, ())) for name in self.form.repeats)

    def instance_count(self, place: str) -> int:
        """How many instances the repeat at ``place`` has (``members``,
        ``members[2].kids``); 0 for a place that names no repeat."""
        slot = self._repeat_place(place)
        return self.instances(*slot) if slot else 0

    def is_fixed(self, repeat: str) -> bool:
        """True when the form's repeat_count sets the number of instances."""
        return self.form.expression(self.form.repeats[repeat], "repeat_count") is not None

    def _repeat_place(self, place: str) -> Slot | None:
        slot = parse_address(self.form, place)
        if slot is None or slot[0] not in self.form.repeats:
            return None
        name, indices = slot
        if len(indices) != len(self.form.repeat_chain[name]) - 1:
            return None
        if (name, indices) not in self.markers:
            return None
        return name, indices

    def _append(self, repeat: str, parent: Indices) -> None:
        element, _nodes = self.form.new_repeat_instance(self.form.repeats[repeat])
        self.markers[(repeat, parent)].addprevious(element)

    def _drop(self, repeat: str, parent: Indices, number: int) -> None:
        self.slots[(repeat, (*parent, number))].getparent().remove(
            self.slots[(repeat, (*parent, number))])

    def add_instance(self, place: str) -> list[Problem]:
        """Add an instance at the end of the repeat at ``place`` (再添加一位). Refused when
        the form sets the number, the repeat is full or not relevant here."""
        slot = self._repeat_place(place)
        if slot is None:
            return [self._problem(place, "unknown")]
        repeat, parent = slot
        if self.is_fixed(repeat):
            return [self._problem(place, "repeat_fixed")]
        if self.instances(repeat, parent) >= REPEAT_LIMIT:
            return [self._problem(place, "repeat_limit")]
        if self.total_instances() >= REPEAT_TOTAL_LIMIT:
            return [self._problem(place, "repeat_total")]
        owner = self.form.repeats[repeat].parent
        if owner is not None and not self.slot_relevance.get(
                (owner, parent[:len(self.form.repeat_chain[owner])]), True):
            return [self._problem(place, "not_relevant")]
        here = self._here()
        self._append(repeat, parent)
        self._index()
        self._recompute()
        added = (repeat, (*parent, self.instances(repeat, parent) - 1))
        if not self.slot_relevance.get(added, True):
            # The repeat's own relevance is written for an instance: tried on the new one.
            self._drop(repeat, parent, added[1][-1])
            self._forget_below(added)
            self._index()
            self._recompute()
            self._return_to(here)
            return [self._problem(place, "not_relevant")]
        self._return_to(here)
        return []

    def remove_instance(self, place: str) -> list[Problem]:
        """Remove one instance (删除这一位): ``members[2]``; the later ones move up."""
        slot = parse_address(self.form, place)
        if (slot is None or slot[0] not in self.form.repeats
                or len(slot[1]) != len(self.form.repeat_chain[slot[0]])):
            return [self._problem(place, "unknown")]
        repeat, indices = slot
        if slot not in self.slots:
            return [self._problem(place, "no_instance")]
        if self.is_fixed(repeat):
            return [self._problem(place, "repeat_fixed")]
        here = self._here()
        self._drop(repeat, indices[:-1], indices[-1])
        self._forget_below(slot)
        self._index()
        self._recompute()
        self._return_to(here, removed=slot)
        return []

    def _forget_below(self, slot: Slot) -> None:
        """Relevance remembered for an instance's slots belongs to the instances after it
        once it goes: forget it, so defaults and relevance are worked out afresh."""
        name, indices = slot
        depth = len(indices)
        chain_of = self.form.repeat_chain
        for key in list(self.slot_relevance):
            other, other_indices = key
            chain = chain_of[other]
            if (len(chain) >= depth and chain[depth - 1] == name
                    and other_indices[:depth - 1] == indices[:-1]
                    and other_indices[depth - 1] >= indices[-1]):
                del self.slot_relevance[key]

    # ---- values ---------------------------------------------------------------------------

    def _slot(self, place: str) -> Slot | None:
        """The slot of a place; a plain name inside a repeat means the current screen's
        instance."""
        slot = parse_address(self.form, place)
        if slot is None:
            return None
        name, indices = slot
        depth = len(self.form.repeat_chain[name])
        if len(indices) < depth and "[" not in place:
            indices = self._current_indices()[:depth]
        return (name, indices) if (name, indices) in self.slots else None

    def _current_indices(self) -> Indices:
        if self.at_end:
            return ()
        return self._walk[self.position][1]

    def raw(self, name: str) -> str:
        slot = self._slot(name)
        if slot is None:
            raise KeyError(name)
        return self.slots[slot].text or ""

    def value(self, name: str) -> Any:
        slot = self._slot(name)
        if slot is None:
            raise KeyError(name)
        return typed_value(self.form.by_name[slot[0]], self.slots[slot].text or "")

    def is_relevant(self, name: str) -> bool:
        slot = self._slot(name)
        return self.slot_relevance.get(slot, True) if slot else True

    def answers(self) -> dict[str, Any]:
        """Relevant, non-empty values in form order; a repeat as a list of objects, one per
        instance (an instance that is not relevant is an empty object, so that the places
        of the others stay as they were)."""
        return self._collect(None, ())

    def _collect(self, scope: str | None, indices: Indices) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for item in self._scope_members[scope]:
            if item.is_repeat:
                entries = []
                for number in range(self.instances(item.name, indices)):
                    here = (*indices, number)
                    relevant = self.slot_relevance.get((item.name, here), True)
                    entries.append(self._collect(item.name, here) if relevant else {})
                if entries:
                    result[item.name] = entries
                continue
            slot = (item.name, indices)
            text = self.slots[slot].text
            if text and self.slot_relevance.get(slot, True):
                result[item.name] = typed_value(item, text)
        return result

    # ---- answering --------------------------------------------------------------------------

    def answer(self, name: str, value: Any) -> list[Problem]:
        slot = self._slot(name)
        if slot is None:
            return [self._problem(name, "unknown")]
        item = self.form.by_name[slot[0]]
        place = address(self.form, *slot)
        if not item.answerable:
            return [self._problem(place, "not_answerable")]
        if not self.slot_relevance.get(slot, True):
            return [self._problem(place, "not_relevant")]
        if self._read_only_at(item, slot):
            return [self._problem(place, "read_only")]
        try:
            text = self._canonical_at(item, slot, value)
        except AnswerError as error:
            return [self._problem(place, error.code)]
        node = self.slots[slot]
        if (node.text or "") == text:
            problem = self._constraint_at(item, slot) if text else None
            return [problem] if problem else []
        # What to put back should the form's constraint refuse the answer (an answer no
        # constraint or length limit can refuse needs none: most choices on a long form).
        refusable = bool(text) and (self.form.expression(item, "constraint") is not None
                                    or length_limit(item) is not None)
        before, relevance_before = ((self._texts(), dict(self.slot_relevance)) if refusable
                                    else ({}, {}))
        here = self._here()
        node.text = text or None
        self._recompute()
        if refusable and slot in self.slots:
            problem = self._constraint_at(item, slot)
            if problem is not None:
                self._load_raw(before)
                self.slot_relevance = relevance_before
                self._recompute()
                self._return_to(here)
                return [problem]
        self._return_to(here)
        return []

    def _canonical_at(self, item: Item, slot: Slot, value: Any) -> str:
        text = canonical_text(item, value)
        if text and item.kind in ("select_one", "select_multiple"):
            allowed = self._allowed_at(item, slot)
            if any(part not in allowed for part in text.split()):
                raise AnswerError(_choice_code(item))
            if item.kind == "select_multiple":
                text = self._in_choice_order(item, text)
        return text

    def _texts(self) -> dict[str, str]:
        texts: dict[str, str] = {}
        for slot, element in self.slots.items():
            name = slot[0]
            if name in self.form.repeats:
                continue
            if element.text:
                # (outside repeats a place is the name itself)
                texts[address(self.form, *slot) if slot[1] else name] = element.text
        for (repeat, parent) in self.markers:
            count = self.instances(repeat, parent)
            if count:
                texts[address(self.form, repeat, parent) + COUNT_SUFFIX] = str(count)
        return texts

    def _load_raw(self, raw: Mapping[str, str]) -> None:
        """Rebuild the instance from places and texts (a draft, a refused answer undone):
        the instances first, as many as the counts or places need, then the texts."""
        self._generation += 1
        for marker_slot, marker in list(self.markers.items()):
            if marker_slot[1]:
                continue
            tag = self.form.repeats[marker_slot[0]].path.rsplit("/", 1)[-1]
            for child in [child for child in marker.getparent() if child.tag == tag]:
                child.getparent().remove(child)
        for name, node in self.nodes.items():
            if name not in self.form.repeats:
                node.text = None
        self._index()
        wanted: dict[Slot, int] = {}
        values: dict[Slot, str] = {}
        for key, text in raw.items():
            if not isinstance(key, str) or not isinstance(text, str):
                continue
            if key.endswith(COUNT_SUFFIX):
                slot = parse_address(self.form, key[:-1])
                if slot and slot[0] in self.form.repeats and \
                        len(slot[1]) == len(self.form.repeat_chain[slot[0]]) - 1:
                    number = string_to_number(text)
                    if not math.isnan(number):
                        wanted[slot] = max(wanted.get(slot, 0), int(number))
                continue
            slot = parse_address(self.form, key)
            if slot is None or slot[0] in self.form.repeats or \
                    len(slot[1]) != len(self.form.repeat_chain[slot[0]]):
                continue
            values[slot] = text
            chain = self.form.repeat_chain[slot[0]]
            for depth, repeat in enumerate(chain):
                need = (repeat, slot[1][:depth])
                wanted[need] = max(wanted.get(need, 0), slot[1][depth] + 1)
        added = 0
        for depth in range(max((len(self.form.repeat_chain[name]) for name in
                                self.form.repeats), default=0)):
            for (repeat, parent), count in sorted(wanted.items()):
                if len(parent) != depth or (repeat, parent) not in self.markers:
                    continue
                room = REPEAT_TOTAL_LIMIT - added
                more = min(count, REPEAT_LIMIT) - self.instances(repeat, parent)
                for _ in range(max(0, min(more, room))):
                    self._append(repeat, parent)
                    added += 1
            self._index()
        for slot, text in values.items():
            if slot in self.slots:
                self.slots[slot].text = text or None

    # ---- what a screen shows ------------------------------------------------------------------

    @property
    def at_end(self) -> bool:
        return self.position >= len(self._walk)

    @property
    def end_position(self) -> int:
        return len(self._walk)

    @property
    def screen(self) -> ScreenView | None:
        if self.at_end:
            return None
        screen, indices = self._walk[self.position]
        return self.view(screen, indices)

    def view(self, screen: Screen, indices: Indices | None = None) -> ScreenView:
        indices = self._current_indices() if indices is None else indices
        questions = []
        for item in screen.items:
            slot = self._slot_in(item, indices)
            if slot is not None and self.slot_relevance.get(slot, True):
                questions.append(self.question_view(item, indices))
        title_item = screen.group
        if title_item is None and screen.items[0].parent:
            title_item = self.form.by_name[screen.items[0].parent]
        title = (self._render_at(self.form.text(title_item.label, self.language),
                                 title_item, indices) if title_item else "")
        return ScreenView(index=screen.index, title=title, questions=questions,
                          instance=indices)

    def _slot_in(self, item: Item, indices: Indices) -> Slot | None:
        slot = (item.name, indices[:len(self.form.repeat_chain[item.name])])
        return slot if slot in self.slots else None

    def question_view(self, item: Item, indices: Indices | None = None) -> QuestionView:
        indices = self._current_indices() if indices is None else indices
        slot = self._slot_in(item, indices)
        text = (self.slots[slot].text or "") if slot else ""
        return QuestionView(
            item=item,
            label=self._render_at(self.form.text(item.label, self.language), item, indices)
            or item.name,
            hint=self._render_at(self.form.text(item.hint, self.language), item, indices),
            required=bool(slot) and self._required_at(item, slot),
            read_only=bool(slot) and self._read_only_at(item, slot),
            value=typed_value(item, text) if item.has_value else None,
            choices=[ChoiceView(choice.name, self.form.text(choice.label, self.language))
                     for choice in (self._choices_at(item, slot) if slot else [])],
            address=address(self.form, *slot) if slot else item.name,
        )

    def label(self, item: Item) -> str:
        return self._render_at(self.form.text(item.label, self.language), item,
                               self._current_indices()) or item.name

    def render(self, text: str) -> str:
        screen_item = None if self.at_end else self._walk[self.position][0].items[0]
        return self._render_at(text, screen_item, self._current_indices())

    def _render_at(self, text: str, item: Item | None, indices: Indices) -> str:
        if "${" not in text:
            return text
        return re.sub(r"\$\{([^}]*)\}",
                      lambda match: self._display_at(match.group(1).strip(), item, indices),
                      text)

    def display(self, name: str) -> str:
        screen_item = None if self.at_end else self._walk[self.position][0].items[0]
        return self._display_at(name, screen_item, self._current_indices())

    def _display_at(self, name: str, context: Item | None, indices: Indices) -> str:
        item = self.form.by_name.get(name)
        if item is None or not item.has_value:
            return ""
        slot = self._nearest(name, context, indices)
        text = (self.slots[slot].text or "") if slot else ""
        if item.entity_list is not None and text:
            entity = self.entities.entity(item.entity_list, text) if self.entities else None
            return entity.label if entity is not None and entity.label else text
        if item.kind in ("select_one", "select_multiple") and text:
            labels = []
            for part in text.split():
                choice = self.form.choice(item, part)
                labels.append(self.form.text(choice.label, self.language) if choice else part)
            return "、".join(labels)
        return text

    def _nearest(self, name: str, context: Item | None, indices: Indices) -> Slot | None:
        """The slot ``${name}`` means from an item's instance: the same instance for a
        sibling, the one outside for an item outside; None for an item in another repeat
        (it has many values)."""
        target = self.form.repeat_chain[name]
        mine = self.form.repeat_chain[context.name] if context else ()
        if target != mine[:len(target)]:
            return None
        slot = (name, indices[:len(target)])
        return slot if slot in self.slots else None

    def choices(self, item: Item) -> list[Choice]:
        slot = self._slot_in(item, self._current_indices())
        return self._choices_at(item, slot) if slot else self.form.choices_for(item)

    def _choices_at(self, item: Item, slot: Slot) -> list[Choice]:
        expression = self.form.expression(item, "choice_filter")
        if expression is None:
            return self.form.choices_for(item)
        values = {}
        for name in sorted(expression.references):
            near = self._nearest(name, item, slot[1])
            values[name] = (self.slots[near].text or "") if near else ""
        return self.form.filtered_choices(item, expression, values)

    def allowed_choice_names(self, item: Item) -> Collection[str]:
        slot = self._slot_in(item, self._current_indices())
        return self._allowed_at(item, slot) if slot else self.form.choice_names(item)

    def _allowed_at(self, item: Item, slot: Slot) -> Collection[str]:
        if item.entity_list is not None:  # never inside a repeat (the compiler refuses it)
            return _EntityIds(item.entity_list, self.entities)
        if self.form.expression(item, "choice_filter") is None:
            return self.form.choice_names(item)
        return {choice.name for choice in self._choices_at(item, slot)}

    def progress(self) -> tuple[int, int]:
        if self._counted[0] == self._generation:
            return self._counted[1]
        answered = relevant = 0
        for slot, element in self.slots.items():
            if self.form.by_name[slot[0]].answerable and self.slot_relevance.get(slot, True):
                relevant += 1
                if element.text:
                    answered += 1
        self._counted = (self._generation, (answered, relevant))
        return answered, relevant

    # ---- navigation ------------------------------------------------------------------------

    def _build_walk(self) -> list[tuple[Screen, Indices]]:
        """The screens in order, those inside a repeat once per instance."""
        def chain_of(screen: Screen) -> tuple[str, ...]:
            return self.form.repeat_chain[(screen.group or screen.items[0]).name]

        def walk(screens: list[Screen], prefix: Indices) -> list[tuple[Screen, Indices]]:
            out: list[tuple[Screen, Indices]] = []
            depth = len(prefix)
            index = 0
            while index < len(screens):
                chain = chain_of(screens[index])
                if len(chain) <= depth:
                    out.append((screens[index], prefix))
                    index += 1
                    continue
                repeat = chain[depth]
                end = index
                while end < len(screens):
                    other = chain_of(screens[end])
                    if len(other) <= depth or other[depth] != repeat:
                        break
                    end += 1
                for number in range(self.instances(repeat, prefix)):
                    out.extend(walk(screens[index:end], (*prefix, number)))
                index = end
            return out

        return walk(self.form.screens, ())

    def _here(self) -> tuple[int, Indices] | None:
        if self.at_end:
            return None
        screen, indices = self._walk[self.position]
        return screen.index, indices

    def _return_to(self, here: tuple[int, Indices] | None,
                   removed: Slot | None = None) -> None:
        """After the walk changed: stay on the same screen of the same instance, or where
        it stood when that instance went."""
        if here is None:
            self.position = len(self._walk)
            return
        for position, (screen, indices) in enumerate(self._walk):
            if (screen.index, indices) == here:
                self.position = position
                return
        self.position = min(self.position, len(self._walk))
        if not self.at_end:
            self.position = self._next_relevant(self.position)

    def screen_relevant(self, screen: Screen, indices: Indices | None = None) -> bool:
        indices = self._current_indices() if indices is None else indices
        if screen.group is not None:
            slot = self._slot_in(screen.group, indices)
            if slot is None or not self.slot_relevance.get(slot, True):
                return False
        for item in screen.items:
            slot = self._slot_in(item, indices)
            if slot is not None and self.slot_relevance.get(slot, True):
                return True
        return False

    def _next_relevant(self, start: int) -> int:
        for position in range(max(start, 0), len(self._walk)):
            if self.screen_relevant(*self._walk[position]):
                return position
        return len(self._walk)

    def _previous_relevant(self, start: int) -> int | None:
        for position in range(min(start, len(self._walk) - 1), -1, -1):
            if self.screen_relevant(*self._walk[position]):
                return position
        return None

    def screen_problems(self, index: int | None = None) -> list[Problem]:
        position = self.position if index is None else index
        if position >= len(self._walk):
            return []
        screen, indices = self._walk[position]
        problems = []
        for item in screen.items:
            slot = self._slot_in(item, indices)
            if slot is not None:
                problems.extend(self._problems_at(item, slot))
        return problems

    def go_to(self, name: str) -> None:
        """Jump to the screen holding a question, a group or an instance (by place)."""
        slot = parse_address(self.form, name)
        if slot is None:
            raise KeyError(name)
        wanted, indices = slot
        explicit = "[" in name
        for position, (screen, here) in enumerate(self._walk):
            names = {screen.name, *(item.name for item in screen.items)}
            if screen.group is not None:
                names.add(screen.group.name)
            # an instance (members[2]), or a repeat's first instance (members)
            chain = self.form.repeat_chain[(screen.group or screen.items[0]).name]
            inside = (wanted in self.form.repeats and wanted in chain
                      and len(indices) >= chain.index(wanted)
                      and here[:len(indices)] == indices)
            if inside or (wanted in names and (not explicit or here[:len(indices)] == indices)):
                self.position = position
                return
        raise KeyError(name)

    @property
    def is_last(self) -> bool:
        return not self.at_end and self._next_relevant(self.position + 1) >= len(self._walk)

    # ---- validation and finishing ---------------------------------------------------------

    def problems(self) -> list[Problem]:
        found = []
        for item in self.form.items:
            if not item.answerable:
                continue
            for indices in self._slots_by_name.get(item.name, ()):
                found.extend(self._problems_at(item, (item.name, indices)))
        return found

    def _problems_at(self, item: Item, slot: Slot) -> list[Problem]:
        if not item.answerable or not self.slot_relevance.get(slot, True):
            return []
        text = self.slots[slot].text
        place = address(self.form, *slot)
        if not text:
            if self._required_at(item, slot):
                message = self.form.text(item.required_message, self.language)
                return [Problem(place, "required", self._render_at(message, item, slot[1])
                                or builtin_message("required", self.language))]
            return []
        if item.kind in ("select_one", "select_multiple"):
            allowed = self._allowed_at(item, slot)
            if any(part not in allowed for part in text.split()):
                return [self._problem(place, _choice_code(item))]
        problem = self._constraint_at(item, slot)
        return [problem] if problem else []

    def finish(self, completed: dt.datetime | None = None) -> Submission:
        problems = self.problems()
        if problems:
            self.go_to(problems[0].question)
            raise FormIncomplete(problems)
        moment = format_datetime(completed or now_local())
        for item in self.form.value_items:
            if item.kind == "end":
                for indices in self._slots_by_name.get(item.name, ()):
                    self.slots[(item.name, indices)].text = moment
        return Submission(
            instance_id=self.instance_id, survey=self.form.survey_id,
            version=self.form.version, started=self.started, completed=moment,
            lang=language_code(self.language), answers=self.answers(), kiosk=self.kiosk,
            enumerator=self.enumerator, entity=self.entity_block(),
        )

    def snapshot(self) -> dict[str, Any]:
        """As FormSession's, the answers by place and the screen by its instance's place
        (``members[2].age``)."""
        screen_place = None
        if not self.at_end:
            screen, indices = self._walk[self.position]
            screen_place = address(self.form, screen.name, indices[
                :len(self.form.repeat_chain[screen.name])])
        return {
            "instance_id": self.instance_id, "survey": self.form.survey_id,
            "version": self.form.version, "lang": self.language, "started": self.started,
            "enumerator": self.enumerator, "kiosk": self.kiosk, "screen": screen_place,
            "answers": self._texts(),
        }

    # ---- import ---------------------------------------------------------------------------

    def load_record(self, answers: Mapping[str, Any]) -> list[Problem]:
        """Check a whole record, a repeat as a list of objects (see FormSession)."""
        problems: list[Problem] = []
        raw: dict[str, str] = {}
        sent_counts: dict[str, int] = {}
        total = [0]  # instances read so far, all repeats together

        def read(scope: str | None, entry: Mapping[str, Any], prefix: str) -> None:
            members = {item.name: item for item in self._scope_members[scope]}
            for name, value in entry.items():
                if total[0] > REPEAT_TOTAL_LIMIT:
                    return  # said once, where it went over
                place = prefix + str(name)
                item = members.get(name)
                if item is None:
                    problems.append(self._problem(place, "unknown"))
                    continue
                if item.is_repeat:
                    if value is None:
                        continue
                    if not isinstance(value, list):
                        problems.append(self._problem(place, "repeat_type"))
                        continue
                    if len(value) > REPEAT_LIMIT:
                        problems.append(self._problem(place, "repeat_limit"))
                        continue
                    sent_counts[place] = len(value)
                    total[0] += len(value)
                    if total[0] > REPEAT_TOTAL_LIMIT:
                        problems.append(self._problem(place, "repeat_total"))
                        return
                    if value:
                        raw[place + COUNT_SUFFIX] = str(len(value))
                    for number, instance in enumerate(value):
                        here = f"{place}[{number + 1}]"
                        if not isinstance(instance, dict):
                            problems.append(self._problem(here, "repeat_entry"))
                            continue
                        read(name, instance, here + ".")
                    continue
                self._read_answer(item, place, value, raw, problems)

        read(None, answers, "")
        if problems:
            return problems
        self._load_raw(raw)
        self.slot_relevance = {}
        sent = {}
        for place, text in raw.items():
            slot = parse_address(self.form, place)
            if slot and not place.endswith(COUNT_SUFFIX) and \
                    self.form.by_name[slot[0]].kind == "calculate":
                sent[slot] = text
        self._pinned_slots = {slot for slot in sent
                              if self.form.depends_on_the_moment(slot[0])}
        self._recompute(clear=False)
        for place in raw:
            if place.endswith(COUNT_SUFFIX):
                continue
            slot = parse_address(self.form, place)
            if slot is None or slot not in self.slots:
                problems.append(self._problem(place, "repeat_count"))
            elif not self.slot_relevance.get(slot, True):
                problems.append(self._problem(place, "not_relevant"))
        for place, count in sent_counts.items():
            slot = parse_address(self.form, place)
            if slot is not None and self.instances(*slot) != count:
                problems.append(self._problem(place, "repeat_count"))
        for slot, text in sent.items():
            if slot not in self.slots:
                continue
            if slot in self._pinned_slots:
                if len(text) > CALCULATE_LIMIT:
                    problems.append(self._problem(address(self.form, *slot), "too_long"))
            elif (self.slots[slot].text or "") != text:
                problems.append(self._problem(address(self.form, *slot), "calculate"))
        if problems:
            return problems
        return self.problems()

    # ---- internals ------------------------------------------------------------------------

    def _constraint_at(self, item: Item, slot: Slot) -> Problem | None:
        node = self.slots[slot]
        expression = self.form.expression(item, "constraint")
        place = address(self.form, *slot)
        if expression is not None and not expression.as_boolean(node):
            message = self.form.text(item.constraint_message, self.language)
            return Problem(place, "constraint", self._render_at(message, item, slot[1])
                           or builtin_message("constraint", self.language))
        limit = length_limit(item)
        if limit is not None and len(node.text or "") > limit:
            return self._problem(place, "too_long")
        return None

    def _required_at(self, item: Item, slot: Slot) -> bool:
        expression = self.form.expression(item, "required")
        return expression is not None and expression.as_boolean(self.slots[slot])

    def _read_only_at(self, item: Item, slot: Slot) -> bool:
        expression = self.form.expression(item, "read_only")
        return expression is not None and expression.as_boolean(self.slots[slot])

    def _is_required(self, item: Item) -> bool:
        slot = self._slot_in(item, self._current_indices())
        return bool(slot) and self._required_at(item, slot)

    def _is_read_only(self, item: Item) -> bool:
        slot = self._slot_in(item, self._current_indices())
        return bool(slot) and self._read_only_at(item, slot)

    def _set_metadata(self) -> None:
        # Runs first in FormSession.__init__: the tables are built here.
        self._index()
        self.root.set(LANG_ATTRIBUTE, self.language)
        for item in self.form.value_items:
            if item.name not in self.nodes:
                continue  # metadata inside a repeat stays empty
            if item.kind == "start":
                self.nodes[item.name].text = self.started
            elif item.kind == "today":
                moment = parse_datetime(self.started)
                self.nodes[item.name].text = (moment or now_local()).date().isoformat()

    def _recompute(self, clear: bool = True) -> None:
        """Calculates, the number of instances a repeat_count sets, and relevance, until
        they settle."""
        self._generation += 1
        for _ in range(len(self.form.items) + 2):
            self._run_calculates()
            counted = self._apply_repeat_counts()
            if not self._update_relevance(clear) and not counted:
                return
        raise ExpressionError("relevance does not settle: the form's expressions form a loop")

    def _apply_repeat_counts(self) -> bool:
        changed = False
        for repeat in self.form.repeats.values():
            expression = self.form.expression(repeat, "repeat_count")
            if expression is None:
                continue
            for (name, parent), marker in list(self.markers.items()):
                if name != repeat.name:
                    continue
                number = string_to_number(expression.as_string(marker.getparent()))
                wanted = 0 if math.isnan(number) else max(0, min(int(number), REPEAT_LIMIT))
                have = self.instances(name, parent)
                wanted = min(wanted, have + REPEAT_TOTAL_LIMIT - self.total_instances())
                if wanted == have:
                    continue
                changed = True
                if wanted > have:
                    for _ in range(wanted - have):
                        self._append(name, parent)
                else:
                    for number_left in range(have - 1, wanted - 1, -1):
                        self._drop(name, parent, number_left)
                        self._forget_below((name, (*parent, number_left)))
                self._index()
        return changed

    def _run_calculates(self) -> None:
        for item in self.form.calculate_order:
            expression = self.form.expression(item, "calculate")
            assert expression is not None
            for indices in self._slots_by_name.get(item.name, ()):
                slot = (item.name, indices)
                if slot in self._pinned_slots or not self.slot_relevance.get(slot, True):
                    continue
                node = self.slots[slot]
                text = expression.as_string(node)
                if text == "NaN":
                    text = ""
                node.text = text or None

    def _update_relevance(self, clear: bool) -> bool:
        cleared = False
        relevance = self.slot_relevance
        form = self.form
        chain_of = form.repeat_chain
        for item in form.items:
            expression = form.expression(item, "relevant")
            parent = item.parent
            parent_depth = len(chain_of[parent]) if parent is not None else 0
            for indices in self._slots_by_name.get(item.name, ()):
                slot = (item.name, indices)
                parent_ok = relevance.get((parent, indices[:parent_depth]), True) \
                    if parent is not None else True
                node = self.slots[slot]
                if parent_ok:
                    now = expression.as_boolean(node) if expression is not None else True
                else:
                    now = False
                before = relevance.get(slot)
                relevance[slot] = now
                if not item.has_value:
                    continue
                if not now:
                    if node.text is not None and (clear or (slot not in self._pinned_slots
                                                  and item.kind == "calculate")):
                        node.text = None
                        cleared = True
                elif (before is not True and self._apply_defaults and not node.text
                      and self._default_at(item, node)):
                    cleared = True
                if now and clear and node.text and form.expression(item, "choice_filter"):
                    allowed = self._allowed_at(item, slot)
                    kept = [part for part in node.text.split() if part in allowed]
                    if len(kept) != len(node.text.split()):
                        node.text = " ".join(kept) or None
                        cleared = True
        return cleared

    def _default_at(self, item: Item, node: Any) -> bool:
        expression = self.form.expression(item, "default")
        if expression is None:
            return False
        try:
            text = canonical_text(item, expression.as_string(node))
        except AnswerError:
            return False
        node.text = text or None
        return bool(text)


def name_tag(form: Form, name: str) -> str:
    return form.by_name[name].path.rsplit("/", 1)[-1]


def _layouts(form: Form) -> dict[str, list[tuple[str, tuple[str, ...], bool]]]:
    """For each repeat, the items directly in one instance: (name, the tags of the groups
    between the instance and the item, whether it is a nested repeat's marker)."""
    layouts: dict[str, list[tuple[str, tuple[str, ...], bool]]] = {}
    for repeat in form.repeats.values():
        steps: dict[str, tuple[str, ...]] = {repeat.name: ()}
        entries = []
        for item in form.items:
            if item.parent not in steps or item.name == repeat.name:
                continue
            here = steps[item.parent]
            entries.append((item.name, here, item.is_repeat))
            if item.is_group and not item.is_repeat:
                steps[item.name] = (*here, name_tag(form, item.name))
        layouts[repeat.name] = entries
    return layouts


def _scope_members(form: Form) -> dict[str | None, list[Item]]:
    """Value items and repeats directly in each scope (the form, or a repeat's instance),
    groups looked through, in form order: the keys of one object of the answers."""
    members: dict[str | None, list[Item]] = {None: []}
    for repeat in form.repeats:
        members[repeat] = []
    for item in form.items:
        chain = form.repeat_chain[item.name]
        if item.is_repeat:
            members[chain[-2] if len(chain) > 1 else None].append(item)
        elif item.has_value:
            members[chain[-1] if chain else None].append(item)
    return members

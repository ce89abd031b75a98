"""FormSession: one resident (or one imported record) going through one form.

The session owns an ODK-style instance (an lxml tree, one node per question) and keeps it
consistent after every change: calculates are recomputed, relevance is re-evaluated and the
answers of questions that stopped being relevant are cleared. Screens, bulk import, field
mode and the browser all drive the form through this class; it knows nothing of any UI.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from surveys.clock import format_datetime, now_local
from surveys.expressions import (
    LANG_ATTRIBUTE,
    ExpressionError,
    format_number,
    parse_date,
    parse_datetime,
    string_to_number,
)
from surveys.form import Choice, Form, Item, Screen, language_code
from surveys.numbers import written_number

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
}
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


class FormSession:
    """Answers, relevance, validation and navigation for one run through a form."""

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
    ) -> None:
        self.form = form
        self.language = form.resolve_language(language)
        self.instance_id = instance_id or str(uuid.uuid4())
        moment = started or now_local()
        self.started = moment if isinstance(moment, str) else format_datetime(moment)
        self.enumerator = enumerator
        self.kiosk = kiosk
        self.root, self.nodes = form.new_instance()
        self.root.set(LANG_ATTRIBUTE, self.language)
        self.relevance: dict[str, bool] = {}
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
                raise AnswerError("choice")
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

    def allowed_choice_names(self, item: Item) -> set[str] | frozenset[str]:
        if self.form.expression(item, "choice_filter") is None:
            return self.form.choice_names(item)
        return {choice.name for choice in self.choices(item)}

    def progress(self) -> tuple[int, int]:
        """(answered, relevant) over the questions a resident answers."""
        answered = relevant = 0
        for item in self.form.items:
            if item.answerable and self.is_relevant(item.name):
                relevant += 1
                if self.nodes[item.name].text:
                    answered += 1
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
                return [self._problem(item.name, "choice")]
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
            enumerator=self.enumerator,
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
    def restore(cls, form: Form, snapshot: Mapping[str, Any]) -> FormSession:
        """Resume a session from its snapshot (an interrupted draft)."""
        session = cls(form, snapshot.get("lang"), instance_id=snapshot["instance_id"],
                      started=snapshot.get("started"), enumerator=snapshot.get("enumerator"),
                      kiosk=snapshot.get("kiosk"), apply_defaults=False)
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
            session.position = len(form.screens)
        return session

    # ---- import ------------------------------------------------------------------------

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
            if not item.has_value:
                if value not in (None, ""):
                    problems.append(self._problem(name, "not_answerable"))
                continue
            try:
                text = strict_text(item, value)
                if NOT_XML.search(text):
                    raise AnswerError("type")
            except AnswerError as error:
                problems.append(self._problem(name, error.code))
                continue
            if text:
                raw[name] = (self._in_choice_order(item, text)
                             if item.kind == "select_multiple" else text)
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

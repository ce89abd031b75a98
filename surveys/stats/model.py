"""What the statistics are made of: the kinds of question they summarise, a question across
every version of its survey (``catalogue``), the repeat groups (``repeat_groups``), the
filters, the counts a store hands over (``Tallies``) and what a store must answer
(``StatsStore``).

A question inside a repeat group (issue 16) is counted per instance (each household member,
each visit): its ``repeat`` is the path of repeats around it, outermost first, and a store
counts it from the instances at that path of each submission's answers (a list of objects;
an element that is not an object is an instance with no answers).

This package holds no SQL and imports neither the store nor any UI; the stores
(store/sqlite, store/central) count, and surveys/stats/figures.py turns counts into figures.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from surveys.form import Choice, Form, Item

KINDS = ("select_one", "select_multiple", "likert", "integer", "decimal", "text", "date")


SELECT_KINDS = ("select_one", "select_multiple", "likert")


PERIODS = ("day", "week", "month")


class StatsError(ValueError):
    """A request the statistics cannot answer (unknown survey, question or choice); the
    message names it and lists what there is."""


def statistic_kind(item: Item) -> str | None:
    """How a question is summarised (one of KINDS), or None when it is not (notes...)."""
    if item.kind == "select_one":
        return "likert" if "likert" in item.appearance.split() else "select_one"
    if item.kind in ("select_multiple", "integer", "decimal", "text", "date"):
        return item.kind
    return None


@dataclass
class Question:
    """A question as the statistics see it, across every version of its survey."""

    name: str
    kind: str
    item: Item
    form: Form  # the newest version that has it
    choices: list[Choice] = field(default_factory=list)
    pii: bool = False
    # The repeats around it, outermost first (the newest version's); () for a question
    # asked once per submission.
    repeat: tuple[str, ...] = ()

    @property
    def in_repeat(self) -> bool:
        return bool(self.repeat)

    @property
    def choice_names(self) -> list[str]:
        return [choice.name for choice in self.choices]

    @property
    def is_select(self) -> bool:
        return self.kind in SELECT_KINDS

    @property
    def is_multiple(self) -> bool:
        return self.kind == "select_multiple"

    def label(self, language: str | None = None) -> str:
        return self.form.text(self.item.label, _language(self.form, language)) or self.name

    def choice_label(self, name: str, language: str | None = None) -> str:
        for choice in self.choices:
            if choice.name == name:
                return self.form.text(choice.label, _language(self.form, language)) or name
        return name


def _language(form: Form, language: str | None) -> str:
    return form.language_or_default(language)


def catalogue(forms: Sequence[Form]) -> dict[str, Question]:
    """The questions of a survey's versions (oldest first), by name, in the newest order.

    Questions only older versions have follow in the order they appeared there.
    """
    found: dict[str, Question] = {}
    order: list[str] = []
    for form in reversed(forms):  # newest first: its type, label and order win
        for item in form.items:
            kind = statistic_kind(item)
            if kind is None:
                continue
            question = found.get(item.name)
            if question is None:
                question = Question(item.name, kind, item, form,
                                    list(form.choices_for(item)) if item.list_name else [],
                                    item.pii, form.repeat_chain.get(item.name, ()))
                found[item.name] = question
                order.append(item.name)
                continue
            question.pii = question.pii or item.pii
            if question.is_select and item.list_name:
                known = set(question.choice_names)
                question.choices.extend(choice for choice in form.choices_for(item)
                                        if choice.name not in known)
    return {name: found[name] for name in order}


@dataclass
class RepeatGroup:
    """A repeat group as the statistics see it: where it is (``path``: the repeats around
    it and itself, outermost first, as in the newest version that has it) and the versions
    that have it at that path (their submissions hold 0 or more instances of it)."""

    name: str
    path: tuple[str, ...]
    item: Item
    form: Form
    versions: list[str]

    def label(self, language: str | None = None) -> str:
        return self.form.text(self.item.label, _language(self.form, language)) or self.name


def repeat_groups(forms: Sequence[Form]) -> dict[str, RepeatGroup]:
    """The repeat groups of a survey's versions (oldest first), by name, in the newest
    order; a repeat only older versions have follows, as in ``catalogue``."""
    found: dict[str, RepeatGroup] = {}
    for form in reversed(forms):
        for name, item in form.repeats.items():
            if name not in found:
                found[name] = RepeatGroup(name, form.repeat_chain[name], item, form, [])
    for form in forms:
        for name, group in found.items():
            if form.repeat_chain.get(name) == group.path and name in form.repeats:
                group.versions.append(form.version)
    return found


def repeat_key(path: Sequence[str]) -> str:
    """The name a store gives the instances at ``path`` (``visits/services``): a repeat
    that moved into another between versions is another key, never mixed with it."""
    return "/".join(path)


def answered_value(value: Any) -> bool:
    """Whether an answer counts as given (as the stores count: not None, "" or [])."""
    return value is not None and value != "" and value != []


def instances_at(answers: Mapping[str, Any], path: Sequence[str]) -> list[Mapping[str, Any]]:
    """The instances at ``path`` of a submission's answers, in order (nested: those of the
    first outer instance first). Anything but a list holds none; an element that is not
    an object is an instance without answers."""
    found: list[Mapping[str, Any]] = [answers]
    for name in path:
        inner: list[Mapping[str, Any]] = []
        for holder in found:
            value = holder.get(name)
            if isinstance(value, list):
                inner.extend(entry if isinstance(entry, Mapping) else {} for entry in value)
        found = inner
    return found


@dataclass(frozen=True)
class StatsFilter:
    """Which submissions the statistics count.

    ``date_from``/``date_to``: calendar days (inclusive) of completion in China time;
    ``kiosks``, ``sites``, ``enumerators``: any of these (empty: all); ``where``: question ->
    choice name, every one must hold (for a select_multiple: the choice is among those chosen);
    ``review``: the review states counted (surveys/review.py); empty: every state but 作废
    (void), which is what a station reports unless it asks for the voided ones.
    """

    date_from: dt.date | None = None
    date_to: dt.date | None = None
    kiosks: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    enumerators: tuple[str, ...] = ()
    where: Mapping[str, str] = field(default_factory=dict)
    review: tuple[str, ...] = ()

    @property
    def by_answer(self) -> bool:
        """Counted from each submission's row (answers or review states), not the tallies,
        which count every submission that is not void."""
        return bool(self.where or self.review)

    @property
    def by_place(self) -> bool:
        return bool(self.kiosks or self.sites or self.enumerators)

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "kiosks": list(self.kiosks), "sites": list(self.sites),
            "enumerators": list(self.enumerators), "where": dict(self.where),
            "review": list(self.review),
        }


@dataclass
class Tallies:
    """Counts under one filter: ``n`` submissions, ``answered[q]`` respondents who answered q,
    ``counts[q][value]`` respondents per choice (or integer, or date).

    For questions inside repeats (``StatsStore.stats_repeat_tallies``) ``answered`` and
    ``counts`` count instances, ``submissions[q]`` the submissions with an instance that
    answered q, and ``instances[repeat]`` {number of instances: submissions holding that
    many} over the submissions of versions that have the repeat."""

    n: int
    answered: dict[str, int]
    counts: dict[str, dict[Any, int]]
    submissions: dict[str, int] = field(default_factory=dict)
    instances: dict[str, dict[int, int]] = field(default_factory=dict)


def tallies_by_place(rows: Iterable[tuple[str, str, Any, int]]) -> dict[str, Tallies]:
    """Tallies per place from (place, question, value, count) rows as both stores count
    them: question ``''`` counts submissions, value None respondents who answered the
    question, any other value respondents who gave it."""
    found: dict[str, Tallies] = {}
    for place, question, value, count in rows:
        tallies = found.get(place)
        if tallies is None:
            tallies = found[place] = Tallies(0, {}, {})
        if question == "":
            tallies.n += int(count)
        elif value is None:
            tallies.answered[question] = tallies.answered.get(question, 0) + int(count)
        else:
            values = tallies.counts.setdefault(question, {})
            values[value] = values.get(value, 0) + int(count)
    return found


def empty_crosstab(by: Question, questions: Sequence[Question]) -> dict[str, Any]:
    """The shape of ``stats_crosstab``'s answer with every count 0: per question ``table``
    {group: {choice: n}}, ``row_n`` {group: n} and ``column_n`` {choice: n}."""
    return {question.name: {"table": {group: dict.fromkeys(question.choice_names, 0)
                                      for group in by.choice_names},
                            "row_n": dict.fromkeys(by.choice_names, 0),
                            "column_n": dict.fromkeys(question.choice_names, 0)}
            for question in questions}


def add_column_totals(crosstab: dict[str, Any]) -> dict[str, Any]:
    """Fill ``column_n`` as the sum of each choice's column (a select_one by-question: every
    respondent is in one group)."""
    for entry in crosstab.values():
        for row in entry["table"].values():
            for choice, count in row.items():
                entry["column_n"][choice] += count
    return crosstab


class StatsStore(Protocol):
    """What survey_statistics needs of a store (KioskStore and CentralStats provide it)."""

    def versions(self, survey_id: str) -> list[str]: ...
    def load_form(self, survey_id: str, version: str | None = None) -> Form: ...
    def read_snapshot(self) -> Any: ...
    def stats_tallies(self, survey_id: str, questions: Mapping[str, Question],
                      filters: StatsFilter) -> Tallies: ...
    def stats_value_counts(self, survey_id: str, question: str,
                           filters: StatsFilter) -> list[tuple[Any, int]]: ...
    def stats_texts(self, survey_id: str, question: str, filters: StatsFilter) -> list[str]: ...
    def stats_crosstab(self, survey_id: str, by: Question, questions: Sequence[Question],
                       filters: StatsFilter) -> dict[str, Any]: ...
    def stats_over_time(self, survey_id: str, questions: Mapping[str, Question],
                        filters: StatsFilter) -> list[tuple[str, str, int]]: ...
    # Questions inside repeats, counted per instance (see Tallies).
    def stats_repeat_tallies(self, survey_id: str, questions: Mapping[str, Question],
                             repeats: Mapping[str, RepeatGroup],
                             filters: StatsFilter) -> Tallies: ...
    def stats_repeat_values(self, survey_id: str, question: Question,
                            filters: StatsFilter) -> list[tuple[Any, int]]: ...
    def stats_repeat_texts(self, survey_id: str, question: Question,
                           filters: StatsFilter) -> list[str]: ...
    def stats_repeat_crosstab(self, survey_id: str, by: Question,
                              questions: Sequence[Question],
                              filters: StatsFilter) -> dict[str, Any]: ...


def percent(part: int, whole: int) -> float | None:
    return part / whole * 100 if whole else None


# ---- the entry point ------------------------------------------------------------------------


def check_filters(questions: Mapping[str, Question], filters: StatsFilter) -> None:
    """Refuse a --where on a question or choice the survey does not have, or on a question
    inside a repeat (it has an answer per instance, not one per submission)."""
    selects = [name for name, question in questions.items()
               if question.is_select and not question.in_repeat]
    for name, value in filters.where.items():
        question = questions.get(name)
        if question is not None and question.in_repeat:
            raise StatsError(in_repeat_refusal(question, f"--where {name}={value}"))
        if question is None or not question.is_select:
            what = "no question" if question is None else "not a select question:"
            raise StatsError(f"--where {name}={value}: {what} '{name}'; select questions: "
                             f"{', '.join(selects)}")
        if value not in question.choice_names:
            raise StatsError(f"--where {name}={value}: question '{name}' has no choice "
                             f"'{value}'; choices: {', '.join(question.choice_names)}")


def in_repeat_refusal(question: Question, option: str) -> str:
    """Why a question inside a repeat cannot select submissions (a filter, a cross-tab's
    groups): it holds one answer per instance, and a submission with a member who works
    and one who does not is in both groups. Chinese first."""
    where = " › ".join(question.repeat)
    return (f"{option}：“{question.name}”是重复组“{where}”里的题，每一条（如每位家庭成员）"
            "各有一个回答，按人次计数，不能用来筛选或分组提交；请用每份问卷只答一次的题 "
            f"({option}: '{question.name}' is inside the repeat group '{where}' and has an "
            "answer per instance, so it cannot select or group submissions; use a question "
            "asked once per submission)")

"""What the statistics are made of: the kinds of question they summarise, a question across
every version of its survey (``catalogue``), the filters, the counts a store hands over
(``Tallies``) and what a store must answer (``StatsStore``).

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
                                    item.pii)
                found[item.name] = question
                order.append(item.name)
                continue
            question.pii = question.pii or item.pii
            if question.is_select and item.list_name:
                known = set(question.choice_names)
                question.choices.extend(choice for choice in form.choices_for(item)
                                        if choice.name not in known)
    return {name: found[name] for name in order}


@dataclass(frozen=True)
class StatsFilter:
    """Which submissions the statistics count.

    ``date_from``/``date_to``: calendar days (inclusive) of completion in China time;
    ``kiosks``, ``sites``, ``enumerators``: any of these (empty: all); ``where``: question ->
    choice name, every one must hold (for a select_multiple: the choice is among those chosen).
    """

    date_from: dt.date | None = None
    date_to: dt.date | None = None
    kiosks: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    enumerators: tuple[str, ...] = ()
    where: Mapping[str, str] = field(default_factory=dict)

    @property
    def by_answer(self) -> bool:
        return bool(self.where)

    @property
    def by_place(self) -> bool:
        return bool(self.kiosks or self.sites or self.enumerators)

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "kiosks": list(self.kiosks), "sites": list(self.sites),
            "enumerators": list(self.enumerators), "where": dict(self.where),
        }


@dataclass
class Tallies:
    """Counts under one filter: ``n`` submissions, ``answered[q]`` respondents who answered q,
    ``counts[q][value]`` respondents per choice (or integer, or date)."""

    n: int
    answered: dict[str, int]
    counts: dict[str, dict[Any, int]]


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


def percent(part: int, whole: int) -> float | None:
    return part / whole * 100 if whole else None


# ---- the entry point ------------------------------------------------------------------------


def check_filters(questions: Mapping[str, Question], filters: StatsFilter) -> None:
    """Refuse a --where on a question or choice the survey does not have."""
    selects = [name for name, question in questions.items() if question.is_select]
    for name, value in filters.where.items():
        question = questions.get(name)
        if question is None or not question.is_select:
            what = "no question" if question is None else "not a select question:"
            raise StatsError(f"--where {name}={value}: {what} '{name}'; select questions: "
                             f"{', '.join(selects)}")
        if value not in question.choice_names:
            raise StatsError(f"--where {name}={value}: question '{name}' has no choice "
                             f"'{value}'; choices: {', '.join(question.choice_names)}")

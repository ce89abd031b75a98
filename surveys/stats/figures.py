"""Statistics of one survey across all its versions: tallies, intervals, summaries, cross-tabs.

The figures are computed here from counts a store hands over (``StatsStore.stats_*``,
surveys/stats/model.py): no SQL here, and neither the store nor any UI. Questions are matched by
name across versions; a question's type, label and choice order come from the newest
version that has it, and choices only older versions had are kept after the newest ones.

Definitions (what the JSON of ``survey_statistics`` means):

- ``n`` of a question: respondents who answered it (under the filters). Percentages of a
  select question are of those respondents; for ``select_multiple`` they may sum past 100.
- ``ci95``: the Wilson score interval at 95 % (z = 1.959964), in percent.
- Likert questions (``appearance`` likert): when every choice name is a number (the bundled
  forms use 5 … 1), the score of a choice is that number; otherwise the first choice in the
  form's order scores highest (forms list 非常满意 … 非常不满意). ``top2`` is the share
  choosing the two highest-scoring choices (非常满意 + 满意), ``mean`` the mean score.
- Numbers: sample standard deviation (n − 1); quartiles by linear interpolation between
  order statistics (pandas' and numpy's default); 10 equal-width histogram bins from min to
  max, each ``lo`` ≤ x < ``hi`` and the last one closed; for integers the edges are whole
  numbers (width ⌈(max − min + 1) / 10⌉).
- Cross-tabs: ``table[group][choice]`` counts respondents in the group (a choice of the
  by-question) who chose the choice; respondents who did not answer either question are left
  out. ``row_percent`` is of ``row_n`` (the group's respondents who answered the question),
  ``column_percent`` of ``column_n`` (respondents choosing the choice who answered the
  by-question). With a select_multiple on either side, rows or columns may sum past 100.
  ``test``: the chi-square test of independence of the cross-tab (surveys/stats/inference.py:
  ``chi2``, ``df``, ``p``, ``cramers_v``, ``min_expected``, ``small_expected`` by Cochran's
  rule, ``fisher_p`` for a 2×2 table with small expected counts, ``significant`` at 5 %,
  a ``sentence`` in plain words), made over the groups and choices with a count (``rows``,
  ``columns``); none (``reason``) with a select_multiple on either side or per instance.
- ``over_time``: submissions per period (day, ISO week starting on Monday, or month) of the
  completion date in China time, with the count per site ("" when no site was recorded).
- Questions inside a repeat group (``"unit": "instance"``, 按人次): counted per instance
  (each household member, each visit, each service of a visit). ``n`` is the instances
  that answered, counts and percentages are of instances, ``instances`` the instances of
  the repeat (``repeat``; ``path``: the repeats around it, outermost first) in the counted
  submissions and ``submissions`` how many of those had an instance that answered. A filter
  on submission-level answers counts the instances of the submissions it keeps; a filter
  on a question inside a repeat, or grouping (``--by``) by one, is refused with the reason
  (StatsError). A cross-tab of a question inside a repeat by a submission-level question
  counts instances: ``table[group][choice]`` the instances choosing the choice in
  submissions of the group, ``row_n`` the instances that answered in the group's
  submissions, ``column_n`` the instances choosing the choice in submissions that answered
  the by-question.
- ``repeats`` (only for a survey with repeat groups): per repeat, how many instances each
  submission holds (members per household; for a nested repeat all of it in the
  submission, e.g. services over every visit): ``n`` submissions of the versions that have
  it, ``instances`` their total, mean, sd, quartiles, min, max and histogram as for an
  integer question, and ``counts`` {instances: submissions} (``"0"``: none).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from surveys.session import DECIMAL_LIMIT
from surveys.stats.inference import Z95 as Z95  # the intervals live in inference.py
from surveys.stats.inference import wilson_interval
from surveys.stats.model import (
    PERIODS,
    Question,
    RepeatGroup,
    StatsError,
    StatsFilter,
    StatsStore,
    Tallies,
    _language,
    catalogue,
    check_filters,
    in_repeat_refusal,
    percent,
    repeat_groups,
)
from surveys.stats.sentences import crosstab_test

HISTOGRAM_BINS = 10


# ---- the figures --------------------------------------------------------------------------


def _order_statistic(values: Sequence[tuple[Any, int]], index: int) -> Any:
    """The value at 0-based position ``index`` of the sorted sample given as value counts."""
    seen = 0
    for value, count in values:
        seen += count
        if index < seen:
            return value
    return values[-1][0]


def _quantile(values: Sequence[tuple[Any, int]], total: int, p: float) -> float:
    """Linear interpolation between order statistics (numpy's default) over value counts."""
    position = (total - 1) * p
    lower = math.floor(position)
    fraction = position - lower
    low = _order_statistic(values, lower)
    if not fraction:
        return float(low)
    high = _order_statistic(values, lower + 1)
    return low + (high - low) * fraction


def numeric_summary(value_counts: Iterable[tuple[Any, int]],
                    integer: bool) -> dict[str, Any]:
    """n, mean, sample sd, min, quartiles, max and histogram from (value, count) pairs.

    A value no answer may hold (not finite, or past the gate's DECIMAL_LIMIT: stored before
    the record gate) is left out of them and counted as ``out_of_range``."""
    values, beyond = [], 0
    for value, count in value_counts:
        if not count or not isinstance(value, int | float) or isinstance(value, bool):
            continue
        if not math.isfinite(value) or abs(value) >= DECIMAL_LIMIT:
            beyond += count  # stored before the record gate: no figure can hold it
            continue
        values.append((value, count))
    values.sort()
    n = sum(count for _value, count in values)
    if n == 0:
        return {"n": 0, "mean": None, "sd": None, "min": None, "q1": None, "median": None,
                "q3": None, "max": None, "histogram": [],
                **({"out_of_range": beyond} if beyond else {})}
    mean = math.fsum(value * count for value, count in values) / n
    squares = math.fsum((value - mean) ** 2 * count for value, count in values)
    sd = math.sqrt(squares / (n - 1)) if n > 1 else None
    low, high = values[0][0], values[-1][0]
    return {
        "n": n, "mean": mean, "sd": sd, "min": low,
        "q1": _quantile(values, n, 0.25), "median": _quantile(values, n, 0.5),
        "q3": _quantile(values, n, 0.75), "max": high,
        "histogram": histogram(values, integer),
        # Values past what an answer may be (NaN, 1e308), left out of every figure.
        **({"out_of_range": beyond} if beyond else {}),
    }


def histogram(values: Sequence[tuple[Any, int]], integer: bool,
              bins: int = HISTOGRAM_BINS) -> list[dict[str, Any]]:
    """Equal-width bins over sorted (value, count) pairs: lo <= x < hi, the last one closed."""
    if not values:
        return []
    low, high = values[0][0], values[-1][0]
    if integer:
        width = max(1, math.ceil((high - low + 1) / bins))
        edges = [low + index * width for index in range(bins + 1)]
        edges = [edge for edge in edges if edge <= high] + [
            next(edge for edge in edges if edge > high)]
        counts = [0] * (len(edges) - 1)
        for value, count in values:
            counts[min((value - low) // width, len(counts) - 1)] += count
        return [{"lo": edges[index], "hi": edges[index + 1], "count": counts[index]}
                for index in range(len(counts))]
    if high == low:
        return [{"lo": low, "hi": high, "count": sum(count for _value, count in values)}]
    width = (high - low) / bins
    counts = [0] * bins
    for value, count in values:
        counts[min(int((value - low) / width), bins - 1)] += count
    return [{"lo": low + index * width, "hi": high if index == bins - 1 else
             low + (index + 1) * width, "count": counts[index]} for index in range(bins)]


def likert_scores(choice_names: Sequence[str]) -> dict[str, float]:
    """Score per choice: the number when every name is one, else first choice highest."""
    try:
        return {name: float(name) for name in choice_names}
    except ValueError:
        total = len(choice_names)
        return {name: float(total - index) for index, name in enumerate(choice_names)}


def ranking(counts: Mapping[str, int], order: Sequence[str]) -> list[str]:
    """Choice names by count, most first; ties keep the form's order."""
    position = {name: index for index, name in enumerate(order)}
    return sorted(counts, key=lambda name: (-counts[name], position.get(name, len(position))))


def crosstab_percents(table: Mapping[str, Mapping[str, int]], row_n: Mapping[str, int],
                      column_n: Mapping[str, int]) -> dict[str, Any]:
    """Row and column percentages of a cross-tab (None where the denominator is 0)."""
    return {
        "row_percent": {group: {choice: percent(count, row_n.get(group, 0))
                                for choice, count in row.items()}
                        for group, row in table.items()},
        "column_percent": {group: {choice: percent(count, column_n.get(choice, 0))
                                   for choice, count in row.items()}
                           for group, row in table.items()},
    }


def period_start(day: str, period: str) -> str:
    """The period (day, ISO week from Monday, month) a day belongs to, as its first day."""
    if period == "day":
        return day
    date = dt.date.fromisoformat(day)
    if period == "week":
        return (date - dt.timedelta(days=date.weekday())).isoformat()
    if period == "month":
        return day[:7]
    raise ValueError(f"period must be one of {', '.join(PERIODS)}")


def over_time(rows: Iterable[tuple[str, str, int]], period: str) -> dict[str, Any]:
    """Submissions per period and per site from (day, site, n) rows."""
    series: dict[str, dict[str, Any]] = {}
    for day, site, count in rows:
        entry = series.setdefault(period_start(day, period), {"n": 0, "sites": {}})
        entry["n"] += count
        entry["sites"][site or ""] = entry["sites"].get(site or "", 0) + count
    return {"period": period,
            "series": [{"period": key, **series[key]} for key in sorted(series)]}


def _select_question(questions: Mapping[str, Question], name: str, option: str,
                     *, in_repeat: bool = True) -> Question:
    question = questions.get(name)
    if question is not None and question.in_repeat and not in_repeat:
        raise StatsError(in_repeat_refusal(question, f"{option} {name}"))
    if question is None or not question.is_select:
        selects = [key for key, entry in questions.items() if entry.is_select]
        what = "no question" if question is None else "not a select question:"
        raise StatsError(f"{option} {name}: {what} '{name}'; select questions: "
                         f"{', '.join(selects)}")
    return question


def survey_statistics(store: StatsStore, survey_id: str,
                      filters: StatsFilter | None = None, *, by: str | None = None,
                      question: str | None = None, include_pii: bool = False,
                      language: str = "zh", period: str = "day",
                      text_answers: bool = True) -> dict[str, Any]:
    """The statistics of one survey (all versions) as the JSON of ``kiosk stats --json``.

    ``by``: cross-tab every select question (or only ``question``) by this select question.
    Questions marked pii are left out unless ``include_pii``. ``text_answers=False`` gives
    the number of text answers without the answers themselves. Raises StatsError for an
    unknown survey, question or choice. All figures come from one read snapshot, so they
    agree with each other while new submissions arrive.
    """
    filters = filters or StatsFilter()
    versions = store.versions(survey_id)
    if not versions:
        raise StatsError(f"no survey '{survey_id}' here")
    if period not in PERIODS:
        raise StatsError(f"period must be one of {', '.join(PERIODS)}")
    forms = [store.load_form(survey_id, version) for version in versions]
    questions = catalogue(forms)
    check_filters(questions, filters)
    shown = {name: entry for name, entry in questions.items() if include_pii or not entry.pii}
    # The groups of a cross-tab are submissions: never by a question asked per instance.
    by_question = _select_question(shown, by, "--by", in_repeat=False) if by else None
    wanted = None
    if question is not None:
        if by_question is None:
            raise StatsError("--question needs --by (the question to cross-tabulate by)")
        wanted = _select_question(shown, question, "--question")
    newest = forms[-1]
    repeats = repeat_groups(forms)
    plain = {name: entry for name, entry in questions.items() if not entry.in_repeat}
    repeated = {name: entry for name, entry in questions.items() if entry.in_repeat}
    with store.read_snapshot():
        tallies = store.stats_tallies(survey_id, plain, filters)
        per_instance = (store.stats_repeat_tallies(survey_id, repeated, repeats, filters)
                        if repeats else Tallies(0, {}, {}))
        result: dict[str, Any] = {
            "survey": survey_id,
            "title": newest.text(newest.title, _language(newest, language)) or survey_id,
            "versions": versions, "n": tallies.n,
            "filters": filters.to_json(), "language": language, "questions": {},
        }
        for name, entry in shown.items():
            if entry.in_repeat:
                result["questions"][name] = _instance_figures(
                    store, survey_id, entry, per_instance, repeats, filters, language,
                    text_answers)
            else:
                result["questions"][name] = _question_figures(
                    store, survey_id, entry, tallies, filters, language, text_answers)
        if repeats:
            result["repeats"] = {
                name: repeat_summary(group, per_instance.instances.get(name, {}), language)
                for name, group in repeats.items()}
        result["over_time"] = over_time(
            store.stats_over_time(survey_id, plain, filters), period)
        if by_question is not None:
            targets = [wanted] if wanted is not None else [
                entry for entry in shown.values()
                if entry.is_select and entry.name != by_question.name]
            plain_targets = [entry for entry in targets if not entry.in_repeat]
            repeat_targets = [entry for entry in targets if entry.in_repeat]
            raw = (store.stats_crosstab(survey_id, by_question, plain_targets, filters)
                   if plain_targets or not repeat_targets else {})
            if repeat_targets:
                raw.update(store.stats_repeat_crosstab(survey_id, by_question,
                                                       repeat_targets, filters))
                raw = {entry.name: raw[entry.name] for entry in targets}  # the form's order
            tables = {name: {**table, **crosstab_percents(table["table"], table["row_n"],
                                                          table["column_n"])}
                      for name, table in raw.items()}
            for entry in repeat_targets:
                tables[entry.name].update(unit="instance", repeat=entry.repeat[-1])
            for entry in targets:  # the chi-square test, or why none (sentences.py)
                tables[entry.name]["test"] = crosstab_test(tables[entry.name], by_question,
                                                           entry, language)
            if wanted is not None:
                result["crosstab"] = {"by": by_question.name, "question": wanted.name,
                                      **tables[wanted.name]}
            else:
                result["crosstab"] = {"by": by_question.name, "tables": tables}
    return result


def _instance_figures(store: StatsStore, survey_id: str, question: Question,
                      tallies: Tallies, repeats: Mapping[str, RepeatGroup],
                      filters: StatsFilter, language: str,
                      text_answers: bool) -> dict[str, Any]:
    """The figures of a question inside a repeat: as any question's, counted per instance,
    with how many instances and submissions they came from."""
    figures = _question_figures(store, survey_id, question, tallies, filters, language,
                                text_answers)
    group = repeats.get(question.repeat[-1])
    distribution = (tallies.instances.get(group.name, {})
                    if group is not None and group.path == question.repeat else {})
    return {**figures, "unit": "instance", "repeat": question.repeat[-1],
            "path": list(question.repeat),
            "instances": sum(count * number for count, number in distribution.items()),
            "submissions": tallies.submissions.get(question.name, 0)}


def repeat_summary(group: RepeatGroup, distribution: Mapping[int, int],
                   language: str) -> dict[str, Any]:
    """How many instances of a repeat each submission holds (members per household)."""
    pairs = sorted((int(count), int(number)) for count, number in distribution.items()
                   if number)
    summary = numeric_summary(pairs, integer=True)
    return {"label": group.label(language), "path": list(group.path), "unit": "submission",
            **summary,
            "instances": sum(count * number for count, number in pairs),
            "counts": {str(count): number for count, number in pairs}}


def _question_figures(store: StatsStore, survey_id: str, question: Question,
                      tallies: Tallies, filters: StatsFilter, language: str,
                      text_answers: bool) -> dict[str, Any]:
    answered = tallies.answered.get(question.name, 0)
    figures: dict[str, Any] = {"type": question.kind, "label": question.label(language),
                               "n": answered}
    counts = tallies.counts.get(question.name, {})
    if question.is_select:
        names = question.choice_names
        by_choice = {name: int(counts.get(name, 0)) for name in names}
        figures["counts"] = by_choice
        figures["percent"] = {name: percent(count, answered)
                              for name, count in by_choice.items()}
        figures["ci95"] = {name: _interval(count, answered)
                           for name, count in by_choice.items()}
        figures["choices"] = [{"name": name, "label": question.choice_label(name, language)}
                              for name in names]
        if question.is_multiple:
            figures["ranking"] = ranking(by_choice, names)
        if question.kind == "likert":
            scores = likert_scores(names)
            top = sorted(names, key=lambda name: -scores[name])[:2]
            chosen = sum(by_choice.values())
            top_count = sum(by_choice[name] for name in top)
            figures["mean"] = (math.fsum(scores[name] * count
                                         for name, count in by_choice.items()) / chosen
                               if chosen else None)
            figures["top2_choices"] = top
            figures["top2"] = percent(top_count, answered)
            figures["top2_ci95"] = _interval(top_count, answered)
    elif question.kind in ("integer", "decimal"):
        if question.kind == "integer":
            pairs = list(counts.items())
        elif question.in_repeat:
            pairs = store.stats_repeat_values(survey_id, question, filters)
        else:
            pairs = store.stats_value_counts(survey_id, question.name, filters)
        summary = numeric_summary(pairs, integer=question.kind == "integer")
        # An answer with no number to show (NaN stored before the gate reads back as NULL)
        # is out of range too: every answer counted in n is accounted for.
        unread = answered - summary.pop("n") - summary.get("out_of_range", 0)
        if unread > 0:
            summary["out_of_range"] = summary.get("out_of_range", 0) + unread
        figures.update(summary)
    elif question.kind == "date":
        days = sorted((str(day), count) for day, count in counts.items() if count)
        figures["counts"] = dict(days)
        figures["min"] = days[0][0] if days else None
        figures["max"] = days[-1][0] if days else None
    elif question.kind == "text" and text_answers:
        figures["answers"] = (store.stats_repeat_texts(survey_id, question, filters)
                              if question.in_repeat
                              else store.stats_texts(survey_id, question.name, filters))
    return figures


def _interval(count: int, total: int) -> list[float] | None:
    interval = wilson_interval(count, total)
    return list(interval) if interval else None

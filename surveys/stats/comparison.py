"""Two groups of submissions compared (``kiosk stats ID --compare … --with …``): two periods,
sites or groups, e.g. before and after a project.

Each side is a filter set written as one string (``parse_filter_string``): ``from=`` and
``to=`` days, ``site=``, ``kiosk=``, ``enumerator=``, ``review=`` (repeat a key for any of
several) and ``QUESTION=CHOICE`` as ``--where``. A key replaces the same filter given to the command
itself; ``QUESTION=CHOICE`` is added to its ``--where``. The statistics run twice, once per
side, on one read snapshot (no SQL here), and ``compare_statistics`` reports per select
question (asked once per submission) the change in each choice's share from the first side
to the second (second − first, percentage points) with Newcombe's 95 % interval; for Likert
questions also the change in the mean score (Welch's 95 % interval) and in the top-2 share;
and a sentence per question saying whether the change is larger than chance (its interval
leaves out 0). Every interval is made on its own: among many choices, one interval in twenty
may leave out 0 by chance alone.

Both sides must be independent samples: ``overlap`` counts the submissions in both (a site
and a kiosk standing at it, say); with any, the intervals do not hold and a warning says so.
Questions inside a repeat group are not compared (the members of one household are not
independent).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shlex
from collections.abc import Mapping
from typing import Any

from surveys.review import REVIEW_STATES, ReviewError, review_states
from surveys.stats.figures import likert_scores, survey_statistics
from surveys.stats.inference import mean_and_variance, newcombe_interval, welch_interval
from surveys.stats.model import Question, StatsError, StatsFilter, catalogue, check_filters
from surveys.stats.sentences import change_sentence, words

PLACE_KEYS = {"site": "sites", "kiosk": "kiosks", "enumerator": "enumerators"}
DATE_KEYS = {"from": "date_from", "to": "date_to"}


def parse_filter_string(text: str, option: str, base: StatsFilter | None = None) -> StatsFilter:
    """The filters of ``--compare``/``--with``: ``base`` (the command's own filters) with the
    keys of ``text`` (``"from=2025-01-01 to=2025-06-30 site=九龙"``; quote a value holding a
    space). Raises StatsError naming the option and the bad part, Chinese first. Questions
    and choices are checked against the survey by ``compare_statistics``."""
    base = base or StatsFilter()
    try:
        parts = shlex.split(text)
    except ValueError as error:
        raise StatsError(f"{option} “{text}”：引号没有配对 ({option} {text!r}: {error})"
                         ) from None
    if not parts:
        raise StatsError(f"{option}：至少给一个 键=值，如 from=2025-01-01 site=九龙 "
                         f"({option}: give at least one KEY=VALUE, e.g. from=2025-01-01)")
    changes: dict[str, Any] = {}
    places: dict[str, list[str]] = {}
    where: dict[str, str] = {}
    reviews: list[str] = []
    for part in parts:
        key, equals, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not equals or not key or not value:
            raise StatsError(
                f"{option}：“{part}”不是 键=值（可用 from、to、site、kiosk、enumerator、"
                f"review 或 题目=选项） ({option}: {part!r} is not KEY=VALUE; keys: from, to, "
                "site, kiosk, enumerator, review or QUESTION=CHOICE)")
        if key in DATE_KEYS:
            if DATE_KEYS[key] in changes:
                raise StatsError(f"{option}：“{key}”给了两次 ({option}: '{key}' is given "
                                 "twice)")
            try:
                changes[DATE_KEYS[key]] = dt.date.fromisoformat(value)
            except ValueError:
                raise StatsError(f"{option}：“{part}”的日期应写成 YYYY-MM-DD ({option}: "
                                 f"{part!r}: give the day as YYYY-MM-DD)") from None
        elif key in PLACE_KEYS:
            places.setdefault(PLACE_KEYS[key], []).append(value)
        elif key == "review":
            reviews.append(value)
        else:
            if key in where:
                raise StatsError(f"{option}：题目“{key}”给了两次 ({option}: question "
                                 f"'{key}' is given twice)")
            where[key] = value
    for field, values in places.items():
        changes[field] = tuple(dict.fromkeys(values))
    if where:
        changes["where"] = {**base.where, **where}
    if reviews:
        try:
            changes["review"] = review_states(reviews)
        except ReviewError as error:
            raise StatsError(f"{option}：{error}") from None
    # replace(): every other filter of the command (those added later too) is kept.
    chosen = dataclasses.replace(base, **changes)
    if chosen.date_from and chosen.date_to and chosen.date_to < chosen.date_from:
        raise StatsError(f"{option}：结束日 {chosen.date_to} 早于开始日 {chosen.date_from} "
                         f"({option}: to={chosen.date_to} is before from={chosen.date_from})")
    return chosen


def describe_filters(filters: StatsFilter) -> str:
    """A filter set as the string ``parse_filter_string`` reads (for titles)."""
    parts = []
    if filters.date_from:
        parts.append(f"from={filters.date_from.isoformat()}")
    if filters.date_to:
        parts.append(f"to={filters.date_to.isoformat()}")
    for key, field in PLACE_KEYS.items():
        parts.extend(f"{key}={value}" for value in getattr(filters, field))
    parts.extend(f"review={state}" for state in filters.review)
    parts.extend(f"{name}={value}" for name, value in filters.where.items())
    return " ".join(_quoted(part) for part in parts) or "*"


def _quoted(part: str) -> str:
    """As typed: quoted only when a space or quote would split it (not for 九龙)."""
    if any(character.isspace() or character in "'\"\\" for character in part):
        return shlex.quote(part)
    return part


def intersection(first: StatsFilter, second: StatsFilter,
                 questions: Mapping[str, Question]) -> StatsFilter | bool | None:
    """The filters of the submissions on both sides; False when none can be (different days,
    places, or choices of a single-choice question), None when they cannot be written as one
    filter (two choices of a multiple-choice question)."""
    date_from = max(filter(None, (first.date_from, second.date_from)), default=None)
    date_to = min(filter(None, (first.date_to, second.date_to)), default=None)
    if date_from and date_to and date_to < date_from:
        return False
    changes: dict[str, Any] = {"date_from": date_from, "date_to": date_to}
    for field in PLACE_KEYS.values():
        one, other = getattr(first, field), getattr(second, field)
        both = tuple(value for value in one if value in other) if one and other \
            else one or other
        if (one or other) and not both:
            return False
        changes[field] = both
    # No review filter counts every state but 作废 (void).
    states = [set(side.review or [state for state in REVIEW_STATES if state != "void"])
              for side in (first, second)]
    both_states = tuple(state for state in REVIEW_STATES if state in states[0] & states[1])
    if not both_states:
        return False
    changes["review"] = both_states
    where = dict(first.where)
    for name, value in second.where.items():
        if name in where and where[name] != value:
            question = questions.get(name)
            if question is not None and not question.is_multiple:
                return False
            return None
        where[name] = value
    return dataclasses.replace(first, **changes, where=where)


def compare_statistics(store: Any, survey_id: str, first: StatsFilter, second: StatsFilter,
                       *, include_pii: bool = False, language: str = "zh",
                       names: tuple[str, str] | None = None,
                       options: tuple[str, str] = ("--compare", "--with")) -> dict[str, Any]:
    """The comparison of two filter sets of one survey as JSON (``kiosk stats --compare
    --json``). ``names``: how the sides are called (default: their filter strings);
    ``options``: how a refusal names them."""
    versions = store.versions(survey_id)
    if not versions:
        raise StatsError(f"no survey '{survey_id}' here")
    questions = catalogue([store.load_form(survey_id, version) for version in versions])
    for option, filters in zip(options, (first, second), strict=True):
        try:
            check_filters(questions, filters)
        except StatsError as error:
            raise StatsError(f"{option}: {error}") from None
    names = names or (describe_filters(first), describe_filters(second))
    with store.read_snapshot():  # both sides (and their overlap) from one moment
        sides = [survey_statistics(store, survey_id, filters, include_pii=include_pii,
                                   language=language, text_answers=False)
                 for filters in (first, second)]
        both = intersection(first, second, questions)
        if both is False:
            overlap: int | None = 0
        elif both is None:
            overlap = None
        else:
            plain = {name: entry for name, entry in questions.items() if not entry.in_repeat}
            overlap = store.stats_tallies(survey_id, plain, both).n
    a, b = sides
    result: dict[str, Any] = {
        "survey": survey_id, "title": a["title"], "versions": versions,
        "language": language, "confidence": 95, "overlap": overlap,
        "a": {"name": names[0], "n": a["n"], "filters": first.to_json()},
        "b": {"name": names[1], "n": b["n"], "filters": second.to_json()},
        "questions": {},
    }
    for name, figures in a["questions"].items():
        question = questions[name]
        if not question.is_select or question.in_repeat or name not in b["questions"]:
            continue
        result["questions"][name] = compare_question(question, figures,
                                                     b["questions"][name], language)
    return result


def _share_change(count_a: int, n_a: int, count_b: int, n_b: int) -> dict[str, Any]:
    interval = newcombe_interval(count_b, n_b, count_a, n_a)  # second − first
    percent_a, percent_b = count_a / n_a * 100, count_b / n_b * 100
    return {"count_a": count_a, "count_b": count_b, "percent_a": percent_a,
            "percent_b": percent_b, "difference": percent_b - percent_a,
            "ci95": list(interval) if interval else None,
            "significant": bool(interval and (interval[0] > 0 or interval[1] < 0))}


def compare_question(question: Question, a: dict[str, Any], b: dict[str, Any],
                     language: str = "zh") -> dict[str, Any]:
    """One select question on both sides: per choice the change in share (points) with its
    interval; Likert: mean and top-2 share too; and the ``sentence``."""
    w = words(language)
    n_a, n_b = a["n"], b["n"]
    entry: dict[str, Any] = {"type": question.kind, "label": a["label"], "n_a": n_a,
                             "n_b": n_b, "choices": [], "sentence": ""}
    if not n_a or not n_b:
        side = w["both"] if not n_a and not n_b else w["side_a"] if not n_a else w["side_b"]
        entry["sentence"] = w["empty"].format(side=side)
        return entry
    for choice in a["choices"]:
        key = choice["name"]
        entry["choices"].append({"name": key, "label": choice["label"], **_share_change(
            a["counts"][key], n_a, b["counts"][key], n_b)})
    sentences = []
    if question.kind == "likert":
        top = a["top2_choices"]
        labels = {choice["name"]: choice["label"] for choice in a["choices"]}
        entry["top2_choices"] = top
        entry["top2"] = _share_change(sum(a["counts"][key] for key in top), n_a,
                                      sum(b["counts"][key] for key in top), n_b)
        what = w["top2"].format(choices=w["or"].join(labels[key] for key in top))
        entry["top2"]["sentence"] = change_sentence(
            what, entry["top2"]["percent_a"], entry["top2"]["percent_b"],
            entry["top2"]["ci95"], language)
        sentences.append(entry["top2"]["sentence"])
        entry["mean"] = _mean_change(question, a, b, language)
        sentences.append(entry["mean"]["sentence"])
    else:
        beyond = sorted((choice for choice in entry["choices"] if choice["significant"]),
                        key=lambda choice: -abs(choice["difference"]))
        if not beyond:
            sentences.append(w["none_beyond"].format(label=a["label"]))
        else:
            largest = beyond[0]
            sentence = change_sentence(w["share"].format(choice=largest["label"]),
                                       largest["percent_a"], largest["percent_b"],
                                       largest["ci95"], language)
            if len(beyond) > 1:
                sentence += w["also"].format(n=len(beyond) - 1)
            sentences.append(sentence)
    entry["sentence"] = w["sep"].join(sentences)
    return entry


def _mean_change(question: Question, a: dict[str, Any], b: dict[str, Any],
                 language: str) -> dict[str, Any]:
    """The change in a Likert question's mean score with Welch's 95 % interval."""
    w = words(language)
    scores = likert_scores(question.choice_names)
    n1, mean1, variance1 = mean_and_variance({scores[key]: count
                                              for key, count in a["counts"].items()})
    n2, mean2, variance2 = mean_and_variance({scores[key]: count
                                              for key, count in b["counts"].items()})
    figures: dict[str, Any] = {"mean_a": mean1, "mean_b": mean2,
                               "difference": None if mean1 is None or mean2 is None
                               else mean2 - mean1,
                               "ci95": None, "t": None, "df": None, "p": None,
                               "significant": None}
    welch = (welch_interval(n2, mean2, variance2, n1, mean1, variance1)
             if variance1 is not None and variance2 is not None
             and mean1 is not None and mean2 is not None else None)
    if welch is None:
        few = n1 < 2 or n2 < 2
        figures["sentence"] = w["too_few"] if few else w["no_spread"]
        return figures
    figures.update(ci95=[welch.low, welch.high], t=welch.t, df=welch.df, p=welch.p,
                   significant=welch.low > 0 or welch.high < 0)
    figures["sentence"] = change_sentence(w["mean"], mean1, mean2, [welch.low, welch.high],
                                          language, unit="score")
    return figures

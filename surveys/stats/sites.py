"""Statistics per place: N and every select question per street, community and kiosk
(``kiosk stats --by-site``), from counts a store hands over, like surveys/stats/figures.py.

The JSON (``site_breakdown``)::

    {"street": {"九龙街道": {"n": 812, "questions": {"overall": {"n": 800,
         "counts": {"5": 300, …}, "percent": {"5": 37.5, …}}, …}}, …},
     "community": {"九龙街道/新华社区": {…}, …},
     "kiosk": {"hall-1": {…}, …}}

A community is named with its street (the site the kiosk stamped, ``街道/社区``), since the
same community name recurs in other streets; a site without ``/`` counts as a street with
no community. Submissions with no site are under ``""``. Questions inside repeat groups
(answered per instance) are left out. Percentages are of the place's
respondents to the question (for select_multiple they may sum past 100). Places are in
the order of their names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from surveys.stats.model import (
    StatsError,
    StatsFilter,
    StatsStore,
    Tallies,
    catalogue,
    check_filters,
    percent,
)

DIMENSIONS = ("street", "community", "kiosk")


class SiteStatsStore(StatsStore, Protocol):
    """A statistics store that also tallies per place."""

    def stats_site_tallies(self, survey_id: str, questions: Sequence[str],
                           filters: StatsFilter, dimension: str) -> dict[str, Tallies]: ...


def street_of(site: str | None) -> str:
    """The street (街道/镇) of a site ``街道/社区``; a site without ``/`` is a street."""
    return (site or "").split("/", 1)[0]


def site_breakdown(store: SiteStatsStore, survey_id: str,
                   filters: StatsFilter | None = None, *,
                   include_pii: bool = False) -> dict[str, Any]:
    """N and the select questions' counts and percentages per street, community and kiosk.

    Raises StatsError for an unknown survey, question or choice (as survey_statistics).
    """
    filters = filters or StatsFilter()
    versions = store.versions(survey_id)
    if not versions:
        raise StatsError(f"no survey '{survey_id}' here")
    questions = catalogue([store.load_form(survey_id, version) for version in versions])
    check_filters(questions, filters)
    # Questions inside repeats are counted per instance (survey_statistics): not here.
    selects = {name: question for name, question in questions.items()
               if question.is_select and not question.in_repeat
               and (include_pii or not question.pii)}
    result: dict[str, Any] = {}
    with store.read_snapshot():
        for dimension in DIMENSIONS:
            places = store.stats_site_tallies(survey_id, list(selects), filters, dimension)
            result[dimension] = {place: _place_figures(places[place], selects)
                                 for place in sorted(places)}
    return result


def _place_figures(tallies: Tallies, selects: Mapping[str, Any]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for name, question in selects.items():
        answered = tallies.answered.get(name, 0)
        counts = tallies.counts.get(name, {})
        by_choice = {choice: int(counts.get(choice, 0)) for choice in question.choice_names}
        figures[name] = {"n": answered, "counts": by_choice,
                         "percent": {choice: percent(count, answered)
                                     for choice, count in by_choice.items()}}
    return {"n": tallies.n, "questions": figures}

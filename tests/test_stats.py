"""Statistics (surveys.stats over the store's tallies and flat table) against pandas on the
same generated data, Wilson intervals against scipy, on real SQLite files."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from store import KioskStore
from surveys.stats.figures import numeric_summary, survey_statistics, wilson_interval
from surveys.stats.model import StatsError, StatsFilter
from tests import stats_data
from tests.gated import gated, gated_one
from tests.stats_data import SURVEY

COUNT = 3000
CHOICES = {"group": stats_data.GROUPS, "sat": stats_data.LIKERT,
           "services": stats_data.SERVICES_V2, "old_q": ["yes", "no"], "new_q": ["yes", "no"]}


@pytest.fixture(scope="module")
def survey(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """A database with COUNT submissions (most by bulk insert, some as a kiosk saves them)
    and the pandas frame of the same submissions."""
    directory = tmp_path_factory.mktemp("stats")
    path = directory / "kiosk.db"
    submissions = stats_data.generate(COUNT)
    with KioskStore(path) as store:
        for compiled in stats_data.compiled_versions(directory):
            store.install_form(compiled)
        for start in range(0, 2800, 700):
            batch = submissions[start:start + 700]
            assert store.insert_submissions(gated(store, batch + batch[:50])) == len(batch)
        for submission in submissions[2800:]:
            store.save_submission(gated_one(store, submission))
        store.save_submission(gated_one(store, submissions[0]))  # again: not counted twice
        assert store.insert_submissions(gated(store, submissions[:10])) == 0
    return path, stats_data.frame(submissions)


@pytest.fixture
def store(survey: tuple[Path, pd.DataFrame]) -> KioskStore:
    opened = KioskStore(survey[0])
    yield opened
    opened.close()


def select(table: pd.DataFrame, filters: StatsFilter) -> pd.DataFrame:
    """The rows pandas keeps for these filters (computed independently of the store)."""
    keep = pd.Series(True, index=table.index)
    if filters.date_from:
        keep &= table["day"] >= filters.date_from.isoformat()
    if filters.date_to:
        keep &= table["day"] <= filters.date_to.isoformat()
    if filters.kiosks:
        keep &= table["kiosk"].isin(filters.kiosks)
    if filters.sites:
        keep &= table["site"].isin(filters.sites)
    if filters.enumerators:
        keep &= table["enumerator"].isin(filters.enumerators)
    for name, value in filters.where.items():
        keep &= table[name].apply(
            lambda answer, value=value: value in answer if isinstance(answer, list)
            else answer == value)
    return table[keep]


def expected_counts(table: pd.DataFrame, name: str) -> tuple[int, dict[str, int]]:
    """(respondents who answered, respondents per choice) by pandas."""
    answered = table[name].dropna()
    counts = (answered.explode() if name == "services" else answered).value_counts()
    return len(answered), {choice: int(counts.get(choice, 0)) for choice in CHOICES[name]}


def check_figures(stats: dict[str, Any], table: pd.DataFrame) -> None:
    """Every figure of every question against pandas."""
    assert stats["n"] == len(table)
    questions = stats["questions"]
    for name in CHOICES:
        figures = questions[name]
        n, counts = expected_counts(table, name)
        assert figures["n"] == n, name
        assert figures["counts"] == counts, name
        assert [choice["name"] for choice in figures["choices"]] == CHOICES[name]
        for choice, count in counts.items():
            if n:
                assert figures["percent"][choice] == pytest.approx(count / n * 100)
                low, high = binomtest(count, n).proportion_ci(method="wilson")
                assert figures["ci95"][choice] == pytest.approx([low * 100, high * 100],
                                                                abs=1e-9)
            else:
                assert figures["percent"][choice] is None
    services = questions["services"]
    assert sum(services["percent"].values()) > 100  # of respondents: they pick several
    expected_rank = sorted(CHOICES["services"], key=lambda choice: (
        -services["counts"][choice], CHOICES["services"].index(choice)))
    assert services["ranking"] == expected_rank
    sat = questions["sat"]
    scores = table["sat"].dropna().astype(int)
    assert sat["type"] == "likert"
    assert sat["mean"] == pytest.approx(scores.mean())
    assert sat["top2_choices"] == ["5", "4"]
    top = int((scores >= 4).sum())
    assert sat["top2"] == pytest.approx(top / len(scores) * 100)
    low, high = binomtest(top, len(scores)).proportion_ci(method="wilson")
    assert sat["top2_ci95"] == pytest.approx([low * 100, high * 100])
    for name, integer in (("age", True), ("spend", False)):
        values = table[name].dropna().astype(float)
        figures = questions[name]
        assert figures["type"] == ("integer" if integer else "decimal")
        assert figures["n"] == len(values)
        assert figures["mean"] == pytest.approx(values.mean())
        assert figures["sd"] == pytest.approx(values.std(ddof=1))
        assert figures["min"] == values.min() and figures["max"] == values.max()
        for key, p in (("q1", 0.25), ("median", 0.5), ("q3", 0.75)):
            assert figures[key] == pytest.approx(values.quantile(p)), (name, key)
        bins = figures["histogram"]
        assert sum(entry["count"] for entry in bins) == len(values)
        if integer:
            width = math.ceil((values.max() - values.min() + 1) / 10)
            expected = ((values - values.min()) // width).value_counts().sort_index()
            assert [entry["count"] for entry in bins if entry["count"]] == list(expected)
            assert bins[0]["lo"] == values.min() and bins[1]["lo"] - bins[0]["lo"] == width
        else:
            counts, edges = np.histogram(values, bins=10)
            assert [entry["count"] for entry in bins] == list(counts)
            assert [entry["lo"] for entry in bins] == pytest.approx(list(edges[:-1]))
    visits = table["visit"].dropna()
    assert questions["visit"]["counts"] == visits.value_counts().sort_index().to_dict()
    assert questions["visit"]["min"] == visits.min()
    comments = table.sort_values("order")["comment"].dropna().tolist()
    assert questions["comment"]["n"] == len(comments)
    assert sorted(questions["comment"]["answers"]) == sorted(comments)


FILTERS = [
    StatsFilter(),
    StatsFilter(date_from=dt.date(2026, 10, 10), date_to=dt.date(2026, 10, 31)),
    StatsFilter(date_to=dt.date(2026, 10, 5)),
    StatsFilter(kiosks=("hall-2",)),
    StatsFilter(sites=("九龙",), date_from=dt.date(2026, 11, 1)),
    StatsFilter(enumerators=("JG0002",)),
    StatsFilter(where={"group": "elderly"}),
    StatsFilter(where={"services": "b", "sat": "5"}),
    StatsFilter(where={"new_q": "yes"}, kiosks=("hall-1", "tablet-1"),
                date_from=dt.date(2026, 10, 20)),
]


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: str(f.to_json()))
def test_every_figure_matches_pandas(store: KioskStore, survey: tuple[Path, pd.DataFrame],
                                     filters: StatsFilter):
    stats = survey_statistics(store, SURVEY, filters)
    check_figures(stats, select(survey[1], filters))
    assert stats["filters"] == filters.to_json()
    assert stats["versions"] == ["1", "2"] and stats["title"] == "社区调查"


def test_questions_of_every_version_are_matched_by_name(store: KioskStore,
                                                        survey: tuple[Path, pd.DataFrame]):
    table = survey[1]
    stats = survey_statistics(store, SURVEY)
    names = list(stats["questions"])
    assert names.index("new_q") < names.index("old_q")  # newest order, the dropped one last
    assert stats["questions"]["old_q"]["n"] == table["old_q"].notna().sum()
    assert set(table[table["version"] == "2"]["old_q"].dropna()) == set()
    assert stats["questions"]["services"]["counts"]["e"] == \
        table["services"].dropna().explode().eq("e").sum()


def test_labels_follow_the_language(store: KioskStore):
    chinese = survey_statistics(store, SURVEY)
    english = survey_statistics(store, SURVEY, language="en")
    assert chinese["questions"]["group"]["label"] == "您属于哪一类居民？"
    assert chinese["questions"]["group"]["choices"][0] == {"name": "elderly", "label": "老年人"}
    assert english["questions"]["group"]["label"] == "Which group?"
    assert english["title"] == "Community survey"


def test_pii_questions_only_when_asked(store: KioskStore, survey: tuple[Path, pd.DataFrame]):
    assert "phone" not in survey_statistics(store, SURVEY)["questions"]
    phones = survey_statistics(store, SURVEY, include_pii=True)["questions"]["phone"]
    assert phones["type"] == "text"
    assert sorted(phones["answers"]) == sorted(survey[1]["phone"].dropna())


@pytest.mark.parametrize(("by", "question", "filters"), [
    ("group", "sat", StatsFilter()),
    ("group", "services", StatsFilter(kiosks=("hall-1",))),
    ("services", "sat", StatsFilter()),
    ("services", "group", StatsFilter(date_from=dt.date(2026, 10, 15))),
    ("sat", "new_q", StatsFilter(where={"group": "youth"})),
])
def test_crosstab_counts_and_percents_match_pandas(
        store: KioskStore, survey: tuple[Path, pd.DataFrame], by: str, question: str,
        filters: StatsFilter):
    table = select(survey[1], filters)
    both = table[[by, question]].dropna().explode(by).explode(question)
    expected = pd.crosstab(both[by], both[question])
    stats = survey_statistics(store, SURVEY, filters, by=by, question=question)
    crosstab = stats["crosstab"]
    assert crosstab["by"] == by and crosstab["question"] == question
    answered = table[[by, question]].dropna()
    for group in CHOICES[by]:
        in_group = answered[answered[by].apply(
            lambda value, group=group: group in value if isinstance(value, list)
            else value == group)]
        assert crosstab["row_n"][group] == len(in_group)
        for choice in CHOICES[question]:
            count = int(expected.at[group, choice]) if group in expected.index and \
                choice in expected.columns else 0
            assert crosstab["table"][group][choice] == count, (group, choice)
            chose = answered[answered[question].apply(
                lambda value, choice=choice: choice in value if isinstance(value, list)
                else value == choice)]
            assert crosstab["column_n"][choice] == len(chose)
            row = crosstab["row_percent"][group][choice]
            column = crosstab["column_percent"][group][choice]
            assert row == (pytest.approx(count / len(in_group) * 100) if len(in_group)
                           else None)
            assert column == (pytest.approx(count / len(chose) * 100) if len(chose)
                              else None)
    if by == "group" and question == "sat":  # a select_one pair: pandas' own normalising
        rows = pd.crosstab(both[by], both[question], normalize="index") * 100
        columns = pd.crosstab(both[by], both[question], normalize="columns") * 100
        for group in rows.index:
            for choice in rows.columns:
                assert crosstab["row_percent"][group][choice] == pytest.approx(
                    rows.at[group, choice])
                assert crosstab["column_percent"][group][choice] == pytest.approx(
                    columns.at[group, choice])


def test_crosstab_of_every_select_question(store: KioskStore,
                                           survey: tuple[Path, pd.DataFrame]):
    stats = survey_statistics(store, SURVEY, by="group")
    tables = stats["crosstab"]["tables"]
    assert set(tables) == {"sat", "services", "old_q", "new_q"}
    one = survey_statistics(store, SURVEY, by="group", question="services")["crosstab"]
    assert tables["services"]["table"] == one["table"]
    assert tables["services"]["row_percent"] == one["row_percent"]


@pytest.mark.parametrize("period", ["day", "week", "month"])
@pytest.mark.parametrize("filters", [StatsFilter(), StatsFilter(where={"group": "youth"}),
                                     StatsFilter(kiosks=("hall-1", "tablet-1"))],
                         ids=["all", "youth", "kiosks"])
def test_submissions_over_time_per_site(store: KioskStore, survey: tuple[Path, pd.DataFrame],
                                        period: str, filters: StatsFilter):
    table = select(survey[1], filters).copy()
    days = pd.to_datetime(table["day"])
    if period == "day":
        table["period"] = table["day"]
    elif period == "week":
        table["period"] = (days - pd.to_timedelta(days.dt.weekday, unit="D")
                           ).dt.strftime("%Y-%m-%d")
    else:
        table["period"] = days.dt.strftime("%Y-%m")
    table["site"] = table["site"].fillna("")
    expected = table.groupby(["period", "site"]).size()
    stats = survey_statistics(store, SURVEY, filters, period=period)
    series = stats["over_time"]["series"]
    assert stats["over_time"]["period"] == period
    assert [entry["period"] for entry in series] == sorted(table["period"].unique())
    for entry in series:
        assert entry["n"] == int((table["period"] == entry["period"]).sum())
        for site, count in entry["sites"].items():
            assert count == expected[(entry["period"], site)]
    assert sum(entry["n"] for entry in series) == stats["n"]


def test_china_day_of_utc_times(store: KioskStore, survey: tuple[Path, pd.DataFrame]):
    """A submission stamped 2026-10-04T20:30Z counts on 5 October (China time)."""
    table = survey[1]
    late = table[table["completed"].str.endswith("+00:00")
                 & (table["completed"].str[11:13].astype(int) >= 16)]
    assert len(late) > 0 and (late["day"] > late["completed"].str[:10]).all()
    day = dt.date.fromisoformat(late["day"].iloc[0])
    stats = survey_statistics(store, SURVEY, StatsFilter(date_from=day, date_to=day))
    assert stats["n"] == int((table["day"] == day.isoformat()).sum())


def test_filtered_submissions_for_exports(store: KioskStore,
                                          survey: tuple[Path, pd.DataFrame]):
    for filters in FILTERS:
        records = list(store.iter_submissions(SURVEY, filters))
        expected = select(survey[1], filters)
        assert sorted(record["instance_id"] for record in records) == \
            sorted(expected["instance_id"])
    record = next(store.iter_submissions(SURVEY, StatsFilter(kiosks=("hall-1",))))
    assert record["site"] == "九龙"
    record = next(store.iter_submissions(SURVEY, StatsFilter(kiosks=("tablet-1",))))
    assert "site" not in record


def test_wilson_interval_against_scipy():
    for successes, total in [(0, 1), (1, 1), (0, 10), (3, 10), (50, 100), (999, 1000),
                             (1, 3000), (1234, 5678)]:
        low, high = binomtest(successes, total).proportion_ci(method="wilson")
        assert wilson_interval(successes, total) == pytest.approx((low * 100, high * 100),
                                                                  abs=1e-9)
    assert wilson_interval(0, 0) is None


def test_numeric_summary_of_one_value_and_of_none():
    assert numeric_summary([], integer=True)["mean"] is None
    one = numeric_summary([(7, 1)], integer=True)
    assert (one["mean"], one["sd"], one["median"], one["histogram"]) == (
        7, None, 7, [{"lo": 7, "hi": 8, "count": 1}])


def test_unknown_question_or_choice_is_named(store: KioskStore):
    with pytest.raises(StatsError, match=r"no question 'nope'.*select questions: group, "):
        survey_statistics(store, SURVEY, StatsFilter(where={"nope": "x"}))
    with pytest.raises(StatsError, match=r"'group' has no choice 'child'; choices: elderly, "
                                         r"youth, other"):
        survey_statistics(store, SURVEY, StatsFilter(where={"group": "child"}))
    with pytest.raises(StatsError, match=r"not a select question: 'age'"):
        survey_statistics(store, SURVEY, by="age")
    with pytest.raises(StatsError, match="no survey 'missing'"):
        survey_statistics(store, "missing")

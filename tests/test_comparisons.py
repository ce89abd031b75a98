"""Honest comparisons (issue 17, part 3): the chi-square test of every cross-tab, Fisher's
exact test, Cramér's V, Newcombe's interval of a change in a share and Welch's interval of a
change in a mean — each figure checked against scipy.stats and statsmodels on generated
data, the plain-words sentences (a difference larger than chance and one that is not),
degenerate tables, and ``kiosk stats --compare … --with …`` through the real CLI on a real
kiosk database."""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats as scipy_stats
from scipy.stats.contingency import association
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint
from textual.widgets import Input, Select

from kiosk.cli import main
from store import KioskStore
from surveys.stats import inference
from surveys.stats.comparison import compare_statistics, describe_filters, parse_filter_string
from surveys.stats.figures import survey_statistics, wilson_interval
from surveys.stats.model import StatsError, StatsFilter
from tests import stats_data
from tests.gated import gated, stored_before_the_gate
from tests.stats_data import SURVEY
from tests.test_app_flow import kiosk, screen_text, tap, wait_for
from tests.test_dashboard import (  # desk: the dashboard tests' database, a fixture
    STAFF_CONFIG,
    desk,  # noqa: F401
    open_dashboard,
    satisfaction,
    show_tab,
    tap_again,
)
from tests.test_repeat_stats import Households, households  # noqa: F401 (a fixture)

BEFORE, AFTER = "to=2026-10-24", "from=2026-10-25"
PROJECT_DAY = "2026-10-25"  # from this China day on, residents are more satisfied


# ---- generated data in a real kiosk database -------------------------------------------------


def _generated() -> list[Any]:
    """stats_data's submissions with two real effects: after PROJECT_DAY satisfaction rises
    (a change larger than chance), and older people say yes to the yes/no question more
    often (a cross-tab whose groups differ). The groups' shares stay random (no change)."""
    submissions = stats_data.generate(2400, seed=11)
    days = stats_data.frame(submissions)["day"].tolist()
    rng = random.Random(6)
    for submission, day in zip(submissions, days, strict=True):
        answers = submission.answers
        if day >= PROJECT_DAY and "sat" in answers:
            answers["sat"] = rng.choices(stats_data.LIKERT, [45, 33, 12, 6, 4])[0]
        for name in ("old_q", "new_q"):
            if name in answers and answers["group"] == "elderly":
                answers[name] = "yes" if rng.random() < 0.7 else "no"
    return submissions


@pytest.fixture(scope="module")
def survey(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    directory = tmp_path_factory.mktemp("comparisons")
    path = directory / "kiosk.db"
    submissions = _generated()
    with KioskStore(path) as store:
        for compiled in stats_data.compiled_versions(directory):
            store.install_form(compiled)
        assert store.insert_submissions(gated(store, submissions)) == len(submissions)
    return path, stats_data.frame(submissions)


@pytest.fixture
def civic(survey: tuple[Path, pd.DataFrame]) -> KioskStore:
    opened = KioskStore(survey[0])
    yield opened
    opened.close()


def side(table: pd.DataFrame, text: str) -> pd.DataFrame:
    """The rows of one side, by pandas (from=/to= only, as the tests use)."""
    key, _, day = text.partition("=")
    return table[table["day"] >= day] if key == "from" else table[table["day"] <= day]


def chose(answers: pd.Series, choice: str) -> int:
    return int(answers.apply(lambda value: choice in value if isinstance(value, list)
                             else value == choice).sum())


# ---- the special functions ---------------------------------------------------------------------


@pytest.mark.parametrize("df", [1, 2, 3, 7, 24, 99])
def test_chi_square_tail_against_scipy(df: int):
    for statistic in (0.001, 0.3, 1.0, 4.5, 12.0, 40.0, 150.0, 600.0):
        expected = scipy_stats.chi2.sf(statistic, df)
        assert inference.chi2_sf(statistic, df) == pytest.approx(expected, rel=1e-10, abs=1e-300)


@pytest.mark.parametrize("df", [1, 1.7, 4, 9.35, 30, 250.5, 5000])
def test_t_quantile_and_tail_against_scipy(df: float):
    for p in (0.5, 0.6, 0.9, 0.95, 0.975, 0.995, 0.025):
        assert inference.t_quantile(p, df) == pytest.approx(scipy_stats.t.ppf(p, df),
                                                            rel=1e-10, abs=1e-12)
    for t in (0.0, 0.2, 1.0, 2.5, 7.0, -1.5):
        assert inference.t_sf(t, df) == pytest.approx(scipy_stats.t.sf(t, df), rel=1e-10,
                                                      abs=1e-15)


# ---- the chi-square test, Cramér's V, Cochran's rule and Fisher's test ------------------------


def _random_table(rng: random.Random) -> dict[str, dict[str, int]]:
    """A cross-tab of 1–5 groups × 1–5 choices, some sparse, some with an empty row or column."""
    rows, columns = rng.randint(1, 5), rng.randint(1, 5)
    scale = rng.choice([2, 5, 30, 400])
    table = {f"g{row}": {f"c{column}": rng.randint(0, scale) for column in range(columns)}
             for row in range(rows)}
    if rng.random() < 0.2:
        table[rng.choice(list(table))] = dict.fromkeys(table["g0"], 0)
    if rng.random() < 0.2:
        empty = rng.choice(list(table["g0"]))
        for row in table.values():
            row[empty] = 0
    return table


def test_independence_test_against_scipy_on_generated_tables():
    rng = random.Random(17)
    tested = fisher_made = warned = 0
    for _ in range(400):
        table = _random_table(rng)
        result = inference.independence_test(table)
        matrix = np.array([list(row.values()) for row in table.values()])
        # scipy cannot test an empty row or column (an expected count of 0): drop them, as
        # any analyst would, and as the kiosk does.
        kept = matrix[matrix.sum(axis=1) > 0][:, matrix.sum(axis=0) > 0]
        if kept.sum() == 0 or kept.shape[0] < 2 or kept.shape[1] < 2:
            assert result.reason in ("no_answers", "one_group", "one_choice")
            assert result.p is None and result.chi2 is None
            continue
        tested += 1
        expected = scipy_stats.chi2_contingency(kept, correction=False)
        assert result.reason is None
        assert result.n == int(kept.sum())
        assert result.chi2 == pytest.approx(expected.statistic, rel=1e-9, abs=1e-12)
        assert result.df == expected.dof
        assert result.p == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-14)
        assert result.min_expected == pytest.approx(expected.expected_freq.min())
        assert result.cramers_v == pytest.approx(
            association(kept, method="cramer", correction=False), rel=1e-9, abs=1e-12)
        cells = expected.expected_freq.ravel()
        cochran = cells.min() < 1 or (cells < 5).sum() > 0.2 * cells.size
        assert result.small_expected == cochran
        warned += cochran
        if cochran and kept.shape == (2, 2):
            fisher_made += 1
            assert result.fisher_p == pytest.approx(scipy_stats.fisher_exact(kept).pvalue,
                                                    rel=1e-9)
        else:
            assert result.fisher_p is None
    assert tested > 200 and fisher_made > 10 and warned > 30  # every branch was exercised


def test_fisher_exact_against_scipy_including_ties_and_empty_margins():
    rng = random.Random(3)
    tables = [(0, 0, 0, 0), (0, 5, 0, 7), (3, 0, 4, 0), (1, 1, 1, 1), (5, 0, 0, 5),
              (10, 10, 10, 10), (2, 7, 8, 2), (0, 12, 9, 0)]
    tables += [tuple(rng.randint(0, 20) for _ in range(4)) for _ in range(300)]
    for a, b, c, d in tables:
        expected = scipy_stats.fisher_exact([[a, b], [c, d]]).pvalue
        assert inference.fisher_exact(a, b, c, d) == pytest.approx(expected, rel=1e-9), (
            a, b, c, d)


@pytest.mark.parametrize(("table", "reason", "words"), [
    ({}, "no_answers", "没有人同时回答"),
    ({"g": {"x": 0, "y": 0}, "h": {"x": 0, "y": 0}}, "no_answers", "没有人同时回答"),
    ({"g": {"x": 3, "y": 4}, "h": {"x": 0, "y": 0}}, "one_group", "只有一组"),
    ({"g": {"x": 3, "y": 0}, "h": {"x": 9, "y": 0}}, "one_choice", "都选了同一项"),
])
def test_degenerate_tables_say_no_test_can_be_made(table: dict[str, Any], reason: str,
                                                   words: str):
    from surveys.stats.sentences import test_sentence

    result = inference.independence_test(table)
    assert result.reason == reason and result.p is None
    assert test_sentence(result).startswith("无法检验") and words in test_sentence(result)


# ---- Newcombe's and Welch's intervals ---------------------------------------------------------


def test_newcombe_interval_against_statsmodels():
    rng = random.Random(23)
    pairs = [(0, 10, 0, 10), (10, 10, 10, 10), (0, 1, 1, 1), (5, 50, 45, 50), (1, 1, 0, 9)]
    for _ in range(300):
        total1, total2 = rng.randint(1, 3000), rng.randint(1, 3000)
        pairs.append((rng.randint(0, total1), total1, rng.randint(0, total2), total2))
    for count1, total1, count2, total2 in pairs:
        low, high = confint_proportions_2indep(count1, total1, count2, total2,
                                               method="newcomb", compare="diff")
        assert inference.newcombe_interval(count1, total1, count2, total2) == pytest.approx(
            (low * 100, high * 100), abs=1e-9), (count1, total1, count2, total2)
        # and the Wilson interval it is built on, against statsmodels too
        wilson = proportion_confint(count1, total1, method="wilson")
        assert wilson_interval(count1, total1) == pytest.approx(
            (wilson[0] * 100, wilson[1] * 100), abs=1e-9)
    assert inference.newcombe_interval(1, 0, 1, 5) is None


# scipy warns when a generated sample has one value only (its moments cancel); ours and its
# figures are still compared.
@pytest.mark.filterwarnings("ignore:Precision loss occurred:RuntimeWarning")
def test_welch_interval_against_scipy():
    rng = random.Random(29)
    for _ in range(120):
        first = [rng.randint(1, 5) for _ in range(rng.randint(2, 400))]
        second = [rng.choice([rng.randint(1, 5), 5]) for _ in range(rng.randint(2, 400))]
        if len(set(first)) == 1 and len(set(second)) == 1:
            continue
        moments = [inference.mean_and_variance(
            {float(value): sample.count(value) for value in set(sample)})
            for sample in (first, second)]
        (n1, mean1, variance1), (n2, mean2, variance2) = moments
        welch = inference.welch_interval(n1, mean1, variance1, n2, mean2, variance2)
        expected = scipy_stats.ttest_ind(first, second, equal_var=False)
        interval = expected.confidence_interval(0.95)
        assert welch is not None
        assert welch.difference == pytest.approx(np.mean(first) - np.mean(second))
        assert welch.t == pytest.approx(expected.statistic, rel=1e-9)
        assert welch.df == pytest.approx(expected.df, rel=1e-9)
        assert welch.p == pytest.approx(expected.pvalue, rel=1e-8, abs=1e-15)
        assert (welch.low, welch.high) == pytest.approx((interval.low, interval.high),
                                                        rel=1e-9, abs=1e-12)
    assert inference.welch_interval(1, 3.0, 0.0, 5, 4.0, 1.0) is None  # a group of one
    assert inference.welch_interval(4, 3.0, 0.0, 5, 3.0, 0.0) is None  # nobody differs


# ---- cross-tabs of survey_statistics -------------------------------------------------------


@pytest.mark.parametrize(("by", "question", "filters"), [
    ("group", "sat", StatsFilter()),
    ("group", "new_q", StatsFilter()),
    ("group", "old_q", StatsFilter(kiosks=("hall-1",))),
    ("sat", "group", StatsFilter(date_from=dt.date(2026, 11, 5))),
    ("new_q", "sat", StatsFilter(where={"group": "youth"})),
])
def test_every_crosstab_carries_its_test_as_scipy_computes_it(
        civic: KioskStore, survey: tuple[Path, pd.DataFrame], by: str, question: str,
        filters: StatsFilter):
    from tests.test_stats import select

    table = select(survey[1], filters)[[by, question]].dropna()
    observed = pd.crosstab(table[by], table[question])
    expected = scipy_stats.chi2_contingency(observed.to_numpy(), correction=False)
    test = survey_statistics(civic, SURVEY, filters, by=by,
                             question=question)["crosstab"]["test"]
    assert test["n"] == len(table)
    assert test["chi2"] == pytest.approx(expected.statistic)
    assert test["df"] == expected.dof
    assert test["p"] == pytest.approx(expected.pvalue, rel=1e-9)
    assert test["cramers_v"] == pytest.approx(association(observed.to_numpy(),
                                                          method="cramer"))
    assert test["significant"] == (expected.pvalue < 0.05)
    if expected.pvalue < 0.05:
        assert test["sentence"].startswith(("两组差异显著", "各组差异显著"))
    else:
        assert test["sentence"].startswith("差异不显著，可能只是偶然")
    assert f"p={expected.pvalue:.3f}" in test["sentence"] or (
        expected.pvalue < 0.001 and "p<0.001" in test["sentence"])


def test_a_crosstab_with_a_difference_and_one_without(civic: KioskStore):
    """Older people were made to say yes more often; satisfaction has nothing to do with
    the group. The sentences say so."""
    tables = survey_statistics(civic, SURVEY, by="group")["crosstab"]["tables"]
    assert tables["new_q"]["test"]["p"] < 0.001
    assert tables["new_q"]["test"]["sentence"].startswith("各组差异显著（χ²=")
    assert "自由度 2，p<0.001，Cramér's V=" in tables["new_q"]["test"]["sentence"]
    assert tables["sat"]["test"]["p"] > 0.05
    assert tables["sat"]["test"]["sentence"].startswith("差异不显著，可能只是偶然（χ²=")
    # one respondent in several cells: no chi-square test, and the reason in words
    assert tables["services"]["test"]["reason"] == "multiple"
    assert tables["services"]["test"]["sentence"].startswith("无法检验：多选题")
    english = survey_statistics(civic, SURVEY, by="group", question="new_q", language="en")
    assert english["crosstab"]["test"]["sentence"].startswith("the groups differ")


def test_crosstabs_nobody_or_one_group_answered(civic: KioskStore):
    nobody = survey_statistics(civic, SURVEY, StatsFilter(sites=("无此站",)), by="group")
    for table in nobody["crosstab"]["tables"].values():
        assert table["test"]["p"] is None and table["test"]["sentence"].startswith("无法检验")
    one = survey_statistics(civic, SURVEY, StatsFilter(where={"group": "youth"}), by="group",
                            question="sat")["crosstab"]["test"]
    assert one["reason"] == "one_group" and one["sentence"] == "无法检验：只有一组有人回答"
    # old_q (version 1) and new_q (version 2) were never asked together
    never = survey_statistics(civic, SURVEY, by="old_q", question="new_q")["crosstab"]["test"]
    assert never["reason"] == "no_answers"


# ---- comparisons ----------------------------------------------------------------------------


def _check_share(entry: dict[str, Any], count_a: int, n_a: int, count_b: int, n_b: int) -> None:
    low, high = confint_proportions_2indep(count_b, n_b, count_a, n_a, method="newcomb",
                                           compare="diff")
    assert (entry["count_a"], entry["count_b"]) == (count_a, count_b)
    assert entry["percent_a"] == pytest.approx(count_a / n_a * 100)
    assert entry["percent_b"] == pytest.approx(count_b / n_b * 100)
    assert entry["difference"] == pytest.approx((count_b / n_b - count_a / n_a) * 100)
    assert entry["ci95"] == pytest.approx([low * 100, high * 100], abs=1e-9)
    assert entry["significant"] == (low > 0 or high < 0)


def test_comparison_figures_against_statsmodels_and_scipy(civic: KioskStore,
                                                          survey: tuple[Path, pd.DataFrame]):
    first, second = side(survey[1], BEFORE), side(survey[1], AFTER)
    result = compare_statistics(civic, SURVEY, parse_filter_string(BEFORE, "--compare"),
                                parse_filter_string(AFTER, "--with"))
    assert (result["a"]["n"], result["b"]["n"]) == (len(first), len(second))
    assert result["overlap"] == 0
    assert set(result["questions"]) == {"group", "services", "sat", "new_q", "old_q"}
    for name, entry in result["questions"].items():
        answers_a, answers_b = first[name].dropna(), second[name].dropna()
        assert (entry["n_a"], entry["n_b"]) == (len(answers_a), len(answers_b))
        for choice in entry["choices"]:
            _check_share(choice, chose(answers_a, choice["name"]), len(answers_a),
                         chose(answers_b, choice["name"]), len(answers_b))
    sat = result["questions"]["sat"]
    top_a = int(first["sat"].dropna().isin(["5", "4"]).sum())
    top_b = int(second["sat"].dropna().isin(["5", "4"]).sum())
    _check_share(sat["top2"], top_a, sat["n_a"], top_b, sat["n_b"])
    scores_a = first["sat"].dropna().astype(float)
    scores_b = second["sat"].dropna().astype(float)
    welch = scipy_stats.ttest_ind(scores_b, scores_a, equal_var=False)
    interval = welch.confidence_interval(0.95)
    mean = sat["mean"]
    assert (mean["mean_a"], mean["mean_b"]) == pytest.approx((scores_a.mean(),
                                                              scores_b.mean()))
    assert mean["difference"] == pytest.approx(scores_b.mean() - scores_a.mean())
    assert mean["ci95"] == pytest.approx([interval.low, interval.high], rel=1e-9)
    assert mean["t"] == pytest.approx(welch.statistic, rel=1e-9)
    assert mean["df"] == pytest.approx(welch.df, rel=1e-9)
    assert mean["p"] == pytest.approx(welch.pvalue, rel=1e-6, abs=1e-300)


def test_comparison_sentences_say_whether_the_change_is_larger_than_chance(
        civic: KioskStore, survey: tuple[Path, pd.DataFrame]):
    first, second = side(survey[1], BEFORE), side(survey[1], AFTER)
    result = compare_statistics(civic, SURVEY, parse_filter_string(BEFORE, "--compare"),
                                parse_filter_string(AFTER, "--with"))
    sat = result["questions"]["sat"]
    before = first["sat"].dropna().isin(["5", "4"]).mean() * 100
    after = second["sat"].dropna().isin(["5", "4"]).mean() * 100
    low, high = (bound * 100 for bound in confint_proportions_2indep(
        int(second["sat"].dropna().isin(["5", "4"]).sum()), second["sat"].notna().sum(),
        int(first["sat"].dropna().isin(["5", "4"]).sum()), first["sat"].notna().sum(),
        method="newcomb", compare="diff"))
    assert low > 0  # the generated rise is larger than chance
    assert sat["top2"]["sentence"] == (
        f"满意率（非常满意+满意）从 {before:.0f}% 升到 {after:.0f}%，提高 "
        f"{after - before:.0f} 个百分点（95%置信区间 {low:.0f} 到 {high:.0f}），大于偶然波动")
    assert sat["sentence"].startswith(sat["top2"]["sentence"] + "；平均分从 ")
    assert sat["sentence"].endswith("大于偶然波动")
    # The groups' shares were drawn alike on both sides: every interval holds 0 ...
    for choice in stats_data.GROUPS:
        low, high = confint_proportions_2indep(
            chose(second["group"], choice), len(second), chose(first["group"], choice),
            len(first), method="newcomb", compare="diff")
        assert low < 0 < high
    # ... and the sentence says the change is within chance.
    assert result["questions"]["group"]["sentence"] == \
        "“您属于哪一类居民？”各选项比例的变化都在偶然波动范围内"
    english = compare_statistics(civic, SURVEY, parse_filter_string(BEFORE, "--compare"),
                                 parse_filter_string(AFTER, "--with"), language="en")
    assert english["questions"]["sat"]["top2"]["sentence"].startswith(
        "Top-2 share (5 + 4) rose from")  # the English labels are the names
    assert english["questions"]["group"]["sentence"].endswith("within chance variation")


def test_comparison_with_an_empty_side_or_everyone_alike(civic: KioskStore):
    empty = compare_statistics(civic, SURVEY, parse_filter_string("site=无此站", "--compare"),
                               parse_filter_string(AFTER, "--with"))
    assert empty["a"]["n"] == 0 and empty["overlap"] == 0
    for entry in empty["questions"].values():
        assert entry["choices"] == [] and entry["sentence"] == "无法比较：第一组没有人回答这道题"
    alike = compare_statistics(civic, SURVEY,
                               parse_filter_string(f"{BEFORE} sat=5", "--compare"),
                               parse_filter_string(f"{AFTER} sat=5", "--with"))
    sat = alike["questions"]["sat"]
    assert sat["top2"]["difference"] == 0 and sat["top2"]["significant"] is False
    assert sat["top2"]["sentence"].startswith("满意率（非常满意+满意）都是 100%，没有变化")
    assert sat["mean"]["ci95"] is None
    assert sat["mean"]["sentence"] == "平均分无法检验：两组每个人的分数都一样"


def test_overlapping_groups_are_counted(civic: KioskStore, survey: tuple[Path, pd.DataFrame]):
    table = survey[1]
    result = compare_statistics(civic, SURVEY, parse_filter_string("site=九龙", "--compare"),
                                parse_filter_string("kiosk=hall-1", "--with"))
    assert result["overlap"] == int((table["kiosk"] == "hall-1").sum()) > 0
    unknown = compare_statistics(civic, SURVEY, parse_filter_string("services=a", "--compare"),
                                 parse_filter_string("services=b", "--with"))
    assert unknown["overlap"] is None  # both choices of a multiple choice: may overlap
    apart = compare_statistics(civic, SURVEY, parse_filter_string("group=youth", "--compare"),
                               parse_filter_string("group=elderly", "--with"))
    assert apart["overlap"] == 0


def test_filter_strings():
    base = StatsFilter(where={"group": "youth"}, kiosks=("hall-1",))
    parsed = parse_filter_string("from=2025-01-01 to=2025-06-30 site='九龙 街道' site=新华 sat=5",
                                 "--compare", base)
    assert parsed.date_from == dt.date(2025, 1, 1) and parsed.date_to == dt.date(2025, 6, 30)
    assert parsed.sites == ("九龙 街道", "新华") and parsed.kiosks == ("hall-1",)
    assert parsed.where == {"group": "youth", "sat": "5"}
    assert parse_filter_string("kiosk=hall-2", "--with", base).kiosks == ("hall-2",)
    # A side is named as it would be typed, and the name reads back as the same filters.
    assert describe_filters(parsed) == ("from=2025-01-01 to=2025-06-30 'site=九龙 街道' "
                                        "site=新华 kiosk=hall-1 group=youth sat=5")
    assert parse_filter_string(describe_filters(parsed), "--compare") == parsed
    for text, words in [("from", "不是 键=值"), ("=5", "不是 键=值"), ("sat=", "不是 键=值"),
                        ("from=2025-13-01", "YYYY-MM-DD"), ("from=2025-02-01 to=2025-01-01",
                                                            "早于开始日"),
                        ("from=2025-01-01 from=2025-02-01", "给了两次"),
                        ("sat=5 sat=4", "给了两次"), ("site='九龙", "引号没有配对"),
                        ("", "至少给一个"), ("   ", "至少给一个")]:
        with pytest.raises(StatsError, match=words) as refused:
            parse_filter_string(text, "--with")
        assert str(refused.value).startswith("--with")


# ---- the CLI ----------------------------------------------------------------------------------


def _stats(survey: tuple[Path, pd.DataFrame], *arguments: str) -> Any:
    return CliRunner().invoke(main, ["--db", str(survey[0]), "stats", SURVEY, *arguments])


def test_cli_compare_json_and_text(civic: KioskStore, survey: tuple[Path, pd.DataFrame]):
    result = _stats(survey, "--compare", BEFORE, "--with", AFTER, "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    expected = compare_statistics(civic, SURVEY, parse_filter_string(BEFORE, "--compare"),
                                  parse_filter_string(AFTER, "--with"))
    assert shown == json.loads(json.dumps(expected, ensure_ascii=False))
    text = _stats(survey, "--compare", BEFORE, "--with", AFTER)
    assert text.exit_code == 0, text.output
    flat = " ".join(text.output.split())
    assert f"第一组: {BEFORE} · 提交份数 {shown['a']['n']:,}" in flat
    assert "".join(shown["questions"]["group"]["sentence"].split()) in "".join(flat.split())
    assert "大于偶然波动" in text.output and "满意率（前两项）" in text.output


def test_cli_compare_keeps_the_commands_own_filters(survey: tuple[Path, pd.DataFrame]):
    table = survey[1]
    result = _stats(survey, "--where", "group=elderly", "--kiosk", "hall-1", "--compare",
                    BEFORE, "--with", f"{AFTER} kiosk=hall-2", "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    elderly = table[table["group"] == "elderly"]
    assert shown["a"]["n"] == len(side(elderly[elderly["kiosk"] == "hall-1"], BEFORE))
    assert shown["b"]["n"] == len(side(elderly[elderly["kiosk"] == "hall-2"], AFTER))
    assert shown["b"]["filters"]["kiosks"] == ["hall-2"]
    assert shown["b"]["filters"]["where"] == {"group": "elderly"}


@pytest.mark.parametrize(("arguments", "words"), [
    (["--compare", "fromm", "--with", AFTER], "--compare：“fromm”不是 键=值"),
    (["--compare", BEFORE, "--with", "from=2026-02-30"], "--with：“from=2026-02-30”的日期"),
    (["--compare", "nope=1", "--with", AFTER], "--compare: --where nope=1: no question 'nope'"),
    (["--compare", BEFORE, "--with", "sat=9"], "--with: --where sat=9: question 'sat' has no "
                                               "choice '9'"),
    (["--compare", BEFORE], "--compare 和 --with 要一起给"),
    (["--with", AFTER], "--compare 和 --with 要一起给"),
    (["--compare", BEFORE, "--with", AFTER, "--by", "group"], "--by 不能和 --compare 一起用"),
    (["--compare", "", "--with", AFTER], "--compare：至少给一个 键=值"),
    (["--pdf", "x.pdf"], "--pdf 只用于 --compare/--with"),
])
def test_cli_refuses_bad_filter_strings(survey: tuple[Path, pd.DataFrame],
                                        arguments: list[str], words: str):
    result = _stats(survey, *arguments)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # a message, never a traceback
    assert words in " ".join(result.output.split())


def test_cli_crosstab_shows_its_test(survey: tuple[Path, pd.DataFrame]):
    result = _stats(survey, "--by", "group", "--question", "new_q")
    assert result.exit_code == 0, result.output
    assert "各组差异显著（χ²=" in result.output
    shown = json.loads(_stats(survey, "--by", "group", "--json").output)
    assert shown["crosstab"]["tables"]["sat"]["test"]["significant"] is False


def test_cli_compare_pdf(survey: tuple[Path, pd.DataFrame], tmp_path: Path):
    target = tmp_path / "比较.pdf"
    result = _stats(survey, "--compare", BEFORE, "--with", AFTER, "--pdf", str(target),
                    "--json")
    assert result.exit_code == 0, result.output
    assert target.read_bytes().startswith(b"%PDF")
    tool = shutil.which("pdftotext")  # poppler-utils: scripts/setup.sh test installs it
    assert tool is not None, "pdftotext is missing: run ./scripts/setup.sh test"
    text = subprocess.run([tool, str(target), "-"], check=True, capture_output=True,
                          text=True, timeout=60).stdout
    flat = "".join(text.split())
    assert "社区调查·两组比较" in flat
    shown = json.loads(result.stdout)
    assert "".join(shown["questions"]["sat"]["top2"]["sentence"].split())[:30] in flat
    assert "各选项比例的变化都在偶然波动范围内" in flat



# ---- the dashboard -----------------------------------------------------------------------------


def _flat(text: str) -> str:
    return "".join(text.split())


async def test_the_dashboard_compares_two_periods_and_names_a_bad_filter(
        desk: KioskStore):  # noqa: F811 (the fixture imported above)
    rng = random.Random(8)
    early = [satisfaction(rng, day=3) for _ in range(80)]
    late = [satisfaction(rng, day=20) for _ in range(80)]
    stored_before_the_gate(desk, early + late)  # as the dashboard's own tests store them
    expected = compare_statistics(desk, "satisfaction",
                                  parse_filter_string("to=2026-11-10", "--compare"),
                                  parse_filter_string("from=2026-11-11", "--with"))
    sentence = expected["questions"]["overall"]["sentence"]
    tested = survey_statistics(desk, "satisfaction", by="respondent_group",
                               question="overall")["crosstab"]["test"]["sentence"]
    assert tested.startswith(("差异不显著", "两组差异显著", "各组差异显著"))
    app = kiosk(desk, config=STAFF_CONFIG)
    async with app.run_test(size=(140, 60)) as pilot:
        screen = await open_dashboard(pilot)
        # The cross-tab's chi-square test, in words under the table.
        screen.query_one("#stats-survey", Select).value = "satisfaction"
        await pilot.pause()
        screen.query_one("#stats-by", Select).value = "respondent_group"
        screen.query_one("#stats-question", Select).value = "overall"
        await wait_for(pilot, lambda: _flat(tested)[:20] in _flat(screen_text(app)))
        await show_tab(pilot, "tab-compare")
        screen.query_one("#compare-survey", Select).value = "satisfaction"
        screen.query_one("#compare-first", Input).value = "to=2026-11-10"
        screen.query_one("#compare-second", Input).value = "from=2026-11-11"
        await tap(pilot, "#compare-go")
        await wait_for(pilot, lambda: "第一组 80 份 · 第二组 80 份" in screen_text(app))
        assert _flat(sentence)[:24] in _flat(screen_text(app))
        screen.query_one("#compare-first", Input).value = "from=2026-13-01"
        await tap_again(pilot, "#compare-go")
        await wait_for(pilot, lambda: "无法比较：第一组：“from=2026-13-01”的日期应写成" in
                       _flat(screen_text(app)))


def test_the_crosstab_test_in_the_xlsx_sheet_and_the_pdf_report(
        civic: KioskStore, survey: tuple[Path, pd.DataFrame], tmp_path: Path):
    from openpyxl import load_workbook

    tables = survey_statistics(civic, SURVEY, by="group")["crosstab"]["tables"]
    for suffix in ("xlsx", "pdf"):
        result = CliRunner().invoke(main, ["--db", str(survey[0]), "export", SURVEY, "-o",
                                           str(tmp_path / f"report.{suffix}"), "--by", "group"])
        assert result.exit_code == 0, result.output
    book = load_workbook(tmp_path / "report.xlsx")
    cells = {cell for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
             for cell in row if isinstance(cell, str)}
    for name in ("new_q", "sat", "services"):
        assert tables[name]["test"]["sentence"] in cells, name
    tool = shutil.which("pdftotext")  # poppler-utils: scripts/setup.sh test installs it
    assert tool is not None, "pdftotext is missing: run ./scripts/setup.sh test"
    text = _flat(subprocess.run([tool, str(tmp_path / "report.pdf"), "-"], check=True,
                                capture_output=True, text=True, timeout=60).stdout)
    for name in ("new_q", "sat", "services"):
        assert _flat(tables[name]["test"]["sentence"]) in text, name


# ---- repeat groups: counted per instance, so neither tested nor compared ----------------------


def test_per_instance_crosstabs_are_not_tested_and_repeats_not_compared(
        households: Households):  # noqa: F811 (the fixture imported above)
    from tests.test_repeat_stats import SURVEY as VISITS

    with KioskStore(households.path) as visits:
        tables = survey_statistics(visits, VISITS, by="community")["crosstab"]["tables"]
        works = tables["works"]["test"]
        assert works["reason"] == "instance" and works["p"] is None
        assert works["sentence"].startswith("无法检验：按人次计数")
        made = tables["resp_group"]["test"]  # asked once per household: tested
        observed = np.array([list(row.values()) for row in tables["resp_group"]["table"].values()])
        observed = observed[observed.sum(axis=1) > 0][:, observed.sum(axis=0) > 0]
        expected = scipy_stats.chi2_contingency(observed, correction=False)
        assert made["p"] == pytest.approx(expected.pvalue, rel=1e-9)
        compared = compare_statistics(visits, VISITS,
                                      parse_filter_string("to=2026-11-11", "--compare"),
                                      parse_filter_string("from=2026-11-12", "--with"))
        assert "resp_group" in compared["questions"]
        assert not {"works", "needs", "chronic", "service"} & set(compared["questions"])


def test_a_small_two_by_two_is_read_by_fisher_when_chi_square_would_mislead():
    from surveys.stats.sentences import test_sentence

    table = {"g": {"x": 3, "y": 0}, "h": {"x": 0, "y": 3}}
    result = inference.independence_test(table)
    chi2 = scipy_stats.chi2_contingency([[3, 0], [0, 3]], correction=False)
    fisher = scipy_stats.fisher_exact([[3, 0], [0, 3]]).pvalue
    assert chi2.pvalue < 0.05 < fisher  # the chi-square p alone would call it significant
    assert result.small_expected and result.fisher_p == pytest.approx(fisher)
    assert test_sentence(result) == (
        f"期望频数偏小，改用 Fisher 精确检验：p={fisher:.3f}；差异不显著，可能只是偶然"
        f"（χ²={chi2.statistic:.1f}，自由度 1，p={chi2.pvalue:.3f}，Cramér's V=1.00）")
    larger = inference.independence_test({"g": {"x": 3, "y": 1, "z": 0},
                                          "h": {"x": 0, "y": 2, "z": 4}})
    assert larger.fisher_p is None and "注意：期望频数偏小（最小 " in test_sentence(larger)


def test_review_states_in_filter_strings(tmp_path: Path):
    submissions = stats_data.generate(200, seed=4)
    with KioskStore(tmp_path / "kiosk.db") as reviewed:
        for compiled in stats_data.compiled_versions(tmp_path):
            reviewed.install_form(compiled)
        reviewed.insert_submissions(gated(reviewed, submissions))
        for item in submissions[:60]:
            reviewed.set_review(item.instance_id, "approved", staff="李社工")
        for item in submissions[60:80]:
            reviewed.set_review(item.instance_id, "void", "重复填写", staff="李社工")

        def compare(first: str, second: str) -> dict[str, Any]:
            return compare_statistics(reviewed, SURVEY, parse_filter_string(first, "--compare"),
                                      parse_filter_string(second, "--with"))

        apart = compare("review=approved", "review=pending")
        assert (apart["a"]["n"], apart["b"]["n"], apart["overlap"]) == (60, 120, 0)
        every = compare("review=all", "review=approved")
        assert (every["a"]["n"], every["overlap"]) == (200, 60)
        hall = sum(item.kiosk == "hall-1" for item in submissions[:60] + submissions[80:])
        voided = compare("kiosk=hall-1", "review=void")  # no review key: void left out
        assert (voided["a"]["n"], voided["b"]["n"], voided["overlap"]) == (hall, 20, 0)
    with pytest.raises(StatsError, match="--with：没有审核状态“maybe”"):
        parse_filter_string("review=maybe", "--with")

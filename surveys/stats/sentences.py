"""Plain words for the tests of surveys/stats/inference.py, Chinese first (or English with
``--lang en``): what a station worker reads under a cross-tab or a comparison.

A difference is called larger than chance (显著) when the chi-square p (Fisher's for a 2×2
table with small expected counts) is under 0.05, or when the 95 % interval of a change
leaves out 0. The numbers behind every sentence are in the JSON beside it.
"""

from __future__ import annotations

from typing import Any

from surveys.stats.inference import IndependenceTest, independence_test
from surveys.stats.model import Question

ALPHA = 0.05

WORDS: dict[str, dict[str, str]] = {
    "zh": {
        "significant": "{groups}差异显著（{figures}）",
        "not_significant": "差异不显著，可能只是偶然（{figures}）",
        "two": "两组", "many": "各组",
        "figures": "χ²={chi2}，自由度 {df}，{p}，Cramér's V={v}",
        "fisher": "期望频数偏小，改用 Fisher 精确检验：{p}；",
        "small": "；注意：期望频数偏小（最小 {min}），卡方检验结果仅供参考",
        "multiple": "无法检验：多选题一个人可以落在几个格子里，卡方检验不适用",
        "instance": "无法检验：按人次计数，同一份问卷里的几个人互不独立，卡方检验不适用",
        "no_answers": "无法检验：没有人同时回答这两道题",
        "one_group": "无法检验：只有一组有人回答",
        "one_choice": "无法检验：所有人都选了同一项",
        # comparisons
        "rise": "{what}从 {a} 升到 {b}，提高 {change}（95%置信区间 {low} 到 {high}）",
        "fall": "{what}从 {a} 降到 {b}，下降 {change}（95%置信区间 {low} 到 {high}）",
        "same": "{what}都是 {a}，没有变化（95%置信区间 {low} 到 {high}）",
        "beyond": "，大于偶然波动", "within": "，变化在偶然波动范围内",
        "points": "{n} 个百分点", "score": "{n} 分",
        "top2": "满意率（{choices}）", "mean": "平均分", "share": "选“{choice}”的比例",
        "or": "+", "sep": "；",
        "none_beyond": "“{label}”各选项比例的变化都在偶然波动范围内",
        "also": "（另有 {n} 项的变化也大于偶然波动）",
        "empty": "无法比较：{side}没有人回答这道题",
        "side_a": "第一组", "side_b": "第二组", "both": "两组都",
        "no_spread": "平均分无法检验：两组每个人的分数都一样",
        "too_few": "平均分无法检验：一组回答的人少于 2 个",
    },
    "en": {
        "significant": "the {groups} differ (larger than chance: {figures})",
        "not_significant": "no significant difference, may be chance ({figures})",
        "two": "two groups", "many": "groups",
        "figures": "χ²={chi2}, df {df}, {p}, Cramér's V={v}",
        "fisher": "small expected counts, Fisher's exact test instead: {p}; ",
        "small": "; note: small expected counts (smallest {min}), the chi-square p is "
                 "only a guide",
        "multiple": "no test: in a multiple-choice question one person can be in several "
                    "cells, so the chi-square test does not apply",
        "instance": "no test: counted per instance, and the people of one submission are "
                    "not independent, so the chi-square test does not apply",
        "no_answers": "no test: nobody answered both questions",
        "one_group": "no test: only one group answered",
        "one_choice": "no test: everyone chose the same answer",
        "rise": "{what} rose from {a} to {b}, up {change} (95% CI {low} to {high})",
        "fall": "{what} fell from {a} to {b}, down {change} (95% CI {low} to {high})",
        "same": "{what} is {a} in both, no change (95% CI {low} to {high})",
        "beyond": ", larger than chance", "within": ", within chance variation",
        "points": "{n} points", "score": "{n}",
        "top2": "Top-2 share ({choices})", "mean": "the mean score",
        "share": "the share choosing '{choice}'", "or": " + ", "sep": "; ",
        "none_beyond": "every change in '{label}' is within chance variation",
        "also": " ({n} more changes are larger than chance)",
        "empty": "no comparison: nobody answered this question in {side}",
        "side_a": "the first group", "side_b": "the second group", "both": "either group",
        "no_spread": "no test of the mean: everyone in both groups gave the same score",
        "too_few": "no test of the mean: fewer than 2 answered in a group",
    },
}


def words(language: str) -> dict[str, str]:
    return WORDS.get(language, WORDS["zh"])


def p_text(p: float) -> str:
    """p as it is usually written: 0.002, or <0.001."""
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def p_clause(p: float) -> str:
    """"p=0.002" or "p<0.001"."""
    return f"p{p_text(p)}" if p < 0.001 else f"p={p_text(p)}"


def crosstab_test(table: dict[str, Any], by: Question, question: Question,
                  language: str = "zh") -> dict[str, Any]:
    """The chi-square test of one cross-tab of survey_statistics as JSON, with ``significant``
    (None when no test) and ``sentence``. No test when a select_multiple is on either side
    or the question is counted per instance: then one respondent is in several cells."""
    w = words(language)
    if by.is_multiple or question.is_multiple or question.in_repeat:
        key = "instance" if question.in_repeat and not (by.is_multiple or
                                                         question.is_multiple) else "multiple"
        return {**IndependenceTest(sum(sum(row.values()) for row in table["table"].values()),
                                   [], [], reason=key).to_json(),
                "significant": None, "sentence": w[key]}
    test = independence_test(table["table"])
    return {**test.to_json(), "significant": significant(test),
            "sentence": test_sentence(test, language)}


def significant(test: IndependenceTest) -> bool | None:
    p = test.p_to_read
    return None if p is None else p < ALPHA


def test_sentence(test: IndependenceTest, language: str = "zh") -> str:
    """One sentence for a test: significant or not, with χ², df, p and Cramér's V."""
    w = words(language)
    if test.reason is not None or test.chi2 is None or test.p is None:
        return w.get(test.reason or "no_answers", w["no_answers"])
    figures = w["figures"].format(chi2=f"{test.chi2:.1f}", df=test.df,
                                  p=p_clause(test.p), v=f"{test.cramers_v:.2f}")
    lead = "" if test.fisher_p is None else w["fisher"].format(p=p_clause(test.fisher_p))
    groups = w["two"] if len(test.rows) == 2 else w["many"]
    sentence = lead + (w["significant"].format(groups=groups, figures=figures)
                       if significant(test) else w["not_significant"].format(figures=figures))
    if test.small_expected and test.fisher_p is None:
        sentence += w["small"].format(min=f"{test.min_expected:.1f}")
    return sentence


# ---- comparisons ----------------------------------------------------------------------------


def _points(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 0.5 or value == 0 else f"{value:.1f}"


def change_sentence(what: str, before: float, after: float, interval: list[float],
                    language: str = "zh", *, unit: str = "percent") -> str:
    """"满意率从 68% 升到 79%，提高 11 个百分点（95%置信区间 6 到 16），大于偶然波动" — a
    change is larger than chance when its interval leaves out 0."""
    w = words(language)
    low, high = interval
    if unit == "percent":
        a, b = f"{before:.0f}%", f"{after:.0f}%"
        change = w["points"].format(n=_points(abs(after - before)))
        low_text, high_text = _points(low), _points(high)
    else:
        a, b = f"{before:.2f}", f"{after:.2f}"
        change = w["score"].format(n=f"{abs(after - before):.2f}")
        low_text, high_text = f"{low:.2f}", f"{high:.2f}"
    key = "rise" if after > before else "fall" if after < before else "same"
    sentence = w[key].format(what=what, a=a, b=b, change=change, low=low_text, high=high_text)
    return sentence + (w["beyond"] if low > 0 or high < 0 else w["within"])

"""``kiosk stats`` in the terminal: the figures of ``surveys.stats`` as rich tables, and
with ``--by-site`` N and each select question's counts and percentages per street,
community and kiosk. A question inside a repeat group says it is counted per instance
(按人次) and from how many instances and submissions; each repeat group gets a table of
how many instances the submissions hold.

Under each cross-tab, its chi-square test in plain words. ``render_comparison`` shows
``kiosk stats --compare … --with …``: per question a sentence, then each choice's share on
both sides with the change and its 95 % interval.

Percentages are rounded here, for reading; ``kiosk stats --json`` keeps the exact figures.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

TEXT_ANSWERS_SHOWN = 10
WORDS = {
    "zh": {"n": "提交份数", "choice": "选项", "count": "人数", "percent": "百分比",
           "ci": "95% 置信区间", "rank": "排名", "mean": "平均分", "top2": "满意率（前两项）",
           "answered": "作答人数", "figure": "指标", "value": "数值", "more": "另有 {n} 条",
           "period": "时间", "total": "合计", "no_site": "（未记站点）", "by": "按",
           "row": "行%", "column": "列%", "answers": "条回答", "filters": "筛选",
           "range": "范围", "over_time": "提交数量随时间变化",
           "out_of_range": "超出范围未计入",
           "day": "按日", "week": "按周", "month": "按月", "(": "（", ")": "）",
           "per_instance": "按人次：{n} 人次作答 · 共 {instances} 人次，来自 {submissions} 份提交",
           "per_submission": "每份提交的条数", "instances": "条数", "submissions": "提交份数",
           "instance_summary": "共 {instances} 条 · 平均 {mean} · 中位数 {median} · "
                               "最少 {min} · 最多 {max}"},
    "en": {"n": "Submissions", "choice": "Choice", "count": "n", "percent": "%",
           "ci": "95% CI", "rank": "Rank", "mean": "Mean", "top2": "Top-2 box",
           "answered": "Answered", "figure": "Figure", "value": "Value",
           "more": "{n} more", "period": "Period", "total": "Total", "no_site": "(no site)",
           "by": "by", "row": "row %", "column": "col %", "answers": "answers",
           "filters": "Filters", "range": "Range", "over_time": "Submissions over time",
           "out_of_range": "past any answer, left out",
           "day": "by day", "week": "by week", "month": "by month", "(": " (", ")": ")",
           "per_instance": "per instance: {n} answered · {instances} instances from "
                           "{submissions} submissions",
           "per_submission": "instances per submission", "instances": "Instances",
           "submissions": "Submissions",
           "instance_summary": "{instances} in all · mean {mean} · median {median} · "
                               "min {min} · max {max}"},
}


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def _interval(values: list[float] | None) -> str:
    return "—" if not values else f"{values[0]:.1f}–{values[1]:.1f}%"


def _number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return f"{value:,}"


def render_statistics(stats: dict[str, Any]) -> Iterator[RenderableType]:
    """Renderables for the statistics of one survey (the JSON of survey_statistics)."""
    words = WORDS.get(stats.get("language", "zh"), WORDS["zh"])
    yield Text(f"{stats['title']} ({stats['survey']}) · {words['n']} {stats['n']:,}",
               style="bold")
    active = {key: value for key, value in stats["filters"].items() if value}
    if active:
        yield Text(f"{words['filters']}: " + "; ".join(
            f"{key}={value}" for key, value in active.items()))
    for name, figures in stats["questions"].items():
        yield _question_table(name, figures, words)
    for name, summary in stats.get("repeats", {}).items():
        yield _repeat_table(name, summary, words)
    crosstab = stats.get("crosstab")
    if crosstab:
        tables = ({crosstab["question"]: crosstab} if "question" in crosstab
                  else crosstab["tables"])
        for question, table in tables.items():
            yield _crosstab_table(stats, crosstab["by"], question, table, words)
            if table.get("test"):  # the chi-square test in plain words, under its table
                yield Text(table["test"]["sentence"],
                           style="bold" if table["test"].get("significant") else "")
    if stats.get("over_time"):
        period = stats["over_time"]["period"]
        # In the report's language: 提交数量随时间变化（按月）, not "(month)".
        yield Text(f"\n{words['over_time']}{words['(']}{words[period]}{words[')']}",
                   style="bold")
        yield _over_time_table(stats["over_time"], words)


def _question_table(name: str, figures: dict[str, Any], words: dict[str, str]) -> Group:
    if figures.get("unit") == "instance":  # inside a repeat: counts are of instances
        counted = words["per_instance"].format(
            n=f"{figures['n']:,}", instances=f"{figures['instances']:,}",
            submissions=f"{figures['submissions']:,}")
        title = Text(f"\n{figures['label']} [{name}] · {counted}", style="bold")
    else:
        title = Text(f"\n{figures['label']} [{name}] · {words['answered']} {figures['n']:,}",
                     style="bold")
    return Group(title, _question_body(figures, words))


def _repeat_table(name: str, summary: dict[str, Any], words: dict[str, str]) -> Group:
    """How many instances of a repeat the submissions hold (members per household)."""
    title = Text(f"\n{summary['label']} [{name}] · {words['per_submission']}", style="bold")
    table = Table()
    table.add_column(words["instances"], justify="right")
    table.add_column(words["submissions"], justify="right")
    table.add_column(words["percent"], justify="right")
    for count, number in summary["counts"].items():
        table.add_row(count, f"{number:,}", _pct(number / summary["n"] * 100))
    table.caption = words["instance_summary"].format(
        instances=f"{summary['instances']:,}", mean=_number(summary["mean"]),
        median=_number(summary["median"]), min=_number(summary["min"]),
        max=_number(summary["max"]))
    table.caption_justify = "left"
    return Group(title, table)


def _question_body(figures: dict[str, Any], words: dict[str, str]) -> Table:
    kind = figures["type"]
    if kind in ("select_one", "select_multiple", "likert"):
        table = Table()
        table.add_column(words["choice"])
        table.add_column(words["count"], justify="right")
        table.add_column(words["percent"], justify="right")
        table.add_column(words["ci"], justify="right")
        rank = {choice: index + 1 for index, choice in enumerate(figures.get("ranking", []))}
        if rank:
            table.add_column(words["rank"], justify="right")
        for choice in figures["choices"]:
            key = choice["name"]
            cells = [choice["label"], f"{figures['counts'][key]:,}",
                     _pct(figures["percent"][key]), _interval(figures["ci95"][key])]
            if rank:
                cells.append(str(rank[key]))
            table.add_row(*cells)
        if kind == "likert":
            mean = "—" if figures["mean"] is None else f"{figures['mean']:.2f}"
            table.caption = (f"{words['mean']} {mean} · {words['top2']} "
                             f"{_pct(figures['top2'])} ({_interval(figures['top2_ci95'])})")
            table.caption_justify = "left"
        return table
    table = Table()
    if kind == "text":
        table.add_column(f"{figures['n']:,} {words['answers']}")
        answers = figures.get("answers", [])
        for answer in answers[:TEXT_ANSWERS_SHOWN]:
            table.add_row(Text(answer))
        if len(answers) > TEXT_ANSWERS_SHOWN:
            table.add_row(words["more"].format(n=len(answers) - TEXT_ANSWERS_SHOWN))
        return table
    table.add_column(words["figure"])
    table.add_column(words["value"], justify="right")
    if kind in ("integer", "decimal"):
        for key in ("mean", "sd", "min", "q1", "median", "q3", "max"):
            table.add_row(key, _number(figures.get(key)))
        if figures.get("out_of_range"):
            table.add_row(words["out_of_range"], f"{figures['out_of_range']:,}")
        for entry in figures.get("histogram", []):
            table.add_row(f"[{_number(entry['lo'])}, {_number(entry['hi'])})",
                          f"{entry['count']:,}")
    elif kind == "date":
        table.add_row(words["range"], f"{figures['min'] or '—'} … {figures['max'] or '—'}")
    return table


def _crosstab_table(stats: dict[str, Any], by: str, question: str, crosstab: dict[str, Any],
                    words: dict[str, str]) -> Table:
    asked = stats["questions"].get(question, {})
    grouping = stats["questions"].get(by, {})
    choice_labels = {entry["name"]: entry["label"] for entry in asked.get("choices", [])}
    group_labels = {entry["name"]: entry["label"] for entry in grouping.get("choices", [])}
    table = Table(title=Text(f"{asked.get('label', question)} [{question}] {words['by']} "
                             f"{grouping.get('label', by)} [{by}]", style="bold"),
                  title_justify="left", min_width=60)
    table.add_column("")
    choices = list(next(iter(crosstab["table"].values()), {}))
    for choice in choices:
        table.add_column(choice_labels.get(choice, choice), justify="right")
    table.add_column(words["total"], justify="right")
    for group, row in crosstab["table"].items():
        cells = [f"{row[choice]:,}\n{_pct(crosstab['row_percent'][group][choice])} "
                 f"{words['row']}\n{_pct(crosstab['column_percent'][group][choice])} "
                 f"{words['column']}" for choice in choices]
        table.add_row(group_labels.get(group, group), *cells, f"{crosstab['row_n'][group]:,}")
    return table


def _over_time_table(over_time: dict[str, Any], words: dict[str, str]) -> Table:
    sites = sorted({site for entry in over_time["series"] for site in entry["sites"]})
    table = Table()
    table.add_column(words["period"])
    table.add_column(words["total"], justify="right")
    if len(sites) > 1 or (sites and sites[0]):
        for site in sites:
            table.add_column(site or words["no_site"], justify="right")
    else:
        sites = []
    for entry in over_time["series"]:
        table.add_row(entry["period"], f"{entry['n']:,}",
                      *(f"{entry['sites'].get(site, 0):,}" for site in sites))
    return table


# ---- --by-site -------------------------------------------------------------------------

SITE_WORDS = {
    "zh": {"street": "按街道/镇", "community": "按社区/村", "kiosk": "按终端", "n": "提交份数",
           "place": "地点", "none": "（未记站点）", "answered": "作答"},
    "en": {"street": "By street", "community": "By community or village",
           "kiosk": "By kiosk", "n": "Submissions", "place": "Place", "none": "(no site)",
           "answered": "Answered"},
}


def render_site_breakdown(stats: dict[str, Any]) -> Iterator[RenderableType]:
    """Renderables for ``stats["by_site"]`` (labels from the rest of ``stats``)."""
    words = SITE_WORDS.get(stats.get("language", "zh"), SITE_WORDS["zh"])
    for dimension, places in stats["by_site"].items():
        yield Text(f"\n{words[dimension]}", style="bold")
        table = Table()
        table.add_column(words["place"])
        table.add_column(words["n"], justify="right")
        for place, figures in places.items():
            table.add_row(Text(place or words["none"]), f"{figures['n']:,}")
        yield table
        for name, question in stats["questions"].items():
            if "choices" not in question:
                continue
            yield _place_table(name, question, places, words)


def _place_table(name: str, question: dict[str, Any], places: dict[str, Any],
                    words: dict[str, str]) -> RenderableType:
    # Text, not markup: a label or place may hold [brackets].
    table = Table(title=Text(f"{question['label']} [{name}]"), title_justify="left")
    table.add_column(words["place"])
    table.add_column(words["answered"], justify="right")
    for choice in question["choices"]:
        table.add_column(Text(choice["label"]), justify="right")
    for place, figures in places.items():
        entry = figures["questions"].get(name)
        if entry is None:
            continue
        table.add_row(Text(place or words["none"]), f"{entry['n']:,}", *(
            f"{entry['counts'][choice['name']]:,} ({_pct(entry['percent'][choice['name']])})"
            for choice in question["choices"]))
    return table


# ---- --compare / --with ----------------------------------------------------------------

COMPARE_WORDS = {
    "zh": {"n": "提交份数", "first": "第一组", "second": "第二组", "choice": "选项",
           "change": "变化（百分点）", "ci": "95% 置信区间", "answered": "作答",
           "top2": "满意率（前两项）", "mean": "平均分", "beyond": "大于偶然波动",
           "overlap": "注意：两组有 {n:,} 份问卷重叠，两组不独立，以下区间不可靠。",
           "overlap_unknown": "注意：两组可能有重叠的问卷（同一道多选题的不同选项），"
                              "重叠时以下区间不可靠。",
           "note": "每个区间单独计算；选项多时，即使没有真实变化，约二十个区间里也会有一个"
                   "不含 0。"},
    "en": {"n": "Submissions", "first": "First", "second": "Second", "choice": "Choice",
           "change": "Change (points)", "ci": "95% CI", "answered": "answered",
           "top2": "Top-2 share", "mean": "Mean", "beyond": "larger than chance",
           "overlap": "Note: {n:,} submissions are in both groups; the groups are not "
                      "independent and the intervals below do not hold.",
           "overlap_unknown": "Note: the groups may share submissions (two choices of one "
                              "multiple-choice question); if they do, the intervals below do "
                              "not hold.",
           "note": "Each interval is made on its own: among many choices, about one in twenty "
                   "leaves out 0 even when nothing changed."},
}


def _points(value: float | None) -> str:
    return "—" if value is None else f"{value:+.1f}"


def render_comparison(comparison: dict[str, Any]) -> Iterator[RenderableType]:
    """Renderables for the JSON of surveys.stats.comparison.compare_statistics."""
    words = COMPARE_WORDS.get(comparison.get("language", "zh"), COMPARE_WORDS["zh"])
    first, second = comparison["a"], comparison["b"]
    yield Text(f"{comparison['title']} ({comparison['survey']})", style="bold")
    yield Text(f"{words['first']}: {first['name']} · {words['n']} {first['n']:,}")
    yield Text(f"{words['second']}: {second['name']} · {words['n']} {second['n']:,}")
    if comparison.get("overlap"):
        yield Text(words["overlap"].format(n=comparison["overlap"]), style="bold red")
    elif comparison.get("overlap") is None:
        yield Text(words["overlap_unknown"], style="bold red")
    for name, entry in comparison["questions"].items():
        yield Text(f"\n{entry['label']} [{name}] · {words['answered']} "
                   f"{entry['n_a']:,} / {entry['n_b']:,}", style="bold")
        yield Text(entry["sentence"])
        if not entry["choices"]:
            continue
        table = Table()
        table.add_column(words["choice"])
        table.add_column(words["first"], justify="right")
        table.add_column(words["second"], justify="right")
        table.add_column(words["change"], justify="right")
        table.add_column(words["ci"], justify="right")
        rows = list(entry["choices"])
        if "top2" in entry:
            rows.append({"label": words["top2"], **entry["top2"]})
        for row in rows:
            interval = row["ci95"]
            table.add_row(
                Text(row["label"]), _pct(row["percent_a"]), _pct(row["percent_b"]),
                _points(row["difference"]),
                "—" if not interval else f"{interval[0]:+.1f} … {interval[1]:+.1f}",
                style="bold" if row["significant"] else "")
        mean = entry.get("mean")
        if mean and mean.get("mean_a") is not None and mean.get("mean_b") is not None:
            interval = mean["ci95"]
            table.add_row(words["mean"], f"{mean['mean_a']:.2f}", f"{mean['mean_b']:.2f}",
                          f"{mean['difference']:+.2f}",
                          "—" if not interval else f"{interval[0]:+.2f} … {interval[1]:+.2f}",
                          style="bold" if mean["significant"] else "")
        yield table
    yield Text(f"\n{words['note']}", style="dim")

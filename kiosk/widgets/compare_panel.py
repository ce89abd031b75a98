"""The dashboard's 比较 tab: two groups of questionnaires compared, as ``kiosk stats ID
--compare … --with …`` does (surveys.stats.comparison; this widget only reads what staff type
and shows the result). Staff write each group as a filter string — ``from=2026-01-01
to=2026-06-30``, ``site=九龙``, ``respondent_group=elderly`` — and read per question a
sentence saying whether the change is larger than chance, with each choice's share on both
sides, the change and its 95 % interval. A string that cannot be read is named in the
message, Chinese first; nothing is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Select, Static

WORDS = {
    "zh": {"tab": "两组比较", "first": "第一组，如 from=2026-01-01 to=2026-06-30",
           "second": "第二组，如 from=2026-07-01 site=九龙", "go": "比较",
           "hint": "两组各写筛选条件：from=、to=（日期）、site=、kiosk=、enumerator=，"
                   "或 题目=选项；写好后点“比较”。",
           "n": "第一组 {a:,} 份 · 第二组 {b:,} 份", "choice": "选项", "a": "第一组",
           "b": "第二组", "change": "变化", "ci": "95%置信区间", "top2": "满意率（前两项）",
           "mean": "平均分", "overlap": "注意：两组有 {n:,} 份问卷重叠，区间不可靠。",
           "maybe": "注意：两组可能有重叠的问卷，区间可能不可靠。",
           "refused": "无法比较：{error}"},
    "en": {"tab": "Compare", "first": "First group, e.g. from=2026-01-01 to=2026-06-30",
           "second": "Second group, e.g. from=2026-07-01 site=…", "go": "Compare",
           "hint": "Write each group as filters: from=, to= (days), site=, kiosk=, "
                   "enumerator= or QUESTION=CHOICE; then press Compare.",
           "n": "first {a:,} · second {b:,}", "choice": "Choice", "a": "First",
           "b": "Second", "change": "Change", "ci": "95% CI", "top2": "Top-2 share",
           "mean": "Mean", "overlap": "Note: {n:,} questionnaires are in both groups; the "
                                     "intervals do not hold.",
           "maybe": "Note: the groups may share questionnaires; the intervals may not hold.",
           "refused": "No comparison: {error}"},
}


def compare_words(language: str) -> dict[str, str]:
    return WORDS["en" if language.startswith("en") else "zh"]


def comparison_view(comparison: dict[str, Any], language: str) -> RenderableType:
    """The comparison as the dashboard shows it: per question its sentence, then a table."""
    w = compare_words(language)
    parts: list[RenderableType] = [
        Text(w["n"].format(a=comparison["a"]["n"], b=comparison["b"]["n"]), style="bold")]
    if comparison.get("overlap"):
        parts.append(Text(w["overlap"].format(n=comparison["overlap"]), style="bold red"))
    elif comparison.get("overlap") is None:
        parts.append(Text(w["maybe"], style="bold red"))
    for entry in comparison["questions"].values():
        parts.append(Text(f"\n{entry['label']}", style="bold"))
        parts.append(Text(entry["sentence"]))
        if not entry["choices"]:
            continue
        table = Table(show_lines=False)
        for heading in ("choice", "a", "b", "change", "ci"):
            table.add_column(w[heading], justify="left" if heading == "choice" else "right")
        rows = list(entry["choices"])
        if "top2" in entry:
            rows.append({**entry["top2"], "label": w["top2"]})
        for row in rows:
            interval = row["ci95"]
            table.add_row(Text(row["label"]), f"{row['percent_a']:.0f}%",
                          f"{row['percent_b']:.0f}%", f"{row['difference']:+.0f}",
                          "—" if not interval else f"{interval[0]:+.0f} … {interval[1]:+.0f}",
                          style="bold" if row["significant"] else "")
        mean = entry.get("mean") or {}
        if mean.get("ci95"):
            table.add_row(w["mean"], f"{mean['mean_a']:.2f}", f"{mean['mean_b']:.2f}",
                          f"{mean['difference']:+.2f}",
                          f"{mean['ci95'][0]:+.2f} … {mean['ci95'][1]:+.2f}",
                          style="bold" if mean["significant"] else "")
        parts.append(table)
    return Group(*parts)


class ComparePanel(Vertical):
    """Pick a survey, write two groups, press 比较: the comparison below."""

    DEFAULT_CSS = """
    ComparePanel { height: 1fr; }
    ComparePanel > Horizontal { height: auto; }
    ComparePanel #compare-hint { height: auto; color: $text-muted; padding: 0 0 1 0; }
    ComparePanel #compare-scroll { height: 1fr; }
    """

    def __init__(self, store: Any, surveys: Sequence[tuple[str, str]], language: str,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.store = store
        self.surveys = list(surveys)
        self.language = language

    def compose(self) -> ComposeResult:
        w = compare_words(self.language)
        with Horizontal(classes="dash-controls"):
            yield Select(self.surveys, id="compare-survey", allow_blank=False,
                         value=self.surveys[0][1] if self.surveys else Select.BLANK,
                         classes="dash-grow")
        with Horizontal(classes="dash-controls"):
            yield Input(placeholder=w["first"], id="compare-first", max_length=300,
                        classes="dash-grow")
            yield Input(placeholder=w["second"], id="compare-second", max_length=300,
                        classes="dash-grow")
            yield Button(w["go"], id="compare-go", variant="primary")
        yield Static(w["hint"], id="compare-hint")
        with VerticalScroll(id="compare-scroll"):
            yield Static("", id="compare-body")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "compare-go":
            event.stop()  # the dashboard's own buttons are handled there
            self.compare()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id in ("compare-first", "compare-second"):
            event.stop()
            self.compare()

    def compare(self) -> None:
        """Read both strings, compare, show; a refusal is shown in words, never raised."""
        from surveys.stats.comparison import compare_statistics, parse_filter_string
        from surveys.stats.model import StatsError

        w = compare_words(self.language)
        body = self.query_one("#compare-body", Static)
        survey = self.query_one("#compare-survey", Select).value
        if not isinstance(survey, str):
            return
        names = (w["a"], w["b"])
        try:
            first = parse_filter_string(self.query_one("#compare-first", Input).value,
                                        names[0])
            second = parse_filter_string(self.query_one("#compare-second", Input).value,
                                         names[1])
            comparison = compare_statistics(self.store, survey, first, second,
                                            language=self.language, options=names)
        except StatsError as error:
            body.update(Text(w["refused"].format(error=error), style="bold red"))
            return
        body.update(comparison_view(comparison, self.language))

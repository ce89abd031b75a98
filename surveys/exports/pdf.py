"""The PDF report of a survey's statistics: A4, Chinese in an embedded TrueType font.

It is what a station hands the street office, so it opens with a one-page summary: the
station, the questionnaire, the period, N, the headline figure, every Likert question's
top-2 share with its 95 % interval, the most chosen answers of the main multiple-choice
question, respondents by target group and by site, and how many submissions name no site.
Then per question a bar chart and its table (count, percent, Wilson 95 % interval; Likert
mean and top-2 box; numbers: summary and histogram; free text: identical answers grouped
with their counts, most frequent first, at most ``FREE_TEXT_CAP`` of them), and last the
cross-tabs when asked. Every word is in the report's language: question labels, never field
names. Page numbers and the time of making are in every page's footer.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from surveys.clock import now_local
from surveys.exports.columns import (
    XLSX_ILLEGAL,
    ExportError,
    Question,
    atomic_output,
    export_questions,
)
from surveys.exports.tabular import bin_label, choice_list, crosstab_tables, words
from surveys.form import Form
from surveys.pdf_fonts import register_cjk_font

FREE_TEXT_CAP = 40  # different free-text answers listed per question; the rest are counted
ANSWER_CAP = 1000  # characters of one answer shown; the rest is cut, visibly
LABEL_CHARS = 18  # a chart's category label is cut to this many characters
SUMMARY_ROWS = 8  # rows of a summary table (Likert questions, groups, sites)
TOP_CHOICES = 5  # the most chosen answers of the main multiple-choice question
MM = 72 / 25.4
WIDTH = 174 * MM  # A4 less the margins
MIN_COLUMN = 16 * MM  # a cross-tab column: room for a 7-digit count and a percent
PADDING = 6  # reportlab's cell padding left and right, in points
TABLE_SIZE = 8.5

# A question "pick at most k" (count-selected(.) <= 3) ranks needs: the main multiple choice.
PICK_AT_MOST = re.compile(r"count-selected\(\s*\.\s*\)\s*<")
# The target-group question (一老一少一困): by its name, else by its choices.
GROUP_NAME = re.compile(r"(^|_)(respondent|target)_?groups?$|_groups?$|^groups?$")
GROUP_CHOICES = ("elderly", "older", "youth", "child", "hardship", "disab", "老", "少", "儿童",
                 "困", "残")

PDF_WORDS = {
    "zh": {
        "report": "统计报告", "summary": "摘要", "station": "社工站", "survey": "问卷",
        "period": "统计期间", "n": "有效问卷", "copies": "{n:,} 份", "versions": "问卷版本",
        "filters": "筛选条件", "none": "无", "generated": "生成时间", "page": "第 {page} 页",
        "ci": "95%置信区间", "interval": "95%置信区间 {low}–{high}，n = {n:,}",
        "top2_of": "选“{choices}”的占回答人数的比例", "or": "”“",
        "most_chosen": "选得最多的一项", "likert_heading": "量表题：前两项合计",
        "likert_note": "前两项合计：选最高两档（{choices}）的人占回答人数的百分比。",
        "more_scales": "另有 {k} 道量表题，见各题结果。",
        "question": "题目", "respondents": "回答人数", "top2": "前两项合计", "mean": "平均分",
        "top_heading": "选得最多的 {k} 项：{label}", "choice": "选项", "count": "人数",
        "share": "占比", "of_respondents": "占回答人数",
        "multi_short": "多选题，各项合计可超过 100%；n = {n:,}。",
        "groups_heading": "按服务对象", "group": "类别", "sites_heading": "按站点",
        "site": "站点", "submissions": "问卷数", "other_sites": "其余 {k} 个站点",
        "no_site": "未记录站点",
        "no_site_note": "{n:,} 份问卷没有记录站点，不计入上表任何站点。",
        "all_sited": "每份问卷都记录了站点。",
        "results": "各题结果", "n_line": "回答人数 n = {n:,}", "no_answers": "（无回答）",
        "cut": "……（原文共 {length:,} 字，以下从略）",
        "multi_note": "多选题：百分比为选择该项的人数占回答人数的比例，合计可超过 100%。",
        "out_of_range": "另有 {n} 个超出可能范围的数值（录入错误或早期导入）未计入以上数字。",
        "answer": "回答", "times": "条数", "blank": "（空白）",
        "text_line": "共 {n:,} 条回答，{kinds:,} 种不同的说法；相同的回答合并计数，多的在前",
        "more": "其余 {rest:,} 条（{kinds:,} 种说法）未列出，共 {total:,} 条；"
                "完整内容见 CSV 或 XLSX 导出。",
        "crosstab": "交叉分析", "total": "合计",
        "cell_note": "每格上为人数，下为占该列回答人数的百分比。",
        "legend": "表头简称：", "legend_item": "{code} = {label}", "legend_sep": "；",
        "f_sites": "站点：{v}", "f_kiosks": "终端：{v}", "f_enumerators": "志愿者：{v}",
        "list_sep": "、", "f_sep": "；",
        "compare_title": "两组比较", "compare_group": "组", "compare_filters": "筛选条件",
        "compare_first": "第一组", "compare_second": "第二组",
        "compare_change": "变化（百分点）", "compare_n": "回答人数：第一组 {a:,}，第二组 {b:,}",
        "compare_overlap": "注意：两组有 {n:,} 份问卷重叠，两组不独立，以下区间不可靠。",
        "compare_overlap_unknown": "注意：两组可能有重叠的问卷，重叠时以下区间不可靠。",
        "compare_note": "变化 = 第二组 − 第一组。95%置信区间不含 0 的变化大于偶然波动；"
                        "每个区间单独计算，选项多时约二十个区间里会有一个纯属偶然。",
        "types": {"select_one": "单选", "select_multiple": "多选", "likert": "量表",
                  "integer": "整数", "decimal": "数值", "text": "文字回答", "date": "日期"},
    },
    "en": {
        "report": "Statistics report", "summary": "Summary", "station": "Station",
        "survey": "Survey", "period": "Period", "n": "Questionnaires", "copies": "{n:,}",
        "versions": "Versions", "filters": "Filters", "none": "none",
        "generated": "Generated", "page": "page {page}", "ci": "95% CI",
        "interval": "95% CI {low}–{high}, n = {n:,}",
        "top2_of": "share answering \u201c{choices}\u201d", "or": "\u201d or \u201c",
        "most_chosen": "the most chosen answer", "likert_heading": "Scales: top-2 share",
        "likert_note": "Top-2 share: percent of respondents choosing the two highest answers "
                       "({choices}).",
        "more_scales": "{k} more scales: see the results by question.",
        "question": "Question", "respondents": "Respondents", "top2": "Top-2 %",
        "mean": "Mean", "top_heading": "The {k} most chosen: {label}",
        "choice": "Choice", "count": "Count", "share": "Share",
        "of_respondents": "% of respondents",
        "multi_short": "Multiple choice: may sum past 100 %; n = {n:,}.",
        "groups_heading": "By target group", "group": "Group", "sites_heading": "By site",
        "site": "Site", "submissions": "Count", "other_sites": "{k} other sites",
        "no_site": "No site recorded",
        "no_site_note": "{n:,} questionnaires name no site and count for none above.",
        "all_sited": "Every questionnaire has its site recorded.",
        "results": "Results by question", "n_line": "respondents n = {n:,}",
        "no_answers": "(no answers)", "cut": " … (cut: {length:,} characters in all)",
        "multi_note": "Multiple choice: percent of respondents choosing each; may sum past "
                      "100 %.",
        "out_of_range": "{n} values past any possible answer (typing slips or early imports) "
                        "are left out of these figures.",
        "answer": "Answer", "times": "Times", "blank": "(blank)",
        "text_line": "{n:,} answers, {kinds:,} different; identical answers counted together, "
                     "most frequent first",
        "more": "{rest:,} more ({kinds:,} different) not listed, {total:,} in all; see the "
                "CSV or XLSX export.",
        "crosstab": "Cross-tabulation", "total": "Total",
        "cell_note": "Each cell: the count, and under it the percent of the column's "
                     "respondents.",
        "legend": "Column headings: ", "legend_item": "{code} = {label}", "legend_sep": "; ",
        "f_sites": "sites: {v}", "f_kiosks": "kiosks: {v}", "f_enumerators": "volunteers: {v}",
        "list_sep": ", ", "f_sep": "; ",
        "compare_title": "Two groups compared", "compare_group": "Group",
        "compare_filters": "Filters", "compare_first": "First", "compare_second": "Second",
        "compare_change": "Change (points)", "compare_n": "respondents: first {a:,}, "
                                                          "second {b:,}",
        "compare_overlap": "Note: {n:,} submissions are in both groups; the groups are not "
                           "independent and the intervals below do not hold.",
        "compare_overlap_unknown": "Note: the groups may share submissions; if they do, the "
                                   "intervals below do not hold.",
        "compare_note": "Change = second − first. A change whose 95% CI leaves out 0 is larger "
                        "than chance; each interval is made on its own, so among many choices "
                        "about one in twenty is chance alone.",
        "types": {"select_one": "single choice", "select_multiple": "multiple choice",
                  "likert": "Likert scale", "integer": "integer", "decimal": "number",
                  "text": "free text", "date": "date"},
    },
}


def pdf_words(language: str) -> dict[str, Any]:
    return PDF_WORDS["en" if language.lower().startswith("en") else "zh"]


def write_pdf(forms: Sequence[Form], stats: dict[str, Any], target: str | Path, *,
              include_pii: bool = False, language: str = "zh",
              free_text_cap: int = FREE_TEXT_CAP, station: str = "") -> int:
    """Write the PDF report of ``stats``; return its number of pages.

    ``station`` names the station making the report (the config's [station] name), on the
    summary page and in every footer."""
    try:
        font = register_cjk_font()
    except FileNotFoundError as error:
        raise ExportError(str(error)) from None
    questions = export_questions(forms, language, include_pii=include_pii)
    report = _Report(font, language, stats, questions, free_text_cap, station,
                     _pick_at_most(forms))
    return _build(report, report.story(), target, font, station)


def write_comparison_pdf(comparison: dict[str, Any], target: str | Path, *,
                         language: str = "zh", station: str = "") -> int:
    """Write the comparison of two groups (surveys.stats.comparison.compare_statistics; in
    the CLI ``kiosk stats ID --compare … --with … --pdf FILE``) as a PDF; return its pages."""
    try:
        font = register_cjk_font()
    except FileNotFoundError as error:
        raise ExportError(str(error)) from None
    report = _Report(font, language, comparison, [], FREE_TEXT_CAP, station, set())
    return _build(report, report.comparison_story(comparison), target, font, station)


def _build(report: _Report, story: list[Any], target: str | Path, font: str,
           station: str) -> int:
    """Lay ``story`` out on A4 with the footer (station, title, time made, page)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.platypus import SimpleDocTemplate

    generated = today_stamp()
    pages = [0]
    signature = " · ".join(part for part in (station, report.title) if part)

    def footer(canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.setFillGray(0.35)
        canvas.drawString(18 * MM, 10 * MM,
                          f"{signature} · {report.w['generated']} {generated}")
        canvas.drawRightString(A4[0] - 18 * MM, 10 * MM,
                               report.w["page"].format(page=document.page))
        canvas.restoreState()
        pages[0] = document.page

    with atomic_output(target) as temporary:
        document = SimpleDocTemplate(
            str(temporary), pagesize=A4, leftMargin=18 * MM, rightMargin=18 * MM,
            topMargin=16 * MM, bottomMargin=18 * MM, title=signature or report.title,
            author=station or "社工站问卷终端", subject=report.w["report"])
        document.build(story, onFirstPage=footer, onLaterPages=footer)
    return pages[0]


def _pick_at_most(forms: Sequence[Form]) -> set[str]:
    """The multiple-choice questions that ask to pick at most some number (a needs ranking)."""
    return {item.name for form in forms for item in form.value_items
            if item.kind == "select_multiple"
            and PICK_AT_MOST.search(str((item.expressions.get("constraint") or {})
                                        .get("source") or ""))}


class _Report:
    def __init__(self, font: str, language: str, stats: dict[str, Any],
                 questions: list[Question], cap: int, station: str,
                 pick_at_most: set[str]) -> None:
        from reportlab.lib.enums import TA_RIGHT
        from reportlab.lib.styles import ParagraphStyle

        self.font = font
        self.language = language
        self.stats = stats
        self.questions = questions
        self.by_name = {question.name: question for question in questions}
        self.cap = cap
        self.station = station
        self.pick_at_most = pick_at_most
        self.w = pdf_words(language)
        self.t = words(language)
        self.title = str(stats.get("title") or stats.get("survey") or "")
        self.tallied: dict[str, Any] = stats.get("questions") or {}
        base = ParagraphStyle("base", fontName=font, fontSize=9.5, leading=13,
                              wordWrap="CJK")
        self.body = base
        self.small = ParagraphStyle("small", parent=base, fontSize=TABLE_SIZE, leading=11.5,
                                    textColor="#444444")
        self.cell = ParagraphStyle("cell", parent=self.small, textColor="#000000")
        # A header cell that wraps only where a space is (never inside a word).
        self.spaced = ParagraphStyle("spaced", parent=self.cell, wordWrap=None,
                                     splitLongWords=0)
        self.number = ParagraphStyle("number", parent=self.small, alignment=TA_RIGHT,
                                     textColor="#000000", leading=10.5)
        self.station_style = ParagraphStyle("station", parent=base, fontSize=13, leading=18,
                                            textColor="#3B6E9E")
        self.cover_title = ParagraphStyle("cover", parent=base, fontSize=20, leading=26)
        self.headline = ParagraphStyle("headline", parent=base, fontSize=26, leading=30,
                                       textColor="#3B6E9E")
        self.heading = ParagraphStyle("heading", parent=base, fontSize=15, leading=20,
                                      spaceBefore=2 * MM, spaceAfter=3 * MM)
        self.section = ParagraphStyle("section", parent=base, fontSize=11, leading=15,
                                      spaceBefore=3 * MM, spaceAfter=1.5 * MM,
                                      keepWithNext=1)
        self.question_heading = ParagraphStyle("question", parent=base, fontSize=11.5,
                                               leading=16, spaceBefore=4 * MM,
                                               spaceAfter=1.5 * MM, keepWithNext=1)
        self.subline = ParagraphStyle("subline", parent=self.small, keepWithNext=1)
        self.note = ParagraphStyle("note", parent=self.small, spaceBefore=1.2 * MM)

    def paragraph(self, text: Any, style: Any = None, markup: bool = False) -> Any:
        from xml.sax.saxutils import escape

        from reportlab.platypus import Paragraph

        # What XML cannot hold (stored before the record gate) shows as a replacement mark.
        text = XLSX_ILLEGAL.sub("\ufffd", str(text))
        return Paragraph(text if markup else escape(text), style or self.body)

    def width_of(self, text: str, size: float = TABLE_SIZE) -> float:
        from reportlab.pdfbase.pdfmetrics import stringWidth

        return stringWidth(text, self.font, size)

    def story(self) -> list[Any]:
        from reportlab.platypus import PageBreak

        story = [self.summary(), PageBreak(),
                 self.paragraph(self.w["results"], self.heading)]
        number = 0
        for question in self.questions:
            entry = self.tallied.get(question.name)
            if entry is None:
                continue
            number += 1
            if entry.get("type", question.kind) == "text":
                story.extend(self.free_text_block(number, question, entry))
            else:
                story.extend(self.question_block(number, question, entry))
        tables = crosstab_tables(self.stats)
        if tables:
            story.append(PageBreak())
            story.append(self.paragraph(self.w["crosstab"], self.heading))
            for name, by, entry in tables:
                story.extend(self.crosstab_block(name, by, entry))
        return story

    # ---- the summary page -----------------------------------------------------------

    def summary(self) -> Any:
        """The first page, shrunk to fit it should a form have very long labels."""
        from reportlab.lib.pagesizes import A4
        from reportlab.platypus import KeepInFrame, Spacer

        w, stats = self.w, self.stats
        parts: list[Any] = []
        if self.station:
            parts.append(self.paragraph(self.station, self.station_style))
        parts.append(self.paragraph(self.title, self.cover_title))
        parts.append(self.paragraph(f"{w['report']} · {w['summary']}", self.small))
        parts.append(Spacer(1, 4 * MM))
        facts = [[w["station"], self.station]] if self.station else []
        facts += [[w["survey"], self.title],
                  [w["period"], report_period(stats)],
                  [w["n"], w["copies"].format(n=int(stats.get("n") or 0))],
                  [w["versions"], ", ".join(str(v) for v in stats.get("versions") or [])
                   or "—"],
                  [w["filters"], self.filters_text()],
                  [w["generated"], today_stamp()]]
        parts.append(self.table(facts, widths=(30 * MM, 144 * MM), header=False))
        parts.extend(self.headline_block())
        likert = [(name, entry) for name, entry in self.tallied.items()
                  if entry.get("type") == "likert" and entry.get("n")
                  and entry.get("top2") is not None]
        if likert:
            parts.extend(self.likert_summary(likert))
        main = self.main_multiple()
        if main is not None:
            parts.extend(self.top_choices(main))
        groups, sites = self.group_summary(), self.site_summary()
        if groups and sites:
            parts.append(self.side_by_side(groups, sites))
        else:
            parts.extend(groups or sites)
        height = A4[1] - 34 * MM - 12  # the frame less its padding
        return KeepInFrame(WIDTH, height, parts, mode="shrink")

    def headline_block(self) -> list[Any]:
        """The one figure the report leads with: the first Likert question's top-2 share,
        else the most chosen answer of the main multiple-choice question."""
        from reportlab.platypus import Spacer, Table, TableStyle

        w = self.w
        likert = next((entry for entry in self.tallied.values()
                       if entry.get("type") == "likert" and entry.get("n")
                       and entry.get("top2") is not None), None)
        if likert is not None:
            value, interval, n = likert["top2"], likert.get("top2_ci95"), likert["n"]
            what = w["top2_of"].format(choices=w["or"].join(self.top2_labels(likert)))
            label = likert.get("label", "")
        else:
            main = self.main_multiple()
            if main is None:
                return []
            entry = self.tallied[main]
            counts = entry.get("counts") or {}
            top = max(choice_list(self.by_name[main], entry),
                      key=lambda choice: counts.get(choice[0], 0))
            value = (entry.get("percent") or {}).get(top[0])
            interval = (entry.get("ci95") or {}).get(top[0])
            n, label = entry["n"], entry.get("label", "")
            what = f"{w['most_chosen']}：{top[1]}" if self.language == "zh" else (
                f"{w['most_chosen']}: {top[1]}")
        lines = [self.paragraph(label, self.body), self.paragraph(what, self.small)]
        if interval:
            lines.append(self.paragraph(w["interval"].format(
                low=_percent(interval[0]), high=_percent(interval[1]), n=n), self.small))
        box = Table([[self.paragraph(_percent(value), self.headline), lines]],
                    colWidths=(40 * MM, 134 * MM), hAlign="LEFT")
        box.setStyle(TableStyle([
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("BOX", (0, 0), (-1, -1), 0.6, "#3B6E9E"),
            ("BACKGROUND", (0, 0), (-1, -1), "#F1F5F9"),
            ("TOPPADDING", (0, 0), (-1, -1), 5), ("BOTTOMPADDING", (0, 0), (-1, -1), 5)]))
        return [Spacer(1, 4 * MM), box]

    def top2_labels(self, entry: dict[str, Any]) -> list[str]:
        labels = {choice["name"]: choice.get("label") or choice["name"]
                  for choice in entry.get("choices") or []}
        return [labels.get(name, name) for name in entry.get("top2_choices") or []]

    def likert_summary(self, likert: list[tuple[str, dict[str, Any]]]) -> list[Any]:
        w = self.w
        rows = [[w["question"], w["respondents"], w["top2"], w["ci"], w["mean"]]]
        for _name, entry in likert[:SUMMARY_ROWS]:
            low, high = (entry.get("top2_ci95") or (None, None))[:2]
            rows.append([entry.get("label", ""), f"{entry['n']:,}", _percent(entry["top2"]),
                         f"{_percent(low)}–{_percent(high)}" if low is not None else "—",
                         _fmt(entry.get("mean"), 2)])
        parts = [self.paragraph(w["likert_heading"], self.section),
                 self.table(rows, widths=(78 * MM, 24 * MM, 22 * MM, 32 * MM, 18 * MM))]
        scales = {tuple(self.top2_labels(entry)) for _name, entry in likert}
        if len(scales) == 1:
            parts.append(self.paragraph(w["likert_note"].format(
                choices=w["list_sep"].join(next(iter(scales)))), self.note))
        if len(likert) > SUMMARY_ROWS:
            parts.append(self.paragraph(w["more_scales"].format(k=len(likert) - SUMMARY_ROWS),
                                        self.note))
        return parts

    def main_multiple(self) -> str | None:
        """The multiple-choice question that asks to pick at most some (what to do first),
        else the one with the most respondents; ties keep the form's order."""
        candidates = [question.name for question in self.questions
                      if question.kind == "select_multiple"
                      and (self.tallied.get(question.name) or {}).get("n")]
        if not candidates:
            return None
        ranked = [name for name in candidates if name in self.pick_at_most] or candidates
        return max(ranked, key=lambda name: (self.tallied[name]["n"], -ranked.index(name)))

    def top_choices(self, name: str) -> list[Any]:
        w, entry = self.w, self.tallied[name]
        counts = entry.get("counts") or {}
        choices = sorted(choice_list(self.by_name[name], entry),
                         key=lambda choice: -counts.get(choice[0], 0))[:TOP_CHOICES]
        rows = [[w["choice"], w["count"], w["of_respondents"], w["ci"]]]
        for choice, label in choices:
            low, high = ((entry.get("ci95") or {}).get(choice) or (None, None))[:2]
            rows.append([label, f"{counts.get(choice, 0):,}",
                         _percent((entry.get("percent") or {}).get(choice)),
                         f"{_percent(low)}–{_percent(high)}" if low is not None else "—"])
        return [self.paragraph(w["top_heading"].format(k=len(choices),
                                                       label=entry.get("label", "")),
                               self.section),
                self.table(rows, widths=(82 * MM, 20 * MM, 40 * MM, 32 * MM)),
                self.paragraph(w["multi_short"].format(n=entry["n"]), self.note)]

    def target_group(self) -> str | None:
        """The question saying which target group (一老一少一困) a respondent is in."""
        selects = [question for question in self.questions
                   if question.kind in ("select_one", "select_multiple") and not question.likert
                   and (self.tallied.get(question.name) or {}).get("n")]
        for question in selects:
            if GROUP_NAME.search(question.name):
                return question.name
        for question in selects:
            text = " ".join(f"{name} {label}" for name, label in question.choices).lower()
            if sum(marker in text for marker in GROUP_CHOICES) >= 3:
                return question.name
        return None

    def group_summary(self) -> list[Any]:
        name = self.target_group()
        if name is None:
            return []
        w, entry = self.w, self.tallied[name]
        counts = entry.get("counts") or {}
        rows = [[w["group"], w["count"], w["share"]]]
        for choice, label in choice_list(self.by_name[name], entry)[:SUMMARY_ROWS]:
            rows.append([label, f"{counts.get(choice, 0):,}",
                         _percent((entry.get("percent") or {}).get(choice))])
        return [self.paragraph(w["groups_heading"], self.section),
                self.paragraph(entry.get("label", ""), self.small),
                self.table(rows, widths=(42 * MM, 20 * MM, 20 * MM))]

    def site_summary(self) -> list[Any]:
        if not _series(self.stats):
            return []
        w = self.w
        sites, unsited = site_counts(self.stats)
        total = max(int(self.stats.get("n") or 0), sum(sites.values()) + unsited)
        ranked = sorted(sites.items(), key=lambda item: -item[1])
        shown = ranked[:SUMMARY_ROWS - 1] if len(ranked) > SUMMARY_ROWS else ranked
        rows = [[w["site"], w["submissions"], w["share"]]]
        rows += [[site, f"{count:,}", _percent(_share(count, total))] for site, count in shown]
        rest = ranked[len(shown):]
        if rest:
            count = sum(count for _site, count in rest)
            rows.append([w["other_sites"].format(k=len(rest)), f"{count:,}",
                         _percent(_share(count, total))])
        rows.append([w["no_site"], f"{unsited:,}", _percent(_share(unsited, total))])
        note = w["no_site_note"].format(n=unsited) if unsited else w["all_sited"]
        return [self.paragraph(w["sites_heading"], self.section),
                self.table(rows, widths=(50 * MM, 20 * MM, 18 * MM)),
                self.paragraph(note, self.note)]

    def side_by_side(self, left: list[Any], right: list[Any]) -> Any:
        from reportlab.platypus import Table, TableStyle

        table = Table([[left, right]], colWidths=(84 * MM, 90 * MM), hAlign="LEFT")
        table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                                   ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                   ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
        return table

    def filters_text(self) -> str:
        """The filters in the report's words: question and choice labels, not names."""
        w = self.w
        filters = self.stats.get("filters") or {}
        parts = []
        for key in ("sites", "kiosks", "enumerators"):
            if filters.get(key):
                parts.append(w[f"f_{key}"].format(v=w["list_sep"].join(map(str,
                                                                          filters[key]))))
        where = filters.get("where") or {}
        pairs = where.items() if isinstance(where, dict) else where
        for name, choice in pairs:
            question = self.by_name.get(name)
            if question is None:
                parts.append(f"{name} = {choice}")
            else:
                parts.append(f"{question.label} = "
                             f"{question.choice_labels.get(choice, choice)}")
        return w["f_sep"].join(parts) or w["none"]

    # ---- questions ------------------------------------------------------------------

    def question_block(self, number: int, question: Question, entry: dict[str, Any]) -> list[Any]:
        from reportlab.platypus import KeepTogether, Spacer

        kind = entry.get("type", question.kind)
        label = entry.get("label") or question.label
        type_name = self.w["types"].get(kind, kind)
        parts: list[Any] = [
            self.paragraph(f"{number}. {label}", self.question_heading),
            self.paragraph(f"{type_name} · " + self.w["n_line"].format(n=entry.get("n", 0)),
                           self.small),
            Spacer(1, 2 * MM),
        ]
        if not entry.get("n"):
            parts.append(self.paragraph(self.w["no_answers"], self.small))
        elif kind in ("select_one", "select_multiple", "likert"):
            parts.extend(self.select_block(question, entry, kind))
        elif kind in ("integer", "decimal"):
            parts.extend(self.number_block(entry))
        elif kind == "date":
            parts.append(self.table([[self.t["respondents"], self.t["first"], self.t["last"]],
                                     [str(entry.get("n", 0)), str(entry.get("min") or "—"),
                                      str(entry.get("max") or "—")]],
                                    widths=(30 * MM, 40 * MM, 40 * MM)))
        return [KeepTogether(parts)]

    def select_block(self, question: Question, entry: dict[str, Any], kind: str) -> list[Any]:
        from reportlab.platypus import Spacer

        choices = choice_list(question, entry)
        counts = entry.get("counts", {})
        percent = entry.get("percent", {})
        ci95 = entry.get("ci95", {})
        if kind == "select_multiple":
            choices.sort(key=lambda choice: -counts.get(choice[0], 0))
        values = [float(percent.get(name) or 0) for name, _ in choices]
        parts: list[Any] = [self.bar_chart([label for _, label in choices], values,
                                           horizontal=True)]
        rows = [[self.w["choice"], self.t["count"], self.t["percent"], self.w["ci"]]]
        for name, label in choices:
            low, high = (ci95.get(name) or (None, None))[:2]
            rows.append([label, str(counts.get(name, 0)), _fmt(percent.get(name)),
                         f"{_fmt(low)} – {_fmt(high)}" if low is not None else "—"])
        if entry.get("mean") is not None:
            rows.append([self.t["mean"], "", _fmt(entry["mean"], 2), ""])
        if entry.get("top2") is not None:
            low, high = (entry.get("top2_ci95") or (None, None))[:2]
            rows.append([self.t["top2"], "", _fmt(entry["top2"]),
                         f"{_fmt(low)} – {_fmt(high)}" if low is not None else "—"])
        parts.append(Spacer(1, 2 * MM))
        parts.append(self.table(rows, widths=(80 * MM, 22 * MM, 24 * MM, 38 * MM)))
        if kind == "select_multiple":
            parts.append(self.paragraph(self.w["multi_note"], self.note))
        return parts

    def number_block(self, entry: dict[str, Any]) -> list[Any]:
        from reportlab.platypus import Spacer

        keys = ("mean", "sd", "min", "q1", "median", "q3", "max")
        rows = [[self.t["respondents"], *[self.t["mean_value" if k == "mean" else k]
                                          for k in keys]],
                [str(entry.get("n", 0)), *[_fmt(entry.get(k), 2) for k in keys]]]
        parts: list[Any] = [self.table(rows, widths=[20.5 * MM] * 8)]
        if entry.get("out_of_range"):
            parts.append(self.paragraph(self.w["out_of_range"].format(n=entry["out_of_range"]),
                                        self.note))
        histogram = entry.get("histogram") or []
        if histogram:
            parts.append(Spacer(1, 2 * MM))
            parts.append(self.bar_chart([bin_label(b) for b in histogram],
                                        [float(b.get("count", 0)) for b in histogram],
                                        horizontal=False))
        return parts

    def free_text_block(self, number: int, question: Question,
                        entry: dict[str, Any]) -> list[Any]:
        """Identical answers once, with how many gave them, most frequent first (a hundred
        residents asking for 多装长椅 is one line, not a page): at most ``cap`` of them."""
        from xml.sax.saxutils import escape

        w = self.w
        answers = list(entry.get("answers") or [])
        total = int(entry.get("answer_count") or entry.get("n") or len(answers))
        # Answers differing only in spaces or line breaks read the same on paper.
        grouped = Counter(" ".join(str(answer).split()) for answer in answers).most_common()
        parts: list[Any] = [
            self.paragraph(f"{number}. {entry.get('label') or question.label}",
                           self.question_heading),
            self.paragraph(f"{w['types']['text']} · "
                           + w["text_line"].format(n=total, kinds=len(grouped)), self.subline)]
        if not answers:
            parts.append(self.paragraph(w["no_answers"], self.small))
            return parts
        rows = [[w["answer"], w["times"]]]
        for answer, count in grouped[:self.cap]:
            cell = escape(XLSX_ILLEGAL.sub("\ufffd", answer or w["blank"]))
            if len(answer) > ANSWER_CAP:  # laying out text takes time growing past linear
                # The cut said on a line of its own, so it is never broken up.
                cell = (escape(XLSX_ILLEGAL.sub("\ufffd", answer[:ANSWER_CAP])) + "<br/>"
                        + escape(w["cut"].format(length=len(answer))))
            rows.append([self.paragraph(cell, self.cell, markup=True), f"{count:,}"])
        parts.append(self.table(rows, widths=(150 * MM, 24 * MM)))
        shown = sum(count for _answer, count in grouped[:self.cap])
        if total > shown:
            parts.append(self.paragraph(w["more"].format(
                rest=total - shown, kinds=max(len(grouped) - self.cap, 0), total=total),
                self.note))
        return parts

    # ---- cross-tabs -----------------------------------------------------------------

    def crosstab_block(self, name: str, by_name: str, entry: dict[str, Any]) -> list[Any]:
        """A cross-tab turned so that the question's answers are rows (long labels wrap in a
        wide first column) and the groups are columns; a group label too wide for its column
        becomes a letter explained under the table, so no heading breaks inside a word."""
        from reportlab.platypus import KeepTogether, Spacer

        w = self.w
        question, by = self.by_name.get(name), self.by_name.get(by_name)
        table: dict[str, dict[str, Any]] = entry.get("table") or {}
        by_label = by.label if by else by_name
        title = self.paragraph(f"{question.label if question else name} × {by_label}",
                               self.question_heading)
        if not any(count for row in table.values() for count in row.values()):
            return [title, self.paragraph(w["no_answers"], self.small)]
        groups = _ordered(list(table), by.choices if by else [])
        choices = _ordered(sorted({choice for row in table.values() for choice in row}),
                           question.choices if question else [])
        group_label = by.choice_labels if by else {}
        choice_label = question.choice_labels if question else {}
        row_n = entry.get("row_n") or {}
        shares = entry.get("row_percent") or {}
        first = min(max(max((self.width_of(choice_label.get(c, c)) for c in choices),
                            default=0) + 2 * PADDING, 35 * MM), 62 * MM)
        room = WIDTH - first
        most = max(1, int(room // MIN_COLUMN) - 1)  # groups a table holds, with the total
        per = -(-len(groups) // -(-len(groups) // most))  # as many in each table: wider
        column = room / (min(per, len(groups)) + 1)
        total_n = sum(int(row_n.get(group, 0)) for group in groups)
        multiple = by is not None and by.kind == "select_multiple"
        legend: list[tuple[str, str]] = []
        parts: list[Any] = [title]
        chunks = [groups[start:start + per] for start in range(0, len(groups), per)]
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            rows: list[list[Any]] = [[w["choice"], *[
                self.header_cell(group_label.get(group, group), column, legend)
                for group in chunk], *([w["total"]] if last else [])]]
            for choice in choices:
                counts = [int(table[group].get(choice, 0)) for group in chunk]
                rows.append([self.paragraph(choice_label.get(choice, choice), self.cell),
                             *[self.count_cell(count, (shares.get(group) or {}).get(choice))
                               for group, count in zip(chunk, counts, strict=True)]])
                if last:
                    overall = sum(int(table[group].get(choice, 0)) for group in groups)
                    rows[-1].append(self.count_cell(
                        overall, None if multiple else _share(overall, total_n)))
            rows.append([w["respondents"], *[f"{int(row_n.get(group, 0)):,}"
                                             for group in chunk],
                         *([f"{total_n:,}"] if last and not multiple else
                           [""] if last else [])])
            if index:
                parts.append(Spacer(1, 2 * MM))
            parts.append(self.table(rows, [first] + [column] * (len(rows[0]) - 1)))
        note = w["cell_note"]
        if legend:
            note += " " + w["legend"] + w["legend_sep"].join(
                w["legend_item"].format(code=code, label=label) for code, label in legend)
        parts.append(self.paragraph(note, self.note))
        test = entry.get("test")
        if test and test.get("sentence"):  # the chi-square test in plain words
            parts.append(self.paragraph(test["sentence"], self.body))
        return [KeepTogether(parts)]

    # ---- a comparison of two groups (kiosk stats --compare … --with … --pdf) ----------

    def comparison_story(self, comparison: dict[str, Any]) -> list[Any]:
        """Both groups with their N, then per question the sentence and a table of each
        choice's share on both sides, the change and its 95 % interval."""
        from reportlab.platypus import KeepTogether, Spacer

        w = self.w
        first, second = comparison["a"], comparison["b"]
        groups = self.table([[w["compare_group"], w["compare_filters"], w["n"]],
                             [w["compare_first"], first["name"], f"{first['n']:,}"],
                             [w["compare_second"], second["name"], f"{second['n']:,}"]],
                            [30 * MM, 110 * MM, 34 * MM])
        groups.setStyle([("ALIGN", (1, 1), (1, -1), "LEFT")])  # filters read as text
        story: list[Any] = [
            self.paragraph(self.station, self.station_style) if self.station else Spacer(1, 0),
            self.paragraph(f"{self.title} · {w['compare_title']}", self.cover_title), groups,
        ]
        if comparison.get("overlap"):
            story.append(self.paragraph(w["compare_overlap"].format(n=comparison["overlap"]),
                                        self.body))
        elif comparison.get("overlap") is None:
            story.append(self.paragraph(w["compare_overlap_unknown"], self.body))
        story.append(self.paragraph(w["compare_note"], self.note))
        for number, entry in enumerate(comparison["questions"].values(), start=1):
            parts: list[Any] = [
                self.paragraph(f"{number}. {entry['label']}", self.question_heading),
                self.paragraph(w["compare_n"].format(a=entry["n_a"], b=entry["n_b"]),
                               self.subline),
                self.paragraph(entry["sentence"], self.body)]
            rows: list[list[Any]] = [[w["choice"], w["compare_first"], w["compare_second"],
                                      w["compare_change"], w["ci"]]]
            shown = list(entry["choices"])
            if "top2" in entry:
                shown.append({"label": w["top2"], **entry["top2"]})
            for row in shown:
                interval = row["ci95"]
                rows.append([row["label"], _percent(row["percent_a"]),
                             _percent(row["percent_b"]), f"{row['difference']:+.1f}",
                             "—" if not interval else
                             f"{interval[0]:+.1f} … {interval[1]:+.1f}"])
            mean = entry.get("mean") or {}
            if mean.get("mean_a") is not None and mean.get("mean_b") is not None:
                interval = mean["ci95"]
                rows.append([w["mean"], f"{mean['mean_a']:.2f}", f"{mean['mean_b']:.2f}",
                             f"{mean['difference']:+.2f}", "—" if not interval else
                             f"{interval[0]:+.2f} … {interval[1]:+.2f}"])
            if len(rows) > 1:
                parts.append(self.table(rows, [62 * MM, 24 * MM, 24 * MM, 28 * MM, 36 * MM]))
            story.append(KeepTogether(parts))
        return story

    def header_cell(self, text: str, width: float, legend: list[tuple[str, str]]) -> Any:
        """A column heading that fits its column: whole on one line, or wrapped at spaces
        when every word fits, else a letter (A, B …) with the label in ``legend``."""
        room = width - 2 * PADDING
        if self.width_of(text) <= room:
            return text
        spaced = text.split()
        if len(spaced) > 1 and all(self.width_of(part) <= room for part in spaced):
            return self.paragraph(text, self.spaced)
        known = dict((label, code) for code, label in legend)
        if text not in known:
            index = len(legend)
            code = (string.ascii_uppercase[index] if index < 26
                    else f"Z{index - 25}")
            legend.append((code, text))
            known[text] = code
        return known[text]

    def count_cell(self, count: int, share: float | None) -> Any:
        below = "—" if share is None else f"{share:.1f}%"
        return self.paragraph(f"{count:,}<br/><font size='7' color='#555555'>{below}</font>",
                              self.number, markup=True)

    # ---- drawing --------------------------------------------------------------------

    def table(self, rows: list[list[Any]], widths: Any = None, header: bool = True) -> Any:
        """A grid; long texts wrap in place (CJK text wraps between characters, so a column
        holding it must be wide enough for several)."""
        from reportlab.lib import colors
        from reportlab.platypus import Table, TableStyle

        def wraps(value: Any, index: int) -> bool:
            if not isinstance(value, str):
                return False
            if widths is None:
                return len(value) > 14
            return self.width_of(value) + 2 * PADDING > widths[index]

        cells = [[self.paragraph(value, self.cell) if wraps(value, index) else value
                  for index, value in enumerate(row)] for row in rows]
        table = Table(cells, colWidths=widths, hAlign="LEFT", repeatRows=1 if header else 0)
        style = [
            ("FONTNAME", (0, 0), (-1, -1), self.font),
            ("FONTSIZE", (0, 0), (-1, -1), TABLE_SIZE),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#B8C2CC")),
            ("TOPPADDING", (0, 0), (-1, -1), 2),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ]
        if header:
            style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DDE3EA")))
            style.append(("ALIGN", (1, 1), (-1, -1), "RIGHT"))
        table.setStyle(TableStyle(style))
        return table

    def bar_chart(self, labels: list[str], values: list[float], *, horizontal: bool) -> Any:
        """Percent bars (choices, one a row) or count columns (histogram bins)."""
        from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
        from reportlab.graphics.shapes import Drawing
        from reportlab.lib import colors

        short = [label if len(label) <= LABEL_CHARS else label[:LABEL_CHARS - 1] + "…"
                 for label in labels]
        width = 164 * MM
        if horizontal:
            height = max(len(labels), 1) * 7 * MM + 10 * MM
            chart = HorizontalBarChart()
            chart.x, chart.y = 62 * MM, 6 * MM
            chart.width, chart.height = width - 74 * MM, height - 10 * MM
            chart.valueAxis.valueMin, chart.valueAxis.valueMax = 0, 100
            chart.valueAxis.valueStep = 20
            # Top to bottom in the table's order.
            chart.data = [list(reversed(values)) or [0]]
            chart.categoryAxis.categoryNames = list(reversed(short)) or [""]
            chart.barLabelFormat = "%.1f%%"
            chart.barLabels.nudge = 12
        else:
            height = 50 * MM
            chart = VerticalBarChart()
            chart.x, chart.y = 14 * MM, 10 * MM
            chart.width, chart.height = width - 20 * MM, height - 14 * MM
            chart.valueAxis.valueMin = 0
            chart.data = [values or [0]]
            chart.categoryAxis.categoryNames = short or [""]
            chart.categoryAxis.labels.angle = 30 if len(labels) > 6 else 0
            chart.categoryAxis.labels.dy = -6 if len(labels) > 6 else 0
            chart.barLabelFormat = "%d"
            chart.barLabels.nudge = 6
        chart.bars[0].fillColor = colors.HexColor("#3B6E9E")
        chart.bars[0].strokeColor = None
        for axis in (chart.categoryAxis.labels, chart.valueAxis.labels, chart.barLabels):
            axis.fontName = self.font
            axis.fontSize = 7.5
        drawing = Drawing(width, height)
        drawing.add(chart)
        return drawing


def today_stamp() -> str:
    return now_local().strftime("%Y-%m-%d %H:%M")  # the station's clock


def _fmt(value: Any, places: int = 1) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, int):
        return str(value)
    try:
        return f"{float(value):.{places}f}"
    except (TypeError, ValueError):
        return str(value)


def _percent(value: Any) -> str:
    return "—" if value is None else f"{float(value):.1f}%"


def _share(count: int, total: int) -> float | None:
    return count * 100 / total if total else None


def _ordered(names: list[str], choices: list[tuple[str, str]]) -> list[str]:
    """Names in the form's choice order; names the form no longer has come after."""
    order = {name: index for index, (name, _) in enumerate(choices)}
    return sorted(names, key=lambda name: (order.get(name, len(order)), name))


def report_period(stats: dict[str, Any]) -> str:
    """The filter's dates where set, else the first and last day with submissions."""
    filters = stats.get("filters") or {}
    days = [entry["period"] for entry in _series(stats)]
    start = filters.get("from") or (days[0] if days else None)
    end = filters.get("to") or (days[-1] if days else None)
    if not (start or end):
        return "—"
    return f"{str(start or '…')[:10]} – {str(end or '…')[:10]}"


def _series(stats: dict[str, Any]) -> list[dict[str, Any]]:
    over_time = stats.get("over_time") or {}
    return [entry for entry in over_time.get("series") or [] if entry.get("period")]


def site_counts(stats: dict[str, Any]) -> tuple[dict[str, int], int]:
    """Submissions per site, and how many name no site (counted under "")."""
    sites: dict[str, int] = {}
    unsited = 0
    for entry in _series(stats):
        for site, count in (entry.get("sites") or {}).items():
            if site:
                sites[site] = sites.get(site, 0) + int(count)
            else:
                unsited += int(count)
    return sites, unsited

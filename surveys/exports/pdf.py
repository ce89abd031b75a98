"""The PDF report of a survey's statistics: A4, Chinese in an embedded TrueType font.

A cover (questionnaire, period, N, sites, filters), then per question a bar chart and its
table (count, percent, Wilson 95 % interval; Likert mean and top-2 box; numbers: summary and
histogram), the cross-tabs when asked, and last the free-text answers — at most
``FREE_TEXT_CAP`` per question, then a line saying how many more there are (the full list is
in the CSV or XLSX export): a million submissions make a report of tens of pages, not of
ten thousand. Page numbers and the time of making are in every page's footer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from surveys.exports.columns import (
    XLSX_ILLEGAL,
    ExportError,
    Question,
    atomic_output,
    export_questions,
)
from surveys.exports.tabular import (
    HEADER_ROW,
    TITLE_ROW,
    bin_label,
    choice_list,
    crosstab_rows,
    crosstab_tables,
    describe_filters,
    words,
)
from surveys.form import Form
from surveys.pdf_fonts import register_cjk_font

FREE_TEXT_CAP = 200  # free-text answers listed per question; the rest are counted
ANSWER_CAP = 1000  # characters of one answer shown; the rest is cut, visibly
LABEL_CHARS = 18  # a chart's category label is cut to this many characters
MM = 72 / 25.4

PDF_WORDS = {
    "zh": {
        "report": "统计报告", "period": "统计期间", "sites": "站点", "generated": "生成时间",
        "version": "问卷版本", "page": "第 {page} 页", "free_text": "文字回答",
        "more": "…… 另有 {more} 条，共 {total} 条（完整内容见 CSV 或 XLSX 导出）",
        "crosstab": "交叉分析", "no_answers": "（无回答）", "all": "全部",
        "cut": "……（原文共 {length:,} 字，以下从略）",
        "multi_note": "多选题：百分比为选择该项的人数占回答人数的比例，合计可超过 100%。",
        "n_line": "回答人数 n = {n}", "histogram": "分布",
        "out_of_range": "另有 {n} 个超出可能范围的数值（录入错误或早期导入）未计入以上数字。",
        "types": {"select_one": "单选", "select_multiple": "多选", "likert": "量表",
                  "integer": "整数", "decimal": "数值", "text": "文字", "date": "日期"},
    },
    "en": {
        "report": "Statistics report", "period": "Period", "sites": "Sites",
        "generated": "Generated", "version": "Versions", "page": "page {page}",
        "free_text": "Free-text answers",
        "more": "… and {more} more, {total} in all (see the CSV or XLSX export)",
        "crosstab": "Cross-tabulation", "no_answers": "(no answers)", "all": "all",
        "cut": " … (cut: {length:,} characters in all)",
        "multi_note": "Multiple choice: percent of respondents choosing each; may sum past "
                      "100 %.",
        "n_line": "respondents n = {n}", "histogram": "distribution",
        "out_of_range": "{n} values past any possible answer (typing slips or early imports) "
                        "are left out of these figures.",
        "types": {"select_one": "single choice", "select_multiple": "multiple choice",
                  "likert": "Likert scale", "integer": "integer", "decimal": "number",
                  "text": "text", "date": "date"},
    },
}


def pdf_words(language: str) -> dict[str, Any]:
    return PDF_WORDS["en" if language.lower().startswith("en") else "zh"]


def write_pdf(forms: Sequence[Form], stats: dict[str, Any], target: str | Path, *,
              include_pii: bool = False, language: str = "zh",
              free_text_cap: int = FREE_TEXT_CAP) -> int:
    """Write the PDF report of ``stats``; return its number of pages."""
    from reportlab.lib.pagesizes import A4
    from reportlab.platypus import SimpleDocTemplate

    try:
        font = register_cjk_font()
    except FileNotFoundError as error:
        raise ExportError(str(error)) from None
    questions = export_questions(forms, language, include_pii=include_pii)
    report = _Report(font, language, stats, questions, free_text_cap)
    story = report.story()
    generated = today_stamp()
    pages = [0]

    def footer(canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.setFillGray(0.35)
        canvas.drawString(18 * MM, 10 * MM,
                          f"{report.title} · {report.w['generated']} {generated}")
        canvas.drawRightString(A4[0] - 18 * MM, 10 * MM,
                               report.w["page"].format(page=document.page))
        canvas.restoreState()
        pages[0] = document.page

    with atomic_output(target) as temporary:
        document = SimpleDocTemplate(
            str(temporary), pagesize=A4, leftMargin=18 * MM, rightMargin=18 * MM,
            topMargin=16 * MM, bottomMargin=18 * MM, title=report.title,
            author="社工站问卷终端", subject=report.w["report"])
        document.build(story, onFirstPage=footer, onLaterPages=footer)
    return pages[0]


class _Report:
    def __init__(self, font: str, language: str, stats: dict[str, Any],
                 questions: list[Question], cap: int) -> None:
        from reportlab.lib.styles import ParagraphStyle

        self.font = font
        self.language = language
        self.stats = stats
        self.questions = questions
        self.cap = cap
        self.w = pdf_words(language)
        self.t = words(language)
        self.title = str(stats.get("title") or stats.get("survey") or "")
        base = ParagraphStyle("base", fontName=font, fontSize=9.5, leading=13,
                              wordWrap="CJK")
        self.body = base
        self.small = ParagraphStyle("small", parent=base, fontSize=8.5, leading=11.5,
                                    textColor="#444444")
        self.cover_title = ParagraphStyle("cover", parent=base, fontSize=22, leading=30,
                                          spaceAfter=6 * MM)
        self.heading = ParagraphStyle("heading", parent=base, fontSize=15, leading=20,
                                      spaceBefore=2 * MM, spaceAfter=3 * MM)
        self.question_heading = ParagraphStyle("question", parent=base, fontSize=11.5,
                                               leading=16, spaceBefore=4 * MM,
                                               spaceAfter=1.5 * MM)

    def paragraph(self, text: Any, style: Any = None) -> Any:
        from xml.sax.saxutils import escape

        from reportlab.platypus import Paragraph

        # What XML cannot hold (stored before the record gate) shows as a replacement mark.
        text = XLSX_ILLEGAL.sub("\ufffd", str(text))
        return Paragraph(escape(text), style or self.body)

    def story(self) -> list[Any]:
        from reportlab.platypus import PageBreak

        story = self.cover()
        story.append(PageBreak())
        tallied = self.stats.get("questions", {})
        number = 0
        for question in self.questions:
            entry = tallied.get(question.name)
            if entry is None or entry.get("type", question.kind) == "text":
                continue
            number += 1
            story.extend(self.question_block(number, question, entry))
        tables = crosstab_tables(self.stats)
        if tables:
            story.append(PageBreak())
            story.append(self.paragraph(self.w["crosstab"], self.heading))
            by_name = {question.name: question for question in self.questions}
            for name, by, entry in tables:
                story.extend(self.crosstab_block(by_name.get(name), by_name.get(by), name,
                                                 by, entry))
        texts = [(question, tallied[question.name]) for question in self.questions
                 if question.name in tallied
                 and tallied[question.name].get("type", question.kind) == "text"]
        if texts:
            story.append(PageBreak())
            story.append(self.paragraph(self.w["free_text"], self.heading))
            for question, entry in texts:
                story.extend(self.free_text_block(question, entry))
        return story

    # ---- cover ----------------------------------------------------------------------

    def cover(self) -> list[Any]:
        from reportlab.platypus import Spacer

        stats = self.stats
        rows = [
            [self.t["survey"], f"{self.title}（{stats.get('survey', '')}）"
             if self.language == "zh" else f"{self.title} ({stats.get('survey', '')})"],
            [self.w["version"], ", ".join(str(v) for v in stats.get("versions") or []) or "—"],
            [self.w["period"], report_period(stats)],
            [self.t["n"], str(stats.get("n", 0))],
            [self.w["sites"], ", ".join(report_sites(stats)) or "—"],
            [self.t["filters"], describe_filters(stats.get("filters"), self.language)],
            [self.w["generated"], today_stamp()],
        ]
        return [Spacer(1, 30 * MM), self.paragraph(self.title, self.cover_title),
                self.paragraph(self.w["report"], self.heading), Spacer(1, 8 * MM),
                self.table(rows, widths=(32 * MM, 130 * MM), header=False)]

    # ---- questions ------------------------------------------------------------------

    def question_block(self, number: int, question: Question, entry: dict[str, Any]) -> list[Any]:
        from reportlab.platypus import KeepTogether, Spacer

        kind = entry.get("type", question.kind)
        label = entry.get("label") or question.label
        type_name = self.w["types"].get(kind, kind)
        parts: list[Any] = [
            self.paragraph(f"{number}. {label}", self.question_heading),
            self.paragraph(f"{question.name} · {type_name} · "
                           + self.w["n_line"].format(n=entry.get("n", 0)), self.small),
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
        rows = [[self.t["label"], self.t["count"], self.t["percent"], "95% CI"]]
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
            parts.append(self.paragraph(self.w["multi_note"], self.small))
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
                                        self.small))
        histogram = entry.get("histogram") or []
        if histogram:
            parts.append(Spacer(1, 2 * MM))
            parts.append(self.bar_chart([bin_label(b) for b in histogram],
                                        [float(b.get("count", 0)) for b in histogram],
                                        horizontal=False))
        return parts

    def crosstab_block(self, question: Question | None, by: Question | None, name: str,
                       by_name: str, entry: dict[str, Any]) -> list[Any]:
        from reportlab.platypus import KeepTogether, Spacer

        rows = crosstab_rows(question, by, name, by_name, entry, self.language)
        columns = max(len(row) - 1 for row in rows[1:])
        # The page's 174 mm shared out: a wide first column, the choices evenly.
        widths = [30 * MM] + [144 * MM / max(columns - 1, 1)] * (columns - 1)
        parts: list[Any] = []
        if not any(count for row in (entry.get("table") or {}).values()
                   for count in row.values()):
            return [self.paragraph(rows[0][2], self.question_heading),
                    self.paragraph(self.w["no_answers"], self.small)]
        block: list[list[str]] = []
        for row in rows:
            if row[0] is TITLE_ROW:
                parts.append(self.paragraph(row[2], self.question_heading))
            elif row[0] is HEADER_ROW:
                if block:
                    parts.append(self.table(block, widths[:len(block[0])], wrap_header=True))
                    parts.append(Spacer(1, 2 * MM))
                block = [[str(value) for value in row[1:]]]
            else:
                block.append([_fmt(value) if value is None or isinstance(value, float)
                              else str(value) for value in row])
        if block:
            parts.append(self.table(block, widths[:len(block[0])], wrap_header=True))
        return [KeepTogether(parts)]

    def free_text_block(self, question: Question, entry: dict[str, Any]) -> list[Any]:
        answers = list(entry.get("answers") or [])
        total = int(entry.get("answer_count") or entry.get("n") or len(answers))
        parts = [self.paragraph(f"{entry.get('label') or question.label}（{question.name}）"
                                if self.language == "zh"
                                else f"{entry.get('label') or question.label} "
                                     f"({question.name})", self.question_heading)]
        if not answers:
            parts.append(self.paragraph(self.w["no_answers"], self.small))
        for answer in answers[:self.cap]:
            if len(answer) > ANSWER_CAP:  # laying out text takes time growing past linear
                answer = answer[:ANSWER_CAP] + self.w["cut"].format(length=len(answer))
            parts.append(self.paragraph(f"· {answer}"))  # the font has no •
        if total > min(len(answers), self.cap):
            shown = min(len(answers), self.cap)
            parts.append(self.paragraph(self.w["more"].format(more=total - shown, total=total),
                                        self.small))
        return parts

    # ---- drawing --------------------------------------------------------------------

    def table(self, rows: list[list[str]], widths: Any = None, header: bool = True,
              wrap_header: bool = False) -> Any:
        """A grid; long texts (and with ``wrap_header`` every header cell) wrap in place."""
        from reportlab.lib import colors
        from reportlab.platypus import Table, TableStyle

        cells = [[self.paragraph(value, self.small)
                  if len(str(value)) > 14 or (wrap_header and index == 0) else str(value)
                  for value in row] for index, row in enumerate(rows)]
        table = Table(cells, colWidths=widths, hAlign="LEFT", repeatRows=1 if header else 0)
        style = [
            ("FONTNAME", (0, 0), (-1, -1), self.font),
            ("FONTSIZE", (0, 0), (-1, -1), 8.5),
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
    return dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M")


def _fmt(value: Any, places: int = 1) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, int):
        return str(value)
    try:
        return f"{float(value):.{places}f}"
    except (TypeError, ValueError):
        return str(value)


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


def report_sites(stats: dict[str, Any]) -> list[str]:
    """The sites the reported submissions came from, with their counts, most first."""
    sites: dict[str, int] = {}
    for entry in _series(stats):
        for site, count in (entry.get("sites") or {}).items():
            if site:
                sites[site] = sites.get(site, 0) + count
    return [f"{site} ({count})" for site, count in sorted(sites.items(),
                                                         key=lambda item: -item[1])]

"""Data exports: CSV (UTF-8 with BOM, for Excel and WPS), XLSX (data, tallies, cross-tab), JSONL.

Each writer streams the submission records it is given (already filtered by the caller), so
memory stays flat however many there are, and writes through ``atomic_output``: a failure
leaves nothing behind.

A form with repeat groups gives one table per repeat, as KoboToolbox exports it: a sheet of
the workbook, or a CSV file beside the submissions' (``out.csv``, ``out-members.csv`` …).
Each instance is a row keyed to its parent's (``REPEAT_KEYS``); the submissions' rows end
with their ``_index``. JSONL keeps repeats as they are stored, lists of objects.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

from surveys.exports.columns import (
    INDEX_COLUMN,
    REPEAT_KEYS,
    ExportError,
    ExportWriteError,
    Question,
    RepeatTable,
    XlsxCells,
    atomic_output,
    atomic_outputs,
    export_questions,
    header,
    repeat_tables,
    row_maker,
    table_questions,
)
from surveys.form import Form
from surveys.review import answer_text, state_word

# Excel and WPS stop at 1,048,576 rows a sheet: one is the header.
SHEET_ROW_LIMIT = 1_048_575
Progress = Callable[[int], None] | None

SHEET_NAMES = {
    "zh": {"data": "数据", "tallies": "统计", "crosstab": "交叉表", "history": "审核与更正"},
    "en": {"data": "data", "tallies": "tallies", "crosstab": "crosstab",
           "history": "review history"},
}
# The columns of the review history sheet (surveys/review.py: decisions and corrections).
HISTORY_HEADINGS = {
    "zh": ["问卷编号 instance_id", "时间", "工作人员", "工作站", "操作", "审核状态", "题目",
           "原回答", "新回答", "说明或原因"],
    "en": ["instance_id", "at", "staff", "kiosk", "action", "review state", "question",
           "old answer", "new answer", "note or reason"],
}
WORDS = {
    "zh": {
        "choice": "选项", "label": "标签", "count": "人数", "percent": "百分比 %",
        "ci_low": "95% CI 下限", "ci_high": "95% CI 上限", "respondents": "回答人数",
        "mean": "平均分", "top2": "前两项合计 %（满意率）", "statistic": "统计量", "value": "值",
        "sd": "标准差", "min": "最小值", "q1": "下四分位数", "median": "中位数",
        "q3": "上四分位数", "max": "最大值", "bin": "区间", "answers": "文字回答数",
        "total": "合计", "row_percent": "行百分比 %", "column_percent": "列百分比 %",
        "n": "样本量", "survey": "问卷", "filters": "筛选条件", "none": "无",
        "mean_value": "平均值", "first": "最早", "last": "最晚",
    },
    "en": {
        "choice": "choice", "label": "label", "count": "count", "percent": "percent",
        "ci_low": "95% CI low", "ci_high": "95% CI high", "respondents": "respondents",
        "mean": "mean score", "top2": "top-2 box %", "statistic": "statistic", "value": "value",
        "sd": "sd", "min": "min", "q1": "Q1", "median": "median", "q3": "Q3", "max": "max",
        "bin": "bin", "answers": "text answers", "total": "total",
        "row_percent": "row %", "column_percent": "column %", "n": "N", "survey": "Survey",
        "filters": "Filters", "none": "none", "mean_value": "mean", "first": "first",
        "last": "last",
    },
}


def words(language: str) -> dict[str, str]:
    return WORDS["en" if language.lower().startswith("en") else "zh"]


# ---- CSV ---------------------------------------------------------------------------------


def write_csv(forms: Sequence[Form], records: Iterable[dict[str, Any]],
              target: str | Path | IO[str],
              *, labels: bool = False, include_pii: bool = False, language: str = "zh",
              on_progress: Progress = None, repeat_rows: dict[str, int] | None = None) -> int:
    """Write submissions as CSV in UTF-8 with BOM; return the number of rows.

    ``target`` is a path (written atomically) or an open text stream (the BOM is written
    to it too). Codes by default, labels in ``language`` with ``labels``. A form with
    repeats also writes one file per repeat beside ``target`` (``repeat_files``), all or
    none of them; ``repeat_rows`` hears each file's path and number of rows.
    """
    tables = repeat_tables(forms, language, include_pii=include_pii)
    if tables:
        if not isinstance(target, str | Path):
            raise ExportError(
                "这份问卷有重复组，CSV 要写成几个文件（每个重复组一个）：请用 -o 文件名.csv，"
                "或导出 xlsx、jsonl (the form has repeat groups, which CSV writes to files "
                "of their own: give -o FILE.csv, or export xlsx or jsonl)")
        return _write_csv_tables(forms, tables, records, Path(target), labels, include_pii,
                                 language, on_progress, repeat_rows)
    questions = export_questions(forms, language, include_pii=include_pii)
    if not isinstance(target, str | Path):
        target.write("\ufeff")
        return _write_csv_rows(questions, records, target, labels, language, on_progress)
    with atomic_output(target) as temporary, \
            open(temporary, "w", encoding="utf-8-sig", newline="") as handle:
        return _write_csv_rows(questions, records, handle, labels, language, on_progress)


def _write_csv_rows(questions: list[Question], records: Iterable[dict[str, Any]],
                    handle: IO[str], labels: bool, language: str, on_progress: Progress) -> int:
    # CRLF line ends (the csv module's default) are what Excel and WPS write themselves.
    writer = csv.writer(handle)
    writer.writerow(header(questions))
    make = row_maker(questions, labels=labels, language=language, escape_formulas=True)
    counted = _Counted(records, on_progress)
    writer.writerows(map(make, counted))
    return counted.count


def repeat_files(target: str | Path, tables: Sequence[RepeatTable]) -> dict[str, Path]:
    """Where each repeat's CSV goes: beside ``target``, named after it and the repeat
    (``out.csv`` → ``out-members.csv``)."""
    target = Path(target)
    suffix = target.suffix or ".csv"
    return {table.name: target.with_name(f"{target.stem}-{table.name}{suffix}")
            for table in tables}


def _write_csv_tables(forms: Sequence[Form], tables: list[RepeatTable],
                      records: Iterable[dict[str, Any]], target: Path, labels: bool,
                      include_pii: bool, language: str, on_progress: Progress,
                      repeat_rows: dict[str, int] | None) -> int:
    """The submissions to ``target``, each repeat's instances to a file of its own."""
    paths = repeat_files(target, tables)
    questions = table_questions(forms, language, include_pii=include_pii)
    make = row_maker(questions, labels=labels, language=language, escape_formulas=True,
                     tail=(INDEX_COLUMN,))
    walk = RepeatRows(tables, {None: target.name,
                               **{name: path.name for name, path in paths.items()}})
    with atomic_outputs([target, *paths.values()]) as temporaries, ExitStack() as files:
        handles = [files.enter_context(open(path, "w", encoding="utf-8-sig", newline=""))
                   for path in temporaries]
        writer = csv.writer(handles[0])
        writer.writerow(header(questions, tail=(INDEX_COLUMN,)))
        writers = {}
        makers = {}
        for table, handle in zip(tables, handles[1:], strict=True):
            writers[table.name] = csv.writer(handle)
            writers[table.name].writerow(header(table.questions, REPEAT_KEYS))
            makers[table.name] = row_maker(table.questions, labels=labels, language=language,
                                           escape_formulas=True, keys=REPEAT_KEYS)
        counted = _Counted(records, on_progress)
        for record in counted:
            writer.writerow(make(walk.keyed(record)))
            for name, row in walk.instances(record):
                writers[name].writerow(makers[name](row))
    if repeat_rows is not None:
        repeat_rows.update({str(paths[name]): walk.counts[name] for name in paths})
    return counted.count


class RepeatRows:
    """Numbers the submissions and their repeats' instances as the records go by, as
    KoboToolbox does: each table counts its own rows from 1, and an instance's row names
    its parent's row and table (``table_names``: the submissions' under None)."""

    def __init__(self, tables: Sequence[RepeatTable],
                 table_names: dict[str | None, str]) -> None:
        self.table_names = table_names
        self.inside: dict[str | None, list[str]] = {}
        for table in tables:
            self.inside.setdefault(table.parent, []).append(table.name)
        self.counts = {table.name: 0 for table in tables}
        self.submissions = 0

    def keyed(self, record: dict[str, Any]) -> dict[str, Any]:
        """The submission's record with its ``_index`` (the next submission's row)."""
        self.submissions += 1
        return {**record, INDEX_COLUMN: self.submissions}

    def instances(self, record: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
        """(repeat, row record) for every instance of the submission last ``keyed``, outer
        instances before those inside them; the row record holds ``REPEAT_KEYS`` and the
        instance as its answers."""
        yield from self._walk(record.get("answers"), None, self.submissions,
                              record.get("instance_id"))

    def _walk(self, answers: Any, scope: str | None, parent: int,
              submission: Any) -> Iterator[tuple[str, dict[str, Any]]]:
        if not isinstance(answers, dict):
            return
        for name in self.inside.get(scope, ()):
            found = answers.get(name)
            if not isinstance(found, list):
                continue
            for instance in found:
                self.counts[name] += 1
                own = self.counts[name]
                # {} is an instance that was not relevant: a row of its own all the same, so
                # that rows and positions agree with the stored list.
                instance = instance if isinstance(instance, dict) else {}
                yield name, {"_index": own, "_parent_index": parent,
                             "_parent_table_name": self.table_names[scope],
                             "_submission__uuid": submission, "answers": instance}
                yield from self._walk(instance, name, own, submission)


class _Counted:
    """The records, passed through and counted; ``on_progress`` hears of every thousand."""

    def __init__(self, records: Iterable[dict[str, Any]], on_progress: Progress) -> None:
        self.records = records
        self.on_progress = on_progress
        self.count = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for record in self.records:
            yield record
            self.count += 1
            if self.on_progress is not None and self.count % 1000 == 0:
                self.on_progress(1000)
        if self.on_progress is not None:
            self.on_progress(self.count % 1000)


# ---- JSONL -------------------------------------------------------------------------------


def write_jsonl(forms: Sequence[Form], records: Iterable[dict[str, Any]],
                target: str | Path | IO[str], *, include_pii: bool = False,
                on_progress: Progress = None) -> int:
    """Write submissions as JSON Lines (the import format), pii answers left out by default
    (inside repeats' instances too; a pii repeat with all its instances)."""
    hidden = set() if include_pii else {
        item.name for form in forms for item in form.items
        if item.pii and (item.has_value or item.is_repeat)}
    repeats = {name for form in forms for name in form.repeats}
    # A register entry's label made of pii answers (户主姓名 + 住址) is pii too.
    pii_labels = {form.survey_id for form in forms if form.entity is not None
                  and "label" in form.entity_expressions
                  and form.entity_expressions["label"].references & hidden}

    def lines(handle: IO[str]) -> int:
        counted = _Counted(records, on_progress)
        for record in counted:
            if hidden:
                record = {**record, "answers": _without(record["answers"], hidden, repeats)}
            if record.get("survey") in pii_labels and "label" in record.get("entity", {}):
                record = {**record, "entity": {key: value for key, value
                                               in record["entity"].items() if key != "label"}}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        return counted.count

    if not isinstance(target, str | Path):
        return lines(target)
    with atomic_output(target) as temporary, open(temporary, "w", encoding="utf-8") as handle:
        return lines(handle)


def _without(answers: dict[str, Any], hidden: set[str], repeats: set[str]) -> dict[str, Any]:
    """``answers`` without the ``hidden`` names, in the instances of ``repeats`` too."""
    kept = {}
    for name, value in answers.items():
        if name in hidden:
            continue
        if name in repeats and isinstance(value, list):
            value = [_without(instance, hidden, repeats) if isinstance(instance, dict)
                     else instance for instance in value]
        kept[name] = value
    return kept


# ---- XLSX --------------------------------------------------------------------------------


def write_xlsx(forms: Sequence[Form], records: Iterable[dict[str, Any]],
               stats: dict[str, Any] | None, target: str | Path, *, labels: bool = False,
               include_pii: bool = False, language: str = "zh",
               on_progress: Progress = None, notes: list[str] | None = None,
               repeat_rows: dict[str, int] | None = None,
               history: Iterable[dict[str, Any]] = ()) -> int:
    """Write the data sheet(s), the tallies sheet and (when ``stats`` has one) the cross-tab;
    then, when the submissions written were reviewed or corrected, their ``history``
    (review decisions and corrections, as ``review_log`` gives them: a personal answer's
    values shown only with ``include_pii``).

    Over 1,048,575 submissions the data go on in sheets 数据2, 数据3 … (each with the
    header), since Excel and WPS open no more rows than that in one sheet. Every text cell
    is typed as text (never a formula); text past what a cell holds is cut, marked, and
    said in ``notes``. Each repeat group gets sheets of its own after the data, named by
    its label (``repeat_rows`` hears each one's name and number of rows). Returns the
    number of data rows.
    """
    from openpyxl import Workbook

    questions = export_questions(forms, language, include_pii=include_pii)
    tables = repeat_tables(forms, language, include_pii=include_pii)
    names = SHEET_NAMES["en" if language.lower().startswith("en") else "zh"]
    book = Workbook(write_only=True)
    cells = XlsxCells(language)
    if tables:
        count = _repeat_form_sheets(book, forms, tables, records, names, labels, include_pii,
                                    language, on_progress, cells, repeat_rows)
    else:
        count = _data_sheets(book, questions, records, names["data"], labels, language,
                             on_progress, cells)
    if stats is not None:
        _tallies_sheet(book.create_sheet(names["tallies"]), questions, stats, language, cells)
        if stats.get("crosstab"):
            _crosstab_sheet(book.create_sheet(names["crosstab"]), questions, stats, language,
                            cells)
    _history_sheet(book, names["history"], forms, history, include_pii, language, cells)
    note = cells.note(language)
    if note is not None and notes is not None:
        notes.append(note)
    with atomic_output(target) as temporary:
        try:
            book.save(temporary)
        except OSError as error:
            raise ExportWriteError(f"cannot write {target}: {error.strerror or error}") from None
    return count


def _history_sheet(book: Any, title: str, forms: Sequence[Form],
                   history: Iterable[dict[str, Any]], include_pii: bool, language: str,
                   cells: XlsxCells) -> None:
    """The review decisions and corrections of the submissions written, oldest first (no
    sheet when there are none)."""
    personal = set().union(*(form.pii_names for form in forms)) if forms else set()
    english = language.lower().startswith("en")
    sheet = styles = None
    for entry in history:
        if sheet is None:
            sheet = book.create_sheet(title)
            styles = _Styles(sheet, cells)
            sheet.append([styles.head(text) for text in HISTORY_HEADINGS[
                "en" if english else "zh"]])
        assert styles is not None
        correction = entry["kind"] == "correction"
        hidden = correction and entry["question"] in personal and not include_pii
        action = ("correction" if english else "更正") if correction else \
            ("review" if english else "审核")
        state = "" if correction else (entry["state"] if english else
                                       state_word(entry["state"]))
        values = ["***" if hidden else answer_text(entry.get(key))
                  for key in ("old", "new")] if correction else ["", ""]
        sheet.append(styles.row([entry["instance_id"], entry["at"], entry["staff"],
                                 entry["kiosk"] or "", action, state,
                                 entry.get("question") or "", *values, entry["note"]]))


# What a sheet's name cannot hold in Excel (and WPS, LibreOffice), and its longest.
SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\\x00-\x1f\x7f]")
SHEET_NAME_LIMIT = 31


def sheet_title(wanted: str, fallback: str, taken: set[str]) -> str:
    """A sheet name Excel takes, near ``wanted`` (``fallback`` when nothing of it is left,
    or it reads an answer, ``${name}``), unlike any in ``taken`` (case-folded, as Excel
    compares them), which it joins."""
    title = "" if "${" in wanted else SHEET_NAME_FORBIDDEN.sub("", wanted).strip(" '")
    if not title:
        title = SHEET_NAME_FORBIDDEN.sub("", fallback).strip(" '") or "sheet"
    title = title[:SHEET_NAME_LIMIT].rstrip(" '")
    candidate, number = title, 2
    while candidate.casefold() in taken:
        suffix = f"-{number}"
        candidate = title[:SHEET_NAME_LIMIT - len(suffix)].rstrip(" '") + suffix
        number += 1
    taken.add(candidate.casefold())
    return candidate


class _SheetSeries:
    """One table's sheets: its header, then its rows, going on in a sheet of the next
    number (with the header again) past what one sheet holds."""

    def __init__(self, book: Any, base_name: str, names: list[str], cells: XlsxCells,
                 taken: set[str]) -> None:
        self.book = book
        self.base_name = base_name
        self.names = names
        self.cells = cells
        self.taken = taken
        wide = {"instance_id": 38.0, "_submission__uuid": 38.0, "started": 30.0,
                "completed": 30.0}
        self.widths = [wide.get(name, max(8.0, min(40.0, _width(name) + 2))) for name in names]
        self.sheets: list[Any] = []
        self.rows = 0  # in all its sheets
        self.in_sheet = 0
        self._new_sheet()

    def _new_sheet(self) -> None:
        from openpyxl.utils import get_column_letter

        number = len(self.sheets) + 1
        title = self.base_name if number == 1 else sheet_title(
            f"{self.base_name}{number}", f"{self.base_name}{number}", self.taken)
        self.sheet = self.book.create_sheet(title)
        for column, width in enumerate(self.widths, start=1):
            self.sheet.column_dimensions[get_column_letter(column)].width = width
        self.sheet.freeze_panes = "B2"
        self.styles = _Styles(self.sheet, self.cells)
        self.sheet.append([self.styles.head(name) for name in self.names])
        self.sheets.append(self.sheet)
        self.in_sheet = 0

    def append(self, row: list[Any]) -> None:
        if self.in_sheet == SHEET_ROW_LIMIT:
            self._new_sheet()
        self.sheet.append(self.styles.row(row))
        self.in_sheet += 1
        self.rows += 1


def _repeat_form_sheets(book: Any, forms: Sequence[Form], tables: list[RepeatTable],
                        records: Iterable[dict[str, Any]], names: dict[str, str],
                        labels: bool, include_pii: bool, language: str,
                        on_progress: Progress, cells: XlsxCells,
                        repeat_rows: dict[str, int] | None) -> int:
    """The data sheet(s) of a form with repeats, then each repeat's sheet(s), in form order;
    returns the number of submissions."""
    taken = {name.casefold() for name in names.values()} | {"history"}  # Excel's own
    columns = table_questions(forms, language, include_pii=include_pii)
    data = _SheetSeries(book, names["data"], header(columns, tail=(INDEX_COLUMN,)), cells,
                        taken)
    make = row_maker(columns, labels=labels, language=language, escape_formulas=False,
                     tail=(INDEX_COLUMN,))
    series: dict[str, _SheetSeries] = {}
    makers = {}
    for table in tables:
        series[table.name] = _SheetSeries(
            book, sheet_title(table.label, table.name, taken),
            header(table.questions, REPEAT_KEYS), cells, taken)
        makers[table.name] = row_maker(table.questions, labels=labels, language=language,
                                       escape_formulas=False, keys=REPEAT_KEYS)
    walk = RepeatRows(tables, {None: names["data"], **{
        name: sheets.base_name for name, sheets in series.items()}})
    counted = _Counted(records, on_progress)
    for record in counted:
        data.append(make(walk.keyed(record)))
        for name, row in walk.instances(record):
            series[name].append(makers[name](row))
    # A sheet made past the row limit was added last; the tables' sheets go together.
    ordered = [sheet for sheets in (data, *series.values()) for sheet in sheets.sheets]
    for place, sheet in enumerate(ordered):
        book.move_sheet(sheet.title, place - book.index(sheet))
    if repeat_rows is not None:
        repeat_rows.update({sheets.base_name: sheets.rows for sheets in series.values()})
    return counted.count


class _Styles:
    """Header cells are bold on pale grey; made once per workbook sheet. ``row`` makes the
    text cells of a row safe (see XlsxCells)."""

    def __init__(self, sheet: Any, cells: XlsxCells) -> None:
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Alignment, Font, PatternFill

        self.sheet = sheet
        self.cells = cells
        self.cell_type = WriteOnlyCell
        self.bold = Font(bold=True)
        self.fill = PatternFill("solid", fgColor="DDE3EA")
        self.wrap = Alignment(vertical="top", wrap_text=True)

    def row(self, values: list[Any]) -> list[Any]:
        return [self.safe(value) for value in values]

    def safe(self, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        value = self.cells(value)
        return self.text(value) if value.startswith("=") else value

    def head(self, value: Any) -> Any:
        value = self.cells(value) if isinstance(value, str) else value
        cell = self.cell_type(self.sheet, value=value)
        cell.font = self.bold
        cell.fill = self.fill
        return cell

    def title(self, value: Any) -> Any:
        value = self.cells(value) if isinstance(value, str) else value
        cell = self.cell_type(self.sheet, value=value)
        cell.font = self.bold
        return cell

    def text(self, value: str) -> Any:
        """A string that openpyxl must not take for a formula (it starts with '=')."""
        cell = self.cell_type(self.sheet, value=value)
        cell.data_type = "s"
        return cell


def _width(text: str) -> float:
    """Column width in Excel's units: CJK characters take two."""
    return sum(2 if ord(char) > 0x2E7F else 1 for char in text)


def _data_sheets(book: Any, questions: list[Question], records: Iterable[dict[str, Any]],
                 base_name: str, labels: bool, language: str, on_progress: Progress,
                 cells: XlsxCells) -> int:
    names = header(questions)
    # Strings that look like formulas are stored as text, not escaped: XLSX has a cell type.
    make = row_maker(questions, labels=labels, language=language, escape_formulas=False)
    wide = {"instance_id": 38.0, "started": 30.0, "completed": 30.0}
    widths = [wide.get(name, max(8.0, min(40.0, _width(name) + 2))) for name in names]

    def new_sheet(number: int) -> tuple[Any, _Styles]:
        from openpyxl.utils import get_column_letter

        sheet = book.create_sheet(base_name if number == 1 else f"{base_name}{number}")
        for column, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(column)].width = width
        sheet.freeze_panes = "B2"
        styles = _Styles(sheet, cells)
        sheet.append([styles.head(name) for name in names])
        return sheet, styles

    sheet, styles = new_sheet(1)
    sheets, in_sheet = 1, 0
    counted = _Counted(records, on_progress)
    for record in counted:
        if in_sheet == SHEET_ROW_LIMIT:
            sheets += 1
            sheet, styles = new_sheet(sheets)
            in_sheet = 0
        sheet.append(styles.row(make(record)))
        in_sheet += 1
    return counted.count


def _round(value: Any, places: int = 2) -> Any:
    return round(value, places) if isinstance(value, float) else value


def _tallies_sheet(sheet: Any, questions: list[Question], stats: dict[str, Any],
                   language: str, cells: XlsxCells) -> None:
    from openpyxl.utils import get_column_letter

    w = words(language)
    styles = _Styles(sheet, cells)
    for column, width in enumerate((22, 36, 10, 12, 14, 14), start=1):
        sheet.column_dimensions[get_column_letter(column)].width = width
    sheet.append([styles.title(f"{w['survey']}: {stats.get('title') or stats.get('survey')}"),
                  None, styles.title(f"{w['n']} = {stats.get('n', 0)}")])
    sheet.append(styles.row([w["filters"], describe_filters(stats.get("filters"), language)]))
    sheet.append([])
    tallied = stats.get("questions", {})
    for question in questions:
        entry = tallied.get(question.name)
        if entry is None:
            continue
        for row in tally_rows(question, entry, language):
            _append(sheet, styles, row)
        sheet.append([])


# The first cell of a row of ``tally_rows``/``crosstab_rows`` that is a header or a title.
HEADER_ROW = object()
TITLE_ROW = object()


def tally_rows(question: Question, entry: dict[str, Any], language: str) -> list[list[Any]]:
    """The tallies of one question as rows (the first cell marks title and header rows)."""
    w = words(language)
    label = entry.get("label") or question.label
    rows: list[list[Any]] = [[TITLE_ROW, question.name, label, f"n = {entry.get('n', 0)}"]]
    kind = entry.get("type", question.kind)
    if kind in ("select_one", "select_multiple", "likert"):
        rows.append([HEADER_ROW, w["choice"], w["label"], w["count"], w["percent"], w["ci_low"],
                     w["ci_high"]])
        counts = entry.get("counts", {})
        percent = entry.get("percent", {})
        ci95 = entry.get("ci95", {})
        for choice, choice_label in choice_list(question, entry):
            low, high = (ci95.get(choice) or (None, None))[:2]
            rows.append([choice, choice_label, counts.get(choice, 0),
                         _round(percent.get(choice)), _round(low), _round(high)])
        if entry.get("mean") is not None and kind in ("likert", "select_one"):
            rows.append([w["mean"], None, None, _round(entry["mean"])])
        if entry.get("top2") is not None:
            low, high = (entry.get("top2_ci95") or (None, None))[:2]
            rows.append([w["top2"], None, None, _round(entry["top2"]), _round(low),
                         _round(high)])
    elif kind in ("integer", "decimal"):
        rows.append([HEADER_ROW, w["statistic"], w["value"]])
        rows.append([w["respondents"], entry.get("n", 0)])
        for key in ("mean", "sd", "min", "q1", "median", "q3", "max"):
            rows.append([w["mean_value" if key == "mean" else key], _round(entry.get(key))])
        if entry.get("histogram"):
            rows.append([HEADER_ROW, w["bin"], w["count"]])
            for bin_ in entry["histogram"]:
                rows.append([bin_label(bin_), bin_.get("count", 0)])
    elif kind == "date":
        rows.append([HEADER_ROW, w["statistic"], w["value"]])
        rows.append([w["respondents"], entry.get("n", 0)])
        rows.append([w["first"], entry.get("min")])
        rows.append([w["last"], entry.get("max")])
    else:
        rows.append([w["answers"], entry.get("n", len(entry.get("answers") or ()))])
    return rows


def choice_list(question: Question, entry: dict[str, Any]) -> list[tuple[str, str]]:
    """Choices in form order with their labels (the stats' own list where it has one)."""
    listed = entry.get("choices")
    if listed:
        return [(choice["name"], choice.get("label") or choice["name"]) for choice in listed]
    if question.choices:
        return question.choices
    return [(name, name) for name in entry.get("counts", {})]


def bin_label(bin_: dict[str, Any]) -> str:
    low, high = _round(bin_.get("lo")), _round(bin_.get("hi"))
    return f"{low}–{high}"


def describe_filters(filters: dict[str, Any] | None, language: str) -> str:
    """The filters of a report in a line: ``from 2026-11-01; to …; where a=b``."""
    if not filters:
        return words(language)["none"]
    parts = []
    for key, value in filters.items():
        if value in (None, "", [], (), {}):
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{name}={item}" for name, item in value.items())
        elif isinstance(value, list | tuple):
            value = ", ".join(_flatten(item) for item in value)
        parts.append(f"{key}: {value}")
    return "; ".join(parts) or words(language)["none"]


def _flatten(item: Any) -> str:
    if isinstance(item, list | tuple) and len(item) == 2:
        return f"{item[0]}={item[1]}"
    return str(item)


def crosstab_tables(stats: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(question, by, table entry) for each cross-tab in the stats, in question order."""
    crosstab = stats.get("crosstab") or {}
    by = crosstab.get("by", "")
    if "tables" in crosstab:
        return [(name, by, table) for name, table in crosstab["tables"].items()]
    if "table" in crosstab:
        return [(crosstab.get("question", ""), by, crosstab)]
    return []


def crosstab_rows(question: Question | None, by: Question | None, name: str, by_name: str,
                  entry: dict[str, Any], language: str) -> list[list[Any]]:
    """A cross-tab as rows: counts with totals, then row % and column %."""
    w = words(language)
    table: dict[str, dict[str, Any]] = entry.get("table", {})
    groups = _ordered(list(table), by.choices if by else [])
    seen = {choice for row in table.values() for choice in row}
    choices = _ordered(sorted(seen), question.choices if question else [])
    group_label = (by.choice_labels if by else {})
    choice_label = (question.choice_labels if question else {})
    title = f"{question.label if question else name} × {by.label if by else by_name}"
    rows: list[list[Any]] = [[TITLE_ROW, f"{name} × {by_name}", title]]
    heads = [choice_label.get(choice, choice) for choice in choices]
    rows.append([HEADER_ROW, f"{by_name} \\ {name}", *heads, w["total"]])
    for group in groups:
        counts = [table[group].get(choice, 0) for choice in choices]
        rows.append([group_label.get(group, group), *counts, entry_total(entry, group, counts)])
    rows.append([w["total"], *[sum(table[group].get(choice, 0) for group in groups)
                               for choice in choices],
                 sum(entry_total(entry, group, [table[group].get(c, 0) for c in choices])
                     for group in groups)])
    for key in ("row_percent", "column_percent"):
        shares = entry.get(key)
        if not shares:
            continue
        rows.append([HEADER_ROW, w[key], *heads])
        for group in groups:
            rows.append([group_label.get(group, group),
                         *[_round((shares.get(group) or {}).get(choice)) for choice in choices]])
    test = entry.get("test")
    if test and test.get("sentence"):  # the chi-square test in words (figures in the JSON)
        rows.append([test["sentence"]])
    return rows


def entry_total(entry: dict[str, Any], group: str, counts: list[int]) -> int:
    """Respondents in a group who answered (the stats' ``row_n``; a multi-select row's counts
    sum past it), or the row's sum."""
    totals = entry.get("row_n") or {}
    return int(totals.get(group, sum(counts)))


def _ordered(names: list[str], choices: list[tuple[str, str]]) -> list[str]:
    order = {name: index for index, (name, _) in enumerate(choices)}
    return sorted(names, key=lambda name: (order.get(name, len(order)), name))


def _crosstab_sheet(sheet: Any, questions: list[Question], stats: dict[str, Any],
                    language: str, cells: XlsxCells) -> None:
    from openpyxl.utils import get_column_letter

    styles = _Styles(sheet, cells)
    sheet.column_dimensions["A"].width = 24
    for column in range(2, 16):
        sheet.column_dimensions[get_column_letter(column)].width = 14
    by_name = {question.name: question for question in questions}
    for name, by, entry in crosstab_tables(stats):
        for row in crosstab_rows(by_name.get(name), by_name.get(by), name, by, entry,
                                 language):
            _append(sheet, styles, row)
        sheet.append([])


def _append(sheet: Any, styles: _Styles, row: list[Any]) -> None:
    """Append a row of ``tally_rows``/``crosstab_rows``, styling title and header rows."""
    if row and row[0] is HEADER_ROW:
        sheet.append([styles.head(value) for value in row[1:]])
    elif row and row[0] is TITLE_ROW:
        sheet.append([styles.title(value) for value in row[1:]])
    else:
        sheet.append(styles.row(row))


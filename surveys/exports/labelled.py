"""SPSS ``.sav`` and Stata ``.dta`` exports: one labelled variable per question.

The columns are those of the CSV (``columns.py``: metadata, then the questions of every
version in form order, pii left out unless asked; a repeat group a file of its own, keyed
to its parent), typed and labelled as an analyst's package wants them:

- a select_one question is a numeric variable whose value labels are its choices' labels.
  The codes are the choice names when every name is a whole number (a Likert 5 … 1 keeps
  5 = 非常满意, so a mean means what it says), else 1 … k in choice order over every version
  (the newest version's order, then choices only older versions had), the same in every
  export of the survey. An answer the choices lack (stored before the record gate) gets a
  code after them, labelled with what was stored. A select_one whose choices come from the
  register (a household) keeps its text;
- a select_multiple question is one 0/1 variable per choice, labelled 题目：选项, its values
  未选/已选 (not chosen/chosen); an unanswered question is missing in all of them;
- integer and decimal questions are numbers, dates are dates, ``started`` and ``completed``
  date-times in the station's time, text is text;
- a calculate is a number when every answer is one, else text; an acknowledge is 1 (已确认).

Names: the question's own name when the format takes it (SPSS: at most 64 bytes, a letter
first, then letters, digits, ``_`` and ``.``, not a reserved word, unique ignoring case;
Stata: at most 32 characters, letters, digits and ``_``, no digit first, not a reserved
word, unique). Otherwise a cleaned name (``q-1`` → ``q_1``, numbered ``_2`` … on a clash)
or, when nothing of it is left (a Chinese name), ``q_<its position>``; the original name
then heads the variable label. Names the format takes are given out first, so a question
keeps its name even when a cleaned name would have wanted it.

Labels are trimmed on whole characters (with …) to what the format holds: in SPSS 255 bytes
of UTF-8 for a variable label and 120 for a value label; in Stata 80 characters for a
variable label and 32,000 bytes for a value label. Text answers longer than SPSS's 32,767
bytes are cut, visibly, as in XLSX (Stata's strL holds them whole); characters no file
should hold (NUL …) become U+FFFD, as in the CSV.

pyreadstat (ReadStat) writes both files; it and pandas are imported when a file is
written, not when the kiosk starts.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from surveys.clock import local
from surveys.exports.columns import (
    INDEX_COLUMN,
    META_COLUMNS,
    REPEAT_KEYS,
    XLSX_ILLEGAL,
    ExportError,
    Question,
    atomic_outputs,
    export_questions,
    header,
    repeat_tables,
    row_maker,
    table_questions,
)
from surveys.exports.tabular import RepeatRows, _Counted, repeat_files
from surveys.form import Form

Progress = Callable[[int], None] | None

SPSS_RESERVED = frozenset({"ALL", "AND", "BY", "EQ", "GE", "GT", "LE", "LT", "NE", "NOT",
                           "OR", "TO", "WITH"})
# Stata's reserved names ([U] 11.3), case-sensitive, and str1 … str2045.
STATA_RESERVED = frozenset({"_all", "_b", "byte", "_coef", "_cons", "double", "float", "if",
                            "in", "int", "long", "_n", "_N", "_pi", "_pred", "_rc", "_se",
                            "_skip", "strL", "using", "with"})
STATA_STR = re.compile(r"str[1-9][0-9]{0,3}")
SPSS_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.]*")
STATA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
KEY_NAMES = frozenset({*META_COLUMNS, *REPEAT_KEYS, INDEX_COLUMN})
NUMBER_TEXT = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")


@dataclass(frozen=True)
class FileFormat:
    """What one format holds: names, labels and text (bytes of UTF-8 unless said)."""

    ending: str
    name_limit: int
    variable_label: int
    variable_label_chars: bool  # Stata counts characters, SPSS bytes
    value_label: int
    file_label: int
    file_label_chars: bool
    text_limit: int | None  # None: a text of any length (Stata's strL)
    case_blind: bool  # SPSS names are one name whatever their case

    def valid(self, name: str, limit: int | None = None) -> bool:
        limit = self.name_limit if limit is None else limit
        if self.ending == "sav":
            return (SPSS_NAME.fullmatch(name) is not None and len(name) <= limit
                    and not name.endswith(".") and name.upper() not in SPSS_RESERVED)
        return (STATA_NAME.fullmatch(name) is not None and len(name) <= limit
                and name not in STATA_RESERVED and STATA_STR.fullmatch(name) is None)

    def cleaned(self, name: str, limit: int) -> str:
        """What is left of ``name`` as a name of the format ("" when nothing is)."""
        allowed = r"[^A-Za-z0-9_.]" if self.ending == "sav" else r"[^A-Za-z0-9_]"
        cleaned = re.sub(r"_+", "_", re.sub(allowed, "_", name))
        return re.sub(r"^[^A-Za-z]+", "", cleaned)[:limit].rstrip("._")

    def key(self, name: str) -> str:
        return name.casefold() if self.case_blind else name


SAV = FileFormat("sav", 64, 255, False, 120, 64, False, 32_767, True)
DTA = FileFormat("dta", 32, 80, True, 32_000, 80, True, None, False)

WORDS = {
    "zh": {"instance_id": "问卷编号", "version": "问卷版本", "kiosk": "终端", "site": "站点",
           "enumerator": "调查员", "started": "开始时间", "completed": "完成时间",
           "lang": "作答语言", "_index": "行号", "_parent_index": "上级行号",
           "_parent_table_name": "上级所在文件", "_submission__uuid": "所属问卷编号",
           "not_chosen": "未选", "chosen": "已选", "acknowledged": "已确认",
           "count": "{label}：条数", "part": "{question}：{choice}", "renamed": "{name}：{label}",
           "cut": "…【已截断，原文共 {length:,} 字】"},
    "en": {"instance_id": "instance id", "version": "form version", "kiosk": "kiosk",
           "site": "site", "enumerator": "enumerator", "started": "started",
           "completed": "completed", "lang": "language", "_index": "row",
           "_parent_index": "parent's row", "_parent_table_name": "parent's file",
           "_submission__uuid": "submission's instance id", "not_chosen": "not chosen",
           "chosen": "chosen", "acknowledged": "acknowledged",
           "count": "{label}: number of entries", "part": "{question}: {choice}",
           "renamed": "{name}: {label}", "cut": "… [cut: {length:,} characters in all]"},
}


def words(language: str) -> dict[str, str]:
    return WORDS["en" if language.lower().startswith("en") else "zh"]


def trimmed(text: str, limit: int, *, chars: bool = False) -> str:
    """``text`` within ``limit`` bytes of UTF-8 (``chars``: characters), cut on a whole
    character and ended with … when it was cut."""
    def size(part: str) -> int:
        return len(part) if chars else len(part.encode("utf-8"))

    if size(text) <= limit:
        return text
    room = limit - size("…")
    if chars:
        return text[:room] + "…"
    # Whole characters only: decoding with "ignore" drops the bytes of a character cut in two.
    return text.encode("utf-8")[:room].decode("utf-8", "ignore") + "…"


@dataclass
class Variable:
    """One variable of the file, made from one column of the CSV (``source``)."""

    source: str
    label: str
    kind: str  # code, flag, integer, number, calculate, date, datetime, text
    question: bool = False  # named by a question (or metadata): keeps its name if it can
    codes: dict[str, int] = field(default_factory=dict)  # choice -> code (kind code)
    value_labels: dict[int, str] = field(default_factory=dict)
    ordinal: bool = False
    name: str = ""
    choice_of: str = ""  # a select_multiple's choice: the question's name (its choice: part)
    part: str = ""


def choice_codes(choices: Sequence[tuple[str, str]]) -> dict[str, int]:
    """The codes of a select_one's choices: their names when all are whole numbers (a
    Likert scale), else 1 … k in order."""
    names = [name for name, _ in choices]
    if names and all(NUMBER_TEXT.fullmatch(name) and "." not in name for name in names) \
            and len({int(name) for name in names}) == len(names):
        return {name: int(name) for name in names}
    return {name: number for number, name in enumerate(names, start=1)}


def table_variables(questions: Sequence[Question], keys: Sequence[str],
                    tail: Sequence[str], language: str) -> list[tuple[int, Variable]]:
    """(column of ``row_maker``'s row, variable) for the variables of one table."""
    w = words(language)
    columns: list[tuple[int, Variable]] = []
    position = 0

    def add(variable: Variable, *, skip: bool = False) -> None:
        nonlocal position
        if not skip:
            columns.append((position, variable))
        position += 1

    def meta(key: str) -> Variable:
        kind = ("datetime" if key in ("started", "completed")
                else "integer" if key in ("_index", "_parent_index") else "text")
        return Variable(key, w.get(key, key), kind, question=True)

    for key in keys:
        add(meta(key))
    for question in questions:
        if question.kind == "repeat":
            add(Variable(question.column, w["count"].format(label=question.label), "integer",
                         question=True))
        elif question.kind == "select_multiple":
            # Without choices (from the register) the text of the codes is all there is.
            add(Variable(question.name, question.label, "text", question=True),
                skip=bool(question.choices))
            for choice, choice_label in question.choices:
                add(Variable(f"{question.name}/{choice}",
                             w["part"].format(question=question.label, choice=choice_label),
                             "flag", value_labels={0: w["not_chosen"], 1: w["chosen"]},
                             choice_of=question.name, part=choice))
        elif question.kind == "select_one" and question.choices:
            codes = choice_codes(question.choices)
            add(Variable(question.name, question.label, "code", question=True, codes=codes,
                         value_labels={codes[name]: label for name, label in question.choices},
                         ordinal=question.likert))
        elif question.kind in ("integer", "decimal", "date", "calculate"):
            kind = {"integer": "integer", "decimal": "number"}.get(question.kind, question.kind)
            add(Variable(question.name, question.label, kind, question=True))
        elif question.kind == "acknowledge":
            add(Variable(question.name, question.label, "flag", question=True,
                         value_labels={1: w["acknowledged"]}))
        else:
            add(Variable(question.name, question.label, "text", question=True))
    for key in tail:
        add(meta(key))
    # The plan must follow row_maker's row, column for column.
    assert position == len(header(questions, keys, tail))
    return columns


def name_variables(variables: Sequence[Variable], fmt: FileFormat, language: str) -> int:
    """Give each variable its name in the file; return how many could not keep theirs.

    Names the format takes are given first, in order, so that a question named
    ``improvements_other`` keeps its name beside the choice ``improvements/other``.
    """
    w = words(language)
    limits = _name_limits(variables, fmt)
    taken: set[str] = set()
    for variable, limit in zip(variables, limits, strict=True):
        if variable.question and fmt.valid(variable.source, limit) \
                and fmt.key(variable.source) not in taken:
            variable.name = variable.source
            taken.add(fmt.key(variable.source))
    renamed = 0
    stems: dict[str, str] = {}  # a multiple choice's question -> its choices' stem
    for position, (variable, limit) in enumerate(zip(variables, limits, strict=True),
                                                 start=1):
        if variable.name:
            continue
        if variable.choice_of:  # 满意度/yes -> q_7_yes, as its question would be named
            stem = stems.setdefault(variable.choice_of, fmt.cleaned(variable.choice_of, limit)
                                    or f"q_{position}")
            base = fmt.cleaned(f"{stem}_{variable.part}", limit) or stem
        else:
            base = fmt.cleaned(variable.source, limit) or f"q_{position}"
        name, number = base, 1
        while not fmt.valid(name, limit) or fmt.key(name) in taken:
            number += 1
            suffix = f"_{number}"
            name = base[:limit - len(suffix)] + suffix
        variable.name = name
        taken.add(fmt.key(name))
        if variable.question:  # its name is the one people know: keep it in the label
            renamed += variable.source not in KEY_NAMES
            variable.label = w["renamed"].format(name=variable.source, label=variable.label) \
                if variable.label != variable.source else variable.source
    return renamed


def _name_limits(variables: Sequence[Variable], fmt: FileFormat) -> list[int]:
    """The longest name each variable may have. pyreadstat names a Stata value-label set
    after its variable and its place among the labelled ones (``overall7``), and Stata
    takes 32 characters there too: a labelled variable leaves room for that number."""
    if fmt.ending != "dta":
        return [fmt.name_limit] * len(variables)
    limits = []
    labelled = 0
    for variable in variables:
        if variable.value_labels:
            limits.append(fmt.name_limit - len(str(labelled)))
            labelled += 1
        else:
            limits.append(fmt.name_limit)
    return limits


class _Cells:
    """Turns the CSV's cell values into the file's, counting what had to change."""

    def __init__(self, fmt: FileFormat, language: str) -> None:
        self.fmt = fmt
        self.marker = words(language)["cut"]
        self.cut = 0
        self.unreadable = 0

    def text(self, value: Any) -> str:
        if value is None:
            return ""  # a missing text is empty in both formats (ReadStat wants "", not None)
        value = value if isinstance(value, str) else str(value)
        if XLSX_ILLEGAL.search(value):
            value = XLSX_ILLEGAL.sub("\ufffd", value)
        limit = self.fmt.text_limit
        if limit is not None and len(value) * 4 > limit and len(value.encode("utf-8")) > limit:
            self.cut += 1
            marker = self.marker.format(length=len(value))
            room = limit - len(marker.encode("utf-8"))
            value = value.encode("utf-8")[:room].decode("utf-8", "ignore") + marker
        return value

    def number(self, value: Any) -> float:
        if value is None or value == "":
            return math.nan
        if isinstance(value, bool):
            return float(value)
        if isinstance(value, int | float):
            return float(value) if math.isfinite(value) else math.nan
        if isinstance(value, str) and NUMBER_TEXT.fullmatch(value.strip()):
            return float(value)
        self.unreadable += 1
        return math.nan

    def date(self, value: Any) -> dt.date | None:
        if value is None or value == "":
            return None
        try:
            return dt.date.fromisoformat(str(value)[:10])
        except ValueError:
            self.unreadable += 1
            return None

    def datetime(self, value: Any) -> dt.datetime | None:
        if value is None or value == "":
            return None
        try:
            moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            self.unreadable += 1
            return None
        return local(moment).replace(tzinfo=None)  # the station's wall clock

    def notes(self, language: str) -> list[str]:
        notes = []
        limit = self.fmt.text_limit or 0
        if self.cut and language.lower().startswith("en"):
            notes.append(f"{self.cut:,} text answers longer than {limit:,} bytes (what SPSS "
                         "holds) were cut, marked [cut]")
        elif self.cut:
            notes.append(f"{self.cut:,} 条文字回答超过 {limit:,} 字节（SPSS 的上限），已截断并标明")
        if self.unreadable and language.lower().startswith("en"):
            notes.append(f"{self.unreadable:,} stored answers were not numbers or dates as "
                         "their question asks (stored before the record gate): left missing")
        elif self.unreadable:
            notes.append(f"{self.unreadable:,} 个答案不是题目要求的数字或日期"
                         "（记录检查之前存下的），导出为缺失值")
        return notes


# Kinds whose values are held as 8-byte floats while the rows go by (a date-time as its
# milliseconds): a tenth of the memory of Python objects.
FLOAT_KINDS = ("code", "flag", "integer", "number", "datetime")
EPOCH = dt.datetime(1970, 1, 1)
MILLISECOND = dt.timedelta(milliseconds=1)


class _Table:
    """One file: its variables, and their values gathered row by row (pyreadstat writes a
    whole DataFrame, so the rows are held until then, converted as they come)."""

    def __init__(self, questions: Sequence[Question], keys: Sequence[str],
                 tail: Sequence[str], fmt: FileFormat, language: str, cells: _Cells) -> None:
        self.fmt = fmt
        self.cells = cells
        self.columns = table_variables(questions, keys, tail, language)
        self.variables = [variable for _, variable in self.columns]
        self.renamed = name_variables(self.variables, fmt, language)
        self.make = row_maker(questions, labels=False, language=language,
                              escape_formulas=False, keys=keys, tail=tail)
        self.values: list[Any] = [array("d") if variable.kind in FLOAT_KINDS else []
                                  for variable in self.variables]
        self.plan = [(position, self._converter(variable), values) for (position, variable),
                     values in zip(self.columns, self.values, strict=True)]
        self.rows = 0

    def append(self, record: dict[str, Any]) -> None:
        row = self.make(record)
        for position, convert, values in self.plan:
            values.append(convert(row[position]))
        self.rows += 1

    def _converter(self, variable: Variable) -> Callable[[Any], Any]:
        cells = self.cells
        kind = variable.kind
        if kind == "text":
            return cells.text
        if kind == "code":
            return lambda value: self._code(variable, value)
        if kind == "flag":
            return lambda value: math.nan if value is None or value == "" else float(
                value not in (0, False, "0", "false"))
        if kind in ("integer", "number"):
            return cells.number
        if kind == "date":
            return cells.date
        if kind == "datetime":
            def milliseconds(value: Any) -> float:
                moment = cells.datetime(value)
                return math.nan if moment is None else float((moment - EPOCH) // MILLISECOND)
            return milliseconds
        return lambda value: value  # a calculate: its type is known once all are seen

    def write(self, path: Path, title: str, target: Path) -> None:
        """Write the file to ``path`` (a temporary beside ``target``, the name errors
        give)."""
        import pandas as pd
        import pyreadstat

        fmt = self.fmt
        frame: dict[str, Any] = {}
        labels: dict[str, str] = {}
        value_labels: dict[str, dict[int, str]] = {}
        formats: dict[str, str] = {}
        measures: dict[str, str] = {}
        for variable, values in zip(self.variables, self.values, strict=True):
            series, display = self._column(variable, values)
            frame[variable.name] = series
            labels[variable.name] = trimmed(variable.label, fmt.variable_label,
                                            chars=fmt.variable_label_chars)
            if display:
                formats[variable.name] = display
            if variable.value_labels:
                value_labels[variable.name] = {
                    code: trimmed(label, fmt.value_label)
                    for code, label in variable.value_labels.items()}
            measures[variable.name] = ("ordinal" if variable.ordinal else "nominal"
                                       if variable.kind in ("code", "flag", "text") else "scale")
        data = pd.DataFrame(frame)
        self.values = []  # the frame has them now
        file_label = trimmed(title, fmt.file_label, chars=fmt.file_label_chars)
        try:
            if fmt.ending == "sav":
                pyreadstat.write_sav(data, path, file_label=file_label, column_labels=labels,
                                     variable_value_labels=value_labels,
                                     variable_format=formats, variable_measure=measures)
            else:
                pyreadstat.write_dta(data, path, file_label=file_label, column_labels=labels,
                                     variable_value_labels=value_labels,
                                     variable_format=formats)
        except (pyreadstat.ReadstatError, pyreadstat.PyreadstatError) as error:
            # a limit of the format not foreseen here: said, not a traceback
            raise ExportError(f"{target}: 写不成 {fmt.ending} 文件 (cannot write the "
                              f"{fmt.ending} file): {error}") from None

    def _column(self, variable: Variable, values: Any) -> tuple[Any, str | None]:
        """The variable's values as a pandas Series, and its display format."""
        import numpy as np
        import pandas as pd

        sav = self.fmt.ending == "sav"
        kind = variable.kind
        if kind == "calculate":
            numeric = all(value is None or value == "" or (
                isinstance(value, int | float) and not isinstance(value, bool))
                or (isinstance(value, str) and NUMBER_TEXT.fullmatch(value))
                for value in values)
            kind = "number" if numeric else "text"
            convert = self.cells.number if numeric else self.cells.text
            values = array("d", map(convert, values)) if numeric else list(map(convert, values))
        if kind == "text":
            return pd.Series(values, dtype="object"), None
        if kind == "date":
            if any(day is not None for day in values):
                series = pd.Series(values, dtype="object")
            else:  # no date at all: a numeric column with the date format says the type
                series = pd.Series(np.full(len(values), np.nan))
            return series, ("DATE11" if sav else "%td")
        numbers = np.frombuffer(values, dtype="float64") if len(values) else np.empty(0)
        if kind == "datetime":
            return pd.Series(pd.to_datetime(numbers, unit="ms")), (
                "DATETIME20" if sav else "%tc")
        if kind == "number":
            return pd.Series(numbers), f"F16.{_decimals(numbers)}" if sav else None
        display = {"code": ("F8.0", "%8.0g"), "flag": ("F1.0", "%8.0g"),
                   "integer": ("F12.0", "%12.0g")}[kind]
        return pd.Series(numbers), display[0] if sav else display[1]

    def _code(self, variable: Variable, value: Any) -> float:
        if value is None or value == "":
            return math.nan
        key = str(value)
        code = variable.codes.get(key)
        if code is None:  # stored before the gate: a code of its own, labelled as stored
            numbered = all(str(number) == name for name, number in variable.codes.items())
            taken = set(variable.codes.values())
            if numbered and NUMBER_TEXT.fullmatch(key) and "." not in key \
                    and int(key) not in taken:
                code = int(key)  # a 9 on a 1-5 scale stays 9
            else:
                code = max([0, *taken]) + 1
            variable.codes[key] = code
            variable.value_labels[code] = key
        return float(code)


def _decimals(numbers: Iterable[float]) -> int:
    """Decimal places to show: as many as the answers have, at most 6."""
    places = 0
    for number in numbers:
        if math.isfinite(number) and not number.is_integer():
            text = repr(float(number))  # numpy's own repr names its type
            if "e" in text:
                return 6
            places = max(places, len(text.split(".")[1]))
            if places >= 6:
                return 6
    return places


def write_sav(forms: Sequence[Form], records: Iterable[dict[str, Any]], target: str | Path,
              *, include_pii: bool = False, language: str = "zh",
              on_progress: Progress = None, notes: list[str] | None = None,
              repeat_rows: dict[str, int] | None = None) -> int:
    """Write submissions as an SPSS system file (``.sav``, UTF-8); return the number of rows.

    A form with repeat groups also writes one file per repeat beside ``target``
    (``out.sav`` → ``out-members.sav``), all or none; ``repeat_rows`` hears each file's
    path and rows. What the user should know (text cut, names changed) goes in ``notes``.
    """
    return _write_labelled(SAV, forms, records, target, include_pii=include_pii,
                           language=language, on_progress=on_progress, notes=notes,
                           repeat_rows=repeat_rows)


def write_dta(forms: Sequence[Form], records: Iterable[dict[str, Any]], target: str | Path,
              *, include_pii: bool = False, language: str = "zh",
              on_progress: Progress = None, notes: list[str] | None = None,
              repeat_rows: dict[str, int] | None = None) -> int:
    """Write submissions as a Stata 14+ data file (``.dta``, format 118, UTF-8), as
    ``write_sav`` does."""
    return _write_labelled(DTA, forms, records, target, include_pii=include_pii,
                           language=language, on_progress=on_progress, notes=notes,
                           repeat_rows=repeat_rows)


def _write_labelled(fmt: FileFormat, forms: Sequence[Form], records: Iterable[dict[str, Any]],
                    target: str | Path, *, include_pii: bool, language: str,
                    on_progress: Progress, notes: list[str] | None,
                    repeat_rows: dict[str, int] | None) -> int:
    target = Path(target)
    cells = _Cells(fmt, language)
    tables = repeat_tables(forms, language, include_pii=include_pii)
    title = forms[-1].title_in(language) if forms else ""
    if not tables:
        main = _Table(export_questions(forms, language, include_pii=include_pii),
                      META_COLUMNS, (), fmt, language, cells)
        counted = _Counted(records, on_progress)
        for record in counted:
            main.append(record)
        with atomic_outputs([target]) as (temporary,):
            main.write(temporary, title, target)
        _notes(notes, [main], cells, fmt, language)
        return counted.count
    paths = repeat_files(target, tables)
    if not target.suffix:  # -o 家访 --format sav: 家访-members.sav, not .csv
        paths = {name: path.with_suffix(f".{fmt.ending}") for name, path in paths.items()}
    main = _Table(table_questions(forms, language, include_pii=include_pii), META_COLUMNS,
                  (INDEX_COLUMN,), fmt, language, cells)
    inner = {table.name: _Table(table.questions, REPEAT_KEYS, (), fmt, language, cells)
             for table in tables}
    walk = RepeatRows(tables, {None: target.name,
                               **{name: path.name for name, path in paths.items()}})
    counted = _Counted(records, on_progress)
    for record in counted:
        main.append(walk.keyed(record))
        for name, row in walk.instances(record):
            inner[name].append(row)
    labels = {table.name: table.label for table in tables}
    with atomic_outputs([target, *paths.values()]) as temporaries:
        main.write(temporaries[0], title, target)
        for (name, table), temporary in zip(inner.items(), temporaries[1:], strict=True):
            table.write(temporary, f"{title} {labels[name]}", paths[name])
    if repeat_rows is not None:
        repeat_rows.update({str(paths[name]): table.rows for name, table in inner.items()})
    _notes(notes, [main, *inner.values()], cells, fmt, language)
    return counted.count


def _notes(notes: list[str] | None, tables: Sequence[_Table], cells: _Cells,
           fmt: FileFormat, language: str) -> None:
    if notes is None:
        return
    notes.extend(cells.notes(language))
    renamed = sum(table.renamed for table in tables)
    if renamed and language.lower().startswith("en"):
        notes.append(f"{renamed} question names are not names {fmt.ending} takes: their "
                     "variables got safe names, the original name heads the variable label")
    elif renamed:
        notes.append(f"{renamed} 个题目名称不能用作 {fmt.ending} 变量名，已改用安全的名称，"
                     "原名写在变量标签的开头")

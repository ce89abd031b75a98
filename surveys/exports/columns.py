"""The columns of a data export: metadata first, then one per question across a survey's versions.

Questions of all versions are matched by name, in the form order of the newest version
(questions only older versions have come after, in their own order). A select_multiple
question gives one text column with every choice picked, then one 0/1 column per choice
named ``question/choice``, as KoboToolbox exports it. Questions marked ``pii`` in any version
are left out (absent, not blank) unless ``include_pii``; metadata items (start, end, today)
are left out because ``started`` and ``completed`` carry the same moments.

A repeat group is a table of its own (``repeat_tables``), as KoboToolbox exports it: one row
per instance keyed to its parent (``REPEAT_KEYS``), the questions inside it as its columns.
In the table around it (the submissions, or the outer repeat's instances) a repeat is one
column, ``<repeat>_count``, its number of instances.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from surveys.form import METADATA, Form, language_code

# Every row starts with these, in this order.
META_COLUMNS = ("instance_id", "version", "kiosk", "site", "enumerator", "started",
                "completed", "lang")
# A form with repeats: the submissions' rows end with their row number, which the repeat
# tables' rows name as their parent (KoboToolbox's columns, so its users' joins work).
INDEX_COLUMN = "_index"
# Every row of a repeat table starts with these: its own row number in the table, the row
# of its parent (a submission, or an instance of the outer repeat), the table that row is in
# and the submission's instance id.
REPEAT_KEYS = ("_index", "_parent_index", "_parent_table_name", "_submission__uuid")
# Text that Excel or WPS would take for a formula gets a leading apostrophe (in CSV: in
# XLSX the cell is typed as text instead).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# XLSX holds at most this many characters in a cell; longer text is cut, visibly.
CELL_LIMIT = 32_767
# Characters XLSX (XML) cannot hold; stored before the record gate, they show as this.
XLSX_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def csv_cell(value: Any) -> Any:
    """A cell as CSV writes it: text a spreadsheet would take for a formula escaped, and
    what no spreadsheet (nor Python's csv reader) takes, a NUL say, replaced as in XLSX."""
    if not isinstance(value, str):
        return value
    if XLSX_ILLEGAL.search(value):
        value = XLSX_ILLEGAL.sub("\ufffd", value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


class XlsxCells:
    """Text cells as XLSX holds them: what XML cannot hold replaced, text past CELL_LIMIT
    cut with a marker saying how long it was (``cut`` counts them, for the export to say)."""

    def __init__(self, language: str = "zh") -> None:
        self.cut = 0
        self.marker = ("…【已截断，原文共 {length:,} 字】" if language != "en"
                       else "… [cut: {length:,} characters in all]")

    def __call__(self, value: str) -> str:
        if XLSX_ILLEGAL.search(value):
            value = XLSX_ILLEGAL.sub("\ufffd", value)
        if len(value) > CELL_LIMIT:
            self.cut += 1
            marker = self.marker.format(length=len(value))
            value = value[:CELL_LIMIT - len(marker)] + marker
        return value

    def note(self, language: str) -> str | None:
        """What the export says of the cut cells (None when there were none)."""
        if not self.cut:
            return None
        if language == "en":
            return (f"{self.cut:,} cells longer than {CELL_LIMIT:,} characters (what XLSX "
                    "holds) were cut, marked [cut]")
        return f"{self.cut:,} 个单元格超过 {CELL_LIMIT:,} 字（XLSX 的上限），已截断并标明"
EXPORTED_KINDS = {"select_one", "select_multiple", "integer", "decimal", "text", "date",
                  "acknowledge", "calculate"}


class ExportError(Exception):
    """A problem the person exporting can fix (unknown survey, a folder not writable …)."""


class ExportWriteError(ExportError, OSError):
    """The file cannot be written (no such folder, no permission, disk full …)."""


@dataclass
class Question:
    """One exported question, merged over a survey's versions."""

    name: str
    kind: str  # an item's kind; "repeat" for the count of a repeat's instances
    label: str
    pii: bool = False
    likert: bool = False
    choices: list[tuple[str, str]] = field(default_factory=list)  # (name, label), form order
    # The innermost repeat the question is in (None: the submission itself), and the column
    # name when it is not the question's own (a repeat's count).
    scope: str | None = None
    column: str = ""

    @property
    def choice_labels(self) -> dict[str, str]:
        return dict(self.choices)


@dataclass
class RepeatTable:
    """One repeat group as a table of its own: its questions, and where its rows' parents are
    (``parent`` None: the submissions; else the outer repeat's table)."""

    name: str
    label: str
    parent: str | None
    questions: list[Question]


def export_language(form: Form, language: str) -> str:
    """The form's language name for a code such as ``zh``; its default when it lacks it."""
    return form.language_or_default(language)


def multi_separator(language: str) -> str:
    """How picked choices are joined in a select_multiple text column, in labels mode."""
    return "；" if language_code(language).startswith("zh") else "; "


def export_questions(forms: Sequence[Form], language: str = "zh", *,
                     include_pii: bool = False) -> list[Question]:
    """The exported questions of a survey's versions (oldest first), newest form order:
    those of the submissions themselves, not those inside repeat groups (``repeat_tables``)
    nor the repeats' counts (``table_questions``)."""
    return [question for question in _merged(forms, language, include_pii)
            if question.scope is None and question.kind != "repeat"]


def table_questions(forms: Sequence[Form], language: str = "zh", *,
                    include_pii: bool = False, scope: str | None = None) -> list[Question]:
    """The columns of one table after its keys: the questions directly in repeat ``scope``
    (None: the submissions), a repeat inside it as the count of its instances."""
    return [question for question in _merged(forms, language, include_pii)
            if question.scope == scope]


def repeat_tables(forms: Sequence[Form], language: str = "zh", *,
                  include_pii: bool = False) -> list[RepeatTable]:
    """The repeat groups of a survey's versions as tables, outer ones before inner ones
    (newest form order); a repeat marked pii, with all inside it, only with ``include_pii``."""
    merged = _merged(forms, language, include_pii)
    return [RepeatTable(question.name, question.label, question.scope,
                        [inner for inner in merged if inner.scope == question.name])
            for question in merged if question.kind == "repeat"]


def _merged(forms: Sequence[Form], language: str, include_pii: bool) -> list[Question]:
    """Every exported question and repeat of the versions, merged by name (newest first)."""
    merged: dict[str, Question] = {}
    pii: set[str] = set()
    for form in reversed(forms):
        lang = export_language(form, language)
        for item in form.items:
            if not (item.has_value or item.is_repeat):
                continue
            if item.pii:
                pii.add(item.name)
            if item.kind in METADATA or not (item.kind in EXPORTED_KINDS or item.is_repeat):
                continue
            question = merged.get(item.name)
            if question is None:
                chain = form.repeat_chain.get(item.name, ())
                if item.is_repeat:
                    chain = chain[:-1]  # a repeat's count is a column of the table around it
                question = merged[item.name] = Question(
                    item.name, item.kind, form.text(item.label, lang) or item.name,
                    likert="likert" in item.appearance.split(),
                    scope=chain[-1] if chain else None)
            if item.kind.startswith("select"):
                known = {name for name, _ in question.choices}
                question.choices.extend(
                    (choice.name, form.text(choice.label, lang) or choice.name)
                    for choice in form.choices_for(item) if choice.name not in known)
    for name in pii:
        if name in merged:
            merged[name].pii = True
    questions = list(merged.values())
    if not include_pii:  # a pii repeat hides all inside it, however deep
        hidden = {question.name for question in questions if question.pii}
        for question in questions:
            if question.scope in hidden:
                hidden.add(question.name)
        questions = [question for question in questions if question.name not in hidden]
    taken = {question.name for question in questions} | set(META_COLUMNS) | {INDEX_COLUMN}
    for question in questions:
        if question.kind == "repeat":
            column = f"{question.name}_count"
            while column in taken:
                column += "_"
            question.column = column
            taken.add(column)
    return questions


def header(questions: Iterable[Question], keys: Sequence[str] = META_COLUMNS,
           tail: Sequence[str] = ()) -> list[str]:
    """The header row: metadata columns (``keys``), then the questions (multi: text then 0/1
    columns), then ``tail``."""
    names = list(keys)
    for question in questions:
        names.append(question.column or question.name)
        if question.kind == "select_multiple":
            names.extend(f"{question.name}/{choice}" for choice, _ in question.choices)
    names.extend(tail)
    return names


def _number(value: Any) -> Any:
    """Numbers stay numbers; a number stored as text (older imports) becomes one."""
    if isinstance(value, int | float) or value is None:
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        try:
            return float(value)
        except (TypeError, ValueError):
            return value


def row_maker(questions: Sequence[Question], *, labels: bool, language: str,
              escape_formulas: bool, keys: Sequence[str] = META_COLUMNS,
              tail: Sequence[str] = ()) -> Any:
    """A function turning one submission record into its row of cell values (None: empty):
    the record's ``keys``, the questions of its ``answers``, then its ``tail`` keys. (A
    repeat instance's row is made from a record of its keys with the instance as answers.)

    Built once per export, so the per-row work is plain lookups: a million rows go by in
    seconds.
    """
    separator = multi_separator(language)
    plan: list[tuple[str, str, dict[str, str], list[str]]] = []
    for question in questions:
        names = [name for name, _ in question.choices]
        plan.append((question.name, question.kind, question.choice_labels if labels else {},
                     names))

    def make(record: dict[str, Any]) -> list[Any]:
        answers = record.get("answers") or {}
        row: list[Any] = [record.get(key) for key in keys]
        for name, kind, label_of, choice_names in plan:
            value = answers.get(name)
            if kind == "repeat":  # the number of instances, not the instances (the
                # session stores no list when there are none)
                row.append(len(value) if isinstance(value, list) else 0)
            elif kind == "select_multiple":
                if value is None:
                    row.append(None)
                    row.extend([None] * len(choice_names))
                    continue
                picked = value if isinstance(value, list) else str(value).split()
                if label_of:
                    row.append(separator.join(label_of.get(code, code) for code in picked))
                else:
                    row.append(" ".join(picked))
                chosen = set(picked)
                row.extend([1 if choice in chosen else 0 for choice in choice_names])
            elif value is None or value == "":
                row.append(None)
            elif kind == "select_one":
                row.append(label_of.get(value, value) if label_of else value)
            elif kind in ("integer", "decimal"):
                row.append(_number(value))
            else:
                row.append(value)
        row.extend(record.get(key) for key in tail)
        if escape_formulas:  # every text cell: metadata, labels, calculates, answers
            row = [csv_cell(value) for value in row]
        return row

    return make


@contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; it becomes ``path`` only if all went well.

    An export that fails half-way (disk full, a bad filter found late, Ctrl-C) leaves no
    partial file behind, and never clobbers an earlier good export. The file is its owner's
    only (0600): exports may hold residents' answers.
    """
    target = Path(path)
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
    try:
        os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as error:
        raise ExportWriteError(f"cannot write {target}: {error.strerror or error}") from None
    try:
        yield temporary
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_outputs(paths: Sequence[str | Path]) -> Iterator[list[Path]]:
    """``atomic_output`` for files that belong together (a CSV and its repeats' CSVs):
    temporary paths beside them, which become theirs only when all were written. If one
    cannot take its place, those that already did are removed too: never half an export."""
    targets = [Path(path) for path in paths]
    with ExitStack() as stack:
        temporaries = [stack.enter_context(_temporary_beside(target)) for target in targets]
        yield temporaries
        placed: list[Path] = []
        try:
            for temporary, target in zip(temporaries, targets, strict=True):
                os.replace(temporary, target)
                placed.append(target)
        except OSError as error:
            for target in placed:
                target.unlink(missing_ok=True)
            raise ExportWriteError(
                f"cannot write {targets[len(placed)]}: {error.strerror or error}") from None


@contextmanager
def _temporary_beside(target: Path) -> Iterator[Path]:
    """A private temporary file beside ``target``, removed unless it was moved away."""
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
    try:
        os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as error:
        raise ExportWriteError(f"cannot write {target}: {error.strerror or error}") from None
    try:
        yield temporary
    finally:
        temporary.unlink(missing_ok=True)

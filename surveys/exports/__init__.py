"""Exports of a survey's submissions and statistics: CSV, XLSX, PDF report, JSONL, SPSS, Stata.

``export_survey`` makes one export from a store. The writers under it take the survey's
forms (all versions, oldest first), the submission records to export (dicts as
``KioskStore.iter_submissions`` yields them, already filtered) and the statistics dict of
``surveys.stats`` — so they know nothing of the database or the CLI.
"""

from surveys.exports.columns import (
    META_COLUMNS,
    REPEAT_KEYS,
    ExportError,
    ExportWriteError,
    Question,
    RepeatTable,
    atomic_output,
    export_questions,
    header,
    repeat_tables,
)
from surveys.exports.labelled import write_dta, write_sav
from surveys.exports.pdf import FREE_TEXT_CAP, write_pdf
from surveys.exports.survey import FORMATS, ExportStore, export_survey, format_for
from surveys.exports.tabular import SHEET_ROW_LIMIT, write_csv, write_jsonl, write_xlsx

__all__ = [
    "FORMATS",
    "FREE_TEXT_CAP",
    "META_COLUMNS",
    "REPEAT_KEYS",
    "SHEET_ROW_LIMIT",
    "ExportError",
    "ExportStore",
    "ExportWriteError",
    "Question",
    "RepeatTable",
    "atomic_output",
    "export_questions",
    "export_survey",
    "format_for",
    "header",
    "repeat_tables",
    "write_csv",
    "write_dta",
    "write_jsonl",
    "write_pdf",
    "write_sav",
    "write_xlsx",
]

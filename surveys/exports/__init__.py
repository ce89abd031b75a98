"""Exports of a survey's submissions and statistics: CSV, XLSX, PDF report and JSONL.

The writers take the survey's forms (all versions, oldest first), the submission records
to export (dicts as ``KioskStore.iter_submissions`` yields them, already filtered) and the
statistics dict of ``surveys.stats`` — so they know nothing of the database or the CLI.
"""

from surveys.exports.columns import (
    META_COLUMNS,
    ExportError,
    Question,
    atomic_output,
    export_questions,
    header,
)
from surveys.exports.pdf import FREE_TEXT_CAP, write_pdf
from surveys.exports.tabular import SHEET_ROW_LIMIT, write_csv, write_jsonl, write_xlsx

__all__ = [
    "FREE_TEXT_CAP",
    "META_COLUMNS",
    "SHEET_ROW_LIMIT",
    "ExportError",
    "Question",
    "atomic_output",
    "export_questions",
    "header",
    "write_csv",
    "write_jsonl",
    "write_pdf",
    "write_xlsx",
]

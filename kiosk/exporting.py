"""``kiosk export``: a survey's submissions and statistics as CSV, XLSX, PDF or JSONL.

Wires the store (the survey's versions, its filtered submissions) and ``surveys.stats`` (the
figures) to the writers of ``surveys.exports``. Everything a staff member can get wrong —
an unknown survey, question or choice, a folder that cannot be written — is an
``ExportError`` with a message, and nothing is written then.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from store import KioskStore
from surveys.exports import ExportError, write_csv, write_jsonl, write_pdf, write_xlsx
from surveys.form import Form
from surveys.stats import StatsError, StatsFilter, catalogue, check_filters, survey_statistics

FORMATS = ("csv", "xlsx", "pdf", "jsonl")


@dataclass
class ExportResult:
    file_format: str
    rows: int  # submissions written (csv, xlsx, jsonl) or reported (pdf)
    pages: int = 0  # pdf only


def format_for(output: str, file_format: str | None) -> str:
    """The format asked for, else the output file's ending (.csv …), else jsonl."""
    if file_format:
        return file_format
    suffix = Path(output).suffix.lower().lstrip(".")
    return suffix if suffix in FORMATS else "jsonl"


def survey_forms(store: KioskStore, survey_id: str) -> list[Form]:
    """Every installed version of a survey, oldest first; ExportError when there is none."""
    versions = store.versions(survey_id)
    if not versions:
        installed = ", ".join(info.survey_id for info in store.list_forms())
        raise ExportError(f"no survey '{survey_id}' here; installed: {installed}")
    return [store.load_form(survey_id, version) for version in versions]


def export_survey(store: KioskStore, survey_id: str, target: str | Path | IO[str], *,
                  file_format: str | None = None, filters: StatsFilter | None = None,
                  by: str | None = None, labels: bool = False, include_pii: bool = False,
                  language: str = "zh",
                  on_progress: Callable[[int], None] | None = None) -> ExportResult:
    """Write one survey's export; ``target`` is a path, or a text stream for csv and jsonl.

    ``file_format`` defaults to the path's ending. Raises ExportError (unknown survey,
    question or choice, unwritable path, disk full …); then no file is left behind.
    """
    if file_format is None:
        file_format = format_for(str(target) if isinstance(target, str | Path) else "",
                                 None)
    if file_format not in FORMATS:
        raise ExportError(f"unknown format '{file_format}'; formats: {', '.join(FORMATS)}")
    if file_format in ("xlsx", "pdf") and not isinstance(target, str | Path):
        raise ExportError(f"{file_format} is written to a file: give -o FILE.{file_format}")
    if by and file_format not in ("xlsx", "pdf"):
        raise ExportError(f"--by makes a cross-tab in xlsx and pdf exports, not in {file_format}")
    filters = filters or StatsFilter()
    forms = survey_forms(store, survey_id)
    stats = None
    try:
        if file_format in ("xlsx", "pdf"):
            stats = survey_statistics(store, survey_id, filters, by=by,
                                      include_pii=include_pii, language=language,
                                      text_answers=file_format == "pdf")
        else:  # the questions and choices of --where, checked before anything is written
            check_filters(catalogue(forms), filters)
    except StatsError as error:
        raise ExportError(str(error)) from None
    try:
        return _write(file_format, forms, store.iter_submissions(survey_id, filters), stats,
                      target, labels=labels, include_pii=include_pii, language=language,
                      on_progress=on_progress)
    except OSError as error:  # disk full, USB stick pulled out …
        where = target if isinstance(target, str | Path) else "the output"
        raise ExportError(f"cannot write {where}: {error.strerror or error}") from None


def _write(file_format: str, forms: list[Form], records: Iterator[dict[str, Any]],
           stats: dict[str, Any] | None, target: str | Path | IO[str], *, labels: bool,
           include_pii: bool, language: str,
           on_progress: Callable[[int], None] | None) -> ExportResult:
    if file_format == "csv":
        rows = write_csv(forms, records, target, labels=labels, include_pii=include_pii,
                         language=language, on_progress=on_progress)
        return ExportResult("csv", rows)
    if file_format == "jsonl":
        rows = write_jsonl(forms, records, target, include_pii=include_pii,
                           on_progress=on_progress)
        return ExportResult("jsonl", rows)
    assert stats is not None and isinstance(target, str | Path)
    if file_format == "xlsx":
        rows = write_xlsx(forms, records, stats, target, labels=labels,
                          include_pii=include_pii, language=language, on_progress=on_progress)
        return ExportResult("xlsx", rows)
    pages = write_pdf(forms, stats, target, include_pii=include_pii, language=language)
    return ExportResult("pdf", int(stats.get("n", 0)), pages)

"""One survey's export: its submissions and statistics as CSV, XLSX, PDF, JSONL, SPSS or Stata.

Wires the store (the survey's versions, its filtered submissions: anything with the methods
of ``ExportStore``, as ``KioskStore`` has them) and ``surveys.stats`` (the figures) to the
writers; ``kiosk export`` and the staff dashboard both call ``export_survey``. Everything
staff can get wrong — an unknown survey, question or choice, a folder that cannot be
written — raises an error with a message (``StatsError`` for questions and choices, as
``kiosk stats`` does, else ``ExportError``), and nothing is written then.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, Protocol

from surveys.exports.columns import ExportError, ExportWriteError
from surveys.exports.labelled import write_dta, write_sav
from surveys.exports.pdf import write_pdf
from surveys.exports.tabular import write_csv, write_jsonl, write_xlsx
from surveys.form import Form
from surveys.stats.figures import survey_statistics
from surveys.stats.model import StatsFilter, StatsStore, catalogue, check_filters

FORMATS = ("csv", "xlsx", "pdf", "jsonl", "sav", "dta")
# Binary files, never written to standard output.
BINARY = ("xlsx", "pdf", "sav", "dta")


class ExportStore(StatsStore, Protocol):
    """What an export needs of the store, beyond the statistics (KioskStore has it)."""

    def iter_submissions(self, survey_id: str,
                         filters: StatsFilter | None = None) -> Iterator[dict[str, Any]]: ...


def format_for(output: str, file_format: str | None) -> str:
    """The format asked for, else the output file's ending (.csv …), else (no ending, or
    standard output) jsonl. Another ending is refused: 数据.xls once came out as JSON
    Lines that Excel could not open."""
    if file_format:
        return file_format
    suffix = Path(output).suffix.lower().lstrip(".")
    if suffix in FORMATS:
        return suffix
    if suffix and output != "-":
        hint = (" (for Excel or WPS: .xlsx)" if suffix in ("xls", "et", "ods")
                else " (for SPSS or PSPP: .sav)" if suffix in ("por", "zsav", "sps")
                else "")
        raise ExportError(f"{output}: kiosk export writes {', '.join(FORMATS)}, not "
                          f"'{suffix}'{hint}; name the file so, or give --format")
    return "jsonl"


def survey_forms(store: ExportStore, survey_id: str) -> list[Form]:
    """Every installed version of a survey, oldest first; ExportError when there is none."""
    versions = store.versions(survey_id)
    if not versions:
        raise ExportError(f"no survey '{survey_id}' here")
    return [store.load_form(survey_id, version) for version in versions]


def export_survey(store: ExportStore, survey_id: str, target: str | Path | IO[str], *,
                  file_format: str | None = None, filters: StatsFilter | None = None,
                  by: str | None = None, labels: bool = False, include_pii: bool = False,
                  language: str = "zh",
                  on_progress: Callable[[int], None] | None = None,
                  notes: list[str] | None = None, station: str = "",
                  repeat_rows: dict[str, int] | None = None) -> int:
    """Write one survey's export; return the number of submissions written (or reported).
    What the user should know of the file (text cut to fit a cell …) goes in ``notes``;
    ``station`` (the config's station name) heads the PDF report. A form with repeat
    groups puts each repeat in a CSV file or XLSX sheet of its own: ``repeat_rows`` hears
    where (the file's path, the sheet's name) and how many rows.

    ``target`` is a path, or a text stream for csv and jsonl; ``file_format`` defaults to
    the path's ending. Raises StatsError for a question or choice the survey does not have
    (in ``filters`` or ``by``), ExportWriteError (an ExportError and an OSError) when the
    file cannot be written (no such folder, disk full …) and ExportError for other
    mistakes; then no file is left behind.
    """
    if file_format is None:
        file_format = format_for(str(target) if isinstance(target, str | Path) else "",
                                 None)
    if file_format not in FORMATS:
        raise ExportError(f"unknown format '{file_format}'; formats: {', '.join(FORMATS)}")
    if file_format in ("sav", "dta") and not isinstance(target, str | Path):
        raise ExportError(f"{file_format} 是二进制文件，不能写到标准输出："
                          f"请用 -o 文件名.{file_format} ({file_format} is a binary file, "
                          f"not for standard output: give -o FILE.{file_format})")
    if file_format in BINARY and not isinstance(target, str | Path):
        raise ExportError(f"{file_format} is written to a file: give -o FILE.{file_format}")
    if by and file_format not in ("xlsx", "pdf"):
        raise ExportError(f"--by makes a cross-tab in xlsx and pdf exports, not in {file_format}")
    filters = filters or StatsFilter()
    forms = survey_forms(store, survey_id)
    stats = None
    if file_format in ("xlsx", "pdf"):
        stats = survey_statistics(store, survey_id, filters, by=by, include_pii=include_pii,
                                  language=language, text_answers=file_format == "pdf")
    else:  # the questions and choices of --where, checked before anything is written
        check_filters(catalogue(forms), filters)
    # The review decisions and corrections of what is written (an xlsx sheet of its own).
    log = getattr(store, "review_log", None)
    history = log(survey_id, filters) if file_format == "xlsx" and log is not None else []
    try:
        return _write(file_format, forms, store.iter_submissions(survey_id, filters), stats,
                      target, labels=labels, include_pii=include_pii, language=language,
                      on_progress=on_progress, notes=notes, station=station,
                      repeat_rows=repeat_rows, history=history)
    except ExportWriteError:
        raise
    except OSError as error:  # disk full, USB stick pulled out …
        where = target if isinstance(target, str | Path) else "the output"
        raise ExportWriteError(f"cannot write {where}: {error.strerror or error}") from None


def _write(file_format: str, forms: list[Form], records: Iterator[dict[str, Any]],
           stats: dict[str, Any] | None, target: str | Path | IO[str], *, labels: bool,
           include_pii: bool, language: str,
           on_progress: Callable[[int], None] | None, notes: list[str] | None,
           station: str, repeat_rows: dict[str, int] | None,
           history: list[dict[str, Any]]) -> int:
    if file_format == "csv":
        return write_csv(forms, records, target, labels=labels, include_pii=include_pii,
                         language=language, on_progress=on_progress, repeat_rows=repeat_rows)
    if file_format == "jsonl":
        return write_jsonl(forms, records, target, include_pii=include_pii,
                           on_progress=on_progress)
    if file_format in ("sav", "dta"):
        assert isinstance(target, str | Path)
        writer = write_sav if file_format == "sav" else write_dta
        return writer(forms, records, target, include_pii=include_pii, language=language,
                      on_progress=on_progress, notes=notes, repeat_rows=repeat_rows)
    assert stats is not None and isinstance(target, str | Path)
    if file_format == "xlsx":
        return write_xlsx(forms, records, stats, target, labels=labels,
                          include_pii=include_pii, language=language, on_progress=on_progress,
                          notes=notes, repeat_rows=repeat_rows, history=history)
    write_pdf(forms, stats, target, include_pii=include_pii, language=language,
              station=station)
    return int(stats.get("n", 0))

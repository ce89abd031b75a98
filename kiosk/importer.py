"""Bulk import of submissions as JSON Lines (one record per line; ``kiosk export`` writes them).

Each imported record is checked by the rules a resident meets on the kiosk (the same
FormSession): types, choices, required, constraints, and no answers to questions that are
not relevant. Good records are stored, bad ones reported by line and skipped.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import re
import sys
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from store import KioskStore
from surveys.expressions import parse_datetime
from surveys.form import Form, language_code
from surveys.session import FormSession, Submission

BATCH_SIZE = 2000
CHUNK_LINES = 500
PARALLEL_FROM_BYTES = 2_000_000  # about 4,000 records
UUID = re.compile(r"(uuid:)?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                  r"[0-9a-fA-F]{12}")


@dataclass
class Rejected:
    line: int
    error: str


@dataclass
class ImportReport:
    stored: int = 0
    duplicates: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "stored": self.stored,
            "duplicates": self.duplicates,
            "rejected": [{"line": entry.line, "error": entry.error} for entry in self.rejected],
        }


class RecordError(ValueError):
    pass


class _Checkers:
    """One reusable FormSession per form version: import checks thousands of records.

    Holds the compiled forms themselves (not the database), so that worker processes
    can check records too.
    """

    def __init__(self, compiled: dict[str, dict[str, dict[str, Any]]]) -> None:
        self.compiled = compiled
        self.sessions: dict[tuple[str, str | None], tuple[Form, FormSession]] = {}

    def get(self, survey: str, version: str | None) -> tuple[Form, FormSession]:
        key = (survey, version)
        if key not in self.sessions:
            versions = self.compiled.get(survey)
            if not versions:
                raise RecordError(f"unknown survey '{survey}'")
            if version is None:
                version = next(reversed(versions))  # the newest installed
            if version not in versions:
                raise RecordError(f"survey '{survey}' has no version '{version}' here "
                                  f"(installed: {', '.join(versions)})")
            form = Form(versions[version])
            english = next((name for name in form.languages
                            if language_code(name) == "en"), None)
            session = FormSession(form, english, apply_defaults=False)
            self.sessions[key] = (form, session)
        return self.sessions[key]


def _text_field(record: dict[str, Any], key: str, required: bool) -> str | None:
    value = record.get(key)
    if value is None:
        if required:
            raise RecordError(f"'{key}' is missing")
        return None
    if not isinstance(value, str) or not value.strip():
        raise RecordError(f"'{key}' must be a non-empty string")
    return value


def parse_record(record: Any, checkers: _Checkers, kiosk: str | None) -> Submission:
    """Check one decoded JSON record; return the submission to store or raise RecordError."""
    if not isinstance(record, dict):
        raise RecordError("a record must be a JSON object")
    instance_id = _text_field(record, "instance_id", True)
    assert instance_id is not None
    if not UUID.fullmatch(instance_id):
        raise RecordError(f"instance_id {instance_id!r} is not a UUID")
    survey = _text_field(record, "survey", True)
    assert survey is not None
    version = record.get("version")
    if version is not None and not isinstance(version, str | int):
        raise RecordError("'version' must be a string")
    form, session = checkers.get(survey, None if version is None else str(version))
    moments = {}
    for key in ("started", "completed"):
        text = _text_field(record, key, key == "completed")
        if text is not None and parse_datetime(text) is None:
            raise RecordError(f"'{key}' is not an ISO 8601 date-time: {text!r}")
        moments[key] = text
    language = record.get("lang") or language_code(form.default_language)
    if not isinstance(language, str):
        raise RecordError("'lang' must be a string")
    for key in ("kiosk", "enumerator", "site"):
        if record.get(key) is not None and not isinstance(record[key], str):
            raise RecordError(f"'{key}' must be a string or null")
    answers = record.get("answers")
    if not isinstance(answers, dict):
        raise RecordError("'answers' must be a JSON object")
    problems = session.load_record(answers)
    if problems:
        raise RecordError("; ".join(
            f"answer '{problem.question}': {problem.message}" for problem in problems))
    completed = moments["completed"] or ""
    return Submission(
        instance_id=instance_id, survey=form.survey_id, version=form.version,
        started=moments["started"] or completed, completed=completed, lang=language,
        answers=session.answers(), kiosk=record.get("kiosk") or kiosk,
        enumerator=record.get("enumerator"), site=record.get("site"),
    )


CheckedLine = tuple[int, Submission | None, str | None]


def check_line(number: int, line: str, checkers: _Checkers, kiosk: str | None) -> CheckedLine:
    """(line number, submission or None, error or None) for one line of the file."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        return number, None, f"not valid JSON: {error.msg} (column {error.colno})"
    try:
        return number, parse_record(record, checkers, kiosk), None
    except RecordError as error:
        return number, None, str(error)


# Set in the parent before the worker processes fork, so they inherit it.
_WORKER_STATE: tuple[_Checkers, str | None] | None = None


def _check_chunk(chunk: list[tuple[int, str]]) -> list[CheckedLine]:
    assert _WORKER_STATE is not None
    checkers, kiosk = _WORKER_STATE
    return [check_line(number, line, checkers, kiosk) for number, line in chunk]


def _chunks(handle: IO[str],
            on_progress: Callable[[int], None] | None) -> Iterator[list[tuple[int, str]]]:
    size = CHUNK_LINES
    chunk: list[tuple[int, str]] = []
    for number, line in enumerate(handle, start=1):
        if on_progress is not None:
            on_progress(len(line))
        if line.strip():
            chunk.append((number, line))
            if len(chunk) >= size:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def _checked_in_parallel(chunks: Iterator[list[tuple[int, str]]], checkers: _Checkers,
                         kiosk: str | None, workers: int) -> Iterator[CheckedLine]:
    """Check chunks in worker processes, in file order, with a bounded read-ahead."""
    global _WORKER_STATE
    _WORKER_STATE = (checkers, kiosk)
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            pending: deque[Any] = deque()
            for chunk in chunks:
                pending.append(pool.apply_async(_check_chunk, (chunk,)))
                if len(pending) >= workers * 3:
                    yield from pending.popleft().get()
            while pending:
                yield from pending.popleft().get()
    finally:
        _WORKER_STATE = None


def default_workers(source: str | Path | IO[str]) -> int:
    """Use the machine's cores for big files; small ones are quicker in one process."""
    if not isinstance(source, str | Path) or sys.platform == "win32":
        return 1
    if Path(source).stat().st_size < PARALLEL_FROM_BYTES:
        return 1
    return max(1, min(os.cpu_count() or 1, 8))


def import_jsonl(
    store: KioskStore,
    source: str | Path | IO[str],
    *,
    kiosk: str | None = None,
    on_progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> ImportReport:
    """Import a JSONL file of submissions; bad lines are reported, the rest stored.

    ``on_progress`` receives the number of characters read so far. Big files are checked
    in ``workers`` processes (default: one per core); records are stored in file order.
    """
    report = ImportReport()
    checkers = _Checkers(store.compiled_forms())
    workers = default_workers(source) if workers is None else workers
    batch: list[Submission] = []

    def flush() -> None:
        if batch:
            stored = store.insert_submissions(batch)
            report.stored += stored
            report.duplicates += len(batch) - stored
            batch.clear()

    with _opened(source, "r") as handle:
        chunks = _chunks(handle, on_progress)
        if workers > 1:
            checked = _checked_in_parallel(chunks, checkers, kiosk, workers)
        else:
            checked = (check_line(number, line, checkers, kiosk)
                       for chunk in chunks for number, line in chunk)
        for number, submission, error in checked:
            if submission is None:
                report.rejected.append(Rejected(number, error or "rejected"))
                continue
            batch.append(submission)
            if len(batch) >= BATCH_SIZE:
                flush()
        flush()
    return report


def _opened(source: str | Path | IO[str], mode: str) -> contextlib.AbstractContextManager[IO[str]]:
    """A path is opened (and closed after); an open stream is used as it is."""
    if isinstance(source, str | Path):
        # utf-8-sig: files saved by Excel/WPS on Windows start with a BOM.
        encoding = "utf-8-sig" if mode == "r" else "utf-8"
        return open(source, mode, encoding=encoding)
    return contextlib.nullcontext(source)

"""Bulk import of submissions as JSON Lines (one record per line; ``kiosk export`` writes them).

Every line goes through the record gate (surveys/gate.py), the same rules a resident meets
on the screen. Good records are stored, whatever lies between them; each bad line is
reported with its number and the reason, and never stops the import: a line that is not
UTF-8, longer than ``MAX_LINE_BYTES``, nested deeper than ``MAX_DEPTH``, holding a number of
more than ``MAX_DIGITS`` digits, NaN, or a key given twice. A record whose id is already
stored is a duplicate when it says the same, and a conflict (reported with the questions that
differ; nothing stored is changed) when it says something else.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from store import KioskStore
from store.sqlite.submissions import BULK_BATCH, BULK_BYTES
from surveys.gate import (
    CheckedSubmission,
    RecordGate,
    RecordRefused,
    strict_json,
)

CHUNK_LINES = 500
PARALLEL_FROM_BYTES = 2_000_000  # about 4,000 records
# A record is a few kilobytes (500-character text answers at most); a line past this is
# not one, and is skipped without being held in memory.
MAX_LINE_BYTES = 1_000_000
_BOM = b"\xef\xbb\xbf"


@dataclass
class Rejected:
    line: int
    error: str


@dataclass
class Conflict:
    """A record whose id is stored already with other content (nothing was changed)."""

    line: int
    instance_id: str
    differs: list[str]  # questions (or survey, version) whose values differ

    @property
    def error(self) -> str:
        return (f"instance_id {self.instance_id} is stored already with other content "
                f"({', '.join(self.differs)} differ); the stored one was kept")


@dataclass
class ImportReport:
    stored: int = 0
    duplicates: int = 0
    conflicts: list[Conflict] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.rejected or self.conflicts)

    def to_json(self) -> dict[str, Any]:
        """``conflicts`` only when there are any (the report before conflicts were told
        apart from duplicates had none)."""
        found: dict[str, Any] = {
            "stored": self.stored,
            "duplicates": self.duplicates,
            "rejected": [{"line": entry.line, "error": entry.error} for entry in self.rejected],
        }
        if self.conflicts:
            found["conflicts"] = [{"line": entry.line, "instance_id": entry.instance_id,
                                   "differ": entry.differs} for entry in self.conflicts]
        return found


# ---- one line ----------------------------------------------------------------------------

def decode_line(data: bytes) -> Any:
    """One line's JSON value, or RecordRefused saying what is wrong with it."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RecordRefused(f"not UTF-8 text (byte {error.start + 1} of the line)") from None
    return strict_json(text)


CheckedLine = tuple[int, CheckedSubmission | None, str | None]


def check_line(number: int, data: bytes | None, problem: str | None, gate: RecordGate,
               kiosk: str | None) -> CheckedLine:
    """(line number, checked submission or None, error or None) for one line of the file."""
    if data is None:
        return number, None, problem
    try:
        return number, gate.check(decode_line(data), kiosk=kiosk), None
    except RecordRefused as error:
        return number, None, str(error)


# ---- the file ----------------------------------------------------------------------------

Line = tuple[int, bytes | None, str | None]  # number, bytes (None when refused), why


def read_lines(handle: IO[bytes], on_progress: Callable[[int], None] | None = None,
               limit: int = MAX_LINE_BYTES) -> Iterator[Line]:
    """The non-blank lines of a binary file, numbered; a line longer than ``limit`` is
    skipped in pieces (never held whole) and comes as (number, None, why)."""
    number = 0
    while True:
        data = handle.readline(limit + 1)
        if not data:
            return
        number += 1
        if on_progress is not None:
            on_progress(len(data))
        if number == 1:
            data = data.removeprefix(_BOM)  # Excel/WPS on Windows start with a BOM
        if len(data) > limit and not data.endswith(b"\n"):
            size = len(data)
            while data and not data.endswith(b"\n"):
                data = handle.readline(1 << 20)
                size += len(data)
                if on_progress is not None:
                    on_progress(len(data))
            yield number, None, (f"line of {size:,} bytes, longer than a record can be "
                                 f"({limit:,}); not read")
            continue
        if data.strip():
            yield number, data, None


def _chunks(lines: Iterator[Line]) -> Iterator[list[Line]]:
    chunk: list[Line] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= CHUNK_LINES:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# Set in the parent before the worker processes fork, so they inherit it.
_WORKER_STATE: tuple[RecordGate, str | None] | None = None


def _check_chunk(chunk: list[Line]) -> list[CheckedLine]:
    assert _WORKER_STATE is not None
    gate, kiosk = _WORKER_STATE
    return [check_line(number, data, problem, gate, kiosk) for number, data, problem in chunk]


def _checked_in_parallel(chunks: Iterator[list[Line]], gate: RecordGate, kiosk: str | None,
                         workers: int) -> Iterator[CheckedLine]:
    """Check chunks in worker processes, in file order, with a bounded read-ahead."""
    global _WORKER_STATE
    _WORKER_STATE = (gate, kiosk)
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


def default_workers(source: str | Path | IO[bytes]) -> int:
    """Use the machine's cores for big files; small ones are quicker in one process."""
    if not isinstance(source, str | Path) or sys.platform == "win32":
        return 1
    if Path(source).stat().st_size < PARALLEL_FROM_BYTES:
        return 1
    return max(1, min(os.cpu_count() or 1, 8))


def differences(stored: dict[str, Any], checked: CheckedSubmission) -> list[str]:
    """What a record says otherwise than the one stored under its id ([]: a duplicate)."""
    differs = [key for key, value in (("survey", checked.survey),
                                      ("version", checked.version))
               if stored.get(key) != value]
    answers = stored.get("answers") or {}
    differs += [name for name in dict.fromkeys([*answers, *checked.answers])
                if answers.get(name) != checked.answers.get(name)]
    return differs


def import_jsonl(
    store: KioskStore,
    source: str | Path | IO[bytes],
    *,
    kiosk: str | None = None,
    on_progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> ImportReport:
    """Import a JSONL file of submissions; bad lines are reported, every good one stored.

    ``on_progress`` receives the number of bytes read so far. Big files are checked in
    ``workers`` processes (default: one per core); records are stored in file order.
    """
    report = ImportReport()
    gate = store.record_gate()
    workers = default_workers(source) if workers is None else workers
    batch: list[tuple[int, CheckedSubmission]] = []
    # Register entries created by the file's records so far: a later record may update them.
    created: set[tuple[str, str]] = set()

    def flush() -> None:
        if not batch:
            return
        stored = store.stored_records([item.instance_id for _line, item in batch])
        new: dict[str, CheckedSubmission] = {}
        for line, item in batch:
            earlier = stored.get(item.instance_id)
            if earlier is None and item.instance_id in new:
                earlier = new[item.instance_id].to_json()
            if earlier is None:
                unknown = store.unknown_entity(item, created)
                if unknown is not None:
                    report.rejected.append(Rejected(line, unknown))
                    continue
                if item.entity and item.entity.get("action") == "create":
                    created.add((str(item.entity["dataset"]), str(item.entity["id"])))
                new[item.instance_id] = item
                continue
            differs = differences(earlier, item)
            if differs:
                report.conflicts.append(Conflict(line, item.instance_id, differs))
            else:
                report.duplicates += 1
        added = store.insert_submissions(list(new.values()))
        report.stored += added
        report.duplicates += len(new) - added  # stored by another process meanwhile
        batch.clear()

    # Bytes read so far: a batch is stored at BULK_BATCH records or BULK_BYTES of lines
    # (lines are read ahead of the batch, so it is stored early, never late).
    read = 0

    def counted(size: int) -> None:
        nonlocal read
        read += size
        if on_progress is not None:
            on_progress(size)

    with _opened(source) as handle, store.bulk_loading():
        chunks = _chunks(read_lines(handle, counted))
        if workers > 1:
            checked = _checked_in_parallel(chunks, gate, kiosk, workers)
        else:
            checked = (check_line(number, data, problem, gate, kiosk)
                       for chunk in chunks for number, data, problem in chunk)
        batch_began = 0
        for number, submission, error in checked:
            if submission is None:
                report.rejected.append(Rejected(number, error or "rejected"))
                continue
            batch.append((number, submission))
            if len(batch) >= BULK_BATCH or read - batch_began >= BULK_BYTES:
                flush()
                batch_began = read
        flush()
    return report


def _opened(source: str | Path | IO[bytes]) -> contextlib.AbstractContextManager[IO[bytes]]:
    """A path is opened (and closed after); an open binary stream is used as it is."""
    if isinstance(source, str | Path):
        return open(source, "rb")
    return contextlib.nullcontext(source)

"""A look at a kiosk database from outside, for ``kiosk doctor``: read-only, never migrating
or creating anything, so a check of a kiosk never changes what it checks.

It says whether the file is a kiosk database this software can use, whether SQLite finds
it whole (``PRAGMA quick_check``: every page and index entry, without the slower
cross-checks of ``integrity_check``), its size, and the few facts the other checks stand
on: the last submission stored, the last backup and bundle in the audit record, the last
sync, and the print jobs still waiting.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from store.sqlite import schema

# Audit actions whose latest entry the checks read.
AUDITED = ("backup", "bundle_export")


@dataclass(frozen=True)
class AuditEntry:
    """One audit record entry: when (station time as stored, and Unix time), what on what."""

    at: str
    at_epoch: float
    target: str
    detail: str


@dataclass(frozen=True)
class DatabaseHealth:
    """What ``inspect_database`` found. ``problem`` is set (in English, naming the file)
    when the file cannot be used at all: missing, not ours, newer, unreadable."""

    path: Path
    exists: bool
    size: int = 0  # the file and its -wal, in bytes
    problem: str | None = None
    schema_version: int = 0
    integrity: str = ""  # "ok", or the first problem quick_check reports
    submissions: int = 0
    last_stored: str | None = None
    latest: dict[str, AuditEntry] = field(default_factory=dict)  # audit action -> entry
    last_synced: str | None = None  # the last batch a sync sent (station time as stored)
    unprinted: int = 0  # print jobs queued, waiting or being sent
    surveys: frozenset[str] = frozenset()  # the questionnaires installed

    @property
    def usable(self) -> bool:
        return self.exists and self.problem is None

    @property
    def current_schema(self) -> int:
        return schema.SCHEMA_VERSION


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[sqlite3.Connection]:
    # mode=ro: nothing is created or written, not even a missing file.
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                 timeout=10, isolation_level=None)
    try:
        yield connection
    finally:
        connection.close()


def _size(path: Path) -> int:
    total = 0
    for suffix in ("", "-wal"):
        with contextlib.suppress(OSError):
            total += path.with_name(path.name + suffix).stat().st_size
    return total


def inspect_database(path: Path, *, check_pages: bool = True) -> DatabaseHealth:
    """Look at the kiosk database at ``path`` without changing it (``check_pages``: run
    SQLite's quick_check, which reads every page)."""
    if not path.exists():
        return DatabaseHealth(path, exists=False, problem=f"{path}: no such file")
    size = _size(path)
    try:
        with _read_only(path) as connection:
            application_id = int(connection.execute("PRAGMA application_id").fetchone()[0])
            version = schema.user_version(connection)
            if application_id != schema.APPLICATION_ID:
                return DatabaseHealth(path, True, size, problem=(
                    f"{path} is not a kiosk database"), schema_version=version)
            if version > schema.SCHEMA_VERSION:
                return DatabaseHealth(path, True, size, problem=(
                    f"{path} was written by a newer kiosk (schema {version}, this software "
                    f"knows up to {schema.SCHEMA_VERSION})"), schema_version=version)
            integrity = "ok"
            if check_pages:
                integrity = str(connection.execute("PRAGMA quick_check(1)").fetchone()[0])
            return _facts(connection, path, size, version, integrity)
    except sqlite3.DatabaseError as error:
        return DatabaseHealth(path, True, size, problem=f"{path} cannot be read ({error})",
                              integrity=str(error))


def _facts(connection: sqlite3.Connection, path: Path, size: int, version: int,
           integrity: str) -> DatabaseHealth:
    """The facts the checks read, from the tables this schema version has (one moment)."""
    connection.execute("BEGIN")
    try:
        tables = {row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type='table'")}
        submissions, last_stored = 0, None
        if "submissions" in tables:
            submissions, last_stored = connection.execute(
                "SELECT count(*), max(stored_at) FROM submissions").fetchone()
        latest: dict[str, AuditEntry] = {}
        if "audit" in tables:
            for action in AUDITED:
                row = connection.execute(
                    "SELECT at, at_epoch, target, detail FROM audit WHERE action = ?"
                    " ORDER BY at_epoch DESC, id DESC LIMIT 1", (action,)).fetchone()
                if row is not None:
                    latest[action] = AuditEntry(str(row[0]), float(row[1]), str(row[2] or ""),
                                                str(row[3] or ""))
        last_synced = None
        if "sync_cursors" in tables:
            last_synced = connection.execute(
                "SELECT max(synced_at) FROM sync_cursors").fetchone()[0]
        surveys: frozenset[str] = frozenset()
        if "forms" in tables:
            surveys = frozenset(row[0] for row in connection.execute(
                "SELECT DISTINCT survey_id FROM forms"))
        unprinted = 0
        if "print_jobs" in tables:
            unprinted = int(connection.execute(
                "SELECT count(*) FROM print_jobs WHERE state IN ('queued', 'waiting',"
                " 'sending')").fetchone()[0])
    finally:
        connection.execute("COMMIT")
    return DatabaseHealth(path, True, size, schema_version=version, integrity=integrity,
                          submissions=int(submissions or 0), last_stored=last_stored,
                          latest=latest, last_synced=last_synced, unprinted=unprinted,
                          surveys=surveys)

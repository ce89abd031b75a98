"""Copies of a kiosk database and what they hold: the SQL side of ``kiosk backup`` and
``kiosk restore`` (the files, folders and names are kiosk/backup.py's).

Every copy goes through SQLite's online backup API, never a file copy: the kiosk keeps
writing in WAL mode, and a copy of the main file alone misses what is still in the -wal
file. A backup is read in one read transaction, so its counts and the copy are of the same
moment, however many submissions other processes store meanwhile.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from store.errors import BackupError
from store.sqlite import schema
from store.sqlite.connection import StoreBase, new_owner_only_file
from surveys.clock import now_stamp

# Table -> how a summary names it: the data a restore must not lose. The logs (staff
# events, audit) are left out: a backup adds an audit entry to the database it copies.
COUNTED: dict[str, str] = {
    "submissions": "submissions",
    "drafts": "drafts",
    "volunteers": "volunteers",
    "volunteer_checkins": "volunteer check-ins",
    "volunteer_checkouts": "volunteer check-outs",
    "volunteer_corrections": "hour corrections",
    "print_jobs": "print jobs",
    "request_updates": "request updates",
    "forms": "form versions",
}


@dataclass(frozen=True)
class DatabaseSummary:
    """What one kiosk database holds, as far as a backup or restore has to tell."""

    path: Path
    schema_version: int
    database_id: str | None
    kiosk: str | None  # the kiosk a backup was taken of (None: not a backup)
    taken_at: str | None  # when the backup was taken
    counts: dict[str, int] = field(default_factory=dict)
    first_stored: str | None = None  # the submissions' stored_at, oldest and newest
    last_stored: str | None = None

    def count_lines(self) -> list[str]:
        return [f"{COUNTED[table]} {self.counts[table]}" for table in COUNTED
                if table in self.counts]


def summarize(connection: sqlite3.Connection, path: Path) -> DatabaseSummary:
    """The summary of an open kiosk database (call it inside a read transaction for one
    moment's counts)."""
    tables = {row[0] for row in connection.execute(
        "SELECT name FROM sqlite_master WHERE type='table'")}
    counts = {table: int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
              for table in COUNTED if table in tables}
    meta: dict[str, str] = {}
    if "meta" in tables:
        meta = dict(connection.execute("SELECT key, value FROM meta").fetchall())
    first = last = None
    if "submissions" in tables:
        first, last = connection.execute(
            "SELECT min(stored_at), max(stored_at) FROM submissions").fetchone()
    return DatabaseSummary(
        path=path, schema_version=schema.user_version(connection),
        database_id=meta.get("database_id"), kiosk=meta.get("backup_kiosk"),
        taken_at=meta.get("backup_taken_at"), counts=counts, first_stored=first,
        last_stored=last)


def summary_of_one_moment(connection: sqlite3.Connection, path: Path) -> DatabaseSummary:
    """``summarize`` in a read transaction of its own: every count of the same moment."""
    connection.execute("BEGIN")
    summary = summarize(connection, path)
    connection.execute("COMMIT")
    return summary


def _moment(stamp: str | None) -> dt.datetime | None:
    """A stored time as a moment (stamps of different offsets compare rightly)."""
    if not stamp:
        return None
    try:
        moment = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def newer_data(current: DatabaseSummary, backup: DatabaseSummary) -> list[str]:
    """What ``current`` holds that ``backup`` would lose: more rows of a table, or
    submissions stored after the backup's last one. Empty when a restore loses nothing."""
    reasons = [f"{COUNTED[table]}: {count} here, {backup.counts.get(table, 0)} in the backup"
               for table, count in current.counts.items()
               if count > backup.counts.get(table, 0)]
    here, there = _moment(current.last_stored), _moment(backup.last_stored)
    if here is not None and (there is None or here > there):
        reasons.append(f"the last submission here was stored at {current.last_stored}, "
                       f"after the backup's last ({backup.last_stored or 'none'})")
    return reasons


def _new_owner_only_file(path: Path) -> None:
    """An empty file only its owner may read, made before SQLite opens it: the copy holds
    residents' answers from its first page."""
    try:
        new_owner_only_file(path)
    except FileExistsError:
        raise BackupError(f"{path} exists already; it was left as it was") from None
    except OSError as error:
        raise BackupError(f"cannot write {path} ({error.strerror})") from None


def copy_store(store: StoreBase, target: Path, *, kiosk: str) -> DatabaseSummary:
    """Copy the open database into a new file ``target`` (owner-only), while other
    processes keep writing; returns the source's summary at the moment of the copy.

    The copy is a single file (rollback journal, not WAL), stamped with the kiosk and the
    time in its meta table, so a restore can say what it holds.
    """
    _new_owner_only_file(target)
    try:
        destination = sqlite3.connect(target, isolation_level=None)
        try:
            with store.read_snapshot():
                # The counts and the copy come from the same read transaction.
                summary = summarize(store.conn, store.path)
                store.conn.backup(destination)
            destination.execute("PRAGMA journal_mode=DELETE")
            destination.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('backup_kiosk', ?),"
                " ('backup_taken_at', ?)", (kiosk, now_stamp()))
        finally:
            destination.close()
    except sqlite3.Error as error:
        with contextlib.suppress(OSError):
            target.unlink()
        raise BackupError(f"cannot copy {store.path} to {target} ({error})") from None
    except BaseException:
        with contextlib.suppress(OSError):
            target.unlink()
        raise
    return summary


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                 isolation_level=None)
    try:
        yield connection
    finally:
        connection.close()


def read_backup(path: Path) -> DatabaseSummary:
    """Check that ``path`` is a whole kiosk database this kiosk can use, and summarize it;
    a BackupError naming the file otherwise (it is never written to)."""
    if not path.exists():
        raise BackupError(f"{path}: no such file")
    if not path.is_file():
        raise BackupError(f"{path} is not a file")
    try:
        with _read_only(path) as connection:
            application_id = connection.execute("PRAGMA application_id").fetchone()[0]
            version = schema.user_version(connection)
            if application_id != schema.APPLICATION_ID:
                raise BackupError(f"{path} is not a kiosk database (no kiosk backup)")
            if version > schema.SCHEMA_VERSION:
                raise BackupError(
                    f"{path} was written by a newer kiosk (schema {version}, this kiosk "
                    f"knows up to {schema.SCHEMA_VERSION}); update the kiosk software first")
            problems = [row[0] for row in connection.execute("PRAGMA integrity_check(5)")]
            if problems != ["ok"]:
                raise BackupError(f"{path} is damaged (integrity check: {problems[0]})")
            return summary_of_one_moment(connection, path)
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{path} is not a readable kiosk database ({error})") from None


def verify_copy(path: Path, expected: DatabaseSummary) -> DatabaseSummary:
    """Read the copy at ``path`` back (whole, ours, not newer) and check that it holds the
    counts of ``expected``; its summary, or a BackupError naming what differs."""
    summary = read_backup(path)
    differing = [f"{COUNTED[table]} {summary.counts.get(table)} instead of {count}"
                 for table, count in expected.counts.items()
                 if summary.counts.get(table) != count]
    if differing:
        raise BackupError(f"{path} does not hold what {expected.path} held: "
                          + ", ".join(differing))
    return summary


def read_current(path: Path) -> DatabaseSummary:
    """The summary of the database a restore would replace; a BackupError saying why it
    cannot be read (not ours, newer, damaged)."""
    try:
        connection = sqlite3.connect(path, timeout=30, isolation_level=None)
    except sqlite3.Error as error:
        raise BackupError(f"{path}: cannot open the database ({error})") from None
    try:
        schema.check_file(connection, path)
        return summary_of_one_moment(connection, path)
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{path} cannot be read ({error})") from None
    finally:
        connection.close()


def copy_file_database(source: Path, target: Path) -> None:
    """Copy the database at ``source`` into ``target`` with the backup API (``target`` is
    created owner-only, or replaced in place when it exists: other connections to it see
    the new content, its WAL mode stays)."""
    if not target.exists():
        _new_owner_only_file(target)
    try:
        with _read_only(source) as origin:
            destination = sqlite3.connect(target, timeout=30, isolation_level=None)
            try:
                destination.execute("PRAGMA busy_timeout=30000")
                origin.backup(destination)
            finally:
                destination.close()
    except sqlite3.Error as error:
        raise BackupError(f"cannot copy {source} to {target} ({error})") from None


# ---- the record of the nightly backups (meta rows, JSON) ------------------------------------

NIGHTLY_KEYS = ("nightly_backup_last", "nightly_backup_problem")


def nightly_record(store: StoreBase) -> dict[str, dict[str, Any] | None]:
    """The last nightly backup made and the problem of the last attempt (None when the last
    attempt worked), as kiosk/nightly.py wrote them; a row that is not JSON counts as none."""
    rows = dict(store.conn.execute(
        f"SELECT key, value FROM meta WHERE key IN ({', '.join('?' for _ in NIGHTLY_KEYS)})",
        NIGHTLY_KEYS).fetchall())
    record: dict[str, dict[str, Any] | None] = {}
    for key in NIGHTLY_KEYS:
        try:
            value = json.loads(rows[key]) if key in rows else None
        except ValueError:
            value = None
        record[key.removeprefix("nightly_backup_")] = value if isinstance(value, dict) else None
    return record


def note_nightly(store: StoreBase, *, last: dict[str, Any] | None = None,
                 problem: dict[str, Any] | None = None) -> None:
    """Record a nightly backup made (``last``; the problem is cleared) or an attempt that
    failed (``problem``; the last one made stays), committed at once."""
    with store.transaction():
        if last is not None:
            store.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                               ("nightly_backup_last", json.dumps(last, ensure_ascii=False)))
            store.conn.execute("DELETE FROM meta WHERE key='nightly_backup_problem'")
        if problem is not None:
            store.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                               ("nightly_backup_problem",
                                json.dumps(problem, ensure_ascii=False)))

"""Backups of the kiosk database (``kiosk backup``, ``kiosk restore``): where they go, what
they are called, and the order of the steps; the copies themselves and what they hold are
store/sqlite/backup.py's.

A backup is ``kiosk-<kiosk id>-<YYYYmmdd-HHMMSS>.db`` in a folder only the owner may enter
(by default ``backups`` beside the database), itself owner-only: it holds a year of
residents' answers and volunteer hours. It is written under a ``.part`` name and takes its
own name only once it has been read back and found whole, with the counts of the moment.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from kiosk.paths import owner_only_directory
from store import BackupError, KioskStore, StoreError
from store.sqlite.backup import (
    DatabaseSummary,
    copy_file_database,
    copy_store,
    newer_data,
    read_backup,
    read_current,
    verify_copy,
)
from store.sqlite.connection import unused_path
from surveys.clock import now_local


@dataclass(frozen=True)
class BackupMade:
    """A backup written and verified."""

    path: Path
    size: int
    summary: DatabaseSummary


def default_backup_directory(database: Path) -> Path:
    """``backups`` beside the database."""
    return database.parent / "backups"


def backup_name(kiosk_id: str, stamp: str, prefix: str = "kiosk") -> str:
    """``<prefix>-<kiosk id>-<stamp>``: ``kiosk-…`` made by staff, ``nightly-…`` by the kiosk
    itself (kiosk/nightly.py deletes only those)."""
    # A kiosk id given on the command line is not checked like the config's: keep the name
    # to safe characters whatever it holds.
    return f"{prefix}-{safe_kiosk_id(kiosk_id)}-{stamp}"  # + .db


def safe_kiosk_id(kiosk_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", kiosk_id) or "kiosk"


def make_backup(store: KioskStore, kiosk_id: str, directory: Path | None = None,
                *, staff: str = "unknown", prefix: str = "kiosk",
                moment: dt.datetime | None = None) -> BackupMade:
    """Copy the open database into ``directory`` while the kiosk keeps running, read the
    copy back (integrity, ours, the counts of the moment of the copy) and record the backup
    in the audit record. ``moment`` names the file (default: now, station time)."""
    folder = owner_only_directory(directory or default_backup_directory(store.path))
    stamp = (moment or now_local()).strftime("%Y%m%d-%H%M%S")
    target = unused_path(folder, backup_name(kiosk_id, stamp, prefix), ".db")
    partial = target.with_name(target.name + ".part")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()  # left by a backup that was killed
    source = copy_store(store, partial, kiosk=kiosk_id)
    try:
        summary = verify_copy(partial, source)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
    os.replace(partial, target)
    store.add_audit("backup", str(target), ", ".join(summary.count_lines()), staff=staff,
                    kiosk=kiosk_id)
    return BackupMade(target, target.stat().st_size, summary)


@dataclass(frozen=True)
class RestorePlan:
    """What a restore would do: the backup's summary, the current database's (None when
    there is none) or why it cannot be read, and what of it the backup would lose."""

    backup: DatabaseSummary
    database: Path
    current: DatabaseSummary | None
    unreadable: str | None
    losses: list[str]

    @property
    def needs_force(self) -> bool:
        return bool(self.losses or self.unreadable)


def plan_restore(backup: Path, database: Path) -> RestorePlan:
    """Read the backup (refused when missing, not ours, damaged or newer) and the current
    database, and say what a restore would lose."""
    held = read_backup(backup)
    if not database.exists():
        return RestorePlan(held, database, None, None, [])
    try:
        current = read_current(database)
    except StoreError as error:  # not ours, newer, damaged: replaced only with --force
        return RestorePlan(held, database, None, str(error), [])
    return RestorePlan(held, database, current, None, newer_data(current, held))


@dataclass(frozen=True)
class Restored:
    """A restore done: the safety copy of what was replaced (None when there was nothing)
    and the restored database's summary."""

    safety_copy: Path | None
    summary: DatabaseSummary


def _safety_copy(database: Path, readable: bool) -> Path:
    """The current database kept beside it (owner-only) before it is replaced."""
    stamp = now_local().strftime("%Y%m%d-%H%M%S")
    target = database.with_name(f"{database.stem}.before-restore-{stamp}{database.suffix}")
    number = 2
    while target.exists():
        target = database.with_name(
            f"{database.stem}.before-restore-{stamp}-{number}{database.suffix}")
        number += 1
    if readable:
        copy_file_database(database, target)
        return target
    # A database SQLite cannot read is kept as its files are (with its -wal, if any).
    for suffix in ("", "-wal"):
        origin = database.with_name(database.name + suffix)
        if origin.exists():
            copy = target.with_name(target.name + suffix)
            with os.fdopen(os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600),
                           "wb") as handle, origin.open("rb") as source:
                shutil.copyfileobj(source, handle)
    return target


def restore_backup(plan: RestorePlan, *, force: bool = False) -> Restored:
    """Replace the database with the backup: refused (BackupError) when the current one
    holds data the backup lacks or cannot be read, unless ``force``. The current database
    is first kept beside it; the backup goes in through the backup API (the kiosk may hold
    the file open in WAL mode) and is read back."""
    if plan.needs_force and not force:
        raise BackupError(refusal(plan))
    safety: Path | None = None
    if plan.database.exists():
        safety = _safety_copy(plan.database, readable=plan.unreadable is None)
        if plan.unreadable is not None:
            # SQLite cannot copy into a file it cannot read: the kept copy is safe, start anew.
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    plan.database.with_name(plan.database.name + suffix).unlink()
    plan.database.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    copy_file_database(plan.backup.path, plan.database)
    summary = read_backup(plan.database)  # whole, and of the backup's counts
    differing = [table for table, count in plan.backup.counts.items()
                 if summary.counts.get(table) != count]
    if differing:
        raise BackupError(f"{plan.database} does not hold what {plan.backup.path} holds after "
                          f"the restore ({', '.join(differing)}); the database before the "
                          f"restore is kept at {safety}")
    return Restored(safety, summary)


def refusal(plan: RestorePlan) -> str:
    """Why a restore needs --force, naming both files."""
    if plan.unreadable is not None:
        return (f"not restoring {plan.backup.path} over {plan.database}: the current "
                f"database cannot be read ({plan.unreadable}). Add --force to replace it "
                "(it is kept beside it first).")
    return (f"not restoring {plan.backup.path} over {plan.database}: the current database "
            f"holds newer data ({'; '.join(plan.losses)}). Add --force to replace it anyway "
            "(it is kept beside it first).")

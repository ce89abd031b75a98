"""Opening a kiosk database and its transactions: what every part of ``KioskStore`` stands
on.

Durability first: WAL with ``synchronous=FULL``, so a submission or draft that was
committed survives a power cut. A file that is not ours, or is from a newer kiosk, is
refused before anything is written to it (store/sqlite/schema.py).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from store.errors import StoreError
from store.sqlite import schema
from store.sqlite.tallies import StatsUpkeep
from surveys.clock import now_local

if TYPE_CHECKING:
    from surveys.form import Form
    from surveys.gate import RecordGate


def _owner_only(path: Path) -> None:
    """The database holds residents' answers and phones: its folder is made 0700 and the
    file 0600 before SQLite opens it (its -wal and -shm files take the file's mode); a file
    of ours found open to others is tightened."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        for companion in (path, path.with_name(path.name + "-wal"),
                          path.with_name(path.name + "-shm")):
            with contextlib.suppress(OSError):  # not ours, or not there
                if companion.stat().st_mode & 0o077 and companion.stat().st_uid == os.getuid():
                    companion.chmod(0o600)
    except OSError:
        pass  # a folder we cannot write to: sqlite3 says so in its own words


def unused_path(folder: Path, name: str, suffix: str) -> Path:
    """``folder/name+suffix``, or ``name-2``, ``name-3`` … when taken (two copies made in
    one second)."""
    target = folder / f"{name}{suffix}"
    for number in range(2, 100):
        if not target.exists():
            break
        target = folder / f"{name}-{number}{suffix}"
    return target


def new_owner_only_file(path: Path) -> None:
    """An empty file only its owner may read, made before SQLite opens it: a copy of the
    database holds residents' answers from its first page (FileExistsError if there)."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


class StoreBase:
    """One open kiosk database: the connection, transactions and read snapshots.

    ``KioskStore`` (store/sqlite/kiosk_store.py) adds one part per concern to it; the parts
    call each other through ``self`` (a submission is counted by the statistics, a request
    update audited).
    """

    conn: sqlite3.Connection

    def __init__(
        self, path: str | Path,
        initial_forms: Callable[[], Iterable[dict[str, Any]]] | None = None,
    ) -> None:
        """Open or create the database at ``path``.

        A new database gets ``initial_forms()`` installed in the same transaction as its
        schema, so a crash during creation leaves either nothing or everything.
        """
        self.path = Path(path)
        self._forms: dict[tuple[str, str], Form] = {}
        self._stats: StatsUpkeep | None = None
        self._gate: RecordGate | None = None
        self._gate_forms = 0
        _owner_only(self.path)
        try:
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except sqlite3.Error as error:
            raise StoreError(f"{self.path}: cannot open the database ({error})") from None
        try:
            schema.check_file(connection, self.path)
        except BaseException:
            connection.close()
            raise
        self.conn = connection
        # Durability before speed: a commit reaches the disk before we say it is saved.
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("PRAGMA foreign_keys=ON")
        connection.execute("PRAGMA busy_timeout=30000")
        # A WAL grown by an import (store/sqlite/submissions.py bulk_loading) shrinks back
        # to 64 MB when it is next reset.
        connection.execute(f"PRAGMA journal_size_limit={64 * 1024 * 1024}")
        # A database of an older kiosk is copied before its schema changes: a migration
        # that went wrong, or a kiosk rolled back to the older software, has it to go to.
        self.kept_before_migration: Path | None = None
        version = schema.user_version(connection)
        if 0 < version < schema.SCHEMA_VERSION:
            self.kept_before_migration = self._keep_copy_before_migrating(version)
        try:
            self.created = schema.migrate(self, initial_forms)
        except sqlite3.Error as error:  # rolled back: the file is as the older kiosk left it
            connection.close()
            raise StoreError(self._not_migrated(version, error)) from None

    def _not_migrated(self, version: int, error: sqlite3.Error) -> str:
        """What staff read when the schema could not be changed (Chinese first)."""
        if version == 0:
            return (f"{self.path}：新数据库没有建成（{error}），请检查磁盘空间和文件夹权限后再试。"
                    f" The new database could not be made ({error}).")
        return (f"{self.path}：数据库从第 {version} 版升级到第 {schema.SCHEMA_VERSION} 版时出错"
                f"（{error}），数据库没有改动，仍是旧版软件留下的样子；升级前的副本在 "
                f"{self.kept_before_migration}。可以装回旧版软件继续使用，并把这条消息交给技术支持。"
                f" Upgrading from schema {version} to {schema.SCHEMA_VERSION} failed; the "
                "database was left unchanged.")

    def _keep_copy_before_migrating(self, version: int) -> Path:
        """``kiosk.before-schema-<version>-<stamp>.db`` beside the database, owner-only,
        made with SQLite's backup API; no copy, no migration (BackupError says why)."""
        stamp = now_local().strftime("%Y%m%d-%H%M%S")
        target = unused_path(self.path.parent, f"{self.path.stem}.before-schema-{version}-"
                             f"{stamp}", self.path.suffix)
        try:
            new_owner_only_file(target)
            copy = sqlite3.connect(target, isolation_level=None)
            try:
                self.conn.backup(copy)
                # One file, as `kiosk backup` makes: reading the copy leaves no -wal beside it.
                copy.execute("PRAGMA journal_mode=DELETE")
            finally:
                copy.close()
        except (OSError, sqlite3.Error) as error:
            raise StoreError(f"{self.path}: schema {version} was not migrated: a copy could not "
                             f"be kept first as {target} ({error}); free some disk space and "
                             "start again") from None
        return target

    @cached_property
    def db(self) -> Any:
        """sqlite-utils over the same connection, for schema work (loaded when needed)."""
        import sqlite_utils

        return sqlite_utils.Database(self.conn)

    @property
    def stats(self) -> StatsUpkeep:
        """The statistics tables' upkeep (store/sqlite/tallies.py) on this connection."""
        if self._stats is None:
            self._stats = StatsUpkeep(self.conn, self.load_form)  # type: ignore[attr-defined]
        return self._stats

    def transaction(self) -> Transaction:
        return Transaction(self.conn)

    def read_snapshot(self) -> Snapshot:
        """A read transaction: every query inside sees the same committed state, however
        many submissions other processes store meanwhile (WAL keeps the snapshot)."""
        return Snapshot(self.conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def integrity_check(self) -> str:
        return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])


class Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any error (nothing half-written)."""

    BEGIN = "BEGIN IMMEDIATE"

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        self.outer = False

    def __enter__(self) -> sqlite3.Connection:
        self.outer = not self.connection.in_transaction
        if self.outer:
            self.connection.execute(self.BEGIN)
        return self.connection

    def __exit__(self, exc_type: object, *_rest: object) -> None:
        if not self.outer:
            return
        if exc_type is None:
            self.connection.execute("COMMIT")
        else:
            self.connection.execute("ROLLBACK")


class Snapshot(Transaction):
    """BEGIN ... COMMIT around reads (inside a transaction already: nothing to do)."""

    BEGIN = "BEGIN"

    def __exit__(self, *_exc: object) -> None:
        if self.outer and self.connection.in_transaction:
            self.connection.execute("COMMIT")

"""What a sync to the central PostgreSQL reads (kiosk/central/sync.py): this database's own
id, the rows of each stream by a key that only grows (rows are only ever added:
submissions and forms by rowid, the append-only tables by id, check-outs by the order they
were recorded), and the cursors (per central database and stream: the last key sent)."""

from __future__ import annotations

from typing import Any

from store.rows import CORRECTION_COLUMNS
from store.sqlite.connection import StoreBase
from surveys.clock import now_stamp

# What a sync sends, stream by stream, in this order (what is referred to goes first):
# (table, key that only grows, columns). store/central/push.py has the same columns.
_SYNC_SOURCES: dict[str, tuple[str, str, str]] = {
    "forms": ("forms", "rowid", "survey_id, version, title, default_language, question_count,"
              " compiled, source_name, source_sha256, installed_at"),
    "submissions": ("submissions", "rowid",
                    "instance_id, survey_id, version, kiosk, site, started, completed, lang,"
                    " enumerator, answers, receipt_code, source, stored_at"),
    "request_updates": ("request_updates", "id",
                        "id, instance_id, status, note, staff, kiosk, at, at_epoch"),
    "volunteer_checkins": ("volunteer_checkins", "id",
                           "id, number, kiosk, service, at, at_epoch, recorded_at"),
    "volunteer_checkouts": (
        "volunteer_checkout_order o JOIN volunteer_checkouts c USING (session_id)", "o.seq",
        "c.session_id, c.kiosk, c.at, c.at_epoch, c.closed_by, c.flags, c.recorded_at"),
    "volunteer_corrections": ("volunteer_corrections", "id", CORRECTION_COLUMNS),
    "audit": ("audit", "id", "id, at, at_epoch, kiosk, staff, action, target, detail"),
}

SYNC_COLUMNS: dict[str, tuple[str, ...]] = {
    stream: tuple(column.strip().removeprefix("c.") for column in columns.split(","))
    for stream, (_table, _key, columns) in _SYNC_SOURCES.items()}


class SyncCursors(StoreBase):
    """Reading the streams a sync sends, and moving its cursors."""

    def database_id(self) -> str:
        """This database's own id (made once, kept when the file is copied)."""
        return str(self.conn.execute(
            "SELECT value FROM meta WHERE key='database_id'").fetchone()[0])

    def sync_bounds(self) -> dict[str, int]:
        """The last key of every stream, read together: a sync sends rows up to these, so
        what it sends refers only to rows it sends too (a request update to its submission,
        a check-out to its check-in)."""
        with self.read_snapshot():
            return {stream: int(self.conn.execute(
                f"SELECT coalesce(max({key}), 0) FROM {table}").fetchone()[0])
                for stream, (table, key, _columns) in _SYNC_SOURCES.items()}

    def sync_cursors(self, central: str) -> dict[str, int]:
        """The last key sent to the central database ``central`` (its installation id)."""
        found = dict(self.conn.execute(
            "SELECT stream, last_key FROM sync_cursors WHERE central=?", (central,)).fetchall())
        return {stream: int(found.get(stream, 0)) for stream in _SYNC_SOURCES}

    def sync_pending(self, after: dict[str, int], upto: dict[str, int]) -> dict[str, int]:
        """How many rows of each stream lie after the cursor, up to the bound."""
        return {stream: int(self.conn.execute(
            f"SELECT count(*) FROM {table} WHERE {key} > ? AND {key} <= ?",
            (after[stream], upto[stream])).fetchone()[0])
            for stream, (table, key, _columns) in _SYNC_SOURCES.items()}

    def sync_rows(self, stream: str, after: int, upto: int,
                  limit: int) -> tuple[int, list[tuple[Any, ...]]]:
        """Up to ``limit`` rows of ``stream`` after key ``after`` (and not past ``upto``), as
        tuples in the order of ``SYNC_COLUMNS[stream]``; with the key of the last one."""
        table, key, columns = _SYNC_SOURCES[stream]
        rows = self.conn.execute(
            f"SELECT {key}, {columns} FROM {table} WHERE {key} > ? AND {key} <= ?"
            f" ORDER BY {key} LIMIT ?", (after, upto, limit)).fetchall()
        if not rows:
            return after, []
        return int(rows[-1][0]), [row[1:] for row in rows]

    def set_sync_cursor(self, central: str, stream: str, last_key: int) -> None:
        """Record that ``central`` holds ``stream`` up to ``last_key`` (only after the
        central transaction committed; a crash before this just sends the batch again)."""
        self.conn.execute(
            "INSERT INTO sync_cursors(central, stream, last_key, synced_at) VALUES (?,?,?,?)"
            " ON CONFLICT(central, stream) DO UPDATE SET"
            " last_key=max(last_key, excluded.last_key), synced_at=excluded.synced_at",
            (central, stream, last_key, now_stamp()))  # two syncs at once: never backwards

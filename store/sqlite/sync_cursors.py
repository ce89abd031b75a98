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
                    " enumerator, answers, receipt_code, source, stored_at, entity"),
    # Review before counting (schema 11): staff's decisions and corrections, in the order
    # they were made here (both tables only grow; rowid is that order).
    "submission_reviews": ("reviews", "rowid",
                           "review_id, instance_id, state, note, staff, at, kiosk"),
    "submission_corrections": ("corrections", "rowid", "correction_id, instance_id, question,"
                               " old, new, why, staff, at, kiosk"),
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

    def relayed_signatures(self, after: int, upto: int
                           ) -> dict[int, tuple[str, int, str, bytes]]:
        """Submission key -> (signer, key version, payload, signature) of the submissions
        after ``after`` up to ``upto`` that came signed from another kiosk's bundle."""
        return {int(row[0]): (row[1], int(row[2]), row[3], bytes(row[4]))
                for row in self.conn.execute(
                    "SELECT s.rowid, r.signer, r.key_version, r.payload, r.signature"
                    " FROM submissions s JOIN relayed_signatures r USING (instance_id)"
                    " WHERE s.rowid > ? AND s.rowid <= ?", (after, upto))}

    def gated_from(self) -> int:
        """The first submission key stored through the record gate (schema 8): those
        before it were stored unchecked and are checked again when they leave."""
        row = self.conn.execute("SELECT value FROM meta WHERE key='gated_from'").fetchone()
        return int(row[0]) if row else 0

    def forms_of_submissions(self, after: int, upto: int) -> set[tuple[str, str]]:
        """(survey, version) of the submissions after key ``after`` up to ``upto``."""
        return {(row[0], row[1]) for row in self.conn.execute(
            "SELECT DISTINCT survey_id, version FROM submissions WHERE rowid > ?"
            " AND rowid <= ?", (after, upto))}

    def sync_rows(self, stream: str, after: int, upto: int,
                  limit: int) -> tuple[int, list[tuple[Any, ...]]]:
        """Up to ``limit`` rows of ``stream`` after key ``after`` (and not past ``upto``), as
        tuples in the order of ``SYNC_COLUMNS[stream]``; with the key of the last one."""
        keyed = self.sync_keyed_rows(stream, after, upto, limit)
        if not keyed:
            return after, []
        return keyed[-1][0], [row for _key, row in keyed]

    def sync_keyed_rows(self, stream: str, after: int, upto: int,
                        limit: int) -> list[tuple[int, tuple[Any, ...]]]:
        """(key, row) of up to ``limit`` rows of ``stream`` after ``after``, to ``upto``."""
        table, key, columns = _SYNC_SOURCES[stream]
        return [(int(row[0]), row[1:]) for row in self.conn.execute(
            f"SELECT {key}, {columns} FROM {table} WHERE {key} > ? AND {key} <= ?"
            f" ORDER BY {key} LIMIT ?", (after, upto, limit))]

    # ---- rows set aside --------------------------------------------------------------------
    # A row the central database may not take (one stored before the record gate, with a
    # NUL or NaN in it, say) is set aside with the reason, and the sync goes on without it.

    def set_aside(self, central: str, stream: str, entries: list[tuple[int, str]]) -> None:
        """Record rows of ``stream`` (key, why) that ``central`` did not take."""
        stamp = now_stamp()
        self.conn.executemany(
            "INSERT OR REPLACE INTO sync_set_aside(central, stream, key, reason, at)"
            " VALUES (?,?,?,?,?)", [(central, stream, key, reason, stamp)
                                    for key, reason in entries])

    def set_aside_count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM sync_set_aside").fetchone()[0])

    def set_aside_rows(self) -> list[dict[str, Any]]:
        """Every row set aside: where it was to go, why, when, and the row itself."""
        found = []
        for central, stream, key, reason, at in self.conn.execute(
                "SELECT central, stream, key, reason, at FROM sync_set_aside"
                " ORDER BY at, stream, key").fetchall():
            table, key_column, columns = _SYNC_SOURCES[stream]
            row = self.conn.execute(f"SELECT {columns} FROM {table} WHERE {key_column} = ?",
                                    (key,)).fetchone()
            found.append({"central": central, "stream": stream, "key": key, "reason": reason,
                          "at": at, "row": None if row is None else dict(
                              zip(SYNC_COLUMNS[stream], row, strict=True))})
        return found

    def set_sync_cursor(self, central: str, stream: str, last_key: int) -> None:
        """Record that ``central`` holds ``stream`` up to ``last_key`` (only after the
        central transaction committed; a crash before this just sends the batch again)."""
        self.conn.execute(
            "INSERT INTO sync_cursors(central, stream, last_key, synced_at) VALUES (?,?,?,?)"
            " ON CONFLICT(central, stream) DO UPDATE SET"
            " last_key=max(last_key, excluded.last_key), synced_at=excluded.synced_at",
            (central, stream, last_key, now_stamp()))  # two syncs at once: never backwards

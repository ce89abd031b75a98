"""The kiosk's bitmaps of submissions (store/bitmaps.py says what they hold and why), kept in
SQLite beside the tallies and changed in the same transaction as the flat rows they index.

``stats_bitmaps`` holds one row per (survey, piece, question, value): the portable roaring
serialisation of the piece's submissions with that key. ``stats_bitmap_pieces`` gives every
piece the random stamp store/bitmaps.py's ``PieceCache`` reloads by. A kiosk storing a
submission changes the newest piece only, so the next figures read a few hundred small rows
instead of every bitmap.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

from pyroaring import BitMap

from store.bitmaps import (
    REVIEW,
    BitmapIndex,
    Key,
    PieceCache,
    bitmap_pieces,
    chunk_of,
    chunk_range,
    packed,
    row_keys,
)


class BitmapTables:
    """The bitmaps of one database connection: written with each flat row, read through a
    cache that follows the stamps."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.conn = connection
        self._ready = False
        self._cache = PieceCache()

    def create(self) -> None:
        # A rowid table with a unique index: a piece of a frequent answer is 8 kB, too large
        # for a WITHOUT ROWID table's b-tree cells.
        self.conn.execute(
            "CREATE TABLE stats_bitmaps(survey_id TEXT NOT NULL, chunk INTEGER NOT NULL,"
            " question TEXT NOT NULL, value NOT NULL, bits BLOB NOT NULL)")
        self.conn.execute("CREATE UNIQUE INDEX stats_bitmaps_key"
                          " ON stats_bitmaps(survey_id, chunk, question, value)")
        self.conn.execute(
            "CREATE TABLE stats_bitmap_pieces(survey_id TEXT NOT NULL, chunk INTEGER NOT NULL,"
            " stamp INTEGER NOT NULL, PRIMARY KEY(survey_id, chunk)) WITHOUT ROWID")
        self._ready = True

    def ready(self) -> bool:
        """Whether this database has the tables (a migration below schema 12 adds rows
        before they exist: step 12 builds them from the flat tables)."""
        if not self._ready:
            self._ready = self.conn.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'stats_bitmaps'").fetchone() is not None
        return self._ready

    # ---- writing (inside the caller's transaction) ---------------------------------------

    def add_rows(self, survey_id: str, rows: Iterable[tuple[int, list[Key]]]) -> None:
        """Set the bits of these (submission number, keys)."""
        ids: dict[Key, list[int]] = {}
        for number, keys in rows:
            for key in keys:
                ids.setdefault(key, []).append(number)
        self.add(survey_id, {key: BitMap(numbers) for key, numbers in ids.items()})

    def add(self, survey_id: str, ids: Mapping[Key, BitMap]) -> None:
        """Set the bits of these numbers (key -> the submissions that have it)."""
        for chunk, keys in bitmap_pieces(ids).items():
            for (question, value), numbers in keys.items():
                bitmap = self._read(survey_id, chunk, question, value)
                bitmap |= numbers
                self._write(survey_id, chunk, question, value, bitmap)
            self._stamp(survey_id, chunk)

    def remove(self, survey_id: str, number: int, question: str | None = None) -> None:
        """Clear a submission's bit in every bitmap of its piece (or only in ``question``'s)."""
        chunk = chunk_of(number)
        condition, parameters = ("", []) if question is None else (" AND question = ?",
                                                                  [question])
        for key_question, value, bits in self.conn.execute(
                "SELECT question, value, bits FROM stats_bitmaps WHERE survey_id = ?"
                f" AND chunk = ?{condition}", [survey_id, chunk, *parameters]).fetchall():
            bitmap = BitMap.deserialize(bits)
            if number in bitmap:
                bitmap.discard(number)
                self._write(survey_id, chunk, key_question, value, bitmap)
        self._stamp(survey_id, chunk)

    def set_review(self, survey_id: str, number: int, state: str) -> None:
        self.remove(survey_id, number, REVIEW)
        self.add_rows(survey_id, [(number, [(REVIEW, state)])])

    def _read(self, survey_id: str, chunk: int, question: str, value: Any) -> BitMap:
        row = self.conn.execute(
            "SELECT bits FROM stats_bitmaps WHERE survey_id = ? AND chunk = ? AND question = ?"
            " AND value = ?", (survey_id, chunk, question, value)).fetchone()
        return BitMap() if row is None else BitMap.deserialize(row[0])

    def _write(self, survey_id: str, chunk: int, question: str, value: Any,
               bitmap: BitMap) -> None:
        if not bitmap:
            self.conn.execute(
                "DELETE FROM stats_bitmaps WHERE survey_id = ? AND chunk = ? AND question = ?"
                " AND value = ?", (survey_id, chunk, question, value))
            return
        self.conn.execute(
            "INSERT INTO stats_bitmaps(survey_id, chunk, question, value, bits)"
            " VALUES (?,?,?,?,?) ON CONFLICT(survey_id, chunk, question, value)"
            " DO UPDATE SET bits = excluded.bits",
            (survey_id, chunk, question, value, packed(bitmap)))

    def _stamp(self, survey_id: str, chunk: int) -> None:
        self.conn.execute(
            "INSERT INTO stats_bitmap_pieces(survey_id, chunk, stamp) VALUES (?,?,?)"
            " ON CONFLICT DO UPDATE SET stamp = excluded.stamp",
            (survey_id, chunk, secrets.randbits(62)))

    def rebuild(self, survey_id: str, table: str,
                questions: Iterable[tuple[str, str]]) -> None:
        """Make a survey's bitmaps again from its flat table (``table``, quoted), a piece at
        a time (schema step 12; tests compare it with the bitmaps kept as rows arrive)."""
        wanted = list(questions)
        self.conn.execute("DELETE FROM stats_bitmaps WHERE survey_id = ?", (survey_id,))
        self.conn.execute("DELETE FROM stats_bitmap_pieces WHERE survey_id = ?", (survey_id,))
        top = self.conn.execute(f"SELECT max(_id) FROM {table}").fetchone()[0]
        for chunk in range(0, chunk_of(top) + 1 if top is not None else 0):
            cursor = self.conn.execute(
                f"SELECT * FROM {table} WHERE _id >= ? AND _id < ?", chunk_range(chunk))
            columns = [description[0] for description in cursor.description]
            rows = [(values[0], row_keys(dict(zip(columns, values, strict=True)), wanted))
                    for values in cursor]
            if rows:
                self.add_rows(survey_id, rows)

    # ---- reading (inside the caller's read snapshot) -------------------------------------

    def index(self, survey_id: str) -> BitmapIndex:
        """The survey's bitmaps as the current snapshot has them."""
        stamps = dict(self.conn.execute(
            "SELECT chunk, stamp FROM stats_bitmap_pieces WHERE survey_id = ?", (survey_id,)))

        def piece(chunk: int) -> dict[Key, BitMap]:
            return {(question, value): BitMap.deserialize(bits)
                    for question, value, bits in self.conn.execute(
                        "SELECT question, value, bits FROM stats_bitmaps WHERE survey_id = ?"
                        " AND chunk = ?", (survey_id, chunk))}

        return self._cache.index(survey_id, stamps, piece)

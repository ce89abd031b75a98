"""The city-wide bitmaps of submissions (central schema 7): the same keys as a kiosk's
(store/bitmaps.py), over every kiosk's submissions, so that filters on answers, cross-tabs and
breakdowns by place answer from popcounts here too.

A submission gets a ``number`` (an identity column, in the order they arrive); its bitmaps are
pieces of 65,536 numbers in ``stats_bitmaps`` (the value as JSON text), each piece with a
random stamp in ``stats_bitmap_pieces``, read through the same cache as a kiosk's.

PostgreSQL has no roaring bitmaps (pg_roaringbitmap is not in Debian), so the push functions
cannot change them: each submission added, review decision or correction puts the
submission's number in ``stats_bitmap_queue``, in the transaction that changed it. Then:

- a reader takes the pieces as stored and, in the same snapshot, the submissions still in the
  queue, and sets their keys as they are now in memory: the figures are exact for its
  snapshot whether or not the pieces are up to date;
- ``bring_up_to_date`` (``kiosk central index``, and ``kiosk central init``; the
  administrator's role) writes the queued submissions into the pieces and empties the queue.
  Run every few minutes, it keeps a reader's work small. It reads the queue after taking
  it, so a change committed meanwhile stays queued for the next run: nothing is missed.

Personal answers (pii questions) have no bitmaps: a role that may read them gets its
figures from the answers themselves (store/central/stats.py).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from pyroaring import BitMap

from store.bitmaps import (
    BitmapIndex,
    Key,
    PieceCache,
    answers_row,
    bitmap_pieces,
    chunk_of,
    chunk_range,
    once_asked,
    packed,
    row_keys,
)
from surveys.form import Form

if TYPE_CHECKING:
    import psycopg

SCHEMA_7 = (
    "ALTER TABLE submissions ADD COLUMN number bigint GENERATED ALWAYS AS IDENTITY",
    "CREATE UNIQUE INDEX submissions_number ON submissions (number)",
    'CREATE TABLE stats_bitmaps (survey_id text COLLATE "C" NOT NULL, chunk integer NOT NULL,'
    ' question text COLLATE "C" NOT NULL, value text COLLATE "C" NOT NULL,'
    " bits bytea NOT NULL, PRIMARY KEY (survey_id, chunk, question, value))",
    'CREATE TABLE stats_bitmap_pieces (survey_id text COLLATE "C" NOT NULL,'
    " chunk integer NOT NULL, stamp bigint NOT NULL, PRIMARY KEY (survey_id, chunk))",
    "CREATE TABLE stats_bitmap_queue (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " number bigint NOT NULL)",
    # Every submission already here waits for its first bitmaps.
    "INSERT INTO stats_bitmap_queue (number) SELECT number FROM submissions ORDER BY number",
)

# What the keys of a submission are made of (its answers as corrected; personal ones apart).
_ROW = ("s.number, s.survey_id, s.version, s.stats_day, s.kiosk, s.site, s.enumerator,"
        " s.review, coalesce(s.corrected, s.answers)")

# Any two runs of bring_up_to_date: one waits for the other (an arbitrary key).
_INDEX_LOCK = 0x53474B49


class _Forms:
    """The questions asked once per submission, per form version, read once."""

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self.conn = connection
        self._kinds: dict[tuple[str, str], list[tuple[str, str]]] = {}

    def kinds(self, survey_id: str, version: str) -> list[tuple[str, str]]:
        key = (survey_id, version)
        if key not in self._kinds:
            row = self.conn.execute("SELECT compiled FROM forms WHERE survey_id = %s"
                                    " AND version = %s", key).fetchone()
            self._kinds[key] = once_asked(Form(row[0])) if row is not None else []
        return self._kinds[key]


def _keys(forms: _Forms, rows: Iterable[Sequence[Any]]) -> dict[Key, list[int]]:
    """Key -> the numbers of these submission rows (``_ROW``) that have it."""
    ids: dict[Key, list[int]] = {}
    for number, survey_id, version, day, kiosk, site, enumerator, review, answers in rows:
        kinds = forms.kinds(survey_id, version)
        row = answers_row(answers or {}, kinds, day=day or "", kiosk=kiosk, site=site,
                          enumerator=enumerator, review=review)
        for key in row_keys(row, kinds):
            ids.setdefault(key, []).append(number)
    return ids


def _value(text: str) -> Any:
    return json.loads(text)


def _text(value: Any) -> str:
    """A key's value as stored: JSON, a whole float as its integer (3.0 and 3 are one key,
    as they are one value to Python and to SQLite)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return json.dumps(value, ensure_ascii=False)


class CentralBitmaps:
    """The bitmaps as a reader of one connection sees them (inside its snapshot)."""

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self.conn = connection
        self._cache = PieceCache()
        self._forms = _Forms(connection)
        # The index with the queue applied, for the stamps and queue entries it was made of.
        self._queued: tuple[Any, BitmapIndex] | None = None

    def index(self, survey_id: str) -> BitmapIndex:
        stamps = {int(chunk): int(stamp) for chunk, stamp in self.conn.execute(
            "SELECT chunk, stamp FROM stats_bitmap_pieces WHERE survey_id = %s",
            (survey_id,))}

        def piece(chunk: int) -> dict[Key, BitMap]:
            return {(question, _value(value)): BitMap.deserialize(bytes(bits))
                    for question, value, bits in self.conn.execute(
                        "SELECT question, value, bits FROM stats_bitmaps WHERE survey_id = %s"
                        " AND chunk = %s", (survey_id, chunk))}

        stored = self._cache.index(survey_id, stamps, piece)
        queued = [row[0] for row in self.conn.execute(
            "SELECT q.seq FROM stats_bitmap_queue q JOIN submissions s ON s.number = q.number"
            " WHERE s.survey_id = %s ORDER BY q.seq", (survey_id,))]
        if not queued:
            return stored
        made_of = (survey_id, tuple(sorted(stamps.items())), tuple(queued))
        if self._queued is not None and self._queued[0] == made_of:
            return self._queued[1]
        rows = self.conn.execute(
            f"SELECT DISTINCT ON (s.number) {_ROW} FROM stats_bitmap_queue q"
            " JOIN submissions s ON s.number = q.number WHERE s.survey_id = %s"
            " ORDER BY s.number", (survey_id,)).fetchall()
        index = stored.changed(BitMap(row[0] for row in rows), _keys(self._forms, rows))
        self._queued = (made_of, index)
        return index


def bring_up_to_date(connection: psycopg.Connection[Any]) -> int:
    """Write the queued submissions into the pieces, in one transaction; returns how many.

    The queue is emptied first, then the submissions read: a decision committed while this
    runs is either read here or queued again by its own transaction."""
    forms = _Forms(connection)
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (_INDEX_LOCK,))
        numbers = sorted({row[0] for row in connection.execute(
            "DELETE FROM stats_bitmap_queue RETURNING number")})
        for start in range(0, len(numbers), 50_000):
            part = numbers[start:start + 50_000]
            rows = connection.execute(
                f"SELECT {_ROW} FROM submissions s WHERE s.number = ANY(%s)"
                " ORDER BY s.survey_id, s.number", (part,)).fetchall()
            by_survey: dict[str, list[Any]] = {}
            for row in rows:
                by_survey.setdefault(row[1], []).append(row)
            for survey_id, found in by_survey.items():
                _write(connection, survey_id, [row[0] for row in found],
                       _keys(forms, found))
    return len(numbers)


def _write(connection: psycopg.Connection[Any], survey_id: str, numbers: list[int],
           ids: dict[Key, list[int]]) -> None:
    """Set the keys of ``numbers`` (cleared first, wherever they were) in their pieces."""
    pieces = bitmap_pieces({key: BitMap(numbers) for key, numbers in ids.items()})
    for chunk in sorted({chunk_of(number) for number in numbers}):
        low, high = chunk_range(chunk)
        taken = BitMap(number for number in numbers if low <= number < high)
        stored = {(question, value): BitMap.deserialize(bytes(bits))
                  for question, value, bits in connection.execute(
                      "SELECT question, value, bits FROM stats_bitmaps WHERE survey_id = %s"
                      " AND chunk = %s", (survey_id, chunk))}
        added: dict[tuple[str, str], BitMap] = {}
        for (question, value), found in pieces.get(chunk, {}).items():
            added.setdefault((question, _text(value)), BitMap()).update(found)
        rows = []
        gone = []
        for key in set(stored) | set(added):
            before = stored.get(key)
            bitmap = BitMap() if before is None else before - taken
            bitmap.update(added.get(key, ()))
            if before is not None and bitmap == before:
                continue
            if bitmap:
                rows.append((survey_id, chunk, *key, packed(bitmap)))
            else:
                gone.append((survey_id, chunk, *key))
        with connection.cursor() as cursor:
            if rows:
                cursor.executemany(
                    "INSERT INTO stats_bitmaps (survey_id, chunk, question, value, bits)"
                    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (survey_id, chunk, question,"
                    " value) DO UPDATE SET bits = excluded.bits", rows)
            if gone:
                cursor.executemany(
                    "DELETE FROM stats_bitmaps WHERE survey_id = %s AND chunk = %s"
                    " AND question = %s AND value = %s", gone)
        connection.execute(
            "INSERT INTO stats_bitmap_pieces (survey_id, chunk, stamp) VALUES (%s, %s, %s)"
            " ON CONFLICT (survey_id, chunk) DO UPDATE SET stamp = excluded.stamp",
            (survey_id, chunk, secrets.randbits(62)))


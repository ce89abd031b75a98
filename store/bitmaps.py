"""Compressed bitmaps of submissions (issue 18): for every answer, the set of submissions that
gave it, so that a filter on answers is an AND of sets and a cross-tab cell a popcount.

The sets are roaring bitmaps (CRoaring through pyroaring) of a submission's number in its
survey's flat table (``_id``, the kiosk's rowid). Each bitmap is keyed by (question, value):

- (question, ``""``): the submissions that answered the question; (question, choice) those
  that chose it (select_one, likert, each choice of a select_multiple); (question, value)
  for whole numbers and dates, as the tallies count them. Decimals and texts have only the
  first (their values are read from the flat table).
- Every submission under ("", ""), as the tallies count them; where each was made and what
  review gave it, under names no question can have (``#`` is in none): ``#day``,
  ``#kiosk``, ``#site``, ``#enumerator`` (``""`` for none), ``#review`` (``pending`` when
  never reviewed).

They index the flat table, row for row: a void submission keeps its bits (``--review void``
finds it) and the filters take it out as the SQL over the flat table does. Why bitmaps
(measured on 1,000,000 satisfaction submissions, 2 cores, scripts/bench.py section 8): a
filter on an answer with every question's tallies took 1.4 s as one scan of the flat table,
a cross-tab 0.6 s; from the bitmaps, a few milliseconds, about 12 MB for the million.

The database keeps them in pieces of 65,536 submissions (``chunk``: ``_id >> 16``, one
roaring container each), so storing one submission rewrites only the pieces it falls in.
This module holds what both databases share: which keys a flat row has, the pieces, and the
figures computed from a loaded index; store/sqlite/bitmaps.py stores them in the kiosk's
SQLite.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyroaring import BitMap

from surveys.form import Form
from surveys.stats.model import (
    Question,
    StatsFilter,
    Tallies,
    add_column_totals,
    empty_crosstab,
    statistic_kind,
    tallies_by_place,
)
from surveys.stats.sites import street_of

CHUNK_BITS = 16  # submissions per stored piece: 1 << 16, one roaring container
ANSWERED = ""  # the value of a question's key that holds everyone who answered it
ALL = ("", "")  # every submission: the key no question has (as the tallies count them)
DAY, KIOSK, SITE, ENUMERATOR, REVIEW = "#day", "#kiosk", "#site", "#enumerator", "#review"
NOT_REVIEWED = "pending"
VALUE_KINDS = frozenset({"select_one", "likert", "integer", "date"})

Key = tuple[str, Any]


def row_keys(row: Mapping[str, Any], questions: Iterable[tuple[str, str]]) -> list[Key]:
    """The keys of a survey's flat row (a dict of its columns), for ``questions`` (name,
    statistic kind) asked once per submission. Built from the row as stored, so the bitmaps
    hold what the SQL over the flat table finds."""
    keys: list[Key] = [ALL, (DAY, row["_day"]), (KIOSK, row.get("_kiosk") or ""),
                       (SITE, row.get("_site") or ""), (ENUMERATOR, row.get("_enumerator") or ""),
                       (REVIEW, row.get("_review") or NOT_REVIEWED)]
    for name, kind in questions:
        value = row.get(name)
        if value is None or value == "" or (isinstance(value, float) and not math.isfinite(value)):
            continue  # SQLite keeps NaN as NULL: no answer in the flat table either
        keys.append((name, ANSWERED))
        if kind == "select_multiple":
            keys.extend((name, choice) for choice in str(value).split())
        elif kind in VALUE_KINDS and isinstance(value, str | int | float):
            keys.append((name, value))  # (an object stored before the gate: answered only)
    return keys


def once_asked(form: Form) -> list[tuple[str, str]]:
    """(name, statistic kind) of the questions of a form version that statistics summarise
    and that are asked once per submission (not inside a repeat)."""
    return [(item.name, kind) for item in form.items
            if (kind := statistic_kind(item)) is not None and not form.repeat_chain.get(item.name)]


def answers_row(answers: Mapping[str, Any], questions: Iterable[tuple[str, str]], *,
                day: str, kiosk: str | None, site: str | None, enumerator: str | None,
                review: str | None) -> dict[str, Any]:
    """A submission as a kiosk's flat table row holds it (store/sqlite/tallies.py), for
    ``row_keys``: the central database, which has no flat table, finds the same keys."""
    row: dict[str, Any] = {"_day": day, "_kiosk": kiosk, "_site": site,
                           "_enumerator": enumerator, "_review": review}
    for name, kind in questions:
        value = answers.get(name)
        if value is None or value == "" or value == []:
            continue
        if kind == "select_multiple":
            chosen = value if isinstance(value, list) else str(value).split()
            row[name] = " ".join(map(str, chosen))
        else:
            row[name] = value
    return row


def chunk_of(number: int) -> int:
    return number >> CHUNK_BITS


def chunk_range(chunk: int) -> tuple[int, int]:
    """The numbers a piece holds: from the first, up to the second (not included)."""
    return chunk << CHUNK_BITS, (chunk + 1) << CHUNK_BITS


def bitmap_pieces(ids: Mapping[Key, BitMap]) -> dict[int, dict[Key, BitMap]]:
    """Key -> numbers, as pieces: per piece, per key, its part of the key's bitmap (a batch
    of rows stored together usually falls in one piece: then nothing is copied)."""
    held = {key: bits for key, bits in ids.items() if bits}
    if not held:
        return {}
    low = chunk_of(min(bits.min() for bits in held.values()))
    high = chunk_of(max(bits.max() for bits in held.values()))
    if low == high:
        return {low: held}
    pieces: dict[int, dict[Key, BitMap]] = {}
    for chunk in range(low, high + 1):
        window = BitMap(range(*chunk_range(chunk)))
        for key, bits in held.items():
            part = bits & window
            if part:
                pieces.setdefault(chunk, {})[key] = part
    return pieces


def packed(bitmap: BitMap) -> bytes:
    """The portable serialisation (runs compressed: a day's submissions are one run)."""
    bitmap.run_optimize()
    return bytes(bitmap.serialize())


_EMPTY = BitMap()


class BitmapIndex:
    """One survey's bitmaps, merged over its pieces: {question: {value: submissions}}."""

    def __init__(self, maps: dict[str, dict[Any, BitMap]]) -> None:
        self.maps = maps

    def changed(self, numbers: BitMap, ids: Mapping[Key, Sequence[int]]) -> BitmapIndex:
        """A new index: ``numbers`` taken out of every bitmap, then set where ``ids`` says
        (their keys as they are now); this one is left as it was."""
        maps: dict[str, dict[Any, BitMap]] = {}
        for question, values in self.maps.items():
            for value, bitmap in values.items():
                kept = bitmap - numbers if bitmap.intersect(numbers) else bitmap
                if kept:
                    maps.setdefault(question, {})[value] = kept
        for (question, value), found in ids.items():
            values = maps.setdefault(question, {})
            values[value] = values.get(value, _EMPTY) | BitMap(found)
        return BitmapIndex(maps)

    def get(self, question: str, value: Any) -> BitMap:
        """The submissions with this key (an empty bitmap none may change when none)."""
        return self.maps.get(question, {}).get(value, _EMPTY)

    def values(self, question: str) -> dict[Any, BitMap]:
        """Value -> submissions, without the key of those who answered."""
        return {value: bitmap for value, bitmap in self.maps.get(question, {}).items()
                if not (isinstance(value, str) and value == ANSWERED)}

    def _any_of(self, question: str, values: Iterable[Any]) -> BitMap:
        return BitMap.union(_EMPTY, *(self.get(question, value) for value in values))

    def chosen(self, filters: StatsFilter) -> BitMap:
        """The submissions ``filters`` keeps, as the SQL over the flat table
        (store/filters.py) keeps them."""
        if filters.review:
            chosen = self.get(*ALL) & self._any_of(REVIEW, filters.review)
        else:
            chosen = self.get(*ALL) - self.get(REVIEW, "void")
        if filters.date_from is not None or filters.date_to is not None:
            low = filters.date_from.isoformat() if filters.date_from else ""
            high = filters.date_to.isoformat() if filters.date_to else "\uffff"
            chosen &= self._any_of(DAY, [day for day in self.maps.get(DAY, {})
                                         if low <= day <= high])
        for question, values in ((KIOSK, filters.kiosks), (SITE, filters.sites),
                                 (ENUMERATOR, filters.enumerators)):
            if values:
                chosen &= self._any_of(question, values)
        for name, value in filters.where.items():
            chosen &= self.get(name, value)
        return chosen

    def _count_into(self, chosen: BitMap, question: Question, answered: dict[str, int],
                    counts: dict[str, dict[Any, int]]) -> None:
        answered[question.name] = chosen.intersection_cardinality(
            self.get(question.name, ANSWERED))
        if question.kind in ("integer", "date"):
            found = {value: chosen.intersection_cardinality(bitmap)
                     for value, bitmap in self.values(question.name).items()}
            counts[question.name] = {value: n for value, n in found.items() if n}
        elif question.choices:
            counts[question.name] = {choice: chosen.intersection_cardinality(
                self.get(question.name, choice)) for choice in question.choice_names}

    def tallies(self, questions: Iterable[Question], filters: StatsFilter) -> Tallies:
        """Submissions, respondents per question and per value under ``filters`` (the
        questions: those the flat table has a column for)."""
        chosen = self.chosen(filters)
        answered: dict[str, int] = {}
        counts: dict[str, dict[Any, int]] = {}
        for question in questions:
            self._count_into(chosen, question, answered, counts)
        return Tallies(len(chosen), answered, counts)

    def crosstab(self, by: Question, questions: Sequence[Question],
                 filters: StatsFilter) -> dict[str, Any]:
        """``stats_crosstab``'s answer: per question ``table`` {group: {choice: n}},
        ``row_n`` {group: respondents who answered} and ``column_n``."""
        chosen = self.chosen(filters)
        result = empty_crosstab(by, questions)
        for group in by.choice_names:
            inside = chosen & self.get(by.name, group)
            if not inside:
                continue
            for question in questions:
                entry = result[question.name]
                entry["row_n"][group] = inside.intersection_cardinality(
                    self.get(question.name, ANSWERED))
                row = entry["table"][group]
                for choice in question.choice_names:
                    row[choice] = inside.intersection_cardinality(
                        self.get(question.name, choice))
        if not by.is_multiple:
            return add_column_totals(result)
        # A respondent may be in several groups: the totals count each once.
        answered_by = chosen & self.get(by.name, ANSWERED)
        for question in questions:
            column_n = result[question.name]["column_n"]
            for choice in question.choice_names:
                column_n[choice] = answered_by.intersection_cardinality(
                    self.get(question.name, choice))
        return result

    def over_time(self, filters: StatsFilter) -> list[tuple[str, str, int]]:
        """(day, site, submissions) under ``filters``, by day then site."""
        chosen = self.chosen(filters)
        sites = sorted(self.maps.get(SITE, {}).items())
        rows: list[tuple[str, str, int]] = []
        for day, bitmap in sorted(self.maps.get(DAY, {}).items()):
            inside = chosen & bitmap
            if not inside:
                continue
            for site, members in sites:
                count = inside.intersection_cardinality(members)
                if count:
                    rows.append((day, site, count))
        return rows

    def by_place(self, questions: Sequence[Question], filters: StatsFilter,
                 dimension: str) -> dict[str, Tallies]:
        """Tallies of ``questions`` per street, community (its site ``街道/社区``) or kiosk
        (``dimension``) with any submission under ``filters``: each place's submissions
        counted as the whole survey's are."""
        chosen = self.chosen(filters)
        rows: list[tuple[str, str, Any, int]] = []
        for place, members in sorted(self.maps.get(KIOSK if dimension == "kiosk" else SITE,
                                                   {}).items()):
            inside = chosen & members
            if not inside:
                continue
            if dimension == "street":
                place = street_of(place)
            rows.append((place, "", None, len(inside)))
            for question in questions:
                rows.append((place, question.name, None, inside.intersection_cardinality(
                    self.get(question.name, ANSWERED))))
                rows.extend((place, question.name, choice, inside.intersection_cardinality(
                    self.get(question.name, choice))) for choice in question.choice_names)
        return tallies_by_place(rows)


@dataclass
class _Loaded:
    """One survey's bitmaps as last read: each piece's stamp, and the index merged over the
    pieces."""

    stamps: dict[int, int] = field(default_factory=dict)
    index: BitmapIndex = field(default_factory=lambda: BitmapIndex({}))


class PieceCache:
    """The surveys' indexes a connection read last, kept in memory: each stored piece has a
    random stamp that every change draws anew, so a read loads only the pieces whose stamp
    it has not seen (a counter could come back to a value after a rollback; a random stamp
    does not)."""

    def __init__(self) -> None:
        self._loaded: dict[str, _Loaded] = {}

    def index(self, survey_id: str, stamps: dict[int, int],
              load_piece: Callable[[int], dict[Key, BitMap]]) -> BitmapIndex:
        """The index for these stamps (piece -> stamp, as the reader's snapshot has them),
        loading each changed piece with ``load_piece``."""
        loaded = self._loaded.get(survey_id)
        if loaded is not None and loaded.stamps == stamps:
            return loaded.index
        if loaded is None:
            loaded = self._loaded[survey_id] = _Loaded()
        changed = {chunk for chunk, stamp in stamps.items() if loaded.stamps.get(chunk) != stamp}
        changed |= set(loaded.stamps) - set(stamps)
        pieces = {chunk: load_piece(chunk) for chunk in changed}
        loaded.stamps = dict(stamps)
        loaded.index = _merged(loaded.index, pieces)
        return loaded.index


def _merged(before: BitmapIndex, pieces: Mapping[int, Mapping[Key, BitMap]]) -> BitmapIndex:
    """The index from ``before`` with these pieces as they are now (pieces cover ranges of
    numbers that do not overlap: each is cut out and put back)."""
    if not before.maps:  # the first read: one union per key
        parts: dict[Key, list[BitMap]] = {}
        for piece in pieces.values():
            for key, bitmap in piece.items():
                parts.setdefault(key, []).append(bitmap)
        cold: dict[str, dict[Any, BitMap]] = {}
        for (question, value), found in parts.items():
            cold.setdefault(question, {})[value] = BitMap.union(*found)
        return BitmapIndex(cold)
    maps = {question: dict(values) for question, values in before.maps.items()}
    for chunk in sorted(pieces):
        low, high = chunk_range(chunk)
        piece = pieces[chunk]
        keys = set(piece) | {(question, value) for question, values in maps.items()
                             for value, bitmap in values.items()
                             if bitmap.range_cardinality(low, high)}
        for question, value in keys:
            values = maps.setdefault(question, {})
            bitmap = values.get(value)
            bitmap = BitMap() if bitmap is None else bitmap.copy()
            bitmap.remove_range(low, high)
            part = piece.get((question, value))
            if part is not None:
                bitmap |= part
            if bitmap:
                values[value] = bitmap
            else:
                values.pop(value, None)
    return BitmapIndex({question: values for question, values in maps.items() if values})

"""Tables for statistics, kept up to date in the transaction that stores each submission.

Two structures (schema 5), both written by ``StatsTables.add`` inside the insert's
transaction, so a reader's snapshot always sees the submissions and their counts together:

- **Tallies** (``stats_tally_total``, ``stats_tally_day``): respondents per (question,
  value), for the whole survey and per day (schema 5 kept them per (day, kiosk, site,
  enumerator) cell too, until the bitmaps below took that over in schema 12). Value ``''``
  of a question counts respondents who answered it (the denominator of its percentages);
  question ``''`` counts submissions. Values are choice names (each chosen choice of a
  select_multiple counts once), whole numbers and dates. ``stats_cells`` counts submissions
  per (day, kiosk, site, enumerator) cell, for the time series.
- **A flat table per survey** (``flat_<survey>``): one row per submission (``_id`` is the
  submission's rowid), one column per question name across versions (added with ALTER TABLE
  when a version brings a new one) and for select_multiple also one 0/1 column per choice,
  named ``question/choice`` as KoboToolbox exports them. Filters on answers, cross-tabs,
  decimals (whose values are too many to keep as counts), text answers and filtered exports
  read it.

Why these (measured on 1,000,000 generated satisfaction submissions, 2 cores, see
scripts/bench.py section 8): SQLite sorts for every GROUP BY, about 0.26 s per question over
the flat table, and one pass computing every question's counts takes 2.7 s; DuckDB, with the
same columns already in memory, takes 0.24 s for every question. The tallies hold a few
hundred rows per survey (that many per day), so all-question tallies without filters take
5 ms: no scan of the submissions at all. A filter on answers scanning the flat table took
1.2 s for the 35 % who are elderly, a cross-tab 0.5 s: those, and filters on places, read
the bitmaps (below). Keeping the tallies, flat rows and bitmaps costs the writer about
20 µs of CPU per submission in a bulk insert (the tallies are counted from the bitmaps
of the batch: a key's rows, per day the size of their intersection with the day's rows;
1,000,000 in batches of 20,000: 23,900 a second); a kiosk storing one submission at a time
takes about 1.2 ms a save (a plain INSERT of the same row: 0.2 ms).

Since schema 12 each flat row's answers are also kept as **bitmaps** of submissions
(store/bitmaps.py, store/sqlite/bitmaps.py), written here with the row: a filter on answers
is an AND and each count of it or of a cross-tab a popcount (1,000,000 submissions: 4.6 ms
for every question's tallies of the elderly, 5.2 ms for a cross-tab). The flat table is still
read for decimals and text answers.

Days are calendar days of the completion time in China time (Asia/Shanghai), the zone of
every station; they are fixed when a submission is stored.

Repeat groups (issue 16): a question inside a repeat has no column in the survey's flat
table and no tallies; each repeat has **a flat table of its own**, ``flat_<survey>/<path>``
(``flat_household/members``; nested: ``flat_repeats_probe/visits/services``), one row per
instance (``_rid``; ``_sub`` the submission's ``_id``, indexed), its questions as columns
the same way, created with the first form version that has the repeat (no schema step).
The survey's flat table has a column ``<path>#`` per repeat: the number of instances the
submission holds (0 for none; NULL for a version without that repeat), so the figures per
submission are one GROUP BY and filters on submission-level answers reach the instances
through ``_sub``. Questions inside repeats are read from these tables under every filter (no
tallies: a survey with repeats pays a scan of its instances per question read). A form
without repeats does none of this work when its submissions are stored.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from pyroaring import BitMap

from store.bitmaps import (
    ALL,
    DAY,
    ENUMERATOR,
    KIOSK,
    NOT_REVIEWED,
    REVIEW,
    SITE,
    VALUE_KINDS,
    Key,
    row_keys,
)
from store.sqlite.bitmaps import BitmapTables
from surveys.clock import day_of
from surveys.form import Form
from surveys.stats.model import answered_value, instances_at, repeat_key, statistic_kind

if TYPE_CHECKING:
    from surveys.session import Submission

ANSWERED = ""  # the value that counts respondents who answered a question
SUBMISSIONS = ""  # the question that counts submissions
META_COLUMNS = ("_id", "_version", "_day", "_kiosk", "_site", "_enumerator", "_review")


def quoted(name: str) -> str:
    """An SQL identifier in double quotes (question names may hold '-', '.' and '/')."""
    return '"' + name.replace('"', '""') + '"'


def flat_table(survey_id: str) -> str:
    return quoted(f"flat_{survey_id}")


def repeat_table_name(survey_id: str, key: str) -> str:
    """The unquoted name of the flat table of a repeat (``key``: its path joined by ``/``,
    which no survey id holds, so it never meets another survey's table)."""
    return f"flat_{survey_id}/{key}"


def repeat_table(survey_id: str, key: str) -> str:
    return quoted(repeat_table_name(survey_id, key))


def instance_count_column(key: str) -> str:
    """The survey flat table's column counting a submission's instances of a repeat."""
    return f"{key}#"


REPEAT_META_COLUMNS = ("_rid", "_sub")


def choice_column(question: str, choice: str) -> str:
    return f"{question}/{choice}"


def _questions(form: Form, path: tuple[str, ...]) -> list[tuple[str, str, dict[str, str]]]:
    """(name, kind, choice -> its 0/1 column) of the questions directly at ``path`` (() for
    those asked once per submission) that statistics summarise; the columns are {} except
    for select_multiple."""
    questions = []
    for item in form.items:
        kind = statistic_kind(item)
        if kind is None or form.repeat_chain.get(item.name, ()) != path:
            continue
        columns = {choice.name: choice_column(item.name, choice.name)
                   for choice in form.choices_for(item)} \
            if kind == "select_multiple" else {}
        questions.append((item.name, kind, columns))
    return questions


def _columns(questions: Sequence[tuple[str, str, dict[str, str]]]) -> list[str]:
    columns: list[str] = []
    for name, _kind, choices in questions:
        columns.append(name)
        columns.extend(choices.values())
    return columns


class _RepeatLayout:
    """What a form version puts in the flat table of one of its repeats."""

    def __init__(self, form: Form, path: tuple[str, ...]) -> None:
        self.path = path
        self.key = repeat_key(path)
        self.questions = _questions(form, path)
        self.zeros = {name: dict.fromkeys(columns.values(), 0)
                      for name, _kind, columns in self.questions}

    def columns(self) -> list[str]:
        return _columns(self.questions)


class _Layout:
    """What a form version puts in the tallies and the flat tables."""

    def __init__(self, form: Form) -> None:
        self.questions = _questions(form, ())
        self.kinds = [(name, kind) for name, kind, _choices in self.questions]
        self.zeros = {name: dict.fromkeys(columns.values(), 0)
                      for name, _kind, columns in self.questions}
        # name -> (kind, choice columns, its "answered" key, whether its value is counted)
        self.by_name = {name: (kind, columns, (name, ANSWERED), kind in VALUE_KINDS)
                        for name, kind, columns in self.questions}
        # Empty for a form without repeats: its submissions take none of the repeat work.
        self.repeats = [_RepeatLayout(form, form.repeat_chain[name]) for name in form.repeats]

    def columns(self) -> list[str]:
        return _columns(self.questions) + [instance_count_column(repeat.key)
                                           for repeat in self.repeats]


class StatsUpkeep:
    """Keeps the statistics tables of one database connection: created with the schema, a
    flat-table column for every question of each form version, and every new submission
    counted in the transaction that stores it."""

    def __init__(self, connection: sqlite3.Connection,
                 load_form: Any) -> None:
        self.conn = connection
        self.load_form = load_form
        self._layouts: dict[tuple[str, str], _Layout] = {}
        self._columns: dict[str, list[str]] = {}
        self.bitmaps = BitmapTables(connection)

    def create(self) -> None:
        """The tables of schema 5 (flat tables come with each form version)."""
        dims = "day TEXT NOT NULL, kiosk TEXT NOT NULL, site TEXT NOT NULL, " \
               "enumerator TEXT NOT NULL"
        self.conn.execute(
            f"CREATE TABLE stats_cells(survey_id TEXT NOT NULL, {dims}, n INTEGER NOT NULL,"
            " PRIMARY KEY(survey_id, day, kiosk, site, enumerator)) WITHOUT ROWID")
        # value has no declared type: choice names stay text, whole numbers stay numbers.
        self.conn.execute(
            "CREATE TABLE stats_tally_total(survey_id TEXT NOT NULL, question TEXT NOT NULL,"
            " value NOT NULL, count INTEGER NOT NULL,"
            " PRIMARY KEY(survey_id, question, value)) WITHOUT ROWID")
        self.conn.execute(
            "CREATE TABLE stats_tally_day(survey_id TEXT NOT NULL, day TEXT NOT NULL,"
            " question TEXT NOT NULL, value NOT NULL, count INTEGER NOT NULL,"
            " PRIMARY KEY(survey_id, day, question, value)) WITHOUT ROWID")
        self.conn.execute(
            f"CREATE TABLE stats_tally_cell(survey_id TEXT NOT NULL, {dims},"
            " question TEXT NOT NULL, value NOT NULL, count INTEGER NOT NULL,"
            " PRIMARY KEY(survey_id, day, kiosk, site, enumerator, question, value))"
            " WITHOUT ROWID")

    def ensure_form(self, form: Form) -> None:
        """Give the survey's flat table a column for every question of this version.

        Text questions also get a partial index holding only their answers (in the order
        stored): listing the answers then reads that index, not the whole table (0.13 s
        instead of 0.37 s for 200,000 answers among 1,000,000 submissions).
        """
        layout = self._layout(form)
        self._ensure_columns(form.survey_id, layout.columns())
        tables = [(f"flat_{form.survey_id}", layout.questions, "_id")]
        for repeat in layout.repeats:
            self._ensure_repeat_columns(form.survey_id, repeat.key, repeat.columns())
            tables.append((repeat_table_name(form.survey_id, repeat.key), repeat.questions,
                           "_rid"))
        for table, questions, order in tables:
            for name, kind, _choices in questions:
                if kind == "text":
                    self.conn.execute(
                        f"CREATE INDEX IF NOT EXISTS {quoted(f'{table}_text_{name}')}"
                        f" ON {quoted(table)}({order}, {quoted(name)})"
                        f" WHERE {quoted(name)} IS NOT NULL")

    def _layout(self, form: Form) -> _Layout:
        key = (form.survey_id, form.version)
        layout = self._layouts.get(key)
        if layout is None:
            layout = self._layouts[key] = _Layout(form)
        return layout

    def table_columns(self, survey_id: str) -> list[str]:
        return [row[1] for row in self.conn.execute(
            f"PRAGMA table_info({flat_table(survey_id)})")]

    def repeat_table_columns(self, survey_id: str, key: str) -> list[str]:
        return [row[1] for row in self.conn.execute(
            f"PRAGMA table_info({repeat_table(survey_id, key)})")]

    def _ensure_repeat_columns(self, survey_id: str, key: str,
                               wanted: Sequence[str]) -> list[str]:
        """The flat table of a repeat, made with its first version, with these columns."""
        name = repeat_table_name(survey_id, key)
        columns = self._columns.get(name)
        if columns is not None and set(wanted) <= set(columns):
            return columns
        columns = self.repeat_table_columns(survey_id, key)  # another process may have
        if not columns:
            self.conn.execute(
                f"CREATE TABLE {quoted(name)}(_rid INTEGER PRIMARY KEY, _sub INTEGER NOT NULL)")
            self.conn.execute(f"CREATE INDEX {quoted(f'{name}_sub')} ON {quoted(name)}(_sub)")
            columns = list(REPEAT_META_COLUMNS)
        for column in wanted:
            if column not in columns:
                self.conn.execute(f"ALTER TABLE {quoted(name)} ADD COLUMN {quoted(column)}")
                columns.append(column)
        self._columns[name] = columns
        return columns

    def _ensure_columns(self, survey_id: str, wanted: Sequence[str]) -> list[str]:
        columns = self._columns.get(survey_id)
        if columns is not None and set(wanted) <= set(columns):
            return columns
        columns = self.table_columns(survey_id)  # another process may have added some
        if not columns:
            table = flat_table(survey_id)
            self.conn.execute(
                f"CREATE TABLE {table}(_id INTEGER PRIMARY KEY, _version TEXT, _day TEXT,"
                " _kiosk TEXT, _site TEXT, _enumerator TEXT, _review TEXT)")
            self.conn.execute(
                f"CREATE INDEX {quoted(f'flat_{survey_id}_day')} ON {table}(_day)")
            columns = list(META_COLUMNS)
        for name in wanted:
            if name not in columns:
                # No declared type: numbers stay numbers and choice names text.
                self.conn.execute(
                    f"ALTER TABLE {flat_table(survey_id)} ADD COLUMN {quoted(name)}")
                columns.append(name)
        self._columns[survey_id] = columns
        return columns

    def add(self, stored: Iterable[tuple[int, Submission]], *, tallies: bool = True,
            flat: bool = True, review: str | None = None, sign: int = 1) -> None:
        """Count newly stored submissions (rowid, submission); inside the insert's
        transaction, so the figures and the submissions are committed together.

        A review decision or a correction (store/sqlite/reviews.py) counts one again:
        ``tallies`` False leaves the counts alone (a void one is not counted), ``flat``
        False the flat tables (its row is there already); ``review`` is the state its row
        holds; ``sign`` -1 takes its counts away (only with ``flat`` False)."""
        # Per survey and key (store/bitmaps.py), the new rows that have it: the bits the
        # bitmaps gain, and the tallies (a question's keys counted, per day as well).
        keyed: dict[str, dict[Key, list[int]]] = {}
        cells: Counter[tuple[str, str, str, str, str]] = Counter()
        # A row holding NaN (stored before the gate) is counted apart: its tallies count
        # the question answered, its flat row (and so its bitmaps) holds NULL.
        odd_pairs: list[tuple[str, str, Key]] = []
        odd_keyed: dict[str, dict[Key, list[int]]] = {}
        flat_rows: dict[str, list[dict[str, Any]]] = {}
        flat_columns: dict[str, set[str]] = {}
        # Per (survey, repeat key): the instance rows and their columns.
        repeat_rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
        repeat_columns: dict[tuple[str, str], set[str]] = {}
        layouts: dict[tuple[str, str], _Layout] = {}
        # Per cell, its new rows: they share the day, kiosk, site and enumerator keys (and
        # the review key of the whole call), added to the bitmaps' keys after the loop.
        cell_rows: dict[tuple[str, str, str, str, str], list[int]] = defaultdict(list)
        for rowid, submission in stored:
            survey = submission.survey
            layout = layouts.get((survey, submission.version))
            if layout is None:
                layout = layouts[(survey, submission.version)] = self._layout(
                    self.load_form(survey, submission.version))
                flat_columns.setdefault(survey, set(META_COLUMNS)).update(layout.columns())
                flat_rows.setdefault(survey, [])
                keyed.setdefault(survey, defaultdict(list))
                for repeat in layout.repeats:
                    repeat_columns.setdefault((survey, repeat.key), set(
                        REPEAT_META_COLUMNS)).update(repeat.columns())
            day = day_of(submission.completed)
            cell = (survey, day, submission.kiosk or "", submission.site or "",
                    submission.enumerator or "")
            row: dict[str, Any] = {
                "_id": rowid, "_version": submission.version, "_day": day,
                "_kiosk": submission.kiosk, "_site": submission.site,
                "_enumerator": submission.enumerator, "_review": review,
            }
            # The submission's (question, value) pairs: its tallies, and its bitmap keys.
            pairs: list[Key] = [ALL]
            add_pair = pairs.append
            not_finite = False
            questions = layout.by_name
            # The answers given, not every question: most forms skip most of theirs.
            for name, value in submission.answers.items():
                question = questions.get(name)
                if question is None or value is None or value == "" or value == []:
                    continue
                kind, choices, answered, counted = question
                add_pair(answered)
                if kind == "select_multiple":
                    chosen = value if isinstance(value, list) else str(value).split()
                    row[name] = " ".join(chosen)
                    row.update(layout.zeros[name])
                    for choice in chosen:
                        column = choices.get(choice)
                        if column is None:  # not a choice of this version: kept anyway
                            column = choice_column(name, choice)
                            flat_columns[survey].add(column)
                        row[column] = 1
                        add_pair((name, choice))
                    continue
                row[name] = value
                if isinstance(value, float) and not math.isfinite(value):
                    not_finite = True  # NaN has no tally of its value
                elif counted:
                    add_pair((name, value))
            if layout.repeats:  # a form without repeats goes straight on
                for repeat in layout.repeats:
                    instances = instances_at(submission.answers, repeat.path)
                    row[instance_count_column(repeat.key)] = len(instances)
                    rows = repeat_rows.setdefault((survey, repeat.key), [])
                    for instance in instances:
                        rows.append(_instance_row(rowid, instance, repeat,
                                                  repeat_columns[(survey, repeat.key)]))
            flat_rows[survey].append(row)
            cells[cell] += 1
            if not_finite:
                # The keys row_keys finds in the flat row (NaN is stored as NULL).
                odd_pairs.extend((survey, day, pair) for pair in pairs)
                odd_ids = odd_keyed.setdefault(survey, defaultdict(list))
                for key in row_keys(row, layout.kinds):
                    odd_ids[key].append(rowid)
                continue
            # The same keys row_keys finds in the flat row (the tests compare them with a
            # rebuild), without looking again.
            ids = keyed[survey]
            for key in pairs:
                ids[key].append(rowid)
            cell_rows[cell].append(rowid)
        for (survey, day, kiosk, site, enumerator), numbers in cell_rows.items():
            ids = keyed[survey]
            for key in ((DAY, day), (KIOSK, kiosk), (SITE, site), (ENUMERATOR, enumerator),
                        (REVIEW, review or NOT_REVIEWED)):
                ids[key].extend(numbers)
        if not cells:
            return
        # Each key's rows as a bitmap, once: counted by the tallies, added to the bitmaps.
        bitmaps = {survey: {key: BitMap(numbers) for key, numbers in ids.items()}
                   for survey, ids in keyed.items()}
        if tallies:
            self._count(bitmaps, cells, odd_pairs, sign)
        if flat:
            self._write_rows(flat_rows, flat_columns, repeat_rows, repeat_columns)
            if self.bitmaps.ready():  # a migration below schema 12: step 12 builds them
                for survey, odd_ids in odd_keyed.items():
                    for key, numbers in odd_ids.items():
                        bitmaps[survey].setdefault(key, BitMap()).update(numbers)
                for survey, held in bitmaps.items():
                    self.bitmaps.add(survey, held)

    def _count(self, bitmaps: dict[str, dict[Key, BitMap]],
               cells: Counter[tuple[str, str, str, str, str]],
               odd_pairs: list[tuple[str, str, Key]], sign: int) -> None:
        """Add (``sign`` -1: take away) the tallies of the rows in ``bitmaps``: each key of
        a question counts its rows, in every day's tally the rows of that day too."""
        day_counts: Counter[tuple[Any, ...]] = Counter()
        total_counts: Counter[tuple[Any, ...]] = Counter()
        for survey, held in bitmaps.items():
            days = [(key[1], rows) for key, rows in held.items() if key[0] == DAY]
            counted = [(key, rows) for key, rows in held.items() if key[0][:1] != "#"]
            for (question, value), rows in counted:
                total_counts[(survey, question, value)] += sign * len(rows)
            if len(days) == 1:  # a single save, or a batch of one day
                day = days[0][0]
                for (question, value), rows in counted:
                    day_counts[(survey, day, question, value)] += sign * len(rows)
                continue
            # Several days: a key's rows of each day, as the size of an intersection.
            for (question, value), rows in counted:
                for day, of_day in days:
                    count = of_day.intersection_cardinality(rows)
                    if count:
                        day_counts[(survey, day, question, value)] += sign * count
        for survey, day, (question, value) in odd_pairs:
            day_counts[(survey, day, question, value)] += sign
            total_counts[(survey, question, value)] += sign
        self.conn.executemany(
            "INSERT INTO stats_cells(survey_id, day, kiosk, site, enumerator, n)"
            " VALUES (?,?,?,?,?,?) ON CONFLICT DO UPDATE SET n = n + excluded.n",
            [(*key, sign * count) for key, count in cells.items()])
        self.conn.executemany(
            "INSERT INTO stats_tally_day(survey_id, day, question, value, count)"
            " VALUES (?,?,?,?,?) ON CONFLICT DO UPDATE SET count = count + excluded.count",
            [(*key, count) for key, count in day_counts.items()])
        self.conn.executemany(
            "INSERT INTO stats_tally_total(survey_id, question, value, count)"
            " VALUES (?,?,?,?) ON CONFLICT DO UPDATE SET count = count + excluded.count",
            [(*key, count) for key, count in total_counts.items()])
        if sign < 0:  # a value nobody gives any more is no value of the figures
            surveys = sorted({cell[0] for cell in cells})
            for table in ("stats_cells", "stats_tally_day", "stats_tally_total"):
                column = "n" if table == "stats_cells" else "count"
                self.conn.executemany(f"DELETE FROM {table} WHERE survey_id = ? AND {column} = 0",
                                      [(survey,) for survey in surveys])

    def _write_rows(self, flat_rows: dict[str, list[dict[str, Any]]],
                    flat_columns: dict[str, set[str]],
                    repeat_rows: dict[tuple[str, str], list[dict[str, Any]]],
                    repeat_columns: dict[tuple[str, str], set[str]]) -> None:
        for survey, rows in flat_rows.items():
            present = flat_columns[survey]
            columns = [name for name in self._ensure_columns(survey, sorted(present))
                       if name in present]
            empty = dict.fromkeys(columns)  # every key of a row is a column: order kept
            self.conn.executemany(
                f"INSERT INTO {flat_table(survey)}({', '.join(map(quoted, columns))})"
                f" VALUES ({', '.join('?' * len(columns))})",
                [tuple({**empty, **row}.values()) for row in rows])
        for (survey, key), rows in repeat_rows.items():
            present = repeat_columns[(survey, key)]
            columns = [name for name in self._ensure_repeat_columns(survey, key, sorted(present))
                       if name in present and name != "_rid"]
            empty = dict.fromkeys(columns)
            self.conn.executemany(
                f"INSERT INTO {repeat_table(survey, key)}({', '.join(map(quoted, columns))})"
                f" VALUES ({', '.join('?' * len(columns))})",
                [tuple({**empty, **row}.values()) for row in rows])


    def drop_rows(self, survey_id: str, rowid: int) -> None:
        """Take a submission's row out of its flat table and its instances out of its
        repeats' tables (a correction writes them again)."""
        self.conn.execute(f"DELETE FROM {flat_table(survey_id)} WHERE _id = ?", (rowid,))
        prefix = f"flat_{survey_id}/"
        for (name,) in self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND substr(name, 1, ?) = ?",
                (len(prefix), prefix)).fetchall():
            self.conn.execute(f"DELETE FROM {quoted(name)} WHERE _sub = ?", (rowid,))
        if self.bitmaps.ready():
            self.bitmaps.remove(survey_id, rowid)

    def set_review(self, survey_id: str, rowid: int, state: str | None) -> None:
        """The review state a submission's flat row holds (NULL: never reviewed)."""
        self.conn.execute(f"UPDATE {flat_table(survey_id)} SET _review = ? WHERE _id = ?",
                          (state, rowid))
        if self.bitmaps.ready():
            self.bitmaps.set_review(survey_id, rowid, state or NOT_REVIEWED)


def _instance_row(rowid: int, instance: Any, repeat: _RepeatLayout,
                  columns: set[str]) -> dict[str, Any]:
    """The flat row of one instance of a repeat (as a submission's row: the same kinds of
    value in the same kinds of column). ``columns`` gains a choice no version lists."""
    row: dict[str, Any] = {"_sub": rowid}
    for name, kind, choices in repeat.questions:
        value = instance.get(name)
        if not answered_value(value):
            continue
        if kind == "select_multiple":
            chosen = value if isinstance(value, list) else str(value).split()
            row[name] = " ".join(map(str, chosen))
            row.update(repeat.zeros[name])
            for choice in chosen:
                column = choices.get(choice) or choice_column(name, str(choice))
                columns.add(column)
                row[column] = 1
            continue
        # Only a record stored before the gate holds an object here: kept as its JSON.
        row[name] = json.dumps(value, ensure_ascii=False) \
            if isinstance(value, dict | list) else value
    return row

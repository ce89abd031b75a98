"""City-wide statistics in the central PostgreSQL (central schema 2): the tables, and their
upkeep in the transaction that adds submissions (reading them: store/central/stats.py).

The same figures as a kiosk's (store/sqlite/tallies.py), kept the same way: counts maintained in
the transaction that adds the submissions, so a reader sees submissions and counts together
and a sync killed anywhere leaves them agreeing (its transaction is rolled back whole).

- ``stats_questions``: per form version, the questions statistics summarise and their kind
  (as store/sqlite/tallies.py's ``_Layout`` makes them), written when a form version first arrives.
- Three generated columns of ``submissions``: ``stats_day`` (the China day of completion,
  as ``surveys.clock.day_of`` computes it), and ``street`` and ``community``, the two
  parts of the site the kiosk stamped (``街道/社区``; a site without ``/`` is a street).
  The stamp is what the kiosk had when the resident answered, so a submission carried in a
  bundle keeps its place whichever kiosk sends it, and a kiosk moved later does not move
  its old submissions.
- Tallies per survey (``stats_tally_total``) and per day (``stats_tally_day``), with
  ``stats_cells`` counting submissions per (day, kiosk, site, street, community,
  enumerator) for the series over time. Schema 2 kept the tallies per such cell and per
  kiosk and site too, until the bitmaps answered those figures (schema 8 dropped them:
  their upkeep was a third of a sync's time). ``value`` is the answer's JSON text, so
  choice names stay text and whole numbers numbers (as SQLite's untyped column keeps them);
  ``null`` is the value that counts respondents who answered, question ``''`` submissions.
  Their text columns are in the C collation (compared byte by byte, as in SQLite).

Only the rows an ``INSERT … ON CONFLICT DO NOTHING … RETURNING`` actually added are counted,
so a batch sent again (a killed sync, a bundle imported twice, two kiosks sending the same
submission) is never counted twice.

Filters on answers, places and enumerators, and cross-tabs, read the bitmaps of
store/central/bitmaps.py (schema 7);
decimals and text answers the submissions' jsonb answers directly (no flat table: see
scripts/bench.py section 10 for what that costs).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from surveys.form import Form
from surveys.stats.model import statistic_kind

if TYPE_CHECKING:
    import psycopg

# The kinds whose every value is counted (select_multiple: each chosen choice).
_VALUE_KINDS = ("select_one", "likert", "integer", "date")


DIMENSIONS = ("day", "kiosk", "site", "street", "community", "enumerator")




# The China day of an ISO 8601 completion time, as surveys.clock.day_of: a time ending
# in +08:00 is its own date; another offset is converted; a time without one keeps its date.
_DAY_FUNCTION = r"""
CREATE FUNCTION kiosk_stats_day(completed text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  IF completed IS NULL OR completed = '' THEN
    RETURN '';
  END IF;
  IF right(completed, 6) = '+08:00' AND length(completed) >= 10 THEN
    RETURN left(completed, 10);
  END IF;
  BEGIN
    IF completed ~ '(Z|[+-]\d\d(:?\d\d)?)$' THEN
      RETURN to_char(completed::timestamptz AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD');
    END IF;
    RETURN to_char(completed::timestamp, 'YYYY-MM-DD');
  EXCEPTION WHEN others THEN
    RETURN left(completed, 10);
  END;
END $$
"""


def answered_sql(value: str) -> str:
    """SQL: the answer ``value`` (jsonb) counts as given (not absent, null, "" or [])."""
    return f"({value} IS NOT NULL AND {value} NOT IN ('null', '\"\"', '[]'))"


def chosen_sql(value: str, choice: str) -> str:
    """SQL: ``choice`` (text) is among the choices of a select_multiple answer: a JSON
    array, or choice names separated by spaces (as the flat table reads them)."""
    return (f"(CASE WHEN jsonb_typeof({value}) = 'array' THEN {value} ? {choice}"
            f" ELSE {choice} = ANY(regexp_split_to_array({value} #>> '{{}}', '\\s+')) END)")


def pairs_sql(keys: Sequence[str], source: str, where: str = "", wanted: str = "",
              answer: str = "(s.answers -> q.question)") -> str:
    """SQL: rows (keys…, question, part, value, count) counting the answers of the
    submissions ``s`` in ``source`` (``where``: more conditions on them; ``wanted``: more
    on the questions ``q``; each given once, so their parameters are too), as
    StatsTables.add counts them. ``part`` 'v': respondents who gave ``value`` to a question
    whose every value is counted (they answered it, too); 'a': respondents who answered
    another question (value null); 'c': respondents who chose ``value`` in a
    select_multiple. ``answer``: the answer of ``s`` to ``q`` (jsonb).

    Each answer is looked up once and grouped (a question whose values are not counted by
    whether it was answered, so text answers make no groups of their own), and the three
    parts are read from the groups: a fifth faster than three GROUP BYs over the answers,
    which were a third of a sync's time (one LATERAL with UNION ALL per answer took three
    times as long as those)."""
    join = "JOIN stats_questions q ON q.survey_id = s.survey_id AND q.version = s.version"
    given = f"q.kind IN {(*_VALUE_KINDS, 'select_multiple')!r}"
    named = "".join(f"{key} AS k{index}, " for index, key in enumerate(keys))
    prefix = "".join(f"k{index}, " for index in range(len(keys)))
    groups = ", ".join(str(index) for index in range(1, len(keys) + 4))
    scalar = f"kind IN {_VALUE_KINDS!r}"
    multiple = "kind = 'select_multiple' AND "
    return (
        f"WITH g AS MATERIALIZED (SELECT {named}q.question, q.kind, CASE WHEN {given}"
        f" THEN {answer} WHEN {answered_sql(answer)} THEN 'true'::jsonb END AS answer,"
        f" count(*) AS n FROM {source} {join}{wanted} WHERE true{where} GROUP BY {groups})"
        f" SELECT {prefix}question, CASE WHEN {scalar} THEN 'v' ELSE 'a' END,"
        f" CASE WHEN {scalar} THEN answer::text ELSE 'null' END, sum(n)::bigint FROM g"
        f" WHERE {answered_sql('answer')} GROUP BY {groups}"
        f" UNION ALL SELECT {prefix}question, 'c', e::text, sum(n)::bigint FROM g"
        f" CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN {multiple}"
        f"jsonb_typeof(answer) = 'array' THEN answer END) e GROUP BY {groups}"
        # A select_multiple answer given as text: choice names separated by spaces.
        f" UNION ALL SELECT {prefix}question, 'c', to_jsonb(e)::text, sum(n)::bigint FROM g"
        f" CROSS JOIN LATERAL regexp_split_to_table(CASE WHEN {multiple}"
        f"jsonb_typeof(answer) NOT IN ('array', 'null') THEN answer #>> '{{}}' END, '\\s+') e"
        f" WHERE e <> '' GROUP BY {groups}")


# For the GROUP BYs of answers: the planner expects a hundred rows from every jsonb array and
# so sorts (on disk) and compiles with JIT; hashing in memory took half the time and JIT
# alone two seconds of five (100,000 submissions). A scan of every answer is shared among
# parallel workers (at 1,000,000: an answer filter 5.5 s -> 3.7 s, a cross-tab 1.7 -> 1.0 s).
HASHING = (("work_mem", "128MB"), ("enable_sort", "off"), ("enable_incremental_sort", "off"),
            ("jit", "off"), ("parallel_setup_cost", "10"), ("parallel_tuple_cost", "0.001"))


@contextlib.contextmanager
def hashing(connection: psycopg.Connection[Any]) -> Iterator[None]:
    """Within a transaction (the caller's, or one of its own), settings that group the
    answers by hashing; the settings before are restored afterwards."""
    with connection.transaction():
        before = [(name, connection.execute("SELECT current_setting(%s)", (name,))
                   .fetchone()[0]) for name, _value in HASHING]  # type: ignore[index]
        for name, value in HASHING:
            connection.execute("SELECT set_config(%s, %s, true)", (name, value))
        yield
        for name, value in before:
            connection.execute("SELECT set_config(%s, %s, true)", (name, value))


# ---- schema 2 --------------------------------------------------------------------------------

def create_schema(connection: psycopg.Connection[Any]) -> None:
    """Central schema step 2: the statistics tables, filled from what is there already."""
    # Keys in the C collation: compared byte by byte, as SQLite does (the database's own
    # collation calls strcoll for every comparison: upserting the tallies took 4x as long).
    text = 'text COLLATE "C" NOT NULL'
    dims = ", ".join(f"{name} {text}" for name in DIMENSIONS)
    dim_names = ", ".join(DIMENSIONS)
    for statement in (
        _DAY_FUNCTION,
        "ALTER TABLE submissions"
        " ADD COLUMN stats_day text GENERATED ALWAYS AS (kiosk_stats_day(completed)) STORED,"
        " ADD COLUMN street text GENERATED ALWAYS AS (CASE WHEN position('/' in site) > 0"
        " THEN split_part(site, '/', 1) ELSE coalesce(site, '') END) STORED,"
        " ADD COLUMN community text GENERATED ALWAYS AS (CASE WHEN position('/' in site) > 0"
        " THEN substr(site, position('/' in site) + 1) ELSE '' END) STORED",
        "CREATE INDEX submissions_survey_day ON submissions (survey_id, stats_day)",
        "CREATE TABLE stats_questions (survey_id text NOT NULL, version text NOT NULL,"
        " question text NOT NULL, kind text NOT NULL, position integer NOT NULL,"
        " PRIMARY KEY (survey_id, version, question))",
        # A cell is numbered once, so its tallies carry a number instead of six names
        # (the rows were 150 bytes wide and their upsert three times as slow).
        "CREATE TABLE stats_cells (cell bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        f" survey_id {text}, {dims}, n bigint NOT NULL, UNIQUE (survey_id, {dim_names}))",
        # value: the answer's JSON text ('"5"' a choice name, '5' a number; 'null' counts
        # respondents who answered), so text and numbers stay apart as in SQLite.
        f"CREATE TABLE stats_tally_total (survey_id {text}, question {text}, value {text},"
        " count bigint NOT NULL, PRIMARY KEY (survey_id, question, value))"
        " WITH (fillfactor = 80)",
        f"CREATE TABLE stats_tally_day (survey_id {text}, day {text}, question {text},"
        f" value {text}, count bigint NOT NULL, PRIMARY KEY (survey_id, day, question, value))"
        " WITH (fillfactor = 80)",
        f"CREATE TABLE stats_tally_cell (cell bigint NOT NULL, question {text}, value {text},"
        " count bigint NOT NULL, PRIMARY KEY (cell, question, value)) WITH (fillfactor = 80)",
        # Per kiosk and site, all days: --by-site without dates reads a few thousand rows.
        f"CREATE TABLE stats_tally_place (survey_id {text}, kiosk {text}, site {text},"
        f" street {text}, community {text}, question {text}, value {text},"
        " count bigint NOT NULL, PRIMARY KEY (survey_id, kiosk, site, question, value))"
        " WITH (fillfactor = 80)",
    ):
        connection.execute(statement)  # type: ignore[arg-type]
    add_layouts(connection, connection.execute(
        "SELECT survey_id, version, compiled FROM forms").fetchall())
    recount(connection)


def layout_of(form: Form) -> list[tuple[str, str, int]]:
    """(question, kind, position) of the questions the statistics summarise."""
    rows = []
    for item in form.items:
        kind = statistic_kind(item)
        if kind is not None:
            rows.append((item.name, kind, len(rows)))
    return rows


def add_layouts(connection: psycopg.Connection[Any],
                forms: Sequence[tuple[str, str, Any]]) -> None:
    """Record the questions of newly added form versions (survey, version, compiled)."""
    rows = []
    for survey_id, version, compiled in forms:
        form = Form(json.loads(compiled) if isinstance(compiled, str) else compiled)
        rows += [(survey_id, version, *question) for question in layout_of(form)]
    if rows:
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO stats_questions (survey_id, version, question, kind, position)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING", rows)


def recount(connection: psycopg.Connection[Any], chunk: int = 20_000) -> None:
    """Count every submission afresh (the migration to schema 2; the bench's tally build),
    through the same steps as a sync's batch, about ``chunk`` submissions at a time in order
    of survey and day (so each cell's tallies are written once, not updated chunk after
    chunk)."""
    for table in ("stats_cells", "stats_tally_total", "stats_tally_day"):
        connection.execute(f"TRUNCATE {table}")  # type: ignore[arg-type]
    days = connection.execute(
        "SELECT survey_id, stats_day, count(*) FROM submissions GROUP BY 1, 2"
        " ORDER BY 1, 2").fetchall()
    start = 0
    while start < len(days):
        end, size = start, 0
        while end < len(days) and days[end][0] == days[start][0] and (
                size < chunk or end == start):
            size += days[end][2]
            end += 1
        _added_table(connection)
        connection.execute(
            f"INSERT INTO added_submissions ({ADDED_COLUMNS}) SELECT {ADDED_COLUMNS}"  # type: ignore
            " FROM submissions WHERE survey_id = %s AND stats_day BETWEEN %s AND %s",
            (days[start][0], days[start][1], days[end - 1][1]))
        _count(connection)
        start = end


# ---- upkeep as submissions are added ----------------------------------------------------------

# The columns of a newly added submission that the statistics read.
ADDED_COLUMNS = ("instance_id, survey_id, version, stats_day, kiosk, site, street, community,"
                 " enumerator, answers")


def _added_table(connection: psycopg.Connection[Any]) -> None:
    """The temporary table of the submissions being counted, emptied."""
    connection.execute(
        "CREATE TEMP TABLE IF NOT EXISTS added_submissions (instance_id text, survey_id text,"
        " version text, stats_day text, kiosk text, site text, street text, community text,"
        " enumerator text, answers jsonb) ON COMMIT DELETE ROWS")
    connection.execute("DELETE FROM added_submissions")


def _count_statements(sign: int = 1) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The statistics upkeep for the submissions in ``added_submissions``: (its work
    tables, its steps). The counting goes into the work tables first; the upserts of the
    cells, the tallies per day and per survey come last, so a transaction holds their row
    locks only for those upserts and its commit (two batches of one sync, or two syncs,
    count at the same time and queue only there). Every upsert takes its rows in key
    order and the tables in the same order, so two transactions lock shared rows in the
    same order (one waits; neither deadlocks). ``sign`` -1 takes them away (a submission
    voided, or its answers before a correction: store/central/reviews.py); the rows left
    at 0 are removed afterwards (REMOVE_ZEROS).

    Figures per kiosk, site or enumerator come from the bitmaps (schema 8 dropped the
    tallies per cell and per place, whose upkeep was a third of a sync's time)."""
    times = "" if sign == 1 else f"{sign} * "
    keys = f"survey_id, {', '.join(DIMENSIONS)}"
    text = 'text COLLATE "C"'
    cell = ("s.survey_id, s.stats_day AS day, coalesce(s.kiosk, '') AS kiosk,"
            " coalesce(s.site, '') AS site, s.street, s.community,"
            " coalesce(s.enumerator, '') AS enumerator")
    # Made afresh and dropped after: in the push functions (store/central/trust.py), a
    # table of these names that a caller made beforehand makes the call fail, never count.
    tables = (
        f"CREATE TEMP TABLE added_cells (survey_id {text}, day {text}, kiosk {text},"
        f" site {text}, street {text}, community {text}, enumerator {text}, n bigint)"
        " ON COMMIT DROP",
        f"CREATE TEMP TABLE added_tallies (survey_id {text}, day {text}, question {text},"
        f" value {text}, count bigint) ON COMMIT DROP",
    )
    pairs = pairs_sql(["s.survey_id", "s.stats_day"], "added_submissions s")
    steps = (
        f"INSERT INTO added_cells SELECT {cell}, {times}count(*) FROM added_submissions s"
        " GROUP BY 1, 2, 3, 4, 5, 6, 7",
        f"WITH pairs (survey_id, day, question, part, value, count) AS ({pairs})"
        " INSERT INTO added_tallies SELECT survey_id, day, '', 'null', sum(n) FROM added_cells"
        f" GROUP BY 1, 2 UNION ALL SELECT survey_id, day, question, 'null', {times}sum(count)"
        " FROM pairs WHERE part <> 'c' GROUP BY 1, 2, 3"
        f" UNION ALL SELECT survey_id, day, question, value, {times}sum(count) FROM pairs"
        " WHERE part <> 'a' GROUP BY 1, 2, 3, 4",
        # The upserts, last.
        f"INSERT INTO stats_cells AS t ({keys}, n) SELECT * FROM added_cells"
        f" ORDER BY 1, 2, 3, 4, 5, 6, 7 ON CONFLICT ({keys})"
        " DO UPDATE SET n = t.n + excluded.n",
        "INSERT INTO stats_tally_day AS t (survey_id, day, question, value, count)"
        " SELECT * FROM added_tallies ORDER BY 1, 2, 3, 4"
        " ON CONFLICT (survey_id, day, question, value)"
        " DO UPDATE SET count = t.count + excluded.count",
        # Summed first (by hashing), then the few sums sorted.
        "WITH sums AS MATERIALIZED (SELECT survey_id, question, value, sum(count)"
        " FROM added_tallies GROUP BY 1, 2, 3)"
        " INSERT INTO stats_tally_total AS t (survey_id, question, value, count)"
        " SELECT * FROM sums ORDER BY 1, 2, 3"
        " ON CONFLICT (survey_id, question, value)"
        " DO UPDATE SET count = t.count + excluded.count",
    )
    return tables, steps


COUNT_WORK_TABLES, COUNT_STEPS = _count_statements()
_WORK, UNCOUNT_STEPS = _count_statements(-1)
COUNT_DONE = "DROP TABLE added_cells, added_tallies"
# After taking submissions away: a value nobody gives any more is no value of the figures.
REMOVE_ZEROS = tuple(
    f"DELETE FROM {table} WHERE {column} = 0 AND survey_id IN"
    " (SELECT survey_id FROM added_cells)"
    for table, column in (("stats_tally_day", "count"), ("stats_tally_total", "count"),
                          ("stats_cells", "n")))


def _count(connection: psycopg.Connection[Any]) -> None:
    """Add the submissions in ``added_submissions`` to the tallies, in the caller's
    transaction (the recount; a push does the same in its function)."""
    for statement in COUNT_WORK_TABLES:
        connection.execute(statement)  # type: ignore[arg-type]
    with hashing(connection):  # through to the end: JIT compiled the rollups too
        for statement in COUNT_STEPS:
            connection.execute(statement)  # type: ignore[arg-type]
    connection.execute(COUNT_DONE)

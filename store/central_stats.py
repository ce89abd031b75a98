"""City-wide statistics in the central PostgreSQL (central schema 2).

The same figures as a kiosk's (store/statistics.py), kept the same way: counts maintained in
the transaction that adds the submissions, so a reader sees submissions and counts together
and a sync killed anywhere leaves them agreeing (its transaction is rolled back whole).

- ``stats_questions``: per form version, the questions statistics summarise and their kind
  (as ``store.statistics._Layout`` makes them), written when a form version first arrives.
- Three generated columns of ``submissions``: ``stats_day`` (the China day of completion,
  as ``store.statistics.day_of`` computes it), and ``street`` and ``community``, the two
  parts of the site the kiosk stamped (``街道/社区``; a site without ``/`` is a street).
  The stamp is what the kiosk had when the resident answered, so a submission carried in a
  bundle keeps its place whichever kiosk sends it, and a kiosk moved later does not move
  its old submissions.
- Tallies at three grains: ``stats_tally_total`` (survey), ``stats_tally_day`` and
  ``stats_tally_cell`` (day, kiosk, site, street, community, enumerator), with
  ``stats_cells`` counting submissions per cell. ``value`` is jsonb, so choice names stay
  text and whole numbers numbers (as SQLite's untyped column keeps them); JSON ``null`` is
  the value that counts respondents who answered, question ``''`` counts submissions.

Only the rows an ``INSERT … ON CONFLICT DO NOTHING … RETURNING`` actually added are counted,
so a batch sent again (a killed sync, a bundle imported twice, two kiosks sending the same
submission) is never counted twice.

Filters on answers, cross-tabs, decimals and text answers read the submissions' jsonb
answers directly (no flat table: see scripts/bench.py section 10 for what that costs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from surveys.form import Form
from surveys.stats import statistic_kind

if TYPE_CHECKING:
    import psycopg

# The kinds whose every value is counted (select_multiple: each chosen choice).
_VALUE_KINDS = ("select_one", "likert", "integer", "date")
_DIMENSIONS = ("day", "kiosk", "site", "street", "community", "enumerator")
SITE_DIMENSIONS = ("street", "community", "kiosk")

# The China day of an ISO 8601 completion time, as store.statistics.day_of: a time ending
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


def _answered(value: str) -> str:
    """SQL: the answer ``value`` (jsonb) counts as given (not absent, null, "" or [])."""
    return f"({value} IS NOT NULL AND {value} NOT IN ('null', '\"\"', '[]'))"


def _chosen(value: str, choice: str) -> str:
    """SQL: ``choice`` (text) is among the choices of a select_multiple answer: a JSON
    array, or choice names separated by spaces (as the flat table reads them)."""
    return (f"(CASE WHEN jsonb_typeof({value}) = 'array' THEN {value} ? {choice}"
            f" ELSE {choice} = ANY(regexp_split_to_array({value} #>> '{{}}', '\\s+')) END)")


# The (question, value) pairs of one submission ``s`` and question ``q`` (its kind): null
# (answered) and the values counted, as StatsTables.add makes them.
_PAIRS = f"""
CROSS JOIN LATERAL (SELECT s.answers -> q.question AS v) a
CROSS JOIN LATERAL (
  SELECT 'null'::jsonb AS value
  UNION ALL SELECT a.v WHERE q.kind IN {_VALUE_KINDS!r}
  UNION ALL SELECT e FROM jsonb_array_elements(CASE WHEN q.kind = 'select_multiple'
      AND jsonb_typeof(a.v) = 'array' THEN a.v END) e
  UNION ALL SELECT to_jsonb(p) FROM regexp_split_to_table(CASE WHEN q.kind = 'select_multiple'
      AND jsonb_typeof(a.v) <> 'array' THEN a.v #>> '{{}}' END, '\\s+') p WHERE p <> ''
) p
"""


# ---- schema 2 --------------------------------------------------------------------------------

def create_schema(connection: psycopg.Connection[Any]) -> None:
    """Central schema step 2: the statistics tables, filled from what is there already."""
    dims = ("day text NOT NULL, kiosk text NOT NULL, site text NOT NULL, street text NOT NULL,"
            " community text NOT NULL, enumerator text NOT NULL")
    dim_names = ", ".join(_DIMENSIONS)
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
        f"CREATE TABLE stats_cells (survey_id text NOT NULL, {dims}, n bigint NOT NULL,"
        f" PRIMARY KEY (survey_id, {dim_names}))",
        "CREATE TABLE stats_tally_total (survey_id text NOT NULL, question text NOT NULL,"
        " value jsonb NOT NULL, count bigint NOT NULL, PRIMARY KEY (survey_id, question, value))",
        "CREATE TABLE stats_tally_day (survey_id text NOT NULL, day text NOT NULL,"
        " question text NOT NULL, value jsonb NOT NULL, count bigint NOT NULL,"
        " PRIMARY KEY (survey_id, day, question, value))",
        f"CREATE TABLE stats_tally_cell (survey_id text NOT NULL, {dims},"
        " question text NOT NULL, value jsonb NOT NULL, count bigint NOT NULL,"
        f" PRIMARY KEY (survey_id, {dim_names}, question, value))",
    ):
        connection.execute(statement)  # type: ignore[arg-type]
    add_layouts(connection, connection.execute(
        "SELECT survey_id, version, compiled FROM forms").fetchall())
    recount(connection)


def add_layouts(connection: psycopg.Connection[Any],
                forms: Sequence[tuple[str, str, Any]]) -> None:
    """Record the questions of newly added form versions (survey, version, compiled)."""
    import json

    rows = []
    for survey_id, version, compiled in forms:
        form = Form(json.loads(compiled) if isinstance(compiled, str) else compiled)
        position = 0
        for item in form.items:
            kind = statistic_kind(item)
            if kind is not None:
                rows.append((survey_id, version, item.name, kind, position))
                position += 1
    if rows:
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO stats_questions (survey_id, version, question, kind, position)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING", rows)


def recount(connection: psycopg.Connection[Any]) -> None:
    """Count every submission afresh (the migration to schema 2; the bench's tally build)."""
    for table in ("stats_cells", "stats_tally_total", "stats_tally_day", "stats_tally_cell"):
        connection.execute(f"DELETE FROM {table}")  # type: ignore[arg-type]
    _count(connection, "submissions")


# ---- upkeep in push() -----------------------------------------------------------------------

def insert_counted(connection: psycopg.Connection[Any], stream: str, insert: str) -> int:
    """Run push()'s ``INSERT … ON CONFLICT DO NOTHING`` and count what it added (forms: their
    questions; submissions: the tallies), in the caller's transaction; returns how many."""
    if stream == "forms":
        added = connection.execute(
            f"{insert} RETURNING survey_id, version, compiled").fetchall()  # type: ignore
        add_layouts(connection, added)
        return len(added)
    connection.execute(
        "CREATE TEMP TABLE IF NOT EXISTS added_submissions (survey_id text, version text,"
        " stats_day text, kiosk text, site text, street text, community text,"
        " enumerator text, answers jsonb) ON COMMIT DELETE ROWS")
    connection.execute("DELETE FROM added_submissions")
    cursor = connection.execute(
        f"WITH added AS ({insert} RETURNING survey_id, version, stats_day, kiosk, site,"  # type: ignore
        " street, community, enumerator, answers)"
        " INSERT INTO added_submissions SELECT * FROM added")
    added = max(cursor.rowcount, 0)
    if added:
        _count(connection, "added_submissions")
    return added


def _count(connection: psycopg.Connection[Any], source: str) -> None:
    """Add the submissions in table ``source`` to the tallies (in the caller's transaction):
    per cell first (into a temporary table), then rolled up to days and the survey."""
    cell = ("s.survey_id, s.stats_day, coalesce(s.kiosk, ''), coalesce(s.site, ''),"
            " s.street, s.community, coalesce(s.enumerator, '')")
    dim_names = ", ".join(_DIMENSIONS)
    connection.execute(
        "CREATE TEMP TABLE IF NOT EXISTS added_tallies (survey_id text, day text, kiosk text,"
        " site text, street text, community text, enumerator text, question text,"
        " value jsonb, count bigint) ON COMMIT DELETE ROWS")
    connection.execute("DELETE FROM added_tallies")
    connection.execute(
        f"INSERT INTO added_tallies SELECT {cell}, '', 'null'::jsonb, count(*)"  # type: ignore
        f" FROM {source} s GROUP BY {cell}")
    connection.execute(
        f"INSERT INTO added_tallies SELECT {cell}, q.question, p.value, count(*)"  # type: ignore
        f" FROM {source} s JOIN stats_questions q USING (survey_id, version) {_PAIRS}"
        f" WHERE {_answered('a.v')} GROUP BY {cell}, q.question, p.value")
    connection.execute(
        f"INSERT INTO stats_cells AS t (survey_id, {dim_names}, n)"  # type: ignore
        f" SELECT survey_id, {dim_names}, count FROM added_tallies WHERE question = ''"
        " ON CONFLICT (survey_id, day, kiosk, site, street, community, enumerator)"
        " DO UPDATE SET n = t.n + excluded.n")
    connection.execute(
        f"INSERT INTO stats_tally_cell AS t (survey_id, {dim_names}, question, value, count)"  # type: ignore
        f" SELECT survey_id, {dim_names}, question, value, count FROM added_tallies"
        f" ON CONFLICT (survey_id, {dim_names}, question, value)"
        " DO UPDATE SET count = t.count + excluded.count")
    connection.execute(
        "INSERT INTO stats_tally_day AS t (survey_id, day, question, value, count)"
        " SELECT survey_id, day, question, value, sum(count) FROM added_tallies"
        " GROUP BY 1, 2, 3, 4 ON CONFLICT (survey_id, day, question, value)"
        " DO UPDATE SET count = t.count + excluded.count")
    connection.execute(
        "INSERT INTO stats_tally_total AS t (survey_id, question, value, count)"
        " SELECT survey_id, question, value, sum(count) FROM added_tallies"
        " GROUP BY 1, 2, 3 ON CONFLICT (survey_id, question, value)"
        " DO UPDATE SET count = t.count + excluded.count")

"""The central PostgreSQL: one database for a street or city, fed by every kiosk's sync.

Written only through this module (psycopg 3, loaded when a central command runs: the kiosk
itself never needs it). The schema is versioned in ``kiosk_meta``; ``init`` creates or
migrates it, step by step, in one transaction under an advisory lock.

Every row a kiosk sends has a natural key, so sending it twice changes nothing:
submissions their instance id, forms (survey, version), and the rows a kiosk numbers itself
(request updates, volunteer check-ins, check-outs, corrections, the audit record) the pair
(origin, local id), where origin is the id of the kiosk whose database the row came from.
A batch goes in by COPY into a temporary table, then ``INSERT … SELECT … ON CONFLICT DO
NOTHING``: fast, and a batch that was already there is counted, not duplicated.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from store.sqlite.sync import SYNC_COLUMNS

if TYPE_CHECKING:
    import psycopg

CENTRAL_SCHEMA_VERSION = 3
# Any two processes running ``init`` at once: one waits for the other (an arbitrary key).
_INIT_LOCK = 0x53474B43


class CentralError(Exception):
    """Something about the central database the user has to act on."""


class CentralUnreachable(CentralError):
    """No connection could be made (server down, wrong address, no network)."""


class CentralConnectionLost(CentralError):
    """The connection broke during a sync; what was committed stays, the rest comes next time."""


class CentralSchemaError(CentralError):
    """The central database has no kiosk schema, an older one, or a newer one."""


def describe(dsn: str) -> str:
    """``host:port/database`` of a DSN, without user or password (for messages)."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        parts = conninfo_to_dict(dsn)
    except Exception:  # a DSN psycopg cannot parse is described as given
        return dsn.split("@")[-1]
    host = parts.get("host") or parts.get("hostaddr") or "localhost"
    port = parts.get("port") or "5432"
    return f"{host}:{port}/{parts.get('dbname') or parts.get('user') or ''}"


def connect(dsn: str, *, application_name: str = "kiosk") -> psycopg.Connection[Any]:
    """Open a connection, or raise CentralUnreachable saying where and why."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        given = conninfo_to_dict(dsn)
    except psycopg.Error as error:
        raise CentralError(f"not a PostgreSQL address: {dsn!r} ({reason_of(error)}); "
                           "expected e.g. postgresql://user@host:5432/database") from None
    options: dict[str, Any] = {"application_name": application_name}
    if "connect_timeout" not in given:
        options["connect_timeout"] = 10  # no network: say so soon
    try:
        return psycopg.connect(dsn, autocommit=True, **options)  # transactions are explicit
    except psycopg.Error as error:
        raise CentralUnreachable(
            f"cannot reach the central database at {describe(dsn)}: {reason_of(error)}"
        ) from None


def reason_of(error: Exception) -> str:
    """libpq's message on one line, without the address it repeats."""
    text = " ".join(str(error).split()) or type(error).__name__
    return re.sub(r'^connection failed: connection to server at "[^"]*", port \d+ failed: ',
                  "", text)


# ---- the schema ------------------------------------------------------------------------------

def _schema_1(connection: psycopg.Connection[Any]) -> None:
    """Kiosks and their sites, forms, submissions, request updates, volunteer sessions and
    corrections, the audit record."""
    for statement in (
        "CREATE TABLE kiosks (kiosk_id text PRIMARY KEY, database_id text NOT NULL,"
        " street text NOT NULL DEFAULT '', community text NOT NULL DEFAULT '',"
        " site text, station text NOT NULL DEFAULT '',"
        " first_sync timestamptz NOT NULL DEFAULT now(), last_sync timestamptz)",
        "CREATE TABLE forms (survey_id text NOT NULL, version text NOT NULL, title text,"
        " default_language text, question_count integer, compiled jsonb NOT NULL,"
        " source_name text, source_sha256 text, installed_at text, origin text NOT NULL,"
        " received_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (survey_id, version))",
        "CREATE TABLE submissions (instance_id text PRIMARY KEY, survey_id text NOT NULL,"
        " version text NOT NULL, kiosk text, site text, started text, completed text,"
        " lang text, enumerator text, answers jsonb NOT NULL, receipt_code text, source text,"
        " stored_at text, origin text NOT NULL,"
        " received_at timestamptz NOT NULL DEFAULT now())",
        "CREATE INDEX submissions_survey ON submissions (survey_id, version)",
        "CREATE INDEX submissions_origin ON submissions (origin)",
        "CREATE TABLE request_updates (origin text NOT NULL, id bigint NOT NULL,"
        " instance_id text NOT NULL, status text NOT NULL, note text, staff text NOT NULL,"
        " kiosk text, at text NOT NULL, at_epoch double precision NOT NULL,"
        " received_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (origin, id))",
        "CREATE INDEX request_updates_instance ON request_updates (instance_id)",
        "CREATE TABLE volunteer_checkins (origin text NOT NULL, id bigint NOT NULL,"
        " number text NOT NULL, kiosk text, service text, at text NOT NULL,"
        " at_epoch double precision NOT NULL, recorded_at text,"
        " received_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (origin, id))",
        "CREATE TABLE volunteer_checkouts (origin text NOT NULL, session_id bigint NOT NULL,"
        " kiosk text, at text NOT NULL, at_epoch double precision NOT NULL,"
        " closed_by text NOT NULL, flags text, recorded_at text,"
        " received_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (origin, session_id))",
        "CREATE TABLE volunteer_corrections (origin text NOT NULL, id bigint NOT NULL,"
        " session_id bigint NOT NULL, action text NOT NULL, checked_in text,"
        " checked_in_epoch double precision, checked_out text,"
        " checked_out_epoch double precision, reason text NOT NULL, staff text NOT NULL,"
        " at text NOT NULL, at_epoch double precision NOT NULL, kiosk text,"
        " received_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (origin, id))",
        "CREATE TABLE audit (origin text NOT NULL, id bigint NOT NULL, at text NOT NULL,"
        " at_epoch double precision NOT NULL, kiosk text, staff text NOT NULL,"
        " action text NOT NULL, target text, detail text,"
        " received_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (origin, id))",
    ):
        connection.execute(statement)  # type: ignore[arg-type]


def _schema_2(connection: psycopg.Connection[Any]) -> None:
    """City-wide statistics: tallies kept as submissions arrive (store/central_stats.py);
    the submissions already there are counted."""
    from store.central_stats import create_schema

    create_schema(connection)


def _schema_3(connection: psycopg.Connection[Any]) -> None:
    """The volunteer roster each kiosk sends with its sync, for the hours of every site
    (store/central_volunteers.py)."""
    from store.central_volunteers import ROSTER_SCHEMA

    for statement in ROSTER_SCHEMA:
        connection.execute(statement)  # type: ignore[arg-type]


# Schema version -> the step that makes it from the one before.
_STEPS: dict[int, Callable[[Any], None]] = {1: _schema_1, 2: _schema_2, 3: _schema_3}

# Stream (store/db.py SYNC_COLUMNS) -> central table and its natural key.
CENTRAL_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "forms": ("forms", ("survey_id", "version")),
    "submissions": ("submissions", ("instance_id",)),
    "request_updates": ("request_updates", ("origin", "id")),
    "volunteer_checkins": ("volunteer_checkins", ("origin", "id")),
    "volunteer_checkouts": ("volunteer_checkouts", ("origin", "session_id")),
    "volunteer_corrections": ("volunteer_corrections", ("origin", "id")),
    "audit": ("audit", ("origin", "id")),
}


@dataclass(frozen=True)
class InitResult:
    before: int  # 0: the database had no kiosk schema
    after: int
    installation: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


def _meta_version(connection: psycopg.Connection[Any]) -> tuple[int, str | None]:
    """(schema version, installation id); (0, None) before ``init``."""
    exists = connection.execute("SELECT to_regclass('kiosk_meta') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return 0, None
    values = dict(connection.execute("SELECT key, value FROM kiosk_meta").fetchall())
    return int(values.get("schema_version", 0)), values.get("installation")


def init(dsn: str) -> InitResult:
    """Create the central schema, or migrate it to CENTRAL_SCHEMA_VERSION; a database of a
    newer schema is refused unchanged."""
    with (connect(dsn, application_name="kiosk central init") as connection,
          connection.transaction()):
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (_INIT_LOCK,))
        before, installation_id = _meta_version(connection)
        if before > CENTRAL_SCHEMA_VERSION:
            raise CentralSchemaError(
                f"the central database at {describe(dsn)} has schema {before}; this kiosk "
                f"knows up to {CENTRAL_SCHEMA_VERSION}: update the kiosk software. "
                "Nothing was changed.")
        if before == 0:
            connection.execute(
                "CREATE TABLE kiosk_meta (key text PRIMARY KEY, value text NOT NULL)")
            installation_id = str(uuid.uuid4())
            connection.execute(
                "INSERT INTO kiosk_meta(key, value) VALUES ('installation', %s),"
                " ('created_at', now()::text), ('schema_version', '0')", (installation_id,))
        for version in range(before + 1, CENTRAL_SCHEMA_VERSION + 1):
            _STEPS[version](connection)
        connection.execute(
            "UPDATE kiosk_meta SET value=%s WHERE key='schema_version'",
            (str(CENTRAL_SCHEMA_VERSION),))
    return InitResult(before, CENTRAL_SCHEMA_VERSION, str(installation_id))


def installation(connection: psycopg.Connection[Any], dsn: str) -> str:
    """The central database's installation id, after checking its schema is this one."""
    with connection.transaction():
        version, found = _meta_version(connection)
    where = describe(dsn)
    if version == 0 or found is None:
        raise CentralSchemaError(
            f"the database at {where} has no kiosk schema yet; run: kiosk central init DSN")
    if version > CENTRAL_SCHEMA_VERSION:
        raise CentralSchemaError(
            f"the central database at {where} has schema {version}; this kiosk knows up to "
            f"{CENTRAL_SCHEMA_VERSION}: update the kiosk software")
    if version < CENTRAL_SCHEMA_VERSION:
        raise CentralSchemaError(
            f"the central database at {where} has schema {version}, older than this kiosk's "
            f"{CENTRAL_SCHEMA_VERSION}: run kiosk central init DSN to migrate it first")
    return found


# ---- kiosks ----------------------------------------------------------------------------------

def register_kiosk(connection: psycopg.Connection[Any], *, kiosk_id: str, database_id: str,
                   street: str, community: str, site: str | None, station: str) -> None:
    """Record (or update) the kiosk and its site. A kiosk id already used by another kiosk
    database is refused: rows are keyed by kiosk id, so two databases under one id would
    hide each other's rows."""
    with connection.transaction():
        row = connection.execute(
            "INSERT INTO kiosks AS k (kiosk_id, database_id, street, community, site, station)"
            " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (kiosk_id) DO UPDATE SET"
            " street=excluded.street, community=excluded.community, site=excluded.site,"
            " station=excluded.station WHERE k.database_id = excluded.database_id"
            " RETURNING kiosk_id", (kiosk_id, database_id, street, community, site, station),
        ).fetchone()
    if row is None:
        raise CentralError(
            f"kiosk id {kiosk_id!r} is already used at the central database by another kiosk "
            "database; give this kiosk its own id ([station] kiosk_id in its config) and "
            "sync again")


def finish_sync(connection: psycopg.Connection[Any], kiosk_id: str) -> None:
    with connection.transaction():
        connection.execute("UPDATE kiosks SET last_sync = now() WHERE kiosk_id = %s",
                           (kiosk_id,))


# ---- batches ---------------------------------------------------------------------------------

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_field(value: Any) -> str:
    """One field in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
            return value.translate(_COPY_ESCAPES)
        return value
    return str(value)


def copy_text(rows: Sequence[Sequence[Any]], prefix: Sequence[Any] = ()) -> bytes:
    """Rows in COPY's text format (``prefix`` fields first on every row)."""
    head = "".join(_copy_field(value) + "\t" for value in prefix)
    return "".join(
        head + "\t".join([_copy_field(value) for value in row]) + "\n" for row in rows
    ).encode("utf-8")


def push(connection: psycopg.Connection[Any], stream: str, origin: str,
         rows: Sequence[Sequence[Any]]) -> int:
    """Add one batch of ``stream`` rows (in SYNC_COLUMNS order) from kiosk ``origin``, in the
    caller's transaction; returns how many were new (the others were there already)."""
    table, key = CENTRAL_TABLES[stream]
    columns = ("origin", *SYNC_COLUMNS[stream])
    names = ", ".join(columns)
    incoming = f"incoming_{table}"
    # One temporary table per connection and stream, emptied at every commit.
    connection.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {incoming} (LIKE {table} INCLUDING DEFAULTS)"
        " ON COMMIT DELETE ROWS")  # type: ignore[arg-type]
    with connection.cursor().copy(
            f"COPY {incoming} ({names}) FROM STDIN") as copy:  # type: ignore[arg-type]
        copy.write(copy_text(rows, (origin,)))
    insert = (f"INSERT INTO {table} ({names}) SELECT {names} FROM {incoming}"
              f" ON CONFLICT ({', '.join(key)}) DO NOTHING")
    if stream in ("forms", "submissions"):  # the statistics count exactly the rows added
        from store.central_stats import insert_counted

        return insert_counted(connection, stream, insert)
    cursor = connection.execute(insert)  # type: ignore[arg-type]
    return max(cursor.rowcount, 0)


def differing_forms(connection: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    """(survey, version) of the forms of the batch just pushed whose content differs from
    the central copy: the same version must mean the same form (as in the kiosk)."""
    return [(row[0], row[1]) for row in connection.execute(
        "SELECT i.survey_id, i.version FROM incoming_forms i JOIN forms f"
        " USING (survey_id, version) WHERE f.source_sha256 IS DISTINCT FROM i.source_sha256"
        " ORDER BY 1, 2").fetchall()]

"""The central schema, versioned in ``kiosk_meta``: ``init`` creates or migrates it, step by
step, in one transaction under an advisory lock; ``installation`` checks a database has this
version before anything reads or writes it."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from store.central.bitmaps import SCHEMA_7, bring_up_to_date
from store.central.connection import CentralError, CentralSchemaError, connect, describe
from store.central.registers import SCHEMA_5
from store.central.reviews import SCHEMA_6
from store.central.tallies import create_schema
from store.central.trust import (
    SPLIT_PERSONAL,
    SPLIT_PLAIN,
    WITHOUT_FUNCTION,
    Roles,
    default_prefix,
    install,
    schema_4,
)
from store.central.volunteers import ROSTER_SCHEMA

if TYPE_CHECKING:
    import psycopg

CENTRAL_SCHEMA_VERSION = 8


# Any two processes running ``init`` at once: one waits for the other (an arbitrary key).
_INIT_LOCK = 0x53474B43


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
    """City-wide statistics: tallies kept as submissions arrive (store/central/tallies.py);
    the submissions already there are counted."""
    create_schema(connection)


def _schema_3(connection: psycopg.Connection[Any]) -> None:
    """The volunteer roster each kiosk sends with its sync, for the hours of every site
    (store/central/volunteers.py)."""
    for statement in ROSTER_SCHEMA:
        connection.execute(statement)  # type: ignore[arg-type]


def _schema_4(connection: psycopg.Connection[Any]) -> None:
    """Enrolled kiosks, their keys, a signature on every row, personal answers apart, and
    the roles (store/central/trust.py)."""
    schema_4(connection)


def _schema_5(connection: psycopg.Connection[Any]) -> None:
    """Registers of households: what each submission did to one, and every change, for the
    kiosks of its street to pull (store/central/registers.py). Personal answers inside
    repeats move beside the others, as a sync now puts them (store/central/trust.py)."""
    for statement in SCHEMA_5:
        connection.execute(statement)  # type: ignore[arg-type]
    connection.execute(WITHOUT_FUNCTION)  # type: ignore[arg-type]
    connection.execute(
        "UPDATE submissions s SET pii_answers = coalesce(s.pii_answers, '{}') || "  # type: ignore[arg-type]
        f"{SPLIT_PERSONAL.format(answers='s.answers')}, answers = "
        f"{SPLIT_PLAIN.format(answers='s.answers')} FROM forms f WHERE f.survey_id ="
        " s.survey_id AND f.version = s.version AND f.pii_questions <> '{}' AND EXISTS"
        " (SELECT 1 FROM jsonb_each(s.answers) e WHERE jsonb_typeof(e.value -> 0) = 'object'"
        " AND public.kiosk_without(e.value, f.pii_questions) <> e.value)")


def _schema_6(connection: psycopg.Connection[Any]) -> None:
    """Review before counting: the kiosks' review decisions and corrections of answers,
    signed like every row (store/central/reviews.py)."""
    for statement in SCHEMA_6:
        connection.execute(statement)  # type: ignore[arg-type]


def _schema_7(connection: psycopg.Connection[Any]) -> None:
    """Bitmaps of the submissions holding each answer (issue 18, store/central/bitmaps.py):
    a number for every submission, the pieces, and the queue of submissions whose bitmaps
    are to be written (every one already here; ``init`` writes them)."""
    for statement in SCHEMA_7:
        connection.execute(statement)  # type: ignore[arg-type]


def _schema_8(connection: psycopg.Connection[Any]) -> None:
    """The tallies per cell (day, kiosk, site, enumerator) and per kiosk and site dropped:
    the bitmaps answer every figure by place or enumerator, and keeping those tallies was a
    third of a sync's time (issue 18)."""
    connection.execute("DROP TABLE stats_tally_cell, stats_tally_place")


# Schema version -> the step that makes it from the one before.
_STEPS: dict[int, Callable[[Any], None]] = {1: _schema_1, 2: _schema_2, 3: _schema_3,
                                            4: _schema_4, 5: _schema_5, 6: _schema_6,
                                            7: _schema_7, 8: _schema_8}


@dataclass(frozen=True)
class InitResult:
    before: int  # 0: the database had no kiosk schema
    after: int
    installation: str
    roles: Roles

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


def init(dsn: str, *, role_prefix: str | None = None) -> InitResult:
    """Create the central schema, or migrate it to CENTRAL_SCHEMA_VERSION, and (re)create
    its roles, functions and grants; a database of a newer schema is refused unchanged.
    Run it as the database's owner with the right to create roles (CREATEROLE), or as a
    superuser: the functions it makes run with that role's rights."""
    if role_prefix is not None and not re.fullmatch(r"[a-z][a-z0-9_]{0,29}", role_prefix):
        raise CentralError(f"a role prefix is 1-30 lower-case letters, digits or _, "
                           f"starting with a letter (got {role_prefix!r})")
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
        if CENTRAL_SCHEMA_VERSION < 4:  # an older schema made on purpose (a test)
            return InitResult(before, CENTRAL_SCHEMA_VERSION, str(installation_id),
                              Roles(""))
        found = connection.execute(
            "SELECT value FROM kiosk_meta WHERE key = 'role_prefix'").fetchone()
        prefix = found[0] if found else role_prefix or default_prefix(
            connection.execute("SELECT current_database()").fetchone()[0])  # type: ignore
        if found and role_prefix is not None and role_prefix != found[0]:
            raise CentralError(f"this central database's roles are {found[0]}_…; "
                               "its role prefix cannot change. Nothing was changed.")
        connection.execute("INSERT INTO kiosk_meta(key, value) VALUES ('role_prefix', %s)"
                           " ON CONFLICT (key) DO NOTHING", (prefix,))
        roles = install(connection, prefix)
        if CENTRAL_SCHEMA_VERSION >= 7:  # the bitmaps of what the migration queued
            bring_up_to_date(connection)
    return InitResult(before, CENTRAL_SCHEMA_VERSION, str(installation_id), roles)


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

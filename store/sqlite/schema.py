"""The kiosk database's schema: what makes a file ours, and the steps from one schema version
to the next, taken in one transaction.

The schema carries ``PRAGMA application_id`` (this file is ours) and ``PRAGMA user_version``
(which schema). Migrations run from whatever version a database has to SCHEMA_VERSION, one
step at a time; a new database also gets its initial forms in that transaction.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from store.errors import NewerDatabase, NotOurDatabase
from store.sqlite.tallies import flat_table, quoted
from surveys.clock import now_stamp
from surveys.session import Submission
from surveys.stats.model import catalogue

if TYPE_CHECKING:
    from store.sqlite.tallies import StatsUpkeep
    from surveys.form import Form

class Migrating(Protocol):
    """What the migration steps use of the store being opened."""

    conn: sqlite3.Connection

    @property
    def db(self) -> Any: ...
    @property
    def stats(self) -> StatsUpkeep: ...
    def transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...
    def install_form(self, compiled: dict[str, Any]) -> bool: ...
    def load_form(self, survey_id: str, version: str | None = None) -> Form: ...


APPLICATION_ID = 0x53474B31  # "SGK1": a shegong-kiosk database
SCHEMA_VERSION = 12


def user_version(connection: sqlite3.Connection) -> int:
    return int(connection.execute("PRAGMA user_version").fetchone()[0])


def check_file(connection: sqlite3.Connection, path: Path) -> None:
    """Refuse a file that is not ours or is newer, without writing to it."""
    try:
        application_id = connection.execute("PRAGMA application_id").fetchone()[0]
        user_version = connection.execute("PRAGMA user_version").fetchone()[0]
        tables = connection.execute(
            "SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0]
    except sqlite3.DatabaseError:
        raise NotOurDatabase(
            f"{path} is not a kiosk database (not an SQLite file); it was left as it was"
        ) from None
    if application_id == 0 and tables == 0 and user_version == 0:
        return  # new or empty file: ours to create
    if application_id != APPLICATION_ID:
        raise NotOurDatabase(
            f"{path} is an SQLite database of another program; the kiosk will not "
            "use or change it. Give another path with --db or KIOSK_DB."
        )
    if user_version > SCHEMA_VERSION:
        raise NewerDatabase(
            f"{path} was written by a newer kiosk (schema {user_version}, this kiosk "
            f"knows up to {SCHEMA_VERSION}); update the kiosk software. It was left unchanged."
        )


def migrate(store: Migrating,
            initial_forms: Callable[[], Iterable[dict[str, Any]]] | None) -> bool:
    """Bring the schema to SCHEMA_VERSION, one step at a time, in one transaction.

    A new database also gets its initial forms in that transaction, so a crash during
    creation leaves either nothing or everything. True when the database was created.
    """
    if user_version(store.conn) == SCHEMA_VERSION:
        return False
    created = False
    forms = list(initial_forms()) if initial_forms else []
    with store.transaction():
        start = user_version(store.conn)  # re-read under the lock: another process may have
        for version in range(start + 1, SCHEMA_VERSION + 1):
            _STEPS[version](store)
        if start == 0:
            store.conn.execute("INSERT INTO meta(key, value) VALUES ('created_at', ?)",
                              (now_stamp(),))
            for compiled in forms:
                store.install_form(compiled)
            store.conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
            created = True
        store.conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    return created


def _schema_1(store: Migrating) -> None:
    """Forms, drafts and submissions."""
    store.db["meta"].create({"key": str, "value": str}, pk="key")
    store.db["forms"].create(
        {
            "survey_id": str, "version": str, "title": str, "default_language": str,
            "question_count": int, "compiled": str, "source_name": str,
            "source_sha256": str, "installed_at": str,
        },
        pk=("survey_id", "version"),
        not_null={"compiled", "installed_at"},
    )
    store.db["drafts"].create(
        {
            "instance_id": str, "survey_id": str, "version": str, "kiosk": str,
            "lang": str, "enumerator": str, "started": str, "updated": str,
            "screen": str, "answers": str, "status": str,
        },
        pk="instance_id",
        not_null={"survey_id", "version", "answers", "status"},
        defaults={"status": "open"},
    )
    store.db["submissions"].create(
        {
            "instance_id": str, "survey_id": str, "version": str, "kiosk": str,
            "started": str, "completed": str, "lang": str, "enumerator": str,
            "answers": str, "receipt_code": str, "source": str, "stored_at": str,
        },
        pk="instance_id",
        not_null={"survey_id", "version", "answers"},
    )
    store.db["submissions"].create_index(["survey_id", "version"])
    store.db["submissions"].create_index(["survey_id", "completed"])
    store.db["submissions"].create_index(["receipt_code"])
    store.db["drafts"].create_index(["status"])


def _schema_2(store: Migrating) -> None:
    """The staff log: PIN attempts, exits and other staff events at the kiosk."""
    store.db["staff_events"].create(
        {"id": int, "at": str, "at_epoch": float, "kiosk": str, "event": str,
         "detail": str},
        pk="id",
        not_null={"at", "at_epoch", "event"},
    )
    store.db["staff_events"].create_index(["event", "at_epoch"])


def _schema_3(store: Migrating) -> None:
    """The print queue: every receipt is saved here before it is sent to the printer."""
    store.db["print_jobs"].create(
        {"id": int, "created": str, "created_epoch": float, "kiosk": str, "kind": str,
         "source": str, "title": str, "document": str, "state": str, "reprint": int,
         "attempts": int, "next_attempt": float, "last_status": str, "last_error": str,
         "worker": str, "sending_since": float, "done_at": str, "reprint_of": int},
        pk="id",
        not_null={"created", "created_epoch", "kind", "document", "state", "reprint",
                  "attempts", "next_attempt"},
        defaults={"state": "queued", "reprint": 0, "attempts": 0, "source": "",
                  "title": "", "last_status": "", "last_error": "", "worker": "",
                  "done_at": ""},
    )
    store.db["print_jobs"].create_index(["state", "next_attempt"])
    store.db["print_jobs"].create_index(["source"])


def _schema_4(store: Migrating) -> None:
    """Volunteers: the roster, check-ins, check-outs and staff corrections.

    A session is a check-in row and (once closed) a check-out row with the same id;
    corrections are rows of their own. These three tables are append-only: triggers
    refuse any UPDATE or DELETE, so a recorded time can never be changed in place.
    """
    store.db["volunteers"].create(
        {"number": str, "name": str, "phone": str, "id_card": str, "team": str,
         "organisation": str, "joined": str, "status": str, "card_serial": int,
         "added_at": str, "updated_at": str},
        pk="number",
        not_null={"name", "status", "card_serial", "added_at"},
        defaults={"status": "active", "card_serial": 1, "phone": "", "id_card": "",
                  "team": "", "organisation": ""},
    )
    store.db["volunteers"].create_index(["team"])
    store.db["volunteer_checkins"].create(
        {"id": int, "number": str, "kiosk": str, "service": str, "at": str,
         "at_epoch": float, "recorded_at": str},
        pk="id",
        not_null={"number", "at", "at_epoch"},
        foreign_keys=[("number", "volunteers", "number")],
    )
    store.db["volunteer_checkins"].create_index(["number", "at_epoch"])
    store.db["volunteer_checkins"].create_index(["at_epoch"])
    store.db["volunteer_checkouts"].create(
        {"session_id": int, "kiosk": str, "at": str, "at_epoch": float,
         "closed_by": str, "flags": str, "recorded_at": str},
        pk="session_id",  # one check-out per session
        not_null={"at", "at_epoch", "closed_by"},
        defaults={"flags": ""},
        foreign_keys=[("session_id", "volunteer_checkins", "id")],
    )
    store.db["volunteer_corrections"].create(
        {"id": int, "session_id": int, "action": str, "checked_in": str,
         "checked_in_epoch": float, "checked_out": str, "checked_out_epoch": float,
         "reason": str, "staff": str, "at": str, "at_epoch": float, "kiosk": str},
        pk="id",
        not_null={"session_id", "action", "reason", "staff", "at", "at_epoch"},
        foreign_keys=[("session_id", "volunteer_checkins", "id")],
    )
    store.db["volunteer_corrections"].create_index(["session_id"])
    # Which sessions are open, kept by triggers: the day-end sweep before every scan
    # reads this small table instead of every check-in ever made.
    store.db["volunteer_open_sessions"].create(
        {"session_id": int}, pk="session_id",
        foreign_keys=[("session_id", "volunteer_checkins", "id")])
    store.conn.execute(
        "CREATE TRIGGER volunteer_checkins_open AFTER INSERT ON volunteer_checkins"
        " BEGIN INSERT INTO volunteer_open_sessions(session_id) VALUES (NEW.id); END")
    store.conn.execute(
        "CREATE TRIGGER volunteer_checkouts_close AFTER INSERT ON volunteer_checkouts"
        " BEGIN DELETE FROM volunteer_open_sessions WHERE session_id = NEW.session_id; END")
    for table in ("volunteer_checkins", "volunteer_checkouts", "volunteer_corrections"):
        for action in ("UPDATE", "DELETE"):
            store.conn.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table}"
                " BEGIN SELECT RAISE(ABORT, 'volunteer check-ins, check-outs and"
                " corrections are never changed or deleted; add a correction'); END")


def _schema_5(store: Migrating) -> None:
    """Statistics: the site of each submission, tallies kept as submissions arrive and a
    flat table per survey (see store/sqlite/tallies.py); existing submissions are counted."""
    store.conn.execute("ALTER TABLE submissions ADD COLUMN site TEXT")
    store.stats.create()
    for survey_id, version in store.conn.execute(
            "SELECT survey_id, version FROM forms ORDER BY installed_at, rowid").fetchall():
        store.stats.ensure_form(store.load_form(survey_id, version))
    cursor = store.conn.execute(
        "SELECT rowid, instance_id, survey_id, version, kiosk, started, completed, lang,"
        " enumerator, answers FROM submissions ORDER BY rowid")
    while rows := cursor.fetchmany(5000):
        store.stats.add((row[0], Submission(
            instance_id=row[1], survey=row[2], version=row[3], kiosk=row[4],
            started=row[5] or "", completed=row[6] or "", lang=row[7] or "",
            enumerator=row[8], answers=json.loads(row[9]))) for row in rows)


def _schema_6(store: Migrating) -> None:
    """The audit record of staff actions, and the handling of service requests
    (新登记 → 处理中 → 已办结, each change with its note); both only ever added to."""
    store.db["audit"].create(
        {"id": int, "at": str, "at_epoch": float, "kiosk": str, "staff": str,
         "action": str, "target": str, "detail": str},
        pk="id", not_null={"at", "at_epoch", "staff", "action"},
    )
    store.db["audit"].create_index(["at_epoch"])
    store.db["request_updates"].create(
        {"id": int, "instance_id": str, "status": str, "note": str, "staff": str,
         "kiosk": str, "at": str, "at_epoch": float},
        pk="id", not_null={"instance_id", "status", "staff", "at", "at_epoch"},
    )
    store.db["request_updates"].create_index(["instance_id", "id"])
    for table in ("audit", "request_updates"):
        for action in ("UPDATE", "DELETE"):
            store.conn.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table}"
                " BEGIN SELECT RAISE(ABORT, 'the audit record and request updates are"
                " never changed or deleted'); END")


def _schema_7(store: Migrating) -> None:
    """Sync to the central PostgreSQL (kiosk/central/sync.py): this database's own id, the
    cursors (per central database and table: the last key sent), and the order in which
    check-outs were recorded (a check-out closes an old session, so its session id is
    no cursor)."""
    store.conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('database_id', ?)",
                      (str(uuid.uuid4()),))
    store.db["sync_cursors"].create(
        {"central": str, "stream": str, "last_key": int, "synced_at": str},
        pk=("central", "stream"), not_null={"last_key"})
    store.db["volunteer_checkout_order"].create(
        {"seq": int, "session_id": int}, pk="seq", not_null={"session_id"})
    store.db["volunteer_checkout_order"].create_index(["session_id"], unique=True)
    store.conn.execute(
        "INSERT INTO volunteer_checkout_order(session_id) SELECT session_id"
        " FROM volunteer_checkouts ORDER BY recorded_at, session_id")
    store.conn.execute(
        "CREATE TRIGGER volunteer_checkouts_order AFTER INSERT ON volunteer_checkouts"
        " BEGIN INSERT INTO volunteer_checkout_order(session_id) VALUES (NEW.session_id);"
        " END")


def _schema_8(store: Migrating) -> None:
    """Rows a sync could not send (store/sqlite/sync_cursors.py): set aside with the reason,
    so that one bad row never blocks the rest."""
    store.conn.execute(
        "CREATE TABLE sync_set_aside (central TEXT NOT NULL, stream TEXT NOT NULL,"
        " key INTEGER NOT NULL, reason TEXT NOT NULL, at TEXT NOT NULL,"
        " PRIMARY KEY (central, stream, key))")
    # Submissions stored from here on came through the record gate.
    store.conn.execute(
        "INSERT OR REPLACE INTO meta(key, value) SELECT 'gated_from', coalesce(max(rowid), 0) + 1"
        " FROM submissions")


def _schema_9(store: Migrating) -> None:
    """Submissions this kiosk took from another kiosk's bundle keep that kiosk's signature
    (signer, key version, the payload it signed, the signature), so the central database
    checks them against their own kiosk's key when this kiosk relays them."""
    store.conn.execute(
        "CREATE TABLE relayed_signatures (instance_id TEXT PRIMARY KEY, signer TEXT NOT NULL,"
        " key_version INTEGER NOT NULL, payload TEXT NOT NULL, signature BLOB NOT NULL)")


def _schema_10(store: Migrating) -> None:
    """Registers of households (issue 16): a submission keeps what it did to a register
    (its entity block), every such change is kept, and each entry as its changes leave it,
    with the text a search reads (store/sqlite/entities.py)."""
    store.conn.execute("ALTER TABLE submissions ADD COLUMN entity TEXT")
    store.conn.execute(
        "CREATE TABLE entity_changes (instance_id TEXT PRIMARY KEY, dataset TEXT NOT NULL,"
        " entity_id TEXT NOT NULL, action TEXT NOT NULL, completed TEXT NOT NULL,"
        " label TEXT NOT NULL, base_version INTEGER, properties TEXT NOT NULL,"
        " site TEXT NOT NULL)")
    store.conn.execute(
        "CREATE INDEX entity_changes_of ON entity_changes(dataset, entity_id, completed)")
    store.conn.execute(
        "CREATE TABLE entities (dataset TEXT NOT NULL, entity_id TEXT NOT NULL,"
        " label TEXT NOT NULL, version INTEGER NOT NULL, properties TEXT NOT NULL,"
        " created TEXT NOT NULL, updated TEXT NOT NULL, site TEXT NOT NULL,"
        " conflicts TEXT NOT NULL, changes TEXT NOT NULL, search TEXT NOT NULL,"
        " PRIMARY KEY (dataset, entity_id)) WITHOUT ROWID")


def _schema_11(store: Migrating) -> None:
    """Review before counting and how each questionnaire was filled (issue 17).

    ``reviews`` and ``corrections`` are logs that only grow: staff's review decisions
    (未审核/已通过/有问题/作废 with a note) and corrections of an answer (old and new value,
    why), each made by one staff member on one kiosk at one time, and sent on to the central
    database as they are. A submission's answers are never changed: ``corrected`` holds its
    answers with the corrections applied (NULL without any), which statistics and exports
    read, and each flat table's ``_review`` the state its newest review gave (NULL: not
    reviewed). ``paradata`` keeps, per submission, how it was filled: seconds on each
    question, answers changed, back-steps, idle interruptions (as ODK's audit log)."""
    store.conn.execute(
        "CREATE TABLE reviews (review_id TEXT PRIMARY KEY, instance_id TEXT NOT NULL,"
        " state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'questioned', 'void')),"
        " note TEXT NOT NULL, staff TEXT NOT NULL, at TEXT NOT NULL, kiosk TEXT NOT NULL)")
    store.conn.execute("CREATE INDEX reviews_of ON reviews(instance_id, at)")
    store.conn.execute(
        "CREATE TABLE corrections (correction_id TEXT PRIMARY KEY, instance_id TEXT NOT NULL,"
        " question TEXT NOT NULL, old TEXT NOT NULL, new TEXT NOT NULL, why TEXT NOT NULL,"
        " staff TEXT NOT NULL, at TEXT NOT NULL, kiosk TEXT NOT NULL)")
    store.conn.execute("CREATE INDEX corrections_of ON corrections(instance_id, at)")
    store.conn.execute("ALTER TABLE submissions ADD COLUMN corrected TEXT")
    for (table,) in store.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'flat\\_%'"
            " ESCAPE '\\' AND name NOT LIKE '%/%'").fetchall():  # not a repeat's table
        columns = {row[1] for row in store.conn.execute(f"PRAGMA table_info({quoted(table)})")}
        if "_review" not in columns:  # a table step 5 made just now already has it
            store.conn.execute(f"ALTER TABLE {quoted(table)} ADD COLUMN _review TEXT")
    store.conn.execute(
        "CREATE TABLE paradata (instance_id TEXT PRIMARY KEY, survey_id TEXT NOT NULL,"
        " version TEXT NOT NULL, seconds REAL NOT NULL, answer_changes INTEGER NOT NULL,"
        " back_steps INTEGER NOT NULL, interruptions INTEGER NOT NULL, events TEXT NOT NULL)")
    store.conn.execute("CREATE INDEX paradata_of ON paradata(survey_id)")


def _schema_12(store: Migrating) -> None:
    """Bitmaps of the submissions holding each answer (issue 18, store/bitmaps.py), built
    from each survey's flat table, a piece of 65,536 submissions at a time. They answer
    the figures of some kiosks, sites or enumerators too, so the tallies per cell (day,
    kiosk, site, enumerator: 678,000 rows at 1,000,000 submissions, two upserts for each
    one stored) are dropped; ``stats_cells`` stays for the series over time."""
    store.conn.execute("DROP TABLE stats_tally_cell")
    store.stats.bitmaps.create()
    surveys = [row[0] for row in store.conn.execute(
        "SELECT DISTINCT survey_id FROM forms ORDER BY survey_id")]
    for survey_id in surveys:
        if not store.stats.table_columns(survey_id):
            continue  # nothing stored yet
        questions = catalogue([store.load_form(survey_id, version) for (version,) in
                               store.conn.execute("SELECT version FROM forms WHERE survey_id = ?"
                                                  " ORDER BY installed_at, rowid", (survey_id,))
                               .fetchall()])
        store.stats.bitmaps.rebuild(survey_id, flat_table(survey_id),
                                    [(name, question.kind) for name, question in questions.items()
                                     if not question.in_repeat])


# Schema version -> the step that creates it from the version before.
_STEPS: dict[int, Callable[[Migrating], None]] = {
    1: _schema_1,
    2: _schema_2,
    3: _schema_3,
    4: _schema_4,
    5: _schema_5,
    6: _schema_6,
    7: _schema_7,
    8: _schema_8,
    9: _schema_9,
    10: _schema_10,
    11: _schema_11,
    12: _schema_12,
}

"""The kiosk database: one SQLite file, written only through this module.

Durability first: WAL with ``synchronous=FULL``, so a submission or draft that was
committed survives a power cut. The schema carries ``PRAGMA application_id`` (this file is
ours) and ``PRAGMA user_version`` (which schema); a file that is not ours, or is from a newer
kiosk, is refused before anything is written to it.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from store.statistics import StatsTables
from surveys.clock import format_datetime, now_local
from surveys.form import Form
from surveys.session import FormSession, Submission
from surveys.stats.model import Question, StatsFilter, Tallies

APPLICATION_ID = 0x53474B31  # "SGK1": a shegong-kiosk database
SCHEMA_VERSION = 7
# States of a print job (see kiosk/printing.py): waiting means the printer was not ready.
PRINT_STATES = ("queued", "sending", "waiting", "done", "cancelled")
PENDING_PRINT_STATES = ("queued", "waiting")
VOLUNTEER_STATES = ("active", "suspended")
# How a session was closed: by the volunteer's scan, or by the kiosk at the day's end.
CLOSED_BY = ("scan", "day_end")
# What a staff correction does: set the times, confirm the times as recorded, or void it.
CORRECTION_ACTIONS = ("times", "confirm", "void")
_VOLUNTEER_COLUMNS = ("number, name, phone, id_card, team, organisation, joined, status,"
                      " card_serial")
_SESSION_COLUMNS = ("c.id, c.number, c.kiosk, c.service, c.at, c.at_epoch, o.at, o.at_epoch,"
                    " o.closed_by, o.flags, o.kiosk")
_CORRECTION_COLUMNS = ("id, session_id, action, checked_in, checked_in_epoch, checked_out,"
                       " checked_out_epoch, reason, staff, at, at_epoch, kiosk")


REQUEST_STATUSES = ("new", "in_progress", "closed")


class StoreError(Exception):
    """A database problem a user can act on; the message says what and where."""


class NotOurDatabase(StoreError):
    pass


class NewerDatabase(StoreError):
    pass


class FormVersionConflict(StoreError):
    pass


class PrintJobError(StoreError):
    """A staff action on a print job that cannot be done (no such job, wrong state)."""


class VolunteerError(StoreError):
    """A roster or session change that cannot be done (no such volunteer, duplicate...)."""


@dataclass(frozen=True)
class FormInfo:
    survey_id: str
    version: str
    title: dict[str, str]
    default_language: str
    question_count: int
    installed_at: str
    source_name: str

    def title_in(self, language_code: str = "zh") -> str:
        for name, text in self.title.items():
            if name == language_code or name.endswith(f"({language_code})"):
                return text
        return self.title.get(self.default_language) or next(iter(self.title.values()), "")


@dataclass(frozen=True)
class PrintJob:
    """One row of the print queue; ``document`` is a ``printers.document.Document`` as JSON."""

    id: int
    created: str
    kiosk: str
    kind: str
    source: str
    title: str
    document: list[dict[str, Any]]
    state: str
    reprint: bool
    attempts: int
    next_attempt: float
    last_status: str
    last_error: str
    worker: str
    done_at: str
    reprint_of: int | None


_PRINT_JOB_COLUMNS = ("id, created, kiosk, kind, source, title, document, state, reprint,"
                      " attempts, next_attempt, last_status, last_error, worker, done_at,"
                      " reprint_of")


def _print_job(row: Sequence[Any]) -> PrintJob:
    return PrintJob(
        id=row[0], created=row[1], kiosk=row[2] or "", kind=row[3], source=row[4] or "",
        title=row[5] or "", document=json.loads(row[6]), state=row[7], reprint=bool(row[8]),
        attempts=row[9], next_attempt=row[10], last_status=row[11] or "",
        last_error=row[12] or "", worker=row[13] or "", done_at=row[14] or "",
        reprint_of=row[15])


@dataclass(frozen=True)
class Volunteer:
    """One volunteer of the roster. ``phone`` and ``id_card`` are personal data."""

    number: str
    name: str
    phone: str
    id_card: str
    team: str
    organisation: str
    joined: dt.date | None
    status: str  # active or suspended
    card_serial: int

    @property
    def active(self) -> bool:
        return self.status == "active"


def _volunteer(row: Sequence[Any]) -> Volunteer:
    return Volunteer(number=row[0], name=row[1], phone=row[2] or "", id_card=row[3] or "",
                     team=row[4] or "", organisation=row[5] or "",
                     joined=dt.date.fromisoformat(row[6]) if row[6] else None,
                     status=row[7], card_serial=row[8])


@dataclass(frozen=True)
class SessionCorrection:
    """A staff correction of a session, kept beside the original (which never changes).

    ``action``: ``times`` (new check-in and/or check-out; None keeps the one before),
    ``confirm`` (the recorded times are right, e.g. a day-end closing) or ``void``.
    Times are ISO 8601 with offset, and Unix times.
    """

    id: int
    session_id: int
    action: str
    checked_in: str | None
    checked_in_epoch: float | None
    checked_out: str | None
    checked_out_epoch: float | None
    reason: str
    staff: str
    at: str
    at_epoch: float
    kiosk: str


@dataclass(frozen=True)
class VolunteerSession:
    """A check-in and its check-out (None while open), as recorded; never changed later.

    ``closed_by``: ``scan`` (the volunteer checked out), ``day_end`` (the kiosk closed it
    at the configured day end, for staff review) or "" while open. ``corrections`` are the
    staff's, oldest first.
    """

    id: int
    number: str
    kiosk: str
    service: str
    checked_in: str
    checked_in_epoch: float
    checked_out: str | None
    checked_out_epoch: float | None
    closed_by: str
    flags: tuple[str, ...]
    checkout_kiosk: str
    corrections: tuple[SessionCorrection, ...] = ()

    @property
    def open(self) -> bool:
        return self.checked_out_epoch is None


def _session(row: Sequence[Any],
             corrections: tuple[SessionCorrection, ...] = ()) -> VolunteerSession:
    return VolunteerSession(
        id=row[0], number=row[1], kiosk=row[2] or "", service=row[3] or "",
        checked_in=row[4], checked_in_epoch=row[5], checked_out=row[6],
        checked_out_epoch=row[7], closed_by=row[8] or "",
        flags=tuple(flag for flag in (row[9] or "").split(",") if flag),
        checkout_kiosk=row[10] or "", corrections=corrections)


def _correction(row: Sequence[Any]) -> SessionCorrection:
    return SessionCorrection(
        id=row[0], session_id=row[1], action=row[2], checked_in=row[3],
        checked_in_epoch=row[4], checked_out=row[5], checked_out_epoch=row[6],
        reason=row[7], staff=row[8], at=row[9], at_epoch=row[10], kiosk=row[11] or "")


def _moment(moment: dt.datetime) -> tuple[str, float]:
    """An aware date-time as stored: ISO 8601 to the second with its offset, and Unix time."""
    if moment.tzinfo is None:
        raise ValueError("volunteer times must be aware date-times (with their zone)")
    return moment.isoformat(timespec="seconds"), moment.timestamp()


def receipt_code(instance_id: str) -> str:
    """A short code a resident can read out at the desk: 8 base32 letters from the id."""
    digest = hashlib.sha256(instance_id.encode()).digest()
    letters = base64.b32encode(digest[:5]).decode()
    return f"{letters[:4]}-{letters[4:]}"


def _now() -> str:
    return format_datetime(now_local())


class KioskStore:
    """All reads and writes of one kiosk database."""

    def __init__(
        self, path: str | Path,
        initial_forms: Callable[[], Iterable[dict[str, Any]]] | None = None,
    ) -> None:
        """Open or create the database at ``path``.

        A new database gets ``initial_forms()`` installed in the same transaction as its
        schema, so a crash during creation leaves either nothing or everything.
        """
        self.path = Path(path)
        self._forms: dict[tuple[str, str], Form] = {}
        self._stats: StatsTables | None = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except sqlite3.Error as error:
            raise StoreError(f"{self.path}: cannot open the database ({error})") from None
        try:
            self._check(connection)
        except BaseException:
            connection.close()
            raise
        self.conn = connection
        # Durability before speed: a commit reaches the disk before we say it is saved.
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("PRAGMA foreign_keys=ON")
        connection.execute("PRAGMA busy_timeout=30000")
        self.created = False
        self._migrate(initial_forms)

    # ---- opening ------------------------------------------------------------------------

    def _check(self, connection: sqlite3.Connection) -> None:
        """Refuse a file that is not ours or is newer, without writing to it."""
        try:
            application_id = connection.execute("PRAGMA application_id").fetchone()[0]
            user_version = connection.execute("PRAGMA user_version").fetchone()[0]
            tables = connection.execute(
                "SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0]
        except sqlite3.DatabaseError:
            raise NotOurDatabase(
                f"{self.path} is not a kiosk database (not an SQLite file); it was left as it was"
            ) from None
        if application_id == 0 and tables == 0 and user_version == 0:
            return  # new or empty file: ours to create
        if application_id != APPLICATION_ID:
            raise NotOurDatabase(
                f"{self.path} is an SQLite database of another program; the kiosk will not "
                "use or change it. Give another path with --db or KIOSK_DB."
            )
        if user_version > SCHEMA_VERSION:
            raise NewerDatabase(
                f"{self.path} was written by a newer kiosk (schema {user_version}, this kiosk "
                f"knows up to {SCHEMA_VERSION}); update the kiosk software. It was left unchanged."
            )

    @cached_property
    def db(self) -> Any:
        """sqlite-utils over the same connection, for schema work (loaded when needed)."""
        import sqlite_utils

        return sqlite_utils.Database(self.conn)

    def _user_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self, initial_forms: Callable[[], Iterable[dict[str, Any]]] | None) -> None:
        """Bring the schema to SCHEMA_VERSION, one step at a time, in one transaction.

        A new database also gets its initial forms in that transaction, so a crash during
        creation leaves either nothing or everything.
        """
        if self._user_version() == SCHEMA_VERSION:
            return
        forms = list(initial_forms()) if initial_forms else []
        with self.transaction():
            start = self._user_version()  # re-read under the lock: another process may have
            for version in range(start + 1, SCHEMA_VERSION + 1):
                _STEPS[version](self)
            if start == 0:
                self.conn.execute("INSERT INTO meta(key, value) VALUES ('created_at', ?)",
                                  (_now(),))
                for compiled in forms:
                    self.install_form(compiled)
                self.conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
                self.created = True
            self.conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _schema_1(self) -> None:
        """Forms, drafts and submissions."""
        self.db["meta"].create({"key": str, "value": str}, pk="key")
        self.db["forms"].create(
            {
                "survey_id": str, "version": str, "title": str, "default_language": str,
                "question_count": int, "compiled": str, "source_name": str,
                "source_sha256": str, "installed_at": str,
            },
            pk=("survey_id", "version"),
            not_null={"compiled", "installed_at"},
        )
        self.db["drafts"].create(
            {
                "instance_id": str, "survey_id": str, "version": str, "kiosk": str,
                "lang": str, "enumerator": str, "started": str, "updated": str,
                "screen": str, "answers": str, "status": str,
            },
            pk="instance_id",
            not_null={"survey_id", "version", "answers", "status"},
            defaults={"status": "open"},
        )
        self.db["submissions"].create(
            {
                "instance_id": str, "survey_id": str, "version": str, "kiosk": str,
                "started": str, "completed": str, "lang": str, "enumerator": str,
                "answers": str, "receipt_code": str, "source": str, "stored_at": str,
            },
            pk="instance_id",
            not_null={"survey_id", "version", "answers"},
        )
        self.db["submissions"].create_index(["survey_id", "version"])
        self.db["submissions"].create_index(["survey_id", "completed"])
        self.db["submissions"].create_index(["receipt_code"])
        self.db["drafts"].create_index(["status"])

    def _schema_2(self) -> None:
        """The staff log: PIN attempts, exits and other staff events at the kiosk."""
        self.db["staff_events"].create(
            {"id": int, "at": str, "at_epoch": float, "kiosk": str, "event": str,
             "detail": str},
            pk="id",
            not_null={"at", "at_epoch", "event"},
        )
        self.db["staff_events"].create_index(["event", "at_epoch"])

    def _schema_3(self) -> None:
        """The print queue: every receipt is saved here before it is sent to the printer."""
        self.db["print_jobs"].create(
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
        self.db["print_jobs"].create_index(["state", "next_attempt"])
        self.db["print_jobs"].create_index(["source"])

    def _schema_4(self) -> None:
        """Volunteers: the roster, check-ins, check-outs and staff corrections.

        A session is a check-in row and (once closed) a check-out row with the same id;
        corrections are rows of their own. These three tables are append-only: triggers
        refuse any UPDATE or DELETE, so a recorded time can never be changed in place.
        """
        self.db["volunteers"].create(
            {"number": str, "name": str, "phone": str, "id_card": str, "team": str,
             "organisation": str, "joined": str, "status": str, "card_serial": int,
             "added_at": str, "updated_at": str},
            pk="number",
            not_null={"name", "status", "card_serial", "added_at"},
            defaults={"status": "active", "card_serial": 1, "phone": "", "id_card": "",
                      "team": "", "organisation": ""},
        )
        self.db["volunteers"].create_index(["team"])
        self.db["volunteer_checkins"].create(
            {"id": int, "number": str, "kiosk": str, "service": str, "at": str,
             "at_epoch": float, "recorded_at": str},
            pk="id",
            not_null={"number", "at", "at_epoch"},
            foreign_keys=[("number", "volunteers", "number")],
        )
        self.db["volunteer_checkins"].create_index(["number", "at_epoch"])
        self.db["volunteer_checkins"].create_index(["at_epoch"])
        self.db["volunteer_checkouts"].create(
            {"session_id": int, "kiosk": str, "at": str, "at_epoch": float,
             "closed_by": str, "flags": str, "recorded_at": str},
            pk="session_id",  # one check-out per session
            not_null={"at", "at_epoch", "closed_by"},
            defaults={"flags": ""},
            foreign_keys=[("session_id", "volunteer_checkins", "id")],
        )
        self.db["volunteer_corrections"].create(
            {"id": int, "session_id": int, "action": str, "checked_in": str,
             "checked_in_epoch": float, "checked_out": str, "checked_out_epoch": float,
             "reason": str, "staff": str, "at": str, "at_epoch": float, "kiosk": str},
            pk="id",
            not_null={"session_id", "action", "reason", "staff", "at", "at_epoch"},
            foreign_keys=[("session_id", "volunteer_checkins", "id")],
        )
        self.db["volunteer_corrections"].create_index(["session_id"])
        # Which sessions are open, kept by triggers: the day-end sweep before every scan
        # reads this small table instead of every check-in ever made.
        self.db["volunteer_open_sessions"].create(
            {"session_id": int}, pk="session_id",
            foreign_keys=[("session_id", "volunteer_checkins", "id")])
        self.conn.execute(
            "CREATE TRIGGER volunteer_checkins_open AFTER INSERT ON volunteer_checkins"
            " BEGIN INSERT INTO volunteer_open_sessions(session_id) VALUES (NEW.id); END")
        self.conn.execute(
            "CREATE TRIGGER volunteer_checkouts_close AFTER INSERT ON volunteer_checkouts"
            " BEGIN DELETE FROM volunteer_open_sessions WHERE session_id = NEW.session_id; END")
        for table in ("volunteer_checkins", "volunteer_checkouts", "volunteer_corrections"):
            for action in ("UPDATE", "DELETE"):
                self.conn.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table}"
                    " BEGIN SELECT RAISE(ABORT, 'volunteer check-ins, check-outs and"
                    " corrections are never changed or deleted; add a correction'); END")

    def _schema_5(self) -> None:
        """Statistics: the site of each submission, tallies kept as submissions arrive and a
        flat table per survey (see store/statistics.py); existing submissions are counted."""
        self.conn.execute("ALTER TABLE submissions ADD COLUMN site TEXT")
        self.stats.create()
        for survey_id, version in self.conn.execute(
                "SELECT survey_id, version FROM forms ORDER BY installed_at, rowid").fetchall():
            self.stats.ensure_form(self.load_form(survey_id, version))
        cursor = self.conn.execute(
            "SELECT rowid, instance_id, survey_id, version, kiosk, started, completed, lang,"
            " enumerator, answers FROM submissions ORDER BY rowid")
        while rows := cursor.fetchmany(5000):
            self.stats.add((row[0], Submission(
                instance_id=row[1], survey=row[2], version=row[3], kiosk=row[4],
                started=row[5] or "", completed=row[6] or "", lang=row[7] or "",
                enumerator=row[8], answers=json.loads(row[9]))) for row in rows)

    def _schema_6(self) -> None:
        """The audit record of staff actions, and the handling of service requests
        (新登记 → 处理中 → 已办结, each change with its note); both only ever added to."""
        self.db["audit"].create(
            {"id": int, "at": str, "at_epoch": float, "kiosk": str, "staff": str,
             "action": str, "target": str, "detail": str},
            pk="id", not_null={"at", "at_epoch", "staff", "action"},
        )
        self.db["audit"].create_index(["at_epoch"])
        self.db["request_updates"].create(
            {"id": int, "instance_id": str, "status": str, "note": str, "staff": str,
             "kiosk": str, "at": str, "at_epoch": float},
            pk="id", not_null={"instance_id", "status", "staff", "at", "at_epoch"},
        )
        self.db["request_updates"].create_index(["instance_id", "id"])
        for table in ("audit", "request_updates"):
            for action in ("UPDATE", "DELETE"):
                self.conn.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table}"
                    " BEGIN SELECT RAISE(ABORT, 'the audit record and request updates are"
                    " never changed or deleted'); END")

    def _schema_7(self) -> None:
        """Sync to the central PostgreSQL (kiosk/sync.py): this database's own id, the
        cursors (per central database and table: the last key sent), and the order in which
        check-outs were recorded (a check-out closes an old session, so its session id is
        no cursor)."""
        self.conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('database_id', ?)",
                          (str(uuid.uuid4()),))
        self.db["sync_cursors"].create(
            {"central": str, "stream": str, "last_key": int, "synced_at": str},
            pk=("central", "stream"), not_null={"last_key"})
        self.db["volunteer_checkout_order"].create(
            {"seq": int, "session_id": int}, pk="seq", not_null={"session_id"})
        self.db["volunteer_checkout_order"].create_index(["session_id"], unique=True)
        self.conn.execute(
            "INSERT INTO volunteer_checkout_order(session_id) SELECT session_id"
            " FROM volunteer_checkouts ORDER BY recorded_at, session_id")
        self.conn.execute(
            "CREATE TRIGGER volunteer_checkouts_order AFTER INSERT ON volunteer_checkouts"
            " BEGIN INSERT INTO volunteer_checkout_order(session_id) VALUES (NEW.session_id);"
            " END")

    @property
    def stats(self) -> StatsTables:
        """The statistics tables (store/statistics.py) on this connection."""
        if self._stats is None:
            self._stats = StatsTables(self.conn, self.load_form)
        return self._stats

    def transaction(self) -> _Transaction:
        return _Transaction(self.conn)

    def read_snapshot(self) -> _Snapshot:
        """A read transaction: every query inside sees the same committed state, however
        many submissions other processes store meanwhile (WAL keeps the snapshot)."""
        return _Snapshot(self.conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> KioskStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def integrity_check(self) -> str:
        return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])

    # ---- forms ------------------------------------------------------------------------

    def install_form(self, compiled: dict[str, Any]) -> bool:
        """Store a compiled form version. False if that exact version is already there.

        A different form under a version that is already installed is refused: submissions
        are read by (survey, version), so the same version must always mean the same form.
        """
        form = Form(compiled)
        with self.transaction():
            existing = self.conn.execute(
                "SELECT source_sha256 FROM forms WHERE survey_id=? AND version=?",
                (form.survey_id, form.version)).fetchone()
            if existing is not None:
                if existing[0] == compiled.get("source_sha256"):
                    return False
                raise FormVersionConflict(
                    f"survey '{form.survey_id}' version {form.version} is already installed "
                    "with different content; change 'version' on the settings sheet and "
                    "import again"
                )
            self.conn.execute(
                "INSERT INTO forms(survey_id, version, title, default_language, question_count,"
                " compiled, source_name, source_sha256, installed_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (form.survey_id, form.version, json.dumps(form.title, ensure_ascii=False),
                 form.default_language, form.question_count,
                 json.dumps(compiled, ensure_ascii=False, separators=(",", ":")),
                 compiled.get("source_name", ""), compiled.get("source_sha256", ""), _now()),
            )
            self.stats.ensure_form(form)
        self._forms[(form.survey_id, form.version)] = form
        return True

    def list_forms(self) -> list[FormInfo]:
        """The newest version of every installed survey, in installation order."""
        rows = self.conn.execute(
            "SELECT survey_id, version, title, default_language, question_count, installed_at,"
            " source_name FROM forms f WHERE rowid = (SELECT rowid FROM forms g"
            " WHERE g.survey_id = f.survey_id ORDER BY installed_at DESC, rowid DESC LIMIT 1)"
            " ORDER BY (SELECT min(rowid) FROM forms h WHERE h.survey_id = f.survey_id)"
        ).fetchall()
        return [FormInfo(row[0], row[1], json.loads(row[2]), row[3], row[4], row[5], row[6])
                for row in rows]

    def versions(self, survey_id: str) -> list[str]:
        return [row[0] for row in self.conn.execute(
            "SELECT version FROM forms WHERE survey_id=? ORDER BY installed_at, rowid",
            (survey_id,))]

    def compiled_forms(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Every installed form version: survey -> version -> compiled, oldest first."""
        forms: dict[str, dict[str, dict[str, Any]]] = {}
        for survey_id, version, compiled in self.conn.execute(
                "SELECT survey_id, version, compiled FROM forms ORDER BY installed_at, rowid"):
            forms.setdefault(survey_id, {})[version] = json.loads(compiled)
        return forms

    def load_form(self, survey_id: str, version: str | None = None) -> Form:
        """A form by id (newest version unless one is named), from the compiled cache."""
        if version is None:
            row = self.conn.execute(
                "SELECT version FROM forms WHERE survey_id=? ORDER BY installed_at DESC,"
                " rowid DESC LIMIT 1", (survey_id,)).fetchone()
            if row is None:
                raise KeyError(survey_id)
            version = str(row[0])
        key = (survey_id, version)
        if key not in self._forms:
            row = self.conn.execute(
                "SELECT compiled FROM forms WHERE survey_id=? AND version=?", key).fetchone()
            if row is None:
                raise KeyError(f"{survey_id} version {version}")
            self._forms[key] = Form(json.loads(row[0]))
        return self._forms[key]

    # ---- drafts -----------------------------------------------------------------------

    def save_draft(self, session: FormSession) -> None:
        """Save the session as it stands (called after every answer)."""
        snapshot = session.snapshot()
        self.conn.execute(
            "INSERT INTO drafts(instance_id, survey_id, version, kiosk, lang, enumerator,"
            " started, updated, screen, answers, status) VALUES (?,?,?,?,?,?,?,?,?,?,'open')"
            " ON CONFLICT(instance_id) DO UPDATE SET lang=excluded.lang,"
            " updated=excluded.updated, screen=excluded.screen, answers=excluded.answers",
            (snapshot["instance_id"], snapshot["survey"], snapshot["version"],
             snapshot["kiosk"], snapshot["lang"], snapshot["enumerator"], snapshot["started"],
             _now(), snapshot["screen"],
             json.dumps(snapshot["answers"], ensure_ascii=False)),
        )

    def draft_snapshot(self, instance_id: str) -> dict[str, Any] | None:
        row = self.conn.execute(
            "SELECT instance_id, survey_id, version, kiosk, lang, enumerator, started, screen,"
            " answers, status FROM drafts WHERE instance_id=?", (instance_id,)).fetchone()
        if row is None:
            return None
        return {
            "instance_id": row[0], "survey": row[1], "version": row[2], "kiosk": row[3],
            "lang": row[4], "enumerator": row[5], "started": row[6], "screen": row[7],
            "answers": json.loads(row[8]), "status": row[9],
        }

    def open_drafts(self) -> list[dict[str, Any]]:
        """Drafts left open by an interruption (crash, power cut), newest first."""
        ids = [row[0] for row in self.conn.execute(
            "SELECT instance_id FROM drafts WHERE status='open' ORDER BY updated DESC")]
        return [draft for draft in map(self.draft_snapshot, ids) if draft is not None]

    def resume_draft(self, instance_id: str) -> FormSession:
        """The session of an interrupted draft, at the screen where it stopped."""
        snapshot = self.draft_snapshot(instance_id)
        if snapshot is None:
            raise KeyError(instance_id)
        form = self.load_form(snapshot["survey"], snapshot["version"])
        return FormSession.restore(form, snapshot)

    def abandon_draft(self, instance_id: str) -> None:
        """Mark a draft abandoned (the resident walked away); counted, never shown again."""
        self.conn.execute("UPDATE drafts SET status='abandoned', updated=? WHERE instance_id=?",
                          (_now(), instance_id))

    def draft_counts(self) -> dict[str, int]:
        return {row[0]: row[1] for row in self.conn.execute(
            "SELECT status, count(*) FROM drafts GROUP BY status")}

    # ---- submissions ------------------------------------------------------------------

    def save_submission(self, submission: Submission, source: str = "kiosk") -> str:
        """Store a finished questionnaire and close its draft, in one transaction.

        Returns the receipt code. Saving the same instance twice is harmless.
        """
        code = receipt_code(submission.instance_id)
        with self.transaction():
            cursor = self.conn.execute(
                f"INSERT OR IGNORE INTO submissions({_SUBMISSION_COLUMNS})"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                _submission_row(submission, code, source, _now()),
            )
            if cursor.rowcount == 1:  # counted once, with the submission
                self.stats.add([(int(cursor.lastrowid or 0), submission)])
            self.conn.execute("DELETE FROM drafts WHERE instance_id=?",
                              (submission.instance_id,))
        return code

    def insert_submissions(self, submissions: Sequence[Submission], source: str = "import") -> int:
        """Store a batch in one transaction; returns how many were new (others existed).

        The statistics tables count the new ones in the same transaction.
        """
        stamp = _now()
        with self.transaction():
            existing = self._existing_instances([item.instance_id for item in submissions])
            new: dict[str, Submission] = {}
            for submission in submissions:
                if submission.instance_id not in existing:
                    new.setdefault(submission.instance_id, submission)
            if not new:
                return 0
            # Explicit rowids (under the write lock): the flat table's rows share them.
            first = int(self.conn.execute(
                "SELECT coalesce(max(rowid), 0) + 1 FROM submissions").fetchone()[0])
            numbered = list(enumerate(new.values(), start=first))
            self.conn.executemany(
                f"INSERT INTO submissions(rowid, {_SUBMISSION_COLUMNS})"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(rowid, *_submission_row(submission, receipt_code(submission.instance_id),
                                          source, stamp))
                 for rowid, submission in numbered])
            self.stats.add(numbered)
            return len(numbered)

    def _existing_instances(self, instance_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(instance_ids), 500):  # within SQLite's parameter limit
            chunk = instance_ids[start:start + 500]
            found.update(row[0] for row in self.conn.execute(
                "SELECT instance_id FROM submissions WHERE instance_id IN"
                f" ({', '.join('?' * len(chunk))})", chunk))
        return found

    def submission_count(self, survey_id: str | None = None) -> int:
        if survey_id is None:
            return int(self.conn.execute("SELECT count(*) FROM submissions").fetchone()[0])
        return int(self.conn.execute("SELECT count(*) FROM submissions WHERE survey_id=?",
                                     (survey_id,)).fetchone()[0])

    def submission_ids(self) -> set[str]:
        return {row[0] for row in self.conn.execute("SELECT instance_id FROM submissions")}

    def iter_submissions(self, survey_id: str,
                         filters: StatsFilter | None = None) -> Iterator[dict[str, Any]]:
        """Submissions of a survey (all versions) as JSONL records, oldest first.

        ``filters`` (surveys.stats.StatsFilter: dates, kiosks, sites, enumerators, answers)
        keeps only the submissions the statistics under the same filters count. A record has
        ``site`` only when one was recorded.
        """
        query = (f"SELECT {_RECORD_COLUMNS} FROM submissions WHERE survey_id=?")
        parameters: list[Any] = [survey_id]
        if filters is not None and (filters.by_answer or filters.by_place
                                    or filters.date_from or filters.date_to):
            subquery, extra = self.stats.matching_ids(survey_id, filters)
            query += f" AND rowid IN ({subquery})"
            parameters.extend(extra)
        cursor = self.conn.execute(query + " ORDER BY completed, instance_id", parameters)
        for row in cursor:
            yield _record(row)

    # ---- statistics (the figures are computed in surveys/stats.py) ----------------------

    def stats_tallies(self, survey_id: str, questions: dict[str, Question],
                      filters: StatsFilter) -> Tallies:
        """Submissions, respondents per question and per value, under ``filters``."""
        return self.stats.tallies(survey_id, questions, filters)

    def stats_value_counts(self, survey_id: str, question: str,
                           filters: StatsFilter) -> list[tuple[Any, int]]:
        """(value, respondents) of one question from the flat table (decimals)."""
        return self.stats.value_counts(survey_id, question, filters)

    def stats_texts(self, survey_id: str, question: str, filters: StatsFilter) -> list[str]:
        """The answers to a text question under ``filters``, oldest first."""
        return self.stats.texts(survey_id, question, filters)

    def stats_crosstab(self, survey_id: str, by: Question, questions: Sequence[Question],
                       filters: StatsFilter) -> dict[str, Any]:
        """Per question: ``table`` {group: {choice: n}}, ``row_n`` and ``column_n``."""
        return self.stats.crosstab(survey_id, by, questions, filters)

    def stats_over_time(self, survey_id: str, questions: dict[str, Question],
                        filters: StatsFilter) -> list[tuple[str, str, int]]:
        """(day, site, submissions) under ``filters``."""
        return self.stats.over_time(survey_id, filters)

    def receipt_code_of(self, instance_id: str) -> str | None:
        row = self.conn.execute("SELECT receipt_code FROM submissions WHERE instance_id=?",
                                (instance_id,)).fetchone()
        return row[0] if row else None


    # ---- staff log -----------------------------------------------------------------------

    def log_staff_event(self, event: str, detail: str = "", *, kiosk: str | None = None,
                        at: float | None = None) -> None:
        """Record a staff event (PIN attempt, lockout, exit...); committed at once."""
        moment = now_local() if at is None else dt.datetime.fromtimestamp(at).astimezone()
        self.conn.execute(
            "INSERT INTO staff_events(at, at_epoch, kiosk, event, detail) VALUES (?,?,?,?,?)",
            (format_datetime(moment), moment.timestamp(), kiosk, event, detail))

    def staff_events(self, *, since: float | None = None,
                     events: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Staff events, oldest first; ``since`` is a Unix time."""
        query = "SELECT at, at_epoch, kiosk, event, detail FROM staff_events WHERE 1=1"
        parameters: list[Any] = []
        if since is not None:
            query += " AND at_epoch >= ?"
            parameters.append(since)
        if events:
            query += f" AND event IN ({', '.join('?' for _ in events)})"
            parameters.extend(events)
        rows = self.conn.execute(query + " ORDER BY at_epoch, id", parameters).fetchall()
        return [{"at": row[0], "at_epoch": row[1], "kiosk": row[2], "event": row[3],
                 "detail": row[4]} for row in rows]

    # ---- print queue -----------------------------------------------------------------------
    # The queue's rules (states, back-off, crash recovery) live in kiosk/printing.py; these
    # are its queries. Every change is committed at once (synchronous=FULL): a job the kiosk
    # said it saved, or marked as being sent, is on disk before anything reaches the printer.

    def add_print_job(self, kind: str, document: list[dict[str, Any]], *, at: float,
                      source: str = "", title: str = "", kiosk: str | None = None,
                      reprint: bool = False, reprint_of: int | None = None) -> int:
        """Save a new job (state ``queued``, due at once); returns its id."""
        moment = dt.datetime.fromtimestamp(at).astimezone()
        cursor = self.conn.execute(
            "INSERT INTO print_jobs(created, created_epoch, kiosk, kind, source, title,"
            " document, state, reprint, attempts, next_attempt, reprint_of)"
            " VALUES (?,?,?,?,?,?,?,'queued',?,0,?,?)",
            (format_datetime(moment), at, kiosk, kind, source, title,
             json.dumps(document, ensure_ascii=False, separators=(",", ":")), int(reprint),
             at, reprint_of))
        return int(cursor.lastrowid or 0)

    def print_job(self, job_id: int) -> PrintJob | None:
        row = self.conn.execute(f"SELECT {_PRINT_JOB_COLUMNS} FROM print_jobs WHERE id=?",
                                (job_id,)).fetchone()
        return _print_job(row) if row else None

    def print_jobs(self, *, states: Sequence[str] = (), source: str | None = None,
                   limit: int | None = None) -> list[PrintJob]:
        """Jobs, newest first; only those in ``states`` / of ``source`` when given."""
        query = f"SELECT {_PRINT_JOB_COLUMNS} FROM print_jobs WHERE 1=1"
        parameters: list[Any] = []
        if states:
            query += f" AND state IN ({', '.join('?' for _ in states)})"
            parameters.extend(states)
        if source is not None:
            query += " AND source=?"
            parameters.append(source)
        query += " ORDER BY id DESC"
        if limit is not None:
            query += " LIMIT ?"
            parameters.append(limit)
        return [_print_job(row) for row in self.conn.execute(query, parameters)]

    def print_job_counts(self) -> dict[str, int]:
        return {row[0]: row[1] for row in self.conn.execute(
            "SELECT state, count(*) FROM print_jobs GROUP BY state")}

    def due_print_job(self, now: float) -> PrintJob | None:
        """The oldest queued or waiting job whose time has come."""
        row = self.conn.execute(
            f"SELECT {_PRINT_JOB_COLUMNS} FROM print_jobs WHERE state IN ('queued', 'waiting')"
            " AND next_attempt <= ? ORDER BY id LIMIT 1", (now,)).fetchone()
        return _print_job(row) if row else None

    def next_print_attempt(self) -> float | None:
        """When the next queued or waiting job is due (None: nothing to print)."""
        row = self.conn.execute(
            "SELECT min(next_attempt) FROM print_jobs WHERE state IN ('queued', 'waiting')"
        ).fetchone()
        return row[0]

    def claim_print_job(self, job_id: int, worker: str, now: float) -> bool:
        """Mark a due job ``sending`` by ``worker``; False if another worker (or staff)
        changed it first. Committed before the first byte goes to the printer."""
        cursor = self.conn.execute(
            "UPDATE print_jobs SET state='sending', worker=?, sending_since=?,"
            " attempts=attempts+1 WHERE id=? AND state IN ('queued', 'waiting')",
            (worker, now, job_id))
        return cursor.rowcount == 1

    def print_job_done(self, job_id: int, worker: str, now: float, status: str = "",
                       note: str = "") -> None:
        """The last byte went out; ``note`` says e.g. which characters were replaced."""
        moment = dt.datetime.fromtimestamp(now).astimezone()
        self.conn.execute(
            "UPDATE print_jobs SET state='done', done_at=?, last_status=?, last_error=?"
            " WHERE id=? AND state='sending' AND worker=?",
            (format_datetime(moment), status, note, job_id, worker))

    def print_job_failed(self, job_id: int, worker: str, *, next_attempt: float, status: str,
                         error: str) -> None:
        """A send that did not finish: the job waits for its next attempt."""
        self.conn.execute(
            "UPDATE print_jobs SET state='waiting', next_attempt=?, last_status=?, last_error=?"
            " WHERE id=? AND state='sending' AND worker=?",
            (next_attempt, status, error, job_id, worker))

    def hold_print_jobs(self, until: float, status: str, error: str,
                        attempted: int | None = None) -> int:
        """The printer is not ready: every queued or waiting job waits until ``until``.

        ``attempted`` is the job whose turn it was (its attempts are counted). Returns how
        many jobs wait.
        """
        with self.transaction():
            if attempted is not None:
                self.conn.execute(
                    "UPDATE print_jobs SET attempts=attempts+1 WHERE id=?"
                    " AND state IN ('queued', 'waiting')", (attempted,))
            cursor = self.conn.execute(
                "UPDATE print_jobs SET state='waiting', next_attempt=max(next_attempt, ?),"
                " last_status=?, last_error=? WHERE state IN ('queued', 'waiting')",
                (until, status, error))
            return cursor.rowcount

    def release_print_jobs(self, now: float) -> int:
        """The printer is ready again: waiting jobs are due now (their order is kept)."""
        cursor = self.conn.execute(
            "UPDATE print_jobs SET next_attempt=? WHERE state='waiting' AND next_attempt > ?",
            (now, now))
        return cursor.rowcount

    def requeue_interrupted_print_jobs(self, alive: Callable[[str], bool], now: float,
                                       note: str = "") -> list[int]:
        """Jobs left ``sending`` by a worker that is gone (the kiosk crashed mid-send):
        queued again, marked as reprints. Returns their ids."""
        with self.transaction():
            rows = self.conn.execute(
                "SELECT id, worker FROM print_jobs WHERE state='sending' ORDER BY id"
            ).fetchall()
            requeued = [job_id for job_id, worker in rows if not alive(worker or "")]
            for job_id in requeued:
                self.conn.execute(
                    "UPDATE print_jobs SET state='queued', reprint=1, next_attempt=?,"
                    " worker='', last_error=? WHERE id=? AND state='sending'",
                    (now, note, job_id))
        return requeued

    def retry_print_job(self, job_id: int, now: float) -> PrintJob:
        """Staff: try a waiting (or cancelled) job again now."""
        with self.transaction():
            job = self._print_job_for_staff(job_id)
            if job.state == "done":
                raise PrintJobError(f"print job {job_id} was already printed ({job.done_at}); "
                                    "use reprint for another copy")
            if job.state == "sending":
                raise PrintJobError(f"print job {job_id} is being printed right now")
            self.conn.execute(
                "UPDATE print_jobs SET state='queued', next_attempt=? WHERE id=?",
                (now, job_id))
        return self._print_job_for_staff(job_id)

    def cancel_print_job(self, job_id: int) -> PrintJob:
        """Staff: drop a job that has not been printed."""
        with self.transaction():
            job = self._print_job_for_staff(job_id)
            if job.state == "done":
                raise PrintJobError(f"print job {job_id} was already printed ({job.done_at})")
            if job.state == "sending":
                raise PrintJobError(f"print job {job_id} is being printed right now; "
                                    "it cannot be stopped")
            self.conn.execute("UPDATE print_jobs SET state='cancelled' WHERE id=?", (job_id,))
        return self._print_job_for_staff(job_id)

    def reprint_print_job(self, job_id: int, now: float, kiosk: str | None = None) -> int:
        """Staff: a new copy of a printed job, marked as a reprint; returns the new job's id."""
        with self.transaction():
            job = self._print_job_for_staff(job_id)
            if job.state != "done":
                raise PrintJobError(
                    f"print job {job_id} has not been printed (it is {job.state}); "
                    + ("use retry to print it" if job.state in ("waiting", "queued",
                                                                "cancelled")
                       else "wait until it is done"))
            return self.add_print_job(job.kind, job.document, at=now, source=job.source,
                                      title=job.title, kiosk=kiosk or job.kiosk, reprint=True,
                                      reprint_of=job.id)

    def _print_job_for_staff(self, job_id: int) -> PrintJob:
        job = self.print_job(job_id)
        if job is None:
            raise PrintJobError(f"there is no print job {job_id}")
        return job

    def instance_of_receipt_code(self, code: str) -> str | None:
        """The submission a receipt code belongs to (codes are read out at the desk)."""
        row = self.conn.execute(
            "SELECT instance_id FROM submissions WHERE receipt_code=? LIMIT 1",
            (code.strip().upper(),)).fetchone()
        return row[0] if row else None

    def submission_record(self, instance_id: str) -> dict[str, Any] | None:
        """One submission as a JSONL record (see ``iter_submissions``)."""
        row = self.conn.execute(
            f"SELECT {_RECORD_COLUMNS} FROM submissions WHERE instance_id=?",
            (instance_id,)).fetchone()
        return None if row is None else _record(row)


    # ---- audit and service requests ----------------------------------------------------

    def add_audit(self, action: str, target: str = "", detail: str = "", *, staff: str,
                  kiosk: str | None = None, at: float | None = None) -> None:
        """Record one staff action (export, reprint, correction, status change...)."""
        moment = now_local() if at is None else dt.datetime.fromtimestamp(at).astimezone()
        self.conn.execute(
            "INSERT INTO audit(at, at_epoch, kiosk, staff, action, target, detail)"
            " VALUES (?,?,?,?,?,?,?)",
            (format_datetime(moment), moment.timestamp(), kiosk, staff, action, target,
             detail))

    def audit_entries(self, *, since: float | None = None,
                      actions: Sequence[str] = ()) -> list[dict[str, Any]]:
        """The audit record, oldest first; ``since`` is a Unix time."""
        query = ("SELECT at, at_epoch, kiosk, staff, action, target, detail FROM audit"
                 " WHERE 1=1")
        parameters: list[Any] = []
        if since is not None:
            query += " AND at_epoch >= ?"
            parameters.append(since)
        if actions:
            query += f" AND action IN ({', '.join('?' for _ in actions)})"
            parameters.extend(actions)
        rows = self.conn.execute(query + " ORDER BY at_epoch, id", parameters).fetchall()
        return [dict(zip(("at", "at_epoch", "kiosk", "staff", "action", "target", "detail"),
                         row, strict=True)) for row in rows]

    def set_request_status(self, instance_id: str, status: str, *, note: str = "",
                           staff: str, kiosk: str | None = None,
                           at: float | None = None) -> None:
        """A staff member moves a service request on (with the audit entry, together)."""
        if status not in REQUEST_STATUSES:
            raise StoreError(f"request status must be one of {', '.join(REQUEST_STATUSES)}")
        moment = now_local() if at is None else dt.datetime.fromtimestamp(at).astimezone()
        with self.transaction():
            if self.submission_record(instance_id) is None:
                raise StoreError(f"there is no submission {instance_id}")
            self.conn.execute(
                "INSERT INTO request_updates(instance_id, status, note, staff, kiosk, at,"
                " at_epoch) VALUES (?,?,?,?,?,?,?)",
                (instance_id, status, note, staff, kiosk, format_datetime(moment),
                 moment.timestamp()))
            self.add_audit("request_status", instance_id, f"{status}: {note}".rstrip(": "),
                           staff=staff, kiosk=kiosk, at=moment.timestamp())

    def request_updates(self, instance_id: str) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT status, note, staff, kiosk, at FROM request_updates WHERE instance_id=?"
            " ORDER BY id", (instance_id,)).fetchall()
        return [dict(zip(("status", "note", "staff", "kiosk", "at"), row, strict=True))
                for row in rows]

    def service_requests(self, survey_id: str, *, include_closed: bool = False,
                         limit: int = 200) -> list[dict[str, Any]]:
        """Submissions of a request survey with their latest status (``new`` until staff
        act), open ones first, oldest first within a status."""
        rows = self.conn.execute(
            "SELECT s.instance_id, s.receipt_code, s.completed, s.answers,"
            " coalesce(u.status, 'new'), coalesce(u.note, ''), coalesce(u.staff, ''),"
            " coalesce(u.at, '') FROM submissions s LEFT JOIN request_updates u ON u.id ="
            " (SELECT max(id) FROM request_updates WHERE instance_id = s.instance_id)"
            " WHERE s.survey_id=? AND (? OR coalesce(u.status, 'new') != 'closed')"
            " ORDER BY CASE coalesce(u.status, 'new') WHEN 'new' THEN 0"
            " WHEN 'in_progress' THEN 1 ELSE 2 END, s.completed, s.instance_id LIMIT ?",
            (survey_id, include_closed, limit)).fetchall()
        return [{"instance_id": row[0], "receipt_code": row[1] or "", "completed": row[2] or "",
                 "answers": json.loads(row[3]), "status": row[4], "note": row[5],
                 "staff": row[6], "updated": row[7]} for row in rows]

    # ---- sync to the central database (kiosk/sync.py) ------------------------------------
    # Each stream is read by a key that only grows: rows are only ever added (submissions,
    # forms: rowid; the append-only tables: id; check-outs: their recording order).

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

    def sync_rows(self, stream: str, after: int, upto: int,
                  limit: int) -> tuple[int, list[tuple[Any, ...]]]:
        """Up to ``limit`` rows of ``stream`` after key ``after`` (and not past ``upto``), as
        tuples in the order of ``SYNC_COLUMNS[stream]``; with the key of the last one."""
        table, key, columns = _SYNC_SOURCES[stream]
        rows = self.conn.execute(
            f"SELECT {key}, {columns} FROM {table} WHERE {key} > ? AND {key} <= ?"
            f" ORDER BY {key} LIMIT ?", (after, upto, limit)).fetchall()
        if not rows:
            return after, []
        return int(rows[-1][0]), [row[1:] for row in rows]

    def set_sync_cursor(self, central: str, stream: str, last_key: int) -> None:
        """Record that ``central`` holds ``stream`` up to ``last_key`` (only after the
        central transaction committed; a crash before this just sends the batch again)."""
        self.conn.execute(
            "INSERT INTO sync_cursors(central, stream, last_key, synced_at) VALUES (?,?,?,?)"
            " ON CONFLICT(central, stream) DO UPDATE SET"
            " last_key=max(last_key, excluded.last_key), synced_at=excluded.synced_at",
            (central, stream, last_key, _now()))  # two syncs at once: never backwards

    # ---- volunteers ------------------------------------------------------------------------
    # The rules (cards, check-in or out, day end, hours) live in kiosk/volunteers.py; these
    # are its queries. Sessions and corrections are only ever added (see _schema_4).

    def add_volunteers(self, volunteers: Sequence[Volunteer], *,
                       at: dt.datetime | None = None) -> int:
        """Add roster entries in one transaction; a number already there refuses them all."""
        stamp = format_datetime(at or now_local())
        with self.transaction():
            numbers = [volunteer.number for volunteer in volunteers]
            taken = self.existing_volunteer_numbers(numbers)
            if taken:
                raise VolunteerError(
                    f"volunteer number {', '.join(sorted(taken))} is already on the roster")
            self.conn.executemany(
                "INSERT INTO volunteers(number, name, phone, id_card, team, organisation,"
                " joined, status, card_serial, added_at, updated_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [(volunteer.number, volunteer.name, volunteer.phone, volunteer.id_card,
                  volunteer.team, volunteer.organisation,
                  volunteer.joined.isoformat() if volunteer.joined else None,
                  volunteer.status, volunteer.card_serial, stamp, stamp)
                 for volunteer in volunteers])
        return len(volunteers)

    def existing_volunteer_numbers(self, numbers: Iterable[str]) -> set[str]:
        """Which of these numbers are on the roster already."""
        wanted = list(dict.fromkeys(numbers))
        found: set[str] = set()
        for start in range(0, len(wanted), 500):  # within SQLite's parameter limit
            chunk = wanted[start:start + 500]
            found.update(row[0] for row in self.conn.execute(
                f"SELECT number FROM volunteers WHERE number IN ({', '.join('?' * len(chunk))})",
                chunk))
        return found

    def volunteer(self, number: str) -> Volunteer | None:
        row = self.conn.execute(
            f"SELECT {_VOLUNTEER_COLUMNS} FROM volunteers WHERE number=?", (number,)).fetchone()
        return _volunteer(row) if row else None

    def volunteers(self, *, team: str | None = None,
                   numbers: Iterable[str] | None = None) -> list[Volunteer]:
        """The roster (of one team when given), by number."""
        query = f"SELECT {_VOLUNTEER_COLUMNS} FROM volunteers WHERE 1=1"
        parameters: list[Any] = []
        if team is not None:
            query += " AND team=?"
            parameters.append(team)
        rows = self.conn.execute(query + " ORDER BY number", parameters).fetchall()
        volunteers = [_volunteer(row) for row in rows]
        if numbers is not None:
            wanted = set(numbers)
            volunteers = [volunteer for volunteer in volunteers if volunteer.number in wanted]
        return volunteers

    def volunteer_count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM volunteers").fetchone()[0])

    def set_volunteer_status(self, number: str, status: str) -> Volunteer:
        """Suspend or reactivate a volunteer (their cards are refused while suspended)."""
        if status not in VOLUNTEER_STATES:
            raise ValueError(f"status must be one of {', '.join(VOLUNTEER_STATES)}")
        with self.transaction():
            self._volunteer_for_staff(number)
            self.conn.execute("UPDATE volunteers SET status=?, updated_at=? WHERE number=?",
                              (status, _now(), number))
            return self._volunteer_for_staff(number)

    def bump_card_serial(self, number: str) -> Volunteer:
        """A new card: the serial goes up by one, so every older card is refused."""
        with self.transaction():
            self._volunteer_for_staff(number)
            self.conn.execute(
                "UPDATE volunteers SET card_serial=card_serial+1, updated_at=? WHERE number=?",
                (_now(), number))
            return self._volunteer_for_staff(number)

    def _volunteer_for_staff(self, number: str) -> Volunteer:
        volunteer = self.volunteer(number)
        if volunteer is None:
            raise VolunteerError(f"there is no volunteer {number} on the roster")
        return volunteer

    def add_checkin(self, number: str, at: dt.datetime, *, kiosk: str = "",
                    service: str = "") -> int:
        """Record a check-in; returns the new session's id."""
        text, epoch = _moment(at)
        cursor = self.conn.execute(
            "INSERT INTO volunteer_checkins(number, kiosk, service, at, at_epoch, recorded_at)"
            " VALUES (?,?,?,?,?,?)", (number, kiosk, service, text, epoch, _now()))
        return int(cursor.lastrowid or 0)

    def add_checkout(self, session_id: int, at: dt.datetime, *, closed_by: str = "scan",
                     flags: Sequence[str] = (), kiosk: str = "") -> None:
        """Close a session (once: a second check-out of the same session is refused)."""
        if closed_by not in CLOSED_BY:
            raise ValueError(f"closed_by must be one of {', '.join(CLOSED_BY)}")
        text, epoch = _moment(at)
        try:
            self.conn.execute(
                "INSERT INTO volunteer_checkouts(session_id, kiosk, at, at_epoch, closed_by,"
                " flags, recorded_at) VALUES (?,?,?,?,?,?,?)",
                (session_id, kiosk, text, epoch, closed_by, ",".join(flags), _now()))
        except sqlite3.IntegrityError:
            raise VolunteerError(f"session {session_id} does not exist or is already closed"
                                 ) from None

    def volunteer_session(self, session_id: int) -> VolunteerSession | None:
        sessions = self._sessions(" AND c.id=?", [session_id])
        return sessions[0] if sessions else None

    def last_volunteer_session(self, number: str) -> VolunteerSession | None:
        """The volunteer's latest check-in (the last recorded, whatever the clock said), with
        its check-out if closed."""
        row = self.conn.execute(
            "SELECT max(id) FROM volunteer_checkins WHERE number=?", (number,)).fetchone()
        if row is None or row[0] is None:
            return None
        return self.volunteer_session(row[0])

    def open_volunteer_sessions(self, *, number: str | None = None) -> list[VolunteerSession]:
        """Sessions not closed yet, oldest first."""
        where = " AND c.id IN (SELECT session_id FROM volunteer_open_sessions)"
        parameters: list[Any] = []
        if number is not None:
            where += " AND c.number=?"
            parameters.append(number)
        return self._sessions(where, parameters)

    def volunteer_sessions(self, *, number: str | None = None, team: str | None = None,
                           since: float | None = None, until: float | None = None,
                           ) -> list[VolunteerSession]:
        """Sessions with their corrections, by check-in time; ``since`` (inclusive) and
        ``until`` (exclusive) are Unix times of the check-in as recorded."""
        where, parameters = "", []
        if number is not None:
            where += " AND c.number=?"
            parameters.append(number)
        if team is not None:
            where += " AND c.number IN (SELECT number FROM volunteers WHERE team=?)"
            parameters.append(team)
        if since is not None:
            where += " AND c.at_epoch >= ?"
            parameters.append(since)
        if until is not None:
            where += " AND c.at_epoch < ?"
            parameters.append(until)
        return self._sessions(where, parameters)

    def _sessions(self, where: str, parameters: list[Any]) -> list[VolunteerSession]:
        rows = self.conn.execute(
            f"SELECT {_SESSION_COLUMNS} FROM volunteer_checkins c LEFT JOIN volunteer_checkouts"
            f" o ON o.session_id = c.id WHERE 1=1{where} ORDER BY c.at_epoch, c.id",
            parameters).fetchall()
        corrections: dict[int, list[SessionCorrection]] = {}
        if rows:
            cursor = self.conn.execute(
                f"SELECT {_CORRECTION_COLUMNS} FROM volunteer_corrections WHERE session_id IN"
                f" (SELECT c.id FROM volunteer_checkins c LEFT JOIN volunteer_checkouts o"
                f" ON o.session_id = c.id WHERE 1=1{where}) ORDER BY at_epoch, id", parameters)
            for row in cursor:
                corrections.setdefault(row[1], []).append(_correction(row))
        return [_session(row, tuple(corrections.get(row[0], ()))) for row in rows]

    def add_session_correction(self, session_id: int, *, action: str, reason: str, staff: str,
                               at: dt.datetime, checked_in: dt.datetime | None = None,
                               checked_out: dt.datetime | None = None,
                               kiosk: str = "") -> int:
        """Add a staff correction beside a session (the session itself is not changed)."""
        if action not in CORRECTION_ACTIONS:
            raise ValueError(f"action must be one of {', '.join(CORRECTION_ACTIONS)}")
        if not reason.strip() or not staff.strip():
            raise VolunteerError("a correction needs the reason and the staff member's name")
        at_text, at_epoch = _moment(at)
        in_text, in_epoch = _moment(checked_in) if checked_in else (None, None)
        out_text, out_epoch = _moment(checked_out) if checked_out else (None, None)
        try:
            cursor = self.conn.execute(
                "INSERT INTO volunteer_corrections(session_id, action, checked_in,"
                " checked_in_epoch, checked_out, checked_out_epoch, reason, staff, at,"
                " at_epoch, kiosk) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (session_id, action, in_text, in_epoch, out_text, out_epoch, reason.strip(),
                 staff.strip(), at_text, at_epoch, kiosk))
        except sqlite3.IntegrityError:
            raise VolunteerError(f"there is no session {session_id}") from None
        return int(cursor.lastrowid or 0)


# What a sync sends, stream by stream, in this order (what is referred to goes first):
# (table, key that only grows, columns). store/central.py has the same columns.
_SYNC_SOURCES: dict[str, tuple[str, str, str]] = {
    "forms": ("forms", "rowid", "survey_id, version, title, default_language, question_count,"
              " compiled, source_name, source_sha256, installed_at"),
    "submissions": ("submissions", "rowid",
                    "instance_id, survey_id, version, kiosk, site, started, completed, lang,"
                    " enumerator, answers, receipt_code, source, stored_at"),
    "request_updates": ("request_updates", "id",
                        "id, instance_id, status, note, staff, kiosk, at, at_epoch"),
    "volunteer_checkins": ("volunteer_checkins", "id",
                           "id, number, kiosk, service, at, at_epoch, recorded_at"),
    "volunteer_checkouts": (
        "volunteer_checkout_order o JOIN volunteer_checkouts c USING (session_id)", "o.seq",
        "c.session_id, c.kiosk, c.at, c.at_epoch, c.closed_by, c.flags, c.recorded_at"),
    "volunteer_corrections": ("volunteer_corrections", "id", _CORRECTION_COLUMNS),
    "audit": ("audit", "id", "id, at, at_epoch, kiosk, staff, action, target, detail"),
}
SYNC_COLUMNS: dict[str, tuple[str, ...]] = {
    stream: tuple(column.strip().removeprefix("c.") for column in columns.split(","))
    for stream, (_table, _key, columns) in _SYNC_SOURCES.items()}

_SUBMISSION_COLUMNS = ("instance_id, survey_id, version, kiosk, started, completed, lang,"
                       " enumerator, answers, receipt_code, source, stored_at, site")
_RECORD_COLUMNS = ("instance_id, survey_id, version, kiosk, started, completed, lang,"
                   " enumerator, answers, site")


def _submission_row(submission: Submission, code: str, source: str,
                    stamp: str) -> tuple[Any, ...]:
    return (
        submission.instance_id, submission.survey, submission.version, submission.kiosk,
        submission.started, submission.completed, submission.lang, submission.enumerator,
        json.dumps(submission.answers, ensure_ascii=False, separators=(",", ":")),
        code, source, stamp, submission.site,
    )


def _record(row: Sequence[Any]) -> dict[str, Any]:
    """A submission as a JSONL record; ``site`` only when one was recorded."""
    record = {"instance_id": row[0], "survey": row[1], "version": row[2], "kiosk": row[3],
              "started": row[4], "completed": row[5], "lang": row[6], "enumerator": row[7],
              "answers": json.loads(row[8])}
    if row[9] is not None:
        record["site"] = row[9]
    return record


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any error (nothing half-written)."""

    BEGIN = "BEGIN IMMEDIATE"

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        self.outer = False

    def __enter__(self) -> sqlite3.Connection:
        self.outer = not self.connection.in_transaction
        if self.outer:
            self.connection.execute(self.BEGIN)
        return self.connection

    def __exit__(self, exc_type: object, *_rest: object) -> None:
        if not self.outer:
            return
        if exc_type is None:
            self.connection.execute("COMMIT")
        else:
            self.connection.execute("ROLLBACK")


class _Snapshot(_Transaction):
    """BEGIN ... COMMIT around reads (inside a transaction already: nothing to do)."""

    BEGIN = "BEGIN"

    def __exit__(self, *_exc: object) -> None:
        if self.outer and self.connection.in_transaction:
            self.connection.execute("COMMIT")


# Schema version -> the step that creates it from the version before.
_STEPS: dict[int, Callable[[KioskStore], None]] = {
    1: KioskStore._schema_1,
    2: KioskStore._schema_2,
    3: KioskStore._schema_3,
    4: KioskStore._schema_4,
    5: KioskStore._schema_5,
    6: KioskStore._schema_6,
    7: KioskStore._schema_7,
}

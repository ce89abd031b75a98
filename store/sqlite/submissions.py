"""Drafts and submissions: a draft is saved after every answer; a finished questionnaire is
stored with its receipt code and counted by the statistics in the same transaction."""

from __future__ import annotations

import base64
import contextlib
import gc
import itertools
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from store.sqlite.connection import StoreBase
from store.sqlite.tallies import flat_table
from surveys.clock import from_epoch, now_local, now_stamp
from surveys.form import Form
from surveys.gate import CheckedSubmission
from surveys.session import FormSession, Submission
from surveys.stats.model import StatsFilter

# Crockford's base32: digits and capitals without I, L, O and U, so nothing on a slip looks
# like anything else (O/0, I/L/1) and a resident's reading of it is still a code.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# What a resident may type for a digit of a code (Crockford's reading of look-alikes).
LOOK_ALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
# Codes stored before: RFC 4648 base32 (A-Z, 2-7). A typed 0 or 1 there can only have been
# a look-alike of one of its letters.
LEGACY_CODE = re.compile(r"[A-Z2-7]{4}-[A-Z2-7]{4}")
LEGACY_LOOK_ALIKES = {"0": "O", "1": "IL"}
CODE_SEPARATORS = re.compile(r"[\s\-_.·—–－]+")


# RFC 4648's base32 digits, read as Crockford's: a code's letters in C, not bit by bit.
_AS_CODE_ALPHABET = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", CODE_ALPHABET.encode())
# Answers as stored: compact JSON, characters as they are (one encoder, not one per row).
_STORED_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


# A bulk path (import, bundle) stores this many submissions per transaction, or fewer when
# they come to BULK_BYTES of input. Big batches: a million-row import dirties each page of
# the random-key indexes once per batch (20,000 rows: half the pages written per row of
# 5,000; scripts/bench.py section 8 stores its rows in batches of this size).
BULK_BATCH = 20_000
BULK_BYTES = 64 * 1024 * 1024


def receipt_code(instance_id: str) -> str:
    """A short code a resident can read out at the desk: 8 characters (40 bits of the id's
    SHA-256) from an alphabet without look-alikes, as XXXX-XXXX."""
    import hashlib  # OpenSSL loads with the first use, not before home is drawn

    letters = base64.b32encode(hashlib.sha256(instance_id.encode()).digest()[:5]).translate(
        _AS_CODE_ALPHABET).decode()
    return f"{letters[:4]}-{letters[4:]}"


def legacy_receipt_code(instance_id: str) -> str:
    """The code the same id had before (RFC 4648 base32): found on slips already printed,
    and made again for submissions a bundle brought in after the alphabet changed."""
    import hashlib

    digest = hashlib.sha256(instance_id.encode()).digest()
    letters = base64.b32encode(digest[:5]).decode()
    return f"{letters[:4]}-{letters[4:]}"


def receipt_code_readings(typed: str) -> list[str]:
    """The codes a resident's typing may mean, most literal first: as typed (any case, with
    or without the dash or spaces), then with look-alikes read as the new alphabet's digits
    (O→0, I/L→1), then, for a code of the old alphabet, a typed 0/1 read as its letters.
    Empty when it cannot be a code at all."""
    cleaned = CODE_SEPARATORS.sub("", typed.strip().upper())
    if len(cleaned) != 8 or not cleaned.isascii() or not cleaned.isalnum():
        return []
    as_typed = f"{cleaned[:4]}-{cleaned[4:]}"
    readings = [as_typed, as_typed.translate(LOOK_ALIKES)]
    choices = [LEGACY_LOOK_ALIKES.get(char, char) for char in as_typed]
    for letters in itertools.product(*choices):
        legacy = "".join(letters)
        if LEGACY_CODE.fullmatch(legacy):
            readings.append(legacy)
    return list(dict.fromkeys(readings))


SUBMISSION_COLUMNS = ("instance_id, survey_id, version, kiosk, started, completed, lang,"
                       " enumerator, answers, receipt_code, source, stored_at, site, entity")


RECORD_COLUMNS = ("instance_id, survey_id, version, kiosk, started, completed, lang,"
                   " enumerator, answers, site, entity")


def submission_row(submission: Submission, code: str, source: str,
                    stamp: str) -> tuple[Any, ...]:
    return (
        submission.instance_id, submission.survey, submission.version, submission.kiosk,
        submission.started, submission.completed, submission.lang, submission.enumerator,
        _STORED_JSON.encode(submission.answers), code, source, stamp, submission.site,
        _STORED_JSON.encode(submission.entity) if submission.entity is not None else None,
    )


def _only_checked(submissions: Sequence[Any]) -> None:
    for submission in submissions:
        if not isinstance(submission, CheckedSubmission):
            raise TypeError("the store takes only submissions that came through the record "
                            "gate (surveys.gate.RecordGate), not "
                            f"{type(submission).__name__}")


def record_from_row(row: Sequence[Any]) -> dict[str, Any]:
    """A submission as a JSONL record; ``site`` only when one was recorded."""
    record = {"instance_id": row[0], "survey": row[1], "version": row[2], "kiosk": row[3],
              "started": row[4], "completed": row[5], "lang": row[6], "enumerator": row[7],
              "answers": json.loads(row[8])}
    if row[9] is not None:
        record["site"] = row[9]
    if row[10] is not None:
        record["entity"] = json.loads(row[10])
    return record


@dataclass(frozen=True)
class KeptDraft:
    """An open draft as the lists of unfinished questionnaires show it: whose it is
    (``enumerator``: a volunteer's number, None for one begun at the hall), when it was
    last saved and how many questions it answers. ``answers`` (typed, relevant ones) hold
    personal data: a screen shows them only to the volunteer whose draft it is."""

    instance_id: str
    form: Form
    enumerator: str | None
    kiosk: str | None
    started: str
    updated: str
    answered: int
    answers: Mapping[str, Any]


class DraftsAndSubmissions(StoreBase):
    """Drafts saved after every answer, and finished questionnaires with their receipt codes."""

    def save_draft(self, session: FormSession) -> None:
        """Save the session as it stands (called after every answer).

        Not once the questionnaire is stored: a draft resumed on two tablets at once and
        finished on one must not come back as an open draft from the other."""
        snapshot = session.snapshot()
        self.conn.execute(
            "INSERT INTO drafts(instance_id, survey_id, version, kiosk, lang, enumerator,"
            " started, updated, screen, answers, status)"
            " SELECT ?,?,?,?,?,?,?,?,?,?,'open'"
            " WHERE NOT EXISTS (SELECT 1 FROM submissions WHERE instance_id=?)"
            " ON CONFLICT(instance_id) DO UPDATE SET lang=excluded.lang,"
            " updated=excluded.updated, screen=excluded.screen, answers=excluded.answers",
            (snapshot["instance_id"], snapshot["survey"], snapshot["version"],
             snapshot["kiosk"], snapshot["lang"], snapshot["enumerator"], snapshot["started"],
             now_stamp(), snapshot["screen"],
             json.dumps(snapshot["answers"], ensure_ascii=False), snapshot["instance_id"]),
        )

    def draft_snapshot(self, instance_id: str) -> dict[str, Any] | None:
        row = self.conn.execute(
            "SELECT instance_id, survey_id, version, kiosk, lang, enumerator, started, screen,"
            " answers, status, updated FROM drafts WHERE instance_id=?",
            (instance_id,)).fetchone()
        if row is None:
            return None
        return {
            "instance_id": row[0], "survey": row[1], "version": row[2], "kiosk": row[3],
            "lang": row[4], "enumerator": row[5], "started": row[6], "screen": row[7],
            "answers": json.loads(row[8]), "status": row[9], "updated": row[10],
        }

    def open_drafts(self) -> list[dict[str, Any]]:
        """Drafts left open by an interruption (crash, power cut), newest first."""
        ids = [row[0] for row in self.conn.execute(
            "SELECT instance_id FROM drafts WHERE status='open' ORDER BY updated DESC")]
        return [draft for draft in map(self.draft_snapshot, ids) if draft is not None]

    def kept_drafts(self, enumerator: str | None = None) -> list[KeptDraft]:
        """Open drafts to resume, newest first: all of them, or with ``enumerator`` only
        those a volunteer of that number began. A draft whose form cannot be loaded is left
        out (it stays in the table and in ``draft_counts``)."""
        query = "SELECT instance_id FROM drafts WHERE status='open'"
        parameters: list[str] = []
        if enumerator is not None:  # home asks on every build: only that volunteer's
            query += " AND enumerator=?"
            parameters.append(enumerator)
        ids = [row[0] for row in self.conn.execute(query + " ORDER BY updated DESC",
                                                   parameters)]
        forms: dict[tuple[str, str], Form] = {}
        kept = []
        for snapshot in map(self.draft_snapshot, ids):
            draft = None if snapshot is None else self._kept_draft(snapshot, forms)
            if draft is not None:
                kept.append(draft)
        return kept

    def _kept_draft(self, snapshot: Mapping[str, Any],
                    forms: dict[tuple[str, str], Form]) -> KeptDraft | None:
        key = (snapshot["survey"], snapshot["version"])
        try:
            if key not in forms:
                forms[key] = self.load_form(*key)  # type: ignore[attr-defined]
            session = FormSession.restore(forms[key], snapshot,
                                          entities=self)  # type: ignore[arg-type]
        except Exception:  # a draft that no longer opens must not hide the others
            return None
        return KeptDraft(
            instance_id=snapshot["instance_id"], form=forms[key],
            enumerator=snapshot["enumerator"], kiosk=snapshot["kiosk"],
            started=snapshot["started"] or "", updated=snapshot["updated"] or "",
            answered=session.progress()[0], answers=session.answers())

    def resume_draft(self, instance_id: str) -> FormSession:
        """The session of an interrupted draft, at the screen where it stopped."""
        snapshot = self.draft_snapshot(instance_id)
        if snapshot is None:
            raise KeyError(instance_id)
        form = self.load_form(snapshot["survey"], snapshot["version"])
        return FormSession.restore(form, snapshot, entities=self)  # type: ignore[arg-type]

    def abandon_draft(self, instance_id: str) -> None:
        """Mark a draft abandoned (the resident walked away); counted, never shown again."""
        self.conn.execute("UPDATE drafts SET status='abandoned', updated=? WHERE instance_id=?",
                          (now_stamp(), instance_id))

    def discard_draft(self, instance_id: str, reason: str, *, staff: str,
                      kiosk: str | None = None, at: float | None = None) -> str:
        """Staff throw an open draft away, with the reason, in one transaction with the
        audit entry; returns the audit detail.

        The entry keeps what was thrown away — form and version, the volunteer's number
        (or the hall), how many questions were answered, when it was begun and last saved —
        but not the answers: they are a household's personal data (names, addresses,
        health), and the audit is only ever added to and goes to the central database,
        where nothing could erase them again."""
        reason = " ".join(reason.split())
        if not reason:
            raise ValueError("a draft is discarded only with a reason")
        if not staff.strip():
            raise ValueError("a draft is discarded only by a named staff member")
        moment = now_local() if at is None else from_epoch(at)
        with self.transaction():
            snapshot = self.draft_snapshot(instance_id)
            if snapshot is None or snapshot["status"] != "open":
                raise KeyError(instance_id)
            draft = self._kept_draft(snapshot, {})
            answered = draft.answered if draft is not None else len(snapshot["answers"])
            detail = (f"form {snapshot['survey']} version {snapshot['version']};"
                      f" by {snapshot['enumerator'] or 'hall'}; {answered} answered;"
                      f" begun {snapshot['started']}; last saved {snapshot['updated']};"
                      f" reason: {reason}")
            self.conn.execute("DELETE FROM drafts WHERE instance_id=?", (instance_id,))
            self.add_audit("draft_discard", instance_id, detail,  # type: ignore[attr-defined]
                           staff=staff.strip(), kiosk=kiosk, at=moment.timestamp())
        return detail

    def draft_counts(self) -> dict[str, int]:
        return {row[0]: row[1] for row in self.conn.execute(
            "SELECT status, count(*) FROM drafts GROUP BY status")}

    def save_submission(self, submission: CheckedSubmission, source: str = "kiosk") -> str:
        """Store a finished questionnaire and close its draft, in one transaction.

        Only what came through the record gate (surveys/gate.py) is taken. Returns the
        receipt code. Saving the same instance twice is harmless.
        """
        _only_checked([submission])
        code = receipt_code(submission.instance_id)
        with self.transaction():
            cursor = self.conn.execute(
                f"INSERT OR IGNORE INTO submissions({SUBMISSION_COLUMNS})"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                submission_row(submission, code, source, now_stamp()),
            )
            if cursor.rowcount == 1:  # counted once, with the submission
                self.stats.add([(int(cursor.lastrowid or 0), submission)])
                self._keep_entity_changes([submission])
            self.conn.execute("DELETE FROM drafts WHERE instance_id=?",
                              (submission.instance_id,))
        return code

    @contextlib.contextmanager
    def bulk_loading(self) -> Iterator[None]:
        """Around many batches stored in a row (an import, a bundle): SQLite copies the WAL
        into the database file once it holds 256 MB, not after every batch. Each batch of a
        large import dirties most pages of the two random-key indexes (instance ids, receipt
        codes) again, and copying them after each commit took a tenth of a million-row
        import (scripts/bench.py section 8). Every commit still reaches the disk: the WAL is
        synced at each. At the end what the WAL holds is copied (the file shrinks back to
        ``journal_size_limit`` when it is next reset)."""
        self.conn.execute(f"PRAGMA wal_autocheckpoint={256 * 1024 * 1024 // 4096}")
        try:
            yield
        finally:
            self.conn.execute("PRAGMA wal_autocheckpoint=1000")  # SQLite's default
            if not self.conn.in_transaction:  # else its commit copies the WAL
                self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    @staticmethod
    @contextlib.contextmanager
    def _no_cycle_collection() -> Iterator[None]:
        """Python's cycle collector paused while a batch is stored: the batch makes about 50
        objects a row (rows, keys, lists; freed by their counts), and at 20,000 rows the
        collector's passes over every object of the process took a tenth of the time."""
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            yield
        finally:
            if was_enabled:
                gc.enable()

    @contextlib.contextmanager
    def _bulk_cache(self) -> Iterator[None]:
        """64 MB of page cache while a batch is stored (SQLite's default is 2 MB, kept for
        everything else: an export reads a million rows in 34 MB): the submissions' keys
        are random (instance ids, receipt codes), so each row lands on another index page."""
        self.conn.execute("PRAGMA cache_size=-65536")
        try:
            yield
        finally:
            self.conn.execute("PRAGMA cache_size=-2000")

    def insert_submissions(self, submissions: Sequence[CheckedSubmission],
                           source: str = "import",
                           relayed: Mapping[str, tuple[str, int, str, bytes]] | None = None,
                           ) -> int:
        """Store a batch in one transaction; returns how many were new (others existed).

        Only what came through the record gate is taken. The statistics tables count the
        new ones in the same transaction. ``relayed``: instance id -> the signature another
        kiosk made of it (signer, key version, payload, signature), kept for the new ones so
        that a sync relays them as signed (store schema 9).
        """
        _only_checked(submissions)
        stamp = now_stamp()
        new: dict[str, CheckedSubmission] = {}
        for submission in submissions:
            new.setdefault(submission.instance_id, submission)
        with self._no_cycle_collection(), self._bulk_cache(), self.transaction():
            # Explicit rowids (under the write lock): the flat table's rows share them.
            first = int(self.conn.execute(
                "SELECT coalesce(max(rowid), 0) + 1 FROM submissions").fetchone()[0])
            numbered = list(enumerate(new.values(), start=first))
            # Those stored already are left as they are (no look-up first: the insert finds
            # them in the same index pages it writes the new ones to).
            added = self.conn.executemany(
                f"INSERT INTO submissions(rowid, {SUBMISSION_COLUMNS})"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(instance_id) DO NOTHING",
                [(rowid, *submission_row(submission, receipt_code(submission.instance_id),
                                          source, stamp))
                 for rowid, submission in numbered]).rowcount
            if added < len(numbered):
                stored = {rowid for (rowid,) in self.conn.execute(
                    "SELECT rowid FROM submissions WHERE rowid >= ?", (first,))}
                numbered = [(rowid, item) for rowid, item in numbered if rowid in stored]
            if not numbered:
                return 0
            self.stats.add(numbered)
            added_items = [submission for _rowid, submission in numbered]
            self._keep_entity_changes(added_items)
            if relayed:
                self.conn.executemany(
                    "INSERT OR REPLACE INTO relayed_signatures(instance_id, signer, key_version,"
                    " payload, signature) VALUES (?,?,?,?,?)",
                    [(item.instance_id, *relayed[item.instance_id]) for item in added_items
                     if item.instance_id in relayed])
            return len(numbered)

    def _keep_entity_changes(self, submissions: Iterable[Submission]) -> None:
        """The register changes of newly stored submissions (store/sqlite/entities.py)."""
        changes = [change for submission in submissions if submission.entity
                   and (change := self.change_of(submission)) is not None]  # type: ignore[attr-defined]
        if changes:
            self.add_entity_changes(changes)  # type: ignore[attr-defined]

    def stored_records(self, instance_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The submissions stored under these ids, as JSONL records (see
        ``iter_submissions``): to tell a duplicate from a conflicting record."""
        found: dict[str, dict[str, Any]] = {}
        unique = list(dict.fromkeys(instance_ids))
        for start in range(0, len(unique), 500):  # within SQLite's parameter limit
            chunk = unique[start:start + 500]
            for row in self.conn.execute(
                    f"SELECT {RECORD_COLUMNS} FROM submissions WHERE instance_id IN"
                    f" ({', '.join('?' * len(chunk))})", chunk):
                found[row[0]] = record_from_row(row)
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
        # Answers as staff corrected them (store/sqlite/reviews.py), as the figures count.
        columns = RECORD_COLUMNS.replace(" answers,", " coalesce(corrected, answers),")
        query = (f"SELECT {columns} FROM submissions WHERE survey_id=?")
        parameters: list[Any] = [survey_id]
        filters = filters or StatsFilter()
        if filters.by_answer or filters.by_place or filters.date_from or filters.date_to:
            subquery, extra = self.matching_ids(survey_id, filters)
            query += f" AND rowid IN ({subquery})"
            parameters.extend(extra)
        else:  # every submission but the void ones
            query += (f" AND rowid NOT IN (SELECT _id FROM {flat_table(survey_id)}"
                      " WHERE _review = 'void')") if self.stats.table_columns(survey_id) else ""
        cursor = self.conn.execute(query + " ORDER BY completed, instance_id", parameters)
        for row in cursor:
            yield record_from_row(row)

    def receipt_code_of(self, instance_id: str) -> str | None:
        record = self.submission_record(instance_id)
        if record is None:
            return None
        row = self.conn.execute("SELECT receipt_code FROM submissions WHERE instance_id=?",
                                (record["instance_id"],)).fetchone()
        return row[0] if row else None

    def instance_of_receipt_code(self, code: str) -> str | None:
        """The submission a receipt code belongs to (codes are read out at the desk).

        Takes the code as a resident types it (``receipt_code_readings``: case, dash and
        look-alikes do not matter) and codes of the old alphabet still stored. An old code
        whose submission came in later (a bundle from a kiosk that printed it) is found by
        making each stored id's old code again: a scan, only when nothing else matched.
        """
        readings = receipt_code_readings(code)
        if not readings:
            return None
        marks = ",".join("?" * len(readings))
        found = {code: instance for code, instance in self.conn.execute(
            f"SELECT receipt_code, instance_id FROM submissions WHERE receipt_code IN ({marks})",
            readings)}
        for reading in readings:  # the most literal reading wins
            if reading in found:
                return found[reading]
        legacy = {reading for reading in readings if LEGACY_CODE.fullmatch(reading)}
        if legacy:
            for (instance_id,) in self.conn.execute("SELECT instance_id FROM submissions"):
                if legacy_receipt_code(instance_id) in legacy:
                    return instance_id
        return None

    def submission_record(self, instance_id: str) -> dict[str, Any] | None:
        """One submission as a JSONL record (see ``iter_submissions``). An id is looked up
        as given, then as the gate stores it (lower case, without ``uuid:``)."""
        canonical = instance_id.strip().lower().removeprefix("uuid:")
        for key in dict.fromkeys((instance_id, canonical)):
            row = self.conn.execute(
                f"SELECT {RECORD_COLUMNS} FROM submissions WHERE instance_id=?",
                (key,)).fetchone()
            if row is not None:
                return record_from_row(row)
        return None

"""Review before counting on the kiosk (issue 17): staff's review decisions and corrections,
kept as logs that only grow, and the statistics kept in step with them.

A decision (``reviews``) gives a submission a state with a note; its newest decision is its
state, kept in its flat table's ``_review`` so that filters read it. A void submission
leaves the tallies (they count what a station reports) and stays in its flat table, where a
``--review void`` filter still finds it. A correction (``corrections``) changes one answer:
the submission's original answers stay as they were stored (they are what its kiosk signed);
``submissions.corrected`` holds the answers with every correction applied, checked by the
record gate, and the statistics count those instead. Each decision and correction is one
transaction with its audit entry and the figures it changes.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from store.sqlite.connection import StoreBase
from store.sqlite.submissions import RECORD_COLUMNS, record_from_row
from store.sqlite.tallies import flat_table
from surveys.clock import format_datetime, now_stamp
from surveys.review import (
    REVIEW_STATES,
    STAFF_LIMIT,
    ReviewError,
    correct,
    history_entry,
    review_state,
    staff_text,
)
from surveys.session import Submission
from surveys.stats.model import StatsFilter

_RECORD = f"{RECORD_COLUMNS}, rowid, corrected"  # a record, and where its answers are


@dataclass(frozen=True)
class ReviewDecision:
    """One review decision as the log keeps it."""

    review_id: str
    instance_id: str
    state: str
    note: str
    staff: str
    at: str
    kiosk: str

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class CorrectionEntry:
    """One correction as the log keeps it (``old`` and ``new``: the values a record holds,
    None for no answer)."""

    correction_id: str
    instance_id: str
    question: str
    old: Any
    new: Any
    why: str
    staff: str
    at: str
    kiosk: str

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _effective(row: Sequence[Any]) -> tuple[dict[str, Any], dict[str, Any], int]:
    """(the record as stored, its answers as corrected, its rowid) of a _RECORD row."""
    record = record_from_row(row[:11])
    answers = json.loads(row[12]) if row[12] is not None else record["answers"]
    return record, answers, int(row[11])


def _submission(record: dict[str, Any], answers: dict[str, Any]) -> Submission:
    return Submission(instance_id=record["instance_id"], survey=record["survey"],
                      version=record["version"], started=record["started"],
                      completed=record["completed"], lang=record["lang"], answers=answers,
                      kiosk=record["kiosk"], enumerator=record["enumerator"],
                      site=record.get("site"))


class Reviews(StoreBase):
    """Review decisions and corrections of submissions, and what they do to the figures."""

    def _reviewed_row(self, instance_id: str) -> tuple[Any, ...]:
        """The submission a staff member names by its id or receipt code."""
        found = self.submission_record(instance_id)  # type: ignore[attr-defined]
        if found is None:
            by_code = self.instance_of_receipt_code(instance_id)  # type: ignore[attr-defined]
            found = self.submission_record(by_code) if by_code else None  # type: ignore[attr-defined]
        if found is None:
            raise ReviewError(f"没有这份问卷：{instance_id[:60]}（请核对编号或回执码） "
                              f"(no submission '{instance_id[:60]}')")
        return tuple(self.conn.execute(f"SELECT {_RECORD} FROM submissions WHERE instance_id=?",
                                       (found["instance_id"],)).fetchone())

    def _stamp_after(self, table: str, instance_id: str) -> str:
        """Now, or a millisecond after the submission's newest entry in ``table`` (reviews or
        corrections) when that is not earlier: two decisions in one millisecond, or a clock
        set back, would otherwise leave their order, and so the state and the corrected
        answers, to chance, here and at the central database (both order by ``at``)."""
        now = now_stamp()
        latest = self.conn.execute(f"SELECT max(at) FROM {table} WHERE instance_id = ?",
                                   (instance_id,)).fetchone()[0]
        if latest is None or dt.datetime.fromisoformat(now) > dt.datetime.fromisoformat(latest):
            return now
        return format_datetime(dt.datetime.fromisoformat(latest) + dt.timedelta(milliseconds=1))

    def review_state_of(self, instance_id: str) -> str:
        """The state of a submission: its newest decision's, else ``pending``."""
        row = self.conn.execute(
            "SELECT state FROM reviews WHERE instance_id = ? ORDER BY at DESC, review_id DESC"
            " LIMIT 1", (instance_id,)).fetchone()
        return str(row[0]) if row else "pending"

    def set_review(self, instance_id: str, state: str, note: str = "", *, staff: str,
                   kiosk: str | None = None) -> ReviewDecision:
        """Give a submission (by id or receipt code) a review state with a note; the figures
        follow in the same transaction (a void one leaves them, one no longer void comes
        back). ReviewError says what is wrong."""
        state = review_state(state)
        note = staff_text(note, "审核说明", required=state in ("questioned", "void"))
        staff = staff_text(staff, "审核人", required=True, limit=STAFF_LIMIT)
        with self.transaction():
            row = self._reviewed_row(instance_id)
            record, answers, rowid = _effective(row)
            before = self.review_state_of(record["instance_id"])
            decision = ReviewDecision(str(uuid.uuid4()), record["instance_id"], state, note,
                                      staff, self._stamp_after("reviews", record["instance_id"]),
                                      kiosk or "")
            self.conn.execute(
                "INSERT INTO reviews(review_id, instance_id, state, note, staff, at, kiosk)"
                " VALUES (?,?,?,?,?,?,?)",
                (decision.review_id, decision.instance_id, state, note, staff, decision.at,
                 decision.kiosk))
            self._recount_review(record, answers, rowid, before, state)
            self.add_audit("review", record["instance_id"],  # type: ignore[attr-defined]
                           f"{before} -> {state}" + (f": {note}" if note else ""),
                           staff=staff, kiosk=kiosk)
        return decision

    def _recount_review(self, record: dict[str, Any], answers: dict[str, Any], rowid: int,
                        before: str, after: str) -> None:
        submission = _submission(record, answers)
        if before != "void" and after == "void":
            self.stats.add([(rowid, submission)], flat=False, sign=-1)
        elif before == "void" and after != "void":
            self.stats.add([(rowid, submission)], flat=False)
        self.stats.set_review(record["survey"], rowid, None if after == "pending" else after)

    def add_correction(self, instance_id: str, question: str, value: str | None, why: str, *,
                       staff: str, kiosk: str | None = None) -> CorrectionEntry:
        """Correct one answer of a submission (by id or receipt code) to what staff typed
        (``value``; empty: no answer), keeping the original and the history; the corrected
        answers pass the record gate and the figures follow in the same transaction."""
        why = staff_text(why, "更正原因", required=True)
        staff = staff_text(staff, "更正人", required=True, limit=STAFF_LIMIT)
        if value is not None and len(value) > 10_000:
            raise ReviewError("更正的回答太长 (the new answer is too long)")
        gate = self.record_gate()  # type: ignore[attr-defined]
        with self.transaction():
            row = self._reviewed_row(instance_id)
            record, answers, rowid = _effective(row)
            change = correct(gate, record, answers, question, value)
            entry = CorrectionEntry(str(uuid.uuid4()), record["instance_id"], question,
                                    change.old, change.new, why, staff,
                                    self._stamp_after("corrections", record["instance_id"]),
                                    kiosk or "")
            self.conn.execute(
                "INSERT INTO corrections(correction_id, instance_id, question, old, new, why,"
                " staff, at, kiosk) VALUES (?,?,?,?,?,?,?,?,?)",
                (entry.correction_id, entry.instance_id, question, _json(change.old),
                 _json(change.new), why, staff, entry.at, entry.kiosk))
            self.conn.execute("UPDATE submissions SET corrected = ? WHERE rowid = ?",
                              (_json(change.answers), rowid))
            state = self.review_state_of(record["instance_id"])
            counted = state != "void"
            self.stats.add([(rowid, _submission(record, answers))], flat=False,
                           tallies=counted, sign=-1)
            self.stats.drop_rows(record["survey"], rowid)
            self.stats.add([(rowid, _submission(record, change.answers))], tallies=counted,
                           review=None if state == "pending" else state)
            self.add_audit("correct", record["instance_id"],  # type: ignore[attr-defined]
                           f"{question}: {_json(change.old)} -> {_json(change.new)} ({why})",
                           staff=staff, kiosk=kiosk)
        return entry

    def review_history(self, instance_id: str) -> dict[str, Any]:
        """A submission's state, its decisions and corrections (oldest first), and its
        answers as stored and as corrected."""
        record, answers, _rowid = _effective(self._reviewed_row(instance_id))
        decisions = [ReviewDecision(*row).to_json() for row in self.conn.execute(
            "SELECT review_id, instance_id, state, note, staff, at, kiosk FROM reviews"
            " WHERE instance_id = ? ORDER BY at, review_id", (record["instance_id"],))]
        corrections = [self._correction(row).to_json() for row in self.conn.execute(
            "SELECT correction_id, instance_id, question, old, new, why, staff, at, kiosk"
            " FROM corrections WHERE instance_id = ? ORDER BY at, correction_id",
            (record["instance_id"],))]
        return {"instance_id": record["instance_id"], "survey": record["survey"],
                "completed": record["completed"],
                "state": decisions[-1]["state"] if decisions else "pending",
                "reviews": decisions, "corrections": corrections,
                "original": record["answers"], "corrected": answers}

    @staticmethod
    def _correction(row: Sequence[Any]) -> CorrectionEntry:
        return CorrectionEntry(row[0], row[1], row[2], json.loads(row[3]), json.loads(row[4]),
                               *row[5:])

    def review_queue(self, survey_id: str, states: Sequence[str] = ("pending", "questioned"),
                     limit: int = 200) -> list[dict[str, Any]]:
        """Submissions of a survey in these states, oldest first (at most ``limit``): id,
        completion time, kiosk, state, the newest note and how many corrections."""
        wanted = [review_state(state) for state in states] or list(REVIEW_STATES)
        if not self.stats.table_columns(survey_id):
            return []
        # The state each submission's flat row keeps (set with every decision): one pass,
        # where the newest decision of each of a million submissions took seconds.
        marks = ", ".join("?" * len(wanted))
        rows = self.conn.execute(
            "SELECT s.instance_id, s.completed, s.kiosk, s.receipt_code,"
            " coalesce(f._review, 'pending'),"
            " (SELECT note FROM reviews r WHERE r.instance_id = s.instance_id"
            "  ORDER BY at DESC, review_id DESC LIMIT 1),"
            " (SELECT count(*) FROM corrections c WHERE c.instance_id = s.instance_id)"
            f" FROM submissions s JOIN {flat_table(survey_id)} f ON f._id = s.rowid"
            f" WHERE s.survey_id = ? AND coalesce(f._review, 'pending') IN ({marks})"
            " ORDER BY s.completed, s.instance_id LIMIT ?", (survey_id, *wanted, limit))
        return [{"instance_id": instance_id, "completed": completed, "kiosk": kiosk,
                 "receipt_code": code, "state": state, "note": note or "",
                 "corrections": int(corrections)}
                for instance_id, completed, kiosk, code, state, note, corrections in rows]

    def review_log(self, survey_id: str, filters: StatsFilter) -> list[dict[str, Any]]:
        """The review decisions and corrections of the submissions ``filters`` keeps (as
        an export writes them), oldest first: kind ``review`` or ``correction``."""
        subquery, parameters = self.matching_ids(survey_id, filters)  # type: ignore[attr-defined]
        rows = self.conn.execute(
            "SELECT 'review', r.instance_id, r.at, r.staff, r.kiosk, r.state, NULL, NULL, NULL,"
            " r.note, r.review_id FROM reviews r JOIN submissions s USING (instance_id)"
            f" WHERE s.survey_id = ? AND s.rowid IN ({subquery})"
            " UNION ALL SELECT 'correction', c.instance_id, c.at, c.staff, c.kiosk, NULL,"
            " c.question, c.old, c.new, c.why, c.correction_id FROM corrections c"
            f" JOIN submissions s USING (instance_id) WHERE s.survey_id = ?"
            f" AND s.rowid IN ({subquery}) ORDER BY 3, 11",
            [survey_id, *parameters, survey_id, *parameters]).fetchall()
        return [history_entry(row) for row in rows]

    def review_counts(self, survey_id: str) -> dict[str, int]:
        """How many submissions of a survey are in each state."""
        counts = dict.fromkeys(REVIEW_STATES, 0)
        if not self.stats.table_columns(survey_id):
            return counts
        for state, count in self.conn.execute(
                f"SELECT coalesce(_review, 'pending'), count(*) FROM {flat_table(survey_id)}"
                " GROUP BY 1"):
            counts[state] = int(count)
        return counts


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

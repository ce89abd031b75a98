"""Tests store what they make through the record gate, as every road in does."""

from __future__ import annotations

from collections.abc import Iterable

from store import KioskStore
from surveys.gate import CheckedSubmission
from surveys.session import Submission


def gated(store: KioskStore, submissions: Iterable[Submission]) -> list[CheckedSubmission]:
    """``submissions`` through the store's record gate (a refusal fails the test)."""
    gate = store.record_gate()
    return [gate.check_submission(submission) for submission in submissions]


def gated_one(store: KioskStore, submission: Submission) -> CheckedSubmission:
    return store.record_gate().check_submission(submission)


def stored_before_the_gate(store: KioskStore, submissions: Iterable[Submission]) -> int:
    """Store ``submissions`` unchecked, as a kiosk did before the record gate existed (and
    mark them so: they were stored before the gate). For tests of what readers, exports and
    syncs must do with such rows; nothing but a test makes one."""
    from surveys import gate

    rows = [gate.CheckedSubmission(**vars(submission) | {"seal": gate._SEAL})
            for submission in submissions]
    stored = store.insert_submissions(rows)
    store.conn.execute("INSERT OR REPLACE INTO meta(key, value) SELECT 'gated_from',"
                       " coalesce(max(rowid), 0) + 1 FROM submissions")
    return stored

"""Households registered as the kiosk's screens register them, for the tests of registers
(tests/forms/register.md, installed by the test)."""

from __future__ import annotations

import datetime as dt

from store import KioskStore
from surveys.clock import now_local
from surveys.session import FormSession


def days_ago(days: int) -> str:
    """A completion time ``days`` before now, in the station's zone."""
    return (now_local() - dt.timedelta(days=days)).replace(microsecond=0).isoformat()


def register(store: KioskStore, head: str, address: str, phone: str, plan: str = "", *,
             completed: str = "2026-11-02T10:00:00+08:00", members: int = 3,
             kiosk: str | None = None) -> str:
    """A household registered with household_register and stored through the record gate;
    returns its id in the register."""
    run = FormSession(store.load_form("household_register"), entities=store)
    for name, value in (("head_name", head), ("address", address), ("phone", phone),
                        ("members_n", members), ("plan", plan)):
        assert run.answer(name, value) == [], name
    submission = run.finish()
    submission.completed = completed
    submission.kiosk = kiosk
    store.save_submission(store.record_gate().check_submission(submission))
    assert submission.entity is not None
    return str(submission.entity["id"])

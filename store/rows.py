"""The records the stores hand out (forms, print jobs, volunteers, sessions, corrections),
with the columns they are read from and the readers that make them from a row. The kiosk's
SQLite and the central PostgreSQL read volunteers and sessions with the same readers."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

VOLUNTEER_STATES = ("active", "suspended")
# How a session was closed: by the volunteer's scan, or by the kiosk at the day's end.
CLOSED_BY = ("scan", "day_end")
# What a staff correction does: set the times, confirm the times as recorded, or void it.
CORRECTION_ACTIONS = ("times", "confirm", "void")
REQUEST_STATUSES = ("new", "in_progress", "closed")
VOLUNTEER_COLUMNS = ("number, name, phone, id_card, team, organisation, joined, status,"
                     " card_serial")
SESSION_COLUMNS = ("c.id, c.number, c.kiosk, c.service, c.at, c.at_epoch, o.at, o.at_epoch,"
                   " o.closed_by, o.flags, o.kiosk")
CORRECTION_COLUMNS = ("id, session_id, action, checked_in, checked_in_epoch, checked_out,"
                      " checked_out_epoch, reason, staff, at, at_epoch, kiosk")


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


PRINT_JOB_COLUMNS = ("id, created, kiosk, kind, source, title, document, state, reprint,"
                      " attempts, next_attempt, last_status, last_error, worker, done_at,"
                      " reprint_of")


def print_job_from_row(row: Sequence[Any]) -> PrintJob:
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


def volunteer_from_row(row: Sequence[Any]) -> Volunteer:
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


def session_from_row(row: Sequence[Any],
             corrections: tuple[SessionCorrection, ...] = ()) -> VolunteerSession:
    return VolunteerSession(
        id=row[0], number=row[1], kiosk=row[2] or "", service=row[3] or "",
        checked_in=row[4], checked_in_epoch=row[5], checked_out=row[6],
        checked_out_epoch=row[7], closed_by=row[8] or "",
        flags=tuple(flag for flag in (row[9] or "").split(",") if flag),
        checkout_kiosk=row[10] or "", corrections=corrections)


def correction_from_row(row: Sequence[Any]) -> SessionCorrection:
    return SessionCorrection(
        id=row[0], session_id=row[1], action=row[2], checked_in=row[3],
        checked_in_epoch=row[4], checked_out=row[5], checked_out_epoch=row[6],
        reason=row[7], staff=row[8], at=row[9], at_epoch=row[10], kiosk=row[11] or "")


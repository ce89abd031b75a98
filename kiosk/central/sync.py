"""``kiosk sync``: push what is new in this kiosk's database to the central PostgreSQL.

The kiosk works offline on its own SQLite; a sync sends, stream by stream, the rows added
since the last sync to that central database, in batches. Each batch is one central
transaction; only after it commits does the kiosk move its cursor (store schema 7). A sync
killed anywhere therefore leaves the central database with whole batches, and the next sync
sends at most one batch again, which the central side counts as already there (natural keys,
``ON CONFLICT DO NOTHING``; see store/central/push.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kiosk.central.enrolment import Enrolment
from kiosk.central.outgoing import sendable_roster
from kiosk.central.prepared import prepared_batches
from kiosk.config import Site
from store import KioskStore
from store.central.connection import (
    CentralConnectionLost,
    CentralError,
    connect,
    describe,
    lost_connection,
)
from store.central.push import differing_forms, finish_sync, hello, push_accepting
from store.central.registers import PULL_BATCH, pull_register
from store.central.schema import installation
from store.central.signing import ROSTER_STREAM
from store.central.volunteers import RosterResult, push_roster, roster_row

# Streams in the order they are sent, with the words of the summary.
STREAM_LABELS = {
    "forms": "forms",
    "submissions": "submissions",
    "submission_reviews": "review decisions",
    "submission_corrections": "answer corrections",
    "request_updates": "request updates",
    "volunteer_checkins": "volunteer sessions",
    "volunteer_checkouts": "check-outs",
    "volunteer_corrections": "corrections",
    "audit": "audit entries",
}
DEFAULT_BATCH = 5000

# (stream, rows done, rows to do) after every batch.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class KioskIdentity:
    """Who sends: the kiosk id (origin of its rows) and its site (街道 → 社区 or 村)."""

    kiosk_id: str
    street: str = ""
    community: str = ""
    station: str = ""

    @property
    def site(self) -> str | None:
        """``街道/社区``, as stamped on the kiosk's submissions (see kiosk.config.Site)."""
        return Site(self.street, self.community).label


@dataclass
class SyncReport:
    central: str  # host:port/database
    new: dict[str, int] = field(default_factory=dict)
    already: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    # (survey, version) sent that the central database holds with other content.
    differing_forms: list[tuple[str, str]] = field(default_factory=list)
    roster: RosterResult = field(default_factory=RosterResult)
    # Rows that could not go, by stream (set aside with the reason: `kiosk set-aside`), and
    # roster entries that may not leave the kiosk as they are (number, why).
    set_aside: dict[str, int] = field(default_factory=dict)
    roster_held: list[tuple[str, str]] = field(default_factory=list)
    # Register changes made at other kiosks of this street, received (new here).
    register_received: int = 0

    def summary(self) -> str:
        parts = []
        for stream, label in STREAM_LABELS.items():
            parts.append(f"{label} {self.new.get(stream, 0):,} new"
                         + (f" ({self.already[stream]:,} already there)"
                            if self.already.get(stream) else ""))
        parts.append(f"roster {self.roster.new:,} new, {self.roster.updated:,} updated")
        text = f"synced to {self.central}: " + ", ".join(parts)
        if self.roster.refused:
            text += ("; roster entries the central database refused: " + "; ".join(
                f"{number}: {why}" for number, why in self.roster.refused))
        if self.differing_forms:
            text += ("; warning: the central database holds other content under "
                     + ", ".join(f"{survey} version {version}"
                                 for survey, version in self.differing_forms)
                     + " (the same version must mean the same form: change the version"
                     " on the settings sheet of one of them)")
        if self.set_aside:
            text += ("; set aside (not sent; `kiosk set-aside` lists them with the reason): "
                     + ", ".join(f"{STREAM_LABELS[stream]} {count:,}"
                                 for stream, count in self.set_aside.items()))
        if self.roster_held:
            text += ("; roster entries not sent: " + ", ".join(
                f"{number} ({why})" for number, why in self.roster_held))
        if self.register_received:
            text += (f"; households register: {self.register_received:,} changes received "
                     "from other kiosks of this street")
        return text

    @property
    def sent(self) -> int:
        return sum(self.new.values()) + sum(self.already.values())


def sync(store: KioskStore, enrolment: Enrolment, *, batch: int = DEFAULT_BATCH,
         progress: Progress | None = None,
         on_totals: Callable[[dict[str, int]], None] | None = None) -> SyncReport:
    """Send everything new since the last sync to the central database this kiosk is
    enrolled at, every row signed with its key, as its own login.

    Raises CentralUnreachable before anything is written when no connection can be made,
    KioskNotEnrolled when the central database does not take this kiosk (not enrolled,
    revoked, or another kiosk database under its enrolment), CentralSchemaError when the
    central schema is missing or of another version, and CentralConnectionLost when the
    connection breaks midway (the batches committed stay; the next sync completes the rest).
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    report = SyncReport(describe(enrolment.address))
    connection = connect(enrolment.address,
                         application_name=f"kiosk sync {enrolment.kiosk_id}"[:63],
                         **enrolment.connection_parameters())
    try:
        try:
            with lost_connection():
                _send(store, connection, enrolment, report, batch, progress, on_totals)
        except CentralConnectionLost as lost:
            saved = sum(report.new.values()) + sum(report.already.values())
            raise CentralConnectionLost(
                f"lost the connection to the central database at {report.central}"
                f" ({lost.reason}); {saved:,} rows were saved there in {report.batches}"
                " batches. Nothing is lost: run kiosk sync again to send the rest.") from None
    finally:
        with contextlib.suppress(Exception):  # a broken connection may not close cleanly
            connection.close()
    return report


def _send(store: KioskStore, connection: Any, enrolment: Enrolment,
          report: SyncReport, size: int, progress: Progress | None,
          on_totals: Callable[[dict[str, int]], None] | None) -> None:
    """The batches of every stream, then the roster; ``report`` counts as it goes."""
    central = installation(connection, enrolment.address)
    enrolled = hello(connection, store.database_id())
    if enrolled.kiosk_id != enrolment.kiosk_id:
        raise CentralError(f"the central database knows this login as kiosk "
                           f"{enrolled.kiosk_id}, not {enrolment.kiosk_id}")
    signer = enrolment.signer
    cursors = store.sync_cursors(central)
    bounds = store.sync_bounds()
    totals = store.sync_pending(cursors, bounds)
    if on_totals is not None:
        on_totals(totals)
    done = dict.fromkeys(STREAM_LABELS, 0)
    for stream in STREAM_LABELS:
        report.new[stream] = report.already[stream] = 0
    for batch in prepared_batches(store.path, list(STREAM_LABELS), cursors, bounds, size,
                                  signer):
        stream = batch.stream
        with connection.transaction():
            added, refused = push_accepting(connection, stream, batch.signed, batch.layouts)
            if stream == "forms":
                report.differing_forms += differing_forms(connection, batch.rows)
        set_aside = batch.set_aside + [
            (batch.keys[index], f"the central database refused it: {why}")
            for index, why in refused]
        # The central batch is committed: now, and only now, move the cursor (and keep
        # what was set aside, with the reason, for staff to see).
        with store.transaction():
            store.set_aside(central, stream, set_aside)
            store.set_sync_cursor(central, stream, batch.last)
        done[stream] += batch.read
        report.batches += 1
        report.new[stream] += added
        report.already[stream] += len(batch.rows) - len(refused) - added
        if set_aside:
            report.set_aside[stream] = report.set_aside.get(stream, 0) + len(set_aside)
        if progress is not None:
            progress(stream, done[stream], totals[stream])
    # The roster changes in place (status, card serial), so it has no cursor: the
    # whole of it (hundreds of rows) goes each time, and only changes are written.
    sendable, report.roster_held = sendable_roster(store.volunteers())
    with connection.transaction():
        report.roster = push_roster(connection, [
            signer.sign(ROSTER_STREAM, roster_row(volunteer)) for volunteer in sendable])
    _receive_register(store, connection, central, report)
    finish_sync(connection)


def _receive_register(store: KioskStore, connection: Any, central: str,
                      report: SyncReport) -> None:
    """The households register of this kiosk's street, as changed at other kiosks since the
    last sync: each batch kept with its cursor in one transaction (a sync killed midway
    takes the rest next time; a change received twice is kept once)."""
    cursor = store.register_cursor(central)
    while True:
        with connection.transaction():
            pulled = pull_register(connection, cursor)
        if not pulled.changes:
            return
        with store.transaction():
            report.register_received += store.add_entity_changes(pulled.changes)
            store.set_register_cursor(central, pulled.cursor)
        cursor = pulled.cursor
        if len(pulled.changes) < PULL_BATCH:
            return

"""``kiosk sync``: push what is new in this kiosk's database to the central PostgreSQL.

The kiosk works offline on its own SQLite; a sync sends, stream by stream, the rows added
since the last sync to that central database, in batches. Each batch is one central
transaction; only after it commits, and every batch before it has, does the kiosk move its
cursor (store schema 7). A sync killed anywhere therefore leaves the central database with
whole batches, and the next sync sends at most a batch per connection again, which the
central side counts as already there (natural keys, ``ON CONFLICT DO NOTHING``; see
store/central/push.py).

A sync of more than one batch pushes over two connections at once (``CONNECTIONS``), so the
central database checks, stores and counts two batches at once, one per core; they queue
only for the upserts of the tallies at the end (store/central/tallies.py). On two cores that
took a sync of 100,000 submissions from 17,400 to 25,700–29,400 rows/s (scripts/bench.py
section 9). Only batches of one stream are in flight together: a stream's rows may need the
ones before committed (a submission its form, a review decision its submission).
"""

from __future__ import annotations

import contextlib
import queue
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from kiosk.central.enrolment import Enrolment
from kiosk.central.outgoing import sendable_roster
from kiosk.central.prepared import Batch, prepared_batches
from kiosk.config import Site
from store import KioskStore
from store.central.connection import (
    CentralConnectionLost,
    CentralError,
    CentralUnreachable,
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
CONNECTIONS = 2  # central connections a sync of many batches pushes over at once

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
         on_totals: Callable[[dict[str, int]], None] | None = None,
         connections: int = CONNECTIONS) -> SyncReport:
    """Send everything new since the last sync to the central database this kiosk is
    enrolled at, every row signed with its key, as its own login.

    Raises CentralUnreachable before anything is written when no connection can be made,
    KioskNotEnrolled when the central database does not take this kiosk (not enrolled,
    revoked, or another kiosk database under its enrolment), CentralSchemaError when the
    central schema is missing or of another version, and CentralConnectionLost when the
    connection breaks midway (the batches committed stay; the next sync completes the rest).
    """
    if batch < 1 or connections < 1:
        raise ValueError("batch and connections must be at least 1")
    report = SyncReport(describe(enrolment.address))

    def opened() -> Any:
        return connect(enrolment.address,
                       application_name=f"kiosk sync {enrolment.kiosk_id}"[:63],
                       **enrolment.connection_parameters())

    connection = opened()
    pushers = _Pushers(connection, opened)
    try:
        try:
            with lost_connection():
                _send(store, connection, pushers, connections, enrolment, report, batch,
                      progress, on_totals)
        except CentralConnectionLost as lost:
            saved = sum(report.new.values()) + sum(report.already.values())
            raise CentralConnectionLost(
                f"lost the connection to the central database at {report.central}"
                f" ({lost.reason}); {saved:,} rows were saved there in {report.batches}"
                " batches. Nothing is lost: run kiosk sync again to send the rest.") from None
    finally:
        pushers.close()
        with contextlib.suppress(Exception):  # a broken connection may not close cleanly
            connection.close()
    return report


@dataclass
class _Pushed:
    """What the central database said of one batch."""

    added: int
    refused: list[tuple[int, str]]
    differing_forms: list[tuple[str, str]]


def _push_batch(connection: Any, batch: Batch) -> _Pushed:
    """One batch in one central transaction."""
    with connection.transaction():
        added, refused = push_accepting(connection, batch.stream, batch.signed, batch.layouts)
        differing = (differing_forms(connection, batch.rows) if batch.stream == "forms"
                     else [])
    return _Pushed(added, refused, differing)


class _Pushers:
    """Batches pushed over up to ``start(most)`` connections at once, each batch on a
    connection of its own while it is in flight. The others than the caller's are opened
    by ``start``; one that cannot be opened leaves the sync to the connections it has."""

    def __init__(self, first: Any, open_another: Callable[[], Any]) -> None:
        self._open_another = open_another
        self._opened = [first]
        self._free: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._free.put(first)
        self._threads: ThreadPoolExecutor | None = None

    def start(self, most: int) -> int:
        """Open connections up to ``most``; how many there are."""
        while len(self._opened) < most:
            try:
                another = self._open_another()
            except CentralUnreachable:  # the central database takes no more connections
                break
            self._opened.append(another)
            self._free.put(another)
        self._threads = ThreadPoolExecutor(len(self._opened), thread_name_prefix="sync-push")
        return len(self._opened)

    def submit(self, batch: Batch) -> Future[_Pushed]:
        assert self._threads is not None, "start() first"

        def push_on_a_free_connection() -> _Pushed:
            connection = self._free.get()
            try:
                return _push_batch(connection, batch)
            finally:
                self._free.put(connection)

        return self._threads.submit(push_on_a_free_connection)

    def close(self) -> None:
        """Wait for the batches in flight (each commits or rolls back whole), then close
        the connections opened here (the first is the caller's)."""
        if self._threads is not None:
            self._threads.shutdown(wait=True)
        for connection in self._opened[1:]:
            with contextlib.suppress(Exception):
                connection.close()


def _send(store: KioskStore, connection: Any, pushers: _Pushers, connections: int,
          enrolment: Enrolment, report: SyncReport, size: int, progress: Progress | None,
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
    # Only a sync of more than one batch opens more than one connection.
    at_once = pushers.start(connections if sum(totals.values()) > size else 1)

    def finish(batch: Batch, pushed: Future[_Pushed]) -> None:
        """A batch committed (the ones before it too): now, and only now, move the
        cursor, and keep what was set aside, with the reason, for staff to see."""
        result = pushed.result()  # a batch that failed raises here: the cursor stays
        stream = batch.stream
        report.differing_forms += result.differing_forms
        set_aside = batch.set_aside + [
            (batch.keys[index], f"the central database refused it: {why}")
            for index, why in result.refused]
        with store.transaction():
            store.set_aside(central, stream, set_aside)
            store.set_sync_cursor(central, stream, batch.last)
        done[stream] += batch.read
        report.batches += 1
        report.new[stream] += result.added
        report.already[stream] += len(batch.rows) - len(result.refused) - result.added
        if set_aside:
            report.set_aside[stream] = report.set_aside.get(stream, 0) + len(set_aside)
        if progress is not None:
            progress(stream, done[stream], totals[stream])

    in_flight: deque[tuple[Batch, Future[_Pushed]]] = deque()
    for batch in prepared_batches(store.path, list(STREAM_LABELS), cursors, bounds, size,
                                  signer):
        # A new stream waits for the one before to be committed.
        if in_flight and in_flight[0][0].stream != batch.stream:
            while in_flight:
                finish(*in_flight.popleft())
        # A batch waits for a connection: the oldest batch's. Its cursor is written (and
        # synced to disk) while the new batch is pushed, not before.
        committed = None
        if len(in_flight) >= at_once:
            committed = in_flight.popleft()
            committed[1].result()  # a batch that failed raises here: nothing more is sent
        in_flight.append((batch, pushers.submit(batch)))
        if committed is not None:
            finish(*committed)
    while in_flight:
        finish(*in_flight.popleft())
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

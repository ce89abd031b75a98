"""A sync's batches read, checked and signed ahead, in a thread of its own with its own
connection to the kiosk database, while the central database stores the batch before:
reading, checking and signing a batch took a fifth of a sync, now spent while the sync
waits on the network anyway (scripts/bench.py section 9).

Batches come in the order of the streams and, within one, of their keys; the consumer
moves the cursors after each central commit, as before.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.central.outgoing import checked_row, form_layout
from store import KioskStore
from store.central.signing import RecordSigner, SignedRow
from surveys.gate import RecordRefused

AHEAD = 2  # batches ready at most: memory stays bounded


@dataclass
class Batch:
    stream: str
    last: int  # the key of the last row read (the cursor once the batch is committed)
    read: int  # rows read
    keys: list[int] = field(default_factory=list)  # of the rows to send
    rows: list[list[Any]] = field(default_factory=list)
    signed: list[SignedRow] = field(default_factory=list)
    layouts: list[str] | None = None
    set_aside: list[tuple[int, str]] = field(default_factory=list)  # (key, why)


def prepare(reader: KioskStore, stream: str, keyed: list[tuple[int, Any]], after: int,
            signer: RecordSigner, gate: Any, gated_from: int) -> Batch:
    """One batch: every row checked (kiosk/central/outgoing.py) and signed; a submission
    taken from another kiosk's bundle as that kiosk signed it."""
    relayed = (reader.relayed_signatures(after, keyed[-1][0])
               if stream == "submissions" else {})
    batch = Batch(stream, keyed[-1][0], len(keyed))
    for key, row in keyed:
        # Submissions stored since the record gate came through it; older ones (and every
        # other row) are checked here.
        trusted = stream == "submissions" and key >= gated_from
        try:
            checked = checked_row(stream, row, gate, trusted=trusted)
            batch.signed.append(SignedRow(*relayed[key]) if key in relayed
                                else signer.sign(stream, checked))
        except (RecordRefused, ValueError) as error:
            batch.set_aside.append((key, str(error)))
            continue
        batch.rows.append(checked)
        batch.keys.append(key)
    if stream == "forms":
        batch.layouts = [form_layout(row) for row in batch.rows]
    return batch


def prepared_batches(path: Path, streams: list[str], cursors: dict[str, int],
                     bounds: dict[str, int], size: int, signer: RecordSigner,
                     ) -> Iterator[Batch]:
    """The batches of ``streams`` after ``cursors`` up to ``bounds``, prepared ahead."""
    ready: queue.Queue[Batch | BaseException | None] = queue.Queue(maxsize=AHEAD)
    stop = threading.Event()

    def put(item: Batch | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            with KioskStore(path) as reader:
                gate, gated_from = reader.record_gate(), reader.gated_from()
                for stream in streams:
                    after = cursors[stream]
                    while after < bounds[stream]:
                        keyed = reader.sync_keyed_rows(stream, after, bounds[stream], size)
                        if not keyed:
                            break
                        if not put(prepare(reader, stream, keyed, after, signer, gate,
                                           gated_from)):
                            return
                        after = keyed[-1][0]
            put(None)
        except BaseException as error:  # the consumer raises it
            put(error)

    thread = threading.Thread(target=work, name="sync-reader", daemon=True)
    thread.start()
    try:
        while (item := ready.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()  # the consumer stopped (done, or an error): the reader stops too
        thread.join(timeout=30)

"""Offline bundles: what a sync would send, in one checksummed file, for points with no network.

``kiosk bundle export`` writes the rows of every sync stream (kiosk/central/sync.py, the same row
shape) into one file; ``kiosk bundle import`` merges it into another kiosk's database or
into the central PostgreSQL. The file is UTF-8 lines (JSON after the first words)::

    KIOSK-BUNDLE 1 {"kiosk_id": …, "database_id": …, "site": …, "streams": {…}, …}
    ["forms", [survey_id, version, …]]
    ["submissions", [instance_id, survey_id, …]]
    …
    KIOSK-BUNDLE-END sha256=<hex of every byte before this line>

A bundle is verified whole (the SHA-256, the header, every line, the counts per stream)
before anything is written: a damaged one is refused and changes nothing. The file is not
compressed, so a flipped byte is always a checksum mismatch and a cut file always shows as
truncated (compression could not tell the two apart), and staff can read it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.central.sync import STREAM_LABELS, KioskIdentity
from store import FormVersionConflict, KioskStore
from store.central.volunteers import RosterResult, push_roster
from store.rows import Volunteer
from store.sqlite.sync_cursors import SYNC_COLUMNS
from surveys.session import Submission

MAGIC = "KIOSK-BUNDLE"
FORMAT = 1
TRAILER = "KIOSK-BUNDLE-END sha256="
# The bundle cursor: stored with the sync cursors, under this fixed name instead of a central
# database's installation id (which is a UUID, so the two never meet).
BUNDLE_TARGET = "bundle"
# What a kiosk database takes from another kiosk's bundle: the rows a kiosk numbers itself
# (volunteer sessions, corrections, request updates, audit) would mix with its own.
KIOSK_STREAMS = ("forms", "submissions")
_READ_BATCH = 5000


class BundleError(Exception):
    """A bundle that cannot be written or imported; nothing was changed."""


class BundleDamaged(BundleError):
    """Checksum mismatch, truncation, or not a bundle at all."""

    def __init__(self, path: Path, problem: str, undone: str = "imported") -> None:
        super().__init__(f"bundle {path} is damaged ({problem}) — nothing was {undone}")
        self.path = path
        self.problem = problem


@dataclass(frozen=True)
class StreamRange:
    count: int
    after: int  # keys in the exporting kiosk's database: rows after this …
    upto: int  # … up to this one


@dataclass
class Bundle:
    """A verified bundle: who made it, and the rows of every stream (SYNC_COLUMNS order)."""

    kiosk: KioskIdentity
    database_id: str
    created: str
    streams: dict[str, StreamRange]
    rows: dict[str, list[list[Any]]] = field(default_factory=dict)
    # The exporting kiosk's volunteer roster when it was made (for hours across sites).
    roster: list[Volunteer] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {stream: len(self.rows.get(stream, ())) for stream in STREAM_LABELS}


def _counts_text(counts: dict[str, int], streams: tuple[str, ...] | None = None) -> str:
    return ", ".join(f"{STREAM_LABELS[stream]} {counts.get(stream, 0):,}"
                     for stream in (streams or tuple(STREAM_LABELS)))


# ---- export --------------------------------------------------------------------------------

@dataclass
class ExportReport:
    path: Path
    kiosk_id: str
    since: str  # what "new" was measured from
    counts: dict[str, int]

    def summary(self) -> str:
        total = sum(self.counts.values())
        if total == 0:
            return (f"wrote {self.path} from kiosk {self.kiosk_id}: nothing new {self.since}"
                    " (an empty bundle; --all exports everything)")
        return (f"wrote {self.path} from kiosk {self.kiosk_id} ({self.since}): "
                + _counts_text(self.counts))


def export_bundle(store: KioskStore, kiosk: KioskIdentity, output: Path, *,
                  since: Path | None = None, everything: bool = False) -> ExportReport:
    """Write the rows added since the last bundle (or since the bundle ``since``, or all of
    them) to ``output``; then move the bundle cursor to what the file holds.

    The forms of the submissions carried are always included, so every bundle can be
    imported on its own.
    """
    bounds = store.sync_bounds()
    if everything:
        after = dict.fromkeys(STREAM_LABELS, 0)
        described = "everything"
    elif since is not None:
        try:
            previous = read_bundle(since)
        except BundleDamaged as error:
            raise BundleDamaged(error.path, error.problem, "exported") from None
        if previous.database_id != store.database_id():
            raise BundleError(
                f"{since} was exported from another kiosk database (kiosk "
                f"{previous.kiosk.kiosk_id}); --since takes a bundle of this kiosk")
        after = {stream: previous.streams[stream].upto for stream in STREAM_LABELS}
        described = f"since {since.name}"
    else:
        after = store.sync_cursors(BUNDLE_TARGET)
        described = ("since the last bundle" if any(after.values())
                     else "everything: the first bundle")
    rows: dict[str, list[list[Any]]] = {}
    with store.read_snapshot():
        for stream in STREAM_LABELS:
            rows[stream] = list(_stream_rows(store, stream, after[stream], bounds[stream]))
        rows["forms"] += _forms_needed(store, rows, after["forms"])
    streams = {stream: StreamRange(len(rows[stream]), after[stream],
                                   max(after[stream], bounds[stream]))
               for stream in STREAM_LABELS}
    header = {
        "kiosk_id": kiosk.kiosk_id, "database_id": store.database_id(),
        "street": kiosk.street, "community": kiosk.community, "site": kiosk.site,
        "station": kiosk.station,
        "created": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "streams": {stream: {"count": item.count, "after": item.after, "upto": item.upto}
                    for stream, item in streams.items()},
        "columns": {stream: list(SYNC_COLUMNS[stream]) for stream in STREAM_LABELS},
        # The roster changes in place, so it has no cursor: all of it, as a sync sends it.
        "roster": [_roster_row(volunteer) for volunteer in store.volunteers()],
    }
    _write(output, header, rows)
    # The file is on disk: now, and only now, move the cursor (a failed write moves nothing).
    with store.transaction():
        for stream in STREAM_LABELS:
            store.set_sync_cursor(BUNDLE_TARGET, stream, streams[stream].upto)
    return ExportReport(output, kiosk.kiosk_id, described,
                        {stream: len(rows[stream]) for stream in STREAM_LABELS})


def _stream_rows(store: KioskStore, stream: str, after: int,
                 upto: int) -> Iterator[list[Any]]:
    while after < upto:
        after, batch = store.sync_rows(stream, after, upto, _READ_BATCH)
        if not batch:
            return
        yield from (list(row) for row in batch)


def _forms_needed(store: KioskStore, rows: dict[str, list[list[Any]]],
                  forms_after: int) -> list[list[Any]]:
    """Forms older than the cursor that the bundle's submissions were answered on."""
    columns = SYNC_COLUMNS["submissions"]
    survey, version = columns.index("survey_id"), columns.index("version")
    needed = {(row[survey], row[version]) for row in rows["submissions"]}
    needed -= {(row[0], row[1]) for row in rows["forms"]}
    if not needed:
        return []
    return [row for row in _stream_rows(store, "forms", 0, forms_after)
            if (row[0], row[1]) in needed]


def _line(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def _write(output: Path, header: dict[str, Any], rows: dict[str, list[list[Any]]]) -> None:
    """Write next to ``output`` and rename it into place once it is on disk: a bundle file
    is either whole or absent."""
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".part")
    digest = hashlib.sha256()
    try:
        with open(partial, "wb") as raw:
            def put(data: bytes) -> None:
                digest.update(data)
                raw.write(data)

            put(f"{MAGIC} {FORMAT} ".encode() + _line(header))
            for stream in STREAM_LABELS:
                for row in rows[stream]:
                    put(_line([stream, row]))
            raw.write(f"{TRAILER}{digest.hexdigest()}\n".encode())
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, output)
    except OSError as error:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise BundleError(f"cannot write the bundle {output}: {error.strerror or error}"
                          ) from None


# ---- reading and checking ------------------------------------------------------------------

def _damaged(path: Path, problem: str) -> BundleDamaged:
    return BundleDamaged(path, problem)


def _read(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise BundleError(f"cannot read the bundle {path}: {error.strerror or error}") from None
    magic = f"{MAGIC} ".encode()
    if not data:
        raise _damaged(path, "not a kiosk bundle: the file is empty")
    if magic.startswith(data[:len(magic)]) and len(data) < len(magic):
        raise _damaged(path, "truncated after line 0")
    if not data.startswith(magic):
        raise _damaged(path, "not a kiosk bundle")
    return data


def read_bundle(path: Path) -> Bundle:
    """Read and verify a whole bundle; BundleDamaged says what is wrong with it."""
    text = _read(path)
    lines = text.split(b"\n")
    first = lines[0]
    if not first.startswith(f"{MAGIC} ".encode()):
        raise _damaged(path, "not a kiosk bundle")
    version, _, header_text = first[len(MAGIC) + 1:].partition(b" ")
    if version != str(FORMAT).encode():
        raise BundleError(
            f"bundle {path} is of format {version.decode(errors='replace')!r}; this kiosk "
            f"reads format {FORMAT}: update the kiosk software — nothing was imported")
    if lines[-1] != b"" or len(lines) < 3 or not lines[-2].startswith(TRAILER.encode()):
        raise _damaged(path, f"truncated after line {max(len(lines) - 1, 0)}")
    body = text[:len(text) - len(lines[-2]) - 1]
    if lines[-2][len(TRAILER):].decode(errors="replace") != hashlib.sha256(body).hexdigest():
        raise _damaged(path, "checksum mismatch")
    try:
        header = json.loads(header_text)
        kiosk = KioskIdentity(str(header["kiosk_id"]), header.get("street") or "",
                              header.get("community") or "", header.get("station") or "")
        streams = {stream: StreamRange(int(item["count"]), int(item["after"]),
                                       int(item["upto"]))
                   for stream, item in header["streams"].items()}
        columns = header["columns"]
        database_id, created = str(header["database_id"]), str(header.get("created", ""))
        roster = [_volunteer(row) for row in header.get("roster", [])]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise _damaged(path, "line 1: not a bundle header") from None
    if set(streams) != set(STREAM_LABELS) or any(
            list(columns.get(stream, ())) != list(SYNC_COLUMNS[stream])
            for stream in STREAM_LABELS):
        raise BundleError(f"bundle {path} carries other tables or columns than this kiosk "
                          "knows; update the kiosk software — nothing was imported")
    rows: dict[str, list[list[Any]]] = {stream: [] for stream in STREAM_LABELS}
    for number, line in enumerate(lines[1:-2], start=2):
        try:
            stream, row = json.loads(line)
            rows[stream].append(row)
            valid = isinstance(row, list) and len(row) == len(SYNC_COLUMNS[stream])
        except (ValueError, TypeError, KeyError):
            valid = False
        if not valid:
            raise _damaged(path, f"line {number} is not a row of the bundle")
    for stream, expected in streams.items():
        if len(rows[stream]) != expected.count:
            raise _damaged(path, f"{len(rows[stream]):,} {STREAM_LABELS[stream]} where the "
                                 f"header says {expected.count:,}")
    return Bundle(kiosk, database_id, created, streams, rows, roster)


def _roster_row(volunteer: Volunteer) -> list[Any]:
    return [volunteer.number, volunteer.name, volunteer.phone, volunteer.id_card,
            volunteer.team, volunteer.organisation,
            volunteer.joined.isoformat() if volunteer.joined else None, volunteer.status,
            volunteer.card_serial]


def _volunteer(row: list[Any]) -> Volunteer:
    number, name, phone, id_card, team, organisation, joined, status, serial = row
    return Volunteer(str(number), str(name), str(phone or ""), str(id_card or ""),
                     str(team or ""), str(organisation or ""),
                     dt.date.fromisoformat(joined) if joined else None, str(status),
                     int(serial))


# ---- import into another kiosk -------------------------------------------------------------

@dataclass
class ImportReport:
    target: str  # the kiosk database file, or host:port/database of the central one
    origin: str  # the kiosk id the bundle came from
    new: dict[str, int] = field(default_factory=dict)
    already: dict[str, int] = field(default_factory=dict)
    left_out: dict[str, int] = field(default_factory=dict)  # kiosk import: not taken
    roster: RosterResult | None = None  # central import: the volunteer roster
    differing_forms: list[tuple[str, str]] = field(default_factory=list)

    @property
    def added(self) -> int:
        return sum(self.new.values())

    def summary(self) -> str:
        parts = [f"{STREAM_LABELS[stream]} {self.new[stream]:,} new"
                 + (f" ({self.already[stream]:,} already there)"
                    if self.already.get(stream) else "")
                 for stream in STREAM_LABELS if stream in self.new]
        text = f"imported the bundle of kiosk {self.origin} into {self.target}: " + ", ".join(
            parts)
        left = {stream: count for stream, count in self.left_out.items() if count}
        if left:
            text += ("; not taken into a kiosk database (they are the other kiosk's own "
                     f"records): {_counts_text(left, tuple(left))} — they reach the central "
                     "database when this bundle is imported there with --to DSN")
        if self.roster is not None:
            text += (f"; roster {self.roster.new:,} new, {self.roster.updated:,} updated"
                     + "".join(f"; warning: volunteer number {number} is {here} in the bundle"
                               f" but {there} at {kiosk} (not imported)"
                               for number, here, there, kiosk in self.roster.clashes))
        if self.differing_forms:
            text += ("; warning: the central database holds other content under "
                     + ", ".join(f"{survey} version {version}"
                                 for survey, version in self.differing_forms))
        return text


def _submission(row: list[Any]) -> Submission:
    value = dict(zip(SYNC_COLUMNS["submissions"], row, strict=True))
    return Submission(
        instance_id=value["instance_id"], survey=value["survey_id"],
        version=value["version"], started=value["started"], completed=value["completed"],
        lang=value["lang"], answers=json.loads(value["answers"]), kiosk=value["kiosk"],
        enumerator=value["enumerator"], site=value["site"])


def import_into_kiosk(store: KioskStore, bundle: Bundle) -> ImportReport:
    """Merge a bundle's forms and submissions into a kiosk database, in one transaction.

    Submissions go through the store's normal bulk path (INSERT by instance id, the
    statistics tables in the same transaction), keeping their kiosk and site; the kiosk's
    next sync sends them on, and the central database keeps each instance id once. The
    other streams are the exporting kiosk's own numbered records and are left out (see
    ``ImportReport.left_out``).
    """
    report = ImportReport(str(store.path), bundle.kiosk.kiosk_id)
    form_columns = SYNC_COLUMNS["forms"]
    with store.transaction():
        report.new["forms"] = 0
        for row in bundle.rows["forms"]:
            value = dict(zip(form_columns, row, strict=True))
            compiled = json.loads(value["compiled"])
            compiled.setdefault("source_sha256", value["source_sha256"])
            compiled.setdefault("source_name", value["source_name"])
            try:
                report.new["forms"] += store.install_form(compiled)
            except FormVersionConflict as error:
                raise BundleError(f"{error} (the bundle of kiosk {bundle.kiosk.kiosk_id} "
                                  "holds the other one) — nothing was imported") from None
        report.already["forms"] = len(bundle.rows["forms"]) - report.new["forms"]
        submissions = [_submission(row) for row in bundle.rows["submissions"]]
        missing = sorted({(item.survey, item.version) for item in submissions}
                         - {(survey, version) for survey, versions in
                            store.compiled_forms().items() for version in versions})
        if missing:
            raise BundleError(
                "the bundle's submissions need "
                + ", ".join(f"survey {survey} version {version}" for survey, version in missing)
                + ", which neither the bundle nor this kiosk has — nothing was imported")
        report.new["submissions"] = store.insert_submissions(submissions, source="bundle")
        report.already["submissions"] = len(submissions) - report.new["submissions"]
    report.left_out = {stream: len(bundle.rows[stream]) for stream in STREAM_LABELS
                       if stream not in KIOSK_STREAMS}
    return report


# ---- import into the central database ------------------------------------------------------

def import_into_central(dsn: str, bundle: Bundle) -> ImportReport:
    """Add a bundle to the central PostgreSQL with the same idempotent upserts as a sync
    (origin: the bundle's kiosk, registered with its site), all in one transaction."""
    from store.central.connection import (
        CentralConnectionLost,
        connect,
        describe,
        lost_connection,
    )
    from store.central.schema import installation

    kiosk = bundle.kiosk
    report = ImportReport(describe(dsn), kiosk.kiosk_id)
    connection = connect(dsn, application_name=f"kiosk bundle {kiosk.kiosk_id}"[:63])
    try:
        try:
            with lost_connection():
                installation(connection, dsn)
                _send(connection, bundle, report)
        except CentralConnectionLost as lost:
            raise CentralConnectionLost(
                f"lost the connection to the central database at {report.target} "
                f"({lost.reason}); the bundle is imported in one transaction, so none of "
                "it was saved: import it again") from None
    finally:
        with contextlib.suppress(Exception):
            connection.close()
    return report


def _send(connection: Any, bundle: Bundle, report: ImportReport) -> None:
    """The whole bundle in one central transaction; ``report`` counts what was new."""
    from store.central.push import differing_forms, push, register_kiosk

    kiosk = bundle.kiosk
    with connection.transaction():
        register_kiosk(connection, kiosk_id=kiosk.kiosk_id,
                       database_id=bundle.database_id, street=kiosk.street,
                       community=kiosk.community, site=kiosk.site,
                       station=kiosk.station)
        for stream in STREAM_LABELS:
            rows = bundle.rows[stream]
            # One push per stream: its temporary table is emptied only at commit.
            added = push(connection, stream, kiosk.kiosk_id, rows) if rows else 0
            if rows and stream == "forms":
                report.differing_forms = differing_forms(connection)
            report.new[stream] = added
            report.already[stream] = len(rows) - added
        report.roster = push_roster(connection, kiosk.kiosk_id, bundle.roster)

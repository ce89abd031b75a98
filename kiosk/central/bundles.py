"""Offline bundles: what a sync would send, in one checksummed file, for points with no network.

``kiosk bundle export`` writes the rows of every sync stream (kiosk/central/sync.py, the same row
shape) into one file; ``kiosk bundle import`` merges it into another kiosk's database or
into the central PostgreSQL. The file is UTF-8 lines (JSON after the first words)::

    KIOSK-BUNDLE 2 {"kiosk_id": …, "database_id": …, "site": …, "streams": {…}, …}
    ["forms", [survey_id, version, …], [signer, key version, signature]]
    ["submissions", [instance_id, survey_id, …], [signer, key version, signature]]
    …
    KIOSK-BUNDLE-END sha256=<hex of every byte before this line>

A bundle is verified whole (the SHA-256, the header, every line, the counts per stream)
before anything is written: a damaged one is refused and changes nothing. The SHA-256 guards
against damage, not forgery: anyone can recompute it. What proves a row's origin is its
signature, made by the kiosk that created it with its enrolled key (store/central/
signing.py; the roster entries in the header are signed too), which the central database
checks itself; a kiosk that takes another kiosk's submissions keeps their signatures to
relay them. The file is not compressed, so a flipped byte is always a checksum mismatch and
a cut file always shows as truncated (compression could not tell the two apart), and staff
can read it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.central.outgoing import checked_form, checked_row, checked_submission, form_layout
from kiosk.central.sync import STREAM_LABELS, KioskIdentity
from store import FormVersionConflict, KioskStore
from store.central.signing import ROSTER_STREAM, RecordSigner, SignedRow, payload_of
from store.central.volunteers import RosterResult, push_roster, roster_row
from store.rows import Volunteer
from store.sqlite.submissions import BULK_BATCH, BULK_BYTES
from store.sqlite.sync_cursors import SYNC_COLUMNS
from surveys.clock import now_local
from surveys.gate import CheckedSubmission, RecordGate, RecordRefused, strict_json
from surveys.session import REFUSED_IN_LINE

MAGIC = "KIOSK-BUNDLE"
FORMAT = 2  # 1: unsigned rows (before enrolment), no longer taken
TRAILER = "KIOSK-BUNDLE-END sha256="
# The bundle cursor: stored with the sync cursors, under this fixed name instead of a central
# database's installation id (which is a UUID, so the two never meet).
BUNDLE_TARGET = "bundle"
# What a kiosk database takes from another kiosk's bundle: the rows a kiosk numbers itself
# (volunteer sessions, corrections, request updates, audit) would mix with its own.
KIOSK_STREAMS = ("forms", "submissions")
_READ_BATCH = 5000
# A line holds one row: a compiled form of a few hundred kilobytes at the most; the header
# holds the roster too.
MAX_LINE_BYTES = 16 << 20


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
    """A verified bundle: who made it and what it holds. Its rows stay in the file and are
    read as a stream (``iter_rows``), so a bundle of a million lines takes no more memory
    than one of a hundred."""

    path: Path
    kiosk: KioskIdentity
    database_id: str
    created: str
    streams: dict[str, StreamRange]
    digest: str  # the SHA-256 the first reading verified
    # (survey, version) of its submissions, to check before anything is imported.
    submission_forms: set[tuple[str, str]] = field(default_factory=set)
    # The exporting kiosk's volunteer roster when it was made (for hours across sites),
    # each entry as it signed it, and the roster entries refused (entry number, why).
    roster: list[SignedRow] = field(default_factory=list)
    roster_refused: list[tuple[int, str]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {stream: item.count for stream, item in self.streams.items()}

    def iter_rows(self, streams: tuple[str, ...] | None = None
                  ) -> Iterator[tuple[int, str, list[Any], SignedRow]]:
        """(line number, stream, row, the row as signed) of the file, read again; the file
        must still be the one verified (BundleDamaged at its end if not, for the caller to
        roll back)."""
        wanted = set(streams or STREAM_LABELS)
        digest = hashlib.sha256()
        with _open_bundle(self.path) as handle:
            for number, data, _complete in _lines(handle):
                if data.startswith(TRAILER.encode()):
                    break
                digest.update(data)
                if number == 1:
                    continue
                stream, row, signature = strict_json(data.decode("utf-8"))
                if stream in wanted:
                    yield number, stream, row, _signed(stream, row, signature)
        if digest.hexdigest() != self.digest:
            raise BundleDamaged(self.path, "the file changed while it was being imported")

    @property
    def rows(self) -> dict[str, list[list[Any]]]:
        """Every row by stream, read into memory (for small bundles and tests)."""
        found: dict[str, list[list[Any]]] = {stream: [] for stream in STREAM_LABELS}
        for _number, stream, row, _signed_row in self.iter_rows():
            found[stream].append(row)
        return found


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
                  signer: RecordSigner, since: Path | None = None,
                  everything: bool = False) -> ExportReport:
    """Write the rows added since the last bundle (or since the bundle ``since``, or all of
    them) to ``output``, each signed with this kiosk's enrolled key (``signer``; a
    submission taken from another kiosk's bundle keeps that kiosk's signature); then move
    the bundle cursor to what the file holds.

    The forms of the submissions carried are always included, so every bundle can be
    imported on its own.
    """
    if signer.kiosk_id != kiosk.kiosk_id:
        raise BundleError(f"this kiosk is {kiosk.kiosk_id} but its enrolment is for "
                          f"{signer.kiosk_id}: enrol it under its id and join again")
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
    with store.read_snapshot():  # the counts in the header are those of the rows written
        forms = [row for _key, row in _stream_rows(store, "forms", after["forms"],
                                                    bounds["forms"])]
        needed = store.forms_of_submissions(after["submissions"], bounds["submissions"])
        needed -= {(row[0], row[1]) for row in forms}
        if needed:  # older forms the submissions were answered on
            forms += [row for _key, row in _stream_rows(store, "forms", 0, after["forms"])
                      if (row[0], row[1]) in needed]
        counts = {**store.sync_pending(after, bounds), "forms": len(forms)}
        streams = {stream: StreamRange(counts[stream], after[stream],
                                       max(after[stream], bounds[stream]))
                   for stream in STREAM_LABELS}
        header = {
            "kiosk_id": kiosk.kiosk_id, "database_id": store.database_id(),
            "street": kiosk.street, "community": kiosk.community, "site": kiosk.site,
            "station": kiosk.station,
            "created": now_local().isoformat(timespec="seconds"),
            "streams": {stream: {"count": item.count, "after": item.after, "upto": item.upto}
                        for stream, item in streams.items()},
            "columns": {stream: list(SYNC_COLUMNS[stream]) for stream in STREAM_LABELS},
            # The roster changes in place, so it has no cursor: all of it, as a sync sends.
            "roster": [[row, signer.sign(ROSTER_STREAM, row).as_list()]
                       for row in map(roster_row, store.volunteers())],
        }

        def rows() -> Iterator[list[Any]]:
            for row in forms:
                yield ["forms", row, signer.sign("forms", row).as_list()]
            for stream in STREAM_LABELS:
                if stream == "forms":
                    continue
                for _key, row, relayed in _stream_rows(store, stream, after[stream],
                                                      bounds[stream], relays=True):
                    if relayed is not None:  # as the kiosk that created it signed it
                        yield [stream, json.loads(relayed.payload), relayed.as_list()]
                    else:
                        yield [stream, row, signer.sign(stream, row).as_list()]

        _write(output, header, rows())
    # The file is on disk: now, and only now, move the cursor (a failed write moves nothing).
    with store.transaction():
        for stream in STREAM_LABELS:
            store.set_sync_cursor(BUNDLE_TARGET, stream, streams[stream].upto)
    return ExportReport(output, kiosk.kiosk_id, described, counts)


def _stream_rows(store: KioskStore, stream: str, after: int, upto: int, *,
                 relays: bool = False) -> Iterator[Any]:
    """(key, row) of a stream; with ``relays``, (key, row, the signature another kiosk
    made of it or None)."""
    while after < upto:
        keyed = store.sync_keyed_rows(stream, after, upto, _READ_BATCH)
        if not keyed:
            return
        relayed = (store.relayed_signatures(after, keyed[-1][0])
                   if relays and stream == "submissions" else {})
        for key, row in keyed:
            if relays:
                found = relayed.get(key)
                yield key, list(row), SignedRow(*found) if found else None
            else:
                yield key, list(row)
        after = keyed[-1][0]


def _line(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def _write(output: Path, header: dict[str, Any], rows: Iterator[list[Any]]) -> None:
    """Write next to ``output`` (owner-only: residents' answers) and rename it into place
    once it is on disk: a bundle file is either whole or absent."""
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".part")
    digest = hashlib.sha256()
    try:
        with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
                       "wb") as raw:
            def put(data: bytes) -> None:
                digest.update(data)
                raw.write(data)

            put(f"{MAGIC} {FORMAT} ".encode() + _line(header))
            for line in rows:
                put(_line(line))
            raw.write(f"{TRAILER}{digest.hexdigest()}\n".encode())
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(partial, 0o600)  # an old .part file keeps its mode otherwise
        os.replace(partial, output)
    except OSError as error:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise BundleError(f"cannot write the bundle {output}: {error.strerror or error}"
                          ) from None


# ---- reading and checking ------------------------------------------------------------------

def _damaged(path: Path, problem: str) -> BundleDamaged:
    return BundleDamaged(path, problem)


@contextlib.contextmanager
def _open_bundle(path: Path) -> Iterator[Any]:
    try:
        handle = open(path, "rb")  # noqa: SIM115 -- closed below; its error is ours to say
    except OSError as error:
        raise BundleError(f"cannot read the bundle {path}: {error.strerror or error}") from None
    with handle:
        yield handle


def _lines(handle: Any) -> Iterator[tuple[int, bytes, bool]]:
    """(number, the line with its newline, whether it ended with one); a line longer than
    MAX_LINE_BYTES is never held whole: it raises OverflowError."""
    number = 0
    while True:
        data = handle.readline(MAX_LINE_BYTES + 1)
        if not data:
            return
        number += 1
        if len(data) > MAX_LINE_BYTES:
            raise OverflowError(number)
        yield number, data, data.endswith(b"\n")


def read_bundle(path: Path) -> Bundle:
    """Read and verify a whole bundle, in bounded memory; BundleDamaged says what is wrong
    with it. Nothing is imported from a bundle that fails here."""
    digest = hashlib.sha256()
    header: dict[str, Any] | None = None
    seen: dict[str, int] = dict.fromkeys(STREAM_LABELS, 0)
    submission_forms: set[tuple[str, str]] = set()
    trailer: bytes | None = None
    bad_row: BundleDamaged | None = None
    complete_lines = 0
    with _open_bundle(path) as handle:
        try:
            for number, data, complete in _lines(handle):
                if trailer is not None:
                    raise _damaged(path, f"line {number} follows the end of the bundle")
                if number == 1:
                    header = _header(path, data, complete)
                    digest.update(data)
                    complete_lines += complete
                    continue
                if data.startswith(TRAILER.encode()):
                    if not complete:
                        raise _damaged(path, f"truncated after line {complete_lines}")
                    trailer = data
                    complete_lines += 1
                    continue
                if not complete:
                    raise _damaged(path, f"truncated after line {complete_lines}")
                digest.update(data)
                complete_lines += 1
                if bad_row is not None:
                    continue
                try:
                    stream, row = _row(path, number, data)
                except BundleDamaged as damaged:
                    # A checksum mismatch, found at the end, says more (the file was changed)
                    bad_row = damaged
                    continue
                seen[stream] += 1
                if stream == "submissions":
                    submission_forms.add((str(row[_SURVEY]), str(row[_VERSION])))
        except OverflowError as error:
            raise _damaged(path, f"line {error.args[0]} is longer than a bundle line can be "
                                 f"({MAX_LINE_BYTES >> 20} MB)") from None
    if header is None:
        raise _damaged(path, "not a kiosk bundle: the file is empty")
    if trailer is None:
        raise _damaged(path, f"truncated after line {complete_lines}")
    if trailer[len(TRAILER):].strip().decode(errors="replace") != digest.hexdigest():
        raise _damaged(path, "checksum mismatch")
    if bad_row is not None:
        raise bad_row
    bundle = _bundle(path, header, digest.hexdigest())
    for stream, expected in bundle.streams.items():
        if seen[stream] != expected.count:
            raise _damaged(path, f"{seen[stream]:,} {STREAM_LABELS[stream]} where the "
                                 f"header says {expected.count:,}")
    bundle.submission_forms = submission_forms
    return bundle


def _header(path: Path, data: bytes, complete: bool) -> dict[str, Any]:
    """The first line's words and JSON, checked (a checksum is not checked yet)."""
    magic = f"{MAGIC} ".encode()
    if not data.startswith(magic):
        if magic.startswith(data.rstrip(b"\n")) and not complete:
            raise _damaged(path, "truncated after line 0")
        raise _damaged(path, "not a kiosk bundle")
    if not complete:
        raise _damaged(path, "truncated after line 0")
    version, _, header_text = data[len(magic):].partition(b" ")
    if version == b"1":
        raise BundleError(
            f"bundle {path} is of format 1, whose rows carry no signature: the central "
            "database cannot tell who made them. Enrol the kiosk that made it (kiosk central "
            "enrol), join it, and export its bundle again — nothing was imported")
    if version != str(FORMAT).encode():
        raise BundleError(
            f"bundle {path} is of format {version.decode(errors='replace')!r}; this kiosk "
            f"reads format {FORMAT}: update the kiosk software — nothing was imported")
    try:
        header = strict_json(header_text.decode("utf-8"))
    except (RecordRefused, UnicodeDecodeError) as error:
        raise _damaged(path, f"line 1: not a bundle header ({error})") from None
    if not isinstance(header, dict):
        raise _damaged(path, "line 1: not a bundle header")
    return header


_SURVEY = SYNC_COLUMNS["submissions"].index("survey_id")
_VERSION = SYNC_COLUMNS["submissions"].index("version")


def _row(path: Path, number: int, data: bytes) -> tuple[str, list[Any]]:
    """One row line: ``[stream, [values…], [signer, key version, signature]]`` with a value
    for every column of the stream (what the values say is the gate's to check, and the
    signature the central database's, at import)."""
    try:
        stream, row, signature = strict_json(data.decode("utf-8"))
    except (RecordRefused, UnicodeDecodeError, ValueError, TypeError) as error:
        problem = f" ({error})" if isinstance(error, RecordRefused) else ""
        raise _damaged(path, f"line {number} is not a row of the bundle{problem}") from None
    if (not isinstance(stream, str) or stream not in SYNC_COLUMNS or not isinstance(row, list)
            or len(row) != len(SYNC_COLUMNS[stream])):
        raise _damaged(path, f"line {number} is not a row of the bundle")
    try:
        _signed(stream, row, signature)
    except ValueError as error:
        raise _damaged(path, f"line {number}: {error}") from None
    return stream, row


def _signed(stream: str, row: list[Any], signature: Any) -> SignedRow:
    """The row as its kiosk signed it, from a line's [signer, key version, hex]
    (ValueError if that is not a signature; whether it is right, the central database
    checks)."""
    if (not isinstance(signature, list) or len(signature) != 3
            or not isinstance(signature[0], str) or not 0 < len(signature[0]) <= 64
            or isinstance(signature[1], bool) or not isinstance(signature[1], int)
            or not 0 < signature[1] < 2**31 or not isinstance(signature[2], str)
            or not re.fullmatch(r"[0-9a-f]{64}", signature[2])):
        raise ValueError("the row carries no signature of a kiosk")
    try:
        payload = payload_of(stream, row)
    except ValueError:
        raise ValueError("the row holds a number JSON cannot carry") from None
    return SignedRow(signature[0], signature[1], payload, bytes.fromhex(signature[2]))


def _bundle(path: Path, header: dict[str, Any], digest: str) -> Bundle:
    try:
        kiosk = KioskIdentity(str(header["kiosk_id"]), str(header.get("street") or ""),
                              str(header.get("community") or ""),
                              str(header.get("station") or ""))
        streams = {stream: StreamRange(int(item["count"]), int(item["after"]),
                                       int(item["upto"]))
                   for stream, item in header["streams"].items()}
        columns = header["columns"]
        database_id, created = str(header["database_id"]), str(header.get("created", ""))
        roster_rows = list(header.get("roster", []))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise _damaged(path, "line 1: not a bundle header") from None
    if set(streams) != set(STREAM_LABELS) or any(
            list(columns.get(stream, ())) != list(SYNC_COLUMNS[stream])
            for stream in STREAM_LABELS):
        raise BundleError(f"bundle {path} carries other tables or columns than this kiosk "
                          "knows; update the kiosk software — nothing was imported")
    bundle = Bundle(path, kiosk, database_id, created, streams, digest)
    for entry, item in enumerate(roster_rows, start=1):
        try:
            if not isinstance(item, list) or len(item) != 2:
                raise ValueError("not a signed roster entry")
            _volunteer(item[0])  # its texts checked as a roster file's cells
            bundle.roster.append(_signed(ROSTER_STREAM, item[0], item[1]))
        except (ValueError, TypeError) as error:
            bundle.roster_refused.append((entry, str(error)))
    return bundle


def _volunteer(row: list[Any]) -> Volunteer:
    """A roster entry of a bundle's header, its texts checked as a roster file's cells."""
    if not isinstance(row, list) or len(row) != 9:
        raise ValueError("not a roster entry")
    number, name, phone, id_card, team, organisation, joined, status, serial = row
    texts = [str(value or "") for value in (number, name, phone, id_card, team, organisation)]
    for text in texts:
        if len(text) > 100 or REFUSED_IN_LINE.search(text):
            raise ValueError(f"{text[:40]!r} holds control characters or is too long")
    if status not in ("active", "suspended") or isinstance(serial, bool) or not isinstance(
            serial, int) or not 0 <= serial < 10**6:
        raise ValueError("not a roster entry")
    return Volunteer(*texts, dt.date.fromisoformat(joined) if joined else None, status,
                     serial)


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
    # Rows the gate refused (line of the bundle, why), and roster entries (entry, why):
    # reported and left out; every other row was taken.
    refused: list[tuple[int, str]] = field(default_factory=list)
    roster_refused: list[tuple[int, str]] = field(default_factory=list)

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
                     + "".join(f"; roster entry {number} refused: {why}"
                               for number, why in self.roster.refused))
        if self.differing_forms:
            text += ("; warning: the central database holds other content under "
                     + ", ".join(f"{survey} version {version}"
                                 for survey, version in self.differing_forms))
        if self.refused or self.roster_refused:
            text += (f"; refused {len(self.refused):,} rows"
                     + (f" and {len(self.roster_refused):,} roster entries"
                        if self.roster_refused else "")
                     + " that may not be stored (listed above)")
        return text


def import_into_kiosk(store: KioskStore, bundle: Bundle) -> ImportReport:
    """Merge a bundle's forms and submissions into a kiosk database, in one transaction.

    Forms must be forms the kiosk can run; every submission goes through the record gate
    and the store's normal bulk path (the statistics tables in the same transaction),
    keeping its kiosk and site, and its signature, for this kiosk's sync to relay; a
    refused row is reported by its line and left out, the others are taken. The central
    database keeps each instance id once. The other streams are the exporting kiosk's own
    numbered records and are left out (see ``ImportReport.left_out``).
    """
    report = ImportReport(str(store.path), bundle.kiosk.kiosk_id)
    form_columns = SYNC_COLUMNS["forms"]
    with store.transaction():
        report.new["forms"] = report.already["forms"] = 0
        for number, _stream, row, _signed_row in bundle.iter_rows(("forms",)):
            try:
                compiled = checked_form(row)
            except RecordRefused as error:
                report.refused.append((number, str(error)))
                continue
            value = dict(zip(form_columns, row, strict=True))
            compiled.setdefault("source_sha256", value["source_sha256"])
            compiled.setdefault("source_name", value["source_name"])
            try:
                new = store.install_form(compiled)
            except FormVersionConflict as error:
                raise BundleError(f"{error} (the bundle of kiosk {bundle.kiosk.kiosk_id} "
                                  "holds the other one) — nothing was imported") from None
            report.new["forms"] += new
            report.already["forms"] += not new
        installed = store.compiled_forms()
        missing = sorted(pair for pair in bundle.submission_forms
                         if pair[1] not in installed.get(pair[0], {}))
        if missing:
            raise BundleError(
                "the bundle's submissions need "
                + ", ".join(f"survey {survey} version {version}" for survey, version in missing)
                + ", which neither the bundle nor this kiosk has — nothing was imported")
        gate = store.record_gate()
        report.new["submissions"] = report.already["submissions"] = 0
        batch: list[CheckedSubmission] = []
        relayed: dict[str, tuple[str, int, str, bytes]] = {}
        created: set[tuple[str, str]] = set()  # households the bundle registers

        held = 0  # bytes of the batch's signed payloads

        def flush() -> None:
            nonlocal held
            added = store.insert_submissions(batch, source="bundle", relayed=relayed)
            report.new["submissions"] += added
            report.already["submissions"] += len(batch) - added
            batch.clear()
            relayed.clear()
            held = 0

        with store.bulk_loading():
            for number, _stream, row, signed in bundle.iter_rows(("submissions",)):
                try:
                    checked = checked_submission(row, gate)[0]
                    _own_record(row, signed)
                    unknown = store.unknown_entity(checked, created)
                    if unknown is not None:
                        raise RecordRefused(unknown)
                except RecordRefused as error:
                    report.refused.append((number, str(error)))
                    continue
                if checked.entity and checked.entity.get("action") == "create":
                    created.add((str(checked.entity["dataset"]), str(checked.entity["id"])))
                batch.append(checked)
                relayed[checked.instance_id] = (signed.signer, signed.key_version,
                                                signed.payload, signed.signature)
                held += len(signed.payload)
                if len(batch) >= BULK_BATCH or held >= BULK_BYTES:
                    flush()
            flush()
    report.left_out = {stream: count for stream, count in bundle.counts().items()
                       if stream not in KIOSK_STREAMS}
    return report


def _own_record(row: list[Any], signed: SignedRow) -> None:
    """A submission is signed by the kiosk it is stamped with (the central database checks
    the same): another kiosk's submissions travel in that kiosk's bundle."""
    stamped = row[_KIOSK]
    if stamped not in (None, "", signed.signer):
        raise RecordRefused(f"it is stamped with kiosk {stamped} but signed by kiosk "
                            f"{signed.signer}: a kiosk sends only its own records")


_KIOSK = SYNC_COLUMNS["submissions"].index("kiosk")


# ---- import into the central database ------------------------------------------------------

def import_into_central(dsn: str, bundle: Bundle) -> ImportReport:
    """Add a bundle to the central PostgreSQL through the same checks as a sync (every
    row's signature, checked by the database against the key of the kiosk that made it),
    all in one transaction. A bundle of a kiosk the central database has not enrolled, or
    has revoked, is refused whole."""
    from store.central.connection import (
        CentralConnectionLost,
        connect,
        describe,
        lost_connection,
    )
    from store.central.push import kiosk_status
    from store.central.schema import installation

    kiosk = bundle.kiosk
    report = ImportReport(describe(dsn), kiosk.kiosk_id)
    connection = connect(dsn, application_name=f"kiosk bundle {kiosk.kiosk_id}"[:63])
    try:
        try:
            with lost_connection():
                installation(connection, dsn)
                status = kiosk_status(connection, kiosk.kiosk_id)
                if status != "enrolled":
                    raise BundleError(
                        f"bundle {bundle.path} comes from kiosk {kiosk.kiosk_id}, which is "
                        + ("not enrolled at" if status == "unknown" else status + " at")
                        + f" the central database {report.target} — nothing was imported")
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
    """The whole bundle in one central transaction, in batches; ``report`` counts what was
    new. Every row is checked as a sync checks it (kiosk/central/outgoing.py) and goes as
    its kiosk signed it: a row refused here or by the database is reported by its line and
    left out."""
    from store.central.push import differing_forms, push_accepting

    gate = RecordGate({})
    with connection.transaction():
        for stream in STREAM_LABELS:
            report.new[stream] = report.already[stream] = 0
            numbers: list[int] = []
            rows: list[list[Any]] = []
            signed: list[SignedRow] = []

            def flush(stream: str = stream, numbers: list[int] = numbers,
                      rows: list[list[Any]] = rows, signed: list[SignedRow] = signed) -> None:
                if not rows:
                    return
                layouts = [form_layout(row) for row in rows] if stream == "forms" else None
                added, refused = push_accepting(connection, stream, signed, layouts)
                if stream == "forms":
                    report.differing_forms += differing_forms(connection, rows)
                report.refused.extend((numbers[index], f"the central database refused it: "
                                       f"{why}") for index, why in refused)
                report.new[stream] += added
                report.already[stream] += len(rows) - len(refused) - added
                numbers.clear()
                rows.clear()
                signed.clear()

            for number, _stream, row, signed_row in bundle.iter_rows((stream,)):
                try:  # who signed it, and for which kiosk, the database checks itself
                    checked = checked_row(stream, row, gate)
                except RecordRefused as error:
                    report.refused.append((number, str(error)))
                    continue
                if stream == "forms":  # the bundle's submissions are checked by its forms
                    gate.add_form(json.loads(checked[SYNC_COLUMNS["forms"].index("compiled")]))
                numbers.append(number)
                rows.append(checked)
                signed.append(signed_row)
                if len(rows) >= _READ_BATCH:
                    flush()
            flush()
        report.roster = push_roster(connection, bundle.roster)
        report.roster_refused = list(bundle.roster_refused)
    report.refused.sort()

"""Sending to the central PostgreSQL (one database for a street or city): the kiosks' rows,
as every sync and bundle import sends them.

Every row a kiosk sends has a natural key, so sending it twice changes nothing:
submissions their instance id, forms (survey, version), and the rows a kiosk numbers itself
(request updates, volunteer check-ins, check-outs, corrections, the audit record) the pair
(origin, local id), where origin is the id of the kiosk whose database the row came from.
Every row travels signed (store/central/signing.py) and goes in through a function of the
database's own (store/central/trust.py), which checks each signature, stores the values of
the signed payload with ``INSERT … ON CONFLICT DO NOTHING`` (a batch that was already there
is counted, not duplicated) and says which rows it refused and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from store.central.connection import KioskNotEnrolled, reason_of
from store.central.signing import SignedRow
from store.sqlite.sync_cursors import SYNC_COLUMNS

if TYPE_CHECKING:
    import psycopg

# Stream (store/sqlite/sync_cursors.py SYNC_COLUMNS) -> central table and its natural key.
CENTRAL_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "forms": ("forms", ("survey_id", "version")),
    "submissions": ("submissions", ("instance_id",)),
    "submission_reviews": ("submission_reviews", ("origin", "review_id")),
    "submission_corrections": ("submission_corrections", ("origin", "correction_id")),
    "request_updates": ("request_updates", ("origin", "id")),
    "volunteer_checkins": ("volunteer_checkins", ("origin", "id")),
    "volunteer_checkouts": ("volunteer_checkouts", ("origin", "session_id")),
    "volunteer_corrections": ("volunteer_corrections", ("origin", "id")),
    "audit": ("audit", ("origin", "id")),
}


# ---- kiosks ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Enrolled:
    """What the central database says of the kiosk connecting (kiosk_hello)."""

    kiosk_id: str
    station: str
    street: str
    community: str
    key_version: int


def hello(connection: psycopg.Connection[Any], database_id: str) -> Enrolled:
    """Say which kiosk database connects: the first sync binds it to the enrolment; another
    database under the same enrolment is refused, as is any role but an enrolled kiosk."""
    import psycopg

    try:
        with connection.transaction():
            row = connection.execute(
                "SELECT kiosk_id, station, street, community, key_version FROM kiosk_hello(%s)",
                (database_id,)).fetchone()
    except (psycopg.errors.InsufficientPrivilege, psycopg.errors.UniqueViolation) as error:
        raise KioskNotEnrolled(reason_of(error)) from None
    assert row is not None
    return Enrolled(row[0], row[1] or "", row[2] or "", row[3] or "", int(row[4] or 0))


def kiosk_status(connection: psycopg.Connection[Any], kiosk_id: str) -> str:
    """'enrolled', 'revoked <when>' or 'unknown'."""
    import psycopg

    try:
        row = connection.execute("SELECT kiosk_status(%s)", (kiosk_id,)).fetchone()
    except psycopg.errors.InsufficientPrivilege as error:
        raise KioskNotEnrolled(reason_of(error)) from None
    return str(row[0]) if row else "unknown"


def finish_sync(connection: psycopg.Connection[Any]) -> None:
    """Note the end of a sync (the kiosk's last_sync), through the database's function."""
    with connection.transaction():
        connection.execute("SELECT kiosk_synced()")


# ---- batches ---------------------------------------------------------------------------------

def push(connection: psycopg.Connection[Any], stream: str, rows: Sequence[SignedRow],
         layouts: Sequence[str | None] | None = None) -> tuple[int, list[tuple[int, str]]]:
    """Add one batch of signed ``stream`` rows through the database's own check
    (``kiosk_push_<stream>``, store/central/trust.py), in the caller's transaction.
    Returns how many were new (the others were there already or refused) and (index, why)
    of each row the database refused; those were not stored, the rest were. ``layouts``
    (forms only): each form's questions for the statistics, as JSON."""
    if stream not in CENTRAL_TABLES:
        raise ValueError(f"no stream {stream!r}")
    arguments: list[Any] = [[row.signer for row in rows], [row.key_version for row in rows],
                            [row.payload for row in rows], [row.signature for row in rows]]
    extra = ""
    if stream == "forms":
        arguments.append(list(layouts) if layouts is not None else [None] * len(rows))
        extra = ", %b::text[]"
    found = connection.execute(
        f"SELECT added, refused_at, refused_why FROM kiosk_push_{stream}("  # type: ignore[arg-type]
        f"%b::text[], %b::integer[], %b::text[], %b::bytea[]{extra})", arguments).fetchone()
    assert found is not None
    return int(found[0] or 0), [(index - 1, why) for index, why in zip(
        found[1] or [], found[2] or [], strict=True)]


def push_accepting(connection: psycopg.Connection[Any], stream: str,
                   rows: Sequence[SignedRow], layouts: Sequence[str | None] | None = None,
                   ) -> tuple[int, list[tuple[int, str]]]:
    """``push`` that takes what the database takes: a batch it refuses whole (a value it
    cannot hold, say) is split in halves, each in a savepoint, until the refused rows are
    found. Returns how many were new, and (index in ``rows``, why) of each refused row; the
    others are stored. A lost connection is no refusal: it raises as ``push`` does."""
    import psycopg

    refused: list[tuple[int, str]] = []

    def attempt(indexes: list[int]) -> int:
        try:
            with connection.transaction():  # a savepoint inside the caller's transaction
                added, said_no = push(connection, stream, [rows[index] for index in indexes],
                                      None if layouts is None
                                      else [layouts[index] for index in indexes])
        except psycopg.OperationalError:
            raise
        except psycopg.errors.InsufficientPrivilege as error:
            raise KioskNotEnrolled(reason_of(error)) from None
        except psycopg.Error as error:
            if len(indexes) == 1:
                refused.append((indexes[0], reason_of(error)))
                return 0
            middle = len(indexes) // 2
            return attempt(indexes[:middle]) + attempt(indexes[middle:])
        refused.extend((indexes[index], why) for index, why in said_no)
        return added

    added = attempt(list(range(len(rows)))) if rows else 0
    return added, sorted(refused)


def differing_forms(connection: psycopg.Connection[Any],
                    rows: Sequence[Sequence[Any]]) -> list[tuple[str, str]]:
    """(survey, version) of these forms rows whose content differs from the central copy:
    the same version must mean the same form (as in the kiosk)."""
    columns = SYNC_COLUMNS["forms"]
    survey, version = columns.index("survey_id"), columns.index("version")
    digest = columns.index("source_sha256")
    sent = {(row[survey], row[version]): row[digest] for row in rows}
    if not sent:
        return []
    found = connection.execute(
        "SELECT survey_id, version, source_sha256 FROM forms"
        " WHERE (survey_id, version) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
        ([pair[0] for pair in sent], [pair[1] for pair in sent])).fetchall()
    return sorted((row[0], row[1]) for row in found if row[2] != sent[(row[0], row[1])])

"""Sending to the central PostgreSQL (one database for a street or city): the kiosks' rows,
as every sync and bundle import sends them.

Every row a kiosk sends has a natural key, so sending it twice changes nothing:
submissions their instance id, forms (survey, version), and the rows a kiosk numbers itself
(request updates, volunteer check-ins, check-outs, corrections, the audit record) the pair
(origin, local id), where origin is the id of the kiosk whose database the row came from.
A batch goes in by COPY into a temporary table, then ``INSERT … SELECT … ON CONFLICT DO
NOTHING``: fast, and a batch that was already there is counted, not duplicated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from store.central.connection import CentralError, reason_of
from store.central.tallies import insert_counted
from store.sqlite.sync_cursors import SYNC_COLUMNS

if TYPE_CHECKING:
    import psycopg

# Stream (store/sqlite/sync_cursors.py SYNC_COLUMNS) -> central table and its natural key.
CENTRAL_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "forms": ("forms", ("survey_id", "version")),
    "submissions": ("submissions", ("instance_id",)),
    "request_updates": ("request_updates", ("origin", "id")),
    "volunteer_checkins": ("volunteer_checkins", ("origin", "id")),
    "volunteer_checkouts": ("volunteer_checkouts", ("origin", "session_id")),
    "volunteer_corrections": ("volunteer_corrections", ("origin", "id")),
    "audit": ("audit", ("origin", "id")),
}


# ---- kiosks ----------------------------------------------------------------------------------

def register_kiosk(connection: psycopg.Connection[Any], *, kiosk_id: str, database_id: str,
                   street: str, community: str, site: str | None, station: str) -> None:
    """Record (or update) the kiosk and its site. A kiosk id already used by another kiosk
    database is refused: rows are keyed by kiosk id, so two databases under one id would
    hide each other's rows."""
    with connection.transaction():
        row = connection.execute(
            "INSERT INTO kiosks AS k (kiosk_id, database_id, street, community, site, station)"
            " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (kiosk_id) DO UPDATE SET"
            " street=excluded.street, community=excluded.community, site=excluded.site,"
            " station=excluded.station WHERE k.database_id = excluded.database_id"
            " RETURNING kiosk_id", (kiosk_id, database_id, street, community, site, station),
        ).fetchone()
    if row is None:
        raise CentralError(
            f"kiosk id {kiosk_id!r} is already used at the central database by another kiosk "
            "database; give this kiosk its own id ([station] kiosk_id in its config) and "
            "sync again")


def finish_sync(connection: psycopg.Connection[Any], kiosk_id: str) -> None:
    with connection.transaction():
        connection.execute("UPDATE kiosks SET last_sync = now() WHERE kiosk_id = %s",
                           (kiosk_id,))


# ---- batches ---------------------------------------------------------------------------------

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_field(value: Any) -> str:
    """One field in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
            return value.translate(_COPY_ESCAPES)
        return value
    return str(value)


def copy_text(rows: Sequence[Sequence[Any]], prefix: Sequence[Any] = ()) -> bytes:
    """Rows in COPY's text format (``prefix`` fields first on every row)."""
    head = "".join(_copy_field(value) + "\t" for value in prefix)
    return "".join(
        head + "\t".join([_copy_field(value) for value in row]) + "\n" for row in rows
    ).encode("utf-8")


def push(connection: psycopg.Connection[Any], stream: str, origin: str,
         rows: Sequence[Sequence[Any]]) -> int:
    """Add one batch of ``stream`` rows (in SYNC_COLUMNS order) from kiosk ``origin``, in the
    caller's transaction; returns how many were new (the others were there already)."""
    table, key = CENTRAL_TABLES[stream]
    columns = ("origin", *SYNC_COLUMNS[stream])
    names = ", ".join(columns)
    incoming = f"incoming_{table}"
    # One temporary table per connection and stream, emptied at every commit and before
    # every batch (a bundle sends several batches of a stream in one transaction).
    connection.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {incoming} (LIKE {table} INCLUDING DEFAULTS)"
        " ON COMMIT DELETE ROWS")  # type: ignore[arg-type]
    connection.execute(f"DELETE FROM {incoming}")  # type: ignore[arg-type]
    with connection.cursor().copy(
            f"COPY {incoming} ({names}) FROM STDIN") as copy:  # type: ignore[arg-type]
        copy.write(copy_text(rows, (origin,)))
    insert = (f"INSERT INTO {table} ({names}) SELECT {names} FROM {incoming}"
              f" ON CONFLICT ({', '.join(key)}) DO NOTHING")
    if stream in ("forms", "submissions"):  # the statistics count exactly the rows added
        return insert_counted(connection, stream, insert)
    cursor = connection.execute(insert)  # type: ignore[arg-type]
    return max(cursor.rowcount, 0)


def push_accepting(connection: psycopg.Connection[Any], stream: str, origin: str,
                   rows: Sequence[Sequence[Any]]) -> tuple[int, list[tuple[int, str]]]:
    """``push`` that takes what the database takes: a batch it refuses (a value it cannot
    hold, say) is split in halves, each in a savepoint, until the refused rows are found.
    Returns how many were new, and (index in ``rows``, why) of each refused row; the others
    are stored. A lost connection is no refusal: it raises as ``push`` does."""
    import psycopg

    refused: list[tuple[int, str]] = []

    def attempt(indexes: list[int]) -> int:
        try:
            with connection.transaction():  # a savepoint inside the caller's transaction
                return push(connection, stream, origin, [rows[index] for index in indexes])
        except psycopg.OperationalError:
            raise
        except psycopg.Error as error:
            if len(indexes) == 1:
                refused.append((indexes[0], reason_of(error)))
                return 0
            middle = len(indexes) // 2
            return attempt(indexes[:middle]) + attempt(indexes[middle:])

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

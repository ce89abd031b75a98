"""The two databases, and the only code that writes SQL: the kiosk's SQLite (store/sqlite/,
``KioskStore``) and the central PostgreSQL of a street or city (store/central/, loaded only by
the commands that use it)."""

from store.errors import (
    BackupError,
    FormVersionConflict,
    NewerDatabase,
    NotOurDatabase,
    PrintJobError,
    StoreError,
    VolunteerError,
)
from store.rows import FormInfo, PrintJob, SessionCorrection, Volunteer, VolunteerSession
from store.sqlite.kiosk_store import KioskStore, open_store
from store.sqlite.schema import APPLICATION_ID, SCHEMA_VERSION
from store.sqlite.submissions import legacy_receipt_code, receipt_code

__all__ = [
    "APPLICATION_ID",
    "SCHEMA_VERSION",
    "BackupError",
    "FormInfo",
    "FormVersionConflict",
    "KioskStore",
    "NewerDatabase",
    "NotOurDatabase",
    "PrintJob",
    "PrintJobError",
    "SessionCorrection",
    "StoreError",
    "Volunteer",
    "VolunteerError",
    "VolunteerSession",
    "legacy_receipt_code",
    "open_store",
    "receipt_code",
]

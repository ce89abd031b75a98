"""SQLite storage of the kiosk: the one place that writes SQL."""

from store.db import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    FormInfo,
    FormVersionConflict,
    KioskStore,
    NewerDatabase,
    NotOurDatabase,
    StoreError,
    receipt_code,
)

__all__ = [
    "APPLICATION_ID",
    "SCHEMA_VERSION",
    "FormInfo",
    "FormVersionConflict",
    "KioskStore",
    "NewerDatabase",
    "NotOurDatabase",
    "StoreError",
    "receipt_code",
]

"""Where the kiosk database lives, and opening it with the bundled questionnaires."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from store import KioskStore
from surveys.bundled import compiled_bundled_forms

APP_NAME = "shegong-kiosk"


def default_database_path() -> Path:
    """``$KIOSK_DB``, else ``kiosk.db`` in the user data dir (created on first use)."""
    configured = os.environ.get("KIOSK_DB")
    if configured:
        return Path(configured).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME)) / "kiosk.db"


def open_store(path: str | Path | None = None) -> KioskStore:
    """Open (or create) a kiosk database; a new one gets the bundled questionnaires."""
    return KioskStore(Path(path) if path else default_database_path(),
                      initial_forms=compiled_bundled_forms)

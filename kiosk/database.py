"""Where the kiosk database lives, and opening it with the bundled questionnaires."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import platformdirs

from store import KioskStore

APP_NAME = "shegong-kiosk"


def default_database_path() -> Path:
    """``$KIOSK_DB``, else ``kiosk.db`` in the user data dir (created on first use)."""
    configured = os.environ.get("KIOSK_DB")
    if configured:
        return Path(configured).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME)) / "kiosk.db"


def _bundled_forms() -> list[dict[str, Any]]:
    from surveys.bundled import compiled_bundled_forms  # only a new database needs them

    return compiled_bundled_forms()


def open_store(path: str | Path | None = None) -> KioskStore:
    """Open (or create) a kiosk database; a new one gets the bundled questionnaires."""
    return KioskStore(Path(path) if path else default_database_path(),
                      initial_forms=_bundled_forms)

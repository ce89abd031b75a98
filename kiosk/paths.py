"""Where the kiosk keeps its files: the app's name and every user directory, in one place.

The database (``$KIOSK_DB``, else ``kiosk.db`` in the user data directory), the
configuration (``$KIOSK_CONFIG``, else ``config.toml`` in the user config directory; the card
secret sits beside it) and the log directory. Receipts written without a printer go beside
the database (kiosk/printing/queue.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "shegong-kiosk"


def default_database_path() -> Path:
    """``$KIOSK_DB``, else ``kiosk.db`` in the user data dir (created on first use)."""
    configured = os.environ.get("KIOSK_DB")
    if configured:
        return Path(configured).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME)) / "kiosk.db"


def default_config_path() -> Path:
    """``$KIOSK_CONFIG``, else ``config.toml`` in the user config dir."""
    configured = os.environ.get("KIOSK_CONFIG")
    if configured:
        return Path(configured).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def log_directory() -> Path:
    """Where kiosk.log is written (the user log dir)."""
    return Path(platformdirs.user_log_dir(APP_NAME))

"""Where the kiosk keeps its files: the app's name and every user directory, in one place.
Everything the kiosk writes is its owner's only (0600 files, 0700 directories): the process
works under umask 077 (kiosk/cli), whatever the login's.

The database (``$KIOSK_DB``, else ``kiosk.db`` in the user data directory), the
configuration (``$KIOSK_CONFIG``, else ``config.toml`` in the user config directory; the card
secret sits beside it) and the log directory. Receipts written without a printer go beside
the database (kiosk/printing/queue.py).
"""

from __future__ import annotations

import contextlib
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


def owner_only_directory(path: Path) -> Path:
    """``path`` as a directory only its owner may enter (0700): made so, or tightened when
    it is ours already (data, logs, exports hold residents' answers)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # not ours to change: leave it
        if path.stat().st_mode & 0o077:
            path.chmod(0o700)
    return path


def write_owner_only(target: Path, data: bytes) -> Path:
    """Write ``target`` atomically (a power cut never leaves half a file) and owner-only
    from its first byte (0600): for files that hold secrets or personal data."""
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = target.with_name(target.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()  # a leftover of a crash, with whatever mode it had
    with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600),
                   "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, target)
    return target

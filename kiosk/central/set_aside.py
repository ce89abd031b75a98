"""The rows a sync set aside, written out for staff (``kiosk set-aside -o``, the dashboard).

They may hold residents' answers: the file is owner-only and appears whole or not at all.
"""

from __future__ import annotations

import json
from pathlib import Path

from store import KioskStore
from surveys.exports import atomic_output


def write_set_aside(store: KioskStore, path: Path) -> int:
    """Write every row set aside, one JSON object a line (where it was to go, why, when, the
    row itself); the number written."""
    entries = store.set_aside_rows()
    with atomic_output(path) as temporary, temporary.open("w", encoding="utf-8") as handle:
        for entry in entries:
            handle.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
    return len(entries)

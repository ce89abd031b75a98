"""``KioskStore``: all reads and writes of one kiosk database (one SQLite file), made of one
part per concern in this folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from store.sqlite.entities import Registers
from store.sqlite.forms import Forms
from store.sqlite.logs import StaffLogs
from store.sqlite.paradata import Paradata
from store.sqlite.print_jobs import PrintJobs
from store.sqlite.requests import ServiceRequests
from store.sqlite.reviews import Reviews
from store.sqlite.stats import Stats
from store.sqlite.submissions import DraftsAndSubmissions
from store.sqlite.sync_cursors import SyncCursors
from store.sqlite.volunteers import Volunteers


class KioskStore(Forms, DraftsAndSubmissions, Stats, PrintJobs, Volunteers, StaffLogs,
                 ServiceRequests, SyncCursors, Registers, Reviews, Paradata):
    """All reads and writes of one kiosk database.

    Opening, transactions and snapshots: store/sqlite/connection.py; the schema and its
    migrations: schema.py; forms.py, submissions.py (drafts too), stats.py (with tallies.py,
    which keeps the counts, and bitmaps.py the bitmaps of answers), print_jobs.py,
    volunteers.py, logs.py (staff log and audit), requests.py, sync_cursors.py, entities.py
    (registers of households), reviews.py (review decisions and corrections) and paradata.py
    (how each questionnaire was filled)
    each hold the queries of their concern.
    """


def _bundled_forms() -> list[dict[str, Any]]:
    from surveys.bundled import compiled_bundled_forms  # only a new database needs them

    return compiled_bundled_forms()


def open_store(path: str | Path) -> KioskStore:
    """Open (or create) a kiosk database; a new one gets the bundled questionnaires."""
    return KioskStore(path, initial_forms=_bundled_forms)

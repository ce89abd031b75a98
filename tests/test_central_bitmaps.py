"""City-wide figures from the bitmaps while a kiosk syncs and the administrator writes the
queue into the bitmaps (store/central/bitmaps.py), on a real PostgreSQL: every read agrees
with itself, and at the end the central figures are the kiosk's own."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiosk.central.sync import sync
from store.central.bitmaps import bring_up_to_date
from store.central.connection import connect
from store.central.schema import init
from store.central.stats import CentralStats
from surveys.stats.figures import survey_statistics
from surveys.stats.model import StatsFilter
from tests.enrolled import enrolled
from tests.gated import gated
from tests.test_central_stats import PLACES, SURVEY, SYNC_SCRIPT, new_kiosk, submissions_at

psycopg = pytest.importorskip("psycopg")

ROOT = Path(__file__).parents[1]
YOUTH = StatsFilter(where={"group": "youth"})
NOT_VOID = StatsFilter(review=("pending", "approved", "questioned"))  # read from the bitmaps


def consistent(stats: dict) -> int:
    """What must agree inside one snapshot of youth's figures with the cross-tab of
    satisfaction by group; returns N."""
    n = stats["n"]
    assert stats["questions"]["group"]["counts"]["youth"] == n
    assert sum(entry["n"] for entry in stats["over_time"]["series"]) == n
    table = stats["crosstab"]["table"]
    assert sum(table["youth"].values()) == stats["questions"]["sat"]["n"]
    assert all(not any(row.values()) for group, row in table.items() if group != "youth")
    return n


def test_figures_agree_in_every_read_while_a_kiosk_syncs_and_the_queue_is_written(
        central: str, tmp_path: Path):
    init(central)
    hall = new_kiosk(tmp_path, "hall-1")
    made = submissions_at(PLACES["hall-1"], 1500, 3)
    hall.insert_submissions(gated(hall, made[:100]))
    enrolment = enrolled(central, PLACES["hall-1"], config=tmp_path / "hall.toml")
    sync(hall, enrolment)  # the forms, and the first hundred
    hall.insert_submissions(gated(hall, made[100:]))
    syncing = subprocess.Popen([sys.executable, "-c", SYNC_SCRIPT, str(tmp_path / "hall-1.db"),
                                str(enrolment.path)], cwd=ROOT, stderr=subprocess.PIPE,
                               text=True)
    seen: list[int] = []
    written = 0
    try:
        with CentralStats(central) as city, connect(central) as admin:
            while syncing.poll() is None or not seen:
                seen.append(consistent(survey_statistics(
                    city, SURVEY, YOUTH, by="group", question="sat", text_answers=False)))
                with city.read_snapshot():  # the tallies and the bitmaps agree
                    counted = survey_statistics(city, SURVEY, text_answers=False)["n"]
                    assert survey_statistics(city, SURVEY, NOT_VOID, text_answers=False)[
                        "n"] == counted
                if len(seen) % 3 == 0:
                    written += bring_up_to_date(admin)
                time.sleep(0.01)
            assert syncing.wait(timeout=120) == 0, syncing.stderr.read() if syncing.stderr else ""
            final = survey_statistics(city, SURVEY, YOUTH, by="group", question="sat")
            assert consistent(final) >= seen[-1]
            for filters in (YOUTH, StatsFilter(where={"services": "b"}), StatsFilter()):
                assert survey_statistics(city, SURVEY, filters, by="sat", text_answers=False) \
                    == survey_statistics(hall, SURVEY, filters, by="sat", text_answers=False)
            written += bring_up_to_date(admin)
            assert survey_statistics(city, SURVEY, YOUTH, by="group", question="sat") == final
    finally:
        if syncing.poll() is None:
            syncing.kill()
        hall.close()
    assert seen == sorted(seen) and len(set(seen)) > 2  # reads happened while it synced
    assert written == 1500  # each submission written once into the bitmaps

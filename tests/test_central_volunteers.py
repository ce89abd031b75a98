"""Volunteer hours across sites (issue 7, item 4): each kiosk's roster goes with its sync, and
`kiosk volunteer hours --central DSN` reports every kiosk's sessions from the central
PostgreSQL — checked against the hours each kiosk reports on its own, summed in the test.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from kiosk.central.sync import KioskIdentity, sync
from kiosk.cli import main
from kiosk.config import VolunteerSettings
from kiosk.volunteers.report import hours_report
from store import KioskStore, open_store
from store.central.schema import init
from store.rows import Volunteer
from tests.enrolled import enrolled
from tests.test_central_sync import query, write_config

psycopg = pytest.importorskip("psycopg")

SHANGHAI = ZoneInfo("Asia/Shanghai")
HALL = KioskIdentity("hall-1", "九龙街道", "新华社区", "九龙街道社工站")
VILLAGE = KioskIdentity("village-3", "九龙街道", "龙潭村", "龙潭村服务点")


def volunteer(number: str, name: str, team: str = "心语志愿服务队") -> Volunteer:
    return Volunteer(number, name, "13912345678", "", team, "九龙街道",
                     dt.date(2024, 3, 1), "active", 1)


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


def session(store: KioskStore, number: str, start: dt.datetime, end: dt.datetime | None,
            kiosk: str) -> int:
    session_id = store.add_checkin(number, start, kiosk=kiosk)
    if end is not None:
        store.add_checkout(session_id, end, kiosk=kiosk)
    return session_id


@pytest.fixture
def two_sites(tmp_path: Path) -> tuple[KioskStore, KioskStore]:
    hall = open_store(tmp_path / "hall-1.db")
    village = open_store(tmp_path / "village-3.db")
    # One volunteer serves at both; each site has its own too; JG0099 clashes.
    hall.add_volunteers([volunteer("JG0001", "陈晓燕"), volunteer("JG0002", "王建国", "五老"),
                         volunteer("JG0099", "赵一")])
    village.add_volunteers([volunteer("JG0001", "陈晓燕"), volunteer("LT0007", "李大爷", "助残"),
                            volunteer("JG0099", "钱二")])
    session(hall, "JG0001", at(3, 9), at(3, 12, 30), "hall-1")          # 3.5 h
    session(hall, "JG0002", at(4, 14), at(4, 16), "hall-1")             # 2 h
    # Across midnight at the end of the month: counts in November, on its check-in day.
    session(village, "JG0001", at(30, 22, 30), dt.datetime(2026, 12, 1, 0, 45,
                                                           tzinfo=SHANGHAI), "village-3")
    corrected = session(village, "LT0007", at(10, 8), at(10, 21), "village-3")
    village.add_session_correction(corrected, action="times", reason="忘记签退，实际11:00离开",
                                   staff="李社工", at=at(11, 9),
                                   checked_out=at(10, 11))            # 3 h after correction
    session(village, "LT0007", at(12, 8), None, "village-3")            # still open
    yield hall, village
    hall.close()
    village.close()


def test_hours_across_sites_equal_the_sum_of_each_sites_hours(two_sites, central: str,
                                                              tmp_path: Path):
    hall, village = two_sites
    init(central)
    first = sync(hall, enrolled(central, HALL))
    assert (first.roster.new, first.roster.updated, first.roster.refused) == (3, 0, [])
    second = sync(village, enrolled(central, VILLAGE))
    assert (second.roster.new, second.roster.updated) == (1, 0)  # JG0001 is already there
    why = ("volunteer JG0099 was registered by kiosk hall-1: only that kiosk or the admin may"
           " change it (钱二 here is 赵一 there)")
    assert second.roster.refused == [("JG0099", why)]
    assert f"JG0099: {why}" in second.summary()

    settings = VolunteerSettings()
    expected: dict[str, Decimal] = defaultdict(Decimal)
    for store in (hall, village):
        for row in hours_report(store, settings, station="x", start=dt.date(2026, 11, 1),
                                end=dt.date(2026, 11, 30)).summary():
            expected[row.volunteer.number] += row.hours
    assert expected["JG0001"] == Decimal("5.75")  # 3.5 at the hall + 2.25 across midnight
    assert expected["LT0007"] == Decimal("3.00")

    config = write_config(tmp_path / "office.toml", HALL)
    output = tmp_path / "全街道时长.csv"
    result = CliRunner().invoke(main, [
        "--db", str(tmp_path / "office.db"), "--config", str(config), "volunteer", "hours",
        "--month", "2026-11", "--central", central, "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert "3 volunteers, 5 sessions" in result.output  # the open one has no hours yet
    lines = list(csv.reader(output.read_text(encoding="utf-8-sig").splitlines()))
    summary = {line[0]: line for line in lines if line and line[0] in expected}
    assert {number: Decimal(line[5]) for number, line in summary.items()} == dict(expected)
    assert summary["LT0007"][1] == "李大爷" and summary["JG0002"][2] == "五老"
    details = [line for line in lines if len(line) > 17 and line[1] in expected]
    recorded_by = {(line[1], line[17]): line[16] for line in details}
    assert recorded_by[("JG0001", "hall-1")] == "九龙街道社工站"
    assert recorded_by[("JG0001", "village-3")] == "龙潭村服务点"
    corrected = next(line for line in details if line[1] == "LT0007" and line[12] == "3.00")
    assert "忘记签退，实际11:00离开" in corrected[15] and "李社工" in corrected[15]


def test_roster_changes_reach_central_and_an_unchanged_roster_writes_nothing(
        two_sites, central: str):
    hall, _village = two_sites
    init(central)
    enrolment = enrolled(central, HALL)
    sync(hall, enrolment)
    again = sync(hall, enrolment)
    assert (again.roster.new, again.roster.updated) == (0, 0)
    hall.set_volunteer_status("JG0002", "suspended")
    hall.bump_card_serial("JG0001")
    changed = sync(hall, enrolment)
    assert (changed.roster.new, changed.roster.updated) == (0, 2)
    assert query(central, "SELECT number, status, card_serial FROM volunteers ORDER BY number"
                 ) == [("JG0001", "active", 2), ("JG0002", "suspended", 1),
                       ("JG0099", "active", 1)]


def test_hours_from_an_unreachable_central_database_say_so(tmp_path: Path):
    config = write_config(tmp_path / "office.toml", HALL)
    result = CliRunner().invoke(main, [
        "--db", str(tmp_path / "office.db"), "--config", str(config), "volunteer", "hours",
        "--central", "postgresql://kiosk@127.0.0.1:1/nowhere", "-o", str(tmp_path / "h.csv")])
    assert result.exit_code == 3
    assert "cannot reach the central database at 127.0.0.1:1/nowhere" in result.output
    assert not (tmp_path / "h.csv").exists()


def test_a_bundle_carries_the_roster_to_central(two_sites, central: str, tmp_path: Path):
    from kiosk.central.bundles import export_bundle, import_into_central, read_bundle

    _hall, village = two_sites
    init(central)
    bundle_file = tmp_path / "longtan.bundle"
    export_bundle(village, VILLAGE, bundle_file, signer=enrolled(central, VILLAGE).signer)
    report = import_into_central(central, read_bundle(bundle_file))
    assert report.roster is not None and (report.roster.new, report.roster.updated) == (3, 0)
    assert "roster 3 new, 0 updated" in report.summary()
    records = query(central, "SELECT number, name, team FROM volunteers ORDER BY number")
    assert records == [("JG0001", "陈晓燕", "心语志愿服务队"), ("JG0099", "钱二", "心语志愿服务队"),
                       ("LT0007", "李大爷", "助残")]
    again = import_into_central(central, read_bundle(bundle_file))
    assert again.roster is not None and (again.roster.new, again.roster.updated) == (0, 0)

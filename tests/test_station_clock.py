"""One clock for the station (issue 14): whatever zone the machine is set to, the home
screen, a volunteer's check-in, the stored submission, its receipt, a service request's
status change and the PDF report's date all read the station's ``[station] timezone``.

The machine's zone is set through TZ (UTC, as on this test machine, and New York); the
station keeps China time or Berlin time. Nothing here injects a clock: the kiosk reads the
real time, as it does in a hall.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest

from kiosk.app import KioskApp
from kiosk.config import KioskConfig
from kiosk.i18n import clock_text
from kiosk.volunteers.roster import add_volunteer, new_volunteer
from store import KioskStore
from surveys.exports.pdf import today_stamp
from surveys.xlsform import compile_xlsform
from tests.test_app_flow import SIZE, screen_text, tap_form, wait_for
from tests.test_kiosk_printing import QUICK_FORM
from tests.test_volunteer_screens import SECRET, WANG, KeyPace, scan


@pytest.fixture(params=[("UTC", "Asia/Shanghai"), ("America/New_York", "Europe/Berlin")],
                ids=["machine-UTC-station-Shanghai", "machine-NewYork-station-Berlin"])
def zones(request: pytest.FixtureRequest,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[ZoneInfo]:
    """The station's zone, with the machine set to another."""
    machine, station = request.param
    monkeypatch.setenv("TZ", machine)
    time.tzset()
    yield ZoneInfo(station)
    monkeypatch.undo()
    time.tzset()


def minutes_around(zone: ZoneInfo, before: dt.datetime) -> set[str]:
    """The HH:MM a reading between ``before`` and now shows on the station's clock."""
    after = dt.datetime.now(zone)
    return {f"{before:%H:%M}", f"{after:%H:%M}"}


def offset_text(moment: dt.datetime) -> str:
    offset = moment.strftime("%z")
    return f"{offset[:3]}:{offset[3:]}"


async def test_every_time_is_the_station_s_whatever_the_machine_s_zone(
        store: KioskStore, zones: ZoneInfo):
    station = zones
    machine_now = dt.datetime.now().astimezone()
    station_now = dt.datetime.now(station)
    # The two clocks really differ, or the test could not tell them apart.
    assert machine_now.utcoffset() != station_now.utcoffset()

    store.install_form(compile_xlsform(QUICK_FORM.encode(), file_name="quick.md"))
    add_volunteer(store, new_volunteer("JG0042", "王芳", "13912345678", team="心语志愿服务队",
                                       today=dt.date(2026, 11, 1)))
    config = KioskConfig(station_name="梁丰社区社工站", kiosk_id="hall-1", surveys=("quick",),
                         timezone=station.key)
    app = KioskApp(store, config=config, tap_guard=0.0, home_after=600, animations=False,
                   cursor_blink=False, read_aloud=False, card_secret=SECRET,
                   scan_clock=KeyPace(0.003), scan_hold=1.0)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        before = dt.datetime.now(station)
        shown = screen_text(app)
        assert any(clock_text(moment, "zh") in shown
                   for moment in (before, dt.datetime.now(station))), shown
        assert clock_text(dt.datetime.now().astimezone(), "zh") not in shown  # the machine's

        before = dt.datetime.now(station)
        text = await scan(pilot, WANG)
        assert "签到成功" in text
        assert any(f"签到时间 {minute}" in text for minute in minutes_around(station, before))
        session = store.last_volunteer_session("JG0042")
        assert session is not None
        await pilot.click("#volunteer-ok")
        await pilot.pause()

        before = dt.datetime.now(station)
        await tap_form(pilot, "quick")
        await pilot.press("1")
        await pilot.pause()
        await pilot.click("#next")
        await wait_for(pilot, lambda: bool(store.print_jobs()))
        minutes = minutes_around(station, before)

    [instance_id] = store.submission_ids()
    record = store.submission_record(instance_id)
    assert record is not None
    completed = dt.datetime.fromisoformat(record["completed"])
    assert offset_text(completed) == offset_text(before), record["completed"]
    [job] = [job for job in store.print_jobs() if job.kind == "receipt"]
    printed = str(job.document)
    assert any(minute in printed for minute in minutes), printed
    assert offset_text(before) in job.created

    before = dt.datetime.now(station)
    store.set_request_status(instance_id, "in_progress", staff="陈社工", note="已电话联系")
    [update] = store.request_updates(instance_id)
    assert update["at"].endswith(offset_text(before))
    assert update["at"][11:16] in minutes_around(station, before)

    # The PDF report says when it was made on the same clock.
    before = dt.datetime.now(station)
    made = today_stamp()
    assert made[:10] in {before.date().isoformat(), dt.datetime.now(station).date().isoformat()}
    assert made[11:16] in minutes_around(station, before)

"""A household's way through the station (issue 16, Done when): assessed at the hall with the
bundled 适老化改造需求评估 — three family members listed one by one on the screens — which
registers it; the hall syncs; the village point's kiosk of the same street syncs and, in the
bundled 验收回访, finds the household by the last digits of its phone, sees the plan agreed at
the assessment, ticks what was installed and accepts the works; after the next syncs both
kiosks and the central database hold the household as the return visit left it.

Two real kiosk databases, a real PostgreSQL (tests/pg_server.py), every screen driven
through Textual's Pilot.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from textual.widgets import Button

from kiosk.app import KioskApp
from kiosk.central.sync import KioskIdentity, sync
from kiosk.config import KioskConfig, Site
from store import KioskStore, open_store
from store.central.registers import central_entities
from store.central.schema import init
from surveys.clock import now_local
from tests.enrolled import enrolled
from tests.test_app_flow import (
    SIZE,
    at,
    block,
    keys,
    kiosk,
    next_screen,
    screen_text,
    submit_and_read_receipt,
    tap,
    tap_choice,
    tap_form,
    type_into,
)
from tests.test_register_screens import listed, picker, search

psycopg = pytest.importorskip("psycopg")

HALL = KioskIdentity("hall-1", "九龙街道", "新华社区", "九龙街道社工站")
VILLAGE = KioskIdentity("point-2", "九龙街道", "东风社区", "东风社区服务点")
PLAN = ("卫生间：防滑地面（地面湿滑）；卧室：床边扶手（要拄拐杖或用助行器）、"
        "床头开关或感应夜灯（眼神不好）；楼梯和进出门：楼道感应灯（楼道光线暗）；"
        "全屋：紧急呼叫器（白天常独自在家）")


def config(identity: KioskIdentity, surveys: tuple[str, ...]) -> KioskConfig:
    return KioskConfig(station_name=identity.station, kiosk_id=identity.kiosk_id,
                       site=Site(identity.street, identity.community), surveys=surveys)


async def assess_at_the_hall(app: KioskApp, pilot, store: KioskStore) -> dict:  # type: ignore[no-untyped-def]
    """The whole assessment on the screens, a household of four: the older woman and the
    three who live with her."""
    await pilot.pause()
    await tap_form(pilot, "home_adaptation")
    at(app, "intro")
    await next_screen(pilot)
    at(app, "visit_date")
    await next_screen(pilot)
    at(app, "resident_name", "address", "phone")
    await type_into(pilot, "resident_name", "李秀兰")
    await type_into(pilot, "address", "新华小区3幢201")
    await type_into(pilot, "phone", "13912345678")
    await next_screen(pilot)
    at(app, "community")
    await keys(pilot, "1")
    await next_screen(pilot)
    at(app, "household_size")
    await type_into(pilot, "household_size", "4")
    await next_screen(pilot)
    family = (("王德福", "88", "老伴"), ("王强", "60", "儿子"),
              ("王小雨", "12", "孙子女或外孙子女"))
    for number, (name, age, relation) in enumerate(family, start=1):
        assert f"第 {number} 位同住的家人" in at(app, "member_name", "member_age")
        await type_into(pilot, "member_name", name)
        await type_into(pilot, "member_age", age)
        await next_screen(pilot)
        at(app, "member_relation")
        await tap_choice(pilot, "member_relation", relation)
        await next_screen(pilot)
        at(app, "member_mobility", "member_needs_care")
        await tap_choice(pilot, "member_mobility", "要拄拐杖或用助行器")
        await tap_choice(pilot, "member_needs_care", "否")
        await next_screen(pilot)
    for name, key in (("living_arrangement", "2"), ("alone_daytime", "1")):
        at(app, name)
        await keys(pilot, key)
        await next_screen(pilot)
    for name, value in (("elders_count", "2"), ("oldest_age", "88")):
        at(app, name)
        await type_into(pilot, name, value)
        await next_screen(pilot)
    for name in ("mobility", "conditions"):
        at(app, name)
        await keys(pilot, "2" if name == "mobility" else "1")
        await next_screen(pilot)
    at(app, "floor")
    await type_into(pilot, "floor", "5")
    await pilot.press("enter")
    await pilot.pause()
    await tap_choice(pilot, "elevator", "否")
    await next_screen(pilot)
    for room, choice in (("bath", "地面湿滑"), ("bedroom", "没有不方便"),
                         ("stairs", "楼道光线暗"), ("kitchen", "没有不方便")):
        at(app, f"{room}_difficulty", f"{room}_remarks")
        await tap_choice(pilot, f"{room}_difficulty", choice)
        await next_screen(pilot)
    at(app, "subsidy_status")
    await keys(pilot, "5")
    await next_screen(pilot)
    assert f"建议改造项目：{PLAN}。" in "".join(at(app, "plan_note").split())
    await next_screen(pilot)
    at(app, "agree_plan")
    await keys(pilot, "1")
    await next_screen(pilot)
    at(app, "self_pay")
    await keys(pilot, "2")
    await next_screen(pilot)
    for name in ("next_visit", "volunteer_remarks"):
        at(app, name)
        await next_screen(pilot)
    at(app, "explained")
    await tap(pilot, block(app, "explained").query_one(Button))
    return await submit_and_read_receipt(pilot, store, "home_adaptation")


async def return_visit(app: KioskApp, pilot, store: KioskStore) -> dict:  # type: ignore[no-untyped-def]
    """The return visit at the village point: the household found by its phone's last four
    digits, its plan read from the register, everything installed and accepted."""
    await pilot.pause()
    await tap_form(pilot, "home_adaptation_followup")
    at(app, "intro")
    await next_screen(pilot)
    at(app, "household")
    await search(pilot, "5678")
    (entry,) = listed(app)
    assert entry.startswith("○ 李秀兰 新华小区3幢201")
    await tap(pilot, picker(app).entries()[0])
    assert "已选择：李秀兰 新华小区3幢201" in screen_text(app)
    await next_screen(pilot)
    # what the assessment agreed, read from the register
    assert f"李秀兰家评估时定的改造方案：{PLAN}。" in "".join(at(app, "plan_note").split())
    await next_screen(pilot)
    at(app, "visit_date")
    await next_screen(pilot)
    at(app, "installed")
    await keys(pilot, "1", "2", "3", "4", "5")  # the five items of the plan, all installed
    await next_screen(pilot)
    at(app, "work_satisfaction", "taught")
    await tap_choice(pilot, "work_satisfaction", "非常满意")
    await tap_choice(pilot, "taught", "是")
    await next_screen(pilot)
    at(app, "problems")
    await tap_choice(pilot, "problems", "没有发现问题")
    await next_screen(pilot)
    at(app, "outcome")
    await tap_choice(pilot, "outcome", "验收合格")
    await next_screen(pilot)
    at(app, "next_steps")
    await next_screen(pilot)
    at(app, "next_visit")
    later = (now_local().date() + dt.timedelta(days=90)).isoformat()
    await type_into(pilot, "next_visit", later)
    await next_screen(pilot)
    at(app, "explained")
    await tap(pilot, block(app, "explained").query_one(Button))
    return await submit_and_read_receipt(pilot, store, "home_adaptation_followup")


async def test_a_household_assessed_at_the_hall_is_visited_again_from_the_village_point(
        tmp_path: Path, central: str):
    init(central)
    hall = open_store(tmp_path / "hall.db")
    village = open_store(tmp_path / "village.db")
    try:
        hall_app = kiosk(hall, config=config(HALL, ("home_adaptation",)))
        async with hall_app.run_test(size=SIZE) as pilot:
            record = await assess_at_the_hall(hall_app, pilot, hall)
        assert [member["member_name"] for member in record["answers"]["members"]] == [
            "王德福", "王强", "王小雨"]
        household = record["entity"]["id"]
        registered = hall.entity("households", household)
        assert registered is not None and registered.version == 1
        assert registered.properties["members_n"] == "4"
        assert registered.properties["state"] == "assessed"
        assert registered.site == "九龙街道/新华社区"

        # the village point has nothing of it until both have synced
        assert village.entity("households", household) is None
        hall_enrolment = enrolled(central, HALL)
        sync(hall, hall_enrolment)
        village_enrolment = enrolled(central, VILLAGE)
        assert sync(village, village_enrolment).register_received == 1

        village_app = kiosk(village, config=config(
            VILLAGE, ("home_adaptation_followup", "lonely_elderly_visit")))
        async with village_app.run_test(size=SIZE) as pilot:
            visit = await return_visit(village_app, pilot, village)
        assert visit["entity"] == {"dataset": "households", "id": household,
                                   "action": "update", "base_version": 1}
        visited = village.entity("households", household)
        assert visited.version == 2 and visited.properties["state"] == "installed"
        assert visited.properties["satisfaction"] == "5"

        # after the next syncs the hall, the village point and the city agree
        sync(village, village_enrolment)
        assert sync(hall, hall_enrolment).register_received == 1
        at_hall = hall.entity("households", household)
        assert (at_hall.version, at_hall.properties) == (2, visited.properties)
        with psycopg.connect(central) as connection:
            (in_the_city,) = central_entities(connection, "households")
        assert (in_the_city.version, in_the_city.properties) == (2, visited.properties)
        assert in_the_city.conflicts == []
    finally:
        hall.close()
        village.close()

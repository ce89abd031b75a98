"""The staff dashboard's 家庭名单 tab (issue 16, item 5): the household longest overdue for a
visit comes first, names masked; picking one shows its plan, its visits and a conflict of two
offline visits. Driven through Pilot from the home screen, behind the PIN."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable

from kiosk.screens import dashboard
from store import KioskStore
from surveys.entities import EntityChange
from surveys.xlsform import compile_xlsform
from tests.households import days_ago, register
from tests.test_app_flow import kiosk, screen_text, wait_for
from tests.test_dashboard import STAFF_CONFIG, open_dashboard, show_tab

FORMS = Path(__file__).parent / "forms"


def rows(table: DataTable) -> list[list[str]]:
    return [[str(cell) for cell in table.get_row_at(index)] for index in range(table.row_count)]


async def test_the_overdue_household_comes_first_on_the_dashboard(store: KioskStore,
                                                                  monkeypatch):
    monkeypatch.setattr(dashboard, "REFRESH_SECONDS", 0.2)
    for name in ("register.md", "followup.md"):
        store.install_form(compile_xlsform(FORMS / name))
    register(store, "王建国", "长江小区 12 栋", "13800001111", "门口坡道",
             completed=days_ago(2), members=2, kiosk="hall-1")
    late = register(store, "王秀英", "金港花园 3 栋 201", "13912345678", "卫生间扶手",
                    completed=days_ago(45), members=2, kiosk="hall-1")
    app = kiosk(store, config=STAFF_CONFIG)
    async with app.run_test(size=(140, 50)) as pilot:
        await open_dashboard(pilot)
        await show_tab(pilot, "tab-households")
        table = app.screen.query_one("#households", DataTable)
        await wait_for(pilot, lambda: table.row_count == 2)
        first, second = rows(table)
        # behind the PIN, staff see whom to visit (as the request tab shows a resident)
        assert first[0] == "逾期 15 天" and first[1] == "王秀英 金港花园 3 栋 201"
        assert "卫生间扶手" in first[3]
        assert second[0] == "28 天后" and second[1] == "王建国 长江小区 12 栋"
        assert "共 2 户，逾期未走访 1 户（每 30 天走访一次" in screen_text(app)
        # two offline visits of the late household reach this kiosk (a sync): it is visited
        # now, so it goes down the list, with its conflict said in words
        with store.transaction():
            store.add_entity_changes([
                EntityChange("households", late, "update", "visit-a", days_ago(1),
                             base_version=1, properties={"plan": "扶手、护栏"}),
                EntityChange("households", late, "update", "visit-b", days_ago(0),
                             base_version=1, properties={"state": "done"})])
        await wait_for(pilot, lambda: rows(table)[0][0] == "28 天后")
        assert rows(table)[1][0] == "30 天后" and rows(table)[1][6] == "有冲突"
        table.move_cursor(row=1)
        await pilot.pause()
        await wait_for(pilot, lambda: "走访记录：" in screen_text(app))
        text = screen_text(app)
        # each property named by the question that saves it (a bundled form's or ours)
        assert "方案：扶手、护栏" in text and "13912345678" in text
        assert "状态：已完成" in text
        assert "有两次离线走访同时修改了这一户" in text
        assert text.count("家庭登记") == 1  # the registering visit, by its form's title

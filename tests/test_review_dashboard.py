"""The dashboard's 审核 tab (issue 17): staff review the queue behind the PIN — mark a
questionnaire 作废 with a note and see it leave the queue and the figures, correct an answer
with a reason, and read why something they typed was not saved. Driven through Pilot from
the home screen; assertions read the screen and the database."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Input

from store import KioskStore
from surveys.stats.figures import survey_statistics
from surveys.stats.model import StatsFilter
from tests import stats_data
from tests.gated import gated
from tests.test_app_flow import kiosk, screen_text, tap, wait_for
from tests.test_dashboard import STAFF_CONFIG, desk, open_dashboard, show_tab, tap_again

__all__ = ["desk"]  # the fixture, used by name


async def fill(pilot, selector: str, text: str) -> None:  # type: ignore[no-untyped-def]
    field = pilot.app.screen.query_one(selector, Input)
    field.value = text
    await pilot.pause()


async def test_staff_void_and_correct_on_the_review_tab(desk: KioskStore, tmp_path: Path):
    for compiled in stats_data.compiled_versions(tmp_path):
        desk.install_form(compiled)
    desk.insert_submissions(gated(desk, stats_data.generate(6, seed=9)))
    app = kiosk(desk, config=STAFF_CONFIG.with_changes(surveys=(stats_data.SURVEY,)))
    async with app.run_test(size=(150, 60)) as pilot:
        await open_dashboard(pilot)
        await show_tab(pilot, "tab-review")
        table = app.screen.query_one("#review-queue", DataTable)
        await wait_for(pilot, lambda: table.row_count == 6)
        assert "未审核 6 · 已通过 0 · 有问题 0 · 作废 0" in screen_text(app)
        # Without a name nothing is saved, and staff are told why.
        table.move_cursor(row=0)
        await pilot.pause()
        first = str(table.coordinate_to_cell_key((0, 0)).row_key.value)
        await fill(pilot, "#review-note", "同一居民填了两次")
        await tap(pilot, "#review-void")
        assert desk.review_state_of(first) == "pending"
        await fill(pilot, "#staff-name", "李社工")
        await tap(pilot, "#review-void")
        await wait_for(pilot, lambda: "标为作废" in screen_text(app))
        assert desk.review_state_of(first) == "void"
        await wait_for(pilot, lambda: table.row_count == 5)
        assert "未审核 5 · 已通过 0 · 有问题 0 · 作废 1" in screen_text(app)
        assert survey_statistics(desk, stats_data.SURVEY, StatsFilter())["n"] == 5
        # A correction the form refuses is not saved, and the screen says why.
        table.move_cursor(row=0)
        await pilot.pause()
        second = str(table.coordinate_to_cell_key((0, 0)).row_key.value)
        await fill(pilot, "#review-q", "group")
        await fill(pilot, "#review-value", "很好很好")
        await fill(pilot, "#review-why", "居民来电")
        await tap(pilot, "#review-correct")
        await wait_for(pilot, lambda: "没有保存" in screen_text(app))
        assert "没有选项" in screen_text(app)
        assert desk.review_history(second)["corrections"] == []
        # By the choice's label, as staff read it on the questionnaire.
        before = desk.review_history(second)["corrected"]["group"]
        wanted = "youth" if before != "youth" else "elderly"
        await fill(pilot, "#review-value", {"youth": "青少年", "elderly": "老年人"}[wanted])
        await tap_again(pilot, "#review-correct")  # a tap during the pressed look is lost
        await wait_for(pilot, lambda: "的“group”：" in screen_text(app))  # the status line
        history = desk.review_history(second)
        assert history["corrected"]["group"] == wanted
        assert history["original"]["group"] == before
        assert history["corrections"][0]["staff"] == "李社工"
        await wait_for(pilot, lambda: "居民来电" in screen_text(app))  # the history shown

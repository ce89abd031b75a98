"""One question count (issue 14, item 8): home says 共 N 题 as the questionnaire's first
screen does, and the progress bar never slides back while the resident goes forward."""

from __future__ import annotations

import re

import pytest
from textual.widgets import ProgressBar

from kiosk.config import DEFAULT_SURVEYS
from kiosk.widgets.question import ChoiceButton
from store import KioskStore
from tests.test_app_flow import SIZE, kiosk, screen_text, tap_form
from tests.test_keys_and_large_text import answer_by_keys, focus_on, needs_answer


@pytest.mark.parametrize("survey_id", DEFAULT_SURVEYS)
async def test_home_and_the_form_say_the_same_number_of_questions(store: KioskStore,
                                                                   survey_id: str):
    app = kiosk(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        title = next(info.title_in("zh") for info in app.offered_forms()
                     if info.survey_id == survey_id)
        home = screen_text(app)
        [on_home] = re.findall(re.escape(title) + r"\s*（共 (\d+) 题）", home)
        await tap_form(pilot, survey_id)
        [in_form] = re.findall(r"已答 \d+ 题，共 (\d+) 题", screen_text(app))
        assert on_home == in_form


async def test_the_bar_never_slides_back_going_forward(store: KioskStore):
    """非常不满意 and 其他 open questions (why, which): the total grows, the bar stays."""
    app = kiosk(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "satisfaction")
        shares: list[float] = []
        totals: set[int] = set()
        done: set[str] = set()
        for _ in range(120):
            if app.current_session is None or app.current_session.at_end:
                break
            bar = app.screen.query_one("#progress", ProgressBar)
            shares.append(bar.percentage or 0.0)
            totals.update(int(total) for total in re.findall(r"共 (\d+) 题", screen_text(app)))
            blocks = [found for found in app.screen.query("QuestionBlock")
                      if needs_answer(found, done)]
            if blocks:
                done.add(blocks[0].name)
                if blocks[0].name == "overall":
                    await pilot.press("5")  # 非常不满意: asks why
                    await pilot.pause()
                elif blocks[0].name == "improvements":
                    # One improvement ticked (answered), then 其他 too: a question (which?)
                    # joins the total while the answered count stays.
                    await pilot.press("1")
                    await pilot.pause()
                    shares.append(bar.percentage or 0.0)
                    [other] = [button for button in blocks[0].query(ChoiceButton)
                               if button.name == "other"]
                    other.scroll_visible(animate=False, immediate=True)
                    await pilot.pause()
                    await pilot.click(other)
                    await pilot.pause()
                else:
                    await answer_by_keys(pilot, blocks[0])
                continue
            await focus_on(pilot, lambda focused: getattr(focused, "id", None) == "next")
            await pilot.press("enter")
            await pilot.pause()
        assert len(totals) > 1, totals  # the total did change on the way ...
        assert shares == sorted(shares), shares  # ... and the bar only went forward

"""Large text that hides nothing, and a keyboard or keypad path through every form (issue 14).

What a resident notices: in 大字 the last age bands sit below the edge of a small screen; a
line says so, and pressing 6 brings 80岁及以上 into view, ticked. Home in 大字 shows every
questionnaire. With keys only (arrows, digits, space, typing, Enter) each bundled form can be
walked from home to the thank-you screen, and the focused control is framed plainly.
"""

from __future__ import annotations

import datetime as dt

import pytest
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Button

from kiosk.app import KioskApp
from kiosk.config import DEFAULT_SURVEYS, KioskConfig
from kiosk.screens.home import HomeScreen
from kiosk.screens.questionnaire import FormScreen, ReviewScreen
from kiosk.screens.thanks import ThanksScreen
from kiosk.widgets.question import ChoiceButton, QuestionBlock
from store import KioskStore
from surveys.clock import now_local
from tests.test_app_flow import kiosk, on_screen, screen_text, tap, tap_form

LARGE = KioskConfig(station_name="梁丰社区社工站", kiosk_id="hall-1", large_text=True)
SMALL_SCREEN = (80, 24)  # a small terminal, or a tablet's browser at a large font


def lines_around(app: KioskApp, widget: Widget) -> tuple[str, str]:
    """The screen's lines just above and just below ``widget`` (its frame)."""
    lines = screen_text(app).split("\n")
    region = widget.region
    return lines[region.y], lines[region.bottom - 1]


async def to_age_question(pilot: Pilot) -> None:
    await tap_form(pilot, "satisfaction")
    await tap(pilot, "#next")  # past the introduction
    await pilot.press("1")  # 老年人
    await pilot.pause()
    await tap(pilot, "#next")
    assert on_screen(pilot.app) == ["age_band"], screen_text(pilot.app)  # type: ignore[arg-type]


async def test_large_text_on_a_small_screen_says_what_is_below_and_a_number_shows_it(
        store: KioskStore):
    app = kiosk(store, config=LARGE)
    async with app.run_test(size=SMALL_SCREEN) as pilot:
        await pilot.pause()
        await to_age_question(pilot)
        await pilot.pause()
        text = screen_text(app)
        assert "80岁及以上" not in text  # below the edge ...
        assert "▼ 下面还有" in text and "项，请向下滑动 ▼" in text  # ... and said so
        await pilot.press("6")
        await pilot.pause()
        text = screen_text(app)
        # The picked choice is in view and shown ticked; nothing is said to be below now.
        assert "● 80岁及以上" in text, text
        assert "下面还有" not in text
        assert app.current_session is not None
        assert app.current_session.value("age_band") == "80_plus"


async def test_large_text_choices_fit_a_full_screen_in_two_columns(store: KioskStore):
    app = kiosk(store, config=LARGE)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        await to_age_question(pilot)
        await pilot.pause()
        text = screen_text(app)
        for band in ("18岁以下", "60–69岁", "70–79岁", "80岁及以上"):
            assert band in text, text
        assert "下面还有" not in text
        assert app.screen.query(".choice").first().outer_size.height == 5  # still large


@pytest.mark.parametrize("size", [(100, 40), (80, 30)])
async def test_home_in_large_text_shows_every_questionnaire(store: KioskStore,
                                                            size: tuple[int, int]):
    app = kiosk(store, config=LARGE)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.pause()
        text = screen_text(app)
        for title in ("社区服务满意度调查", "需求登记", "婚俗改革问卷", "适老化改造需求评估"):
            assert title in text, text
        assert "下面还有" not in text
        area = app.screen.query_one("#forms")
        for button in app.screen.query(".form-button").results(Button):
            assert button.region.bottom <= area.region.bottom


async def test_home_that_cannot_hold_every_questionnaire_counts_the_rest(store: KioskStore):
    app = kiosk(store, config=LARGE)
    async with app.run_test(size=SMALL_SCREEN) as pilot:
        await pilot.pause()
        await pilot.pause()
        text = screen_text(app)
        assert "▼ 下面还有 1 项，请向下滑动 ▼" in text, text
        await pilot.press("4")  # the number still opens the one below the edge
        await pilot.pause()
        assert isinstance(app.screen, FormScreen)
        assert app.current_session is not None
        assert app.current_session.form.survey_id == "home_adaptation"


async def test_enter_is_next_and_the_focus_is_framed(store: KioskStore):
    app = kiosk(store)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        await tap_form(pilot, "satisfaction")
        await pilot.press("enter")  # the introduction: Enter is 下一题
        await pilot.pause()
        assert on_screen(app) == ["respondent_group"], screen_text(app)
        assert app.focused is None
        unframed = lines_around(app, app.screen.query(ChoiceButton).first())
        await pilot.press("down")  # the first choice takes the focus ...
        await pilot.pause()
        first = app.screen.query(ChoiceButton).first()
        assert app.focused is first
        above, below = lines_around(app, first)
        # ... framed by heavy lines that no unfocused choice has.
        assert set(above.strip()) == {"━"} and set(below.strip()) == {"━"}, (above, below)
        assert "━" not in "".join(unframed)
        await pilot.press("down", "down")
        await pilot.pause()
        third = list(app.screen.query(ChoiceButton).results(ChoiceButton))[2]
        assert app.focused is third and third.name == "hardship"
        # The frame moved with the focus: the first choice lost it (a focus change repaints
        # only the two choices, not the whole screen: kiosk/screens/base.py).
        assert "━" not in "".join(lines_around(app, first))
        assert set(lines_around(app, third)[0].strip()) == {"━"}
        await pilot.press("enter")  # Enter on a choice: pick it and go on
        await pilot.pause()
        assert app.current_session is not None
        assert app.current_session.value("respondent_group") == "hardship"
        assert on_screen(app) == ["age_band"], screen_text(app)
        await pilot.press("2", "enter")  # a number, then Enter: 下一题
        await pilot.pause()
        assert app.current_session.value("age_band") == "18_35"
        assert on_screen(app) != ["age_band"]


# ---- every bundled form, keys only -----------------------------------------------------------

# What a volunteer would type into each box (everything else gets the first choice or 好).
TYPED = {"contact_phone": "13912345678", "phone": "13912345678", "household_size": "2",
         "elders_count": "1", "oldest_age": "80", "floor": "3", "own_tables": "10",
         "bride_price_amount": "1万"}


def needs_answer(found: QuestionBlock, done: set[str]) -> bool:
    view = found.view
    if view.read_only or view.kind == "note" or found.name in done:
        return False
    return view.value in (None, "", [])


async def focus_on(pilot: Pilot, wanted: object) -> None:
    """Arrow down until the focus is on ``wanted`` (a widget, or a test on the focused one)."""
    app = pilot.app
    for _ in range(80):
        focused = app.focused
        hit = wanted(focused) if callable(wanted) else focused is wanted
        if hit:
            return
        await pilot.press("down")
        await pilot.pause()
    raise AssertionError(f"the arrows never reached {wanted}:\n{screen_text(app)}")


def inside(found: QuestionBlock) -> object:
    def test(focused: Widget | None) -> bool:
        node = focused
        while node is not None and node is not found:
            node = node.parent  # type: ignore[assignment]
        return node is found
    return test


async def answer_by_keys(pilot: Pilot, found: QuestionBlock) -> None:
    await focus_on(pilot, inside(found))
    kind = found.view.kind
    if kind in ("select_one", "select_multiple"):
        await pilot.press("space")
    elif kind == "acknowledge":
        await pilot.press("enter")
    else:
        if kind == "date":
            # the visit is today; a next visit (home_adaptation) must come after it
            later = 7 if found.name == "next_visit" else 0
            typed = (now_local().date() + dt.timedelta(days=later)).isoformat()
        elif kind in ("integer", "decimal"):
            typed = TYPED.get(found.name, "1")
        else:
            typed = TYPED.get(found.name, "好")
        # Typed, then Enter: on to the next question (or, after the last one, 下一题).
        await pilot.press(*typed, "enter")
    await pilot.pause()


@pytest.mark.parametrize("survey_id", DEFAULT_SURVEYS)
async def test_every_bundled_form_walks_with_keys_only(store: KioskStore, survey_id: str):
    app = kiosk(store)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        await pilot.press(str(DEFAULT_SURVEYS.index(survey_id) + 1))
        await pilot.pause()
        done: set[str] = set()
        for _ in range(200):
            screen = app.screen
            if isinstance(screen, ThanksScreen):
                break
            if isinstance(screen, ReviewScreen):
                await pilot.press("enter")  # 提交
                await pilot.pause()
                continue
            assert isinstance(screen, FormScreen), screen_text(app)
            todo = [found for found in screen.blocks() if needs_answer(found, done)]
            if todo:
                done.add(todo[0].name)
                await answer_by_keys(pilot, todo[0])
                continue
            before = (app.current_session.position if app.current_session else None)
            await focus_on(pilot, lambda focused: getattr(focused, "id", None) == "next")
            await pilot.press("enter")
            await pilot.pause()
            if app.current_session is not None and app.current_session.position == before \
                    and isinstance(app.screen, FormScreen):
                raise AssertionError(f"下一题 refused:\n{screen_text(app)}")
        else:
            raise AssertionError(f"never finished:\n{screen_text(app)}")
        assert store.submission_count(survey_id) == 1
        await pilot.press("enter")  # any key on the thank-you screen: home
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
    if survey_id == "marriage_reform":
        [record] = store.iter_submissions(survey_id)
        assert record["answers"].get("bride_price_amount") in (10000, None)  # typed 1万

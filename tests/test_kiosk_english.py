"""Each bundled questionnaire completed in English, started with the home screen's toggle.

The Chinese walks (with their validation and relevance checks) are in test_app_flow.py;
these check that a resident who switches to English sees English throughout — questions,
choices, buttons, messages — and that the stored record says ``lang: en``.
"""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from textual.widgets import Button

from kiosk.app import KioskApp
from store import KioskStore
from tests.test_app_flow import (
    SIZE,
    at,
    block,
    keys,
    kiosk,
    next_screen,
    on_screen,
    screen_text,
    tap,
    tap_choice,
    tap_form,
    type_into,
)

# One entry per screen: question name -> what the resident does. An int presses that
# number key, "=text" types the text, "+label" ticks the choice with that English label,
# "ack" taps OK, None reads (a note, or an optional question left empty).
Script = list[dict[str, Any]]

SATISFACTION: Script = [
    {"intro": None},
    {"respondent_group": 1},
    {"age_band": 4},
    {"community": "+Nanyuan Community"},
    {"estate": "+Fuqian Estate"},
    {"overall": "+Very satisfied"},
    {"services_used": 6},
    {"sat_environment": 2},
    {"improvements": 3},
    {"suggestion": "=More benches by the gate, please"},
    {"thanks": None},
]
SERVICE_REQUEST: Script = [
    {"intro": None},
    {"category": "+Children"},
    {"for_whom": 1},
    {"community": 1},
    {"description": "=After-school care for my grandson"},
    {"urgency": 3},
    {"followup": 4},
    {"thanks": None},
]
MARRIAGE_REFORM: Script = [
    {"intro": None},
    {"gender": 1},
    {"age_band": 2},
    {"marital_status": 3},
    {"bride_price_view": 1},
    {"bride_price_burden": 2},
    {"own_bride_price": 1},
    {"own_tables": "=12"},
    {"own_spending": 2},
    {"own_borrowed": 2},
    {"reasonable_tables": 2},
    {"group_wedding": 1},
    {"reform_measures": [1, 3]},
    {"comment": None},
    {"thanks": None},
]
HOME_ADAPTATION: Script = [
    {"intro": None},
    {"visit_date": None},  # today, filled in by the form
    {"resident_name": "=Mrs Li", "address": "=Flat 201, Building 3, Liangfeng Garden",
     "phone": "=13812345678"},
    {"community": "+Liangfeng Community"},
    {"household_size": "=1"},
    {"elders_count": "=1"},
    {"oldest_age": "=81"},
    {"mobility": "+Uses a cane or walker"},
    {"conditions": 6},
    {"floor": "=1"},
    {"bath_difficulty": "+Slippery floor", "bath_remarks": None},
    {"bedroom_difficulty": "+No difficulty", "bedroom_remarks": None},
    {"stairs_difficulty": "+No difficulty", "stairs_remarks": None},
    {"kitchen_difficulty": "+No difficulty", "kitchen_remarks": "=Gas cooker is new"},
    {"subsidy_status": 5},
    {"plan_note": None},
    {"agree_plan": "+Agree"},
    {"self_pay": "+Up to 500 yuan"},
    {"next_visit": None},  # optional
    {"volunteer_remarks": None},
    {"explained": "ack"},
]


async def do(pilot: Pilot, name: str, action: Any) -> None:
    if action is None:
        return
    if isinstance(action, int):
        await keys(pilot, str(action))
    elif isinstance(action, list):
        await keys(pilot, *map(str, action))
    elif action == "ack":
        await tap(pilot, block(pilot.app, name).query_one(Button))  # type: ignore[arg-type]
    elif action.startswith("="):
        await type_into(pilot, name, action[1:])
    else:
        await tap_choice(pilot, name, action[1:])


async def walk_in_english(pilot: Pilot, store: KioskStore, survey_id: str,
                          script: Script) -> dict[str, Any]:
    app: KioskApp = pilot.app  # type: ignore[assignment]
    await pilot.pause()
    await tap(pilot, "#lang-en")
    text = screen_text(app)
    assert "Tap the questionnaire you want to fill in" in text
    assert store.load_form(survey_id).title_in("en") in text
    await tap_form(pilot, survey_id)
    for number, screen in enumerate(script):
        text = at(app, *screen)
        assert "Answered" in text and "已答" not in text
        assert ("Home" if number == 0 else "Back") in text
        for name, action in screen.items():
            await do(pilot, name, action)
        if number < len(script) - 1:
            assert str(app.screen.query_one("#next", Button).label) == "Next"
            await next_screen(pilot)
    assert str(app.screen.query_one("#next", Button).label) == "Finish"
    await next_screen(pilot)
    if store.load_form(survey_id).review_before_submit:
        text = screen_text(app)
        assert "You have answered all the questions." in text and "Submit" in text
        assert "问卷已经答完了" not in text
        await tap(pilot, "#submit")
    records = list(store.iter_submissions(survey_id))
    assert len(records) == 1, screen_text(app)
    record = records[0]
    text = screen_text(app)
    assert "Submitted. Thank you!" in text
    assert store.receipt_code_of(record["instance_id"]) in text
    assert record["lang"] == "en"
    # Once the receipt is closed, the next resident gets the kiosk's own language again.
    await pilot.click(offset=(5, 5))
    await pilot.pause()
    assert "请点一下您要填写的问卷" in screen_text(app)
    return record["answers"]


async def test_satisfaction_survey_in_english(store: KioskStore):
    app = kiosk(store)
    async with app.run_test(size=SIZE) as pilot:
        answers = await walk_in_english(pilot, store, "satisfaction", SATISFACTION)
    assert answers["community"] == "nanyuan" and answers["estate"] == "fuqian"
    assert answers["overall"] == "5" and answers["services_used"] == ["none"]
    assert answers["sat_environment"] == "4" and answers["improvements"] == ["stair_lighting"]
    assert answers["suggestion"] == "More benches by the gate, please"


async def test_service_request_in_english(store: KioskStore):
    app = kiosk(store)
    async with app.run_test(size=SIZE) as pilot:
        answers = await walk_in_english(pilot, store, "service_request", SERVICE_REQUEST)
    assert answers["category"] == "children" and answers["followup"] == "none"
    assert answers["description"] == "After-school care for my grandson"
    assert "contact_phone" not in answers


async def test_marriage_reform_survey_in_english(store: KioskStore):
    app = kiosk(store)
    async with app.run_test(size=SIZE) as pilot:
        answers = await walk_in_english(pilot, store, "marriage_reform", MARRIAGE_REFORM)
    assert answers["bride_price_view"] == "abolish" and "bride_price_amount" not in answers
    assert answers["own_tables"] == 12
    assert answers["reform_measures"] == ["low_bride_price", "group_wedding"]
    assert "matchmaking" not in answers


async def test_home_adaptation_assessment_in_english(store: KioskStore):
    app = kiosk(store)
    async with app.run_test(size=SIZE) as pilot:
        answers = await walk_in_english(pilot, store, "home_adaptation", HOME_ADAPTATION)
    assert answers["resident_name"] == "Mrs Li" and answers["household_size"] == 1
    assert "living_arrangement" not in answers and "elevator" not in answers
    assert answers["plan_en"] == ("Bathroom: anti-slip flooring (slippery floor); Bedroom: "
                                  "bedside rail (uses a cane or walker); Whole home: emergency "
                                  "call button (lives alone)")
    assert answers["explained"] == "OK" and answers["self_pay"] == "under_500"


async def test_english_messages_and_required_marks(store: KioskStore):
    """Validation messages, the required mark and the hint come in English."""
    app = kiosk(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap(pilot, "#lang-en")
        await tap_form(pilot, "marriage_reform")
        await next_screen(pilot)
        assert on_screen(app) == ["gender"]
        await next_screen(pilot)  # required, unanswered
        text = screen_text(app)
        assert "*required" in text and "⚠ This question needs an answer." in text
        assert "必答" not in text

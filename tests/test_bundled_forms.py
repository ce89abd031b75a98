"""The bundled questionnaires, walked through as a resident or volunteer would: the four the
hall offers, and the visits that follow a household in the register (issue 16): the
assessment registers it, the return visit after the works and the visits to an older person
living alone pick it by a search, read it and update it, in a real kiosk database."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from store import KioskStore, open_store
from surveys.bundled import bundled_paths, compiled_bundled_forms
from surveys.clock import now_local
from surveys.form import Form
from surveys.gate import RecordGate
from surveys.session import FormIncomplete, FormSession, address, parse_address
from tests.test_session_properties import SCALE, plausible_values, repair_candidates, values_for

BUNDLED = {"satisfaction", "marriage_reform", "home_adaptation", "service_request",
           "home_adaptation_followup", "lonely_elderly_visit"}
REGISTER_FORMS = {"home_adaptation", "home_adaptation_followup", "lonely_elderly_visit"}
ZH, EN = "中文 (zh)", "English (en)"


@pytest.fixture(scope="module")
def forms() -> dict[str, Form]:
    return {form.survey_id: form for form in map(Form, compiled_bundled_forms())}


def walk(session: FormSession, answers: dict[str, Any],
         labels: dict[str, str] | None = None) -> list[str]:
    """Answer every shown question found in ``answers`` and press Next to the end.

    Returns the names of the questions and notes that were shown, in order; ``labels``
    receives each one's label as it was on screen.
    """
    shown: list[str] = []
    for _ in range(100):
        if session.screen is None:
            return shown
        # On a field-list screen an answer can reveal another question: look again.
        while new := [question for question in session.screen.questions
                      if question.name not in shown]:
            for question in new:
                shown.append(question.name)
                if labels is not None:
                    labels[question.name] = question.label
                if question.name in answers:
                    problems = session.answer(question.name, answers[question.name])
                    assert problems == [], question.name
        on_screen = [question.name for question in session.screen.questions]
        assert session.next() == [], f"stuck on {on_screen}"
    raise AssertionError("the form never reached its end")


def labels_of(session: FormSession) -> dict[str, str]:
    return {question.name: question.label for question in session.screen.questions}


# ---- all forms -----------------------------------------------------------------------


def test_the_six_forms_are_bundled_with_their_settings(forms: dict[str, Form]):
    assert [path.stem for path in bundled_paths()] == [
        "satisfaction", "service_request", "marriage_reform", "home_adaptation",
        "home_adaptation_followup", "lonely_elderly_visit"]
    assert set(forms) == BUNDLED
    expected = {"satisfaction": ("no", "discard"), "marriage_reform": ("no", "discard"),
                "home_adaptation": ("yes", "keep"), "service_request": ("yes", "discard"),
                "home_adaptation_followup": ("yes", "keep"),
                "lonely_elderly_visit": ("yes", "keep")}
    for survey_id, (review, draft) in expected.items():
        form = forms[survey_id]
        # the forms of the register are new or changed since the first four were shipped
        assert form.version == ("2026120701" if survey_id in REGISTER_FORMS else "2026112301")
        assert (form.entity is not None) == (survey_id in REGISTER_FORMS)
        assert form.default_language == ZH
        assert form.settings["review"] == review
        assert form.settings["draft_on_idle"] == draft
        assert form.title_in("zh") and form.title_in("en") != form.title_in("zh")


@pytest.mark.parametrize("survey_id", sorted(BUNDLED))
def test_every_question_and_choice_reads_in_chinese_and_english(
        forms: dict[str, Form], survey_id: str):
    form = forms[survey_id]
    assert {ZH, EN} <= set(form.languages)
    for item in form.items:
        if item.answerable or item.kind == "note":
            assert item.label.get(ZH) and item.label.get(EN), item.name
            assert item.label[ZH] != item.label[EN], item.name
    for list_name, choices in form.choices.items():
        for choice in choices:
            assert choice.label.get(ZH) and choice.label.get(EN), (list_name, choice.name)
    assert 10 <= len(form.screens) <= 30


def test_the_english_toggle_shows_english(forms: dict[str, Form]):
    session = FormSession(forms["satisfaction"], "en")
    session.next()
    question = session.screen.questions[0]
    assert question.label == "Which group of residents do you belong to?"
    assert question.choices[0].label == "Older person"


# ---- 社区服务满意度调查 ---------------------------------------------------------------

SATISFIED_RESIDENT = {
    "respondent_group": "elderly", "age_band": "70_79", "community": "liangfeng",
    "estate": "kangle_xincun", "overall": "4", "services_used": ["elderly", "hall"],
    "sat_elderly": "5", "sat_hall": "3", "sat_environment": "4",
    "improvements": ["parking", "stair_lighting"],
}


def test_satisfaction_walk_through_asks_only_about_services_used(forms: dict[str, Form]):
    session = FormSession(forms["satisfaction"], "zh")
    shown = walk(session, SATISFIED_RESIDENT)
    assert "sat_elderly" in shown and "sat_hall" in shown
    assert not {"sat_children", "sat_hardship", "sat_disability"} & set(shown)
    assert "unsatisfied_reason" not in shown  # satisfied: no follow-up
    assert "estate_text" not in shown and "improvements_other" not in shown
    answers = session.finish().answers
    assert answers["overall"] == "4"
    assert answers["improvements"] == ["parking", "stair_lighting"]
    assert "suggestion" not in answers


def test_satisfaction_likert_runs_from_very_satisfied_to_very_dissatisfied(
        forms: dict[str, Form]):
    session = FormSession(forms["satisfaction"], "zh")
    session.go_to("overall")
    question = session.screen.questions[0]
    assert [(choice.name, choice.label) for choice in question.choices] == [
        ("5", "非常满意"), ("4", "满意"), ("3", "一般"), ("2", "不满意"), ("1", "非常不满意")]
    assert question.item.appearance == "likert"
    assert question.required


def test_satisfaction_asks_what_was_wrong_only_when_dissatisfied(forms: dict[str, Form]):
    session = FormSession(forms["satisfaction"], "zh")
    shown = walk(session, {**SATISFIED_RESIDENT, "overall": "2",
                           "unsatisfied_reason": "办事要跑好几趟。"})
    assert shown.index("unsatisfied_reason") == shown.index("overall") + 1
    assert session.finish().answers["unsatisfied_reason"] == "办事要跑好几趟。"
    # Changing the answer to satisfied drops the complaint again.
    session.go_to("overall")
    assert session.answer("overall", "3") == []
    assert not session.is_relevant("unsatisfied_reason")
    assert "unsatisfied_reason" not in session.finish().answers


def test_satisfaction_estates_follow_the_chosen_community(forms: dict[str, Form]):
    session = FormSession(forms["satisfaction"], "zh")
    session.answer("community", "nanyuan")
    session.go_to("estate")
    names = [choice.name for choice in session.screen.questions[0].choices]
    assert names == ["nanyuan_xincun", "fuqian", "other"]
    session.answer("estate", "other")
    assert session.is_relevant("estate_text")
    session.answer("community", "other")  # an unlisted community: no estate list at all
    assert not session.is_relevant("estate")
    assert session.is_relevant("estate_text")


def test_satisfaction_refuses_more_than_three_improvements(forms: dict[str, Form]):
    session = FormSession(forms["satisfaction"], "zh")
    problems = session.answer(
        "improvements", ["parking", "ebike_charging", "stair_lighting", "pets"])
    assert [problem.message for problem in problems] == ["最多选3项，请去掉一些再继续。"]
    assert session.value("improvements") is None
    english = FormSession(forms["satisfaction"], "en")
    problems = english.answer("improvements", ["parking", "ebike_charging", "pets", "waste"])
    assert problems[0].message == "Please choose at most 3, then continue."


def test_satisfaction_improvement_labels_name_the_projects(forms: dict[str, Form]):
    session = FormSession(forms["satisfaction"], "zh")
    session.go_to("improvements")
    labels = [choice.label for choice in session.screen.questions[0].choices]
    for project in ("有车有位", "能量满满", "亮亮堂堂", "宠爱有法"):
        assert any(project in label for label in labels), project
    assert labels[-1] == "其他"


def test_satisfaction_other_improvement_is_asked_only_when_other_is_ticked(
        forms: dict[str, Form]):
    session = FormSession(forms["satisfaction"], "zh")
    assert not session.is_relevant("improvements_other")
    shown = walk(session, {**SATISFIED_RESIDENT, "improvements": ["parking", "other"],
                           "improvements_other": "小区门口加个公交站"})
    assert shown.index("improvements_other") == shown.index("improvements") + 1
    assert session.finish().answers["improvements_other"] == "小区门口加个公交站"
    session.go_to("improvements")
    session.answer("improvements", ["parking"])
    assert not session.is_relevant("improvements_other")
    assert "improvements_other" not in session.finish().answers


def test_satisfaction_none_of_the_services_cannot_go_with_a_service(forms: dict[str, Form]):
    session = FormSession(forms["satisfaction"], "zh")
    problems = session.answer("services_used", ["elderly", "none"])
    assert problems[0].message == "选了最后一项（都没有），就不能再选其他项，请再看一下。"


# ---- 婚俗改革问卷 -------------------------------------------------------------------

YOUNG_SINGLE = {
    "gender": "female", "age_band": "26_30", "marital_status": "single",
    "bride_price_view": "symbolic", "bride_price_amount": "８８００",
    "bride_price_burden": "heavy", "reasonable_tables": "up_to_10", "group_wedding": "maybe",
    "matchmaking": "yes", "matchmaking_types": ["outdoor", "volunteer"],
    "reform_measures": ["low_bride_price", "group_wedding"],
}


def test_marriage_reform_single_person_skips_own_wedding(forms: dict[str, Form]):
    session = FormSession(forms["marriage_reform"], "zh")
    shown = walk(session, YOUNG_SINGLE)
    assert not {"own_bride_price", "own_tables", "own_spending", "own_borrowed"} & set(shown)
    assert "matchmaking" in shown and "group_wedding_reasons" not in shown
    answers = session.finish().answers
    assert answers["bride_price_amount"] == 8800  # full-width digits from a Chinese IME
    assert answers["matchmaking_types"] == ["outdoor", "volunteer"]


def test_marriage_reform_married_person_tells_about_own_wedding(forms: dict[str, Form]):
    session = FormSession(forms["marriage_reform"], "zh")
    married = {
        **YOUNG_SINGLE, "marital_status": "married", "age_band": "31_35",
        "bride_price_view": "abolish", "own_bride_price": "10k_50k", "own_tables": 18,
        "own_spending": "100k_200k", "own_borrowed": "yes", "group_wedding": "no",
        "group_wedding_reasons": ["elders_object", "other"],
        "group_wedding_reasons_other": "已经结过婚了",
    }
    shown = walk(session, married)
    own = [name for name in shown if name.startswith("own_")]
    assert own == ["own_bride_price", "own_tables", "own_spending", "own_borrowed"]
    assert "bride_price_amount" not in shown  # no bride price at all: no amount asked
    assert "matchmaking" not in shown and "matchmaking_types" not in shown
    answers = session.finish().answers
    assert answers["own_tables"] == 18
    assert answers["group_wedding_reasons_other"] == "已经结过婚了"


def test_marriage_reform_screen_title_names_the_own_wedding_group(forms: dict[str, Form]):
    session = FormSession(forms["marriage_reform"], "zh")
    session.answer("marital_status", "engaged")
    session.go_to("own_tables")
    assert session.screen.title == "您自己的婚事"


def test_marriage_reform_refuses_impossible_amounts_with_chinese_messages(
        forms: dict[str, Form]):
    session = FormSession(forms["marriage_reform"], "zh")
    problems = session.answer("bride_price_amount", 880000)
    assert [problem.message for problem in problems] == ["请填0到500000之间的数（单位：元）。"]
    assert session.answer("bride_price_amount", 0) == []
    session.answer("marital_status", "married")
    problems = session.answer("own_tables", 300)
    assert [problem.message for problem in problems] == ["请填0到100之间的桌数。"]
    assert session.value("own_tables") is None


# ---- 适老化改造需求评估 ---------------------------------------------------------------

TODAY = now_local().date()
LIVING_ALONE = {
    "resident_name": "张桂兰", "community": "liangfeng", "address": "康乐新村5幢2单元301室",
    "phone": "0512-58123456",
    "household_size": 1, "elders_count": 1, "oldest_age": 82, "mobility": "independent",
    "conditions": ["none"], "floor": 3, "elevator": "no",
    "bath_difficulty": ["slippery"], "bedroom_difficulty": ["none"],
    "stairs_difficulty": ["stairs_hard"], "kitchen_difficulty": ["none"],
    "subsidy_status": ["dibao"], "agree_plan": "yes", "self_pay": "free_only",
    "explained": True,
}


# The husband of a couple living together, on his member's screens (walk() answers by the
# name on screen).
SPOUSE = {"member_name": "王德福", "member_age": 83, "member_relation": "spouse",
          "member_mobility": "independent", "member_needs_care": "no"}


def test_home_adaptation_plan_for_a_woman_living_alone(forms: dict[str, Form]):
    session = FormSession(forms["home_adaptation"], "zh", enumerator="V0042")
    labels: dict[str, str] = {}
    shown = walk(session, LIVING_ALONE, labels)
    assert session.value("visit_date") == TODAY.isoformat()  # filled in for the volunteer
    assert "living_arrangement" not in shown and "alone_daytime" not in shown
    plan = ("卫生间：防滑地面（地面湿滑）；楼梯和进出门：楼梯扶手（上下楼梯吃力）；"
            "全屋：紧急呼叫器（独居）")
    assert session.value("plan") == plan
    assert labels["plan_note"] == f"建议改造项目：{plan}。请向老人和家属说明。"
    answers = session.finish().answers
    recommended = {name for name in answers
                   if name.startswith("rec_") and name != "rec_count" and answers[name] == "1"}
    assert recommended == {"rec_bath_anti_slip", "rec_stair_rail", "rec_emergency_call"}
    assert answers["rec_count"] == "3"
    assert answers["plan"] == plan


def test_home_adaptation_plan_in_english_and_for_a_wheelchair_user(forms: dict[str, Form]):
    session = FormSession(forms["home_adaptation"], "en")
    session.answer("household_size", 2)
    session.answer("alone_daytime", "no")
    session.answer("mobility", "wheelchair")
    session.answer("conditions", ["poor_sight"])
    session.answer("bath_difficulty", ["toilet_low", "threshold"])
    session.answer("stairs_difficulty", ["step_at_door"])
    assert session.value("plan") == (
        "卫生间：扶手（上厕所起身困难）、坐便增高器（上厕所起身困难）、淋浴椅（坐轮椅）、"
        "去掉门槛或加斜坡垫（门槛或高低差容易绊倒）；卧室：床头开关或感应夜灯（眼神不好）；"
        "楼梯和进出门：门口坡道（门口有台阶、坐轮椅）")
    session.go_to("plan_note")
    assert labels_of(session)["plan_note"] == (
        "Recommended adaptations: Bathroom: grab bars (hard to get up from the toilet), "
        "raised toilet seat (hard to get up from the toilet), shower chair (uses a "
        "wheelchair), threshold removed or ramped (threshold or step to trip on); Bedroom: "
        "bedside switch or night light (poor eyesight); Stairs and entrance: ramp at the door "
        "(steps at the door, uses a wheelchair). Please explain them to the resident and "
        "family.")


def test_home_adaptation_without_difficulties_needs_no_plan(forms: dict[str, Form]):
    session = FormSession(forms["home_adaptation"], "zh")
    fine = {**LIVING_ALONE, **SPOUSE, "household_size": 2, "living_arrangement": "spouse",
            "alone_daytime": "no", "elders_count": 2, "bath_difficulty": ["none"],
            "stairs_difficulty": ["none"]}
    shown = walk(session, fine)
    assert session.value("plan") == "暂不需要改造"
    assert "agree_plan" not in shown and "self_pay" not in shown
    assert session.finish().answers["rec_count"] == "0"


# Every difficulty the assessment asks about, read from the form itself: a new room's
# ``*_difficulty`` question or a new choice is checked without touching this test.
NO_DIFFICULTY = {"none", "independent"}
NOTHING_FOUND = {**LIVING_ALONE, **SPOUSE, "household_size": 2, "living_arrangement": "spouse",
                 "alone_daytime": "no", "elders_count": 1, "mobility": "independent",
                 "conditions": ["none"], "bath_difficulty": ["none"],
                 "bedroom_difficulty": ["none"], "stairs_difficulty": ["none"],
                 "kitchen_difficulty": ["none"]}


def difficulties(form: Form) -> list[tuple[str, str, str]]:
    """(question, choice, choice label in Chinese) for every difficulty the form asks."""
    found = []
    for item in form.items:
        if item.name.endswith("_difficulty") or item.name in ("conditions", "mobility"):
            for choice in form.choices[item.list_name]:
                if choice.name not in NO_DIFFICULTY:
                    found.append((item.name, choice.name, choice.label[ZH]))
    return found


def test_every_difficulty_leads_to_a_recommended_item_with_its_room_and_reason(
        forms: dict[str, Form]):
    from kiosk.printing.receipts import plan_items

    form = forms["home_adaptation"]
    asked = difficulties(form)
    assert len(asked) >= 24 and ("kitchen_difficulty", "gas", "常忘关煤气或火") in asked
    for question, choice, label in asked:
        session = FormSession(form, "zh")
        value = choice if question == "mobility" else [choice]
        walk(session, {**NOTHING_FOUND, question: value})
        answers = session.finish().answers
        rooms = plan_items(answers, "zh")
        assert int(answers["rec_count"]) >= 1 and rooms, f"{question}={choice}: no item"
        assert all(room.name for room in rooms), (question, choice, answers["plan"])
        # The reason is the difficulty's own words (their start, where a short form is
        # used inside the brackets) in the item's brackets.
        reasons = "".join(item[item.index("（"):] for room in rooms for item in room.items)
        assert label[:2] in reasons, (question, choice, answers["plan"])
        english = plan_items(answers, "en")
        assert [len(room.items) for room in english] == [len(room.items) for room in rooms]


def test_forgetting_the_gas_gives_kitchen_items_with_the_reason(forms: dict[str, Form]):
    session = FormSession(forms["home_adaptation"], "zh")
    walk(session, {**NOTHING_FOUND, "kitchen_difficulty": ["gas"]})
    assert session.value("plan") == (
        "厨房：燃气泄漏报警器（常忘关煤气或火）、燃气自动切断阀（常忘关煤气或火）")


def test_home_adaptation_checks_dates_and_household_numbers(forms: dict[str, Form]):
    session = FormSession(forms["home_adaptation"], "zh")
    tomorrow = TODAY + dt.timedelta(days=1)
    assert [problem.message for problem in session.answer("visit_date", tomorrow)] == [
        "走访日期不能晚于今天。"]
    assert session.answer("visit_date", TODAY - dt.timedelta(days=3)) == []
    assert session.answer("household_size", 3) == []
    assert [problem.message for problem in session.answer("elders_count", 4)] == [
        "老人人数应在1人到家庭常住人数之间，请核对。"]
    assert [problem.message for problem in session.answer("oldest_age", 45)] == [
        "请填60到120之间的年龄。"]
    assert session.answer("phone", "12345")[0].message == (
        "电话号码不对，请填11位手机号或带区号的座机号。")


def test_home_adaptation_keeps_names_and_addresses_as_personal_data(forms: dict[str, Form]):
    form = forms["home_adaptation"]
    personal = {item.name for item in form.items if item.pii}
    assert personal == {"resident_name", "address", "phone", "member_name"}
    session = FormSession(form, "zh")
    session.go_to("resident_name")
    assert [question.name for question in session.screen.questions] == [
        "resident_name", "address", "phone"]  # one screen for the volunteer


# ---- 需求登记 -------------------------------------------------------------------------

REQUEST = {
    "category": "elderly", "for_whom": "family", "community": "chengbei",
    "description": "母亲80岁，一个人住，想申请助餐服务。", "urgency": "soon",
}


def test_service_request_without_follow_up_asks_no_contact_details(forms: dict[str, Form]):
    session = FormSession(forms["service_request"], "zh")
    shown = walk(session, {**REQUEST, "followup": "none"})
    assert not {"contact_name", "contact_phone", "contact_address", "office_time"} & set(shown)
    assert "urgent_note" not in shown
    answers = session.finish().answers
    assert answers["description"] == REQUEST["description"]
    assert not {name for name in answers if name.startswith("contact_")}


def test_service_request_phone_follow_up_needs_a_valid_mobile(forms: dict[str, Form]):
    session = FormSession(forms["service_request"], "zh")
    for name, value in {**REQUEST, "followup": "phone"}.items():
        assert session.answer(name, value) == [], name
    assert session.is_relevant("contact_name") and not session.is_relevant("contact_address")
    problems = session.answer("contact_phone", "0512123")
    assert [problem.message for problem in problems] == [
        "手机号码应是1开头的11位数字，请再看一下。"]
    with pytest.raises(FormIncomplete) as raised:
        session.finish()
    assert [(problem.question, problem.message) for problem in raised.value.problems] == [
        ("contact_phone", "电话回访需要留下手机号码。")]
    assert session.screen.questions[0].name == "contact_phone"
    assert session.answer("contact_phone", "13912345678") == []
    assert session.finish().answers["contact_phone"] == "13912345678"


def test_service_request_home_visit_asks_the_address(forms: dict[str, Form]):
    session = FormSession(forms["service_request"], "zh")
    shown = walk(session, {**REQUEST, "urgency": "urgent", "followup": "visit",
                           "contact_name": "李大爷", "contact_address": "城北新村12幢101"})
    assert "urgent_note" in shown
    assert shown.index("contact_address") > shown.index("contact_phone")
    assert "office_time" not in shown
    answers = session.finish().answers
    assert answers["contact_address"] == "城北新村12幢101"
    assert "contact_phone" not in answers  # optional unless the follow-up is by phone


def test_service_request_description_is_required_and_limited(forms: dict[str, Form]):
    session = FormSession(forms["service_request"], "zh")
    session.go_to("description")
    assert [problem.message for problem in session.next()] == ["请简单写一下需要什么帮助。"]
    problems = session.answer("description", "字" * 501)
    assert [problem.message for problem in problems] == ["请用500个字以内说明。"]
    assert session.answer("description", "字" * 500) == []


def test_service_request_other_category_asks_what_it_is(forms: dict[str, Form]):
    session = FormSession(forms["service_request"], "zh")
    shown = walk(session, {**REQUEST, "category": "other", "category_specify": "就业",
                           "followup": "office", "office_time": "any"})
    assert shown.index("category_specify") == shown.index("category") + 1
    assert "office_time" in shown
    assert session.finish().answers["category_specify"] == "就业"


@pytest.mark.parametrize("path", bundled_paths(), ids=lambda path: path.stem)
def test_bundled_form_also_converts_to_an_odk_xform(path):
    """Stations share forms with ODK/KoboToolbox users: pyxform must turn them into XForms."""
    from pyxform.xls2xform import convert

    xform = convert(xlsform=str(path)).xform
    assert f'id="{path.stem}"' in xform


# ---- the households register: assessment, return visit, visits to older people alone ---------

VISITED = "2026-12-01T10:00:00+08:00"


@pytest.fixture
def kiosk(tmp_path: Path) -> Iterator[KioskStore]:
    """A new kiosk database: every bundled form installed, the register empty."""
    opened = open_store(tmp_path / "kiosk.db")
    yield opened
    opened.close()


def store_visit(store: KioskStore, session: FormSession, completed: str) -> dict[str, Any]:
    """Finish a visit as the screens do: through the record gate into the kiosk's database."""
    submission = session.finish()
    submission.completed = completed
    store.save_submission(store.record_gate().check_submission(submission))
    return submission.to_json()


def assess(store: KioskStore, answers: dict[str, Any] | None = None,
           completed: str = VISITED) -> str:
    """The home-adaptation visit of LIVING_ALONE's 张桂兰; returns her household's id."""
    session = FormSession(store.load_form("home_adaptation"), "zh", enumerator="JG0042",
                          entities=store)
    walk(session, answers or LIVING_ALONE)
    record = store_visit(store, session, completed)
    assert record["entity"]["action"] == "create"
    return str(record["entity"]["id"])


def test_the_assessment_registers_the_household_with_what_the_return_visits_need(kiosk):
    next_visit = TODAY + dt.timedelta(days=20)
    household = assess(kiosk, {**LIVING_ALONE, "next_visit": next_visit})
    entity = kiosk.entity("households", household)
    assert entity is not None and entity.version == 1
    assert entity.label == "张桂兰 康乐新村5幢2单元301室"
    assert entity.properties == {
        "head_name": "张桂兰", "community": "liangfeng", "address": "康乐新村5幢2单元301室",
        "phone": "0512-58123456", "members_n": "1", "older_members": "0",
        "last_visit": TODAY.isoformat(),
        "next_visit": next_visit.isoformat(), "state": "assessed", "plan_agreed": "yes",
        "plan": "卫生间：防滑地面（地面湿滑）；楼梯和进出门：楼梯扶手（上下楼梯吃力）；"
                "全屋：紧急呼叫器（独居）",
        "plan_en": "Bathroom: anti-slip flooring (slippery floor); Stairs and entrance: stair "
                   "handrail (stairs are hard to climb); Whole home: emergency call button "
                   "(lives alone)",
        "plan_items": "bath_anti_slip stair_rail emergency_call"}
    # a next visit before this one is refused
    session = FormSession(kiosk.load_form("home_adaptation"), "zh")
    assert [problem.message for problem in session.answer("next_visit", TODAY)] == [
        "下次上门的日期要在这次走访之后。"]


# 张桂兰 and the three who live with her: her husband, who walks with a cane and needs care,
# their son and their granddaughter.
MEMBERS = [
    {"member_name": "李建国", "member_relation": "spouse", "member_age": 84,
     "member_mobility": "cane", "member_needs_care": "yes"},
    {"member_name": "李明", "member_relation": "son", "member_age": 55,
     "member_mobility": "independent", "member_needs_care": "no"},
    {"member_name": "李小雨", "member_relation": "grandchild", "member_age": 16,
     "member_mobility": "independent", "member_needs_care": "no"},
]
WITH_FAMILY = {**LIVING_ALONE, "household_size": 4, "living_arrangement": "children",
               "alone_daytime": "yes", "elders_count": 2}


def test_the_assessment_lists_each_member_and_registers_the_household(kiosk):
    session = FormSession(kiosk.load_form("home_adaptation"), "zh", enumerator="JG0042",
                          entities=kiosk)
    assert session.answer("household_size", 4) == []
    assert session.instances("members") == 3  # everyone but the older person, one by one
    for number, member in enumerate(MEMBERS, start=1):
        for name, value in member.items():
            assert session.answer(f"members[{number}].{name}", value) == [], (number, name)
    labels: dict[str, str] = {}
    shown = walk(session, WITH_FAMILY, labels)
    assert shown.index("member_name") == shown.index("household_size") + 1
    assert labels["member_relation"] == "李建国是老人的什么人？"
    record = store_visit(kiosk, session, VISITED)
    assert record["version"] == "2026120701"
    assert record["answers"]["members"] == [
        {**member, "member_older": "1" if member["member_age"] >= 60 else "0"}
        for member in MEMBERS]
    assert record["answers"]["older_members"] == "1"
    entity = kiosk.entity("households", record["entity"]["id"])
    assert entity.version == 1 and entity.label == "张桂兰 康乐新村5幢2单元301室"
    assert entity.properties["members_n"] == "4" and entity.properties["older_members"] == "1"
    # the members' names stay in the visit's record, not in the register
    assert not {"李建国", "李明", "李小雨"} & set(entity.properties.values())
    # plan: the emergency call button, now for being alone in the daytime
    assert entity.properties["plan"] == (
        "卫生间：防滑地面（地面湿滑）；楼梯和进出门：楼梯扶手（上下楼梯吃力）；"
        "全屋：紧急呼叫器（白天常独自在家）")
    # fewer people in the home: the members beyond them are dropped
    fewer = FormSession(kiosk.load_form("home_adaptation"), "zh")
    assert fewer.answer("household_size", 3) == []
    assert fewer.answer("members[2].member_name", "李明") == []
    assert fewer.answer("household_size", 2) == []
    assert fewer.instances("members") == 1


# The steps of the property test below: answering a place (as typed, or as a volunteer would
# tap), the household's size (which makes and drops members), moving, a draft restored.
STEP = st.one_of(
    st.tuples(st.just("answer"), st.integers(0, 999), st.data()),
    st.tuples(st.just("answer"), st.integers(0, 999), st.data()),
    st.tuples(st.just("household"), st.integers(1, 6), st.none()),
    st.tuples(st.sampled_from(["next", "back", "restore", "finish"]), st.none(), st.none()),
)


@settings(max_examples=40 * SCALE, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, min_size=5, max_size=50))
def test_any_way_through_the_assessment_with_members_gives_a_valid_record(
        forms: dict[str, Form], steps: list[Any]):
    """tests/test_session_properties.py walks the forms without repeats; this is its walk
    for the assessment, whose members are a repeat: any order of answers (one member's or
    the household's), of changes to the household's size, of moving and of restoring the
    draft ends, once repaired, in a record the gate accepts and that keeps the form's rules
    for the members, written out here by hand."""
    form = forms["home_adaptation"]
    run = FormSession(form, "zh")
    for kind, number, data in steps:
        if kind == "answer":
            places = sorted(address(form, *slot) for slot in run.slots
                            if form.by_name[slot[0]].answerable)
            place = places[number % len(places)]
            item = form.by_name[parse_address(form, place)[0]]
            if run.screen is not None and item.name in {
                    question.name for question in run.screen.questions}:
                value = data.draw(st.one_of(plausible_values(run, item), values_for(form, item)))
            else:
                value = data.draw(values_for(form, item))
            note(f"answer({place!r}, {value!r})")
            before = run.snapshot()["answers"]
            if run.answer(place, value):
                assert run.snapshot()["answers"] == before  # refused: nothing changed
        elif kind == "household":
            note(f"household_size = {number}")
            assert run.answer("household_size", number) == []
            assert run.instances("members") == number - 1
        elif kind == "next":
            run.next()
        elif kind == "back":
            run.back()
        elif kind == "restore":
            answers = run.answers()
            run = FormSession.restore(form, run.snapshot())
            assert run.answers() == answers
        else:
            with contextlib.suppress(FormIncomplete):
                run.finish()
        for slot, element in run.slots.items():  # nothing kept where it does not apply
            if element.text and form.by_name[slot[0]].answerable:
                assert run.slot_relevance.get(slot, True), slot
    for _ in range(300):
        try:
            submission = run.finish()
            break
        except FormIncomplete as incomplete:
            problem = incomplete.problems[0]
            item = form.by_name[parse_address(form, problem.question)[0]]
            note(f"repair {problem}")
            assert any(run.answer(problem.question, candidate) == []
                       for candidate in repair_candidates(run, item)), problem
    else:
        pytest.fail("the assessment could not be finished")
    answers = submission.answers
    record = {"instance_id": submission.instance_id, "survey": "home_adaptation",
              "version": form.version, "completed": "2026-12-07T10:00:00.000+08:00",
              "answers": answers}
    assert RecordGate.for_forms([form]).check(record).answers == answers
    members = answers.get("members", [])
    assert len(members) == answers["household_size"] - 1
    for member in members:
        assert member["member_name"] and 0 <= member["member_age"] <= 120
        assert member["member_older"] == ("1" if member["member_age"] >= 60 else "0")
    assert answers.get("older_members", "0") == str(
        sum(member["member_age"] >= 60 for member in members))


def followup_answers(household: str) -> dict[str, Any]:
    return {"household": household, "installed": ["bath_anti_slip", "stair_rail",
                                                  "emergency_call"],
            "work_satisfaction": "5", "taught": "yes", "problems": ["none"],
            "outcome": "accepted", "next_visit": TODAY + dt.timedelta(days=90),
            "explained": True}


def test_the_return_visit_finds_the_household_sees_its_plan_and_ticks_its_items(kiosk):
    household = assess(kiosk)
    session = FormSession(kiosk.load_form("home_adaptation_followup"), "zh", entities=kiosk)
    item = session.form.by_name["household"]
    for words in ("张桂兰", "康乐 301", "3456"):  # name, words of the address, phone digits
        assert [entity.entity_id for entity in session.search_register(item, words)] == [
            household], words
    labels: dict[str, str] = {}
    shown = walk(session, followup_answers(household), labels)
    assert labels["plan_note"] == (
        "张桂兰家评估时定的改造方案：卫生间：防滑地面（地面湿滑）；楼梯和进出门：楼梯扶手"
        "（上下楼梯吃力）；全屋：紧急呼叫器（独居）。")
    # only the plan's three items are offered to tick, and 都还没有装
    installed = session.form.by_name["installed"]
    assert [(choice.name, choice.label[ZH]) for choice in session.choices(installed)] == [
        ("bath_anti_slip", "卫生间：防滑地面"), ("stair_rail", "楼梯和进出门：楼梯扶手"),
        ("emergency_call", "全屋：紧急呼叫器"), ("none_yet", "都还没有装")]
    assert "problem_details" not in shown
    record = store_visit(kiosk, session, "2026-12-20T10:00:00+08:00")
    assert record["entity"] == {"dataset": "households", "id": household,
                                "action": "update", "base_version": 1}
    entity = kiosk.entity("households", household)
    assert entity.version == 2 and entity.conflicts == []
    assert entity.properties["state"] == "installed"
    assert entity.properties["installed_items"] == "bath_anti_slip stair_rail emergency_call"
    assert entity.properties["satisfaction"] == "5"
    assert entity.properties["next_visit"] == (TODAY + dt.timedelta(days=90)).isoformat()
    assert entity.properties["plan_items"] == "bath_anti_slip stair_rail emergency_call"
    english = FormSession(kiosk.load_form("home_adaptation_followup"), "en", entities=kiosk)
    english.answer("household", household)
    assert english.label(english.form.by_name["plan_note"]) == (
        "The plan agreed for 张桂兰's home at the assessment: Bathroom: anti-slip flooring "
        "(slippery floor); Stairs and entrance: stair handrail (stairs are hard to climb); "
        "Whole home: emergency call button (lives alone).")


def test_works_with_an_item_missing_or_a_problem_cannot_be_accepted(kiosk):
    household = assess(kiosk)
    session = FormSession(kiosk.load_form("home_adaptation_followup"), "zh", entities=kiosk)
    answers = {**followup_answers(household), "installed": ["bath_anti_slip", "stair_rail"]}
    for name, value in answers.items():
        if name != "outcome":
            assert session.answer(name, value) == [], name
    refused = "方案里还有没装好的项目或发现了问题，不能验收合格，请选需要返修或补装。"
    assert [problem.message for problem in session.answer("outcome", "accepted")] == [refused]
    assert session.answer("installed", ["none_yet", "stair_rail"])[0].message == (
        "选了【都还没有装】，就不能再选其他项目。")
    assert session.answer("outcome", "unfinished") == []
    with pytest.raises(FormIncomplete) as raised:  # not accepted: the next steps are needed
        session.finish()
    assert [problem.question for problem in raised.value.problems] == ["next_steps"]
    assert session.answer("next_steps", "紧急呼叫器下周到货，到了再来装。") == []
    store_visit(kiosk, session, "2026-12-20T10:00:00+08:00")
    entity = kiosk.entity("households", household)
    assert entity.properties["state"] == "needs_fix"
    assert entity.properties["next_steps"] == "紧急呼叫器下周到货，到了再来装。"
    assert entity.properties["installed_items"] == "bath_anti_slip stair_rail"


LONELY_VISIT = {"visit_way": "home", "met": "yes", "mood": "low", "health": "as_usual",
                "meals": "self", "risks": ["gas", "fall"], "needs": ["call_button", "company"],
                "referrals": ["family"], "remarks": "灶台旁边没有报警器，已联系女儿。"}


def test_a_visit_to_an_older_person_alone_sets_the_risk_and_the_next_visit(kiosk):
    household = assess(kiosk)
    session = FormSession(kiosk.load_form("lonely_elderly_visit"), "zh", entities=kiosk)
    assert session.answer("household", household) == []
    for name, value in LONELY_VISIT.items():
        assert session.answer(name, value) == [], name
    assert session.raw("risk_level") == "high"  # gas and a fall, alone at home
    assert session.answer("next_visit", TODAY + dt.timedelta(days=14))[0].message == (
        "风险高的老人一周内要再探访一次；其他的两个月以内。")
    session = FormSession(kiosk.load_form("lonely_elderly_visit"), "zh", entities=kiosk)
    labels: dict[str, str] = {}
    shown = walk(session, {"household": household, **LONELY_VISIT,
                           "next_visit": TODAY + dt.timedelta(days=5)}, labels)
    assert labels["last_note"] == f"张桂兰上次走访是 {TODAY.isoformat()}。"
    assert labels["risk_note"] == "这次评估的风险：高。请在一周内再探访一次。"
    assert "not_met_reason" not in shown and "last_high_note" not in shown
    record = store_visit(kiosk, session, "2026-12-21T10:00:00+08:00")
    assert record["entity"]["base_version"] == 1
    entity = kiosk.entity("households", household)
    assert entity.version == 2
    assert entity.properties["risk_level"] == "high"
    assert entity.properties["next_visit"] == (TODAY + dt.timedelta(days=5)).isoformat()
    assert entity.properties["state"] == "assessed"  # the adaptation's state is not its to set
    # The next visit reads the high risk back and asks to check it was dealt with; no one
    # answering the door is high risk as well.
    again = FormSession(kiosk.load_form("lonely_elderly_visit"), "zh", entities=kiosk)
    assert again.answer("household", household) == []
    assert again.is_relevant("last_high_note")
    assert again.answer("met", "no") == [] and again.answer("not_met_reason", "no_answer") == []
    assert again.raw("risk_level") == "high" and again.is_relevant("no_answer_note")
    assert not again.is_relevant("mood") and not again.is_relevant("risks")
    assert again.answer("not_met_reason", "with_family") == []
    assert again.raw("risk_level") == "medium"


def test_a_household_goes_from_assessment_to_return_visit_to_visits_alone(kiosk):
    """The register keeps each visit in turn, each carrying the version its visitor saw."""
    household = assess(kiosk)
    followup = FormSession(kiosk.load_form("home_adaptation_followup"), "zh", entities=kiosk)
    walk(followup, followup_answers(household))
    store_visit(kiosk, followup, "2026-12-20T10:00:00+08:00")
    visit = FormSession(kiosk.load_form("lonely_elderly_visit"), "zh", entities=kiosk)
    walk(visit, {"household": household, **LONELY_VISIT, "risks": ["none"], "mood": "good",
                 "next_visit": TODAY + dt.timedelta(days=30)})
    assert visit.raw("risk_level") == "low"
    record = store_visit(kiosk, visit, "2026-12-27T10:00:00+08:00")
    assert record["entity"]["base_version"] == 2
    entity = kiosk.entity("households", household)
    assert entity.version == 3 and entity.conflicts == []
    assert [change.action for change in kiosk.entity_changes("households", household)] == [
        "create", "update", "update"]
    assert entity.properties["state"] == "installed" and entity.properties["risk_level"] == "low"
    assert [record["version"] for survey in ("home_adaptation", "home_adaptation_followup",
                                             "lonely_elderly_visit")
            for record in kiosk.iter_submissions(survey)] == ["2026120701"] * 3

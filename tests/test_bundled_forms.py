"""The four bundled questionnaires, walked through as a resident or volunteer would."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from surveys.bundled import bundled_paths, compiled_bundled_forms
from surveys.clock import now_local
from surveys.form import Form
from surveys.session import FormIncomplete, FormSession

BUNDLED = {"satisfaction", "marriage_reform", "home_adaptation", "service_request"}
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


def test_the_four_forms_are_bundled_with_their_settings(forms: dict[str, Form]):
    assert {path.stem for path in bundled_paths()} >= BUNDLED
    assert set(forms) >= BUNDLED
    expected = {"satisfaction": ("no", "discard"), "marriage_reform": ("no", "discard"),
                "home_adaptation": ("yes", "keep"), "service_request": ("yes", "discard")}
    for survey_id, (review, draft) in expected.items():
        form = forms[survey_id]
        assert form.version == "2026112301"
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
    "resident_name": "张桂兰", "address": "康乐新村5幢2单元301室", "phone": "0512-58123456",
    "household_size": 1, "elders_count": 1, "oldest_age": 82, "mobility": "independent",
    "conditions": ["none"], "floor": 3, "elevator": "no",
    "bath_difficulty": ["slippery"], "bedroom_difficulty": ["none"],
    "stairs_difficulty": ["stairs_hard"], "kitchen_difficulty": ["none"],
    "subsidy_status": ["dibao"], "agree_plan": "yes", "self_pay": "free_only",
    "explained": True,
}


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
    fine = {**LIVING_ALONE, "household_size": 2, "living_arrangement": "spouse",
            "alone_daytime": "no", "elders_count": 2, "bath_difficulty": ["none"],
            "stairs_difficulty": ["none"]}
    shown = walk(session, fine)
    assert session.value("plan") == "暂不需要改造"
    assert "agree_plan" not in shown and "self_pay" not in shown
    assert session.finish().answers["rec_count"] == "0"


# Every difficulty the assessment asks about, read from the form itself: a new room's
# ``*_difficulty`` question or a new choice is checked without touching this test.
NO_DIFFICULTY = {"none", "independent"}
NOTHING_FOUND = {**LIVING_ALONE, "household_size": 2, "living_arrangement": "spouse",
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
    assert personal == {"resident_name", "address", "phone"}
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

"""The printed slips: built by kiosk.printing.receipts, encoded for the printer, and read
back from the bytes with printers.parse (GB18030 text, the QR payload, the cut)."""

from __future__ import annotations

import datetime as dt

import pytest

from kiosk.printing.receipts import (
    PlanRoom,
    add_working_days,
    checkout_slip,
    plan_items,
    promise_for_submission,
    questionnaire_receipt,
    receipt_for_submission,
)
from printers.escpos import PrinterProfile, encode
from store import receipt_code
from surveys.bundled import compiled_bundled_forms
from surveys.form import Form
from surveys.session import FormSession, Submission
from tests.printed import PrintedJob, printed_jobs
from tests.test_bundled_forms import LIVING_ALONE, REQUEST, SPOUSE, walk

STATION = "梁丰社区社工站"
FOOTER = "服务电话：0512-5867 1234"
INSTANCE_ID = "5d1c4f7e-0b6f-4c3a-9d2e-7a1b2c3d4e5f"
CODE = receipt_code(INSTANCE_ID)
# A Monday afternoon: three working days later is Thursday.
MONDAY = dt.datetime(2026, 11, 23, 14, 5, tzinfo=dt.timezone(dt.timedelta(hours=8)))


@pytest.fixture(scope="module")
def forms() -> dict[str, Form]:
    return {form.survey_id: form for form in map(Form, compiled_bundled_forms())}


def printed(document, columns: int = 32, encoding: str = "gb18030") -> PrintedJob:
    job = encode(document, PrinterProfile(columns=columns, encoding=encoding))
    [only] = printed_jobs(job.data, encoding)
    return only


def finished(form: Form, language: str, answers: dict, *, enumerator: str | None = None,
             completed: dt.datetime = MONDAY) -> Submission:
    session = FormSession(form, language, instance_id=INSTANCE_ID, enumerator=enumerator)
    walk(session, answers)
    submission = session.finish()
    # The completion time as a fixed moment, so the promised dates are known.
    return Submission(**{**submission.to_json(), "completed": completed.isoformat()})


def test_questionnaire_receipt_has_station_title_time_code_thanks_qr_and_footer():
    document = questionnaire_receipt(station=STATION, title="社区服务满意度调查",
                                     completed=MONDAY, code=CODE, instance_id=INSTANCE_ID,
                                     footer=FOOTER)
    job = printed(document)
    assert job.lines[0] == STATION
    assert "问卷回执" in job.text
    assert "社区服务满意度调查" in job.text
    assert "2026年11月23日 14:05" in job.text
    assert job.codes == [CODE]
    assert "谢谢您的参与！" in job.text
    assert job.qr == [INSTANCE_ID]
    assert job.text.rstrip().endswith(FOOTER)
    assert job.complete and not job.reprint


def test_receipt_in_english_on_80mm_paper():
    document = questionnaire_receipt(station=STATION, title="Community Services Survey",
                                     completed=MONDAY, code=CODE, instance_id=INSTANCE_ID,
                                     language="en")
    job = printed(document, columns=48)
    assert "Questionnaire receipt" in job.text
    assert "23 Nov 2026 14:05" in job.text
    assert "Thank you for taking part!" in job.text
    assert max(len(line) for line in job.lines if line.isascii()) <= 48


def test_service_request_prints_a_ticket_saying_who_calls_and_by_when(forms):
    form = forms["service_request"]
    submission = finished(form, "zh", {**REQUEST, "followup": "phone",
                                       "contact_phone": "13912345678"})
    receipt = receipt_for_submission(submission, form, CODE, station=STATION, footer=FOOTER)
    assert receipt.kind == "ticket" and receipt.source == INSTANCE_ID
    job = printed(receipt.document)
    assert "服务需求登记单" in job.text
    assert job.codes == [CODE]
    assert "养老" in job.text and "比较急，一两周内" in job.text
    steps = job.text.replace("\n", "")
    assert "社工会在3个工作日内，即11月26日（星期四）前，给您打电话。" in steps
    assert "13912345678" not in job.text  # no personal data on a slip that leaves the hall
    assert job.qr == [INSTANCE_ID]


def test_urgent_home_visit_ticket_keeps_the_stations_one_promise_and_says_110(forms):
    """One number of working days for every request ([requests] follow_up_days), so the
    thank-you screen and the slip can never disagree; urgent ones are sent to 110/120."""
    form = forms["service_request"]
    friday = MONDAY + dt.timedelta(days=4)
    submission = finished(form, "zh", {**REQUEST, "urgency": "urgent", "followup": "visit",
                                       "contact_name": "李大爷",
                                       "contact_address": "城北新村12幢101"}, completed=friday)
    job = printed(receipt_for_submission(submission, form, CODE, station=STATION,
                                         follow_up_days=1).document)
    steps = job.text.replace("\n", "")
    assert "社工会在1个工作日内，即11月30日（星期一）前，联系您约定上门时间。" in steps
    assert "110或120" in steps
    assert "城北新村" not in job.text
    job = printed(receipt_for_submission(submission, form, CODE, station=STATION).document)
    steps = job.text.replace("\n", "")
    assert "社工会在3个工作日内，即12月2日（星期三）前，联系您约定上门时间。" in steps
    assert "110或120" in steps
    assert "城北新村" not in job.text


def test_ticket_for_other_category_and_an_office_meeting_in_english(forms):
    form = forms["service_request"]
    submission = finished(form, "en", {**REQUEST, "category": "other",
                                       "category_specify": "就业", "followup": "office",
                                       "office_time": "weekday_morning"})
    job = printed(receipt_for_submission(submission, form, CODE, station=STATION).document)
    assert "Service request ticket" in job.text
    assert "Other: 就业" in job.text.replace("\n", "")
    assert "Weekday morning" in job.text.replace("\n", " ")
    assert "within 3 working days, by Thursday 26 November;" in job.text.replace("\n", " ")


def test_the_slip_and_the_thank_you_screen_say_the_same_promise(forms):
    form = forms["service_request"]
    submission = finished(form, "zh", {**REQUEST, "followup": "phone",
                                       "contact_phone": "13912345678"})
    promise = promise_for_submission(submission, form, follow_up_days=5)
    assert promise == "社工会在5个工作日内，即11月30日（星期一）前，给您打电话。"
    job = printed(receipt_for_submission(submission, form, CODE, station=STATION,
                                         follow_up_days=5).document)
    assert promise in job.text.replace("\n", "")
    assert promise_for_submission(finished(forms["home_adaptation"], "zh", LIVING_ALONE),
                                  forms["home_adaptation"]) == ""


def plan_section(job: PrintedJob) -> list[str]:
    """The printed lines from 建议改造项目 to the rule under them."""
    start = next(index for index, line in enumerate(job.lines) if line.startswith("建议改造"))
    end = next(index for index in range(start, len(job.lines))
               if set(job.lines[index]) <= set("-="))
    return job.lines[start + 1:end]


def test_home_adaptation_prints_the_plan_by_room_with_reasons_and_who_filled_it(forms):
    form = forms["home_adaptation"]
    answers = {**LIVING_ALONE, "kitchen_difficulty": ["gas"]}
    submission = finished(form, "zh", answers, enumerator="JG0042")
    receipt = receipt_for_submission(submission, form, CODE, station=STATION, footer=FOOTER,
                                     volunteer_name="王芳")
    assert receipt.kind == "plan"
    job = printed(receipt.document)
    assert "适老化改造建议方案" in job.text
    # Each room in bold on its own line, its items numbered under it with the reason.
    assert plan_section(job) == [
        "卫生间：", "1. 防滑地面（地面湿滑）",
        "楼梯和进出门：", "2. 楼梯扶手（上下楼梯吃力）",
        "厨房：", "3. 燃气泄漏报警器", "（常忘关煤气或火）", "4. 燃气自动切断阀",
        "（常忘关煤气或火）",
        "全屋：", "5. 紧急呼叫器（独居）",
        "老人和家属意见 ............ 同意"]
    assert {"卫生间：", "厨房：", "全屋："} <= set(job.bold)
    visit = dt.date.fromisoformat(submission.answers["visit_date"])
    assert f"{visit.year}年{visit.month}月{visit.day}日" in job.text
    assert "志愿者 王芳（编号 JG0042）" in job.text.replace("\n", "")
    assert "走访志愿者" not in job.text
    assert "张桂兰" not in job.text and "康乐新村" not in job.text
    assert job.qr == [INSTANCE_ID]


def test_home_adaptation_plan_in_english_without_a_volunteer_yet(forms):
    form = forms["home_adaptation"]
    answers = {**LIVING_ALONE, **SPOUSE, "bath_difficulty": ["none"],
               "stairs_difficulty": ["none"], "household_size": 2, "elders_count": 1,
               "living_arrangement": "spouse", "alone_daytime": "no"}
    submission = finished(form, "en", answers)
    job = printed(receipt_for_submission(submission, form, CODE, station=STATION).document)
    assert "Home adaptation plan" in job.text
    assert "No adaptation needed for now." in job.text
    # No volunteer number on the submission: a resident filled it in at the hall.
    filler = job.lines.index("Filled in by")
    assert job.lines[filler + 1] == "self-service at the hall"


def test_a_plan_filled_in_at_the_hall_says_so_and_an_unknown_volunteer_by_number(forms):
    form = forms["home_adaptation"]
    job = printed(receipt_for_submission(finished(form, "zh", LIVING_ALONE), form, CODE,
                                         station=STATION).document)
    assert "大厅自助填写" in job.text and "志愿者" not in job.text
    job = printed(receipt_for_submission(finished(form, "zh", LIVING_ALONE,
                                                  enumerator="JG0042"), form, CODE,
                                         station=STATION).document)
    assert "志愿者（编号 JG0042）" in job.text.replace("\n", "")


def test_a_plan_stored_before_rooms_prints_its_items_as_they_are():
    old = {"rec_count": "2", "plan": "扶手、防滑地面", "plan_en": "grab bars, anti-slip flooring"}
    assert plan_items(old, "zh") == [PlanRoom("", ("扶手", "防滑地面"))]
    assert plan_items(old, "en") == [PlanRoom("", ("grab bars", "anti-slip flooring"))]
    new = {"rec_count": "3",
           "plan": "卫生间：扶手（没有可以扶的地方、上厕所起身困难）、防滑地面（地面湿滑）；"
                   "全屋：紧急呼叫器（独居）"}
    assert plan_items(new, "zh") == [
        PlanRoom("卫生间", ("扶手（没有可以扶的地方、上厕所起身困难）", "防滑地面（地面湿滑）")),
        PlanRoom("全屋", ("紧急呼叫器（独居）",))]


def test_other_forms_print_the_questionnaire_receipt_with_their_title(forms):
    form = forms["satisfaction"]
    submission = Submission(instance_id=INSTANCE_ID, survey="satisfaction",
                            version=form.version, started=MONDAY.isoformat(),
                            completed=MONDAY.isoformat(), lang="English (en)", answers={})
    receipt = receipt_for_submission(submission, form, CODE, station=STATION)
    assert receipt.kind == "receipt"
    job = printed(receipt.document)
    assert form.title_in("en") in job.text.replace("\n", " ")


def test_volunteer_checkout_slip():
    document = checkout_slip(station=STATION, name="陈晓燕", team="心语志愿服务队",
                             checked_in=MONDAY.replace(hour=9, minute=0),
                             checked_out=MONDAY.replace(hour=11, minute=30), hours=2.5,
                             month_hours=12.0, footer=FOOTER)
    job = printed(document)
    assert "志愿服务签退单" in job.text
    for words in ("陈晓燕", "心语志愿服务队", "2026年11月23日 09:00", "2026年11月23日 11:30",
                  "2.5 小时", "12 小时"):
        assert words in job.text, words
    assert job.complete and job.qr == []


def test_characters_the_printer_lacks_are_replaced_and_the_rest_prints():
    document = questionnaire_receipt(station="𠮷祥社区社工站 🙂", title="满意度",
                                     completed=MONDAY, code=CODE, instance_id=INSTANCE_ID)
    encoded = encode(document, PrinterProfile(encoding="gbk"))
    assert "𠮷" in encoded.replaced and "🙂" in encoded.replaced
    [job] = printed_jobs(encoded.data, "gbk")
    assert "祥社区社工站" in job.text and job.codes == [CODE] and job.complete


def test_working_days_skip_the_weekend():
    friday = dt.date(2026, 11, 27)
    assert add_working_days(friday, 1) == dt.date(2026, 11, 30)
    assert add_working_days(friday, 3) == dt.date(2026, 12, 2)

"""The printed slips: built by kiosk.printing.receipts, encoded for the printer, and read
back from the bytes with printers.parse (GB18030 text, the QR payload, the cut)."""

from __future__ import annotations

import datetime as dt

import pytest

from kiosk.printing.receipts import (
    add_working_days,
    checkout_slip,
    questionnaire_receipt,
    receipt_for_submission,
)
from printers.escpos import PrinterProfile, encode
from store import receipt_code
from surveys.bundled import compiled_bundled_forms
from surveys.form import Form
from surveys.session import FormSession, Submission
from tests.printed import PrintedJob, printed_jobs
from tests.test_bundled_forms import LIVING_ALONE, REQUEST, walk

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
    assert "社工将在3个工作日内（11月26日 星期四前）给您打电话。" in steps
    assert "13912345678" not in job.text  # no personal data on a slip that leaves the hall
    assert job.qr == [INSTANCE_ID]


def test_urgent_home_visit_ticket_promises_one_working_day_and_says_110(forms):
    form = forms["service_request"]
    friday = MONDAY + dt.timedelta(days=4)
    submission = finished(form, "zh", {**REQUEST, "urgency": "urgent", "followup": "visit",
                                       "contact_name": "李大爷",
                                       "contact_address": "城北新村12幢101"}, completed=friday)
    job = printed(receipt_for_submission(submission, form, CODE, station=STATION).document)
    steps = job.text.replace("\n", "")
    assert "社工将在1个工作日内（11月30日 星期一前）联系您，约定上门时间。" in steps
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


def test_home_adaptation_prints_the_plan_with_visit_date_and_volunteer(forms):
    form = forms["home_adaptation"]
    submission = finished(form, "zh", LIVING_ALONE, enumerator="王志愿")
    receipt = receipt_for_submission(submission, form, CODE, station=STATION, footer=FOOTER)
    assert receipt.kind == "plan"
    job = printed(receipt.document)
    assert "适老化改造建议方案" in job.text
    assert [line for line in job.lines if line[:2] in ("1.", "2.", "3.", "4.")] == [
        "1. 扶手", "2. 防滑地面", "3. 紧急呼叫"]
    visit = dt.date.fromisoformat(submission.answers["visit_date"])
    assert f"{visit.year}年{visit.month}月{visit.day}日" in job.text
    assert "王志愿" in job.text
    assert "张桂兰" not in job.text and "康乐新村" not in job.text
    assert job.qr == [INSTANCE_ID]


def test_home_adaptation_plan_in_english_without_a_volunteer_yet(forms):
    form = forms["home_adaptation"]
    answers = {**LIVING_ALONE, "bath_difficulty": ["none"], "stairs_difficulty": ["none"],
               "household_size": 2, "elders_count": 1, "living_arrangement": "spouse",
               "alone_daytime": "no"}
    submission = finished(form, "en", answers)
    job = printed(receipt_for_submission(submission, form, CODE, station=STATION).document)
    assert "Home adaptation plan" in job.text
    assert "No adaptation needed for now." in job.text
    assert any(line.startswith("Volunteer") and line.endswith("—") for line in job.lines)


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

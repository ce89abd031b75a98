"""Fill a kiosk database the way an older kiosk did: run with PYTHONPATH set to that kiosk's
source tree (tests/old_databases/make.py does), so every row is written by that version's own
code. It uses only what the store of schema 1 already had, and each later part where that
version has it (``hasattr``), so one script serves every older schema.

Usage: PYTHONPATH=OLD_TREE python fill.py OUT.db
"""

from __future__ import annotations

import datetime as dt
import importlib
import random
import sys
import uuid
from typing import Any

# Ids from a seeded generator: the dump of the database changes only when the code does.
_ids = random.Random(15)
uuid.uuid4 = lambda: uuid.UUID(int=_ids.getrandbits(128), version=4)

ZONE = dt.timezone(dt.timedelta(hours=8))
KIOSK = "hall-1"
SITE = "新华社区"
CENTRAL = "5d1c6a0e-8a55-4c59-9c8b-3f3f5a1f0c15"  # a central database's installation id


def found(*places: str) -> Any:
    """The first of ``module:name`` that this version has."""
    for place in places:
        module, name = place.split(":")
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
    return None


open_store = found("store:open_store", "kiosk.database:open_store")
Volunteer = found("store:Volunteer", "store.rows:Volunteer", "store.db:Volunteer")
receipt_for_submission = found("kiosk.printing.receipts:receipt_for_submission",
                               "kiosk.receipts:receipt_for_submission")
from surveys.session import FormSession  # noqa: E402 (after the seeded ids)


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=ZONE)


def fill(session: FormSession, plan: dict[str, Any], *, stop_before: str | None = None) -> None:
    """Answer screen by screen as a resident would: the plan's answer where it has one, else
    the first choice offered (or a short text) for a required question."""
    while not session.at_end:
        screen = session.screen
        assert screen is not None
        for question in screen.questions:
            name = question.item.name
            if name == stop_before:
                return
            if question.read_only or not question.item.answerable:
                continue
            if name in plan:
                value = plan[name]
            elif not question.required:
                continue
            elif question.choices:
                first = question.choices[0].name
                value = [first] if question.item.kind == "select_multiple" else first
            else:
                value = "无"
            problems = session.answer(name, value)
            assert not problems, (name, value, problems)
        problems = session.next()
        assert not problems, problems


SATISFACTION = [
    {"respondent_group": "elderly", "age_band": "70_79", "community": "liangfeng",
     "overall": "5", "services_used": ["elderly", "hall"], "sat_elderly": "5", "sat_hall": "4",
     "sat_environment": "4", "improvements": ["parking", "canteen"],
     "suggestion": "希望多办一些健康讲座，谢谢社工！"},
    {"respondent_group": "hardship", "age_band": "36_59", "community": "nanyuan",
     "overall": "2", "unsatisfied_reason": "办事要跑好几趟", "services_used": ["hall"],
     "sat_hall": "2", "sat_environment": "3", "improvements": ["other"],
     "improvements_other": "增加夜间窗口"},
    {"respondent_group": "youth", "age_band": "18_35", "community": "other",
     "estate_text": "Riverside Garden", "overall": "4", "services_used": ["children"],
     "sat_children": "4", "sat_environment": "5", "improvements": ["after_school"],
     "suggestion": "More evening activities, please."},
]
REQUEST = {"category": "elderly", "for_whom": "self", "community": "liangfeng",
           "description": "独居，腿脚不便，想申请助餐", "urgency": "soon", "followup": "phone",
           "contact_name": "李秀英", "contact_phone": "13912345678",
           "contact_address": "幸福小区3栋2单元101", "office_time": "any"}


def submit(store: Any, session: FormSession, completed: dt.datetime,
           site: str | None = None) -> tuple[str, Any]:
    submission = session.finish(completed)
    if site is not None and hasattr(submission, "site"):
        submission.site = site
    if hasattr(store, "record_gate"):  # schema 8: only what the gate let through is stored
        submission = store.record_gate().check_submission(submission)
    return store.save_submission(submission), submission


def main(path: str) -> None:
    store = open_store(path)
    form = store.load_form("satisfaction")
    stored = []
    for number, plan in enumerate(SATISFACTION):
        session = FormSession(form, "en" if number == 2 else "zh", kiosk=KIOSK,
                              started=at(20 + number, 9, 25))
        fill(session, {key: value for key, value in plan.items()
                       if key in form.by_name})
        stored.append(submit(store, session, at(20 + number, 9, 31), SITE))
    request_form = store.load_form("service_request")
    session = FormSession(request_form, "zh", kiosk=KIOSK, started=at(23, 10))
    fill(session, {key: value for key, value in REQUEST.items() if key in request_form.by_name})
    request_code, request = submit(store, session, at(23, 10, 8), SITE)
    stored.append((request_code, request))

    # A resident who walked away half way, and one whose draft was given up.
    session = FormSession(form, "zh", kiosk=KIOSK, started=at(24, 14))
    fill(session, SATISFACTION[0], stop_before="overall")
    store.save_draft(session)
    session = FormSession(form, "zh", kiosk=KIOSK, started=at(24, 15))
    fill(session, SATISFACTION[1], stop_before="community")
    store.save_draft(session)
    store.abandon_draft(session.instance_id)

    if hasattr(store, "log_staff_event"):  # schema 2
        for event, minute in (("pin_wrong", 0), ("pin_ok", 1), ("exit", 9)):
            store.log_staff_event(event, kiosk=KIOSK, at=at(24, 17, minute).timestamp())

    if hasattr(store, "add_print_job") and receipt_for_submission is not None:  # schema 3
        jobs = []
        for code, submission in stored:
            made = receipt_for_submission(submission, store.load_form(
                submission.survey, submission.version), code, station="新华社区社工站")
            jobs.append(store.add_print_job(
                made.kind, made.document.to_json(), at=at(23, 10, 9).timestamp(),
                source=made.source, title=made.title, kiosk=KIOSK))
        now = at(23, 10, 10).timestamp()
        assert store.claim_print_job(jobs[0], "worker-1", now)
        store.print_job_done(jobs[0], "worker-1", now + 2, status="ready")
        store.cancel_print_job(jobs[1])
        store.hold_print_jobs(now + 60, "paper_out", "缺纸", attempted=jobs[2])
        # jobs[3], the request's ticket, waits with the others for the printer

    if hasattr(store, "add_volunteers"):  # schema 4
        store.add_volunteers([
            Volunteer("JG0001", "陈晓燕", "13912345678", "", "心语志愿服务队", "新华社区",
                      dt.date(2024, 3, 1), "active", 1),
            Volunteer("JG0002", "王建国", "13800001111", "", "银龄互助队", "新华社区",
                      None, "active", 1)])
        first = store.add_checkin("JG0001", at(23, 9), kiosk=KIOSK, service="社工站志愿服务")
        store.add_checkout(first, at(23, 11, 30), kiosk=KIOSK)
        forgot = store.add_checkin("JG0002", at(23, 13), kiosk=KIOSK, service="助老探访")
        store.add_checkout(forgot, at(23, 23, 59), closed_by="day_end")
        store.add_session_correction(forgot, action="times", reason="忘记签退，按登记表改",
                                     staff="王社工", at=at(24, 9),
                                     checked_out=at(23, 16), kiosk=KIOSK)
        store.add_checkin("JG0001", at(24, 9), kiosk=KIOSK, service="社工站志愿服务")  # open
        store.set_volunteer_status("JG0002", "suspended")

    if hasattr(store, "set_request_status"):  # schema 6
        store.set_request_status(request.instance_id, "in_progress", note="已联系，周四上门",
                                 staff="王社工", kiosk=KIOSK, at=at(24, 10).timestamp())
        store.add_audit("export", "satisfaction.csv", "3 submissions", staff="王社工",
                        kiosk=KIOSK, at=at(24, 10, 5).timestamp())

    if hasattr(store, "set_sync_cursor"):  # schema 7: what one sync had sent
        for stream, key in (("forms", 4), ("submissions", 2), ("volunteer_checkins", 1),
                            ("volunteer_checkouts", 1)):
            store.set_sync_cursor(CENTRAL, stream, key)
    if hasattr(store, "set_aside"):  # schema 8
        store.set_aside(CENTRAL, "submissions", [(3, "answer 'overall': not one of the choices")])
    if hasattr(store, "set_review"):  # schema 11: one voided, one approved, one corrected
        store.set_review(stored[2][1].instance_id, "void", "同一居民填了两次", staff="王社工",
                         kiosk=KIOSK)
        store.set_review(stored[1][1].instance_id, "approved", "", staff="王社工", kiosk=KIOSK)
        store.add_correction(stored[0][1].instance_id, "overall", "4", "居民来电更正",
                             staff="王社工", kiosk=KIOSK)
    store.close()


if __name__ == "__main__":
    main(sys.argv[1])

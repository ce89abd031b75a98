"""What the kiosk prints: receipt templates that build ``printers.document.Document``s.

Four slips, each with the station's name on top and the config's footer at the bottom:
a questionnaire receipt, a service-request ticket, a home-adaptation plan and a volunteer
check-out slip. Text is in the resident's language (中文 or English) from ``kiosk.i18n``.
``receipt_for_submission`` picks the slip a finished questionnaire prints.
Nothing here talks to a printer: the print queue stores the document and the encoder turns
it into bytes for the printer at hand.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from kiosk.i18n import code_of, date_text, hours_text, short_date_text, tr, when_text
from printers.document import Document
from surveys.clock import local, now_local
from surveys.form import Form
from surveys.session import Submission

# Which slip a finished questionnaire prints; every other form prints the plain receipt.
SLIP_OF_SURVEY = {"service_request": "ticket", "home_adaptation": "plan"}
# Working days until a social worker follows a service request up, when the caller does not
# pass the station's ``[requests] follow_up_days`` (kiosk.config, same default).
DEFAULT_FOLLOW_UP_DAYS = 3
# How the form's plan text is put together (scripts/build_forms.py): rooms, room name,
# items; a reason in brackets may hold the item separator itself.
PLAN_SEPARATORS = {"zh": ("；", "：", "、"), "en": ("; ", ": ", ", ")}
OPENING, CLOSING = "（(", "）)"


@dataclass(frozen=True)
class Receipt:
    """A slip ready for the print queue: its kind, a short title for staff, the source."""

    kind: str  # receipt, ticket, plan or slip
    title: str
    source: str  # the submission's instance id ("" for slips not tied to one)
    document: Document


# ---- formatting ---------------------------------------------------------------------------


def add_working_days(day: dt.date, days: int) -> dt.date:
    """``days`` working days (Monday to Friday) after ``day``.

    Public holidays (and the weekend days China works instead) are not known here; the
    ticket says "within N working days" as well, which the desk can honour.
    """
    while days > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            days -= 1
    return day


def _parse_time(text: str | None) -> dt.datetime:
    if text:
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            return local(moment)
    return now_local()


def _parse_date(text: Any) -> dt.date | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


# ---- the common parts -----------------------------------------------------------------------


def _head(station: str, heading: str) -> Document:
    document = Document()
    document.title(station)
    document.text(heading, align="center", bold=True)
    document.rule()
    return document


def _code(document: Document, label: str, code: str) -> None:
    document.text(label, align="center")
    document.text(code, align="center", bold=True, double_width=True, double_height=True)


def _tail(document: Document, footer: str, instance_id: str = "") -> Document:
    if instance_id:
        document.qr(instance_id)
    document.rule()
    for line in footer.splitlines():
        if line.strip():
            document.text(line.strip(), align="center")
    document.feed(2)
    document.cut()
    return document


# ---- the slips ------------------------------------------------------------------------------


def questionnaire_receipt(*, station: str, title: str, completed: dt.datetime, code: str,
                          instance_id: str, language: str = "zh", footer: str = "") -> Document:
    """The receipt for a questionnaire: what was filled in, when, its receipt code, thanks,
    and a QR code holding the instance id (the desk scans it to find the submission)."""
    document = _head(station, tr("receipt.heading", language))
    document.pair(tr("receipt.form", language), title)
    document.pair(tr("receipt.time", language), when_text(completed, language))
    _code(document, tr("receipt.code", language), code)
    document.rule()
    document.text(tr("receipt.thanks", language), align="center", bold=True)
    document.text(tr("receipt.keep", language))
    return _tail(document, footer, instance_id)


def service_ticket(*, station: str, code: str, instance_id: str, category: str,
                   urgency: str, next_steps: list[str], completed: dt.datetime,
                   language: str = "zh", footer: str = "") -> Document:
    """The ticket for a service request: its number (the receipt code), the category, and
    what happens next and by when."""
    document = _head(station, tr("ticket.heading", language))
    _code(document, tr("ticket.number", language), code)
    document.pair(tr("ticket.category", language), category)
    if urgency:
        document.pair(tr("ticket.urgency", language), urgency)
    document.pair(tr("receipt.time", language), when_text(completed, language))
    document.rule()
    document.text(tr("ticket.next", language), bold=True)
    for step in next_steps:
        document.text(step)
    return _tail(document, footer, instance_id)


def adaptation_plan(*, station: str, code: str, instance_id: str, rooms: list[PlanRoom],
                    visit_date: dt.date | None, filled_by: str, agreement: str = "",
                    language: str = "zh", footer: str = "") -> Document:
    """The home-adaptation plan left with the household: the recommended items room by
    room, each with why (what the volunteer found), the visit date and who filled it in
    (``filler_text``)."""
    document = _head(station, tr("plan.heading", language))
    if visit_date is not None:
        document.pair(tr("plan.visit_date", language), date_text(visit_date, language))
    document.pair(tr("plan.filled_by", language), filled_by or "—")
    document.pair(tr("receipt.code", language), code)
    document.rule()
    if any(room.items for room in rooms):
        document.text(tr("plan.items", language), bold=True)
        number = 0
        for room in rooms:
            if room.name:
                document.text(tr("plan.room", language, room=room.name), bold=True)
            for item in room.items:
                number += 1
                document.text(f"{number}. {item}")
    else:
        document.text(tr("plan.none", language), bold=True)
    if agreement:
        document.pair(tr("plan.agreement", language), agreement)
    document.rule()
    document.text(tr("plan.next", language))
    return _tail(document, footer, instance_id)


def checkout_slip(*, station: str, name: str, team: str, checked_in: dt.datetime,
                  checked_out: dt.datetime, hours: float, month_hours: float,
                  language: str = "zh", footer: str = "") -> Document:
    """The slip a volunteer takes at check-out: this service's times and hours, and the
    month's total so far."""
    document = _head(station, tr("slip.heading", language))
    document.pair(tr("slip.name", language), name)
    if team:
        document.pair(tr("slip.team", language), team)
    document.pair(tr("slip.in", language), when_text(checked_in, language))
    document.pair(tr("slip.out", language), when_text(checked_out, language))
    document.pair(tr("slip.hours", language),
                  tr("slip.hours_value", language, hours=hours_text(hours)))
    document.pair(tr("slip.month", language),
                  tr("slip.hours_value", language, hours=hours_text(month_hours)))
    document.rule()
    document.text(tr("slip.thanks", language), align="center", bold=True)
    return _tail(document, footer)


# ---- from a finished questionnaire ----------------------------------------------------------


def _choice_label(form: Form, question: str, value: Any, language: str) -> str:
    item = form.by_name.get(question)
    if item is None or not isinstance(value, str) or not value:
        return ""
    choice = form.choice(item, value)
    return form.text(choice.label, language) if choice else value


def follow_up_promise(answers: dict[str, Any], form: Form, form_language: str,
                      completed: dt.datetime,
                      follow_up_days: int = DEFAULT_FOLLOW_UP_DAYS) -> str:
    """Who gets in touch, how, and by when: one sentence, the same on the service-request
    slip and on the thank-you screen (e.g. 社工会在3个工作日内，即11月26日（星期四）前，
    给您打电话。). One number of working days for every request: an urgent one is told to
    call 110/120 or the desk at once as well (``ticket_steps``)."""
    language = code_of(form_language)
    days = follow_up_days
    by = short_date_text(add_working_days(completed.date(), days), language)
    followup = answers.get("followup")
    values: dict[str, object] = {"days": days, "by": by}
    if followup == "office":
        values["when"] = _choice_label(form, "office_time", answers.get("office_time"),
                                       form_language) or tr("ticket.any_time", language)
    key = {"phone": "ticket.phone", "visit": "ticket.visit", "office": "ticket.office",
           "none": "ticket.none"}.get(followup if isinstance(followup, str) else "",
                                      "ticket.general")
    return tr(key, language, **values)


def ticket_steps(answers: dict[str, Any], form: Form, form_language: str,
                 completed: dt.datetime,
                 follow_up_days: int = DEFAULT_FOLLOW_UP_DAYS) -> list[str]:
    """What happens next, in the resident's words: the promise, what to do if it is urgent,
    and to keep the slip."""
    language = code_of(form_language)
    steps = [follow_up_promise(answers, form, form_language, completed, follow_up_days)]
    if answers.get("urgency") == "urgent":
        steps.append(tr("ticket.urgent", language))
    steps.append(tr("ticket.keep", language))
    return steps


@dataclass(frozen=True)
class PlanRoom:
    """The recommended items of one room, each with its reason: 燃气泄漏报警器（常忘关煤气或火）.
    ``name`` is empty for a plan stored before the form grouped it by room."""

    name: str
    items: tuple[str, ...]


def _split_outside_brackets(text: str, separator: str) -> list[str]:
    """``text`` cut at each ``separator`` that is not inside brackets (a reason in （）
    lists its causes with the same 、 that separates the items)."""
    parts: list[str] = []
    depth, start, index = 0, 0, 0
    while index < len(text):
        char = text[index]
        if char in OPENING:
            depth += 1
        elif char in CLOSING:
            depth = max(depth - 1, 0)
        elif depth == 0 and text.startswith(separator, index):
            parts.append(text[start:index])
            index += len(separator)
            start = index
            continue
        index += 1
    parts.append(text[start:])
    return [part.strip() for part in parts if part.strip()]


def plan_items(answers: dict[str, Any], language: str) -> list[PlanRoom]:
    """The recommended items the form derived (its ``plan`` / ``plan_en`` calculations),
    room by room: 卫生间：扶手（没有可以扶的地方）、防滑地面（地面湿滑）；厨房：…"""
    try:
        count = int(answers.get("rec_count") or 0)
    except (TypeError, ValueError):
        count = 0
    if count <= 0:
        return []
    language = code_of(language)
    text = str(answers.get("plan_en" if language == "en" else "plan") or "")
    between_rooms, after_room, between_items = PLAN_SEPARATORS[language]
    rooms = []
    for part in _split_outside_brackets(text, between_rooms):
        name, colon, items = part.partition(after_room)
        if not colon or any(mark in name for mark in OPENING):
            name, items = "", part  # a plan of an older form version: items only
        found = tuple(_split_outside_brackets(items, between_items))
        if found:
            rooms.append(PlanRoom(name.strip(), found))
    return rooms


def filler_text(enumerator: str | None, volunteer_name: str, language: str) -> str:
    """Who filled the form in: 志愿者 王芳（编号 JG0042） in field mode, 大厅自助填写 when a
    resident filled it at the hall (no volunteer number on the submission)."""
    if not enumerator:
        return tr("plan.by_hall", language)
    if volunteer_name:
        return tr("plan.by_volunteer", language, name=volunteer_name, number=enumerator)
    return tr("plan.by_number", language, number=enumerator)


def slip_kind(survey: str) -> str:
    """receipt, ticket or plan: what a finished questionnaire of ``survey`` prints."""
    return SLIP_OF_SURVEY.get(survey, "receipt")


def promise_for_submission(submission: Submission, form: Form,
                           follow_up_days: int = DEFAULT_FOLLOW_UP_DAYS) -> str:
    """The follow-up promise of a service request, as its ticket prints it ("" for other
    forms): the thank-you screen shows this very sentence."""
    if slip_kind(submission.survey) != "ticket":
        return ""
    return follow_up_promise(submission.answers, form,
                             form.language_or_default(submission.lang),
                             _parse_time(submission.completed), follow_up_days)


def receipt_for_submission(submission: Submission, form: Form, code: str, *, station: str,
                           footer: str = "", volunteer_name: str = "",
                           follow_up_days: int = DEFAULT_FOLLOW_UP_DAYS) -> Receipt:
    """The slip a finished questionnaire prints: service_request → ticket, home_adaptation →
    plan, every other form → the questionnaire receipt.

    ``volunteer_name``: the name of the volunteer whose number the submission carries (the
    plan names who filled it in); ``follow_up_days``: the station's ``[requests]
    follow_up_days``, promised on the ticket as on the thank-you screen."""
    form_language = form.language_or_default(submission.lang)
    language = code_of(form_language)
    completed = _parse_time(submission.completed)
    answers = submission.answers
    kind = slip_kind(submission.survey)
    title = form.title_in(form_language)
    if kind == "ticket":
        category = _choice_label(form, "category", answers.get("category"), form_language)
        if answers.get("category") == "other" and answers.get("category_specify"):
            separator = ": " if language == "en" else "："
            category = f"{category}{separator}{answers['category_specify']}"
        document = service_ticket(
            station=station, code=code, instance_id=submission.instance_id,
            category=category or "—",
            urgency=_choice_label(form, "urgency", answers.get("urgency"), form_language),
            next_steps=ticket_steps(answers, form, form_language, completed,
                                    follow_up_days),
            completed=completed, language=language, footer=footer)
    elif kind == "plan":
        document = adaptation_plan(
            station=station, code=code, instance_id=submission.instance_id,
            rooms=plan_items(answers, language),
            visit_date=_parse_date(answers.get("visit_date")) or completed.date(),
            filled_by=filler_text(submission.enumerator, volunteer_name, language),
            agreement=_choice_label(form, "agree_plan", answers.get("agree_plan"),
                                    form_language),
            language=language, footer=footer)
    else:
        document = questionnaire_receipt(
            station=station, title=title, completed=completed, code=code,
            instance_id=submission.instance_id, language=language, footer=footer)
    return Receipt(kind=kind, title=f"{title} {code}", source=submission.instance_id,
                   document=document)

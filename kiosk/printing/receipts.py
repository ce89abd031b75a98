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
# Working days until a social worker follows a service request up (the form promises 3).
FOLLOW_UP_DAYS = {"urgent": 1}
DEFAULT_FOLLOW_UP_DAYS = 3


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


def adaptation_plan(*, station: str, code: str, instance_id: str, items: list[str],
                    visit_date: dt.date | None, volunteer: str, agreement: str = "",
                    language: str = "zh", footer: str = "") -> Document:
    """The home-adaptation plan left with the household: the items the assessment
    recommended, the visit date and the volunteer who came."""
    document = _head(station, tr("plan.heading", language))
    if visit_date is not None:
        document.pair(tr("plan.visit_date", language), date_text(visit_date, language))
    document.pair(tr("plan.volunteer", language), volunteer or "—")
    document.pair(tr("receipt.code", language), code)
    document.rule()
    if items:
        document.text(tr("plan.items", language), bold=True)
        for number, item in enumerate(items, 1):
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


def ticket_steps(answers: dict[str, Any], form: Form, form_language: str,
                 completed: dt.datetime) -> list[str]:
    """What happens next, in the resident's words: who gets in touch, how, and by when."""
    language = code_of(form_language)
    urgency = answers.get("urgency")
    days = FOLLOW_UP_DAYS.get(urgency if isinstance(urgency, str) else "",
                              DEFAULT_FOLLOW_UP_DAYS)
    by = short_date_text(add_working_days(completed.date(), days), language)
    followup = answers.get("followup")
    values: dict[str, object] = {"days": days, "by": by}
    if followup == "office":
        values["when"] = _choice_label(form, "office_time", answers.get("office_time"),
                                       form_language) or tr("ticket.any_time", language)
    key = {"phone": "ticket.phone", "visit": "ticket.visit", "office": "ticket.office",
           "none": "ticket.none"}.get(followup if isinstance(followup, str) else "",
                                      "ticket.general")
    steps = [tr(key, language, **values)]
    if urgency == "urgent":
        steps.append(tr("ticket.urgent", language))
    steps.append(tr("ticket.keep", language))
    return steps


def plan_items(answers: dict[str, Any], language: str) -> list[str]:
    """The recommended items the form derived (its ``plan`` / ``plan_en`` calculations)."""
    try:
        count = int(answers.get("rec_count") or 0)
    except (TypeError, ValueError):
        count = 0
    if count <= 0:
        return []
    if code_of(language) == "en":
        text, separator = str(answers.get("plan_en") or ""), ","
    else:
        text, separator = str(answers.get("plan") or ""), "、"
    return [part.strip() for part in text.split(separator) if part.strip()]


def receipt_for_submission(submission: Submission, form: Form, code: str, *, station: str,
                           footer: str = "") -> Receipt:
    """The slip a finished questionnaire prints: service_request → ticket, home_adaptation →
    plan, every other form → the questionnaire receipt."""
    form_language = form.language_or_default(submission.lang)
    language = code_of(form_language)
    completed = _parse_time(submission.completed)
    answers = submission.answers
    kind = SLIP_OF_SURVEY.get(submission.survey, "receipt")
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
            next_steps=ticket_steps(answers, form, form_language, completed),
            completed=completed, language=language, footer=footer)
    elif kind == "plan":
        document = adaptation_plan(
            station=station, code=code, instance_id=submission.instance_id,
            items=plan_items(answers, language),
            visit_date=_parse_date(answers.get("visit_date")) or completed.date(),
            volunteer=submission.enumerator or "",
            agreement=_choice_label(form, "agree_plan", answers.get("agree_plan"),
                                    form_language),
            language=language, footer=footer)
    else:
        document = questionnaire_receipt(
            station=station, title=title, completed=completed, code=code,
            instance_id=submission.instance_id, language=language, footer=footer)
    return Receipt(kind=kind, title=f"{title} {code}", source=submission.instance_id,
                   document=document)

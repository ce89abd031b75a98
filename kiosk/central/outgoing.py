"""What leaves a kiosk for the central database — a sync's batches, a bundle's rows — is
checked before it goes: submissions through the record gate (surveys/gate.py), forms as a
form the kiosk could run, every other row for what PostgreSQL cannot hold (NUL in a text,
NaN or an infinite number, an integer past 64 bits). A row that fails is refused with the
reason and never keeps the rest from going: a sync sets it aside (store/sqlite/sync_cursors
.py), a bundle import reports it by line.

Rows are in the order of ``SYNC_COLUMNS`` (store/sqlite/sync_cursors.py).
"""

from __future__ import annotations

import json
import math
from typing import Any

from store import Volunteer, legacy_receipt_code, receipt_code
from store.central.tallies import layout_of
from store.sqlite.sync_cursors import SYNC_COLUMNS
from surveys.entities import saved_properties
from surveys.form import Form, FormInvalid
from surveys.gate import CheckedSubmission, RecordGate, RecordRefused, strict_json
from surveys.session import REFUSED_IN_LINE

TEXT_LIMIT = 100_000  # a note, a staff name, an audit detail: far less
SOURCES = ("kiosk", "import", "bundle")
_SUBMISSION = {name: index for index, name in enumerate(SYNC_COLUMNS["submissions"])}
_FORM = {name: index for index, name in enumerate(SYNC_COLUMNS["forms"])}
INT64 = 2**63


def submission_record(row: list[Any] | tuple[Any, ...]) -> dict[str, Any]:
    """A submissions row as the JSONL record the gate checks (answers parsed strictly)."""
    value = {name: row[index] for name, index in _SUBMISSION.items()}
    answers = value["answers"]
    if isinstance(answers, str):
        answers = strict_json(answers)
    record = {"instance_id": value["instance_id"], "survey": value["survey_id"],
              "version": value["version"], "kiosk": value["kiosk"], "site": value["site"],
              "started": value["started"], "completed": value["completed"],
              "lang": value["lang"], "enumerator": value["enumerator"], "answers": answers}
    entity = value["entity"]
    if entity is not None:
        record["entity"] = strict_json(entity) if isinstance(entity, str) else entity
    return record


def sent_entity(checked: CheckedSubmission, gate: RecordGate) -> dict[str, Any] | None:
    """A submission's register change as it travels (a JSON object in the signed row): its
    entity block with the properties its answers give, those of pii questions apart (the
    central database keeps them where only the pii reader reads them)."""
    if checked.entity is None:
        return None
    form = gate.form_of(checked.survey, checked.version)
    plain, private = saved_properties(form.saved_to, form.pii_names, checked.answers)
    return {**checked.entity, "properties": plain, "pii_properties": private}


def checked_submission(row: list[Any] | tuple[Any, ...],
                       gate: RecordGate) -> tuple[CheckedSubmission, list[Any]]:
    """A submissions row through the gate: the checked submission, and the row to send
    (canonical id and answers; the receipt code printed on the slip, if it is one this id
    can have, in either alphabet, else made again from the id)."""
    checked = gate.check(submission_record(row))
    source = row[_SUBMISSION["source"]]
    if source not in SOURCES:
        raise RecordRefused(f"'source' must be one of {', '.join(SOURCES)}")
    stored_at = _plain(row[_SUBMISSION["stored_at"]], "stored_at", 40)
    return checked, [
        checked.instance_id, checked.survey, checked.version, checked.kiosk, checked.site,
        checked.started, checked.completed, checked.lang, checked.enumerator,
        json.dumps(checked.answers, ensure_ascii=False, separators=(",", ":")),
        sent_receipt_code(checked.instance_id, row[_SUBMISSION["receipt_code"]]), source,
        stored_at, sent_entity(checked, gate)]


def sent_receipt_code(instance_id: str, stored: Any) -> str:
    """The code on the resident's slip: a submission stored before the alphabet without
    look-alikes keeps its old code. Nothing else stored there is believed."""
    if isinstance(stored, str) and stored in (receipt_code(instance_id),
                                              legacy_receipt_code(instance_id)):
        return stored
    return receipt_code(instance_id)


def checked_form(row: list[Any] | tuple[Any, ...]) -> dict[str, Any]:
    """A forms row's compiled form, if the kiosk could run it (RecordRefused if not)."""
    compiled = row[_FORM["compiled"]]
    try:
        compiled = strict_json(compiled) if isinstance(compiled, str) else compiled
        if not isinstance(compiled, dict):
            raise RecordRefused("the compiled form is not a JSON object")
        form = Form(compiled)
        form.check_bounds()
    except FormInvalid as error:
        raise RecordRefused(f"not a form the kiosk can run: {error}") from None
    except (KeyError, TypeError, ValueError) as error:
        if isinstance(error, RecordRefused):
            raise
        raise RecordRefused(f"not a compiled form ({type(error).__name__}: {error})") from None
    if (form.survey_id, form.version) != (row[_FORM["survey_id"]], row[_FORM["version"]]):
        raise RecordRefused("the row's survey and version are not its form's")
    for key in ("title", "source_name", "source_sha256", "installed_at"):
        _plain(row[_FORM[key]], key, TEXT_LIMIT)
    return compiled


def form_layout(row: list[Any] | tuple[Any, ...]) -> str:
    """A checked forms row's questions as the central statistics lay them out (JSON of
    [question, kind, position]), sent beside the signed row."""
    compiled = row[_FORM["compiled"]]
    form = Form(strict_json(compiled) if isinstance(compiled, str) else compiled)
    return json.dumps([list(entry) for entry in layout_of(form)], ensure_ascii=False)


def _plain(value: Any, what: str, limit: int) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if abs(value) >= INT64:
            raise RecordRefused(f"'{what}' is a number past 64 bits")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise RecordRefused(f"'{what}' is {value!r}, not a number PostgreSQL keeps")
        return value
    if isinstance(value, str):
        if "\x00" in value:
            raise RecordRefused(f"'{what}' holds a NUL character")
        if len(value) > limit:
            raise RecordRefused(f"'{what}' is longer than {limit:,} characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise RecordRefused(f"'{what}' is not Unicode text (a lone surrogate)") from None
        return value
    raise RecordRefused(f"'{what}' is a {type(value).__name__}, not a value of a row")


def checked_row(stream: str, row: list[Any] | tuple[Any, ...], gate: RecordGate, *,
                trusted: bool = False) -> list[Any]:
    """The row to send for ``stream``, or RecordRefused saying why it may not go.
    ``trusted``: a submission this kiosk stored through the gate, which bounded every
    value already: it goes as it is (should the central database refuse it all the same,
    the sync sets it aside as any refused row)."""
    columns = SYNC_COLUMNS[stream]
    if not isinstance(row, list | tuple) or len(row) != len(columns):
        raise RecordRefused(f"a {stream} row has {len(columns)} values")
    if stream == "submissions":
        # A register change travels with its properties, which the gate's form gives.
        if trusted and row[_SUBMISSION["entity"]] is None:
            return list(row)
        return checked_submission(row, gate)[1]
    if stream == "forms":
        checked_form(row)
    return [_plain(value, column, TEXT_LIMIT) for column, value in zip(columns, row,
                                                                        strict=True)]


def sendable_roster(volunteers: list[Volunteer]) -> tuple[list[Volunteer], list[tuple[str, str]]]:
    """The roster entries that may go to the central database, and (number, why) of those
    that may not as they are (a NUL or a control character in a name, written before the
    roster's checks: fix them with `kiosk volunteer`)."""
    sendable, held = [], []
    for volunteer in volunteers:
        texts = (volunteer.number, volunteer.name, volunteer.phone, volunteer.id_card,
                 volunteer.team, volunteer.organisation)
        if any(REFUSED_IN_LINE.search(text) for text in texts):
            held.append((repr(volunteer.number)[1:-1],
                         "a control character in its name, team or organisation"))
        else:
            sendable.append(volunteer)
    return sendable, held

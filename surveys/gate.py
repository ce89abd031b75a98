"""The record gate: every submission passes here before any database stores it, whatever its
road — a resident's screens, ``kiosk import``, a bundle into a kiosk, a bundle or a sync batch
into the central database.

A record is checked as the screen checks a resident (types, choices, required, constraints,
relevance, through the same ``FormSession``), calculates are computed again rather than
trusted, the instance id is made canonical (a lower-case UUID; ``uuid:`` is taken and
dropped), and every value is bounded: text no longer than the screen allows, numbers finite
and in range, no control characters but a newline in a multiline text, no bidi overrides;
the metadata (kiosk, site, enumerator, language, times) short printable text. A repeat group
is a list of objects, one per instance, each checked by the same rules and named by its place
(``members[2].age``), at most 100 per repeat and 1000 in all. What passes is
a ``CheckedSubmission``, the only kind of submission the stores take: there is no other way
to make one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from surveys.entities import saved_properties
from surveys.expressions import parse_datetime
from surveys.form import Form, language_code
from surveys.session import REFUSED_IN_LINE, FormSession, Submission

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
RECORD_KEYS = frozenset({"instance_id", "survey", "version", "kiosk", "site", "started",
                         "completed", "lang", "enumerator", "answers", "entity"})
ENTITY_KEYS = frozenset({"dataset", "id", "action", "label", "base_version"})
# A sync row or a bundle carries the properties too (kiosk/central/outgoing.py).
TRAVELLING_KEYS = frozenset({"properties", "pii_properties"})
# Metadata are short: a kiosk id, 街道/社区, a volunteer number, a language code.
METADATA_LIMIT = 100
NAME_LIMIT = 100  # survey ids and versions
TIME_LIMIT = 40  # 2026-11-20T09:25:00.000+08:00 is 29
_SEAL = object()
# JSON from outside: nesting a record needs (a record, its answers, a list of choices: 3)
# with room to spare; integers of more digits than any answer (Python's own limit of 4,300
# digits would be a crash, not a message).
MAX_DEPTH = 16
MAX_DIGITS = 30


class RecordRefused(ValueError):
    """A record the gate does not let through; the message says what, the caller where."""


@dataclass
class CheckedSubmission(Submission):
    """A submission that came through the gate. Made only by ``RecordGate``."""

    seal: object = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.seal is not _SEAL:
            raise TypeError("a CheckedSubmission is made only by surveys.gate.RecordGate")


def _no_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise RecordRefused(f"key {_shown(key)} is given twice in one object")
        found[key] = value
    return found


def _bounded_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_DIGITS:
        raise RecordRefused(f"a number of {digits:,} digits")
    return int(text)


def _no_constant(name: str) -> Any:
    raise RecordRefused(f"{name} is not a number a record may hold")


def _depth(text: str) -> int:
    """The deepest nesting of arrays and objects in a JSON text (strings skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def strict_json(text: str) -> Any:
    """JSON from outside (a file line, a bundle row, answers kept as text), or RecordRefused:
    no key given twice in an object, no NaN or Infinity, no integer of more than
    ``MAX_DIGITS`` digits, no nesting deeper than ``MAX_DEPTH``."""
    if text.count("[") + text.count("{") > MAX_DEPTH and _depth(text) > MAX_DEPTH:
        raise RecordRefused(f"nested deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(text, object_pairs_hook=_no_repeated_keys, parse_int=_bounded_int,
                          parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        raise RecordRefused(f"not valid JSON: {error.msg} (column {error.colno})") from None
    except RecursionError:
        raise RecordRefused(f"nested deeper than {MAX_DEPTH} levels") from None


def canonical_instance_id(value: Any) -> str:
    """The instance id as stored: a lower-case UUID, without ODK's ``uuid:`` prefix."""
    if not isinstance(value, str) or not value.strip():
        raise RecordRefused("'instance_id' must be a non-empty string")
    text = value.strip().lower().removeprefix("uuid:")
    if not UUID.fullmatch(text):
        raise RecordRefused(f"instance_id {_shown(value)} is not a UUID")
    return text


def _shown(value: Any, limit: int = 60) -> str:
    """A value as a message quotes it: escaped, and cut when long."""
    text = value if isinstance(value, str) else str(value)
    return repr(text[:limit]) + ("…" if len(text) > limit else "")


def _short_text(record: Mapping[str, Any], key: str, *, required: bool = False,
                limit: int = METADATA_LIMIT) -> str | None:
    value = record.get(key)
    if value is None or (value == "" and not required):
        if required:
            raise RecordRefused(f"'{key}' is missing")
        return None
    if not isinstance(value, str) or not value.strip():
        raise RecordRefused(f"'{key}' must be a non-empty string")
    if len(value) > limit:
        raise RecordRefused(f"'{key}' is longer than {limit} characters ({len(value):,})")
    if REFUSED_IN_LINE.search(value):
        raise RecordRefused(f"'{key}' holds control or direction characters: {_shown(value)}")
    return value


class RecordGate:
    """Checks records against the installed forms (``compiled``: survey -> version ->
    compiled form, oldest version first), one reusable FormSession per form version."""

    def __init__(self, compiled: Mapping[str, Mapping[str, dict[str, Any]]]) -> None:
        self.compiled: dict[str, dict[str, dict[str, Any]]] = {
            survey: dict(versions) for survey, versions in compiled.items()}
        self._sessions: dict[tuple[str, str], FormSession] = {}

    @classmethod
    def for_forms(cls, forms: Iterable[Form]) -> RecordGate:
        compiled: dict[str, dict[str, dict[str, Any]]] = {}
        for form in forms:
            compiled.setdefault(form.survey_id, {})[form.version] = form.compiled
        return cls(compiled)

    def add_form(self, compiled: dict[str, Any]) -> None:
        """A form version that arrived later (a bundle's): its records pass too."""
        self.compiled.setdefault(str(compiled["survey_id"]), {})[
            str(compiled["version"])] = compiled

    def _session(self, survey: str, version: str | None) -> FormSession:
        versions = self.compiled.get(survey)
        if not versions:
            raise RecordRefused(f"unknown survey {_shown(survey)}")
        if version is None:
            version = next(reversed(versions))  # the newest installed
        if version not in versions:
            raise RecordRefused(f"survey '{survey}' has no version {_shown(version)} here "
                                f"(installed: {', '.join(versions)})")
        key = (survey, version)
        session = self._sessions.get(key)
        if session is None:
            form = Form(versions[version])
            english = next((name for name in form.languages
                            if language_code(name) == "en"), None)
            session = self._sessions[key] = FormSession(form, english, apply_defaults=False)
        return session

    def form_of(self, survey: str, version: str) -> Form:
        """The installed form a record of ``survey`` ``version`` is checked against."""
        return self._session(survey, version).form

    def check(self, record: Any, *, kiosk: str | None = None,
              site: str | None = None) -> CheckedSubmission:
        """Check one record (a JSONL object); RecordRefused says why it may not be stored.
        ``kiosk`` and ``site`` stand in when the record names none."""
        if not isinstance(record, dict):
            raise RecordRefused("a record must be a JSON object")
        unknown = sorted(str(key) for key in record if key not in RECORD_KEYS)
        if unknown:
            raise RecordRefused(f"unknown key {', '.join(map(_shown, unknown))} (a record has "
                                f"{', '.join(sorted(RECORD_KEYS))})")
        instance_id = canonical_instance_id(record.get("instance_id"))
        survey = _short_text(record, "survey", required=True, limit=NAME_LIMIT)
        assert survey is not None
        version = record.get("version")
        if version is not None:
            if isinstance(version, bool) or not isinstance(version, str | int):
                raise RecordRefused("'version' must be a string")
            version = _short_text({"version": str(version)}, "version", limit=NAME_LIMIT)
        session = self._session(survey, version)
        form = session.form
        moments = {}
        for key in ("started", "completed"):
            text = _short_text(record, key, required=key == "completed", limit=TIME_LIMIT)
            if text is not None and parse_datetime(text) is None:
                raise RecordRefused(f"'{key}' is not an ISO 8601 date-time: {_shown(text)}")
            moments[key] = text
        language = _short_text(record, "lang") or language_code(form.default_language)
        metadata = {key: _short_text(record, key) for key in ("kiosk", "enumerator", "site")}
        answers = record.get("answers")
        if not isinstance(answers, dict):
            raise RecordRefused("'answers' must be a JSON object")
        problems = session.load_record(answers)
        if problems:
            raise RecordRefused("; ".join(
                f"answer '{problem.question}': {problem.message}" for problem in problems))
        completed = moments["completed"] or ""
        entity = self._entity(session, record.get("entity"), instance_id)
        return CheckedSubmission(
            instance_id=instance_id, survey=form.survey_id, version=form.version,
            started=moments["started"] or completed, completed=completed, lang=language,
            answers=session.answers(), kiosk=metadata["kiosk"] or kiosk,
            enumerator=metadata["enumerator"], site=metadata["site"] or site, entity=entity,
            seal=_SEAL)

    @staticmethod
    def _entity(session: FormSession, sent: Any, instance_id: str) -> dict[str, Any] | None:
        """The record's change to a register, computed again from its answers: whether it
        creates or updates, which entry and its label. Only the version its visitor saw is
        taken as sent (a number, or none); a block that says otherwise is refused."""
        computed = session.entity_block(instance_id)
        if sent is None:
            return computed
        if not isinstance(sent, dict):
            raise RecordRefused("'entity' must be a JSON object")
        unknown = sorted(str(key) for key in sent if key not in ENTITY_KEYS | TRAVELLING_KEYS)
        if unknown:
            raise RecordRefused(f"'entity' has an unknown key {_shown(unknown[0])}")
        if computed is None:
            raise RecordRefused("'entity': this form's answers change no register "
                                "(这份问卷的回答不登记也不更新名单)")
        if TRAVELLING_KEYS & set(sent):
            form = session.form
            plain, private = saved_properties(form.saved_to, form.pii_names, session.answers())
            computed.update(properties=plain, pii_properties=private)
        for key in ("dataset", "id", "action", "label", *sorted(TRAVELLING_KEYS & set(sent))):
            if key in sent and sent[key] != computed.get(key):
                raise RecordRefused(
                    f"'entity.{key}' is {_shown(sent[key])}, but the answers give "
                    f"{_shown(computed.get(key))} (名单记录和回答不一致)")
        if computed["action"] == "update":
            seen = sent.get("base_version")
            if seen is not None and (isinstance(seen, bool) or not isinstance(seen, int)
                                     or not 0 < seen < 10**9):
                raise RecordRefused(f"'entity.base_version' must be a version number, not "
                                    f"{_shown(seen)}")
            computed["base_version"] = seen
        for key in TRAVELLING_KEYS:
            computed.pop(key, None)
        return computed

    def check_submission(self, submission: Submission) -> CheckedSubmission:
        """A finished questionnaire (the screens' road), through the same checks."""
        if isinstance(submission, CheckedSubmission):
            return submission
        return self.check(submission.to_json())

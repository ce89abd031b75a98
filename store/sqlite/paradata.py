"""Paradata: how each questionnaire was filled, stored with its submission, and its flags
(答得过快, 量表题全选同一项) computed when read — a survey's median moves as submissions arrive.

The rules of the flags are surveys/paradata.py's (``flags``); this part only gathers what
they compare: the seconds of the survey's questionnaires and each one's Likert answers.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from store.sqlite.connection import StoreBase
from surveys.form import Form
from surveys.gate import CheckedSubmission
from surveys.paradata import ParadataRecord, ParadataRow, flags, likert_names, speeder_median


def _events(text: str) -> list[dict[str, Any]]:
    """The stored event list; a damaged one reads as none (the counts still stand)."""
    try:
        events = json.loads(text)
    except (TypeError, ValueError):
        return []
    return [event for event in events if isinstance(event, dict)] \
        if isinstance(events, list) else []


class Paradata(StoreBase):
    """The ``paradata`` table: one row per submission filled on this kiosk's screens."""

    def save_submission_with_paradata(self, submission: CheckedSubmission,
                                      paradata: ParadataRecord | None,
                                      source: str = "kiosk") -> str:
        """``save_submission`` and its paradata in one transaction (both or neither);
        returns the receipt code. The row takes the submission's own ids (as the gate made
        them canonical). Stored twice: the first paradata stays."""
        with self.transaction():
            code: str = self.save_submission(submission, source)  # type: ignore[attr-defined]
            if paradata is not None:
                self.conn.execute(
                    "INSERT OR IGNORE INTO paradata(instance_id, survey_id, version, seconds,"
                    " answer_changes, back_steps, interruptions, events)"
                    " VALUES (?,?,?,?,?,?,?,?)",
                    (submission.instance_id, submission.survey, submission.version,
                     float(paradata.seconds), paradata.answer_changes, paradata.back_steps,
                     paradata.interruptions,
                     json.dumps(paradata.events, ensure_ascii=False, separators=(",", ":"))))
        return code

    def paradata_of(self, instance_id: str) -> ParadataRow | None:
        """One submission's paradata with its flags (None: none recorded, e.g. imported)."""
        canonical = instance_id.strip().lower().removeprefix("uuid:")
        found = self.conn.execute("SELECT survey_id FROM paradata WHERE instance_id IN (?,?)",
                                  (instance_id, canonical)).fetchone()
        if found is None:
            return None
        rows = self.paradata_rows(found[0], only={instance_id, canonical})
        return rows[0] if rows else None

    def paradata_flags(self, survey_id: str) -> dict[str, list[str]]:
        """instance id -> its flags (``speeder``, ``straight_line``; [] for none), for every
        submission of the survey with paradata."""
        return {row.instance_id: row.flags for row in self.paradata_rows(survey_id)}

    def paradata_rows(self, survey_id: str,
                      only: Collection[str] | None = None) -> list[ParadataRow]:
        """The survey's submissions with paradata, oldest first, each with its flags;
        ``only``: just these instance ids (the flags still compare with the whole survey)."""
        # The median compares with every complete record of the survey, whatever is shown.
        compared = [seconds for seconds, events in self.conn.execute(
            "SELECT seconds, events FROM paradata WHERE survey_id=?", (survey_id,))
            if ParadataRecord(seconds, 0, 0, 0, _events(events)).complete]
        median = speeder_median(compared)
        query = ("SELECT p.instance_id, p.version, s.completed, p.seconds, p.answer_changes,"
                 " p.back_steps, p.interruptions, p.events, coalesce(s.corrected, s.answers)"
                 " FROM paradata p JOIN submissions s ON s.instance_id = p.instance_id"
                 " WHERE p.survey_id=?")
        parameters: list[Any] = [survey_id]
        if only is not None:
            wanted = list(only)[:500]  # (SQLite's variable limit; callers ask for a few)
            query += f" AND p.instance_id IN ({','.join('?' * len(wanted))})"
            parameters.extend(wanted)
        likert: dict[str, list[str]] = {}
        rows = []
        for (instance_id, version, completed, seconds, changes, backs, interruptions,
             events, answers) in self.conn.execute(
                query + " ORDER BY s.completed, p.instance_id", parameters):
            if version not in likert:
                likert[version] = self._likert_of(survey_id, version)
            record = ParadataRecord(float(seconds), int(changes), int(backs),
                                    int(interruptions), _events(events))
            given = _answers(answers)
            rows.append(ParadataRow(instance_id, survey_id, version, completed or "", record,
                                    flags(record, median,
                                          [given.get(name) for name in likert[version]])))
        return rows

    def _likert_of(self, survey_id: str, version: str) -> list[str]:
        try:
            form: Form = self.load_form(survey_id, version)  # type: ignore[attr-defined]
        except (KeyError, LookupError, ValueError):
            return []  # a version no longer here: no Likert questions known
        return likert_names(form)


def _answers(text: str | None) -> dict[str, Any]:
    try:
        answers = json.loads(text or "{}")
    except ValueError:
        return {}
    return answers if isinstance(answers, dict) else {}

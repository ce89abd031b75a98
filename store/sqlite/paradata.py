"""Paradata: how each questionnaire was filled, stored with its submission, and its flags
(答得过快, 量表题全选同一项) computed when read — a survey's median moves as submissions arrive.

The rules of the flags are surveys/paradata.py's (``flags``); this part only gathers what
they compare: the seconds of the survey's questionnaires and each one's Likert answers.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from typing import Any

from store.sqlite.connection import StoreBase
from surveys.form import Form
from surveys.gate import CheckedSubmission
from surveys.paradata import ParadataRecord, ParadataRow, flags, likert_names, speeder_median

# A resumed draft whose earlier time was lost (surveys/paradata.py writes its events compactly;
# the spaced form is json.dumps's default, in case a row came another way).
LOST = "(instr(events, '\"lost\":true') > 0 OR instr(events, '\"lost\": true') > 0)"


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
        submission of the survey with paradata. (No event list is read: 20,000 in ~0.5 s.)"""
        return {instance_id: found for instance_id, _, found in self._flagged(survey_id)}

    def paradata_rows(self, survey_id: str,
                      only: Collection[str] | None = None) -> list[ParadataRow]:
        """The survey's submissions with paradata, oldest first, each with its events and
        flags; ``only``: just these instance ids (the flags still compare with the whole
        survey)."""
        flagged = {instance_id: (completed, found)
                   for instance_id, completed, found in self._flagged(survey_id, only)}
        query = ("SELECT instance_id, version, seconds, answer_changes, back_steps,"
                 " interruptions, events FROM paradata WHERE survey_id=?")
        parameters: list[Any] = [survey_id]
        if only is not None:  # (one submission's: not every event list of the survey)
            wanted = list(flagged)
            query += f" AND instance_id IN ({','.join('?' * len(wanted))})"
            parameters.extend(wanted)
        rows = []
        for (instance_id, version, seconds, changes, backs, interruptions,
             events) in self.conn.execute(query, parameters):
            if instance_id not in flagged:
                continue
            completed, found = flagged[instance_id]
            record = ParadataRecord(float(seconds), int(changes), int(backs),
                                    int(interruptions), _events(events))
            rows.append(ParadataRow(instance_id, survey_id, version, completed, record, found))
        order = {instance_id: place for place, instance_id in enumerate(flagged)}
        return sorted(rows, key=lambda row: order[row.instance_id])

    def _flagged(self, survey_id: str, only: Collection[str] | None = None,
                 ) -> Iterator[tuple[str, str, list[str]]]:
        """(instance id, completed, flags) of the survey's submissions with paradata, oldest
        first. The median compares with every record of the survey whose time is complete
        (a resumed draft's ``"lost":true`` is found in the text, not by parsing it)."""
        median = speeder_median(seconds for (seconds,) in self.conn.execute(
            f"SELECT seconds FROM paradata WHERE survey_id=? AND NOT {LOST}", (survey_id,)))
        query = (f"SELECT p.instance_id, p.version, s.completed, p.seconds, {LOST},"
                 " coalesce(s.corrected, s.answers)"
                 " FROM paradata p JOIN submissions s ON s.instance_id = p.instance_id"
                 " WHERE p.survey_id=?")
        parameters: list[Any] = [survey_id]
        if only is not None:
            wanted = list(only)[:500]  # (SQLite's variable limit; callers ask for a few)
            query += f" AND p.instance_id IN ({','.join('?' * len(wanted))})"
            parameters.extend(wanted)
        likert: dict[str, list[str]] = {}
        for instance_id, version, completed, seconds, lost, answers in self.conn.execute(
                query + " ORDER BY s.completed, p.instance_id", parameters):
            if version not in likert:
                likert[version] = self._likert_of(survey_id, version)
            given = _answers(answers) if likert[version] else {}
            yield instance_id, completed or "", flags(
                float(seconds), not lost, median, [given.get(name) for name in likert[version]])

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

"""Installed forms: each version stored compiled (so the kiosk never runs pyxform when it
starts), and read back as ``Form`` objects, cached per version."""

from __future__ import annotations

import json
from typing import Any

from store.errors import FormVersionConflict
from store.rows import FormInfo
from store.sqlite.connection import StoreBase
from surveys.clock import now_stamp
from surveys.form import Form
from surveys.gate import RecordGate


class Forms(StoreBase):
    """Installing and reading form versions."""

    def install_form(self, compiled: dict[str, Any]) -> bool:
        """Store a compiled form version. False if that exact version is already there.

        A different form under a version that is already installed is refused: submissions
        are read by (survey, version), so the same version must always mean the same form.
        """
        form = Form(compiled)
        with self.transaction():
            existing = self.conn.execute(
                "SELECT source_sha256 FROM forms WHERE survey_id=? AND version=?",
                (form.survey_id, form.version)).fetchone()
            if existing is not None:
                if existing[0] == compiled.get("source_sha256"):
                    return False
                raise FormVersionConflict(
                    f"survey '{form.survey_id}' version {form.version} is already installed "
                    "with different content; change 'version' on the settings sheet and "
                    "import again"
                )
            self.conn.execute(
                "INSERT INTO forms(survey_id, version, title, default_language, question_count,"
                " compiled, source_name, source_sha256, installed_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (form.survey_id, form.version, json.dumps(form.title, ensure_ascii=False),
                 form.default_language, form.question_count,
                 json.dumps(compiled, ensure_ascii=False, separators=(",", ":")),
                 compiled.get("source_name", ""), compiled.get("source_sha256", ""), now_stamp()),
            )
            self.stats.ensure_form(form)
        self._forms[(form.survey_id, form.version)] = form
        return True

    def record_gate(self) -> RecordGate:
        """The record gate (surveys/gate.py) over the forms installed here; made again when
        a form was installed since (by this or another process)."""
        installed = int(self.conn.execute("SELECT count(*) FROM forms").fetchone()[0])
        if self._gate is None or self._gate_forms != installed:
            self._gate = RecordGate(self.compiled_forms())
            self._gate_forms = installed
        return self._gate

    def list_forms(self) -> list[FormInfo]:
        """The newest version of every installed survey, in installation order."""
        rows = self.conn.execute(
            "SELECT survey_id, version, title, default_language, question_count, installed_at,"
            " source_name FROM forms f WHERE rowid = (SELECT rowid FROM forms g"
            " WHERE g.survey_id = f.survey_id ORDER BY installed_at DESC, rowid DESC LIMIT 1)"
            " ORDER BY (SELECT min(rowid) FROM forms h WHERE h.survey_id = f.survey_id)"
        ).fetchall()
        return [FormInfo(row[0], row[1], json.loads(row[2]), row[3], row[4], row[5], row[6])
                for row in rows]

    def versions(self, survey_id: str) -> list[str]:
        return [row[0] for row in self.conn.execute(
            "SELECT version FROM forms WHERE survey_id=? ORDER BY installed_at, rowid",
            (survey_id,))]

    def opening_question_count(self, survey_id: str, version: str) -> int:
        """How many questions a resident is asked before any answer opens or closes a
        branch: the 共 N 题 of home and of the form's first screen.

        Remembered per form version (a version never changes), so that at a cold start home
        need not build a session, with lxml, for every questionnaire it offers."""
        key = f"opening_questions {survey_id} {version}"
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        if row is not None:
            return int(row[0])
        from surveys.session import FormSession

        form = self.load_form(survey_id, version)
        count = FormSession(form, form.default_language).progress()[1]
        with self.transaction():
            self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                              (key, str(count)))
        return count

    def compiled_forms(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Every installed form version: survey -> version -> compiled, oldest first."""
        forms: dict[str, dict[str, dict[str, Any]]] = {}
        for survey_id, version, compiled in self.conn.execute(
                "SELECT survey_id, version, compiled FROM forms ORDER BY installed_at, rowid"):
            forms.setdefault(survey_id, {})[version] = json.loads(compiled)
        return forms

    def load_form(self, survey_id: str, version: str | None = None) -> Form:
        """A form by id (newest version unless one is named), from the compiled cache."""
        if version is None:
            row = self.conn.execute(
                "SELECT version FROM forms WHERE survey_id=? ORDER BY installed_at DESC,"
                " rowid DESC LIMIT 1", (survey_id,)).fetchone()
            if row is None:
                raise KeyError(survey_id)
            version = str(row[0])
        key = (survey_id, version)
        if key not in self._forms:
            row = self.conn.execute(
                "SELECT compiled FROM forms WHERE survey_id=? AND version=?", key).fetchone()
            if row is None:
                raise KeyError(f"{survey_id} version {version}")
            self._forms[key] = Form(json.loads(row[0]))
        return self._forms[key]

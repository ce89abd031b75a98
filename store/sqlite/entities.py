"""Registers (households …) in the kiosk database (schema 10): every change a finished
questionnaire made (``entity_changes``, one row per submission that made one), and each
entry as those changes leave it (``entities``, folded by surveys/entities.py), kept in the
transaction that stores the submission.

Changes arrive from this kiosk's screens, from ``kiosk import`` and bundles (through the
record gate, like the submissions that carry them), and from the central database (the
register of this kiosk's street, made at other kiosks). The entry is folded again from all
its changes whenever one arrives, so the order of arrival never matters.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from store.sqlite.connection import StoreBase
from surveys.entities import (
    SEARCH_LIMIT,
    Entity,
    EntityChange,
    fold,
    saved_properties,
    search_terms,
    search_text,
)
from surveys.session import Submission

_ENTITY_COLUMNS = ("dataset, entity_id, label, version, properties, created, updated, site,"
                   " conflicts, changes")


def _entity_of(row: Sequence[Any]) -> Entity:
    return Entity(dataset=row[0], entity_id=row[1], label=row[2], version=int(row[3]),
                  properties=json.loads(row[4]), created=row[5], updated=row[6], site=row[7],
                  conflicts=json.loads(row[8]), changes=json.loads(row[9]))


class Registers(StoreBase):
    """The kiosk's registers: read by questionnaires (``EntitySource``) and staff."""

    # ---- what questionnaires read ----------------------------------------------------------

    def entity(self, dataset: str, entity_id: str) -> Entity | None:
        row = self.conn.execute(
            f"SELECT {_ENTITY_COLUMNS} FROM entities WHERE dataset=? AND entity_id=?",
            (dataset, entity_id)).fetchone()
        return _entity_of(row) if row is not None else None

    def search_entities(self, dataset: str, text: str,
                        limit: int = SEARCH_LIMIT) -> list[Entity]:
        """Entries whose label or properties hold every word of ``text`` (a name, part of
        an address, the last digits of a phone), most recently changed first."""
        terms = search_terms(text)
        conditions = "".join(" AND instr(search, ?) > 0" for _term in terms)
        rows = self.conn.execute(
            f"SELECT {_ENTITY_COLUMNS} FROM entities WHERE dataset=?{conditions}"
            " ORDER BY updated DESC, entity_id LIMIT ?",
            (dataset, *terms, max(1, min(limit, 500))))
        return [_entity_of(row) for row in rows]

    # ---- what staff read -------------------------------------------------------------------

    def entity_lists(self) -> dict[str, int]:
        """Each register and how many entries it holds."""
        return {row[0]: row[1] for row in self.conn.execute(
            "SELECT dataset, count(*) FROM entities GROUP BY dataset ORDER BY dataset")}

    def entities_of(self, dataset: str) -> list[Entity]:
        return [_entity_of(row) for row in self.conn.execute(
            f"SELECT {_ENTITY_COLUMNS} FROM entities WHERE dataset=? ORDER BY label, entity_id",
            (dataset,))]

    def register_pii(self, dataset: str) -> set[str]:
        """The properties of ``dataset`` that some installed form saves from a question
        marked pii (names, phones): left out of default exports and listings."""
        personal: set[str] = set()
        for survey, versions in self.compiled_forms().items():  # type: ignore[attr-defined]
            for version in versions:
                form = self.load_form(survey, version)  # type: ignore[attr-defined]
                if form.entity is not None and form.entity.dataset == dataset:
                    personal.update(name for name, question in form.saved_to.items()
                                    if question in form.pii_names)
        return personal

    def register_labels(self, dataset: str, language: str | None = None) -> dict[str, str]:
        """Each property of ``dataset`` named by the question that saves it (住址 for
        address), from the newest installed form that does."""
        labels: dict[str, str] = {}
        for survey, versions in self.compiled_forms().items():  # type: ignore[attr-defined]
            form = self.load_form(survey, list(versions)[-1])  # type: ignore[attr-defined]
            if form.entity is None or form.entity.dataset != dataset:
                continue
            for name, question in form.saved_to.items():
                text = form.text(form.by_name[question].label,
                                 form.language_or_default(language))
                if text and "${" not in text:
                    labels.setdefault(name, text)
        return labels

    def visits_of(self, dataset: str, entity_id: str) -> list[dict[str, Any]]:
        """The questionnaires that changed a household, oldest first: which form, when,
        where, by whom, and what it did."""
        visits = []
        for change in self.entity_changes(dataset, entity_id):
            row = self.conn.execute(
                "SELECT survey_id, kiosk, enumerator FROM submissions WHERE instance_id=?",
                (change.instance_id,)).fetchone()
            visits.append({"instance_id": change.instance_id, "completed": change.completed,
                           "action": change.action, "site": change.site,
                           "survey": row[0] if row else None,
                           "kiosk": row[1] if row else None,
                           "enumerator": row[2] if row else None,
                           "base_version": change.base_version,
                           "properties": dict(change.properties)})
        return visits

    def entity_changes(self, dataset: str, entity_id: str) -> list[EntityChange]:
        """The changes of one entry, in the order they apply."""
        rows = self.conn.execute(
            "SELECT dataset, entity_id, action, instance_id, completed, label, base_version,"
            " properties, site FROM entity_changes WHERE dataset=? AND entity_id=?"
            " ORDER BY completed, instance_id", (dataset, entity_id))
        return [EntityChange(dataset=row[0], entity_id=row[1], action=row[2],
                             instance_id=row[3], completed=row[4], label=row[5],
                             base_version=row[6], properties=json.loads(row[7]), site=row[8])
                for row in rows]

    # ---- received from the central database --------------------------------------------------

    def register_cursor(self, central: str) -> str:
        """How far this kiosk has received the register changes of ``central`` ('')."""
        row = self.conn.execute("SELECT value FROM meta WHERE key=?",
                                (f"register_cursor:{central}",)).fetchone()
        return str(row[0]) if row else ""

    def set_register_cursor(self, central: str, cursor: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                          (f"register_cursor:{central}", cursor))

    # ---- kept with the submissions -----------------------------------------------------------

    def change_of(self, submission: Submission) -> EntityChange | None:
        """What a submission does to a register: its entity block with the answers of the
        questions saved to it (a question left blank keeps what the register knew)."""
        block = submission.entity
        if not block:
            return None
        form = self.load_form(submission.survey, submission.version)  # type: ignore[attr-defined]
        plain, private = saved_properties(form.saved_to, form.pii_names, submission.answers)
        properties = {**plain, **private}
        return EntityChange(
            dataset=str(block["dataset"]), entity_id=str(block["id"]),
            action=str(block["action"]), instance_id=submission.instance_id,
            completed=submission.completed, label=str(block.get("label") or ""),
            base_version=block.get("base_version"), properties=properties,
            site=submission.site or "")

    def unknown_entity(self, submission: Submission,
                       created: Iterable[tuple[str, str]] = ()) -> str | None:
        """Why a submission may not be stored here: it updates a register entry this kiosk
        does not have (nor creates in the same batch, ``created``); None when it may."""
        block = submission.entity
        if not block or block.get("action") != "update":
            return None
        key = (str(block["dataset"]), str(block["id"]))
        if key in set(created) or self.entity(*key) is not None:
            return None
        return (f"名单“{key[0]}”里没有 {key[1]} 这一户（这台自助机还没有它的登记；先同步或导入"
                f"登记它的问卷） (the register '{key[0]}' has no entry {key[1]} here)")

    def add_entity_changes(self, changes: Iterable[EntityChange]) -> int:
        """Keep changes (in the caller's transaction) and fold the entries they touch again;
        returns how many were new."""
        new = 0
        touched: set[tuple[str, str]] = set()
        for change in changes:
            cursor = self.conn.execute(
                "INSERT OR IGNORE INTO entity_changes(instance_id, dataset, entity_id, action,"
                " completed, label, base_version, properties, site) VALUES (?,?,?,?,?,?,?,?,?)",
                (change.instance_id, change.dataset, change.entity_id, change.action,
                 change.completed, change.label, change.base_version,
                 json.dumps(dict(change.properties), ensure_ascii=False), change.site))
            if cursor.rowcount == 1:
                new += 1
                touched.add((change.dataset, change.entity_id))
        for dataset, entity_id in sorted(touched):
            self._refold(dataset, entity_id)
        return new

    def _refold(self, dataset: str, entity_id: str) -> None:
        entity = fold(dataset, entity_id, self.entity_changes(dataset, entity_id))
        if not entity.exists:
            self.conn.execute("DELETE FROM entities WHERE dataset=? AND entity_id=?",
                              (dataset, entity_id))
            return
        self.conn.execute(
            f"INSERT OR REPLACE INTO entities({_ENTITY_COLUMNS}, search)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (dataset, entity_id, entity.label, entity.version,
             json.dumps(entity.properties, ensure_ascii=False), entity.created,
             entity.updated, entity.site, json.dumps(entity.conflicts),
             json.dumps(entity.changes), search_text(entity)))

"""Registers of households (ODK Entities, a subset): what a form declares, what a finished
visit does to the register, and how a register is folded from those visits.

A form's XLSForm ``entities`` sheet names one list (``households``) and says whether a
finished questionnaire creates an entity (``label``, optionally ``create_if``) or updates one
(``entity_id``, optionally ``update_if``), or either; questions with ``save_to`` give the
entity's properties. Later forms pick an entity with ``select_one_from_file households.csv``
(the entity id is stored) and read its properties with
``instance('households')/root/item[name=${household}]/plan``.

Every change to a register comes from a submission, so a register is a pure fold of the
changes it has seen (``fold``): the same changes in any order of arrival give the same
register on every kiosk and in the central database. Changes apply in the order the
questionnaires were finished (then by instance id); an update made from an older version than
the one it lands on is applied (the later visit wins, property by property) and flagged for
staff, as ODK Central does.

No SQL and no UI here: store/sqlite keeps the registers, the session reads them through an
``EntitySource``.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

# ODK's rules for list and property names: XML names, not starting with "__", and none of
# the words the register uses for itself.
LIST_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]{0,63}")
RESERVED_PROPERTIES = frozenset({"name", "label"})
# What one register entry may hold: a label of a name and an address, a plan of a page.
LABEL_LIMIT = 255
PROPERTY_LIMIT = 2000
SEARCH_LIMIT = 50  # entries a search shows


@dataclass(frozen=True)
class EntityDeclaration:
    """The ``entities`` sheet of a form (one row: one list)."""

    dataset: str
    row: int = 2
    create: bool = False  # a finished form may create an entity
    update: bool = False  # … or update the one ``entity_id`` names

    def to_json(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "row": self.row, "create": self.create,
                "update": self.update}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EntityDeclaration:
        return cls(dataset=str(data["dataset"]), row=int(data.get("row", 2)),
                   create=bool(data.get("create")), update=bool(data.get("update")))


@dataclass(frozen=True)
class EntityChange:
    """What one finished questionnaire did to one entity (the record's ``entity`` block with
    the properties its save_to questions gave)."""

    dataset: str
    entity_id: str
    action: str  # "create" or "update"
    instance_id: str  # the submission that made it
    completed: str  # when that questionnaire was finished (ISO 8601)
    label: str = ""
    base_version: int | None = None  # the version the visitor saw (updates)
    properties: Mapping[str, str] = field(default_factory=dict)
    site: str = ""  # where it was made (街道/社区), which decides who receives it

    @property
    def order(self) -> tuple[str, str]:
        return (self.completed, self.instance_id)


@dataclass
class Entity:
    """One register entry as it stands after every change seen."""

    dataset: str
    entity_id: str
    label: str = ""
    version: int = 0
    properties: dict[str, str] = field(default_factory=dict)
    created: str = ""
    updated: str = ""
    site: str = ""
    # Updates applied on top of a version newer than the one their visitor saw: which
    # submission, the version it saw and the version it was applied to.
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    # The submissions that changed it, oldest first.
    changes: list[str] = field(default_factory=list)

    @property
    def exists(self) -> bool:
        return self.version > 0

    def value(self, name: str) -> str:
        if name == "label":
            return self.label
        if name == "__version":
            return str(self.version)
        if name == "name":
            return self.entity_id
        return self.properties.get(name, "")


def fold(dataset: str, entity_id: str, changes: Iterable[EntityChange]) -> Entity:
    """The entity made by its changes, applied in the order their questionnaires were
    finished. An update before any create leaves it unknown (version 0) until one arrives;
    a second create is applied as an update and flagged."""
    entity = Entity(dataset=dataset, entity_id=entity_id)
    for change in sorted(changes, key=lambda change: change.order):
        if not entity.exists and change.action != "create":
            continue  # waits for its create: the fold runs again when that arrives
        if entity.exists:
            seen = change.base_version if change.action == "update" else 0
            if seen is None or seen < entity.version:
                entity.conflicts.append({"instance_id": change.instance_id,
                                         "base_version": seen or 0,
                                         "applied_to": entity.version})
        else:
            entity.created = change.completed
            entity.site = change.site
        entity.version += 1
        entity.updated = change.completed
        if change.label:
            entity.label = change.label
        for name, value in change.properties.items():
            if value != "":
                entity.properties[name] = value  # a question left blank keeps what was known
        entity.changes.append(change.instance_id)
    return entity


def search_text(entity: Entity) -> str:
    """What a search looks in: the label and every property, folded (全角 → 半角, case)."""
    return normalise(" ".join([entity.label, *entity.properties.values()]))


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def search_terms(text: str) -> list[str]:
    """The words of a search; each must appear (a name, part of an address, the last digits
    of a phone)."""
    return [term for term in normalise(text).split() if term][:8]


def property_text(value: Any) -> str:
    """An answer as a register keeps it: text, as ODK keeps entity properties (a choice list
    as its names with spaces, numbers as the form shows them)."""
    from surveys.expressions import format_number

    if isinstance(value, list):
        return " ".join(str(part) for part in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return format_number(float(value))
    return str(value)


def saved_properties(saved_to: Mapping[str, str], personal: Iterable[str],
                     answers: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """The register properties a submission's answers give (``saved_to``: property ->
    question), split into those of questions marked pii (``personal``) and the others; a
    question left blank gives none (the register keeps what it knew)."""
    hidden = set(personal)
    plain: dict[str, str] = {}
    private: dict[str, str] = {}
    for name, question in saved_to.items():
        if question in answers:
            (private if question in hidden else plain)[name] = property_text(answers[question])
    return plain, private


# The register property a visit form may save the agreed next visit to (a date).
NEXT_VISIT = "next_visit"
DEFAULT_VISIT_DAYS = 30


def _day(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text.strip()[:10])
    except ValueError:
        return None


def visit_due(entity: Entity, every_days: int = DEFAULT_VISIT_DAYS) -> dt.date | None:
    """When the household is next due for a visit: the next visit its last visit agreed
    (``next_visit``), else ``every_days`` after its last change."""
    agreed = _day(entity.properties.get(NEXT_VISIT, ""))
    if agreed is not None:
        return agreed
    last = _day(entity.updated)
    return last + dt.timedelta(days=every_days) if last is not None else None


def overdue_first(entities: Iterable[Entity], today: dt.date,
                  every_days: int = DEFAULT_VISIT_DAYS) -> list[tuple[Entity, dt.date | None]]:
    """Households with the day each is due, the longest overdue first, then the soonest
    due; those with no day at the end, by label."""
    far = dt.date.max
    dated = [(entity, visit_due(entity, every_days)) for entity in entities]
    return sorted(dated, key=lambda pair: (pair[1] or far, pair[0].label, pair[0].entity_id))


class EntitySource(Protocol):
    """Where a questionnaire reads a register (the kiosk's database)."""

    def entity(self, dataset: str, entity_id: str) -> Entity | None: ...

    def search_entities(self, dataset: str, text: str,
                        limit: int = SEARCH_LIMIT) -> list[Entity]: ...

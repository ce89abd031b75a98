"""The staff's view of a register of households (``kiosk households`` and the dashboard's
家庭名单): each household with its state, its current plan, when it is due for a visit (the
longest overdue first) and its visits; personal properties (names, phones: the questions
marked pii that fill them) masked on screen and left out of exports unless asked for.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

from store import KioskStore
from surveys.entities import Entity, overdue_first
from surveys.exports.columns import atomic_output, csv_cell

# The properties staff look for first, when a form saves them (the bundled forms do).
LEADING = ("state", "plan", "address", "community", "next_visit", "last_visit")
# Names for the properties a calculate saves (no question label to name them by).
PROPERTY_WORDS = {"state": "状态", "next_visit": "下次走访", "last_visit": "最近走访",
                  "risk_level": "风险等级"}
STATE_WORDS = {"assessed": "已评估", "installed": "已验收", "needs_fix": "待整改",
               "open": "进行中", "done": "已完成", "closed": "已结案"}


def mask(value: str) -> str:
    """A personal value as a listing shows it: a phone as 139****5678, a name as 王**."""
    digits = sum(character.isdigit() for character in value)
    if digits >= 7:
        return f"{value[:3]}****{value[-4:]}"
    return value[:1] + "*" * max(len(value) - 1, 1) if value else ""


def due_words(due: dt.date | None, today: dt.date) -> str:
    if due is None:
        return "—"
    days = (due - today).days
    if days < 0:
        return f"逾期 {-days} 天"
    return "今天" if days == 0 else f"{days} 天后"


def household_record(entity: Entity, due: dt.date | None, today: dt.date, personal: set[str],
                     *, include_pii: bool) -> dict[str, Any]:
    """One household as the listing, its JSON and the export give it."""
    properties = {name: (value if include_pii or name not in personal else mask(value))
                  for name, value in entity.properties.items()}
    return {
        "id": entity.entity_id, "list": entity.dataset,
        "label": entity.label if include_pii or not personal else _masked_label(
            entity, personal),
        "state": entity.properties.get("state", ""), "due": due.isoformat() if due else None,
        "overdue_days": max((today - due).days, 0) if due else 0,
        "last_change": entity.updated, "version": entity.version, "site": entity.site,
        "visits": len(entity.changes), "conflicts": entity.conflicts,
        "properties": properties,
    }


def _masked_label(entity: Entity, personal: set[str]) -> str:
    """The label with every personal value in it masked (户主姓名 of 王秀英 → 王**)."""
    label = entity.label
    for name in personal:
        value = entity.properties.get(name, "")
        if value and value in label:
            label = label.replace(value, mask(value))
    return label


def households(store: KioskStore, dataset: str, today: dt.date, every_days: int, *,
               include_pii: bool = False, overdue_only: bool = False) -> list[dict[str, Any]]:
    """The register's households, the longest overdue first."""
    personal = store.register_pii(dataset)
    records = [household_record(entity, due, today, personal, include_pii=include_pii)
               for entity, due in overdue_first(store.entities_of(dataset), today, every_days)]
    return [record for record in records if record["overdue_days"] or not overdue_only]


def household_detail(store: KioskStore, dataset: str, entity_id: str, today: dt.date,
                     every_days: int, *, include_pii: bool = False) -> dict[str, Any] | None:
    """One household with its visits (oldest first), or None when the register lacks it."""
    found = store.entity(dataset, entity_id)
    if found is None:
        return None
    personal = store.register_pii(dataset)
    ((entity, due),) = overdue_first([found], today, every_days)
    record = household_record(entity, due, today, personal, include_pii=include_pii)
    visits = store.visits_of(dataset, entity_id)
    for visit in visits:
        visit["properties"] = {name: (value if include_pii or name not in personal
                                      else mask(value))
                               for name, value in visit["properties"].items()}
    record["visit_list"] = visits
    return record


def property_columns(records: list[dict[str, Any]]) -> list[str]:
    names: list[str] = [name for name in LEADING
                        if any(name in record["properties"] for record in records)]
    for record in records:
        names.extend(name for name in record["properties"] if name not in names)
    return names


def write_households_csv(records: list[dict[str, Any]], target: Path, personal: set[str], *,
                         include_pii: bool) -> int:
    """The households as CSV (UTF-8 with BOM, for Excel and WPS), personal properties and
    the label left out unless ``include_pii``; written whole or not at all."""
    columns = [name for name in property_columns(records)
               if include_pii or name not in personal]
    header = ["id", *(["label"] if include_pii else []), "state", "due", "overdue_days",
              "last_change", "version", "visits", "conflicts", "site", *columns]
    with atomic_output(target) as temporary, open(temporary, "w", encoding="utf-8-sig",
                                                  newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for record in records:
            writer.writerow([csv_cell(value) for value in [
                record["id"], *([record["label"]] if include_pii else []), record["state"],
                record["due"] or "", record["overdue_days"], record["last_change"],
                record["version"], record["visits"], len(record["conflicts"]), record["site"],
                *(record["properties"].get(name, "") for name in columns)]])
    return len(records)

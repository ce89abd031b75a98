"""Registers of households in the central database (central schema 5): every change a
submission made, kept as it arrived (``entity_changes``), and handed to the kiosks of the
street where it was made, so that a household registered at the hall can be visited from a
village point's tablet after the next sync.

A change comes inside its submission's signed row (kiosk/central/outgoing.py): the
submission's ``entity`` column keeps the block without the properties and label, which go to
``entity_changes`` (the label and the properties of pii questions in columns the reader role
cannot read). The register itself is a fold of the changes (surveys/entities.py), made by
whoever reads it: a kiosk after pulling them, staff through ``central_entities``. The same
changes give the same register everywhere; two offline updates of one household give the
later one's values and a conflict flagged.

Pulling never skips a change: changes are handed out in the order of the transaction that
stored them (its id, ``xid8``) and only from transactions older than every one still running,
so a change committed late by a slow transaction cannot fall behind a cursor already past it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from surveys.entities import Entity, EntityChange, fold

if TYPE_CHECKING:
    import psycopg

SCHEMA_5 = (
    "ALTER TABLE submissions ADD COLUMN entity jsonb",
    "CREATE TABLE entity_changes (instance_id text PRIMARY KEY, dataset text NOT NULL,"
    " entity_id text NOT NULL, action text NOT NULL, completed text NOT NULL,"
    " label text NOT NULL, base_version integer, properties jsonb NOT NULL,"
    " pii_properties jsonb NOT NULL, site text NOT NULL, street text NOT NULL,"
    " origin text NOT NULL, seq bigserial NOT NULL,"
    " tx xid8 NOT NULL DEFAULT pg_current_xact_id(),"
    " received_at timestamptz NOT NULL DEFAULT now())",
    "CREATE INDEX entity_changes_of ON entity_changes (dataset, entity_id)",
    "CREATE INDEX entity_changes_pull ON entity_changes (street, tx, seq)",
)
# What the reader role may not read of a change: the label names a person, and the
# properties of pii questions are theirs.
PII_COLUMNS = ("label", "pii_properties")
PULL_BATCH = 5000


def entity_column(entity: str) -> str:
    """SQL: what a submission row keeps of its change (``entity`` the payload's value)."""
    return (f"CASE WHEN jsonb_typeof({entity}) = 'object' THEN"
            f" {entity} - 'properties' - 'pii_properties' - 'label' END")


def store_changes(entity: str, instance_id: str) -> str:
    """SQL (inside ``kiosk_push_submissions``): the changes of the submissions this call
    added, from their signed payloads (``kiosk_checked c``)."""
    e = entity
    return (
        "INSERT INTO public.entity_changes (instance_id, dataset, entity_id, action,"
        " completed, label, base_version, properties, pii_properties, site, street, origin)"
        f" SELECT s.instance_id, {e}->>'dataset', {e}->>'id', {e}->>'action',"
        " coalesce(s.completed, ''), coalesce(" + e + "->>'label', ''),"
        f" CASE WHEN jsonb_typeof({e}->'base_version') = 'number'"
        f" THEN ({e}->>'base_version')::integer END,"
        f" CASE WHEN jsonb_typeof({e}->'properties') = 'object' THEN {e}->'properties'"
        " ELSE '{}' END,"
        f" CASE WHEN jsonb_typeof({e}->'pii_properties') = 'object'"
        f" THEN {e}->'pii_properties' ELSE '{{}}' END,"
        " coalesce(s.site, ''), split_part(coalesce(s.site, ''), '/', 1), s.origin"
        " FROM kiosk_checked c JOIN added_submissions a ON a.instance_id = " + instance_id +
        " JOIN public.submissions s ON s.instance_id = a.instance_id"
        f" WHERE c.why IS NULL AND jsonb_typeof({e}) = 'object'"
        f" AND {e}->>'action' IN ('create', 'update')"
        " ON CONFLICT (instance_id) DO NOTHING")


def register_function(safe: str) -> str:
    """``kiosk_register(after_tx, after_seq, size)``: the changes made in the calling kiosk's
    street after the cursor, personal columns included (its volunteers visit them)."""
    return f"""
CREATE OR REPLACE FUNCTION kiosk_register(after_tx text, after_seq bigint, size integer)
RETURNS TABLE (tx text, seq bigint, instance_id text, dataset text, entity_id text,
  action text, completed text, label text, base_version integer, properties jsonb,
  site text)
LANGUAGE plpgsql STABLE SECURITY DEFINER {safe} AS $$
DECLARE me text := kiosk_caller(); mine text; settled xid8;
BEGIN
  IF me IS NULL THEN
    RAISE EXCEPTION 'the admin role reads the register itself; kiosks pull their street''s'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  SELECT coalesce(k.street, '') INTO mine FROM public.kiosks k WHERE k.kiosk_id = me;
  settled := pg_snapshot_xmin(pg_current_snapshot());
  RETURN QUERY SELECT e.tx::text, e.seq, e.instance_id, e.dataset, e.entity_id, e.action,
      e.completed, e.label, e.base_version, e.properties || e.pii_properties, e.site
    FROM public.entity_changes e
    WHERE e.street = mine AND e.tx < settled
      AND (e.tx, e.seq) > (after_tx::xid8, after_seq)
    ORDER BY e.tx, e.seq LIMIT least(greatest(size, 1), {PULL_BATCH});
END $$"""


@dataclass(frozen=True)
class Pulled:
    changes: list[EntityChange]
    cursor: str  # "tx:seq" of the last change handed out


def pull_register(connection: psycopg.Connection[Any], cursor: str,
                  size: int = PULL_BATCH) -> Pulled:
    """One batch of the street's register changes after ``cursor`` ('' at first)."""
    after_tx, _, after_seq = (cursor or "0:0").partition(":")
    rows = connection.execute(
        "SELECT tx, seq, instance_id, dataset, entity_id, action, completed, label,"
        " base_version, properties, site FROM kiosk_register(%s, %s, %s)",
        (after_tx, int(after_seq or 0), size)).fetchall()
    changes = [EntityChange(dataset=row[3], entity_id=row[4], action=row[5],
                            instance_id=row[2], completed=row[6], label=row[7],
                            base_version=row[8], properties=_texts(row[9]), site=row[10])
               for row in rows]
    last = f"{rows[-1][0]}:{rows[-1][1]}" if rows else cursor
    return Pulled(changes, last)


def _texts(value: Any) -> dict[str, str]:
    data = json.loads(value) if isinstance(value, str) else (value or {})
    return {str(key): str(text) for key, text in data.items()} if isinstance(data, dict) else {}


def central_entities(connection: psycopg.Connection[Any],
                     dataset: str | None = None) -> list[Entity]:
    """Every register entry as the central database's changes make it (the pii reader's
    and admin's view: labels and personal properties included)."""
    where, parameters = ("WHERE dataset = %s", (dataset,)) if dataset else ("", ())
    rows = connection.execute(
        "SELECT dataset, entity_id, action, instance_id, completed, label, base_version,"
        f" properties || pii_properties, site FROM entity_changes {where}"
        " ORDER BY dataset, entity_id", parameters).fetchall()
    grouped: dict[tuple[str, str], list[EntityChange]] = defaultdict(list)
    for row in rows:
        grouped[(row[0], row[1])].append(EntityChange(
            dataset=row[0], entity_id=row[1], action=row[2], instance_id=row[3],
            completed=row[4], label=row[5], base_version=row[6], properties=_texts(row[7]),
            site=row[8]))
    entities = [fold(dataset_name, entity_id, changes)
                for (dataset_name, entity_id), changes in grouped.items()]
    return [entity for entity in entities if entity.exists]

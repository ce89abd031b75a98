"""``kiosk households``: the registers of households — the list (the longest overdue for a
visit first), one household with its visits and current plan, and the export."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from kiosk.cli.context import Context, audit, pass_context
from kiosk.cli.exit_codes import KioskGroup
from kiosk.cli.options import json_option
from kiosk.cli.volunteer_commands import text_columns
from kiosk.households import (
    STATE_WORDS,
    due_words,
    household_detail,
    households,
    write_households_csv,
)
from surveys.clock import now_local

list_option = click.option("--list", "dataset", default="households", show_default=True,
                           help="Which register (the list_name of the forms' entities sheet).")
pii_option = click.option("--include-pii", is_flag=True,
                          help="Names and phones in full (default: masked, left out of "
                               "exports); staff only, recorded in the audit.")


@click.group(cls=KioskGroup)
def households_group() -> None:
    """Registers of households: who is due for a visit, each household's visits and plan."""


def _every_days(context: Context, dataset: str) -> int:
    return context.config.visit_days(dataset)


def _known_list(context: Context, dataset: str) -> None:
    lists = context.store.entity_lists()
    if dataset not in lists:
        known = ", ".join(f"{name} ({count})" for name, count in lists.items()) or "none yet"
        raise click.UsageError(f"no register '{dataset}' on this kiosk (registers: {known}); "
                               "a form with an entities sheet makes one when it is filled in")


@households_group.command("list")
@list_option
@click.option("--overdue", is_flag=True, help="Only the households overdue for a visit.")
@pii_option
@json_option()
@pass_context
def households_list(context: Context, dataset: str, overdue: bool, include_pii: bool,
                    as_json: bool) -> None:
    """The households, the longest overdue for a visit first (逾期在前)."""
    _known_list(context, dataset)
    today = now_local().date()
    every = _every_days(context, dataset)
    records = households(context.store, dataset, today, every, include_pii=include_pii,
                         overdue_only=overdue)
    if include_pii:
        audit(context, "households.list", dataset, "with personal data")
    if as_json:
        click.echo(json.dumps(records, ensure_ascii=False))
        return
    rows = [[due_words(_date(record["due"]), today), record["label"],
             STATE_WORDS.get(record["state"], record["state"]),
             record["properties"].get("plan", "")[:30], record["last_change"][:10],
             str(record["visits"]), "有冲突" if record["conflicts"] else "",
             record["id"][:8]] for record in records]
    for line in text_columns(["下次探访 due", "家庭 household", "状态 state", "方案 plan",
                              "最近 last", "次数 visits", "冲突", "id"], rows):
        click.echo(line)
    late = sum(1 for record in records if record["overdue_days"])
    click.echo(f"{len(records)} households in '{dataset}', {late} overdue "
               f"(a visit is due {every} days after the last unless one was agreed)")


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


@households_group.command("show")
@click.argument("household")
@list_option
@pii_option
@json_option()
@pass_context
def households_show(context: Context, household: str, dataset: str, include_pii: bool,
                    as_json: bool) -> None:
    """One household: its state, plan, when it is due, every visit and any conflict.
    HOUSEHOLD is its id, or the first characters of it as the list shows them."""
    _known_list(context, dataset)
    entity_id = _resolve(context, dataset, household)
    today = now_local().date()
    record = household_detail(context.store, dataset, entity_id, today,
                              _every_days(context, dataset), include_pii=include_pii)
    assert record is not None
    if include_pii:
        audit(context, "households.show", entity_id, "with personal data")
    if as_json:
        click.echo(json.dumps(record, ensure_ascii=False))
        return
    click.echo(f"{record['label']}  ({record['id']})")
    click.echo(f"状态 state: {STATE_WORDS.get(record['state'], record['state']) or '—'}; "
               f"下次探访 due: {due_words(_date(record['due']), today)}"
               + (f" ({record['due']})" if record["due"] else "")
               + f"; version {record['version']}")
    for name, value in record["properties"].items():
        click.echo(f"  {name}: {value}")
    click.echo(f"visits ({len(record['visit_list'])}):")
    for visit in record["visit_list"]:
        did = "登记 registered" if visit["action"] == "create" else "更新 updated"
        click.echo(f"  {visit['completed'][:16].replace('T', ' ')}  {visit['survey'] or '—'}"
                   f"  {did}  {visit['kiosk'] or ''} {visit['enumerator'] or ''}".rstrip())
    for conflict in record["conflicts"]:
        click.echo(f"冲突 conflict: visit {conflict['instance_id'][:8]} was made from version "
                   f"{conflict['base_version']} but applied on version "
                   f"{conflict['applied_to']} (another visit came between: check the plan)")


def _resolve(context: Context, dataset: str, household: str) -> str:
    text = household.strip().lower()
    if len(text) < 4:
        raise click.UsageError("give at least the first 4 characters of the household's id")
    matches = [entity.entity_id for entity in context.store.entities_of(dataset)
               if entity.entity_id.startswith(text)]
    if not matches:
        raise click.UsageError(f"no household {household!r} in '{dataset}'; "
                               "`kiosk households list` shows their ids")
    if len(matches) > 1:
        raise click.UsageError(f"{household!r} starts {len(matches)} ids; give more of it")
    return matches[0]


@households_group.command("export")
@list_option
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help="The CSV file to write.")
@pii_option
@pass_context
def households_export(context: Context, dataset: str, output: Path, include_pii: bool) -> None:
    """The households as CSV, the longest overdue first; names, phones and the label left
    out unless --include-pii."""
    _known_list(context, dataset)
    today = now_local().date()
    records = households(context.store, dataset, today, _every_days(context, dataset),
                         include_pii=True)
    count = write_households_csv(records, output, context.store.register_pii(dataset),
                                 include_pii=include_pii)
    audit(context, "households.export", dataset,
          f"{count} households to {output.name}" + (" with personal data" if include_pii
                                                    else ""))
    click.echo(f"wrote {count} households of '{dataset}' to {output}")

"""``kiosk review``: review before counting — the queue of submissions to look at, a state with
a note for one (未审核/已通过/有问题/作废), a correction of one answer, and one submission's
history. Each decision and correction is in the audit record."""

from __future__ import annotations

import json
from typing import Any

import click

from kiosk.cli.context import Context, pass_context, staff_name
from kiosk.cli.exit_codes import KioskGroup
from kiosk.cli.options import json_option
from kiosk.cli.volunteer_commands import text_columns
from surveys.paradata import FLAG_WORDS
from surveys.review import (
    REVIEW_STATES,
    ReviewError,
    answer_text,
    review_states,
    state_word,
)

staff_option = click.option("--staff", help="Name of the staff member (default: the login).")


@click.group(cls=KioskGroup)
def review_group() -> None:
    """Review submissions before they are counted: states, corrections, history."""


def _refused(error: ReviewError) -> click.ClickException:
    return click.ClickException(str(error))


def _flags(context: Context, survey_id: str) -> dict[str, list[str]]:
    """Paradata flags (filled implausibly fast, straight-lined) by instance id, where this
    kiosk records them."""
    flags = getattr(context.store, "paradata_flags", None)
    return flags(survey_id) if flags is not None else {}


@review_group.command("list")
@click.argument("survey_id")
@click.option("--state", "states", multiple=True, metavar="STATE",
              help="Only these states (repeatable; default: 未审核 pending and 有问题 "
                   "questioned; all: every state).")
@click.option("--limit", type=click.IntRange(1, 10_000), default=200, show_default=True,
              help="At most this many, oldest first.")
@json_option()
@pass_context
def review_list(context: Context, survey_id: str, states: tuple[str, ...], limit: int,
                as_json: bool) -> None:
    """The review queue of a survey: its submissions in these states, oldest first, with
    their paradata flags (答得过快 filled too fast, 量表题全选同一项 straight-lined)."""
    if survey_id not in {info.survey_id for info in context.store.list_forms()}:
        raise click.UsageError(f"no survey '{survey_id}' here")
    try:
        wanted = review_states(states) if states else ("pending", "questioned")
    except ReviewError as error:
        raise _refused(error) from None
    queue = context.store.review_queue(survey_id, wanted, limit)
    flags = _flags(context, survey_id)
    for entry in queue:
        entry["flags"] = flags.get(entry["instance_id"], [])
    counts = context.store.review_counts(survey_id)
    if as_json:
        click.echo(json.dumps({"counts": counts, "queue": queue}, ensure_ascii=False))
        return
    rows = [[entry["completed"][:16], entry["receipt_code"] or "", state_word(entry["state"]),
             " ".join(FLAG_WORDS.get(flag, flag) for flag in entry["flags"]),
             str(entry["corrections"] or ""), entry["note"][:30], entry["instance_id"]]
            for entry in queue]
    for line in text_columns(["完成 completed", "回执码 code", "状态 state", "提示 flags",
                              "更正 corrections", "说明 note", "id"], rows):
        click.echo(line)
    click.echo("  ".join(f"{state_word(state)} {counts[state]}" for state in REVIEW_STATES))


@review_group.command("set")
@click.argument("instance")
@click.argument("state")
@click.option("--note", default="", help="Why (required for 有问题 questioned and 作废 void).")
@staff_option
@json_option()
@pass_context
def review_set(context: Context, instance: str, state: str, note: str, staff: str | None,
               as_json: bool) -> None:
    """Give a submission (its id or receipt code) a review state: pending (未审核), approved
    (已通过), questioned (有问题) or void (作废: left out of statistics and exports)."""
    try:
        decision = context.store.set_review(instance, state, note, staff=staff_name(staff),
                                            kiosk=context.kiosk_id)
    except ReviewError as error:
        raise _refused(error) from None
    if as_json:
        click.echo(json.dumps(decision.to_json(), ensure_ascii=False))
        return
    click.echo(f"{decision.instance_id}: {state_word(decision.state)} ({decision.state})"
               + (f" — {decision.note}" if decision.note else ""))


@review_group.command("correct")
@click.argument("instance")
@click.argument("question")
@click.argument("value")
@click.option("--why", required=True, help="Why the answer is corrected (kept with it).")
@staff_option
@json_option()
@pass_context
def review_correct(context: Context, instance: str, question: str, value: str, why: str,
                   staff: str | None, as_json: bool) -> None:
    """Correct one answer of a submission (its id or receipt code). VALUE as a resident
    would answer: a choice's name or label, several separated by spaces or commas, 1万 for
    a number, YYYY-MM-DD for a date; "" for no answer. The original stays as stored."""
    try:
        entry = context.store.add_correction(instance, question, value, why,
                                             staff=staff_name(staff), kiosk=context.kiosk_id)
    except ReviewError as error:
        raise _refused(error) from None
    if as_json:
        click.echo(json.dumps(entry.to_json(), ensure_ascii=False))
        return
    click.echo(f"{entry.instance_id}: {question} {_shown(entry.old)} → {_shown(entry.new)}"
               f" ({entry.why})")


@review_group.command("show")
@click.argument("instance")
@click.option("--include-pii", is_flag=True,
              help="Show the answers too (they hold personal data); staff only.")
@json_option()
@pass_context
def review_show(context: Context, instance: str, include_pii: bool, as_json: bool) -> None:
    """One submission's review state, its decisions and its corrections, oldest first."""
    try:
        history = context.store.review_history(instance)
    except ReviewError as error:
        raise _refused(error) from None
    if not include_pii:
        history.pop("original")
        history.pop("corrected")
        form = context.store.load_form(history["survey"])
        for correction in history["corrections"]:
            if correction["question"] in form.pii_names:
                correction["old"] = correction["new"] = "***"
    if as_json:
        click.echo(json.dumps(history, ensure_ascii=False))
        return
    click.echo(f"{history['instance_id']}  {history['survey']}  {history['completed']}  "
               f"{state_word(history['state'])}")
    for decision in history["reviews"]:
        click.echo(f"  {decision['at'][:16]}  {decision['staff']}  "
                   f"{state_word(decision['state'])}  {decision['note']}")
    for correction in history["corrections"]:
        click.echo(f"  {correction['at'][:16]}  {correction['staff']}  更正 "
                   f"{correction['question']}: {_shown(correction['old'])} → "
                   f"{_shown(correction['new'])}  ({correction['why']})")
    if not history["reviews"] and not history["corrections"]:
        click.echo("  未审核，没有更正 (not reviewed, not corrected)")


def _shown(value: Any) -> str:
    return answer_text(value, "（未答）")

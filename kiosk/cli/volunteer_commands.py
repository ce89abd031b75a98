"""``kiosk volunteer``: the roster, sessions and corrections, the hours report, card sheets
and reading cards from photos."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from kiosk.cli.context import Context, audit, console, pass_context
from kiosk.cli.exit_codes import KioskGroup, staff_mistakes
from kiosk.cli.options import Period, json_option, period_options, team_option
from kiosk.cli.stats_commands import central_refusals

if TYPE_CHECKING:
    from store.rows import Volunteer


@click.group(cls=KioskGroup)
def volunteer() -> None:
    """Volunteers: roster, cards, scanning, service hours."""


def _today(context: Context) -> Any:
    import datetime as dt

    return dt.datetime.now(context.config.volunteers.zone).date()


@volunteer.command("add")
@click.argument("number")
@click.argument("name")
@click.option("--phone", required=True, help="Mainland mobile number (11 digits).")
@click.option("--team", default="", help="服务队, e.g. 心语志愿服务队.")
@click.option("--organisation", "--organization", "organisation", default="",
              help="单位: the volunteer's organisation.")
@click.option("--id-card", default="", help="Resident ID number (optional; personal data).")
@click.option("--joined", help="Date joined, e.g. 2024-03-01 (default: today).")
@pass_context
def volunteer_add(context: Context, number: str, name: str, phone: str, team: str,
                  organisation: str, id_card: str, joined: str | None) -> None:
    """Put a volunteer on the roster (card serial 1, active)."""
    from kiosk.volunteers.roster import add_volunteer, new_volunteer

    with staff_mistakes():
        entry = new_volunteer(number, name, phone, id_card=id_card, team=team,
                              organisation=organisation, joined=joined, today=_today(context))
        add_volunteer(context.store, entry)
    click.echo(f"added volunteer {entry.number} {entry.name}"
               + (f" ({entry.team})" if entry.team else "")
               + "; print the card with `kiosk volunteer cards`")


@volunteer.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option("Print the report as JSON.")
@pass_context
def volunteer_import(context: Context, file: Path, as_json: bool) -> None:
    """Import a roster (.csv in UTF-8, with or without BOM, or .xlsx).

    Headers in Chinese or English: 编号/number, 姓名/name, 手机/phone, 身份证号/id_card,
    服务队/team, 单位/organisation, 加入日期/joined. Bad rows are reported by row number
    and skipped; the good rows are added. Exit status 0 when every row was added, 1 when
    some were rejected.
    """
    from kiosk.volunteers.roster import import_roster

    with staff_mistakes():
        report = import_roster(context.store, file, today=_today(context))
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        where = f"{file}" + (f", sheet '{report.sheet}'" if report.sheet else "")
        for row, error in report.rejected:
            click.echo(f"{where}, row {row}: {error}", err=True)
        if report.ignored_columns:
            click.echo(f"{where}: columns not used: {', '.join(report.ignored_columns)}",
                       err=True)
        click.echo(f"added {len(report.added)} volunteers, rejected {len(report.rejected)} rows")
    sys.exit(1 if report.rejected else 0)


@volunteer.command("list")
@team_option
@json_option()
@click.option("--include-pii", is_flag=True,
              help="Show phone and ID numbers in full (default: masked); staff only.")
@pass_context
def volunteer_list(context: Context, team: str | None, as_json: bool,
                   include_pii: bool) -> None:
    """The roster: number, name, team, organisation, phone, ID, joined, status, card."""
    from kiosk.volunteers.roster import volunteer_record

    records = [volunteer_record(entry, include_pii=include_pii)
               for entry in context.store.volunteers(team=team)]
    if as_json:
        click.echo(json.dumps(records, ensure_ascii=False))
        return
    if not records:
        click.echo("no volunteers on the roster" + (f" in team {team}" if team else "")
                   + "; add them with `kiosk volunteer add` or `kiosk volunteer import`")
        return
    rows = [[record["number"], record["name"], record["team"], record["organisation"],
             record["phone"], record["id_card"], record["joined"] or "",
             "在册" if record["status"] == "active" else "暂停", str(record["card_serial"])]
            for record in records]
    for line in text_columns(["编号", "姓名", "服务队 team", "单位 organisation", "手机 phone",
                              "身份证 ID", "加入 joined", "状态", "卡 card"], rows):
        click.echo(line)
    click.echo(f"{len(records)} volunteers")


def text_columns(headers: list[str], rows: list[list[str]]) -> list[str]:
    """Plain columns, each as wide as its widest cell in terminal cells (a Chinese character
    takes two), two spaces apart. Nothing is cut or wrapped: a table squeezed to the
    terminal cut long names (欧阳… ), and a name is what staff look for."""
    from rich.cells import cell_len

    table = [headers, *rows]
    widths = [max(cell_len(row[index]) for row in table) for index in range(len(headers))]
    return ["  ".join(cell + " " * (width - cell_len(cell))
                      for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in table]


@volunteer.command("suspend")
@click.argument("number")
@pass_context
def volunteer_suspend(context: Context, number: str) -> None:
    """Suspend a volunteer: their card is refused until `activate`."""
    entry = _set_status(context, number, "suspended")
    click.echo(f"volunteer {entry.number} {entry.name} suspended; their card is refused")


@volunteer.command("activate")
@click.argument("number")
@pass_context
def volunteer_activate(context: Context, number: str) -> None:
    """Make a suspended volunteer active again."""
    entry = _set_status(context, number, "active")
    click.echo(f"volunteer {entry.number} {entry.name} active")


def _set_status(context: Context, number: str, status: str) -> Volunteer:
    """Suspend or reactivate, with its audit entry."""
    from kiosk.volunteers.roster import set_status

    with staff_mistakes():
        entry = set_status(context.store, number, status)
    audit(context, "volunteer_suspend" if status == "suspended" else "volunteer_activate",
          entry.number)
    return entry


@volunteer.command("reissue")
@click.argument("number")
@pass_context
def volunteer_reissue(context: Context, number: str) -> None:
    """A new card for a lost one: the serial goes up and the old card is refused."""
    from kiosk.volunteers.roster import reissue_card

    with staff_mistakes():
        entry = reissue_card(context.store, number)
    audit(context, "volunteer_reissue", entry.number, f"card serial {entry.card_serial}")
    click.echo(f"volunteer {entry.number} {entry.name}: card serial is now "
               f"{entry.card_serial}; older cards are refused. Print the new card with "
               f"`kiosk volunteer cards {entry.number}`")


@volunteer.command("sessions")
@click.argument("number", required=False)
@period_options
@team_option
@click.option("--review", is_flag=True,
              help="Only sessions waiting for staff review (closed at day end).")
@json_option()
@pass_context
def volunteer_sessions(context: Context, number: str | None, period: Period,
                       team: str | None, review: bool, as_json: bool) -> None:
    """Check-ins and check-outs with their ids (for `correct`), hours and flags."""
    from kiosk.cards.payload import normalise_number
    from kiosk.i18n import hours_text, state_word
    from kiosk.volunteers.hours import sessions_between
    from kiosk.volunteers.report import flags_text, session_record

    first, last = period
    items = sessions_between(context.store, context.config.volunteers, start=first, end=last,
                             number=normalise_number(number) if number else None, team=team)
    if review:
        items = [item for item in items if item.state == "review"]
    names = {entry.number: entry for entry in context.store.volunteers(
        numbers={item.number for item in items})}
    if as_json:
        click.echo(json.dumps([session_record(item, names.get(item.number)) for item in items],
                              ensure_ascii=False))
        return
    if not items:
        click.echo("no sessions")
        return
    from rich.table import Table

    table = Table("id", "编号 number", "姓名 name", "签到 in", "签退 out", "小时 hours",
                  "状态 state", "标记 flags", "更正 corrections")
    for item in items:
        out = item.checked_out
        table.add_row(
            str(item.id), item.number, names[item.number].name if item.number in names else "",
            f"{item.checked_in:%Y-%m-%d %H:%M}",
            "" if out is None else f"{out:%Y-%m-%d %H:%M}" if out.date() != item.day
            else f"{out:%H:%M}",
            hours_text(item.hours), state_word("session_state", item.state, "zh"),
            flags_text(item.flags, "zh"),
            str(len(item.corrections)) if item.corrections else "")
    console().print(table)
    waiting = sum(1 for item in items if item.state == "review")
    click.echo(f"{len(items)} sessions, {hours_text(sum(item.hours for item in items))} hours"
               + (f"; {waiting} waiting for review (`kiosk volunteer correct ID`)"
                  if waiting else ""))


@volunteer.command("correct")
@click.argument("session_id", type=int)
@click.option("--in", "checked_in", help="Corrected check-in: HH:MM, or YYYY-MM-DD HH:MM.")
@click.option("--out", "checked_out",
              help="Corrected check-out: HH:MM (on the check-in's day), or YYYY-MM-DD HH:MM.")
@click.option("--confirm", is_flag=True,
              help="The recorded times are right (e.g. a session closed at day end).")
@click.option("--void", is_flag=True, help="The session should not count at all.")
@click.option("--reason", required=True, help="Why, e.g. 忘记签退，实际17:30离开.")
@click.option("--staff", required=True, help="Name of the staff member correcting.")
@pass_context
def volunteer_correct(context: Context, session_id: int, checked_in: str | None,
                      checked_out: str | None, confirm: bool, void: bool, reason: str,
                      staff: str) -> None:
    """Correct a session: the original check-in and check-out stay as recorded, and the
    correction (with reason and staff name) is kept beside them and shown in reports."""
    from kiosk.i18n import hours_text, state_word
    from kiosk.volunteers.corrections import correct_session

    with staff_mistakes():
        item = correct_session(context.store, context.config.volunteers, session_id,
                               checked_in=checked_in, checked_out=checked_out,
                               confirm=confirm, void=void, reason=reason, staff=staff,
                               kiosk=context.kiosk_id)
    action = "void" if void else "confirm" if confirm else "times"
    audit(context, "volunteer_correction", str(item.id), f"{action}: {reason}", staff=staff)
    out = f"{item.checked_out:%Y-%m-%d %H:%M}" if item.checked_out else "-"
    state = state_word("session_state", item.state, "zh")
    click.echo(f"session {item.id} ({item.number}): {item.checked_in:%Y-%m-%d %H:%M} – {out}, "
               f"{hours_text(item.hours)} hours credited ({state})")


@volunteer.command("hours")
@period_options
@team_option
@click.option("--format", "file_format", type=click.Choice(["csv", "xlsx"]),
              help="csv (UTF-8 with BOM, for Excel and WPS) or xlsx (default: from the "
                   "file name, else csv).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help="File to write.")
@click.option("--include-pii", is_flag=True,
              help="Add phone and ID numbers (for certificates); staff only.")
@click.option("--central", metavar="DSN",
              help="The hours of every kiosk synced to this central PostgreSQL.")
@pass_context
def volunteer_hours(context: Context, period: Period, team: str | None,
                    file_format: str | None, output: Path, include_pii: bool,
                    central: str | None) -> None:
    """Service hours: a summary per volunteer and every session with the fields of a
    volunteer service record, corrections beside the recorded times."""
    from kiosk.i18n import hours_text
    from kiosk.volunteers.report import central_hours_report, hours_report, write_hours_report

    first, last = period
    file_format = file_format or ("xlsx" if output.suffix.lower() == ".xlsx" else "csv")
    settings = context.config.volunteers
    if central:
        config = context.config
        with central_refusals(central):
            report = central_hours_report(
                central, settings, station=f"{config.site.street or config.station_name}（各站点）",
                start=first, end=last, team=team)
    else:
        report = hours_report(context.store, settings, station=context.config.station_name,
                              start=first, end=last, team=team)
    try:
        write_hours_report(report, output, file_format, zone=settings.zone,
                           include_pii=include_pii)
    except OSError as error:
        raise click.ClickException(f"cannot write {output}: {error}") from None
    summary = report.summary()
    waiting = sum(row.review for row in summary)
    click.echo(f"wrote {output}: {len(summary)} volunteers, {len(report.sessions)} sessions, "
               f"{hours_text(report.total_hours)} hours ({report.period_text()})"
               + (f"; {waiting} sessions waiting for review" if waiting else ""))


def _card_secret(context: Context, *, create: bool) -> bytes:
    """The installation's card secret, beside the config (made by the first card sheet)."""
    from kiosk.cards.payload import load_secret, secret_path

    path = secret_path(context.config_path)
    if not create and not path.exists():
        raise click.ClickException(
            f"volunteer cards are not set up here: there is no card secret at {path} "
            "(`kiosk volunteer cards` makes it; kiosks sharing cards need a copy of it)")
    existed = path.exists()
    try:
        secret = load_secret(path)
    except (OSError, ValueError) as error:
        raise click.ClickException(f"{path}: {error}") from None
    if not existed:
        click.echo(f"made the card secret {path}: keep it, and copy it to the other kiosks "
                   "that should accept these cards", err=True)
    return secret


@volunteer.command("cards")
@click.argument("numbers", nargs=-1)
@team_option
@click.option("--number", "more_numbers", multiple=True,
              help="Only this volunteer number (repeat for more).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("volunteer-cards.pdf"), show_default=True, help="The PDF to write.")
@click.option("--error-correction", type=click.Choice(["M", "Q"], case_sensitive=False),
              default="Q", show_default=True,
              help="QR error correction: Q survives more glare and wear, M is smaller.")
@pass_context
def volunteer_cards(context: Context, numbers: tuple[str, ...], team: str | None,
                    more_numbers: tuple[str, ...], output: Path, error_correction: str) -> None:
    """Print volunteer cards: an A4 PDF of 85.6 × 54 mm cards, ten a page, with cut marks.

    Every active volunteer by default; NUMBERS (or --number) and --team choose some.
    Suspended volunteers get no card (their cards are refused anyway).
    """
    from kiosk.cards.payload import normalise_number
    from kiosk.cards.sheets import CARDS_PER_PAGE, card_sheet_pdf, missing_glyphs

    wanted = [normalise_number(number) for number in (*numbers, *more_numbers)]
    roster = context.store.volunteers(team=team, numbers=wanted or None)
    if wanted:
        unknown = sorted(set(wanted) - {entry.number for entry in roster})
        if unknown:
            raise click.ClickException(
                f"not on the roster{f' in team {team}' if team else ''}: {', '.join(unknown)}")
    suspended = [entry for entry in roster if not entry.active]
    holders = [entry for entry in roster if entry.active]
    if suspended:
        click.echo("no card for suspended volunteers: "
                   + ", ".join(f"{entry.number} {entry.name}" for entry in suspended)
                   + " (`kiosk volunteer activate` first)", err=True)
    if not holders:
        raise click.ClickException(
            "no volunteers to make cards for" + (f" in team {team}" if team else "")
            + ("" if roster else "; add them with `kiosk volunteer add` or `import`"))
    for entry in holders:
        missing = missing_glyphs(entry.name)
        if missing:
            click.echo(f"{entry.number} {entry.name}: the card font has no "
                       f"{''.join(missing)}; it prints as a box", err=True)
    secret = _card_secret(context, create=True)
    try:
        path = card_sheet_pdf(holders, context.config.station_name, secret, output,
                              error_correction=error_correction)
    except (OSError, ValueError) as error:
        raise click.ClickException(f"cannot write {output}: {error}") from None
    pages = (len(holders) + CARDS_PER_PAGE - 1) // CARDS_PER_PAGE
    cards = f"{len(holders)} card" + ("s" if len(holders) != 1 else "")
    sheets = f"{pages} A4 page" + ("s" if pages != 1 else "")
    click.echo(f"wrote {path}: {cards} on {sheets}; print at 100 % (actual size) and cut "
               "along the marks")


REFUSAL_TEXT = {
    "not_a_card": "not a volunteer card",
    "tampered": "not a card of this station (its signature does not match)",
    "old_card": "old card (replaced by a newer one)",
    "suspended": "suspended",
    "unknown_volunteer": "no such volunteer on the roster",
}


def _shown(text: str, limit: int = 60) -> str:
    """A scanned text made safe to print: control characters escaped, not too long."""
    return repr(text[:limit]) + ("…" if len(text) > limit else "")


@volunteer.command("scan")
@click.argument("images", nargs=-1, required=True,
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("--timeout", type=click.FloatRange(0.5, 120), default=10.0, show_default=True,
              help="Seconds allowed to decode one image.")
@pass_context
def volunteer_scan(context: Context, images: tuple[Path, ...], timeout: float) -> None:
    """Read volunteer cards from photos: whose card each is, or why it is refused.

    Exit status 0 when every image held an accepted card, 1 otherwise.
    """
    from kiosk.cards.scanning import NO_CARD, DecoderProcess
    from kiosk.volunteers.desk import VolunteerDesk

    secret = _card_secret(context, create=False)
    desk = VolunteerDesk.from_config(context.store, context.config, secret)
    refused = 0
    with DecoderProcess(timeout=timeout) as decoder:
        for image in images:
            result = decoder.decode(image)
            if not result.found:
                click.echo(f"{image}: {NO_CARD}" + (f" ({result.error})" if result.error
                                                    else ""))
                refused += 1
                continue
            # A card beside other codes (a poster, a phone screen): the card is the answer.
            texts = result.cards() or list(result.texts[:1])
            lines = []
            accepted = False
            for text in texts:
                scan = desk.identify(text)
                if scan.accepted and scan.volunteer is not None:
                    entry = scan.volunteer
                    accepted = True
                    lines.append(f"{entry.number} {entry.name}"
                                 + (f", {entry.team}" if entry.team else "")
                                 + f", card {entry.card_serial}")
                    continue
                reason = REFUSAL_TEXT.get(scan.reason, scan.reason)
                if scan.reason == "not_a_card":
                    reason += f": {_shown(text)}"
                elif scan.volunteer is not None:
                    reason += f" — {scan.volunteer.number} {scan.volunteer.name}"
                lines.append(f"refused: {reason}")
            for line in lines:
                click.echo(f"{image}: {line}")
            refused += not accepted
    if refused:
        click.echo(f"{refused} of {len(images)} images refused", err=True)
    sys.exit(1 if refused else 0)

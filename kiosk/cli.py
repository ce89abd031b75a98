"""The ``kiosk`` command. Every command is a thin call into a library function."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from kiosk.config import (
    ConfigError,
    KioskConfig,
    Site,
    default_kiosk_id,
    hash_pin,
    load_config,
    save_config,
)
from kiosk.paths import default_config_path, default_database_path, log_directory
from store import FormVersionConflict, KioskStore, StoreError, open_store
from surveys.form import Form
from surveys.xlsform import FormError, compile_xlsform

if TYPE_CHECKING:
    from rich.console import Console



def console(stderr: bool = False) -> Console:
    """Rich's console, made (and rich loaded) only by the commands that print with it."""
    from rich.console import Console

    return Console(stderr=stderr)


class Context:
    def __init__(self, db: Path | None, kiosk_id: str | None, config_path: Path | None) -> None:
        self.db_path = db or default_database_path()
        self.config_path = config_path or default_config_path()
        self._kiosk_id = kiosk_id
        self._store: KioskStore | None = None
        self._config: KioskConfig | None = None

    @property
    def config(self) -> KioskConfig:
        if self._config is None:
            try:
                self._config = load_config(self.config_path)
            except ConfigError as error:
                raise click.ClickException(str(error)) from None
            if self._kiosk_id:
                self._config = self._config.with_changes(kiosk_id=self._kiosk_id)
        return self._config

    @property
    def kiosk_id(self) -> str:
        return self._kiosk_id or self.config.kiosk_id

    @property
    def store(self) -> KioskStore:
        if self._store is None:
            try:
                self._store = open_store(self.db_path)
            except StoreError as error:
                raise click.ClickException(str(error)) from None
        return self._store


pass_context = click.make_pass_decorator(Context)


def _central_dsn(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value == "$KIOSK_CENTRAL":
        value = os.environ.get("KIOSK_CENTRAL", "")
        if not value:
            raise click.BadParameter("give a DSN, or set KIOSK_CENTRAL", param_hint="--central")
    return value


# --central DSN, or --central alone for $KIOSK_CENTRAL: the central PostgreSQL instead.
central_option = click.option(
    "--central", metavar="DSN", is_flag=False, flag_value="$KIOSK_CENTRAL", default=None,
    callback=_central_dsn,
    help="Every kiosk's submissions in the central PostgreSQL at DSN (postgresql://…; "
         "--central alone: $KIOSK_CENTRAL).")


@click.group(invoke_without_command=True)
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), envvar="KIOSK_DB",
              help="Kiosk database file (default: kiosk.db in the user data directory).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              envvar="KIOSK_CONFIG",
              help="Configuration file (default: config.toml in the user config directory).")
@click.option("--kiosk-id", envvar="KIOSK_ID",
              help="This kiosk's id (default: from the config, else the host name).")
@click.version_option(package_name="shegong-kiosk")
@click.pass_context
def main(ctx: click.Context, db: Path | None, config_path: Path | None,
         kiosk_id: str | None) -> None:
    """社工站问卷与登记终端 — survey and intake kiosk for social-work stations.

    Without a command, opens the kiosk screens.
    """
    ctx.obj = Context(db, kiosk_id, config_path)
    if ctx.invoked_subcommand is None:
        ctx.invoke(run)


@main.command()
@pass_context
def run(context: Context) -> None:
    """Open the kiosk screens (the default)."""
    config = context.config
    installed = {info.survey_id for info in context.store.list_forms()}
    missing = [survey for survey in config.surveys if survey not in installed]
    if missing:
        raise click.ClickException(
            f"{config.path}: [kiosk] surveys: {', '.join(missing)} not installed "
            f"(installed: {', '.join(sorted(installed))}); the kiosk was not started")
    from kiosk.app import KioskApp  # Textual loads only when the screens are wanted

    # kiosk.log is opened at the start, so printer trouble is logged as it happens.
    KioskApp(context.store, config=config, log_dir=log_directory()).run()


# ---- configuration ------------------------------------------------------------------------


@main.group("config")
def config_group() -> None:
    """This kiosk's configuration file: init, show, set-pin."""


@config_group.command("init")
@click.option("--station", help="Station name shown on the home screen, e.g. 九龙街道社工站.")
@click.option("--kiosk-id", "new_kiosk_id",
              help="This kiosk's id, stamped on its records (default: host name).")
@click.option("--street", default="", help="街道 / 镇 of this kiosk.")
@click.option("--community", default="", help="社区 or 村 of this kiosk.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@pass_context
def config_init(context: Context, station: str | None, new_kiosk_id: str | None, street: str,
                community: str, force: bool) -> None:
    """Write a new configuration file with the defaults and the values given."""
    path = context.config_path
    if path.exists() and not force:
        raise click.ClickException(f"{path} already exists; use --force to overwrite it")
    config = KioskConfig(station_name=station or KioskConfig.station_name,
                         kiosk_id=new_kiosk_id or context._kiosk_id or default_kiosk_id(),
                         site=Site(street=street, community=community), path=path)
    save_config(config, path)
    try:
        load_config(path)  # what was written must be what the kiosk accepts
    except ConfigError as error:
        path.unlink()
        raise click.ClickException(str(error)) from None
    click.echo(f"wrote {path}; set the staff PIN with `kiosk config set-pin`")


@config_group.command("show")
@pass_context
def config_show(context: Context) -> None:
    """Check the configuration and print it (the PIN hash is never printed)."""
    config = context.config
    state = "" if config.path and config.path.exists() else " (not written yet: defaults)"
    click.echo(f"config file: {config.path}{state}")
    click.echo(f"station: {config.station_name}")
    click.echo(f"kiosk id: {config.kiosk_id}")
    click.echo(f"site: {config.site.street or '-'} / {config.site.community or '-'}")
    click.echo(f"surveys: {', '.join(config.surveys)}")
    click.echo(f"idle: {config.idle_seconds} s, then a {config.countdown_seconds} s countdown")
    click.echo(f"language: {config.language}; large text: "
               f"{'on' if config.large_text else 'off'}")
    click.echo(f"staff PIN: {'set' if config.staff_pin_hash else 'NOT SET'}")
    printer = config.printer
    click.echo(f"printer: {printer.url or 'none (receipts written as files)'}; "
               f"{printer.paper} paper, {printer.encoding}, {printer.cut} cut, "
               f"{printer.baudrate} baud, parity {printer.parity}"
               + (", RTS/CTS" if printer.rtscts else "") + (", XON/XOFF" if printer.xonxoff
                                                           else ""))
    click.echo(f"tablet token: {'set' if config.serve_token else 'not set'}")
    volunteers = config.volunteers
    click.echo(f"volunteers: day end {volunteers.day_end} ({volunteers.timezone}), "
               f"sessions under {volunteers.min_session_minutes} min flagged, repeat scans "
               f"within {volunteers.repeat_seconds} s ignored; service: {volunteers.service}")


@config_group.command("set-pin")
@pass_context
def config_set_pin(context: Context) -> None:
    """Set the staff PIN (4 to 12 digits); only its scrypt hash is stored."""
    pin = click.prompt("new staff PIN", hide_input=True, confirmation_prompt=True)
    try:
        pin_hash = hash_pin(pin.strip())
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    config = context.config.with_changes(staff_pin_hash=pin_hash)
    save_config(config, context.config_path)
    click.echo(f"staff PIN set in {context.config_path}")


# ---- surveys ----------------------------------------------------------------------------


@main.group()
def survey() -> None:
    """Questionnaires: list, import, validate, show."""


@survey.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def survey_list(context: Context, as_json: bool) -> None:
    """Installed questionnaires (newest version of each)."""
    forms = context.store.list_forms()
    if as_json:
        click.echo(json.dumps([
            {"id": info.survey_id, "title": info.title_in("zh"), "version": info.version,
             "questions": info.question_count} for info in forms], ensure_ascii=False))
        return
    from rich.table import Table  # rich's tables and progress bars load only when used

    table = Table("id", "title 标题", "version", "questions")
    for info in forms:
        table.add_row(info.survey_id, info.title_in("zh"), info.version, str(info.question_count))
    console().print(table)


def _compile_or_fail(path: Path) -> dict[str, Any]:
    try:
        return compile_xlsform(path)
    except FormError as error:
        raise click.ClickException(str(error)) from None


@survey.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
def survey_import(context: Context, file: Path) -> None:
    """Import an XLSForm (.xlsx, .xls, .csv, .md) into this kiosk."""
    compiled = _compile_or_fail(file)
    try:
        new = context.store.install_form(compiled)
    except FormVersionConflict as error:
        raise click.ClickException(f"{file}: {error}") from None
    form = context.store.load_form(compiled["survey_id"], compiled["version"])
    state = "imported" if new else "already installed, nothing changed"
    click.echo(f"{form.survey_id} version {form.version} ({form.title_in()}, "
               f"{form.question_count} questions): {state}")


@survey.command("validate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def survey_validate(file: Path) -> None:
    """Check an XLSForm without importing it (exit 0 if the kiosk can run it)."""
    form = Form(_compile_or_fail(file))
    click.echo(f"OK: {file.name}: {form.survey_id} version {form.version}, "
               f"{form.question_count} questions, languages: {', '.join(form.languages)}")


@survey.command("show")
@click.argument("survey_id")
@click.option("--json", "as_json", is_flag=True, help="Print the compiled form as JSON.")
@pass_context
def survey_show(context: Context, survey_id: str, as_json: bool) -> None:
    """Show a questionnaire's questions, types and rules."""
    form = _load_form(context, survey_id)
    if as_json:
        click.echo(json.dumps(form.compiled, ensure_ascii=False, indent=2))
        return
    console().print(f"[bold]{form.title_in()}[/] ({form.survey_id}, version {form.version}, "
                  f"languages: {', '.join(form.languages)})")
    from rich.table import Table

    table = Table("name", "type", "label", "relevant", "constraint / calculation", "pii")
    for item in form.items:
        if item.is_group:
            kind = "group" + (" (field-list)" if item.is_field_list else "")
        else:
            kind = item.kind + (f" {item.list_name}" if item.list_name else "")
        rule = item.expressions.get("constraint") or item.expressions.get("calculate") or {}
        table.add_row(
            ("  " * len(form.ancestors(item))) + item.name, kind,
            form.text(item.label, form.default_language),
            item.expressions.get("relevant", {}).get("source", ""),
            rule.get("source", ""), "yes" if item.pii else "",
        )
    console().print(table)


def _load_form(context: Context, survey_id: str) -> Form:
    try:
        return context.store.load_form(survey_id)
    except KeyError:
        known = ", ".join(info.survey_id for info in context.store.list_forms())
        raise click.ClickException(f"no survey '{survey_id}' here (installed: {known})") from None


# ---- submissions ------------------------------------------------------------------------


@main.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_context
def import_command(context: Context, file: Path, as_json: bool) -> None:
    """Import submissions from a JSONL file (idempotent by instance_id).

    Exit status 0 when every record was accepted, 1 when some were rejected.
    """
    store = context.store
    size = file.stat().st_size
    from kiosk.importer import import_jsonl

    err = console(stderr=True)
    show_progress = not as_json and err.is_terminal and size > 1_000_000
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    with Progress(TextColumn("导入 importing"), BarColumn(), DownloadColumn(),
                  TimeRemainingColumn(), console=err, disable=not show_progress,
                  transient=True) as progress:
        task = progress.add_task("import", total=size)
        report = import_jsonl(store, file, kiosk=None,
                              on_progress=lambda chars: progress.advance(task, chars))
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        for rejected in report.rejected:
            click.echo(f"{file}:{rejected.line}: {rejected.error}", err=True)
        click.echo(f"stored {report.stored}, duplicates {report.duplicates}, "
                   f"rejected {len(report.rejected)}")
    sys.exit(1 if report.rejected else 0)


@main.command("export")
@click.argument("survey_id")
@click.option("--format", "file_format", type=click.Choice(["csv", "xlsx", "pdf", "jsonl"]),
              help="Output format (default: from the file's ending, else jsonl).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True),
              required=True, help="Output file, or - for standard output (csv, jsonl).")
@click.option("--labels", is_flag=True,
              help="Choice labels instead of choice names (csv, xlsx data sheet).")
@click.option("--include-pii", is_flag=True,
              help="Include answers marked pii (names, phones, addresses); staff only.")
@click.option("--lang", "language", type=click.Choice(["zh", "en"]), default="zh",
              show_default=True, help="Language of labels, headings and the report.")
@click.option("--by", metavar="QUESTION",
              help="Cross-tab every select question by this one (xlsx sheet, pdf section).")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="Only submissions completed on or after this day (China time).")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="Only submissions completed on or before this day (China time).")
@click.option("--where", multiple=True, metavar="QUESTION=CHOICE",
              help="Only submissions with this answer (repeat: all must hold).")
@click.option("--kiosk", "kiosks", multiple=True, help="Only from this kiosk (repeatable).")
@click.option("--site", "sites", multiple=True, help="Only from this site (repeatable).")
@click.option("--enumerator", "enumerators", multiple=True,
              help="Only by this volunteer number (repeatable).")
@central_option
@pass_context
def export_command(context: Context, survey_id: str, file_format: str | None, output: str,
                   labels: bool, include_pii: bool, language: str, by: str | None,
                   date_from: Any, date_to: Any, where: tuple[str, ...],
                   kiosks: tuple[str, ...], sites: tuple[str, ...],
                   enumerators: tuple[str, ...], central: str | None) -> None:
    """Export a survey's submissions (csv, xlsx, jsonl) or its report (pdf).

    Personal data (questions marked pii) are left out unless --include-pii. Nothing is
    written when something is wrong; an existing file is replaced only by a complete one.
    Exit status 2 for an unknown question or choice, 1 for other errors.
    """
    from surveys.exports import ExportError, export_survey, format_for
    from surveys.stats.model import StatsError, StatsFilter

    file_format = format_for(output, file_format)
    filters = StatsFilter(
        date_from=date_from.date() if date_from else None,
        date_to=date_to.date() if date_to else None, kiosks=kiosks, sites=sites,
        enumerators=enumerators, where=_where_pairs(where))
    target: Any = sys.stdout if output == "-" else Path(output)
    store = _statistics_store(context, survey_id, central) if central else context.store
    total = store.submission_count(survey_id)
    err = console(stderr=True)
    show_progress = output != "-" and err.is_terminal and total > 20_000 \
        and file_format != "pdf"
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    with Progress(TextColumn("导出 exporting"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=err, disable=not show_progress,
                  transient=True) as progress:
        task = progress.add_task("export", total=total)
        try:
            count = (_central_call if central else _call)(
                export_survey, store, survey_id, target, file_format=file_format,
                filters=filters, by=by, labels=labels, include_pii=include_pii,
                language=language, on_progress=lambda done: progress.advance(task, done))
        except StatsError as error:  # a question or choice the survey lacks, as in `stats`
            raise click.UsageError(str(error)) from None
        except ExportError as error:
            raise click.ClickException(str(error)) from None
    if not central or context.db_path.exists():  # a staff computer has no kiosk database
        _audit(context, "export", survey_id,
               f"{file_format} {count} rows to {output}"
               + (" with personal data" if include_pii else "")
               + (f" from the central database {_described(central)}" if central else ""))
    if output == "-":
        return
    if file_format == "pdf":
        click.echo(f"wrote the report of {count} submissions to {output}", err=True)
    else:
        click.echo(f"wrote {count} submissions to {output}", err=True)


def _call(call: Any, *args: Any, **kwargs: Any) -> Any:
    return call(*args, **kwargs)


def _described(dsn: str) -> str:
    from store.central.connection import describe

    return describe(dsn)


def _audit(context: Context, action: str, target: str, detail: str = "", *,
           staff: str | None = None) -> None:
    """A staff action from the command line goes into the audit record, under the name
    given (--staff) or the computer login that ran it."""
    import getpass

    try:
        who = staff or getpass.getuser()
    except (KeyError, OSError):  # no login name (some containers)
        who = "unknown"
    context.store.add_audit(action, target, detail, staff=f"{who}", kiosk=context.kiosk_id)


# ---- volunteers -------------------------------------------------------------------------


@main.group()
def volunteer() -> None:
    """Volunteers: roster, cards, scanning, service hours."""


# ---- volunteers: roster, check-ins and hours (kiosk volunteer add|import|list|...) -------


def _volunteer_call(call: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a kiosk.volunteers call; a staff mistake becomes a message, not a traceback."""
    from kiosk.volunteers.roster import RosterFileError
    from store.errors import VolunteerError

    try:
        return call(*args, **kwargs)
    except (VolunteerError, RosterFileError, ValueError) as error:
        raise click.ClickException(str(error)) from None


def _volunteer_day(value: str | None, option: str) -> Any:
    from kiosk.volunteers.roster import parse_date

    try:
        return parse_date(value, what=option) if value else None
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint=option) from None


def _period(start: str | None, end: str | None, month: str | None) -> tuple[Any, Any]:
    """--from/--to days, or --month YYYY-MM."""
    import datetime as dt

    if month:
        if start or end:
            raise click.UsageError("give either --month or --from/--to")
        try:
            year, number = (int(part) for part in month.split("-"))
            first = dt.date(year, number, 1)
        except ValueError:
            raise click.BadParameter(f"{month!r} is not a month like 2026-11",
                                     param_hint="--month") from None
        following = (first + dt.timedelta(days=32)).replace(day=1)
        return first, following - dt.timedelta(days=1)
    first, last = _volunteer_day(start, "--from"), _volunteer_day(end, "--to")
    if first and last and last < first:
        raise click.BadParameter(f"{last} is before --from {first}", param_hint="--to")
    return first, last


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

    entry = _volunteer_call(new_volunteer, number, name, phone, id_card=id_card, team=team,
                            organisation=organisation, joined=joined, today=_today(context))
    _volunteer_call(add_volunteer, context.store, entry)
    click.echo(f"added volunteer {entry.number} {entry.name}"
               + (f" ({entry.team})" if entry.team else "")
               + "; print the card with `kiosk volunteer cards`")


@volunteer.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_context
def volunteer_import(context: Context, file: Path, as_json: bool) -> None:
    """Import a roster (.csv in UTF-8, with or without BOM, or .xlsx).

    Headers in Chinese or English: 编号/number, 姓名/name, 手机/phone, 身份证号/id_card,
    服务队/team, 单位/organisation, 加入日期/joined. Bad rows are reported by row number
    and skipped; the good rows are added. Exit status 0 when every row was added, 1 when
    some were rejected.
    """
    from kiosk.volunteers.roster import import_roster

    report = _volunteer_call(import_roster, context.store, file, today=_today(context))
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
@click.option("--team", help="Only this team (服务队).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
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
    from rich.table import Table

    table = Table("编号", "姓名", "服务队 team", "单位 organisation", "手机 phone", "身份证 ID",
                  "加入 joined", "状态", "卡 card")
    for record in records:
        status = "在册" if record["status"] == "active" else "暂停"
        table.add_row(record["number"], record["name"], record["team"], record["organisation"],
                      record["phone"], record["id_card"], record["joined"] or "", status,
                      str(record["card_serial"]))
    console().print(table)
    click.echo(f"{len(records)} volunteers")


@volunteer.command("suspend")
@click.argument("number")
@pass_context
def volunteer_suspend(context: Context, number: str) -> None:
    """Suspend a volunteer: their card is refused until `activate`."""
    from kiosk.volunteers.roster import set_status

    entry = _volunteer_call(set_status, context.store, number, "suspended")
    _audit(context, "volunteer_suspend", entry.number)
    click.echo(f"volunteer {entry.number} {entry.name} suspended; their card is refused")


@volunteer.command("activate")
@click.argument("number")
@pass_context
def volunteer_activate(context: Context, number: str) -> None:
    """Make a suspended volunteer active again."""
    from kiosk.volunteers.roster import set_status

    entry = _volunteer_call(set_status, context.store, number, "active")
    _audit(context, "volunteer_activate", entry.number)
    click.echo(f"volunteer {entry.number} {entry.name} active")


@volunteer.command("reissue")
@click.argument("number")
@pass_context
def volunteer_reissue(context: Context, number: str) -> None:
    """A new card for a lost one: the serial goes up and the old card is refused."""
    from kiosk.volunteers.roster import reissue_card

    entry = _volunteer_call(reissue_card, context.store, number)
    _audit(context, "volunteer_reissue", entry.number, f"card serial {entry.card_serial}")
    click.echo(f"volunteer {entry.number} {entry.name}: card serial is now "
               f"{entry.card_serial}; older cards are refused. Print the new card with "
               f"`kiosk volunteer cards {entry.number}`")


@volunteer.command("sessions")
@click.argument("number", required=False)
@click.option("--from", "start", help="First day (check-in date), e.g. 2026-11-01.")
@click.option("--to", "end", help="Last day (inclusive).")
@click.option("--month", help="A calendar month, e.g. 2026-11 (instead of --from/--to).")
@click.option("--team", help="Only this team (服务队).")
@click.option("--review", is_flag=True,
              help="Only sessions waiting for staff review (closed at day end).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def volunteer_sessions(context: Context, number: str | None, start: str | None,
                       end: str | None, month: str | None, team: str | None, review: bool,
                       as_json: bool) -> None:
    """Check-ins and check-outs with their ids (for `correct`), hours and flags."""
    from kiosk.cards.payload import normalise_number
    from kiosk.volunteers.hours import hours_text, sessions_between
    from kiosk.volunteers.report import FLAG_WORDS, STATE_WORDS, session_record

    first, last = _period(start, end, month)
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
            hours_text(item.hours), STATE_WORDS[item.state],
            "、".join(FLAG_WORDS.get(flag, flag) for flag in item.flags),
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
    from kiosk.volunteers.corrections import correct_session
    from kiosk.volunteers.hours import hours_text
    from kiosk.volunteers.report import STATE_WORDS

    item = _volunteer_call(correct_session, context.store, context.config.volunteers,
                           session_id, checked_in=checked_in, checked_out=checked_out,
                           confirm=confirm, void=void, reason=reason, staff=staff,
                           kiosk=context.kiosk_id)
    action = "void" if void else "confirm" if confirm else "times"
    _audit(context, "volunteer_correction", str(item.id), f"{action}: {reason}", staff=staff)
    out = f"{item.checked_out:%Y-%m-%d %H:%M}" if item.checked_out else "-"
    click.echo(f"session {item.id} ({item.number}): {item.checked_in:%Y-%m-%d %H:%M} – {out}, "
               f"{hours_text(item.hours)} hours credited ({STATE_WORDS[item.state]})")


@volunteer.command("hours")
@click.option("--from", "start", help="First day (check-in date), e.g. 2026-11-01.")
@click.option("--to", "end", help="Last day (inclusive).")
@click.option("--month", help="A calendar month, e.g. 2026-11 (instead of --from/--to).")
@click.option("--team", help="Only this team (服务队).")
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
def volunteer_hours(context: Context, start: str | None, end: str | None, month: str | None,
                    team: str | None, file_format: str | None, output: Path,
                    include_pii: bool, central: str | None) -> None:
    """Service hours: a summary per volunteer and every session with the fields of a
    volunteer service record, corrections beside the recorded times."""
    from kiosk.volunteers.hours import hours_text
    from kiosk.volunteers.report import hours_report, write_hours_report

    first, last = _period(start, end, month)
    file_format = file_format or ("xlsx" if output.suffix.lower() == ".xlsx" else "csv")
    settings = context.config.volunteers
    if central:
        report = _central_call(_central_hours, central, context.config, first, last, team)
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


def _central_hours(dsn: str, config: Any, first: Any, last: Any, team: str | None) -> Any:
    """The hours report over every kiosk's sessions in the central database."""
    from kiosk.volunteers.report import hours_report
    from store.central.connection import connect
    from store.central.schema import installation
    from store.central.volunteers import CentralVolunteers

    connection = connect(dsn, application_name="kiosk volunteer hours")
    try:
        installation(connection, dsn)  # the schema must be there, and of this version
        records = CentralVolunteers(connection)
        return hours_report(records, config.volunteers,
                            station=f"{config.site.street or config.station_name}（各站点）",
                            start=first, end=last, team=team, station_of=records.stations())
    finally:
        connection.close()


# ---- volunteers: card sheets and scanning (kiosk volunteer cards|scan) -------------------


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
@click.option("--team", help="Only this team (服务队).")
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
    click.echo(f"wrote {path}: {len(holders)} cards on {pages} A4 pages; print at 100 % "
               "(actual size) and cut along the marks")


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


# ---- tablets (kiosk serve) ----------------------------------------------------------------


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback (e.g. 0.0.0.0 for the LAN) "
                   "requires the access token in the URL.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535),
              help="Port to listen on.")
@pass_context
def serve_command(context: Context, host: str, port: int) -> None:
    """Serve the kiosk screens to tablet browsers (one kiosk process per connection).

    On the LAN the URL needs the access token kept in the config ([serve] token); a new
    one is made and saved on first use. Stop with Ctrl+C.
    """
    from kiosk.serve import ensure_token, serve

    config = context.config
    # Check here what each tablet's `kiosk run` would refuse, so it shows at start.
    installed = {info.survey_id for info in context.store.list_forms()}
    missing = [survey for survey in config.surveys if survey not in installed]
    if missing:
        raise click.ClickException(
            f"{config.path}: [kiosk] surveys: {', '.join(missing)} not installed "
            f"(installed: {', '.join(sorted(installed))}); nothing was served")
    try:
        token = ensure_token(context.config_path, host)
    except (ConfigError, OSError) as error:
        raise click.ClickException(f"cannot keep the access token: {error}") from None
    try:
        serve(context.db_path, context.config_path, host=host, port=port, token=token,
              kiosk_id=context._kiosk_id)
    except OSError as error:
        raise click.ClickException(f"cannot listen on {host}:{port}: {error}") from None


# ---- the receipt printer (kiosk printer …) -------------------------------------------------


@main.group("printer")
def printer_group() -> None:
    """The receipt printer: its queue, previews and a test page."""


def _printing_call(call: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a kiosk.printing call; a staff mistake becomes a message, not a traceback."""
    from kiosk.printing.commands import PrintCommandError
    from store.errors import PrintJobError

    try:
        return call(*args, **kwargs)
    except (PrintCommandError, PrintJobError) as error:
        raise click.ClickException(str(error)) from None


@printer_group.group("queue", invoke_without_command=True)
@click.option("--all", "show_all", is_flag=True,
              help="List every job (default: unfinished ones and the last 20 others).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def printer_queue(ctx: click.Context, show_all: bool, as_json: bool) -> None:
    """List the print queue; `queue retry|cancel|reprint ID` act on one job.

    States: queued (排队中), sending (正在打印), waiting (等打印机: the printer was not
    ready; tried again with a growing pause up to a minute), done (已打印), cancelled (已取消).
    """
    if ctx.invoked_subcommand is not None:
        return
    from kiosk.printing.commands import STATE_WORDS

    store = ctx.find_object(Context).store
    pending = store.print_jobs(states=("queued", "sending", "waiting"))
    others = store.print_jobs(states=("done", "cancelled"), limit=None if show_all else 20)
    jobs = sorted(pending + others, key=lambda job: job.id)
    if as_json:
        click.echo(json.dumps([
            {"id": job.id, "created": job.created, "kind": job.kind, "title": job.title,
             "source": job.source, "state": job.state, "reprint": job.reprint,
             "attempts": job.attempts, "next_attempt": job.next_attempt,
             "status": job.last_status, "message": job.last_error, "done_at": job.done_at}
            for job in jobs], ensure_ascii=False))
        return
    if not jobs:
        click.echo("the print queue is empty / 打印队列是空的")
        return
    from rich.table import Table

    table = Table("id", "created 时间", "kind", "title 内容", "state 状态", "tries",
                  "printer 打印机")
    for job in jobs:
        zh, en = STATE_WORDS.get(job.state, (job.state, job.state))
        state = f"{zh} {en}" + (" · 补打" if job.reprint else "")
        if job.state == "waiting":
            wait = max(0, round(job.next_attempt - time.time()))
            state += f" (next try in {wait} s)"
        table.add_row(str(job.id), job.created[:16].replace("T", " "), job.kind, job.title,
                      state, str(job.attempts), job.last_error or job.last_status)
    console().print(table)
    counts = store.print_job_counts()
    click.echo(", ".join(f"{state} {count}" for state, count in sorted(counts.items())))


@printer_queue.command("retry")
@click.argument("job_id", type=int)
@pass_context
def printer_retry(context: Context, job_id: int) -> None:
    """Try a waiting (or cancelled) job again now."""
    job = _printing_call(context.store.retry_print_job, job_id, time.time())
    _audit(context, "print_retry", str(job.id))
    click.echo(f"print job {job.id} queued again; the kiosk prints it within a few seconds")


@printer_queue.command("cancel")
@click.argument("job_id", type=int)
@pass_context
def printer_cancel(context: Context, job_id: int) -> None:
    """Cancel a job that has not been printed."""
    job = _printing_call(context.store.cancel_print_job, job_id)
    _audit(context, "print_cancel", str(job.id))
    click.echo(f"print job {job.id} cancelled")


@printer_queue.command("reprint")
@click.argument("job_or_code")
@pass_context
def printer_reprint(context: Context, job_or_code: str) -> None:
    """Print another copy, marked 补打 REPRINT: JOB_OR_CODE is a job id or the receipt
    code a resident reads out (e.g. K7QM-3XAB)."""
    from kiosk.printing.commands import reprint

    new_id = _printing_call(reprint, context.store, context.config, job_or_code)
    _audit(context, "print_reprint", job_or_code, f"new job {new_id}")
    click.echo(f"reprint queued as print job {new_id}")


@printer_group.command("preview")
@click.argument("job_or_file")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help="PNG file to write.")
@pass_context
def printer_preview(context: Context, job_or_file: str, output: Path) -> None:
    """Draw a receipt as the printer would print it: JOB_OR_FILE is a file of ESC/POS
    bytes, a print job id or a receipt code (paper width and code page from the config)."""
    from kiosk.printing.commands import preview

    path = _printing_call(preview, context.store, context.config, job_or_file, output)
    click.echo(f"wrote {path}")


@printer_group.command("test")
@click.option("--port", "url", help="Serial port or pyserial URL (default: [printer] url).")
@pass_context
def printer_test(context: Context, url: str | None) -> None:
    """Print a test page (Chinese, English, a QR code) and say how the printer is.

    Exit status 0 when the page printed and the printer is ready, 1 otherwise.
    """
    from kiosk.printing.commands import print_test_page

    result = print_test_page(context.store, context.config, url)
    where = result.url or "receipt files (no printer configured)"
    words = f"{result.state.words_in('zh')} / {result.state.words_in('en')}"
    if result.printed:
        click.echo(f"test page printed on {where} (job {result.job_id})")
    else:
        click.echo(f"no test page printed on {where}", err=True)
    click.echo(f"printer status: {words}")
    if result.state.detail:
        click.echo(f"  {result.state.detail}")
    sys.exit(0 if result.printed and result.state.ok else 1)


# ---- read aloud (kiosk say) ---------------------------------------------------------------


# ---- statistics ---------------------------------------------------------------------------


def _where_pairs(values: tuple[str, ...]) -> dict[str, str]:
    where: dict[str, str] = {}
    for value in values:
        name, equals, choice = value.partition("=")
        if not equals or not name.strip() or not choice.strip():
            raise click.BadParameter(f"{value!r}: give QUESTION=CHOICE, e.g. "
                                     "respondent_group=elderly", param_hint="--where")
        if name.strip() in where:
            raise click.BadParameter(f"question '{name.strip()}' is given twice",
                                     param_hint="--where")
        where[name.strip()] = choice.strip()
    return where


@main.command("stats")
@click.argument("survey_id")
@click.option("--by", metavar="QUESTION", help="Cross-tab by this select question.")
@click.option("--question", metavar="QUESTION",
              help="With --by: only this question (default: every select question).")
@click.option("--where", multiple=True, metavar="QUESTION=CHOICE",
              help="Only respondents with this answer (repeat: all must hold; for a multiple "
                   "choice question: the choice is among those chosen).")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="Only submissions completed on or after this day (China time).")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="Only submissions completed on or before this day (China time).")
@click.option("--kiosk", "kiosks", multiple=True, help="Only from this kiosk (repeatable).")
@click.option("--site", "sites", multiple=True, help="Only from this site (repeatable).")
@click.option("--enumerator", "enumerators", multiple=True,
              help="Only by this volunteer number (repeatable).")
@click.option("--period", type=click.Choice(["day", "week", "month"]), default="month",
              show_default=True, help="Submissions over time: per day, week or month.")
@click.option("--include-pii", is_flag=True,
              help="Include questions marked pii (text answers with names, phones...).")
@click.option("--lang", "language", type=click.Choice(["zh", "en"]), default="zh",
              show_default=True, help="Language of labels.")
@click.option("--json", "as_json", is_flag=True, help="Print the exact figures as JSON.")
@click.option("--by-site", is_flag=True,
              help="Also N and every select question per street, community and kiosk.")
@central_option
@pass_context
def stats_command(context: Context, survey_id: str, by: str | None, question: str | None,
                  where: tuple[str, ...], date_from: Any, date_to: Any,
                  kiosks: tuple[str, ...], sites: tuple[str, ...],
                  enumerators: tuple[str, ...], period: str, include_pii: bool,
                  language: str, as_json: bool, by_site: bool, central: str | None) -> None:
    """Statistics of a survey, all versions together: counts, percentages with 95 %
    intervals, Likert means, numbers, text answers, a cross-tab and submissions over time;
    with --central, of every kiosk synced to the central PostgreSQL.

    An unknown question or choice in --where, --by or --question: exit status 2; the
    central database unreachable: 3.
    """
    from surveys.stats.figures import survey_statistics
    from surveys.stats.model import StatsError, StatsFilter
    from surveys.stats.sites import site_breakdown

    filters = StatsFilter(
        date_from=date_from.date() if date_from else None,
        date_to=date_to.date() if date_to else None, kiosks=kiosks, sites=sites,
        enumerators=enumerators, where=_where_pairs(where))
    store = _statistics_store(context, survey_id, central)

    def figures() -> dict[str, Any]:
        with store.read_snapshot():  # the breakdown agrees with the figures
            stats = survey_statistics(store, survey_id, filters, by=by, question=question,
                                      include_pii=include_pii, language=language,
                                      period=period)
            if by_site:
                stats["by_site"] = site_breakdown(store, survey_id, filters,
                                                  include_pii=include_pii)
        return stats

    try:
        stats = _central_call(figures) if central else figures()
    except StatsError as error:
        raise click.UsageError(str(error)) from None
    if as_json:
        click.echo(json.dumps(stats, ensure_ascii=False))
        return
    from kiosk.stats_tables import render_statistics

    output = console()
    for renderable in render_statistics(stats):
        output.print(renderable)
    if by_site:
        from kiosk.site_tables import render_site_breakdown

        for renderable in render_site_breakdown(stats):
            output.print(renderable)


def _statistics_store(context: Context, survey_id: str, central: str | None) -> Any:
    """This kiosk's database, or with --central the central one (exit 3 when it cannot be
    reached, 1 when it has no such survey)."""
    if not central:
        _load_form(context, survey_id)
        return context.store
    from store.central.connection import describe
    from store.central.stats import CentralStats

    store = _central_call(CentralStats, central)
    click.get_current_context().call_on_close(store.close)
    if not store.versions(survey_id):
        raise click.ClickException(
            f"no survey '{survey_id}' at the central database {describe(central)}")
    return store


@main.command("say")
@click.argument("text")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the speech to this WAV file instead of playing it.")
@click.option("--lang", "language", type=click.Choice(["zh", "en"]), default="zh",
              show_default=True, help="Mandarin (zh) or English (en).")
@click.option("--rate", type=click.IntRange(80, 450),
              help="Words per minute (default: 150 for zh, 140 for en).")
def say_command(text: str, output: Path | None, language: str, rate: int | None) -> None:
    """Speak TEXT as the kiosk's 朗读 button does (TEXT - reads standard input)."""
    from kiosk import speech  # only this command needs it

    if text == "-":
        text = click.get_text_stream("stdin").read()
    try:
        if output is None:
            speech.speak(text, language, rate=rate)
            return
        speech.synthesize(text, language, output, rate=rate)
    except speech.SpeechUnavailable as error:
        raise click.ClickException(str(error)) from None
    except speech.SpeechError as error:
        hint = "" if output else " (to write the speech to a file instead: -o FILE.wav)"
        raise click.ClickException(f"{error}{hint}") from None
    click.echo(f"wrote {output} ({speech.wav_duration(output):.1f} s)")


# ---- the central database (PostgreSQL) --------------------------------------------------------


class TryAgainLater(click.ClickException):
    """The central database could not be reached or the connection broke: exit code 3, so a
    scheduled sync can tell a network problem from a mistake to fix."""

    exit_code = 3


def _central_call(call: Any, *args: Any, **kwargs: Any) -> Any:
    from store.central.connection import (
        CentralConnectionLost,
        CentralError,
        CentralUnreachable,
        refusals,
    )

    try:
        with refusals():
            return call(*args, **kwargs)
    except (CentralUnreachable, CentralConnectionLost) as error:
        raise TryAgainLater(str(error)) from None
    except CentralError as error:
        raise click.ClickException(str(error)) from None


@main.group("central")
def central_group() -> None:
    """The central PostgreSQL of a street or city, fed by ``kiosk sync``."""


@central_group.command("init")
@click.argument("dsn")
def central_init(dsn: str) -> None:
    """Create the central schema in DSN (postgresql://user@host:port/db), or migrate it to
    this version; running it again changes nothing."""
    from store.central.connection import describe
    from store.central.schema import init

    result = _central_call(init, dsn)
    where = describe(dsn)
    if result.before == 0:
        click.echo(f"created the central schema {result.after} at {where}")
    elif result.changed:
        click.echo(f"migrated the central schema at {where} from {result.before} to "
                   f"{result.after}")
    else:
        click.echo(f"the central schema at {where} is up to date (schema {result.after})")


@main.command("sync")
@click.argument("dsn", envvar="KIOSK_CENTRAL")
@click.option("--batch", type=click.IntRange(1), default=5000, show_default=True,
              help="Rows per central transaction.")
@pass_context
def sync_command(context: Context, dsn: str, batch: int) -> None:
    """Send what is new in this kiosk's database to the central PostgreSQL at DSN (or
    $KIOSK_CENTRAL). Safe to interrupt and to repeat: the next sync completes it."""
    from kiosk.central.sync import STREAM_LABELS, KioskIdentity, sync

    config = context.config
    kiosk = KioskIdentity(context.kiosk_id, config.site.street, config.site.community,
                          config.station_name)
    store = context.store
    if not sys.stdout.isatty():
        report = _central_call(sync, store, dsn, kiosk, batch=batch)
        click.echo(report.summary())
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress("{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=console()) as bar:
        tasks: dict[str, Any] = {}

        def totals(pending: dict[str, int]) -> None:
            for stream, total in pending.items():
                if total:
                    tasks[stream] = bar.add_task(STREAM_LABELS[stream], total=total)

        def progress(stream: str, done: int, _total: int) -> None:
            bar.update(tasks[stream], completed=done)

        report = _central_call(sync, store, dsn, kiosk, batch=batch, progress=progress,
                               on_totals=totals)
    click.echo(report.summary())


@main.group("bundle")
def bundle_group() -> None:
    """Offline bundles: carry a kiosk's data on a USB stick where there is no network."""


def _this_kiosk(context: Context) -> Any:
    from kiosk.central.sync import KioskIdentity

    config = context.config
    return KioskIdentity(context.kiosk_id, config.site.street, config.site.community,
                         config.station_name)


@bundle_group.command("export")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The bundle file to write.")
@click.option("--since", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Only what is newer than this earlier bundle of this kiosk.")
@click.option("--all", "everything", is_flag=True, help="Everything, not only what is new.")
@pass_context
def bundle_export(context: Context, output: Path, since: Path | None, everything: bool) -> None:
    """Write what a sync would send, added since the last bundle, to one checksummed file."""
    from kiosk.central.bundles import BundleError, export_bundle

    if since is not None and everything:
        raise click.UsageError("give --since FILE or --all, not both")
    try:
        report = export_bundle(context.store, _this_kiosk(context), output, since=since,
                               everything=everything)
    except BundleError as error:
        raise click.ClickException(str(error)) from None
    _audit(context, "bundle_export", str(output), report.summary())
    click.echo(report.summary())


@bundle_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--to", "dsn", metavar="DSN",
              help="Into the central PostgreSQL at DSN instead of this kiosk's database.")
@pass_context
def bundle_import(context: Context, file: Path, dsn: str | None) -> None:
    """Merge a bundle into this kiosk's database (its forms and submissions) or, with --to,
    everything in it into the central database. Importing it again changes nothing."""
    from kiosk.central.bundles import (
        BundleError,
        import_into_central,
        import_into_kiosk,
        read_bundle,
    )

    try:
        bundle = read_bundle(file)
        if dsn is not None:
            report = _central_call(import_into_central, dsn, bundle)
        else:
            report = import_into_kiosk(context.store, bundle)
    except BundleError as error:
        raise click.ClickException(str(error)) from None
    if dsn is None and report.added:  # an import that changed nothing records nothing
        _audit(context, "bundle_import", str(file), report.summary())
    click.echo(report.summary())

if __name__ == "__main__":  # pragma: no cover
    main()

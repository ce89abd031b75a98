"""The central database of a street or city: ``kiosk central init``, ``kiosk sync`` and
offline bundles (``kiosk bundle export|import``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from kiosk.cli.context import Context, audit, console, pass_context
from kiosk.cli.exit_codes import KioskCommand, KioskGroup
from kiosk.cli.options import json_option
from kiosk.cli.stats_commands import central_refusals

if TYPE_CHECKING:
    from kiosk.central.sync import KioskIdentity


@click.group("central", cls=KioskGroup)
def central_group() -> None:
    """The central PostgreSQL of a street or city, fed by ``kiosk sync``."""


@central_group.command("init")
@click.argument("dsn")
@click.option("--role-prefix", metavar="PREFIX",
              help="Name the roles PREFIX_admin, PREFIX_reader … (default: the database's "
                   "name). Fixed at the first init.")
def central_init(dsn: str, role_prefix: str | None) -> None:
    """Create the central schema in DSN (postgresql://user@host:port/db), or migrate it to
    this version, with its roles; running it again changes nothing. Run it as the
    database's owner with CREATEROLE, or as a superuser."""
    from store.central.connection import describe
    from store.central.schema import init

    with central_refusals(dsn):
        result = init(dsn, role_prefix=role_prefix)
    where = describe(dsn)
    if result.before == 0:
        click.echo(f"created the central schema {result.after} at {where}")
    elif result.changed:
        click.echo(f"migrated the central schema at {where} from {result.before} to "
                   f"{result.after}")
        if result.before < 4:
            click.echo("rows from before are kept and marked unsigned; enrol every kiosk "
                       "(kiosk central enrol) before it syncs again: it carries on from "
                       "where it stopped")
    else:
        click.echo(f"the central schema at {where} is up to date (schema {result.after})")
    roles = result.roles
    click.echo(f"roles: {roles.admin} (enrols kiosks, reads and changes everything), "
               f"{roles.pii_reader} (reads everything, personal data too), {roles.reader} "
               f"(statistics and exports, no personal data), {roles.kiosks} (the enrolled "
               "kiosks: may only add their own signed rows). Give staff logins one of them: "
               f"CREATE ROLE name LOGIN PASSWORD '…' IN ROLE {roles.reader};")


@central_group.command("index")
@click.argument("dsn")
def central_index(dsn: str) -> None:
    """Write what arrived since the last run (submissions, review decisions, corrections)
    into the bitmaps the city-wide statistics read. Figures are exact either way; this
    keeps them fast. Run it every few minutes (a systemd timer or cron), as the
    administrator's role."""
    from store.central.bitmaps import bring_up_to_date
    from store.central.connection import connect, describe
    from store.central.schema import installation

    with central_refusals(dsn), connect(dsn, application_name="kiosk central index") as link:
        installation(link, dsn)
        written = bring_up_to_date(link)
    click.echo(f"统计位图已更新：{written} 份提交的变化已写入 (the bitmaps of {written} "
               f"submissions written at {describe(dsn)})")


def station_time(moment: Any) -> Any:
    """A time from the central database as staff read it: on the station's clock."""
    from surveys.clock import local

    return local(moment)


def _address_and_ca(dsn: str, address: str | None, ca: Path | None) -> tuple[str, str | None]:
    from store.central.connection import public_address

    pem = None
    if ca is not None:
        pem = ca.read_text(encoding="ascii", errors="replace")
        if "BEGIN CERTIFICATE" not in pem or len(pem) > 32_000:
            raise click.BadParameter(f"{ca} is not a PEM certificate", param_hint="--ca")
    return public_address(address or dsn), pem


def _write_enrolment(output: Path, credentials: Any, address: str, ca: str | None) -> None:
    from kiosk.central.enrolment import Enrolment, write_enrolment

    write_enrolment(output, Enrolment(**vars(credentials), address=address, ca=ca))


_ENROLMENT_OPTIONS = (
    click.option("-o", "--output", required=True,
                 type=click.Path(dir_okay=False, path_type=Path),
                 help="The enrolment file to write (owner-only: it holds the kiosk's password "
                      "and key) and carry to the kiosk for kiosk central join."),
    click.option("--address", metavar="DSN",
                 help="Where the kiosk reaches the central database, if not as DSN does "
                      "(e.g. postgresql://central.example:5432/city?sslmode=verify-full)."),
    click.option("--ca", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                 help="The station CA's certificate, for sslmode=verify-full."),
)


def _enrolment_options(command: Any) -> Any:
    for option in reversed(_ENROLMENT_OPTIONS):
        command = option(command)
    return command


@central_group.command("enrol")
@click.argument("dsn")
@click.argument("kiosk_id")
@click.option("--station", default="", help="The station the kiosk serves (社工站).")
@click.option("--street", default="", help="Its street (街道) or town (镇).")
@click.option("--community", default="", help="Its community (社区) or village (村).")
@_enrolment_options
def central_enrol(dsn: str, kiosk_id: str, station: str, street: str, community: str,
                  output: Path, address: str | None, ca: Path | None) -> None:
    """Enrol KIOSK_ID at the central database at DSN (an admin login): its own login role
    and signing key, written to the enrolment file for the kiosk."""
    from kiosk.config import KIOSK_ID
    from store.central.connection import connect, describe
    from store.central.trust import enrol

    if not KIOSK_ID.fullmatch(kiosk_id):
        raise click.BadParameter("letters, digits, '-', '_' or '.', at most 64",
                                 param_hint="KIOSK_ID")
    kiosk_address, pem = _address_and_ca(dsn, address, ca)
    with central_refusals(dsn), connect(dsn, application_name="kiosk central enrol") as db:
        credentials = enrol(db, kiosk_id, station=station, street=street, community=community)
    _write_enrolment(output, credentials, kiosk_address, pem)
    click.echo(f"enrolled kiosk {kiosk_id} at {describe(dsn)} (login {credentials.login}, "
               f"key 1); wrote {output}: carry it to the kiosk and run kiosk central join "
               f"{output.name} there, then delete this copy")


@central_group.command("rotate")
@click.argument("dsn")
@click.argument("kiosk_id")
@_enrolment_options
def central_rotate(dsn: str, kiosk_id: str, output: Path, address: str | None,
                   ca: Path | None) -> None:
    """Give KIOSK_ID a new key and password; what it signed with the old key still
    verifies."""
    from store.central.connection import connect
    from store.central.trust import rotate

    kiosk_address, pem = _address_and_ca(dsn, address, ca)
    with central_refusals(dsn), connect(dsn, application_name="kiosk central rotate") as db:
        credentials = rotate(db, kiosk_id)
    _write_enrolment(output, credentials, kiosk_address, pem)
    click.echo(f"kiosk {kiosk_id} has key {credentials.key_version} and a new password; "
               f"wrote {output}: run kiosk central join {output.name} on the kiosk")


@central_group.command("revoke")
@click.argument("dsn")
@click.argument("kiosk_id")
def central_revoke(dsn: str, kiosk_id: str) -> None:
    """Revoke KIOSK_ID (a stolen or retired kiosk): its login is refused, and every record
    signed by it that arrives from now on, by sync or bundle; what it sent before stays."""
    from store.central.connection import connect
    from store.central.trust import revoke

    with central_refusals(dsn), connect(dsn, application_name="kiosk central revoke") as db:
        revoked = revoke(db, kiosk_id)
    ended = (f"{revoked.sessions_ended} open connections ended" if revoked.sessions_ended >= 0
             else "its open connections could not be ended by this role: the records they"
                  " send are refused all the same")
    when = station_time(revoked.revoked_at)
    click.echo(f"revoked kiosk {kiosk_id} at {when:%Y-%m-%d %H:%M}; its "
               f"login can no longer connect ({ended}); the rows it sent before are kept "
               "(kiosk central kiosks shows them)")


@central_group.command("kiosks")
@click.argument("dsn")
@json_option()
def central_kiosks(dsn: str, as_json: bool) -> None:
    """The kiosks the central database knows: enrolled, revoked or not enrolled, with the
    rows each signed and those from before signatures (unsigned)."""
    from store.central.connection import connect
    from store.central.trust import kiosks

    with central_refusals(dsn), connect(dsn, application_name="kiosk central kiosks") as db:
        entries = kiosks(db)
    if as_json:
        click.echo(json.dumps([entry.__dict__ for entry in entries], ensure_ascii=False,
                              default=str))
        return
    states = {"enrolled": "已登记", "revoked": "已撤销", "not enrolled": "未登记"}
    for entry in entries:
        when = (f" {station_time(entry.revoked_at):%Y-%m-%d %H:%M}" if entry.revoked_at is not None
                else "")
        click.echo(f"{entry.kiosk_id}  {states[entry.state]} {entry.state}{when}  "
                   f"{entry.station or '-'}  {entry.site or '-'}  key {entry.key_version or '-'}"
                   f"  signed rows {entry.signed_rows:,}, unsigned {entry.unsigned_rows:,}")
    if not entries:
        click.echo("no kiosks yet")


@central_group.command("join")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_context
def central_join(context: Context, file: Path) -> None:
    """Keep the enrolment FILE (from kiosk central enrol) as this kiosk's: owner-only,
    beside its configuration. Delete FILE afterwards."""
    from kiosk.central.enrolment import join

    enrolment = join(file, context.config_path, context.kiosk_id)
    audit(context, "central_join", enrolment.kiosk_id, f"key {enrolment.key_version}")
    click.echo(f"kiosk {enrolment.kiosk_id} joined the central database ({enrolment.login}, "
               f"key {enrolment.key_version}); kiosk sync sends to it. Delete {file} now.")


@click.command("sync", cls=KioskCommand)
@click.option("--batch", type=click.IntRange(1), default=5000, show_default=True,
              help="Rows per central transaction.")
@click.option("--connections", type=click.IntRange(1, 8), default=2, show_default=True,
              help="Central connections a sync of many batches pushes over at once.")
@pass_context
def sync_command(context: Context, batch: int, connections: int) -> None:
    """Send what is new in this kiosk's database to the central PostgreSQL it is enrolled
    at (kiosk central join), every row signed. Safe to interrupt and to repeat: the next
    sync completes it."""
    from kiosk.central.sync import STREAM_LABELS, sync

    enrolment = _enrolment(context)
    store = context.store
    central = enrolment.address
    if not sys.stdout.isatty():
        with central_refusals(central):
            report = sync(store, enrolment, batch=batch, connections=connections)
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

        with central_refusals(central):
            report = sync(store, enrolment, batch=batch, connections=connections,
                          progress=progress, on_totals=totals)
    click.echo(report.summary())


def _enrolment(context: Context) -> Any:
    from kiosk.central.enrolment import this_kiosks_enrolment

    return this_kiosks_enrolment(context.config_path, context.kiosk_id)


@click.group("bundle", cls=KioskGroup)
def bundle_group() -> None:
    """Offline bundles: carry a kiosk's data on a USB stick where there is no network."""


def _this_kiosk(context: Context) -> KioskIdentity:
    """Who sends: this kiosk's id and site, from the configuration."""
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
    from kiosk.central.bundles import export_bundle

    if since is not None and everything:
        raise click.UsageError("give --since FILE or --all, not both")
    report = export_bundle(context.store, _this_kiosk(context), output,
                           signer=_enrolment(context).signer, since=since,
                           everything=everything)
    audit(context, "bundle_export", str(output), report.summary())
    click.echo(report.summary())


@bundle_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--to", "dsn", metavar="DSN",
              help="Into the central PostgreSQL at DSN instead of this kiosk's database.")
@pass_context
def bundle_import(context: Context, file: Path, dsn: str | None) -> None:
    """Merge a bundle into this kiosk's database (its forms and submissions) or, with --to,
    everything in it into the central database. Importing it again changes nothing.

    A damaged bundle is refused whole. Every row is checked like a resident's answers; a
    refused row is reported by its line and left out, the others are taken (exit status
    1 when any was refused).
    """
    from kiosk.central.bundles import import_into_central, import_into_kiosk, read_bundle

    bundle = read_bundle(file)
    if dsn is not None:
        with central_refusals(dsn):
            report = import_into_central(dsn, bundle)
    else:
        report = import_into_kiosk(context.store, bundle)
    for line, why in report.refused:
        click.echo(f"{file}:{line}: {why}", err=True)
    for entry, why in report.roster_refused:
        click.echo(f"{file}: roster entry {entry}: {why}", err=True)
    if dsn is None and report.added:  # an import that changed nothing records nothing
        audit(context, "bundle_import", str(file), report.summary())
    click.echo(report.summary())
    sys.exit(1 if report.refused or report.roster_refused else 0)


@click.command("set-aside", cls=KioskCommand)
@json_option()
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write them to this JSONL file (owner-only: they may hold personal data).")
@pass_context
def set_aside_command(context: Context, as_json: bool, output: Path | None) -> None:
    """Rows a sync could not send (a value the central database cannot hold, stored before
    the kiosk checked every record), with the reason: they stay on this kiosk and were left
    out of the sync; the rest went. Exit status 0."""
    if output is not None:
        from kiosk.central.set_aside import write_set_aside

        written = write_set_aside(context.store, output)
        click.echo(f"wrote {written} rows set aside to {output}")
        return
    entries = context.store.set_aside_rows()
    if as_json:
        click.echo(json.dumps(entries, ensure_ascii=False, default=str))
        return
    if not entries:
        click.echo("no rows set aside: every row went")
        return
    for entry in entries:
        click.echo(f"{entry['at'][:16].replace('T', ' ')}  {entry['stream']} {entry['key']}: "
                   f"{entry['reason']}")
    click.echo(f"{len(entries)} rows set aside")

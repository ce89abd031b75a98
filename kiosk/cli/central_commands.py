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
def central_init(dsn: str) -> None:
    """Create the central schema in DSN (postgresql://user@host:port/db), or migrate it to
    this version; running it again changes nothing."""
    from store.central.connection import describe
    from store.central.schema import init

    with central_refusals(dsn):
        result = init(dsn)
    where = describe(dsn)
    if result.before == 0:
        click.echo(f"created the central schema {result.after} at {where}")
    elif result.changed:
        click.echo(f"migrated the central schema at {where} from {result.before} to "
                   f"{result.after}")
    else:
        click.echo(f"the central schema at {where} is up to date (schema {result.after})")


@click.command("sync", cls=KioskCommand)
@click.argument("dsn", envvar="KIOSK_CENTRAL")
@click.option("--batch", type=click.IntRange(1), default=5000, show_default=True,
              help="Rows per central transaction.")
@pass_context
def sync_command(context: Context, dsn: str, batch: int) -> None:
    """Send what is new in this kiosk's database to the central PostgreSQL at DSN (or
    $KIOSK_CENTRAL). Safe to interrupt and to repeat: the next sync completes it."""
    from kiosk.central.sync import STREAM_LABELS, sync

    kiosk = _this_kiosk(context)
    store = context.store
    if not sys.stdout.isatty():
        with central_refusals(dsn):
            report = sync(store, dsn, kiosk, batch=batch)
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

        with central_refusals(dsn):
            report = sync(store, dsn, kiosk, batch=batch, progress=progress,
                          on_totals=totals)
    click.echo(report.summary())


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
    report = export_bundle(context.store, _this_kiosk(context), output, since=since,
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

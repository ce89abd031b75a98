"""``kiosk backup`` and ``kiosk restore``: a verified copy of the kiosk database made while
the kiosk runs, and the way back from one (kiosk/backup.py does the work)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from kiosk.cli.context import Context, audit, pass_context, staff_name
from kiosk.cli.exit_codes import KioskCommand

if TYPE_CHECKING:
    from store.sqlite.backup import DatabaseSummary


def _size(size: int) -> str:
    for unit in ("bytes", "KB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size:.1f} GB"  # not reached


def describe(summary: DatabaseSummary) -> list[str]:
    """A database's summary in a few lines (the counts, the submissions' time range)."""
    lines = []
    if summary.kiosk:
        lines.append(f"  backup of kiosk {summary.kiosk}, taken {summary.taken_at}")
    lines.append(f"  schema {summary.schema_version}"
                 + (f", database {summary.database_id}" if summary.database_id else ""))
    lines.append("  " + ", ".join(summary.count_lines()))
    if summary.first_stored:
        lines.append(f"  submissions stored {summary.first_stored} … {summary.last_stored}")
    else:
        lines.append("  no submissions")
    return lines


@click.command("backup", cls=KioskCommand)
@click.option("-o", "--output", "directory",
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the backup (default: backups beside the database).")
@click.option("--nightly", is_flag=True,
              help="The nightly backup, if it is due: into [backup] folder, with rotation "
                   "(what the kiosk does by itself; for a systemd timer or cron).")
@pass_context
def backup_command(context: Context, directory: Path | None, nightly: bool) -> None:
    """Copy the kiosk database into a verified backup, while the kiosk runs.

    The copy is kiosk-<kiosk id>-<YYYYmmdd-HHMMSS>.db, readable by its owner only. It is
    read back before it is kept: whole (integrity check), a kiosk database, and with the
    counts the database had at the moment of the copy.

    --nightly makes the copy the kiosk makes by itself each night, when it is due; exit
    status 1 when the folder is missing or cannot be written.
    """
    if not context.db_path.exists():
        raise click.ClickException(f"{context.db_path}: no kiosk database here to back up")
    if nightly:
        if directory is not None:
            raise click.UsageError("--nightly uses [backup] folder; leave out -o")
        _nightly(context)
        return
    from kiosk.backup import make_backup

    made = make_backup(context.store, context.kiosk_id, directory, staff=staff_name())
    click.echo(f"backup: {made.path} ({_size(made.size)})")
    for line in describe(made.summary):
        click.echo(line)
    click.echo("  verified: integrity ok, the counts of the database at the moment of the copy")


def _nightly(context: Context) -> None:
    from kiosk.nightly import run_nightly

    result = run_nightly(context.db_path, context.kiosk_id, context.config.backup)
    if result.outcome == "failed":
        raise click.ClickException(f"{result.message('zh')}\n{result.message('en')}")
    click.echo(result.message("zh"))
    click.echo(result.message("en"))
    for path in result.deleted:
        click.echo(f"  deleted by the rotation: {path}")


@click.command("restore", cls=KioskCommand)
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True,
              help="Replace a database that holds newer data or cannot be read.")
@pass_context
def restore_command(context: Context, file: Path, force: bool) -> None:
    """Put the backup FILE in place of the kiosk database.

    Shows what the backup and the current database hold first. A database holding data the
    backup lacks (more rows, or submissions stored after the backup's last) is replaced only
    with --force. The current database is kept beside it first. Stop the kiosk before a
    restore.
    """
    from kiosk.backup import plan_restore, refusal, restore_backup

    plan = plan_restore(file, context.db_path)
    click.echo(f"backup: {file}")
    for line in describe(plan.backup):
        click.echo(line)
    click.echo(f"current database: {context.db_path}")
    if plan.current is not None:
        for line in describe(plan.current):
            click.echo(line)
    else:
        click.echo(f"  {plan.unreadable}" if plan.unreadable else "  none yet")
    if plan.needs_force and not force:
        raise click.ClickException(refusal(plan))
    restored = restore_backup(plan, force=force)
    if restored.safety_copy:
        click.echo(f"kept the database as it was in {restored.safety_copy}")
    audit(context, "restore", str(file),
          ", ".join(restored.summary.count_lines())
          + (f"; the database before kept at {restored.safety_copy}"
             if restored.safety_copy else ""))
    click.echo(f"restored {file} into {context.db_path}: "
               + ", ".join(restored.summary.count_lines()))

"""``kiosk backup`` and ``kiosk restore``: a verified copy of the kiosk database made while
the kiosk runs, and the way back from one (kiosk/backup.py does the work)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from kiosk.cli.context import Context, audit, pass_context, staff_name
from kiosk.cli.exit_codes import KioskCommand

if TYPE_CHECKING:
    from kiosk.backup_secrets import SealedSecrets
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


def _passphrase(file: Path | None, *, twice: bool) -> str:
    """The staff passphrase: the first line of ``file``, else $KIOSK_BACKUP_PASSPHRASE, else
    asked (twice when it seals). Never echoed, logged or audited."""
    from kiosk.backup_secrets import PASSPHRASE_ENV, check_passphrase

    if file is not None:
        try:
            mode = file.stat().st_mode
            with file.open("rb") as handle:
                first = handle.read(4096).split(b"\n", 1)[0].decode("utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise click.ClickException(f"无法读取口令文件 {file}（{error}）。 / Cannot read the "
                                       f"passphrase file {file}.") from None
        if mode & 0o077:
            raise click.ClickException(
                f"口令文件 {file} 别人也能读（权限 {mode & 0o777:o}）：请先 chmod 600 {file}。"
                f" / The passphrase file {file} is readable by others: chmod 600 it first.")
        return check_passphrase(first)
    if os.environ.get(PASSPHRASE_ENV):
        return check_passphrase(os.environ[PASSPHRASE_ENV])
    return check_passphrase(click.prompt(
        "备份口令 / backup passphrase", hide_input=True, confirmation_prompt=(
            "再输一次 / repeat it" if twice else False)))


@click.command("backup", cls=KioskCommand)
@click.option("-o", "--output", "directory",
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the backup (default: backups beside the database).")
@click.option("--with-secrets", is_flag=True,
              help="Also seal the configuration and the card secret under a staff passphrase "
                   "into <backup>.secrets beside it (asked twice, or $KIOSK_BACKUP_PASSPHRASE, "
                   "or --passphrase-file).")
@click.option("--passphrase-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Read the passphrase from the first line of this owner-only file.")
@click.option("--nightly", is_flag=True,
              help="The nightly backup, if it is due: into [backup] folder, with rotation "
                   "(what the kiosk does by itself; for a systemd timer or cron).")
@pass_context
def backup_command(context: Context, directory: Path | None, with_secrets: bool,
                   passphrase_file: Path | None, nightly: bool) -> None:
    """Copy the kiosk database into a verified backup, while the kiosk runs.

    The copy is kiosk-<kiosk id>-<YYYYmmdd-HHMMSS>.db, readable by its owner only. It is
    read back before it is kept: whole (integrity check), a kiosk database, and with the
    counts the database had at the moment of the copy.

    --with-secrets seals the configuration and the card secret beside it (<backup>.secrets,
    AES-GCM under a key made from the passphrase by scrypt); `kiosk restore FILE --secrets`
    puts them back. --nightly makes the copy the kiosk makes by itself each night, when it
    is due; exit status 1 when the folder is missing or cannot be written.
    """
    if not context.db_path.exists():
        raise click.ClickException(f"{context.db_path}: no kiosk database here to back up")
    if nightly:
        if directory is not None or with_secrets:
            raise click.UsageError("--nightly uses [backup] folder and carries no secrets; "
                                   "leave out -o and --with-secrets")
        _nightly(context)
        return
    from kiosk.backup import make_backup

    sealing = None
    if with_secrets:  # everything asked and read before anything is written
        from kiosk.backup_secrets import collect
        from kiosk.cards.payload import secret_path

        sealing = (_passphrase(passphrase_file, twice=True),
                   collect(context.config_path, secret_path(context.config_path)))
    elif passphrase_file is not None:
        raise click.UsageError("--passphrase-file goes with --with-secrets")
    made = make_backup(context.store, context.kiosk_id, directory, staff=staff_name())
    click.echo(f"backup: {made.path} ({_size(made.size)})")
    for line in describe(made.summary):
        click.echo(line)
    click.echo("  verified: integrity ok, the counts of the database at the moment of the copy")
    if sealing is not None:
        from kiosk.backup_secrets import seal, secrets_path

        passphrase, files = sealing
        sealed = seal(secrets_path(made.path), files, passphrase, kiosk=context.kiosk_id,
                      made_at=made.summary.taken_at or "", database=made.path.name)
        held = ", ".join(files)
        audit(context, "backup-secrets", str(sealed), f"{held} sealed under a passphrase")
        click.echo(f"secrets: {sealed} ({held}; 凭口令才能打开 / opens only with the passphrase)")


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
@click.option("--secrets", is_flag=True,
              help="Also put back the configuration and card secret sealed beside the backup "
                   "(<backup>.secrets), with its passphrase.")
@click.option("--passphrase-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Read the passphrase from the first line of this owner-only file.")
@pass_context
def restore_command(context: Context, file: Path, force: bool, secrets: bool,
                    passphrase_file: Path | None) -> None:
    """Put the backup FILE in place of the kiosk database.

    Shows what the backup and the current database hold first. A database holding data the
    backup lacks (more rows, or submissions stored after the backup's last) is replaced only
    with --force. The current database is kept beside it first. Stop the kiosk before a
    restore.
    """
    from kiosk.backup import plan_restore, refusal, restore_backup
    from store.sqlite.schema import SCHEMA_VERSION

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
    sealed = None
    if secrets:  # opened and checked before the database is touched
        from kiosk.backup_secrets import check_contents, open_sealed, secrets_path

        sealed = open_sealed(secrets_path(file), _passphrase(passphrase_file, twice=False))
        check_contents(sealed)
    elif passphrase_file is not None:
        raise click.UsageError("--passphrase-file goes with --secrets")
    restored = restore_backup(plan, force=force)
    if restored.safety_copy:
        click.echo(f"kept the database as it was in {restored.safety_copy}")
    put = _put_back_secrets(context, sealed) if sealed is not None else ""
    if restored.summary.schema_version < SCHEMA_VERSION:
        # The way back after an upgrade: opening it here (for the audit) would upgrade it
        # again at once, so it is left as the older kiosk wrote it.
        version = restored.summary.schema_version
        click.echo(f"restored {file} into {context.db_path}: "
                   + ", ".join(restored.summary.count_lines()))
        click.echo(f"这是旧版软件的第 {version} 版数据库，已原样放回，没有升级"
                   "（也没有记入操作记录）。要退回旧版软件，请在终端再次启动之前装回它；"
                   "本版软件一打开这个数据库就会再升级它（先留副本）。"
                   f" / Left at schema {version}: install the older kiosk software before the "
                   "kiosk runs again; this one would upgrade it again when it opens it.")
        return
    audit(context, "restore", str(file),
          ", ".join(restored.summary.count_lines())
          + (f"; the database before kept at {restored.safety_copy}"
             if restored.safety_copy else "") + put)
    click.echo(f"restored {file} into {context.db_path}: "
               + ", ".join(restored.summary.count_lines()))


def _put_back_secrets(context: Context, sealed: SealedSecrets) -> str:
    """Write the opened secrets in place; the audit's words for it (names, never content)."""
    from kiosk.backup_secrets import put_back
    from kiosk.cards.payload import secret_path
    from surveys.clock import now_local

    stamp = now_local().strftime("%Y%m%d-%H%M%S")
    done = put_back(sealed, context.config_path, secret_path(context.config_path), stamp)
    for path, kept in done:
        click.echo(f"restored {path} from {sealed.path}"
                   + (f" (the one before kept as {kept})" if kept else ""))
    return f"; {', '.join(str(path) for path, _ in done)} restored from {sealed.path}"

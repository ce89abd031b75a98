"""The ``kiosk`` command. Every command is a thin call into a library function.

One module per command group (config_commands, survey_commands, data_commands for import and
export, stats_commands, volunteer_commands, printer_commands, central_commands for central,
sync and bundle, screen_commands for run and serve, say_command, backup_commands for
backup and restore, doctor_command for the system check, appliance_commands for the
machine as a hall kiosk, households_commands for the registers of households,
review_commands for review before counting); what they share is in
context.py (the database and configuration), options.py (options defined once) and
exit_codes.py (our exceptions as messages and exit codes).
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from kiosk import startup
from kiosk.cli.appliance_commands import appliance_group
from kiosk.cli.backup_commands import backup_command, restore_command
from kiosk.cli.central_commands import (
    bundle_group,
    central_group,
    set_aside_command,
    sync_command,
)
from kiosk.cli.config_commands import config_group
from kiosk.cli.context import Context
from kiosk.cli.data_commands import export_command, import_command
from kiosk.cli.doctor_command import doctor_command
from kiosk.cli.exit_codes import KioskGroup
from kiosk.cli.households_commands import households_group
from kiosk.cli.printer_commands import printer_group
from kiosk.cli.review_commands import review_group
from kiosk.cli.say_command import say_command
from kiosk.cli.screen_commands import run, serve_command
from kiosk.cli.stats_commands import stats_command
from kiosk.cli.survey_commands import survey
from kiosk.cli.volunteer_commands import volunteer


@click.group(cls=KioskGroup, invoke_without_command=True)
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
    # Everything the kiosk writes (its database, receipts, logs, exports, bundles, card
    # sheets) holds personal data or secrets: its owner's only, whatever the login's umask.
    os.umask(0o077)
    ctx.obj = Context(db, kiosk_id, config_path)
    if ctx.invoked_subcommand is None:
        ctx.invoke(run)
    elif ctx.invoked_subcommand != "run":  # run loads the screens first, then says so
        startup.loaded()


main.add_command(households_group, "households")
main.add_command(review_group, "review")
for command in (run, config_group, survey, import_command, export_command, volunteer,
                serve_command, printer_group, stats_command, say_command, central_group,
                sync_command, bundle_group, set_aside_command, backup_command, restore_command,
                doctor_command, appliance_group):
    main.add_command(command)

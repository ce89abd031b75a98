"""``kiosk config``: write, show and check this kiosk's configuration; set the staff PIN."""

from __future__ import annotations

import click

from kiosk.cli.context import Context, pass_context
from kiosk.cli.exit_codes import KioskGroup
from kiosk.config import (
    ConfigError,
    KioskConfig,
    Site,
    default_kiosk_id,
    hash_pin,
    load_config,
    save_config,
)


@click.group("config", cls=KioskGroup)
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
                         kiosk_id=new_kiosk_id or context.given_kiosk_id or default_kiosk_id(),
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
    click.echo(f"time zone: {config.timezone}")
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
    click.echo(f"volunteers: day end {volunteers.day_end}, "
               f"sessions under {volunteers.min_session_minutes} min flagged, repeat scans "
               f"within {volunteers.repeat_seconds} s ignored; service: {volunteers.service}")
    backup = config.backup
    folder = backup.folder or "backups beside the database"
    click.echo(f"nightly backup: {'on' if backup.nightly else 'OFF'}, {backup.hour:02d}:00 into "
               f"{folder}; keeps {backup.daily} daily, {backup.weekly} weekly, "
               f"{backup.monthly} monthly copies")


@config_group.command("set-pin")
@pass_context
def config_set_pin(context: Context) -> None:
    """Set the staff PIN (4 to 12 digits); only its scrypt hash is stored."""
    pin = click.prompt("new staff PIN", hide_input=True, confirmation_prompt=True)
    pin_hash = hash_pin(pin.strip())
    config = context.config.with_changes(staff_pin_hash=pin_hash)
    save_config(config, context.config_path)
    click.echo(f"staff PIN set in {context.config_path}")

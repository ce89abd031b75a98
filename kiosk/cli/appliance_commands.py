"""``kiosk appliance``: make this machine boot into the kiosk's hall screen (install),
undo that (remove), and the session the screen runs (session); kiosk/appliance/ does the
work."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from kiosk.appliance.units import (
    FONT_SIZE,
    LARGE_FONT_SIZE,
    PORT,
    USER,
)
from kiosk.cli.context import Context, pass_context
from kiosk.cli.exit_codes import KioskGroup

root_option = click.option(
    "--root", type=click.Path(file_okay=False, path_type=Path), default=Path("/"),
    show_default=True,
    help="Write the files under this folder instead of / (tests, or to look at them first).")


@click.group("appliance", cls=KioskGroup)
def appliance_group() -> None:
    """The machine as a hall kiosk: boots into the kiosk screen (开机即进入终端)."""


def _say(report_lines: list[str], steps: list[str]) -> None:
    for line in report_lines:
        click.echo(line)
    for line in steps:
        click.echo(f"→ {line}")


@appliance_group.command("install")
@root_option
@click.option("--user", default=USER, show_default=True,
              help="The unprivileged user the screen runs as (made by install).")
@click.option("--python", "python", type=click.Path(dir_okay=False, path_type=Path),
              default=None,
              help="The Python that runs the kiosk (default: this one); every user must be "
                   "able to run it.")
@click.option("--port", default=PORT, show_default=True, type=int,
              help="Port of the screen's server on 127.0.0.1.")
@click.option("--font-size", default=FONT_SIZE, show_default=True, type=int,
              help="Font size of the screen in pixels.")
@click.option("--large-font-size", default=LARGE_FONT_SIZE, show_default=True, type=int,
              help="Font size with 大字 (large text) in pixels.")
@click.option("--rotate", default=0, show_default=True, type=int,
              help="Quarter turns clockwise, for a screen mounted on its side (0-3).")
@click.option("--tty", default=1, show_default=True, type=int,
              help="The console the screen takes (tty1 is the one shown at boot).")
@click.option("--replace-desktop", is_flag=True,
              help="Start the kiosk instead of the desktop login (remove puts it back).")
@click.option("--no-packages", is_flag=True,
              help="Do not install missing Debian packages; say which are missing.")
def install_command(root: Path, user: str, python: Path | None, port: int, font_size: int,
                    large_font_size: int, rotate: int, tty: int, replace_desktop: bool,
                    no_packages: bool) -> None:
    """Set this machine up as a hall kiosk (run once, as root).

    Makes an unprivileged user and a systemd service that at boot starts cage (one
    full-screen app, no desktop, no switching to another console) with Chromium in kiosk
    mode on `kiosk serve` bound to 127.0.0.1, restarted whenever it stops. Installs cage,
    chromium, xwayland and a Chinese font when missing. Running it again applies new
    settings; `kiosk appliance remove` undoes it.
    """
    from kiosk.appliance.files import install
    from kiosk.appliance.units import ApplianceSettings

    settings = ApplianceSettings(
        root=root.resolve(), user=user, python=Path(python or sys.executable).absolute(),
        port=port, font_size=font_size, large_font_size=large_font_size, rotate=rotate,
        tty=tty, replace_desktop=replace_desktop)
    report = install(settings, install_packages=not no_packages)
    _say(report.done, report.next_steps)


@appliance_group.command("remove")
@root_option
@click.option("--purge", is_flag=True,
              help="Also delete the user's home folder with the database (back it up first).")
def remove_command(root: Path, purge: bool) -> None:
    """Undo `kiosk appliance install`: its files, the user it made, the desktop login it set
    aside. The database in the user's home folder is kept unless --purge."""
    from kiosk.appliance.files import remove

    report = remove(root.resolve(), purge=purge)
    _say(report.done, report.next_steps)


@appliance_group.command("session")
@click.option("--port", default=PORT, show_default=True, type=click.IntRange(1024, 65535),
              help="Port of the screen's server on 127.0.0.1.")
@click.option("--font-size", default=FONT_SIZE, show_default=True,
              type=click.IntRange(8, 48), help="Font size in pixels.")
@click.option("--large-font-size", default=LARGE_FONT_SIZE, show_default=True,
              type=click.IntRange(8, 64), help="Font size with 大字 in pixels.")
@click.option("--browser", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Chromium (default: /usr/bin/chromium).")
@click.option("--profile", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Chromium's profile folder, emptied at every start "
                   "(default: ~/.cache/shegong-kiosk/browser).")
@click.option("--devtools-port", type=click.IntRange(1024, 65535), default=None, hidden=True)
@pass_context
def session_command(context: Context, port: int, font_size: int, large_font_size: int,
                    browser: Path | None, profile: Path | None,
                    devtools_port: int | None) -> None:
    """The hall screen (what the appliance's service runs inside cage).

    Keeps `kiosk serve` on 127.0.0.1 and Chromium in kiosk mode on its page running, each
    started again when it stops, until stopped.
    """
    from kiosk.appliance.session import SessionSettings, run_session
    from kiosk.appliance.units import CHROMIUM

    settings = SessionSettings(
        db_path=context.db_path, config_path=context.config_path,
        kiosk_id=context.given_kiosk_id, port=port, font_size=font_size,
        large_font_size=large_font_size, browser=browser or CHROMIUM,
        profile=profile or Path.home() / ".cache" / "shegong-kiosk" / "browser",
        devtools_port=devtools_port)
    sys.exit(run_session(settings))

"""``kiosk run`` (the kiosk screens in this terminal; the default) and ``kiosk serve`` (the
screens for tablet browsers)."""

from __future__ import annotations

import click

from kiosk import startup
from kiosk.cli.context import Context, pass_context
from kiosk.cli.exit_codes import KioskCommand
from kiosk.config import ConfigError
from kiosk.paths import log_directory


def _check_offered_surveys(context: Context, consequence: str) -> None:
    """Refuse a configuration that offers a survey this database does not have."""
    config = context.config
    installed = {info.survey_id for info in context.store.list_forms()}
    missing = [survey for survey in config.surveys if survey not in installed]
    if missing:
        raise click.ClickException(
            f"{config.path}: [kiosk] surveys: {', '.join(missing)} not installed "
            f"(installed: {', '.join(sorted(installed))}); {consequence}")


@click.command(cls=KioskCommand)
@pass_context
def run(context: Context) -> None:
    """Open the kiosk screens (the default)."""
    config = context.config
    _check_offered_surveys(context, "the kiosk was not started")
    from kiosk.app import KioskApp  # Textual loads only when the screens are wanted

    startup.loaded()

    from kiosk.nightly import NightlyBackups

    # kiosk.log is opened at the start, so printer trouble is logged as it happens. The
    # nightly backup looks in a thread of its own (one process of a database makes it).
    with NightlyBackups(context.db_path, context.kiosk_id, config.backup):
        KioskApp(context.store, config=config, log_dir=log_directory()).run()


@click.command("serve", cls=KioskCommand)
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

    # Check here what each tablet's `kiosk run` would refuse, so it shows at start.
    _check_offered_surveys(context, "nothing was served")
    try:
        token = ensure_token(context.config_path, host)
    except (ConfigError, OSError) as error:
        raise click.ClickException(f"cannot keep the access token: {error}") from None
    from kiosk.nightly import NightlyBackups

    # The server outlives the tablets' processes: the nightly backup is looked for here too.
    try:
        with NightlyBackups(context.db_path, context.kiosk_id, context.config.backup):
            serve(context.db_path, context.config_path, host=host, port=port, token=token,
                  kiosk_id=context.given_kiosk_id)
    except OSError as error:
        raise click.ClickException(f"cannot listen on {host}:{port}: {error}") from None

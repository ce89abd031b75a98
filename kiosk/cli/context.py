"""What every command shares: the context (database, configuration, kiosk id, each opened
when first used), rich's console, and the audit record of staff actions."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from kiosk.config import KioskConfig, load_config
from kiosk.paths import default_config_path, default_database_path
from store import KioskStore, open_store
from surveys.clock import set_station_zone
from surveys.form import Form

if TYPE_CHECKING:
    from rich.console import Console

def console(stderr: bool = False) -> Console:
    """Rich's console, made (and rich loaded) only by the commands that print with it."""
    from rich.console import Console

    return Console(stderr=stderr)


class Context:
    """The database, configuration and kiosk id a command works with (``--db``,
    ``--config``, ``--kiosk-id``), each opened when first used."""

    def __init__(self, db: Path | None, kiosk_id: str | None, config_path: Path | None) -> None:
        self.db_path = db or default_database_path()
        self.config_path = config_path or default_config_path()
        self.given_kiosk_id = kiosk_id
        self._store: KioskStore | None = None
        self._config: KioskConfig | None = None

    @property
    def config(self) -> KioskConfig:
        if self._config is None:
            self._config = load_config(self.config_path)
            if self.given_kiosk_id:
                self._config = self._config.with_changes(kiosk_id=self.given_kiosk_id)
            set_station_zone(self._config.timezone)
        return self._config

    @property
    def kiosk_id(self) -> str:
        return self.given_kiosk_id or self.config.kiosk_id

    @property
    def store(self) -> KioskStore:
        if self._store is None:
            # The station's clock before anything is read or stamped (times, days, the report).
            set_station_zone(self.config.timezone)
            self._store = open_store(self.db_path)
        return self._store


pass_context = click.make_pass_decorator(Context)


def audit(context: Context, action: str, target: str, detail: str = "", *,
           staff: str | None = None) -> None:
    """A staff action from the command line goes into the audit record, under the name
    given (--staff) or the computer login that ran it."""
    context.store.add_audit(action, target, detail, staff=staff_name(staff),
                            kiosk=context.kiosk_id)


def staff_name(staff: str | None = None) -> str:
    """The name given (--staff), else the computer login that runs the command."""
    import getpass

    try:
        return staff or getpass.getuser()
    except (KeyError, OSError):  # no login name (some containers)
        return "unknown"


def load_form(context: Context, survey_id: str) -> Form:
    try:
        return context.store.load_form(survey_id)
    except KeyError:
        known = ", ".join(info.survey_id for info in context.store.list_forms())
        raise click.ClickException(f"no survey '{survey_id}' here (installed: {known})") from None


@contextlib.contextmanager
def progress_bar(words: str, total: int, *, show: bool,
                 in_bytes: bool = False) -> Iterator[Callable[[int], None]]:
    """A bar on standard error that goes away when done (shown only when ``show``); yields
    the function that advances it (by bytes read, or by rows)."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    amount = DownloadColumn() if in_bytes else MofNCompleteColumn()
    with Progress(TextColumn(words), BarColumn(), amount, TimeRemainingColumn(),
                  console=console(stderr=True), disable=not show,
                  transient=True) as progress:
        task = progress.add_task(words, total=total)
        yield lambda done: progress.advance(task, done)

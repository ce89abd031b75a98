"""One mapping from the project's exceptions to what the ``kiosk`` command says and its exit
status: a mistake to fix exits 1 with the message, a question or choice the survey lacks is a
usage error (2), and a central database that cannot be reached or whose connection broke
exits 3, so a scheduled sync can tell a network problem from a mistake.

Every command is a ``KioskCommand`` (groups are ``KioskGroup``), so the mapping applies
everywhere without a wrapper per call. An exception of a module that was never loaded
cannot have been raised, so the classes are looked up only among loaded modules: the CLI
loads nothing for them.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

import click

# (module, exception): exit 3, try again later.
RETRY = (("store.central.connection", "CentralUnreachable"),
         ("store.central.connection", "CentralConnectionLost"))
# A request the statistics cannot answer: a usage error (exit 2).
USAGE = (("surveys.stats.model", "StatsError"),)
# A problem the user can act on: its message, exit 1.
MESSAGE = (
    ("store.errors", "StoreError"),
    ("store.central.connection", "CentralError"),
    ("kiosk.config", "ConfigError"),
    ("kiosk.central.bundles", "BundleError"),
    ("kiosk.central.enrolment", "EnrolmentError"),
    ("kiosk.printing.commands", "PrintCommandError"),
    ("kiosk.volunteers.roster", "RosterFileError"),
    ("surveys.exports.columns", "ExportError"),
    ("surveys.xlsform", "FormError"),
    ("kiosk.speech", "SpeechUnavailable"),
    ("kiosk.appliance.files", "ApplianceError"),
)


class TryAgainLater(click.ClickException):
    """The central database could not be reached or the connection broke: exit code 3, so a
    scheduled sync can tell a network problem from a mistake to fix."""

    exit_code = 3


def _is_one_of(error: BaseException, kinds: tuple[tuple[str, str], ...]) -> bool:
    for module_name, class_name in kinds:
        module = sys.modules.get(module_name)
        if module is not None and isinstance(error, getattr(module, class_name)):
            return True
    return False


def as_click_error(error: Exception, ctx: click.Context | None = None
                   ) -> click.ClickException | None:
    """The click error that reports ``error``, or None when it is none of ours."""
    if _is_one_of(error, RETRY):
        return TryAgainLater(str(error))
    if _is_one_of(error, USAGE):
        return click.UsageError(str(error), ctx=ctx)
    if _is_one_of(error, MESSAGE):
        return click.ClickException(str(error))
    return None


@contextlib.contextmanager
def reported(ctx: click.Context | None = None) -> Iterator[None]:
    """Our exceptions inside become click errors (see the module's mapping)."""
    try:
        yield
    except click.ClickException:
        raise
    except Exception as error:
        reported_error = as_click_error(error, ctx)
        if reported_error is None:
            raise
        raise reported_error from None


@contextlib.contextmanager
def staff_mistakes() -> Iterator[None]:
    """A ValueError from what staff typed (a phone, a date, a time, a card) becomes its
    message, exit 1."""
    try:
        yield
    except ValueError as error:
        raise click.ClickException(str(error)) from None


class KioskCommand(click.Command):
    """A command whose errors are reported by the mapping above."""

    def invoke(self, ctx: click.Context) -> Any:
        with reported(ctx):
            return super().invoke(ctx)


class KioskGroup(click.Group):
    """A group whose commands and subgroups are KioskCommands and KioskGroups."""

    command_class = KioskCommand
    group_class = type  # subgroups are of this class too

    def invoke(self, ctx: click.Context) -> Any:
        with reported(ctx):
            return super().invoke(ctx)

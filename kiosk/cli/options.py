"""Options several commands share, each defined once (in the manner of sqlite-utils' CLI):
the statistics filters, the period of volunteer reports, ``--team``, ``--central`` and
``--json``. A shared group of options reaches the command as one value (``filters``,
``period``)."""

from __future__ import annotations

import datetime as dt
import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

Command = TypeVar("Command", bound=Callable[..., Any])
# First and last day of a volunteer report (None: open-ended).
Period = tuple[dt.date | None, dt.date | None]


def json_option(help: str = "Print JSON.") -> Callable[[Command], Command]:
    return click.option("--json", "as_json", is_flag=True, help=help)


team_option = click.option("--team", help="Only this team (服务队).")


def _central_dsn(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value == "$KIOSK_CENTRAL":
        value = os.environ.get("KIOSK_CENTRAL", "")
        if not value:
            raise click.BadParameter("give a DSN, or set KIOSK_CENTRAL", param_hint="--central")
    return value


# --central DSN, or --central alone for $KIOSK_CENTRAL: the central PostgreSQL instead.
central_option = click.option(
    "--central", metavar="DSN", is_flag=False, flag_value="$KIOSK_CENTRAL", default=None,
    callback=_central_dsn,
    help="Every kiosk's submissions in the central PostgreSQL at DSN (postgresql://…; "
         "--central alone: $KIOSK_CENTRAL).")


def _where_pairs(values: tuple[str, ...]) -> dict[str, str]:
    where: dict[str, str] = {}
    for value in values:
        name, equals, choice = value.partition("=")
        if not equals or not name.strip() or not choice.strip():
            raise click.BadParameter(f"{value!r}: give QUESTION=CHOICE, e.g. "
                                     "respondent_group=elderly", param_hint="--where")
        if name.strip() in where:
            raise click.BadParameter(f"question '{name.strip()}' is given twice",
                                     param_hint="--where")
        where[name.strip()] = choice.strip()
    return where


def _with_options(options: list[Callable[[Any], Any]], command: Any) -> Any:
    """``command`` with ``options``, shown in this order in its help."""
    for option in reversed(options):
        command = option(command)
    return command


def filter_options(where_help: str, *, where_first: bool) -> Callable[[Command], Command]:
    """--where, --from, --to, --kiosk, --site and --enumerator, handed to the command as
    ``filters`` (a surveys.stats.model.StatsFilter). ``where_first``: --where before the
    dates in the help (as ``stats`` has always shown it) or after them (``export``)."""
    where = click.option("--where", multiple=True, metavar="QUESTION=CHOICE", help=where_help)
    dates = [
        click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]),
                     metavar="YYYY-MM-DD",
                     help="Only submissions completed on or after this day (China time)."),
        click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]),
                     metavar="YYYY-MM-DD",
                     help="Only submissions completed on or before this day (China time)."),
    ]
    places = [
        click.option("--kiosk", "kiosks", multiple=True,
                     help="Only from this kiosk (repeatable)."),
        click.option("--site", "sites", multiple=True, help="Only from this site (repeatable)."),
        click.option("--enumerator", "enumerators", multiple=True,
                     help="Only by this volunteer number (repeatable)."),
    ]
    review = click.option(
        "--review", "review", multiple=True, metavar="STATE",
        help="Only submissions in this review state: pending, approved, questioned, void or "
             "all (repeatable; default: every state but void).")
    options = [where, *dates, *places, review] if where_first \
        else [*dates, where, *places, review]

    def decorator(command: Command) -> Command:
        @functools.wraps(command)
        def with_filters(*args: Any, date_from: dt.datetime | None, date_to: dt.datetime | None,
                         where: tuple[str, ...], kiosks: tuple[str, ...],
                         sites: tuple[str, ...], enumerators: tuple[str, ...],
                         review: tuple[str, ...], **kwargs: Any) -> Any:
            from surveys.review import ReviewError, review_states
            from surveys.stats.model import StatsFilter

            try:
                states = review_states(review)
            except ReviewError as error:
                raise click.BadParameter(str(error), param_hint="--review") from None
            filters = StatsFilter(
                date_from=date_from.date() if date_from else None,
                date_to=date_to.date() if date_to else None, kiosks=kiosks, sites=sites,
                enumerators=enumerators, where=_where_pairs(where), review=states)
            return command(*args, filters=filters, **kwargs)

        return _with_options(options, with_filters)  # type: ignore[no-any-return]

    return decorator


def _volunteer_day(value: str | None, option: str) -> dt.date | None:
    from kiosk.volunteers.roster import parse_date

    try:
        return parse_date(value, what=option) if value else None
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint=option) from None


def _period(start: str | None, end: str | None, month: str | None) -> Period:
    """--from/--to days, or --month YYYY-MM."""
    if month:
        if start or end:
            raise click.UsageError("give either --month or --from/--to")
        try:
            year, number = (int(part) for part in month.split("-"))
            first = dt.date(year, number, 1)
        except ValueError:
            raise click.BadParameter(f"{month!r} is not a month like 2026-11",
                                     param_hint="--month") from None
        following = (first + dt.timedelta(days=32)).replace(day=1)
        return first, following - dt.timedelta(days=1)
    first, last = _volunteer_day(start, "--from"), _volunteer_day(end, "--to")
    if first and last and last < first:
        raise click.BadParameter(f"{last} is before --from {first}", param_hint="--to")
    return first, last


def period_options(command: Command) -> Command:
    """--from, --to (days of check-in) or --month, handed to the command as ``period``:
    (first day or None, last day or None)."""
    options = [
        click.option("--from", "start", help="First day (check-in date), e.g. 2026-11-01."),
        click.option("--to", "end", help="Last day (inclusive)."),
        click.option("--month",
                     help="A calendar month, e.g. 2026-11 (instead of --from/--to)."),
    ]

    @functools.wraps(command)
    def with_period(*args: Any, start: str | None, end: str | None, month: str | None,
                    **kwargs: Any) -> Any:
        return command(*args, period=_period(start, end, month), **kwargs)

    return _with_options(options, with_period)  # type: ignore[no-any-return]

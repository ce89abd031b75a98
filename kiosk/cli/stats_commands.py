"""``kiosk stats``: a survey's statistics as tables or JSON, of this kiosk or (``--central``) of
every kiosk synced to the central database; and the store such figures are read from (also
for ``kiosk export``)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click

from kiosk.cli.context import Context, console, load_form, pass_context
from kiosk.cli.exit_codes import KioskCommand
from kiosk.cli.options import central_option, filter_options, json_option

if TYPE_CHECKING:
    from surveys.stats.model import StatsFilter


@click.command("stats", cls=KioskCommand)
@click.argument("survey_id")
@click.option("--by", metavar="QUESTION", help="Cross-tab by this select question.")
@click.option("--question", metavar="QUESTION",
              help="With --by: only this question (default: every select question).")
@filter_options("Only respondents with this answer (repeat: all must hold; for a multiple "
                "choice question: the choice is among those chosen).", where_first=True)
@click.option("--period", type=click.Choice(["day", "week", "month"]), default="month",
              show_default=True, help="Submissions over time: per day, week or month.")
@click.option("--include-pii", is_flag=True,
              help="Include questions marked pii (text answers with names, phones...).")
@click.option("--lang", "language", type=click.Choice(["zh", "en"]), default="zh",
              show_default=True, help="Language of labels.")
@json_option("Print the exact figures as JSON.")
@click.option("--by-site", is_flag=True,
              help="Also N and every select question per street, community and kiosk.")
@central_option
@pass_context
def stats_command(context: Context, survey_id: str, by: str | None, question: str | None,
                  filters: StatsFilter, period: str, include_pii: bool, language: str,
                  as_json: bool, by_site: bool, central: str | None) -> None:
    """Statistics of a survey, all versions together: counts, percentages with 95 %
    intervals, Likert means, numbers, text answers, a cross-tab and submissions over time;
    with --central, of every kiosk synced to the central PostgreSQL.

    An unknown question or choice in --where, --by or --question: exit status 2; the
    central database unreachable: 3.
    """
    from surveys.stats.figures import survey_statistics
    from surveys.stats.sites import site_breakdown

    store = stats_store(context, survey_id, central)
    with central_refusals(central), store.read_snapshot():  # the breakdown agrees
        stats = survey_statistics(store, survey_id, filters, by=by, question=question,
                                  include_pii=include_pii, language=language, period=period)
        if by_site:
            stats["by_site"] = site_breakdown(store, survey_id, filters,
                                              include_pii=include_pii)
    if as_json:
        click.echo(json.dumps(stats, ensure_ascii=False))
        return
    from kiosk.cli.stats_view import render_site_breakdown, render_statistics

    output = console()
    for renderable in render_statistics(stats):
        output.print(renderable)
    if by_site:
        for renderable in render_site_breakdown(stats):
            output.print(renderable)


@contextlib.contextmanager
def central_refusals(central: str | None) -> Iterator[None]:
    """With --central: what the central database refuses becomes our CentralError."""
    if not central:
        yield
        return
    from store.central.connection import refusals

    with refusals():
        yield


def stats_store(context: Context, survey_id: str, central: str | None) -> Any:
    """This kiosk's database, or with --central the central one (exit 3 when it cannot be
    reached, 1 when it has no such survey)."""
    if not central:
        load_form(context, survey_id)
        return context.store
    from store.central.connection import describe
    from store.central.stats import CentralStats

    with central_refusals(central):
        store = CentralStats(central)
    click.get_current_context().call_on_close(store.close)
    if not store.versions(survey_id):
        raise click.ClickException(
            f"no survey '{survey_id}' at the central database {describe(central)}")
    return store

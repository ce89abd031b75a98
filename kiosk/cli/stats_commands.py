"""``kiosk stats``: a survey's statistics as tables or JSON, of this kiosk or (``--central``) of
every kiosk synced to the central database; and the store such figures are read from (also
for ``kiosk export``)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
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
@click.option("--compare", metavar="FILTERS",
              help="Compare two groups: this one, e.g. \"from=2025-01-01 to=2025-06-30\" "
                   "(keys from, to, site, kiosk, enumerator, QUESTION=CHOICE) ...")
@click.option("--with", "with_", metavar="FILTERS",
              help="... with this one, e.g. \"from=2026-01-01 to=2026-06-30\".")
@click.option("--pdf", type=click.Path(dir_okay=False, path_type=Path),
              help="With --compare/--with: also write the comparison as a PDF report.")
@central_option
@pass_context
def stats_command(context: Context, survey_id: str, by: str | None, question: str | None,
                  filters: StatsFilter, period: str, include_pii: bool, language: str,
                  as_json: bool, by_site: bool, compare: str | None, with_: str | None,
                  pdf: Path | None, central: str | None) -> None:
    """Statistics of a survey, all versions together: counts, percentages with 95 %
    intervals, Likert means, numbers, text answers, a cross-tab with its chi-square test and
    submissions over time; with --central, of every kiosk synced to the central PostgreSQL.

    --compare FILTERS --with FILTERS: the change per select question from the first group
    to the second (each choice's share with Newcombe's 95 % interval; Likert: mean and
    top-2 share), in plain words: larger than chance or not. A key replaces the same option
    of the command; QUESTION=CHOICE is added to --where.

    An unknown question or choice in --where, --by, --question, --compare or --with, or a
    filter string that cannot be read: exit status 2; the central database unreachable: 3.
    """
    if compare is not None or with_ is not None:
        compare_command(context, survey_id, filters, compare, with_, pdf,
                        include_pii=include_pii, language=language, as_json=as_json,
                        central=central, refused={"--by": by, "--question": question,
                                                  "--by-site": by_site})
        return
    if pdf is not None:
        raise click.UsageError("--pdf 只用于 --compare/--with 的比较报告 "
                               "(--pdf goes with --compare and --with)")
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


def compare_command(context: Context, survey_id: str, filters: StatsFilter,
                    compare: str | None, with_: str | None, pdf: Path | None, *,
                    include_pii: bool, language: str, as_json: bool, central: str | None,
                    refused: dict[str, Any]) -> None:
    """``kiosk stats --compare A --with B``: the two groups compared (surveys.stats.comparison)."""
    from surveys.stats.comparison import compare_statistics, parse_filter_string

    if compare is None or with_ is None:
        raise click.UsageError("--compare 和 --with 要一起给：两组各一个筛选条件 "
                               "(give both --compare and --with, one filter set each)")
    for option, value in refused.items():
        if value:
            raise click.UsageError(f"{option} 不能和 --compare 一起用 "
                                   f"({option} cannot go with --compare)")
    first = parse_filter_string(compare, "--compare", filters)
    second = parse_filter_string(with_, "--with", filters)
    store = stats_store(context, survey_id, central)
    with central_refusals(central):
        comparison = compare_statistics(store, survey_id, first, second,
                                        include_pii=include_pii, language=language)
    if pdf is not None:
        from surveys.exports.pdf import write_comparison_pdf

        pages = write_comparison_pdf(comparison, pdf, language=language,
                                     station=context.config.station_name)
        click.echo(f"wrote {pdf} ({pages} pages)", err=True)
    if as_json:
        click.echo(json.dumps(comparison, ensure_ascii=False))
        return
    from kiosk.cli.stats_view import render_comparison

    output = console()
    for renderable in render_comparison(comparison):
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

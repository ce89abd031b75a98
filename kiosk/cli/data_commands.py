"""``kiosk import`` and ``kiosk export``: submissions in (JSON Lines, each checked like a
resident's answers) and out (CSV, XLSX, JSONL, SPSS .sav, Stata .dta, or the PDF report)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from kiosk.cli.context import Context, audit, console, pass_context, progress_bar
from kiosk.cli.exit_codes import KioskCommand
from kiosk.cli.options import central_option, filter_options, json_option
from kiosk.cli.stats_commands import central_refusals, stats_store

if TYPE_CHECKING:
    from surveys.stats.model import StatsFilter


def described(dsn: str) -> str:
    """``host:port/database`` of a DSN, without user or password."""
    from store.central.connection import describe

    return describe(dsn)


@click.command("import", cls=KioskCommand)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option("Print the report as JSON.")
@pass_context
def import_command(context: Context, file: Path, as_json: bool) -> None:
    """Import submissions from a JSONL file (idempotent by instance_id).

    Every line is checked like a resident's answers; bad lines are reported and skipped,
    the good ones stored. A record whose id is stored with other content is a conflict
    (nothing stored changes). Exit status 0 when every record was accepted, 1 when some
    were rejected or in conflict.
    """
    store = context.store
    size = file.stat().st_size
    from kiosk.importer import import_jsonl

    show = not as_json and console(stderr=True).is_terminal and size > 1_000_000
    with progress_bar("导入 importing", size, show=show, in_bytes=True) as advance:
        report = import_jsonl(store, file, kiosk=None, on_progress=advance)
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        problems = sorted([*report.rejected, *report.conflicts], key=lambda entry: entry.line)
        for problem in problems:
            click.echo(f"{file}:{problem.line}: {problem.error}", err=True)
        click.echo(f"stored {report.stored}, duplicates {report.duplicates}, "
                   f"rejected {len(report.rejected)}"
                   + (f", conflicts {len(report.conflicts)}" if report.conflicts else ""))
    sys.exit(1 if report.failed else 0)


@click.command("export", cls=KioskCommand)
@click.argument("survey_id")
@click.option("--format", "file_format",
              type=click.Choice(["csv", "xlsx", "pdf", "jsonl", "sav", "dta"]),
              help="Output format (default: from the file's ending, else jsonl).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True),
              required=True, help="Output file, or - for standard output (csv, jsonl).")
@click.option("--labels", is_flag=True,
              help="Choice labels instead of choice names (csv, xlsx data sheet).")
@click.option("--include-pii", is_flag=True,
              help="Include answers marked pii (names, phones, addresses); staff only.")
@click.option("--lang", "language", type=click.Choice(["zh", "en"]), default="zh",
              show_default=True, help="Language of labels, headings and the report.")
@click.option("--by", metavar="QUESTION",
              help="Cross-tab every select question by this one (xlsx sheet, pdf section).")
@filter_options("Only submissions with this answer (repeat: all must hold).",
                where_first=False)
@central_option
@click.option("--paradata", is_flag=True,
              help="How each questionnaire was filled instead of its answers: seconds, answer "
                   "changes, back-steps, idle interruptions, flags (csv, xlsx, jsonl; no pii).")
@pass_context
def export_command(context: Context, survey_id: str, file_format: str | None, output: str,
                   labels: bool, include_pii: bool, language: str, by: str | None,
                   filters: StatsFilter, central: str | None, paradata: bool) -> None:
    """Export a survey's submissions (csv, xlsx, jsonl, SPSS sav, Stata dta) or its report (pdf).

    Personal data (questions marked pii) are left out unless --include-pii. Nothing is
    written when something is wrong; an existing file is replaced only by a complete one.
    Exit status 2 for an unknown question or choice, 1 for other errors.
    """
    from surveys.exports import export_survey, format_for

    file_format = format_for(output, file_format)
    target: Any = sys.stdout if output == "-" else Path(output)
    if paradata:
        export_paradata_command(context, survey_id, file_format, output, target, filters,
                                central)
        return
    store = stats_store(context, survey_id, central) if central else context.store
    if central and include_pii and not store.reads_personal_data:
        raise click.ClickException(
            "this login may not read the residents' personal answers (the reader role): "
            "--include-pii needs a pii reader's login")
    total = store.submission_count(survey_id)
    show = (output != "-" and console(stderr=True).is_terminal and total > 20_000
            and file_format != "pdf")
    with progress_bar("导出 exporting", total, show=show) as advance, \
            central_refusals(central):
        notes: list[str] = []
        repeat_rows: dict[str, int] = {}  # a form with repeat groups: their files or sheets
        count = export_survey(store, survey_id, target, file_format=file_format,
                              filters=filters, by=by, labels=labels, include_pii=include_pii,
                              language=language, on_progress=advance, notes=notes,
                              station=context.config.station_name, repeat_rows=repeat_rows)
    repeats = ", ".join(f"{where} ({rows} rows)" for where, rows in repeat_rows.items())
    for note in notes:
        click.echo(note, err=True)
    if not central or context.db_path.exists():  # a staff computer has no kiosk database
        audit(context, "export", survey_id,
              f"{file_format} {count} rows to {output}"
              + (f", repeat groups to {repeats}" if repeats else "")
              + (" with personal data" if include_pii else "")
              + (f" from the central database {described(central)}" if central else ""))
    if output == "-":
        return
    if file_format == "pdf":
        click.echo(f"wrote the report of {count} submissions to {output}", err=True)
    elif repeats:
        where = "sheets" if file_format == "xlsx" else "files"
        click.echo(f"wrote {count} submissions to {output}, their repeat groups to the {where} "
                   f"{repeats}", err=True)
    else:
        click.echo(f"wrote {count} submissions to {output}", err=True)


def export_paradata_command(context: Context, survey_id: str, file_format: str, output: str,
                            target: Any, filters: StatsFilter, central: str | None) -> None:
    """``kiosk export ID --paradata``: surveys.paradata.export_paradata, audited."""
    from surveys.paradata import export_paradata

    if central:
        raise click.ClickException("--paradata: 过程数据只留在记录它的自助机上，中心库没有 "
                                   "(paradata stay on the kiosk that recorded them; "
                                   "export it there, without --central)")
    count = export_paradata(context.store, survey_id, target, file_format, filters)
    audit(context, "export", survey_id, f"paradata {file_format} {count} rows to {output}")
    if output != "-":
        click.echo(f"wrote the paradata of {count} submissions to {output}", err=True)

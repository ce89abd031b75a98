"""``kiosk survey``: the questionnaires installed here (list, import, validate, show)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from kiosk.cli.context import Context, console, load_form, pass_context
from kiosk.cli.exit_codes import KioskGroup
from store import FormVersionConflict
from surveys.form import Form


@click.group(cls=KioskGroup)
def survey() -> None:
    """Questionnaires: list, import, validate, show."""


@survey.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def survey_list(context: Context, as_json: bool) -> None:
    """Installed questionnaires (newest version of each)."""
    forms = context.store.list_forms()
    if as_json:
        click.echo(json.dumps([
            {"id": info.survey_id, "title": info.title_in("zh"), "version": info.version,
             "questions": info.question_count} for info in forms], ensure_ascii=False))
        return
    from rich.table import Table  # rich's tables and progress bars load only when used

    table = Table("id", "title 标题", "version", "questions")
    for info in forms:
        table.add_row(info.survey_id, info.title_in("zh"), info.version, str(info.question_count))
    console().print(table)


@survey.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
def survey_import(context: Context, file: Path) -> None:
    """Import an XLSForm (.xlsx, .xls, .csv, .md) into this kiosk."""
    from surveys.xlsform import compile_xlsform  # not with every command: lxml, zipfile …

    compiled = compile_xlsform(file)
    try:
        new = context.store.install_form(compiled)
    except FormVersionConflict as error:
        raise click.ClickException(f"{file}: {error}") from None
    form = context.store.load_form(compiled["survey_id"], compiled["version"])
    state = "imported" if new else "already installed, nothing changed"
    click.echo(f"{form.survey_id} version {form.version} ({form.title_in()}, "
               f"{form.question_count} questions): {state}")


@survey.command("validate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def survey_validate(file: Path) -> None:
    """Check an XLSForm without importing it (exit 0 if the kiosk can run it)."""
    from surveys.xlsform import compile_xlsform

    form = Form(compile_xlsform(file))
    click.echo(f"OK: {file.name}: {form.survey_id} version {form.version}, "
               f"{form.question_count} questions, languages: {', '.join(form.languages)}")


@survey.command("show")
@click.argument("survey_id")
@click.option("--json", "as_json", is_flag=True, help="Print the compiled form as JSON.")
@pass_context
def survey_show(context: Context, survey_id: str, as_json: bool) -> None:
    """Show a questionnaire's questions, types and rules."""
    form = load_form(context, survey_id)
    if as_json:
        click.echo(json.dumps(form.compiled, ensure_ascii=False, indent=2))
        return
    console().print(f"[bold]{form.title_in()}[/] ({form.survey_id}, version {form.version}, "
                  f"languages: {', '.join(form.languages)})")
    from rich.table import Table

    table = Table("name", "type", "label", "relevant", "constraint / calculation", "pii")
    for item in form.items:
        if item.is_group:
            kind = "group" + (" (field-list)" if item.is_field_list else "")
        else:
            kind = item.kind + (f" {item.list_name}" if item.list_name else "")
        rule = item.expressions.get("constraint") or item.expressions.get("calculate") or {}
        table.add_row(
            ("  " * len(form.ancestors(item))) + item.name, kind,
            form.text(item.label, form.default_language),
            item.expressions.get("relevant", {}).get("source", ""),
            rule.get("source", ""), "yes" if item.pii else "",
        )
    console().print(table)

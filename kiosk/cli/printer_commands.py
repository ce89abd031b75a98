"""``kiosk printer``: the print queue (list, retry, cancel, reprint), previews and a test
page."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from kiosk.cli.context import Context, audit, console, pass_context
from kiosk.cli.exit_codes import KioskGroup


@click.group("printer", cls=KioskGroup)
def printer_group() -> None:
    """The receipt printer: its queue, previews and a test page."""


@printer_group.group("queue", invoke_without_command=True)
@click.option("--all", "show_all", is_flag=True,
              help="List every job (default: unfinished ones and the last 20 others).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def printer_queue(ctx: click.Context, show_all: bool, as_json: bool) -> None:
    """List the print queue; `queue retry|cancel|reprint ID` act on one job.

    States: queued (排队中), sending (正在打印), waiting (等打印机: the printer was not
    ready; tried again with a growing pause up to a minute), done (已打印), cancelled (已取消).
    """
    if ctx.invoked_subcommand is not None:
        return
    from kiosk.i18n import state_word, tr

    store = ctx.find_object(Context).store
    pending = store.print_jobs(states=("queued", "sending", "waiting"))
    others = store.print_jobs(states=("done", "cancelled"), limit=None if show_all else 20)
    jobs = sorted(pending + others, key=lambda job: job.id)
    if as_json:
        click.echo(json.dumps([
            {"id": job.id, "created": job.created, "kind": job.kind, "title": job.title,
             "source": job.source, "state": job.state, "reprint": job.reprint,
             "attempts": job.attempts, "next_attempt": job.next_attempt,
             "status": job.last_status, "message": job.last_error, "done_at": job.done_at}
            for job in jobs], ensure_ascii=False))
        return
    if not jobs:
        click.echo("the print queue is empty / 打印队列是空的")
        return
    from rich.table import Table

    table = Table("id", "created 时间", "kind", "title 内容", "state 状态", "tries",
                  "printer 打印机")
    for job in jobs:
        state = (f"{state_word('print_state', job.state, 'zh')} "
                 f"{state_word('print_state', job.state, 'en')}"
                 + (f" · {tr('print.reprint_mark', 'zh')}" if job.reprint else ""))
        if job.state == "waiting":
            wait = max(0, round(job.next_attempt - time.time()))
            state += f" (next try in {wait} s)"
        table.add_row(str(job.id), job.created[:16].replace("T", " "), job.kind, job.title,
                      state, str(job.attempts), job.last_error or job.last_status)
    console().print(table)
    counts = store.print_job_counts()
    click.echo(", ".join(f"{state} {count}" for state, count in sorted(counts.items())))


@printer_queue.command("retry")
@click.argument("job_id", type=int)
@pass_context
def printer_retry(context: Context, job_id: int) -> None:
    """Try a waiting (or cancelled) job again now."""
    job = context.store.retry_print_job(job_id, time.time())
    audit(context, "print_retry", str(job.id))
    click.echo(f"print job {job.id} queued again; the kiosk prints it within a few seconds")


@printer_queue.command("cancel")
@click.argument("job_id", type=int)
@pass_context
def printer_cancel(context: Context, job_id: int) -> None:
    """Cancel a job that has not been printed."""
    job = context.store.cancel_print_job(job_id)
    audit(context, "print_cancel", str(job.id))
    click.echo(f"print job {job.id} cancelled")


@printer_queue.command("reprint")
@click.argument("job_or_code")
@pass_context
def printer_reprint(context: Context, job_or_code: str) -> None:
    """Print another copy, marked 补打 REPRINT: JOB_OR_CODE is a job id or the receipt
    code a resident reads out (e.g. K7QM-3XAB)."""
    from kiosk.printing.commands import reprint

    new_id = reprint(context.store, context.config, job_or_code)
    audit(context, "print_reprint", job_or_code, f"new job {new_id}")
    click.echo(f"reprint queued as print job {new_id}")


@printer_group.command("preview")
@click.argument("job_or_file")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help="PNG file to write.")
@pass_context
def printer_preview(context: Context, job_or_file: str, output: Path) -> None:
    """Draw a receipt as the printer would print it: JOB_OR_FILE is a file of ESC/POS
    bytes, a print job id or a receipt code (paper width and code page from the config)."""
    from kiosk.printing.commands import preview

    path = preview(context.store, context.config, job_or_file, output)
    click.echo(f"wrote {path}")


@printer_group.command("test")
@click.option("--port", "url", help="Serial port or pyserial URL (default: [printer] url).")
@pass_context
def printer_test(context: Context, url: str | None) -> None:
    """Print a test page (Chinese, English, a QR code) and say how the printer is.

    Exit status 0 when the page printed and the printer is ready, 1 otherwise.
    """
    from kiosk.printing.commands import print_test_page

    result = print_test_page(context.store, context.config, url)
    where = result.url or "receipt files (no printer configured)"
    words = f"{result.state.words_in('zh')} / {result.state.words_in('en')}"
    if result.printed:
        click.echo(f"test page printed on {where} (job {result.job_id})")
    else:
        click.echo(f"no test page printed on {where}", err=True)
    click.echo(f"printer status: {words}")
    if result.state.detail:
        click.echo(f"  {result.state.detail}")
    sys.exit(0 if result.printed and result.state.ok else 1)

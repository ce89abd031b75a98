"""The staff's printer commands (``kiosk printer …`` and the dashboard): find a job by its id
or a receipt code, reprint it marked 补打 REPRINT, draw a preview, print a test page."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk.i18n import both
from kiosk.printing.queue import (
    PrinterState,
    PrintQueue,
    printer_factory,
    printer_profile,
    receipts_folder,
    with_url,
)
from printers.document import Document
from printers.escpos import PrinterProfile, encode
from store import KioskStore
from store.rows import PrintJob

if TYPE_CHECKING:
    from kiosk.config import KioskConfig

# ---- staff commands (kiosk printer …) ------------------------------------------------------

class PrintCommandError(Exception):
    """A staff command that cannot be done; the message says why."""


def is_job_id(store: KioskStore, text: str) -> bool:
    """Digits are a job id, unless they are eight: a receipt code can be all digits
    (typed without its dash), and job ids never reach eight digits on one kiosk."""
    text = text.strip()
    return text.isdigit() and not (len(text) == 8
                                   and store.instance_of_receipt_code(text) is not None)


def find_job(store: KioskStore, target: str) -> PrintJob:
    """A job by its id, or the newest job of the submission with this receipt code."""
    text = target.strip()
    if is_job_id(store, text):
        job = store.print_job(int(text))
        if job is None:
            raise PrintCommandError(f"there is no print job {text}")
        return job
    instance_id = store.instance_of_receipt_code(text)
    if instance_id is None:
        raise PrintCommandError(f"{target!r} is neither a print job id nor a receipt code "
                                "of this kiosk")
    jobs = store.print_jobs(source=instance_id)
    if not jobs:
        raise PrintCommandError(f"receipt {text.upper()} was never queued for printing")
    return jobs[0]


def reprint(store: KioskStore, config: KioskConfig, target: str,
            now: float | None = None) -> int:
    """Staff at the desk: another copy, marked 补打 REPRINT, of a printed job — by job id
    or by the receipt code the resident reads out. A submission that never had a receipt
    queued (an import, or a queue failure) gets one made from its answers. Returns the new
    job's id."""
    now = time.time() if now is None else now
    text = target.strip()
    if not is_job_id(store, text):
        instance_id = store.instance_of_receipt_code(text)
        if instance_id is not None:
            printed = [job for job in store.print_jobs(source=instance_id)
                       if job.state == "done"]
            if printed:
                return store.reprint_print_job(printed[0].id, now, kiosk=config.kiosk_id)
            if not store.print_jobs(source=instance_id):
                return _reprint_from_submission(store, config, instance_id, now)
    job = find_job(store, text)
    return store.reprint_print_job(job.id, now, kiosk=config.kiosk_id)


def _reprint_from_submission(store: KioskStore, config: KioskConfig, instance_id: str,
                             now: float) -> int:
    from kiosk.printing.receipts import receipt_for_submission
    from surveys.session import Submission

    record = store.submission_record(instance_id)
    if record is None:
        raise PrintCommandError(f"no submission {instance_id}")
    form = store.load_form(record["survey"], record["version"])
    code = store.receipt_code_of(instance_id) or ""
    enumerator = record.get("enumerator")
    volunteer = store.volunteer(enumerator) if enumerator else None
    receipt = receipt_for_submission(Submission(**record), form, code,
                                     station=config.station_name,
                                     footer=config.printer.footer,
                                     volunteer_name=volunteer.name if volunteer else "",
                                     follow_up_days=config.follow_up_days)
    return store.add_print_job(receipt.kind, receipt.document.to_json(), at=now,
                               source=receipt.source, title=receipt.title,
                               kiosk=config.kiosk_id, reprint=True)


def job_bytes(job: PrintJob, profile: PrinterProfile) -> bytes:
    """The bytes this job sends to a printer with ``profile`` (with the reprint banner when
    it is a reprint)."""
    return encode(Document.from_json(job.document), profile, reprint=job.reprint).data


def preview(store: KioskStore, config: KioskConfig, target: str, output: Path) -> Path:
    """Draw what the printer would print, as a PNG: ``target`` is a file of ESC/POS bytes,
    a print job id or a receipt code."""
    from printers.preview import render_png

    profile = printer_profile(config.printer)
    source = Path(target)
    if source.is_file():
        data = source.read_bytes()
    elif is_job_id(store, target) or store.instance_of_receipt_code(target) is not None:
        data = job_bytes(find_job(store, target), profile)
    else:
        raise PrintCommandError(f"{target}: no such file, print job or receipt code")
    render_png(data, output, columns=profile.columns, encoding=profile.encoding)
    return output


@dataclass(frozen=True)
class TestPrint:
    """What ``print_test_page`` found: the status before printing, and whether it printed."""

    url: str
    state: PrinterState
    printed: bool
    job_id: int | None = None


def print_test_page(store: KioskStore, config: KioskConfig, url: str | None = None,
                    clock: Callable[[], float] = time.time) -> TestPrint:
    """Ask the printer for its status and, when it is ready, print the test page (Chinese,
    English, a QR code) straight away; a printed page is logged in the queue as a done job
    of kind ``test``. Never raises for a printer problem: the state says what is wrong."""
    from printers.preview import test_page

    printer_config = config.printer if url is None else with_url(config.printer, url)
    profile = printer_profile(printer_config)
    queue = PrintQueue(store, printer_factory(printer_config, receipts_folder(store)),
                       profile, kiosk=config.kiosk_id, clock=clock)
    try:
        state = queue.check_printer()
        if not state.ok:
            return TestPrint(printer_config.url, state, False)
        document = test_page(profile.columns)
        try:
            queue._printer_or_open().send(encode(document, profile).data, "test")
        except Exception as error:
            return TestPrint(printer_config.url,
                             PrinterState.of_error(error, clock(), state="error"), False)
        job_id = store.add_print_job("test", document.to_json(), at=clock(),
                                     title=both("print.test_page"), kiosk=config.kiosk_id)
        if store.claim_print_job(job_id, queue.worker, clock()):
            store.print_job_done(job_id, queue.worker, clock(), status=state.state)
        return TestPrint(printer_config.url, queue.check_printer(), True, job_id)
    finally:
        queue.close()

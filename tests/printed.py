"""Reading back what a printer was sent: the stream cut into jobs, each job's text and QR.

The print tests decode the bytes with ``printers.parse`` (not with the encoder that made
them): a job starts with ESC @ and is complete when it ends with a cut.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from printers.parse import Cut, Init, QRCode, Text, parse, text_lines

# New codes (Crockford base32, digits too) and codes of the old alphabet (A-Z, 2-7) alike;
# at least one letter, so a phone number such as 0512-5867 in a footer is no code.
RECEIPT_CODE = re.compile(r"(?<![0-9A-Za-z-])(?=[0-9-]*[A-Z])[0-9A-Z]{4}-[0-9A-Z]{4}"
                          r"(?![0-9A-Za-z-])")
REPRINT = "补打 REPRINT"


@dataclass
class PrintedJob:
    """One job as the printer got it (maybe cut short: ``complete`` is False)."""

    lines: list[str] = field(default_factory=list)
    qr: list[str] = field(default_factory=list)
    complete: bool = False
    bold: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def reprint(self) -> bool:
        return REPRINT in self.text

    @property
    def codes(self) -> list[str]:
        return RECEIPT_CODE.findall(self.text)


def printed_jobs(data: bytes, encoding: str = "gb18030") -> list[PrintedJob]:
    """The jobs in a printer's stream, in order."""
    jobs: list[PrintedJob] = []
    events: list = []

    def close() -> None:
        if not events:
            return
        job = PrintedJob(lines=[line.strip() for line in text_lines(events)])
        job.qr = [event.data for event in events if isinstance(event, QRCode)]
        job.complete = any(isinstance(event, Cut) for event in events)
        job.bold = [event.text.strip() for event in events
                    if isinstance(event, Text) and event.style.bold]
        jobs.append(job)
        events.clear()

    for event in parse(data, encoding):
        if isinstance(event, Init):
            close()
            continue
        events.append(event)
        if isinstance(event, Cut):
            close()
    close()
    return [job for job in jobs if job.text.strip() or job.qr]

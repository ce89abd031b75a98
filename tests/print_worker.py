"""A kiosk's print worker in its own process, for the crash tests.

    python tests/print_worker.py DB PORT [--crash JOB:BYTES] [--first S] [--limit S]

Runs ``PrintQueue`` (its thread, as the kiosk does) against the printer at PORT until no job
is left unprinted, then exits 0. With ``--crash JOB:BYTES`` the process kills itself with
SIGKILL after the first BYTES bytes of job JOB have gone down the line — a power cut in the
middle of a receipt: the job stays ``sending`` in the database.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from kiosk.printing.queue import Backoff, PrintQueue
from printers.escpos import PrinterProfile
from printers.transport import SerialSettings, open_printer
from store import KioskStore


class CrashingPrinter:
    """The real printer, but the process dies part-way through one job."""

    def __init__(self, inner, job_id: int, after: int) -> None:
        self.inner = inner
        self.job_id = job_id
        self.after = after

    def status(self):
        return self.inner.status()

    def send(self, data: bytes, job_id: int | str) -> None:
        if job_id == self.job_id:
            self.inner.send(data[:self.after], job_id)
            print(json.dumps({"crash": job_id, "sent": self.after}), flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        self.inner.send(data, job_id)

    def close(self) -> None:
        self.inner.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db")
    parser.add_argument("port")
    parser.add_argument("--crash", default="")
    parser.add_argument("--first", type=float, default=0.02)
    parser.add_argument("--limit", type=float, default=0.2)
    arguments = parser.parse_args()
    settings = SerialSettings(status_timeout=0.1, write_timeout=2.0)

    def factory():
        printer = open_printer(arguments.port, settings)
        if arguments.crash:
            job_id, after = map(int, arguments.crash.split(":"))
            return CrashingPrinter(printer, job_id, after)
        return printer

    store = KioskStore(arguments.db)
    queue = PrintQueue(store, factory, PrinterProfile(), kiosk="worker",
                       backoff=Backoff(arguments.first, arguments.limit),
                       poll_seconds=arguments.limit)
    queue.start()
    print(json.dumps({"started": os.getpid()}), flush=True)
    while True:
        time.sleep(0.02)
        counts = store.print_job_counts()
        if not any(counts.get(state) for state in ("queued", "waiting", "sending")):
            break
    queue.close()
    store.close()
    print(json.dumps({"idle": True}), flush=True)


if __name__ == "__main__":
    main()

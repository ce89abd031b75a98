"""One tablet's kiosk process, as far as printing goes, for tests/test_one_printer_holder.py.

    python tests/tablet_printing.py DB PORT NAME

Runs the kiosk's ``PrintQueue`` worker (its thread, as ``kiosk run`` does behind every tablet
that ``kiosk serve`` serves) against the printer at PORT. Each line on standard input
``print N`` queues N receipts, as residents finishing questionnaires on this tablet would;
``quit`` (or the end of input) stops it. It reports, one JSON object a line: every time it
tries to open the printer port (``{"open": pid}``), and after each queued receipt whether it
would tell the resident the printer is ready (``{"queued": id, "ready": bool, "state": …}``).
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from kiosk.printing.queue import Backoff, PrintQueue
from kiosk.printing.receipts import questionnaire_receipt
from printers.escpos import PrinterProfile
from printers.transport import SerialSettings, open_printer
from store import KioskStore, receipt_code


def say(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


def main() -> None:
    db_path, port, name = sys.argv[1:4]
    settings = SerialSettings(status_timeout=0.1, write_timeout=2.0)

    def factory():
        say(open=os.getpid())
        return open_printer(port, settings)

    store = KioskStore(db_path)
    queue = PrintQueue(store, factory, PrinterProfile(), kiosk=name,
                       backoff=Backoff(0.05, 0.2), poll_seconds=0.2)
    queue.start()
    say(started=os.getpid())
    import datetime as dt

    from surveys.clock import CHINA

    made = 0
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] == "quit":
            break
        for _ in range(int(words[1])):
            made += 1
            instance_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{name}-{made}"))
            code = receipt_code(instance_id)
            document = questionnaire_receipt(
                station="梁丰社区社工站", title="社区服务满意度调查",
                completed=dt.datetime(2026, 11, 23, 14, 5, tzinfo=CHINA), code=code,
                instance_id=instance_id, footer="")
            job_id = queue.enqueue(document, "receipt", instance_id, f"满意度 {code}")
            state = queue.state
            say(queued=job_id, code=code, ready=queue.printer_ready,
                state=state.message("en") if state else None)
    queue.close()
    store.close()
    say(stopped=os.getpid())


if __name__ == "__main__":
    main()

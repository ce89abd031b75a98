"""With tablets served, one process holds the printer and prints for all of them.

`kiosk serve` runs one `kiosk run` per tablet, each with the kiosk's print queue on the same
database. Here three such processes (tests/tablet_printing.py) queue receipts against one
fake printer on a real pty: only one of them ever opens the port, it prints every process's
receipts once, and none of them tells its resident that the printer is not ready. When that
process dies, another takes the printer over and prints what comes next.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from store import KioskStore
from tests.fake_printer import FakePrinter
from tests.printed import printed_jobs

HERE = Path(__file__).parent


class Tablet:
    """One tablet's kiosk process and what it has said."""

    def __init__(self, db_path: Path, port: str, name: str) -> None:
        self.name = name
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "tablet_printing.py"), str(db_path), port, name],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.said: list[dict] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        wait_for(lambda: any("started" in line for line in self.said), 30,
                 f"{name} to start", self.errors)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.strip():
                self.said.append(json.loads(line))

    def errors(self) -> str:
        if self.process.poll() is None:
            return ""
        assert self.process.stderr is not None
        return self.process.stderr.read()

    @property
    def pid(self) -> int:
        return self.process.pid

    def queue(self, count: int) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"print {count}\n")
        self.process.stdin.flush()

    def opened(self) -> int:
        """How many times this process tried to open the printer port."""
        return sum(1 for line in self.said if "open" in line)

    def queued(self) -> list[dict]:
        return [line for line in self.said if "queued" in line]

    def stop(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            try:
                self.process.stdin.write("quit\n")
                self.process.stdin.flush()
                self.process.wait(20)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait(10)


def wait_for(condition, seconds: float, what: str, detail=lambda: "") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what} after {seconds} s\n{detail()}")
        time.sleep(0.05)


@pytest.fixture
def printer():
    with FakePrinter() as fake:
        yield fake


def test_one_process_holds_the_printer_and_prints_every_tablets_receipts(
        tmp_path: Path, printer: FakePrinter):
    db_path = tmp_path / "kiosk.db"
    KioskStore(db_path).close()
    tablets = [Tablet(db_path, str(printer.port), f"tablet-{number}") for number in (1, 2, 3)]
    store = KioskStore(db_path)

    def all_done(expected: int):
        return lambda: store.print_job_counts() == {"done": expected}

    def detail() -> str:
        return (f"jobs: {store.print_job_counts()}\n"
                + "\n".join(f"{tablet.name}: {tablet.said[-5:]} {tablet.errors()}"
                            for tablet in tablets))

    try:
        for tablet in tablets:
            tablet.queue(4)
        wait_for(all_done(12), 60, "every receipt to print", detail)
        holders = [tablet for tablet in tablets if tablet.opened()]
        assert len(holders) == 1, [(tablet.name, tablet.opened()) for tablet in tablets]
        [holder] = holders
        # Nobody told a resident the printer was not ready: it was ready all along.
        for tablet in tablets:
            assert len(tablet.queued()) == 4
            assert all(line["ready"] for line in tablet.queued()), (tablet.name,
                                                                    tablet.queued())
        # Every receipt came out once, whole, at the first try.
        codes = Counter(job.codes[0] for job in printed_jobs(printer.data()) if job.complete)
        expected = {line["code"] for tablet in tablets for line in tablet.queued()}
        assert set(codes) == expected and set(codes.values()) == {1}
        assert {job.attempts for job in store.print_jobs(states=("done",))} == {1}

        # The holder dies (a tablet closed, its app ended): another takes the printer over.
        holder.process.send_signal(signal.SIGKILL)
        holder.process.wait(10)
        others = [tablet for tablet in tablets if tablet is not holder]
        others[0].queue(2)
        others[1].queue(1)
        wait_for(all_done(15), 60, "the receipts after the holder died", detail)
        new_holders = [tablet for tablet in others if tablet.opened()]
        assert len(new_holders) == 1, [(tablet.name, tablet.opened()) for tablet in others]
        codes = Counter(job.codes[0] for job in printed_jobs(printer.data()) if job.complete)
        assert len(codes) == 15 and set(codes.values()) == {1}
    finally:
        for tablet in tablets:
            tablet.stop()
        store.close()

"""The print queue against a fake ESC/POS printer on a real pty pair (tests/fake_printer.py).

Jobs are saved before they are sent and printed once; a printer that is offline, out of
paper, unplugged or talking nonsense makes jobs wait (never drop); a crash in the middle of a
receipt prints it again marked 补打 REPRINT. What came out is read back from the bytes the
fake printer received (tests/printed.py), never from what the kiosk believes it sent.
"""

from __future__ import annotations

import json
import logging
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from kiosk.printing.queue import Backoff, PrintQueue, _process_birth
from kiosk.printing.receipts import questionnaire_receipt
from printers.document import Document
from printers.escpos import PrinterProfile, encode
from printers.transport import SerialSettings, open_printer
from store import KioskStore, receipt_code
from surveys.clock import CHINA
from tests.fake_printer import FakePrinter
from tests.printed import PrintedJob, printed_jobs

HERE = Path(__file__).parent
START = 1_800_000_000.0
SETTINGS = SerialSettings(status_timeout=0.1, write_timeout=2.0)


class Clock:
    """Unix time that moves only when the test says so (for ``run_once``)."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Cable:
    """A stable port name (like /dev/serial/by-id/…) for whichever fake printer is plugged
    in: a symlink to its pty. Unplugging the cable and plugging a printer in again keeps it."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "ttyPRINTER"
        self.printers: list[FakePrinter] = []

    def plug(self, printer: FakePrinter) -> FakePrinter:
        printer.__enter__()
        self.printers.append(printer)
        temporary = self.path.with_suffix(".new")
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(printer.port)
        os.replace(temporary, self.path)
        return printer

    @property
    def printer(self) -> FakePrinter:
        return self.printers[-1]

    def printed(self) -> list[PrintedJob]:
        """Every job that came out of every printer on this cable, in order."""
        return [job for printer in self.printers for job in printed_jobs(printer.data())]

    def close(self) -> None:
        for printer in self.printers:
            printer.close()


@pytest.fixture
def db(tmp_path: Path) -> KioskStore:
    opened = KioskStore(tmp_path / "kiosk.db")
    yield opened
    opened.close()


@pytest.fixture
def cable(tmp_path: Path) -> Cable:
    line = Cable(tmp_path)
    yield line
    line.close()


def serial_queue(db: KioskStore, url: str | Path, clock: Clock | None = None,
                 **options: object) -> PrintQueue:
    return PrintQueue(db, lambda: open_printer(str(url), SETTINGS), PrinterProfile(),
                      kiosk="hall-1", clock=clock or time.time,
                      **options)  # type: ignore[arg-type]


def receipt(number: int) -> tuple[Document, str, str]:
    """A questionnaire receipt for a made-up submission: (document, code, instance id)."""
    instance_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"receipt-{number}"))
    code = receipt_code(instance_id)
    document = questionnaire_receipt(station="梁丰社区社工站", title="社区服务满意度调查",
                                     completed=_moment(), code=code, instance_id=instance_id,
                                     footer="服务电话：0512-5867 1234")
    return document, code, instance_id


def _moment():
    import datetime as dt

    return dt.datetime(2026, 11, 23, 14, 5, tzinfo=CHINA)


def enqueue(queue: PrintQueue, number: int) -> tuple[int, str]:
    document, code, instance_id = receipt(number)
    return queue.enqueue(document, "receipt", instance_id, f"满意度 {code}"), code


def drain(queue: PrintQueue) -> None:
    """Run the worker's steps until no job is due."""
    for _ in range(1000):
        if not queue.run_once():
            return
    raise AssertionError("the queue never ran dry")


# ---- printing once, in order -----------------------------------------------------------------


def test_job_is_saved_before_it_is_sent_and_printed_once(db: KioskStore, cable: Cable):
    cable.plug(FakePrinter())
    queue = serial_queue(db, cable.path)
    job_id, code = enqueue(queue, 1)
    job = db.print_job(job_id)
    assert job.state == "queued" and job.kind == "receipt" and job.attempts == 0
    assert cable.printer.data() == b""  # saved, nothing sent yet
    assert KioskStore(db.path).print_job(job_id).state == "queued"  # committed: others see it
    drain(queue)
    [printed] = cable.printed()
    assert printed.codes == [code] and printed.complete and not printed.reprint
    assert printed.qr == [db.print_job(job_id).source]
    job = db.print_job(job_id)
    assert (job.state, job.attempts, job.last_status) == ("done", 1, "ready")
    assert not queue.run_once()  # nothing is printed twice
    assert len(cable.printed()) == 1
    queue.close()


def test_jobs_print_in_the_order_they_came(db: KioskStore, cable: Cable):
    cable.plug(FakePrinter())
    queue = serial_queue(db, cable.path)
    codes = [enqueue(queue, number)[1] for number in range(5)]
    drain(queue)
    assert [job.codes[0] for job in cable.printed()] == codes
    assert db.print_job_counts() == {"done": 5}
    queue.close()


# ---- a printer that is not ready ------------------------------------------------------------


def test_offline_printer_jobs_wait_with_growing_pauses_then_print(db: KioskStore,
                                                                   cable: Cable):
    printer = cable.plug(FakePrinter(state="offline"))
    clock = Clock()
    queue = serial_queue(db, cable.path, clock)
    first, first_code = enqueue(queue, 1)
    second, second_code = enqueue(queue, 2)
    pauses = []
    for _ in range(8):
        assert queue.run_once()
        job = db.print_job(first)
        assert job.state == "waiting" and job.last_status == "offline"
        pauses.append(job.next_attempt - clock.now)
        assert not queue.run_once()  # not due before its time
        clock.advance(job.next_attempt - clock.now)
    assert pauses == [2, 4, 8, 16, 32, 60, 60, 60]  # back-off, capped at a minute
    assert db.print_job(second).state == "waiting"  # the jobs behind wait too
    assert db.print_job(first).last_error.startswith("脱机")
    assert not queue.printer_ready
    assert printer.data() == b""  # nothing was sent to an offline printer
    printer.state = "online"
    drain(queue)
    assert [job.codes for job in cable.printed()] == [[first_code], [second_code]]
    assert queue.printer_ready
    queue.close()


def test_a_receipt_queued_while_others_wait_does_not_jump_ahead(db: KioskStore,
                                                               cable: Cable):
    """Receipts come out in the order residents finished: one queued while the printer
    was offline and the earlier ones were waiting for their next attempt waits behind them
    (it used to be due at once and printed first once the printer was back: seen as a
    flaky test_worker_thread_prints_while_the_caller_goes_on)."""
    printer = cable.plug(FakePrinter(state="offline"))
    clock = Clock()
    queue = serial_queue(db, cable.path, clock)
    codes = [enqueue(queue, 1)[1], enqueue(queue, 2)[1]]
    assert queue.run_once()  # the printer is offline: both wait
    assert {db.print_job(job).state for job in (1, 2)} == {"waiting"}
    codes.append(enqueue(queue, 3)[1])
    printer.state = "online"
    assert not queue.run_once()  # nothing is due before the first one's time
    assert printer.data() == b""
    clock.advance(db.print_job(1).next_attempt - clock.now)
    drain(queue)
    assert [job.codes[0] for job in cable.printed()] == codes
    queue.close()


@pytest.mark.parametrize(("state", "words"), [("paper_out", "缺纸"),
                                               ("cover_open", "纸仓盖未关"),
                                               ("error", "故障")])
def test_paper_out_cover_open_and_errors_are_told_in_words(db: KioskStore, cable: Cable,
                                                            state: str, words: str):
    printer = cable.plug(FakePrinter(state=state))
    queue = serial_queue(db, cable.path)
    job_id, code = enqueue(queue, 1)
    queue.run_once()
    job = db.print_job(job_id)
    assert (job.state, job.last_status) == ("waiting", state)
    assert job.last_error.startswith(words)
    assert queue.state.words_in("zh") == words
    printer.state = "online"
    queue.retry(job_id)  # staff fixed it and pressed retry: no need to wait the pause out
    drain(queue)
    assert [job.codes for job in cable.printed()] == [[code]]
    queue.close()


def test_printer_that_answers_nothing_is_offline(db: KioskStore, cable: Cable):
    cable.plug(FakePrinter(state="silent"))  # switched off, or at another baud rate
    queue = serial_queue(db, cable.path)
    job_id, _code = enqueue(queue, 1)
    queue.run_once()
    job = db.print_job(job_id)
    assert (job.state, job.last_status) == ("waiting", "offline")
    assert "no reply" in job.last_error
    assert cable.printer.data() == b""
    queue.close()


def test_garbage_status_is_unknown_logged_and_the_job_is_retried(db: KioskStore,
                                                                 cable: Cable, caplog):
    printer = cable.plug(FakePrinter(state="garbage"))
    clock = Clock()
    queue = serial_queue(db, cable.path, clock)
    job_id, code = enqueue(queue, 1)
    with caplog.at_level(logging.WARNING):
        queue.run_once()
    job = db.print_job(job_id)
    assert (job.state, job.last_status) == ("waiting", "unknown")
    assert queue.state.words_in("en") == "status unknown"
    assert any("unknown" in record.getMessage() for record in caplog.records)
    assert printer.data() == b""
    printer.state = "online"
    clock.advance(2)
    drain(queue)
    assert [job.codes for job in cable.printed()] == [[code]]
    queue.close()


# ---- ports that are not there ---------------------------------------------------------------


def test_unknown_port_makes_jobs_wait_with_a_clear_message(db: KioskStore, tmp_path: Path):
    queue = serial_queue(db, tmp_path / "ttyUSB9")
    job_id, _code = enqueue(queue, 1)
    assert queue.run_once()  # no exception: the kiosk keeps running
    job = db.print_job(job_id)
    assert (job.state, job.last_status) == ("waiting", "unplugged")
    assert "ttyUSB9 does not exist" in job.last_error
    assert queue.state.words_in("zh") == "未连接"
    queue.close()


def test_printer_unplugged_between_jobs_then_plugged_in_again(db: KioskStore, cable: Cable):
    cable.plug(FakePrinter())
    clock = Clock()
    queue = serial_queue(db, cable.path, clock)
    _first, first_code = enqueue(queue, 1)
    drain(queue)
    cable.printer.unplug()
    second, second_code = enqueue(queue, 2)
    queue.run_once()
    assert db.print_job(second).state == "waiting"
    assert db.print_job(second).last_status == "unplugged"
    cable.plug(FakePrinter())  # the same port name comes back
    clock.advance(60)
    drain(queue)
    assert [job.codes for job in cable.printed()] == [[first_code], [second_code]]
    queue.close()


def test_cable_pulled_mid_job_the_job_is_sent_again_whole(db: KioskStore, cable: Cable):
    first = cable.plug(FakePrinter())
    first.unplug_after = 150  # bytes into the receipt
    clock = Clock()
    queue = serial_queue(db, cable.path, clock)
    job_id, code = enqueue(queue, 1)
    queue.run_once()
    job = db.print_job(job_id)
    assert job.state == "waiting" and job.last_status == "unplugged"
    [torn] = printed_jobs(first.data())
    assert not torn.complete
    cable.plug(FakePrinter())
    clock.advance(60)
    drain(queue)
    [whole] = printed_jobs(cable.printer.data())
    assert whole.codes == [code] and whole.complete
    assert not whole.reprint  # the kiosk saw the send fail: no copy came out before
    assert db.print_job(job_id).state == "done"
    queue.close()


# ---- crashes --------------------------------------------------------------------------------


def start_worker(db_path: Path, port: Path, crash: str = "") -> subprocess.Popen:
    command = [sys.executable, str(HERE / "print_worker.py"), str(db_path), str(port)]
    if crash:
        command += ["--crash", crash]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def finish(process: subprocess.Popen, timeout: float = 30) -> list[dict]:
    out, err = process.communicate(timeout=timeout)
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    if process.returncode not in (0, -9):
        raise AssertionError(f"worker failed ({process.returncode}):\n{err}")
    return lines


def line_ends(data: bytes) -> list[int]:
    """Offsets just after each LF of a job's bytes but the last: places a crash can come."""
    ends = [index + 1 for index, byte in enumerate(data) if byte == 0x0A]
    return ends[2:-2]


def test_crash_mid_send_prints_the_receipt_again_marked_reprint(db: KioskStore,
                                                                cable: Cable):
    cable.plug(FakePrinter())
    queue = serial_queue(db, cable.path)
    jobs = [enqueue(queue, number) for number in range(3)]
    queue.close()
    crashed, crashed_code = jobs[1]
    data = encode(Document.from_json(db.print_job(crashed).document), PrinterProfile()).data
    cut_at = data.index(b"\n", data.index(crashed_code.encode())) + 1  # past the code
    process = start_worker(db.path, cable.path, crash=f"{crashed}:{cut_at}")
    reports = finish(process)
    assert process.returncode == -9 and {"crash": crashed, "sent": cut_at} in reports
    assert db.print_job(crashed).state == "sending"  # as the power cut left it
    process = start_worker(db.path, cable.path)  # the kiosk starts again
    finish(process)
    assert process.returncode == 0
    printed = cable.printed()
    assert [(job.codes[:1], job.complete, job.reprint) for job in printed] == [
        ([jobs[0][1]], True, False),
        ([crashed_code], False, False),  # torn off by the crash
        ([crashed_code], True, True),  # 补打 REPRINT
        ([jobs[2][1]], True, False),
    ]
    assert "补打 REPRINT" in printed[2].lines[0]
    job = db.print_job(crashed)
    assert job.state == "done" and job.reprint


def test_job_left_sending_by_a_dead_kiosk_is_requeued_once_as_a_reprint(db: KioskStore,
                                                                         cable: Cable):
    cable.plug(FakePrinter())
    queue = serial_queue(db, cable.path)
    job_id, code = enqueue(queue, 1)
    # As a kiosk process that died left it; its pid now belongs to a live process (here
    # the test's parent) born at another time, as after a power cut and a reboot.
    host = queue.worker.split("|")[0]
    parent = os.getppid()
    assert db.claim_print_job(job_id, f"{host}|{parent}|an-earlier-boot/1|feed", START)
    other_id, _other_code = enqueue(queue, 2)
    assert db.claim_print_job(other_id, queue.worker, START)  # this kiosk's, being sent
    busy_id, _busy_code = enqueue(queue, 3)  # another kiosk process's (tablets), alive
    assert db.claim_print_job(busy_id, f"{host}|{parent}|{_process_birth(parent)}|x", START)
    assert queue.recover() == [job_id]
    assert queue.recover() == []
    job = db.print_job(job_id)
    assert job.state == "queued" and job.reprint
    drain(queue)
    [reprinted] = cable.printed()
    assert reprinted.codes == [code] and reprinted.reprint
    queue.close()
    assert db.print_job(other_id).state == "sending"
    assert PrintQueue(db, lambda: None, PrinterProfile()).recover() == [other_id]
    assert db.print_job(busy_id).state == "sending"


# ---- the worker thread ----------------------------------------------------------------------


def test_worker_thread_prints_while_the_caller_goes_on(db: KioskStore, cable: Cable):
    printer = cable.plug(FakePrinter(state="offline"))
    queue = PrintQueue(db, lambda: open_printer(str(cable.path), SETTINGS), PrinterProfile(),
                       backoff=Backoff(0.05, 0.2), poll_seconds=0.05)
    queue.start()
    try:
        codes = [enqueue(queue, number)[1] for number in range(3)]
        deadline = time.monotonic() + 10
        while queue.printer_ready and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not queue.printer_ready  # the screens can tell the resident
        assert printer.data() == b""
        printer.state = "online"
        printer.wait_for(lambda data: data.count(b"\x1dV") == 3)
    finally:
        queue.close()
    assert [job.codes[0] for job in cable.printed()] == codes
    assert db.print_job_counts() == {"done": 3}


# ---- staff ----------------------------------------------------------------------------------


def test_staff_cancel_retry_and_reprint(db: KioskStore, cable: Cable):
    printer = cable.plug(FakePrinter(state="paper_out"))
    queue = serial_queue(db, cable.path)
    first, first_code = enqueue(queue, 1)
    second, _second_code = enqueue(queue, 2)
    queue.run_once()
    assert queue.cancel(second).state == "cancelled"
    printer.state = "online"
    queue.retry(first)
    drain(queue)
    copy = queue.reprint(first)
    drain(queue)
    printed = cable.printed()
    assert [(job.codes, job.reprint) for job in printed] == [([first_code], False),
                                                              ([first_code], True)]
    assert db.print_job(copy).reprint_of == first
    assert db.print_job(second).state == "cancelled"
    queue.close()


def test_characters_the_printer_lacks_are_replaced_and_noted(db: KioskStore, cable: Cable):
    cable.plug(FakePrinter())
    queue = PrintQueue(db, lambda: open_printer(str(cable.path), SETTINGS),
                       PrinterProfile(encoding="gbk"), clock=Clock())
    document = Document().text("𠮷祥社区 欢迎您").text("K7QM-3XAB").cut()
    job_id = queue.enqueue(document, "receipt", "", "gbk")
    drain(queue)
    [job] = printed_jobs(cable.printer.data(), "gbk")
    assert "祥社区 欢迎您" in job.text and job.codes == ["K7QM-3XAB"]
    stored = db.print_job(job_id)
    assert stored.state == "done" and "𠮷" in stored.last_error
    queue.close()


# ---- 200 jobs through random faults ---------------------------------------------------------

FAULT_STATES = ("offline", "paper_out", "cover_open", "error", "garbage")


class FaultInjector(threading.Thread):
    """Spells of offline, paper out, cover open, errors, garbage and silence on the line,
    and the cable pulled in the middle of a job (then a printer plugged in again)."""

    def __init__(self, cable: Cable, rng: random.Random) -> None:
        super().__init__(daemon=True)
        self.cable = cable
        self.rng = rng
        self.done = threading.Event()
        self.counts: Counter[str] = Counter()
        self.armed = False

    def run(self) -> None:
        kinds: list[str] = []
        while not self.done.wait(self.rng.uniform(0.05, 0.2)):
            if not kinds:  # every kind of fault in each round, in a random order
                kinds = [*FAULT_STATES, "unplug", "unplug"]
                self.rng.shuffle(kinds)
            fault = kinds.pop()
            if fault == "unplug":
                self.unplug_mid_job()
            else:
                printer = self.cable.printer
                printer.state = fault
                self.counts[fault] += 1
                self.done.wait(self.rng.uniform(0.02, 0.2))
                printer.state = "online"

    def unplug_mid_job(self) -> None:
        printer = self.cable.printer
        offset = self.rng.randint(30, 300)

        def arm(_chunk: bytes) -> None:
            # At the end of a job (its cut), before the next job's first byte: the cable
            # comes out ``offset`` bytes into the next receipt.
            if printer.unplug_after is None and printer.data().endswith(b"\x1dV\x01"):
                printer.unplug_after = len(printer.data()) + offset

        printer.on_receive = arm
        deadline = time.monotonic() + 2
        while not printer.unplugged and time.monotonic() < deadline and not self.done.is_set():
            time.sleep(0.005)
        printer.on_receive = None
        if not printer.unplugged:
            printer.unplug_after = None
            return
        self.counts["unplug"] += 1
        time.sleep(self.rng.uniform(0.02, 0.1))
        self.cable.plug(FakePrinter())


def test_two_hundred_jobs_through_random_faults_print_exactly_once(db: KioskStore,
                                                                   cable: Cable):
    rng = random.Random(20261123)
    cable.plug(FakePrinter())
    queue = serial_queue(db, cable.path)
    jobs = {}
    for number in range(200):
        job_id, code = enqueue(queue, number)
        jobs[job_id] = code
    queue.close()
    ids = sorted(jobs)
    # Power cuts: each kiosk "life" dies part-way through one job, a few lines in.
    crashes = sorted(rng.sample(ids[5:-5], 6))
    profile = PrinterProfile()
    faults = FaultInjector(cable, rng)
    faults.start()
    try:
        for job_id in crashes:
            document = Document.from_json(db.print_job(job_id).document)
            cut_at = rng.choice(line_ends(encode(document, profile).data))
            process = start_worker(db.path, cable.path, crash=f"{job_id}:{cut_at}")
            finish(process, timeout=60)
            assert process.returncode == -9, f"life should have died at job {job_id}"
            assert db.print_job(job_id).state == "sending"
        process = start_worker(db.path, cable.path)
        finish(process, timeout=60)
        assert process.returncode == 0
    finally:
        faults.done.set()
        faults.join()
    assert db.print_job_counts() == {"done": 200}
    assert faults.counts["unplug"] >= 3 and len(faults.counts) == 6, faults.counts
    tried_again = [job_id for job_id in ids if db.print_job(job_id).attempts > 1]
    assert len(tried_again) >= 10  # the faults did hit jobs

    complete = Counter()
    reprints = Counter()
    for job in cable.printed():
        if not job.complete:
            continue  # torn off by a pulled cable or a crash
        [code] = set(job.codes)
        (reprints if job.reprint else complete)[code] += 1
    crashed_codes = {jobs[job_id] for job_id in crashes}
    for job_id, code in jobs.items():
        if code in crashed_codes:
            assert (complete[code], reprints[code]) == (0, 1), (job_id, code)
        else:
            assert (complete[code], reprints[code]) == (1, 0), (job_id, code)
    assert {job_id for job_id in ids if db.print_job(job_id).reprint} == set(crashes)

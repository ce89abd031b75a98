"""The print queue: receipts are saved in the kiosk database first, then printed one by one.

A job's life::

    queued ──▶ sending ──▶ done
      ▲  │        │
      │  ▼        ▼
      waiting ◀───┘        (printer not ready, unplugged, or the send failed)
    queued/waiting ──▶ cancelled   (staff)

- ``enqueue`` commits the job before anything is sent, so a receipt is never lost.
- Before every job the worker asks the printer for its status. When it is not ready
  (offline, cover open, paper out, unplugged, or a reply it cannot read: "unknown") every
  pending job waits, with a back-off of 2, 4, 8 … up to 60 seconds; nothing is dropped.
  While jobs wait the worker still asks for the status every few seconds, so a printer
  that comes back prints at once rather than at the end of a long back-off.
- A job is marked ``sending`` (committed) before its first byte goes out and ``done`` after
  its last. A job still ``sending`` when a worker starts, whose worker is gone, was cut off
  by a crash or power cut: nobody knows how much of it came out, so it is printed again
  with the 补打 REPRINT banner. A send that fails while the kiosk keeps running (cable
  pulled mid-job) is retried plainly: the first copy is known to be incomplete.
- Two kiosk processes on one database (tablets via ``kiosk serve``) never print one job
  twice: claiming a job is a single conditional UPDATE.
- Only one of them holds the printer: the worker that holds the lock on
  ``<database>.printer-lock`` (``PrinterLock``) opens the port and prints every process's
  jobs; the others only queue theirs, and one of them takes over when the holder's process
  ends (the kernel drops the lock however it ends). Without this each tablet's process asked
  the printer itself, found the port taken and held every job back as "printer not ready".

The worker is a daemon thread with its own database connection; the kiosk screens only
``enqueue`` and read ``printer_ready`` and never wait for the printer.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from kiosk.i18n import both
from printers.document import Document
from printers.escpos import PrinterProfile, encode
from store import KioskStore
from store.rows import PrintJob

if TYPE_CHECKING:
    from kiosk.config import KioskConfig, PrinterConfig

log = logging.getLogger("kiosk.printing")


log.addHandler(logging.NullHandler())  # to kiosk.log when the app has it open; never stderr


# Jobs are printed only when the printer says it is ready.
READY_STATES = frozenset({"ready"})


STATUS_POLL_SECONDS = 5.0  # how often an idle or waiting worker asks for the status


class Printer(Protocol):
    """What ``printers.transport.open_printer`` hands back."""

    def status(self) -> Any: ...

    def send(self, data: bytes, job_id: int | str) -> Any: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Backoff:
    """Seconds to wait after the n-th failure in a row: first, 2×first, 4×first … limit."""

    first: float = 2.0
    limit: float = 60.0

    def delay(self, failures: int) -> float:
        return min(self.first * 2 ** max(failures - 1, 0), self.limit)


@dataclass(frozen=True)
class PrinterState:
    """What the queue last learnt about the printer (from its status or from an error)."""

    state: str  # ready, offline, cover_open, paper_out, error, unplugged, unknown
    words: dict[str, str] = field(default_factory=dict)
    detail: str = ""  # for staff and the log: which port, what exactly
    paper_near_end: bool = False
    at: float = 0.0

    @property
    def ok(self) -> bool:
        return self.state in READY_STATES

    def words_in(self, language: str = "zh") -> str:
        """A short phrase: 缺纸 / paper out."""
        return self.words.get(language) or self.words.get("zh") or self.state

    def message(self, language: str = "zh") -> str:
        """The phrase and the detail: 未连接: printer port /dev/ttyUSB0 does not exist …"""
        words = self.words_in(language)
        return f"{words}: {self.detail}" if self.detail else words

    @classmethod
    def of_status(cls, status: Any, at: float) -> PrinterState:
        words = {language: str(status.words(language)) for language in ("zh", "en")}
        return cls(str(status.state), words, str(getattr(status, "detail", "") or ""),
                   bool(getattr(status, "paper_near_end", False)), at)

    @classmethod
    def of_error(cls, error: BaseException, at: float, state: str = "unplugged") -> PrinterState:
        from printers.status import WORDS

        state = str(getattr(error, "state", None) or state)
        words = {language: WORDS[language].get(state, state) for language in ("zh", "en")}
        return cls(state, words, str(error) or type(error).__name__, False, at)


def answered(state: PrinterState) -> bool:
    """Did the printer answer the status request at all (whatever it said)?"""
    if state.state == "unplugged":
        return False
    return not (state.state == "offline" and "no reply" in state.detail)


# Worker tokens of this process's running queues: a job ``sending`` under one of them is
# being printed right now; under any other token of this process it was left by a crash.
_LIVE_WORKERS: set[str] = set()


_LIVE_LOCK = threading.Lock()


def _process_birth(pid: int) -> str:
    """When a process started, as this boot's id and its start time in clock ticks
    ("" where /proc is not there): a pid can be reused, a birth cannot."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    fields = stat.rsplit(")", 1)[-1].split()
    return f"{boot}/{fields[19]}" if len(fields) > 19 else ""


def worker_token() -> str:
    """Who is sending a job: host, pid, the process's birth, and a nonce for this queue."""
    pid = os.getpid()
    return f"{socket.gethostname()}|{pid}|{_process_birth(pid)}|{uuid.uuid4().hex[:12]}"


def worker_alive(token: str) -> bool:
    """Is the worker that marked a job ``sending`` still running (on this machine)?

    A job left ``sending`` by a power cut names a process of an earlier boot; one left by
    a crash names a process that is gone (or whose pid now belongs to another process,
    born later).
    """
    try:
        host, pid_text, birth, _nonce = token.split("|")
        pid = int(pid_text)
    except ValueError:
        return False
    if host != socket.gethostname():
        return False  # a database copied from another machine: its workers are not here
    if pid == os.getpid():
        with _LIVE_LOCK:
            return token in _LIVE_WORKERS
    if birth:
        return _process_birth(pid) == birth
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process with that id: assume it is alive
    return True


class PrinterLock:
    """Which print worker of a database holds the printer: an exclusive lock (flock) on
    ``<database>.printer-lock`` beside the database, never waited for. The kernel releases it
    when the process ends, however it ends, so another worker can take over."""

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + ".printer-lock")
        self._descriptor: int | None = None

    @property
    def held(self) -> bool:
        return self._descriptor is not None

    def acquire(self) -> bool:
        """Take the lock when it is free; True while this worker holds it."""
        if self._descriptor is not None:
            return True
        try:
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as error:
            # No lock file beside a database this process can write: print as before.
            log.warning("cannot make the printer lock %s (%s); printing without it",
                        self.path, error)
            return True
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(descriptor)
            return False
        self._descriptor = descriptor
        return True

    def release(self) -> None:
        descriptor, self._descriptor = self._descriptor, None
        if descriptor is not None:
            os.close(descriptor)  # closing the only descriptor drops the flock


class PrintQueue:
    """The kiosk's durable print queue and its worker.

    ``printer_factory()`` opens the printer (``printers.transport.open_printer`` with the
    config's URL and settings); it may raise, and is called again after any failure.
    ``clock`` gives Unix time (tests use a fake one with ``run_once``).
    """

    def __init__(self, store: KioskStore, printer_factory: Callable[[], Printer],
                 profile: PrinterProfile, *, kiosk: str = "",
                 clock: Callable[[], float] = time.time, backoff: Backoff | None = None,
                 poll_seconds: float = STATUS_POLL_SECONDS) -> None:
        self.store = store
        self.printer_factory = printer_factory
        self.profile = profile
        self.kiosk = kiosk
        self.clock = clock
        self.backoff = backoff or Backoff()
        self.poll_seconds = poll_seconds
        self.worker = worker_token()
        self._printer: Printer | None = None
        self._state: PrinterState | None = None
        self._failures = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.printer_lock = PrinterLock(Path(store.path))
        with _LIVE_LOCK:
            _LIVE_WORKERS.add(self.worker)

    # ---- what the kiosk screens and staff use ------------------------------------------------

    def enqueue(self, document: Document, kind: str, source: str = "", title: str = "") -> int:
        """Save a job (committed before this returns) and wake the worker; returns its id."""
        job_id = self.store.add_print_job(kind, document.to_json(), at=self.clock(),
                                          source=source, title=title, kiosk=self.kiosk)
        self._wake.set()
        return job_id

    @property
    def state(self) -> PrinterState | None:
        """What the printer last said (None: not asked yet)."""
        return self._state

    @property
    def printer_ready(self) -> bool:
        """False once the printer was found not ready (the screens then say the receipt
        will follow); True while nothing is known yet, so no warning shows by mistake."""
        return self._state is None or self._state.ok

    def job(self, job_id: int) -> PrintJob | None:
        return self.store.print_job(job_id)

    def retry(self, job_id: int) -> PrintJob:
        """Staff: try a waiting or cancelled job now (the printer's back-off starts over)."""
        job = self.store.retry_print_job(job_id, self.clock())
        self._failures = 0
        self._wake.set()
        return job

    def cancel(self, job_id: int) -> PrintJob:
        return self.store.cancel_print_job(job_id)

    def reprint(self, job_id: int) -> int:
        """Staff: another copy of a printed job, marked 补打 REPRINT; returns the new id."""
        new_id = self.store.reprint_print_job(job_id, self.clock(), kiosk=self.kiosk)
        self._wake.set()
        return new_id

    # ---- the worker ----------------------------------------------------------------------------

    def recover(self, store: KioskStore | None = None) -> list[int]:
        """Jobs a crashed worker left ``sending`` go back in the queue as reprints."""
        requeued = (store or self.store).requeue_interrupted_print_jobs(
            worker_alive, self.clock(), note=both("print.interrupted"))
        for job_id in requeued:
            log.warning("print job %s was being sent when the kiosk stopped: it will be "
                        "printed again, marked as a reprint", job_id)
        return requeued

    def run_once(self, store: KioskStore | None = None) -> bool:
        """Try the next due job. True when a job was tried (printed, or made to wait);
        False when no job is due."""
        store = store or self.store
        now = self.clock()
        job = store.due_print_job(now)
        if job is None:
            return False
        state = self.check_printer()
        if not state.ok:
            self._hold(store, state, attempted=job.id)
            return True
        if not store.claim_print_job(job.id, self.worker, now):
            return True  # another kiosk process or staff got there first
        try:
            encoded = encode(Document.from_json(job.document), self.profile,
                             reprint=job.reprint)
        except Exception as error:
            # A document this encoder cannot print: it waits (staff can cancel it) and the
            # printer is not blamed.
            log.exception("print job %s cannot be encoded", job.id)
            store.print_job_failed(job.id, self.worker, next_attempt=now + self.backoff.limit,
                                   status=state.state, error=f"cannot encode: {error}")
            return True
        if encoded.replaced:
            log.warning("print job %s: the printer's character set lacks %s; printed with "
                        "replacements", job.id, "".join(sorted(set(encoded.replaced))))
        try:
            self._printer_or_open().send(encoded.data, job.id)
        except Exception as error:  # the line died, a write timed out, the port vanished
            self._drop_printer()
            failed = PrinterState.of_error(error, self.clock(), state="error")
            self._note_state(failed)
            self._send_failed(store, job, failed)
            return True
        # The printer reads its line in order: an answer to a status request sent after the
        # job means every byte of the job reached it. (A serial driver reports the bytes as
        # gone once they are in its buffer; a cable pulled then would lose the job's end.)
        after = self.check_printer()
        if not answered(after):
            self._send_failed(store, job, after)
            return True
        note = ""
        if encoded.replaced:
            note = f"{both('print.replaced')}: {''.join(sorted(set(encoded.replaced)))}"
        store.print_job_done(job.id, self.worker, self.clock(), status=after.state, note=note)
        self._failures = 0
        return True

    def check_printer(self) -> PrinterState:
        """Ask the printer for its status now (opening it first if need be)."""
        try:
            printer = self._printer_or_open()
        except Exception as error:  # unknown port, no permission, unplugged
            state = PrinterState.of_error(error, self.clock())
            self._note_state(state)
            return state
        try:
            status = printer.status()
        except Exception as error:
            self._drop_printer()
            state = PrinterState.of_error(error, self.clock())
            self._note_state(state)
            return state
        state = PrinterState.of_status(status, self.clock())
        self._note_state(state)
        return state

    def start(self) -> None:
        """Start the worker thread (after putting back jobs a crash left half-sent)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="print-queue", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the worker; a job being sent is finished first (up to ``timeout``)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._drop_printer()

    def close(self) -> None:
        """Stop, and forget this worker: what it left ``sending`` may be recovered."""
        self.stop()
        with _LIVE_LOCK:
            _LIVE_WORKERS.discard(self.worker)

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        # SQLite connections belong to one thread: the worker opens its own.
        try:
            store = KioskStore(self.store.path)
        except Exception:
            log.exception("the print queue cannot open the database")
            return
        try:
            if not self._hold_printer():
                return
            self.recover(store)
            while not self._stop.is_set():
                try:
                    if self.run_once(store):
                        continue
                    self._idle(store)
                except Exception:  # never let the worker die: the kiosk would stop printing
                    log.exception("print queue worker error")
                    self._drop_printer()
                    self._stop.wait(1.0)
        finally:
            self._drop_printer()
            self.printer_lock.release()
            store.close()

    def _hold_printer(self) -> bool:
        """Wait until this worker holds the printer (False: stopped first). Meanwhile another
        kiosk process of this database holds it and prints this process's jobs too; nothing
        here asks the printer, so nothing here holds the jobs back."""
        said = False
        while not self._stop.is_set():
            if self.printer_lock.acquire():
                if said:
                    log.info("this kiosk process now holds the printer")
                return True
            if not said:
                log.info("another kiosk process holds the printer and prints this one's "
                         "receipts (%s)", self.printer_lock.path)
                said = True
            self._stop.wait(self.poll_seconds)
        return False

    def _idle(self, store: KioskStore) -> None:
        """Nothing is due: wait for a new job, the next attempt, or a status poll.

        A poll that finds the printer ready again releases the waiting jobs at once.
        """
        due = store.next_print_attempt()
        now = self.clock()
        if due is not None and (self._state is None or not self._state.ok):
            state = self.check_printer()
            if state.ok:
                self._failures = 0
                store.release_print_jobs(now)
                return
        elif due is None and (self._state is None
                              or now - self._state.at >= self.poll_seconds):
            self.check_printer()  # keep the screens' "printer ready?" fresh
        timeout = self.poll_seconds if due is None else min(max(due - now, 0.0),
                                                            self.poll_seconds)
        self._wake.wait(max(timeout, 0.005))
        self._wake.clear()

    # ---- helpers ---------------------------------------------------------------------------

    def _send_failed(self, store: KioskStore, job: PrintJob, failed: PrinterState) -> None:
        """The job did not (surely) reach the printer: it and the jobs behind it wait. It is
        sent again plainly (not as a reprint): the kiosk saw it fail, so no whole copy came
        out, unless the cable went in the instant after the last byte."""
        self._failures += 1
        until = self.clock() + self.backoff.delay(self._failures)
        log.warning("print job %s did not go through (%s); retry in %.1f s", job.id,
                    failed.message("en"), until - self.clock())
        store.print_job_failed(job.id, self.worker, next_attempt=until, status=failed.state,
                               error=failed.message())
        store.hold_print_jobs(until, failed.state, failed.message())

    def _hold(self, store: KioskStore, state: PrinterState, attempted: int) -> None:
        self._failures += 1
        delay = self.backoff.delay(self._failures)
        store.hold_print_jobs(self.clock() + delay, state.state, state.message(),
                              attempted=attempted)

    def _note_state(self, state: PrinterState) -> None:
        previous = self._state
        self._state = state
        if previous is not None and previous.state == state.state:
            return
        if state.state == "unknown":
            log.warning("the printer's status reply could not be read (status unknown); "
                        "jobs wait and are retried")
        elif not state.ok:
            log.warning("printer not ready: %s", state.message("en"))
        elif previous is not None:
            log.info("printer ready again")

    def _printer_or_open(self) -> Printer:
        if self._printer is None:
            self._printer = self.printer_factory()
        return self._printer

    def _drop_printer(self) -> None:
        printer, self._printer = self._printer, None
        if printer is not None:
            try:
                printer.close()
            except Exception:
                log.debug("closing the printer failed", exc_info=True)


# ---- from the configuration --------------------------------------------------------------


def receipts_folder(store: KioskStore) -> Path:
    """Where receipts go without a printer: ``receipts/`` beside the database (in the user
    data directory for the default database)."""
    return store.path.parent / "receipts"


def printer_profile(printer: PrinterConfig) -> PrinterProfile:
    return PrinterProfile(columns=printer.columns, encoding=printer.encoding, cut=printer.cut)


def serial_settings(printer: PrinterConfig) -> Any:
    from printers.transport import SerialSettings

    parity = {"none": "N", "even": "E", "odd": "O"}[printer.parity]
    return SerialSettings(baudrate=printer.baudrate, parity=parity, rtscts=printer.rtscts,
                          xonxoff=printer.xonxoff)


def printer_factory(printer: PrinterConfig, folder: Path) -> Callable[[], Printer]:
    """Opens the configured printer (pyserial loads only when a serial port is used)."""

    def open_configured() -> Printer:
        from printers.transport import open_printer

        return open_printer(printer.url, serial_settings(printer), folder=folder,
                            profile=printer_profile(printer))

    return open_configured


def queue_from_config(store: KioskStore, config: KioskConfig, *,
                      url: str | None = None) -> PrintQueue:
    """The print queue for this kiosk's configured printer (``url`` overrides it)."""
    printer = config.printer if url is None else with_url(config.printer, url)
    return PrintQueue(store, printer_factory(printer, receipts_folder(store)),
                      printer_profile(printer), kiosk=config.kiosk_id)


def with_url(printer: PrinterConfig, url: str) -> PrinterConfig:
    from dataclasses import replace

    return replace(printer, url=url)

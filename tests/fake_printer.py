"""A fake ESC/POS thermal printer on the far end of a pty pair.

The kiosk opens ``printer.port`` (the pty's slave, e.g. ``/dev/pts/7``) with pyserial as it
would ``/dev/ttyUSB0``; a thread reads the master side like a printer reads its serial line:
it records what it is sent, answers the real-time status requests ``DLE EOT n`` from a
scripted state, and can read at the line rate of 9600 baud (960 bytes/s: a pty itself has
no baud rate) or vanish in the middle of a job (the USB cable pulled).

States: ``online``, ``offline``, ``cover_open``, ``paper_out``, ``paper_near_end``,
``error``, ``garbage`` (answers status requests with nonsense), ``silent`` (answers nothing).
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
import tty
from collections.abc import Callable

DLE_EOT = b"\x10\x04"
FIXED = 0x12  # bits 1 and 4 are always set in a DLE EOT reply; bit 7 is always clear

# (n=1 printer, n=2 offline cause, n=3 error cause, n=4 paper sensor) for each state
REPLIES: dict[str, tuple[int, int, int, int]] = {
    "online": (FIXED, FIXED, FIXED, FIXED),
    "offline": (FIXED | 0x08, FIXED, FIXED, FIXED),
    "cover_open": (FIXED | 0x08, FIXED | 0x04, FIXED, FIXED),
    "paper_out": (FIXED | 0x08, FIXED | 0x20, FIXED, FIXED | 0x60),
    "paper_near_end": (FIXED, FIXED, FIXED, FIXED | 0x0C),
    "error": (FIXED | 0x08, FIXED | 0x40, FIXED | 0x20, FIXED),
}


class FakePrinter:
    """A printer at the end of a pty. Use as a context manager; ``port`` is what to open."""

    def __init__(self, state: str = "online", *, bytes_per_second: float | None = None) -> None:
        self.state = state
        self.bytes_per_second = bytes_per_second
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)  # a serial line passes bytes as they are
        tty.setraw(self.master)
        self.port = os.ttyname(self.slave)
        self.received = bytearray()  # everything but the status requests
        self.status_requests: list[int] = []
        self.unplug_after: int | None = None  # bytes of print data, then the cable is out
        self.on_receive: Callable[[bytes], None] | None = None
        self.last_byte_at: float | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pending = b""
        self._thread = threading.Thread(target=self._run, name="fake-printer", daemon=True)
        self.unplugged = False

    # ---- life cycle ------------------------------------------------------------------------

    def __enter__(self) -> FakePrinter:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for descriptor in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(descriptor)

    def unplug(self) -> None:
        """The cable is pulled: the line goes dead (writes on the kiosk's side fail)."""
        with self._lock:
            if not self.unplugged:
                self.unplugged = True
                os.close(self.master)

    # ---- what was printed ------------------------------------------------------------------

    def data(self) -> bytes:
        with self._lock:
            return bytes(self.received)

    def wait_for(self, condition: Callable[[bytes], bool], timeout: float = 10.0) -> bytes:
        """Wait until ``condition(received bytes)`` holds; return the bytes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = self.data()
            if condition(data):
                return data
            time.sleep(0.005)
        raise TimeoutError(f"the fake printer did not get what was expected in {timeout} s")

    # ---- the printer's side of the line ----------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set() and not self.unplugged:
            try:
                ready, _, _ = select.select([self.master], [], [], 0.02)
            except (OSError, ValueError):
                return
            if not ready:
                continue
            size = 64 if self.bytes_per_second else 4096
            try:
                chunk = os.read(self.master, size)
            except OSError:
                return
            if not chunk:
                continue
            if self.bytes_per_second:
                # The bytes arrive no faster than the serial line brings them.
                time.sleep(len(chunk) / self.bytes_per_second)
            self._take(chunk)

    def _take(self, chunk: bytes) -> None:
        data = self._pending + chunk
        self._pending = b""
        printable = bytearray()
        index = 0
        while index < len(data):
            if data[index:index + 2] == DLE_EOT:
                if index + 2 >= len(data):
                    self._pending = data[index:]  # the request's last byte is still coming
                    break
                self._answer(data[index + 2])
                index += 3
                continue
            if data[index] == 0x10 and index + 1 == len(data):
                self._pending = data[index:]
                break
            printable.append(data[index])
            index += 1
        if not printable:
            return
        with self._lock:
            if self.unplug_after is not None:
                room = self.unplug_after - len(self.received)
                if room <= len(printable):
                    self.received.extend(printable[:max(room, 0)])
                    self.last_byte_at = time.monotonic()
                    self._unplug_locked()
                    return
            self.received.extend(printable)
            self.last_byte_at = time.monotonic()
        if self.on_receive is not None:
            self.on_receive(bytes(printable))

    def _unplug_locked(self) -> None:
        self.unplugged = True
        os.close(self.master)

    def _answer(self, which: int) -> None:
        self.status_requests.append(which)
        state = self.state
        if state == "silent" or not 1 <= which <= 4:
            return
        reply = b"\xff" if state == "garbage" else bytes([REPLIES[state][which - 1]])
        with contextlib.suppress(OSError):
            os.write(self.master, reply)

"""Getting bytes to a printer: a serial line, a USB printer device file, or a folder.

``open_printer(url)`` picks the kind from the URL and opens nothing yet; the port is opened
on the first ``status()`` or ``send()``, and again after it failed. No call waits without a
bound: a status read takes at most ``status_timeout`` per request, and ``send`` gives up when
the printer has taken no data for ``write_timeout`` seconds (a printer holding flow control
with paper out or its cover open must not hang the kiosk).

Each printer object is meant for one thread at a time (the kiosk's print worker); a lock
makes a stray concurrent call wait instead of mixing its bytes into a job.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import select
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from printers.escpos import PrinterProfile
from printers.status import PrinterStatus, parse_status

logger = logging.getLogger(__name__)

DLE_EOT = b"\x10\x04"
CHUNK = 256  # bytes per write: a stalled printer is noticed within one write timeout
PYSERIAL_SCHEMES = ("rfc2217", "socket", "loop", "spy", "alt", "hwgrep", "cp2110")
USB_PRINTER = re.compile(r"^/dev/(usb/)?lp\d+$")


class PrinterError(Exception):
    """A job could not be sent, or a printer URL is wrong. The message names the printer
    (its port, device or folder) and says what went wrong. ``state`` is what the failure
    suggests about the printer (``unplugged``, ``offline``, ``error``)."""

    def __init__(self, message: str, *, url: str = "", state: str = "error") -> None:
        super().__init__(message)
        self.url = url
        self.state = state


@dataclass(frozen=True)
class SerialSettings:
    """The serial line. Thermal printers ship at 9600 8N1 (some at 19200 or 115200), with
    hardware (``rtscts``) or software (``xonxoff``) flow control set by their DIP switches;
    these must match the printer's self-test page. ``write_timeout``: seconds without
    progress before ``send`` gives up; ``status_timeout``: seconds to wait for each status
    reply."""

    baudrate: int = 9600
    parity: str = "N"
    bytesize: int = 8
    stopbits: float = 1
    rtscts: bool = False
    xonxoff: bool = False
    write_timeout: float = 10.0
    status_timeout: float = 0.5

    def __post_init__(self) -> None:
        if self.baudrate not in (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200,
                                 230400, 460800, 921600):
            raise ValueError(f"baud rate {self.baudrate} is not one a printer uses")
        if self.parity not in ("N", "E", "O", "M", "S"):
            raise ValueError(f"parity must be N, E, O, M or S (got {self.parity!r})")
        if self.bytesize not in (5, 6, 7, 8):
            raise ValueError(f"byte size must be 5 to 8 bits (got {self.bytesize})")
        if self.stopbits not in (1, 1.5, 2):
            raise ValueError(f"stop bits must be 1, 1.5 or 2 (got {self.stopbits})")
        if not 0 < self.write_timeout <= 600 or not 0 < self.status_timeout <= 60:
            raise ValueError("timeouts must be positive (write up to 600 s, status up to 60 s)")


@runtime_checkable
class Printer(Protocol):
    """Where receipts go. ``status()`` never raises; ``send()`` raises ``PrinterError``."""

    url: str

    def status(self) -> PrinterStatus: ...

    def send(self, data: bytes, job_id: str | int) -> None: ...

    def close(self) -> None: ...


def _line_errors() -> tuple[type[BaseException], ...]:
    """What a failing serial line raises: pyserial's errors, OSError, and termios.error (not
    an OSError: tcflush on a vanished port raises it)."""
    import termios

    import serial

    return (serial.SerialException, OSError, termios.error)


def _classify_open_error(url: str, error: Exception) -> PrinterError:
    """Why a port would not open, as a PrinterError with the state it implies."""
    number = getattr(error, "errno", None)
    text = str(error)
    if number in (errno.EACCES, errno.EPERM) or "Permission denied" in text:
        return PrinterError(f"printer port {url}: permission denied (add the kiosk's user to "
                            f"the 'dialout' group, then log in again)", url=url, state="error")
    if number in (errno.EBUSY, errno.EAGAIN) or "exclusively lock" in text:
        return PrinterError(f"printer port {url} is in use by another program (is the kiosk "
                            f"already running?)", url=url, state="unknown")
    if number in (errno.ENOENT, errno.ENODEV, errno.ENXIO) or "No such file" in text:
        return PrinterError(f"printer port {url} does not exist (printer unplugged, or "
                            f"another port name?)", url=url, state="unplugged")
    return PrinterError(f"printer port {url} cannot be opened: {text}", url=url,
                        state="unplugged")


class SerialPrinter:
    """An ESC/POS printer on a serial line: any pyserial port name or URL."""

    def __init__(self, url: str, settings: SerialSettings | None = None) -> None:
        self.url = url
        self.settings = settings or SerialSettings()
        self._port = None  # a pyserial port once opened
        self._lock = threading.Lock()

    def __enter__(self) -> SerialPrinter:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SerialPrinter({self.url!r})"

    # ---- the port ---------------------------------------------------------------------------

    def _open(self):  # -> serial.SerialBase
        if self._port is not None:
            return self._port
        import serial  # pyserial only when a serial printer is used

        settings = self.settings
        port = None
        try:
            port = serial.serial_for_url(self.url, do_not_open=True)
            port.baudrate = settings.baudrate
            port.parity = settings.parity
            port.bytesize = settings.bytesize
            port.stopbits = settings.stopbits
            port.rtscts = settings.rtscts
            port.xonxoff = settings.xonxoff
            port.timeout = settings.status_timeout
            port.write_timeout = settings.write_timeout
            if isinstance(port, serial.Serial):
                port.exclusive = True  # a second program's bytes must not land in a receipt
            port.open()
        except (*_line_errors(), ValueError) as error:
            if port is not None:
                with contextlib.suppress(Exception):
                    port.close()
            raise _classify_open_error(self.url, error) from error
        logger.info("printer port %s open (%s baud)", self.url, settings.baudrate)
        self._port = port
        return port

    def _drop(self, *, discard: bool = True) -> None:
        """Forget a port (after a failure); the next call opens it again."""
        port, self._port = self._port, None
        if port is not None:
            if discard:
                # Unsent bytes of a failed job go: closing a tty waits for them to drain (up
                # to the driver's closing_wait, 30 s) when the printer holds flow control.
                with contextlib.suppress(Exception):
                    port.reset_output_buffer()
            with contextlib.suppress(Exception):
                port.close()

    def close(self) -> None:
        """Close the port (a later call opens it again); a job already sent is kept."""
        with self._lock:
            self._drop(discard=False)

    # ---- status -----------------------------------------------------------------------------

    def status(self) -> PrinterStatus:
        """Ask the printer (DLE EOT 1-4) and read its replies; never raises.

        Takes a few milliseconds when the printer answers, about ``status_timeout`` when it
        is silent (reported ``offline``), and is immediate when the port is gone
        (``unplugged``). The print worker calls it between jobs; a request sent while a
        job's bytes are still queued on the line would wait behind them.
        """
        import serial

        with self._lock:
            try:
                port = self._open()
            except PrinterError as error:
                return PrinterStatus(error.state, detail=str(error))
            replies: dict[int, int | None] = {1: None, 2: None, 3: None, 4: None}
            try:
                port.reset_input_buffer()  # a late reply from before is not an answer
                for n in (1, 2, 3, 4):
                    port.write(DLE_EOT + bytes([n]))
                    reply = port.read(1)
                    if not reply:
                        break  # a silent printer costs one timeout, not four
                    replies[n] = reply[0]
            except serial.SerialTimeoutException:
                return PrinterStatus("offline", detail=(
                    f"{self.url}: the printer takes no data (flow control held for "
                    f"{self.settings.write_timeout:g} s)"))
            except _line_errors() as error:
                self._drop()
                return PrinterStatus("unplugged", detail=f"{self.url}: the line failed "
                                     f"({error}); printer unplugged?")
            except Exception as error:  # status() must never take the print worker down
                logger.exception("status of the printer on %s", self.url)
                self._drop()
                return PrinterStatus("error", detail=f"{self.url}: {error!r}")
        if any(reply is not None for reply in replies.values()) and None in replies.values():
            logger.warning("printer on %s stopped answering part-way through a status read: %s",
                           self.url, replies)
        status = parse_status(replies)
        if status.detail:
            status = PrinterStatus(status.state, status.paper_near_end,
                                   f"{self.url}: {status.detail}")
        return status

    # ---- printing ---------------------------------------------------------------------------

    def send(self, data: bytes, job_id: str | int) -> None:
        """Write one job and wait until the port has passed it on.

        Raises ``PrinterError`` when the port cannot be opened, when the printer takes no
        data for ``write_timeout`` seconds (``state`` ``offline``), or when the line fails
        (``unplugged``). Part of the job may then have printed: send it again as a reprint.
        """
        import serial

        with self._lock:
            port = self._open()
            sent = 0
            try:
                view = memoryview(bytes(data))
                while sent < len(view):
                    chunk = view[sent:sent + CHUNK]
                    port.write(chunk)
                    sent += len(chunk)
                self._drain(port)
            except serial.SerialTimeoutException as error:
                self._drop()
                raise PrinterError(
                    f"printer on {self.url}: job {job_id} stalled after {sent} of {len(data)} "
                    f"bytes: the printer took no data for {self.settings.write_timeout:g} s "
                    f"(paper out, cover open, or switched off with flow control held)",
                    url=self.url, state="offline") from error
            except _line_errors() as error:
                self._drop()
                raise PrinterError(
                    f"printer on {self.url}: job {job_id} failed after {sent} of {len(data)} "
                    f"bytes: {error} (printer unplugged?)", url=self.url,
                    state="unplugged") from error
        logger.info("job %s: %d bytes sent to %s", job_id, len(data), self.url)

    def _drain(self, port) -> None:
        """Wait until the port's output queue is empty, giving up after ``write_timeout``
        without progress; ``flush()`` (tcdrain) would wait for ever on a stalled line."""
        import serial

        if not isinstance(port, serial.Serial):
            port.flush()  # the URL handlers (socket, rfc2217, loop) do not block here
            return
        waiting = port.out_waiting  # OSError once the device is gone
        last_change = time.monotonic()
        while waiting:
            time.sleep(0.01)
            now_waiting = port.out_waiting
            if now_waiting < waiting:
                last_change = time.monotonic()
            elif time.monotonic() - last_change > self.settings.write_timeout:
                raise serial.SerialTimeoutException("output queue did not drain")
            waiting = now_waiting


class FilePrinter:
    """A printer behind a device file that is written only: the kernel's USB printer class
    (``/dev/usb/lp0``), a parallel port, or a plain file that collects the jobs. There is no
    read-back: ``status()`` is ``ready`` when the file can be written, else ``unplugged``."""

    def __init__(self, path: str | Path, settings: SerialSettings | None = None) -> None:
        self.path = Path(path)
        self.url = f"file:{self.path}"
        self.settings = settings or SerialSettings()
        self._lock = threading.Lock()

    def __enter__(self) -> FilePrinter:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FilePrinter({str(self.path)!r})"

    def status(self) -> PrinterStatus:
        if not self.path.exists():
            return PrinterStatus("unplugged", detail=f"{self.path} does not exist "
                                 f"(printer unplugged or switched off?)")
        if not os.access(self.path, os.W_OK):
            return PrinterStatus("error", detail=f"{self.path}: permission denied (add the "
                                 f"kiosk's user to the 'lp' group)")
        return PrinterStatus("ready")

    def send(self, data: bytes, job_id: str | int) -> None:
        """Write the job; the device is opened non-blocking so a printer that stops taking
        data ends in ``PrinterError`` after ``write_timeout`` seconds, not a hang."""
        with self._lock:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK | os.O_NOCTTY)
            except OSError as error:
                state = "error" if error.errno in (errno.EACCES, errno.EPERM) else "unplugged"
                raise PrinterError(f"printer {self.path}: job {job_id}: cannot open: "
                                   f"{error.strerror}", url=self.url, state=state) from error
            sent = 0
            try:
                while sent < len(data):
                    _, writable, _ = select.select([], [fd], [], self.settings.write_timeout)
                    if not writable:
                        raise PrinterError(
                            f"printer {self.path}: job {job_id} stalled after {sent} of "
                            f"{len(data)} bytes: no data taken for "
                            f"{self.settings.write_timeout:g} s (paper out or cover open?)",
                            url=self.url, state="offline")
                    try:
                        sent += os.write(fd, data[sent:sent + CHUNK * 16])
                    except BlockingIOError:
                        continue
            except OSError as error:
                state = "paper_out" if error.errno == errno.ENOSPC else "unplugged"
                raise PrinterError(f"printer {self.path}: job {job_id} failed after {sent} of "
                                   f"{len(data)} bytes: {error.strerror}", url=self.url,
                                   state=state) from error
            finally:
                os.close(fd)
        logger.info("job %s: %d bytes written to %s", job_id, len(data), self.path)

    def close(self) -> None:
        """Nothing stays open between jobs."""


class FolderPrinter:
    """No printer: each job is written as ``job-<id>.bin`` (its ESC/POS bytes) and
    ``job-<id>.png`` (what a printer would print) in a folder. The default on a fresh
    install, and a way to see receipts without paper."""

    def __init__(self, folder: str | Path, profile: PrinterProfile | None = None) -> None:
        self.folder = Path(folder)
        self.url = f"folder:{self.folder}"
        self.profile = profile or PrinterProfile()
        self._lock = threading.Lock()

    def __enter__(self) -> FolderPrinter:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FolderPrinter({str(self.folder)!r})"

    def paths(self, job_id: str | int) -> tuple[Path, Path]:
        """Where a job's bytes and its preview go."""
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", str(job_id)).strip(".") or "job"
        return self.folder / f"job-{name}.bin", self.folder / f"job-{name}.png"

    def status(self) -> PrinterStatus:
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as error:
            return PrinterStatus("error", detail=f"receipt folder {self.folder}: cannot "
                                 f"create it: {error.strerror}")
        if not os.access(self.folder, os.W_OK | os.X_OK):
            return PrinterStatus("error", detail=f"receipt folder {self.folder}: not writable")
        return PrinterStatus("ready")

    def send(self, data: bytes, job_id: str | int) -> None:
        from printers.preview import render_png  # Pillow only when a preview is drawn

        binary, picture = self.paths(job_id)
        with self._lock:
            try:
                self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
                _write_atomically(binary, bytes(data))
            except OSError as error:
                raise PrinterError(f"receipt folder {self.folder}: job {job_id}: "
                                   f"{error.strerror or error}", url=self.url) from error
            temporary = picture.with_name(picture.name + ".tmp")
            try:
                render_png(bytes(data), temporary, columns=self.profile.columns,
                           encoding=self.profile.encoding)
                os.replace(temporary, picture)
            except Exception:  # the bytes are the job; a failed picture must not lose it
                logger.exception("job %s: the preview %s could not be drawn", job_id, picture)
                with contextlib.suppress(OSError):
                    temporary.unlink()
        logger.info("job %s written to %s", job_id, binary)

    def close(self) -> None:
        """Nothing stays open between jobs."""


def _write_atomically(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all, owner-only (a receipt may hold a name)."""
    temporary = path.with_name(path.name + ".tmp")
    with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
                   "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def open_printer(url: str, settings: SerialSettings | None = None, *,
                 folder: Path | None = None,
                 profile: PrinterProfile | None = None) -> Printer:
    """The printer a URL names; nothing is opened until the first ``status()``/``send()``.

    - ``""``, ``folder``: a ``FolderPrinter`` writing into ``folder`` (the kiosk passes
      ``<data dir>/receipts``); ``folder:/some/path`` names the folder itself.
    - ``file:/dev/usb/lp0``, or a path ``/dev/usb/lp0``, ``/dev/lp0``: a ``FilePrinter``.
    - anything else is a serial port for pyserial: ``/dev/ttyUSB0``, ``/dev/ttyS0``,
      ``/dev/pts/3``, ``rfc2217://host:port``, ``socket://host:9100``, ``loop://``.

    ``profile`` sets the paper width and code the folder printer draws its previews with.
    Raises ``PrinterError`` for a URL that cannot name a printer.
    """
    url = (url or "").strip()
    if url in ("", "folder") or url.startswith("folder:"):
        target = Path(url[len("folder:"):]).expanduser() if url.startswith("folder:") else folder
        if target is None or not str(target):
            raise PrinterError(f"printer URL {url!r} writes receipts into a folder, but no "
                               f"folder was given", url=url)
        return FolderPrinter(target, profile)
    if url.startswith("file:"):
        path = url[len("file:"):]
        path = path[2:] if path.startswith("//") else path
        if not path.startswith("/"):
            raise PrinterError(f"printer URL {url!r}: a file: URL needs an absolute path, "
                               f"such as file:/dev/usb/lp0", url=url)
        return FilePrinter(path, settings)
    if USB_PRINTER.match(url):
        return FilePrinter(url, settings)
    if "://" in url:
        scheme = url.split("://", 1)[0]
        if scheme not in PYSERIAL_SCHEMES:
            raise PrinterError(f"printer URL {url!r}: unknown scheme {scheme!r}; use a port "
                               f"such as /dev/ttyUSB0, or socket://host:9100, "
                               f"rfc2217://host:port, file:/dev/usb/lp0, folder", url=url)
    elif not url.startswith("/"):
        raise PrinterError(f"printer URL {url!r} is not a port: use /dev/ttyUSB0, "
                           f"socket://host:9100, file:/dev/usb/lp0 or folder", url=url)
    return SerialPrinter(url, settings)

"""Receipts on ESC/POS thermal printers: layout, encoding, transport, status, preview.

This package knows bytes, columns and printer status — not surveys. A receipt template (in
the kiosk) builds a ``Document``; this package turns it into bytes and gets them to a printer.

Layout (``printers.layout``) — widths in printer columns (a GB character is 2, ASCII 1):
    display_width(text) -> int
    wrap(text, columns) -> list[str]             Latin words kept whole, 避头尾 for ，。）
    pair_lines(label, value, columns, fill=".") -> list[str]     "label ...... value"
    center(text, columns) -> str
    PAPER_COLUMNS = {"58mm": 32, "80mm": 48}

Encoding (``printers.escpos``):
    PrinterProfile(columns=32, encoding="gb18030" | "gbk", cut="partial" | "full",
                   feed_before_cut=3)
    encode(document, profile, *, reprint=False) -> EncodedJob(data: bytes, replaced: list[str])
    qr_bytes(data, module_size, error_correction) -> bytes        the GS ( k sequence alone
    raster_bytes(document, profile) -> bytes     the same receipt as GS v 0 (bench only)

Status (``printers.status``):
    PrinterStatus(state, paper_near_end=False, detail="")  .ok  .words("zh" | "en")
        state: ready | offline | cover_open | paper_out | error | unplugged | unknown
    parse_status({1: byte | None, 2: …, 3: …, 4: …}) -> PrinterStatus

Transport (``printers.transport``):
    open_printer(url, settings=None, *, folder=None, profile=None) -> Printer
        "" | "folder" | "folder:/path"  -> FolderPrinter (job-<id>.bin + job-<id>.png)
        "file:/dev/usb/lp0" | /dev/usb/lp* -> FilePrinter (write only)
        /dev/ttyUSB0, /dev/ttyS0, socket://host:9100, rfc2217://…, loop:// -> SerialPrinter
    Printer: .url  .status() -> PrinterStatus (never raises)
             .send(data, job_id) (raises PrinterError)  .close()
    SerialSettings(baudrate=9600, parity="N", bytesize=8, stopbits=1, rtscts=False,
                   xonxoff=False, write_timeout=10.0, status_timeout=0.5)
    PrinterError(message, url=, state=)

Reading bytes back (``printers.parse``, ``printers.preview``):
    parse(data, encoding="gb18030") -> list[Event]   Text, Feed, QRCode, Cut, Raster,
                                                     StatusRequest, Init, Setting, Unknown
    text_lines(events) -> list[str]
    render_png(data, path, *, columns=32, encoding="gb18030") -> Path   columns × 12 px wide
    render_image(data, *, columns=32, encoding="gb18030") -> PIL image
    test_page(columns) -> Document

Behaviour the print worker can rely on:
- ``status()`` never raises. A printer that answers: a few ms. A silent one (switched off,
  wrong baud rate): ``offline`` after ``status_timeout`` (0.5 s; one request, not four). A
  missing port: ``unplugged`` at once. ``socket://`` to an unreachable host: up to 5 s
  (pyserial's connect timeout).
- ``send()`` returns when the port has passed the job on (a real serial port is drained:
  about 1 s per KB at 9600 baud), or raises ``PrinterError`` — with ``state`` ``offline``
  when the printer took no data for ``write_timeout`` s, ``unplugged`` when the line failed.
  Part of the job may have printed then; print it again with ``reprint=True``. The port is
  opened again on the next call.
- A printer object is for one thread (the worker); a lock makes other callers wait. A serial
  port is opened exclusively: a second program gets status ``unknown`` ("in use").
- Widths are the paper's: a character the printer draws from its GB font is two columns,
  including the East Asian ambiguous ones (…, —, ·, °, ①), which a terminal shows in one.

Importing this package loads neither pyserial nor Pillow; they are imported when a serial
printer is opened or a picture drawn.
"""

from printers.document import Document, Op
from printers.escpos import EncodedJob, PrinterProfile, encode, qr_bytes, raster_bytes
from printers.layout import PAPER_COLUMNS, center, display_width, pair_lines, wrap
from printers.status import PrinterStatus, parse_status
from printers.transport import (
    FilePrinter,
    FolderPrinter,
    Printer,
    PrinterError,
    SerialPrinter,
    SerialSettings,
    open_printer,
)

__all__ = [
    "PAPER_COLUMNS",
    "Document",
    "EncodedJob",
    "FilePrinter",
    "FolderPrinter",
    "Op",
    "Printer",
    "PrinterError",
    "PrinterProfile",
    "PrinterStatus",
    "SerialPrinter",
    "SerialSettings",
    "center",
    "display_width",
    "encode",
    "open_printer",
    "pair_lines",
    "parse_status",
    "qr_bytes",
    "raster_bytes",
    "wrap",
]

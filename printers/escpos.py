"""ESC/POS bytes for a ``Document``: Chinese in the printer's own GB font, native QR codes.

A job starts with ESC @ (initialise) and sets alignment (ESC a), size (GS !), emphasis (ESC E)
and reverse (GS B) only when they change. Chinese runs are sent as GB18030 or GBK bytes between
FS & (Kanji mode on) and FS . (off), so a receipt at 9600 baud takes about a second; the
same receipt as a raster image (``raster_bytes``) takes about a minute and is only there for
the bench to compare.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Literal

from printers.document import Document, Op
from printers.layout import char_width, pair_lines, rule_line, wrap

ESC = b"\x1b"
GS = b"\x1d"
FS = b"\x1c"
DLE = b"\x10"
LF = b"\n"

INITIALISE = ESC + b"@"
KANJI_ON = FS + b"&"
KANJI_OFF = FS + b"."
ALIGN_CODES = {"left": 0, "center": 1, "right": 2}
QR_ERROR_CORRECTION = {"L": 48, "M": 49, "Q": 50, "H": 51}
CUT_CODES = {"full": 0, "partial": 1}  # GS V m: m = 0 full cut, m = 1 partial cut
DOTS_PER_COLUMN = 12  # font A is 12 x 24 dots; a GB character 24 x 24
REPRINT_BANNER = "补打 REPRINT"


@dataclass(frozen=True)
class PrinterProfile:
    """What the encoder needs to know about one printer.

    ``columns``: font-A characters per line (32 on 58 mm paper, 48 on 80 mm; see
    ``printers.layout.PAPER_COLUMNS``). ``encoding``: the GB code the printer's Chinese font
    reads — ``gb18030`` (also prints the rarer CJK ideographs of the 4-byte range) or ``gbk``.
    ``cut``: ``partial`` (leaves a hinge, the receipt does not fall) or ``full``.
    ``feed_before_cut``: lines fed so the last printed line clears the cutter.
    """

    columns: int = 32
    encoding: str = "gb18030"
    cut: Literal["partial", "full"] = "partial"
    feed_before_cut: int = 3

    def __post_init__(self) -> None:
        if not 16 <= self.columns <= 96:
            raise ValueError(f"printer columns must be 16 to 96 (got {self.columns})")
        if self.encoding.lower().replace("-", "") not in ("gb18030", "gbk"):
            raise ValueError(f"printer encoding must be gb18030 or gbk (got {self.encoding!r})")
        if self.cut not in CUT_CODES:
            raise ValueError(f"printer cut must be 'partial' or 'full' (got {self.cut!r})")
        if not 0 <= self.feed_before_cut <= 20:
            raise ValueError(f"feed_before_cut must be 0 to 20 lines (got {self.feed_before_cut})")

    @property
    def dots(self) -> int:
        """Printable width in dots (384 for 32 columns, 576 for 48)."""
        return self.columns * DOTS_PER_COLUMN


@dataclass
class EncodedJob:
    """The bytes of one job, and the characters that could not be printed as they are.

    ``replaced`` lists each such character once, in order of appearance: characters the
    printer's code lacks (𠮷 in GBK), emoji and other symbols no printer font has, and control
    characters. Each was printed as ``？`` (when two columns wide) or ``?``, or left out when
    it takes no column (a combining mark or a zero-width joiner).
    """

    data: bytes
    replaced: list[str] = field(default_factory=list)


def _is_cjk_ideograph(char: str) -> bool:
    return unicodedata.name(char, "").startswith(("CJK UNIFIED IDEOGRAPH",
                                                   "CJK COMPATIBILITY IDEOGRAPH"))


def qr_bytes(data: str, module_size: int = 6, error_correction: str = "M") -> bytes:
    """The GS ( k sequence that makes the printer draw a QR code (model 2) for ``data``.

    Functions 165 (model 2), 167 (module size, 1-16 dots), 169 (error correction L/M/Q/H),
    180 (store the data, UTF-8 bytes) and 181 (print the stored symbol), in that order.
    """
    payload = data.encode("utf-8")
    if not payload:
        raise ValueError("a QR code needs data")
    if len(payload) > 7089:
        raise ValueError(f"QR data is {len(payload)} bytes; a printer takes at most 7089")
    if not 1 <= module_size <= 16:
        raise ValueError(f"QR module size must be 1 to 16 dots (got {module_size})")
    if error_correction not in QR_ERROR_CORRECTION:
        raise ValueError(f"QR error correction must be L, M, Q or H (got {error_correction!r})")

    def function(fn: int, parameters: bytes) -> bytes:
        size = len(parameters) + 2  # cn and fn count in pL pH
        return GS + b"(k" + bytes([size % 256, size // 256, 49, fn]) + parameters

    return (function(65, bytes([50, 0]))
            + function(67, bytes([module_size]))
            + function(69, bytes([QR_ERROR_CORRECTION[error_correction]]))
            + function(80, b"0" + payload)
            + function(81, b"0"))


def qr_modules(data: str, error_correction: str) -> int:
    """Modules across the QR symbol the printer will draw for ``data`` (an upper bound:
    counted in byte mode, the printer may choose a denser one)."""
    import qrcode  # only when a document has a QR code
    import qrcode.constants

    levels = {"L": qrcode.constants.ERROR_CORRECT_L, "M": qrcode.constants.ERROR_CORRECT_M,
              "Q": qrcode.constants.ERROR_CORRECT_Q, "H": qrcode.constants.ERROR_CORRECT_H}
    code = qrcode.QRCode(error_correction=levels[error_correction], border=0)
    code.add_data(data.encode("utf-8"), optimize=0)
    code.make(fit=True)
    return code.modules_count


@dataclass
class _Style:
    align: str = "left"
    width: int = 1
    height: int = 1
    bold: bool = False
    reverse: bool = False


class _Encoder:
    """Writes lines with the fewest mode changes; remembers what it could not print."""

    def __init__(self, profile: PrinterProfile) -> None:
        self.profile = profile
        self.encoding = profile.encoding.lower().replace("-", "")
        self.out = bytearray(INITIALISE)
        self.state = _Style()
        self.replaced: list[str] = []

    def style(self, *, align: str = "left", width: int = 1, height: int = 1,
              bold: bool = False, reverse: bool = False) -> None:
        if align not in ALIGN_CODES:
            raise ValueError(f"alignment must be left, center or right (got {align!r})")
        if align != self.state.align:
            self.out += ESC + b"a" + bytes([ALIGN_CODES[align]])
        if (width, height) != (self.state.width, self.state.height):
            self.out += GS + b"!" + bytes([(width - 1) << 4 | (height - 1)])
        if bold != self.state.bold:
            self.out += ESC + b"E" + bytes([int(bold)])
        if reverse != self.state.reverse:
            self.out += GS + b"B" + bytes([int(reverse)])
        self.state = _Style(align, width, height, bold, reverse)

    def _replace(self, char: str) -> str:
        if char not in self.replaced:
            self.replaced.append(char)
        width = char_width(char)
        return "？" if width == 2 else "?" if width == 1 else ""

    def _char_bytes(self, char: str) -> bytes | None:
        """GB bytes for one non-ASCII character, or None when the printer cannot print it."""
        if unicodedata.category(char) in ("Cc", "Cs", "Co", "Cn", "Mn", "Me", "Cf"):
            return None
        try:
            data = char.encode(self.encoding)
        except UnicodeEncodeError:
            return None
        if len(data) == 4 and not _is_cjk_ideograph(char):
            return None  # GB18030 can name it, but no printer font draws it (emoji, ñ, ő)
        return data

    def line(self, text: str) -> None:
        """One printed line: ASCII as is, everything else as GB bytes inside FS & … FS ."""
        kanji = False
        for char in text:
            if " " <= char <= "~":
                if kanji:
                    self.out += KANJI_OFF
                    kanji = False
                self.out += char.encode("ascii")
                continue
            data = self._char_bytes(char)
            if data is None:
                substitute = self._replace(char)
                if not substitute:
                    continue
                data = substitute.encode(self.encoding)
                if substitute == "?":
                    if kanji:
                        self.out += KANJI_OFF
                        kanji = False
                    self.out += data
                    continue
            if not kanji:
                self.out += KANJI_ON
                kanji = True
            self.out += data
        if kanji:
            self.out += KANJI_OFF
        self.out += LF

    def feed(self, lines: int) -> None:
        self.out += LF * lines

    def qr(self, data: str, module_size: int, error_correction: str) -> None:
        # The symbol must fit the paper: a smaller module size rather than a clipped code.
        modules = qr_modules(data, error_correction)
        module_size = max(1, min(module_size, self.profile.dots // modules))
        self.style(align="center")
        self.out += qr_bytes(data, module_size, error_correction)

    def cut(self) -> None:
        self.style()
        self.out += LF * self.profile.feed_before_cut
        self.out += GS + b"V" + bytes([CUT_CODES[self.profile.cut]])


def _lines(text: str, columns: int) -> list[str]:
    return wrap(unicodedata.normalize("NFC", text), columns)


def encode(document: Document, profile: PrinterProfile | None = None, *,
           reprint: bool = False) -> EncodedJob:
    """The ESC/POS bytes for ``document`` on a printer described by ``profile``.

    ``reprint`` puts a reversed, double-size ``补打 REPRINT`` banner at the top, so a copy
    printed again (by staff, or after a failure part-way through a job) cannot pass for the
    first. A QR code gets a blank line above and below (its quiet zone) unless a feed is
    already there, and a smaller module size if it would not fit the paper.
    """
    profile = profile or PrinterProfile()
    columns = profile.columns
    encoder = _Encoder(profile)
    if reprint:
        encoder.style(align="center", width=2, height=2, bold=True, reverse=True)
        encoder.line(f" {REPRINT_BANNER} ")
        encoder.style(align="center")
        encoder.feed(1)
    ops = document.ops
    for index, op in enumerate(ops):
        _encode_op(encoder, op, columns,
                   previous=ops[index - 1].kind if index else "start",
                   following=ops[index + 1].kind if index + 1 < len(ops) else "end")
    encoder.style()
    return EncodedJob(bytes(encoder.out), encoder.replaced)


def _encode_op(encoder: _Encoder, op: Op, columns: int, *, previous: str,
               following: str) -> None:
    params = op.params
    if op.kind == "title":
        encoder.style(align="center", width=2, height=2, bold=True)
        for line in _lines(str(params.get("text", "")), columns // 2):
            encoder.line(line)
    elif op.kind == "text":
        width = 2 if params.get("double_width") else 1
        height = 2 if params.get("double_height") else 1
        encoder.style(align=params.get("align", "left"), width=width, height=height,
                      bold=bool(params.get("bold")))
        for line in _lines(str(params.get("text", "")), columns // width):
            encoder.line(line)
    elif op.kind == "pair":
        encoder.style()
        label = unicodedata.normalize("NFC", str(params.get("label", "")))
        value = unicodedata.normalize("NFC", str(params.get("value", "")))
        for line in pair_lines(label, value, columns):
            encoder.line(line)
    elif op.kind == "rule":
        encoder.style()
        encoder.line(rule_line(str(params.get("char", "-")) or "-", columns))
    elif op.kind == "qr":
        if previous not in ("start", "feed"):
            encoder.feed(1)
        encoder.qr(str(params["data"]), int(params.get("module_size", 6)),
                   str(params.get("error_correction", "M")))
        if following not in ("feed", "cut", "end"):
            encoder.feed(1)
    elif op.kind == "feed":
        encoder.feed(max(0, min(int(params.get("lines", 1)), 255)))
    elif op.kind == "cut":
        encoder.cut()
    else:
        raise ValueError(f"unknown document operation {op.kind!r}")


def raster_bytes(document: Document, profile: PrinterProfile | None = None) -> bytes:
    """The same receipt as one GS v 0 raster image, drawn with the CJK TrueType font.

    Only for the bench's comparison with text mode (at 9600 baud: about a minute against a
    second). Raster data may happen to contain ``DLE EOT n``, which a printer answers as a
    real-time status request; harmless, but a status read must not run during the job.
    """
    from printers.preview import TOP_MARGIN, render_image  # Pillow only for a raster

    profile = profile or PrinterProfile()
    job = encode(document, profile)
    image = render_image(job.data, columns=profile.columns, encoding=profile.encoding,
                         cut_marks=False)
    image = image.crop((0, TOP_MARGIN, image.width, image.height))  # the preview's margin
    # In Pillow's mode "1" a set bit is white; in GS v 0 a set bit is a printed (black) dot.
    bitmap = image.convert("L").point(lambda value: 255 if value < 128 else 0, mode="1")
    width_bytes = (bitmap.width + 7) // 8
    out = bytearray(INITIALISE)
    band = 128  # rows per GS v 0: small enough for the receive buffer of cheap printers
    for top in range(0, bitmap.height, band):
        rows = bitmap.crop((0, top, width_bytes * 8, min(top + band, bitmap.height)))
        out += GS + b"v0" + bytes([0, width_bytes % 256, width_bytes // 256,
                                   rows.height % 256, rows.height // 256])
        out += rows.tobytes()
    if any(op.kind == "cut" for op in document.ops):
        out += LF * profile.feed_before_cut + GS + b"V" + bytes([CUT_CODES[profile.cut]])
    return bytes(out)

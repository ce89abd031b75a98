"""Read an ESC/POS byte stream back into what a printer would do with it.

Used by the preview (``printers.preview``) and by tests, which check the encoder's bytes
without trusting the encoder. It knows the commands a receipt printer is sent in practice;
anything else becomes an ``Unknown`` event and parsing goes on with the next byte. It never
raises on any input.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALIGNMENTS = {0: "left", 1: "center", 2: "right", 48: "left", 49: "center", 50: "right"}
ERROR_CORRECTION = {48: "L", 49: "M", 50: "Q", 51: "H"}


@dataclass(frozen=True)
class Style:
    """Character settings in force: size multipliers 1-8, emphasis, reverse, alignment."""

    width: int = 1
    height: int = 1
    bold: bool = False
    underline: bool = False
    reverse: bool = False
    align: str = "left"

    @property
    def double_width(self) -> bool:
        return self.width >= 2

    @property
    def double_height(self) -> bool:
        return self.height >= 2


@dataclass(frozen=True)
class Init:
    """ESC @: settings back to their defaults."""

    offset: int = 0


@dataclass(frozen=True)
class Text:
    """Printable characters sent with one style; ``kanji`` when FS & was in force."""

    text: str
    style: Style = field(default_factory=Style)
    kanji: bool = False
    offset: int = 0


@dataclass(frozen=True)
class Feed:
    """LF (print the line, one line down), ESC d n (``lines``) or ESC J n (``dots``)."""

    lines: int = 1
    dots: int = 0
    offset: int = 0


@dataclass(frozen=True)
class QRCode:
    """A QR code printed by GS ( k function 181, with what functions 165-180 set up."""

    data: str
    payload: bytes
    module_size: int
    error_correction: str
    model: int = 2
    align: str = "left"
    offset: int = 0


@dataclass(frozen=True)
class Cut:
    """GS V: ``mode`` is ``partial`` or ``full``; ``feed_dots`` when the command feeds first."""

    mode: str
    feed_dots: int = 0
    offset: int = 0


@dataclass(frozen=True)
class Raster:
    """A GS v 0 image: ``width`` × ``height`` dots, rows of ``(width + 7) // 8`` bytes, a set
    bit is a black dot; ``scale`` (x, y) from the mode byte."""

    width: int
    height: int
    bits: bytes
    scale: tuple[int, int] = (1, 1)
    align: str = "left"
    offset: int = 0


@dataclass(frozen=True)
class StatusRequest:
    """DLE EOT n: the host asks for real-time status ``n`` (1 printer, 2 offline cause,
    3 error cause, 4 paper)."""

    n: int
    offset: int = 0


@dataclass(frozen=True)
class Setting:
    """A command understood but without effect on the preview (line spacing, code page …)."""

    name: str
    data: bytes = b""
    offset: int = 0


@dataclass(frozen=True)
class Unknown:
    """Bytes that are not a command this parser knows, or a command cut short."""

    data: bytes
    reason: str = "unknown command"
    offset: int = 0


Event = Init | Text | Feed | QRCode | Cut | Raster | StatusRequest | Setting | Unknown

# Commands with a fixed number of parameter bytes after the two command bytes.
ESC_FIXED = {b"!": 1, b"E": 1, b"G": 1, b"a": 1, b"d": 1, b"J": 1, b"3": 1, b"2": 0,
             b"-": 1, b"t": 1, b"M": 1, b"R": 1, b" ": 1, b"{": 1, b"V": 1, b"=": 1,
             b"$": 2, b"\\": 2, b"p": 3, b"U": 1, b"r": 1, b"K": 1, b"e": 1, b"S": 0,
             b"L": 0, b"T": 1, b"%": 1, b"?": 1, b"<": 0}
GS_FIXED = {b"!": 1, b"B": 1, b"L": 2, b"W": 2, b"H": 1, b"h": 1, b"w": 1, b"f": 1,
            b"a": 1, b"r": 1, b"I": 1, b"b": 1, b"P": 2, b"T": 1, b"^": 3, b"$": 2,
            b"\\": 2, b"E": 1, b":": 0, b"/": 1}
FS_FIXED = {b"&": 0, b".": 0, b"!": 1, b"C": 1, b"-": 1, b"S": 2, b"W": 1, b"p": 2}


class _Parser:
    def __init__(self, data: bytes, encoding: str) -> None:
        self.data = data
        self.encoding = encoding
        self.events: list[Event] = []
        self.style = Style()
        self.kanji = False
        self.text: list[str] = []
        self.text_start = 0
        self.qr_model = 2
        self.qr_size = 3  # the printer's default module size
        self.qr_error = "L"
        self.qr_data: bytes | None = None

    # ---- helpers ------------------------------------------------------------------------

    def flush(self) -> None:
        if self.text:
            self.events.append(Text("".join(self.text), self.style, self.kanji,
                                    self.text_start))
            self.text = []

    def emit(self, event: Event) -> None:
        self.flush()
        self.events.append(event)

    def set_style(self, **changes: object) -> None:
        self.flush()
        values = {name: getattr(self.style, name) for name in
                  ("width", "height", "bold", "underline", "reverse", "align")}
        values.update(changes)
        self.style = Style(**values)  # type: ignore[arg-type]

    def reset(self) -> None:
        self.flush()
        self.style = Style()
        self.kanji = False
        self.qr_model, self.qr_size, self.qr_error, self.qr_data = 2, 3, "L", None

    def add_text(self, text: str, offset: int) -> None:
        if not self.text:
            self.text_start = offset
        self.text.append(text)

    # ---- the stream -----------------------------------------------------------------------

    def run(self) -> list[Event]:
        data = self.data
        index = 0
        while index < len(data):
            byte = data[index]
            try:
                if byte == 0x0A:
                    self.emit(Feed(1, 0, index))
                    index += 1
                elif byte in (0x0D, 0x00):
                    index += 1  # CR: ignored by receipt printers with auto line feed off
                elif byte == 0x09:
                    self.add_text(" ", index)
                    index += 1
                elif byte == 0x1B:
                    index = self.escape(index)
                elif byte == 0x1D:
                    index = self.group(index)
                elif byte == 0x1C:
                    index = self.kanji_command(index)
                elif byte == 0x10:
                    index = self.realtime(index)
                elif byte < 0x20 or byte == 0x7F:
                    self.emit(Unknown(bytes([byte]), "control character", index))
                    index += 1
                elif byte < 0x80:
                    self.add_text(chr(byte), index)
                    index += 1
                else:
                    index = self.multibyte(index)
            except _Truncated:
                self.emit(Unknown(data[index:], "command cut short at the end", index))
                break
        self.flush()
        return self.events

    def need(self, index: int, count: int) -> bytes:
        """``count`` bytes from ``index``; the stream ends too soon: _Truncated."""
        if index + count > len(self.data):
            raise _Truncated
        return self.data[index:index + count]

    def multibyte(self, index: int) -> int:
        data = self.data
        lead = data[index]
        size = 1
        if 0x81 <= lead <= 0xFE and index + 1 < len(data):
            second = data[index + 1]
            if 0x30 <= second <= 0x39:
                size = 4
            elif 0x40 <= second <= 0xFE and second != 0x7F:
                size = 2
        chunk = data[index:index + size]
        try:
            text = chunk.decode(self.encoding)
        except (UnicodeDecodeError, LookupError):
            text = "\ufffd"
            size = 1 if size != 4 or len(chunk) < 4 else size
        self.add_text(text, index)
        return index + max(size, 1)

    def escape(self, index: int) -> int:
        command = self.need(index + 1, 1)
        if command == b"@":
            self.reset()
            self.emit(Init(index))
            return index + 2
        if command in (b"i", b"m"):  # the old one-byte cuts: ESC i full, ESC m partial
            self.emit(Cut("full" if command == b"i" else "partial", 0, index))
            return index + 2
        if command == b"*":  # bit image: m nL nH, then columns of 1 or 3 bytes
            m, low, high = self.need(index + 2, 3)
            columns = low + high * 256
            size = columns * (3 if m in (32, 33) else 1)
            self.need(index + 5, size)
            self.emit(Setting("ESC * bit image", self.data[index + 5:index + 5 + size], index))
            return index + 5 + size
        if command == b"D":  # tab positions, up to 32, ended by NUL
            end = self.data.find(b"\x00", index + 2, index + 35)
            if end < 0:
                raise _Truncated
            self.emit(Setting("ESC D tabs", self.data[index + 2:end], index))
            return end + 1
        if command == b"c":  # ESC c 3 n, ESC c 4 n, ESC c 5 n
            parameters = self.need(index + 2, 2)
            self.emit(Setting("ESC c", parameters, index))
            return index + 4
        if command not in ESC_FIXED:
            self.emit(Unknown(self.data[index:index + 2], "unknown ESC command", index))
            return index + 2
        count = ESC_FIXED[command]
        parameters = self.need(index + 2, count)
        value = parameters[0] if parameters else 0
        if command == b"!":
            self.set_style(bold=bool(value & 0x08), height=2 if value & 0x10 else 1,
                           width=2 if value & 0x20 else 1, underline=bool(value & 0x80))
        elif command in (b"E", b"G"):
            self.set_style(bold=bool(value & 1))
        elif command == b"-":
            self.set_style(underline=value in (1, 2, 49, 50))
        elif command == b"a":
            self.set_style(align=ALIGNMENTS.get(value, self.style.align))
        elif command == b"d":
            self.emit(Feed(value, 0, index))
        elif command == b"J":
            self.emit(Feed(0, value, index))
        else:
            self.emit(Setting(f"ESC {command.decode('latin-1')}", parameters, index))
        return index + 2 + count

    def group(self, index: int) -> int:
        command = self.need(index + 1, 1)
        if command == b"(":  # GS ( X pL pH then pL + 256 pH bytes
            function, low, high = self.need(index + 2, 3)
            size = low + high * 256
            body = self.need(index + 5, size)
            if function == ord("k"):
                self.two_d_code(body, index)
            else:
                self.emit(Setting(f"GS ( {chr(function)}", body, index))
            return index + 5 + size
        if command == b"V":
            m = self.need(index + 2, 1)[0]
            if m in (0, 48, 1, 49):
                self.emit(Cut("full" if m in (0, 48) else "partial", 0, index))
                return index + 3
            if m in (65, 66, 97, 98, 103, 104):
                feed = self.need(index + 3, 1)[0]
                self.emit(Cut("full" if m in (65, 97, 103) else "partial", feed, index))
                return index + 4
            self.emit(Unknown(self.data[index:index + 3], "unknown cut mode", index))
            return index + 3
        if command == b"v":  # GS v 0 m xL xH yL yH, then xL+256xH bytes for each row
            header = self.need(index + 2, 6)
            if header[0] != 0x30:
                self.emit(Unknown(self.data[index:index + 3], "unknown GS v command", index))
                return index + 3
            mode, x_low, x_high, y_low, y_high = header[1:]
            width_bytes = x_low + x_high * 256
            height = y_low + y_high * 256
            bits = self.need(index + 8, width_bytes * height)
            scale = {0: (1, 1), 1: (2, 1), 2: (1, 2), 3: (2, 2)}.get(mode % 48, (1, 1))
            self.emit(Raster(width_bytes * 8, height, bits, scale, self.style.align, index))
            return index + 8 + width_bytes * height
        if command == b"k":  # barcode: GS k m d1..dk NUL (m < 65) or GS k m n d1..dn
            m = self.need(index + 2, 1)[0]
            if m < 65:
                end = self.data.find(b"\x00", index + 3)
                if end < 0:
                    raise _Truncated
                self.emit(Setting("GS k barcode", self.data[index + 3:end], index))
                return end + 1
            n = self.need(index + 3, 1)[0]
            self.emit(Setting("GS k barcode", self.need(index + 4, n), index))
            return index + 4 + n
        if command not in GS_FIXED:
            self.emit(Unknown(self.data[index:index + 2], "unknown GS command", index))
            return index + 2
        count = GS_FIXED[command]
        parameters = self.need(index + 2, count)
        value = parameters[0] if parameters else 0
        if command == b"!":
            self.set_style(width=(value >> 4 & 7) + 1, height=(value & 7) + 1)
        elif command == b"B":
            self.set_style(reverse=bool(value & 1))
        else:
            self.emit(Setting(f"GS {command.decode('latin-1')}", parameters, index))
        return index + 2 + count

    def two_d_code(self, body: bytes, index: int) -> None:
        if len(body) < 2 or body[0] != 49:  # cn 49 is QR Code; PDF417 and others are not drawn
            self.emit(Setting("GS ( k", body, index))
            return
        function = body[1]
        parameters = body[2:]
        if function == 65 and parameters:
            self.qr_model = {49: 1, 50: 2, 51: 3}.get(parameters[0], self.qr_model)
        elif function == 67 and parameters:
            self.qr_size = parameters[0]
        elif function == 69 and parameters:
            self.qr_error = ERROR_CORRECTION.get(parameters[0], self.qr_error)
        elif function == 80 and parameters:
            self.qr_data = bytes(parameters[1:])  # after m = 48
        elif function == 81:
            if self.qr_data is None:
                self.emit(Unknown(bytes(body), "QR print with no data stored", index))
                return
            self.emit(QRCode(self.qr_data.decode("utf-8", errors="replace"), self.qr_data,
                             self.qr_size, self.qr_error, self.qr_model, self.style.align,
                             index))
            return
        self.emit(Setting(f"GS ( k QR function {function}", bytes(parameters), index))

    def kanji_command(self, index: int) -> int:
        command = self.need(index + 1, 1)
        if command == b"2":  # FS 2 c1 c2 d1..d72: define a user Kanji character
            self.need(index + 2, 74)
            self.emit(Setting("FS 2", self.data[index + 2:index + 76], index))
            return index + 76
        if command not in FS_FIXED:
            self.emit(Unknown(self.data[index:index + 2], "unknown FS command", index))
            return index + 2
        count = FS_FIXED[command]
        parameters = self.need(index + 2, count)
        if command in (b"&", b"."):
            self.flush()
            self.kanji = command == b"&"
        else:
            self.emit(Setting(f"FS {command.decode('latin-1')}", parameters, index))
        return index + 2 + count

    def realtime(self, index: int) -> int:
        command = self.need(index + 1, 1)
        if command == b"\x04":
            n = self.need(index + 2, 1)[0]
            if n in (7, 8, 18):  # DLE EOT n a
                self.need(index + 3, 1)
                self.emit(StatusRequest(n, index))
                return index + 4
            self.emit(StatusRequest(n, index))
            return index + 3
        if command == b"\x05":
            self.need(index + 2, 1)
            self.emit(Setting("DLE ENQ", self.data[index + 2:index + 3], index))
            return index + 3
        if command == b"\x14":
            function = self.need(index + 2, 1)[0]
            size = {1: 3, 2: 2, 7: 1, 8: 7}.get(function, 0)
            self.need(index + 3, size)
            self.emit(Setting("DLE DC4", self.data[index + 2:index + 3 + size], index))
            return index + 3 + size
        self.emit(Unknown(self.data[index:index + 1], "lone DLE", index))
        return index + 1


class _Truncated(Exception):
    """A command's parameters run past the end of the stream."""


def parse(data: bytes, encoding: str = "gb18030") -> list[Event]:
    """The events in an ESC/POS stream, in order.

    Text between commands becomes ``Text`` runs (decoded with ``encoding``; ``kanji`` says
    whether FS & was in force), LF/ESC d/ESC J ``Feed``, GS ( k ``QRCode``, GS V ``Cut``,
    GS v 0 ``Raster``, DLE EOT ``StatusRequest``. Unknown or cut-short commands are reported
    as ``Unknown`` and the rest is still read.
    """
    return _Parser(bytes(data), encoding).run()


def text_lines(events: list[Event]) -> list[str]:
    """The printed text line by line (a convenience for tests and logs)."""
    lines: list[str] = []
    current: list[str] = []
    for event in events:
        if isinstance(event, Text):
            current.append(event.text)
        elif isinstance(event, Feed):
            lines.append("".join(current))
            current = []
            lines.extend([""] * max(event.lines - 1, 0))
    if current:
        lines.append("".join(current))
    return lines

"""A picture of what a thermal printer would print for an ESC/POS stream.

One pixel is one printer dot (8 dots/mm, 203 dpi). The image is exactly the printable width:
``columns`` × 12 dots, so 384 px for 32 columns (58 mm paper) and 576 px for 48 columns
(80 mm paper). Text is drawn in a 12 × 24 cell per column like the printer's font A, with
WenQuanYi Zen Hei Mono (Debian's fonts-wqy-zenhei, the font the PDFs use too); double width
and height are the same dots doubled, as the printer does. QR codes are drawn with the
``qrcode`` library at the module size the stream asks for; a cut is a dashed line (with a
gap in the middle for a partial cut).
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from printers.document import Document
from printers.layout import char_width
from printers.parse import Cut, Feed, Init, QRCode, Raster, Setting, Style, Text, parse

if TYPE_CHECKING:
    from PIL import Image as ImageModule

logger = logging.getLogger(__name__)

CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
CJK_FONT_INDEX = 1  # WenQuanYi Zen Hei Mono: half-width Latin, like a printer's font A
DOTS_PER_COLUMN = 12
CELL_HEIGHT = 24
FONT_SIZE = 22  # the glyphs of a 24-dot cell, with a dot of space around them
BASELINE = 20
LINE_SPACING = 30  # the printer's default (ESC 2)
MAX_HEIGHT = 60_000  # a preview longer than ~7.5 m of paper stops there
TOP_MARGIN = 8  # blank paper above the first line, so the picture does not start with ink


@lru_cache(maxsize=1)
def _font():
    from PIL import ImageFont

    try:
        return ImageFont.truetype(str(CJK_FONT), FONT_SIZE, index=CJK_FONT_INDEX)
    except OSError:
        logger.warning("%s is missing (apt-get install fonts-wqy-zenhei): Chinese shows as "
                       "boxes in receipt previews", CJK_FONT)
        return ImageFont.load_default(size=FONT_SIZE)


class _Page:
    """Lines and pictures stacked down a roll of paper ``width`` dots wide."""

    def __init__(self, width: int, cut_marks: bool) -> None:
        self.width = width
        self.cut_marks = cut_marks
        self.blocks: list[tuple[int, int, ImageModule.Image]] = []  # (x, y, picture)
        self.y = TOP_MARGIN
        self.spacing = LINE_SPACING
        self.line: list[tuple[str, int, Style]] = []  # (character, columns, style)
        self.line_dots = 0
        self.full = False

    def place(self, picture: ImageModule.Image, align: str) -> None:
        if self.y + picture.height > MAX_HEIGHT:
            self.full = True
            return
        x = {"center": (self.width - picture.width) // 2,
             "right": self.width - picture.width}.get(align, 0)
        self.blocks.append((max(x, 0), self.y, picture))

    def add_text(self, text: str, style: Style) -> None:
        for char in text:
            columns = char_width(char)
            if columns == 0:
                continue
            dots = columns * DOTS_PER_COLUMN * style.width
            if self.line and self.line_dots + dots > self.width:
                self.print_line()  # the printer wraps at the right edge
            self.line.append((char, columns, style))
            self.line_dots += dots

    def print_line(self) -> None:
        """What LF does: print the buffered line and move down one line."""
        if not self.line:
            self.y += self.spacing
            return
        picture = _draw_line(self.line)
        self.place(picture, self.line[0][2].align)
        self.y += max(self.spacing, picture.height + 6)
        self.line, self.line_dots = [], 0

    def finish_line(self) -> None:
        if self.line:
            self.print_line()

    def qr(self, event: QRCode) -> None:
        self.finish_line()
        picture = _draw_qr(event)
        self.place(picture, event.align)
        self.y += picture.height

    def raster(self, event: Raster) -> None:
        from PIL import Image, ImageOps

        self.finish_line()
        if not event.width or not event.height:
            return
        picture = Image.frombytes("1", (event.width, event.height), event.bits)
        picture = ImageOps.invert(picture.convert("L"))  # a set bit is a black dot
        sx, sy = event.scale
        if (sx, sy) != (1, 1):
            picture = picture.resize((picture.width * sx, picture.height * sy),
                                     Image.Resampling.NEAREST)
        self.place(picture.crop((0, 0, min(picture.width, self.width), picture.height)),
                   event.align)
        self.y += picture.height

    def cut(self, event: Cut) -> None:
        from PIL import Image, ImageDraw

        self.finish_line()
        if not self.cut_marks:
            return
        self.y += event.feed_dots
        picture = Image.new("L", (self.width, 16), 255)
        draw = ImageDraw.Draw(picture)
        middle = self.width // 2
        for x in range(0, self.width, 12):
            if event.mode == "partial" and abs(x + 3 - middle) < 24:
                continue  # the hinge a partial cut leaves
            draw.line([(x, 8), (x + 6, 8)], fill=0, width=2)
        self.place(picture, "left")
        self.y += 24

    def image(self) -> ImageModule.Image:
        from PIL import Image

        canvas = Image.new("L", (self.width, min(self.y + 8, MAX_HEIGHT)), 255)
        for x, y, picture in self.blocks:
            canvas.paste(picture, (x, y))
        return canvas


def _draw_line(cells: list[tuple[str, int, Style]]):
    """One printed line: segments of one style, each drawn at 1× and scaled like the dots."""
    from PIL import Image, ImageDraw

    segments: list[tuple[Style, list[tuple[str, int]]]] = []
    for char, columns, style in cells:
        if segments and segments[-1][0] == style:
            segments[-1][1].append((char, columns))
        else:
            segments.append((style, [(char, columns)]))
    pictures = []
    font = _font()
    for style, chars in segments:
        width = sum(columns for _, columns in chars) * DOTS_PER_COLUMN
        picture = Image.new("L", (width, CELL_HEIGHT), 0 if style.reverse else 255)
        draw = ImageDraw.Draw(picture)
        ink = 255 if style.reverse else 0
        x = 0
        for char, columns in chars:
            cell = columns * DOTS_PER_COLUMN
            for shift in (0, 1) if style.bold else (0,):  # emphasis: the dots struck twice
                draw.text((x + cell / 2 + shift, BASELINE), char, font=font, fill=ink,
                          anchor="ms")
            x += cell
        if style.underline:
            draw.line([(0, CELL_HEIGHT - 1), (width, CELL_HEIGHT - 1)], fill=ink)
        if (style.width, style.height) != (1, 1):
            picture = picture.resize((width * style.width, CELL_HEIGHT * style.height),
                                     Image.Resampling.NEAREST)
        pictures.append(picture)
    line = Image.new("L", (sum(p.width for p in pictures), max(p.height for p in pictures)), 255)
    x = 0
    for picture in pictures:
        line.paste(picture, (x, line.height - picture.height))  # characters stand on one line
        x += picture.width
    return line


def _draw_qr(event: QRCode):
    from PIL import Image, ImageDraw

    try:
        import qrcode
        import qrcode.constants

        levels = {"L": qrcode.constants.ERROR_CORRECT_L, "M": qrcode.constants.ERROR_CORRECT_M,
                  "Q": qrcode.constants.ERROR_CORRECT_Q, "H": qrcode.constants.ERROR_CORRECT_H}
        code = qrcode.QRCode(error_correction=levels.get(event.error_correction,
                                                         qrcode.constants.ERROR_CORRECT_L),
                             box_size=1, border=0)
        code.add_data(event.payload, optimize=0)
        code.make(fit=True)
        matrix = code.get_matrix()
    except Exception as error:  # too much data, or anything else: show that, do not fail
        logger.warning("QR code not drawn in the preview: %s", error)
        picture = Image.new("L", (96, 96), 255)
        draw = ImageDraw.Draw(picture)
        draw.rectangle([0, 0, 95, 95], outline=0, width=2)
        draw.text((48, 56), "QR?", font=_font(), fill=0, anchor="ms")
        return picture
    size = len(matrix)
    picture = Image.new("L", (size, size), 255)
    picture.putdata([0 if dark else 255 for row in matrix for dark in row])
    module = max(1, event.module_size)
    return picture.resize((size * module, size * module), Image.Resampling.NEAREST)


def render_image(data: bytes, *, columns: int = 32, encoding: str = "gb18030",
                 cut_marks: bool = True):
    """The printed receipt as a Pillow image (mode ``L``, ``columns`` × 12 px wide)."""
    page = _Page(columns * DOTS_PER_COLUMN, cut_marks)
    for event in parse(data, encoding):
        if page.full:
            logger.warning("receipt preview cut at %d px", MAX_HEIGHT)
            break
        if isinstance(event, Text):
            page.add_text(event.text, event.style)
        elif isinstance(event, Feed):
            if event.dots:
                page.finish_line()
                page.y += event.dots
            elif event.lines == 1:
                page.print_line()
            else:
                page.finish_line()
                page.y += page.spacing * event.lines
        elif isinstance(event, QRCode):
            page.qr(event)
        elif isinstance(event, Raster):
            page.raster(event)
        elif isinstance(event, Cut):
            page.cut(event)
        elif isinstance(event, Init):
            page.spacing = LINE_SPACING
        elif isinstance(event, Setting) and event.name == "ESC 3" and event.data:
            page.spacing = event.data[0]
        elif isinstance(event, Setting) and event.name == "ESC 2":
            page.spacing = LINE_SPACING
    page.finish_line()
    return page.image()


def render_png(data: bytes, path: Path, *, columns: int = 32,
               encoding: str = "gb18030") -> Path:
    """Draw what the printer would print for ``data`` into a PNG file at ``path``."""
    path = Path(path)
    render_image(data, columns=columns, encoding=encoding).save(path, format="PNG",
                                                                optimize=True)
    return path


def test_page(columns: int = 32) -> Document:
    """A page to check a printer: Chinese and English, sizes, emphasis, alignment, a QR code
    and the paper's width (the ruler must reach both edges without wrapping)."""
    digits = "".join(str(index % 10) for index in range(1, columns + 1))
    return (Document()
            .title("打印测试页")
            .text("PRINTER TEST PAGE", align="center", bold=True)
            .rule("=")
            .text(digits)
            .text(f"每行 {columns} 列 / {columns} columns a line")
            .rule()
            .text("中文：社区服务满意度调查，感谢您的参与！")
            .text("English: thank you for taking part in our survey.")
            .text("混合 mixed：回执码 K7QM-3XAB，请保留。")
            .rule()
            .text("普通 normal")
            .text("加粗 bold", bold=True)
            .text("倍宽 wide", double_width=True)
            .text("倍高 tall", double_height=True)
            .text("倍宽倍高 big", double_width=True, double_height=True)
            .text("靠左 left", align="left")
            .text("居中 centre", align="center")
            .text("靠右 right", align="right")
            .pair("标签 label", "数值 value")
            .rule()
            .qr("https://example.org/printer-test", module_size=6, error_correction="M")
            .text("扫码应得 https://example.org/printer-test", align="center")
            .cut())


test_page.__test__ = False  # type: ignore[attr-defined]  # not a pytest test when imported

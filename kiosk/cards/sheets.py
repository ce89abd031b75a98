"""Volunteer card sheets: A4 PDF pages of ten 85.6 × 54 mm cards (ID-1, bank-card size).

Each card carries the station's name, the volunteer's name in Chinese, team, number and
card serial, and the QR code of ``kiosk.cards.make_payload``. Cards sit edge to edge in a
2 × 5 grid (one cut per line with a paper cutter) with cut marks in the page margin;
nothing is printed within 2.5 mm of a card's edge, so a cut a little off the mark does not
touch the text or the QR code's quiet zone.

The QR code is drawn as vector modules: one filled path of rectangles, one per run of dark
modules in a row. It stays sharp at any printer resolution and any zoom, no resampling
blurs module edges (an embedded bitmap is resampled by the viewer or the printer driver),
and one path has no hairline seams between modules that separately filled squares show in
anti-aliasing viewers. The 4-module quiet zone is inside the card and kept white.

The code takes the card's full height (46 mm with its quiet zone: 1.39 mm modules for the
usual version 2 code) and the text a column beside it. On 600 distorted camera photos
(``tests/card_photos.py``) a 36 mm code (1.09 mm modules) read 95 %, the 46 mm one 97 %.
Error correction Q (25 % of the code may be lost) by default: glare and thumbs take whole
patches of a card; M is offered for a smaller code.

Chinese is set in WenQuanYi Zen Hei, embedded as a TrueType subset (``surveys.pdf_fonts``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from kiosk.cards.payload import make_payload
from surveys.pdf_fonts import missing_glyphs, register_cjk_font

if TYPE_CHECKING:
    from reportlab.pdfgen.canvas import Canvas

logger = logging.getLogger(__name__)

MM = 72 / 25.4  # PDF points per millimetre
PAGE_WIDTH_MM, PAGE_HEIGHT_MM = 210.0, 297.0  # A4
CARD_WIDTH_MM, CARD_HEIGHT_MM = 85.6, 54.0  # ISO/IEC 7810 ID-1
COLUMNS, ROWS = 2, 5
CARDS_PER_PAGE = COLUMNS * ROWS
LEFT_MM = (PAGE_WIDTH_MM - COLUMNS * CARD_WIDTH_MM) / 2  # 19.4 mm
TOP_MM = (PAGE_HEIGHT_MM - ROWS * CARD_HEIGHT_MM) / 2  # 13.5 mm
SAFE_MM = 2.5  # nothing printed this close to a card's edge
QR_SIZE_MM = 46.0  # with the quiet zone: 1.39 mm modules (version 2, the usual)
QUIET_ZONE = 4  # modules of white around the code (ISO/IEC 18004)
CUT_MARK_GAP_MM, CUT_MARK_LENGTH_MM = 2.0, 6.0

ERROR_CORRECTION = {"L": 1, "M": 0, "Q": 3, "H": 2}  # qrcode.constants values

ACCENT = (0.75, 0.07, 0.14)  # the red of Chinese volunteer-service cards; prints dark grey


class CardHolder(Protocol):
    """What a card needs of a volunteer (``kiosk.volunteers.Volunteer`` has it)."""

    number: str
    name: str
    team: str | None
    card_serial: int


@dataclass(frozen=True)
class CardBox:
    """Where a card lies on its page, in millimetres from the page's top-left corner."""

    left: float
    top: float
    right: float
    bottom: float


def card_box(slot: int) -> CardBox:
    """The box of card ``slot`` (0–9) on a page: filled row by row, left to right."""
    if not 0 <= slot < CARDS_PER_PAGE:
        raise ValueError(f"a page holds cards 0 to {CARDS_PER_PAGE - 1}, not {slot}")
    row, column = divmod(slot, COLUMNS)
    left = LEFT_MM + column * CARD_WIDTH_MM
    top = TOP_MM + row * CARD_HEIGHT_MM
    return CardBox(left, top, left + CARD_WIDTH_MM, top + CARD_HEIGHT_MM)


def qr_matrix(text: str, error_correction: str = "Q") -> list[list[bool]]:
    """The QR code's modules (True = dark), without quiet zone, in the smallest version."""
    import qrcode

    level = error_correction.upper()
    if level not in ERROR_CORRECTION:
        raise ValueError(f"error correction must be one of L, M, Q, H (got {error_correction!r})")
    code = qrcode.QRCode(error_correction=ERROR_CORRECTION[level], border=0)
    # Card payloads are A-Z 0-9 . - only: alphanumeric mode, 5.5 bits a character, so
    # the usual 28-character card fits version 2 (25 × 25) even at level Q.
    code.add_data(text)
    code.make(fit=True)
    return code.get_matrix()


def card_sheet_pdf(volunteers: Iterable[CardHolder], station_name: str, secret: bytes,
                   path: Path | str, *, error_correction: str = "Q") -> Path:
    """Write the volunteers' cards to ``path`` as an A4 PDF, ten cards a page; return the path.

    ``error_correction`` is the QR level: ``Q`` (25 % of the code may be lost to glare, wear
    or a thumb) by default, ``M`` (15 %) for a smaller code.
    """
    from reportlab.pdfgen import canvas

    holders = list(volunteers)
    if not holders:
        raise ValueError("no volunteers to make cards for")
    level = error_correction.upper()
    if level not in ("M", "Q"):
        raise ValueError(f"card QR error correction must be M or Q (got {error_correction!r})")
    font = register_cjk_font()
    # Payloads first: a bad number fails before anything is written.
    payloads = [make_payload(holder.number, holder.card_serial, secret) for holder in holders]
    for holder in holders:
        missing = missing_glyphs(holder.name)
        if missing:
            logger.warning("volunteer %s: the card font has no %s; they print as boxes",
                           holder.number, "".join(missing))

    target = Path(path)
    partial = target.with_name(target.name + ".partial")
    pages = (len(holders) + CARDS_PER_PAGE - 1) // CARDS_PER_PAGE
    sheet = canvas.Canvas(str(partial), pagesize=(PAGE_WIDTH_MM * MM, PAGE_HEIGHT_MM * MM),
                          invariant=True, pageCompression=1, initialFontName=font)
    sheet.setTitle(f"{station_name} 志愿者证")
    sheet.setAuthor(station_name)
    sheet.setCreator("shegong-kiosk")
    try:
        for page in range(pages):
            chunk = range(page * CARDS_PER_PAGE, min(len(holders), (page + 1) * CARDS_PER_PAGE))
            _draw_cut_marks(sheet)
            for slot, index in enumerate(chunk):
                _draw_card(sheet, card_box(slot), holders[index], payloads[index],
                           station_name, font, level)
            # In the bottom margin, between the cut marks.
            sheet.setFillGray(0.45)
            _draw_text(sheet, f"{station_name} 志愿者证  第 {page + 1}/{pages} 页  "
                       "沿裁切线裁开 cut along the marks", font, 7, LEFT_MM + 2,
                       PAGE_HEIGHT_MM - 5, CARD_WIDTH_MM - 6)
            sheet.showPage()
        sheet.save()
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _y(top_mm: float) -> float:
    """A distance from the page's top edge (mm) as a reportlab y coordinate (points)."""
    return (PAGE_HEIGHT_MM - top_mm) * MM


def _draw_cut_marks(sheet: Canvas) -> None:
    """Short lines in the margin continuing every cut line, clear of the cards."""
    sheet.setLineWidth(0.25)
    sheet.setStrokeGray(0)
    near, far = CUT_MARK_GAP_MM, CUT_MARK_GAP_MM + CUT_MARK_LENGTH_MM
    bottom = TOP_MM + ROWS * CARD_HEIGHT_MM
    right = LEFT_MM + COLUMNS * CARD_WIDTH_MM
    for column in range(COLUMNS + 1):
        x = (LEFT_MM + column * CARD_WIDTH_MM) * MM
        sheet.line(x, _y(TOP_MM - near), x, _y(TOP_MM - far))
        sheet.line(x, _y(bottom + near), x, _y(bottom + far))
    for row in range(ROWS + 1):
        y = _y(TOP_MM + row * CARD_HEIGHT_MM)
        sheet.line((LEFT_MM - near) * MM, y, (LEFT_MM - far) * MM, y)
        sheet.line((right + near) * MM, y, (right + far) * MM, y)


def _fitted_size(text: str, font: str, size: float, width_mm: float, smallest: float) -> float:
    """The largest font size up to ``size`` at which ``text`` fits ``width_mm``."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    width = stringWidth(text, font, size)
    if width <= width_mm * MM:
        return size
    return max(smallest, size * width_mm * MM / width)


def _draw_text(sheet: Canvas, text: str, font: str, size: float, x_mm: float, top_mm: float,
               width_mm: float, *, smallest: float = 5.0, align: str = "left") -> None:
    """Text whose baseline is ``top_mm`` from the page top, shrunk to fit ``width_mm``."""
    size = _fitted_size(text, font, size, width_mm, smallest)
    sheet.setFont(font, size)
    if align == "right":
        sheet.drawRightString((x_mm + width_mm) * MM, _y(top_mm), text)
    else:
        sheet.drawString(x_mm * MM, _y(top_mm), text)


def _draw_card(sheet: Canvas, box: CardBox, holder: CardHolder, payload: str,
               station_name: str, font: str, level: str) -> None:
    # The QR code with its quiet zone fills the right of the card, centred top to bottom:
    # the bigger its modules, the farther and blurrier a camera can still read it.
    qr_left = box.right - SAFE_MM - QR_SIZE_MM
    qr_top = box.top + (CARD_HEIGHT_MM - QR_SIZE_MM) / 2
    _draw_qr(sheet, qr_matrix(payload, level), qr_left, qr_top, QR_SIZE_MM)

    # The left column: station, 志愿者证, name, team, number and card serial. The code's
    # quiet zone stays clear: the column ends half a millimetre before it.
    left = box.left + SAFE_MM + 1.5
    width = qr_left - 0.5 - left
    sheet.setFillGray(0)
    _draw_lines(sheet, station_name, font, 9, left, box.top + 7.5, width, smallest=6.5)
    sheet.setFillColorRGB(*ACCENT)
    _draw_text(sheet, "志愿者证 VOLUNTEER", font, 7, left, box.top + 14.5, width)
    sheet.setStrokeColorRGB(*ACCENT)
    sheet.setLineWidth(0.8)
    sheet.line(left * MM, _y(box.top + 16.3), (left + width - 1) * MM, _y(box.top + 16.3))
    sheet.setFillGray(0)
    _draw_text(sheet, holder.name, font, 18, left, box.top + 24.5, width, smallest=8)
    sheet.setFillGray(0.35)
    sheet.setFont(font, 6)
    sheet.drawString(left * MM, _y(box.top + 29.5), "服务队 TEAM")
    sheet.drawString(left * MM, _y(box.top + 38.5), "编号 NO.")
    sheet.setFillGray(0)
    _draw_text(sheet, holder.team or "—", font, 9, left, box.top + 33.5, width)
    _draw_text(sheet, holder.number, font, 12, left, box.top + 43.5, width)
    sheet.setFillGray(0.4)
    _draw_text(sheet, f"卡序号 {holder.card_serial} · 拾到请交还本站", font, 5.5, left,
               box.bottom - SAFE_MM - 1, width)


def _draw_lines(sheet: Canvas, text: str, font: str, size: float, x_mm: float, top_mm: float,
                width_mm: float, *, smallest: float) -> None:
    """Text on one line if it fits at ``smallest`` or larger, else split over two lines."""
    if _fitted_size(text, font, size, width_mm, 0) >= smallest or len(text) < 2:
        _draw_text(sheet, text, font, size, x_mm, top_mm, width_mm, smallest=smallest)
        return
    half = (len(text) + 1) // 2
    first, second = text[:half], text[half:]
    size = min(_fitted_size(first, font, size, width_mm, 4),
               _fitted_size(second, font, size, width_mm, 4))
    _draw_text(sheet, first, font, size, x_mm, top_mm - size / MM * 1.1, width_mm,
               smallest=4)
    _draw_text(sheet, second, font, size, x_mm, top_mm, width_mm, smallest=4)


def _draw_qr(sheet: Canvas, matrix: Sequence[Sequence[bool]], left_mm: float, top_mm: float,
             size_mm: float) -> None:
    """Dark modules as one path of row runs inside a white square holding the quiet zone."""
    count = len(matrix) + 2 * QUIET_ZONE
    module = size_mm / count * MM
    x0 = left_mm * MM
    y0 = _y(top_mm)  # the top edge of the quiet zone, in points
    sheet.setFillGray(1)
    sheet.rect(x0, y0 - size_mm * MM, size_mm * MM, size_mm * MM, stroke=0, fill=1)
    path = sheet.beginPath()
    for row, cells in enumerate(matrix):
        y = y0 - (row + QUIET_ZONE + 1) * module
        column = 0
        while column < len(cells):
            if not cells[column]:
                column += 1
                continue
            start = column
            while column < len(cells) and cells[column]:
                column += 1
            path.rect(x0 + (start + QUIET_ZONE) * module, y, (column - start) * module, module)
    sheet.setFillGray(0)
    sheet.drawPath(path, stroke=0, fill=1)

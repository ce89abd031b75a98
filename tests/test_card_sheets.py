"""Volunteer card sheets: A4, ten cards a page, an embedded CJK font, and QR codes that a
real decoder reads back from the rasterised PDF."""

from __future__ import annotations

import logging
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import zxingcpp
from pyzbar import pyzbar

from kiosk.cards.payload import read_payload
from kiosk.cards.sheets import (
    CARD_HEIGHT_MM,
    CARD_WIDTH_MM,
    CARDS_PER_PAGE,
    LEFT_MM,
    QR_SIZE_MM,
    QUIET_ZONE,
    SAFE_MM,
    TOP_MM,
    card_box,
    card_sheet_pdf,
    missing_glyphs,
    qr_matrix,
)
from tests.card_photos import SECRET, STATION, sample_volunteers, shared_card_set


def poppler(tool: str, pdf: Path) -> str:
    return subprocess.run([tool, str(pdf)], check=True, capture_output=True, text=True,
                          timeout=60).stdout


@pytest.fixture(scope="module")
def sheet():
    """12 volunteers: a full page and a page with two cards (rasterised once a session)."""
    return shared_card_set(12)


def mm_to_px(mm: float, dpi: int) -> int:
    return round(mm * dpi / 25.4)


def test_a4_pages_of_ten_cards(sheet):
    info = poppler("pdfinfo", sheet.pdf)
    assert "Pages:           2" in info
    assert "595.276 x 841.89 pts (A4)" in info
    assert CARDS_PER_PAGE == 10
    # The grid: 2 columns of 85.6 mm and 5 rows of 54 mm, centred, edge to edge.
    assert card_box(0).left == pytest.approx(LEFT_MM) and card_box(0).top == pytest.approx(TOP_MM)
    assert card_box(9).right == pytest.approx(210 - LEFT_MM)
    assert card_box(9).bottom == pytest.approx(297 - TOP_MM)
    assert card_box(3).right - card_box(3).left == pytest.approx(CARD_WIDTH_MM)
    assert card_box(3).bottom - card_box(3).top == pytest.approx(CARD_HEIGHT_MM)


def test_second_page_holds_only_the_two_remaining_cards(sheet):
    page = sheet.pages[1].min(axis=2)
    scale = sheet.dpi / 25.4
    for slot in range(CARDS_PER_PAGE):
        box = card_box(slot)
        inside = page[round(box.top * scale) + 5:round(box.bottom * scale) - 5,
                      round(box.left * scale) + 5:round(box.right * scale) - 5]
        assert (inside < 128).any() == (slot < 2), f"slot {slot}"


def test_the_chinese_font_is_embedded_and_the_only_font(sheet):
    lines = poppler("pdffonts", sheet.pdf).splitlines()[2:]
    assert lines, "no fonts in the PDF"
    for line in lines:
        name, kind, *_rest = line.split()
        assert "WenQuanYiZenHei" in name and kind == "TrueType", line
        # columns: name type encoding emb sub uni object ID
        assert line.split()[-5:-2] == ["yes", "yes", "yes"], f"not embedded: {line}"


def test_card_text_station_name_team_and_number(sheet):
    text = subprocess.run(["pdftotext", "-layout", str(sheet.pdf), "-"], check=True,
                          capture_output=True, text=True, timeout=60).stdout
    assert text.count(STATION) >= 12
    for volunteer in sheet.volunteers:
        assert volunteer.name in text and volunteer.number in text
        if volunteer.team:
            assert volunteer.team in text
    assert "志愿者证" in text and "卡序号 3" in text


def test_every_card_code_decodes_to_its_signed_payload(sheet):
    for card, payload, volunteer in zip(sheet.cards, sheet.payloads, sheet.volunteers,
                                        strict=True):
        grey = card.min(axis=2)
        texts = [symbol.data.decode() for symbol in
                 pyzbar.decode(grey, symbols=[pyzbar.ZBarSymbol.QRCODE])]
        assert texts == [payload]
        assert [result.text for result in zxingcpp.read_barcodes(grey)] == [payload]
        read = read_payload(texts[0], SECRET)
        assert (read.number, read.serial) == (volunteer.number, volunteer.card_serial)


def test_the_quiet_zone_is_white_and_the_code_has_its_printed_size(sheet):
    scale = sheet.dpi / 25.4
    for card, payload in zip(sheet.cards, sheet.payloads, strict=True):
        grey = card.min(axis=2)
        modules = len(qr_matrix(payload)) + 2 * QUIET_ZONE
        module_mm = QR_SIZE_MM / modules
        left = CARD_WIDTH_MM - SAFE_MM - QR_SIZE_MM
        top = (CARD_HEIGHT_MM - QR_SIZE_MM) / 2
        outer = grey[round(top * scale):round((top + QR_SIZE_MM) * scale),
                     round(left * scale):round((left + QR_SIZE_MM) * scale)]
        zone = round(QUIET_ZONE * module_mm * scale) - 2  # a pixel of anti-aliasing each side
        ring = np.ones(outer.shape, bool)
        ring[zone:-zone, zone:-zone] = False
        assert outer[ring].min() > 200, "ink in the quiet zone"
        dark = np.argwhere(outer < 128)
        span = (dark.max(axis=0) - dark.min(axis=0) + 1) / scale
        code_mm = (modules - 2 * QUIET_ZONE) * module_mm
        assert span == pytest.approx([code_mm, code_mm], abs=0.3)
    assert module_mm >= 1.2  # big modules: read from further away, through more blur


def test_cut_marks_continue_the_cut_lines_in_the_margin(sheet):
    page = sheet.pages[0].min(axis=2)
    dpi = sheet.dpi
    top_margin = page[mm_to_px(TOP_MM - 6, dpi):mm_to_px(TOP_MM - 3, dpi)]
    for column in range(3):
        x = mm_to_px(LEFT_MM + column * CARD_WIDTH_MM, dpi)
        assert (top_margin[:, x - 2:x + 3] < 128).any(), f"no cut mark at column line {column}"
    assert not (top_margin[:, mm_to_px(60, dpi)] < 128).any()
    left_margin = page[:, mm_to_px(LEFT_MM - 6, dpi):mm_to_px(LEFT_MM - 3, dpi)]
    for row in range(6):
        y = mm_to_px(TOP_MM + row * CARD_HEIGHT_MM, dpi)
        assert (left_margin[y - 2:y + 3] < 128).any(), f"no cut mark at row line {row}"


def test_error_correction_m_makes_a_smaller_code_than_q():
    usual = "V1.JG0042.1.MZXW6YTBOI2DEMRU"  # 28 characters: version 2 either way
    assert len(qr_matrix(usual, "M")) == len(qr_matrix(usual, "Q")) == 25
    longer = "V1.JG004200.12.MZXW6YTBOI2DEMRU"
    assert len(qr_matrix(longer, "M")) == 25 < len(qr_matrix(longer, "Q")) == 29


def test_error_correction_m_sheet_reads_back(tmp_path):
    volunteers = sample_volunteers(1)
    path = card_sheet_pdf(volunteers, STATION, SECRET, tmp_path / "m.pdf", error_correction="m")
    page = subprocess.run(["pdftoppm", "-r", "150", "-gray", "-png", "-singlefile",
                           str(path), str(tmp_path / "page")], check=True, timeout=60)
    assert page.returncode == 0
    from PIL import Image

    image = Image.open(tmp_path / "page.png")
    texts = [symbol.data.decode() for symbol in pyzbar.decode(image)]
    assert read_payload(texts[0], SECRET).number == "JG0001"


def test_long_names_shrink_and_rare_characters_are_reported(tmp_path, caplog):
    long_name = replace(sample_volunteers(1)[0], name="阿卜杜热合曼·买买提·艾则孜", number="JG0099",
                        team="社区环境与垃圾分类宣传志愿服务队")
    rare = replace(sample_volunteers(1)[0], name="王𰻞", number="JG0100")
    assert missing_glyphs(rare.name) == ["𰻞"]
    assert missing_glyphs("张伟 Zhang Wei") == []
    with caplog.at_level(logging.WARNING, logger="kiosk.cards.sheets"):
        path = card_sheet_pdf([long_name, rare], "张家港市杨舍镇梁丰社区社工站", SECRET,
                              tmp_path / "long.pdf")
    assert "JG0100" in caplog.text and "𰻞" in caplog.text
    text = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True,
                          text=True, timeout=60).stdout
    assert "阿卜杜热合曼·买买提·艾则孜" in text


def test_bad_input_writes_nothing(tmp_path):
    target = tmp_path / "cards.pdf"
    with pytest.raises(ValueError, match="no volunteers"):
        card_sheet_pdf([], STATION, SECRET, target)
    with pytest.raises(ValueError, match="M or Q"):
        card_sheet_pdf(sample_volunteers(1), STATION, SECRET, target, error_correction="X")
    bad = replace(sample_volunteers(1)[0], number="工号1")
    with pytest.raises(ValueError, match="volunteer number"):
        card_sheet_pdf([bad], STATION, SECRET, target)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []

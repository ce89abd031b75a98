"""The receipt preview: a PNG of the paper's width in dots, with the text where the lines are
and a QR code that a real decoder (zbar) reads back."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from pyzbar import pyzbar

from printers.document import Document
from printers.escpos import PrinterProfile, encode, raster_bytes
from printers.preview import CJK_FONT, render_image, render_png, test_page

INSTANCE_ID = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"


def dark_rows(picture: Image.Image) -> list[int]:
    """The rows with any black dot in them."""
    grey = picture.convert("L")
    width = grey.width
    pixels = grey.tobytes()
    return [row for row in range(grey.height)
            if min(pixels[row * width:(row + 1) * width]) < 128]


def dark_share(picture: Image.Image, box: tuple[int, int, int, int]) -> float:
    region = picture.convert("L").crop(box)
    values = region.tobytes()
    return sum(value < 128 for value in values) / max(len(values), 1)


def decode_qr(path: Path) -> list[str]:
    with Image.open(path) as picture:
        return [symbol.data.decode() for symbol in pyzbar.decode(picture.convert("L"))
                if symbol.type == "QRCODE"]


@pytest.mark.parametrize(("columns", "width"), [(32, 384), (48, 576)])
def test_png_has_the_paper_width_and_a_qr_that_decodes(tmp_path: Path, columns: int,
                                                       width: int):
    document = (Document().title("感谢参与").text("回执码 K7QM-3XAB")
                .qr(INSTANCE_ID, module_size=4).cut())
    job = encode(document, PrinterProfile(columns=columns))
    path = render_png(job.data, tmp_path / "receipt.png", columns=columns)
    assert path.exists()
    with Image.open(path) as picture:
        assert picture.format == "PNG" and picture.width == width
        assert len(dark_rows(picture)) > 100  # text, the QR and the cut line
    assert decode_qr(path) == [INSTANCE_ID]


@pytest.mark.parametrize("module_size", [3, 6, 8])
def test_qr_is_drawn_at_its_module_size(tmp_path: Path, module_size: int):
    job = encode(Document().qr(INSTANCE_ID, module_size=module_size), PrinterProfile())
    path = render_png(job.data, tmp_path / "qr.png")
    assert decode_qr(path) == [INSTANCE_ID]
    with Image.open(path) as picture:
        rows = dark_rows(picture)
    # A version 3 symbol (29 modules for 36 bytes at M) is 29 × module size dots tall.
    assert rows[-1] - rows[0] + 1 == 29 * module_size


def test_text_is_dark_where_the_lines_are_and_centring_shows(tmp_path: Path):
    document = Document().text("左").text("中", align="center").text("右", align="right")
    picture = render_image(encode(document, PrinterProfile()).data)
    line = 30  # dots per line at the printer's default spacing
    top = 8
    assert dark_share(picture, (0, top, 24, top + 24)) > 0.05  # 左 at the left edge
    assert dark_share(picture, (180, top + line, 204, top + line + 24)) > 0.05  # 中 centred
    assert dark_share(picture, (360, top + 2 * line, 384, top + 2 * line + 24)) > 0.05
    assert dark_share(picture, (100, top, 384, top + 24)) == 0  # nothing else on line 1


def test_double_size_text_is_twice_as_wide_and_tall():
    normal = render_image(encode(Document().text("社工站"), PrinterProfile()).data)
    double = render_image(encode(Document().text("社工站", double_width=True,
                                                 double_height=True), PrinterProfile()).data)

    def ink_box(picture: Image.Image) -> tuple[int, int, int, int]:
        return Image.eval(picture.convert("L"), lambda value: 255 - value).getbbox()

    left, top, right, bottom = ink_box(normal)
    left2, top2, right2, bottom2 = ink_box(double)
    assert right2 - left2 == pytest.approx(2 * (right - left), abs=2)
    assert bottom2 - top2 == pytest.approx(2 * (bottom - top), abs=2)


def test_bold_is_darker_than_normal():
    normal = render_image(encode(Document().text("社区服务"), PrinterProfile()).data)
    bold = render_image(encode(Document().text("社区服务", bold=True), PrinterProfile()).data)
    box = (0, 0, 96, 40)
    assert dark_share(bold, box) > dark_share(normal, box) * 1.2


def test_cut_is_a_dashed_line_across_the_paper():
    picture = render_image(encode(Document().text("x").cut(), PrinterProfile()).data)
    last = dark_rows(picture)[-1]
    row = picture.convert("L").crop((0, last - 1, picture.width, last + 1))
    assert 0.2 < dark_share(row, (0, 0, row.width, row.height)) < 0.8


def test_the_font_is_the_cjk_font_the_pdfs_use():
    assert CJK_FONT.exists(), "fonts-wqy-zenhei is needed for receipt previews"
    picture = render_image(encode(Document().text("社"), PrinterProfile()).data)
    assert dark_share(picture, (0, 8, 24, 32)) > 0.1  # a real glyph, not an empty box


def test_test_page_shows_every_sample(tmp_path: Path):
    for columns in (32, 48):
        job = encode(test_page(columns), PrinterProfile(columns=columns))
        assert not job.replaced
        path = render_png(job.data, tmp_path / f"test-{columns}.png", columns=columns)
        assert decode_qr(path) == ["https://example.org/printer-test"]


def test_raster_receipt_looks_like_the_text_receipt():
    """The bench's raster job, drawn again, has its ink where the text job's preview does."""
    document = Document().title("感谢参与").text("回执码 K7QM-3XAB").qr(INSTANCE_ID).cut()
    text_picture = render_image(encode(document, PrinterProfile()).data, cut_marks=False)
    raster_picture = render_image(raster_bytes(document, PrinterProfile()), cut_marks=False)
    assert raster_picture.width == text_picture.width
    assert dark_rows(raster_picture) == dark_rows(text_picture)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_preview_of_any_bytes_never_fails(data: bytes):
    picture = render_image(data)
    assert picture.width == 384

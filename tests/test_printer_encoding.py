"""The ESC/POS bytes of a receipt, checked by decoding them independently of the encoder:
raw GB18030 between FS & and FS ., the QR's store-data command, the cut, the sizes."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from printers.document import Document
from printers.escpos import PrinterProfile, encode, qr_bytes, raster_bytes
from printers.layout import display_width
from printers.parse import (
    Cut,
    Feed,
    Init,
    QRCode,
    Raster,
    StatusRequest,
    Text,
    Unknown,
    parse,
    text_lines,
)

INSTANCE_ID = "0b6f1c2e-7a4d-4f5e-9c3b-2d1e0f9a8b7c"
KANJI_RUN = re.compile(rb"\x1c&(.*?)\x1c\.", re.DOTALL)


def receipt() -> Document:
    return (Document()
            .title("社区服务满意度调查")
            .text("感谢您的参与！Thank you for taking part.")
            .rule()
            .pair("回执码", "K7QM-3XAB")
            .pair("提交时间 Time", "2026-11-23 14:05")
            .pair("社区", "新华社区")
            .rule()
            .qr(INSTANCE_ID, module_size=6, error_correction="M")
            .text("请保留此凭条，以便查询。", align="center", bold=True)
            .cut())


def kanji_text(data: bytes, encoding: str = "gb18030") -> str:
    """Every byte sent in Kanji mode, decoded on its own."""
    return "".join(run.decode(encoding) for run in KANJI_RUN.findall(data))


def outside_kanji(data: bytes) -> bytes:
    return KANJI_RUN.sub(b"", data)


def test_job_starts_with_initialise_and_chinese_is_gb18030_inside_fs_and():
    data = encode(receipt(), PrinterProfile()).data
    assert data.startswith(b"\x1b@")
    chinese = kanji_text(data)
    for phrase in ("社区服务满意度调", "感谢您的参与！", "回执码", "提交时间", "新华社区",
                   "请保留此凭条，以便查询。"):
        assert phrase in chinese
    # No byte of a GB character is ever sent outside FS & … FS . (it would print as code
    # page symbols on a printer that starts in ASCII mode).
    payload_free = outside_kanji(data).replace(qr_bytes(INSTANCE_ID, 6, "M"), b"")
    assert all(byte < 0x80 for byte in payload_free)
    assert "Thank you for\ntaking part." in payload_free.decode("ascii")


def test_parse_reads_text_sizes_alignment_and_emphasis():
    events = parse(encode(receipt(), PrinterProfile()).data)
    assert isinstance(events[0], Init)
    texts = [event for event in events if isinstance(event, Text)]
    title = next(event for event in texts if event.text.startswith("社区服务"))
    assert title.kanji and title.style.double_width and title.style.double_height
    assert title.style.align == "center" and title.style.bold
    thanks = next(event for event in texts if event.text.startswith("请保留"))
    assert thanks.style.align == "center" and thanks.style.bold
    assert not thanks.style.double_width
    assert all(event.kanji for event in texts if not event.text.isascii())
    assert not [event for event in events if isinstance(event, Unknown)]


def test_title_wraps_at_half_the_columns_in_double_width():
    lines = text_lines(parse(encode(Document().title("社区服务满意度调查"), PrinterProfile()).data))
    assert lines == ["社区服务满意度调", "查"]  # 16 double-width columns on 32-column paper


def test_qr_payload_is_the_instance_id():
    events = parse(encode(receipt(), PrinterProfile()).data)
    [code] = [event for event in events if isinstance(event, QRCode)]
    assert code.data == INSTANCE_ID and code.payload == INSTANCE_ID.encode()
    assert (code.module_size, code.error_correction, code.model) == (6, "M", 2)
    assert code.align == "center"
    # The store-data command itself (function 180), found in the raw bytes.
    store = b"\x1d(k" + bytes([len(INSTANCE_ID) + 3, 0]) + b"1P0" + INSTANCE_ID.encode()
    assert store in encode(receipt(), PrinterProfile()).data


def test_qr_gets_a_blank_line_above_and_below():
    events = parse(encode(receipt(), PrinterProfile()).data)
    at = next(index for index, event in enumerate(events) if isinstance(event, QRCode))
    before = [event for event in events[:at] if not hasattr(event, "name")]
    assert isinstance(before[-1], Feed) and isinstance(before[-2], Feed)  # LF, then a blank LF
    assert isinstance(events[at + 1], Feed)


def test_qr_too_big_for_the_paper_gets_smaller_modules():
    import qrcode

    long_payload = "X" * 600
    reference = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    reference.add_data(long_payload.encode(), optimize=0)
    reference.make(fit=True)
    modules = reference.modules_count  # 16-dot modules would be over 1000 dots wide
    events = parse(encode(Document().qr(long_payload, module_size=16), PrinterProfile()).data)
    [code] = [event for event in events if isinstance(event, QRCode)]
    assert code.module_size >= 1 and code.module_size * modules <= 384
    assert (code.module_size + 1) * modules > 384  # as big as fits


@pytest.mark.parametrize(("cut", "mode"), [("partial", "partial"), ("full", "full")])
def test_cut_after_feeding_past_the_cutter(cut: str, mode: str):
    profile = PrinterProfile(cut=cut, feed_before_cut=4)
    data = encode(receipt(), profile).data
    events = parse(data)
    assert isinstance(events[-1], Cut) and events[-1].mode == mode
    assert data.endswith(b"\n" * 4 + b"\x1dV" + bytes([0 if cut == "full" else 1]))


@pytest.mark.parametrize("columns", [32, 48])
def test_pair_lines_have_the_paper_width(columns: int):
    lines = text_lines(parse(encode(receipt(), PrinterProfile(columns=columns)).data))
    pairs = [line for line in lines if "回执码" in line or "Time" in line]
    assert len(pairs) == 2
    assert all(display_width(line) == columns for line in pairs)
    assert next(line for line in lines if set(line) == {"-"}) == "-" * columns


def test_reprint_banner_at_the_top():
    events = parse(encode(receipt(), PrinterProfile(), reprint=True).data)
    first_line = text_lines(events)[0]
    assert first_line.strip() == "补打 REPRINT"
    banner = [event for event in events if isinstance(event, Text)][:3]
    assert all(event.style.reverse and event.style.double_width for event in banner)
    assert "补打" not in "".join(text_lines(parse(encode(receipt(), PrinterProfile()).data)))


def test_gbk_replaces_what_it_lacks_and_prints_the_rest():
    document = Document().text("吉祥𠮷野家 😀 好").pair("姓名", "王𠮷")
    job = encode(document, PrinterProfile(encoding="gbk"))
    assert job.replaced == ["𠮷", "😀"]
    lines = text_lines(parse(job.data, "gbk"))
    assert lines[0] == "吉祥？野家 ？ 好"  # full-width ？ keeps the columns
    assert display_width(lines[1]) == 32 and lines[1].endswith("王？")
    assert "吉祥" in kanji_text(job.data, "gbk")


def test_gb18030_prints_rare_ideographs_but_not_emoji():
    job = encode(Document().text("𠮷野家 😀"), PrinterProfile(encoding="gb18030"))
    assert job.replaced == ["😀"]
    assert "𠮷" in kanji_text(job.data)  # a 4-byte GB18030 code
    assert "𠮷".encode("gb18030") in job.data


def test_control_characters_cannot_inject_commands():
    job = encode(Document().text("姓名\x1b@\x1dV\x00张三"), PrinterProfile())
    assert job.replaced == ["\x1b", "\x1d", "\x00"]
    events = parse(job.data)
    assert sum(isinstance(event, Init) for event in events) == 1
    assert not [event for event in events if isinstance(event, Cut)]


def test_document_survives_json_round_trip():
    document = receipt()
    again = Document.from_json(document.to_json())
    assert encode(again, PrinterProfile()).data == encode(document, PrinterProfile()).data


def test_profile_is_checked():
    with pytest.raises(ValueError, match="encoding"):
        PrinterProfile(encoding="utf-8")
    with pytest.raises(ValueError, match="cut"):
        PrinterProfile(cut="half")  # type: ignore[arg-type]


# ---- the QR bytes against python-escpos -------------------------------------------------------


@pytest.mark.parametrize(("size", "level"), [(3, "L"), (6, "M"), (8, "Q"), (16, "H")])
@pytest.mark.parametrize("payload", [INSTANCE_ID, "K7QM-3XAB", "社工站 https://example.org"])
def test_qr_bytes_equal_python_escpos_native_qr(payload: str, size: int, level: str):
    """python-escpos (3.1) sends, like ours, GS ( k functions 165 (model: 48 + 2), 167 (size),
    169 (error correction: 48 + level), 180 (store, m = 48, the UTF-8 bytes), 181 (print,
    m = 48). The bytes are identical; the differences are around them: python-escpos cannot
    centre a native QR (it raises), so ``encode`` sends ESC a 1 itself, and python-escpos
    prints nothing for an empty payload where ``qr_bytes`` refuses it."""
    from escpos import constants
    from escpos.printer import Dummy

    levels = {"L": constants.QR_ECLEVEL_L, "M": constants.QR_ECLEVEL_M,
              "Q": constants.QR_ECLEVEL_Q, "H": constants.QR_ECLEVEL_H}
    reference = Dummy()
    reference.qr(payload, ec=levels[level], size=size, model=constants.QR_MODEL_2, native=True)
    assert qr_bytes(payload, size, level) == reference.output


def test_qr_bytes_refuse_bad_arguments():
    for args in [("", 6, "M"), ("x", 0, "M"), ("x", 17, "M"), ("x", 6, "X"), ("x" * 7090, 3, "L")]:
        with pytest.raises(ValueError):
            qr_bytes(*args)


# ---- raster (bench only) and the parser's robustness -----------------------------------------


def test_raster_bytes_are_one_image_of_the_paper_width():
    data = raster_bytes(receipt(), PrinterProfile())
    events = parse(data)
    rasters = [event for event in events if isinstance(event, Raster)]
    assert rasters and all(event.width == 384 for event in rasters)
    assert not [event for event in events if isinstance(event, Text)]  # no text: all dots
    assert isinstance(events[-1], Cut)
    assert len(data) > 10 * len(encode(receipt(), PrinterProfile()).data)


def test_parse_reports_unknown_and_truncated_commands():
    events = parse(b"\x1b@ok\x1b\xff\x07\x1d(k\x10\x00")
    assert [type(event) for event in events] == [Init, Text, Unknown, Unknown, Unknown]
    assert events[-1].reason.startswith("command cut short")


def test_parse_status_requests():
    events = parse(b"\x10\x04\x01\x10\x04\x04")
    assert events == [StatusRequest(1, 0), StatusRequest(4, 3)]


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=400))
def test_parse_never_fails_on_any_bytes(data: bytes):
    parse(data)
    parse(data, "gbk")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([b"\x1b@", b"\x1c&", b"\x1c.", b"\x1d!\x11", b"\x1da\x01",
                                 b"\x1d(k", b"\x1dv0", b"\x1dV", b"\x10\x04", "社工".encode(
                                     "gb18030"), b"abc", b"\n", b"\x00", b"\xff"]), max_size=40))
def test_parse_never_fails_on_command_soup(parts: list[bytes]):
    parse(b"".join(parts))

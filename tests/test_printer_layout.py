"""Layout in printer columns: Chinese takes two, ASCII one; lines never overflow the paper."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from printers.layout import PAPER_COLUMNS, center, display_width, pair_lines, wrap


def test_display_width_counts_chinese_double():
    assert display_width("") == 0
    assert display_width("abc 123") == 7
    assert display_width("社工站") == 6
    assert display_width("回执码：K7QM-3XAB") == 6 + 2 + 9
    assert display_width("ＡＢＣ") == 6  # full-width Latin letters
    assert display_width("e\u0301") == 1  # a combining accent takes no column


def test_ambiguous_characters_are_double_as_the_gb_font_prints_them():
    # …, —, ·, °, ×, ① are double-byte GB codes, printed 24 dots wide.
    for char in "…—·°×①":
        assert display_width(char) == 2, char


def test_paper_columns():
    assert PAPER_COLUMNS == {"58mm": 32, "80mm": 48}


def test_wrap_chinese_at_the_paper_width():
    text = "社区服务满意度调查，感谢您的参与。我们会认真阅读每一条意见。"
    lines = wrap(text, 32)
    assert "".join(lines) == text
    assert all(display_width(line) <= 32 for line in lines)
    assert display_width(lines[0]) >= 30  # the line is filled, not broken early


def test_wrap_keeps_closing_punctuation_off_the_start_of_a_line():
    # 16 characters fill 32 columns exactly, so "。" would start line 2; "与" goes with it.
    lines = wrap("社区服务满意度调查，感谢您的参与。谢谢", 32)
    assert lines[0] == "社区服务满意度调查，感谢您的参"
    assert lines[1].startswith("与。")
    for line in wrap("你好，世界。这是一个测试，看看标点符号会不会出现在行首，好的。", 10):
        assert line[0] not in "，。！？、；："


def test_wrap_keeps_latin_words_together():
    text = "Thank you for taking part in our community service survey today"
    lines = wrap(text, 20)
    assert all(display_width(line) <= 20 for line in lines)
    assert " ".join(lines).split() == text.split()  # no word was cut


def test_wrap_mixed_chinese_and_english():
    lines = wrap("请凭回执码 K7QM-3XAB 到服务台查询 your request", 16)
    assert all(display_width(line) <= 16 for line in lines)
    assert any("K7QM-3XAB" in line for line in lines)  # the code is never split
    assert "".join(lines).replace(" ", "") == "请凭回执码K7QM-3XAB到服务台查询yourrequest"


def test_wrap_splits_a_word_longer_than_the_line():
    url = "https://example.org/a/very/long/path/that/does/not/fit"
    lines = wrap(url, 16)
    assert "".join(lines) == url
    assert all(display_width(line) <= 16 for line in lines)


def test_wrap_newlines_and_empty_text():
    assert wrap("", 32) == [""]
    assert wrap("第一行\n\n第三行", 32) == ["第一行", "", "第三行"]
    with pytest.raises(ValueError):
        wrap("x", 1)


@pytest.mark.parametrize("columns", [32, 48])
def test_pair_lines_fill_the_line_exactly(columns: int):
    for label, value in [("姓名", "张三"), ("回执码 Receipt", "K7QM-3XAB"),
                         ("Submitted", "2026-11-23 14:05"), ("服务满意度", "非常满意")]:
        [line] = pair_lines(label, value, columns)
        assert display_width(line) == columns
        assert line.startswith(label + " .") and line.endswith(". " + value)


def test_pair_lines_too_long_for_one_line_put_the_value_right_aligned_below():
    label = "您对社区提供的居家养老服务整体满意吗"
    value = "比较满意（还可以改进）"
    lines = pair_lines(label, value, 32)
    assert len(lines) >= 2
    assert all(display_width(line) <= 32 for line in lines)
    assert lines[-1].endswith(value) and display_width(lines[-1]) == 32
    assert "".join(lines[:-1]) == label


def test_pair_lines_with_a_wide_fill():
    [line] = pair_lines("姓名", "张三", 32, fill="…")
    assert display_width(line) == 32 and "……" in line


def test_center():
    assert center("谢谢", 32) == " " * 14 + "谢谢" + " " * 14
    assert display_width(center("Thank you 谢谢", 32)) == 32
    assert center("x" * 40, 32) == "x" * 40  # wider than the line: unchanged


text_strategy = st.text(alphabet=st.sampled_from(
    list("abcdefghij KLMN0123-./，。！？社区服务满意度调查回执码…—·（）《》\n")), max_size=200)


@settings(max_examples=300, deadline=None)
@given(text=text_strategy, columns=st.integers(min_value=2, max_value=60))
def test_wrap_never_overflows_and_loses_nothing(text: str, columns: int):
    lines = wrap(text, columns)
    assert all(display_width(line) <= columns for line in lines)
    assert "".join(lines).replace(" ", "").replace("\n", "") == \
        text.replace(" ", "").replace("\n", "")


@settings(max_examples=200, deadline=None)
@given(label=text_strategy, value=text_strategy, columns=st.integers(min_value=8, max_value=60))
def test_pair_lines_never_overflow(label: str, value: str, columns: int):
    assert all(display_width(line) <= columns for line in pair_lines(
        label.replace("\n", " "), value.replace("\n", " "), columns))


def test_wrap_breaks_chinese_after_punctuation_instead_of_inside_a_word():
    # Cut at the edge, 服务台 would be split; the line breaks after the comma instead.
    assert wrap("请保留本单，凭票号可以到服务台查询进度。", 32) == [
        "请保留本单，", "凭票号可以到服务台查询进度。"]
    assert wrap("请记下回执号，到服务台可以凭它查询。", 32) == [
        "请记下回执号，", "到服务台可以凭它查询。"]
    # Before an opening bracket: an item and its reason.
    assert wrap("3. 燃气泄漏报警器（常忘关煤气或火）", 32) == [
        "3. 燃气泄漏报警器", "（常忘关煤气或火）"]
    # No punctuation in reach that keeps a third of the line: cut at the edge as before.
    lines = wrap("社区服务满意度调查问卷填写说明书第一部分", 32)
    assert lines[0] == "社区服务满意度调查问卷填写说明书" and lines[1] == "第一部分"


@pytest.mark.parametrize("columns", range(12, 49))  # any line a token fits in
def test_wrap_never_cuts_a_number_a_time_a_code_or_a_latin_word(columns: int):
    text = ("签退时间 12:30，本次服务 2.5 小时，本月累计 0.03 小时，回执号 K7QM-3XAB，"
            "phone 13912345678")
    lines = wrap(text, columns)
    assert all(display_width(line) <= columns for line in lines)
    for token in ("12:30", "2.5", "0.03", "K7QM-3XAB", "phone", "13912345678"):
        assert any(token in line for line in lines), (token, lines)

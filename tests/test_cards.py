"""Volunteer card payloads: signed, ASCII-only, refused when changed or from elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.cards.payload import (
    CardError,
    load_secret,
    looks_like_card,
    make_payload,
    read_payload,
    secret_path,
)

SECRET = b"k" * 32


def test_payload_is_short_ascii_and_reads_back():
    text = make_payload("jg0042", 3, SECRET)
    assert text.startswith("V1.JG0042.3.")
    assert text.isascii() and len(text) <= 45
    assert set(text) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
    card = read_payload(text, SECRET)
    assert (card.number, card.serial) == ("JG0042", 3)
    assert read_payload(text.lower(), SECRET) == card  # a scanner typing with Caps Lock on
    assert read_payload(f"  {text}\n", SECRET) == card


@pytest.mark.parametrize(("change", "reason"), [
    (lambda text: text.replace("JG0042", "JG0043"), "tampered"),  # another volunteer's number
    (lambda text: text.replace(".3.", ".4."), "tampered"),  # a serial made up
    (lambda text: text[:-1] + ("A" if text[-1] != "A" else "B"), "tampered"),
    (lambda text: text.replace("V1.", "V2."), "not_a_card"),
    (lambda _text: "https://weixin.qq.com/r/abc", "not_a_card"),
    (lambda _text: "欢迎", "not_a_card"),
    (lambda _text: "", "not_a_card"),
    (lambda text: text + "X", "not_a_card"),
])
def test_changed_or_foreign_codes_are_refused(change, reason):
    text = make_payload("JG0042", 3, SECRET)
    with pytest.raises(CardError) as raised:
        read_payload(change(text), SECRET)
    assert raised.value.reason == reason


def test_card_of_another_installation_is_refused():
    text = make_payload("JG0042", 1, b"other installation".ljust(32, b"!"))
    with pytest.raises(CardError) as raised:
        read_payload(text, SECRET)
    assert raised.value.reason == "tampered"


def test_bad_numbers_are_refused_when_making_a_card():
    for number in ("", "王五", "A B", "X" * 25, "-12"):
        with pytest.raises(ValueError):
            make_payload(number, 1, SECRET)


def test_looks_like_card_only_for_card_shaped_text():
    assert looks_like_card(make_payload("7", 1, SECRET))
    assert not looks_like_card("13812345678")
    assert not looks_like_card("V1.JG0042.1.SHORT")


def test_secret_is_created_once_owner_only_and_kept(tmp_path: Path):
    path = secret_path(tmp_path / "config.toml")
    first = load_secret(path)
    assert len(first) == 32
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_secret(path) == first

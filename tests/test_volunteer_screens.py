"""Volunteers at the kiosk (issue 5): card scans from keyboard-wedge scanners on any screen,
check-in and check-out, and field mode on tablets.

Scans are driven through Textual's Pilot as a scanner sends them: a burst of keys and Enter.
Pilot presses a key every ~60 ms of real time whatever the test wants, so the pace of the
keys is chosen by a clock given to the kiosk (``scan_clock``): 3 ms a key for a scanner,
150 ms for a person. Assertions read the screen, the database and the print queue.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual import events
from textual.keys import _character_to_key
from textual.widgets import Input

from kiosk.cards import looks_like_card, make_payload
from kiosk.database import open_store
from kiosk.widgets.wedge import KeyboardWedge, could_become_card, pasted_card
from store import KioskStore
from surveys.xlsform import compile_xlsform
from tests.test_app_flow import (
    FORMS,
    SIZE,
    block,
    kiosk,
    on_screen,
    screen_text,
    tap,
    tap_form,
    type_into,
)

SECRET = b"volunteer-card-secret-for-tests!"
CARD = make_payload("JG0042", 1, SECRET)
SCANNER, PERSON = 0.003, 0.150  # seconds between two keys


class KeyPace:
    """A clock for the scanner watch that moves on by ``step`` at every key."""

    def __init__(self, step: float) -> None:
        self.step = step
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def key_events(text: str) -> list[events.Key]:
    """The key events a keyboard (or a keyboard-wedge scanner) sends for ``text``."""
    found = []
    for char in text:
        if char == "\r":
            found.append(events.Key("enter", "\r"))
        else:
            found.append(events.Key(char if char.isalnum() else _character_to_key(char), char))
    return found


def feed_all(wedge: KeyboardWedge, text: str) -> tuple[list[events.Key], list[str]]:
    """Feed ``text`` key by key; the keys handed to the screen and the scans found."""
    released: list[events.Key] = []
    scans: list[str] = []
    for key in key_events(text):
        fed = wedge.feed(key)
        released += fed.release
        if fed.scan is not None:
            scans.append(fed.scan)
    return released, scans


# ---- telling a scanner from a person -------------------------------------------------------


def test_a_fast_burst_that_spells_a_card_and_ends_in_enter_is_a_scan():
    assert looks_like_card(CARD)
    wedge = KeyboardWedge(clock=KeyPace(SCANNER))
    released, scans = feed_all(wedge, CARD + "\r")
    assert scans == [CARD]
    assert released == []  # nothing of it reaches the screen, not even the Enter
    assert not wedge.holding


def test_the_same_card_typed_by_a_person_reaches_the_screen_key_for_key():
    wedge = KeyboardWedge(clock=KeyPace(PERSON))
    released, scans = feed_all(wedge, CARD + "\r")
    assert scans == []
    assert "".join(key.character or "" for key in released) == CARD + "\r"


def test_one_slow_key_in_the_middle_makes_it_typing():
    pace = KeyPace(SCANNER)
    wedge = KeyboardWedge(clock=pace)
    released, scans = feed_all(wedge, CARD[:10])
    pace.now += 0.2  # a person's pause
    more, more_scans = feed_all(wedge, CARD[10:] + "\r")
    assert scans == more_scans == []
    assert "".join(key.character or "" for key in released + more) == CARD + "\r"


def test_an_enter_that_comes_late_is_not_a_scan():
    pace = KeyPace(SCANNER)
    wedge = KeyboardWedge(clock=pace)
    feed_all(wedge, CARD)
    pace.now += 0.5
    released, scans = feed_all(wedge, "\r")
    assert scans == []
    assert "".join(key.character or "" for key in released) == CARD + "\r"


@pytest.mark.parametrize("text", [
    "V1.JG0042.1.SHORT\r",  # too short a signature
    "V2.JG0042.1.MZXW6YTBOI2DEMRU\r",  # another version
    "VOLUNTEER\r",
    "1234567890123456789012345\r",  # digits only: a person's phone number, say
    "hello world, this is typed fast\r",
])
def test_fast_text_that_is_not_a_card_reaches_the_screen_unchanged(text: str):
    wedge = KeyboardWedge(clock=KeyPace(SCANNER))
    released, scans = feed_all(wedge, text)
    assert scans == []
    assert "".join(key.character or "" for key in released) == text
    assert [key.key for key in released] == [key.key for key in key_events(text)]


def test_caps_lock_and_a_stray_v_before_the_card():
    wedge = KeyboardWedge(clock=KeyPace(SCANNER))
    released, scans = feed_all(wedge, "v" + CARD.lower() + "\r")
    assert scans == [CARD]  # the card's letters are case-blind
    assert [key.character for key in released] == ["v"]


def test_keys_that_cannot_begin_a_card_are_never_held():
    wedge = KeyboardWedge(clock=KeyPace(SCANNER))
    for key in key_events("12张三a"):
        assert wedge.feed(key).release == [key]
    assert not wedge.holding


def test_what_may_begin_a_card():
    for text in ("V", "v1", "V1.", "V1.JG-0042", "V1.JG0042.12.", "V1.A.1.ABCDEFGHIJKLMNOP"):
        assert could_become_card(text), text
    for text in ("", "1", "V2", "V1..", "V1.A.0", "V1.A.1.ABC1", "V1.A.1.ABCDEFGHIJKLMNOPQ",
                 "V1.A.1.B.C"):
        assert not could_become_card(text), text


def test_a_pasted_card_is_a_scan_and_other_pastes_are_not():
    assert pasted_card(CARD + "\r\n") == CARD
    assert pasted_card(" " + CARD.lower()) == CARD
    assert pasted_card("梁丰花园3幢201") is None
    assert pasted_card(CARD + " extra") is None


# ---- scans on the kiosk's screens ------------------------------------------------------------


@pytest.fixture
def basics_store(tmp_path: Path) -> KioskStore:
    """The bundled forms plus the small test form (test1)."""
    store = open_store(tmp_path / "kiosk.db")
    store.install_form(compile_xlsform(FORMS / "basics.md"))
    yield store
    store.close()


async def test_a_resident_typing_fast_into_a_box_is_not_taken_for_a_scan(
        basics_store: KioskStore):
    """Even a card-like text typed at a person's pace lands in the box, Enter and all."""
    app = kiosk(basics_store, scan_clock=KeyPace(PERSON), scan_hold=1.0, card_secret=SECRET)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "test1")
        await tap_form_next_to_text(pilot)
        await type_into(pilot, "imp_other", "Vivian V1.JG")
        assert block(app, "imp_other").query_one(Input).value == "Vivian V1.JG"
        assert len(app.screen_stack) == 2  # no volunteer screen


async def tap_form_next_to_text(pilot) -> None:
    """From test1's first screen to its free-text question (imp_other)."""
    app = pilot.app
    await type_into(pilot, "age", "30")
    await tap(pilot, "#next")
    await pilot.press("1")
    await tap(pilot, "#next")
    await pilot.press("2")  # 其他 brings its text question
    await pilot.pause()
    await tap(pilot, "#next")
    assert on_screen(app) == ["imp_other"], screen_text(app)


async def test_without_cards_set_up_home_offers_no_volunteer_button_and_a_scan_says_so(
        basics_store: KioskStore):
    app = kiosk(basics_store, scan_clock=KeyPace(SCANNER), scan_hold=1.0)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "志愿者" not in screen_text(app)
        await pilot.press(*CARD, "enter")
        await pilot.pause()
        text = screen_text(app)
        assert "暂时不能识别志愿者证" in text and "请找工作人员" in text
        await tap(pilot, "#volunteer-ok")
        assert "请点一下您要填写的问卷" in screen_text(app)
        assert on_screen(app) == []  # the digits of the card opened no questionnaire

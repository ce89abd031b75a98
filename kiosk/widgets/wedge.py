"""Card scans from keyboard-wedge scanners, told apart from a person typing.

A USB (HID) or serial-to-keyboard scanner "types" what it reads, like a keyboard, followed by
Enter. The kiosk watches every key at the app level, so a scan is recognised on any screen,
with or without a box in focus. A scan is:

- a burst of printable characters, each at most ``GAP`` (50 ms) after the previous one, that
  spells a volunteer card (``kiosk.cards.looks_like_card``: ``V1.<number>.<serial>.<mac>``,
  at least 24 characters, letters in either case), then
- Enter, at most ``GAP`` after the last character.

Scanners type a character every 1–5 ms (slow Bluetooth modes about 20 ms); people leave
80–300 ms between keys, and not even a fast typist keeps under 50 ms for 24 keys in a row,
let alone while typing a signed card code (on tablets ``WEB_GAP``, 150 ms, allows for the
Wi-Fi between the tablet and the kiosk process). The shape check is the real guard; the timing
keeps a person who types a card code into a box (field-mode sign-in on a tablet) from being
taken for a scanner, so what they typed stays in the box.

Keys are held back, never undone: a key that could begin a card (``V`` or ``v``) and the
fast keys after it that keep the text a possible card are held instead of reaching the
screen. A held burst is handed to the screen unchanged, in order, as soon as it cannot be a
card any more: a key comes too late, a character does not fit a card, another key (Enter
after something that is not a whole card, Tab, Backspace …) arrives, or ``hold`` seconds pass
without a key. So a scan never types into a box or picks a choice with its digits, and its
Enter never means 下一题; everything else reaches the screen as typed, the letter V at most
``hold`` seconds late.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from textual import events

from kiosk.cards.payload import looks_like_card

# Longest pause between two keys of one scan (seconds).
GAP = 0.05
# The same on a tablet: a scanner plugged into it types into the browser, and the keys then
# cross the Wi-Fi one message each, which can spread a burst; the card's shape still rules
# out a person's typing.
WEB_GAP = 0.15
# The parts of a card in order (see kiosk.cards.CARD): "V1", number, serial, mac.
_PARTS = (re.compile(r"V1"), re.compile(r"[A-Z0-9][A-Z0-9-]{0,23}"),
          re.compile(r"[1-9][0-9]{0,5}"), re.compile(r"[A-Z2-7]{16}"))
_PART_PREFIXES = (re.compile(r"V1?"), re.compile(r"([A-Z0-9][A-Z0-9-]{0,23})?"),
                  re.compile(r"([1-9][0-9]{0,5})?"), re.compile(r"[A-Z2-7]{0,16}"))


def could_become_card(text: str) -> bool:
    """Is ``text`` the beginning of a card's text (case-blind, without checking the MAC)?"""
    parts = text.upper().split(".")
    if not text or len(parts) > len(_PARTS):
        return False
    *whole, last = parts
    return (all(_PARTS[index].fullmatch(part) for index, part in enumerate(whole))
            and bool(_PART_PREFIXES[len(whole)].fullmatch(last)))


def printable(event: events.Key) -> str | None:
    """The character a key types, or None (Enter, Tab, arrows, ctrl+… type nothing here)."""
    char = event.character
    if char is None or len(char) != 1 or not char.isprintable():
        return None
    return char


@dataclass
class Fed:
    """What became of one key: the keys to hand to the screen now (in order; held keys
    first), and the card text when the key completed a scan."""

    release: list[events.Key] = field(default_factory=list)
    scan: str | None = None


class KeyboardWedge:
    """Watches keys for card scans; see the module docstring for the rules.

    ``clock`` stamps each key (default: the time the key event was made, so a busy screen
    does not spread a scan's keys apart); tests pass one to choose the pace of their keys.
    """

    def __init__(self, gap: float = GAP, clock: Callable[[], float] | None = None) -> None:
        self.gap = gap
        self.clock = clock
        self.held: list[events.Key] = []
        self._text = ""
        self._last = 0.0

    @property
    def holding(self) -> bool:
        return bool(self.held)

    def feed(self, event: events.Key) -> Fed:
        """One key as it arrives: held, handed on (with the keys held before it) or a scan."""
        stamp = self.clock() if self.clock is not None else event.time
        fast = bool(self.held) and stamp - self._last <= self.gap
        fed = Fed()
        if self.held and not fast:
            fed.release = self.take()  # the burst stopped: it was not a scan
        char = printable(event)
        if event.key == "enter" and fast and looks_like_card(self._text):
            fed.scan = self._text.upper()
            self.held, self._text = [], ""  # the scan's keys and its Enter go nowhere
            return fed
        if char is not None:
            candidate = self._text + char
            if could_become_card(candidate):
                self.held.append(event)
                self._text, self._last = candidate, stamp
                return fed
            if self.held:
                fed.release += self.take()
                if could_become_card(char):  # "VV…": the second V may begin the card
                    self.held.append(event)
                    self._text, self._last = char, stamp
                    return fed
        else:
            fed.release += self.take()
        fed.release.append(event)
        return fed

    def take(self) -> list[events.Key]:
        """The held keys (for the screen), forgetting them."""
        held, self.held, self._text = self.held, [], ""
        return held


def pasted_card(text: str) -> str | None:
    """A paste holding just a card (some scanners and the tablet's browser send one so)."""
    cleaned = text.strip()
    return cleaned.upper() if looks_like_card(cleaned) else None

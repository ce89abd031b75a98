"""Columns on thermal paper: display widths, wrapping, ``label …… value`` lines, centring.

A column is half a Chinese character: font A of an ESC/POS printer is 12 × 24 dots for ASCII
and 24 × 24 dots for a character of its GB font, so 58 mm paper (384 dots) holds 32 columns
and 80 mm paper (576 dots) 48.

The widths here are the printer's, not a terminal's: every character the printer draws from
its GB (Kanji) font is two columns wide. That includes the East Asian *ambiguous* characters
(…, —, ·, °, ×, ①, Greek and Cyrillic letters): in GB18030/GBK they are double-byte codes,
printed 24 dots wide, while a Western terminal would show them in one column.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

PAPER_COLUMNS = {"58mm": 32, "80mm": 48}
"""Columns of font A (12 dots) on the printable width of common paper rolls."""

# A line never starts with closing punctuation nor ends with opening punctuation (the
# common rules of Chinese typesetting, 避头尾); the character before moves down instead.
NO_LINE_START = set("，。、；：？！）》」』】〕〉”’…—·,.;:?!)]}%")
NO_LINE_END = set("（《「『【〔〈“‘([{")
# Besides letters and digits, these keep a Latin "word" (an id, a URL, a phone number) whole.
WORD_CHARS = set("'-_@/.:#&+%=?~")
# Chinese has no spaces, so a line may break between any two characters; but a break inside
# a word (服务 / 台) is hard to read. Where a line overflows inside a run of Chinese, it
# breaks instead after the last punctuation mark or space, or before an opening bracket,
# if that leaves the line at least this part full (else the run is cut at the edge).
PHRASE_BREAK_FILL = 1 / 3


@lru_cache(maxsize=4096)
def char_width(char: str) -> int:
    """Columns one character takes on the paper: 0, 1 or 2."""
    code = ord(char)
    if 0x20 <= code < 0x7F:
        return 1
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    if unicodedata.east_asian_width(char) in ("W", "F", "A"):
        return 2
    return 1


def display_width(text: str) -> int:
    """Columns ``text`` takes on the paper: Chinese (East Asian wide, full-width and
    ambiguous) characters count 2, ASCII 1, combining marks 0."""
    if text.isascii():
        return len(text)
    return sum(char_width(char) for char in text)


def _prefix(text: str, columns: int) -> str:
    """The longest start of ``text`` within ``columns`` (at least one character)."""
    width = 0
    for index, char in enumerate(text):
        width += char_width(char)
        if width > columns:
            return text[:max(index, 1)]
    return text


def _tokens(paragraph: str) -> list[str]:
    """Break points: a run of Latin letters/digits stays whole; a Chinese character, a
    space or a punctuation mark is a token of its own."""
    tokens: list[str] = []
    word = ""
    for char in paragraph:
        if char_width(char) == 1 and (char.isalnum() or char in WORD_CHARS):
            word += char
            continue
        if word:
            tokens.append(word)
            word = ""
        if char_width(char) == 0 and tokens:
            tokens[-1] += char  # a combining mark stays on its base character
        else:
            tokens.append(char)
    if word:
        tokens.append(word)
    return tokens


def _is_chinese_letter(token: str) -> bool:
    return (len(token) == 1 and char_width(token) == 2
            and unicodedata.category(token).startswith("L"))


def _phrase_break(current: list[str], token_width: int, columns: int) -> int | None:
    """Where to break a line that ``current`` overflows inside a run of Chinese: the index
    of the first token to move down, at the last punctuation mark, space or opening
    bracket that leaves the line filled enough and lets the moved part fit; None to cut
    the run at the edge."""
    least = columns * PHRASE_BREAK_FILL
    moved = token_width
    for index in range(len(current) - 1, 0, -1):
        moved += display_width(current[index])
        if moved > columns:
            return None
        before, after = current[index - 1], current[index]
        opportunity = (before.isspace() or before[-1] in NO_LINE_START
                       or after[0] in NO_LINE_END)
        if (opportunity and not after.isspace() and after[0] not in NO_LINE_START
                and display_width("".join(current[:index])) >= least):
            return index
    return None


def _wrap_paragraph(paragraph: str, columns: int) -> list[str]:
    lines: list[list[str]] = [[]]
    width = 0
    for token in _tokens(paragraph):
        size = display_width(token)
        if token.isspace():
            if width + size <= columns and lines[-1]:
                lines[-1].append(token)
                width += size
            elif lines[-1]:
                lines.append([])
                width = 0
            continue  # no space at the start of a line
        if width + size <= columns:
            lines[-1].append(token)
            width += size
            continue
        if size > columns:
            # A word wider than a line (a URL, a long number): fill the line, go on below.
            room = columns - width
            if room < 1:
                lines.append([])
                room = columns
            rest = token
            while display_width(rest) > room:
                piece = _prefix(rest, room)
                lines[-1].append(piece)
                lines.append([])
                rest, room = rest[len(piece):], columns
            lines[-1].append(rest)
            width = columns - room + display_width(rest)
            continue
        # The token goes to the next line; keep the punctuation rules where we can.
        moved: list[str] = []
        current = lines[-1]
        while current and current[-1].isspace():
            current.pop()
        if _is_chinese_letter(token):
            cut = _phrase_break(current, size, columns)
            if cut is not None:
                moved, current[cut:] = current[cut:], []
        if token[0] in NO_LINE_START and len(current) > 1 and display_width(current[-1]) <= 2:
            moved.append(current.pop())
        while len(current) > 1 and current[-1][-1:] in NO_LINE_END:
            moved.insert(0, current.pop())
        if moved and display_width("".join(moved)) + size > columns:
            current.extend(moved)  # the rule would overfill the next line: break anyway
            moved = []
        lines.append([*moved, token])
        width = sum(display_width(part) for part in lines[-1])
    return ["".join(parts).rstrip() for parts in lines]


def wrap(text: str, columns: int) -> list[str]:
    """Lines of at most ``columns`` display columns.

    Latin words, numbers and times (K7QM-3XAB, 0.03, 12:30) stay together unless one is
    wider than a line; Chinese breaks after punctuation or before a bracket where that
    leaves the line a third full, else between any two characters, and keeps closing
    punctuation (，。） …) off the start of a line. ``\\n`` starts
    a new line; an empty text gives one empty line.
    """
    if columns < 2:
        raise ValueError(f"columns must be at least 2 (got {columns})")
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines.extend(_wrap_paragraph(paragraph, columns))
    return lines


def pad_left(text: str, columns: int) -> str:
    """Spaces, then ``text``, ending at ``columns`` display columns."""
    return " " * max(columns - display_width(text), 0) + text


def center(text: str, columns: int) -> str:
    """``text`` centred in ``columns`` display columns (spaces either side; an odd space goes
    to the right). Text wider than the line comes back unchanged."""
    room = columns - display_width(text)
    if room <= 0:
        return text
    left = room // 2
    return " " * left + text + " " * (room - left)


def pair_lines(label: str, value: str, columns: int, fill: str = ".") -> list[str]:
    """``label ...... value`` filling exactly ``columns`` display columns.

    When the two do not fit on one line (with a space and at least one fill character between
    them), the label is wrapped on its own lines and the value follows, right-aligned.
    """
    label, value = " ".join(label.split()), " ".join(value.split())  # one line each
    fill_width = display_width(fill) or 1
    gap = columns - display_width(label) - display_width(value) - 2
    if gap >= fill_width:
        dots = fill * (gap // fill_width) + " " * (gap % fill_width)
        return [f"{label} {dots} {value}"]
    lines = wrap(label, columns) if label else []
    lines.extend(pad_left(line, columns) for line in wrap(value, columns))
    return lines


def rule_line(char: str, columns: int) -> str:
    """A line of ``char`` across ``columns`` display columns."""
    width = display_width(char) or 1
    return char * (columns // width)

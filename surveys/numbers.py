"""Numbers as residents write them: 1万, 1.5万, 一万五, 3千, 两千, 800元, 8,000.

Elderly residents write amounts in 万 and 千; a number box that dropped what is not a digit
stored "1万" as 1. ``written_number`` reads such a text as the number it means, or gives
None when it is not a number at all (then the answer is refused with a message, never
shortened). Plain digits are read by the caller as before.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
          "七": 7, "八": 8, "九": 9}
SMALL_UNITS = {"十": 10, "百": 100, "千": 1000}
BIG_UNITS = {"万": 10_000, "亿": 100_000_000}
# Words after an amount that say what it counts, not how much.
SUFFIXES = re.compile(r"(块钱|元钱|元整|元|块|圆|岁|周岁|人|个|次|平方米|平米|米)$")
_TOKEN = re.compile(r"\d+(?:\.\d+)?|[零〇一二两三四五六七八九]|[十百千万亿]")


def written_number(text: str) -> Decimal | None:
    """The number ``text`` means (digits or Chinese numerals, with 十 百 千 万 亿, an amount's
    unit after it, thousands separated by commas), or None."""
    text = re.sub(r"[\s,，]", "", text)
    text = SUFFIXES.sub("", text)
    if not text or len(text) > 40:
        return None
    negative = text[0] in "-－负"
    if negative:
        text = text[1:]
    tokens = _TOKEN.findall(text)
    if not tokens or "".join(tokens) != text:
        return None  # something in it that is no digit nor unit
    value = _value(tokens)
    if value is None:
        return None
    return -value if negative else value


def _value(tokens: list[str]) -> Decimal | None:
    """Sections split by 亿 and 万 (largest first), each of 千 百 十 and digits."""
    total = Decimal(0)
    section: list[str] = []
    last_big = None
    for token in tokens:
        if token in BIG_UNITS:
            if last_big is not None and BIG_UNITS[token] >= BIG_UNITS[last_big]:
                return None  # 万 after 万, 亿 after 万: not a number
            part = _section(section) if section else Decimal(1)  # 万 alone: one 万
            if part is None:
                return None
            total += part * BIG_UNITS[token]
            section, last_big = [], token
        else:
            section.append(token)
    if section:
        rest = _section(section, after=BIG_UNITS[last_big] if last_big else None)
        if rest is None:
            return None
        total += rest
    return total


def _number(token: str) -> Decimal | None:
    if token in DIGITS:
        return Decimal(DIGITS[token])
    try:
        return Decimal(token)
    except InvalidOperation:
        return None


def _section(tokens: list[str], after: int | None = None) -> Decimal | None:
    """A number below 万: digits with 千 百 十. A single digit after a unit means the next
    unit down, as people say it: 三千五 is 3500, 一万五 and 1万5 are 15000 (``after``: the
    big unit before this section); a 零 before it keeps it a digit: 一万零五 is 10005."""
    zero_before = False
    kept: list[tuple[str, bool]] = []  # (token, a 零 came right before it)
    for token in tokens:
        if token in ("零", "〇") and len(tokens) > 1:
            zero_before = True
            continue
        kept.append((token, zero_before))
        zero_before = False
    total = Decimal(0)
    digit: Decimal | None = None
    digit_token, digit_after_zero = "", False
    last_unit: int | None = after
    for token, after_zero in kept:
        if token in SMALL_UNITS:
            unit = SMALL_UNITS[token]
            if last_unit is not None and last_unit != after and unit >= last_unit:
                return None  # 百 after 十, 千 after 千
            total += (digit if digit is not None else Decimal(1)) * unit
            digit, last_unit = None, unit
        else:
            if digit is not None:
                return None  # two numbers side by side
            digit = _number(token)
            if digit is None:
                return None
            digit_token, digit_after_zero = token, after_zero
    if digit is not None:
        abbreviated = (last_unit is not None and last_unit > 10 and not digit_after_zero
                       and (digit_token in DIGITS or len(digit_token) == 1))
        total += digit * last_unit / 10 if abbreviated and last_unit else digit
    return total

"""Review before counting (issue 17): the states staff give a submission, and corrections of
its answers that keep the original.

Every submission has a review state: 未审核 (``pending``, until staff look at it), 已通过
(``approved``), 有问题 (``questioned``) or 作废 (``void``: left out of statistics and exports
unless asked for). Staff change it with a note; a correction replaces one answer with
another (who, when, why, the old and the new value) and the corrected answers are checked by
the record gate like any record, so a correction cannot store what a resident could not
have answered. The stores keep both as logs that only grow (store/sqlite/reviews.py).

This module holds no SQL: the states and their words, what staff may write, and how a
correction is made and checked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from surveys.form import Form, Item
from surveys.gate import RecordGate, RecordRefused
from surveys.session import AnswerError, canonical_text

REVIEW_STATES = ("pending", "approved", "questioned", "void")
STATE_WORDS = {
    "pending": ("未审核", "not reviewed"),
    "approved": ("已通过", "approved"),
    "questioned": ("有问题", "questioned"),
    "void": ("作废", "void"),
}
# What staff may type for a state: the names, the Chinese words, a few spellings.
_STATE_SPELLINGS = {
    **{state: state for state in REVIEW_STATES},
    **{words[0]: state for state, words in STATE_WORDS.items()},
    "unreviewed": "pending", "not-reviewed": "pending", "ok": "approved",
    "doubtful": "questioned", "problem": "questioned", "voided": "void",
}
NOTE_LIMIT = 500  # a note or a reason: a sentence or two, never a document
STAFF_LIMIT = 50
_FORBIDDEN = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Kinds of question a correction may change: what a resident answers, asked once per
# submission (an answer inside a repeat is named by its place and left for another day).
_CORRECTABLE = ("select_one", "select_multiple", "integer", "decimal", "text", "date")


class ReviewError(ValueError):
    """A review or correction that cannot be made; the message says what and where."""


def state_word(state: str | None, language: str = "zh") -> str:
    """The word for a state (None: never reviewed, 未审核)."""
    zh, en = STATE_WORDS[state or "pending"]
    return en if language == "en" else zh


def review_state(text: str) -> str:
    """The state staff mean (``approved``, 已通过 …); ReviewError lists the states."""
    state = _STATE_SPELLINGS.get(text.strip().lower()) or _STATE_SPELLINGS.get(text.strip())
    if state is None:
        known = "、".join(f"{words[0]} ({name})" for name, words in STATE_WORDS.items())
        raise ReviewError(f"没有审核状态“{text[:40]}”；可用：{known} "
                          f"(no review state '{text[:40]}')")
    return state


def review_states(texts: Sequence[str]) -> tuple[str, ...]:
    """The states of a --review filter (``all`` for every state, void included)."""
    if any(text.strip().lower() in ("all", "全部") for text in texts):
        return REVIEW_STATES
    return tuple(dict.fromkeys(review_state(text) for text in texts))


def staff_text(text: str | None, what: str, *, required: bool, limit: int = NOTE_LIMIT) -> str:
    """A note, a reason or a staff name as staff typed it: trimmed, bounded, printable."""
    text = (text or "").strip()
    if required and not text:
        raise ReviewError(f"请写明{what} ({what} is required)")
    if len(text) > limit:
        raise ReviewError(f"{what}太长：{len(text)} 个字，最多 {limit} 个 "
                          f"(at most {limit} characters)")
    if _FORBIDDEN.search(text):
        raise ReviewError(f"{what}里有控制字符或方向字符，请重新输入 "
                          "(control or direction characters)")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # bytes that were not UTF-8, as a terminal may pass them
        raise ReviewError(f"{what}不是有效的文字（编码不对），请重新输入 "
                          "(not valid UTF-8 text)") from None
    return text


@dataclass(frozen=True)
class Correction:
    """One answer changed: the question, the value before (as the figures read it until
    now) and after, and the answers as the record gate let them through (calculates
    computed again)."""

    question: str
    old: Any
    new: Any
    answers: dict[str, Any]


def answer_text(value: Any, missing: str = "") -> str:
    """An answer as one line of text: several choices by spaces, no answer as ``missing``."""
    if value is None:
        return missing
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


def history_entry(row: Sequence[Any]) -> dict[str, Any]:
    """One line of a review history as both stores read it: (kind 'review' or 'correction',
    instance id, at, staff, kiosk, state, question, old and new value as JSON text, note)."""
    return {"kind": row[0], "instance_id": row[1], "at": row[2], "staff": row[3],
            "kiosk": row[4], "state": row[5], "question": row[6],
            "old": json.loads(row[7]) if row[7] is not None else None,
            "new": json.loads(row[8]) if row[8] is not None else None, "note": row[9]}


def correctable_item(form: Form, question: str) -> Item:
    """The question a correction may change, or ReviewError naming what there is."""
    item = form.by_name.get(question)
    if item is None or item.kind not in _CORRECTABLE or form.repeat_chain.get(question):
        names = [entry.name for entry in form.items
                 if entry.kind in _CORRECTABLE and not form.repeat_chain.get(entry.name)]
        why = ("不在这份问卷里" if item is None
               else "在重复组里，暂不能逐条更正" if form.repeat_chain.get(question)
               else "不是居民回答的题（计算、说明…）")
        raise ReviewError(f"题目“{question[:60]}”{why}；可以更正的题：{', '.join(names)} "
                          f"(question '{question[:60]}' cannot be corrected)")
    return item


def typed_value(form: Form, item: Item, text: str | None) -> Any:
    """The answer staff typed, as a record holds it: a choice by its name or its label
    (either language), several choices split by spaces, commas or 、, numbers as residents
    write them (1万, 两千), dates as YYYY-MM-DD; empty for no answer."""
    text = (text or "").strip()
    if not text:
        return None
    if item.kind in ("select_one", "select_multiple"):
        names: dict[str, str] = {}
        for choice in form.choices_for(item):
            names[choice.name] = choice.name
            for language in form.languages or [form.default_language]:
                label = form.text(choice.label, language)
                if label:
                    names.setdefault(label.strip(), choice.name)
        parts = [text] if item.kind == "select_one" else \
            [part for part in re.split(r"[\s,，、]+", text) if part]
        chosen = []
        for part in parts:
            if part not in names:
                known = ", ".join(dict.fromkeys(names.values()))
                raise ReviewError(f"“{item.name}”没有选项“{part[:40]}”；选项：{known} "
                                  f"(no choice '{part[:40]}')")
            chosen.append(names[part])
        return chosen[0] if item.kind == "select_one" else list(dict.fromkeys(chosen))
    if item.kind in ("integer", "decimal"):
        try:
            canonical = canonical_text(item, text)
        except AnswerError:
            raise ReviewError(f"“{item.name}”要填数字，“{text[:40]}”不是数字 "
                              f"('{item.name}' takes a number)") from None
        number = float(canonical)
        return int(number) if item.kind == "integer" else number
    return text


def correct(gate: RecordGate, record: Mapping[str, Any], answers: Mapping[str, Any],
            question: str, text: str | None) -> Correction:
    """Change one answer of ``record`` (its answers as corrected so far: ``answers``) to what
    staff typed, checked by the record gate as a whole record; ReviewError says why not."""
    form = gate.form_of(str(record["survey"]), str(record["version"]))
    item = correctable_item(form, question)
    value = typed_value(form, item, text)
    changed = {key: entry for key, entry in answers.items() if key != question}
    if value is not None:
        changed[question] = value
    candidate = {key: entry for key, entry in record.items() if key != "entity"}
    candidate["answers"] = changed
    try:
        checked = gate.check(candidate)
    except RecordRefused as refused:
        raise ReviewError(f"更正后的问卷不符合问卷规则：{refused} "
                          "(the corrected answers break the form's rules)") from None
    old, new = answers.get(question), checked.answers.get(question)
    if old == new:
        raise ReviewError(f"“{question}”已经是这个回答，没有要更正的 (no change)")
    return Correction(question, old, new, checked.answers)

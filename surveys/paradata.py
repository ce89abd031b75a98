"""Paradata: how one questionnaire was filled (as ODK's audit log), and the flags read from it.

``Paradata`` is the recorder the screens feed while a resident answers: the time on each
screen (a monotonic clock), answers changed, back-steps, idle interruptions. It only
appends to a list in memory — nothing on the path a resident waits on touches the disk; the
record is stored once, with the submission (store/sqlite/paradata.py).

No answer is ever kept here: an event says *that* an answer changed, never from what to
what (pii questions or not), so paradata can be exported and shown without personal data.

The events (a JSON list, in the order things happened — a screen's visit first, then what
was done on it; times are milliseconds since the questionnaire began, counting only the time
it was open on a screen):

- ``{"k": "question", "n": NAME, "s": START, "e": END}`` a screen was shown from START to
  END; NAME is its first question, ``"also": [...]`` the others of a field-list screen.
  ``"k": "prompt"`` is a repeat's 再添加一位？/删除这一位？ (NAME the repeat), ``"k":
  "review"`` the 核对 step before 提交.
- ``{"k": "change", "n": NAME, "t": AT}`` an answer given before was replaced (another
  choice, other text) or, for a multiple choice, a ticked choice was taken away.
- ``{"k": "back", "n": NAME, "t": AT}`` 上一题 from the screen of NAME.
- ``{"k": "jump", "n": NAME, "t": AT}`` 修改 on the review step, to NAME.
- ``{"k": "idle", "s": START, "e": END}`` the 还在吗？ countdown was shown (``"out": true``:
  it ran out, the questionnaire was kept as a draft).
- ``{"k": "resume", "t": AT}`` a kept draft was continued (``"lost": true``: the time
  before it was not recorded here — another tablet, or the kiosk restarted).
- ``{"k": "end", "t": AT}`` finished.
- last, always: ``{"k": "totals", "q": {NAME: MS, ...}, "cut": N}`` milliseconds per
  question over all visits (a field-list screen's time shared evenly among its questions),
  and how many events were left out past ``MAX_EVENTS``.
"""

from __future__ import annotations

import csv
import json
import statistics
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from time import monotonic
from typing import IO, TYPE_CHECKING, Any, Protocol

from surveys.form import Form

if TYPE_CHECKING:  # (the exports' package is heavy: the kiosk's start does not pay for it)
    from surveys.stats.model import StatsFilter

# A questionnaire's event list stops growing here (a resident stepping back and forth for an
# hour, a 300-question form walked twice): the counts and per-question totals go on, and the
# totals event says how many events were left out. ~60 bytes an event: at most ~60 KB a row.
MAX_EVENTS = 1000
# Per-question totals kept for at most this many names (a form's own size bounds it anyway).
MAX_TOTALS = 2000
# speeder: finished in under this share of the median seconds of the survey's questionnaires
# with complete paradata, when there are at least SPEEDER_MIN_COMPARED of them to compare with.
SPEEDER_SHARE = 1 / 3
SPEEDER_MIN_COMPARED = 10
# straight_line: at least this many Likert questions answered, every one with the same choice.
STRAIGHT_LINE_MIN = 4

FLAG_WORDS = {"speeder": "答得过快", "straight_line": "量表题全选同一项"}


@dataclass
class ParadataRecord:
    """What is stored with a finished questionnaire (the ``paradata`` table's columns)."""

    seconds: float
    answer_changes: int
    back_steps: int
    interruptions: int
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """False when time before a resumed draft was lost (not compared, never a speeder)."""
        return not any(event.get("k") == "resume" and event.get("lost")
                       for event in self.events)

    def question_seconds(self) -> dict[str, float]:
        """Seconds per question (from the totals event), in the order first shown."""
        for event in reversed(self.events):
            if event.get("k") == "totals" and isinstance(event.get("q"), dict):
                return {str(name): round(float(ms) / 1000, 3)
                        for name, ms in event["q"].items()
                        if isinstance(ms, int | float)}
        return {}

    def visited(self) -> list[str]:
        """The screens shown, in order, by their first question's name."""
        return [str(event.get("n")) for event in self.events if event.get("k") == "question"]


class Paradata:
    """The recorder of one questionnaire, fed by the screens (pure: no Textual, no store).

    ``clock`` gives seconds (monotonic; tests pass their own). Each method is an append or
    two: they run on the path from a tap to the next screen.
    """

    def __init__(self, *, clock: Callable[[], float] = monotonic, resumed: bool = False) -> None:
        self.clock = clock
        self.events: list[dict[str, Any]] = []
        self.answer_changes = 0
        self.back_steps = 0
        self.interruptions = 0
        self.cut = 0
        self.totals: dict[str, int] = {}
        self._before = 0.0  # seconds of earlier sittings (a kept draft continued)
        self._since: float | None = clock()  # None while paused (kept as a draft)
        # The screen shown: kind, names and its visit's event (the end set on leaving).
        self._open: tuple[str, tuple[str, ...], dict[str, Any]] | None = None
        self._idle_from: int | None = None
        if resumed:
            self._add({"k": "resume", "t": 0, "lost": True})

    # ---- time ---------------------------------------------------------------------------

    def now_ms(self) -> int:
        """Milliseconds since the questionnaire began, counting only its open sittings."""
        seconds = self._before + (self.clock() - self._since if self._since is not None else 0)
        return int(seconds * 1000)

    @property
    def seconds(self) -> float:
        return self.now_ms() / 1000

    def _add(self, event: dict[str, Any]) -> None:
        if len(self.events) >= MAX_EVENTS:
            self.cut += 1
            return
        self.events.append(event)

    # ---- what the screens tell ------------------------------------------------------------

    def enter(self, names: Sequence[str], kind: str = "question") -> None:
        """A screen is shown (its questions' names; a prompt's repeat; () for the review).
        The same screen shown again (rebuilt in place) goes on as one visit. The visit is
        listed now (what happens on the screen follows it); its end is filled in on leaving."""
        key = (kind, tuple(names))
        if self._open is not None and self._open[:2] == key:
            return
        self.leave()
        start = self.now_ms()
        event: dict[str, Any] = {"k": kind, "n": names[0] if names else "", "s": start,
                                 "e": start}
        if len(names) > 1:
            event["also"] = list(names[1:])
        self._add(event)
        self._open = (*key, event)

    def leave(self) -> None:
        """The screen shown is left (to another, or the questionnaire ends)."""
        if self._open is None:
            return
        kind, names, event = self._open
        self._open = None
        event["e"] = end = self.now_ms()  # (a visit past MAX_EVENTS: only its totals count)
        if kind == "question" and names:
            share = (end - event["s"]) // len(names)
            for name in names:
                if name in self.totals or len(self.totals) < MAX_TOTALS:
                    self.totals[name] = self.totals.get(name, 0) + share

    def answered(self, name: str, before: str, after: str, *, multiple: bool = False) -> None:
        """An answer was taken: a change when an answer given before was replaced (for a
        multiple choice, when a ticked choice was taken away; ticking more is answering)."""
        if not before or before == after:
            return
        if multiple and set(before.split()) <= set(after.split()):
            return
        self.answer_changes += 1
        self._add({"k": "change", "n": name, "t": self.now_ms()})

    def back(self) -> None:
        """上一题 (counted once a step back was taken, not when it left the form)."""
        self.back_steps += 1
        name = self._open[1][0] if self._open is not None and self._open[1] else ""
        self._add({"k": "back", "n": name, "t": self.now_ms()})

    def jump(self, name: str) -> None:
        """修改 on the review step: back to one question."""
        self._add({"k": "jump", "n": name, "t": self.now_ms()})

    def idle_start(self) -> None:
        """The 还在吗？ countdown came up."""
        if self._idle_from is None:
            self.interruptions += 1
            self._idle_from = self.now_ms()

    def idle_end(self, *, timed_out: bool = False) -> None:
        """The resident came back (or the countdown ran out: ``timed_out``)."""
        if self._idle_from is None:
            return
        event: dict[str, Any] = {"k": "idle", "s": self._idle_from, "e": self.now_ms()}
        if timed_out:
            event["out"] = True
        self._idle_from = None
        self._add(event)

    def pause(self) -> None:
        """Kept as a draft and left: the clock stops until ``resume``."""
        self.idle_end(timed_out=True)
        self.leave()
        if self._since is not None:
            self._before += self.clock() - self._since
            self._since = None

    def resume(self) -> None:
        """The kept draft is continued in this kiosk process: the clock goes on."""
        if self._since is None:
            self._since = self.clock()
            self._add({"k": "resume", "t": self.now_ms()})

    def finish(self) -> ParadataRecord:
        """The record to store with the submission (the recorder may not be fed after)."""
        self.idle_end()
        self.leave()
        at = self.now_ms()
        self._add({"k": "end", "t": at})
        events = [*self.events, {"k": "totals", "q": dict(self.totals), "cut": self.cut}]
        return ParadataRecord(seconds=at / 1000, answer_changes=self.answer_changes,
                              back_steps=self.back_steps, interruptions=self.interruptions,
                              events=events)


# ---- flags, computed when read -----------------------------------------------------------


def likert_names(form: Form) -> list[str]:
    """The Likert questions (appearance ``likert``) outside repeats, in form order."""
    return [item.name for item in form.items
            if item.kind == "select_one" and "likert" in item.appearance.split()
            and not form.repeat_chain.get(item.name)]


def straight_lined(values: Iterable[Any]) -> bool:
    """At least STRAIGHT_LINE_MIN Likert answers, every one the same choice."""
    answered = [value for value in values if value not in (None, "", [])]
    return len(answered) >= STRAIGHT_LINE_MIN and len(set(map(str, answered))) == 1


def speeder_median(seconds: Iterable[float]) -> float | None:
    """The median the speeder rule compares with (None: too few to compare)."""
    compared = list(seconds)
    if len(compared) < SPEEDER_MIN_COMPARED:
        return None
    return statistics.median(compared)


def flags(seconds: float, complete: bool, median: float | None,
          likert_answers: Iterable[Any] = ()) -> list[str]:
    """The flags of one questionnaire: ``speeder`` (under SPEEDER_SHARE of ``median``, which
    ``speeder_median`` gives; never when its time is not ``complete``) and
    ``straight_line``."""
    found = []
    if median is not None and complete and seconds < SPEEDER_SHARE * median:
        found.append("speeder")
    if straight_lined(likert_answers):
        found.append("straight_line")
    return found


# ---- the export (no answers: nothing personal) -------------------------------------------

PARADATA_FORMATS = ("csv", "xlsx", "jsonl")
META = ("instance_id", "survey_id", "version", "completed", "seconds", "answer_changes",
        "back_steps", "interruptions", "flags")


@dataclass
class ParadataRow:
    """One submission's paradata as the export and the review queue see it."""

    instance_id: str
    survey_id: str
    version: str
    completed: str
    record: ParadataRecord
    flags: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"instance_id": self.instance_id, "survey_id": self.survey_id,
                "version": self.version, "completed": self.completed,
                "seconds": self.record.seconds, "answer_changes": self.record.answer_changes,
                "back_steps": self.record.back_steps,
                "interruptions": self.record.interruptions, "flags": self.flags,
                "events": self.record.events}


def write_paradata(rows: Sequence[ParadataRow], order: Sequence[str],
                   target: str | Path | IO[str], file_format: str) -> int:
    """Write one row per submission: the counts, the flags and seconds per question
    (``order``: the form's questions; CSV/XLSX) or the whole events (JSONL).
    A path is written atomically. Returns the number of rows."""
    from surveys.exports.columns import ExportError, XlsxCells, atomic_output, csv_cell

    if file_format not in PARADATA_FORMATS:
        raise ExportError(f"--paradata writes {', '.join(PARADATA_FORMATS)}, not {file_format}")
    if file_format == "jsonl":
        def write_jsonl(handle: IO[str]) -> None:
            for row in rows:
                handle.write(json.dumps(row.to_json(), ensure_ascii=False) + "\n")
        return _write_text(target, "utf-8", write_jsonl, len(rows))
    asked = set(order)
    seen = dict.fromkeys(order)
    for row in rows:  # a question of another version too
        for name in row.record.question_seconds():
            if name not in asked:
                seen[name] = None
    names = list(seen)
    header = [*META, *(f"{name}_seconds" for name in names)]
    table = [[row.instance_id, row.survey_id, row.version, row.completed, row.record.seconds,
              row.record.answer_changes, row.record.back_steps, row.record.interruptions,
              " ".join(row.flags), *(row.record.question_seconds().get(name) for name in names)]
             for row in rows]
    if file_format == "csv":
        def write_csv(handle: IO[str]) -> None:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows([csv_cell(cell) for cell in line] for line in table)
        return _write_text(target, "utf-8-sig", write_csv, len(table))
    if not isinstance(target, str | Path):
        raise ExportError("xlsx 只能写到文件：请用 -o 文件名.xlsx (xlsx needs -o FILE.xlsx)")
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("paradata")
    cells = XlsxCells()
    sheet.append(header)
    for line in table:
        sheet.append([cells(cell) if isinstance(cell, str) else cell for cell in line])
    with atomic_output(target) as temporary:
        book.save(temporary)
    return len(table)


def _write_text(target: str | Path | IO[str], encoding: str,
                write: Callable[[IO[str]], Any], rows: int) -> int:
    from surveys.exports.columns import atomic_output

    if not isinstance(target, str | Path):
        if encoding == "utf-8-sig":
            target.write("\ufeff")
        write(target)
    else:
        with atomic_output(target) as temporary, \
                open(temporary, "w", encoding=encoding, newline="") as handle:
            write(handle)
    return rows


def question_order(forms: Sequence[Form]) -> list[str]:
    """The questions of every version, in form order (the newest version's order first)."""
    names: dict[str, None] = {}
    for form in reversed(forms):
        for item in form.items:
            if item.answerable:
                names.setdefault(item.name, None)
    return list(names)


def summary(rows: Sequence[ParadataRow]) -> dict[str, Any]:
    """How a survey's questionnaires were filled, in a few figures (for a dashboard)."""
    seconds = [row.record.seconds for row in rows if row.record.complete]
    counted: Mapping[str, int] = {name: sum(name in row.flags for row in rows)
                                  for name in FLAG_WORDS}
    return {"questionnaires": len(rows),
            "median_seconds": statistics.median(seconds) if seconds else None,
            "flagged": dict(counted)}


class ParadataStore(Protocol):
    """What the paradata export needs of a store (KioskStore has it)."""

    def versions(self, survey_id: str) -> list[str]: ...
    def load_form(self, survey_id: str, version: str | None = None) -> Form: ...
    def iter_submissions(self, survey_id: str,
                         filters: StatsFilter | None = None) -> Iterable[dict[str, Any]]: ...
    def paradata_rows(self, survey_id: str,
                      only: Collection[str] | None = None) -> list[ParadataRow]: ...


def export_paradata(store: ParadataStore, survey_id: str, target: str | Path | IO[str],
                    file_format: str, filters: StatsFilter | None = None) -> int:
    """``kiosk export ID --paradata``: the survey's paradata, one row per submission the
    same ``filters`` as the other exports keep (without filters: every state but 作废).
    Submissions without paradata (imported, bundles) have no row. Returns the rows."""
    from surveys.exports.columns import ExportError

    if file_format not in PARADATA_FORMATS:
        raise ExportError(f"--paradata 只写 {', '.join(PARADATA_FORMATS)}，不写 {file_format} "
                          f"(--paradata writes {', '.join(PARADATA_FORMATS)} only)")
    versions = store.versions(survey_id)
    if not versions:
        raise ExportError(f"no survey '{survey_id}' here")
    forms = [store.load_form(survey_id, version) for version in versions]
    kept = {record["instance_id"] for record in store.iter_submissions(survey_id, filters)}
    rows = [row for row in store.paradata_rows(survey_id) if row.instance_id in kept]
    return write_paradata(rows, question_order(forms), target, file_format)

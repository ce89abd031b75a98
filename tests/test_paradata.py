"""Paradata: how each questionnaire was filled (issue 17, part 4).

A resident's walk on the kiosk screens (Textual Pilot, a real kiosk database) is recorded
step by step and stored with the submission; the speeder and straight-lining flags are
read from generated submissions; a long form's record stays bounded; the export writes it.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from kiosk.cli import main
from kiosk.config import KioskConfig
from store import KioskStore, open_store
from surveys import paradata as paradata_module
from surveys.paradata import MAX_EVENTS, Paradata, ParadataRecord
from surveys.session import FormSession, Submission
from surveys.xlsform import compile_xlsform
from tests.formbuilder import write_form
from tests.gated import gated_one
from tests.test_app_flow import (
    SIZE,
    keys,
    next_screen,
    on_screen,
    screen_text,
    tap,
    tap_form,
    type_into,
    wait_for,
)

IDLE_TITLE = "还在吗？请点屏幕继续"
HOME_HINT = "请点一下您要填写的问卷"
LIKERT = ["q1", "q2", "q3", "q4", "q5"]
# What an event may hold: never an answer, only names, kinds and times.
EVENT_KEYS = {"k", "n", "s", "e", "t", "also", "out", "lost", "q", "cut"}


def write_likert_form(path: Path, form_id: str = "para", review: str = "") -> Path:
    """Five Likert questions (1–5), then a name (pii); a draft left idle is kept;
    ``review`` yes: a review step before 提交."""
    survey = [["type", "name", "label::中文 (zh)", "appearance", "pii"]]
    for number, name in enumerate(LIKERT, start=1):
        survey.append(["select_one sat", name, f"第{number}题，您满意吗？", "likert", ""])
    survey.append(["text", "nm", "您的姓名", "", "yes"])
    choices = [["list_name", "name", "label::中文 (zh)"]]
    choices += [["sat", str(score), label] for score, label in
                enumerate(["很不满意", "不满意", "一般", "满意", "很满意"], start=1)]
    settings = [["form_title", "form_id", "version", "default_language", "draft_on_idle",
                 "review"],
                ["过程数据测试", form_id, "1", "中文 (zh)", "keep", review]]
    return write_form(path, survey, choices, settings)


@pytest.fixture
def para_store(tmp_path: Path) -> KioskStore:
    store = open_store(tmp_path / "kiosk.db")
    store.install_form(compile_xlsform(write_likert_form(tmp_path / "para.xlsx")))
    store.install_form(compile_xlsform(
        write_likert_form(tmp_path / "reviewed.xlsx", "reviewed", review="yes")))
    yield store
    store.close()


def kiosk(store: KioskStore, **options: Any) -> Any:
    from kiosk.app import KioskApp

    settings: dict[str, Any] = {
        "home_after": 600, "tap_guard": 0.0, "animations": False, "cursor_blink": False,
        "config": KioskConfig(station_name="梁丰社区社工站", kiosk_id="hall-1",
                              surveys=("para", "reviewed")),
        "idle_seconds": 600, "countdown_seconds": 30}
    settings.update(options)
    return KioskApp(store, **settings)


def stored_row(store: KioskStore) -> tuple[str, str]:
    """The one paradata row's instance id and its raw events text."""
    rows = store.conn.execute("SELECT instance_id, events FROM paradata").fetchall()
    assert len(rows) == 1, rows
    return rows[0]


# ---- a resident's walk, recorded ---------------------------------------------------------


async def test_a_walk_on_the_screens_is_recorded_as_it_was_taken(para_store: KioskStore):
    app = kiosk(para_store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "para")
        assert on_screen(app) == ["q1"]
        await keys(pilot, "3")
        await next_screen(pilot)
        await keys(pilot, "4")
        await next_screen(pilot)
        await keys(pilot, "2")
        await keys(pilot, "5")  # changed: 不满意 → 很满意
        await next_screen(pilot)
        await keys(pilot, "1")
        await tap(pilot, "#back")
        assert on_screen(app) == ["q3"]
        await tap(pilot, "#back")
        assert on_screen(app) == ["q2"]
        await keys(pilot, "4")  # the same answer again: not a change
        await next_screen(pilot)
        await next_screen(pilot)
        await next_screen(pilot)
        assert on_screen(app) == ["q5"]
        await keys(pilot, "2")
        await next_screen(pilot)
        await type_into(pilot, "nm", "王小明")
        await next_screen(pilot)
        assert "谢谢" in screen_text(app)

    instance_id, events_text = stored_row(para_store)
    found = para_store.paradata_of(instance_id)
    assert found is not None
    record = found.record
    assert (record.answer_changes, record.back_steps, record.interruptions) == (1, 2, 0)
    assert record.visited() == ["q1", "q2", "q3", "q4", "q3", "q2", "q3", "q4", "q5", "nm"]
    kinds = [event["k"] for event in record.events]
    assert kinds.count("change") == 1 and kinds.count("back") == 2
    assert [event["n"] for event in record.events if event["k"] == "change"] == ["q3"]
    assert [event["n"] for event in record.events if event["k"] == "back"] == ["q4", "q3"]
    steps = [(event["k"], event["n"]) for event in record.events
             if event["k"] in ("question", "change", "back")]
    assert steps == [("question", "q1"), ("question", "q2"), ("question", "q3"),
                     ("change", "q3"), ("question", "q4"), ("back", "q4"), ("question", "q3"),
                     ("back", "q3"), ("question", "q2"), ("question", "q3"),
                     ("question", "q4"), ("question", "q5"), ("question", "nm")]
    assert kinds[-2:] == ["end", "totals"]
    # The times follow one another, and the total is the end's.
    visits = [event for event in record.events if event["k"] == "question"]
    assert all(a["e"] <= b["s"] for a, b in itertools.pairwise(visits))
    assert record.seconds == record.events[-2]["t"] / 1000
    assert set(record.question_seconds()) == {*LIKERT, "nm"}
    # No answer was kept, the pii name least of all.
    assert "王小明" not in events_text
    assert all(set(event) <= EVENT_KEYS for event in record.events)
    assert found.survey_id == "para" and found.version == "1"
    assert found.flags == []  # one questionnaire: nothing to compare with; not straight


async def test_an_idle_interruption_is_counted(para_store: KioskStore):
    app = kiosk(para_store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "para")
        await keys(pilot, "3")
        app.idle_seconds = 0.5
        await wait_for(pilot, lambda: IDLE_TITLE in screen_text(app))
        await pilot.click(offset=(10, 5))
        await pilot.pause()
        app.idle_seconds = 600
        assert IDLE_TITLE not in screen_text(app) and on_screen(app) == ["q1"]
        for key in ("3", "3", "3", "3"):
            await next_screen(pilot)
            await keys(pilot, key)
        await next_screen(pilot)
        await next_screen(pilot)  # the name left empty: 完成
        assert "谢谢" in screen_text(app)

    found = para_store.paradata_of(stored_row(para_store)[0])
    assert found is not None
    assert found.record.interruptions == 1
    idle = [event for event in found.record.events if event["k"] == "idle"]
    assert len(idle) == 1 and idle[0]["s"] <= idle[0]["e"] and "out" not in idle[0]
    # Five Likert answers, every one 一般: straight-lined.
    assert found.flags == ["straight_line"]


async def test_a_kept_draft_continued_on_the_same_kiosk_carries_its_paradata_on(
        para_store: KioskStore):
    app = kiosk(para_store, countdown_seconds=0.5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "para")
        await keys(pilot, "2")
        await next_screen(pilot)
        await keys(pilot, "4")
        instance_id = app.current_session.instance_id
        app.idle_seconds = 0.3
        await wait_for(pilot, lambda: HOME_HINT in screen_text(app))
        app.idle_seconds = 600
        assert [draft["instance_id"] for draft in para_store.open_drafts()] == [instance_id]
        app.resume_draft(instance_id)
        await pilot.pause()
        assert on_screen(app) == ["q2"]
        for _ in range(5):
            await next_screen(pilot)
        assert "谢谢" in screen_text(app)

    found = para_store.paradata_of(instance_id)
    assert found is not None
    record = found.record
    assert record.visited() == ["q1", "q2", "q2", "q3", "q4", "q5", "nm"]
    assert record.interruptions == 1
    assert [event.get("out") for event in record.events if event["k"] == "idle"] == [True]
    resumed = [event for event in record.events if event["k"] == "resume"]
    assert len(resumed) == 1 and "lost" not in resumed[0]
    assert record.complete  # all its time was seen: it is compared with the others


async def test_the_review_step_and_a_change_made_from_it_are_recorded(para_store: KioskStore):
    from textual.widgets import Button

    app = kiosk(para_store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "reviewed")
        for key in ("1", "2", "3", "4", "5"):
            await keys(pilot, key)
            await next_screen(pilot)
        await next_screen(pilot)  # no name: to the review step
        change = [button for button in app.screen.query(Button).results(Button)
                  if button.name == "q2"]
        assert change, screen_text(app)
        await tap(pilot, change[0])  # 修改 the second answer
        assert on_screen(app) == ["q2"]
        await keys(pilot, "1")
        await next_screen(pilot)  # 回到核对
        await tap(pilot, "#submit")
        assert "谢谢" in screen_text(app)

    record = para_store.paradata_of(stored_row(para_store)[0]).record
    assert record.visited() == ["q1", "q2", "q3", "q4", "q5", "nm", "q2"]
    assert [event["k"] for event in record.events if event["k"] in ("review", "jump")] == [
        "review", "jump", "review"]
    assert [event["n"] for event in record.events if event["k"] == "jump"] == ["q2"]
    assert (record.answer_changes, record.back_steps) == (1, 0)


# ---- the flags, from generated submissions ------------------------------------------------


def submission(store: KioskStore, number: int, answers: dict[str, Any],
               kiosk_id: str = "hall-1") -> Any:
    return gated_one(store, Submission(
        instance_id=str(uuid.UUID(int=number, version=4)), survey="para", version="1",
        started="2026-11-20T09:00:00.000+08:00",
        completed=f"2026-11-20T10:{number % 60:02d}:00.000+08:00", lang="zh",
        answers=answers, kiosk=kiosk_id))


def varied(number: int) -> dict[str, Any]:
    return {name: str((number + index) % 5 + 1) for index, name in enumerate(LIKERT)}


def record_of(seconds: float, events: list[dict[str, Any]] | None = None) -> ParadataRecord:
    return ParadataRecord(seconds=seconds, answer_changes=0, back_steps=0, interruptions=0,
                          events=events or [])


def instance(number: int) -> str:
    return str(uuid.UUID(int=number, version=4))


def test_the_speeder_flag_fires_on_a_fast_submission_and_not_on_normal_ones(
        para_store: KioskStore):
    store = para_store
    for number in range(1, 5):
        store.save_submission_with_paradata(submission(store, number, varied(number)),
                                            record_of(100 + 10 * number))
    store.save_submission_with_paradata(submission(store, 50, varied(50)), record_of(20))
    # Five to compare with: too few, nobody is called fast yet.
    assert store.paradata_flags("para") == {instance(n): [] for n in (1, 2, 3, 4, 50)}

    for number in range(5, 13):
        store.save_submission_with_paradata(submission(store, number, varied(number)),
                                            record_of(100 + 10 * number))
    flags = store.paradata_flags("para")
    assert len(flags) == 13
    assert flags[instance(50)] == ["speeder"]  # 20 s against a median of 160 s
    assert all(flags[instance(number)] == [] for number in range(1, 13))
    assert store.paradata_of(instance(50)).flags == ["speeder"]
    # A draft continued elsewhere (its first time lost) is neither compared nor flagged.
    lost = record_of(5, [{"k": "resume", "t": 0, "lost": True}])
    store.save_submission_with_paradata(submission(store, 51, varied(51)), lost)
    assert store.paradata_flags("para")[instance(51)] == []


def test_straight_lining_on_likert_questions_is_flagged(para_store: KioskStore):
    store = para_store
    cases = {
        60: {name: "4" for name in LIKERT},  # every one 满意
        61: {"q1": "4", "q2": "4", "q3": "4"},  # three only: too few to say
        62: {**{name: "4" for name in LIKERT}, "q5": "5"},
        63: {"q1": "2", "q2": "2", "q3": "2", "q4": "2", "nm": "张三"},
    }
    for number, answers in cases.items():
        store.save_submission_with_paradata(submission(store, number, answers),
                                            record_of(120))
    flags = store.paradata_flags("para")
    assert flags == {instance(60): ["straight_line"], instance(61): [],
                     instance(62): [], instance(63): ["straight_line"]}


def test_without_paradata_nothing_is_found_and_the_submission_is_stored_as_ever(
        para_store: KioskStore):
    store = para_store
    code = store.save_submission_with_paradata(submission(store, 70, varied(70)), None)
    assert store.receipt_code_of(instance(70)) == code
    assert store.paradata_of(instance(70)) is None
    assert store.paradata_flags("para") == {}


def test_a_damaged_event_list_reads_as_none(para_store: KioskStore):
    store = para_store
    store.save_submission_with_paradata(submission(store, 71, varied(71)), record_of(90))
    store.conn.execute("UPDATE paradata SET events = '{not json' WHERE instance_id = ?",
                       (instance(71),))
    found = store.paradata_of(instance(71))
    assert found is not None and found.record.events == [] and found.record.seconds == 90


# ---- hostile: a long form walked back and forth ------------------------------------------


def test_the_paradata_of_a_300_question_form_stays_bounded(tmp_path: Path):
    survey = [["type", "name", "label::中文 (zh)", "appearance"]]
    survey += [["select_one sat", f"question_{number:03d}", f"第{number}题", "likert"]
               for number in range(300)]
    choices = [["list_name", "name", "label::中文 (zh)"], ["sat", "1", "好"], ["sat", "2", "差"]]
    settings = [["form_title", "form_id", "version", "default_language"],
                ["长问卷", "long", "1", "中文 (zh)"]]
    form_file = write_form(tmp_path / "long.xlsx", survey, choices, settings)
    store = open_store(tmp_path / "kiosk.db")
    store.install_form(compile_xlsform(form_file))
    form = store.load_form("long")
    moments = iter(range(10**9))
    recorder = Paradata(clock=lambda: next(moments) / 10)  # 0.1 s a step
    session = FormSession(form, "zh")
    # Forward answering each question twice (the second a change), back to the start,
    # forward again: ~2,400 things happened.
    for walk in range(2):
        while not session.at_end:
            name = session.screen.questions[0].name
            recorder.enter([name])
            for value in ("1", "2"):
                before = session.raw(name)
                session.answer(name, value)
                recorder.answered(name, before, session.raw(name))
            session.next()
        if walk == 0:
            session.back()
            while not session.is_first:
                recorder.enter([session.screen.questions[0].name])
                recorder.back()
                session.back()
    record = recorder.finish()
    assert record.answer_changes == 600 + 300  # the second walk changed "2" → "1" → "2"
    assert record.back_steps == 299
    assert len(record.events) == MAX_EVENTS + 1  # capped, and the totals after them
    totals = record.events[-1]
    assert totals["k"] == "totals" and totals["cut"] > 1000
    assert len(totals["q"]) == 300  # every question's time still counted
    assert len(json.dumps(record.events)) < 150_000

    checked = store.record_gate().check_submission(session.finish())
    store.save_submission_with_paradata(checked, record)
    found = store.paradata_of(checked.instance_id)
    assert found is not None and len(found.record.question_seconds()) == 300
    assert found.flags == ["straight_line"]  # every one 差 in the end
    store.close()


# ---- the export ------------------------------------------------------------------------------


def export(db: Path, *args: str) -> Any:
    return CliRunner().invoke(main, ["--db", str(db), "export", *args])


def test_export_paradata_csv_reads_back_with_flags_and_no_answers(para_store: KioskStore,
                                                                   tmp_path: Path):
    store = para_store
    for number in range(1, 13):
        store.save_submission_with_paradata(
            submission(store, number, {**varied(number), "nm": "王小明"},
                       kiosk_id="hall-2" if number % 2 else "hall-1"),
            record_of(100 + 10 * number, [
                {"k": "question", "n": "q1", "s": 0, "e": 4000},
                {"k": "end", "t": 9000},
                {"k": "totals", "q": {"q1": 4000, "nm": 5000}, "cut": 0}]))
    store.save_submission_with_paradata(submission(store, 50, {n: "1" for n in LIKERT}),
                                        record_of(15))
    store.save_submission_with_paradata(submission(store, 80, varied(80)), None)
    db = Path(store.path)

    result = export(db, "para", "--paradata", "-o", str(tmp_path / "paradata.csv"))
    assert result.exit_code == 0, result.output
    raw = (tmp_path / "paradata.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert len(rows) == 13  # the one without paradata has no row
    header = list(rows[0])
    assert header[:9] == ["instance_id", "survey_id", "version", "completed", "seconds",
                          "answer_changes", "back_steps", "interruptions", "flags"]
    assert header[9:] == [f"{name}_seconds" for name in [*LIKERT, "nm"]]
    by_id = {row["instance_id"]: row for row in rows}
    assert by_id[instance(50)]["flags"] == "speeder straight_line"
    assert by_id[instance(1)]["flags"] == "" and by_id[instance(1)]["seconds"] == "110.0"
    assert by_id[instance(1)]["q1_seconds"] == "4.0" and by_id[instance(1)]["nm_seconds"] == "5.0"
    assert by_id[instance(1)]["completed"].startswith("2026-11-20T10:01")
    assert "王小明" not in raw.decode("utf-8-sig")

    # The same filters as the other exports.
    result = export(db, "para", "--paradata", "--kiosk", "hall-2", "-o",
                    str(tmp_path / "hall2.jsonl"))
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in
             (tmp_path / "hall2.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted(line["instance_id"] for line in lines) == sorted(
        instance(number) for number in range(1, 13, 2))
    assert lines[0]["events"][-1]["k"] == "totals"

    result = export(db, "para", "--paradata", "-o", str(tmp_path / "paradata.xlsx"))
    assert result.exit_code == 0, result.output
    sheet = load_workbook(tmp_path / "paradata.xlsx", read_only=True).active
    table = list(sheet.iter_rows(values_only=True))
    assert table[0][:2] == ("instance_id", "survey_id") and len(table) == 14

    result = export(db, "para", "--paradata", "-o", str(tmp_path / "paradata.sav"))
    assert result.exit_code != 0 and "--paradata" in result.output
    assert not (tmp_path / "paradata.sav").exists()
    result = export(db, "nosuch", "--paradata", "-o", str(tmp_path / "none.csv"))
    assert result.exit_code != 0 and "nosuch" in result.output
    assert "Traceback" not in result.output


def test_the_recorder_alone_counts_only_real_changes():
    now = [0.0]
    recorder = Paradata(clock=lambda: now[0])
    recorder.enter(["a", "b"])  # a field-list screen of two questions
    now[0] = 1.0
    recorder.answered("a", "", "x")  # a first answer
    recorder.answered("a", "x", "x")  # the same again
    recorder.answered("b", "p", "p q", multiple=True)  # one more ticked
    recorder.answered("b", "p q", "q", multiple=True)  # one taken away: changed
    recorder.enter(["a", "b"])  # shown again in place: the same visit
    record = recorder.finish()
    assert record.answer_changes == 1
    assert record.question_seconds() == {"a": 0.5, "b": 0.5}  # its second shared evenly
    assert paradata_module.summary([]) == {"questionnaires": 0, "median_seconds": None,
                                           "flagged": {"speeder": 0, "straight_line": 0}}

"""Review before counting (issue 17): review states and corrections on a real kiosk database,
every figure checked against pandas on the same data with the same decisions applied."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from store import KioskStore
from surveys.review import ReviewError, review_states
from surveys.stats.figures import survey_statistics
from surveys.stats.model import StatsFilter
from tests import stats_data
from tests.gated import gated
from tests.stats_data import SURVEY
from tests.test_stats import FILTERS, check_figures, select

COUNT = 800
VOID = 40
STAFF = "王社工"


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame, dict]:
    """A database whose submissions staff reviewed: some approved, some questioned, VOID
    voided (one of them voided, restored, voided again), some corrected (one of them void);
    and the pandas frame of what the figures should count, made from the records."""
    directory = tmp_path_factory.mktemp("reviews")
    path = directory / "kiosk.db"
    submissions = stats_data.generate(COUNT, seed=11)
    rng = random.Random(5)
    with KioskStore(path) as store:
        for compiled in stats_data.compiled_versions(directory):
            store.install_form(compiled)
        store.insert_submissions(gated(store, submissions))
        ids = [submission.instance_id for submission in submissions]
        voided = rng.sample(ids, VOID)
        for instance_id in voided:
            store.set_review(instance_id, "void", "测试填写，不算数", staff=STAFF, kiosk="hall-1")
        store.set_review(voided[0], "approved", "看错了，恢复", staff=STAFF)
        store.set_review(voided[0], "作废", "确认是重复填写", staff=STAFF)
        kept = [instance_id for instance_id in ids if instance_id not in voided]
        for instance_id in kept[:100]:
            store.set_review(instance_id, "approved", staff=STAFF)
        for instance_id in kept[100:120]:
            store.set_review(instance_id, "有问题", "年龄和类别对不上", staff=STAFF)
        corrected: dict[str, dict[str, Any]] = {}
        for instance_id in [*kept[115:155], voided[1]]:
            record = store.submission_record(instance_id)
            assert record is not None
            answers = dict(record["answers"])
            group = rng.choice([g for g in stats_data.GROUPS if g != answers["group"]])
            store.add_correction(instance_id, "group", group, "居民来电更正", staff=STAFF)
            answers["group"] = group
            store.add_correction(instance_id, "age", "一百零二", "按身份证登记", staff=STAFF)
            answers["age"] = 102
            if "sat" in answers:
                store.add_correction(instance_id, "sat", "", "误点，居民未作答", staff=STAFF)
                del answers["sat"]
            corrected[instance_id] = answers
    rows = []
    for submission in submissions:
        answers = corrected.get(submission.instance_id, submission.answers)
        rows.append(type(submission)(**{**submission.__dict__, "answers": answers}))
    table = stats_data.frame(rows)
    table["void"] = table["instance_id"].isin(voided)
    return path, table, {"voided": voided, "corrected": corrected, "kept": kept}


@pytest.fixture
def store(reviewed: tuple[Path, pd.DataFrame, dict]) -> KioskStore:
    opened = KioskStore(reviewed[0])
    yield opened
    opened.close()


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: str(f.to_json()))
def test_void_submissions_are_left_out_and_corrections_counted(
        store: KioskStore, reviewed: tuple[Path, pd.DataFrame, dict], filters: StatsFilter):
    table = reviewed[1]
    stats = survey_statistics(store, SURVEY, filters)
    check_figures(stats, select(table[~table["void"]], filters))


@pytest.mark.parametrize("states", [("void",), ("approved",), ("questioned",), ("pending",),
                                    ("all",), ("approved", "pending")])
def test_the_review_filter_brings_back_what_it_names(
        store: KioskStore, reviewed: tuple[Path, pd.DataFrame, dict], states: tuple[str, ...]):
    table, decided = reviewed[1], reviewed[2]
    kept = decided["kept"]
    state_of = dict.fromkeys(table["instance_id"], "pending")
    state_of.update(dict.fromkeys(kept[:100], "approved"))
    state_of.update(dict.fromkeys(kept[100:120], "questioned"))
    state_of.update(dict.fromkeys(decided["voided"], "void"))
    wanted = review_states(states)
    expected = table[table["instance_id"].map(state_of).isin(wanted)]
    for where in ({}, {"group": "elderly"}):
        filters = StatsFilter(review=wanted, where=where)
        check_figures(survey_statistics(store, SURVEY, filters), select(expected, filters))
        exported = [record["instance_id"] for record in store.iter_submissions(SURVEY, filters)]
        assert sorted(exported) == sorted(select(expected, filters)["instance_id"])


def test_exports_leave_void_out_and_carry_the_corrected_answers(
        store: KioskStore, reviewed: tuple[Path, pd.DataFrame, dict]):
    decided = reviewed[2]
    records = {record["instance_id"]: record for record in store.iter_submissions(SURVEY)}
    assert len(records) == COUNT - VOID
    assert not set(decided["voided"]) & set(records)
    for instance_id, answers in decided["corrected"].items():
        if instance_id in records:
            assert records[instance_id]["answers"] == answers


def test_a_correction_keeps_the_original_and_its_history(
        store: KioskStore, reviewed: tuple[Path, pd.DataFrame, dict]):
    instance_id, answers = next(iter(reviewed[2]["corrected"].items()))
    history = store.review_history(instance_id)
    original = store.submission_record(instance_id)
    assert original is not None
    assert history["original"] == original["answers"]  # the stored answers never change
    assert original["answers"]["group"] != answers["group"]
    assert history["corrected"] == answers
    first = history["corrections"][0]
    assert (first["question"], first["old"], first["new"]) == (
        "group", original["answers"]["group"], answers["group"])
    assert first["why"] == "居民来电更正" and first["staff"] == STAFF
    assert [entry["question"] for entry in history["corrections"]][:2] == ["group", "age"]
    assert history["corrections"][1]["new"] == 102  # 一百零二, as a resident would write it
    audit = [entry for entry in store.audit_entries(actions=["correct"])
             if entry["target"] == instance_id]
    assert len(audit) == len(history["corrections"]) and audit[0]["staff"] == STAFF


def test_the_newest_decision_is_the_state(store: KioskStore,
                                          reviewed: tuple[Path, pd.DataFrame, dict]):
    voided = reviewed[2]["voided"]
    history = store.review_history(voided[0])
    assert [entry["state"] for entry in history["reviews"]] == ["void", "approved", "void"]
    assert history["state"] == "void"
    assert store.review_counts(SURVEY) == {"pending": COUNT - VOID - 120, "approved": 100,
                                           "questioned": 20, "void": VOID}
    queue = store.review_queue(SURVEY, ["questioned"])
    assert len(queue) == 20 and {entry["note"] for entry in queue} == {"年龄和类别对不上"}


def test_voiding_and_restoring_gives_back_the_same_figures(tmp_path: Path):
    submissions = stats_data.generate(200, seed=3)
    with KioskStore(tmp_path / "kiosk.db") as store:
        for compiled in stats_data.compiled_versions(tmp_path):
            store.install_form(compiled)
        store.insert_submissions(gated(store, submissions))
        before = survey_statistics(store, SURVEY, StatsFilter())
        tallies = store.conn.execute("SELECT * FROM stats_tally_day ORDER BY 1, 2, 3, 4"
                                     ).fetchall()
        for submission in submissions[:50]:
            store.set_review(submission.instance_id, "void", "重复", staff=STAFF)
        assert survey_statistics(store, SURVEY, StatsFilter())["n"] == 150
        for submission in submissions[:50]:
            store.set_review(submission.instance_id, "approved", staff=STAFF)
        assert survey_statistics(store, SURVEY, StatsFilter()) == before
        assert store.conn.execute("SELECT * FROM stats_tally_day ORDER BY 1, 2, 3, 4"
                                  ).fetchall() == tallies  # no rows of count 0 left behind


@pytest.mark.parametrize(("question", "value", "message"), [
    ("nope", "1", "不在这份问卷里"),
    ("group", "martian", "没有选项"),
    ("age", "很老", "要填数字"),
    ("visit", "2026-13-45", "不符合问卷规则"),
    ("group", "", "不符合问卷规则"),  # required: a correction cannot take it away
    ("comment", "楼道\x1b[2J灯", "不符合问卷规则"),
])
def test_a_correction_the_form_would_refuse_is_refused(tmp_path: Path, question: str,
                                                       value: str, message: str):
    submissions = stats_data.generate(5, seed=1)
    with KioskStore(tmp_path / "kiosk.db") as store:
        for compiled in stats_data.compiled_versions(tmp_path):
            store.install_form(compiled)
        store.insert_submissions(gated(store, submissions))
        target = submissions[0].instance_id
        figures = survey_statistics(store, SURVEY, StatsFilter())
        with pytest.raises(ReviewError, match=message):
            store.add_correction(target, question, value, "试一试", staff=STAFF)
        assert store.review_history(target)["corrections"] == []
        assert survey_statistics(store, SURVEY, StatsFilter()) == figures


@pytest.mark.parametrize(("state", "note", "staff", "message"), [
    ("maybe", "", STAFF, "没有审核状态"),
    ("void", "", STAFF, "请写明审核说明"),
    ("questioned", "x" * 501, STAFF, "太长"),
    ("approved", "好\x07", STAFF, "控制字符"),
    ("approved", "", "", "请写明审核人"),
    ("approved", "", "\u202eadmin", "方向字符"),
])
def test_a_review_decision_staff_typed_wrong_is_refused(tmp_path: Path, state: str, note: str,
                                                        staff: str, message: str):
    submissions = stats_data.generate(3, seed=1)
    with KioskStore(tmp_path / "kiosk.db") as store:
        for compiled in stats_data.compiled_versions(tmp_path):
            store.install_form(compiled)
        store.insert_submissions(gated(store, submissions))
        with pytest.raises(ReviewError, match=message):
            store.set_review(submissions[0].instance_id, state, note, staff=staff)
        with pytest.raises(ReviewError, match="没有这份问卷"):
            store.set_review("' OR 1=1 --", "approved", staff=STAFF)
        assert store.review_counts(SURVEY)["pending"] == 3


REVIEWER = """
import random, sys
from store import KioskStore
from tests import stats_data
from tests.gated import gated

path, count = sys.argv[1], int(sys.argv[2])
rng = random.Random(4)
submissions = stats_data.generate(count, seed=41)
with KioskStore(path) as store:
    for start in range(0, count, 50):
        batch = submissions[start:start + 50]
        store.insert_submissions(gated(store, batch))
        for submission in rng.sample(batch, 5):
            store.set_review(submission.instance_id, "void", "重复", staff="李社工")
        for submission in rng.sample(batch, 3):
            state = store.review_state_of(submission.instance_id)
            if state == "void":
                store.set_review(submission.instance_id, "approved", "看错了", staff="李社工")
            group = "youth" if submission.answers["group"] != "youth" else "other"
            store.add_correction(submission.instance_id, "group", group, "来电更正",
                                 staff="李社工")
"""


def test_figures_agree_in_every_snapshot_while_staff_review_and_a_kiosk_stores(
        tmp_path: Path):
    """Another process stores submissions, voids some, restores and corrects others; every
    read in one snapshot sees counts that agree: the counted and the void ones make all,
    each group's filtered figures and the cross-tab add up, the export holds the counted."""
    import subprocess
    import sys

    path = tmp_path / "kiosk.db"
    with KioskStore(path) as store:
        for compiled in stats_data.compiled_versions(tmp_path):
            store.install_form(compiled)
    count = 1500
    writer = subprocess.Popen([sys.executable, "-c", REVIEWER, str(path), str(count)],
                              cwd=Path(__file__).parents[1])
    seen = []
    with KioskStore(path) as store:
        try:
            while writer.poll() is None or not seen:
                with store.read_snapshot():
                    counted = survey_statistics(store, SURVEY, by="group", question="sat")
                    void = survey_statistics(store, SURVEY, StatsFilter(review=("void",)))
                    every = survey_statistics(store, SURVEY,
                                              StatsFilter(review=review_states(["all"])))
                    groups = {group: survey_statistics(
                        store, SURVEY, StatsFilter(where={"group": group}))["n"]
                        for group in stats_data.GROUPS}
                    exported = sum(1 for _ in store.iter_submissions(SURVEY))
                    counts = store.review_counts(SURVEY)
                n = counted["n"]
                assert n + void["n"] == every["n"] == sum(counts.values())
                assert void["n"] == counts["void"] and exported == n
                assert counted["questions"]["group"]["counts"] == groups
                table = counted["crosstab"]["table"]
                assert sum(map(sum, (row.values() for row in table.values()))) == \
                    counted["questions"]["sat"]["n"]
                seen.append(every["n"])
        finally:
            writer.wait(timeout=300)
        assert writer.returncode == 0
        assert survey_statistics(store, SURVEY, StatsFilter(review=review_states(["all"])))[
            "n"] == count
    assert seen == sorted(seen) and len(set(seen)) > 2  # reads happened while it wrote


def test_decisions_and_corrections_in_one_millisecond_keep_the_order_they_were_made(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The clock standing still (or set back) between two decisions: the newest decision is
    the one made last, and so is the corrected answer, here as at the central database,
    which orders them by time too."""
    import store.sqlite.reviews as reviews_module

    submission = stats_data.generate(1, seed=4)[0]
    with KioskStore(tmp_path / "kiosk.db") as store:
        for compiled in stats_data.compiled_versions(tmp_path):
            store.install_form(compiled)
        store.insert_submissions(gated(store, [submission]))
        instance_id = submission.instance_id
        for stamp in ("2026-12-07T09:00:00.000+08:00", "2026-12-07T08:59:00.000+08:00"):
            monkeypatch.setattr(reviews_module, "now_stamp", lambda stamp=stamp: stamp)
            for state in ("void", "approved", "void", "approved"):
                store.set_review(instance_id, state, "重复" if state == "void" else "",
                                 staff=STAFF)
            for group in ("youth", "elderly", "other"):
                store.add_correction(instance_id, "group", group, "更正", staff=STAFF)
        history = store.review_history(instance_id)
        assert [entry["state"] for entry in history["reviews"]] == [
            "void", "approved", "void", "approved"] * 2
        stamps = [entry["at"] for entry in history["reviews"]]
        assert stamps == sorted(stamps) and len(set(stamps)) == 8
        assert store.review_state_of(instance_id) == "approved"
        assert history["corrected"]["group"] == "other"
        assert survey_statistics(store, SURVEY, StatsFilter())["questions"]["group"][
            "counts"]["other"] == 1

"""The bitmaps of submissions (store/bitmaps.py, store/sqlite/bitmaps.py) on real SQLite
files, with pieces of 32 submissions instead of 65,536, so that a few thousand span many:
every figure under every filter against pandas, the bitmaps kept as rows arrive equal to
those built again from the flat table, and a reader's cache following other writers, its
own writes and a rollback."""

from __future__ import annotations

import math
import random
import sqlite3
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyroaring import BitMap

import store.bitmaps
from store import KioskStore
from store.sqlite.tallies import flat_table
from surveys.clock import day_of
from surveys.stats.figures import survey_statistics
from surveys.stats.model import StatsFilter, catalogue
from tests import stats_data
from tests.gated import gated, gated_one, stored_before_the_gate
from tests.stats_data import SURVEY
from tests.test_stats import CHOICES, FILTERS, check_figures, select

STAFF = "王社工"


@pytest.fixture(scope="module")
def small_pieces() -> Any:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(store.bitmaps, "CHUNK_BITS", 5)
        yield


def stored_in_bulk_then_one_by_one(kiosk: KioskStore, directory: Path,
                                   bulk: list[Any], one_by_one: list[Any]) -> None:
    """The test survey's versions installed, ``bulk`` stored in one batch, then each of
    ``one_by_one`` as the kiosk saves a questionnaire."""
    for compiled in stats_data.compiled_versions(directory):
        kiosk.install_form(compiled)
    kiosk.insert_submissions(gated(kiosk, bulk))
    for submission in one_by_one:
        kiosk.save_submission(gated_one(kiosk, submission))


@pytest.fixture(scope="module")
def reviewed(small_pieces: None, tmp_path_factory: pytest.TempPathFactory
             ) -> tuple[Path, pd.DataFrame]:
    """1,500 submissions (bulk and one at a time) in 47 pieces, 60 of them void, some
    approved, some corrected; the pandas frame of what the figures should count."""
    directory = tmp_path_factory.mktemp("bitmaps")
    path = directory / "kiosk.db"
    submissions = stats_data.generate(1500, seed=21)
    rng = random.Random(8)
    with KioskStore(path) as kiosk:
        stored_in_bulk_then_one_by_one(kiosk, directory, submissions[:1000],
                                       submissions[1000:1100])
        kiosk.insert_submissions(gated(kiosk, submissions[1100:]))
        ids = [submission.instance_id for submission in submissions]
        voided = rng.sample(ids, 60)
        for instance_id in voided:
            kiosk.set_review(instance_id, "void", "重复填写", staff=STAFF)
        kiosk.set_review(voided[0], "approved", "恢复", staff=STAFF)
        for instance_id in ids[:200:3]:
            if instance_id != voided[0] and instance_id not in voided:
                kiosk.set_review(instance_id, "approved", staff=STAFF)
        corrected: dict[str, dict[str, Any]] = {}
        for instance_id in rng.sample([i for i in ids if i not in voided], 50):
            record = kiosk.submission_record(instance_id)
            assert record is not None
            answers = dict(record["answers"])
            group = rng.choice([g for g in stats_data.GROUPS if g != answers["group"]])
            kiosk.add_correction(instance_id, "group", group, "居民来电更正", staff=STAFF)
            answers["group"] = group
            corrected[instance_id] = answers
    rows = [type(submission)(**{**submission.__dict__,
                                "answers": corrected.get(submission.instance_id,
                                                         submission.answers)})
            for submission in submissions]
    table = stats_data.frame(rows)
    table = table[~table["instance_id"].isin(voided[1:])]
    return path, table


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: str(f.to_json()))
def test_every_figure_matches_pandas_across_many_pieces(
        reviewed: tuple[Path, pd.DataFrame], filters: StatsFilter):
    path, table = reviewed
    with KioskStore(path) as kiosk:
        assert kiosk.conn.execute("SELECT count(DISTINCT chunk) FROM stats_bitmaps"
                                  ).fetchone()[0] == 47
        check_figures(survey_statistics(kiosk, SURVEY, filters), select(table, filters))
        crosstab = survey_statistics(kiosk, SURVEY, filters, by="group",
                                     question="sat")["crosstab"]
    chosen = select(table, filters)[["group", "sat"]].dropna()
    expected = pd.crosstab(chosen["group"], chosen["sat"])
    for group in CHOICES["group"]:
        for choice in CHOICES["sat"]:
            count = int(expected.at[group, choice]) if group in expected.index \
                and choice in expected.columns else 0
            assert crosstab["table"][group][choice] == count, (group, choice)


def stored_bitmaps(connection: sqlite3.Connection) -> dict[tuple[Any, ...], BitMap]:
    return {(chunk, question, value): BitMap.deserialize(bits)
            for chunk, question, value, bits in connection.execute(
                "SELECT chunk, question, value, bits FROM stats_bitmaps")}


def test_bitmaps_kept_as_rows_arrive_equal_those_built_again(
        reviewed: tuple[Path, pd.DataFrame], tmp_path: Path):
    copy = tmp_path / "copy.db"
    with sqlite3.connect(reviewed[0]) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    with KioskStore(copy) as kiosk:
        kept = stored_bitmaps(kiosk.conn)
        questions = catalogue([kiosk.load_form(SURVEY, version)
                               for version in kiosk.versions(SURVEY)])
        with kiosk.transaction():
            kiosk.stats.bitmaps.rebuild(SURVEY, flat_table(SURVEY), [
                (name, question.kind) for name, question in questions.items()
                if not question.in_repeat])
        built = stored_bitmaps(kiosk.conn)
    assert kept == built
    assert {key[1] for key in built} >= {"", "#day", "#site", "#review", "group", "sat",
                                         "services", "age", "visit", "spend", "comment"}


def test_tallies_count_each_day_as_the_answers_stored_say(tmp_path: Path):
    """The tallies, counted from the keys the bitmaps get (a batch's day tallies as the
    rows of each day): equal to counting each stored submission's answers one by one, for
    a batch spanning 45 days out of order, single saves, and rows stored before the gate
    with NaN or an infinity (answered, no value counted; the bitmaps hold them as the
    flat row does: no answer)."""
    path = tmp_path / "kiosk.db"
    submissions = stats_data.generate(400, seed=5)
    odd = submissions[350:]
    for number, submission in enumerate(odd):
        submission.answers["spend"] = [math.nan, math.inf, -math.inf][number % 3]
        if number % 2:
            submission.answers["age"] = math.nan
    with KioskStore(path) as kiosk:
        stored_in_bulk_then_one_by_one(kiosk, tmp_path, submissions[:300],
                                       submissions[300:350])
        stored_before_the_gate(kiosk, odd)
        by_day: Counter[tuple[Any, ...]] = Counter()
        for submission in submissions:
            form = kiosk.load_form(SURVEY, submission.version)
            pairs: list[tuple[str, Any]] = [("", "")]
            for name, question in catalogue([form]).items():
                value = submission.answers.get(name)
                if question.in_repeat or value is None or value in ("", []):
                    continue
                pairs.append((name, ""))
                if question.kind == "select_multiple":
                    pairs += [(name, choice) for choice in value]
                elif question.kind in store.bitmaps.VALUE_KINDS and not (
                        isinstance(value, float) and not math.isfinite(value)):
                    pairs.append((name, value))
            by_day.update((day_of(submission.completed), *pair) for pair in pairs)
        total: Counter[tuple[Any, ...]] = Counter()
        for (_day, question, value), count in by_day.items():
            total[(question, value)] += count
        assert len({day for day, _question, _value in by_day}) > 40
        assert dict(by_day) == {(day, question, value): count for day, question, value, count
                                in kiosk.conn.execute("SELECT day, question, value, count"
                                                      " FROM stats_tally_day")}
        assert dict(total) == {(question, value): count for question, value, count
                               in kiosk.conn.execute("SELECT question, value, count"
                                                     " FROM stats_tally_total")}
        assert total[("spend", "")] == 400 - sum(
            "spend" not in submission.answers for submission in submissions)
        kept = stored_bitmaps(kiosk.conn)
        with kiosk.transaction():
            kiosk.stats.bitmaps.rebuild(SURVEY, flat_table(SURVEY), [
                (name, question.kind) for name, question in catalogue(
                    [kiosk.load_form(SURVEY, version) for version in kiosk.versions(SURVEY)]
                ).items() if not question.in_repeat])
        assert stored_bitmaps(kiosk.conn) == kept


def fresh_figures(path: Path, filters: StatsFilter, **options: Any) -> dict[str, Any]:
    """The figures a newly opened store reads (no cache yet)."""
    with KioskStore(path) as kiosk:
        return survey_statistics(kiosk, SURVEY, filters, **options)


def test_a_reader_follows_another_connection_and_its_own_writes(
        small_pieces: None, tmp_path: Path):
    path = tmp_path / "kiosk.db"
    submissions = stats_data.generate(400, seed=4)
    elderly = StatsFilter(where={"group": "elderly"})
    with KioskStore(path) as reader, KioskStore(path) as writer:
        for compiled in stats_data.compiled_versions(tmp_path):
            writer.install_form(compiled)
        writer.insert_submissions(gated(writer, submissions[:300]))
        first = survey_statistics(reader, SURVEY, elderly, by="group")  # the cache is warm
        writer.insert_submissions(gated(writer, submissions[300:350]))
        for submission in submissions[:30]:
            writer.set_review(submission.instance_id, "void", "重复", staff=STAFF)
        second = survey_statistics(reader, SURVEY, elderly, by="group")
        assert second != first
        assert second == fresh_figures(path, elderly, by="group")
        # Its own writes, one submission at a time (the newest piece only).
        for submission in submissions[350:]:
            reader.save_submission(gated_one(reader, submission))
        assert survey_statistics(reader, SURVEY, elderly, by="group") == fresh_figures(
            path, elderly, by="group")


class RolledBack(Exception):
    pass


def test_a_rolled_back_write_leaves_nothing_behind_in_the_cache(
        small_pieces: None, tmp_path: Path):
    """The reader saw its own write before the rollback; a different write then commits
    the same number of submissions: a stamp counting writes would come back to the value
    the cache holds, and the figures would be those of the write undone."""
    path = tmp_path / "kiosk.db"
    everyone = StatsFilter(review=("pending", "approved", "questioned"))
    with KioskStore(path) as kiosk:
        for compiled in stats_data.compiled_versions(tmp_path):
            kiosk.install_form(compiled)
        kiosk.insert_submissions(gated(kiosk, stats_data.generate(100, seed=1)))
        survey_statistics(kiosk, SURVEY, everyone)
        undone = stats_data.generate(20, seed=2)
        with pytest.raises(RolledBack), kiosk.transaction():
            kiosk.insert_submissions(gated(kiosk, undone))
            seen = survey_statistics(kiosk, SURVEY, everyone)
            assert seen["n"] == 120
            raise RolledBack
        kept = [submission for submission in stats_data.generate(60, seed=3)
                if submission.answers["group"] != undone[0].answers["group"]][:20]
        kiosk.insert_submissions(gated(kiosk, kept))
        after = survey_statistics(kiosk, SURVEY, everyone)
    assert after["n"] == 120
    assert after == fresh_figures(path, everyone)



@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return stats_data.compiled_versions(tmp_path_factory.mktemp("forms"))


_STEPS = st.one_of(
    st.tuples(st.just("bulk"), st.integers(1, 30)),
    st.tuples(st.just("one"), st.just(0)),
    st.tuples(st.sampled_from(["void", "restore", "correct"]), st.integers(0, 10_000)))


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=st.lists(_STEPS, min_size=1, max_size=14))
def test_any_order_of_stores_reviews_and_corrections_keeps_the_bitmaps_exact(
        compiled: list[dict[str, Any]], steps: list[tuple[str, int]]):
    """Pieces of 8 submissions: batches, single saves, voids, restorations and corrections
    in any order leave the bitmaps equal to those built again from the flat table, and every
    figure equal to that of a database holding only what is counted, stored at once."""
    submissions = stats_data.generate(200, seed=len(steps))
    stored: list[str] = []
    answers: dict[str, dict[str, Any]] = {}
    void: set[str] = set()
    with tempfile.TemporaryDirectory() as directory, pytest.MonkeyPatch.context() as patch:
        patch.setattr(store.bitmaps, "CHUNK_BITS", 3)
        with KioskStore(Path(directory) / "kiosk.db") as kiosk:
            for form in compiled:
                kiosk.install_form(form)
            for step, number in steps:
                if step in ("bulk", "one"):
                    batch = submissions[len(stored):len(stored) + (number or 1)]
                    if step == "bulk":
                        kiosk.insert_submissions(gated(kiosk, batch))
                    else:
                        for submission in batch:
                            kiosk.save_submission(gated_one(kiosk, submission))
                    stored += [submission.instance_id for submission in batch]
                    answers.update({s.instance_id: dict(s.answers) for s in batch})
                    continue
                if not stored:
                    continue
                target = stored[number % len(stored)]
                if step == "void":
                    kiosk.set_review(target, "void", "重复", staff=STAFF)
                    void.add(target)
                elif step == "restore":
                    kiosk.set_review(target, "approved", staff=STAFF)
                    void.discard(target)
                else:
                    group = stats_data.GROUPS[number % len(stats_data.GROUPS)]
                    if group != answers[target]["group"]:
                        kiosk.add_correction(target, "group", group, "更正", staff=STAFF)
                        answers[target]["group"] = group
            kept = stored_bitmaps(kiosk.conn)
            with kiosk.transaction():
                kiosk.stats.bitmaps.rebuild(SURVEY, flat_table(SURVEY), [
                    (name, question.kind) for name, question in catalogue(
                        [kiosk.load_form(SURVEY, version)
                         for version in kiosk.versions(SURVEY)]).items()
                    if not question.in_repeat])
            assert kept == stored_bitmaps(kiosk.conn)
            counted = [type(s)(**{**s.__dict__, "answers": answers[s.instance_id]})
                       for s in submissions if s.instance_id in stored
                       and s.instance_id not in void]
            # The same figures as a database that stored what is counted in one batch.
            with KioskStore(Path(directory) / "once.db") as once:
                for form in compiled:
                    once.install_form(form)
                once.insert_submissions(gated(once, counted))
                for filters in (StatsFilter(), StatsFilter(where={"group": "elderly"}),
                                StatsFilter(kiosks=("hall-2",)),
                                StatsFilter(where={"services": "b"}, sites=("九龙",))):
                    assert survey_statistics(kiosk, SURVEY, filters, by="group") == \
                        survey_statistics(once, SURVEY, filters, by="group"), filters

"""Review decisions and corrections reach the central database (issue 17): sent by a sync
and in a bundle, signed by the kiosk where staff made them and checked there; a personal
answer's correction is kept from the reader role; a decision changed on the way is refused.
A real PostgreSQL (tests/pg_server.py) and real kiosk databases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiosk.central.bundles import export_bundle, import_into_central, read_bundle
from kiosk.central.sync import KioskIdentity, sync
from store import KioskStore
from store.central.bitmaps import bring_up_to_date
from store.central.connection import connect
from store.central.push import push
from store.central.reviews import review_history
from store.central.schema import init
from store.central.stats import CentralStats
from store.central.trust import roles_of
from surveys.review import REVIEW_STATES
from surveys.stats.figures import survey_statistics
from surveys.stats.model import StatsFilter
from tests import stats_data
from tests.enrolled import enrolled
from tests.gated import gated

psycopg = pytest.importorskip("psycopg")

HALL = KioskIdentity("hall-1", "九龙街道", "新华社区", "九龙街道社工站")
POINT = KioskIdentity("point-2", "九龙街道", "东风社区", "东风社区服务点")


def kiosk_with_reviews(tmp_path: Path, identity: KioskIdentity, seed: int) -> tuple:
    store = KioskStore(tmp_path / f"{identity.kiosk_id}.db")
    for compiled in stats_data.compiled_versions(tmp_path):
        store.install_form(compiled)
    submissions = stats_data.generate(12, seed=seed)
    for submission in submissions:
        submission.kiosk = identity.kiosk_id
    store.insert_submissions(gated(store, submissions))
    ids = [submission.instance_id for submission in submissions]
    store.set_review(ids[0], "void", "同一居民填了两次", staff="李社工", kiosk=identity.kiosk_id)
    store.set_review(ids[1], "approved", staff="李社工", kiosk=identity.kiosk_id)
    store.add_correction(ids[2], "age", "80", "按身份证更正", staff="李社工",
                         kiosk=identity.kiosk_id)
    store.add_correction(ids[2], "phone", "13900001111", "号码抄错", staff="李社工",
                         kiosk=identity.kiosk_id)
    return store, ids, submissions


def test_decisions_and_corrections_reach_the_central_database_signed(tmp_path: Path,
                                                                    central: str):
    init(central)
    store, ids, submissions = kiosk_with_reviews(tmp_path, HALL, seed=4)
    enrolment = enrolled(central, HALL)
    report = sync(store, enrolment, batch=5)
    assert report.new["submission_reviews"] == 2
    assert report.new["submission_corrections"] == 2
    assert "review decisions 2 new, answer corrections 2 new" in report.summary()
    again = sync(store, enrolment, batch=5)  # nothing new: nothing twice
    assert again.new["submission_reviews"] == again.new["submission_corrections"] == 0
    with psycopg.connect(central) as connection:
        rows = connection.execute(
            "SELECT state, note, staff, origin, signer, signature IS NOT NULL"
            " FROM submission_reviews ORDER BY at").fetchall()
        assert rows == [("void", "同一居民填了两次", "李社工", "hall-1", "hall-1", True),
                        ("approved", "", "李社工", "hall-1", "hall-1", True)]
        history = review_history(connection, ids[2], personal=True)
        assert [(entry["question"], json.loads(entry["new"]))
                for entry in history["corrections"]] == [("age", 80), ("phone", "13900001111")]
        assert review_history(connection, ids[0])["state"] == "void"
        # The reader role sees that the phone was corrected, never the numbers.
        roles = roles_of(connection)
        connection.execute(f'SET ROLE "{roles.reader}"')
        seen = connection.execute(
            "SELECT question, old, new FROM submission_corrections ORDER BY at").fetchall()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            connection.execute("SELECT pii_new FROM submission_corrections")
    old_age = submissions[2].answers.get("age")
    assert seen == [("age", json.dumps(old_age), "80"), ("phone", None, None)]


def pushed(enrolment, rows: list) -> tuple[int, list]:  # type: ignore[no-untyped-def]
    """Review decisions pushed as the kiosk's own login, as a sync does."""
    with connect(enrolment.address, **enrolment.connection_parameters()) as connection, \
            connection.transaction():
        return push(connection, "submission_reviews", rows)


def test_a_decision_changed_on_the_way_is_refused(tmp_path: Path, central: str):
    init(central)
    store, ids, _submissions = kiosk_with_reviews(tmp_path, HALL, seed=5)
    enrolment = enrolled(central, HALL)
    sync(store, enrolment)
    row = ["forged-1", ids[3], "void", "作废", "李社工", "2026-12-07T10:00:00.000+08:00",
           "hall-1"]
    signed = enrolment.signer.sign("submission_reviews", row)
    changed = type(signed)(signed.signer, signed.key_version,
                           signed.payload.replace('"void"', '"approved"'), signed.signature)
    added, refused = pushed(enrolment, [changed])
    assert added == 0 and "signature does not match" in refused[0][1]
    # Another kiosk may not send a decision stamped with this one's id.
    other = enrolled(central, POINT)
    stamped = other.signer.sign("submission_reviews", row)
    added, refused = pushed(other, [stamped])
    assert added == 0 and "a kiosk sends only its own records" in refused[0][1]


def test_a_bundle_carries_decisions_and_corrections_to_the_central_database(
        tmp_path: Path, central: str):
    init(central)
    store, ids, _submissions = kiosk_with_reviews(tmp_path, POINT, seed=6)
    path = tmp_path / "point.bundle"
    export_bundle(store, POINT, path, signer=enrolled(central, POINT).signer)
    bundle = read_bundle(path)
    assert bundle.counts()["submission_reviews"] == 2
    assert bundle.counts()["submission_corrections"] == 2
    import_into_central(central, bundle)
    with psycopg.connect(central) as connection:
        assert review_history(connection, ids[0])["state"] == "void"
        assert len(review_history(connection, ids[2])["corrections"]) == 2


FIGURE_FILTERS = [StatsFilter(), StatsFilter(review=("void",)), StatsFilter(review=REVIEW_STATES),
                  StatsFilter(where={"group": "elderly"}), StatsFilter(kiosks=("hall-1",))]


def figures(store, filters: StatsFilter) -> dict:
    stats = survey_statistics(store, stats_data.SURVEY, filters, include_pii=True)
    stats.pop("generated", None)
    for question in stats["questions"].values():  # a kiosk lists them as stored, the
        if "answers" in question:                  # central database by completion time
            question["answers"] = sorted(question["answers"])
    return stats


def exported(store, filters: StatsFilter) -> list[tuple[str, dict]]:
    return sorted((record["instance_id"], record["answers"])
                  for record in store.iter_submissions(stats_data.SURVEY, filters))


def test_central_figures_and_exports_follow_the_decisions_as_the_kiosk_does(
        tmp_path: Path, central: str):
    init(central)
    store = KioskStore(tmp_path / "hall.db")
    for compiled in stats_data.compiled_versions(tmp_path):
        store.install_form(compiled)
    submissions = stats_data.generate(300, seed=8)
    for submission in submissions:
        submission.kiosk, submission.site = HALL.kiosk_id, HALL.site
    store.insert_submissions(gated(store, submissions))
    ids = [submission.instance_id for submission in submissions]
    enrolment = enrolled(central, HALL)
    sync(store, enrolment)  # the submissions arrive first, counted as they are
    with connect(central) as admin:  # their bitmaps written as first counted
        assert bring_up_to_date(admin) == 300
    for instance_id in ids[:20]:
        store.set_review(instance_id, "void", "重复填写", staff="李社工", kiosk="hall-1")
    for instance_id in ids[20:40]:
        record = store.review_history(instance_id)["corrected"]
        group = "youth" if record["group"] != "youth" else "other"
        store.add_correction(instance_id, "group", group, "居民来电", staff="李社工",
                             kiosk="hall-1")
        store.add_correction(instance_id, "phone", "13900001111", "号码抄错", staff="李社工",
                             kiosk="hall-1")
    store.add_correction(ids[5], "age", "", "误填", staff="李社工", kiosk="hall-1")  # a void one
    store.set_review(ids[0], "approved", "看错了", staff="李社工", kiosk="hall-1")  # back
    sync(store, enrolment)
    with CentralStats(central) as city:
        for filters in FIGURE_FILTERS:
            assert figures(city, filters) == figures(store, filters), filters.to_json()
            assert exported(city, filters) == exported(store, filters), filters.to_json()
            assert city.review_log(stats_data.SURVEY, filters) == store.review_log(
                stats_data.SURVEY, filters)
        # The decisions waited in the queue (the bitmaps changed in memory); written into
        # the bitmaps, the same figures, and the reader follows the new pieces.
        with connect(central) as admin:
            assert bring_up_to_date(admin) == 40  # each submission decided or corrected
        for filters in FIGURE_FILTERS:
            assert figures(city, filters) == figures(store, filters), filters.to_json()
    # Once more with everything sent at once (decisions and corrections in one sync),
    # into a fresh central database: the same figures.
    with psycopg.connect(central, autocommit=True) as connection:
        connection.execute("CREATE DATABASE again")
    again = central.rsplit("/", 1)[0] + "/again"
    init(again)
    fresh = KioskStore(tmp_path / "hall.db")
    fresh.conn.execute("DELETE FROM sync_cursors")
    sync(fresh, enrolled(again, HALL))
    with CentralStats(again) as city:
        for filters in FIGURE_FILTERS:
            assert figures(city, filters) == figures(store, filters), filters.to_json()

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
from store.central.connection import connect
from store.central.push import push
from store.central.reviews import review_history
from store.central.schema import init
from store.central.trust import roles_of
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
    with connect(enrolment.address, **enrolment.connection_parameters()) as connection:
        with connection.transaction():
            added, refused = push(connection, "submission_reviews", [changed])
    assert added == 0 and "signature does not match" in refused[0][1]
    # Another kiosk may not send a decision stamped with this one's id.
    other = enrolled(central, POINT)
    stamped = other.signer.sign("submission_reviews", row)
    with connect(other.address, **other.connection_parameters()) as connection:
        with connection.transaction():
            added, refused = push(connection, "submission_reviews", [stamped])
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

"""Generated hostile input against every road in: the record gate, ``kiosk import`` and bundle
import. Never a traceback; every good line stored; every bad line reported with its number.

Good records are valid by construction and bad ones invalid by construction (each carries
one of the faults the gate must refuse), so the test knows the answer without asking the
gate. 2,000 examples per road; KIOSK_PROPERTY_SCALE=N runs N times as many.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.central.bundles import MAGIC, TRAILER, import_into_kiosk, read_bundle
from kiosk.importer import import_jsonl
from store import KioskStore, open_store
from store.central.signing import RecordSigner
from store.sqlite.sync_cursors import SYNC_COLUMNS
from surveys.gate import CheckedSubmission, RecordRefused
from surveys.session import REFUSED_IN_MULTILINE

SCALE = int(os.environ.get("KIOSK_PROPERTY_SCALE", "1"))
EXAMPLES = 2000 * SCALE
COMPLETED = "2026-11-20T09:30:00.000+08:00"
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])

# Text a resident may type (Chinese, digits, punctuation, emoji), within the screen's limit.
fine_text = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"),
                                  blacklist_characters="\u202a\u202b\u202c\u202d\u202e"
                                                       "\u2066\u2067\u2068\u2069\ufffe\uffff"),
                    min_size=1, max_size=40).map(str.strip).filter(bool)
refused_characters = st.sampled_from(["\x00", "\x07", "\x1b", "\t", "\n", "\r", "\u2028",
                                      "\u2029", "\u202e", "\u2066", "\x7f", "\x85"])


@st.composite
def good_record(draw: st.DrawFn) -> dict[str, Any]:
    """A satisfaction questionnaire as a resident can complete it."""
    answers: dict[str, Any] = {
        "respondent_group": draw(st.sampled_from(["elderly", "youth", "hardship", "other"])),
        "age_band": draw(st.sampled_from(["18_35", "36_59", "60_69", "80_plus"])),
        "community": "other",
        "overall": draw(st.sampled_from(["1", "2", "3", "4", "5"])),
        "services_used": draw(st.sampled_from([["none"], ["hall"], ["elderly", "hall"]])),
        "sat_environment": draw(st.sampled_from(["3", "4", "5"])),
        "improvements": draw(st.sampled_from([["parking"], ["parking", "pets"], ["other"]])),
    }
    if "hall" in answers["services_used"]:
        answers["sat_hall"] = "4"
    if "elderly" in answers["services_used"]:
        answers["sat_elderly"] = "5"
    if answers["improvements"] == ["other"]:
        answers["improvements_other"] = draw(fine_text)
    if int(answers["overall"]) <= 2:
        answers["unsatisfied_reason"] = draw(fine_text)
    if draw(st.booleans()):
        answers["estate_text"] = draw(fine_text.map(lambda text: text[:30]))
    if draw(st.booleans()):
        answers["suggestion"] = draw(fine_text)
    return {"instance_id": str(uuid.uuid4()), "survey": "satisfaction", "kiosk": "hall-1",
            "started": COMPLETED, "completed": COMPLETED, "lang": "zh", "answers": answers}


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


@st.composite
def bad_line(draw: st.DrawFn) -> bytes:
    """One line the gate must refuse, whatever else is in it (no newline inside)."""
    record = draw(good_record())
    fault = draw(st.sampled_from([
        "utf8", "control", "unknown_key", "unknown_answer", "huge_int", "deep", "nan",
        "repeated_key", "not_a_choice", "bad_id", "cut", "not_an_object", "too_long",
        "bad_time", "metadata"]))
    if fault == "utf8":
        text = dumps(record).encode()
        at = draw(st.integers(0, len(text)))
        return text[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80"])) + text[at:]
    if fault == "control":
        where = draw(st.sampled_from(["suggestion", "estate_text"]))
        text = draw(fine_text)
        at = draw(st.integers(0, len(text)))
        record["answers"][where] = (text[:at] + draw(refused_characters) + text[at:])[:30]
    elif fault == "unknown_key":
        record[draw(st.sampled_from(["hacked", "answer", "Survey", "id"]))] = 1
    elif fault == "unknown_answer":
        record["answers"][draw(st.sampled_from(["colour", "x", "age"]))] = "1"
    elif fault == "huge_int":
        return dumps(record).replace('"hall-1"', "1" + "0" * draw(st.integers(31, 5000)),
                                     1).encode()
    elif fault == "deep":
        depth = draw(st.integers(17, 3000))
        return dumps(record).replace('"hall-1"', "[" * depth + "]" * depth, 1).encode()
    elif fault == "nan":
        return dumps(record).replace('"hall-1"', draw(st.sampled_from(
            ["NaN", "Infinity", "-Infinity"])), 1).encode()
    elif fault == "repeated_key":
        return dumps(record).replace('"lang": "zh"', '"lang": "zh", "lang": "en"').encode()
    elif fault == "not_a_choice":
        record["answers"]["overall"] = draw(st.sampled_from(["9", "0", "满意", 4, None, []]))
        if record["answers"]["overall"] is None:
            record["answers"]["overall"] = {"a": 1}
    elif fault == "bad_id":
        record["instance_id"] = draw(st.sampled_from(
            ["", "123", "uuid:", record["instance_id"][:-1], 7, None]))
    elif fault == "cut":
        text = dumps(record).encode()
        return text[:draw(st.integers(1, len(text) - 1))]
    elif fault == "not_an_object":
        return draw(st.sampled_from([b"1", b'"x"', b"[]", b"null", b"true", b"[{}]"]))
    elif fault == "too_long":
        record["answers"]["suggestion"] = "好" * draw(st.integers(501, 3000))
    elif fault == "bad_time":
        record["completed"] = draw(st.sampled_from(["", "yesterday", "2026-13-01T00:00:00",
                                                    None, 20261120]))
    elif fault == "metadata":
        key = draw(st.sampled_from(["kiosk", "site", "enumerator", "lang"]))
        record[key] = draw(st.sampled_from(["a\x00b", "a\nb", "x" * 101, 5, ["x"]]))
    return dumps(record).encode()


lines = st.lists(st.one_of(good_record().map(lambda record: ("good", record)),
                           bad_line().map(lambda data: ("bad", data))), min_size=1, max_size=8)


@pytest.fixture(scope="module")
def kiosk(tmp_path_factory: pytest.TempPathFactory) -> KioskStore:
    store = open_store(tmp_path_factory.mktemp("hostile") / "kiosk.db")
    yield store
    store.close()


@SETTINGS
@given(record=st.one_of(good_record(), bad_line().map(lambda data: data)))
def test_the_gate_lets_through_or_refuses_and_never_fails_otherwise(kiosk: KioskStore,
                                                                     record: Any):
    gate = kiosk.record_gate()
    if isinstance(record, bytes):
        try:
            record = json.loads(record.decode("utf-8"))
        except (ValueError, RecursionError):
            return  # not JSON: the line reader's to refuse (the import test has it)
    try:
        checked = gate.check(record)
    except RecordRefused:
        return
    assert isinstance(checked, CheckedSubmission)
    for value in [checked.kiosk, checked.site, checked.enumerator, checked.lang,
                  *checked.answers.values()]:
        for text in value if isinstance(value, list) else [value]:
            assert not (isinstance(text, str) and REFUSED_IN_MULTILINE.search(text))
    assert gate.check(checked.to_json()) == checked  # what passed passes again, unchanged


@SETTINGS
@given(made=lines)
def test_import_stores_every_good_line_and_names_every_bad_one(kiosk: KioskStore,
                                                               made: list[tuple[str, Any]]):
    data = b"".join((dumps(item).encode() if kind == "good" else item) + b"\n"
                    for kind, item in made)
    before = kiosk.submission_count()
    report = import_jsonl(kiosk, io.BytesIO(data))
    good = [item["instance_id"] for kind, item in made if kind == "good"]
    bad_lines = [number for number, (kind, _item) in enumerate(made, start=1) if kind == "bad"]
    assert [entry.line for entry in report.rejected] == bad_lines
    assert all(entry.error for entry in report.rejected)
    assert report.stored == len(good) and report.conflicts == []
    assert kiosk.submission_count() == before + len(good)
    assert set(kiosk.stored_records(good)) == set(good)


def bundle_row(record: dict[str, Any], version: str, answers: str | None = None
               ) -> list[Any]:
    """A submissions row carrying ``record`` (``answers``: its answers as other text)."""
    values = {"instance_id": record.get("instance_id"), "survey_id": record.get("survey"),
              "version": version, "kiosk": record.get("kiosk"), "site": record.get("site"),
              "started": record.get("started"), "completed": record.get("completed"),
              "lang": record.get("lang"), "enumerator": record.get("enumerator"),
              "answers": dumps(record["answers"]) if answers is None else answers,
              "receipt_code": "AAAA-AAAA", "source": "kiosk", "stored_at": COMPLETED,
              "entity": None}
    return [values[column] for column in SYNC_COLUMNS["submissions"]]


@st.composite
def bad_row(draw: st.DrawFn, version: str) -> list[Any]:
    """A submissions row the gate must refuse: a fault in its answers, its metadata, or the
    JSON text of its answers."""
    record = draw(good_record())
    fault = draw(st.sampled_from([
        "control", "unknown_answer", "not_a_choice", "too_long", "bad_id", "bad_time",
        "metadata", "cut", "nan", "repeated_key", "deep", "huge_int", "not_an_object"]))
    answers = dumps(record["answers"])
    if fault == "control":
        text = draw(fine_text)
        at = draw(st.integers(0, len(text)))
        record["answers"]["suggestion"] = (text[:at] + draw(refused_characters) + text[at:])
    elif fault == "unknown_answer":
        record["answers"]["colour"] = "red"
    elif fault == "not_a_choice":
        record["answers"]["overall"] = draw(st.sampled_from(["9", "满意", 4, [], {"a": 1}]))
    elif fault == "too_long":
        record["answers"]["suggestion"] = "好" * draw(st.integers(501, 3000))
    elif fault == "bad_id":
        record["instance_id"] = draw(st.sampled_from(["", "123", "uuid:", 7, None]))
    elif fault == "bad_time":
        record["completed"] = draw(st.sampled_from(["", "yesterday", None, 20261120]))
    elif fault == "metadata":
        key = draw(st.sampled_from(["kiosk", "site", "enumerator", "lang"]))
        record[key] = draw(st.sampled_from(["a\x00b", "a\nb", "x" * 101, 5, ["x"]]))
    elif fault == "cut":
        answers = answers[:draw(st.integers(0, len(answers) - 1))]
    elif fault == "nan":
        answers = answers[:-1] + ', "spend": NaN}'
    elif fault == "repeated_key":
        answers = answers[:-1] + ', "overall": "1"}'
    elif fault == "deep":
        answers = "[" * draw(st.integers(17, 3000)) + "]" * 3000
    elif fault == "huge_int":
        answers = answers[:-1] + ', "n": ' + "9" * draw(st.integers(31, 5000)) + "}"
    elif fault == "not_an_object":
        answers = draw(st.sampled_from(["1", '"x"', "[]", "null", "true"]))
    same = fault in ("control", "unknown_answer", "not_a_choice", "too_long", "bad_id",
                     "bad_time", "metadata")
    return bundle_row(record, version, None if same else answers)


def signature(row: list[Any]) -> list[Any]:
    """A row signed as by the kiosk it is stamped with (a kiosk keeps signatures for the
    central database to check; it cannot check them itself)."""
    stamped = row[SYNC_COLUMNS["submissions"].index("kiosk")]
    signer = stamped if isinstance(stamped, str) and 0 < len(stamped) <= 64 else "village-3"
    return RecordSigner(signer, 1, bytes(32)).sign("submissions", row).as_list()


@SETTINGS
@given(data=st.data())
def test_bundle_import_stores_every_good_row_and_names_every_bad_one(
        kiosk: KioskStore, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject):
    version = kiosk.load_form("satisfaction").version
    made = data.draw(st.lists(st.one_of(
        good_record().map(lambda record: ("good", record)),
        bad_row(version).map(lambda row: ("bad", row))), min_size=1, max_size=8))
    rows = [bundle_row(item, version) if kind == "good" else item for kind, item in made]
    good = [item["instance_id"] for kind, item in made if kind == "good"]
    expected_bad = [number for number, (kind, _item) in enumerate(made, start=2)
                    if kind == "bad"]  # the header is line 1
    counts = {stream: 0 for stream in SYNC_COLUMNS}
    counts["submissions"] = len(rows)
    header = {"kiosk_id": "village-3", "database_id": str(uuid.uuid4()), "created": COMPLETED,
              "streams": {stream: {"count": count, "after": 0, "upto": count}
                          for stream, count in counts.items()},
              "columns": {stream: list(columns) for stream, columns in SYNC_COLUMNS.items()}}
    body = f"{MAGIC} 2 {dumps(header)}\n".encode() + b"".join(
        (dumps(["submissions", row, signature(row)]) + "\n").encode() for row in rows)
    path: Path = tmp_path_factory.mktemp("bundle") / "hostile.bundle"
    path.write_bytes(body + f"{TRAILER}{hashlib.sha256(body).hexdigest()}\n".encode())
    before = kiosk.submission_count()
    report = import_into_kiosk(kiosk, read_bundle(path))
    assert [number for number, _why in report.refused] == expected_bad
    assert all(why for _number, why in report.refused)
    assert report.new["submissions"] == len(good)
    assert kiosk.submission_count() == before + len(good)

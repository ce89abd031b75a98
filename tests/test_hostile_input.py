"""Every case of issue 12's hostile tries, replayed: what a JSONL file, a USB bundle, a roster,
a form or a stray request can do to a kiosk. Each ends in a clear message, nothing good lost,
nothing bad stored, no traceback, no hang."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import sqlite3
import stat
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner

from kiosk.central.bundles import MAGIC, TRAILER
from kiosk.cli import main
from store import KioskStore, open_store
from store.sqlite.sync_cursors import SYNC_COLUMNS
from surveys.form import Form
from surveys.gate import RecordGate, RecordRefused
from surveys.stats.figures import survey_statistics
from surveys.xlsform import FormError, compile_xlsform
from tests.formbuilder import write_form
from tests.gated import stored_before_the_gate

ROOT = Path(__file__).parents[1]
COMPLETED = "2026-11-20T09:30:00.000+08:00"


def satisfaction(number: int, **answers: Any) -> dict[str, Any]:
    """A satisfaction questionnaire as a resident completes it (a JSONL record)."""
    return {"instance_id": str(uuid.UUID(int=number, version=4)), "survey": "satisfaction",
            "kiosk": "hall-1", "completed": COMPLETED, "started": COMPLETED, "lang": "zh",
            "answers": {"respondent_group": "elderly", "age_band": "60_69",
                        "community": "other", "estate_text": "新华小区", "overall": "4",
                        "services_used": ["none"], "sat_environment": "4",
                        "improvements": ["parking"], **answers}}


def line(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, ensure_ascii=False) + "\n").encode()


def run(*arguments: str, db: Path, config: Path | None = None) -> Any:
    options = ["--db", str(db)] + (["--config", str(config)] if config else [])
    return CliRunner().invoke(main, [*options, *arguments])


def sync(central: str, *arguments: str, db: Path) -> Any:
    """``kiosk sync`` of the kiosk hall-1 (the kiosk the records here are stamped with),
    enrolled at ``central`` the first time."""
    from kiosk.central.enrolment import enrolment_path
    from tests.enrolled import enrolled

    config = db.with_name("hall-1.toml")
    if not config.exists():
        config.write_text('[station]\nkiosk_id = "hall-1"\n', encoding="utf-8")
    if not enrolment_path(config).exists():
        enrolled(central, "hall-1", config=config)
    return run("sync", *arguments, db=db, config=config)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "kiosk.db"
    open_store(path).close()
    return path


# ---- kiosk import ---------------------------------------------------------------------------

def test_every_good_line_is_stored_whatever_lies_between(db: Path, tmp_path: Path):
    """2,500 good lines, one of invalid UTF-8, 10 good: all 2,510 stored (once 2,000 were,
    with a traceback and no report)."""
    data = b"".join(line(satisfaction(number)) for number in range(2500))
    data += b'{"instance_id": "\xff\xfe broken"}\n'
    data += b"".join(line(satisfaction(number)) for number in range(2500, 2510))
    file = tmp_path / "mixed.jsonl"
    file.write_bytes(data)
    result = run("import", "--json", str(file), db=db)
    assert result.exit_code == 1 and "Traceback" not in result.output
    report = json.loads(result.stdout)
    assert report["stored"] == 2510 and report["duplicates"] == 0
    assert report["rejected"] == [{"line": 2501, "error": "not UTF-8 text (byte 18 of the line)"}]
    with KioskStore(db) as store:
        assert store.submission_count("satisfaction") == 2510


@pytest.mark.parametrize(("text", "words"), [
    (b'{"instance_id": ' + b"7" * 5000 + b"}", "a number of 5,000 digits"),
    (b"[" * 100_000 + b"]" * 100_000, "nested deeper than 16 levels"),
    (b'{"a": [' * 20 + b"1" + b"]}" * 20, "nested deeper than 16 levels"),
    (json.dumps(satisfaction(1, overall="4")).replace('"overall"', '"overall": "5", "overall"')
     .encode(), "given twice"),
    (json.dumps(satisfaction(2)).replace('"lang"', '"hacked": 1, "lang"').encode(),
     "unknown key 'hacked'"),
    (json.dumps(satisfaction(3)).replace('"overall": "4"', '"overall": NaN').encode(),
     "NaN is not a number a record may hold"),
    (line(satisfaction(4, suggestion="好" * 17_000)), "at most 300 characters"),
    (line(satisfaction(5, suggestion="有\u202e反转")), "answer 'suggestion'"),
    (line(satisfaction(6, suggestion="一\x00二")), "answer 'suggestion'"),
    (line({**satisfaction(7), "kiosk": "=HYPERLINK(\"x\")\n"}), "'kiosk' holds control"),
    (line({**satisfaction(8), "site": "街道" * 80}), "'site' is longer than 100"),
    (line({**satisfaction(9), "completed": "tomorrow"}), "'completed' is not an ISO 8601"),
], ids=lambda value: value if isinstance(value, str) else None)
def test_each_hostile_line_is_reported_by_number_and_the_rest_stored(
        db: Path, tmp_path: Path, text: bytes, words: str):
    file = tmp_path / "hostile.jsonl"
    file.write_bytes(line(satisfaction(100)) + text.rstrip(b"\n") + b"\n"
                     + line(satisfaction(101)))
    result = run("import", "--json", str(file), db=db)
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["stored"] == 2
    [rejected] = report["rejected"]
    assert rejected["line"] == 2 and words in rejected["error"], rejected


def test_a_line_past_the_size_limit_is_skipped_unread(db: Path, tmp_path: Path):
    file = tmp_path / "huge.jsonl"
    with file.open("wb") as handle:
        handle.write(line(satisfaction(1)))
        handle.write(b'{"instance_id": "' + b"x" * 3_000_000 + b'"}\n')
        handle.write(line(satisfaction(2)))
    result = run("import", "--json", str(file), db=db)
    report = json.loads(result.stdout)
    assert report["stored"] == 2
    assert report["rejected"][0]["line"] == 2
    assert "longer than a record can be" in report["rejected"][0]["error"]


def test_a_calculate_is_computed_again_not_taken_as_sent(db: Path, tmp_path: Path):
    """A calculate that contradicts the form, or a 400-digit number in one, is refused."""
    with KioskStore(db) as store:
        store.install_form(compile_xlsform(ROOT / "tests" / "forms" / "basics.md"))
    base = {"survey": "test1", "completed": COMPLETED, "answers": {"age": 30}}
    records = [{**base, "instance_id": str(uuid.UUID(int=1)),
                "answers": {"age": 30, "c": "30x"}},
               {**base, "instance_id": str(uuid.UUID(int=2)),
                "answers": {"age": 30, "c": "99x"}},
               {**base, "instance_id": str(uuid.UUID(int=3))}]
    text = b"".join(map(line, records)) + (
        b'{"survey": "test1", "completed": "' + COMPLETED.encode()
        + b'", "instance_id": "' + str(uuid.UUID(int=4)).encode() + b'", "answers": {"age": 30,'
        b' "c": ' + b"9" * 400 + b"}}\n")
    file = tmp_path / "calc.jsonl"
    file.write_bytes(text)
    report = json.loads(run("import", "--json", str(file), db=db).stdout)
    assert report["stored"] == 2
    assert [entry["line"] for entry in report["rejected"]] == [2, 4]
    assert "does not match the form's calculation" in report["rejected"][0]["error"]
    assert "a number of 400 digits" in report["rejected"][1]["error"]
    with KioskStore(db) as store:
        assert store.submission_record(str(uuid.UUID(int=3)))["answers"]["c"] == "30x"


def test_an_id_in_upper_case_or_with_uuid_is_one_submission(db: Path, tmp_path: Path):
    record = satisfaction(1)
    upper = {**record, "instance_id": record["instance_id"].upper()}
    prefixed = {**record, "instance_id": "uuid:" + record["instance_id"]}
    file = tmp_path / "spellings.jsonl"
    file.write_bytes(line(record) + line(upper) + line(prefixed))
    report = json.loads(run("import", "--json", str(file), db=db).stdout)
    assert (report["stored"], report["duplicates"]) == (1, 2)
    with KioskStore(db) as store:
        assert store.submission_ids() == {record["instance_id"]}


def test_the_same_id_with_other_answers_is_a_conflict_and_changes_nothing(
        db: Path, tmp_path: Path):
    first = tmp_path / "first.jsonl"
    first.write_bytes(b"".join(line(satisfaction(number)) for number in range(50)))
    assert run("import", str(first), db=db).exit_code == 0
    again = tmp_path / "again.jsonl"
    again.write_bytes(b"".join(line(satisfaction(number, overall="2", sat_environment="1"))
                               if number % 2 else line(satisfaction(number))
                               for number in range(50)))
    result = run("import", "--json", str(again), db=db)
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["stored"] == 0 and report["duplicates"] == 25
    assert len(report["conflicts"]) == 25
    assert report["conflicts"][0] == {"line": 2, "instance_id": satisfaction(1)["instance_id"],
                                      "differ": ["overall", "sat_environment"]}
    text = run("import", str(again), db=db).output
    assert f"again.jsonl:2: instance_id {satisfaction(1)['instance_id']} is stored already" in (
        text)
    with KioskStore(db) as store:
        assert store.submission_record(satisfaction(1)["instance_id"])["answers"][
            "overall"] == "4"


# ---- bundles --------------------------------------------------------------------------------

def bundle_file(path: Path, store: KioskStore, rows: list[tuple[str, list[Any]]],
                roster: list[list[Any]] = ()) -> Path:
    """A bundle as a kiosk writes one (right checksum), carrying ``rows``, each signed by a
    key of the kiosk it is stamped with (a kiosk keeps signatures; it cannot check them)."""
    from store.central.signing import ROSTER_STREAM, RecordSigner

    def signature(stream: str, row: list[Any]) -> list[Any]:
        stamped = row[SYNC_COLUMNS[stream].index("kiosk")] if "kiosk" in SYNC_COLUMNS[
            stream] else None
        return RecordSigner(stamped or "evil-9", 1, bytes(32)).sign(stream, row).as_list()

    counts = {stream: 0 for stream in SYNC_COLUMNS}
    for stream, _row in rows:
        counts[stream] += 1
    header = {"kiosk_id": "evil-9", "database_id": str(uuid.uuid4()), "street": "",
              "community": "", "site": None, "station": "", "created": COMPLETED,
              "streams": {stream: {"count": count, "after": 0, "upto": count}
                          for stream, count in counts.items()},
              "columns": {stream: list(columns) for stream, columns in SYNC_COLUMNS.items()},
              "roster": [[entry, RecordSigner("evil-9", 1, bytes(32)).sign(
                  ROSTER_STREAM, entry).as_list()] for entry in roster]}
    body = f"{MAGIC} 2 ".encode() + line(header) + b"".join(
        line([stream, row, signature(stream, row)]) for stream, row in rows)
    path.write_bytes(body + f"{TRAILER}{hashlib.sha256(body).hexdigest()}\n".encode())
    return path


def submission_row(record: dict[str, Any], answers_text: str | None = None) -> list[Any]:
    values = {"instance_id": record["instance_id"], "survey_id": record["survey"],
              "version": record.get("version"), "kiosk": record["kiosk"], "site": None,
              "started": record["started"], "completed": record["completed"],
              "lang": "zh", "enumerator": None,
              "answers": answers_text or json.dumps(record["answers"], ensure_ascii=False),
              "receipt_code": "AAAA-AAAA", "source": "kiosk", "stored_at": COMPLETED,
              "entity": None}
    return [values[column] for column in SYNC_COLUMNS["submissions"]]


def test_a_bundle_s_rows_go_through_the_gate(db: Path, tmp_path: Path):
    """overall "9", age_band 123, an unknown question, a NUL, NaN: each row refused by its
    line, the good ones stored (once all went in unchecked)."""
    with KioskStore(db) as store:
        version = store.load_form("satisfaction").version
    good = [satisfaction(number) | {"version": version} for number in range(3)]
    bad = [
        satisfaction(10, overall="9"), satisfaction(11, age_band=123),
        satisfaction(12, favourite_colour="red"), satisfaction(13, suggestion="一\x00二"),
    ]
    rows = [("submissions", submission_row(record | {"version": version}))
            for record in [good[0], *bad, good[1]]]
    rows.append(("submissions", submission_row(
        satisfaction(14) | {"version": version},
        json.dumps(satisfaction(14)["answers"]).replace('"4"', "NaN", 1))))
    rows.append(("submissions", submission_row(good[2])))
    path = bundle_file(tmp_path / "evil.bundle", KioskStore(db), rows)
    result = run("bundle", "import", str(path), db=db)
    assert result.exit_code == 1 and "Traceback" not in result.output
    for number in (3, 4, 5, 6, 8):
        assert f"evil.bundle:{number}: " in result.output, number
    assert "answer 'overall'" in result.output and "answer 'age_band'" in result.output
    assert "answer 'favourite_colour'" in result.output
    assert "NaN is not a number a record may hold" in result.output
    assert "submissions 3 new" in result.output
    with KioskStore(db) as store:
        assert store.submission_ids() == {record["instance_id"] for record in good}


def test_a_bundle_with_a_key_given_twice_is_damaged_and_changes_nothing(
        db: Path, tmp_path: Path):
    record = satisfaction(1)
    path = bundle_file(tmp_path / "twice.bundle", KioskStore(db),
                       [("submissions", submission_row(record))])
    text = path.read_bytes().replace(b'["submissions",', b'["submissions","x":1,', 1)
    body = text[:text.index(TRAILER.encode())]
    path.write_bytes(body + f"{TRAILER}{hashlib.sha256(body).hexdigest()}\n".encode())
    result = run("bundle", "import", str(path), db=db)
    assert result.exit_code == 1 and "is damaged" in result.output
    assert "nothing was imported" in result.output


def test_a_forged_compiled_form_is_refused(db: Path, tmp_path: Path):
    with KioskStore(db) as store:
        row = store.sync_rows("forms", 0, 1, 1)[1][0]
    compiled = json.loads(row[SYNC_COLUMNS["forms"].index("compiled")])
    compiled["items"] = compiled["items"] * 400  # 20,000 items
    forged = list(row)
    forged[SYNC_COLUMNS["forms"].index("compiled")] = json.dumps(compiled)
    path = bundle_file(tmp_path / "form.bundle", KioskStore(db), [("forms", forged)])
    result = run("bundle", "import", str(path), db=db)
    assert result.exit_code == 1
    assert "form.bundle:2: not a form the kiosk can run" in result.output


# ---- a kiosk database holding what was stored before the gate -----------------------------

def test_readers_give_the_rest_right_when_a_value_is_past_any_answer(tmp_path: Path):
    """1e308 and infinity in a decimal (stored before the gate): stats, XLSX and PDF exports work
    and leave them out of the figures (they once failed with OverflowError)."""
    from tests.test_exports import marriage

    db = tmp_path / "kiosk.db"
    with open_store(db) as store:
        plain = [marriage(number) for number in range(3)]  # 0, 8,800, 20,000
        huge = [marriage(number) for number in range(3, 5)]
        huge[0].answers["bride_price_amount"] = 1e308
        huge[1].answers["bride_price_amount"] = float("inf")
        stored_before_the_gate(store, plain + huge)
        figures = survey_statistics(store, "marriage_reform")["questions"]["bride_price_amount"]
    assert figures["mean"] == pytest.approx((0 + 8800 + 20000) / 3)
    assert figures["max"] == 20000 and figures["out_of_range"] == 2
    for name in ("report.xlsx", "report.pdf"):
        result = run("export", "marriage_reform", "-o", str(tmp_path / name), db=db)
        assert result.exit_code == 0, result.output
    pdf_text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "report.pdf"), "-"],
                              capture_output=True, text=True, check=True).stdout
    assert "另有 2 个超出可能范围的数值" in pdf_text
    stats = run("stats", "marriage_reform", db=db)
    assert stats.exit_code == 0 and re.search(r"超出范围未计入\s*│\s*2\b", stats.output), (
        stats.output)


def test_text_past_a_cell_is_cut_visibly_and_said(tmp_path: Path):
    import random

    from tests.test_exports import satisfaction as generated

    db = tmp_path / "kiosk.db"
    with open_store(db) as store:
        long = generated(3, random.Random(1))
        long.answers["suggestion"] = "长" * 40_000
        stored_before_the_gate(store, [long])
    result = run("export", "satisfaction", "-o", str(tmp_path / "out.xlsx"), db=db)
    assert result.exit_code == 0
    assert "1 个单元格超过 32,767 字（XLSX 的上限），已截断并标明" in result.output
    book = openpyxl.load_workbook(tmp_path / "out.xlsx", read_only=True)
    cell = next(value for row in book["数据"].iter_rows(min_row=2, values_only=True)
                for value in row if isinstance(value, str) and value.startswith("长长"))
    assert len(cell) == 32_767 and cell.endswith("【已截断，原文共 40,000 字】")
    result = run("export", "satisfaction", "-o", str(tmp_path / "out.pdf"), db=db)
    assert result.exit_code == 0
    pdf_text = subprocess.run(["pdftotext", str(tmp_path / "out.pdf"), "-"],
                              capture_output=True, text=True, check=True).stdout
    assert "原文共 40,000 字，以下从略" in pdf_text.replace("\n", "")
    assert pdf_text.count("长") < 1_100  # capped at 1,000 characters


def test_csv_neutralises_formulas_in_every_text_cell(tmp_path: Path):
    import random

    from tests.test_exports import satisfaction as generated

    db = tmp_path / "kiosk.db"
    with open_store(db) as store:
        item = generated(1, random.Random(1))
        item.kiosk, item.site, item.enumerator = "=cmd|' /C calc'!A0", "@SUM(A1)", "+1"
        item.lang = "-2"
        stored_before_the_gate(store, [item])
    out = tmp_path / "out.csv"
    assert run("export", "satisfaction", "-o", str(out), db=db).exit_code == 0
    text = out.read_text(encoding="utf-8-sig")
    for value in ("'=cmd|' /C calc'!A0", "'@SUM(A1)", "'+1", "'-2"):
        assert value in text, value
    assert ",=cmd" not in text and ",@SUM" not in text


def test_sync_sets_aside_what_the_central_database_cannot_hold(tmp_path: Path, central: str):
    """Rows with NUL, NaN and 1e308 stored before the gate: everything else syncs (once the
    first such row made every later sync fail); they are listed with the reason."""
    from store.central.schema import init

    init(central)
    db = tmp_path / "kiosk.db"
    with open_store(db) as store:
        version = store.load_form("satisfaction").version
        good = [satisfaction(number) | {"version": version} for number in range(5)]
        gate = store.record_gate()
        store.insert_submissions([gate.check(record) for record in good])
        bad = [store.record_gate().check(satisfaction(number) | {"version": version})
               for number in range(10, 13)]
        stored_before_the_gate(store, bad)  # then spoiled, as an old kiosk may have them:
        for item, answers in zip(bad, ('{"overall": "4", "suggestion": "a\\u0000b"}',
                                       '{"overall": NaN}', '{"spend": 1e999}'), strict=True):
            store.conn.execute("UPDATE submissions SET answers=? WHERE instance_id=?",
                               (answers, item.instance_id))
    result = sync(central, db=db)
    assert result.exit_code == 0, result.output
    assert "submissions 5 new" in result.output
    assert "set aside (not sent; `kiosk set-aside` lists them with the reason): submissions 3"\
        in result.output
    listed = json.loads(run("set-aside", "--json", db=db).stdout)
    assert sorted(entry["row"]["instance_id"] for entry in listed) == sorted(
        item.instance_id for item in bad)
    assert all(entry["reason"] for entry in listed)
    again = sync(central, db=db)
    assert again.exit_code == 0 and "submissions 0 new" in again.output
    import psycopg

    with psycopg.connect(central) as connection:
        assert connection.execute("SELECT count(*) FROM submissions").fetchone()[0] == 5


def test_a_row_the_central_database_refuses_is_set_aside_and_the_batch_goes_on(
        tmp_path: Path, central: str):
    """A submission stored through the gate is sent as it is; should the central database
    refuse one all the same (the kiosk file edited by hand, say), the batch is split until
    that row is found: it is set aside with PostgreSQL's reason, its neighbours go."""
    from store.central.schema import init

    init(central)
    db = tmp_path / "kiosk.db"
    with open_store(db) as store:
        version = store.load_form("satisfaction").version
        gate = store.record_gate()
        records = [gate.check(satisfaction(number) | {"version": version})
                   for number in range(9)]
        store.insert_submissions(records)
        store.conn.execute("UPDATE submissions SET answers=? WHERE instance_id=?",
                           ('{"overall": "4", "suggestion": "a\\u0000b"}',
                            records[4].instance_id))
    result = sync(central, "--batch", "9", db=db)
    assert result.exit_code == 0, result.output
    assert "submissions 8 new" in result.output and "submissions 1" in result.output
    [entry] = json.loads(run("set-aside", "--json", db=db).stdout)
    assert entry["row"]["instance_id"] == records[4].instance_id
    assert entry["reason"].startswith("the central database refused it: ")
    assert "\\u0000" in entry["reason"] or "Unicode" in entry["reason"], entry["reason"]
    import psycopg

    with psycopg.connect(central) as connection:
        assert connection.execute("SELECT count(*) FROM submissions").fetchone()[0] == 8


def test_a_nul_in_a_roster_name_breaks_neither_hours_nor_sync(tmp_path: Path, central: str):
    from store.central.schema import init

    init(central)
    db = tmp_path / "kiosk.db"
    with open_store(db) as store:
        store.conn.executemany(
            "INSERT INTO volunteers(number, name, phone, status, card_serial, added_at)"
            " VALUES (?, ?, ?, 'active', 1, '2026-11-20T09:00:00+08:00')",
            [("JG0001", "陈\x00晓燕", "13912345678"),
             ("JG0002", '=HYPERLINK("x")', "13912345679")])
        import datetime as dt

        china = dt.timezone(dt.timedelta(hours=8))
        for number in ("JG0001", "JG0002"):  # two hours of service each
            session = store.add_checkin(number, dt.datetime(2026, 11, 20, 9, tzinfo=china),
                                        kiosk="hall-1")
            store.add_checkout(session, dt.datetime(2026, 11, 20, 11, tzinfo=china),
                               kiosk="hall-1")
    hours = tmp_path / "hours.xlsx"
    assert run("volunteer", "hours", "-o", str(hours), db=db).exit_code == 0
    hours_csv = tmp_path / "hours.csv"
    assert run("volunteer", "hours", "-o", str(hours_csv), db=db).exit_code == 0
    text = hours_csv.read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text
    assert "陈\ufffd晓燕" in text  # the NUL does not go out raw: it shows as �
    assert "\x00" not in text
    result = sync(central, db=db)
    assert result.exit_code == 0, result.output
    assert "roster entries not sent: JG0001" in result.output
    assert "roster 1 new" in result.output


# ---- rosters --------------------------------------------------------------------------------

def test_roster_rows_with_control_characters_are_refused_with_the_right_row(
        db: Path, tmp_path: Path):
    roster = tmp_path / "roster.csv"
    roster.write_text("编号,姓名,手机\nJG0001,陈\u2028晓燕,13912345678\n"
                      "JG0002,王\x00建国,13912345679\nJG0003,李梅,13912345670\n"
                      "JG0004,\"张\n三\",13912345671\nJG0005,赵六,13912345672\n",
                      encoding="utf-8")
    result = run("volunteer", "import", "--json", str(roster), db=db)
    report = json.loads(result.stdout)
    assert report["numbers"] == ["JG0003", "JG0005"]
    assert [entry["row"] for entry in report["rejected"]] == [2, 3, 5]
    assert all("control or line-break" in entry["error"] for entry in report["rejected"])


# ---- forms ----------------------------------------------------------------------------------

def test_a_catastrophic_regex_is_checked_at_once(tmp_path: Path):
    """regex(., '(a+)+$') once took 43 s on 31 characters; RE2 takes microseconds."""
    from surveys.session import FormSession

    path = write_form(tmp_path / "regex.xlsx",
                      [["type", "name", "label", "constraint"],
                       ["text", "code", "Code", "regex(., '(a+)+$')"]],
                      [["list_name", "name", "label"]],
                      [["form_id", "version"], ["regex_test", "1"]])
    session = FormSession(Form(compile_xlsform(path)))
    assert [problem.code for problem in session.answer("code", "a" * 31 + "b")] == [
        "constraint"]
    assert session.answer("code", "aaaa") == []


@pytest.mark.parametrize(("constraint", "words"), [
    ("regex(., '(a)\\1')", "cannot be run in linear time"),
    ("regex(., '(?=a)a')", "cannot be run in linear time"),
    (" + ".join(["1"] * 2000) + " > 0", "longer than 4,000 characters"),
    ("(" * 300 + ". > 0" + ")" * 300, "nested too deeply"),
], ids=["backreference", "lookahead", "long", "deep"])
def test_forms_that_cannot_run_in_bounded_time_are_refused_with_their_row(
        tmp_path: Path, constraint: str, words: str):
    path = write_form(tmp_path / "bad.xlsx",
                      [["type", "name", "label", "constraint"],
                       ["text", "code", "Code", constraint]],
                      [["list_name", "name", "label"]],
                      [["form_id", "version"], ["bad_form", "1"]])
    with pytest.raises(FormError) as caught:
        compile_xlsform(path)
    message = str(caught.value)
    assert "row 2" in message and "column 'constraint'" in message, message
    assert words in message, message


def test_a_workbook_that_unpacks_past_the_bound_is_not_read(tmp_path: Path):
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * (60 << 20))
    path = tmp_path / "bomb.xlsx"
    path.write_bytes(bomb.getvalue())
    assert path.stat().st_size < 1 << 20
    with pytest.raises(FormError, match="unpacks to 60 MB"):
        compile_xlsform(path)


def test_the_dashboard_works_for_a_form_with_only_a_plain_label(tmp_path: Path):
    """A form without languages (a plain ``label`` column) once crashed the dashboard."""
    from surveys.form import Form
    from surveys.stats.model import catalogue

    path = write_form(tmp_path / "plain.xlsx",
                      [["type", "name", "label", "required"],
                       ["select_one yn", "ok", "OK?", "yes"]],
                      [["list_name", "name", "label"], ["yn", "yes", "Yes"], ["yn", "no", "No"]],
                      [["form_id", "version"], ["plain", "1"]])
    form = Form(compile_xlsform(path))
    assert form.language_or_default("zh") == form.default_language
    assert catalogue([form])["ok"].label("zh") == "OK?"
    assert form.title_in("zh") == "plain"


# ---- PIN, files, tablets --------------------------------------------------------------------

PIN_WORKER = """
import sys, time
from kiosk.config import hash_pin
from kiosk.pin import PinGate
from store import KioskStore
path, pin_hash, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
while time.time() < start:
    time.sleep(0.001)
with KioskStore(path) as store:
    print(PinGate(store, pin_hash).attempt("0000").ok)
"""


def test_at_most_five_wrong_pins_however_many_guess_at_once(db: Path):
    import time

    from kiosk.config import hash_pin

    pin_hash = hash_pin("2468")
    start = time.time() + 2
    guessers = [subprocess.Popen([sys.executable, "-c", PIN_WORKER, str(db), pin_hash,
                                  str(start)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
                for _ in range(12)]
    outputs = [guesser.communicate(timeout=120)[0].strip() for guesser in guessers]
    assert outputs == ["False"] * 12
    with KioskStore(db) as store:
        events = [event["event"] for event in store.staff_events()]
    assert events.count("pin_wrong") == 5
    assert events.count("pin_locked") == 7


def test_files_with_personal_data_are_owner_only_whatever_the_umask(tmp_path: Path):
    """Under umask 022 (files 0644 by default): the database and its WAL, receipts, exports,
    bundles, card sheets and the config come out 0600, their folders 0700."""
    from kiosk.central.enrolment import Enrolment, write_enrolment

    home = tmp_path / "home"
    carried = write_enrolment(tmp_path / "hall-1-enrolment.json", Enrolment(
        kiosk_id="hall-1", login="x_k_hall_1", password="unused", key_version=1,
        key=bytes(32), address="postgresql://127.0.0.1:1/nowhere"))
    script = f"""
set -e
umask 022
export HOME={home} XDG_DATA_HOME={home}/data XDG_CONFIG_HOME={home}/config
K="{sys.executable} -m kiosk"
$K config init --kiosk-id hall-1 >/dev/null
$K survey list >/dev/null
$K volunteer add JG0001 陈晓燕 --phone 13912345678 >/dev/null
$K volunteer cards -o {home}/cards.pdf 2>/dev/null >/dev/null
$K export satisfaction -o {home}/out.csv 2>/dev/null
$K central join {carried} >/dev/null
$K bundle export --all -o {home}/out.bundle >/dev/null
$K printer test >/dev/null || true
"""
    subprocess.run(["bash", "-c", script], check=True, cwd=ROOT, timeout=300)
    data = home / "data" / "shegong-kiosk"
    config = home / "config" / "shegong-kiosk"
    files = [data / "kiosk.db", config / "config.toml", config / "config.enrolment.json",
             home / "cards.pdf", home / "out.csv", home / "out.bundle",
             *(data / "receipts").iterdir()]
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    # The WAL lives only while the database is open (the last close checkpoints it away)
    previous = os.umask(0o022)
    try:
        with KioskStore(data / "kiosk.db") as store:
            store.log_staff_event("wal_check")
            wal = data / "kiosk.db-wal"
            assert stat.S_IMODE(wal.stat().st_mode) == 0o600
    finally:
        os.umask(previous)
    for path in (data, config, data / "receipts"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path


def test_the_tablet_server_answers_only_its_own_host_names():
    from kiosk.serve import host_of, is_loopback, served_names

    assert not is_loopback("127.0.0.2") and is_loopback("[::1]") and is_loopback("localhost")
    names = served_names("127.0.0.1")
    assert host_of("127.0.0.1:8000") in names and host_of("[::1]:8000") in names
    assert host_of("evil.example.com:8000") not in names
    assert host_of("127.0.0.1.evil.example.com") not in names
    lan = served_names("0.0.0.0")
    assert "localhost" in lan and "evil.example.com" not in lan


# ---- the gate itself ------------------------------------------------------------------------

def test_the_store_takes_only_what_came_through_the_gate(db: Path):
    from surveys.session import Submission

    record = satisfaction(1)
    with KioskStore(db) as store:
        with pytest.raises(TypeError, match="only submissions that came through"):
            store.insert_submissions([Submission(
                instance_id=record["instance_id"], survey="satisfaction",
                version=store.load_form("satisfaction").version, started=COMPLETED,
                completed=COMPLETED, lang="zh", answers={})])
        with pytest.raises(TypeError, match=r"made only by surveys\.gate"):
            from surveys.gate import CheckedSubmission

            CheckedSubmission(instance_id="x", survey="s", version="1", started="",
                              completed="", lang="zh", answers={})
        assert store.submission_count() == 0
        checked = store.record_gate().check(record)
        assert store.insert_submissions([checked]) == 1


def test_gate_messages_name_what_is_wrong(db: Path):
    with KioskStore(db) as store:
        gate = store.record_gate()
    cases = [("not a dict", "a record must be a JSON object"),
             ({**satisfaction(1), "instance_id": "123"}, "is not a UUID"),
             ({**satisfaction(1), "survey": "nothing"}, "unknown survey 'nothing'"),
             ({**satisfaction(1), "version": "1999"}, "has no version '1999'"),
             ({**satisfaction(1), "answers": []}, "'answers' must be a JSON object"),
             ({**satisfaction(1), "lang": "zh\u2066"}, "'lang' holds control")]
    for record, words in cases:
        with pytest.raises(RecordRefused, match=re.escape(words)):
            gate.check(record)
    assert isinstance(gate, RecordGate)


def test_an_old_database_learns_which_rows_came_before_the_gate(tmp_path: Path):
    """Migrating to schema 8 marks the submissions already stored as unchecked: a sync
    checks them again before they leave; the ones stored after are the gate's."""
    from tests.test_store import as_left_by

    path = tmp_path / "old.db"
    with open_store(path) as store:
        version = store.load_form("satisfaction").version
        stored_before_the_gate(store, [store.record_gate().check(
            satisfaction(number) | {"version": version}) for number in range(3)])
    as_left_by(path, 7)
    connection = sqlite3.connect(path)
    connection.execute("DELETE FROM meta WHERE key='gated_from'")
    connection.commit()
    connection.close()
    with KioskStore(path) as store:
        assert store.gated_from() == 4
        assert store.submission_count() == 3 and store.set_aside_count() == 0


def test_a_central_database_filled_before_the_gate_still_gives_figures(
        tmp_path: Path, central: str):
    """A sync sets 1e308 aside now; a central database an older kiosk filled may hold it: the
    city-wide statistics and report leave it out and give the rest right."""
    import psycopg

    from kiosk.central.enrolment import enrolment_path, read_enrolment
    from kiosk.central.outgoing import form_layout
    from store.central.push import push
    from store.central.schema import init
    from tests.test_exports import marriage

    init(central)
    db = tmp_path / "kiosk.db"
    rows = [marriage(number) for number in range(4)]
    rows[3].answers["bride_price_amount"] = 1e308
    with open_store(db) as store:
        stored_before_the_gate(store, rows)
        result = sync(central, db=db)
        assert result.exit_code == 0 and "set aside" in result.output, result.output
        _key, forms = store.sync_rows("forms", 0, 10**9, 100)
        _key, submissions = store.sync_rows("submissions", 0, 10**9, 100)
    signer = read_enrolment(enrolment_path(db.with_name("hall-1.toml"))).signer
    with psycopg.connect(central) as connection:  # what an older kiosk sent unchecked
        push(connection, "forms", [signer.sign("forms", row) for row in forms],
             [form_layout(row) for row in forms])
        push(connection, "submissions", [signer.sign("submissions", row)
                                         for row in submissions])
    stats = run("stats", "marriage_reform", "--central", central, "--json", db=db)
    assert stats.exit_code == 0, stats.output
    figures = json.loads(stats.stdout)["questions"]["bride_price_amount"]
    assert figures["max"] == 20000 and figures["out_of_range"] == 1
    report = run("export", "marriage_reform", "--central", central,
                 "-o", str(tmp_path / "city.pdf"), db=db)
    assert report.exit_code == 0, report.output

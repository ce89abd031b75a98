"""`kiosk import` / `kiosk export`: good records stored, bad lines reported, idempotent."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kiosk.cli import main
from store import KioskStore
from surveys.xlsform import compile_xlsform

FORMS = Path(__file__).parent / "forms"
COMPLETED = "2026-11-20T09:30:00.000+08:00"


def record(number: int, answers: dict, **overrides) -> dict:
    data = {
        "instance_id": f"{number:08d}-0000-4000-8000-000000000000",
        "survey": "test1", "version": "2026112301", "kiosk": "hall-1",
        "started": "2026-11-20T09:25:00.000+08:00", "completed": COMPLETED,
        "lang": "zh", "enumerator": None, "answers": answers,
    }
    data.update(overrides)
    return data


GOOD = [
    record(1, {"age": 30, "ok": "yes", "d": "2026-01-05"}),
    record(2, {"age": 5, "imp": ["park"]}),
    record(3, {"age": 88, "ok": "no", "imp": ["other", "park"], "imp_other": "加装电梯",
               "nm": "王阿姨"}),
]
# (line text, words the report must contain)
BAD = [
    ('{"instance_id": "broken', "not valid JSON"),
    (json.dumps(record(10, {"age": 30}, survey="no_such_form")), "unknown survey 'no_such_form'"),
    (json.dumps(record(11, {"age": "thirty"})), "answer 'age'"),
    (json.dumps(record(12, {"age": 30, "ok": "maybe"})), "answer 'ok'"),
    (json.dumps(record(13, {"age": 150})), "answer 'age'"),
    (json.dumps(record(14, {"age": 5, "ok": "yes"})), "does not apply"),
    (json.dumps(record(15, {"imp": ["park"]})), "needs an answer"),
    (json.dumps(record(16, {"age": 30, "d": "2099-01-01"})), "answer 'd'"),
    (json.dumps(record(17, {"age": 30, "imp": "park"})), "answer 'imp'"),
    (json.dumps(record(18, {"age": 30, "unknown_q": 1})), "answer 'unknown_q'"),
    (json.dumps(record(19, {"age": 30}, instance_id="not-a-uuid")), "not a UUID"),
    (json.dumps(record(20, {"age": 30}, completed="yesterday")), "'completed'"),
    (json.dumps(record(21, {"age": 30}, version="1999")), "no version '1999'"),
    ("[1, 2, 3]", "JSON object"),
]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "kiosk.db"
    with KioskStore(path) as store:
        store.install_form(compile_xlsform(FORMS / "basics.md"))
    return path


@pytest.fixture
def mixed_file(tmp_path: Path) -> tuple[Path, dict[int, str]]:
    """Good and bad records interleaved; returns the file and bad line -> expected words."""
    lines, expected = [], {}
    bad = iter(BAD)
    for good in GOOD:
        lines.append(json.dumps(good, ensure_ascii=False))
        for _ in range(5):
            text, words = next(bad, (None, None))
            if text is not None:
                lines.append(text)
                expected[len(lines)] = words
    for text, words in bad:
        lines.append(text)
        expected[len(lines)] = words
    lines.insert(2, "")  # blank lines are skipped, and line numbers still count them
    expected = {(number + 1 if number >= 3 else number): words
                for number, words in expected.items()}
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, expected


def run(db: Path, *args: str):
    return CliRunner().invoke(main, ["--db", str(db), *args])


def test_import_stores_good_reports_each_bad_line_and_is_idempotent(db, mixed_file):
    path, expected = mixed_file
    first = run(db, "import", "--json", str(path))
    assert first.exit_code == 1
    report = json.loads(first.stdout)
    assert report["stored"] == len(GOOD)
    assert report["duplicates"] == 0
    rejected = {entry["line"]: entry["error"] for entry in report["rejected"]}
    assert set(rejected) == set(expected)
    for line, words in expected.items():
        assert words in rejected[line], (line, rejected[line])

    with KioskStore(db) as store:
        stored = {item["instance_id"]: item for item in store.iter_submissions("test1")}
    assert set(stored) == {good["instance_id"] for good in GOOD}
    assert stored[GOOD[2]["instance_id"]]["answers"] == {
        "age": 88, "ok": "no", "imp": ["park", "other"], "imp_other": "加装电梯",
        "nm": "王阿姨", "c": "88x",
    }

    second = run(db, "import", "--json", str(path))
    assert second.exit_code == 1
    again = json.loads(second.stdout)
    assert again["stored"] == 0
    assert again["duplicates"] == len(GOOD)
    with KioskStore(db) as store:
        assert store.submission_count() == len(GOOD)


def test_parallel_check_gives_the_same_report_in_file_order(db, mixed_file, monkeypatch):
    from kiosk import importer

    path, _expected = mixed_file
    monkeypatch.setattr(importer, "CHUNK_LINES", 3)  # many chunks over two processes
    with KioskStore(db) as store:
        parallel = importer.import_jsonl(store, path, workers=2).to_json()
    with KioskStore(db) as store:
        stored = [item["instance_id"] for item in store.iter_submissions("test1")]
    serial_db = db.parent / "serial.db"
    with KioskStore(serial_db) as store:
        store.install_form(compile_xlsform(FORMS / "basics.md"))
        serial = importer.import_jsonl(store, path, workers=1).to_json()
    assert parallel == serial
    assert parallel["stored"] == len(GOOD)
    assert sorted(stored) == sorted(good["instance_id"] for good in GOOD)


def test_import_of_clean_file_exits_zero_and_text_report_names_lines(db, tmp_path):
    clean = tmp_path / "clean.jsonl"
    clean.write_text("".join(json.dumps(good) + "\n" for good in GOOD), encoding="utf-8")
    result = run(db, "import", str(clean))
    assert result.exit_code == 0
    assert "stored 3, duplicates 0, rejected 0" in result.stdout

    dirty = tmp_path / "dirty.jsonl"
    dirty.write_text(json.dumps(GOOD[0]) + "\n" + BAD[4][0] + "\n", encoding="utf-8")
    result = run(db, "import", str(dirty))
    assert result.exit_code == 1
    assert f"{dirty}:2: answer 'age'" in result.stderr


def test_export_round_trips_through_import(db, tmp_path):
    clean = tmp_path / "clean.jsonl"
    clean.write_text("".join(json.dumps(good) + "\n" for good in GOOD), encoding="utf-8")
    assert run(db, "import", str(clean)).exit_code == 0
    exported = tmp_path / "out.jsonl"
    result = run(db, "export", "test1", "--format", "jsonl", "-o", str(exported))
    assert result.exit_code == 0
    default = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    assert not any("nm" in item["answers"] for item in default)  # pii left out by default
    result = run(db, "export", "test1", "--include-pii", "-o", str(exported))
    assert result.exit_code == 0
    records = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    assert any(item["answers"].get("nm") == "王阿姨" for item in records)
    assert {item["instance_id"] for item in records} == {good["instance_id"] for good in GOOD}
    assert all(set(item) == {"instance_id", "survey", "version", "kiosk", "started",
                             "completed", "lang", "enumerator", "answers"} for item in records)
    other = tmp_path / "other.db"
    with KioskStore(other) as store:
        store.install_form(compile_xlsform(FORMS / "basics.md"))
    result = run(other, "import", "--json", str(exported))
    assert json.loads(result.stdout) == {"stored": 3, "duplicates": 0, "rejected": []}


def test_python_dash_m_kiosk_is_the_same_command(db):
    result = subprocess.run(
        [sys.executable, "-m", "kiosk", "--db", str(db), "survey", "list", "--json"],
        capture_output=True, text=True, check=True,
    )
    assert {"id": "test1", "title": "测试", "version": "2026112301", "questions": 7} in \
        json.loads(result.stdout)


def test_a_large_import_is_stored_in_bounded_batches(db, tmp_path, monkeypatch):
    """A batch is stored at BULK_BATCH records or once its lines come to BULK_BYTES (long
    answers: fewer records a batch), and a record repeated in a later batch is a duplicate,
    not a second submission."""
    import kiosk.importer
    from kiosk.importer import import_jsonl

    monkeypatch.setattr(kiosk.importer, "BULK_BATCH", 40)
    monkeypatch.setattr(kiosk.importer, "BULK_BYTES", 30_000)
    monkeypatch.setattr(kiosk.importer, "CHUNK_LINES", 10)  # read ahead 10 lines, not 500
    lines = [json.dumps(record(number, {"age": 88, "ok": "no", "imp": ["other"],
                                        "imp_other": "加装电梯" * (100 if 100 <= number < 200
                                                               else 1)}),
                        ensure_ascii=False) for number in range(300)]
    lines.append(lines[5])
    path = tmp_path / "large.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    sizes: list[int] = []
    with KioskStore(db) as store:
        insert = store.insert_submissions

        def counted(batch, *args, **kwargs):
            sizes.append(len(batch))
            return insert(batch, *args, **kwargs)

        monkeypatch.setattr(store, "insert_submissions", counted)
        report = import_jsonl(store, path, workers=1)
        assert (report.stored, report.duplicates, report.rejected) == (300, 1, [])
        assert store.submission_count() == 300
    assert max(sizes) == 40
    # Lines of about 1,300 bytes from 100 to 199: a batch holds at most 30,000 bytes.
    assert min(size for size in sizes if size) <= 30_000 // 1_200
    assert sum(sizes) == 300  # the repeat was found before its batch was stored


def test_batches_stored_in_a_bulk_load_survive_the_process_dying(db, tmp_path):
    """Inside ``bulk_loading`` the WAL is not copied after every batch; a kiosk that dies
    in the middle still has every batch it had stored (each commit reached the WAL)."""
    script = f"""
import os, sys
sys.path.insert(0, {str(Path(__file__).parent.parent)!r})
from store import KioskStore
from tests.test_import_cli import record
with KioskStore({str(db)!r}) as store:
    gate = store.record_gate()
    with store.bulk_loading():
        for batch in range(30):
            store.insert_submissions([gate.check(record(batch * 1000 + number, {{
                "age": 30, "ok": "yes", "nm": "王" * 400}})) for number in range(200)])
        wal = os.path.getsize({str(db)!r} + "-wal")
        print(wal, flush=True)
        os._exit(0)  # no checkpoint, no close
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    # Twice SQLite's default of 1,000 pages (where it copies the WAL after a commit, and
    # starts it again): the batches were not copied into the file one by one.
    assert int(result.stdout) > 2 * 1000 * 4096
    with KioskStore(db) as store:
        assert store.submission_count() == 6000
        assert store.conn.execute("SELECT count(*) FROM flat_test1").fetchone()[0] == 6000

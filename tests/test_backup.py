"""`kiosk backup` and `kiosk restore`: a consistent, verified, owner-only copy made while a
kiosk writes, and a restore that refuses what it must and loses nothing it should keep."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from kiosk.backup import make_backup
from kiosk.cli import main
from store import SCHEMA_VERSION, KioskStore, open_store
from surveys.session import FormSession
from surveys.xlsform import compile_xlsform
from tests.gated import gated_one

HERE = Path(__file__).parent


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """A kiosk database with the test form and three submissions."""
    path = tmp_path / "data" / "kiosk.db"
    with open_store(path) as store:
        store.install_form(compile_xlsform(HERE / "forms" / "basics.md"))
        add_submissions(store, 3)
    return path


def add_submissions(store: KioskStore, count: int) -> list[str]:
    form = store.load_form("test1")
    made = []
    for number in range(count):
        session = FormSession(form, "zh", kiosk="office")
        for name, value in (("age", 20 + number), ("ok", "yes"), ("imp", ["park"]),
                            ("nm", "测试居民"), ("d", "2026-01-05")):
            if session.is_relevant(name):
                assert not session.answer(name, value)
        store.save_submission(gated_one(store, session.finish()))
        made.append(session.instance_id)
    return made


def kiosk(database: Path, *arguments: str):
    runner = CliRunner()
    return runner.invoke(main, ["--db", str(database), "--config",
                                str(database.parent / "config.toml"), "--kiosk-id", "office",
                                *arguments], env={"COLUMNS": "200"})


def backup_of(database: Path, *arguments: str) -> Path:
    result = kiosk(database, "backup", *arguments)
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    return Path(first.removeprefix("backup: ").rsplit(" (", 1)[0])


def ids_in(path: Path) -> set[str]:
    connection = sqlite3.connect(path)
    try:
        return {row[0] for row in connection.execute("SELECT instance_id FROM submissions")}
    finally:
        connection.close()


def test_backup_while_another_process_stores_submissions_is_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A backup taken while another process stores submissions restores to a database that
    passes integrity and holds every submission stored before the backup began. The copy
    is held open until the writer has stored three more, so they are stored *during* the
    backup (never only between backups), and the copy is of its one moment: exactly what
    was stored when it began, none of those stored while it ran."""
    import store.sqlite.backup as backup_module

    database = tmp_path / "kiosk.db"
    with KioskStore(database) as store:
        store.install_form(compile_xlsform(HERE / "forms" / "basics.md"))
    writer = subprocess.Popen(
        [sys.executable, str(HERE / "crash_writer.py"), str(database), "7"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(HERE.parent)})
    done: list[str] = []

    def read() -> None:
        assert writer.stdout is not None
        for line in writer.stdout:
            report = json.loads(line)
            if "done" in report:
                done.append(report["done"])

    threading.Thread(target=read, daemon=True).start()
    at_the_moment: list[set[str]] = []  # what each copy's read transaction sees
    stored_during: list[set[str]] = []
    summarize = backup_module.summarize

    def summarize_then_wait(connection: sqlite3.Connection, path: Path):
        summary = summarize(connection, path)  # the backup's read transaction has begun
        if path != database:  # a copy being read back, or a restore
            return summary
        seen = {row[0] for row in connection.execute("SELECT instance_id FROM submissions")}
        deadline = time.monotonic() + 60
        while len(ids_in(database) - seen) < 3:  # the writer goes on meanwhile
            assert writer.poll() is None and time.monotonic() < deadline, "writer stopped"
            time.sleep(0.01)
        at_the_moment.append(seen)
        stored_during.append(ids_in(database) - seen)
        return summary

    monkeypatch.setattr(backup_module, "summarize", summarize_then_wait)
    try:
        deadline = time.monotonic() + 30
        while len(done) < 20 and time.monotonic() < deadline:
            assert writer.poll() is None, writer.stderr.read() if writer.stderr else ""
            time.sleep(0.01)
        backups = []
        for _ in range(3):  # several copies while the writer goes on
            stored_before = ids_in(database)  # committed before this backup began
            reported_before = set(done)
            backups.append((backup_of(database), stored_before | reported_before))
        assert writer.poll() is None, "the writer should still be writing"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    for (path, stored_before), seen, during in zip(backups, at_the_moment, stored_during,
                                                   strict=True):
        connection = sqlite3.connect(path)
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        connection.close()
        assert not Path(f"{path}-wal").exists()
        held = ids_in(path)
        assert stored_before <= held, "a submission stored before the backup is missing"
        assert held == seen, "the copy is not of the moment its backup began"
        assert len(during) >= 3 and not during & held
        restored = tmp_path / f"restored-{path.stem}" / "kiosk.db"
        result = kiosk(restored, "restore", str(path))
        assert result.exit_code == 0, result.output
        with open_store(restored) as copy:  # a kiosk runs on what was restored
            assert copy.integrity_check() == "ok"
            assert copy.submission_ids() == held
    assert len(ids_in(database)) > len(ids_in(backups[-1][0]))  # it went on writing


def test_backup_summary_counts_and_audit(database: Path):
    result = kiosk(database, "backup")
    assert result.exit_code == 0, result.output
    assert "backup: " + str(database.parent / "backups" / "kiosk-office-") in result.output
    assert "submissions 3, drafts 0" in result.output
    assert "submissions stored 20" in result.output and "verified" in result.output
    path = backup_of(database)
    assert path.name.startswith("kiosk-office-") and path.suffix == ".db"
    assert len(ids_in(path)) == 3
    with open_store(database) as store:
        entries = store.audit_entries(actions=["backup"])
    assert [entry["target"] for entry in entries][-1] == str(path)
    assert "submissions 3" in entries[-1]["detail"]


def test_backup_file_and_folder_are_owner_only(database: Path, tmp_path: Path):
    previous = os.umask(0o022)  # a lax login: the backup must not follow it
    try:
        with open_store(database) as store:
            made = make_backup(store, "office", tmp_path / "usb" / "kiosk-backups")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(made.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(made.path.parent.stat().st_mode) == 0o700
    assert made.summary.counts["submissions"] == 3
    assert not list(made.path.parent.glob("*.part"))
    default = backup_of(database)
    assert stat.S_IMODE(default.stat().st_mode) == 0o600
    assert stat.S_IMODE(default.parent.stat().st_mode) == 0o700


def test_backup_of_no_database_is_refused(tmp_path: Path):
    result = kiosk(tmp_path / "missing.db", "backup")
    assert result.exit_code == 1
    assert f"{tmp_path / 'missing.db'}: no kiosk database here" in result.output
    assert not (tmp_path / "missing.db").exists()


def refused(database: Path, file: Path, words: str) -> None:
    before = ids_in(database)
    result = kiosk(database, "restore", str(file))
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert str(file) in result.output and words in result.output, result.output
    assert ids_in(database) == before
    assert not list(database.parent.glob("*.before-restore-*"))


def test_restore_refuses_what_is_no_kiosk_backup(database: Path, tmp_path: Path):
    text = tmp_path / "notes.db"
    text.write_text("not a database at all\n" * 200, encoding="utf-8")
    refused(database, text, "not a readable kiosk database")

    refused(database, tmp_path / "nowhere.db", "no such file")

    other = tmp_path / "other.db"
    connection = sqlite3.connect(other)
    connection.execute("CREATE TABLE t(x)")
    connection.commit()
    connection.close()
    refused(database, other, "is not a kiosk database")

    empty = tmp_path / "empty.db"
    empty.touch()
    refused(database, empty, "is not a kiosk database")

    whole = backup_of(database)
    truncated = tmp_path / "truncated.db"
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    refused(database, truncated, str(truncated))

    newer = tmp_path / "newer.db"
    newer.write_bytes(whole.read_bytes())
    connection = sqlite3.connect(newer)
    connection.execute("PRAGMA user_version=99")
    connection.commit()
    connection.close()
    refused(database, newer, "written by a newer kiosk (schema 99")


def test_restore_over_newer_data_needs_force_and_keeps_a_safety_copy(database: Path):
    path = backup_of(database)
    with open_store(database) as store:
        newer = add_submissions(store, 2)
    result = kiosk(database, "restore", str(path))
    assert result.exit_code == 1
    assert f"not restoring {path} over {database}" in result.output
    assert "submissions: 5 here, 3 in the backup" in result.output
    assert "submissions 3" in result.output and "submissions 5" in result.output  # both shown
    assert len(ids_in(database)) == 5
    assert not list(database.parent.glob("*.before-restore-*"))

    result = kiosk(database, "restore", str(path), "--force")
    assert result.exit_code == 0, result.output
    assert ids_in(database) == ids_in(path)
    [safety] = database.parent.glob("kiosk.before-restore-*.db")
    assert f"kept the database as it was in {safety}" in result.output
    assert stat.S_IMODE(safety.stat().st_mode) == 0o600
    assert set(newer) <= ids_in(safety) and len(ids_in(safety)) == 5
    with open_store(database) as store:
        assert store.integrity_check() == "ok"
        assert store.audit_entries(actions=["restore"])[-1]["target"] == str(path)


def test_round_trip_gives_back_exactly_the_backed_up_rows(database: Path):
    assert kiosk(database, "volunteer", "add", "JG0001", "陈晓燕", "--phone",
                 "13912345678").exit_code == 0
    path = backup_of(database)
    with open_store(database) as store:
        backed_up = store.submission_ids()
        volunteers = [volunteer.number for volunteer in store.volunteers()]
    assert kiosk(database, "volunteer", "add", "JG0002", "王建国", "--phone",
                 "13800001111").exit_code == 0
    with open_store(database) as store:
        add_submissions(store, 4)
    running = open_store(database)  # the kiosk still holds the database open (WAL)
    try:
        result = kiosk(database, "restore", str(path), "--force")
        assert result.exit_code == 0, result.output
        assert running.submission_ids() == backed_up  # it sees the restored data
    finally:
        running.close()
    with open_store(database) as store:
        assert store.submission_ids() == backed_up
        assert [volunteer.number for volunteer in store.volunteers()] == volunteers
        assert store.integrity_check() == "ok"


def test_restore_of_an_equal_backup_or_into_no_database_needs_no_force(database: Path,
                                                                       tmp_path: Path):
    path = backup_of(database)
    result = kiosk(database, "restore", str(path))
    assert result.exit_code == 0, result.output
    assert ids_in(database) == ids_in(path)

    fresh = tmp_path / "new-machine" / "kiosk.db"
    result = kiosk(fresh, "restore", str(path))
    assert result.exit_code == 0, result.output
    assert "none yet" in result.output
    assert ids_in(fresh) == ids_in(path)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600


def test_restore_over_an_unreadable_database_needs_force_and_keeps_its_bytes(
        database: Path, tmp_path: Path):
    path = backup_of(database)
    broken = tmp_path / "broken" / "kiosk.db"
    broken.parent.mkdir()
    broken.write_bytes(b"half a disk sector " * 100)
    result = kiosk(broken, "restore", str(path))
    assert result.exit_code == 1
    assert f"not restoring {path} over {broken}: the current database cannot be read" \
        in result.output
    result = kiosk(broken, "restore", str(path), "--force")
    assert result.exit_code == 0, result.output
    [safety] = broken.parent.glob("kiosk.before-restore-*.db")
    assert safety.read_bytes() == b"half a disk sector " * 100
    assert stat.S_IMODE(safety.stat().st_mode) == 0o600
    assert ids_in(broken) == ids_in(path)


@pytest.mark.parametrize("version", [1, 4, SCHEMA_VERSION - 1])
def test_a_database_of_an_older_kiosk_is_copied_before_its_schema_changes(tmp_path: Path,
                                                                          version: int):
    from tests.test_store import as_left_by

    path = tmp_path / "kiosk.db"
    with open_store(path) as store:
        store.install_form(compile_xlsform(HERE / "forms" / "basics.md"))
        add_submissions(store, 3)
    as_left_by(path, version)
    with open_store(path) as store:
        kept = store.kept_before_migration
        assert store.submission_count() == 3  # migrated, data kept
    assert kept is not None and kept.parent == tmp_path
    assert kept.name.startswith(f"kiosk.before-schema-{version}-") and kept.suffix == ".db"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    copy = sqlite3.connect(kept)
    try:  # the copy is the database as the older kiosk left it, whole
        assert copy.execute("PRAGMA user_version").fetchone()[0] == version
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert copy.execute("SELECT count(*) FROM submissions").fetchone()[0] == 3
    finally:
        copy.close()
    with open_store(path) as store:  # a current database is not copied again
        assert store.kept_before_migration is None
    assert [found.name for found in tmp_path.glob("kiosk.before-schema-*")] == [kept.name]

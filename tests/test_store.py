"""The kiosk database: refuses files that are not ours, keeps drafts and submissions."""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from kiosk.cli import main
from store import (
    SCHEMA_VERSION,
    FormVersionConflict,
    KioskStore,
    NewerDatabase,
    NotOurDatabase,
    open_store,
)
from store.errors import PrintJobError, VolunteerError
from store.rows import Volunteer
from surveys.form import Form
from surveys.session import FormSession
from surveys.xlsform import compile_xlsform
from tests.gated import gated_one

FORMS = Path(__file__).parent / "forms"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# The tables each schema version added (dropping a table drops its indexes and triggers).
TABLES_OF_VERSION = {
    2: ["staff_events"],
    3: ["print_jobs"],
    4: ["volunteer_open_sessions", "volunteer_corrections", "volunteer_checkouts",
        "volunteer_checkins", "volunteers"],
    5: ["stats_cells", "stats_tally_total", "stats_tally_day", "stats_tally_cell"],
    6: ["request_updates", "audit"],
    7: ["sync_cursors", "volunteer_checkout_order"],
    8: ["sync_set_aside"],
    9: ["relayed_signatures"],
    10: ["entities", "entity_changes"],
    11: ["reviews", "corrections", "paradata"],
    12: ["stats_bitmaps", "stats_bitmap_pieces"],
}


def as_left_by(path: Path, version: int) -> None:
    """Turn a current database into what a kiosk of schema ``version`` left."""
    connection = sqlite3.connect(path)
    for newer in range(SCHEMA_VERSION, version, -1):
        for table in TABLES_OF_VERSION[newer]:
            connection.execute(f"DROP TABLE {table}")
        if newer == 12:  # the tallies per cell, which the bitmaps replaced
            connection.execute(
                "CREATE TABLE stats_tally_cell(survey_id TEXT NOT NULL, day TEXT NOT NULL,"
                " kiosk TEXT NOT NULL, site TEXT NOT NULL, enumerator TEXT NOT NULL,"
                " question TEXT NOT NULL, value NOT NULL, count INTEGER NOT NULL,"
                " PRIMARY KEY(survey_id, day, kiosk, site, enumerator, question, value))"
                " WITHOUT ROWID")
        if newer == 11:  # answers as corrected, and the review state in the flat tables
            connection.execute("ALTER TABLE submissions DROP COLUMN corrected")
            for (table,) in connection.execute(
                    "SELECT name FROM sqlite_master WHERE type='table' AND name LIKE 'flat_%'"
                    " AND name NOT LIKE '%/%'").fetchall():
                connection.execute(f'ALTER TABLE "{table}" DROP COLUMN _review')
        if newer == 10:  # what a submission did to a register
            connection.execute("ALTER TABLE submissions DROP COLUMN entity")
        if newer == 7:  # the trigger belongs to volunteer_checkouts, which stays
            connection.execute("DROP TRIGGER volunteer_checkouts_order")
        if newer == 5:  # the flat tables of the statistics, and the site of submissions
            for (table,) in connection.execute(
                    "SELECT name FROM sqlite_master WHERE type='table' AND name LIKE 'flat_%'"
            ).fetchall():
                connection.execute(f'DROP TABLE "{table}"')
            connection.execute("ALTER TABLE submissions DROP COLUMN site")
    connection.execute(f"PRAGMA user_version={version}")
    connection.commit()
    connection.close()


def test_foreign_sqlite_database_is_refused_and_untouched(tmp_path: Path):
    path = tmp_path / "other.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT)")
    connection.execute("INSERT INTO accounts(name) VALUES ('张三')")
    connection.commit()
    connection.close()
    before = digest(path)
    with pytest.raises(NotOurDatabase, match="another program"):
        KioskStore(path)
    assert digest(path) == before
    assert not Path(f"{path}-wal").exists()


def test_file_that_is_not_sqlite_is_refused_and_untouched(tmp_path: Path):
    path = tmp_path / "notes.db"
    path.write_text("这不是数据库\n" * 100, encoding="utf-8")
    before = digest(path)
    with pytest.raises(NotOurDatabase, match="not an SQLite file"):
        KioskStore(path)
    assert digest(path) == before


def test_database_from_newer_kiosk_is_refused_untouched(tmp_path: Path):
    path = tmp_path / "kiosk.db"
    KioskStore(path).close()
    connection = sqlite3.connect(path)
    connection.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    connection.commit()
    connection.close()
    before = digest(path)
    with pytest.raises(NewerDatabase, match="newer kiosk"):
        KioskStore(path)
    assert digest(path) == before


def test_cli_says_which_file_is_not_ours(tmp_path: Path):
    path = tmp_path / "notes.db"
    path.write_text("plain text", encoding="utf-8")
    result = CliRunner().invoke(main, ["--db", str(path), "survey", "list"])
    assert result.exit_code != 0
    assert str(path) in result.output
    assert "not a kiosk database" in result.output


def test_new_database_uses_wal_full_sync_and_has_bundled_forms(tmp_path: Path):
    store = open_store(tmp_path / "kiosk.db")
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    bundled = {info.survey_id for info in store.list_forms()}
    assert bundled == {path.stem for path in (Path(__file__).parents[1] / "surveys" / "forms")
                       .glob("*.xlsx")}


def test_form_loads_from_compiled_cache_without_pyxform(tmp_path: Path):
    compiled = compile_xlsform(FORMS / "basics.md")
    with KioskStore(tmp_path / "kiosk.db") as store:
        assert store.install_form(compiled) is True
        assert store.install_form(compiled) is False  # same version, same file: nothing new
    # A fresh process-like open reads the compiled JSON, not the spreadsheet.
    with KioskStore(tmp_path / "kiosk.db") as store:
        form = store.load_form("test1")
        assert isinstance(form, Form)
        assert [item.name for item in form.items][:3] == ["age", "ok", "imp"]


def test_same_version_with_different_content_is_refused(tmp_path: Path):
    original = compile_xlsform(FORMS / "basics.md")
    changed_text = (FORMS / "basics.md").read_text(encoding="utf-8").replace("年龄", "您的年龄")
    changed = compile_xlsform(changed_text.encode(), file_name="basics.md")
    with KioskStore(tmp_path / "kiosk.db") as store:
        store.install_form(original)
        with pytest.raises(FormVersionConflict, match="change 'version'"):
            store.install_form(changed)
        form = store.load_form("test1")
        assert form.text(form.items[0].label, "中文 (zh)") == "年龄"


def test_draft_is_saved_and_resumed_where_it_stopped(tmp_path: Path):
    path = tmp_path / "kiosk.db"
    with KioskStore(path) as store:
        store.install_form(compile_xlsform(FORMS / "basics.md"))
        session = FormSession(store.load_form("test1"), "zh", kiosk="hall-1")
        session.answer("age", 72)
        session.next()
        session.answer("ok", "yes")
        store.save_draft(session)
        instance_id = session.instance_id
    with KioskStore(path) as store:  # as after a power cut
        drafts = store.open_drafts()
        assert [draft["instance_id"] for draft in drafts] == [instance_id]
        resumed = store.resume_draft(instance_id)
        assert resumed.answers()["age"] == 72
        assert resumed.value("ok") == "yes"
        assert resumed.screen.questions[0].name == "ok"
        resumed.next()
        resumed.answer("imp", ["park"])
        code = store.save_submission(gated_one(store, resumed.finish()))
        assert store.open_drafts() == []
        assert store.receipt_code_of(instance_id) == code
        [record] = list(store.iter_submissions("test1"))
        assert record["answers"]["imp"] == ["park"]
        assert record["kiosk"] == "hall-1"


def test_abandoned_draft_is_counted_not_offered(tmp_path: Path):
    with KioskStore(tmp_path / "kiosk.db") as store:
        store.install_form(compile_xlsform(FORMS / "basics.md"))
        session = FormSession(store.load_form("test1"), "zh")
        session.answer("age", 40)
        store.save_draft(session)
        store.abandon_draft(session.instance_id)
        assert store.open_drafts() == []
        assert store.draft_counts() == {"abandoned": 1}


def test_database_of_an_older_kiosk_is_migrated_keeping_its_data(tmp_path: Path):
    path = tmp_path / "kiosk.db"
    with KioskStore(path) as store:
        store.install_form(compile_xlsform(FORMS / "basics.md"))
        session = FormSession(store.load_form("test1"), "zh")
        session.answer("age", 33)
        session.next()
        session.answer("ok", "yes")
        store.save_submission(gated_one(store, session.finish()))
    as_left_by(path, 1)  # no staff log, print queue or volunteers yet
    with KioskStore(path) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert not store.created
        assert store.submission_count("test1") == 1
        store.log_staff_event("pin_ok", kiosk="hall-1")
        assert [event["event"] for event in store.staff_events()] == ["pin_ok"]


def test_database_of_a_schema_2_kiosk_gets_the_print_queue(tmp_path: Path):
    path = tmp_path / "kiosk.db"
    with KioskStore(path) as store:
        store.install_form(compile_xlsform(FORMS / "basics.md"))
        session = FormSession(store.load_form("test1"), "zh")
        session.answer("age", 33)
        session.next()
        session.answer("ok", "yes")
        store.save_submission(gated_one(store, session.finish()))
        store.log_staff_event("pin_ok", kiosk="hall-1")
    as_left_by(path, 2)  # no print queue or volunteers yet
    with KioskStore(path) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.submission_count("test1") == 1
        assert [event["event"] for event in store.staff_events()] == ["pin_ok"]
        job_id = store.add_print_job("receipt", [{"kind": "text", "text": "回执"}],
                                     at=1_800_000_000.0, source="abc", title="回执")
        job = store.print_job(job_id)
        assert job is not None and job.state == "queued" and job.attempts == 0
        assert job.document == [{"kind": "text", "text": "回执"}]


def test_print_job_states_for_staff(tmp_path: Path):
    now = 1_800_000_000.0
    with KioskStore(tmp_path / "kiosk.db") as store:
        first = store.add_print_job("receipt", [], at=now, title="一")
        second = store.add_print_job("ticket", [], at=now + 1, title="二")
        assert store.due_print_job(now).id == first
        assert store.claim_print_job(first, "w1", now)
        assert not store.claim_print_job(first, "w2", now)  # one worker per job
        store.print_job_done(first, "w1", now + 2, status="ready")
        assert store.print_job(first).state == "done"
        with pytest.raises(PrintJobError, match="already printed"):
            store.cancel_print_job(first)
        with pytest.raises(PrintJobError, match="use reprint"):
            store.retry_print_job(first, now)
        copy = store.reprint_print_job(first, now + 3, kiosk="hall-1")
        assert store.print_job(copy).reprint and store.print_job(copy).reprint_of == first
        with pytest.raises(PrintJobError, match="has not been printed"):
            store.reprint_print_job(second, now)
        assert store.hold_print_jobs(now + 60, "paper_out", "缺纸", attempted=second) == 2
        assert store.due_print_job(now + 59) is None
        assert store.next_print_attempt() == now + 60
        waiting = store.print_job(second)
        assert (waiting.state, waiting.attempts, waiting.last_status) == ("waiting", 1,
                                                                          "paper_out")
        assert store.cancel_print_job(second).state == "cancelled"
        assert store.retry_print_job(second, now + 5).state == "queued"
        assert store.due_print_job(now + 5).id == second
        with pytest.raises(PrintJobError, match="no print job 99"):
            store.cancel_print_job(99)
        assert store.print_job_counts() == {"done": 1, "queued": 1, "waiting": 1}


def test_database_of_a_schema_3_kiosk_gets_the_volunteer_tables(tmp_path: Path):
    path = tmp_path / "kiosk.db"
    with KioskStore(path) as store:
        store.install_form(compile_xlsform(FORMS / "basics.md"))
        session = FormSession(store.load_form("test1"), "zh")
        session.answer("age", 33)
        session.next()
        session.answer("ok", "yes")
        store.save_submission(gated_one(store, session.finish()))
        job_id = store.add_print_job("receipt", [], at=1_800_000_000.0, title="回执")
    as_left_by(path, 3)
    with KioskStore(path) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 12
        assert store.submission_count("test1") == 1
        assert store.print_job(job_id).title == "回执"
        assert store.volunteer_count() == 0
        store.add_volunteers([Volunteer("JG0001", "陈晓燕", "13912345678", "", "心语志愿服务队",
                                        "新华社区", dt.date(2024, 3, 1), "active", 1)])
        zone = ZoneInfo("Asia/Shanghai")
        session_id = store.add_checkin("JG0001", dt.datetime(2026, 11, 23, 9, 0, tzinfo=zone),
                                       kiosk="hall-1", service="社工站志愿服务")
        store.add_checkout(session_id, dt.datetime(2026, 11, 23, 11, 30, tzinfo=zone))
        recorded = store.volunteer_session(session_id)
        assert recorded.checked_in == "2026-11-23T09:00:00+08:00"
        assert recorded.checked_out_epoch - recorded.checked_in_epoch == 9000
        assert store.integrity_check() == "ok"


def test_volunteer_sessions_and_corrections_are_never_changed_or_deleted(tmp_path: Path):
    zone = ZoneInfo("Asia/Shanghai")
    with KioskStore(tmp_path / "kiosk.db") as store:
        store.add_volunteers([Volunteer("JG0001", "陈晓燕", "13912345678", "", "", "",
                                        None, "active", 1)])
        session_id = store.add_checkin("JG0001", dt.datetime(2026, 11, 23, 9, tzinfo=zone))
        store.add_checkout(session_id, dt.datetime(2026, 11, 23, 10, tzinfo=zone))
        with pytest.raises(VolunteerError, match="already closed"):
            store.add_checkout(session_id, dt.datetime(2026, 11, 23, 11, tzinfo=zone))
        store.add_session_correction(session_id, action="times", reason="忘记签退",
                                     staff="王社工", at=dt.datetime.now(zone),
                                     checked_out=dt.datetime(2026, 11, 23, 12, tzinfo=zone))
        for statement in ("UPDATE volunteer_checkins SET at_epoch = at_epoch - 3600",
                          "UPDATE volunteer_checkouts SET at_epoch = at_epoch + 3600",
                          "UPDATE volunteer_corrections SET reason = 'x'",
                          "DELETE FROM volunteer_corrections",
                          "DELETE FROM volunteer_checkouts",
                          "DELETE FROM volunteer_checkins"):
            with pytest.raises(sqlite3.IntegrityError, match="never changed or deleted"):
                store.conn.execute(statement)
        [session] = store.volunteer_sessions(number="JG0001")
        assert session.checked_out == "2026-11-23T10:00:00+08:00"
        assert [c.checked_out for c in session.corrections] == ["2026-11-23T12:00:00+08:00"]
        with pytest.raises(VolunteerError, match="already on the roster"):
            store.add_volunteers([Volunteer("JG0001", "重复", "", "", "", "", None, "active",
                                            1)])


def test_the_roster_by_many_numbers_in_one_query(store: KioskStore):
    """Asking for more numbers than SQLite takes parameters for still finds them (one JSON
    parameter above 500) and never the others."""
    store.add_volunteers([Volunteer(f"JG{index:04d}", f"志愿者{index}", "13912345678", "", "",
                                    "", None, "active", 1) for index in range(1, 41)])
    wanted = [f"JG{index:04d}" for index in range(0, 4000, 2)]
    found = [volunteer.number for volunteer in store.volunteers(numbers=wanted)]
    assert found == [f"JG{index:04d}" for index in range(2, 41, 2)]
    assert [volunteer.number for volunteer in store.volunteers(numbers=["JG0003"])] == ["JG0003"]
    assert store.volunteers(numbers=[]) == []

"""Upgrading a kiosk: a database from every earlier schema, as that version's kiosk wrote it
(tests/old_databases/, made by its own code), opened by today's kiosk — a copy kept first,
every row arrives and can be used; a database of a newer kiosk is refused untouched."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kiosk.cli import main
from store import SCHEMA_VERSION, NewerDatabase, StoreError, open_store
from surveys.session import FormSession
from tests.gated import gated_one
from tests.old_databases import make

OLD = Path(__file__).parent / "old_databases"
VERSIONS = sorted(int(path.stem.removeprefix("schema-")) for path in OLD.glob("schema-*.sql"))
CENTRAL = "5d1c6a0e-8a55-4c59-9c8b-3f3f5a1f0c15"  # the central id fill.py synced to
# Counts derived from the submissions that a later schema gave up for another structure
# (the figures they gave come from that one): table -> the schema that dropped it.
REPLACED = {"stats_tally_cell": 12}  # by the bitmaps of answers (store/bitmaps.py)


def test_every_earlier_schema_has_a_database_of_its_own_kiosk():
    # A migration added without the database its older kiosk wrote fails here.
    assert list(range(1, SCHEMA_VERSION)) == VERSIONS
    assert sorted(make.KIOSK_OF_SCHEMA) == VERSIONS
    for version in VERSIONS:
        text = (OLD / f"schema-{version}.sql").read_text(encoding="utf-8")
        assert text.splitlines()[1].startswith(f"-- {make.KIOSK_OF_SCHEMA[version]} ")
        assert text.rstrip().endswith(f"PRAGMA user_version={version};")


def old_database(folder: Path, version: int) -> Path:
    """The database the kiosk of schema ``version`` left, as a file in ``folder``."""
    folder.mkdir(exist_ok=True)
    path = folder / "kiosk.db"
    connection = sqlite3.connect(path)
    try:
        connection.executescript((OLD / f"schema-{version}.sql").read_text(encoding="utf-8"))
    finally:
        connection.close()
    path.chmod(0o600)
    return path


def rows_of(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, by rowid (tables without one by their key order)."""
    connection = sqlite3.connect(path)
    connection.row_factory = sqlite3.Row
    try:
        tables = [name for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
        found = {}
        for table in tables:
            try:
                rows = connection.execute(f'SELECT rowid AS "rowid*", * FROM "{table}"')
            except sqlite3.OperationalError:  # WITHOUT ROWID
                rows = connection.execute(f'SELECT * FROM "{table}" ORDER BY 1')
            found[table] = [dict(row) for row in rows]
        return found
    finally:
        connection.close()


def kiosk(database: Path, *arguments: str) -> Any:
    result = CliRunner().invoke(main, ["--db", str(database), "--config",
                                       str(database.parent / "config.toml"), "--kiosk-id",
                                       "hall-1", *arguments], env={"COLUMNS": "200"})
    assert "Traceback" not in result.output
    return result


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("version", VERSIONS)
def test_every_row_of_an_older_kiosk_arrives_and_a_copy_stays_behind(tmp_path: Path,
                                                                     version: int):
    path = old_database(tmp_path, version)
    before = rows_of(path)
    assert before["submissions"] and before["drafts"]  # the older kiosk stored something
    with open_store(path) as store:
        kept = store.kept_before_migration
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.integrity_check() == "ok"
        assert store.conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert kept is not None and kept.parent == tmp_path
    assert re.fullmatch(rf"kiosk\.before-schema-{version}-\d{{8}}-\d{{6}}\.db", kept.name)
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    copy = sqlite3.connect(kept)
    try:
        assert copy.execute("PRAGMA user_version").fetchone()[0] == version
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one file
    finally:
        copy.close()
    assert rows_of(kept) == before  # the database as the older kiosk left it, whole

    after = rows_of(path)
    for table, rows in before.items():
        if table in REPLACED:
            assert table not in after
            continue
        assert table in after, f"table {table} of schema {version} is gone"
        # Each row is still there, every column it had with the value it had.
        now = [{column: row.get(column) for column in rows[0]} for row in after[table]]
        missing = [row for row in rows if row not in now]
        assert not missing, (table, missing)
        if table != "meta":  # schemas 7 and 8 add keys to meta; no other table grows
            assert len(after[table]) == len(rows), table


@pytest.mark.parametrize("version", VERSIONS)
def test_what_an_older_kiosk_stored_is_usable_after_the_upgrade(tmp_path: Path,
                                                                version: int):
    path = old_database(tmp_path, version)
    before = rows_of(path)
    submissions = before["submissions"]
    # What the statistics count (from schema 11 staff may have voided some, corrected
    # some): the rest, with the answers as corrected.
    state = {row["instance_id"]: row["state"]
             for row in sorted(before.get("reviews", []), key=lambda row: row["at"])}
    satisfaction = [row for row in submissions if row["survey_id"] == "satisfaction"
                    and state.get(row["instance_id"]) != "void"]
    assert version < 11 or len(satisfaction) < sum(
        row["survey_id"] == "satisfaction" for row in submissions)

    # Stats count every submission, with the answers the older kiosk stored.
    result = kiosk(path, "stats", "satisfaction", "--json")
    assert result.exit_code == 0, result.output
    overall = json.loads(result.output)["questions"]["overall"]
    assert overall["n"] == len(satisfaction)
    for choice, count in overall["counts"].items():
        assert count == sum(json.loads(row.get("corrected") or row["answers"])["overall"]
                            == choice for row in satisfaction)
    elderly = kiosk(path, "stats", "satisfaction", "--json", "--where",
                    "services_used=elderly")  # a filter on an answer: the bitmaps
    assert json.loads(elderly.output)["n"] == sum(
        "elderly" in json.loads(row.get("corrected") or row["answers"])["services_used"]
        for row in satisfaction)

    # The export holds each of them, text answers whole.
    export = tmp_path / "satisfaction.csv"
    result = kiosk(path, "export", "satisfaction", "-o", str(export))
    assert result.exit_code == 0, result.output
    exported = {row["instance_id"]: row
                for row in csv.DictReader(export.read_text(encoding="utf-8-sig").splitlines())}
    assert set(exported) == {row["instance_id"] for row in satisfaction}
    for row in satisfaction:
        answers = json.loads(row["answers"])
        assert exported[row["instance_id"]]["suggestion"] == answers.get("suggestion", "")

    with open_store(path) as store:
        for row in submissions:  # each record and its printed code, as the resident has it
            record = store.submission_record(row["instance_id"])
            assert record is not None and record["answers"] == json.loads(row["answers"])
            assert store.instance_of_receipt_code(row["receipt_code"]) == row["instance_id"]

        # The resident who walked away is finished after the upgrade, under the same id.
        [draft] = [row for row in before["drafts"] if row["status"] == "open"]
        session = store.resume_draft(draft["instance_id"])
        for name, text in json.loads(draft["answers"]).items():
            assert session.raw(name) == text, name
        finish(session)
        store.save_submission(gated_one(store, session.finish()))
        assert store.draft_counts() == {"abandoned": 1}
    result = kiosk(path, "stats", "satisfaction", "--json")
    assert json.loads(result.output)["n"] == len(satisfaction) + 1

    if version >= 2:
        with open_store(path) as store:
            assert [event["event"] for event in store.staff_events()] == [
                row["event"] for row in before["staff_events"]]
    if version >= 3:
        check_print_jobs(path, before)
    if version >= 4:
        check_volunteer_hours(path, before, tmp_path / "hours.csv")
    if version >= 6:
        with open_store(path) as store:
            [request] = store.service_requests("service_request")
            [update] = before["request_updates"]
            assert (request["instance_id"], request["status"]) == (update["instance_id"],
                                                                   update["status"])
            audited = [entry["action"] for entry in store.audit_entries()]
            # The older kiosk's entries first; this test's export and reprint after them.
            assert audited[:len(before["audit"])] == [row["action"] for row in before["audit"]]
    if version >= 7:
        with open_store(path) as store:
            assert store.database_id() == {row["key"]: row["value"]
                                           for row in before["meta"]}["database_id"]
            cursors = store.sync_cursors(CENTRAL)
            for row in before["sync_cursors"]:
                assert cursors[row["stream"]] == row["last_key"]
    if version >= 8:
        with open_store(path) as store:
            [aside] = store.set_aside_rows()
            [row] = before["sync_set_aside"]
            assert (aside["stream"], aside["key"], aside["reason"]) == (
                row["stream"], row["key"], row["reason"])
            assert aside["row"]["instance_id"] == submissions[row["key"] - 1]["instance_id"]
    with open_store(path) as store:
        assert store.integrity_check() == "ok"


def finish(session: FormSession) -> None:
    """Answer what is left as a resident would: the first choice offered, a short text."""
    while not session.at_end:
        assert session.screen is not None
        for question in session.screen.questions:
            if question.read_only or not question.required or question.value not in (None, ""):
                continue
            first = question.choices[0].name if question.choices else "好"
            value = [first] if question.item.kind == "select_multiple" else first
            assert not session.answer(question.item.name, value)
        assert not session.next()


def check_print_jobs(path: Path, before: dict[str, list[dict[str, Any]]]) -> None:
    """The queue as the older kiosk left it; every job still draws; a printed receipt is
    reprinted by the code on the resident's slip."""
    result = kiosk(path, "printer", "queue", "--all", "--json")
    assert result.exit_code == 0, result.output
    jobs = {job["id"]: job for job in json.loads(result.output)}
    assert {job_id: (job["state"], job["title"], job["source"])
            for job_id, job in jobs.items()} == {
        row["id"]: (row["state"], row["title"], row["source"]) for row in before["print_jobs"]}
    for job_id in jobs:
        picture = path.parent / f"job-{job_id}.png"
        result = kiosk(path, "printer", "preview", str(job_id), "-o", str(picture))
        assert result.exit_code == 0, result.output
        assert picture.read_bytes().startswith(b"\x89PNG")
    [printed] = [row for row in before["print_jobs"] if row["state"] == "done"]
    code = {row["instance_id"]: row["receipt_code"]
            for row in before["submissions"]}[printed["source"]]
    result = kiosk(path, "printer", "queue", "reprint", code)
    assert result.exit_code == 0, result.output
    with open_store(path) as store:
        [copy] = [job for job in store.print_jobs() if job.reprint]
        assert copy.reprint_of == printed["id"] and copy.state == "queued"


def check_volunteer_hours(path: Path, before: dict[str, list[dict[str, Any]]],
                          report: Path) -> None:
    """The hours report counts each closed session as recorded, or as staff corrected it;
    the sessions stay append-only; a volunteer checks in and out after the upgrade."""
    out = {row["session_id"]: row["at_epoch"] for row in before["volunteer_checkouts"]}
    for row in before["volunteer_corrections"]:  # the later correction wins
        if row["checked_out_epoch"] is not None:
            out[row["session_id"]] = row["checked_out_epoch"]
    expected = sum(out[row["id"]] - row["at_epoch"]
                   for row in before["volunteer_checkins"] if row["id"] in out) / 3600
    result = kiosk(path, "volunteer", "hours", "--format", "csv", "-o", str(report))
    assert result.exit_code == 0, result.output
    assert f"{len(before['volunteer_checkins'])} sessions, {expected:g} hours" in result.output
    lines = list(csv.reader(report.read_text(encoding="utf-8-sig").splitlines()))
    detail = lines[next(index for index, line in enumerate(lines)
                        if line and line[0] == "记录号") + 1:]
    assert sorted(int(line[0]) for line in detail) == sorted(
        row["id"] for row in before["volunteer_checkins"])

    with open_store(path) as store:
        with pytest.raises(sqlite3.IntegrityError, match="never changed"):
            store.conn.execute("UPDATE volunteer_checkins SET at_epoch = at_epoch - 3600")
        [open_one] = store.open_volunteer_sessions()
        assert open_one.id == max(row["id"] for row in before["volunteer_checkins"])
    result = kiosk(path, "volunteer", "sessions", "JG0001")
    assert result.exit_code == 0 and "在岗" in result.output, result.output


def test_a_database_of_a_newer_kiosk_is_refused_untouched(tmp_path: Path):
    path = old_database(tmp_path, VERSIONS[-1])
    with open_store(path):
        pass
    for leftover in tmp_path.glob("kiosk.before-schema-*"):
        leftover.unlink()
    connection = sqlite3.connect(path)
    connection.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    connection.close()
    before = digest(path)
    with pytest.raises(NewerDatabase, match=f"newer kiosk \\(schema {SCHEMA_VERSION + 1}"):
        open_store(path)
    result = kiosk(path, "survey", "list")
    assert result.exit_code == 1
    assert f"{path} was written by a newer kiosk" in result.output
    assert "update the kiosk software" in result.output
    assert digest(path) == before
    assert not list(tmp_path.glob("kiosk.before-schema-*"))  # nothing to go back to: no copy


def test_a_migration_that_fails_leaves_the_older_database_as_it_was(tmp_path: Path):
    # A table in the way of schema 6's: step 5 runs, step 6 fails, nothing may stay half done.
    path = old_database(tmp_path, 4)
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE audit (note TEXT)")
    connection.commit()
    connection.close()
    before = rows_of(path)
    with pytest.raises(StoreError) as refused:
        open_store(path)
    message = str(refused.value)
    assert str(path) in message and "第 4 版" in message and "没有改动" in message
    assert 'table "audit" already exists' in message
    [kept] = tmp_path.glob("kiosk.before-schema-4-*.db")
    assert str(kept) in message
    assert rows_of(path) == before
    connection = sqlite3.connect(path)
    try:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == 4
    finally:
        connection.close()
    result = kiosk(path, "survey", "list")
    assert result.exit_code == 1 and "没有改动" in result.output

    connection = sqlite3.connect(path)  # the obstacle removed, the upgrade goes through
    connection.execute("DROP TABLE audit")
    connection.commit()
    connection.close()
    with open_store(path) as store:
        assert store.submission_count() == len(before["submissions"])


def test_going_back_restores_the_copy_as_the_older_kiosk_left_it(tmp_path: Path):
    version = VERSIONS[-1]
    path = old_database(tmp_path / "station", version)
    environment = make.old_kiosk(version, tmp_path)

    def older_kiosk(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kiosk", "--db", str(path), *arguments],
                              cwd=tmp_path, env=environment, capture_output=True, text=True,
                              timeout=300)

    assert older_kiosk("survey", "list").returncode == 0
    with open_store(path) as store:  # the upgrade, and a day of the newer kiosk
        kept = store.kept_before_migration
        assert kept is not None
        form = store.load_form("satisfaction")
        session = FormSession(form, "zh")
        finish(session)
        store.save_submission(gated_one(store, session.finish()))
    refused = older_kiosk("survey", "list")  # why going back needs the copy
    assert refused.returncode != 0 and "newer kiosk" in refused.stdout + refused.stderr

    result = kiosk(path, "restore", str(kept), "--force")
    assert result.exit_code == 0, result.output
    assert f"schema {version}" in result.output and "装回" in result.output
    assert rows_of(path) == rows_of(kept)  # as the older kiosk left it: not upgraded again
    assert [found.name for found in path.parent.glob("kiosk.before-schema-*")] == [kept.name]
    [safety] = path.parent.glob("kiosk.before-restore-*.db")  # the newer day is kept too
    with open_store(safety) as store:
        assert store.submission_count() == len(rows_of(kept)["submissions"]) + 1

    listed = older_kiosk("survey", "list")  # the older software takes its database back
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "satisfaction" in listed.stdout

"""`kiosk central init` and `kiosk sync` against a real PostgreSQL (tests/pg_server.py).

Three kiosk databases with overlapping syncs, the same submissions in two of them (one
bundle imported at two kiosks), syncs killed at random points and a connection dropped by
the server: the central figures always end equal to the union computed here, with nothing
twice. The fixtures ``postgres`` and ``central`` are in tests/conftest.py.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from kiosk.central.bundles import export_bundle, import_into_kiosk, read_bundle
from kiosk.central.enrolment import Enrolment, enrolment_path, write_enrolment
from kiosk.central.sync import KioskIdentity, sync
from kiosk.cli import main
from kiosk.config import Site
from store import KioskStore, open_store
from store.central.push import CENTRAL_TABLES
from store.central.schema import CENTRAL_SCHEMA_VERSION, init
from store.rows import Volunteer
from surveys.session import Submission
from surveys.xlsform import compile_xlsform
from tests.enrolled import enrolled, offline_enrolment
from tests.gated import gated
from tests.pg_server import ThrowawayPostgres, free_port

psycopg = pytest.importorskip("psycopg")

ROOT = Path(__file__).parents[1]
SHANGHAI = ZoneInfo("Asia/Shanghai")
KIOSKS = {
    "hall-1": KioskIdentity("hall-1", "九龙街道", "新华社区", "九龙街道社工站"),
    "hall-2": KioskIdentity("hall-2", "九龙街道", "东风社区", "九龙街道社工站"),
    "village-3": KioskIdentity("village-3", "白石镇", "龙潭村", "白石镇龙潭村服务点"),
}


def query(dsn: str, sql: str, *parameters: object) -> list[tuple]:
    with psycopg.connect(dsn, autocommit=True) as connection:
        cursor = connection.execute(sql, parameters or None)
        return cursor.fetchall() if cursor.description else []


def write_config(path: Path, kiosk: KioskIdentity) -> Path:
    path.write_text(
        f'[station]\nname = "{kiosk.station}"\nkiosk_id = "{kiosk.kiosk_id}"\n'
        f'street = "{kiosk.street}"\ncommunity = "{kiosk.community}"\n', encoding="utf-8")
    return path


def cli(tmp_path: Path, kiosk: KioskIdentity, *arguments: str) -> subprocess.CompletedProcess:
    """``kiosk`` in its own process (as a scheduled sync runs it)."""
    return subprocess.run(
        [sys.executable, "-m", "kiosk", *kiosk_options(tmp_path, kiosk), *arguments],
        capture_output=True, text=True, cwd=ROOT, timeout=300)


def kiosk_options(tmp_path: Path, kiosk: KioskIdentity) -> list[str]:
    config = write_config(tmp_path / f"{kiosk.kiosk_id}.toml", kiosk)
    return ["--db", str(tmp_path / f"{kiosk.kiosk_id}.db"), "--config", str(config)]


class Kiosk:
    """One kiosk database and what the test made in it (the expected central rows)."""

    def __init__(self, tmp_path: Path, identity: KioskIdentity, seed: int) -> None:
        self.identity = identity
        self.tmp_path = tmp_path
        self.enrolments: dict[str, Enrolment] = {}
        self.store: KioskStore = open_store(tmp_path / f"{identity.kiosk_id}.db")
        self.rng = random.Random(seed)
        satisfaction = self.store.load_form("satisfaction")
        self.forms = [(satisfaction.survey_id, satisfaction.version)]
        self.submissions: list[Submission] = []
        self.volunteer_added = False

    def new_submissions(self, count: int) -> list[Submission]:
        """Questionnaires as residents fill them in (the record gate takes only such),
        with text a COPY must escape: quotes, a backslash before N."""
        made = []
        for _ in range(count):
            survey, version = self.rng.choice(self.forms)
            minute = self.rng.randrange(60 * 24 * 30)
            started = dt.datetime(2026, 11, 1, tzinfo=SHANGHAI) + dt.timedelta(minutes=minute)
            made.append(Submission(
                instance_id=str(uuid.UUID(int=self.rng.getrandbits(128))),
                survey=survey, version=version, started=started.isoformat(),
                completed=(started + dt.timedelta(minutes=3)).isoformat(), lang="zh",
                answers={"respondent_group": self.rng.choice(["elderly", "youth", "other"]),
                         "age_band": self.rng.choice(["18_35", "60_69", "80_plus"]),
                         "community": "other",
                         "estate_text": self.rng.choice(["新华小区", "“东风”一村", "\\N 号楼"]),
                         "overall": self.rng.choice(["5", "4", "3"]),
                         "services_used": ["none"], "sat_environment": "4",
                         "improvements": ["parking"],
                         "suggestion": self.rng.choice(["好", "一般，还行", "需要上门", "\\N"])},
                kiosk=self.identity.kiosk_id, site=self.identity.site,
                enumerator=self.rng.choice([None, "JG0001"])))
        return made

    def add(self, count: int, also: list[Submission] = ()) -> None:
        """``count`` new submissions (and ``also``: a bundle made elsewhere), a volunteer
        session with its check-out and a correction, a request update and audit rows."""
        made = self.new_submissions(count) + list(also)
        self.store.insert_submissions(gated(self.store, made))
        self.submissions.extend(made)
        store = self.store
        if not self.volunteer_added:
            store.add_volunteers([Volunteer("JG0001", "陈晓燕", "13912345678", "", "心语",
                                            "新华社区", dt.date(2024, 3, 1), "active", 1)])
            self.volunteer_added = True
        day = dt.datetime(2026, 11, 2, 9, tzinfo=SHANGHAI) + dt.timedelta(
            days=self.rng.randrange(20))
        session = store.add_checkin("JG0001", day, kiosk=self.identity.kiosk_id)
        store.add_checkout(session, day + dt.timedelta(hours=3), kiosk=self.identity.kiosk_id)
        store.add_session_correction(session, action="confirm", reason="核对", staff="李社工",
                                     at=day + dt.timedelta(hours=4))
        store.set_request_status(made[0].instance_id, "in_progress", note="已联系",
                                 staff="李社工", kiosk=self.identity.kiosk_id)
        store.add_audit("export", "stats", "导出统计", staff="李社工",
                        kiosk=self.identity.kiosk_id)

    def enrol(self, dsn: str) -> Enrolment:
        """Enrolled at ``dsn`` (once), and joined: ``kiosk sync`` sends there."""
        if dsn not in self.enrolments:
            config = write_config(self.tmp_path / f"{self.identity.kiosk_id}.toml",
                                  self.identity)
            self.enrolments[dsn] = enrolled(dsn, self.identity, config=config)
        return self.enrolments[dsn]

    def enrol_offline(self) -> Enrolment:
        """A key of its own, no central database: for bundles between kiosks."""
        config = write_config(self.tmp_path / f"{self.identity.kiosk_id}.toml", self.identity)
        return offline_enrolment(self.identity, config)

    def sync(self, dsn: str, batch: int = 100):
        return sync(self.store, self.enrol(dsn), batch=batch)

    def bundle(self, path: Path, dsn: str) -> Path:
        """Everything of this kiosk in a bundle, signed with its enrolment at ``dsn``."""
        export_bundle(self.store, self.identity, path, signer=self.enrol(dsn).signer,
                      everything=True)
        return path

    def take(self, bundle: Path, submissions: list[Submission]) -> None:
        """Import another kiosk's bundle (which holds ``submissions``)."""
        import_into_kiosk(self.store, read_bundle(bundle))
        self.submissions.extend(submissions)

    def local_count(self, table: str) -> int:
        return self.store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def assert_central_is_the_union(dsn: str, kiosks: list[Kiosk]) -> None:
    union: dict[str, Submission] = {}
    for kiosk in kiosks:
        for submission in kiosk.submissions:
            union.setdefault(submission.instance_id, submission)
    assert {row[0] for row in query(dsn, "SELECT instance_id FROM submissions")} == set(union)
    expected = Counter((item.survey, item.kiosk, item.site) for item in union.values())
    found = {(survey, kiosk, site): count for survey, kiosk, site, count in query(
        dsn, "SELECT survey_id, kiosk, site, count(*) FROM submissions GROUP BY 1, 2, 3")}
    assert found == dict(expected)
    # The rows each kiosk numbers itself: as many per origin as the kiosk has.
    for table in ("volunteer_checkins", "volunteer_checkouts", "volunteer_corrections",
                  "request_updates", "audit"):
        per_origin = dict(query(dsn, f"SELECT origin, count(*) FROM {table} GROUP BY 1"))
        assert per_origin == {kiosk.identity.kiosk_id: kiosk.local_count(table)
                              for kiosk in kiosks if kiosk.local_count(table)}, table
    audit = set(query(dsn, "SELECT origin, id, staff, action, detail FROM audit"))
    assert audit == {(kiosk.identity.kiosk_id, *row) for kiosk in kiosks
                     for row in kiosk.store.conn.execute(
                         "SELECT id, staff, action, detail FROM audit")}
    assert_no_duplicates(dsn)


def assert_no_duplicates(dsn: str) -> None:
    for table, key in CENTRAL_TABLES.values():
        columns = ", ".join(key)
        assert query(dsn, f"SELECT {columns} FROM {table} GROUP BY {columns}"
                          " HAVING count(*) > 1") == [], table


def test_central_init_is_versioned_and_a_newer_schema_is_refused(tmp_path: Path,
                                                                  central: str):
    runner = CliRunner()
    kiosk = KIOSKS["hall-1"]
    before_init = runner.invoke(main, [*kiosk_options(tmp_path, kiosk), "sync"])
    assert before_init.exit_code == 1
    assert ("kiosk hall-1 is not enrolled at a central database: staff run kiosk central "
            "enrol hall-1") in before_init.output

    first = runner.invoke(main, ["central", "init", central])
    assert first.exit_code == 0, first.output
    assert f"created the central schema {CENTRAL_SCHEMA_VERSION} at 127.0.0.1:" in first.output
    again = runner.invoke(main, ["central", "init", central])
    assert again.exit_code == 0, again.output
    assert f"is up to date (schema {CENTRAL_SCHEMA_VERSION})" in again.output
    enrolled(central, kiosk, config=tmp_path / "hall-1.toml")

    query(central, "UPDATE kiosk_meta SET value='99' WHERE key='schema_version'")
    newer = runner.invoke(main, ["central", "init", central])
    assert newer.exit_code == 1
    assert (f"has schema 99; this kiosk knows up to {CENTRAL_SCHEMA_VERSION}: update the kiosk"
            " software") in newer.output
    assert query(central, "SELECT value FROM kiosk_meta WHERE key='schema_version'") == [
        ("99",)]
    refused = runner.invoke(main, [*kiosk_options(tmp_path, kiosk), "sync"])
    assert refused.exit_code == 1 and "has schema 99" in refused.output


def test_three_kiosks_with_overlapping_syncs_give_the_union(tmp_path: Path, central: str,
                                                            postgres: ThrowawayPostgres):
    init(central)
    kiosks = [Kiosk(tmp_path, identity, seed) for seed, identity in
              enumerate(KIOSKS.values())]
    hall_1, hall_2, village = kiosks
    # The same survey version with other content at two kiosks: kept once, and said.
    compiled = compile_xlsform(ROOT / "tests" / "forms" / "basics.md")
    hall_1.store.install_form(compiled)
    hall_2.store.install_form({**compiled, "source_sha256": "0" * 64})
    hall_1.add(700)
    hall_2.add(300)
    first = hall_1.sync(central)
    assert first.new["submissions"] == 700 and first.already["submissions"] == 0
    assert first.new["volunteer_checkins"] == first.new["volunteer_checkouts"] == 1
    assert first.differing_forms == []
    second = hall_2.sync(central)
    assert second.differing_forms == [("test1", compiled["version"])]
    assert "holds other content under test1 version" in second.summary()
    assert second.new["forms"] == 0 and second.already["forms"] == first.new["forms"]
    # A bundle from the village point, imported at both halls, and the village's own.
    bundle = village.new_submissions(150)
    village.store.insert_submissions(gated(village.store, bundle))
    village.submissions.extend(bundle)
    carried = village.bundle(tmp_path / "village.bundle", central)
    village.add(400)
    hall_1.add(120)
    hall_1.take(carried, bundle)
    hall_2.add(80)
    hall_2.take(carried, bundle)
    report = hall_1.sync(central, batch=37)
    assert report.new["submissions"] == 270 and report.already["submissions"] == 0
    village.sync(central)
    repeat = hall_1.sync(central)  # nothing new since
    assert sum(repeat.new.values()) == sum(repeat.already.values()) == 0
    hall_2_report = hall_2.sync(central)
    assert hall_2_report.new["submissions"] == 80
    assert hall_2_report.already["submissions"] == 150  # the bundle was there already
    assert "submissions 80 new (150 already there)" in hall_2_report.summary()
    assert_central_is_the_union(central, kiosks)

    kiosk_rows = query(central, "SELECT kiosk_id, street, community, site, station,"
                                " last_sync IS NOT NULL FROM kiosks ORDER BY kiosk_id")
    assert kiosk_rows == [(k.kiosk_id, k.street, k.community, f"{k.street}/{k.community}",
                           k.station, True) for k in sorted(KIOSKS.values(),
                                                            key=lambda k: k.kiosk_id)]
    # Cursors belong to one central database: another one gets everything from the start.
    other = postgres.create_database(f"other_{uuid.uuid4().hex[:8]}")
    init(other)
    assert village.sync(other).new["submissions"] == 550
    assert_central_is_the_union(other, [village])
    # Another database under an enrolment already in use is refused, not merged.
    impostor = Kiosk(tmp_path / "elsewhere", KIOSKS["hall-1"], 9)
    impostor.add(5)
    impostor.enrolments[central] = hall_1.enrolments[central]
    with pytest.raises(Exception, match="kiosk hall-1 is already used at the central database"
                                        " by another kiosk database"):
        impostor.sync(central)
    assert_central_is_the_union(central, kiosks)


def test_the_site_stamped_on_submissions_is_street_slash_community():
    assert Site("九龙街道", "新华社区").label == "九龙街道/新华社区"
    assert Site("白石镇", "").label == "白石镇"
    assert Site("", " ").label is None
    assert KIOSKS["village-3"].site == "白石镇/龙潭村"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_unreachable_central_database_leaves_the_kiosk_untouched(tmp_path: Path):
    kiosk = Kiosk(tmp_path, KIOSKS["hall-1"], 1)
    kiosk.add(20)
    kiosk.store.close()
    path = tmp_path / "hall-1.db"
    before = digest(path)
    port = free_port()
    write_enrolment(enrolment_path(tmp_path / "hall-1.toml"), Enrolment(
        kiosk_id="hall-1", login="c_k_hall_1", password="secret-password", key_version=1,
        key=bytes(32), address=f"postgresql://127.0.0.1:{port}/c"))
    result = cli(tmp_path, KIOSKS["hall-1"], "sync")
    assert result.returncode == 3, result.stderr
    assert f"cannot reach the central database at 127.0.0.1:{port}/c" in result.stderr
    assert "Traceback" not in result.stderr and "secret-password" not in result.stderr
    assert digest(path) == before
    with KioskStore(path) as store:
        assert store.conn.execute("SELECT count(*) FROM sync_cursors").fetchone()[0] == 0


def central_id(dsn: str) -> str:
    return query(dsn, "SELECT value FROM kiosk_meta WHERE key='installation'")[0][0]


def test_syncs_killed_at_random_points_then_completed(tmp_path: Path, central: str):
    init(central)
    rng = random.Random(7)
    kiosks = [Kiosk(tmp_path, identity, seed) for seed, identity in
              enumerate(KIOSKS.values())]
    bundle = kiosks[2].new_submissions(200)
    kiosks[2].store.insert_submissions(gated(kiosks[2].store, bundle))
    kiosks[2].submissions.extend(bundle)
    carried = kiosks[2].bundle(tmp_path / "village.bundle", central)
    for kiosk in kiosks:
        kiosk.add(3000)
        kiosk.enrol(central)
        if kiosk is not kiosks[2]:
            kiosk.take(carried, bundle)
    interrupted = 0
    for attempt in range(8):  # bounded: eight kills at random moments, then a full sync
        kiosk = kiosks[attempt % 3]
        if attempt >= 3:
            kiosk.add(rng.randrange(50, 300))  # the kiosk keeps working between syncs
        process = subprocess.Popen(
            [sys.executable, "-m", "kiosk", *kiosk_options(tmp_path, kiosk.identity), "sync",
             "--batch", str(rng.choice([5, 10, 20]))],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.15, 0.9))
        if process.poll() is None:
            interrupted += 1
            process.send_signal(signal.SIGKILL)
        _out, error = process.communicate()
        assert process.returncode in (0, -signal.SIGKILL), error
        assert_no_duplicates(central)
    for kiosk in kiosks:
        result = cli(tmp_path, kiosk.identity, "sync", "--batch", "500")
        assert result.returncode == 0, result.stderr
        assert "synced to 127.0.0.1:" in result.stdout
    assert_central_is_the_union(central, kiosks)
    for kiosk in kiosks:
        # The cursor stands at the end of every stream: a next sync sends nothing.
        assert kiosk.store.sync_cursors(central_id(central)) == kiosk.store.sync_bounds()
        assert kiosk.sync(central).sent == 0
    assert interrupted >= 1  # at least one kill landed mid-sync (else the test tests little)


def test_dropped_connection_is_reported_and_the_next_sync_completes(tmp_path: Path,
                                                                    central: str):
    init(central)
    kiosk = Kiosk(tmp_path, KIOSKS["village-3"], 3)
    kiosk.add(500)
    kiosk.enrol(central)
    kiosk.store.close()
    # Hold the audit table: the sync sends the streams before it, then waits at the audit
    # record, where the server ends its connection (as a restart or a network cut would).
    with psycopg.connect(central) as holder:
        holder.execute("LOCK TABLE audit IN ACCESS EXCLUSIVE MODE")
        process = subprocess.Popen(
            [sys.executable, "-m", "kiosk", *kiosk_options(tmp_path, kiosk.identity), "sync",
             "--batch", "50"], cwd=ROOT, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        waiting: list[tuple] = []
        while not waiting and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
            # Waiting for the audit table: a sync's two connections may also wait on
            # each other a moment (the tallies' rows).
            waiting = query(central, "SELECT a.pid FROM pg_stat_activity a JOIN pg_locks l"
                                     " ON l.pid = a.pid AND NOT l.granted"
                                     " AND l.relation = 'audit'::regclass"
                                     " WHERE a.application_name LIKE 'kiosk sync%'")
        assert waiting, process.communicate()
        query(central, "SELECT pg_terminate_backend(%s)", waiting[0][0])
        _out, error = process.communicate(timeout=60)
    assert process.returncode == 3, error
    assert "lost the connection to the central database at 127.0.0.1:" in error
    assert "run kiosk sync again to send the rest" in error
    assert "Traceback" not in error
    assert query(central, "SELECT count(*) FROM submissions") == [(500,)]  # sent before
    assert query(central, "SELECT count(*) FROM audit") == [(0,)]
    result = cli(tmp_path, kiosk.identity, "sync")
    assert result.returncode == 0, result.stderr
    assert "submissions 0 new" in result.stdout and "audit entries 2 new" in result.stdout
    kiosk.store = open_store(tmp_path / "village-3.db")
    assert_central_is_the_union(central, [kiosk])


def test_a_batch_committed_before_the_one_before_it_moves_no_cursor(tmp_path: Path,
                                                                   central: str):
    """A sync pushes two batches at once: the second may commit while the first still
    waits. Killed then, the kiosk must send the first again (the cursor moves only past
    batches committed in order), and the second counts as already there."""
    init(central)
    kiosk = Kiosk(tmp_path, KIOSKS["hall-1"], 9)
    kiosk.add(300)
    kiosk.enrol(central)
    first = kiosk.store.conn.execute(
        "SELECT instance_id FROM submissions ORDER BY rowid LIMIT 1").fetchone()[0]
    kiosk.store.close()
    # Another transaction inserting the first batch's first submission, uncommitted: the
    # first batch waits for it, the second goes through.
    with psycopg.connect(central) as holder:
        holder.execute("INSERT INTO submissions (instance_id, survey_id, version, answers,"
                       " origin) VALUES (%s, 'x', 'x', '{}', 'holder')", (first,))
        process = subprocess.Popen(
            [sys.executable, "-m", "kiosk", *kiosk_options(tmp_path, kiosk.identity), "sync",
             "--batch", "100"], cwd=ROOT, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        second_committed = False
        while (not second_committed and time.monotonic() < deadline
               and process.poll() is None):
            time.sleep(0.05)
            [(stored,)] = query(central, "SELECT count(*) FROM submissions"
                                         " WHERE origin <> 'holder'")
            second_committed = stored >= 100
        time.sleep(0.5)  # the kiosk has heard the second batch's commit
        waiting = process.poll() is None  # for the first batch
        process.send_signal(signal.SIGKILL)
        _out, error = process.communicate(timeout=60)
        assert second_committed and waiting, error
        process.wait(timeout=60)
        holder.rollback()
    result = cli(tmp_path, kiosk.identity, "sync")
    assert result.returncode == 0, result.stderr
    assert "submissions 200 new (100 already there)" in result.stdout, result.stdout
    kiosk.store = open_store(tmp_path / "hall-1.db")
    assert_central_is_the_union(central, [kiosk])


def test_a_session_closed_after_its_check_in_was_synced_sends_its_check_out(
        tmp_path: Path, central: str):
    init(central)
    kiosk = Kiosk(tmp_path, KIOSKS["hall-2"], 5)
    kiosk.add(10)
    morning = dt.datetime(2026, 11, 23, 8, 30, tzinfo=SHANGHAI)
    open_session = kiosk.store.add_checkin("JG0001", morning, kiosk="hall-2")
    newer = kiosk.store.add_checkin("JG0001", morning + dt.timedelta(minutes=1), kiosk="hall-2")
    kiosk.sync(central)
    kiosk.store.add_checkout(newer, morning + dt.timedelta(hours=2), kiosk="hall-2")
    kiosk.sync(central)
    assert query(central, "SELECT count(*) FROM volunteer_checkouts WHERE session_id = %s",
                 open_session) == [(0,)]
    # The old session closes after a newer one's check-out was synced: its check-out
    # still goes (check-outs are sent in the order they were recorded, not by session).
    kiosk.store.add_checkout(open_session, morning + dt.timedelta(hours=4), kiosk="hall-2")
    report = kiosk.sync(central)
    assert report.new["volunteer_checkouts"] == 1
    assert_central_is_the_union(central, [kiosk])


def test_a_schema_6_kiosk_database_syncs_its_check_outs_after_the_migration(
        tmp_path: Path, central: str):
    from tests.test_store import as_left_by

    init(central)
    kiosk = Kiosk(tmp_path, KIOSKS["hall-1"], 6)
    kiosk.add(10)
    kiosk.add(5)
    kiosk.store.close()
    path = tmp_path / "hall-1.db"
    as_left_by(path, 6)  # what a kiosk before sync left: no cursors, no check-out order
    kiosk.store = open_store(path)
    report = kiosk.sync(central)
    assert report.new["volunteer_checkouts"] == 2 and report.new["submissions"] == 15
    assert_central_is_the_union(central, [kiosk])

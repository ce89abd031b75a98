"""A central database that trusts no kiosk blindly (issue 13), against a real PostgreSQL.

The attacks of the issue, replayed: a real bundle edited and its SHA-256 made again, a
bundle from a kiosk id nobody enrolled, an enrolled kiosk claiming another's submissions and
volunteers, forged audit entries and hours, a signature copied onto changed content. Each is
refused with nothing stored and a message that says why. Then every role connects and tries
what it must not do, refused by PostgreSQL itself; revocation, key rotation, and a schema 3
database migrated with every row kept.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import sys
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kiosk.central.bundles import (
    TRAILER,
    BundleError,
    export_bundle,
    import_into_central,
    read_bundle,
)
from kiosk.central.sync import KioskIdentity, sync
from kiosk.cli import main
from kiosk.config import VolunteerSettings
from kiosk.volunteers.report import central_hours_report
from store.central.connection import KioskNotEnrolled, connect
from store.central.schema import CENTRAL_SCHEMA_VERSION, init
from store.central.signing import RecordSigner
from store.central.trust import SIGNED_TABLES, roles_of
from store.rows import Volunteer
from tests.enrolled import enrolled, offline_enrolment
from tests.gated import gated
from tests.pg_server import ThrowawayPostgres
from tests.test_central_sync import Kiosk, query, write_config

psycopg = pytest.importorskip("psycopg")

ADV = KioskIdentity("adv-1", "九龙街道", "新华社区", "九龙街道社工站")
HALL = KioskIdentity("hall-2", "九龙街道", "东风社区", "九龙街道社工站")
EVIL = KioskIdentity("evil-9", "某街道", "某社区", "冒名服务点")
JG0001 = ("JG0001", "陈晓燕", "13912345678", "", "心语", "新华社区", "2024-03-01", "active", 1)


def hours_of(central: str, number: str) -> Decimal:
    report = central_hours_report(central, VolunteerSettings(), station="全街道",
                                  start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30))
    return sum((row.hours for row in report.summary() if row.volunteer.number == number),
               Decimal(0))


def snapshot(central: str) -> dict[str, Any]:
    """Everything an attack could change: every table's rows, as text."""
    tables = ["kiosks", "forms", "submissions", "request_updates", "volunteer_checkins",
              "volunteer_checkouts", "volunteer_corrections", "audit", "volunteers",
              "stats_tally_total"]
    return {table: sorted(map(str, query(central, f"SELECT * FROM {table}")))
            for table in tables}


def bundle_lines(path: Path) -> tuple[dict[str, Any], list[list[Any]]]:
    lines = path.read_bytes().split(b"\n")
    header = json.loads(lines[0].split(b" ", 2)[2])
    rows = [json.loads(line) for line in lines[1:] if line.startswith(b"[")]
    return header, rows


def write_bundle(path: Path, header: dict[str, Any], rows: list[list[Any]]) -> Path:
    """A bundle with its checksum made again, as anyone can."""
    def dumps(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    header["streams"] = {stream: {**entry, "count": sum(row[0] == stream for row in rows)}
                         for stream, entry in header["streams"].items()}
    body = (f"KIOSK-BUNDLE 2 {dumps(header)}\n" + "".join(dumps(row) + "\n" for row in rows)
            ).encode()
    path.write_bytes(body + f"{TRAILER}{hashlib.sha256(body).hexdigest()}\n".encode())
    return path


@pytest.fixture
def city(tmp_path: Path, central: str) -> Kiosk:
    """adv-1, enrolled, with 500 submissions, volunteer JG0001's one real session (3 h),
    and everything synced."""
    init(central)
    adv = Kiosk(tmp_path, ADV, 1)
    adv.add(500)
    adv.sync(central)
    return adv


# ---- the attacks ---------------------------------------------------------------------------

def test_a_real_bundle_edited_with_its_checksum_made_again_stores_nothing(
        city: Kiosk, central: str, tmp_path: Path):
    adv = city
    real = adv.bundle(tmp_path / "adv.bundle", central)
    before, hours = snapshot(central), hours_of(central, "JG0001")
    assert hours == Decimal("3.00")
    header, rows = bundle_lines(real)
    # The database id, printed in every header, was once the only secret.
    assert header["database_id"] == adv.store.database_id()
    header.update(site="白石镇/龙潭村", station="冒名服务点", street="白石镇")
    template = next(row for row in rows if row[0] == "submissions")
    forged: list[list[Any]] = []
    for number in range(501):  # new submissions under adv-1, a real row's signature kept
        values = list(template[1])
        values[0] = str(uuid.UUID(int=number + 1))
        forged.append(["submissions", values, template[2]])
    checkin = next(row for row in rows if row[0] == "volunteer_checkins")
    for number in range(20):  # 20 sessions of 12 hours for JG0001
        values = list(checkin[1])
        values[0] = 1000 + number
        values[5] = values[5] - 86400 * (number + 1)
        forged.append(["volunteer_checkins", values, checkin[2]])
        forged.append(["volunteer_checkouts", [1000 + number, "adv-1", values[4],
                                               values[5] + 12 * 3600, "card", None, None],
                       checkin[2]])
    audit = next(row for row in rows if row[0] == "audit")
    forged.append(["audit", [9999, audit[1][1], audit[1][2], "adv-1", "李站长", "export",
                             "residents", "导出全部居民信息"], audit[2]])
    # The roster entry of JG0001 rewritten: phone, ID number, team, card serial.
    entry, signature = header["roster"][0]
    header["roster"][0] = [[entry[0], entry[1], "13800000000", "110101199001011234", "夜班",
                            entry[5], entry[6], entry[7], 9], signature]
    path = write_bundle(tmp_path / "forged.bundle", header, rows + forged)

    result = CliRunner().invoke(main, ["--db", str(tmp_path / "office.db"), "bundle",
                                       "import", str(path), "--to", central])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.count("its signature does not match: the record was changed after "
                               "kiosk adv-1 signed it") == len(forged) + 1  # and the roster
    assert "roster entry JG0001 refused" in result.output
    assert f"refused {len(forged):,} rows" in result.output
    assert snapshot(central) == before
    assert hours_of(central, "JG0001") == Decimal("3.00")
    assert query(central, "SELECT phone, id_card, team, card_serial FROM volunteers") == [
        ("13912345678", "", "心语", 1)]


def test_a_bundle_from_a_kiosk_nobody_enrolled_is_refused_whole(
        city: Kiosk, central: str, tmp_path: Path):
    before = snapshot(central)
    (tmp_path / "evil").mkdir()
    evil = Kiosk(tmp_path / "evil", EVIL, 9)
    stolen = evil.new_submissions(200)
    for item in stolen:
        item.kiosk, item.site = "adv-1", ADV.site  # stamped as another kiosk's
    evil.store.insert_submissions(gated(evil.store, stolen))
    evil.store.add_volunteers([Volunteer("JG0001", "陈晓燕", "13912345678", "", "心语",
                                         "新华社区", dt.date(2024, 3, 1), "suspended", 1)])
    keys = offline_enrolment(EVIL, write_config(tmp_path / "evil" / "evil.toml", EVIL))
    path = tmp_path / "evil.bundle"
    export_bundle(evil.store, EVIL, path, signer=keys.signer, everything=True)
    with pytest.raises(BundleError, match=r"comes from kiosk evil-9, which is not enrolled at"
                                          r" the central database .* nothing was imported"):
        import_into_central(central, read_bundle(path))
    # Sent under adv-1's name instead, its own rows signed by a key it made up.
    header, rows = bundle_lines(path)
    header["kiosk_id"] = "adv-1"
    forged = write_bundle(tmp_path / "as-adv.bundle", header, [
        [stream, values, ["adv-1", 1, signature[2]]] for stream, values, signature in rows])
    report = import_into_central(central, read_bundle(forged))
    assert report.added == 0 and len(report.refused) == len(rows)
    assert snapshot(central) == before
    assert query(central, "SELECT status FROM volunteers WHERE number='JG0001'") == [
        ("active",)]
    assert query(central, "SELECT count(*) FROM submissions WHERE kiosk='adv-1'") == [(500,)]


def test_an_enrolled_kiosk_cannot_claim_another_kiosks_records_or_volunteers(
        city: Kiosk, central: str, tmp_path: Path):
    """hall-2 is enrolled (or stolen): what it signs is its own; submissions stamped
    adv-1 and a change to adv-1's volunteer are refused and named."""
    (tmp_path / "hall").mkdir()
    hall = Kiosk(tmp_path / "hall", HALL, 2)
    claimed = hall.new_submissions(200)
    for item in claimed:
        item.kiosk, item.site = "adv-1", ADV.site
    hall.store.insert_submissions(gated(hall.store, claimed))
    hall.add(10)  # its own, and its own copy of JG0001's entry …
    hall.store.set_volunteer_status("JG0001", "suspended")  # … which it suspends
    report = hall.sync(central)
    assert report.new["submissions"] == 10 and report.set_aside["submissions"] == 200
    listed = hall.store.set_aside_rows()
    assert len(listed) == 200 and all(
        "it is stamped with kiosk adv-1 but signed by kiosk hall-2" in entry["reason"]
        for entry in listed)
    assert report.roster.refused == [(
        "JG0001", "volunteer JG0001 was registered by kiosk adv-1: only that kiosk or the "
                  "admin may change it (陈晓燕 here is 陈晓燕 there)")]
    assert "roster entries the central database refused: JG0001" in report.summary()
    assert query(central, "SELECT count(*) FROM submissions WHERE kiosk='adv-1'") == [(500,)]
    assert query(central, "SELECT status, origin FROM volunteers") == [("active", "adv-1")]
    # adv-1 itself may change its volunteer.
    city.store.set_volunteer_status("JG0001", "suspended")
    assert city.sync(central).roster.updated == 1
    assert query(central, "SELECT status FROM volunteers") == [("suspended",)]


def test_a_signature_copied_onto_changed_content_is_refused_by_the_database(
        city: Kiosk, central: str):
    """Straight at the database, as adv-1's own login: a check-in moved a day earlier under
    its real signature is refused; the real one is taken (it was there already)."""
    from store.central.push import push

    enrolment = city.enrolments[central]
    signer = enrolment.signer
    row = list(city.store.sync_rows("volunteer_checkins", 0, 10**9, 1)[1][0])
    real = signer.sign("volunteer_checkins", row)
    moved = list(row)
    moved[0], moved[5] = 77, moved[5] - 86400
    from store.central.signing import SignedRow, payload_of

    copied = SignedRow("adv-1", 1, payload_of("volunteer_checkins", moved), real.signature)
    as_submission = SignedRow("adv-1", 1, real.payload, real.signature)
    with connect(enrolment.address, **enrolment.connection_parameters()) as connection:
        added, refused = push(connection, "volunteer_checkins", [real, copied])
        assert added == 0 and [index for index, _why in refused] == [1]
        assert "its signature does not match" in refused[0][1]
        # The same signed payload replayed as another stream: the stream is signed too.
        _added, refused = push(connection, "audit", [as_submission])
        assert refused and "its signature does not match" in refused[0][1]
    assert query(central, "SELECT count(*) FROM volunteer_checkins") == [(1,)]


# ---- roles ---------------------------------------------------------------------------------

def login(central: str, group: str, name: str) -> str:
    """A staff login in ``group`` (trust authentication on the throwaway server); roles
    belong to the whole server, so the name carries the group's."""
    name = f"{group}_{name}"
    query(central, f'CREATE ROLE "{name}" LOGIN IN ROLE "{group}"')
    return central.replace("postgresql://kiosk@", f"postgresql://{name}@")


def refused_by_postgres(dsn: str, statement: str, *parameters: Any) -> str:
    with psycopg.connect(dsn, autocommit=True) as connection, pytest.raises(
            psycopg.errors.InsufficientPrivilege) as raised:
        connection.execute(statement, parameters or None)
    return str(raised.value)


def test_each_role_is_refused_what_it_must_not_do(city: Kiosk, central: str,
                                                  tmp_path: Path):
    roles = roles_of(psycopg.connect(central, autocommit=True))
    enrolment = city.enrolments[central]
    kiosk = enrolment.address + f" user={enrolment.login} password={enrolment.password}"
    other = enrolled(central, HALL)
    for statement in ("SELECT * FROM submissions", "SELECT * FROM volunteers",
                      "SELECT id_card FROM volunteers", "SELECT * FROM audit",
                      "SELECT * FROM kiosk_keys", "SELECT * FROM volunteer_checkins",
                      "UPDATE audit SET staff = 'x'", "DELETE FROM submissions",
                      "DELETE FROM volunteer_checkins", "INSERT INTO kiosks(kiosk_id)"
                      " VALUES ('x')", "TRUNCATE stats_tally_total",
                      "SELECT kiosk_count_added()",
                      "SELECT * FROM kiosk_revoke('hall-2')",
                      # the bitmaps: figures a kiosk could bend for the whole city
                      "SELECT * FROM stats_bitmaps", "DELETE FROM stats_bitmap_queue",
                      "UPDATE stats_bitmap_pieces SET stamp = 0"):
        assert "permission denied" in refused_by_postgres(kiosk, statement), statement
    assert "permission denied" in refused_by_postgres(
        kiosk, "SELECT * FROM kiosk_enrol('x', '', '', '', %s, 'v')", f"{roles.prefix}_k_x")
    assert "permission denied" in refused_by_postgres(
        kiosk, "SELECT * FROM kiosk_rotate('hall-2', NULL)")
    # A kiosk reads the schema version and the forms' checksums, nothing more.
    with psycopg.connect(kiosk) as connection:
        assert connection.execute("SELECT survey_id, version FROM forms").fetchall()
    assert "permission denied" in refused_by_postgres(kiosk, "SELECT compiled FROM forms")

    reader = login(central, roles.reader, "li_reader")
    assert refused_by_postgres(reader, "SELECT pii_answers FROM submissions")
    assert refused_by_postgres(reader, "SELECT phone FROM volunteers")
    assert refused_by_postgres(reader, "SELECT id_card FROM volunteers")
    assert refused_by_postgres(reader, "SELECT * FROM kiosk_keys")
    assert refused_by_postgres(reader, "UPDATE submissions SET kiosk = 'x'")
    assert refused_by_postgres(reader, "DELETE FROM audit")
    assert refused_by_postgres(reader, "SELECT * FROM kiosk_push_audit('{}', '{}', '{}', '{}')")
    for statement in ("DELETE FROM stats_bitmap_queue", "UPDATE stats_bitmaps SET bits = ''",
                      "INSERT INTO stats_bitmap_queue (number) VALUES (1)"):
        assert "permission denied" in refused_by_postgres(reader, statement), statement
    with psycopg.connect(reader) as connection:  # what the statistics need, it reads
        assert connection.execute("SELECT count(answers) FROM submissions").fetchone() == (
            500,)
        assert connection.execute("SELECT count(*) FROM stats_tally_total").fetchone()[0] > 0

    pii_reader = login(central, roles.pii_reader, "wang_pii")
    with psycopg.connect(pii_reader) as connection:
        assert connection.execute("SELECT id_card, phone FROM volunteers").fetchall()
        connection.execute("SELECT pii_answers FROM submissions").fetchall()
    assert refused_by_postgres(pii_reader, "UPDATE volunteers SET phone = 'x'")
    assert refused_by_postgres(pii_reader, "SELECT * FROM kiosk_keys")

    admin = login(central, roles.admin, "zhang_admin")
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute("UPDATE volunteers SET team = '心语志愿服务队'")  # the admin may
    assert refused_by_postgres(admin, "SELECT secret FROM kiosk_keys")  # nobody reads keys
    # Someone with no role at all cannot even connect.
    stranger = f"{roles.prefix}_stranger"
    query(central, f'CREATE ROLE "{stranger}" LOGIN')
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(central.replace("postgresql://kiosk@", f"postgresql://{stranger}@"))
    assert other.login != enrolment.login


def test_the_reader_role_gets_statistics_and_hours_without_personal_data(
        city: Kiosk, central: str):
    from store.central.stats import CentralStats
    from surveys.stats.figures import survey_statistics
    from surveys.stats.model import StatsFilter

    roles = roles_of(psycopg.connect(central, autocommit=True))
    reader = login(central, roles.reader, "li_reader")
    with CentralStats(reader) as as_reader, CentralStats(central) as as_owner:
        assert survey_statistics(as_reader, "satisfaction") == survey_statistics(
            as_owner, "satisfaction")
        # A filter on an answer and a cross-tab: from the bitmaps, which it may read.
        elderly = StatsFilter(where={"respondent_group": "elderly"})
        found = survey_statistics(as_reader, "satisfaction", elderly, by="community")
        assert found["n"] > 0
        assert found == survey_statistics(as_owner, "satisfaction", elderly, by="community")
    report = central_hours_report(reader, VolunteerSettings(), station="全街道",
                                  start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30))
    [row] = report.summary()
    assert row.volunteer.number == "JG0001" and row.hours == Decimal("3.00")
    assert row.volunteer.phone in (None, "")


# ---- enrolment, revocation, rotation ---------------------------------------------------------

def test_a_revoked_kiosk_cannot_log_in_nor_send_by_any_road(city: Kiosk, central: str,
                                                             tmp_path: Path):
    enrolment = city.enrolments[central]
    bundle = city.bundle(tmp_path / "before-revocation.bundle", central)
    city.add(5)
    result = CliRunner().invoke(main, ["--db", str(tmp_path / "office.db"), "central",
                                       "revoke", central, "adv-1"])
    assert result.exit_code == 0, result.output
    assert "revoked kiosk adv-1 at" in result.output
    with pytest.raises(psycopg.OperationalError, match="not permitted to log in"):
        psycopg.connect(enrolment.address, user=enrolment.login,
                        password=enrolment.password)
    with pytest.raises(KioskNotEnrolled, match=r"not permitted to log in.*ask staff"):
        city.sync(central)
    # Its rows relayed by another kiosk, or carried in a bundle: refused too.
    with pytest.raises(BundleError, match="comes from kiosk adv-1, which is revoked"):
        import_into_central(central, read_bundle(bundle))
    (tmp_path / "hall").mkdir()
    hall = Kiosk(tmp_path / "hall", HALL, 3)
    hall.add(3)
    hall.take(city.bundle(tmp_path / "later.bundle", central), [])
    report = hall.sync(central)
    assert report.new["submissions"] == 3 and report.set_aside["submissions"] == 505
    assert "kiosk adv-1 was revoked on" in hall.store.set_aside_rows()[0]["reason"]
    # What it sent before stays, and is shown as a revoked kiosk's.
    assert query(central, "SELECT count(*) FROM submissions WHERE origin='adv-1'") == [(500,)]
    listed = CliRunner().invoke(main, ["--db", str(tmp_path / "office.db"), "central",
                                       "kiosks", central])
    assert listed.exit_code == 0, listed.output
    line = next(line for line in listed.output.splitlines() if line.startswith("adv-1"))
    assert "已撤销 revoked" in line and re.search(r"signed rows 5\d\d, unsigned 0", line)
    with pytest.raises(Exception, match="was revoked: give the new kiosk a new id"):
        enrolled(central, ADV)


def test_a_rotated_key_signs_from_now_on_and_the_old_one_still_verifies(
        city: Kiosk, central: str, tmp_path: Path):
    old = city.enrolments[central]
    earlier = city.bundle(tmp_path / "earlier.bundle", central)  # signed with key 1
    output = tmp_path / "adv-1-key2.json"
    result = CliRunner().invoke(main, ["--db", str(tmp_path / "office.db"), "central",
                                       "rotate", central, "adv-1", "-o", str(output)])
    assert result.exit_code == 0, result.output
    config = write_config(tmp_path / "adv-1.toml", ADV)
    joined = CliRunner().invoke(main, ["--db", str(tmp_path / "adv-1.db"), "--config",
                                       str(config), "central", "join", str(output)])
    assert joined.exit_code == 0, joined.output
    from kiosk.central.enrolment import enrolment_path, read_enrolment

    new = read_enrolment(enrolment_path(config))
    assert new.key_version == 2 and new.key != old.key
    city.enrolments[central] = new
    city.add(4)
    assert city.sync(central).new["submissions"] == 4
    assert query(central, "SELECT key_version, count(*) FROM submissions GROUP BY 1"
                          " ORDER BY 1") == [(1, 500), (2, 4)]
    # A bundle made before the rotation is still verified, with the old key.
    report = import_into_central(central, read_bundle(earlier))
    assert report.refused == [] and report.already["submissions"] == 500
    # A key that was never the kiosk's is refused.
    stranger = RecordSigner("adv-1", 2, bytes(32)).sign("audit", [1, "x", 1.0, "adv-1", "李",
                                                                  "export", None, None])
    from store.central.push import push

    with connect(new.address, **new.connection_parameters()) as connection:
        _added, refused = push(connection, "audit", [stranger])
    assert refused and "its signature does not match" in refused[0][1]


def test_a_login_that_is_no_kiosk_cannot_sync(city: Kiosk, central: str):
    roles = roles_of(psycopg.connect(central, autocommit=True))
    reader = login(central, roles.reader, "li_reader")
    from store.central.push import hello

    with connect(reader) as connection, pytest.raises(KioskNotEnrolled,
                                                      match=r"permission denied|not an enrolled"):
        hello(connection, "x")


# ---- migration -------------------------------------------------------------------------------

def test_a_schema_3_database_keeps_every_row_and_its_kiosks_carry_on_from_their_cursors(
        postgres: ThrowawayPostgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import store.central.schema as central_module
    from store.sqlite.sync_cursors import SYNC_COLUMNS

    dsn = postgres.create_database(f"old_{uuid.uuid4().hex[:12]}")
    monkeypatch.setattr(central_module, "CENTRAL_SCHEMA_VERSION", 3)
    init(dsn)
    monkeypatch.undo()
    adv = Kiosk(tmp_path, ADV, 4)
    adv.add(120)
    installation = query(dsn, "SELECT value FROM kiosk_meta WHERE key='installation'")[0][0]
    # What a schema-3 sync wrote, and the cursors it left at the kiosk.
    with psycopg.connect(dsn) as connection:
        connection.execute("INSERT INTO kiosks (kiosk_id, database_id, street, community,"
                           " site, station) VALUES ('adv-1', %s, %s, %s, %s, %s)",
                           (adv.store.database_id(), ADV.street, ADV.community, ADV.site,
                            ADV.station))
        for stream, columns in SYNC_COLUMNS.items():
            rows = adv.store.sync_rows(stream, 0, 1 << 62, 100_000)[1]
            # a schema-3 sync sent no register changes (central schema 5)
            kept = [index for index, column in enumerate(columns) if column != "entity"]
            names = ("origin", *(columns[index] for index in kept))
            with connection.cursor() as cursor:
                cursor.executemany(
                    f"INSERT INTO {stream} ({', '.join(names)}) VALUES"
                    f" ({', '.join(['%s'] * len(names))})",
                    [("adv-1", *(row[index] for index in kept)) for row in rows])
        connection.execute("INSERT INTO volunteers (number, name, phone, id_card, team,"
                           " organisation, joined, status, card_serial, origin) VALUES"
                           " (%s, %s, %s, %s, %s, %s, %s, %s, %s, 'adv-1')", JG0001)
    with adv.store.transaction():
        for stream, upto in adv.store.sync_bounds().items():
            adv.store.set_sync_cursor(installation, stream, upto)
    before = {table: query(dsn, f"SELECT count(*) FROM {table}")[0][0]
              for table in ("submissions", "volunteer_checkins", "audit", "volunteers")}

    result = CliRunner().invoke(main, ["--db", str(tmp_path / "office.db"), "central", "init",
                                       dsn])
    assert result.exit_code == 0, result.output
    assert "migrated the central schema at" in result.output
    assert f"from 3 to {CENTRAL_SCHEMA_VERSION}" in result.output
    # The rows from before have their bitmaps (written by init), none left waiting.
    assert query(dsn, "SELECT count(*) FROM stats_bitmap_queue") == [(0,)]
    assert query(dsn, "SELECT count(*) FROM stats_bitmaps WHERE question = ''"
                      " AND value = '\"\"'") == [(1,)]
    assert "rows from before are kept and marked unsigned" in result.output
    after = {table: query(dsn, f"SELECT count(*) FROM {table}")[0][0] for table in before}
    assert after == before
    assert query(dsn, "SELECT count(*) FROM submissions WHERE signature IS NULL") == [(120,)]
    # Not enrolled yet: it may not sync. Enrolled: it sends only what is new.
    with pytest.raises(Exception, match="not an enrolled kiosk"):
        sync(adv.store, _unenrolled(dsn))
    adv.add(7)
    report = adv.sync(dsn)
    assert report.new["submissions"] == 7 and report.already["submissions"] == 0
    unsigned = sum(query(dsn, f"SELECT count(*) FROM {table} WHERE signature IS NULL")[0][0]
                   for table in SIGNED_TABLES)
    listed = CliRunner().invoke(main, ["--db", str(tmp_path / "office.db"), "central",
                                       "kiosks", dsn])
    assert f"unsigned {unsigned:,}" in listed.output and unsigned > 120


def _unenrolled(dsn: str) -> Any:
    """adv-1's enrolment file as it would be, but made up: a login the database never
    enrolled (the role exists, as any staff login might)."""
    from kiosk.central.enrolment import Enrolment
    from store.central.connection import public_address

    kiosks = roles_of(psycopg.connect(dsn, autocommit=True)).kiosks
    query(dsn, f'CREATE ROLE "{kiosks}_not_one" LOGIN IN ROLE "{kiosks}"')
    return Enrolment(kiosk_id="adv-1", login=f"{kiosks}_not_one", password="x", key_version=1,
                     key=bytes(32), address=public_address(dsn))


# ---- transport -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tls_server() -> Any:
    """A server of its own: TLS with a certificate from a CA of its own, passwords (SCRAM)
    over TCP, every statement logged."""
    server = ThrowawayPostgres(tls=True)
    server.start()
    yield server
    server.stop()


def test_a_kiosk_syncs_over_tls_to_the_server_its_ca_vouches_for_and_no_other(
        tls_server: ThrowawayPostgres, tmp_path: Path):
    import subprocess

    name = f"tls_{uuid.uuid4().hex[:8]}"
    dsn = tls_server.create_database(name)
    init(dsn)
    address = tls_server.tcp_dsn(name, sslmode="verify-full")
    office = ["--db", str(tmp_path / "office.db")]
    carried = tmp_path / "adv-1.enrolment"
    enrol = CliRunner().invoke(main, [*office, "central", "enrol", dsn, "adv-1", "--station",
                                      ADV.station, "--street", ADV.street, "--community",
                                      ADV.community, "--address", address, "--ca",
                                      str(tls_server.ca), "-o", str(carried)])
    assert enrol.exit_code == 0, enrol.output
    kiosk = Kiosk(tmp_path, ADV, 5)
    kiosk.add(20)
    kiosk.store.close()
    config = write_config(tmp_path / "adv-1.toml", ADV)
    here = ["--db", str(tmp_path / "adv-1.db"), "--config", str(config)]
    joined = CliRunner().invoke(main, [*here, "central", "join", str(carried)])
    assert joined.exit_code == 0, joined.output
    from kiosk.central.enrolment import enrolment_path, read_enrolment

    enrolment = read_enrolment(enrolment_path(config))
    assert enrolment.ca_path is not None and enrolment.ca_path.exists()

    def kiosk_sync() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "kiosk", *here, "sync"],
                              capture_output=True, text=True, timeout=120)

    synced = kiosk_sync()
    assert synced.returncode == 0, synced.stderr
    assert f"synced to localhost:{tls_server.port}/" in synced.stdout
    assert "submissions 20 new" in synced.stdout
    log = tls_server.log_path.read_text(errors="replace")
    authorised = [line for line in log.splitlines()
                  if f"connection authorized: user={enrolment.login}" in line]
    assert authorised and all("SSL enabled" in line for line in authorised)
    # The password is on no command line and in no log, not even with every statement
    # logged: the server only ever saw its SCRAM verifier.
    assert enrolment.password not in log and enrolment.password not in synced.stderr
    assert "SCRAM-SHA-256$" in log

    # A server the station's CA does not vouch for: refused before any password is sent.
    other_ca = tmp_path / "other"
    other_ca.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=Someone Else"],
                   check=True, capture_output=True, cwd=other_ca)
    enrolment.ca_path.write_text((other_ca / "ca.crt").read_text())
    refused = kiosk_sync()
    assert refused.returncode == 3, refused.stderr
    assert "certificate verify failed" in refused.stderr and "Traceback" not in refused.stderr
    enrolment.ca_path.write_text(tls_server.ca.read_text())
    # Without TLS the server takes nobody; a wrong password is refused.
    from dataclasses import replace

    from kiosk.central.enrolment import write_enrolment

    plain = address.replace("sslmode=verify-full", "sslmode=disable")
    write_enrolment(enrolment_path(config), replace(enrolment, address=plain))
    assert "no encryption" in kiosk_sync().stderr
    write_enrolment(enrolment_path(config), replace(enrolment, password="not-the-password"))
    wrong = kiosk_sync()
    assert wrong.returncode == 1 and "password authentication failed" in wrong.stderr
    assert "ask staff for this kiosk's new enrolment file" in wrong.stderr


def test_a_reader_asking_for_personal_answers_is_told_it_may_not(city: Kiosk, central: str,
                                                                  tmp_path: Path):
    roles = roles_of(psycopg.connect(central, autocommit=True))
    reader = login(central, roles.reader, "li_export")
    office = ["--db", str(tmp_path / "office.db")]
    refused = CliRunner().invoke(main, [*office, "export", "satisfaction", "-o",
                                        str(tmp_path / "x.csv"), "--include-pii",
                                        "--central", reader])
    assert refused.exit_code == 1
    assert "this login may not read the residents' personal answers" in refused.output
    assert not (tmp_path / "x.csv").exists()
    plain = CliRunner().invoke(main, [*office, "export", "satisfaction", "-o",
                                      str(tmp_path / "x.csv"), "--central", reader])
    assert plain.exit_code == 0, plain.output


def test_personal_answers_sit_where_only_a_pii_reader_reads_them(city: Kiosk, central: str):
    """A service request's name and phone (marked pii): the reader's copy of the answers
    lacks them; the pii reader and an export with personal data have them."""
    from store.central.stats import CentralStats

    store = city.store
    version = store.load_form("service_request").version
    record = {"instance_id": str(uuid.UUID(int=4242)), "survey": "service_request",
              "version": version, "kiosk": "adv-1", "site": ADV.site,
              "started": "2026-11-20T09:30:00.000+08:00",
              "completed": "2026-11-20T09:34:00.000+08:00", "lang": "zh",
              "answers": {"category": "elderly", "for_whom": "family",
                          "community": "liangfeng", "description": "母亲八十多岁，想申请助餐",
                          "urgency": "soon", "followup": "phone", "contact_name": "王阿姨",
                          "contact_phone": "13812345678"}}
    store.insert_submissions([store.record_gate().check(record)], source="kiosk")
    assert city.sync(central).new["submissions"] == 1
    roles = roles_of(psycopg.connect(central, autocommit=True))
    reader, pii_reader = (login(central, roles.reader, "li_pii_check"),
                          login(central, roles.pii_reader, "wang_pii_check"))
    with psycopg.connect(reader) as connection:
        answers = connection.execute("SELECT answers FROM submissions WHERE survey_id ="
                                     " 'service_request'").fetchone()[0]
    assert answers["description"] == "母亲八十多岁，想申请助餐"
    assert "contact_phone" not in answers and "contact_name" not in answers
    with psycopg.connect(pii_reader) as connection:
        assert connection.execute("SELECT pii_answers FROM submissions WHERE survey_id ="
                                  " 'service_request'").fetchone()[0] == {
            "contact_name": "王阿姨", "contact_phone": "13812345678"}
    with CentralStats(pii_reader) as stats:
        [exported] = list(stats.iter_submissions("service_request"))
    assert exported["answers"] == record["answers"]
    with CentralStats(reader) as stats:
        [exported] = list(stats.iter_submissions("service_request"))
    assert "contact_phone" not in exported["answers"]

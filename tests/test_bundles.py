"""Offline bundles (`kiosk bundle export` / `kiosk bundle import`): a village point's data
carried to the hall's kiosk or to the central PostgreSQL, once, whatever is imported twice;
damaged bundles refused with nothing changed. The central database is the throwaway
PostgreSQL of tests/conftest.py."""

from __future__ import annotations

import dataclasses
import hashlib
import random
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kiosk.central.bundles import read_bundle
from kiosk.central.sync import STREAM_LABELS
from kiosk.cli import main
from store import KioskStore, open_store
from store.central.push import CENTRAL_TABLES
from store.central.schema import init
from surveys.session import Submission
from surveys.stats.figures import survey_statistics
from tests.gated import gated
from tests.stats_data import compiled_versions, generate
from tests.test_central_sync import (
    KIOSKS,
    Kiosk,
    assert_central_is_the_union,
    digest,
    kiosk_options,
    query,
)

pytest.importorskip("psycopg")


def invoke(tmp_path: Path, kiosk: Kiosk | None, *arguments: str) -> Result:
    options = kiosk_options(tmp_path, kiosk.identity) if kiosk is not None else []
    return CliRunner().invoke(main, [*options, *arguments])


def stamped(submissions: list[Submission], kiosk: Kiosk) -> list[Submission]:
    """Generated submissions as answered at ``kiosk`` (its id and site)."""
    return [dataclasses.replace(item, kiosk=kiosk.identity.kiosk_id, site=kiosk.identity.site)
            for item in submissions]


def dump_digest(path: Path) -> str:
    """Every table's rows (SQL text): what the kiosk would show or sync."""
    with KioskStore(path) as store:
        return hashlib.sha256("\n".join(store.conn.iterdump()).encode()).hexdigest()


def central_counts(dsn: str) -> dict[str, int]:
    return {table: query(dsn, f"SELECT count(*) FROM {table}")[0][0]
            for table in ["kiosks", *(table for table, _key in CENTRAL_TABLES.values())]}


@pytest.mark.parametrize("limits", [{}, {"BULK_BATCH": 37}, {"BULK_BYTES": 20_000}],
                         ids=["one batch", "batches of 37", "batches of 20 kB"])
def test_a_bundle_merges_into_another_kiosk_once(tmp_path: Path, limits: dict[str, int],
                                                 monkeypatch: pytest.MonkeyPatch):
    """Stored in one batch or in many (by count or by bytes): the same submissions, each
    once, the same figures."""
    import kiosk.central.bundles

    for name, value in limits.items():
        monkeypatch.setattr(kiosk.central.bundles, name, value)
    village = Kiosk(tmp_path, KIOSKS["village-3"], 1)
    hall = Kiosk(tmp_path, KIOSKS["hall-1"], 2)
    version_1, version_2 = compiled_versions(tmp_path)
    village.store.install_form(version_1)
    village.store.install_form(version_2)
    hall.store.install_form(version_1)  # the second version comes with the bundle
    village_civic = stamped(generate(400, seed=3), village)
    village.add(30, also=village_civic)  # Chinese text, tabs and newlines in answers too
    hall_civic = [item for item in stamped(generate(200, seed=4), hall) if item.version == "1"]
    hall.add(20, also=hall_civic)
    hall_volunteer_rows = {table: hall.local_count(table) for table in (
        "volunteer_checkins", "volunteer_checkouts", "volunteer_corrections",
        "request_updates")}
    before = hall.store.submission_count()
    bundle = tmp_path / "village.bundle"
    village.enrol_offline()

    exported = invoke(tmp_path, village, "bundle", "export", "-o", str(bundle))
    assert exported.exit_code == 0, exported.output
    assert ("submissions 430, review decisions 0, answer corrections 0, request updates 1,"
            " volunteer sessions 1, check-outs 1") in (
        exported.output)
    imported = invoke(tmp_path, hall, "bundle", "import", str(bundle))
    assert imported.exit_code == 0, imported.output
    assert "imported the bundle of kiosk village-3 into" in imported.output
    assert "forms 1 new (7 already there), submissions 430 new" in imported.output
    assert "not taken into a kiosk database" in imported.output
    assert "volunteer sessions 1" in imported.output

    with open_store(tmp_path / "hall-1.db") as store:
        assert store.submission_count() == before + 430
        for item in village.submissions:  # as answered at the village, its kiosk and site
            assert store.submission_record(item.instance_id) == item.to_json()
        for table, count in hall_volunteer_rows.items():  # the village's own records stay out
            assert store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == count
        figures = survey_statistics(store, "civic")
    with open_store(tmp_path / "reference.db") as reference:
        reference.install_form(version_1)
        reference.install_form(version_2)
        reference.insert_submissions(gated(reference, hall_civic + village_civic))
        assert figures == survey_statistics(reference, "civic")
    assert figures["n"] == len(hall_civic) + len(village_civic)

    hall.store.close()
    village.store.close()
    first = dump_digest(tmp_path / "hall-1.db")
    again = invoke(tmp_path, hall, "bundle", "import", str(bundle))
    assert again.exit_code == 0, again.output
    assert "forms 0 new (8 already there), submissions 0 new (430 already there)" in (
        again.output)
    assert dump_digest(tmp_path / "hall-1.db") == first  # not even an audit entry


def test_a_bundle_into_the_central_database_twice_then_syncs(tmp_path: Path, central: str):
    init(central)
    village = Kiosk(tmp_path, KIOSKS["village-3"], 3)
    village.add(250)
    village.enrol(central)
    bundle = tmp_path / "village.bundle"
    assert invoke(tmp_path, village, "bundle", "export", "-o", str(bundle)).exit_code == 0
    carried = list(village.submissions)

    first = invoke(tmp_path, None, "bundle", "import", str(bundle), "--to", central)
    assert first.exit_code == 0, first.output
    assert "imported the bundle of kiosk village-3 into 127.0.0.1:" in first.output
    assert "submissions 250 new" in first.output
    assert query(central, "SELECT kiosk_id, site, station FROM kiosks") == [
        ("village-3", "白石镇/龙潭村", "白石镇龙潭村服务点")]
    again = invoke(tmp_path, None, "bundle", "import", str(bundle), "--to", central)
    assert again.exit_code == 0, again.output
    assert "submissions 0 new (250 already there)" in again.output
    counts = central_counts(central)
    assert counts["submissions"] == 250 and counts["volunteer_checkins"] == 1

    # The village gets a network: its sync finds the bundle's rows there already.
    village.add(40)
    report = village.sync(central)
    assert report.new["submissions"] == 40 and report.already["submissions"] == 250
    assert report.already["volunteer_checkins"] == 1 and report.new["volunteer_checkins"] == 1
    assert_central_is_the_union(central, [village])

    # The hall imported the same bundle and syncs: the village's submissions stay once.
    hall = Kiosk(tmp_path, KIOSKS["hall-2"], 4)
    hall.add(15)
    assert invoke(tmp_path, hall, "bundle", "import", str(bundle)).exit_code == 0
    hall.submissions += carried
    synced = hall.sync(central)
    assert synced.new["submissions"] == 15 and synced.already["submissions"] == 250
    assert_central_is_the_union(central, [village, hall])
    assert central_counts(central)["submissions"] == 250 + 40 + 15


def damaged_copies(data: bytes, rng: random.Random) -> list[tuple[str, bytes, str]]:
    """(what, bytes, the problem the message must name)."""
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x20
    cases = [("a flipped byte", bytes(flipped), "checksum mismatch"),
             ("empty", b"", "not a kiosk bundle"),
             ("wrong magic", data.replace(b"KIOSK-BUNDLE 2", b"KIOSK-BUNDEL 2", 1),
              "not a kiosk bundle"),
             ("a CSV file", "instance_id,survey\n1,满意度\n".encode(), "not a kiosk bundle")]
    cuts = sorted(rng.sample(range(len("KIOSK-BUNDLE ") + 1, len(data) - 1), 8))
    for cut in [5, *cuts, len(data) - 40, len(data) - 1]:  # bounded: ten cuts
        lines = data[:cut].count(b"\n")
        cases.append((f"cut at byte {cut}", data[:cut], f"truncated after line {lines}"))
    # Rows removed and the checksum made again: the counts no longer match the header.
    lines = data.split(b"\n")
    body = b"\n".join(line for line in lines[:-2] if not line.startswith(b'["submissions"'))
    body += b"\n"
    forged = body + b"KIOSK-BUNDLE-END sha256=" + hashlib.sha256(body).hexdigest().encode()
    cases.append(("rows removed", forged + b"\n", "where the header says"))
    return cases


def test_damaged_bundles_are_refused_and_change_nothing(tmp_path: Path, central: str):
    init(central)
    village = Kiosk(tmp_path, KIOSKS["village-3"], 5)
    village.add(60)
    village.enrol(central)
    bundle = tmp_path / "village.bundle"
    assert invoke(tmp_path, village, "bundle", "export", "-o", str(bundle)).exit_code == 0
    hall = Kiosk(tmp_path, KIOSKS["hall-1"], 6)
    hall.add(10)
    hall.store.close()
    assert invoke(tmp_path, None, "bundle", "import", str(bundle), "--to",
                  central).exit_code == 0
    hall_before = digest(tmp_path / "hall-1.db")
    central_before = central_counts(central)
    damaged = tmp_path / "damaged.bundle"
    for what, data, problem in damaged_copies(bundle.read_bytes(), random.Random(13)):
        damaged.write_bytes(data)
        for target in ([], ["--to", central]):
            result = invoke(tmp_path, hall, "bundle", "import", str(damaged), *target)
            assert result.exit_code == 1, (what, result.output)
            assert f"bundle {damaged} is damaged (" in result.output, what
            assert problem in result.output, (what, result.output)
            assert "nothing was imported" in result.output
            assert "Traceback" not in result.output
    assert digest(tmp_path / "hall-1.db") == hall_before
    assert central_counts(central) == central_before


def test_the_next_bundle_carries_only_what_is_new(tmp_path: Path):
    village = Kiosk(tmp_path, KIOSKS["village-3"], 7)
    village.add(50)
    village.enrol_offline()
    first, second, since_first, everything = (tmp_path / f"{name}.bundle" for name in (
        "first", "second", "since-first", "all"))
    result = invoke(tmp_path, village, "bundle", "export", "-o", str(first))
    assert result.exit_code == 0 and "everything: the first bundle" in result.output
    village.add(7)
    new_ids = {item.instance_id for item in village.submissions[50:]}
    result = invoke(tmp_path, village, "bundle", "export", "-o", str(second))
    assert result.exit_code == 0 and "since the last bundle" in result.output
    result = invoke(tmp_path, village, "bundle", "export", "--since", str(first), "-o",
                    str(since_first))
    assert result.exit_code == 0, result.output

    before, after = read_bundle(first), read_bundle(second)
    assert len(before.rows["submissions"]) == 50
    assert {row[0] for row in after.rows["submissions"]} == new_ids
    for stream in ("volunteer_checkins", "volunteer_checkouts", "volunteer_corrections",
                   "request_updates"):
        assert len(after.rows[stream]) == 1, stream
    audit_ids = {row[0] for row in village.store.conn.execute("SELECT id FROM audit")}
    assert {row[0] for row in after.rows["audit"]} == {
        key for key in audit_ids if before.streams["audit"].upto < key
        <= after.streams["audit"].upto}
    # Only the forms its submissions were answered on, so the bundle stands on its own.
    assert {(row[0], row[1]) for row in after.rows["forms"]} == {
        (row[1], row[2]) for row in after.rows["submissions"]}
    since = read_bundle(since_first)
    for stream in STREAM_LABELS:
        assert since.streams[stream].after == before.streams[stream].upto
        if stream != "audit":  # the second export's own audit entry came after it
            assert since.rows[stream] == after.rows[stream], stream

    result = invoke(tmp_path, village, "bundle", "export", "-o", str(tmp_path / "none"))
    assert "submissions 0" in result.output or "nothing new" in result.output
    result = invoke(tmp_path, village, "bundle", "export", "--all", "-o", str(everything))
    assert result.exit_code == 0 and "submissions 57" in result.output
    refused = invoke(tmp_path, village, "bundle", "export", "--all", "--since", str(first),
                     "-o", str(everything))
    assert refused.exit_code == 2 and "not both" in refused.output

    # The second bundle alone, at a kiosk that never saw the first: its forms come along.
    hall = Kiosk(tmp_path, KIOSKS["hall-2"], 8)
    result = invoke(tmp_path, hall, "bundle", "import", str(second))
    assert result.exit_code == 0 and "submissions 7 new" in result.output
    result = invoke(tmp_path, hall, "bundle", "import", str(first))
    assert result.exit_code == 0 and "submissions 50 new" in result.output
    assert hall.store.submission_ids() >= {item.instance_id for item in village.submissions}
    hall.enrol_offline()
    other = invoke(tmp_path, hall, "bundle", "export", "--since", str(first), "-o",
                   str(tmp_path / "x.bundle"))
    assert other.exit_code == 1 and "was exported from another kiosk database" in other.output


def test_a_bundle_that_does_not_fit_changes_nothing(tmp_path: Path):
    """A form version the kiosk holds with other content: the whole import is refused,
    the forms installed before it in the same transaction too."""
    village = Kiosk(tmp_path, KIOSKS["village-3"], 9)
    hall = Kiosk(tmp_path, KIOSKS["hall-1"], 10)
    version_1, version_2 = compiled_versions(tmp_path)
    village.store.install_form(version_1)
    village.store.install_form(version_2)
    village.add(5, also=stamped(generate(40, seed=5), village))
    hall.store.install_form({**version_2, "source_sha256": "0" * 64})
    hall.add(5)
    village.enrol_offline()
    bundle = tmp_path / "village.bundle"
    assert invoke(tmp_path, village, "bundle", "export", "-o", str(bundle)).exit_code == 0
    hall.store.close()
    before = dump_digest(tmp_path / "hall-1.db")
    result = invoke(tmp_path, hall, "bundle", "import", str(bundle))
    assert result.exit_code == 1
    assert "survey 'civic' version 2 is already installed with different content" in (
        result.output)
    assert "nothing was imported" in result.output
    assert dump_digest(tmp_path / "hall-1.db") == before  # version 1 was rolled back too

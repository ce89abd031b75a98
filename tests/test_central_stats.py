"""City-wide statistics (`kiosk stats ID --central DSN [--by-site]`, `kiosk export ID
--central DSN`) against a real PostgreSQL (tests/pg_server.py).

Three kiosk databases at three sites, a two-version survey (tests/stats_data.py), synced
with a sync killed inside its transaction, cursors reset so every batch is sent again, and
one kiosk's submissions carried to another in a bundle: the central figures must equal
those of one fresh kiosk database holding the union of the three — computed there
independently, by the kiosk's own statistics — as whole JSON, with every filter and
cross-tab; the breakdown by street, community and kiosk is checked against a count made
here from the submissions themselves.
"""

from __future__ import annotations

import dataclasses
import io
import json
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from kiosk.central.bundles import export_bundle, import_into_kiosk, read_bundle
from kiosk.central.enrolment import Enrolment
from kiosk.central.sync import KioskIdentity, sync
from kiosk.cli import main
from store import KioskStore
from store.central.schema import init
from store.central.stats import CentralStats
from store.sqlite.sync_cursors import SYNC_COLUMNS
from surveys.exports import export_survey
from surveys.session import Submission
from surveys.stats.figures import survey_statistics
from surveys.stats.model import StatsFilter
from surveys.stats.sites import site_breakdown, street_of
from tests import stats_data
from tests.enrolled import enrolled
from tests.gated import gated
from tests.pg_server import ThrowawayPostgres, free_port

psycopg = pytest.importorskip("psycopg")

ROOT = Path(__file__).parents[1]
SURVEY = stats_data.SURVEY
PLACES = {
    "hall-1": KioskIdentity("hall-1", "九龙街道", "新华社区", "九龙街道社工站"),
    "hall-2": KioskIdentity("hall-2", "九龙街道", "东风社区", "九龙街道社工站"),
    "village-3": KioskIdentity("village-3", "白石镇", "龙潭村", "龙潭村服务点"),
}
SELECTS = ["group", "services", "sat", "old_q", "new_q"]
FILTERS = [
    StatsFilter(),
    StatsFilter(date_from=date(2026, 10, 10), date_to=date(2026, 10, 31)),
    StatsFilter(sites=("九龙街道/东风社区",)),
    StatsFilter(kiosks=("village-3",), enumerators=("JG0001",)),
    StatsFilter(sites=("白石镇/龙潭村",), date_from=date(2026, 10, 5), date_to=date(2026, 11, 3)),
    StatsFilter(where={"group": "elderly"}),
    StatsFilter(where={"services": "e", "sat": "5"}, date_from=date(2026, 10, 20)),
    StatsFilter(where={"group": "youth"}, sites=("九龙街道/新华社区", "")),
]
SYNC_SCRIPT = """
import sys
from pathlib import Path
from kiosk.central.enrolment import read_enrolment
from kiosk.central.sync import sync
from store import KioskStore
path, enrolment = sys.argv[1:]
sync(KioskStore(path), read_enrolment(Path(enrolment)), batch=40)
"""


def query(dsn: str, sql: str, *parameters: object) -> list[tuple]:
    with psycopg.connect(dsn, autocommit=True) as connection:
        cursor = connection.execute(sql, parameters or None)
        return cursor.fetchall() if cursor.description else []


def submissions_at(kiosk: KioskIdentity, count: int, seed: int) -> list[Submission]:
    """Generated submissions of both versions as answered at ``kiosk``: its id and site,
    except a tenth from a tablet with no site recorded (then with an enumerator)."""
    rng = random.Random(seed)
    made = []
    for item in stats_data.generate(count, seed=seed):
        no_site = rng.random() < 0.1
        made.append(dataclasses.replace(
            item, kiosk=kiosk.kiosk_id, site=None if no_site else kiosk.site,
            enumerator=rng.choice(["JG0001", "JG0002"]) if no_site else None))
    return made


@dataclasses.dataclass
class City:
    dsn: str
    union: KioskStore  # one fresh kiosk database with every submission
    submissions: list[Submission]


_VERSIONS: dict[Path, list[dict]] = {}


def new_kiosk(directory: Path, name: str) -> KioskStore:
    """A kiosk database with the survey's two versions (the same files for every kiosk of
    ``directory``: a version means one form)."""
    if directory not in _VERSIONS:
        _VERSIONS[directory] = stats_data.compiled_versions(directory)
    store = KioskStore(directory / f"{name}.db")
    for compiled in _VERSIONS[directory]:
        store.install_form(compiled)
    return store


def killed_inside_its_transaction(path: Path, dsn: str, enrolment: Enrolment) -> None:
    """A sync in its own process, killed while its batch's submissions are inserted but
    their tallies wait for a lock held here: the server rolls the whole batch back."""
    with psycopg.connect(dsn) as blocker:
        blocker.execute("LOCK TABLE stats_tally_total IN EXCLUSIVE MODE")
        process = subprocess.Popen(
            [sys.executable, "-c", SYNC_SCRIPT, str(path), str(enrolment.path)], cwd=ROOT,
            stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        waiting: list[tuple] = []
        while not waiting and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
            waiting = query(dsn, "SELECT pid FROM pg_stat_activity WHERE wait_event_type ="
                                 " 'Lock' AND query LIKE '%kiosk_push_submissions%'")
        assert waiting, process.communicate()
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        blocker.rollback()
    time.sleep(0.2)  # the server notices the closed connection and rolls it back


@pytest.fixture(scope="module")
def city(postgres: ThrowawayPostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    directory = tmp_path_factory.mktemp("city")
    dsn = postgres.create_database(f"city_{uuid.uuid4().hex[:12]}")
    init(dsn)
    stores = {name: new_kiosk(directory, name) for name in PLACES}
    enrolments = {name: enrolled(dsn, identity, config=directory / f"{name}.toml")
                  for name, identity in PLACES.items()}
    made = {name: submissions_at(identity, 700, seed)
            for seed, (name, identity) in enumerate(PLACES.items(), start=11)}
    # Part of the village's submissions reach hall-2 in a bundle too (the same ids), signed
    # by the village point's key.
    carried = made["village-3"][:120]
    carrier = new_kiosk(directory, "carrier")
    carrier.insert_submissions(gated(carrier, carried))
    export_bundle(carrier, PLACES["village-3"], directory / "village.bundle",
                  signer=enrolments["village-3"].signer, everything=True)
    carrier.close()
    for name, store in stores.items():
        store.insert_submissions(gated(store, made[name][:400]))
    import_into_kiosk(stores["hall-2"], read_bundle(directory / "village.bundle"))
    sync(stores["hall-1"], enrolments["hall-1"], batch=53)
    killed_inside_its_transaction(directory / "hall-2.db", dsn, enrolments["hall-2"])
    assert query(dsn, "SELECT count(*) FROM submissions WHERE kiosk = 'hall-2'") == [(0,)]
    sync(stores["hall-2"], enrolments["hall-2"], batch=97, connections=1)  # one at a time
    for name, store in stores.items():
        store.insert_submissions(gated(store, made[name][400:]))
    for name, store in stores.items():
        report = sync(store, enrolments[name], batch=61)
        if name == "village-3":
            assert report.already["submissions"] == 120  # carried by hall-2 first
    stores["hall-1"].conn.execute("DELETE FROM sync_cursors")  # everything sent again
    again = sync(stores["hall-1"], enrolments["hall-1"], batch=200)
    assert again.new["submissions"] == 0 and again.already["submissions"] == 700
    for store in stores.values():
        store.close()
    union = {item.instance_id: item for name in PLACES for item in made[name]}
    everything = sorted(union.values(), key=lambda item: (item.completed, item.instance_id))
    reference = new_kiosk(directory, "union")
    reference.insert_submissions(gated(reference, everything))
    yield City(dsn, reference, everything)
    reference.close()


@pytest.fixture
def central_store(city: City) -> Iterator[CentralStats]:
    with CentralStats(city.dsn) as store:
        yield store


@pytest.mark.parametrize("filters", FILTERS, ids=[str(i) for i in range(len(FILTERS))])
def test_city_wide_statistics_equal_those_of_one_database_with_every_submission(
        city: City, central_store: CentralStats, filters: StatsFilter):
    for options in ({"period": "week"}, {"by": "group"}, {"by": "services"},
                    {"by": "sat", "question": "services", "language": "en"}):
        found = survey_statistics(central_store, SURVEY, filters, include_pii=True, **options)
        expected = survey_statistics(city.union, SURVEY, filters, include_pii=True, **options)
        assert json.dumps(found, ensure_ascii=False) == json.dumps(expected, ensure_ascii=False)
    assert found["n"] > 0


def test_the_figures_stay_the_same_once_the_queue_is_written_into_the_bitmaps(
        city: City, central_store: CentralStats):
    """Until now every submission waited in the queue (read into the bitmaps in memory);
    ``kiosk central index`` writes them, and the tests after this one read the pieces."""
    assert query(city.dsn, "SELECT count(*) FROM stats_bitmap_queue") == [
        (len(city.submissions),)]  # a batch sent again or rolled back queued nothing
    shown = [survey_statistics(central_store, SURVEY, filters, include_pii=True, by="services")
             for filters in FILTERS]
    result = CliRunner().invoke(main, ["central", "index", city.dsn])
    assert result.exit_code == 0, result.output
    assert f"{len(city.submissions)} 份" in result.output
    assert query(city.dsn, "SELECT count(*) FROM stats_bitmap_queue") == [(0,)]
    assert query(city.dsn, "SELECT count(DISTINCT question) FROM stats_bitmaps")[0][0] > 10
    with CentralStats(city.dsn) as fresh:
        for filters, before in zip(FILTERS, shown, strict=True):
            for store in (fresh, central_store):  # a new reader, and one that read the queue
                assert survey_statistics(store, SURVEY, filters, include_pii=True,
                                         by="services") == before, filters


def direct_breakdown(submissions: list[Submission], filters: StatsFilter) -> dict:
    """N and each select question's counts per place, counted here from the submissions."""
    kept = [item for item in submissions
            if all(matches(item, name, value) for name, value in filters.where.items())
            and (not filters.sites or (item.site or "") in filters.sites)
            and (not filters.date_from or china_day(item.completed) >= filters.date_from)]
    places = {"street": lambda item: street_of(item.site),
              "community": lambda item: item.site or "", "kiosk": lambda item: item.kiosk}
    result: dict = {}
    for dimension, place_of in places.items():
        result[dimension] = {}
        for place in sorted({place_of(item) for item in kept}):
            here = [item for item in kept if place_of(item) == place]
            questions = {}
            for name in SELECTS:
                answered = [item.answers[name] for item in here if item.answers.get(name)]
                chosen = Counter(choice for answer in answered
                                 for choice in (answer if isinstance(answer, list) else [answer]))
                questions[name] = (len(answered), dict(chosen))
            result[dimension][place] = (len(here), questions)
    return result


def china_day(completed: str) -> date:
    return datetime.fromisoformat(completed).astimezone(ZoneInfo("Asia/Shanghai")).date()


def matches(item: Submission, name: str, value: str) -> bool:
    answer = item.answers.get(name)
    return value in answer if isinstance(answer, list) else answer == value


@pytest.mark.parametrize("filters", [StatsFilter(), StatsFilter(where={"group": "elderly"}),
                                     StatsFilter(sites=("白石镇/龙潭村", "")),
                                     StatsFilter(date_from=date(2026, 10, 20))])
def test_by_site_figures_match_a_direct_count(city: City, central_store: CentralStats,
                                              filters: StatsFilter):
    found = site_breakdown(central_store, SURVEY, filters)
    expected = direct_breakdown(city.submissions, filters)
    assert list(found) == ["street", "community", "kiosk"]
    if not filters.sites:
        assert set(found["street"]) >= {"九龙街道", "白石镇"}
    for dimension, places in expected.items():
        assert list(found[dimension]) == list(places)
        for place, (n, questions) in places.items():
            entry = found[dimension][place]
            assert entry["n"] == n
            for name, (answered, chosen) in questions.items():
                figures = entry["questions"][name]
                assert figures["n"] == answered
                assert {key: value for key, value in figures["counts"].items() if value} \
                    == chosen
                for choice, count in figures["counts"].items():
                    assert figures["percent"][choice] == (count / answered * 100
                                                          if answered else None)
    # A kiosk's own database gives the same breakdown for what it holds.
    assert site_breakdown(city.union, SURVEY, filters) == found


@pytest.mark.parametrize("options", [
    {"file_format": "csv"},
    {"file_format": "csv", "labels": True, "include_pii": True,
     "filters": StatsFilter(where={"services": "a"}, date_to=date(2026, 10, 25))},
    {"file_format": "jsonl", "filters": StatsFilter(sites=("九龙街道/新华社区",))},
])
def test_export_from_central_equals_export_from_the_union(city: City,
                                                          central_store: CentralStats,
                                                          options: dict):
    found, expected = io.StringIO(), io.StringIO()
    count = export_survey(central_store, SURVEY, found, **options)
    assert count == export_survey(city.union, SURVEY, expected, **options) > 0
    if options["file_format"] == "jsonl":  # jsonb keeps no key order: compare as objects
        assert [json.loads(line) for line in found.getvalue().splitlines()] == [
            json.loads(line) for line in expected.getvalue().splitlines()]
    else:
        assert found.getvalue() == expected.getvalue()


def test_kiosk_stats_and_export_with_central(city: City, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch):
    runner = CliRunner()
    local = ["--db", str(tmp_path / "staff.db"), "--config", str(tmp_path / "none.toml")]
    result = runner.invoke(main, [*local, "stats", SURVEY, "--central", city.dsn, "--by-site",
                                  "--json", "--where", "group=elderly"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    filters = StatsFilter(where={"group": "elderly"})
    assert stats["n"] == survey_statistics(city.union, SURVEY, filters)["n"]
    assert stats["by_site"] == json.loads(json.dumps(
        site_breakdown(city.union, SURVEY, filters), ensure_ascii=False))
    monkeypatch.setenv("KIOSK_CENTRAL", city.dsn)
    shown = runner.invoke(main, [*local, "stats", SURVEY, "--by-site", "--central"])
    assert shown.exit_code == 0, shown.output
    assert "按街道/镇" in shown.output and "白石镇/龙潭村" in shown.output
    output = tmp_path / "city.csv"
    exported = runner.invoke(main, [*local, "export", SURVEY, "-o", str(output), "--central"])
    assert exported.exit_code == 0, exported.output
    assert f"wrote {len(city.submissions)} submissions" in exported.output
    assert not (tmp_path / "staff.db").exists()  # no kiosk database made on a staff computer
    missing = runner.invoke(main, [*local, "stats", "nosuch", "--central", city.dsn])
    assert missing.exit_code == 1 and "no survey 'nosuch' at the central database" in (
        missing.output)


def test_local_by_site_without_central(tmp_path: Path):
    store = new_kiosk(tmp_path, "hall")
    store.insert_submissions(gated(store, submissions_at(PLACES["hall-1"], 300, 5)))
    store.close()
    result = CliRunner().invoke(main, ["--db", str(tmp_path / "hall.db"), "stats", SURVEY,
                                       "--by-site", "--json"])
    assert result.exit_code == 0, result.output
    by_site = json.loads(result.output)["by_site"]
    assert set(by_site["street"]) == {"九龙街道", ""}
    assert sum(entry["n"] for entry in by_site["kiosk"].values()) == 300


@pytest.mark.parametrize("command", [["stats", SURVEY], ["export", SURVEY, "-o", "x.csv"]])
def test_unreachable_central_database_exits_3(tmp_path: Path, command: list[str]):
    port = free_port()  # nothing listens there
    result = CliRunner().invoke(main, ["--db", str(tmp_path / "k.db"), *command, "--central",
                                       f"postgresql://kiosk@127.0.0.1:{port}/city"])
    assert result.exit_code == 3, result.output
    assert f"cannot reach the central database at 127.0.0.1:{port}/city" in result.output


def test_a_schema_1_database_gets_its_submissions_counted(city: City,
                                                          postgres: ThrowawayPostgres,
                                                          tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch):
    import store.central.schema as central_module

    dsn = postgres.create_database(f"old_{uuid.uuid4().hex[:12]}")
    monkeypatch.setattr(central_module, "CENTRAL_SCHEMA_VERSION", 1)
    init(dsn)
    # What a schema-1 sync wrote: forms and submissions, no statistics.
    with psycopg.connect(dsn) as connection:
        for stream in ("forms", "submissions"):
            _after, rows = city.union.sync_rows(stream, 0, 1 << 62, 100_000)
            # a schema-1 sync sent no register changes (central schema 5)
            kept = [index for index, column in enumerate(SYNC_COLUMNS[stream])
                    if column != "entity"]
            columns = ("origin", *(SYNC_COLUMNS[stream][index] for index in kept))
            with connection.cursor() as cursor:
                cursor.executemany(
                    f"INSERT INTO {stream} ({', '.join(columns)}) VALUES"
                    f" ({', '.join(['%s'] * len(columns))})",
                    [("union", *(row[index] for index in kept)) for row in rows])
    monkeypatch.undo()
    assert init(dsn).before == 1
    with CentralStats(dsn) as migrated:
        for filters in FILTERS[:3]:
            assert survey_statistics(migrated, SURVEY, filters, by="group") == \
                survey_statistics(city.union, SURVEY, filters, by="group")

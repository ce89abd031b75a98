"""Statistics while submissions arrive, after a migration, and through `kiosk stats`."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from kiosk.cli import main
from store import SCHEMA_VERSION, KioskStore
from surveys.stats.figures import survey_statistics
from surveys.stats.model import StatsFilter
from tests import stats_data
from tests.gated import gated
from tests.stats_data import SURVEY
from tests.test_store import as_left_by

ROOT = Path(__file__).parents[1]
WRITER = """
import sys
from store import KioskStore
from tests import stats_data
from tests.gated import gated, gated_one

path, count = sys.argv[1], int(sys.argv[2])
submissions = stats_data.generate(count, seed=99)
with KioskStore(path) as store:
    for start in range(0, count, 40):
        batch = submissions[start:start + 40]
        if start % 80:
            store.insert_submissions(gated(store, batch))
        else:
            for submission in batch:
                store.save_submission(gated_one(store, submission))
"""


def new_database(directory: Path, count: int) -> Path:
    path = directory / "kiosk.db"
    with KioskStore(path) as store:
        for compiled in stats_data.compiled_versions(directory):
            store.install_form(compiled)
        if count:
            store.insert_submissions(gated(store, stats_data.generate(count)))
    return path


def consistent(stats: dict) -> int:
    """Figures that must agree in any one snapshot; returns N."""
    n = stats["n"]
    group = stats["questions"]["group"]  # required: every submission answers it
    assert group["n"] == n == sum(group["counts"].values())
    assert sum(entry["n"] for entry in stats["over_time"]["series"]) == n
    table = stats["crosstab"]["table"]
    assert sum(sum(row.values()) for row in table.values()) == stats["questions"]["sat"]["n"]
    return n


def test_figures_stay_consistent_while_a_writer_stores_submissions(tmp_path: Path):
    path = new_database(tmp_path, 500)
    count = 3000
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(count)], cwd=ROOT)
    seen = []
    with KioskStore(path) as store:
        try:
            while writer.poll() is None or not seen:
                stats = survey_statistics(store, SURVEY, by="group", question="sat")
                seen.append(consistent(stats))
                # A filter on an answer and its cross-tab, from the bitmaps of one snapshot.
                young = survey_statistics(store, SURVEY, StatsFilter(where={"group": "youth"}),
                                          by="group", question="sat")
                assert young["questions"]["group"]["counts"]["youth"] == consistent(young)
                assert sum(young["crosstab"]["table"]["youth"].values()) == \
                    young["questions"]["sat"]["n"]
                time.sleep(0.01)
        finally:
            writer.wait(timeout=120)
        assert writer.returncode == 0
        final = survey_statistics(store, SURVEY, by="group", question="sat")
        assert consistent(final) == 500 + count
    assert seen == sorted(seen) and len(set(seen)) > 2  # reads happened while it wrote


def test_a_schema_4_database_gets_its_submissions_counted(tmp_path: Path):
    path = new_database(tmp_path, 1200)
    with KioskStore(path) as store:
        before = survey_statistics(store, SURVEY, by="services", include_pii=True)
        filtered = survey_statistics(store, SURVEY, StatsFilter(where={"sat": "4"},
                                                                kiosks=("hall-1",)))
    as_left_by(path, 4)  # what a schema-4 kiosk left: no statistics tables, no site column
    with KioskStore(path) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 12
        after = survey_statistics(store, SURVEY, by="services", include_pii=True)
        # Sites were not recorded before schema 5: the series counts them under "".
        for entry in before["over_time"]["series"]:
            entry["sites"] = {"": entry["n"]}
        assert after == before
        again = survey_statistics(store, SURVEY, StatsFilter(where={"sat": "4"},
                                                             kiosks=("hall-1",)))
        assert again.pop("over_time") != filtered.pop("over_time")  # the sites
        assert again == filtered
        # New submissions after the migration are counted on top.
        store.insert_submissions(gated(store, stats_data.generate(10, seed=5)))
        assert survey_statistics(store, SURVEY)["n"] == 1210


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return new_database(tmp_path, 800)


def run(database: Path, *arguments: str) -> object:
    return CliRunner().invoke(main, ["--db", str(database), "stats", SURVEY, *arguments],
                              env={"COLUMNS": "160"})


def test_kiosk_stats_prints_tables_with_chinese_labels(database: Path):
    result = run(database, "--by", "group", "--question", "sat")
    assert result.exit_code == 0, result.output
    for text in ("社区调查", "提交份数 800", "您属于哪一类居民？", "老年人", "非常满意",
                 "95% 置信区间", "平均分", "满意率", "服务B", "排名", "意见建议", "行%", "列%"):
        assert text in result.output, text
    assert "联系电话" not in result.output  # pii left out
    assert "提交数量随时间变化（按月）" in result.output  # once "(month)" in a Chinese table
    english = run(database, "--lang", "en", "--where", "group=elderly")
    assert english.exit_code == 0 and "Older person" in english.output
    assert "Submissions over time (by month)" in english.output


def test_kiosk_stats_json_has_the_exact_figures(database: Path):
    result = run(database, "--json", "--where", "services=b", "--from", "2026-10-05",
                 "--to", "2026-11-10", "--kiosk", "hall-1", "--kiosk", "tablet-1",
                 "--by", "services", "--question", "group", "--period", "week")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    with KioskStore(database) as store:
        filters = StatsFilter(date_from=dt.date(2026, 10, 5), date_to=dt.date(2026, 11, 10),
                              kiosks=("hall-1", "tablet-1"), where={"services": "b"})
        expected = survey_statistics(store, SURVEY, filters, by="services", question="group",
                                     period="week")
    assert figures == json.loads(json.dumps(expected))
    assert figures["survey"] == SURVEY and figures["filters"]["where"] == {"services": "b"}
    sat = figures["questions"]["sat"]
    assert {"type", "label", "n", "counts", "percent", "ci95", "choices", "mean", "top2",
            "top2_ci95"} <= set(sat)
    assert figures["crosstab"]["by"] == "services"
    assert set(figures["crosstab"]["table"]) == set(stats_data.SERVICES_V2)


@pytest.mark.parametrize(("where", "message"), [
    ("colour=red", "no question 'colour'; select questions: group, services, new_q, sat, "
                   "old_q"),
    ("group=kids", "question 'group' has no choice 'kids'; choices: elderly, youth, other"),
    ("age=30", "not a select question: 'age'"),
    ("group", "give QUESTION=CHOICE"),
])
def test_kiosk_stats_refuses_an_unknown_question_or_choice(database: Path, where: str,
                                                           message: str):
    result = run(database, "--where", where)
    assert result.exit_code == 2
    assert message in result.output


def test_site_passes_through_jsonl_import_and_export(tmp_path: Path):
    from kiosk.importer import import_jsonl

    path = new_database(tmp_path, 0)
    records = [submission.to_json() for submission in stats_data.generate(4, seed=3)]
    records[0]["site"], records[1]["site"] = "九龙", None
    records[2].pop("site", None)
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n"
                              for record in records), encoding="utf-8")
    with KioskStore(path) as store:
        report = import_jsonl(store, source)
        assert report.stored == 4, report.rejected
        assert survey_statistics(store, SURVEY, StatsFilter(sites=("九龙",)))["n"] == \
            sum(record.get("site") == "九龙" for record in records)
        exported = {record["instance_id"]: record
                    for record in store.iter_submissions(SURVEY)}  # what exports write
    assert exported[records[0]["instance_id"]]["site"] == "九龙"
    assert "site" not in exported[records[1]["instance_id"]]
    assert "site" not in exported[records[2]["instance_id"]]

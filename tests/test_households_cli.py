"""``kiosk households list|show|export`` (issue 16, item 5): the longest overdue household
first, the interval per register from the configuration, a household's visits and
conflicts, names and phones masked on screen and left out of the export unless asked for
(and the asking audited). Real kiosk databases and CSV files; dates relative to today."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kiosk.cli import main
from store import open_store
from surveys.entities import EntityChange
from surveys.xlsform import compile_xlsform
from tests.households import days_ago, register

FORMS = Path(__file__).parent / "forms"


@pytest.fixture
def kiosk(tmp_path: Path) -> dict:
    store = open_store(tmp_path / "kiosk.db")
    for name in ("register.md", "followup.md"):
        store.install_form(compile_xlsform(FORMS / name))
    ids = {
        "recent": register(store, "王建国", "长江小区 12 栋", "13800001111", "门口坡道",
                           completed=days_ago(1), members=2),
        "late": register(store, "王秀英", "金港花园 3 栋 201", "13912345678", "卫生间扶手",
                         completed=days_ago(60), members=2),
        "middle": register(store, "赵敏", "东风一村 5 栋", "13700002222", "床边护栏",
                           completed=days_ago(20), members=2),
    }
    # an offline update of the middle household, made from version 1 after another one
    with store.transaction():
        store.add_entity_changes([
            EntityChange("households", ids["middle"], "update", "u-1", days_ago(10),
                         base_version=1, properties={"state": "open"}),
            EntityChange("households", ids["middle"], "update", "u-2", days_ago(9),
                         base_version=1, properties={"state": "done"})])
    store.close()
    config = tmp_path / "config.toml"
    config.write_text('[station]\nname = "金港街道社工站"\nkiosk_id = "hall-1"\n',
                      encoding="utf-8")
    return {"db": tmp_path / "kiosk.db", "config": config, "ids": ids}


def run(kiosk: dict, *arguments: str):
    result = CliRunner().invoke(main, ["--db", str(kiosk["db"]), "--config",
                                       str(kiosk["config"]), "households", *arguments],
                                env={"COLUMNS": "200"})
    assert "Traceback" not in result.output
    return result


def test_the_longest_overdue_household_comes_first(kiosk):
    result = run(kiosk, "list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1].startswith("逾期 30 天") and "王**" in lines[1]
    assert "卫生间扶手" in lines[1]
    # due 30 days after the last change: the middle one (changed 9 days ago) in 21 days
    assert lines[2].startswith("21 天后") and "赵*" in lines[2] and "有冲突" in lines[2]
    assert lines[3].startswith("29 天后")
    assert lines[-1].startswith("3 households in 'households', 1 overdue")
    assert "13912345678" not in result.output and "王秀英" not in result.output
    records = json.loads(run(kiosk, "list", "--json").output)
    assert [record["id"] for record in records] == [kiosk["ids"][name] for name in
                                                    ("late", "middle", "recent")]
    assert records[0]["overdue_days"] == 30 and records[0]["properties"]["phone"] == (
        "139****5678")


def test_the_interval_of_a_register_comes_from_the_configuration(kiosk):
    kiosk["config"].write_text(kiosk["config"].read_text(encoding="utf-8")
                               + "\n[registers]\nvisit_every_days = 30\n"
                                 "lists = {households = 7}\n", encoding="utf-8")
    records = json.loads(run(kiosk, "list", "--json", "--overdue").output)
    assert [record["overdue_days"] for record in records] == [53, 2]
    bad = kiosk["config"].read_text(encoding="utf-8").replace("households = 7",
                                                              "households = 0")
    kiosk["config"].write_text(bad, encoding="utf-8")
    result = run(kiosk, "list")
    assert result.exit_code != 0 and "[registers] lists.households" in result.output
    assert "from 1 to 3650" in result.output


def test_a_household_shows_its_visits_and_its_conflict(kiosk):
    middle = kiosk["ids"]["middle"]
    result = run(kiosk, "show", middle[:8])
    assert result.exit_code == 0, result.output
    # (whether the address is personal is up to the forms that save it; the bundled
    # home_adaptation may say so)
    assert result.output.startswith("赵* ") and "状态 state: 已完成" in result.output
    assert "plan: 床边护栏" in result.output and "phone: 137****2222" in result.output
    assert "visits (3):" in result.output and "household_register  登记 registered" in (
        result.output)
    assert "冲突 conflict: visit u-2 was made from version 1 but applied on version 2" in (
        result.output)
    assert run(kiosk, "show", "ffff").exit_code != 0
    assert "no household 'ffff'" in run(kiosk, "show", "ffff").output
    assert "at least the first 4" in run(kiosk, "show", "a").output
    assert "no register 'people'" in run(kiosk, "list", "--list", "people").output


def test_the_export_leaves_names_and_phones_out_unless_asked(kiosk, tmp_path):
    plain, full = tmp_path / "plain.csv", tmp_path / "full.csv"
    assert run(kiosk, "export", "-o", str(plain)).exit_code == 0
    with plain.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["id"] for row in rows] == [kiosk["ids"][name] for name in
                                           ("late", "middle", "recent")]
    assert "label" not in rows[0] and "phone" not in rows[0] and "head_name" not in rows[0]
    assert rows[0]["plan"] == "卫生间扶手"
    assert rows[1]["conflicts"] == "1" and rows[1]["state"] == "done"
    assert "王秀英" not in plain.read_text(encoding="utf-8-sig")
    assert run(kiosk, "export", "-o", str(full), "--include-pii").exit_code == 0
    with full.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0]["label"] == "王秀英 金港花园 3 栋 201" and rows[0]["phone"] == "13912345678"
    with open_store(kiosk["db"]) as store:
        details = [row[0] for row in store.conn.execute(
            "SELECT detail FROM audit WHERE action = 'households.export' ORDER BY id")]
    assert details == ["3 households to plain.csv",
                       "3 households to full.csv with personal data"]

"""``kiosk review list|set|correct|show`` and ``--review`` on stats and export (issue 17): what a
staff member at a terminal sees and gets, on a real kiosk database and real CSV files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from kiosk.cli import main
from store import KioskStore
from surveys.paradata import ParadataRecord
from tests import stats_data
from tests.gated import gated, gated_one
from tests.stats_data import SURVEY


@pytest.fixture
def kiosk(tmp_path: Path) -> dict:
    submissions = stats_data.generate(30, seed=2)
    with KioskStore(tmp_path / "kiosk.db") as store:
        for compiled in stats_data.compiled_versions(tmp_path):
            store.install_form(compiled)
        store.insert_submissions(gated(store, submissions))
        codes = {item.instance_id: store.receipt_code_of(item.instance_id)
                 for item in submissions}
    return {"db": tmp_path / "kiosk.db", "ids": [item.instance_id for item in submissions],
            "codes": codes, "submissions": submissions}


def run(kiosk: dict, *arguments: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--db", str(kiosk["db"]), "--kiosk-id", "hall-1",
                                       *arguments])
    return result.exit_code, result.output


def test_a_void_submission_leaves_stats_and_exports_and_comes_back_with_the_filter(
        kiosk: dict, tmp_path: Path):
    target = kiosk["ids"][0]
    code, output = run(kiosk, "review", "set", kiosk["codes"][target], "作废",
                       "--note", "同一居民填了两次", "--staff", "李社工")
    assert code == 0, output
    assert f"{target}: 作废 (void) — 同一居民填了两次" in output
    code, output = run(kiosk, "stats", SURVEY, "--json")
    assert json.loads(output)["n"] == 29
    code, output = run(kiosk, "stats", SURVEY, "--json", "--review", "void")
    assert json.loads(output)["n"] == 1
    code, output = run(kiosk, "stats", SURVEY, "--json", "--review", "all")
    assert json.loads(output)["n"] == 30
    default, with_void = tmp_path / "default.csv", tmp_path / "all.csv"
    assert run(kiosk, "export", SURVEY, "-o", str(default))[0] == 0
    assert run(kiosk, "export", SURVEY, "-o", str(with_void), "--review", "all")[0] == 0
    ids = [row["instance_id"] for row in csv.DictReader(default.open(encoding="utf-8-sig"))]
    assert len(ids) == 29 and target not in ids
    ids = [row["instance_id"] for row in csv.DictReader(with_void.open(encoding="utf-8-sig"))]
    assert len(ids) == 30 and target in ids
    code, output = run(kiosk, "review", "list", SURVEY, "--state", "void")
    assert "作废" in output and target in output and "同一居民填了两次" in output


def test_a_correction_shows_in_the_figures_and_the_history(kiosk: dict, tmp_path: Path):
    target = kiosk["ids"][1]
    before = kiosk["submissions"][1].answers["group"]
    after = "youth" if before != "youth" else "elderly"
    label = {"youth": "青少年", "elderly": "老年人"}[after]
    code, output = run(kiosk, "stats", SURVEY, "--json")
    counts = json.loads(output)["questions"]["group"]["counts"]
    code, output = run(kiosk, "review", "correct", target, "group", label,
                       "--why", "居民来电说选错了", "--staff", "李社工")
    assert code == 0, output
    assert f"group {before} → {after} (居民来电说选错了)" in output
    code, output = run(kiosk, "stats", SURVEY, "--json")
    corrected = json.loads(output)["questions"]["group"]["counts"]
    assert corrected[after] == counts[after] + 1 and corrected[before] == counts[before] - 1
    code, output = run(kiosk, "review", "show", target)
    assert "更正 group" in output and "李社工" in output
    code, output = run(kiosk, "review", "show", target, "--json", "--include-pii")
    history = json.loads(output)
    assert history["original"]["group"] == before and history["corrected"]["group"] == after
    exported = tmp_path / "out.csv"
    run(kiosk, "export", SURVEY, "-o", str(exported))
    rows = {row["instance_id"]: row for row in csv.DictReader(exported.open(encoding="utf-8-sig"))}
    assert rows[target]["group"] == after


@pytest.mark.parametrize(("arguments", "message"), [
    (("review", "set", "no-such-id", "approved"), "没有这份问卷"),
    (("review", "set", "{id}", "maybe"), "没有审核状态"),
    (("review", "set", "{id}", "void"), "请写明审核说明"),
    (("review", "correct", "{id}", "group", "martian", "--why", "x"), "没有选项"),
    (("review", "correct", "{id}", "age", "=1+1", "--why", "x"), "要填数字"),
    (("stats", SURVEY, "--review", "maybe"), "没有审核状态"),
    (("review", "set", "{id}", "questioned", "--note", "坏\udcff字节"), "编码不对"),
    (("review", "set", "{id}", "approved", "--staff", "王\udc80"), "编码不对"),
    (("review", "correct", "{id}", "comment", "楼道\udcff", "--why", "x"), "不符合问卷规则"),
    (("review", "correct", "{id}", "comment", "x" * 20_000, "--why", "x"), "太长"),
    (("review", "correct", "{id}", "group", "youth", "--why", "\x1b[2J"), "控制字符"),
    (("review", "list", "nope"), "no survey 'nope'"),
])
def test_what_staff_get_wrong_is_named_without_a_traceback(kiosk: dict, arguments: tuple,
                                                            message: str):
    code, output = run(kiosk, *(part.replace("{id}", kiosk["ids"][2]) for part in arguments))
    assert code != 0 and message in output and "Traceback" not in output


def test_the_queue_lists_what_is_left_to_review_and_pii_stays_masked(kiosk: dict):
    phone = next(item for item in kiosk["submissions"] if "phone" in item.answers)
    code, output = run(kiosk, "review", "correct", phone.instance_id, "phone", "13900001111",
                       "--why", "号码抄错")
    assert code == 0, output
    code, output = run(kiosk, "review", "show", phone.instance_id)
    assert "13900001111" not in output and "***" in output
    run(kiosk, "review", "set", kiosk["ids"][3], "approved")
    code, output = run(kiosk, "review", "list", SURVEY, "--json")
    listed = json.loads(output)
    assert listed["counts"] == {"pending": 29, "approved": 1, "questioned": 0, "void": 0}
    assert kiosk["ids"][3] not in {entry["instance_id"] for entry in listed["queue"]}
    assert len(listed["queue"]) == 29


def test_the_xlsx_export_shows_the_history_of_what_it_holds(kiosk: dict, tmp_path: Path):
    voided, corrected = kiosk["ids"][4], kiosk["ids"][5]
    run(kiosk, "review", "set", voided, "void", "--note", "测试", "--staff", "李社工")
    run(kiosk, "review", "set", corrected, "questioned", "--note", "电话不对", "--staff", "李社工")
    code, output = run(kiosk, "review", "correct", corrected, "phone", "13900001111",
                       "--why", "号码抄错", "--staff", "李社工")
    assert code == 0, output

    def history(*options: str) -> list[tuple]:
        target = tmp_path / f"export{len(options)}.xlsx"
        code, output = run(kiosk, "export", SURVEY, "-o", str(target), *options)
        assert code == 0, output
        sheet = load_workbook(target, read_only=True)["审核与更正"]
        return [row for row in sheet.iter_rows(values_only=True)][1:]

    rows = history()
    assert [(row[0], row[4], row[5], row[6], row[8]) for row in rows] == [
        (corrected, "审核", "有问题", None, None), (corrected, "更正", None, "phone", "***")]
    assert rows[1][9] == "号码抄错" and rows[1][2] == "李社工"
    rows = history("--include-pii", "--review", "all")
    assert [row[0] for row in rows] == [voided, corrected, corrected]
    assert rows[2][8] == "13900001111"


def test_the_queue_shows_who_filled_implausibly_fast(tmp_path: Path):
    submissions = stats_data.generate(13, seed=4)
    with KioskStore(tmp_path / "kiosk.db") as store:
        for compiled in stats_data.compiled_versions(tmp_path):
            store.install_form(compiled)
        for number, submission in enumerate(submissions):
            seconds = 20.0 if number == 12 else 150.0 + number  # the last: in 20 s
            store.save_submission_with_paradata(
                gated_one(store, submission),
                ParadataRecord(seconds=seconds, answer_changes=0, back_steps=0,
                               interruptions=0, events=[]))
    kiosk = {"db": tmp_path / "kiosk.db"}
    code, output = run(kiosk, "review", "list", SURVEY, "--json")
    assert code == 0, output
    flagged = {entry["instance_id"]: entry["flags"] for entry in json.loads(output)["queue"]}
    assert flagged.pop(submissions[12].instance_id) == ["speeder"]
    assert set(map(tuple, flagged.values())) == {()}
    code, output = run(kiosk, "review", "list", SURVEY)
    assert code == 0, output
    fast = next(line for line in output.splitlines() if submissions[12].instance_id in line)
    assert "答得过快" in fast
    assert sum("答得过快" in line for line in output.splitlines()) == 1

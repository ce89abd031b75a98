"""`kiosk volunteer add|import|list|suspend|activate|reissue|sessions|correct|hours`."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from click.testing import CliRunner

from kiosk.cards.payload import make_payload
from kiosk.cli import main
from kiosk.config import VolunteerSettings
from kiosk.volunteers.desk import VolunteerDesk
from store import KioskStore

SHANGHAI = ZoneInfo("Asia/Shanghai")
SECRET = b"c" * 32


@pytest.fixture
def run(tmp_path: Path):
    runner = CliRunner()
    base = ["--db", str(tmp_path / "kiosk.db"), "--config", str(tmp_path / "config.toml"),
            "--kiosk-id", "office"]
    (tmp_path / "config.toml").write_text('[station]\nname = "九龙街道社工站"\n',
                                          encoding="utf-8")

    def invoke(*arguments: str):
        return runner.invoke(main, [*base, *arguments], env={"COLUMNS": "160"})

    return invoke


def add_two(run) -> None:
    result = run("volunteer", "add", "jg0001", "陈晓燕", "--phone", "139 1234 5678", "--team",
                 "心语志愿服务队", "--organisation", "新华社区", "--id-card",
                 "110101199003071233", "--joined", "2024-03-01")
    assert result.exit_code == 0, result.output
    assert "added volunteer JG0001 陈晓燕 (心语志愿服务队)" in result.output
    result = run("volunteer", "add", "JG0002", "王建国", "--phone", "13800001111", "--team",
                 "五老志愿服务队")
    assert result.exit_code == 0, result.output


def test_add_list_suspend_activate_reissue(run):
    add_two(run)
    again = run("volunteer", "add", "JG0001", "重复", "--phone", "13912345678")
    assert again.exit_code == 1 and "JG0001 is already on the roster" in again.output
    bad = run("volunteer", "add", "JG0003", "李梅", "--phone", "12345", "--joined", "明天")
    assert bad.exit_code == 1
    assert "not a mainland mobile number" in bad.output and "'明天' is not a date" in bad.output

    listed = run("volunteer", "list", "--json")
    records = json.loads(listed.output)
    assert [record["number"] for record in records] == ["JG0001", "JG0002"]
    assert records[0]["phone"] == "139****5678"
    assert records[0]["id_card"] == "1101**********1233"
    assert "13912345678" not in listed.output
    full = json.loads(run("volunteer", "list", "--json", "--include-pii").output)
    assert (full[0]["phone"], full[0]["id_card"]) == ("13912345678", "110101199003071233")
    team = json.loads(run("volunteer", "list", "--team", "五老志愿服务队", "--json").output)
    assert [record["name"] for record in team] == ["王建国"]
    table = run("volunteer", "list")
    assert table.exit_code == 0 and "陈晓燕" in table.output and "139****5678" in table.output

    assert "suspended" in run("volunteer", "suspend", "jg0002").output
    assert json.loads(run("volunteer", "list", "--json").output)[1]["status"] == "suspended"
    assert run("volunteer", "activate", "JG0002").exit_code == 0
    reissued = run("volunteer", "reissue", "JG0001")
    assert reissued.exit_code == 0 and "card serial is now 2" in reissued.output
    assert json.loads(run("volunteer", "list", "--json").output)[0]["card_serial"] == 2
    missing = run("volunteer", "suspend", "JG0404")
    assert missing.exit_code == 1 and "no volunteer JG0404" in missing.output


def test_import_reports_bad_rows_and_exits_1(run, tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text("number,name,phone,team\nJG0101,赵敏,13912345670,心语志愿服务队\n"
                    ",无编号,13912345671,\nJG0101,again,13912345672,\nJG0102,钱伟,123,\n"
                    "JG0103,孙丽,13912345673,\n", encoding="utf-8-sig")
    result = run("volunteer", "import", str(path))
    assert result.exit_code == 1
    assert f"{path}, row 3: missing volunteer number" in result.output
    assert f"{path}, row 4: volunteer number JG0101 appears again (first on row 2)" in (
        result.output)
    assert f"{path}, row 5: phone '123'" in result.output
    assert "added 2 volunteers, rejected 3 rows" in result.output
    again = run("volunteer", "import", str(path), "--json")
    report = json.loads(again.stdout)
    assert report["added"] == 0 and [row["row"] for row in report["rejected"]] == [2, 3, 4, 5, 6]
    good = tmp_path / "good.csv"
    good.write_text("编号,姓名,手机\nJG0104,周强,13912345674\n", encoding="utf-8")
    assert run("volunteer", "import", str(good)).exit_code == 0
    broken = tmp_path / "roster.txt"
    broken.write_text("x", encoding="utf-8")
    refused = run("volunteer", "import", str(broken))
    assert refused.exit_code == 1 and "must be a .csv or .xlsx file" in refused.output


def test_sessions_correct_and_hours_report(run, tmp_path):
    add_two(run)
    store = KioskStore(tmp_path / "kiosk.db")
    moments = iter([
        dt.datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI),    # JG0001 in
        dt.datetime(2026, 11, 2, 11, 30, tzinfo=SHANGHAI),  # JG0001 out: 2.5 h
        dt.datetime(2026, 11, 3, 14, 0, tzinfo=SHANGHAI),   # JG0002 in, never out
        dt.datetime(2026, 11, 4, 9, 0, tzinfo=SHANGHAI),    # JG0001 in (JG0002 closed at 21:00)
        dt.datetime(2026, 11, 4, 9, 10, tzinfo=SHANGHAI),   # JG0001 out: short
    ])
    desk = VolunteerDesk(store, SECRET, kiosk="hall-1", settings=VolunteerSettings(),
                         clock=lambda: next(moments))
    for number in ("JG0001", "JG0001", "JG0002", "JG0001", "JG0001"):
        serial = store.volunteer(number).card_serial
        desk.scan(make_payload(number, serial, SECRET))
    store.close()

    listed = json.loads(run("volunteer", "sessions", "--month", "2026-11", "--json").output)
    assert [(item["number"], item["state"]) for item in listed] == [
        ("JG0001", "credited"), ("JG0002", "review"), ("JG0001", "credited")]
    assert listed[2]["flags"] == ["short_session"]
    review = run("volunteer", "sessions", "--review")
    assert review.exit_code == 0 and "王建国" in review.output and "待核实" in review.output
    assert "1 waiting for review" in review.output
    forgotten = listed[1]["id"]

    refused = run("volunteer", "correct", str(forgotten), "--out", "13:00", "--reason", "x",
                  "--staff", "王社工")
    assert refused.exit_code == 1 and "is not after check-in" in refused.output
    corrected = run("volunteer", "correct", str(forgotten), "--out", "17:30", "--reason",
                    "忘记签退，实际17:30离开", "--staff", "王社工")
    assert corrected.exit_code == 0, corrected.output
    assert "3.5 hours credited (已计入)" in corrected.output
    void = run("volunteer", "correct", str(listed[2]["id"]), "--void", "--reason", "误扫",
               "--staff", "王社工")
    assert void.exit_code == 0 and "0 hours credited (已作废)" in void.output

    csv_path = tmp_path / "hours.csv"
    result = run("volunteer", "hours", "--from", "2026-11-01", "--to", "2026-11-30",
                 "--format", "csv", "-o", str(csv_path))
    assert result.exit_code == 0, result.output
    assert "2 volunteers, 3 sessions, 6 hours" in result.output
    assert csv_path.read_bytes().startswith(b"\xef\xbb\xbf")
    with open(csv_path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    summary = rows[2:rows.index([])]
    assert [(row[0], row[4], row[5]) for row in summary] == [
        ("JG0001", "1", "2.50"), ("JG0002", "1", "3.50"), ("合计", "2", "6.00")]
    title, header, *details = rows[rows.index([]) + 1:]
    assert title[0] == "志愿服务记录明细"
    forgotten_row = dict(zip(header, next(row for row in details
                                         if row[0] == str(forgotten)), strict=True))
    assert forgotten_row["签退"] == "2026-11-03 21:00"
    assert forgotten_row["更正后签退"] == "2026-11-03 17:30"
    assert "王社工" in forgotten_row["更正记录"] and "忘记签退" in forgotten_row["更正记录"]
    assert "13912345678" not in csv_path.read_text(encoding="utf-8-sig")

    xlsx_path = tmp_path / "hours.xlsx"
    result = run("volunteer", "hours", "--month", "2026-11", "--team", "心语志愿服务队",
                 "--include-pii", "-o", str(xlsx_path))
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(xlsx_path)
    summary_rows = list(book["汇总"].iter_rows(values_only=True))
    assert summary_rows[1][:3] == ("JG0001", "陈晓燕", "13912345678")
    assert [row[0] for row in summary_rows[1:]] == ["JG0001", "合计"]

    bad = run("volunteer", "hours", "--from", "2026-11-30", "--to", "2026-11-01", "-o",
              str(csv_path))
    assert bad.exit_code == 2 and "before --from" in bad.output


def test_one_word_for_a_state_on_every_screen_and_report(run, tmp_path: Path):
    """A volunteer still checked in is 在岗 in the CLI, the hours report and the dashboard
    (the report and the CLI once said 未签退); a job being sent is 正在打印 everywhere (the
    dashboard once said 打印中)."""
    from kiosk.i18n import state_word

    add_two(run)
    with KioskStore(tmp_path / "kiosk.db") as store:
        desk = VolunteerDesk(store, SECRET, kiosk="hall-1",
                             settings=VolunteerSettings(day_end="23:59"),
                             clock=lambda: dt.datetime.now(SHANGHAI))
        assert desk.scan(make_payload("JG0001", 1, SECRET)).outcome == "checked_in"
        job = store.add_print_job("receipt", [], at=1.0, title="回执")
        assert store.claim_print_job(job, "worker-1", 2.0)
    assert state_word("session_state", "open", "zh") == "在岗"
    sessions = run("volunteer", "sessions")
    assert "在岗" in sessions.output and "未签退" not in sessions.output
    report = tmp_path / "hours.csv"
    assert run("volunteer", "hours", "-o", str(report)).exit_code == 0
    text = report.read_text(encoding="utf-8-sig")
    assert "在岗" in text and ",未签退," not in text
    queue = run("printer", "queue")
    assert "正在打印 printing" in queue.output and "打印中" not in queue.output

"""The staff dashboard behind the PIN (issue 6, item 4): live tallies with bars and a cross-tab
picker, the service-request queue with status and note, the print queue, today's volunteers,
export to a folder — and every staff action in the audit record.

Driven through Pilot from the home screen; assertions read the screen and the database.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sqlite3
import uuid
from collections import Counter
from pathlib import Path

import pytest
from openpyxl import load_workbook
from textual.widgets import DataTable, Input, Select, TabbedContent

from kiosk.screens import dashboard
from kiosk.screens.dashboard import StaffDashboardScreen, bar
from store import KioskStore
from surveys.session import Submission
from tests.gated import gated, stored_before_the_gate
from tests.test_app_flow import CONFIG, SIZE, kiosk, screen_text, tap, wait_for
from tests.test_kiosk_hall import PIN, PIN_HASH, keys

CHINA = dt.timezone(dt.timedelta(hours=8))
STAFF_CONFIG = CONFIG.with_changes(staff_pin_hash=PIN_HASH)
OVERALL = ("5", "4", "3", "2", "1")
GROUPS = ("elderly", "youth", "hardship", "disabled", "other")


def satisfaction(rng: random.Random, day: int = 20) -> Submission:
    moment = dt.datetime(2026, 11, day, 10, rng.randrange(60), tzinfo=CHINA).isoformat()
    return Submission(
        instance_id=f"uuid:{uuid.UUID(int=rng.getrandbits(128))}", survey="satisfaction",
        version=VERSIONS["satisfaction"], started=moment, completed=moment, lang="zh",
        kiosk="hall-1", answers={"respondent_group": rng.choice(GROUPS),
                                 "overall": rng.choice(OVERALL),
                                 "services_used": rng.sample(["elderly", "hall", "children"],
                                                             rng.randint(1, 2))})


def service_request(number: int, category: str, phone: str) -> Submission:
    moment = dt.datetime(2026, 11, 20, 9, number, tzinfo=CHINA).isoformat()
    return Submission(
        instance_id=f"uuid:{uuid.UUID(int=number)}", survey="service_request",
        version=VERSIONS["service_request"], started=moment, completed=moment, lang="zh",
        kiosk="hall-1", answers={"category": category, "for_whom": "self",
                                 "community": "liangfeng", "description": "家里老人需要助餐",
                                 "urgency": "soon", "followup": "phone",
                                 "contact_name": "王阿姨", "contact_phone": phone})


VERSIONS: dict[str, str] = {}


@pytest.fixture
def desk(store: KioskStore, monkeypatch: pytest.MonkeyPatch) -> KioskStore:
    for survey in ("satisfaction", "service_request"):
        VERSIONS[survey] = store.versions(survey)[-1]
    monkeypatch.setattr(dashboard, "REFRESH_SECONDS", 0.2)
    return store


async def open_dashboard(pilot) -> StaffDashboardScreen:  # type: ignore[no-untyped-def]
    await pilot.pause()
    await tap(pilot, "#staff")
    await keys(pilot, *PIN, "enter")
    await tap(pilot, "#staff-dashboard")
    screen = pilot.app.screen
    assert isinstance(screen, StaffDashboardScreen)
    return screen


async def tap_again(pilot, selector: str) -> None:  # type: ignore[no-untyped-def]
    """A second tap on a button once its pressed look is over (a tap during it is one)."""
    button = pilot.app.screen.query_one(selector)
    await wait_for(pilot, lambda: not button.has_class("-active"))
    await tap(pilot, button)


async def show_tab(pilot, tab: str) -> None:  # type: ignore[no-untyped-def]
    pilot.app.screen.query_one("#dashboard-tabs", TabbedContent).active = tab
    await pilot.pause()


def test_bars_grow_with_the_share():
    assert bar(0.0) == ""
    assert bar(1.0) == "█" * dashboard.BAR_WIDTH
    assert len(bar(0.5)) == dashboard.BAR_WIDTH // 2
    assert bar(0.01) != ""  # one per cent still shows


async def test_live_tallies_and_a_cross_tab_on_the_dashboard(desk: KioskStore):
    rng = random.Random(6)
    first = [satisfaction(rng) for _ in range(40)]
    stored_before_the_gate(desk, first)  # tallies of freely made answers
    app = kiosk(desk, config=STAFF_CONFIG)
    async with app.run_test(size=(120, 60)) as pilot:
        await open_dashboard(pilot)
        text = screen_text(app)
        assert "工作人员面板" in text and "有效问卷 40 份" in text
        assert "总的来说，您对社区的工作满意吗？" in text and "(n=40)" in text
        counts = Counter(submission.answers["overall"] for submission in first)
        very = counts["5"]
        assert "非常满意" in text and f" {very} " in text and f"{100 * very / 40:.1f}%" in text
        # New questionnaires arrive while staff watch: the figures follow by themselves.
        stored_before_the_gate(desk, [satisfaction(rng) for _ in range(5)])
        await wait_for(pilot, lambda: "有效问卷 45 份" in screen_text(app))
        # Cross-tab: overall by respondent group, counts with row percentages.
        app.screen.query_one("#stats-by", Select).value = "respondent_group"
        app.screen.query_one("#stats-question", Select).value = "overall"
        await pilot.pause()
        await wait_for(pilot, lambda: "交叉表" in screen_text(app))
        elderly = [s for s in desk.iter_submissions("satisfaction")
                   if s["answers"]["respondent_group"] == "elderly"]
        satisfied = sum(1 for s in elderly if s["answers"]["overall"] == "4")
        share = round(100 * satisfied / len(elderly))
        row = next(line for line in screen_text(app).splitlines() if "老年人" in line)
        assert f"{satisfied} ({share}%)" in row, row


async def test_service_requests_move_on_with_a_note_and_the_staff_name(desk: KioskStore):
    # Stored before the record gate: their ids keep ODK's uuid: prefix.
    stored_before_the_gate(desk, [service_request(1, "elderly", "13912345678"),
                                  service_request(2, "legal", "13800001111")])
    app = kiosk(desk, config=STAFF_CONFIG)
    async with app.run_test(size=(120, 50)) as pilot:
        screen = await open_dashboard(pilot)
        await show_tab(pilot, "tab-requests")
        table = screen.query_one("#requests", DataTable)
        assert table.row_count == 2
        text = screen_text(app)
        assert "养老" in text and "法律" in text and "新登记" in text
        table.move_cursor(row=0)
        await pilot.pause()
        assert "13912345678" in screen_text(app)  # the contact, for the call back
        # Without a name nothing is recorded: the record must say who.
        await tap(pilot, "#request-start")
        assert "请先在右上角填写经办人姓名" in screen_text(app)
        assert desk.request_updates("uuid:" + str(uuid.UUID(int=1))) == []
        screen.query_one("#staff-name", Input).value = "李社工"
        screen.query_one("#request-note", Input).value = "已电话联系，周三上门"
        await tap_again(pilot, "#request-start")
        first = "uuid:" + str(uuid.UUID(int=1))
        updates = desk.request_updates(first)
        assert [(u["status"], u["note"], u["staff"]) for u in updates] == [
            ("in_progress", "已电话联系，周三上门", "李社工")]
        assert "处理中" in screen_text(app) and "已电话联系，周三上门" in screen_text(app)
        code = desk.receipt_code_of(first)
        assert f"回执码 {code} 的登记已改为：处理中" in screen_text(app)
        # Closing it takes it off the open queue; the history keeps both steps.
        table.move_cursor(row=next(index for index in range(table.row_count)
                                   if table.coordinate_to_cell_key((index, 0)).row_key.value
                                   == first))
        await pilot.pause()
        await tap(pilot, "#request-close")
        assert table.row_count == 1
        assert [u["status"] for u in desk.request_updates(first)] == ["in_progress", "closed"]
    audit = desk.audit_entries(actions=("request_status",))
    assert [(a["staff"], a["target"], a["detail"]) for a in audit] == [
        ("李社工", first, "in_progress: 已电话联系，周三上门"), ("李社工", first, "closed")]


async def test_reprint_from_the_print_queue_is_audited(desk: KioskStore):
    job = desk.add_print_job("receipt", [{"text": "谢谢"}], at=1_800_000_000.0,
                             title="回执 AB12", kiosk="hall-1")
    assert desk.claim_print_job(job, "worker", 1_800_000_000.0)
    desk.print_job_done(job, "worker", 1_800_000_001.0)
    app = kiosk(desk, config=STAFF_CONFIG)
    async with app.run_test(size=(120, 50)) as pilot:
        screen = await open_dashboard(pilot)
        await show_tab(pilot, "tab-printing")
        assert "回执 AB12" in screen_text(app) and "已打印" in screen_text(app)
        screen.query_one("#print-jobs", DataTable).move_cursor(row=0)
        await pilot.pause()
        screen.query_one("#staff-name", Input).value = "王社工"
        await tap(pilot, "#job-reprint")
        assert f"打印任务 {job} 的补打已排队" in screen_text(app)
        assert "补打" in screen_text(app)
    reprints = [j for j in desk.print_jobs() if j.reprint]
    assert len(reprints) == 1 and reprints[0].reprint_of == job
    [entry] = desk.audit_entries(actions=("print_reprint",))
    assert entry["staff"] == "王社工" and entry["target"] == str(job)


async def test_todays_volunteers_are_listed(desk: KioskStore):
    from kiosk.volunteers.roster import add_volunteer, new_volunteer

    add_volunteer(desk, new_volunteer("XY0007", "陈志愿", "13912345678", team="心语志愿服务队"))
    now = dt.datetime.now(CHINA)
    desk.add_checkin("XY0007", now - dt.timedelta(minutes=5), kiosk="hall-1")
    app = kiosk(desk, config=STAFF_CONFIG)
    async with app.run_test(size=(120, 50)) as pilot:
        await open_dashboard(pilot)
        await show_tab(pilot, "tab-volunteers")
        row = next(line for line in screen_text(app).splitlines() if "XY0007" in line)
        assert "陈志愿" in row and "心语志愿服务队" in row and "在岗" in row


async def test_export_to_a_folder_leaves_personal_data_out_and_is_audited(
        desk: KioskStore, tmp_path: Path):
    desk.insert_submissions(gated(desk, [service_request(1, "elderly", "13912345678")]),
                            source="kiosk")
    stick = tmp_path / "U盘"
    stick.mkdir()
    app = kiosk(desk, config=STAFF_CONFIG.with_changes(
        surveys=("service_request", "satisfaction")))
    async with app.run_test(size=(120, 50)) as pilot:
        screen = await open_dashboard(pilot)
        await show_tab(pilot, "tab-export")
        screen.query_one("#export-folder", Input).value = str(tmp_path / "missing")
        await tap(pilot, "#export-go")
        assert "找不到文件夹" in screen_text(app)
        screen.query_one("#export-folder", Input).value = str(stick)
        await tap_again(pilot, "#export-go")
        await wait_for(pilot, lambda: "已导出 1 份" in screen_text(app))
    [written] = list(stick.iterdir())
    assert written.suffix == ".xlsx" and written.name.startswith("service_request-")
    cells = [str(cell) for sheet in load_workbook(written).worksheets
             for row in sheet.iter_rows(values_only=True) for cell in row]
    assert "养老" in cells and "13912345678" not in cells and "王阿姨" not in cells
    [entry] = desk.audit_entries(actions=("export",))
    assert entry["target"] == "service_request" and str(written) in entry["detail"]


async def test_export_for_an_analyst_as_spss_from_the_dashboard(desk: KioskStore,
                                                                tmp_path: Path):
    import pyreadstat

    desk.insert_submissions(gated(desk, [service_request(1, "elderly", "13912345678")]),
                            source="kiosk")
    stick = tmp_path / "U盘"
    stick.mkdir()
    app = kiosk(desk, config=STAFF_CONFIG.with_changes(surveys=("service_request",)))
    async with app.run_test(size=(120, 50)) as pilot:
        screen = await open_dashboard(pilot)
        await show_tab(pilot, "tab-export")
        screen.query_one("#export-format", Select).value = "sav"
        screen.query_one("#export-folder", Input).value = str(stick)
        await pilot.pause()
        await tap(pilot, "#export-go")
        await wait_for(pilot, lambda: "已导出 1 份" in screen_text(app))
    [written] = list(stick.iterdir())
    assert written.suffix == ".sav"
    frame, meta = pyreadstat.read_sav(str(written))
    assert len(frame) == 1 and "13912345678" not in frame.to_csv()
    assert "养老" in " ".join(str(label) for labels in meta.variable_value_labels.values()
                            for label in labels.values())


async def test_the_dashboard_closes_when_left_and_nothing_of_it_stays(desk: KioskStore):
    desk.insert_submissions(gated(desk, [service_request(1, "elderly", "13912345678")]),
                            source="kiosk")
    # Nobody is left idle while the test opens the dashboard (under load that took more
    # than the second this test once allowed, and the countdown came first); then the
    # kiosk is left for a second.
    app = kiosk(desk, config=STAFF_CONFIG, idle_seconds=600, countdown_seconds=1.0)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_dashboard(pilot)
        await show_tab(pilot, "tab-requests")
        screen.query_one("#requests", DataTable).move_cursor(row=0)
        await pilot.pause()
        assert "13912345678" in screen_text(app)
        app.idle_seconds = 1.0
        await wait_for(pilot, lambda: "请点一下您要填写的问卷" in screen_text(app))
        assert "13912345678" not in screen_text(app)


def test_audit_and_request_updates_are_never_changed(desk: KioskStore):
    desk.insert_submissions(gated(desk, [service_request(1, "elderly", "13912345678")]),
                            source="kiosk")
    first = "uuid:" + str(uuid.UUID(int=1))
    desk.set_request_status(first, "in_progress", note="已联系", staff="李社工")
    for statement in ("UPDATE audit SET staff='x'", "DELETE FROM audit",
                      "UPDATE request_updates SET note='x'", "DELETE FROM request_updates"):
        with pytest.raises(sqlite3.IntegrityError, match="never changed or deleted"):
            desk.conn.execute(statement)
    with pytest.raises(Exception, match="no submission"):
        desk.set_request_status("uuid:nothing", "closed", staff="李社工")
    with pytest.raises(Exception, match="must be one of"):
        desk.set_request_status(first, "done", staff="李社工")
    assert [row["status"] for row in desk.service_requests("service_request")] == [
        "in_progress"]


def test_staff_actions_on_the_command_line_are_audited(tmp_path: Path):
    from click.testing import CliRunner

    from kiosk.cli import main
    from store import open_store

    database = tmp_path / "kiosk.db"
    base = ["--db", str(database), "--config", str(tmp_path / "config.toml"),
            "--kiosk-id", "office"]
    runner = CliRunner()

    def run(*arguments: str) -> None:
        result = runner.invoke(main, [*base, *arguments])
        assert result.exit_code == 0, result.output

    run("volunteer", "add", "JG0001", "陈晓燕", "--phone", "13912345678")
    run("volunteer", "suspend", "JG0001")
    run("volunteer", "reissue", "JG0001")
    with open_store(database) as store:
        VERSIONS["service_request"] = store.versions("service_request")[-1]
        store.insert_submissions(gated(store, [service_request(1, "elderly", "13912345678")]))
        job = store.add_print_job("receipt", [{"text": "谢谢"}], at=1_800_000_000.0)
    run("printer", "queue", "cancel", str(job))
    run("export", "service_request", "-o", str(tmp_path / "需求.csv"), "--include-pii")
    with open_store(database) as store:
        entries = store.audit_entries()
    assert [(entry["action"], entry["target"]) for entry in entries] == [
        ("volunteer_suspend", "JG0001"), ("volunteer_reissue", "JG0001"),
        ("print_cancel", str(job)), ("export", "service_request")]
    assert all(entry["kiosk"] == "office" and entry["staff"] for entry in entries)
    assert "with personal data" in entries[-1]["detail"]


async def test_the_dashboard_stands_on_values_stored_before_the_gate_and_names_set_aside_rows(
        desk: KioskStore, tmp_path: Path):
    """A decimal of 1e308 (stored before the gate) once made the dashboard fail and, opened
    twice, put the kiosk out of order for residents; a form with a plain ``label`` column
    once crashed it. Rows a sync set aside are named, and staff export them."""
    from surveys.xlsform import compile_xlsform
    from tests.formbuilder import write_form
    from tests.test_exports import marriage

    plain = write_form(tmp_path / "plain.xlsx",
                       [["type", "name", "label"], ["select_one yn", "ok", "Was it OK?"]],
                       [["list_name", "name", "label"], ["yn", "yes", "Yes"], ["yn", "no", "No"]],
                       [["form_id", "version", "form_title"], ["plain", "1", "Plain form"]])
    desk.install_form(compile_xlsform(plain))
    rows = [marriage(number) for number in range(5)]
    rows[3].answers["bride_price_amount"] = 1e308
    rows[4].answers["bride_price_amount"] = float("nan")
    stored_before_the_gate(desk, rows)
    keys_held = [key for (key,) in desk.conn.execute(
        "SELECT rowid FROM submissions WHERE instance_id IN (?, ?)",
        (rows[3].instance_id, rows[4].instance_id))]
    desk.set_aside("postgresql://central/city", "submissions",
                   [(key, "a value the central database cannot hold") for key in keys_held])
    stick = tmp_path / "U盘"
    stick.mkdir()
    app = kiosk(desk, config=STAFF_CONFIG.with_changes(surveys=("marriage_reform", "plain")))
    async with app.run_test(size=(120, 60)) as pilot:
        for _ in range(2):  # in from home, look, back to home: twice
            screen = await open_dashboard(pilot)
            text = screen_text(app)
            assert "有效问卷 5 份" in text and "暂停服务" not in text
            # the figures of the rest are right: 0, 8,800 and 20,000 yuan
            assert "最大 20000（另有 2 个超出范围的数值未计入）" in text.replace(",", ""), text
            assert "有 2 条记录同步时被中心数据库拒收" in text
            screen.query_one("#stats-survey", Select).value = "plain"
            await wait_for(pilot, lambda: "Was it OK?" in screen_text(app))
            await tap(pilot, "#dashboard-back")
            await tap(pilot, "#staff-home")
            await wait_for(pilot, lambda: "请点一下您要填写的问卷" in screen_text(app))
            assert "暂停服务" not in screen_text(app)
        screen = await open_dashboard(pilot)
        await show_tab(pilot, "tab-export")
        screen.query_one("#export-folder", Input).value = str(stick)
        screen.query_one("#staff-name", Input).value = "李社工"
        await tap(pilot, "#export-set-aside")
        await wait_for(pilot, lambda: "已导出 2 份" in screen_text(app))
    [written] = list(stick.iterdir())
    assert written.name.startswith("set-aside-") and oct(written.stat().st_mode)[-3:] == "600"
    assert sorted(json.loads(line)["row"]["instance_id"] for line in
                  written.read_text(encoding="utf-8").splitlines()) == sorted(
        [rows[3].instance_id, rows[4].instance_id])
    [entry] = desk.audit_entries(actions=("export",))
    assert entry["target"] == "set-aside" and entry["staff"] == "李社工"


# ---- issue 14: what staff could not read or tell ----------------------------------------------


def with_suggestion(rng: random.Random, suggestion: str) -> Submission:
    submission = satisfaction(rng)
    submission.answers["suggestion"] = suggestion
    return submission


def row_of(text: str, needle: str) -> str:
    return next(line for line in text.splitlines() if needle in line)


async def test_text_answers_are_read_grouped_with_counts_searched_and_paged(desk: KioskStore):
    rng = random.Random(14)
    answers = (["希望多办活动"] * 4 + ["  希望多办活动 "]  # the same answer, spaces around it
               + ["楼道灯常坏"] * 2 + [f"第{number}号楼门口积水" for number in range(1, 21)])
    rng.shuffle(answers)
    stored_before_the_gate(desk, [with_suggestion(rng, answer) for answer in answers])
    app = kiosk(desk, config=STAFF_CONFIG)
    async with app.run_test(size=(120, 50)) as pilot:
        screen = await open_dashboard(pilot)
        # The tallies say where the answers are to be read (the suggestion is the last).
        screen.query_one("#stats-scroll").scroll_end(animate=False)
        await pilot.pause()
        assert "27 条回答（在「文字回答」页逐条阅读）" in screen_text(app)
        await show_tab(pilot, "tab-texts")
        await wait_for(pilot, lambda: "希望多办活动" in screen_text(app))
        text = screen_text(app)
        # The question with answers is the one shown, with how many answered it.
        picked = screen.query_one("#texts-question", Select)
        assert picked.value == "suggestion"
        assert dict((name, label) for label, name in picked._options)["suggestion"] == (
            "您对社区工作还有什么意见或建议？（27 条）")
        assert "共 27 条回答，22 种不同的说法" in text
        # Identical answers once, with their count, the most frequent first.
        lines = [line for line in text.splitlines() if "希望多办活动" in line or "楼道灯" in line
                 or "号楼门口积水" in line]
        assert lines[0].split() == ["5", "希望多办活动"], lines
        assert lines[1].split() == ["2", "楼道灯常坏"], lines
        assert sum("希望多办活动" in line for line in text.splitlines()) == 1
        # Twelve to a page: 22 kinds of answer are two pages.
        assert "第 1 / 2 页" in text and len(lines) == dashboard.TEXTS_PER_PAGE
        first_page = {line.split()[-1] for line in lines}
        await tap(pilot, "#texts-next")
        text = screen_text(app)
        assert "第 2 / 2 页" in text and "希望多办活动" not in text
        second_page = {line.split()[-1] for line in text.splitlines() if "号楼门口积水" in line}
        assert len(second_page) == 22 - dashboard.TEXTS_PER_PAGE
        assert first_page | second_page == {" ".join(answer.split()) for answer in answers}
        assert screen.query_one("#texts-next").disabled
        # A search finds the answers with the words, from the first page again.
        screen.query_one("#texts-search", Input).value = "楼道"
        await wait_for(pilot, lambda: "含“楼道”的回答 2 条，1 种" in screen_text(app))
        text = screen_text(app)
        assert row_of(text, "楼道灯常坏").split() == ["2", "楼道灯常坏"]
        assert "希望多办活动" not in text and "第 1 / 1 页" in text
        screen.query_one("#texts-search", Input).value = "１２号楼"  # typed full-width
        await wait_for(pilot, lambda: "第12号楼门口积水" in screen_text(app))
        screen.query_one("#texts-search", Input).value = "没有这样的回答"
        await wait_for(pilot, lambda: "没有符合的回答。" in screen_text(app))
        # Personal answers (a name, a phone) are never listed here.
        screen.query_one("#texts-survey", Select).value = "service_request"
        await pilot.pause()
        offered = [name for _, name in screen.query_one("#texts-question", Select)._options]
        assert "description" in offered
        assert "contact_name" not in offered and "contact_phone" not in offered


async def test_the_print_queue_is_in_the_screens_language(desk: KioskStore, tmp_path: Path):
    from kiosk.config import PrinterConfig
    from printers.document import Document

    document = Document()
    document.text("谢谢")
    now = dt.datetime.now().timestamp()
    jobs = {kind: desk.add_print_job(kind, document.to_json(), at=now,
                                     title=f"{kind}-title", kiosk="hall-1")
            for kind in ("receipt", "ticket", "plan", "slip")}
    assert desk.claim_print_job(jobs["receipt"], "worker", now)
    desk.print_job_done(jobs["receipt"], "worker", now, status="ready")
    # The printer's port is not there: the other jobs wait for it.
    unplugged = PrinterConfig(url=str(tmp_path / "ttyUSB9"))
    app = kiosk(desk, config=STAFF_CONFIG.with_changes(printer=unplugged))
    async with app.run_test(size=(120, 50)) as pilot:
        await open_dashboard(pilot)
        await show_tab(pilot, "tab-printing")
        await wait_for(pilot, lambda: "等打印机" in screen_text(app))
        await show_tab(pilot, "tab-printing")
        text = screen_text(app)
        # number, date, time, kind, title, state, attempts, what the printer said
        assert row_of(text, "receipt-title").split()[3:] == [
            "问卷回执", "receipt-title", "已打印", "1", "正常"]
        for kind, word in (("ticket", "需求登记单"), ("plan", "改造方案"), ("slip", "签退单")):
            cells = row_of(text, f"{kind}-title").split()
            assert cells[3] == word and cells[5] in ("排队中", "等打印机"), cells
        assert "未连接" in row_of(text, "slip-title")


async def test_export_checkboxes_show_their_state_in_words(desk: KioskStore):
    app = kiosk(desk, config=STAFF_CONFIG)
    async with app.run_test(size=(120, 50)) as pilot:
        screen = await open_dashboard(pilot)
        await show_tab(pilot, "tab-export")
        text = screen_text(app)
        assert "☐ 未选  包含个人信息" in row_of(text, "包含个人信息")
        assert "☑ 已选  用选项文字" in row_of(text, "用选项文字")
        await tap(pilot, "#export-pii")
        assert "☑ 已选  包含个人信息" in row_of(screen_text(app), "包含个人信息")
        assert screen.query_one("#export-pii").value is True
        await tap(pilot, "#export-labels")
        assert "☐ 未选  用选项文字" in row_of(screen_text(app), "用选项文字")

"""``kiosk doctor`` and the dashboard's 系统检查 tab (issue 15, item 2).

Each check is run on a setup broken on purpose — no printer, the fake printer out of paper,
files others can read, a central database on a closed port or one that never answers, a
backup three days old, a time zone that is not Beijing time, a scan from a slow scanner —
and must fail (or warn) with its Chinese message and fix; a good setup passes with exit 0.
The command runs as a real subprocess (its own process, time zone and terminal); the tab
through Textual's Pilot.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kiosk.backup import make_backup
from kiosk.cards.payload import load_secret, make_payload, secret_path
from kiosk.central.sync import KioskIdentity
from kiosk.config import KioskConfig, PrinterConfig, hash_pin, save_config
from kiosk.doctor import CHECK_IDS, Station, run_checks, when
from store import Volunteer, open_store
from tests.enrolled import offline_enrolment
from tests.fake_printer import FakePrinter

ROOT = Path(__file__).resolve().parent.parent
KIOSK = "hall-1"
PIN_HASH = hash_pin("2468")
DAY = 86400


@dataclass
class Setup:
    """One kiosk's files in a temp dir: its database, configuration and home."""

    root: Path
    db: Path
    config: Path

    def configure(self, **changes: object) -> None:
        settings: dict[str, object] = {"station_name": "梁丰社区社工站", "kiosk_id": KIOSK,
                                       "staff_pin_hash": PIN_HASH}
        settings.update(changes)
        save_config(KioskConfig(**settings), self.config)  # type: ignore[arg-type]

    def env(self, zone: str = "Asia/Shanghai") -> dict[str, str]:
        """The environment of the kiosk's user: its own home (logs), the machine's zone."""
        home = self.root / "home"
        return {**os.environ, "HOME": str(home), "XDG_STATE_HOME": str(home / "state"),
                "XDG_DATA_HOME": str(home / "data"), "XDG_CONFIG_HOME": str(home / "config"),
                "TZ": zone, "PYTHONPATH": str(ROOT)}

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "kiosk", "--db", str(self.db), "--config",
                str(self.config), "doctor", *args]

    def doctor(self, *args: str, zone: str = "Asia/Shanghai") -> tuple[int, dict[str, dict]]:
        """Run ``kiosk doctor --json``: its exit status and its findings by check."""
        result = subprocess.run(self.command("--json", *args), capture_output=True,
                                text=True, env=self.env(zone), timeout=180, check=False)
        assert result.stdout, result.stderr
        report = json.loads(result.stdout)
        assert report["ok"] == (result.returncode == 0), report
        return result.returncode, {check["id"]: check for check in report["checks"]}


@pytest.fixture
def kiosk_files(tmp_path: Path) -> Setup:
    """A kiosk set up as staff would: a database with the bundled questionnaires, a
    configuration with a PIN, volunteer cards (the card secret), a printer-less config."""
    setup = Setup(tmp_path, tmp_path / "data" / "kiosk.db", tmp_path / "config" / "config.toml")
    open_store(setup.db).close()
    setup.configure()
    load_secret(secret_path(setup.config))
    return setup


def backed_up(setup: Setup, folder: Path) -> Path:
    with open_store(setup.db) as store:
        return make_backup(store, KIOSK, folder, staff="doctor-test").path


@pytest.fixture
def other_disk() -> Iterator[Path]:
    """A folder on another file system than the temp dir (a USB stick's stand-in): a
    backup on the database's own disk is only worth a warning."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == Path(tempfile.gettempdir()).stat().st_dev:
        pytest.skip("no second file system here for the backup")
    folder = Path(tempfile.mkdtemp(dir=shm, prefix="kiosk-doctor-"))
    yield folder
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()


def assert_says(finding: dict, status: str, *phrases: str) -> None:
    said = finding["detail"] + " / " + finding["fix"]
    assert finding["status"] == status, finding
    for phrase in phrases:
        assert phrase in said, (phrase, finding)


# ---- a good kiosk --------------------------------------------------------------------------


def test_a_good_kiosk_passes_every_check_with_exit_status_0(
        kiosk_files: Setup, other_disk: Path, central: str):
    from store.central.schema import init
    from tests.enrolled import enrolled

    init(central)
    enrolment = enrolled(central, KIOSK, config=kiosk_files.config)
    with open_store(kiosk_files.db) as store:
        from kiosk.central.sync import sync

        sync(store, enrolment)
    backup = backed_up(kiosk_files, other_disk)
    with FakePrinter("online") as printer:
        kiosk_files.configure(printer=PrinterConfig(url=printer.port))
        code, found = kiosk_files.doctor()
    assert code == 0
    assert list(found) == list(CHECK_IDS)
    problems = {check: finding for check, finding in found.items()
                if finding["status"] not in ("ok", "skipped")}
    assert problems == {}
    assert_says(found["printer"], "ok", f"打印机（{printer.port}）正常")
    assert_says(found["backup"], "ok", "最近一次备份是", str(backup))
    assert_says(found["central"], "ok", "已登记", "上次同步")
    assert_says(found["database"], "ok", "数据库完好")
    assert_says(found["timezone"], "ok", "北京时间")
    assert_says(found["card_secret"], "ok", "只有本用户能读")
    assert_says(found["permissions"], "ok")
    # What needs a person or hardware this machine lacks is said to be unchecked, with how.
    assert_says(found["scanner"], "skipped", "kiosk doctor --scan")


def test_the_findings_read_in_chinese_with_what_to_do_and_exit_1_on_a_failure(
        kiosk_files: Setup):
    # No backup was ever made: a failure, said with its fix on the line below.
    result = subprocess.run(kiosk_files.command(), capture_output=True, text=True,
                            env=kiosk_files.env(), timeout=180, check=False)
    assert result.returncode == 1, result.stdout
    lines = result.stdout.splitlines()
    assert lines[0].startswith("系统检查 · kiosk doctor（梁丰社区社工站，终端 hall-1")
    failed = next(index for index, line in enumerate(lines) if "✘ 故障" in line)
    assert "备份" in lines[failed] and "还从来没有备份过" in lines[failed]
    assert "怎么办：插上 U 盘" in lines[failed + 1] and "kiosk backup -o" in lines[failed + 1]
    assert lines[-1].startswith("结果：1 项故障")


# ---- broken on purpose ---------------------------------------------------------------------


def test_no_printer_at_the_configured_port(kiosk_files: Setup, tmp_path: Path):
    gone = tmp_path / "ttyUSB7"  # the port the printer had before it was unplugged
    kiosk_files.configure(printer=PrinterConfig(url=str(gone)))
    code, found = kiosk_files.doctor()
    assert code == 1
    assert_says(found["printer"], "fail", "打印机没有连接上", str(gone), "检查打印机电源和 USB 线")


def test_paper_out_on_the_printer(kiosk_files: Setup):
    with FakePrinter("paper_out") as printer:
        kiosk_files.configure(printer=PrinterConfig(url=printer.port))
        code, found = kiosk_files.doctor("--check", "printer")
        assert printer.status_requests  # it asked the printer itself
    assert code == 1
    assert_says(found["printer"], "fail", "打印机缺纸", printer.port, "装一卷新的热敏纸")
    assert list(found) == ["printer"]


def test_a_printer_that_never_answers_is_reported_not_waited_for(kiosk_files: Setup):
    with FakePrinter("silent") as printer:
        kiosk_files.configure(printer=PrinterConfig(url=printer.port))
        code, found = kiosk_files.doctor("--check", "printer")
    assert code == 1
    assert_says(found["printer"], "fail", "打印机没有回应", "[printer] baudrate")


def test_paper_running_low_needs_attention_but_is_no_failure(kiosk_files: Setup):
    with FakePrinter("paper_near_end") as printer:
        kiosk_files.configure(printer=PrinterConfig(url=printer.port))
        code, found = kiosk_files.doctor("--check", "printer")
        strict, _ = kiosk_files.doctor("--check", "printer", "--strict")
    assert_says(found["printer"], "warn", "纸卷快用完了", "准备一卷新的热敏纸")
    assert (code, strict) == (0, 1)  # a warning fails only with --strict


def test_files_others_can_read(kiosk_files: Setup):
    kiosk_files.db.chmod(0o644)
    secret = secret_path(kiosk_files.config)
    secret.chmod(0o644)
    code, found = kiosk_files.doctor()
    assert code == 1
    assert_says(found["permissions"], "fail", f"{kiosk_files.db}（0644）",
                f"chmod 600 {kiosk_files.db}")
    assert_says(found["card_secret"], "fail", "权限是 0644", "伪造志愿者证", f"chmod 600 {secret}")
    assert kiosk_files.db.stat().st_mode & 0o777 == 0o644  # looked at, never changed


def test_a_central_database_on_a_closed_port(kiosk_files: Setup):
    enrolment = offline_enrolment(KioskIdentity(KIOSK), kiosk_files.config)  # 127.0.0.1:1
    code, found = kiosk_files.doctor()
    assert code == 1
    assert_says(found["central"], "fail", "连不上中心数据库 127.0.0.1:1/nowhere",
                "检查网线或 Wi-Fi", str(enrolment.path), "kiosk sync 会补传")


def test_a_central_host_that_never_answers_is_given_up_on(kiosk_files: Setup):
    # A listening socket that never accepts: the connection is made, no answer ever comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        enrolment = offline_enrolment(KioskIdentity(KIOSK), kiosk_files.config)
        from dataclasses import replace

        from kiosk.central.enrolment import write_enrolment

        write_enrolment(enrolment.path,  # type: ignore[arg-type]
                        replace(enrolment, address=f"postgresql://127.0.0.1:{port}/central"))
        code, found = kiosk_files.doctor("--check", "central")
    assert code == 1
    assert_says(found["central"], "fail", f"连不上中心数据库 127.0.0.1:{port}/central")


def test_a_backup_three_days_old(kiosk_files: Setup):
    taken = time.time() - 3 * DAY
    with open_store(kiosk_files.db) as store:  # as make_backup records it, three days ago
        store.add_audit("backup", "/media/kiosk/U盘/kiosk-hall-1-old.db", "submissions 0",
                        staff="staff", kiosk=KIOSK, at=taken)
    code, found = kiosk_files.doctor()
    assert code == 1
    assert_says(found["backup"], "fail", f"最近一次备份是 {when(taken)}（3 天前）",
                "超过 2 天", "kiosk backup -o")
    assert when(taken).startswith(time.strftime("%Y年", time.gmtime(taken + 8 * 3600)))


def test_a_backup_on_the_databases_own_disk_needs_attention(kiosk_files: Setup):
    backup = backed_up(kiosk_files, kiosk_files.root / "backups")
    _, found = kiosk_files.doctor("--check", "backup")
    assert_says(found["backup"], "warn", str(backup), "同一块磁盘", "插上 U 盘")


def test_a_station_zone_that_is_not_beijing_time(kiosk_files: Setup):
    kiosk_files.configure(timezone="Europe/London")
    code, found = kiosk_files.doctor(zone="Europe/London")
    assert code == 1
    assert_says(found["timezone"], "fail", "Europe/London", "不是北京时间",
                str(kiosk_files.config), 'timezone 改成 "Asia/Shanghai"')


def test_a_machine_on_another_zone_than_the_station(kiosk_files: Setup):
    _, found = kiosk_files.doctor("--check", "timezone", zone="America/New_York")
    assert_says(found["timezone"], "warn", "系统时区是 America/New_York",
                "sudo timedatectl set-timezone Asia/Shanghai")


def test_a_configuration_with_a_mistake_is_a_finding_and_the_rest_is_still_checked(
        kiosk_files: Setup):
    kiosk_files.config.write_text('[kiosk]\nidle_seconds = "soon"\n', encoding="utf-8")
    code, found = kiosk_files.doctor()
    assert code == 1
    assert_says(found["config"], "fail", "idle_seconds", "kiosk config show")
    assert found["database"]["status"] == "ok"


def test_a_missing_or_foreign_database_is_never_created_or_changed(kiosk_files: Setup):
    missing = kiosk_files.root / "elsewhere" / "kiosk.db"
    foreign = kiosk_files.root / "notes.db"
    foreign.write_bytes(b"not a database at all" * 100)
    for path, phrase in ((missing, "找不到数据库"), (foreign, "打不开或不是本终端的数据库")):
        result = subprocess.run(
            [sys.executable, "-m", "kiosk", "--db", str(path), "--config",
             str(kiosk_files.config), "doctor", "--json"], capture_output=True, text=True,
            env=kiosk_files.env(), timeout=180, check=False)
        found = {check["id"]: check for check in json.loads(result.stdout)["checks"]}
        assert result.returncode == 1
        assert_says(found["database"], "fail", phrase, str(path))
    assert not missing.exists() and not missing.parent.exists()
    assert foreign.read_bytes() == b"not a database at all" * 100


def test_a_damaged_database(kiosk_files: Setup):
    with open(kiosk_files.db, "r+b") as handle:  # pages in the middle overwritten
        handle.seek(20 * 4096)
        handle.write(bytes(range(256)) * 48)
    code, found = kiosk_files.doctor("--check", "database")
    assert code == 1
    assert_says(found["database"], "fail", "已损坏", str(kiosk_files.db), "kiosk restore")


def test_a_speaker_that_makes_no_sound(kiosk_files: Setup):
    from kiosk import speech

    if not speech.available("zh"):
        pytest.skip("espeak-ng with a Mandarin voice is not installed here")
    cards = Path("/proc/asound/cards")
    if cards.exists() and "no soundcards" not in cards.read_text():
        pytest.skip("this machine has a sound card: the speaker would play")
    code, found = kiosk_files.doctor("--check", "speaker", "--speak")
    assert code == 1
    assert_says(found["speaker"], "fail", "音箱放不出声音", "alsamixer")


def test_an_unknown_check_is_a_usage_error(kiosk_files: Setup):
    result = subprocess.run(kiosk_files.command("--check", "coffee"), capture_output=True,
                            text=True, env=kiosk_files.env(), timeout=60, check=False)
    assert result.returncode == 2
    assert "coffee: no such check" in result.stderr


# ---- the scanner, at a terminal ------------------------------------------------------------


def scanned(setup: Setup, typing: list[bytes], pause: float = 0.0,
            seconds: int = 10) -> tuple[int, dict]:
    """Run ``kiosk doctor --check scanner --scan`` at a terminal (a pty) and, once it asks,
    type ``typing`` into it as a scanner would (``pause`` between the pieces)."""
    master, slave = os.openpty()
    try:
        process = subprocess.Popen(
            setup.command("--json", "--check", "scanner", "--scan", "--scan-seconds",
                          str(seconds)), stdin=slave, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=setup.env())
        asked = b""
        deadline = time.monotonic() + 60
        while "请在".encode() not in asked and time.monotonic() < deadline:
            ready, _, _ = select.select([process.stderr], [], [], 1)
            if ready:
                asked += os.read(process.stderr.fileno(), 4096)  # type: ignore[union-attr]
        assert "扫一张志愿者证".encode() in asked, asked
        time.sleep(0.3)  # the terminal is switched to key-by-key input right after asking
        for piece in typing:
            os.write(master, piece)
            time.sleep(pause)
        out, _ = process.communicate(timeout=60)
    finally:
        os.close(master)
        os.close(slave)
    report = json.loads(out)
    return process.returncode, report["checks"][0]


def card_of_this_kiosk(setup: Setup, number: str = "JG0042") -> str:
    return make_payload(number, 1, load_secret(secret_path(setup.config)))


def test_a_scanner_that_reads_a_card(kiosk_files: Setup):
    card = card_of_this_kiosk(kiosk_files)
    code, finding = scanned(kiosk_files, [card.encode() + b"\r"])
    assert code == 0
    assert_says(finding, "ok", "扫码枪正常：读到志愿者证 JG0042（第 1 张）")


def test_a_scanner_that_types_too_slowly_for_the_kiosk(kiosk_files: Setup):
    card = card_of_this_kiosk(kiosk_files)
    code, finding = scanned(kiosk_files, [char.encode() for char in card] + [b"\r"],
                            pause=0.12, seconds=30)
    assert code == 0  # it reads the card: a warning
    assert_says(finding, "warn", "JG0042", "打字太慢", "键盘传输速度")


def test_a_card_of_another_station(kiosk_files: Setup):
    foreign = make_payload("JG0042", 1, b"another station's secret, 32 by")
    code, finding = scanned(kiosk_files, [foreign.encode() + b"\r"])
    assert code == 1
    assert_says(finding, "fail", "签名对不上", "card-secret")


def test_a_scanner_typing_in_the_wrong_keyboard_layout(kiosk_files: Setup):
    # Set to a French (AZERTY) layout, a scanner types V1.JG0042.1.… as V&;JGàà'é;&;…
    code, finding = scanned(kiosk_files, ["V&;JGàà'é;&;MZXW6YTBOI2DEMRU".encode() + b"\r"])
    assert code == 1
    assert_says(finding, "fail", "不是志愿者证", "美式英文")


def test_no_scan_within_the_time(kiosk_files: Setup):
    code, finding = scanned(kiosk_files, [], seconds=3)
    assert code == 1
    assert_says(finding, "fail", "3 秒内没有收到扫码", "USB 键盘模式")


def test_scan_without_a_terminal_is_skipped(kiosk_files: Setup):
    code, found = kiosk_files.doctor("--check", "scanner", "--scan")
    assert code == 0
    assert_says(found["scanner"], "skipped", "终端前")


# ---- the library: bounded, never raising ---------------------------------------------------


def test_a_check_that_hangs_or_breaks_is_reported_and_the_others_stand(
        kiosk_files: Setup, monkeypatch: pytest.MonkeyPatch):
    from kiosk import doctor

    def hangs(_station: Station) -> doctor.Finding:
        time.sleep(3600)
        raise AssertionError("not reached")

    def breaks(_station: Station) -> doctor.Finding:
        raise OSError("disk gone")

    checks = tuple(
        doctor.Check(check.check, check.title, hangs, seconds=0.5) if check.check == "fonts"
        else doctor.Check(check.check, check.title, breaks) if check.check == "camera"
        else check for check in doctor.CHECKS)
    monkeypatch.setattr(doctor, "CHECKS", checks)
    station = Station(kiosk_files.db, kiosk_files.config, KioskConfig(kiosk_id=KIOSK))
    found = {finding.check: finding for finding in run_checks(station)}
    assert found["fonts"].status == "fail" and "超过 0.5 秒没有结果" in found["fonts"].detail
    assert found["camera"].status == "fail" and "disk gone" in found["camera"].detail
    assert found["database"].status == "ok"


# ---- the dashboard's tab -------------------------------------------------------------------


async def test_the_system_check_tab_shows_a_failed_check_and_its_fix(
        kiosk_files: Setup, tmp_path: Path):
    from textual.widgets import Input, TabbedContent

    from tests.test_app_flow import kiosk, screen_text, wait_for
    from tests.test_dashboard import open_dashboard

    gone = tmp_path / "ttyUSB7"
    config = KioskConfig(station_name="梁丰社区社工站", kiosk_id=KIOSK,
                         staff_pin_hash=hash_pin("123456"), path=kiosk_files.config,
                         printer=PrinterConfig(url=str(gone)))
    with open_store(kiosk_files.db) as store:
        store.add_volunteers([Volunteer("JG0042", "王芳", "13912345678", "", "心语",
                                        "新华社区", dt.date(2024, 3, 1), "active", 1)])
        app = kiosk(store, config=config)
        async with app.run_test(size=(140, 60)) as pilot:
            screen = await open_dashboard(pilot)
            screen.query_one("#dashboard-tabs", TabbedContent).active = "tab-doctor"
            await wait_for(pilot, lambda: "结果：" in screen_text(app), seconds=60)
            text = screen_text(app)
            assert "✘ 故障" in text
            assert "还从来没有备份过" in text and "怎么办：插上 U 盘" in text
            # The printer as the kiosk's own print queue last found it (it holds the port).
            await wait_for(pilot, lambda: app.printer_state() is not None)
            await pilot.click("#doctor-run")
            await wait_for(pilot, lambda: "打印机没有连接上" in screen_text(app), seconds=60)
            assert "检查打印机电源和 USB 线" in screen_text(app)
            # The scanner test: a card scanned on this tab checks nobody in.
            card = make_payload("JG0042", 1, load_secret(secret_path(kiosk_files.config)))
            app.card_scanned(card)
            await wait_for(pilot, lambda: "扫码枪正常：读到志愿者证 JG0042" in screen_text(app))
            assert store.open_volunteer_sessions() == []  # nobody was checked in
            # Typed into the box (too slowly to be taken for a scan): read, with a warning.
            box = screen.query_one("#doctor-scan", Input)
            box.value = card
            await box.action_submit()
            await wait_for(pilot, lambda: "没有把它当成扫码" in screen_text(app))

"""Nightly backups (kiosk/nightly.py): one copy a night made by exactly one process of a
database, grandfather-father-son rotation that keeps the right copies and touches nothing
else, and a folder that is not there (a USB stick left out) recorded and shown, never a
crash; the ``[backup]`` section of the configuration."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from kiosk.cli import main
from kiosk.config import BackupSettings, ConfigError, KioskConfig, load_config, save_config
from kiosk.nightly import NightlyBackups, nightly_lock, run_nightly, status
from store import KioskStore
from surveys.clock import CHINA
from surveys.xlsform import compile_xlsform
from tests.test_backup import add_submissions, ids_in

HERE = Path(__file__).parent
ROOT = HERE.parent


def night(day: dt.date, hour: int = 2, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=CHINA)


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """A small kiosk database: the test form and three submissions."""
    path = tmp_path / "data" / "kiosk.db"
    with KioskStore(path) as store:
        store.install_form(compile_xlsform(HERE / "forms" / "basics.md"))
        add_submissions(store, 3)
    return path


@pytest.fixture
def usb(tmp_path: Path) -> Path:
    folder = tmp_path / "usb" / "kiosk-backups"
    folder.mkdir(parents=True)
    return folder


def on_disk(folder: Path, kiosk: str = "office") -> dict[dt.date, str]:
    """The nightly copies of ``kiosk`` in ``folder``: day -> file name."""
    found = {}
    for path in folder.glob(f"nightly-{kiosk}-*.db"):
        stamp = re.fullmatch(r"(\d{8})-\d{6}\.db", path.name.removeprefix(f"nightly-{kiosk}-"))
        if stamp and not path.is_symlink():
            day = dt.datetime.strptime(stamp.group(1), "%Y%m%d").date()
            assert day not in found, f"two copies of {day}"
            found[day] = path.name
    return found


def kept_by_the_rule(made: list[dt.date], daily: int, weekly: int, monthly: int
                     ) -> set[dt.date]:
    """What grandfather-father-son keeps, from every night ever made (one copy a day): the
    newest copy of each of the newest 7 days, 4 ISO weeks, 12 months."""
    newest_first = sorted(made, reverse=True)
    keep: set[dt.date] = set(newest_first[:daily])
    for count, period in ((weekly, lambda day: day.isocalendar()[:2]),
                          (monthly, lambda day: (day.year, day.month))):
        newest_of: dict[object, dt.date] = {}
        for day in newest_first:
            newest_of.setdefault(period(day), day)
        keep |= set(sorted(newest_of.values(), reverse=True)[:count])
    return keep


# ---- rotation ------------------------------------------------------------------------------


def test_a_year_of_nights_keeps_exactly_the_grandfather_father_son_copies(
        database: Path, usb: Path, tmp_path: Path):
    settings = BackupSettings(folder=str(usb), daily=7, weekly=4, monthly=12)
    # What the rotation must never touch: staff's own backup, another kiosk's nightly
    # copies on the same stick, a look-alike link, unrelated files.
    others = {
        "kiosk-office-20260105-101500.db": b"staff's own backup",
        "nightly-hall-2-20260103-020000.db": b"another kiosk's copy",
        "nightly-office-notes.db": b"not a copy's name",
        "readme.txt": "U盘说明".encode(),
    }
    for name, data in others.items():
        (usb / name).write_bytes(data)
    (tmp_path / "elsewhere.db").write_bytes(b"linked")
    (usb / "nightly-office-20260101-010000.db").symlink_to(tmp_path / "elsewhere.db")

    made: list[dt.date] = []
    day = dt.date(2026, 1, 1)
    while day <= dt.date(2026, 12, 31):
        if day in (dt.date(2026, 3, 10), dt.date(2026, 3, 11)):
            day += dt.timedelta(days=1)  # switched off for two nights:
            continue
        # ... started at 08:30 on the 12th, it catches up at once.
        moment = night(day, 8, 30) if day == dt.date(2026, 3, 12) else night(day)
        result = run_nightly(database, "office", settings, now=moment)
        assert result.outcome == "made", result
        made.append(day)
        again = run_nightly(database, "office", settings, now=moment + dt.timedelta(hours=3))
        assert again.outcome == "not_due"  # one copy a night, however often it looks
        copies = on_disk(usb)
        assert set(copies) == kept_by_the_rule(made, 7, 4, 12), day
        assert max(copies) == day  # the newest is always there
        day += dt.timedelta(days=1)

    assert sorted(on_disk(usb)) == [  # worked out by hand for 2026 (ISO week 53: 28 Dec-3 Jan)
        dt.date(2026, 1, 31), dt.date(2026, 2, 28), dt.date(2026, 3, 31), dt.date(2026, 4, 30),
        dt.date(2026, 5, 31), dt.date(2026, 6, 30), dt.date(2026, 7, 31), dt.date(2026, 8, 31),
        dt.date(2026, 9, 30), dt.date(2026, 10, 31), dt.date(2026, 11, 30),
        dt.date(2026, 12, 13), dt.date(2026, 12, 20),
        *(dt.date(2026, 12, day) for day in range(25, 32))]
    for name, data in others.items():
        assert (usb / name).read_bytes() == data
    assert (usb / "nightly-office-20260101-010000.db").is_symlink()
    assert (tmp_path / "elsewhere.db").read_bytes() == b"linked"
    newest = usb / on_disk(usb)[dt.date(2026, 12, 31)]
    assert ids_in(newest) == ids_in(database)  # a whole copy, as `kiosk restore` takes it
    assert not list(usb.glob("*.part"))


def test_rotation_never_deletes_the_only_copy_and_keeps_what_the_settings_ask(
        database: Path, usb: Path):
    settings = BackupSettings(folder=str(usb), daily=1, weekly=0, monthly=0)
    for day in (dt.date(2026, 5, 1), dt.date(2026, 5, 9), dt.date(2026, 6, 30)):
        assert run_nightly(database, "office", settings, now=night(day)).outcome == "made"
        assert sorted(on_disk(usb)) == [day]  # the one copy left is the newest


def test_a_catch_up_at_start_when_the_kiosk_was_off_at_night(database: Path, usb: Path):
    settings = BackupSettings(folder=str(usb), hour=2)
    assert run_nightly(database, "office", settings,
                       now=night(dt.date(2026, 4, 1), 2, 5)).outcome == "made"
    # Off from the evening of the 1st; started at 07:40 on the 3rd: two nights missed.
    started = night(dt.date(2026, 4, 3), 7, 40)
    assert run_nightly(database, "office", settings, now=started).outcome == "made"
    # Up all day: the next copy is due at 02:00, not before.
    assert run_nightly(database, "office", settings,
                       now=night(dt.date(2026, 4, 4), 1, 59)).outcome == "not_due"
    assert run_nightly(database, "office", settings,
                       now=night(dt.date(2026, 4, 4), 2, 0)).outcome == "made"
    assert sorted(on_disk(usb)) == [dt.date(2026, 4, 1), dt.date(2026, 4, 3),
                                    dt.date(2026, 4, 4)]
    # A clock that was wrong (a copy recorded next year) does not stop the copies.
    assert run_nightly(database, "office", settings,
                       now=night(dt.date(2027, 4, 5))).outcome == "made"
    assert run_nightly(database, "office", settings,
                       now=night(dt.date(2026, 4, 5), 9)).outcome == "made"


# ---- exactly one process makes it ----------------------------------------------------------

RACER = textwrap.dedent("""
    import datetime as dt, json, sys
    from pathlib import Path
    from kiosk.config import BackupSettings
    from kiosk.nightly import run_nightly
    database, folder = Path(sys.argv[1]), sys.argv[2]
    for line in sys.stdin:  # one moment per line, all racers get it at once
        moment = dt.datetime.fromisoformat(line.strip())
        result = run_nightly(database, "office", BackupSettings(folder=folder), now=moment)
        print(json.dumps({"outcome": result.outcome, "path": str(result.path)}), flush=True)
""")


def racers(count: int, database: Path, usb: Path) -> list[subprocess.Popen[str]]:
    return [subprocess.Popen([sys.executable, "-c", RACER, str(database), str(usb)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
            for _ in range(count)]


def test_several_kiosk_processes_make_one_copy_a_night(database: Path, usb: Path):
    processes = racers(4, database, usb)
    nights = [night(dt.date(2026, 7, day)) for day in (1, 2, 3, 4, 5)]
    try:
        for moment in nights:
            for process in processes:  # every racer gets the same night at once
                assert process.stdin is not None
                process.stdin.write(moment.isoformat() + "\n")
                process.stdin.flush()
            outcomes = []
            for process in processes:
                assert process.stdout is not None
                outcomes.append(json.loads(process.stdout.readline())["outcome"])
            assert outcomes.count("made") == 1, outcomes
            assert set(outcomes) <= {"made", "busy", "not_due"}, outcomes
    finally:
        for process in processes:
            assert process.stdin is not None
            process.stdin.close()
            process.wait(timeout=60)
    assert sorted(on_disk(usb)) == [moment.date() for moment in nights]
    with KioskStore(database) as store:
        nightly = [entry for entry in store.audit_entries(actions=["backup"])
                   if entry["staff"] == "nightly"]
    assert len(nightly) == len(nights)


def test_a_process_holding_the_lock_makes_the_others_wait_and_a_killed_one_lets_go(
        database: Path, usb: Path):
    settings = BackupSettings(folder=str(usb))
    moment = night(dt.date(2026, 8, 1))
    with nightly_lock(database) as mine:  # this test is the process making the copy
        assert mine
        [process] = racers(1, database, usb)
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(moment.isoformat() + "\n")
        process.stdin.flush()
        assert json.loads(process.stdout.readline())["outcome"] == "busy"
        assert on_disk(usb) == {}
    process.stdin.write(moment.isoformat() + "\n")
    process.stdin.flush()
    assert json.loads(process.stdout.readline())["outcome"] == "made"
    process.stdin.close()
    process.wait(timeout=60)

    # A process killed while it holds the lock (mid-copy) leaves it free for the next.
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent("""
            import sys, time
            from pathlib import Path
            from kiosk.nightly import nightly_lock
            with nightly_lock(Path(sys.argv[1])) as mine:
                print("held" if mine else "not held", flush=True)
                time.sleep(600)
        """), str(database)], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        busy = run_nightly(database, "office", settings, now=night(dt.date(2026, 8, 2)))
        assert busy.outcome == "busy"
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    made = run_nightly(database, "office", settings, now=night(dt.date(2026, 8, 2)))
    assert made.outcome == "made"


# ---- a folder that is not there ------------------------------------------------------------


def test_a_usb_stick_left_out_is_recorded_and_shown_and_the_copy_made_once_it_is_back(
        database: Path, tmp_path: Path):
    folder = tmp_path / "media" / "usb" / "kiosk-backups"
    settings = BackupSettings(folder=str(folder))
    moment = night(dt.date(2026, 9, 14))
    for minutes in (0, 10, 20):  # three looks that night
        result = run_nightly(database, "office", settings,
                             now=moment + dt.timedelta(minutes=minutes))
        assert result.outcome == "failed" and result.problem == "missing_folder"
        assert f"找不到备份文件夹 {folder}" in result.message("zh")
    assert not folder.exists() and not folder.parent.exists()  # never made on the own disk
    with KioskStore(database) as store:
        line, problem = status(store, settings, "zh")
        assert problem
        assert line.startswith("夜间备份没做成（2026年9月14日 02:20）：找不到备份文件夹")
        assert "U盘或第二块硬盘没有插好" in line and str(folder) in line
        english, _ = status(store, settings, "en")
        assert "is not there" in english
        events = store.staff_events(events=["backup_failed"])
        assert len(events) == 1 and str(folder) in events[0]["detail"]  # once a night

    # Staff (or cron) see it from the command line too, with exit status 1.
    config = tmp_path / "config.toml"
    save_config(KioskConfig(kiosk_id="office", backup=settings), config)
    result = CliRunner().invoke(main, ["--db", str(database), "--config", str(config),
                                       "backup", "--nightly"])
    assert result.exit_code == 1
    assert "找不到备份文件夹" in result.output and "Traceback" not in result.output

    folder.mkdir(parents=True)  # the stick is plugged in
    result = run_nightly(database, "office", settings, now=moment + dt.timedelta(minutes=30))
    assert result.outcome == "made" and result.path is not None
    assert result.path.parent == folder
    with KioskStore(database) as store:
        line, problem = status(store, settings, "zh")
    assert not problem and line == f"夜间备份：上次 2026年9月14日 02:30，存在 {folder}。"


def test_a_folder_that_cannot_be_written_is_recorded(database: Path, tmp_path: Path):
    blocked = tmp_path / "stick"
    blocked.write_text("a file where the folder should be", encoding="utf-8")
    settings = BackupSettings(folder=str(blocked))
    result = run_nightly(database, "office", settings, now=night(dt.date(2026, 9, 15)))
    assert result.outcome == "failed" and result.problem == "unwritable"
    with KioskStore(database) as store:
        line, problem = status(store, settings, "zh")
    assert problem and f"备份文件夹 {blocked} 写不进去" in line
    if os.getuid() != 0:  # root writes whatever the mode says
        folder = tmp_path / "read-only"
        folder.mkdir(mode=0o500)
        settings = BackupSettings(folder=str(folder))
        result = run_nightly(database, "office", settings, now=night(dt.date(2026, 9, 16)))
        assert result.outcome == "failed" and result.problem == "unwritable"
        assert list(folder.iterdir()) == []


def test_the_default_folder_beside_the_database_is_made_when_missing(database: Path):
    result = run_nightly(database, "office", BackupSettings(), now=night(dt.date(2026, 1, 2)))
    assert result.outcome == "made" and result.path is not None
    assert result.path.parent == database.parent / "backups"
    assert (result.path.stat().st_mode & 0o777) == 0o600
    assert run_nightly(database, "office", BackupSettings(nightly=False)).outcome == "off"


def test_the_thread_makes_the_copy_and_outlives_a_missing_folder(database: Path,
                                                                  tmp_path: Path):
    folder = tmp_path / "usb"
    moments = iter([night(dt.date(2026, 10, 1)), night(dt.date(2026, 10, 1), 2, 10),
                    *[night(dt.date(2026, 10, 1), 2, 20)] * 1000])
    backups = NightlyBackups(database, "office", BackupSettings(folder=str(folder)),
                             clock=lambda: next(moments), first_look=0, every=0.02)
    backups.start()
    try:
        deadline = time.monotonic() + 60
        while not [r for r in backups.results if r.outcome == "failed"]:
            assert time.monotonic() < deadline, backups.results
            time.sleep(0.01)
        folder.mkdir()
        while not [r for r in backups.results if r.outcome == "made"]:
            assert time.monotonic() < deadline, backups.results
            time.sleep(0.01)
        assert backups._thread is not None and backups._thread.is_alive()
    finally:
        backups.stop()
    assert len(on_disk(folder)) == 1


async def test_the_staff_menu_shows_a_stick_left_out(database: Path, tmp_path: Path):
    from kiosk.config import hash_pin
    from tests.test_app_flow import kiosk, screen_text, tap

    folder = tmp_path / "usb" / "kiosk-backups"
    settings = BackupSettings(folder=str(folder))
    run_nightly(database, "office", settings, now=night(dt.date(2026, 11, 2)))
    with KioskStore(database) as store:
        config = KioskConfig(kiosk_id="office", surveys=("test1",), backup=settings,
                             staff_pin_hash=hash_pin("2468"))
        app = kiosk(store, config=config)
        async with app.run_test(size=(100, 40)) as pilot:
            await pilot.pause()
            await tap(pilot, "#staff")
            await pilot.press("2", "4", "6", "8", "enter")
            await pilot.pause()
            text = "".join(screen_text(app).split())  # as one line, wherever it wrapped
    assert "夜间备份没做成（2026年11月2日02:00）：找不到备份文件夹" in text
    assert "U盘或第二块硬盘没有插好" in text


# ---- the [backup] section ------------------------------------------------------------------


def test_backup_settings_round_trip_and_bad_values_name_their_key(tmp_path: Path):
    path = tmp_path / "config.toml"
    settings = BackupSettings(nightly=True, folder="/media/usb/站点备份", hour=3, daily=10,
                              weekly=6, monthly=24)
    save_config(KioskConfig(kiosk_id="office", backup=settings), path)
    assert load_config(path).backup == settings
    shown = CliRunner().invoke(main, ["--config", str(path), "config", "show"])
    assert shown.exit_code == 0, shown.output
    assert ("nightly backup: on, 03:00 into /media/usb/站点备份; keeps 10 daily, 6 weekly, "
            "24 monthly copies") in shown.output
    assert load_config(tmp_path / "none.toml").backup == BackupSettings(
        nightly=True, folder="", hour=2, daily=7, weekly=4, monthly=12)
    for line, words in (('folder = "usb/backups"', "[backup] folder: must be a whole path"),
                        ("hour = 24", "[backup] hour: must be a whole number"),
                        ("daily = 0", "[backup] daily: must be a whole number"),
                        ("weekly = -1", "[backup] weekly"), ('monthly = "12"', "[backup] monthly"),
                        ('nightly = "yes"', "[backup] nightly: must be true or false"),
                        ("keep = 3", "[backup] unknown key 'keep'")):
        path.write_text(f"[backup]\n{line}\n", encoding="utf-8")
        with pytest.raises(ConfigError) as refused:
            load_config(path)
        assert words in str(refused.value) and str(path) in str(refused.value)


def test_a_database_put_back_from_a_copy_makes_a_new_nightly_copy(database: Path, usb: Path,
                                                                    tmp_path: Path):
    """The record of the last nightly copy lives in the database: put back from an older
    copy, it makes a new nightly copy at the next look, the same day."""
    settings = BackupSettings(folder=str(usb))
    first = run_nightly(database, "office", settings, now=night(dt.date(2026, 2, 1)))
    assert first.path is not None
    assert run_nightly(database, "office", settings,
                       now=night(dt.date(2026, 2, 2))).outcome == "made"
    result = CliRunner().invoke(main, ["--db", str(database), "--config",
                                       str(tmp_path / "config.toml"), "restore",
                                       str(first.path), "--force"])
    assert result.exit_code == 0, result.output
    again = run_nightly(database, "office", settings, now=night(dt.date(2026, 2, 2), 10))
    assert again.outcome == "made"
    # The day keeps its newest copy: the one of the database as put back.
    assert on_disk(usb) == {dt.date(2026, 2, 1): first.path.name,
                            dt.date(2026, 2, 2): "nightly-office-20260202-100000.db"}

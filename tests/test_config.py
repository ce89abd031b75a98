"""Kiosk configuration (TOML) and the staff PIN gate."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from kiosk.cli import main
from kiosk.config import (
    ConfigError,
    KioskConfig,
    PrinterConfig,
    VolunteerSettings,
    check_pin,
    hash_pin,
    load_config,
    save_config,
)
from kiosk.pin import LOCKOUT_SECONDS, PinGate
from store import KioskStore


def test_missing_file_gives_defaults(tmp_path: Path):
    config = load_config(tmp_path / "none.toml")
    assert config.idle_seconds == 90 and config.language == "zh"
    assert config.surveys[0] == "satisfaction"


def test_saved_config_reads_back(tmp_path: Path):
    path = tmp_path / "config.toml"
    original = KioskConfig(station_name="九龙街道社工站", kiosk_id="jiulong-hall-1",
                           surveys=("service_request", "satisfaction"), idle_seconds=60,
                           language="en", large_text=True, staff_pin_hash=hash_pin("2468"))
    save_config(original, path)
    assert path.stat().st_mode & 0o777 == 0o600  # the PIN hash is not for everyone to read
    loaded = load_config(path)
    assert loaded.station_name == "九龙街道社工站"
    assert loaded.kiosk_id == "jiulong-hall-1"
    assert loaded.surveys == ("service_request", "satisfaction")
    assert (loaded.idle_seconds, loaded.language, loaded.large_text) == (60, "en", True)
    assert check_pin("2468", loaded.staff_pin_hash)
    assert not check_pin("2469", loaded.staff_pin_hash)


@pytest.mark.parametrize(("text", "words"), [
    ("[kiosk]\nidle_seconds = \"soon\"\n", "[kiosk] idle_seconds: must be a whole number"),
    ("[kiosk]\nidle_seconds = 2\n", "from 10 to 3600"),
    ("[kiosk]\nlanguage = \"fr\"\n", "[kiosk] language: must be \"zh\" or \"en\""),
    ("[kiosk]\nsurveys = \"satisfaction\"\n", "[kiosk] surveys: must be a list"),
    ("[kiosk]\nlarge_text = \"yes\"\n", "[kiosk] large_text: must be true or false"),
    ("[station]\nkiosk_id = \"大厅 1\"\n", "[station] kiosk_id"),
    ("[station]\nname = \"\"\n", "[station] name: must not be empty"),
    ("[staff]\npin_hash = \"1234\"\n", "[staff] pin_hash"),
    ("[kiosk]\nidle = 30\n", "unknown key 'idle'"),
    ("[printers]\nurl = \"x\"\n", "unknown section [printers]"),
    ("[kiosk\nidle_seconds = 30\n", "not valid TOML"),
    ("[printer]\npaper = \"76mm\"\n", "[printer] paper: must be \"58mm\" or \"80mm\""),
    ("[printer]\nencoding = \"utf-8\"\n", "[printer] encoding: must be \"gb18030\" or \"gbk\""),
    ("[printer]\ncut = \"none\"\n", "[printer] cut: must be \"partial\" or \"full\""),
    ("[printer]\nbaudrate = 9601\n", "[printer] baudrate: must be one of 1200"),
    ("[printer]\nbaudrate = \"9600\"\n", "[printer] baudrate"),
    ("[printer]\nparity = \"mark\"\n", "[printer] parity: must be \"none\", "),
    ("[printer]\nrtscts = 1\n", "[printer] rtscts: must be true or false"),
    ("[printer]\nrtscts = true\nxonxoff = true\n", "[printer] xonxoff: choose one"),
    ("[printer]\nfooter = 400\n", "[printer] footer: must be text"),
    ("[printer]\nport = \"/dev/ttyUSB0\"\n", "[printer] unknown key 'port'"),
])
def test_bad_config_names_the_key(tmp_path: Path, text: str, words: str):
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(path) in str(raised.value)
    assert words in str(raised.value)


def test_printer_settings_read_back(tmp_path: Path):
    path = tmp_path / "config.toml"
    printer = PrinterConfig(url="/dev/serial/by-id/usb-printer", paper="80mm", encoding="gbk",
                            cut="full", baudrate=19200, parity="even", rtscts=True,
                            footer="服务电话：0512-5867 1234")
    save_config(KioskConfig(printer=printer), path)
    loaded = load_config(path)
    assert loaded.printer == printer
    assert loaded.printer.columns == 48
    assert loaded.printer_url == "/dev/serial/by-id/usb-printer"
    defaults = load_config(tmp_path / "none.toml").printer
    assert (defaults.url, defaults.paper, defaults.columns, defaults.encoding, defaults.cut,
            defaults.baudrate) == ("", "58mm", 32, "gb18030", "partial", 9600)


def test_pin_must_be_digits():
    with pytest.raises(ConfigError, match="4 to 12 digits"):
        hash_pin("12a4")


def test_config_commands(tmp_path: Path):
    path = tmp_path / "config.toml"
    runner = CliRunner()
    base = ["--config", str(path), "--db", str(tmp_path / "kiosk.db")]
    result = runner.invoke(main, [*base, "config", "init", "--station", "梁丰社区服务站",
                                  "--kiosk-id", "liangfeng-1", "--street", "杨舍镇",
                                  "--community", "梁丰社区"])
    assert result.exit_code == 0, result.output
    assert path.exists()
    again = runner.invoke(main, [*base, "config", "init"])
    assert again.exit_code != 0 and "already exists" in again.output
    result = runner.invoke(main, [*base, "config", "set-pin"], input="2468\n2468\n")
    assert result.exit_code == 0, result.output
    shown = runner.invoke(main, [*base, "config", "show"])
    assert shown.exit_code == 0
    assert "梁丰社区服务站" in shown.output and "liangfeng-1" in shown.output
    assert "staff PIN: set" in shown.output and "scrypt$" not in shown.output
    assert "time zone: Asia/Shanghai" in shown.output and "day end 21:00," in shown.output
    assert check_pin("2468", load_config(path).staff_pin_hash)


def test_kiosk_does_not_start_with_a_bad_config(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text("[kiosk]\nidle_seconds = -1\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(path), "--db", str(tmp_path / "k.db"),
                                       "run"])
    assert result.exit_code != 0
    assert "idle_seconds" in result.output


def test_kiosk_refuses_a_config_offering_a_survey_that_is_not_installed(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text('[kiosk]\nsurveys = ["satisfaction", "covid_vaccine"]\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(path), "--db", str(tmp_path / "k.db"),
                                       "run"])
    assert result.exit_code != 0
    assert "covid_vaccine" in result.output and "not installed" in result.output


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_five_wrong_pins_lock_for_five_minutes_and_survive_a_restart(tmp_path: Path):
    clock = Clock()
    pin_hash = hash_pin("2468")
    store = KioskStore(tmp_path / "kiosk.db")
    gate = PinGate(store, pin_hash, kiosk="hall-1", clock=clock)
    for left in (4, 3, 2, 1):
        result = gate.attempt("0000")
        assert not result.ok and result.failures_left == left and result.locked_until is None
        clock.now += 10
    result = gate.attempt("0000")
    assert not result.ok and result.locked_until == pytest.approx(clock.now + LOCKOUT_SECONDS)
    assert not gate.attempt("2468").ok  # even the right PIN waits out the lockout
    store.close()

    store = KioskStore(tmp_path / "kiosk.db")  # the kiosk restarted: still locked
    gate = PinGate(store, pin_hash, kiosk="hall-1", clock=clock)
    clock.now += LOCKOUT_SECONDS - 5
    assert gate.attempt("2468").locked_until is not None
    clock.now += 10
    assert gate.attempt("2468").ok
    events = [event["event"] for event in store.staff_events()]
    assert events == ["pin_wrong"] * 5 + ["pin_locked", "pin_locked", "pin_ok"]
    assert all(event["kiosk"] == "hall-1" for event in store.staff_events())


def test_right_pin_resets_the_count(tmp_path: Path):
    clock = Clock()
    gate = PinGate(KioskStore(tmp_path / "kiosk.db"), hash_pin("2468"), clock=clock)
    for _ in range(4):
        gate.attempt("1111")
    assert gate.attempt("2468").ok
    assert gate.attempt("1111").failures_left == 4


def test_no_pin_configured_never_opens(tmp_path: Path):
    gate = PinGate(KioskStore(tmp_path / "kiosk.db"), "")
    result = gate.attempt("")
    assert not result.ok and result.no_pin_set


@pytest.mark.parametrize(("text", "words"), [
    ("[volunteers]\nmin_session_minutes = -5\n",
     "[volunteers] min_session_minutes: must be a whole number of minutes from 0 to 240"),
    ("[volunteers]\nmin_session_minutes = 15.5\n", "[volunteers] min_session_minutes"),
    ("[volunteers]\nday_end = \"9pm\"\n", "[volunteers] day_end: must be a time of day"),
    ("[volunteers]\nday_end = \"24:00\"\n", "[volunteers] day_end"),
    ("[volunteers]\nday_end = 2100\n", "[volunteers] day_end: must be text"),
    ("[volunteers]\nrepeat_seconds = 7200\n",
     "[volunteers] repeat_seconds: must be a whole number of seconds from 0 to 3600"),
    ("[volunteers]\ntimezone = \"Beijing\"\n",
     "[volunteers] timezone: must be a time zone name such as \"Asia/Shanghai\""),
    ("[volunteers]\ntimezone = \"\"\n", "[volunteers] timezone"),
    ("[volunteers]\nservice = \"  \"\n", "[volunteers] service: must not be empty"),
    ("[volunteers]\nminimum = 10\n", "[volunteers] unknown key 'minimum'"),
])
def test_bad_volunteer_settings_name_the_key(tmp_path: Path, text: str, words: str):
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(path) in str(raised.value)
    assert words in str(raised.value)


def test_volunteer_settings_read_back(tmp_path: Path):
    defaults = load_config(tmp_path / "none.toml").volunteers
    assert defaults == VolunteerSettings()
    assert (defaults.min_session_minutes, defaults.day_end, defaults.repeat_seconds,
            defaults.timezone, defaults.service) == (15, "21:00", 60, "Asia/Shanghai",
                                                      "社工站志愿服务")
    path = tmp_path / "config.toml"
    settings = VolunteerSettings(min_session_minutes=30, day_end="20:30", repeat_seconds=90,
                                 timezone="Asia/Urumqi", service="助老陪伴")
    save_config(KioskConfig(timezone="Asia/Urumqi", volunteers=settings), path)
    assert load_config(path).volunteers == settings
    path.write_text("[volunteers]\nday_end = \"7:05\"\n", encoding="utf-8")
    loaded = load_config(path).volunteers
    assert loaded.day_end == "07:05" and loaded.day_end_time.hour == 7
    assert str(loaded.zone) == "Asia/Shanghai"


def test_one_clock_for_the_station(tmp_path: Path):
    """[station] timezone is the station's one clock; the hours follow it, and a file that
    still names the zone under [volunteers] (as files did before) keeps working."""
    path = tmp_path / "config.toml"
    defaults = load_config(tmp_path / "none.toml")
    assert defaults.timezone == defaults.volunteers.timezone == "Asia/Shanghai"
    save_config(defaults.with_changes(timezone="Europe/Berlin"), path)
    text = path.read_text(encoding="utf-8")
    assert 'timezone = "Europe/Berlin"' in text.split("[kiosk]")[0]  # under [station]
    assert "timezone" not in text.split("[volunteers]")[1]
    loaded = load_config(path)
    assert loaded.timezone == loaded.volunteers.timezone == "Europe/Berlin"
    path.write_text('[volunteers]\ntimezone = "Asia/Urumqi"\n', encoding="utf-8")
    loaded = load_config(path)
    assert loaded.timezone == loaded.volunteers.timezone == "Asia/Urumqi"


@pytest.mark.parametrize(("text", "words"), [
    ('[station]\ntimezone = "Beijing"\n',
     '[station] timezone: must be a time zone name such as "Asia/Shanghai"'),
    ('[station]\ntimezone = "UTC+8"\n', "[station] timezone: must be a time zone name"),
    ('[station]\ntimezone = "Asia/Shanghai"\n[volunteers]\ntimezone = "UTC"\n',
     "[volunteers] timezone: differs from [station] timezone"),
])
def test_bad_station_timezone_names_the_key(tmp_path: Path, text: str, words: str):
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert words in str(raised.value)

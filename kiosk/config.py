"""The kiosk's configuration: one TOML file per kiosk, in the platformdirs config dir.

A bad file stops the kiosk with a message naming the key; the kiosk never starts half
configured. The staff PIN is kept only as a scrypt hash.
"""

from __future__ import annotations

import base64
import os
import re
import socket
import tomllib
from dataclasses import dataclass, field, replace
from datetime import time as time_of_day
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kiosk.paths import default_config_path, write_owner_only

# scrypt parameters: ~50 ms on a small kiosk PC, enough against guessing a stolen hash.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
PIN_PATTERN = re.compile(r"\d{4,12}")
KIOSK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
LANGUAGES = ("zh", "en")
DEFAULT_SURVEYS = ("satisfaction", "service_request", "marriage_reform", "home_adaptation")
# Receipt paper width -> characters per line in the printer's standard font (Font A).
PAPER_COLUMNS = {"58mm": 32, "80mm": 48}
PRINTER_ENCODINGS = ("gb18030", "gbk")
CUTS = ("partial", "full")
BAUDRATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
PARITIES = ("none", "even", "odd")
DAY_END = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


class ConfigError(ValueError):
    """A configuration the kiosk cannot start with; says which file and key."""


# ---- the staff PIN ------------------------------------------------------------------------


def hash_pin(pin: str) -> str:
    """A salted scrypt hash of a PIN, as stored in the config."""
    if not PIN_PATTERN.fullmatch(pin):
        raise ConfigError("the staff PIN must be 4 to 12 digits")
    import hashlib  # OpenSSL loads with the first use, not before home is drawn
    import secrets

    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                            dklen=32)
    encode = base64.b64encode
    return (f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}$"
            f"{encode(salt).decode()}${encode(digest).decode()}")


def check_pin(pin: str, stored: str) -> bool:
    """True if ``pin`` matches the stored scrypt hash (constant-time comparison)."""
    import hashlib  # OpenSSL loads with the first use, not before home is drawn
    import hmac

    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(pin.encode(), salt=base64.b64decode(salt), n=int(n),
                                r=int(r), p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def _valid_pin_hash(stored: str) -> bool:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        int(parts[1]), int(parts[2]), int(parts[3])
        base64.b64decode(parts[4], validate=True)
        base64.b64decode(parts[5], validate=True)
    except ValueError:
        return False
    return True


# ---- the configuration ---------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    """Where the kiosk stands: 街道/镇 → 社区 or 村 (stamped on what it records)."""

    street: str = ""
    community: str = ""

    @property
    def label(self) -> str | None:
        """What submissions are stamped with: ``街道/社区`` (either alone when only one is
        set; None when neither is)."""
        return "/".join(part for part in (self.street.strip(), self.community.strip())
                        if part) or None


@dataclass(frozen=True)
class PrinterConfig:
    """The receipt printer (``[printer]``): where it is, its paper and serial line settings.

    ``url`` empty: receipts are written as files (bytes and a PNG picture) instead.
    """

    url: str = ""
    paper: str = "58mm"
    encoding: str = "gb18030"
    cut: str = "partial"
    baudrate: int = 9600
    parity: str = "none"
    rtscts: bool = False
    xonxoff: bool = False
    footer: str = ""

    @property
    def columns(self) -> int:
        return PAPER_COLUMNS[self.paper]


@dataclass(frozen=True)
class VolunteerSettings:
    """Volunteer check-in and hours (``[volunteers]``).

    - ``min_session_minutes``: a session shorter than this is flagged ``short_session``
      (still credited; staff see the flag in the hours report);
    - ``day_end``: a session still open at this time of day ("HH:MM") is closed there and
      flagged for staff review; its hours count only once staff have reviewed it;
    - ``repeat_seconds``: a second scan of the same card within this time is ignored;
    - ``timezone``: the zone of the day, day end and calendar month: the station's
      (``[station] timezone``), copied here so the hours code needs no second setting;
    - ``service``: the service content written on each session's record.
    """

    min_session_minutes: int = 15
    day_end: str = "21:00"
    repeat_seconds: int = 60
    timezone: str = "Asia/Shanghai"
    service: str = "社工站志愿服务"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def day_end_time(self) -> time_of_day:
        match = DAY_END.fullmatch(self.day_end)
        if not match:
            raise ValueError(f"day_end must be \"HH:MM\" (got {self.day_end!r})")
        return time_of_day(int(match.group(1)), int(match.group(2)))


@dataclass(frozen=True)
class BackupSettings:
    """Nightly backups (``[backup]``, kiosk/nightly.py).

    - ``nightly``: the kiosk makes one backup a night by itself;
    - ``folder``: where (a second disk or a USB stick; it must exist, so that a stick that
      is not plugged in is noticed rather than replaced by a folder on the kiosk's own
      disk); empty: ``backups`` beside the database, made when missing;
    - ``hour``: the hour of the night, station time; a kiosk that was off then makes it
      when it next runs;
    - ``daily``, ``weekly``, ``monthly``: how many of the newest days, ISO weeks and
      calendar months keep their newest nightly copy (grandfather-father-son).
    """

    nightly: bool = True
    folder: str = ""
    hour: int = 2
    daily: int = 7
    weekly: int = 4
    monthly: int = 12

    def folder_for(self, database: Path) -> Path:
        """The folder of the nightly copies of ``database``."""
        return Path(self.folder).expanduser() if self.folder else database.parent / "backups"


@dataclass(frozen=True)
class KioskConfig:
    station_name: str = "社工站"
    kiosk_id: str = "kiosk"
    site: Site = field(default_factory=Site)
    timezone: str = "Asia/Shanghai"  # the station's one clock (IANA name)
    surveys: tuple[str, ...] = DEFAULT_SURVEYS
    idle_seconds: int = 90
    countdown_seconds: int = 20
    language: str = "zh"
    large_text: bool = False
    staff_pin_hash: str = ""
    printer: PrinterConfig = field(default_factory=PrinterConfig)
    serve_token: str = ""
    # Working days within which a social worker follows a service request up: promised on
    # the thank-you screen and on the printed ticket alike.
    follow_up_days: int = 3
    volunteers: VolunteerSettings = field(default_factory=VolunteerSettings)
    backup: BackupSettings = field(default_factory=BackupSettings)
    # Days after its last visit a household is due again, by register (and for any other).
    visit_every_days: int = 30
    visit_days_by_list: tuple[tuple[str, int], ...] = ()
    path: Path | None = None

    def __post_init__(self) -> None:
        # One clock: the hours code reads the zone from its own settings, kept equal here.
        if self.volunteers.timezone != self.timezone:
            object.__setattr__(self, "volunteers", replace(self.volunteers, timezone=self.timezone))

    @property
    def printer_url(self) -> str:
        return self.printer.url

    def visit_days(self, dataset: str) -> int:
        """Days after its last visit a household of register ``dataset`` is due again."""
        return dict(self.visit_days_by_list).get(dataset, self.visit_every_days)

    def with_changes(self, **changes: Any) -> KioskConfig:
        return replace(self, **changes)


def default_kiosk_id() -> str:
    """``$KIOSK_ID``, else a safe form of the host name."""
    raw = os.environ.get("KIOSK_ID") or socket.gethostname() or "kiosk"
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "-", raw).strip("-.") or "kiosk"
    return cleaned[:64]


# key in the file -> (section, name, type description)
_SCHEMA: dict[str, dict[str, str]] = {
    "station": {"name": "text", "kiosk_id": "id", "street": "text", "community": "text",
                "timezone": "time zone name"},
    "kiosk": {"surveys": "list of survey ids", "idle_seconds": "seconds",
              "countdown_seconds": "seconds", "language": "zh or en",
              "large_text": "true or false"},
    "staff": {"pin_hash": "scrypt hash"},
    "printer": {"url": "text", "paper": "58mm or 80mm", "encoding": "gb18030 or gbk",
                "cut": "partial or full", "baudrate": "bits per second",
                "parity": "none, even or odd", "rtscts": "true or false",
                "xonxoff": "true or false", "footer": "text"},
    "serve": {"token": "text"},
    "requests": {"follow_up_days": "working days"},
    "registers": {"visit_every_days": "days", "lists": "list name = days"},
    "volunteers": {"min_session_minutes": "minutes", "day_end": "HH:MM",
                   "repeat_seconds": "seconds", "timezone": "time zone name",
                   "service": "text"},
    "backup": {"nightly": "true or false", "folder": "folder path", "hour": "hour of the day",
               "daily": "copies", "weekly": "copies", "monthly": "copies"},
}


def _fail(path: Path, key: str, problem: str) -> ConfigError:
    return ConfigError(f"{path}: [{key.split('.')[0]}] {key.split('.', 1)[1]}: {problem}")


def load_config(path: Path | None = None) -> KioskConfig:
    """Read and check the config file; a missing file gives the defaults."""
    path = path or default_config_path()
    defaults = KioskConfig(kiosk_id=default_kiosk_id(), path=path)
    if not path.exists():
        return defaults
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read it: {error}") from None
    for section, values in data.items():
        if section not in _SCHEMA:
            raise ConfigError(f"{path}: unknown section [{section}]; known: "
                              f"{', '.join(f'[{name}]' for name in _SCHEMA)}")
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: {section} must be a [section]")
        for key in values:
            if key not in _SCHEMA[section]:
                raise ConfigError(f"{path}: [{section}] unknown key {key!r}; known: "
                                  f"{', '.join(_SCHEMA[section])}")

    def get(dotted: str, default: Any) -> Any:
        section, key = dotted.split(".")
        return data.get(section, {}).get(key, default)

    def text(dotted: str, default: str, *, required: bool = False) -> str:
        value = get(dotted, default)
        if not isinstance(value, str):
            raise _fail(path, dotted, f"must be text in quotes (got {value!r})")
        if required and not value.strip():
            raise _fail(path, dotted, "must not be empty")
        return value.strip()

    def seconds(dotted: str, default: int, low: int, high: int) -> int:
        value = get(dotted, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _fail(path, dotted,
                        f"must be a whole number of seconds from {low} to {high} (got {value!r})")
        return value

    kiosk_id = text("station.kiosk_id", defaults.kiosk_id, required=True)
    if not KIOSK_ID.fullmatch(kiosk_id):
        raise _fail(path, "station.kiosk_id",
                    f"letters, digits, '-', '_' or '.', at most 64 (got {kiosk_id!r})")
    surveys = get("kiosk.surveys", list(DEFAULT_SURVEYS))
    if not isinstance(surveys, list) or not all(isinstance(item, str) for item in surveys):
        raise _fail(path, "kiosk.surveys", f"must be a list of survey ids (got {surveys!r})")
    if len(set(surveys)) != len(surveys):
        raise _fail(path, "kiosk.surveys", "lists a survey twice")
    language = text("kiosk.language", defaults.language)
    if language not in LANGUAGES:
        raise _fail(path, "kiosk.language", f"must be \"zh\" or \"en\" (got {language!r})")
    large_text = get("kiosk.large_text", False)
    if not isinstance(large_text, bool):
        raise _fail(path, "kiosk.large_text", f"must be true or false (got {large_text!r})")
    def one_of(dotted: str, default: str, allowed: tuple[str, ...]) -> str:
        value = text(dotted, default).lower()
        if value not in allowed:
            quoted = [f'"{option}"' for option in allowed]
            words = f"{', '.join(quoted[:-1])} or {quoted[-1]}"
            raise _fail(path, dotted, f"must be {words} (got {get(dotted, default)!r})")
        return value

    def flag(dotted: str, default: bool) -> bool:
        value = get(dotted, default)
        if not isinstance(value, bool):
            raise _fail(path, dotted, f"must be true or false (got {value!r})")
        return value

    baudrate = get("printer.baudrate", 9600)
    if isinstance(baudrate, bool) or baudrate not in BAUDRATES:
        raise _fail(path, "printer.baudrate",
                    f"must be one of {', '.join(map(str, BAUDRATES))} (got {baudrate!r}); "
                    "see the printer's self-test page")
    if get("printer.rtscts", False) is True and get("printer.xonxoff", False) is True:
        raise _fail(path, "printer.xonxoff",
                    "choose one kind of flow control: rtscts (hardware) or xonxoff (software)")
    printer = PrinterConfig(
        url=text("printer.url", ""),
        paper=one_of("printer.paper", "58mm", tuple(PAPER_COLUMNS)),
        encoding=one_of("printer.encoding", "gb18030", PRINTER_ENCODINGS),
        cut=one_of("printer.cut", "partial", CUTS),
        baudrate=baudrate,
        parity=one_of("printer.parity", "none", PARITIES),
        rtscts=flag("printer.rtscts", False),
        xonxoff=flag("printer.xonxoff", False),
        footer=text("printer.footer", ""),
    )
    if len(printer.footer) > 200:
        raise _fail(path, "printer.footer",
                    f"at most 200 characters (got {len(printer.footer)})")
    timezone = _station_timezone(path, get, text)
    volunteers = _volunteer_settings(path, get, text, timezone)
    pin_hash = text("staff.pin_hash", "")
    if pin_hash and not _valid_pin_hash(pin_hash):
        raise _fail(path, "staff.pin_hash",
                    "is not a PIN hash written by `kiosk config set-pin`; set the PIN again")
    return KioskConfig(
        station_name=text("station.name", defaults.station_name, required=True),
        kiosk_id=kiosk_id,
        site=Site(street=text("station.street", ""), community=text("station.community", "")),
        timezone=timezone,
        surveys=tuple(surveys),
        idle_seconds=seconds("kiosk.idle_seconds", defaults.idle_seconds, 10, 3600),
        countdown_seconds=seconds("kiosk.countdown_seconds", defaults.countdown_seconds, 3, 300),
        language=language,
        large_text=large_text,
        staff_pin_hash=pin_hash,
        printer=printer,
        serve_token=text("serve.token", ""),
        follow_up_days=_follow_up_days(path, get),
        volunteers=volunteers,
        backup=_backup_settings(path, get, text, flag),
        **_register_settings(path, get),
        path=path,
    )


def _register_settings(path: Path, get: Any) -> dict[str, Any]:
    """``[registers]``: days between visits, 1 to 3650, for every register
    (``visit_every_days``) and for some by name (``lists = {households = 30}``)."""

    def days(key: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3650:
            raise _fail(path, key, f"must be a whole number of days from 1 to 3650 "
                                   f"(got {value!r})")
        return value

    every = days("registers.visit_every_days",
                 get("registers.visit_every_days", KioskConfig.visit_every_days))
    lists = get("registers.lists", {})
    if not isinstance(lists, dict):
        raise _fail(path, "registers.lists",
                    f"must be a table of list names and days, e.g. {{households = 30}} "
                    f"(got {lists!r})")
    by_list = tuple((str(name), days(f"registers.lists.{name}", value))
                    for name, value in sorted(lists.items()))
    return {"visit_every_days": every, "visit_days_by_list": by_list}


def _station_timezone(path: Path, get: Any, text: Any) -> str:
    """``[station] timezone``; a file written before it existed may still name the zone as
    ``[volunteers] timezone``, which then holds for the whole station."""
    station, old = get("station.timezone", None), get("volunteers.timezone", None)
    dotted = "station.timezone" if station is not None or old is None else "volunteers.timezone"
    timezone = text(dotted, KioskConfig.timezone)
    if station is not None and old is not None and old != station:
        raise _fail(path, "volunteers.timezone",
                    f"differs from [station] timezone ({old!r} against {station!r}); a station "
                    "keeps one clock: remove the [volunteers] line")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise _fail(path, dotted,
                    f"must be a time zone name such as \"Asia/Shanghai\" (got {timezone!r})"
                    ) from None
    return timezone


def _backup_settings(path: Path, get: Any, text: Any, flag: Any) -> BackupSettings:
    """The ``[backup]`` section, each value checked with a message naming its key."""
    defaults = BackupSettings()

    def whole(key: str, low: int, high: int, unit: str) -> int:
        dotted = f"backup.{key}"
        value = get(dotted, getattr(defaults, key))
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _fail(path, dotted,
                        f"must be a whole number of {unit} from {low} to {high} (got {value!r})")
        return value

    folder = text("backup.folder", "")
    if folder and not Path(folder).expanduser().is_absolute():
        raise _fail(path, "backup.folder",
                    f"must be a whole path such as \"/media/usb/kiosk-backups\" (got {folder!r})")
    return BackupSettings(
        nightly=flag("backup.nightly", defaults.nightly),
        folder=folder,
        hour=whole("hour", 0, 23, "hours (0 is midnight)"),
        # At least one daily copy: the newest nightly is never deleted.
        daily=whole("daily", 1, 366, "copies"),
        weekly=whole("weekly", 0, 520, "copies"),
        monthly=whole("monthly", 0, 240, "copies"),
    )


def _follow_up_days(path: Path, get: Any) -> int:
    """``[requests] follow_up_days``: 1 to 30 working days (a promise beyond six weeks helps
    nobody, and 0 would promise today)."""
    value = get("requests.follow_up_days", KioskConfig.follow_up_days)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 30:
        raise _fail(path, "requests.follow_up_days",
                    f"must be a whole number of working days from 1 to 30 (got {value!r})")
    return value


def _volunteer_settings(path: Path, get: Any, text: Any, timezone: str) -> VolunteerSettings:
    """The ``[volunteers]`` section, each value checked with a message naming its key."""
    defaults = VolunteerSettings()

    def whole(dotted: str, default: int, low: int, high: int, unit: str) -> int:
        value = get(dotted, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _fail(path, dotted,
                        f"must be a whole number of {unit} from {low} to {high} (got {value!r})")
        return value

    day_end = text("volunteers.day_end", defaults.day_end)
    if not DAY_END.fullmatch(day_end):
        raise _fail(path, "volunteers.day_end",
                    f"must be a time of day as \"HH:MM\", e.g. \"21:00\" (got {day_end!r})")
    hours, minutes = day_end.split(":")
    service = text("volunteers.service", defaults.service)
    if not service:
        raise _fail(path, "volunteers.service",
                    "must not be empty (it is the service content of every record)")
    if len(service) > 100:
        raise _fail(path, "volunteers.service", f"at most 100 characters (got {len(service)})")
    return VolunteerSettings(
        min_session_minutes=whole("volunteers.min_session_minutes",
                                  defaults.min_session_minutes, 0, 240, "minutes"),
        day_end=f"{int(hours):02d}:{minutes}",
        repeat_seconds=whole("volunteers.repeat_seconds", defaults.repeat_seconds, 0, 3600,
                             "seconds"),
        timezone=timezone,
        service=service,
    )


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def render_config(config: KioskConfig) -> str:
    """The config as a commented TOML file (what `kiosk config init` writes)."""
    surveys = ", ".join(_toml_string(survey) for survey in config.surveys)
    printer = config.printer
    volunteers = config.volunteers
    lines = [
        "# 社工站问卷终端配置 · kiosk configuration",
        "# Check it with `kiosk config show`; the kiosk refuses to start with a bad value.",
        "",
        "[station]",
        f"name = {_toml_string(config.station_name)}          # 站点名称, shown on the home screen",
        f"kiosk_id = {_toml_string(config.kiosk_id)}      # this kiosk, stamped on its records",
        f"street = {_toml_string(config.site.street)}        # 街道 / 镇",
        f"community = {_toml_string(config.site.community)}     # 社区 or 村",
        f"timezone = {_toml_string(config.timezone)}   # every time shown, printed and reported",
        "",
        "[kiosk]",
        f"surveys = [{surveys}]   # offered on the home screen, in this order",
        f"idle_seconds = {config.idle_seconds}        # no touch for this long: \"还在吗？\"",
        f"countdown_seconds = {config.countdown_seconds}   # then this long before going home",
        f"language = {_toml_string(config.language)}          # zh or en",
        f"large_text = {'true' if config.large_text else 'false'}   # bigger buttons, more space",
        "",
        "[staff]",
        "# Set with `kiosk config set-pin`; only a scrypt hash is kept.",
        f"pin_hash = {_toml_string(config.staff_pin_hash)}",
        "",
        "[printer]",
        "# A serial port (/dev/ttyUSB0, /dev/serial/by-id/..., or a pyserial URL such as",
        "# rfc2217://host:port). Empty: receipts are written as files under the data directory.",
        f"url = {_toml_string(printer.url)}",
        f"paper = {_toml_string(printer.paper)}       # 58mm (32 characters) or 80mm (48)",
        f"encoding = {_toml_string(printer.encoding)}  # the printer's Chinese code page (or gbk)",
        f"cut = {_toml_string(printer.cut)}      # partial or full",
        f"baudrate = {printer.baudrate}       # as on the printer's self-test page",
        f"parity = {_toml_string(printer.parity)}       # none, even or odd",
        f"rtscts = {'true' if printer.rtscts else 'false'}        # hardware flow control",
        f"xonxoff = {'true' if printer.xonxoff else 'false'}       # software flow control",
        f"footer = {_toml_string(printer.footer)}   # bottom line of every receipt, e.g. the phone",
        "",
        "[serve]",
        "# Access token for tablets on the LAN (`kiosk serve --host 0.0.0.0`).",
        f"token = {_toml_string(config.serve_token)}",
        "",
        "[requests]",
        f"follow_up_days = {config.follow_up_days}   # 需求登记: a social worker follows up "
        "within this many working days",
        "",
        "[volunteers]",
        f"min_session_minutes = {volunteers.min_session_minutes}   # shorter sessions are flagged",
        f"day_end = {_toml_string(volunteers.day_end)}  # open sessions closed here, for review",
        f"repeat_seconds = {volunteers.repeat_seconds}   # a second scan within this is ignored",
        f"service = {_toml_string(volunteers.service)}   # service content on the records",
        "",
        "[registers]",
        f"visit_every_days = {config.visit_every_days}   # a household is due for a visit this "
        "many days after the last (家庭名单)",
        "lists = {" + ", ".join(f"{name} = {value}" for name, value
                                in config.visit_days_by_list) + "}   # by register, e.g. "
        "{households = 30}",
        "",
        "[backup]",
        "# One copy of the database a night, made by the kiosk itself (see README, Backups).",
        f"nightly = {'true' if config.backup.nightly else 'false'}",
        f"folder = {_toml_string(config.backup.folder)}   # a second disk or USB stick; "
        "empty: backups beside the database",
        f"hour = {config.backup.hour}   # of the night, station time",
        f"daily = {config.backup.daily}   # copies kept: the newest days,",
        f"weekly = {config.backup.weekly}   # weeks",
        f"monthly = {config.backup.monthly}   # and months",
        "",
    ]
    return "\n".join(lines)


def save_config(config: KioskConfig, path: Path | None = None) -> Path:
    """Write the config atomically (a power cut never leaves half a file), owner-only."""
    target = path or config.path or default_config_path()
    # Owner-only from the first byte: it holds the staff PIN's hash and the tablet token.
    return write_owner_only(target, render_config(config).encode("utf-8"))

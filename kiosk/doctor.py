"""系统检查 (``kiosk doctor`` and the staff dashboard's tab): what a station needs, checked
one thing at a time, each said in plain Chinese with what to do about it.

Each check is a small function of the ``Station`` being checked that returns a ``Finding``:
``ok``, ``warn`` (works, but needs attention), ``fail`` (something a station needs does not
work) or ``skipped`` (nothing to check: hardware this kiosk does not have, or a test that
needs a person, such as scanning a card). The checks only look: the database is opened
read-only (store/sqlite/health.py), nothing is migrated, created or fixed.

Every check is bounded in time: they run side by side in daemon threads, each with its own
limit, and one that does not finish (a printer that never answers, a central host that
swallows packets) is reported as timed out while the others' findings stand.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.config import KioskConfig
from store.sqlite.health import DatabaseHealth, inspect_database
from surveys.clock import from_epoch, now_local

STATES = ("ok", "warn", "fail", "skipped")
# How each state reads in a list (the CLI and the tab): its word, mark and colour.
STATE_WORDS = {"ok": "正常", "warn": "注意", "fail": "故障", "skipped": "未查"}
STATE_MARKS = {"ok": ("✔", "green"), "warn": ("!", "yellow"), "fail": ("✘", "red"),
               "skipped": ("–", "bright_black")}

BACKUP_MAX_AGE = dt.timedelta(days=2)  # older than this: a failure
SYNC_MAX_AGE = dt.timedelta(days=3)
BUNDLE_MAX_AGE = dt.timedelta(days=14)
DISK_FAIL_BYTES = 200 * 1024 * 1024
DISK_WARN_BYTES = 1024 * 1024 * 1024
CLOCK_SKEW_SECONDS = 120
EARLIEST_PLAUSIBLE = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)  # a clock before this is wrong
BEIJING_OFFSET = dt.timedelta(hours=8)  # every Chinese station keeps Beijing time
CAMERA_DEVICE = Path("/dev/video0")  # the camera the kiosk reads cards with (app: source 0)
SPEAK_LINE = "您好，这是社工站终端的声音测试。"
SCAN_SECONDS = 20  # how long ``kiosk doctor --scan`` waits for a card
SCANNER_GAP = 0.05  # kiosk.widgets.wedge.GAP: the longest pause between a scan's keys
CHECK_SECONDS = 20.0  # the limit of a check, unless it says otherwise


@dataclass(frozen=True)
class Finding:
    """One check's result: ``title`` names the part, ``detail`` says what was found and
    where (a file, a port, an address), ``fix`` what to do (empty when nothing is)."""

    check: str
    title: str
    status: str
    detail: str
    fix: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATES:
            raise ValueError(f"unknown status {self.status!r}")

    def to_json(self) -> dict[str, str]:
        return {"id": self.check, "title": self.title, "status": self.status,
                "status_words": STATE_WORDS[self.status], "detail": self.detail,
                "fix": self.fix}


@dataclass
class Station:
    """What is checked: this kiosk's database, configuration and devices.

    ``config_error`` is why the configuration file could not be read (``config`` then holds
    the defaults). ``printer_state`` is given by a running kiosk: what its print queue last
    heard from the printer, whose port it holds (the CLI asks the printer itself).
    ``speak``: play a test line through the speaker. ``scan``: the scanner test, run after
    the others (it needs the person at the kiosk).
    """

    db_path: Path
    config_path: Path
    config: KioskConfig
    config_error: str | None = None
    printer_state: Callable[[], Any] | None = None
    speak: bool = False
    scan: Callable[[Station], Finding] | None = None
    camera_device: Path = CAMERA_DEVICE
    _health: DatabaseHealth | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def kiosk_id(self) -> str:
        return self.config.kiosk_id

    def health(self) -> DatabaseHealth:
        """The database, looked at once for every check that needs it."""
        with self._lock:
            if self._health is None:
                self._health = inspect_database(self.db_path)
            return self._health


@dataclass(frozen=True)
class Check:
    check: str
    title: str
    run: Callable[[Station], Finding]
    seconds: float = CHECK_SECONDS


# ---- words shared by the checks ------------------------------------------------------------


def when(epoch: float) -> str:
    """A moment as station staff read it: 2026年12月4日 18:30."""
    moment = from_epoch(epoch)
    return f"{moment.year}年{moment.month}月{moment.day}日 {moment:%H:%M}"


def when_stamp(stamp: str | None) -> str:
    """A stored ISO time as ``when`` says it ("" when there is none or it is not a time)."""
    moment = _moment(stamp)
    return when(moment.timestamp()) if moment else ""


def _moment(stamp: str | None) -> dt.datetime | None:
    if not stamp:
        return None
    try:
        moment = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def ago(seconds: float) -> str:
    """How long ago, roughly: 3 天前, 5 小时前, 刚才."""
    if seconds >= 86400:
        return f"{int(seconds // 86400)} 天前"
    if seconds >= 3600:
        return f"{int(seconds // 3600)} 小时前"
    if seconds >= 60:
        return f"{int(seconds // 60)} 分钟前"
    return "刚才"


def size_words(size: float) -> str:
    for unit in ("字节", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{int(size)} 字节" if unit == "字节" else f"{size:.1f} {unit}"
        size /= 1024
    return ""  # not reached


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def _listed(items: list[str], limit: int = 5) -> str:
    shown = "；".join(items[:limit])
    return shown + (f"；等共 {len(items)} 个" if len(items) > limit else "")


# ---- the configuration -------------------------------------------------------------------


def check_config(station: Station) -> Finding:
    title = "配置文件"
    path = station.config_path
    if station.config_error:
        return Finding("config", title, "fail",
                       f"配置文件 {path} 有错，终端不能启动：{station.config_error}",
                       "按上面说的改正这一项，再运行 kiosk config show 确认。")
    config = station.config
    if not path.exists():
        return Finding("config", title, "warn",
                       f"没有配置文件 {path}，正在用默认设置（站点名“{config.station_name}”，"
                       "没有工作人员 PIN，没有打印机）。",
                       "运行 kiosk config init 生成配置文件，填上站点名称和打印机端口，"
                       "再用 kiosk config set-pin 设置工作人员 PIN。")
    health = station.health()
    missing = [survey for survey in config.surveys if survey not in health.surveys] \
        if health.usable else []
    if missing:
        return Finding("config", title, "fail",
                       f"{path} 的 [kiosk] surveys 里有数据库中没有的问卷："
                       f"{'、'.join(missing)}，终端不能启动。",
                       "用 kiosk survey list 查看已安装的问卷，从 surveys 里删掉没有的，"
                       "或先用 kiosk survey install 安装它。")
    if not config.staff_pin_hash:
        return Finding("config", title, "warn",
                       f"{path} 里没有设置工作人员 PIN：工作人员进不了面板，也不能退出终端。",
                       "运行 kiosk config set-pin 设置 4 到 12 位数字的 PIN。")
    return Finding("config", title, "ok",
                   f"{path}：站点“{config.station_name}”，终端编号 {config.kiosk_id}。")


# ---- the database and the disk -----------------------------------------------------------


def check_database(station: Station) -> Finding:
    title = "数据库"
    health = station.health()
    path = station.db_path
    restore = "停止终端，用最近的备份恢复：kiosk restore 备份文件；恢复前会先保留现在的数据库。"
    if not health.exists:
        return Finding("database", title, "fail", f"找不到数据库 {path}。",
                       "检查 --db 或 KIOSK_DB 是否写对（U 盘或第二块硬盘是否挂上）；"
                       "新终端第一次运行 kiosk 时会自动建好数据库。")
    if health.problem is not None:
        if "newer kiosk" in health.problem:
            return Finding("database", title, "fail",
                           f"数据库 {path} 是更新版本的软件写的（数据库版本 "
                           f"{health.schema_version}，本软件只认识到 {health.current_schema}）。",
                           "把这台终端的软件升级到和写这个数据库的终端相同的版本。")
        return Finding("database", title, "fail",
                       f"数据库 {path} 打不开或不是本终端的数据库：{health.problem}", restore)
    if health.integrity != "ok":
        return Finding("database", title, "fail",
                       f"数据库 {path} 已损坏（SQLite 检查发现：{health.integrity}）。", restore)
    facts = (f"数据库完好：{health.submissions} 份问卷，{size_words(health.size)}"
             f"（{path}）")
    if health.schema_version < health.current_schema:
        return Finding("database", title, "warn",
                       f"{facts}；数据库还是旧版本（{health.schema_version}），"
                       f"现在的软件用版本 {health.current_schema}。",
                       "下次启动终端时会先在旁边留一份备份，再自动升级数据库；"
                       "升级前最好先运行 kiosk backup -o U盘目录。")
    return Finding("database", title, "ok", facts + "。")


def check_disk(station: Station) -> Finding:
    title = "磁盘空间"
    folder = station.db_path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        usage = shutil.disk_usage(folder)
    except OSError as error:
        return Finding("disk", title, "fail", f"查不到 {folder} 所在磁盘的空间：{error}",
                       "检查这个目录所在的磁盘或 U 盘是否还挂着。")
    size = station.health().size
    free = usage.free
    detail = (f"{folder} 所在磁盘还剩 {size_words(free)}（共 {size_words(usage.total)}），"
              f"数据库 {size_words(size)}")
    cleanup = ("删掉不用的文件（例如旧的导出文件、下载的安装包），或把旧备份移到 U 盘；"
               "不要删除数据库和它旁边的 -wal 文件。")
    if free < DISK_FAIL_BYTES:
        return Finding("disk", title, "fail",
                       f"{detail}：空间快用完了，问卷和志愿者记录可能存不进去。", cleanup)
    if free < DISK_WARN_BYTES or free < 3 * size:
        return Finding("disk", title, "warn",
                       f"{detail}：剩余空间不多（备份和升级数据库需要和数据库差不多大的空间）。",
                       cleanup)
    return Finding("disk", title, "ok", detail + "。")


# ---- time zone and clock -------------------------------------------------------------------


def machine_zone_name() -> str:
    """The machine's own zone as people set it: $TZ, else /etc/localtime's target."""
    if os.environ.get("TZ"):
        return os.environ["TZ"].lstrip(":")
    try:
        target = os.readlink("/etc/localtime")
    except OSError:
        return time.tzname[0]
    return target.split("zoneinfo/", 1)[-1]


def _offset_words(offset: dt.timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "−"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def check_timezone(station: Station) -> Finding:
    title = "时区"
    zone = station.config.timezone
    station_offset = now_local().utcoffset() or dt.timedelta(0)
    where = f"{station.config_path} 的 [station] timezone"
    if station_offset != BEIJING_OFFSET:
        return Finding("timezone", title, "fail",
                       f"站点时区设成了 {zone}（现在是 {_offset_words(station_offset)}），"
                       f"不是北京时间（UTC+08:00）：屏幕、回执、志愿者时长和报表上的时间都会错。",
                       f"把 {where} 改成 \"Asia/Shanghai\"，然后重启终端。")
    machine_offset = dt.timedelta(seconds=time.localtime().tm_gmtoff)
    if machine_offset != station_offset:
        return Finding("timezone", title, "warn",
                       f"站点用 {zone}（北京时间），但这台电脑的系统时区是 {machine_zone_name()}"
                       f"（{_offset_words(machine_offset)}）。终端自己的时间都按北京时间，"
                       "但系统日志和定时任务（例如夜间备份）会按电脑的时区走。",
                       "运行 sudo timedatectl set-timezone Asia/Shanghai 把电脑设成北京时间。")
    return Finding("timezone", title, "ok",
                   f"站点和这台电脑都用北京时间（{zone}，UTC+08:00）。")


def ntp_synchronised() -> bool | None:
    """Does systemd say the clock is synchronised with a time server? None: cannot tell."""
    program = shutil.which("timedatectl")
    if program is None:
        return None
    try:
        result = subprocess.run([program, "show", "-p", "NTPSynchronized", "--value"],
                                capture_output=True, text=True, timeout=3, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    answer = result.stdout.strip()
    return {"yes": True, "no": False}.get(answer) if result.returncode == 0 else None


def check_clock(station: Station) -> Finding:
    title = "系统时间"
    now = now_local()
    shown = f"{now.year}年{now.month}月{now.day}日 {now:%H:%M}"
    set_it = ("联网时运行 sudo timedatectl set-ntp true 自动校时；不联网的服务点用 "
              "sudo timedatectl set-time '2026-12-07 09:30:00'（换成现在的北京时间）手动设置。")
    if now < EARLIEST_PLAUSIBLE:
        return Finding("clock", title, "fail",
                       f"这台电脑的时间是 {shown}，明显不对：问卷和志愿者签到的时间都会记错。",
                       set_it + "每次开机时间都不对，多半是主板上的纽扣电池没电了。")
    health = station.health()
    last = _moment(health.last_stored) if health.usable else None
    if last is not None and now < last - dt.timedelta(minutes=10):
        return Finding("clock", title, "fail",
                       f"这台电脑的时间是 {shown}，比数据库里最后一份问卷的保存时间"
                       f"（{when(last.timestamp())}）还早：时钟被往回拨了。",
                       set_it)
    synced = ntp_synchronised()
    if synced is False:
        return Finding("clock", title, "warn",
                       f"这台电脑的时间是 {shown}，但没有和网络时间服务器校准，可能慢慢走偏。",
                       set_it)
    note = "，已和网络时间校准" if synced else ""
    return Finding("clock", title, "ok", f"这台电脑的时间是 {shown}（北京时间）{note}。"
                   "请和手机上的时间对一下。")


# ---- the printer ---------------------------------------------------------------------------


_PRINTER_WORDS: dict[str, tuple[str, str]] = {
    # state -> (what is wrong, what to do)
    "unplugged": ("打印机没有连接上",
                  "检查打印机电源和 USB 线，拔下再插上 USB 线；端口名变了请改 [printer] url"
                  "（/dev/serial/by-id/ 下的名字不会变）。"),
    "offline": ("打印机没有回应（关机了、波特率不对或线松了），或者处于脱机状态",
                "打开打印机电源，按一下 FEED 键；确认配置里的 [printer] baudrate 和打印机"
                "自检页上的波特率一样；检查数据线两头是否插紧。"),
    "cover_open": ("打印机的纸仓盖没有关好", "把纸仓盖按紧合上，听到“咔”一声。"),
    "paper_out": ("打印机缺纸",
                  "打开纸仓盖，装一卷新的热敏纸（光滑的一面朝打印头），拉出一截纸再合上盖子。"
                  "回执不会丢：装好纸后会自动补打。"),
    "error": ("打印机报告故障",
              "关掉打印机电源再打开；如果是切刀卡纸，打开盖子取出卡住的纸。"),
    "unknown": ("打印机的回答看不懂",
                "确认这个端口接的是打印机，并且配置里的 [printer] baudrate 和打印机自检页上的"
                "一样。"),
}


def check_printer(station: Station) -> Finding:
    title = "打印机"
    printer = station.config.printer
    if not printer.url:
        return Finding("printer", title, "skipped",
                       "没有配置打印机：回执写成文件，放在数据库旁边的 receipts 文件夹里。",
                       "接上小票打印机后，在配置文件的 [printer] url 填上端口（例如 "
                       "/dev/ttyUSB0），再运行 kiosk printer test 打一张测试页。")
    waiting = station.health().unprinted if station.health().usable else 0
    queue_note = f"队列里还有 {waiting} 张等着打印，打印机正常后会自动打出。" if waiting else ""
    if station.printer_state is not None:  # a running kiosk: its queue holds the port
        state = station.printer_state()
        if state is None:
            return Finding("printer", title, "warn",
                           f"终端刚启动，还没有收到打印机（{printer.url}）的状态。",
                           "等几秒钟，再点“重新检查”。")
        return _printer_finding(printer.url, state.state, state.paper_near_end, state.detail,
                                queue_note)
    from kiosk.printing.queue import serial_settings
    from printers.transport import PrinterError, open_printer

    settings = serial_settings(printer)
    try:
        from dataclasses import replace

        handle = open_printer(printer.url, replace(settings, status_timeout=0.5,
                                                   write_timeout=2.0),
                              folder=station.db_path.parent / "receipts")
    except PrinterError as error:
        return Finding("printer", title, "fail",
                       f"打印机地址 [printer] url = {printer.url!r} 不对：{error}",
                       "改成打印机的端口，例如 /dev/ttyUSB0、/dev/usb/lp0 或 "
                       "socket://192.168.1.50:9100。")
    try:
        status = handle.status()
    finally:
        handle.close()
    if status.state == "unknown" and "in use by another program" in status.detail:
        return Finding("printer", title, "warn",
                       f"打印机端口 {printer.url} 正被另一个程序占用（多半是正在运行的终端），"
                       "这里不能直接问打印机。" + queue_note,
                       "在终端的工作人员面板里打开“系统检查”页查看打印机；"
                       "或者先关掉终端再运行 kiosk doctor。")
    return _printer_finding(printer.url, status.state, status.paper_near_end, status.detail,
                            queue_note)


def _printer_finding(url: str, state: str, near_end: bool, detail: str,
                     queue_note: str) -> Finding:
    title = "打印机"
    if state == "ready":
        if near_end:
            return Finding("printer", title, "warn",
                           f"打印机（{url}）正常，但纸卷快用完了。" + queue_note,
                           "准备一卷新的热敏纸，纸用完时换上。")
        return Finding("printer", title, "ok", f"打印机（{url}）正常，可以打印。" + queue_note)
    what, fix = _PRINTER_WORDS.get(state, _PRINTER_WORDS["unknown"])
    if "permission denied" in detail:
        what = "这台电脑不允许终端程序使用打印机端口"
        fix = ("把运行终端的用户加入 dialout 组：sudo usermod -aG dialout 用户名，"
               "然后退出重新登录。")
    shown = f"（{detail}）" if detail else ""
    return Finding("printer", title, "fail", f"{what}：{url}{shown}。" + queue_note, fix)


# ---- scanner, camera, speaker, fonts ------------------------------------------------------


def card_secret_path(station: Station) -> Path:
    from kiosk.cards.payload import secret_path

    return secret_path(station.config_path)


def read_card_secret(path: Path) -> bytes:
    """The card secret, read without making one (ValueError when it is not one)."""
    if path.stat().st_size > 4096:
        raise ValueError("文件太大，不是密钥")
    try:
        secret = base64.b64decode(path.read_text(encoding="ascii").strip(), validate=True)
    except (UnicodeDecodeError, binascii.Error):
        raise ValueError("内容不是 base64 编码的密钥") from None
    if len(secret) < 16:
        raise ValueError("密钥太短")
    return secret


def scan_finding(station: Station, text: str | None, *, slowest: float = 0.0,
                 typed: bool = False, seconds: float = SCAN_SECONDS) -> Finding:
    """What one scan test found: ``text`` is what the scanner typed before Enter (None:
    nothing came within ``seconds``); ``slowest`` the longest pause between its keys, when
    measured; ``typed``: it reached a box as typing, so the kiosk did not take it for a
    scan (too slow, or typed by hand)."""
    title = "扫码枪"
    if text is None or not text.strip():
        return Finding("scanner", title, "fail", f"{seconds:g} 秒内没有收到扫码。",
                       "检查扫码枪的 USB 线是否插好、扫码时有没有“嘀”一声；扫码枪要设成 USB "
                       "键盘模式（说明书里的“USB HID”设置码），扫完自动回车。")
    from kiosk.cards.payload import CardError, read_payload

    shown = repr(text.strip()[:40])
    try:
        secret = read_card_secret(card_secret_path(station))
    except (OSError, ValueError):
        return Finding("scanner", title, "warn",
                       f"扫码枪打出了 {shown}，但这台终端没有志愿者证密钥，认不出是不是志愿者证。",
                       "先设置好志愿者证（见“志愿者证密钥”一项），再测扫码枪。")
    try:
        card = read_payload(text, secret)
    except CardError as error:
        if error.reason == "tampered":
            return Finding("scanner", title, "fail",
                           f"扫到的是志愿者证的格式，但签名对不上：这张证不是本站发的，"
                           f"或者本机的志愿者证密钥和发证电脑上的不一样（{shown}）。",
                           "把发证电脑上的 card-secret 复制到本机配置文件旁边；"
                           "或者换一张本站的志愿者证再试。")
        return Finding("scanner", title, "fail",
                       f"扫码枪打出的内容不是志愿者证：{shown}。",
                       "确认扫的是志愿者证上的二维码；内容里的字母或符号不对时，"
                       "把扫码枪的键盘布局设成美式英文（US），并关掉大写锁定。")
    if typed:
        return Finding("scanner", title, "warn",
                       f"读到了志愿者证 {card.number}（第 {card.serial} 张），但终端没有把它当成"
                       "扫码，而是当成了有人在打字：扫码枪打字太慢（或者是手工输入的）。",
                       "用扫码枪说明书里的设置码把“键盘传输速度”调到最快，再扫一次。")
    if slowest > SCANNER_GAP:
        return Finding("scanner", title, "warn",
                       f"读到了志愿者证 {card.number}（第 {card.serial} 张），但扫码枪打字太慢"
                       f"（两个字之间最长 {slowest * 1000:.0f} 毫秒，终端要求不超过 "
                       f"{SCANNER_GAP * 1000:.0f} 毫秒）：终端可能把它当成有人在打字。",
                       "用扫码枪说明书里的设置码把“键盘传输速度”调到最快。")
    return Finding("scanner", title, "ok",
                   f"扫码枪正常：读到志愿者证 {card.number}（第 {card.serial} 张）。")


def check_scanner(station: Station) -> Finding:
    if station.scan is not None:
        return station.scan(station)
    return Finding("scanner", "扫码枪", "skipped",
                   "扫码枪像键盘一样打字，不扫一下测不出来。",
                   "在终端前运行 kiosk doctor --scan，按提示扫一张志愿者证；"
                   "或在工作人员面板的“系统检查”页里扫。")


def check_camera(station: Station) -> Finding:
    title = "摄像头"
    device = station.camera_device
    if not device.exists():
        return Finding("camera", title, "skipped",
                       f"没有发现摄像头（{device}）：志愿者用扫码枪签到。",
                       "要用摄像头读志愿者证，接上 USB 摄像头后再检查。")
    try:
        import cv2
    except ImportError:
        return Finding("camera", title, "warn",
                       f"有摄像头（{device}），但没有安装 OpenCV，终端不会用它读志愿者证。",
                       "安装摄像头支持：pip install 'shegong-kiosk[camera]'。")
    capture = cv2.VideoCapture(str(device))
    try:
        if not capture.isOpened():
            return Finding("camera", title, "fail", f"摄像头 {device} 打不开。",
                           "拔下再插上摄像头的 USB 线；确认没有别的程序在用它；把运行终端的"
                           "用户加入 video 组：sudo usermod -aG video 用户名，然后重新登录。")
        ok, frame = capture.read()
    finally:
        capture.release()
    if not ok or frame is None:
        return Finding("camera", title, "fail", f"摄像头 {device} 打开了，但拍不到画面。",
                       "拔下再插上摄像头的 USB 线；检查镜头有没有被挡住。")
    height, width = frame.shape[:2]
    return Finding("camera", title, "ok", f"摄像头正常（{device}，{width}×{height}）。")


def check_speaker(station: Station) -> Finding:
    title = "朗读（音箱）"
    from kiosk import speech

    if speech.executable() is None:
        return Finding("speaker", title, "warn",
                       "没有安装 espeak-ng：问卷页上不会出现“朗读”按钮。",
                       "运行 sudo apt-get install espeak-ng。")
    voice = speech.voice_for("zh")
    if voice is None:
        return Finding("speaker", title, "warn",
                       "espeak-ng 没有能说普通话的语音：问卷页上不会出现“朗读”按钮。",
                       "运行 sudo apt-get install --reinstall espeak-ng espeak-ng-data。")
    if not station.speak:
        return Finding("speaker", title, "ok",
                       f"espeak-ng 可以说普通话（语音 {voice}）。要听一下音箱，运行 "
                       "kiosk doctor --speak。")
    try:
        speech.speak(SPEAK_LINE, "zh", timeout=20)
    except speech.SpeechError as error:
        return Finding("speaker", title, "fail", f"音箱放不出声音：{error}",
                       "检查音箱电源、音量旋钮和音频线；运行 alsamixer 看看是不是静音了"
                       "（按 M 取消静音）。")
    return Finding("speaker", title, "ok",
                   f"已经用音箱读了一句：“{SPEAK_LINE}”没有听到的话，检查音箱电源和音量。")


def chinese_font_families() -> list[str] | None:
    """The families of the Chinese fonts fontconfig knows (None: fc-list is not here)."""
    program = shutil.which("fc-list")
    if program is None:
        return None
    try:
        result = subprocess.run([program, ":lang=zh", "family"], capture_output=True,
                                text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return sorted({line.split(",")[0].strip() for line in result.stdout.splitlines()
                   if line.strip()})


def check_fonts(station: Station) -> Finding:
    from surveys.pdf_fonts import CJK_FONT_PATH

    title = "中文字体"
    install = "运行 sudo apt-get install fonts-wqy-zenhei。"
    if not CJK_FONT_PATH.exists():
        return Finding("fonts", title, "fail",
                       f"没有中文字体 {CJK_FONT_PATH}：导出的 PDF 报告和志愿者证打不出来。",
                       install)
    families = chinese_font_families()
    if families == []:
        return Finding("fonts", title, "fail",
                       "系统里没有中文字体：屏幕上的中文会显示成方框。", install)
    shown = "、".join(families[:3]) if families else "（没有 fc-list，屏幕字体未查）"
    return Finding("fonts", title, "ok", f"PDF 用 {CJK_FONT_PATH.name}；屏幕中文字体：{shown}。")


# ---- secrets and permissions ---------------------------------------------------------------


def check_card_secret(station: Station) -> Finding:
    title = "志愿者证密钥"
    path = card_secret_path(station)
    if not path.exists():
        return Finding("card_secret", title, "skipped",
                       f"没有志愿者证密钥（{path}）：这台终端还没有启用志愿者签到。",
                       "要用志愿者证时运行 kiosk volunteer cards（会生成密钥）；几台终端共用"
                       "一批证时，把发证电脑上的 card-secret 复制到这里。")
    mode = _mode(path)
    if mode & 0o077:
        return Finding("card_secret", title, "fail",
                       f"志愿者证密钥 {path} 的权限是 {mode:04o}，别的用户也能读到："
                       "拿到密钥就能伪造志愿者证、虚报服务时长。",
                       f"运行 chmod 600 {path}。")
    try:
        read_card_secret(path)
    except (OSError, ValueError) as error:
        return Finding("card_secret", title, "fail", f"志愿者证密钥 {path} 坏了：{error}。",
                       "从备份或发证电脑复制 card-secret 回来；没有的话只能重新发证"
                       "（kiosk volunteer cards），旧证都会失效。")
    if path.stat().st_uid != os.geteuid():
        return Finding("card_secret", title, "warn",
                       f"志愿者证密钥 {path} 属于另一个用户，不是运行终端的用户。",
                       f"运行 sudo chown {_user()}: {path}。")
    return Finding("card_secret", title, "ok", f"志愿者证密钥正常，只有本用户能读（{path}）。")


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.geteuid())


def private_paths(station: Station) -> tuple[list[Path], list[Path]]:
    """Files and folders holding personal data or secrets (that exist): the database and
    its companions and copies, the configuration and enrolment, backups, receipts, logs."""
    from kiosk.backup import default_backup_directory
    from kiosk.central.enrolment import enrolment_path
    from kiosk.paths import log_directory

    db = station.db_path
    files = [db.with_name(db.name + suffix) for suffix in ("", "-wal", "-shm")]
    files += sorted(db.parent.glob(f"{db.stem}.before-*{db.suffix}"))
    config = station.config_path
    enrolment = enrolment_path(config)
    files += [config, enrolment,
              enrolment.with_name(enrolment.name.removesuffix(".enrolment.json")
                                  + ".central-ca.pem")]
    folders = [default_backup_directory(db), db.parent / "receipts", log_directory()]
    for folder in folders:
        if folder.is_dir():
            files += sorted(path for path in folder.iterdir() if path.is_file())[:500]
    return ([path for path in files if path.is_file()],
            [folder for folder in folders if folder.is_dir()])


def check_permissions(station: Station) -> Finding:
    title = "文件权限"
    files, folders = private_paths(station)
    open_files = [path for path in files if _mode(path) & 0o077]
    open_folders = [path for path in folders if _mode(path) & 0o077]
    foreign = [path for path in [*files, *folders] if path.stat().st_uid != os.geteuid()]
    if open_files or open_folders:
        problems = ([f"{path}（{_mode(path):04o}）" for path in open_files]
                    + [f"{path}/（{_mode(path):04o}）" for path in open_folders])
        fixes = []
        if open_files:
            fixes.append("chmod 600 " + " ".join(str(path) for path in open_files[:20]))
        if open_folders:
            fixes.append("chmod 700 " + " ".join(str(path) for path in open_folders))
        return Finding("permissions", title, "fail",
                       "这些文件里有居民的个人信息或密钥，但别的用户也能读："
                       + _listed(problems) + "。",
                       "运行 " + "；".join(fixes) + "。")
    if foreign:
        return Finding("permissions", title, "warn",
                       "这些文件属于另一个用户，终端可能写不进去：" + _listed(
                           [str(path) for path in foreign]) + "。",
                       f"运行 sudo chown -R {_user()}: 加上这些文件。")
    return Finding("permissions", title, "ok",
                   f"数据库、配置、备份等 {len(files)} 个文件都只有本用户能读写。")


# ---- central database or bundles, and backups ---------------------------------------------


def check_central(station: Station) -> Finding:
    title = "中心数据库"
    from kiosk.central.enrolment import EnrolmentError, enrolment_path, this_kiosks_enrolment

    health = station.health()
    path = enrolment_path(station.config_path)
    if not path.exists():
        return _bundle_finding(health)
    try:
        enrolment = this_kiosks_enrolment(station.config_path, station.kiosk_id)
    except EnrolmentError as error:
        return Finding("central", title, "fail", f"接入文件 {path} 不能用：{error}",
                       "请工作人员为本终端重新生成接入文件（kiosk central enrol 或 rotate），"
                       "带到这里运行 kiosk central join 文件。")
    from store.central.connection import (
        CentralError,
        CentralUnreachable,
        KioskNotEnrolled,
        describe,
    )
    from store.central.health import central_health

    where = describe(enrolment.address)
    offline = "中心数据库连不上时，问卷照常存在本机，联网后运行 kiosk sync 会补传。"
    try:
        answer = central_health(enrolment.address, enrolment.kiosk_id,
                                **enrolment.connection_parameters())
    except CentralUnreachable as error:
        fix = ("检查网线或 Wi-Fi，确认中心数据库的服务器开着、地址和端口没变"
               f"（地址在 {path} 里）。" + offline)
        bundle = _bundle_finding(health)
        if bundle.status == "ok":  # a point without network that carries bundles instead
            return Finding("central", title, "warn",
                           f"连不上中心数据库 {where}；{bundle.detail}", fix)
        return Finding("central", title, "fail", f"连不上中心数据库 {where}：{error}", fix)
    except KioskNotEnrolled as error:
        return Finding("central", title, "fail",
                       f"中心数据库 {where} 不接受本终端（{station.kiosk_id}）的登录：{error}",
                       "请工作人员用 kiosk central rotate 为本终端重新生成接入文件，"
                       "再在这里运行 kiosk central join 文件。")
    except CentralError as error:
        return Finding("central", title, "fail", f"中心数据库 {where} 出错：{error}",
                       "把这条信息告诉管理中心数据库的人。" + offline)
    if answer.status != "enrolled":
        state = "已被注销" if answer.status.startswith("revoked") else "不认识本终端"
        return Finding("central", title, "fail",
                       f"中心数据库 {where} 说本终端（{station.kiosk_id}）{state}"
                       f"（{answer.status}）。",
                       "请工作人员重新登记本终端（kiosk central enrol），再运行 kiosk central "
                       "join 文件。")
    notes = []
    skew = (now_local() - answer.server_time).total_seconds()
    if abs(skew) > CLOCK_SKEW_SECONDS:
        notes.append(f"这台电脑的时间比中心数据库{'快' if skew > 0 else '慢'} "
                     f"{abs(skew) / 60:.0f} 分钟")
    synced = _moment(health.last_synced) if health.usable else None
    if synced is None:
        notes.append("还没有同步过")
    elif now_local() - synced > SYNC_MAX_AGE:
        notes.append(f"上次同步是 {when(synced.timestamp())}（"
                     f"{ago((now_local() - synced).total_seconds())}）")
    reached = f"连上了中心数据库 {where}，本终端（{station.kiosk_id}）已登记"
    if notes:
        return Finding("central", title, "warn", reached + "；但" + "，".join(notes) + "。",
                       "运行 kiosk sync 把新数据传上去"
                       + ("；并校准这台电脑的时间（见“系统时间”一项）" if len(notes) > 1
                          or "时间" in notes[0] else "") + "。")
    last = f"上次同步 {when(synced.timestamp())}" if synced else ""
    return Finding("central", title, "ok", f"{reached}，{last}。")


def _bundle_finding(health: DatabaseHealth) -> Finding:
    """A kiosk without a central database: its data leaves it only in bundles."""
    title = "中心数据库"
    export = ("不联网的服务点：定期运行 kiosk bundle export -o U盘目录/数据包名.jsonl.gz，"
              "把数据包交给社工站导入；联网的站点：运行 kiosk central join 接入文件。")
    bundle = health.latest.get("bundle_export") if health.usable else None
    if bundle is None:
        return Finding("central", title, "warn",
                       "本终端没有接入中心数据库，也没有导出过数据包：数据只在这台电脑上。",
                       export)
    age = time.time() - bundle.at_epoch
    shown = f"上次导出数据包是 {when(bundle.at_epoch)}（{ago(age)}，{bundle.target}）"
    if age > BUNDLE_MAX_AGE.total_seconds():
        return Finding("central", title, "warn",
                       f"本终端没有接入中心数据库；{shown}，之后的数据还只在这台电脑上。",
                       export)
    return Finding("central", title, "ok", f"数据用数据包带出：{shown}。")


def newest_backup_file(folder: Path) -> Path | None:
    """The newest backup copy (``kiosk-*.db`` by hand, ``nightly-*.db`` by the kiosk) in a
    folder (None when there is none)."""
    try:
        found = [path for pattern in ("kiosk-*.db", "nightly-*.db")
                 for path in folder.glob(pattern) if path.is_file()]
    except OSError:
        return None
    return max(found, key=lambda path: path.stat().st_mtime, default=None)


def _backup_folder(station: Station) -> Path | None:
    """The folder of the nightly backups, where the configuration has one (``[backup]``)."""
    settings = getattr(station.config, "backup", None)
    folder_for = getattr(settings, "folder_for", None)
    return Path(folder_for(station.db_path)) if callable(folder_for) else None


def check_backup(station: Station) -> Finding:
    title = "备份"
    health = station.health()
    how = ("插上 U 盘或第二块硬盘，运行 kiosk backup -o 那里的目录（例如 "
           "/media/kiosk/U盘/kiosk-backups）；最好每天都备份。")
    candidates: list[tuple[float, str]] = []
    entry = health.latest.get("backup") if health.usable else None
    if entry is not None:
        candidates.append((entry.at_epoch, entry.target))
    folder = _backup_folder(station)
    if folder is not None:
        newest = newest_backup_file(folder)
        if newest is not None:
            candidates.append((newest.stat().st_mtime, str(newest)))
    if not candidates:
        return Finding("backup", title, "fail",
                       "这台终端还从来没有备份过：硬盘坏了，所有问卷和志愿者时长都会丢。", how)
    taken, target = max(candidates)
    age = time.time() - taken
    shown = f"最近一次备份是 {when(taken)}（{ago(age)}）：{target}"
    if age > BACKUP_MAX_AGE.total_seconds():
        return Finding("backup", title, "fail",
                       f"{shown}，已经超过 {BACKUP_MAX_AGE.days} 天没有备份了。", how)
    copy = Path(target)
    try:
        same_disk = copy.exists() and copy.stat().st_dev == station.db_path.stat().st_dev
    except OSError:
        same_disk = False
    if same_disk:
        return Finding("backup", title, "warn",
                       f"{shown}；但备份和数据库在同一块磁盘上，磁盘坏了会一起丢。", how)
    return Finding("backup", title, "ok", shown + "。")


# ---- running them --------------------------------------------------------------------------


CHECKS: tuple[Check, ...] = (
    Check("config", "配置文件", check_config),
    Check("database", "数据库", check_database, seconds=120.0),  # reads every page
    Check("disk", "磁盘空间", check_disk, seconds=120.0),
    Check("timezone", "时区", check_timezone),
    Check("clock", "系统时间", check_clock, seconds=120.0),
    Check("printer", "打印机", check_printer),
    Check("scanner", "扫码枪", check_scanner, seconds=SCAN_SECONDS + 10),
    Check("camera", "摄像头", check_camera),
    Check("speaker", "朗读（音箱）", check_speaker, seconds=45.0),
    Check("fonts", "中文字体", check_fonts),
    Check("card_secret", "志愿者证密钥", check_card_secret),
    Check("permissions", "文件权限", check_permissions),
    Check("central", "中心数据库", check_central, seconds=30.0),
    Check("backup", "备份", check_backup, seconds=120.0),
)
CHECK_IDS = tuple(check.check for check in CHECKS)
# Checks that need the person at the kiosk: run alone, after the others.
INTERACTIVE = frozenset({"scanner"})


def _run_one(check: Check, station: Station) -> Finding:
    try:
        return check.run(station)
    except Exception as error:  # a check that breaks must not take the others with it
        return Finding(check.check, check.title, "fail", f"检查本身出错：{error!r}",
                       "把这条信息告诉技术人员。")


def _timed_out(check: Check) -> Finding:
    return Finding(check.check, check.title, "fail",
                   f"检查超过 {check.seconds:g} 秒没有结果，已经放弃。",
                   "稍后再检查一次；一直这样的话，把这条信息告诉技术人员。")


def run_checks(station: Station, only: Iterable[str] | None = None) -> list[Finding]:
    """Run the checks (``only``: these ids), side by side, each within its time limit;
    their findings in the order of ``CHECKS``. Never raises for what it finds."""
    wanted = set(only) if only is not None else set(CHECK_IDS)
    chosen = [check for check in CHECKS if check.check in wanted]
    found: dict[str, Finding] = {}
    started: list[tuple[Check, threading.Thread, float]] = []

    def worker(check: Check) -> None:
        found[check.check] = _run_one(check, station)

    for check in chosen:
        if check.check in INTERACTIVE:
            continue
        # Daemon threads: one that never returns is left behind, it cannot hold the exit.
        thread = threading.Thread(target=worker, args=(check,), daemon=True,
                                  name=f"doctor-{check.check}")
        thread.start()
        started.append((check, thread, time.monotonic() + check.seconds))
    for check, thread, deadline in started:
        thread.join(max(deadline - time.monotonic(), 0.0))
        if thread.is_alive() or check.check not in found:
            found[check.check] = _timed_out(check)
    for check in chosen:
        if check.check in INTERACTIVE:
            found[check.check] = _run_one(check, station)  # its own wait is bounded
    return [found[check.check] for check in chosen]


def summary(findings: Iterable[Finding]) -> dict[str, int]:
    counts = dict.fromkeys(STATES, 0)
    for finding in findings:
        counts[finding.status] += 1
    return counts


def summary_words(findings: list[Finding]) -> str:
    """结果：1 项故障，2 项注意，9 项正常，2 项未查。"""
    counts = summary(findings)
    parts = [f"{counts[state]} 项{STATE_WORDS[state]}" for state in ("fail", "warn", "ok",
                                                                        "skipped")
             if counts[state]]
    return "结果：" + "，".join(parts) + "。"


def all_well(findings: Iterable[Finding], *, strict: bool = False) -> bool:
    """Nothing failed (``strict``: nothing needs attention either)."""
    bad = {"fail", "warn"} if strict else {"fail"}
    return not any(finding.status in bad for finding in findings)

"""``kiosk appliance install`` and ``remove``: the account, the files, and the record of both.

Install checks everything before it changes anything (a file in the way that it did not
write, a desktop login on the same screen, another account of that name), then makes the
account, writes the files and keeps a record of what it did in ``/etc/shegong-kiosk/
appliance.json``. Running it again rewrites its own files (new settings) and changes nothing
else. Remove reads that record and undoes exactly that: its files and links, the account if
install made it, the desktop login it set aside. The home folder holds the residents'
answers (kiosk.db): remove keeps it unless told ``purge``.

With ``root`` other than "/" every file goes under that folder (tests, or a look at the
files before installing); the account is still made on this machine, with its home inside
``root``, so that the session can really run as it.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kiosk.appliance.units import (
    HOME,
    PACKAGES,
    SERVICE,
    ApplianceSettings,
    pam_text,
    policy_text,
    problems,
    unit_text,
)

RECORD = Path("/etc/shegong-kiosk/appliance.json")
UNIT = Path("/etc/systemd/system") / SERVICE
WANTS = Path("/etc/systemd/system/multi-user.target.wants") / SERVICE
PAM = Path("/etc/pam.d/shegong-kiosk")
POLICY = Path("/etc/chromium/policies/managed/shegong-kiosk.json")
DISPLAY_MANAGER = Path("/etc/systemd/system/display-manager.service")
NOLOGIN = "/usr/sbin/nologin"

Runner = Callable[[Sequence[str]], subprocess.CompletedProcess[str]]


class ApplianceError(Exception):
    """Something staff must fix before install or remove can go on (the message says what)."""


def run_command(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """A system command (useradd, apt-get …), its output kept for the message."""
    return subprocess.run(list(command), capture_output=True, text=True, check=False,
                          timeout=1800)


@dataclass
class Record:
    """What install did, so that remove undoes exactly that."""

    user: str
    user_created: bool = False
    home: str = ""
    home_created: bool = False
    files: list[str] = field(default_factory=list)  # absolute paths, under root
    links: list[str] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)  # made by install: removed when empty
    packages: list[str] = field(default_factory=list)  # installed by install's apt-get
    desktop_link: str = ""  # where display-manager.service pointed before install
    settings: dict[str, object] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> Record | None:
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(**data)
        except (OSError, ValueError, TypeError) as error:
            raise ApplianceError(f"安装记录 {path} 无法读取（{error}）；请检查或删除它后再试 / "
                                 f"the install record cannot be read") from None

    def write(self, path: Path) -> None:
        _write_file(path, json.dumps(asdict(self), ensure_ascii=False, indent=2) + "\n",
                    mode=0o600)


@dataclass
class Report:
    """What install or remove did and what staff should do next, one line each."""

    done: list[str] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)


def _write_file(path: Path, text: str, mode: int = 0o644) -> None:
    """Whole or not at all: written beside the target, then renamed over it."""
    temporary = path.with_name(f".{path.name}.new")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(temporary, mode)  # whatever the umask
    os.replace(temporary, path)


def _account(user: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(user)
    except KeyError:
        return None


def _require_root() -> None:
    if os.geteuid() != 0:
        raise ApplianceError("需要以 root 身份运行：sudo kiosk appliance … / must run as root")


def _systemd_running(settings_root: Path) -> bool:
    return settings_root == Path("/") and Path("/run/systemd/system").is_dir()


def _failed(what: str, result: subprocess.CompletedProcess[str]) -> ApplianceError:
    output = (result.stderr or result.stdout or "").strip().splitlines()
    detail = output[-1] if output else f"exit status {result.returncode}"
    return ApplianceError(f"{what}失败：{detail}")


# ---- install ------------------------------------------------------------------------------


def planned_files(settings: ApplianceSettings) -> dict[Path, str]:
    """Every file install writes (its place under root) and its text."""
    return {settings.under_root(UNIT): unit_text(settings),
            settings.under_root(PAM): pam_text(),
            settings.under_root(POLICY): policy_text(settings)}


def _check_python(settings: ApplianceSettings, user: pwd.struct_passwd,
                  run: Runner) -> None:
    """The kiosk user must be able to run the kiosk with ``settings.python``."""
    result = run(["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}",
                  "--init-groups", "env", "-i", f"HOME={settings.home}",
                  str(settings.python), "-c", "import kiosk.cli"])
    if result.returncode != 0:
        raise ApplianceError(
            f"终端用户 {settings.user} 无法运行 {settings.python} -m kiosk（程序装在只有 root "
            "能读的地方？）。请把终端程序装到所有用户都能读的位置，例如：\n"
            "  python3 -m venv /opt/shegong-kiosk\n"
            "  /opt/shegong-kiosk/bin/pip install <终端程序>\n"
            "  /opt/shegong-kiosk/bin/kiosk appliance install\n"
            f"The kiosk user cannot run {settings.python} -m kiosk: "
            + ((result.stderr or "").strip().splitlines() or ["no output"])[-1])


def _missing_packages() -> list[str]:
    return [package for package, path in PACKAGES.items() if not path.exists()]


def install(settings: ApplianceSettings, *, install_packages: bool = True,
            run: Runner = run_command) -> Report:
    """Set this machine (or the tree at ``settings.root``) up as a hall kiosk; see the
    module's docstring. Raises ApplianceError with what to fix, having changed nothing."""
    found = problems(settings)
    if found:
        raise ApplianceError("\n".join(found))
    _require_root()
    report = Report()
    record_path = settings.under_root(RECORD)
    record = Record.read(record_path)
    if record is not None and record.user != settings.user:
        raise ApplianceError(f"这台机器已经为用户 {record.user} 装好了终端；要换用户，请先运行 "
                             "kiosk appliance remove / already installed for another user")
    record = record or Record(user=settings.user)
    files = planned_files(settings)
    link = settings.under_root(WANTS)

    # Check everything first: nothing is changed when something is in the way.
    for path in [*files, link]:
        if (path.exists() or path.is_symlink()) and str(path) not in (record.files
                                                                      + record.links):
            raise ApplianceError(f"{path} 已经存在，不是本程序写的；请先把它移走再安装 / "
                                 "exists and was not written by kiosk appliance install")
    desktop = settings.under_root(DISPLAY_MANAGER)
    if (desktop.is_symlink() or desktop.exists()) and not settings.replace_desktop:
        target = os.readlink(desktop) if desktop.is_symlink() else str(desktop)
        raise ApplianceError(
            f"这台机器开机会进入桌面登录（{target}），它和终端画面用同一块屏幕。"
            "加上 --replace-desktop 让终端代替它（kiosk appliance remove 会恢复）/ "
            "a desktop login starts at boot; --replace-desktop puts the kiosk in its place")
    account = _account(settings.user)
    if account is not None and not record.user_created:
        raise ApplianceError(f"用户 {settings.user} 已经存在，不是本程序建的；请换一个 --user "
                             "或先删除这个用户 / the user exists and was not made by install")
    if account is not None and account.pw_uid == 0:
        raise ApplianceError(f"用户 {settings.user} 是 root，不能用作终端用户")
    if not settings.python.exists():
        raise ApplianceError(f"找不到 {settings.python} / --python does not exist")

    missing = _missing_packages()
    if missing:
        command = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
        if not install_packages or settings.root != Path("/"):
            raise ApplianceError("缺少软件包，请先安装 / missing packages:\n  "
                                 + " ".join(command))
        result = run(command)
        if result.returncode != 0:
            raise _failed("安装软件包（" + " ".join(command) + "）", result)
        record.packages = sorted(set(record.packages) | set(missing))
        report.done.append("装好了软件包 installed: " + " ".join(missing))

    # The account and its home (the database, the config, Chromium's profile).
    made_account = False
    if account is None:
        command = ["useradd", "--system", "--user-group", "--home-dir", str(settings.home),
                   "--no-create-home", "--shell", NOLOGIN,
                   "--comment", "shegong kiosk hall screen", settings.user]
        with contextlib.suppress(KeyError):
            import grp

            grp.getgrnam("dialout")  # the serial receipt printer
            command[1:1] = ["--groups", "dialout"]
        result = run(command)
        if result.returncode != 0:
            raise _failed(f"建立用户 {settings.user}", result)
        account = _account(settings.user)
        if account is None:
            raise ApplianceError(f"建立用户 {settings.user} 后找不到它 / useradd left no account")
        made_account = True
        record.user_created = True
        report.done.append(f"建立了用户 created the user {settings.user} "
                           f"(uid {account.pw_uid}, no login shell)")
    try:
        if not record.home:
            record.home_created = not settings.home.exists()
        record.home = str(settings.home)
        _make_folders(settings.home.parent, record, settings.root)
        settings.home.mkdir(exist_ok=True, mode=0o700)
        os.chmod(settings.home, 0o700)
        for folder, _subfolders, names in os.walk(settings.home):
            for path in [folder, *(os.path.join(folder, name) for name in names)]:
                os.lchown(path, account.pw_uid, account.pw_gid)
        _check_python(settings, account, run)
    except BaseException:
        if made_account:  # leave nothing behind of a half install
            run(["userdel", settings.user])
            if record.home_created:
                shutil.rmtree(settings.home, ignore_errors=True)
        raise

    # The files, then the link that enables the unit at boot.
    if desktop.is_symlink() or desktop.exists():
        record.desktop_link = os.readlink(desktop) if desktop.is_symlink() else ""
        desktop.unlink()
        report.done.append(f"桌面登录不再开机启动 the desktop login no longer starts "
                           f"({record.desktop_link})")
    for path, text in files.items():
        _make_folders(path.parent, record, settings.root)
        _write_file(path, text)
        if str(path) not in record.files:
            record.files.append(str(path))
        report.done.append(f"写入 wrote {path}")
    _make_folders(link.parent, record, settings.root)
    if link.is_symlink():
        link.unlink()
    link.symlink_to(UNIT)
    if str(link) not in record.links:
        record.links.append(str(link))
    record.settings = {"port": settings.port, "font_size": settings.font_size,
                       "large_font_size": settings.large_font_size,
                       "rotate": settings.rotate, "tty": settings.tty,
                       "python": str(settings.python)}
    _make_folders(record_path.parent, record, settings.root)
    record.write(record_path)
    report.done.append(f"记录 record of what was done: {record_path}")
    if _systemd_running(settings.root):
        run(["systemctl", "daemon-reload"])
    report.next_steps.append(f"重新开机后，屏幕直接进入终端（tty{settings.tty}）。"
                             f"Reboot, or: systemctl start {SERVICE}")
    report.next_steps.append(f"数据库和设置在 {settings.home}（只有 {settings.user} 能读）。"
                             f"Staff commands as that user: sudo -u {settings.user} "
                             f"{settings.python} -m kiosk --db {settings.database} "
                             f"--config {settings.config} …")
    return report


def _make_folders(folder: Path, record: Record, root: Path) -> None:
    """Make ``folder`` and its missing parents, noting each one made (remove takes it away
    again when it is empty)."""
    missing = []
    current = folder
    while not current.exists() and current != root and current != current.parent:
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        path.mkdir(mode=0o755)
        os.chmod(path, 0o755)
        if str(path) not in record.folders:
            record.folders.append(str(path))


# ---- remove -------------------------------------------------------------------------------


def remove(root: Path = Path("/"), *, purge: bool = False, run: Runner = run_command) -> Report:
    """Undo what install did (from its record under ``root``). The home folder with the
    database is kept unless ``purge``."""
    _require_root()
    record_path = root / RECORD.relative_to("/")
    record = Record.read(record_path)
    if record is None:
        raise ApplianceError(f"这里没有装过终端（没有 {record_path}）/ "
                             "nothing to remove: no install record")
    report = Report()
    if _systemd_running(root):
        run(["systemctl", "stop", SERVICE])
    for name in record.links + record.files:
        path = Path(name)
        if path.is_symlink() or path.exists():
            path.unlink()
            report.done.append(f"删除 removed {path}")
    if record.desktop_link:
        desktop = root / DISPLAY_MANAGER.relative_to("/")
        if not (desktop.is_symlink() or desktop.exists()):
            desktop.symlink_to(record.desktop_link)
            report.done.append(f"桌面登录恢复开机启动 the desktop login starts at boot again "
                               f"({record.desktop_link})")
    if record.user_created and _account(record.user) is not None:
        result = run(["userdel", record.user])
        if result.returncode != 0:
            record.files, record.links, record.desktop_link = [], [], ""
            record.write(record_path)  # what is left, for the next try
            raise _failed(f"删除用户 {record.user}（它的程序还在运行？先停止终端）", result)
        report.done.append(f"删除了用户 removed the user {record.user}")
    home = Path(record.home) if record.home else root / HOME.relative_to("/")
    if home.exists():
        holds_data = any(home.rglob("*.db"))
        if purge or (record.home_created and not holds_data):
            shutil.rmtree(home)
            report.done.append(f"删除 removed {home}")
        elif holds_data:
            report.next_steps.append(
                f"保留了 {home}：里面有居民的答卷（数据库）。备份后如不再需要，可删除："
                f"rm -r {home} / kept: it holds the database")
    record_path.unlink()
    for name in sorted(record.folders, key=len, reverse=True):
        with contextlib.suppress(OSError):  # not empty: someone else's files are in it
            Path(name).rmdir()
    with contextlib.suppress(OSError):
        record_path.parent.rmdir()
    if _systemd_running(root):
        run(["systemctl", "daemon-reload"])
    if record.packages:
        report.next_steps.append("安装时装的软件包没有卸载（别的程序也许在用）；不需要的话："
                                 "apt-get remove " + " ".join(record.packages))
    return report

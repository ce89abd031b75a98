"""`kiosk appliance install` / `remove`, and the hall screen they set up, for real.

Install runs as root with --root in a temp folder (the files) and makes a real system user
with a name of its own per test (the session must really run as it); remove takes it away
again, and a finaliser does so too if the test failed half-way. The units are checked by
`systemd-analyze verify`. The live test starts the unit's own command headless (cage on
wlroots' headless backend with the pixman renderer) as that user, takes screenshots with
grim, taps through Chromium's DevTools protocol (a touch event, as a finger's), and kills
the kiosk app and the browser to see the session bring the home screen back.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kiosk.appliance.units import PACKAGES

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="install makes a system user: root")
MISSING = [package for package, path in PACKAGES.items() if not path.exists()]
needs_packages = pytest.mark.skipif(
    bool(MISSING), reason=f"Debian packages missing: {' '.join(MISSING)} (./scripts/test)")
UNIT = "etc/systemd/system/shegong-kiosk.service"
PAM = "etc/pam.d/shegong-kiosk"
POLICY = "etc/chromium/policies/managed/shegong-kiosk.json"
RECORD = "etc/shegong-kiosk/appliance.json"
WANTS = "etc/systemd/system/multi-user.target.wants/shegong-kiosk.service"
HOME = "var/lib/shegong-kiosk"


def kiosk(*words: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The real `kiosk` command."""
    result = subprocess.run([sys.executable, "-m", "kiosk", *words], capture_output=True,
                            text=True, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"kiosk {' '.join(words)} failed ({result.returncode}):\n"
                             f"{result.stdout}\n{result.stderr}")
    return result


def runs_as_nobody(python: Path) -> bool:
    """Can a user other than root run the kiosk with ``python``?"""
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        return False
    # Through env: setpriv's own exec of the program is allowed where the user's is not.
    result = subprocess.run(["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}",
                             "--clear-groups", "env", "-i", str(python), "-c",
                             "import kiosk.cli"], capture_output=True, timeout=60, cwd="/")
    return result.returncode == 0


@pytest.fixture(scope="module")
def kiosk_python() -> Iterator[Path]:
    """A Python the kiosk user can run the kiosk with: this one, or, when it lives where
    only root can read (a pyenv under /root), a venv of Debian's Python of the same version
    that reads this environment's packages (a .pth file)."""
    if runs_as_nobody(Path(sys.executable)):
        yield Path(sys.executable)
        return
    system = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
    if not system.exists():
        pytest.skip(f"no {system} for the kiosk user, and {sys.executable} is root's only")
    folder = Path(tempfile.mkdtemp(prefix="kiosk-python-", dir="/tmp"))
    try:
        os.chmod(folder, 0o755)
        subprocess.run([str(system), "-m", "venv", "--without-pip", str(folder / "venv")],
                       check=True, timeout=120)
        purelib = Path(subprocess.run(
            [str(folder / "venv/bin/python"), "-c",
             "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True, capture_output=True, text=True).stdout.strip())
        ours = sysconfig.get_paths()["purelib"]
        (purelib / "kiosk-under-test.pth").write_text(
            f"import site; site.addsitedir({ours!r})\n")
        python = folder / "venv/bin/python"
        if not runs_as_nobody(python):
            pytest.skip(f"the kiosk user cannot read this environment's packages ({ours})")
        yield python
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Appliance:
    root: Path
    user: str
    python: Path

    def path(self, relative: str) -> Path:
        return self.root / relative

    def install(self, *words: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return kiosk("appliance", "install", "--root", str(self.root), "--user", self.user,
                     "--python", str(self.python), "--no-packages", *words, check=check)

    def remove(self, *words: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return kiosk("appliance", "remove", "--root", str(self.root), *words, check=check)


def account(user: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(user)
    except KeyError:
        return None


@pytest.fixture
def appliance(kiosk_python: Path) -> Iterator[Appliance]:
    """A temp root (readable by the kiosk user: not under root's 0700 pytest folder) and a
    user name of its own; whatever is left at the end goes (the user first)."""
    root = Path(tempfile.mkdtemp(prefix="kiosk-root-", dir="/tmp"))
    os.chmod(root, 0o755)
    user = f"kiosk-t{uuid.uuid4().hex[:8]}"
    try:
        yield Appliance(root, user, kiosk_python)
    finally:
        if account(user) is not None:
            subprocess.run(["pkill", "-KILL", "-u", user], check=False)
            subprocess.run(["userdel", user], check=False, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def verify(unit: Path) -> str:
    """What `systemd-analyze verify` says about the unit file (empty: nothing)."""
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                            text=True, timeout=120)
    said = (result.stdout + result.stderr).strip()
    assert result.returncode == 0, said
    return said


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


# ---- install and remove -------------------------------------------------------------------


@ROOT_ONLY
@needs_packages
def test_install_writes_units_systemd_accepts_and_remove_undoes_exactly_that(
        appliance: Appliance):
    before = account(appliance.user)
    assert before is None
    said = appliance.install("--font-size", "28", "--large-font-size", "36").stdout
    assert "shegong-kiosk.service" in said and appliance.user in said

    # The account: a system user with no login shell, in dialout for the serial printer.
    made = account(appliance.user)
    assert made is not None
    assert made.pw_shell == "/usr/sbin/nologin" and 0 < made.pw_uid < 1000
    assert made.pw_dir == str(appliance.path(HOME))
    assert appliance.user in grp.getgrnam("dialout").gr_mem
    home = appliance.path(HOME)
    assert home.is_dir() and mode(home) == 0o700 and home.stat().st_uid == made.pw_uid

    # The unit: the kiosk user's session on tty1, restarted always, cage without VT
    # switching (no -s), the configured sizes, the server on loopback only.
    unit = appliance.path(UNIT).read_text()
    assert f"User={appliance.user}" in unit
    for line in ("Restart=always", "RestartSec=2", "Conflicts=getty@tty1.service",
                 "TTYPath=/dev/tty1", "PAMName=shegong-kiosk", "StartLimitIntervalSec=0",
                 "WantedBy=multi-user.target"):
        assert line in unit.splitlines(), line
    [exec_start] = [line for line in unit.splitlines() if line.startswith("ExecStart=")]
    assert exec_start.startswith("ExecStart=/usr/bin/cage -d -- ")
    assert " -s " not in exec_start
    assert f"{appliance.python} -m kiosk appliance session" in exec_start
    assert "--font-size 28 --large-font-size 36" in exec_start
    assert f"KIOSK_DB={home}/kiosk.db" in unit
    assert verify(appliance.path(UNIT)) == ""
    assert os.readlink(appliance.path(WANTS)) == "/etc/systemd/system/shegong-kiosk.service"
    assert "pam_systemd.so" in appliance.path(PAM).read_text()
    policy = appliance.path(POLICY).read_text()
    assert '"DeveloperToolsAvailability": 2' in policy and '"URLBlocklist": [\n    "*"' in policy
    for relative in (UNIT, PAM, POLICY):
        assert mode(appliance.path(relative)) == 0o644, relative
    assert mode(appliance.path(RECORD)) == 0o600

    # Again, with another size: the same files, rewritten; nothing else.
    listing = sorted(str(path.relative_to(appliance.root)) for path in appliance.root.rglob("*"))
    appliance.install("--font-size", "26")
    assert "--font-size 26 --large-font-size 30" in appliance.path(UNIT).read_text()
    assert sorted(str(path.relative_to(appliance.root))
                  for path in appliance.root.rglob("*")) == listing
    assert account(appliance.user).pw_uid == made.pw_uid

    said = appliance.remove().stdout
    assert appliance.user in said
    assert account(appliance.user) is None
    assert list(appliance.root.iterdir()) == []  # every file and folder it made is gone
    again = appliance.remove(check=False)
    assert again.returncode == 1 and "没有装过终端" in again.stderr


@ROOT_ONLY
@needs_packages
def test_install_refuses_what_is_in_its_way_and_changes_nothing(appliance: Appliance):
    # A PAM file of someone else's.
    theirs = appliance.path(PAM)
    theirs.parent.mkdir(parents=True)
    theirs.write_text("auth required pam_deny.so\n")
    refused = appliance.install(check=False)
    assert refused.returncode == 1
    assert f"{theirs} 已经存在，不是本程序写的" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert account(appliance.user) is None and not appliance.path(UNIT).exists()
    assert theirs.read_text() == "auth required pam_deny.so\n"
    theirs.unlink()

    # A desktop login on the same screen: only with --replace-desktop, and put back.
    desktop = appliance.path("etc/systemd/system/display-manager.service")
    desktop.parent.mkdir(parents=True, exist_ok=True)
    desktop.symlink_to("/lib/systemd/system/lightdm.service")
    refused = appliance.install(check=False)
    assert refused.returncode == 1 and "--replace-desktop" in refused.stderr
    assert account(appliance.user) is None
    appliance.install("--replace-desktop")
    assert not desktop.is_symlink()
    appliance.remove()
    assert os.readlink(desktop) == "/lib/systemd/system/lightdm.service"

    # Settings that cannot work, each said in words.
    for words, message in ((("--font-size", "6"), "字号应在 12–48 像素之间"),
                           (("--font-size", "30", "--large-font-size", "20"),
                            "--large-font-size 不能小于 --font-size"),
                           (("--port", "80"), "端口应在 1024–65535 之间"),
                           (("--rotate", "5"), "--rotate 5")):
        refused = appliance.install(*words, check=False)
        assert refused.returncode == 1 and message in refused.stderr, refused.stderr
    bad_user = kiosk("appliance", "install", "--root", str(appliance.root), "--user",
                     "Evil;rm", "--no-packages", check=False)
    assert bad_user.returncode == 1 and "用户名 'Evil;rm' 不可用" in bad_user.stderr
    assert account(appliance.user) is None


@ROOT_ONLY
@needs_packages
def test_an_existing_user_is_not_taken_over(appliance: Appliance):
    subprocess.run(["useradd", "--system", "--no-create-home", appliance.user], check=True)
    refused = appliance.install(check=False)
    assert refused.returncode == 1 and "已经存在，不是本程序建的" in refused.stderr
    assert not appliance.path(UNIT).exists()
    subprocess.run(["userdel", appliance.user], check=True)


@ROOT_ONLY
@needs_packages
def test_remove_keeps_the_residents_answers_unless_purged(appliance: Appliance):
    appliance.install()
    database = appliance.path(HOME) / "kiosk.db"
    database.write_bytes(b"SQLite format 3\0")
    said = appliance.remove().stdout
    assert database.exists() and "里面有居民的答卷" in said
    assert account(appliance.user) is None and not appliance.path(UNIT).exists()

    # Installed again on the kept data: the new account owns it; remove keeps it again,
    # and --purge deletes it.
    appliance.install()
    assert database.stat().st_uid == account(appliance.user).pw_uid
    appliance.remove()
    assert database.exists()
    appliance.install()
    appliance.remove("--purge")
    assert not appliance.path(HOME).exists()
    assert account(appliance.user) is None

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

import contextlib
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


# ---- the hall screen, live ----------------------------------------------------------------

GRIM = Path("/usr/bin/grim")
needs_grim = pytest.mark.skipif(not GRIM.exists(), reason="grim is not installed (./scripts/test)")
HOME_WORDS = "请点一下您要填写的问卷"
TITLE = "社区服务满意度调查"
# What the page's terminal holds, and where its cells are, read through DevTools.
SCREEN_JS = """(() => {
  const shared = (window.kioskTerminals || [])[0];
  if (!shared || !document.body.classList.contains("-first-byte")) return null;
  const terminal = shared.terminal, buffer = terminal.buffer.active, rows = [];
  for (let y = 0; y < terminal.rows; y++) {
    const line = buffer.getLine(y), cells = [];
    for (let x = 0; x < terminal.cols; x++) {
      const cell = line.getCell(x);
      cells.push(cell.getWidth() === 0 ? "" : (cell.getChars() || " "));
    }
    rows.push(cells);
  }
  const size = terminal._core._renderService.dimensions.css.cell;
  const box = document.querySelector(".xterm-screen").getBoundingClientRect();
  return {rows, cell: [size.width, size.height], origin: [box.x, box.y],
          font: terminal.options.fontSize, closed: document.body.classList.contains("-closed")};
})()"""


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(condition, seconds: float, what: str, detail=lambda: ""):
    """Poll ``condition`` until it gives something true; fail after ``seconds``."""
    import time

    deadline = time.monotonic() + seconds
    while True:
        try:
            result = condition()
        except (OSError, KeyError, ValueError, TimeoutError):
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what} after {seconds} s\n{detail()}")
        time.sleep(0.2)


@dataclass
class Screen:
    """The page's terminal: its text by cell, and where each cell is on the screen."""

    rows: list[list[str]]
    cell: tuple[float, float]
    origin: tuple[float, float]
    font: int

    def text(self) -> str:
        return "\n".join("".join(row) for row in self.rows)

    def find(self, words: str) -> tuple[int, int]:
        """Row and first column of ``words`` (columns count a Chinese character as two)."""
        for number, row in enumerate(self.rows):
            line = "".join(row)
            if words in line:
                start = line.index(words)
                column, seen = 0, 0
                while seen < start:  # text index → cell column (a wide cell's second is "")
                    seen += len(row[column])
                    column += 1
                while row[column] == "":
                    column += 1
                return number, column
        raise KeyError(words)

    def box(self, words: str) -> tuple[int, int, int, int]:
        """Pixels (left, top, right, bottom) of the cells holding ``words``."""
        row, column = self.find(words)
        width = sum(2 if ord(character) > 0x2E80 else 1 for character in words)
        left = self.origin[0] + column * self.cell[0]
        top = self.origin[1] + row * self.cell[1]
        return (round(left), round(top), round(left + width * self.cell[0]),
                round(top + self.cell[1]))


class DevTools:
    """Chromium's DevTools protocol on 127.0.0.1 (the session's test-only --devtools-port):
    the page's terminal text, and touches as a finger's."""

    def __init__(self, port: int) -> None:
        self.port = port

    def _call(self, calls: list[tuple[str, dict]]) -> list[dict]:
        import asyncio

        import aiohttp

        async def talk() -> list[dict]:
            async with aiohttp.ClientSession() as session:
                listing = await session.get(f"http://127.0.0.1:{self.port}/json", timeout=5)
                pages = [page for page in await listing.json() if page["type"] == "page"]
                if not pages:
                    raise ValueError("no page yet")
                answers = []
                async with session.ws_connect(pages[0]["webSocketDebuggerUrl"],
                                              max_msg_size=0) as socket:
                    for number, (method, params) in enumerate(calls, 1):
                        await socket.send_json({"id": number, "method": method,
                                                "params": params})
                        async for message in socket:
                            answer = message.json()
                            if answer.get("id") == number:
                                answers.append(answer)
                                break
                return answers

        try:
            return asyncio.run(asyncio.wait_for(talk(), 10))
        except Exception as error:  # not up yet, restarting, page reloading
            raise OSError(str(error)) from error

    def screen(self) -> Screen | None:
        [answer] = self._call([("Runtime.evaluate",
                                {"expression": SCREEN_JS, "returnByValue": True})])
        value = answer.get("result", {}).get("result", {}).get("value")
        if not value or value["closed"]:
            return None
        return Screen(value["rows"], tuple(value["cell"]), tuple(value["origin"]),
                      int(value["font"]))

    def tap(self, x: float, y: float) -> None:
        """A finger down and up at (x, y) CSS pixels: a touch, which Chromium turns into the
        click xterm.js passes to the app."""
        answers = self._call([
            ("Input.dispatchTouchEvent", {"type": "touchStart",
                                          "touchPoints": [{"x": x, "y": y}]}),
            ("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})])
        assert all("error" not in answer for answer in answers), answers


def processes_of(user: str) -> dict[int, list[str]]:
    """The user's processes: pid → command line."""
    uid = pwd.getpwnam(user).pw_uid
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != uid:
                continue
            words = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        found[int(entry.name)] = [word.decode(errors="replace") for word in words if word]
    return found


def kiosk_apps(user: str) -> list[int]:
    """The `kiosk run` processes (Python itself, not the shell textual-serve starts)."""
    return [pid for pid, words in processes_of(user).items()
            if words and words[-1] == "run" and "kiosk" in words
            and not words[0].endswith("sh")]


def browsers(user: str) -> list[int]:
    """Chromium's browser process (its helpers carry --type=)."""
    return [pid for pid, words in processes_of(user).items()
            if words and words[0].endswith("/chromium") and "--kiosk" in words
            and not any(word.startswith("--type=") for word in words)]


def memory_mb(user: str) -> dict[str, float]:
    """Proportional set size of the user's processes, by program, in MB."""
    totals: dict[str, float] = {}
    for pid, words in processes_of(user).items():
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        pss = next((int(line.split()[1]) for line in rollup.splitlines()
                    if line.startswith("Pss:")), 0)
        name = ("chromium" if words and "chromium" in words[0]
                else "kiosk (python)" if "kiosk" in words else Path(words[0]).name
                if words else "?")
        totals[name] = totals.get(name, 0.0) + pss / 1024
    return totals


def ink_rows(image, box: tuple[int, int, int, int]) -> list[int]:
    """Rows of ``box`` (in the image) that the text's strokes cross: at least 3 pixels far
    from the box's most common colour (the button behind the text); the faint edge pixels
    that smoothing adds above and below a stroke do not count."""
    import numpy

    left, top, right, bottom = box
    area = image[top:bottom, left:right].astype(int)
    colours, counts = numpy.unique(area.reshape(-1, area.shape[2]), axis=0,
                                   return_counts=True)
    background = colours[counts.argmax()]
    ink = numpy.abs(area - background).sum(axis=2) > 300
    return [top + number for number, row in enumerate(ink) if row.sum() >= 3]


@dataclass
class HallSession:
    """The unit's own command (ExecStart, with its Environment=), run as the kiosk user in
    cage on wlroots' headless backend, inside a mount namespace where /etc/chromium holds the
    policy install wrote."""

    appliance: Appliance
    process: subprocess.Popen
    runtime: Path
    devtools: DevTools

    def grab(self, path: Path):
        """One screenshot of the whole output, taken by grim as the kiosk user."""
        import cv2

        account_ = pwd.getpwnam(self.appliance.user)
        inside = self.runtime / "shot.png"
        subprocess.run(["setpriv", f"--reuid={account_.pw_uid}", f"--regid={account_.pw_gid}",
                        "--init-groups", "env", "-i", f"XDG_RUNTIME_DIR={self.runtime}",
                        "WAYLAND_DISPLAY=wayland-0", str(GRIM), str(inside)],
                       check=True, timeout=60)
        shutil.copy(inside, path)
        image = cv2.imread(str(path))
        assert image is not None, f"grim wrote no image to {path}"
        return image

    def screenshot(self, path: Path):
        """A screenshot once the screen has stopped changing (the page fades in over
        0.3 s): two grabs in a row alike."""
        import numpy

        previous = self.grab(path)

        def settled():
            nonlocal previous
            image = self.grab(path)
            same = numpy.array_equal(image, previous)
            previous = image
            return same

        wait_for(settled, 30, "the screen to settle")
        return previous


def x11_socket_folder() -> None:
    """cage starts Xwayland, which wants /tmp/.X11-unix as systemd-tmpfiles makes it at boot
    (root's, 1777); made so here when missing."""
    folder = Path("/tmp/.X11-unix")
    if not folder.exists():
        folder.mkdir()
        os.chmod(folder, 0o1777)
    assert folder.stat().st_uid == 0, f"{folder} is not root's: Xwayland will refuse it"


def remove_x11_leftovers(uid: int) -> None:
    """An Xwayland killed with the session leaves its lock and socket behind."""
    for path in [*Path("/tmp").glob(".X*-lock"), *Path("/tmp/.X11-unix").glob("X*")]:
        with contextlib.suppress(OSError):
            if path.lstat().st_uid == uid:
                path.unlink()


def start_hall_session(appliance: Appliance, devtools_port: int) -> HallSession:
    import shlex

    x11_socket_folder()

    unit = appliance.path(UNIT).read_text().splitlines()
    [command] = [shlex.split(line.split("=", 1)[1]) for line in unit
                 if line.startswith("ExecStart=")]
    environment = dict(shlex.split(line.split("=", 1)[1])[0].split("=", 1) for line in unit
                       if line.startswith("Environment="))
    account_ = pwd.getpwnam(appliance.user)
    runtime = Path(tempfile.mkdtemp(prefix="kiosk-runtime-", dir="/tmp"))
    os.chown(runtime, account_.pw_uid, account_.pw_gid)
    environment.update({
        "HOME": account_.pw_dir, "USER": appliance.user, "PATH": "/usr/bin:/bin",
        "XDG_RUNTIME_DIR": str(runtime),
        # No screen here: wlroots draws into memory (what `grim` reads back).
        "WLR_BACKENDS": "headless", "WLR_RENDERER": "pixman", "WLR_LIBINPUT_NO_DEVICES": "1"})

    # The installed policy, but for developer tools: the test drives the page through them.
    policy = appliance.path(POLICY)
    import json

    rules = json.loads(policy.read_text())
    assert rules.pop("DeveloperToolsAvailability") == 2
    overlay = runtime / "etc-chromium"
    shutil.copytree("/etc/chromium", overlay)
    (overlay / "policies/managed").mkdir(parents=True, exist_ok=True)
    (overlay / "policies/managed" / policy.name).write_text(json.dumps(rules))
    for folder, _subfolders, names in os.walk(overlay):
        os.chmod(folder, 0o755)
        for name in names:
            os.chmod(os.path.join(folder, name), 0o644)

    as_user = ["setpriv", f"--reuid={account_.pw_uid}", f"--regid={account_.pw_gid}",
               "--init-groups", "env", "-i",
               *[f"{key}={value}" for key, value in environment.items()],
               *command, "--devtools-port", str(devtools_port)]
    script = f"mount --bind {shlex.quote(str(overlay))} /etc/chromium && exec {shlex.join(as_user)}"
    log = open(runtime / "session.log", "wb")  # noqa: SIM115 (kept open for the session)
    process = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                                script], stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True, cwd="/")
    return HallSession(appliance, process, runtime, DevTools(devtools_port))


@ROOT_ONLY
@needs_packages
@needs_grim
def test_the_hall_screen_shows_home_at_its_size_opens_a_form_on_a_tap_and_comes_back(
        appliance: Appliance, tmp_path: Path):
    import time

    import numpy

    port, devtools_port = free_port(), free_port()
    # --rotate 2 (the screen upside down) only so that cage composes every frame itself:
    # unturned, cage hands Chromium's full-screen buffer straight to the output (direct
    # scan-out), which wlroots' headless output cannot give back to grim (a stale frame).
    appliance.install("--port", str(port), "--font-size", "20", "--large-font-size", "24",
                      "--rotate", "2")
    user = pwd.getpwnam(appliance.user)
    home = Path(user.pw_dir)
    # Volunteer cards set up here: the hall screen must offer check-in, not a tablet's sign-in.
    secret = home / "card-secret"
    secret.write_text("c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg==\n")
    os.chmod(secret, 0o600)
    os.chown(secret, user.pw_uid, user.pw_gid)

    started = time.monotonic()
    session = start_hall_session(appliance, devtools_port)
    log = session.runtime / "session.log"

    def detail() -> str:
        said = log.read_text(errors="replace") if log.exists() else "(no log)"
        said = "\n".join(line for line in said.splitlines() if "dbus" not in line.lower())
        try:
            page = session.devtools.screen()
            page_text = page.text() if page else "(no terminal on the page yet)"
        except OSError as error:
            page_text = f"(DevTools: {error})"
        return (f"session log:\n{said[-3000:]}\npage:\n{page_text}\nprocesses: "
                + "\n".join(" ".join(words)[:150]
                            for words in processes_of(appliance.user).values()))

    def home_screen() -> Screen | None:
        if session.process.poll() is not None:
            raise AssertionError(f"the session ended ({session.process.returncode}):\n"
                                 + detail())
        screen = session.devtools.screen()
        return screen if screen is not None and HOME_WORDS in screen.text() else None

    try:
        screen = wait_for(home_screen, 120, "the home screen", detail)
        first_pids = kiosk_apps(appliance.user)
        assert len(first_pids) == 1, processes_of(appliance.user)
        shot = session.screenshot(tmp_path / "home.png")
        seconds_to_home = time.monotonic() - started
        assert shot.shape[:2] == (720, 1280)  # the headless output, whole

        # Chinese, at the configured size: the page's font is 20 px, and the title's
        # characters on the captured screen are as tall as a 20 px CJK font draws them
        # (bold; at the default 16 px they are 16 px tall).
        assert screen.font == 20
        assert "志愿者签到" in screen.text() and "志愿者登录" not in screen.text()
        ink = ink_rows(shot, screen.box(TITLE))
        assert 0.85 * 20 <= len(ink) <= 1.1 * 20, (len(ink), screen.box(TITLE))
        assert ink == list(range(ink[0], ink[-1] + 1))  # one line of text, not two

        # A tap on the questionnaire's button opens it.
        row, _column = screen.find(TITLE)
        x = screen.origin[0] + len(screen.rows[row]) / 2 * screen.cell[0]
        y = screen.origin[1] + (row + 0.5) * screen.cell[1]
        time.sleep(0.6)  # the home screen ignores taps for 0.5 s after it appears
        session.devtools.tap(x, y)
        opened = wait_for(lambda: (screen := session.devtools.screen()) is not None
                          and "下一题" in screen.text() and HOME_WORDS not in screen.text()
                          and screen, 30, "the questionnaire", detail)
        assert TITLE in opened.text()
        form_shot = session.screenshot(tmp_path / "questionnaire.png")
        changed = (numpy.abs(form_shot.astype(int) - shot.astype(int)).sum(axis=2) > 60).mean()
        assert changed > 0.05, changed

        # The kiosk app dies: the page starts over with a new one, on the home screen.
        killed_at = time.monotonic()
        os.kill(first_pids[0], 9)
        wait_for(lambda: kiosk_apps(appliance.user) and
                 kiosk_apps(appliance.user) != first_pids, 60, "a new kiosk app", detail)
        wait_for(home_screen, 60, "home after the app was killed", detail)
        app_back = time.monotonic() - killed_at
        back_shot = session.screenshot(tmp_path / "home-again.png")
        changed = (numpy.abs(back_shot.astype(int) - shot.astype(int)).sum(axis=2) > 60).mean()
        assert changed < 0.02, changed  # the same home (the clock may have moved a minute)

        # The browser dies: the session starts it again, on the home screen.
        [browser] = browsers(appliance.user)
        killed_at = time.monotonic()
        os.kill(browser, 9)
        wait_for(lambda: browsers(appliance.user) and browsers(appliance.user) != [browser],
                 60, "a new browser", detail)
        wait_for(home_screen, 90, "home after the browser was killed", detail)
        browser_back = time.monotonic() - killed_at
        session.screenshot(tmp_path / "home-after-browser.png")

        # 大字: the font itself grows to the configured large size (24 px).
        screen = wait_for(home_screen, 30, "home", detail)
        row, column = screen.find("大字：关")
        time.sleep(0.6)
        session.devtools.tap(screen.origin[0] + (column + 4) * screen.cell[0],
                             screen.origin[1] + (row + 0.5) * screen.cell[1])
        large = wait_for(lambda: (screen := home_screen()) is not None and screen.font == 24
                         and "大字：开" in screen.text() and screen, 30, "large text", detail)
        large_shot = session.screenshot(tmp_path / "home-large.png")
        large_ink = ink_rows(large_shot, large.box(TITLE))
        assert 0.85 * 24 <= len(large_ink) <= 1.1 * 24, len(large_ink)
        assert 1.1 <= len(large_ink) / len(ink) <= 1.35, (len(ink), len(large_ink))
        memory = memory_mb(appliance.user)
        print(f"\nhall screen: home {seconds_to_home:.1f} s after start; title "
              f"{len(ink)} px tall at 20 px, {len(large_ink)} px with 大字 at 24 px; back "
              f"{app_back:.1f} s after the app was killed, {browser_back:.1f} s after the "
              f"browser was; memory (PSS, MB): "
              + ", ".join(f"{name} {size:.0f}" for name, size in sorted(memory.items()))
              + f"; screenshots in {tmp_path}")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(session.process.pid, 15)
        with contextlib.suppress(subprocess.TimeoutExpired):
            session.process.wait(20)
        subprocess.run(["pkill", "-KILL", "-u", appliance.user], check=False)
        wait_for(lambda: not processes_of(appliance.user), 30, "the session to end")
        remove_x11_leftovers(user.pw_uid)
        shutil.rmtree(session.runtime, ignore_errors=True)
    appliance.remove()
    assert account(appliance.user) is None


def test_the_session_says_what_it_cannot_start_and_stops_cleanly(tmp_path: Path):
    """No Chromium at the path given: the session says so (again, later) instead of falling
    over, keeps the server running, and stops it on SIGTERM."""
    import signal as signals
    import socket
    import time

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "kiosk", "--db", str(tmp_path / "kiosk.db"), "--config",
         str(tmp_path / "config.toml"), "appliance", "session", "--port", str(port),
         "--browser", str(tmp_path / "no-chromium"), "--profile", str(tmp_path / "profile")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def answers() -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return True
        return False

    try:
        wait_for(answers, 60, "the session's server")
        time.sleep(2)  # the browser is tried, and tried again after its pause
    finally:
        process.send_signal(signals.SIGTERM)
        _out, said = process.communicate(timeout=30)
    assert process.returncode == 0, said
    assert said.count("无法启动 chromium") >= 2, said
    assert "no-chromium" in said and "Traceback" not in said
    assert "session: stopped" in said
    assert not answers()  # the server went with it

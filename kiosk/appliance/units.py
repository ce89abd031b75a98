"""What ``kiosk appliance install`` writes, as text: the systemd unit of the kiosk session,
its PAM service and Chromium's policy. Pure functions of ``ApplianceSettings``, so a test
can read them and ``systemd-analyze verify`` can check them without a running systemd.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

USER = "shegong-kiosk"
SERVICE = "shegong-kiosk.service"
PAM_SERVICE = "shegong-kiosk"
HOME = Path("/var/lib/shegong-kiosk")
PORT = 8470
# Pixel sizes of the hall screen's font, normal and 大字. On a 1920×1080 hall screen 24 px
# gives about 133×38 cells and 30 px about 106×30, where the large layout still shows every
# questionnaire on home and every choice of a question (see kiosk/serve.py's tablet sizes).
FONT_SIZE, LARGE_FONT_SIZE = 24, 30
FONT_LIMITS = (12, 48)  # kiosk/serve.py takes 8–48 (normal) and 8–64 (large)
CAGE = Path("/usr/bin/cage")
CHROMIUM = Path("/usr/bin/chromium")
XWAYLAND = Path("/usr/bin/Xwayland")
# The Debian packages the session needs: cage refuses to start without Xwayland on Debian 12;
# the CJK font is the one kiosk/serve.py hands the page.
PACKAGES = {"cage": CAGE, "chromium": CHROMIUM, "xwayland": XWAYLAND,
            "fonts-wqy-zenhei": Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")}
NAME_PATTERN = re.compile(r"[a-z_][a-z0-9_-]{0,30}")


@dataclass(frozen=True)
class ApplianceSettings:
    """Everything install decides. ``root`` is where files go ("/" on a kiosk; a folder in
    tests); ``home`` is the user's real home (the database, the config, Chromium's
    throwaway profile) and lies under ``root`` when ``root`` is not "/"."""

    root: Path = Path("/")
    user: str = USER
    python: Path = Path("/usr/bin/python3")
    port: int = PORT
    font_size: int = FONT_SIZE
    large_font_size: int = LARGE_FONT_SIZE
    rotate: int = 0  # quarter turns clockwise, for a screen mounted on its side
    tty: int = 1
    replace_desktop: bool = False

    @property
    def home(self) -> Path:
        return self.under_root(HOME)

    def under_root(self, path: Path) -> Path:
        """``path`` (absolute, as on the kiosk) inside ``root``."""
        return self.root / path.relative_to("/")

    @property
    def database(self) -> Path:
        return self.home / "kiosk.db"

    @property
    def config(self) -> Path:
        return self.home / "config.toml"


def problems(settings: ApplianceSettings) -> list[str]:
    """What is wrong with the settings, in words for staff (empty: nothing)."""
    found = []
    if not NAME_PATTERN.fullmatch(settings.user):
        found.append(f"用户名 {settings.user!r} 不可用：只用小写字母、数字、- 和 _，"
                     "以字母开头 / the user name may hold only a-z, 0-9, - and _")
    for name, size in (("--font-size", settings.font_size),
                       ("--large-font-size", settings.large_font_size)):
        if not FONT_LIMITS[0] <= size <= FONT_LIMITS[1]:
            found.append(f"{name} {size}：字号应在 {FONT_LIMITS[0]}–{FONT_LIMITS[1]} 像素之间 "
                         f"/ must be {FONT_LIMITS[0]}–{FONT_LIMITS[1]} pixels")
    if settings.large_font_size < settings.font_size:
        found.append("--large-font-size 不能小于 --font-size / 大字 must not be smaller")
    if not 1024 <= settings.port <= 65535:
        found.append(f"--port {settings.port}：端口应在 1024–65535 之间 / must be 1024–65535")
    if settings.rotate not in (0, 1, 2, 3):
        found.append(f"--rotate {settings.rotate}：只能是 0、1、2、3（顺时针转几个 90 度）")
    if not 1 <= settings.tty <= 12:
        found.append(f"--tty {settings.tty}：只能是 1–12")
    if not settings.python.is_absolute():
        found.append(f"--python {settings.python}：需要完整路径 / must be an absolute path")
    return found


def session_command(settings: ApplianceSettings) -> list[str]:
    """What the unit runs: cage (no desktop, no VT switching: no -s) with the session."""
    cage = [str(CAGE), "-d"] + ["-r"] * settings.rotate
    return [*cage, "--", str(settings.python), "-m", "kiosk", "appliance", "session",
            "--port", str(settings.port), "--font-size", str(settings.font_size),
            "--large-font-size", str(settings.large_font_size)]


def _quote(word: str) -> str:
    """One word of a unit's command line: systemd takes shell-like quotes, and a literal %
    is written %%."""
    return shlex.quote(word).replace("%", "%%")


def unit_text(settings: ApplianceSettings) -> str:
    """The systemd service that is the hall screen: cage on tty``N`` with the kiosk user's
    own login session (PAM + logind give it the screen and the touch screen)."""
    tty = f"tty{settings.tty}"
    environment = {"KIOSK_DB": str(settings.database), "KIOSK_CONFIG": str(settings.config),
                   "XDG_SESSION_TYPE": "wayland", "LANG": "C.UTF-8"}
    env_lines = "\n".join(f"Environment={_quote(f'{key}={value}')}"
                          for key, value in environment.items())
    command = " ".join(_quote(word) for word in session_command(settings))
    return f"""\
# Written by `kiosk appliance install`; `kiosk appliance remove` deletes it.
# The hall screen: cage (one full-screen app, no desktop, no VT switching) runs the kiosk
# session (kiosk serve on 127.0.0.1 and Chromium in kiosk mode) as {settings.user}.
[Unit]
Description=社工站问卷终端 hall screen (cage + Chromium kiosk) on {tty}
After=systemd-user-sessions.service plymouth-quit-wait.service getty@{tty}.service
After=systemd-logind.service
Wants=systemd-logind.service
Conflicts=getty@{tty}.service
ConditionPathExists=/dev/{tty}
# Never give up restarting: a hall screen that stays dark helps nobody.
StartLimitIntervalSec=0

[Service]
Type=simple
User={settings.user}
PAMName={PAM_SERVICE}
WorkingDirectory={_quote(str(settings.home))}
{env_lines}
ExecStart={command}
Restart=always
RestartSec=2
TTYPath=/dev/{tty}
TTYReset=yes
TTYVHangup=yes
TTYVTDisallocate=yes
StandardInput=tty-fail
StandardOutput=journal
StandardError=journal
UtmpIdentifier={tty}
UtmpMode=user

[Install]
WantedBy=multi-user.target
"""


def pam_text() -> str:
    """The session's PAM service: no password (systemd starts it), and pam_systemd registers
    it with logind on the seat, which hands it the screen and the input devices."""
    return """\
# Written by `kiosk appliance install`; `kiosk appliance remove` deletes it.
# The kiosk hall screen's login session (started by shegong-kiosk.service, not by a person).
auth     required pam_unix.so nullok
account  required pam_unix.so
session  required pam_unix.so
session  required pam_systemd.so
"""


def chromium_policy(settings: ApplianceSettings) -> dict[str, object]:
    """Chromium's managed policy on the appliance: only the kiosk's own page, no developer
    tools, downloads, printing dialogs, translation bar or sign-in. It applies to every
    Chromium on the machine, which is the hall screen's alone."""
    origin = f"127.0.0.1:{settings.port}"
    return {
        "URLBlocklist": ["*"],
        "URLAllowlist": [f"http://{origin}", f"ws://{origin}"],
        "DeveloperToolsAvailability": 2,
        "DownloadRestrictions": 3,
        "PrintingEnabled": False,
        "AllowFileSelectionDialogs": False,
        "TranslateEnabled": False,
        "PasswordManagerEnabled": False,
        "AutofillAddressEnabled": False,
        "AutofillCreditCardEnabled": False,
        "BrowserSignin": 0,
        "SyncDisabled": True,
        "BookmarkBarEnabled": False,
        "SpellcheckEnabled": False,
        "DefaultNotificationsSetting": 2,
        "DefaultGeolocationSetting": 2,
        "MetricsReportingEnabled": False,
        "TaskManagerEndProcessEnabled": False,
    }


def policy_text(settings: ApplianceSettings) -> str:
    return json.dumps(chromium_policy(settings), indent=2) + "\n"

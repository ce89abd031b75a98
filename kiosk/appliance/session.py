"""The hall screen's session (``kiosk appliance session``), what cage runs full screen.

Two children, each started again whenever it stops:

- ``kiosk serve`` bound to 127.0.0.1 (nothing off this machine can reach it), with
  ``KIOSK_HALL_SCREEN=1`` so that the app it starts for the page knows it is the hall's own
  screen, not a tablet (check-in at the hall, this machine's camera and speaker);
- Chromium in kiosk mode on the server's page, with the configured font sizes and
  ``reconnect=1``: when the app behind the page stops (or the server restarts) the page
  waits until the server answers and starts a new app, so the home screen comes back by
  itself. Its profile is made afresh at every start: nothing of an earlier resident stays.

The browser starts only once the server answers. A child that dies soon after its start is
started again after a growing pause (0.5 s, 1 s, 2 s … at most 10 s), so a broken set-up
does not spin. cage exits when this process does, and systemd starts the whole session again
(the unit's Restart=always); this process ends too when cage is gone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from kiosk.appliance.units import CHROMIUM, FONT_SIZE, LARGE_FONT_SIZE, PORT

HALL_SCREEN = "KIOSK_HALL_SCREEN"  # set to "1" for the apps of the hall screen's server
QUICK_DEATH = 10.0  # a child that stopped within this many seconds of its start failed
LONGEST_PAUSE = 10.0


@dataclass(frozen=True)
class SessionSettings:
    """What the session runs: the database and config (as ``kiosk --db/--config``), the
    server's port, the page's font sizes and Chromium's throwaway profile folder.
    ``devtools_port`` opens Chromium's remote debugging on 127.0.0.1 — for tests only (the
    appliance's Chromium policy forbids developer tools)."""

    db_path: Path
    config_path: Path
    profile: Path
    kiosk_id: str | None = None
    port: int = PORT
    font_size: int = FONT_SIZE
    large_font_size: int = LARGE_FONT_SIZE
    browser: Path = CHROMIUM
    devtools_port: int | None = None


def page_url(settings: SessionSettings) -> str:
    query = urlencode({"fontsize": settings.font_size,
                       "largefontsize": settings.large_font_size, "reconnect": 1})
    return f"http://127.0.0.1:{settings.port}/?{query}"


def server_command(settings: SessionSettings) -> list[str]:
    command = [sys.executable, "-m", "kiosk", "--db", str(settings.db_path),
               "--config", str(settings.config_path)]
    if settings.kiosk_id:
        command += ["--kiosk-id", settings.kiosk_id]
    return [*command, "serve", "--host", "127.0.0.1", "--port", str(settings.port)]


def browser_command(settings: SessionSettings) -> list[str]:
    """Chromium full screen on the page: no URL bar, tabs, first-run or crash bubbles,
    translation bar, swipe-back or pinch zoom; native Wayland (touch as taps)."""
    command = [
        str(settings.browser), "--ozone-platform=wayland", "--kiosk",
        f"--user-data-dir={settings.profile}", "--no-first-run",
        "--no-default-browser-check", "--noerrdialogs", "--disable-infobars",
        "--disable-session-crashed-bubble", "--disable-pinch",
        "--overscroll-history-navigation=0", "--password-store=basic", "--lang=zh-CN",
        "--disable-features=Translate,TranslateUI,MediaRouter,OptimizationHints",
        # A station often has no internet: no update checks or background fetches.
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ]
    if settings.devtools_port:
        command += [f"--remote-debugging-port={settings.devtools_port}",
                    "--remote-debugging-address=127.0.0.1"]
    return [*command, page_url(settings)]


def server_answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port),
                                                                timeout=0.5):
        return True
    return False


class Child:
    """One supervised program, in its own process group (its helpers go with it)."""

    def __init__(self, name: str, command: Callable[[], list[str]],
                 env: dict[str, str] | None = None,
                 before_start: Callable[[], None] | None = None) -> None:
        self.name = name
        self.command = command
        self.env = env
        self.before_start = before_start
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.quick_deaths = 0
        self.next_start = 0.0  # monotonic time before which it is not started again

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, say: Callable[[str], None]) -> None:
        try:
            if self.before_start is not None:
                self.before_start()
            self.process = subprocess.Popen(self.command(), env=self.env,
                                            start_new_session=True, stdin=subprocess.DEVNULL)
        except OSError as error:  # not installed, not executable: say so, try again later
            self.quick_deaths += 1
            pause = min(0.5 * 2 ** (self.quick_deaths - 1), LONGEST_PAUSE)
            self.next_start = time.monotonic() + pause
            say(f"session: 无法启动 {self.name}，{pause:g} 秒后再试 / cannot start "
                f"{self.name}: {error}")
            return
        self.started_at = time.monotonic()
        say(f"session: started {self.name} (pid {self.process.pid})")

    def note_stop(self, say: Callable[[str], None]) -> None:
        """It stopped: when may it start again?"""
        assert self.process is not None
        code = self.process.returncode
        lived = time.monotonic() - self.started_at
        self.quick_deaths = self.quick_deaths + 1 if lived < QUICK_DEATH else 0
        pause = min(0.5 * 2 ** max(self.quick_deaths - 1, 0), LONGEST_PAUSE)
        self.next_start = time.monotonic() + pause
        self.stop()  # whatever of its group is left
        self.process = None
        say(f"session: {self.name} stopped (exit status {code}); "
            f"starting it again in {pause:g} s")

    def stop(self, timeout: float = 5.0) -> None:
        if self.process is None:
            return
        for sent in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, sent)
            try:
                self.process.wait(timeout)
                if sent == signal.SIGTERM:
                    # The leader is gone; its helpers may linger a moment.
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(self.process.pid, signal.SIGKILL)
                return
            except subprocess.TimeoutExpired:
                continue


def fresh_profile(folder: Path) -> None:
    """Chromium's profile, empty: nothing of an earlier resident (cache, form data) stays."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, mode=0o700)


def run_session(settings: SessionSettings, *, stop: threading.Event | None = None,
                say: Callable[[str], None] | None = None) -> int:
    """Keep the server and the browser running until SIGTERM, SIGINT or SIGHUP (or
    ``stop``); returns the exit status (0)."""
    stop = stop or threading.Event()
    say = say or (lambda line: print(line, file=sys.stderr, flush=True))
    if threading.current_thread() is threading.main_thread():
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(number, lambda *_: stop.set())
    server = Child("kiosk serve", lambda: server_command(settings),
                   env={**os.environ, HALL_SCREEN: "1"})
    # Chromium's own words in Chinese: a page in Chinese is then not offered a translation.
    browser = Child("chromium", lambda: browser_command(settings),
                    env={**os.environ, "LANGUAGE": "zh_CN:zh"},
                    before_start=lambda: fresh_profile(settings.profile))
    parent = os.getppid()
    try:
        while not stop.is_set():
            if os.getppid() != parent:
                say("session: cage is gone; stopping")  # nothing left to draw on
                break
            now = time.monotonic()
            for child in (server, browser):
                if child.process is not None and not child.running:
                    child.note_stop(say)
            if server.process is None and now >= server.next_start:
                server.start(say)
            if (browser.process is None and now >= browser.next_start and server.running
                    and server_answers(settings.port)):
                browser.start(say)
            stop.wait(0.25)
    finally:
        browser.stop()
        server.stop()
        say("session: stopped")
    return 0

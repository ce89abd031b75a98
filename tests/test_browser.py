"""`kiosk serve` for tablets, driven for real: headless Chromium through Playwright.

The server is the real `kiosk serve` in a subprocess; each browser connection runs the real
`kiosk run` on the test's database. The screen is xterm.js on a canvas, so the tests act with
number keys, typing and taps at the cells of the buttons, and read what happened from the
database (and keep screenshots for a person to look at).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from kiosk.config import KioskConfig, load_config, save_config
from kiosk.serve import ensure_token, font_from_collection, is_loopback
from store import KioskStore, open_store

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-extensions", "--disable-default-apps"]
VIEWPORT = {"width": 1100, "height": 800}
TAP_GUARD = 0.6  # the app ignores taps for 0.5 s after a screen changes (double taps)

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(),
                                    reason="Debian's chromium is not installed (./scripts/test)")


# ---- the server ---------------------------------------------------------------------------


@dataclass
class Served:
    process: subprocess.Popen[str]
    port: int
    db_path: Path
    config_path: Path
    output: list[str] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def text(self) -> str:
        return "".join(self.output)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition: Callable[[], Any], seconds: float, what: str,
               detail: Callable[[], str] = lambda: "") -> Any:
    """Poll ``condition`` until it returns something true; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what} after {seconds} s\n{detail()}")
        time.sleep(0.05)


@contextmanager
def kiosk_serve(tmp_path: Path, host: str = "127.0.0.1") -> Iterator[Served]:
    """`kiosk serve` on a free port with a new database and config; stopped afterwards."""
    db_path, config_path = tmp_path / "kiosk.db", tmp_path / "config.toml"
    open_store(db_path).close()  # the bundled questionnaires
    if not config_path.exists():
        save_config(KioskConfig(station_name="测试社工站", kiosk_id="tablet-test"), config_path)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "kiosk", "--db", str(db_path), "--config", str(config_path),
         "serve", "--host", host, "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8",
        start_new_session=True,  # its own process group: the tablets' apps go with it
        env={**os.environ, "COLUMNS": "200"})
    served = Served(process, port, db_path, config_path)

    def read_output() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            served.output.append(line)

    threading.Thread(target=read_output, daemon=True).start()

    def answers() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"kiosk serve exited ({process.returncode}):\n{served.text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    try:
        wait_until(answers, 30, "kiosk serve to answer", served.text)
        yield served
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen[str]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
    # Whatever of the group is left (an app that ignored the stop): gone too.
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def app_processes(db_path: Path) -> list[int]:
    """Process ids of the `kiosk run` apps (Python itself, not the shell) on this database."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            words = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        words = [word for word in words if word]
        if (len(words) > 2 and words[-1] == "run" and str(db_path) in words
                and "kiosk" in words and not words[0].endswith("sh")):
            found.append(int(entry.name))
    return found


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", errors="replace")


def handshake(served: Served, path: str, origin: str | None = None) -> int:
    """The HTTP status a browser's websocket handshake on ``path`` gets (101: accepted)."""
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    headers = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode()}
    if origin:
        headers["Origin"] = origin
    try:
        connection.request("GET", path, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


# ---- the browser --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (./scripts/test installs it)")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


class Tablet:
    """One browser page on the kiosk: what a resident's fingers do, and what the page asked
    of the network."""

    def __init__(self, browser: Any, served: Served, url: str | None = None,
                 viewport: dict[str, int] | None = None) -> None:
        self.served = served
        self.context = browser.new_context(viewport=viewport or VIEWPORT, locale="zh-CN")
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.sent: list[str] = []
        self.last_frame = time.monotonic()
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("websocket", self._watch)
        self.page.goto(url or served.origin + "/")
        # textual-serve marks the body once the app's first screen arrives.
        self.page.wait_for_selector("body.-first-byte, body.-closed", state="attached",
                                    timeout=30_000)
        if "-closed" in (self.page.get_attribute("body", "class") or ""):
            raise AssertionError(f"the app did not start:\n{served.text()}")
        self.settle()
        box = self.page.locator(".xterm-screen").bounding_box()
        size = wait_until(self._size, 10, "the terminal size")
        self.columns, self.rows = size["width"], size["height"]
        self.cell_width = box["width"] / self.columns
        self.cell_height = box["height"] / self.rows
        self.origin_x, self.origin_y = box["x"], box["y"]
        self.page.locator(".xterm-helper-textarea").focus()  # keys go to the terminal

    def _watch(self, websocket: Any) -> None:
        self.requests.append(websocket.url)
        websocket.on("framesent", lambda payload: self.sent.append(str(payload)))
        websocket.on("framereceived", lambda payload: setattr(self, "last_frame",
                                                              time.monotonic()))

    def _size(self) -> dict[str, int] | None:
        sizes = [json.loads(frame)[1] for frame in self.sent if frame.startswith('["resize"')]
        return sizes[-1] if sizes else None

    def settle(self, quiet: float = 0.3, seconds: float = 5) -> None:
        """Wait until the app has stopped drawing for ``quiet`` seconds."""
        wait_until(lambda: time.monotonic() - self.last_frame > quiet, seconds,
                   "the screen to settle")

    def tap_cell(self, column: float, row: float) -> None:
        self.page.mouse.click(self.origin_x + (column + 0.5) * self.cell_width,
                              self.origin_y + (row + 0.5) * self.cell_height)

    def tap_next(self) -> None:
        """Tap 下一题 / 完成: the right-hand of the two buttons docked at the bottom."""
        self.tap_cell(self.columns / 2 + min(20, self.columns / 6), self.rows - 3)

    def press(self, *keys: str) -> None:
        for key in keys:
            self.page.keyboard.press(key)

    def type(self, text: str) -> None:
        self.page.keyboard.type(text)

    def screenshot(self, path: Path) -> Path:
        self.settle()
        self.page.screenshot(path=str(path))
        assert path.stat().st_size > 5_000, f"{path} looks empty"
        return path

    def close(self) -> None:
        self.context.close()


# ---- what the database shows ---------------------------------------------------------------


class Watcher:
    """Reads the kiosk's database while the served app writes it."""

    def __init__(self, db_path: Path, tablet: Tablet | None = None) -> None:
        self.store = KioskStore(db_path)
        self.tablet = tablet

    def draft(self) -> dict[str, Any] | None:
        drafts = self.store.open_drafts()
        return drafts[0] if drafts else None

    def screen(self) -> str | None:
        draft = self.draft()
        return draft["screen"] if draft else None

    def answers(self) -> dict[str, Any]:
        draft = self.draft()
        return draft["answers"] if draft else {}

    def _detail(self) -> str:
        return f"draft: {self.draft()}"

    def wait_answer(self, name: str, value: str) -> None:
        wait_until(lambda: self.answers().get(name) == value, 10, f"{name} = {value!r}",
                   self._detail)

    def wait_screen(self, name: str, seconds: float = 10) -> None:
        wait_until(lambda: self.screen() == name, seconds, f"the screen {name!r}", self._detail)

    def open_satisfaction(self) -> None:
        """On the home screen, number key 1 opens the first questionnaire (satisfaction);
        下一题 leads past its introduction, and the draft appears."""
        assert self.tablet is not None
        for _attempt in range(3):
            time.sleep(TAP_GUARD)  # the home screen ignores keys just after it appears
            self.tablet.press("1")
            self.tablet.settle()
            time.sleep(TAP_GUARD)
            self.tablet.tap_next()
            try:
                wait_until(self.draft, 3, "a draft")
                break
            except AssertionError:
                continue
        self.wait_screen("respondent_group")

    def next_to(self, name: str, key: str | None = None) -> None:
        """Tap 下一题 (or press ``key``) and wait for the draft to be on screen ``name``.

        The tap waits out the app's double-tap guard; if it was still swallowed (a slow
        machine), it is repeated once the screen has clearly not moved.
        """
        assert self.tablet is not None
        before = self.screen()
        for _attempt in range(3):
            time.sleep(TAP_GUARD)
            if key:
                self.tablet.press(key)
            else:
                self.tablet.tap_next()
            try:
                wait_until(lambda: self.screen() != before, 3, f"a move from {before!r}")
                break
            except AssertionError:
                continue
        self.wait_screen(name)

    def close(self) -> None:
        self.store.close()


# ---- tests --------------------------------------------------------------------------------


def test_ensure_token_only_off_loopback_and_kept_in_the_config(tmp_path: Path):
    config_path = tmp_path / "config.toml"
    save_config(KioskConfig(kiosk_id="hall-1"), config_path)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.20")
    assert ensure_token(config_path, "127.0.0.1") is None
    assert load_config(config_path).serve_token == ""
    token = ensure_token(config_path, "0.0.0.0")
    assert token and len(token) >= 30
    assert load_config(config_path).serve_token == token
    assert ensure_token(config_path, "192.168.1.20") == token  # the same URL after a restart
    assert load_config(config_path).kiosk_id == "hall-1"


def test_a_page_that_points_another_name_at_the_kiosk_is_refused(tmp_path: Path):
    """DNS rebinding: a page of evil.example whose name now resolves to 127.0.0.1 reaches the
    loopback server with its own name in Host; the server answers only its own names."""
    with kiosk_serve(tmp_path) as served:
        origin = f"http://127.0.0.1:{served.port}"
        for host in (f"evil.example:{served.port}", f"127.0.0.2:{served.port}",
                     f"127.0.0.1.evil.example:{served.port}"):
            status, page = fetch(f"{origin}/", {"Host": host})
            assert status == 403 and "这台终端不提供这个地址的服务" in page, host
        connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
        try:
            connection.request("GET", "/ws", headers={
                "Host": "evil.example", "Connection": "Upgrade", "Upgrade": "websocket",
                "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode()})
            assert connection.getresponse().status == 403
        finally:
            connection.close()
        for host in (f"127.0.0.1:{served.port}", f"localhost:{served.port}"):
            assert fetch(f"{origin}/", {"Host": host})[0] == 200, host
        assert "Host 'evil.example" in served.text()  # the refusal is in the log


def test_cjk_collection_repacked_as_one_font():
    collection = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
    if not collection.exists():
        pytest.skip("fonts-wqy-zenhei is not installed")
    font = font_from_collection(collection.read_bytes())
    assert font[:4] == b"\0\1\0\0"
    tables = int.from_bytes(font[4:6], "big")
    offsets = [int.from_bytes(font[12 + 16 * n + 8:12 + 16 * n + 12], "big")
               for n in range(tables)]
    assert all(offset % 4 == 0 for offset in offsets)
    with pytest.raises(ValueError):
        font_from_collection(b"OTTO" + bytes(20))


@needs_chromium
def test_satisfaction_on_a_tablet_is_stored_with_only_local_requests(tmp_path: Path,
                                                                     browser: Any):
    with kiosk_serve(tmp_path) as served:
        assert f"http://127.0.0.1:{served.port}/" in served.text()
        tablet = Tablet(browser, served)
        watcher = Watcher(served.db_path, tablet)
        try:
            tablet.screenshot(tmp_path / "home.png")
            assert len(app_processes(served.db_path)) == 1

            # Fonts: Roboto Mono and the CJK and symbol faces come from here, and the
            # server's own CJK font (repacked from the .ttc) is one Chromium accepts.
            faces = tablet.page.evaluate(
                "() => [...document.fonts].map(face => [face.unicodeRange, face.status])")
            assert faces and all(status != "error" for _, status in faces), faces
            assert tablet.page.evaluate(
                "() => document.fonts.check('16px \"Roboto Mono\"', '社区服务满意度调查')")
            if "/assets/cjk.ttf" in tablet.page.content():
                status = tablet.page.evaluate(
                    """async () => { const face = new FontFace("served", "url(/assets/cjk.ttf)");
                        try { await face.load(); } catch (error) { return String(error); }
                        return face.status; }""")
                assert status == "loaded"

            watcher.open_satisfaction()
            tablet.press("1")
            watcher.wait_answer("respondent_group", "elderly")
            watcher.next_to("age_band")
            tablet.press("5")
            watcher.wait_answer("age_band", "70_79")
            watcher.next_to("community")
            tablet.press("1")
            watcher.wait_answer("community", "liangfeng")
            watcher.next_to("estate")
            tablet.press("2")
            watcher.wait_answer("estate", "kangle_xincun")
            watcher.next_to("overall")
            tablet.press("4")  # 不满意 brings the follow-up question
            watcher.wait_answer("overall", "2")
            watcher.next_to("unsatisfied_reason")
            tablet.settle()
            tablet.type("楼道灯常坏")  # Chinese typed into the box; Enter keeps it, moves on
            watcher.next_to("services_used", key="Enter")
            tablet.press("1")
            watcher.wait_answer("services_used", "elderly")
            watcher.next_to("sat_elderly")
            tablet.press("1")
            watcher.wait_answer("sat_elderly", "5")
            watcher.next_to("sat_environment")
            tablet.press("2")
            watcher.wait_answer("sat_environment", "4")
            watcher.next_to("improvements")
            tablet.press("1")
            watcher.wait_answer("improvements", "parking")
            tablet.press("2")  # (two keys at once lose the first: see the report)
            watcher.wait_answer("improvements", "parking ebike_charging")
            watcher.next_to("suggestion")
            tablet.settle()
            tablet.type("希望多办活动")
            watcher.next_to("thanks", key="Enter")

            # 完成 on the last screen stores the questionnaire.
            time.sleep(TAP_GUARD)
            tablet.tap_next()
            wait_until(lambda: watcher.store.submission_count("satisfaction") == 1, 15,
                       "the submission", watcher._detail)
            tablet.screenshot(tmp_path / "thanks.png")
        finally:
            tablet.close()
            watcher.close()

        store = KioskStore(served.db_path)
        try:
            [record] = list(store.iter_submissions("satisfaction"))
            assert store.open_drafts() == []
        finally:
            store.close()
        answers = record["answers"]
        assert record["kiosk"] == "tablet-test"
        assert answers["respondent_group"] == "elderly" and answers["age_band"] == "70_79"
        assert answers["community"] == "liangfeng" and answers["estate"] == "kangle_xincun"
        assert answers["overall"] == "2" and answers["unsatisfied_reason"] == "楼道灯常坏"
        assert answers["services_used"] == ["elderly"] and answers["sat_elderly"] == "5"
        assert answers["sat_environment"] == "4"
        assert answers["improvements"] == ["parking", "ebike_charging"]
        assert answers["suggestion"] == "希望多办活动"

        # Nothing was asked of any other host: no font CDN, no scripts from elsewhere.
        hosts = {urlsplit(url).netloc for url in tablet.requests
                 if urlsplit(url).scheme not in ("data", "blob")}
        assert hosts == {f"127.0.0.1:{served.port}"}, tablet.requests
        assert any("/assets/roboto-mono.ttf" in url for url in tablet.requests)


@needs_chromium
def test_a_tablet_that_drops_off_keeps_its_answers_as_a_draft(tmp_path: Path, browser: Any):
    with kiosk_serve(tmp_path) as served:
        first = Tablet(browser, served)
        watcher = Watcher(served.db_path, first)
        second: Tablet | None = None
        try:
            watcher.open_satisfaction()
            first.press("2")
            watcher.wait_answer("respondent_group", "youth")
            watcher.next_to("age_band")
            first.press("2")
            watcher.wait_answer("age_band", "18_35")

            # A second tablet gets a kiosk process of its own.
            second = Tablet(browser, served)
            wait_until(lambda: len(app_processes(served.db_path)) == 2, 10,
                       "two app processes")
            first.screenshot(tmp_path / "before-drop.png")
            first.close()  # the tablet sleeps: its connection is gone
            wait_until(lambda: len(app_processes(served.db_path)) == 1, 15,
                       "the first tablet's app to stop")
            draft = watcher.draft()
            assert draft is not None and draft["survey"] == "satisfaction"
            assert draft["answers"]["respondent_group"] == "youth"
            assert draft["answers"]["age_band"] == "18_35"
            assert draft["screen"] == "age_band"
            assert watcher.store.submission_count() == 0
        finally:
            watcher.close()
            if second is not None:
                second.close()


@needs_chromium
def test_on_the_lan_a_token_is_required(tmp_path: Path, browser: Any):
    with kiosk_serve(tmp_path, host="0.0.0.0") as served:
        token = load_config(served.config_path).serve_token
        assert token, "a token was made and saved in [serve] token"
        wait_until(lambda: f"?token={token}" in served.text(), 10, "the URL with the token",
                   served.text)
        origin = served.origin

        for url in (f"{origin}/", f"{origin}/?token=wrong", f"{origin}/assets/textual.js",
                    f"{origin}/ws", f"{origin}/ws/wrong"):
            status, body = fetch(url)
            assert status == 403, url
            assert "拒绝访问" in body and "Forbidden" in body
        status, page = fetch(f"{origin}/?token={token}")
        assert status == 200 and f"/ws/{token}" in page
        assert "fonts.googleapis.com" not in page and "https://" not in page
        assert fetch(f"{origin}/assets/textual.js?token={token}")[0] == 200
        assert fetch(f"{origin}/assets/nothing.js?token={token}")[0] == 404

        # The websocket that would start an app: refused without the token, and from a
        # page of another site even with it.
        assert handshake(served, "/ws") == 403
        assert handshake(served, "/ws/wrong") == 403
        assert handshake(served, f"/ws/{token}", "http://evil.example") == 403
        assert handshake(served, f"/ws/{token}", origin) == 101

        # The URL printed at start opens the kiosk in the browser.
        tablet = Tablet(browser, served, f"{origin}/?token={token}")
        try:
            assert len(app_processes(served.db_path)) >= 1
        finally:
            tablet.close()


# ---- 大字 on a tablet: the font itself grows (issue 14, item 3) -------------------------------

TABLET = {"width": 1280, "height": 800}

# The terminal as the page's xterm.js holds it: font size, cells, cell size, and every line
# of text with the column of each character (wide CJK characters take two cells).
TERMINAL_STATE = """() => {
    const shared = (window.kioskTerminals || [])[0];
    if (!shared) return null;
    const terminal = shared.terminal, box = document.querySelector(".xterm-screen")
        .getBoundingClientRect(), buffer = terminal.buffer.active, lines = [];
    for (let y = 0; y < terminal.rows; y++) {
        const line = buffer.getLine(buffer.viewportY + y), cells = [];
        for (let x = 0; x < terminal.cols; x++) {
            const chars = line.getCell(x).getChars();
            if (chars) cells.push([x, chars]);
        }
        lines.push(cells);
    }
    return {fontSize: terminal.options.fontSize, cols: terminal.cols, rows: terminal.rows,
            cellWidth: box.width / terminal.cols, cellHeight: box.height / terminal.rows,
            textSize: document.body.dataset.textSize || "", lines: lines};
}"""


@dataclass
class TerminalState:
    font_size: int
    columns: int
    rows: int
    cell_width: float
    cell_height: float
    text_size: str
    lines: list[list[tuple[int, str]]]

    def text(self) -> str:
        return "\n".join("".join(chars for _, chars in line) for line in self.lines)

    def cell_of(self, words: str) -> tuple[int, int] | None:
        """(column, row) of the middle of ``words`` on screen, or None."""
        for row, line in enumerate(self.lines):
            joined = "".join(chars for _, chars in line)
            start = joined.find(words)
            if start >= 0:
                return line[start + len(words) // 2][0], row
        return None


def terminal_state(tablet: Tablet) -> TerminalState:
    state = tablet.page.evaluate(TERMINAL_STATE)
    assert state, "the page does not share its terminal (window.kioskTerminals)"
    return TerminalState(state["fontSize"], state["cols"], state["rows"], state["cellWidth"],
                         state["cellHeight"], state["textSize"],
                         [[(x, chars) for x, chars in line] for line in state["lines"]])


def tap_words(tablet: Tablet, words: str) -> None:
    """Tap the words on the screen as a finger would (at the cell they are drawn in)."""
    state = wait_until(lambda: terminal_state(tablet).cell_of(words) and terminal_state(tablet),
                       10, f"{words!r} on the screen")
    column, row = state.cell_of(words)
    box = tablet.page.locator(".xterm-screen").bounding_box()
    tablet.page.mouse.click(box["x"] + (column + 0.5) * state.cell_width,
                            box["y"] + (row + 0.5) * state.cell_height)


def choice_labels(db_path: Path, survey: str, name: str) -> list[str]:
    store = KioskStore(db_path)
    try:
        form = store.load_form(survey)
        item = form.by_name[name]
        return [form.text(choice.label, "zh") for choice in form.choices_for(item)]
    finally:
        store.close()


@needs_chromium
def test_large_text_on_a_tablet_makes_the_font_bigger_and_every_choice_stays_in_view(
        tmp_path: Path, browser: Any):
    with kiosk_serve(tmp_path) as served:
        tablet = Tablet(browser, served, viewport=TABLET)
        watcher = Watcher(served.db_path, tablet)
        try:
            normal = wait_until(lambda: (state := terminal_state(tablet)).text_size and state,
                                10, "the app to say which text size it shows")
            assert normal.text_size == "normal" and normal.font_size == 16
            tablet.screenshot(tmp_path / "tablet-normal.png")

            time.sleep(TAP_GUARD)
            tap_words(tablet, "大字")
            large = wait_until(
                lambda: (state := terminal_state(tablet)).text_size == "large"
                and state.columns < normal.columns and state, 10, "large text")
            # The font itself is bigger (measured, not only a picture): 20 px for 16, cells a
            # quarter larger or more, and the app was told its screen has fewer of them.
            assert large.font_size == 20
            assert large.cell_height >= 1.2 * normal.cell_height
            assert large.cell_width >= 1.2 * normal.cell_width
            assert large.rows < normal.rows
            wait_until(lambda: tablet._size() == {"width": large.columns,
                                                  "height": large.rows}, 10,
                       "the app to get the new size", lambda: str(tablet._size()))
            tablet.screenshot(tmp_path / "tablet-large.png")
            home = terminal_state(tablet).text()
            assert "大字：开" in home.replace(" ", "")
            # Every questionnaire and the staff button are on screen, none below the edge.
            for title in ("社区服务满意度调查", "需求登记", "婚俗改革问卷", "适老化改造需求评估",
                          "工作人员"):
                assert title in home, (title, home)

            # A questionnaire at the large size: all the choices of each screen are in view.
            watcher_open_first_form(tablet, watcher)
            for name in ("respondent_group", "age_band", "community"):
                watcher.wait_screen(name)
                labels = [label.replace(" ", "")
                          for label in choice_labels(served.db_path, "satisfaction", name)]

                def missing(labels: list[str] = labels) -> list[str]:
                    shown = terminal_state(tablet).text().replace(" ", "")
                    return [label for label in labels if label not in shown]

                wait_until(lambda missing=missing: not missing(), 10,
                           f"every choice of {name} in view", lambda m=missing: str(m()))
                tablet.press("1")
                wait_until(lambda name=name: name in watcher.answers(), 10, f"{name} answered")
                tablet.press("Tab")  # the focus on the next choice: to be seen in the picture
                tablet.screenshot(tmp_path / f"tablet-large-{name}.png")
                time.sleep(TAP_GUARD)
                tap_words(tablet, "下一题")
            watcher.wait_screen("estate")
            assert terminal_state(tablet).font_size == 20  # still large on every screen
        finally:
            tablet.close()
            watcher.close()


def watcher_open_first_form(tablet: Tablet, watcher: Watcher) -> None:
    """Number key 1 opens the satisfaction survey; 下一题 (found on screen, wherever the
    large layout put it) leads past its introduction."""
    for _attempt in range(3):
        time.sleep(TAP_GUARD)
        tablet.press("1")
        tablet.settle()
        time.sleep(TAP_GUARD)
        with suppress(AssertionError):
            tap_words(tablet, "下一题")
        try:
            wait_until(watcher.draft, 3, "a draft")
            return
        except AssertionError:
            continue
    raise AssertionError("the questionnaire did not open")

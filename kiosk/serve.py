"""The kiosk screens in a tablet's browser (``kiosk serve``), through textual-serve.

Each browser connection gets its own ``kiosk run`` process on the same database; the app
saves every answer as it is given, so a tablet that sleeps or loses its connection loses
nothing already answered (the draft stays in the database).

Everything the page needs is served from here: textual-serve's script and stylesheet, its
Roboto Mono font, and the machine's own CJK and symbol fonts (from /usr/share/fonts, read at
run time). textual-serve's own page template pulls Roboto Mono from Google Fonts, which many
stations cannot reach, so this module renders its own page.

大字 (large text) on a tablet makes the font itself bigger: the app tells this server (a meta
packet of its own, ``TEXT_SIZE``), the server tells the page, and the page sets xterm.js's font
size and fits the terminal again, so the app gets fewer, larger cells. ``?fontsize=`` and
``?largefontsize=`` set the two sizes in pixels. ``?reconnect=1`` (the hall screen of ``kiosk
appliance``) starts the page over by itself when its app or the server stops.

Bound to a loopback address nothing more is needed. On any other address the page, the
websocket and the assets require the access token from the config (``[serve] token``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import html
import json
import logging
import secrets
import shlex
import signal
import socket
import struct
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import textual_serve
from aiohttp import WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.server import Server

from kiosk.config import load_config, save_config

log = logging.getLogger("kiosk.serve")

TITLE = "社工站问卷"
FORBIDDEN = ("拒绝访问：缺少访问令牌或令牌不对，请使用启动时显示的完整网址。\n"
             "Forbidden: missing or wrong access token; use the full URL shown at start.\n")
WRONG_HOST = ("禁止访问：这台终端不提供这个地址的服务。\n"
              "Forbidden: this kiosk does not serve that host name.\n")
BUSY = "平板连接太多，请稍后再试。\nToo many tablets connected; try again later.\n"
TEXTUAL_STATIC = Path(textual_serve.__file__).parent / "static"

# Fonts looked for on this machine, best first. WenQuanYi Zen Hei (GPL with a font
# exception) and DejaVu (free licence) come from Debian packages; nothing is copied.
CJK_FONTS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
)
SYMBOL_FONTS = (Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"),)
# Names a tablet may already have, so it need not download the server's copy.
CJK_LOCAL_NAMES = ("WenQuanYi Zen Hei Mono", "WenQuanYi Micro Hei Mono", "Noto Sans Mono CJK SC",
                   "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei",
                   "Droid Sans Fallback")
CJK_RANGES = ("U+2E80-2FDF, U+3000-33FF, U+3400-4DBF, U+4E00-9FFF, U+F900-FAFF, "
              "U+FE30-FE4F, U+FF00-FFEF, U+20000-2FA1F")
# Arrows, shapes and symbols Textual and the kiosk use (●, ☐, ☑, ⚠, ▶): narrow ones, as
# xterm.js lays them out in one cell. Box drawing (U+2500-259F) xterm.js draws itself.
SYMBOL_RANGES = "U+2000-206F, U+2190-21FF, U+2200-22FF, U+25A0-25FF, U+2600-27BF"
FONT_TYPES = {".ttf": "font/ttf", ".otf": "font/otf"}
MAX_SESSIONS = 12  # each tablet is one Python process; a small kiosk PC has little memory
# The page's font sizes in pixels, normal and 大字. At 20 px a 1280×800 tablet has 106×30
# cells (142×38 at 16 px), where the large layout still shows every questionnaire on the
# home screen and every choice of a question; at 22 px (98×27) they no longer fit.
FONT_SIZE, LARGE_FONT_SIZE = 16, 20
# The meta packet the app sends when 大字 changes: {"type": TEXT_SIZE, "large": bool}.
TEXT_SIZE = "kiosk_text_size"
# textual.js keeps its terminal object to itself; the page needs it to change the font size.
# The one statement that makes it is given a line that also hands it to the page.
TERMINAL_MADE = "const t=new w(e,{ping:r});"
TERMINAL_SHARED = TERMINAL_MADE + "(window.kioskTerminals=window.kioskTerminals||[]).push(t);"


def text_size_meta(large: bool) -> dict[str, object]:
    """What the app sends (``WebDriver.write_meta``) when 大字 is switched on or off."""
    return {"type": TEXT_SIZE, "large": bool(large)}


# ---- addresses and the token -------------------------------------------------------------


LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def is_loopback(host: str) -> bool:
    """True only for 127.0.0.1, ::1 and localhost: the names a tablet's page can never be
    tricked into (127.0.0.2 and the like count as any other address)."""
    return host.strip().strip("[]").lower() in LOOPBACK


def served_names(host: str) -> frozenset[str]:
    """The host names and addresses a server bound to ``host`` answers to (the Host header
    of a request, without its port): loopback's own names, the address bound, and for a
    wildcard address this machine's LAN addresses and names. A page of another site that
    points its own name at the kiosk (DNS rebinding) is refused."""
    bound = host.strip().strip("[]").lower()
    names = set(LOOPBACK)
    if bound in ("0.0.0.0", "::", ""):
        names.update(lan_addresses())
        with contextlib.suppress(OSError):
            name = socket.gethostname().lower()
            names.update({name, f"{name}.local", socket.getfqdn().lower()})
    else:
        names.add(bound)
    return frozenset(names)


def host_of(header: str) -> str:
    """The host of a Host header: ``[::1]:8000`` -> ``::1``, ``Kiosk.local:80`` ->
    ``kiosk.local``."""
    text = header.strip().lower()
    if text.startswith("["):
        return text[1:text.find("]")] if "]" in text else text
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


def ensure_token(config_path: Path, host: str) -> str | None:
    """The access token needed on ``host``: None on loopback, else the config's token.

    A config without a token gets a new one (``secrets.token_urlsafe``), saved in
    ``[serve] token`` so that the URL given to the tablets stays the same after a restart.
    """
    if is_loopback(host):
        return None
    # Read the file itself: a --kiosk-id given on the command line must not be saved.
    config = load_config(config_path)
    if config.serve_token:
        return config.serve_token
    token = secrets.token_urlsafe(24)
    save_config(config.with_changes(serve_token=token), config_path)
    return token


def app_command(db_path: Path, config_path: Path, kiosk_id: str | None = None) -> str:
    """The shell command textual-serve runs for each connection: the real ``kiosk run``."""
    words = [sys.executable, "-m", "kiosk", "--db", str(db_path), "--config", str(config_path)]
    if kiosk_id:
        words += ["--kiosk-id", kiosk_id]
    return shlex.join([*words, "run"])


def lan_addresses() -> list[str]:
    """This machine's likely LAN addresses, for the URL printed at start (best effort)."""
    found: list[str] = []
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("10.255.255.255", 1))  # UDP: sends nothing, just picks a route
            found.append(probe.getsockname()[0])
    except OSError:
        pass
    try:
        for address in socket.gethostbyname_ex(socket.gethostname())[2]:
            if address not in found and not address.startswith("127."):
                found.append(address)
    except OSError:
        pass
    return found


# ---- assets -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Asset:
    path: Path
    content_type: str
    from_collection: bool = False  # a .ttc: served as its first font, repacked
    shares_terminal: bool = False  # textual.js, served with its terminal handed to the page


def share_terminal(script: str) -> str:
    """textual.js with its terminal object handed to the page (``window.kioskTerminals``);
    unchanged, with a warning, if textual-serve's script no longer has that statement
    (大字 then leaves the font as it is; tests/test_browser.py notices)."""
    if script.count(TERMINAL_MADE) != 1:
        log.warning("textual.js has changed: large text cannot change the font size")
        return script
    return script.replace(TERMINAL_MADE, TERMINAL_SHARED)


def font_from_collection(data: bytes, index: int = 0) -> bytes:
    """One font of a font collection (.ttc) as a standalone font file, tables 4-byte aligned.

    Chrome's font sanitiser refuses wqy-zenhei.ttc as it is ("FFTM: misaligned table");
    the same tables, copied aligned into a single font, load.
    """
    if data[:4] != b"ttcf":
        raise ValueError("not a font collection (.ttc)")
    (count,) = struct.unpack_from(">I", data, 8)
    if not 0 <= index < count:
        raise ValueError(f"the collection has {count} fonts, not {index + 1}")
    (start,) = struct.unpack_from(">I", data, 12 + 4 * index)
    version, table_count = struct.unpack_from(">4sH", data, start)
    tables = sorted(struct.unpack_from(">4sIII", data, start + 12 + 16 * number)
                    for number in range(table_count))
    tables = [table for table in tables if table[0] != b"FFTM"]  # FontForge's timestamp
    selector = max(len(tables).bit_length() - 1, 0)
    search_range = 16 * 2**selector
    directory = [struct.pack(">4sHHHH", version, len(tables), search_range, selector,
                             16 * len(tables) - search_range)]
    bodies: list[bytes] = []
    position = 12 + 16 * len(tables)
    for tag, checksum, offset, length in tables:
        body = data[offset:offset + length]
        directory.append(struct.pack(">4sIII", tag, checksum, position, length))
        bodies.append(body + b"\0" * (-length % 4))
        position += len(bodies[-1])
    return b"".join(directory + bodies)


def local_assets() -> dict[str, Asset]:
    """Every file the page may load, by the name in its URL; nothing else is served."""
    assets = {
        "textual.js": Asset(TEXTUAL_STATIC / "js" / "textual.js", "text/javascript",
                            shares_terminal=True),
        "xterm.css": Asset(TEXTUAL_STATIC / "css" / "xterm.css", "text/css"),
        "background.png": Asset(TEXTUAL_STATIC / "images" / "background.png", "image/png"),
        # Roboto Mono (Apache 2.0) ships inside textual-serve; textual.js asks for it by name.
        "roboto-mono.ttf": Asset(TEXTUAL_STATIC / "fonts" / "RobotoMono-VariableFont_wght.ttf",
                                 "font/ttf"),
    }
    for name, candidates in (("cjk", CJK_FONTS), ("symbols", SYMBOL_FONTS)):
        found = next((path for path in candidates if path.is_file()), None)
        if found is None:
            continue
        suffix = found.suffix.lower()
        if suffix == ".ttc":
            assets[f"{name}.ttf"] = Asset(found, "font/ttf", from_collection=True)
        else:
            assets[f"{name}{suffix}"] = Asset(found, FONT_TYPES.get(suffix, "font/ttf"))
    return {name: asset for name, asset in assets.items() if asset.path.is_file()}


def _font_face(sources: list[str], unicode_range: str = "") -> str:
    extra = f" unicode-range: {unicode_range};" if unicode_range else ""
    return f"@font-face {{ font-family: \"Roboto Mono\"; src: {', '.join(sources)};{extra} }}"


def font_faces(assets: dict[str, Asset], url: Callable[[str], str]) -> str:
    """@font-face rules for "Roboto Mono", the one family textual.js draws with: Latin from
    Roboto Mono, CJK and symbols from the tablet's own fonts or else from ours.

    The faces carry no weight or style: Chrome picks one set of faces with equal
    descriptors per family, and only within it does unicode-range choose a font per
    character; bold is then synthesised for every script alike.
    """
    faces = []
    if "roboto-mono.ttf" in assets:
        faces.append(_font_face([f"url(\"{url('roboto-mono.ttf')}\") format(\"truetype\")"]))
    for prefix, local_names, ranges in (("symbols", ("DejaVu Sans Mono",), SYMBOL_RANGES),
                                        ("cjk", CJK_LOCAL_NAMES, CJK_RANGES)):
        sources = [f"local(\"{name}\")" for name in local_names]
        sources += [f"url(\"{url(name)}\")" for name in assets if name.startswith(prefix + ".")]
        faces.append(_font_face(sources, ranges))
    return "\n      ".join(faces)


PAGE = """<!DOCTYPE html>
<html lang="zh-CN">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1, user-scalable=no" />
    <title>{title}</title>
    <link rel="icon" href="data:," />
    <link rel="stylesheet" href="{xterm_css}" />
    <style>
      {font_faces}
      body {{ background: #0c181f; margin: 0; }}
      .dialog-container {{
        position: absolute; width: 100vw; height: 100vh; display: flex;
        align-items: center; justify-content: center; z-index: 10;
      }}
      .shade {{
        position: absolute; width: 100%; height: 100%; background: #0c181f;
        background-image: url("{background}");
      }}
      .intro {{
        min-width: 320px; padding: 32px; font-size: 24px; z-index: 20; text-align: center;
        font-family: "Roboto Mono", sans-serif; color: rgba(255, 255, 255, 0.95);
        background-color: #12232d; display: flex; flex-direction: column;
        align-items: center; justify-content: center; margin: 32px;
      }}
      body.-first-byte .intro-dialog {{ display: none; }}
      body .textual-terminal {{ opacity: 0; transition: opacity 0.3s ease-out; }}
      body.-first-byte .textual-terminal {{ opacity: 1; }}
      body button {{
        padding: 16px 32px; margin: 16px; border: none; font-size: 24px;
        background-color: #1565c0; color: #ffffff; font-family: "Roboto Mono", sans-serif;
      }}
      .closed-dialog {{ display: none; }}
      body.-closed .closed-dialog {{ display: flex; }}
      #start {{ display: none; }}
      #start.-delay {{ display: block; }}
    </style>
    <script src="{textual_js}"></script>
    <script>
      // Start the terminal only once its fonts are in: xterm.js measures the cell size
      // once, and a font arriving later would leave the screen misaligned.
      const startTerminal = window.onload;
      window.onload = null;
      window.addEventListener("load", async (event) => {{
        const family = '{font_size}px "Roboto Mono"';
        const fonts = Promise.all([document.fonts.load(family, "Aa"),
                                   document.fonts.load(family, "社工站问卷"),
                                   document.fonts.load(family, "●☑")]);
        await Promise.race([fonts.catch(() => null),
                            new Promise((done) => setTimeout(done, 4000))]);
        startTerminal(event);
        const reconnect = new URLSearchParams(window.location.search).get("reconnect") === "1";
        let sizeSent = false;
        new MutationObserver(() => {{
          // A window that grows while the page connects (Chromium's in cage starts small,
          // then fills the screen) sends its size before the connection is open, and
          // textual.js drops it: the app would keep the small size (请放大窗口). Once the
          // app's first bytes arrive the connection is open: send the size again.
          if (!sizeSent && document.body.classList.contains("-first-byte")) {{
            sizeSent = true;
            for (const shared of window.kioskTerminals || []) shared.sendSize();
          }}
          if (reconnect) startOverWhenClosed();
        }}).observe(document.body, {{attributes: true, attributeFilter: ["class"]}});
      }});
      // ?reconnect=1, the hall screen of `kiosk appliance`: nobody is there to tap 重新开始,
      // so when the app or the server stops, the page waits until the server answers again
      // and starts over (a new app, the home screen).
      let startingOver = false;
      async function startOverWhenClosed() {{
        if (startingOver || !document.body.classList.contains("-closed")) return;
        startingOver = true;
        for (;;) {{
          await new Promise((done) => setTimeout(done, 1000));
          try {{
            if ((await fetch(window.location.href, {{cache: "no-store"}})).ok) break;
          }} catch (error) {{ /* not up yet */ }}
        }}
        window.location.reload();
      }}
      // 大字: the app says so through the websocket (["kiosk_text_size", {{"large": true}}]);
      // the terminal takes the larger font and fits the window again, which tells the app
      // its new, smaller number of cells.
      const NativeWebSocket = window.WebSocket;
      window.WebSocket = class extends NativeWebSocket {{
        constructor(...args) {{
          super(...args);
          this.addEventListener("message", (event) => {{
            if (typeof event.data !== "string") return;
            try {{
              const [kind, data] = JSON.parse(event.data);
              if (kind === "{text_size}") setLargeText(Boolean(data && data.large));
            }} catch (error) {{ /* not ours */ }}
          }});
        }}
      }};
      function setLargeText(large) {{
        const element = document.getElementById("terminal");
        const size = Number(large ? element.dataset.largeFontSize : element.dataset.fontSize);
        document.body.dataset.textSize = large ? "large" : "normal";
        for (const shared of window.kioskTerminals || []) {{
          if (shared.terminal.options.fontSize === size) continue;
          shared.terminal.options.fontSize = size;
          shared.fit();
        }}
      }}
      function restart() {{
        const params = new URLSearchParams(window.location.search);
        params.delete("delay");
        window.location.href = window.location.pathname + "?" + params.toString();
      }}
    </script>
  </head>
  <body>
    <div class="dialog-container intro-dialog">
      <div class="shade"></div>
      <div class="intro">
        <div>{title}</div>
        <div>正在打开…</div>
        <button type="button" onclick="restart()" id="start">开始 Start</button>
      </div>
    </div>
    <div class="dialog-container closed-dialog">
      <div class="shade"></div>
      <div class="intro">
        <div>连接已断开，已填的答案都已保存。</div>
        <div>Disconnected; the answers given are saved.</div>
        <button type="button" onclick="restart()" id="restart">重新开始 Restart</button>
      </div>
    </div>
    <div id="terminal" class="textual-terminal"
         data-session-websocket-url="{websocket_url}" data-font-size="{font_size}"
         data-large-font-size="{large_font_size}"></div>
  </body>
</html>
"""


def _made(asset: Asset) -> bytes:
    data = asset.path.read_bytes()
    if asset.shares_terminal:
        return share_terminal(data.decode("utf-8")).encode("utf-8")
    return font_from_collection(data)


# ---- the server ---------------------------------------------------------------------------


class KioskAppService(AppService):
    """One tablet's app process; the kiosk's own meta packet (大字) goes on to the page."""

    async def on_meta(self, data: bytes) -> None:
        try:
            meta = json.loads(data)
        except ValueError:
            return
        if isinstance(meta, dict) and meta.get("type") == TEXT_SIZE:
            await self.remote_write_str(
                json.dumps([TEXT_SIZE, {"large": bool(meta.get("large"))}]))
            return
        await super().on_meta(data)


def _to_int(value: str, default: int, low: int, high: int) -> int:
    try:
        return min(max(int(value), low), high)
    except ValueError:
        return default


class KioskServer(Server):
    """textual-serve's server with the kiosk's own page, local assets and the token guard."""

    def __init__(self, command: str, host: str = "127.0.0.1", port: int = 8000, *,
                 token: str | None = None, max_sessions: int = MAX_SESSIONS,
                 announce: Callable[[str], None] | None = None) -> None:
        super().__init__(command, host=host, port=port, title=TITLE)
        self.token = token
        self.names = served_names(host)
        self.max_sessions = max_sessions
        self.assets = local_assets()
        self.sessions: set[AppService] = set()
        self._repacked: dict[Path, bytes] = {}  # fonts from collections, textual.js
        self._repack_lock = asyncio.Lock()
        self._announce = announce or (lambda line: print(line, flush=True))

    # ---- access ---------------------------------------------------------------------

    def authorised(self, request: web.Request) -> bool:
        """True when no token is needed, or the request carries the right one."""
        if self.token is None:
            return True
        given = request.match_info.get("token") or request.query.get("token") or ""
        return hmac.compare_digest(given.encode(), self.token.encode())

    @web.middleware
    async def guard(self, request: web.Request,
                    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                    ) -> web.StreamResponse:
        if host_of(request.headers.get("Host", "")) not in self.names:
            log.warning("refused %s %s from %s: Host %r is not a name this kiosk serves",
                        request.method, request.path, request.remote,
                        request.headers.get("Host", "")[:100])
            return web.Response(status=403, text=WRONG_HOST, charset="utf-8")
        if not self.authorised(request):
            log.warning("refused %s %s from %s: no valid token", request.method,
                        request.path, request.remote)
            return web.Response(status=403, text=FORBIDDEN, charset="utf-8")
        return await handler(request)

    def _suffix(self) -> str:
        return f"?token={quote(self.token)}" if self.token else ""

    # ---- routes ---------------------------------------------------------------------

    async def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self.guard])
        app.add_routes([
            web.get("/", self.handle_index),
            web.get("/ws", self.handle_websocket),
            web.get("/ws/{token}", self.handle_websocket),
            web.get("/assets/{name}", self.handle_asset),
        ])
        app.on_shutdown.append(self.on_shutdown)
        return app

    async def handle_index(self, request: web.Request) -> web.Response:  # type: ignore[override]
        font_size = _to_int(request.query.get("fontsize", str(FONT_SIZE)), FONT_SIZE, 8, 48)
        large_font_size = _to_int(request.query.get("largefontsize", str(LARGE_FONT_SIZE)),
                                  LARGE_FONT_SIZE, 8, 64)
        scheme = "wss" if request.secure else "ws"
        websocket_path = f"/ws/{quote(self.token)}" if self.token else "/ws"

        def url(name: str) -> str:
            return f"/assets/{name}{self._suffix()}"

        page = PAGE.format(
            title=html.escape(TITLE), font_size=font_size, large_font_size=large_font_size,
            text_size=TEXT_SIZE, font_faces=font_faces(self.assets, url),
            xterm_css=url("xterm.css"), textual_js=url("textual.js"),
            background=url("background.png"),
            websocket_url=html.escape(f"{scheme}://{request.host}{websocket_path}"))
        return web.Response(text=page, content_type="text/html", charset="utf-8",
                            headers={"Cache-Control": "no-store",
                                     "Referrer-Policy": "no-referrer"})

    async def handle_asset(self, request: web.Request) -> web.StreamResponse:
        asset = self.assets.get(request.match_info["name"])
        if asset is None:
            raise web.HTTPNotFound()
        headers = {"Content-Type": asset.content_type, "Cache-Control": "max-age=86400"}
        if not (asset.from_collection or asset.shares_terminal):
            return web.FileResponse(asset.path, headers=headers)
        async with self._repack_lock:  # made once (a few MB), on the first request
            if asset.path not in self._repacked:
                self._repacked[asset.path] = await asyncio.to_thread(_made, asset)
        return web.Response(body=self._repacked[asset.path], headers=headers)

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        # A page on another site must not drive the kiosk through this browser.
        origin = request.headers.get("Origin")
        if origin and urlsplit(origin).netloc != request.host:
            log.warning("refused a websocket from origin %s", origin)
            raise web.HTTPForbidden(text=FORBIDDEN)
        if len(self.sessions) >= self.max_sessions:
            raise web.HTTPServiceUnavailable(text=BUSY)
        websocket = web.WebSocketResponse(heartbeat=15)  # a sleeping tablet is noticed
        width = _to_int(request.query.get("width", "80"), 80, 20, 500)
        height = _to_int(request.query.get("height", "24"), 24, 10, 200)
        service: AppService | None = None
        await websocket.prepare(request)
        log.info("tablet connected from %s", request.remote)
        try:
            service = KioskAppService(self.command, write_bytes=websocket.send_bytes,
                                 write_str=websocket.send_str, close=websocket.close,
                                 download_manager=self.download_manager)
            self.sessions.add(service)
            await service.start(width, height)
            # An app that ends (or never starts) closes the page's connection, so the tablet
            # shows "disconnected, restart" instead of a blank screen.
            running = getattr(service, "_task", None)
            if running is not None:
                running.add_done_callback(
                    lambda _: asyncio.ensure_future(websocket.close()))
            await self._process_messages(websocket, service)
        except asyncio.CancelledError:
            await websocket.close()
        except Exception as error:  # one tablet's failure must not stop the others
            log.exception(error)
        finally:
            if service is not None:
                # The app quits; its answers are already in the database.
                await service.stop()
                self.sessions.discard(service)
            log.info("tablet at %s disconnected", request.remote)
        return websocket

    async def _process_messages(self, websocket: web.WebSocketResponse,
                                app_service: AppService) -> None:
        """Forward the browser's keys, taps and size to the app (bad messages are dropped)."""
        async for message in websocket:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                envelope = message.json()
                kind, data = envelope[0], (envelope[1] if len(envelope) > 1 else None)
                if kind == "stdin" and isinstance(data, str):
                    await app_service.send_bytes(data.encode("utf-8"))
                elif kind == "resize" and isinstance(data, dict):
                    await app_service.set_terminal_size(
                        _to_int(str(data.get("width")), 80, 20, 500),
                        _to_int(str(data.get("height")), 24, 10, 200))
                elif kind == "ping":
                    await websocket.send_json(["pong", data])
                elif kind == "blur":
                    await app_service.blur()
                elif kind == "focus":
                    await app_service.focus()
            except (ValueError, TypeError, IndexError, KeyError):
                log.warning("dropped a malformed message from the browser")

    # ---- start and stop -------------------------------------------------------------

    def urls(self) -> list[str]:
        """The URLs to give the tablets (with the token when one is needed)."""
        hosts = [self.host]
        if self.host in ("0.0.0.0", "::", ""):
            hosts = lan_addresses() or ["<this machine's address>"]
        suffix = f"/{self._suffix()}" if self.token else "/"
        return [f"http://{f'[{host}]' if ':' in host else host}:{self.port}{suffix}"
                for host in hosts]

    def announce_urls(self) -> None:
        self._announce(f"{TITLE} · kiosk serve: open on the tablet 在平板浏览器打开:")
        for url in self.urls():
            self._announce(f"  {url}")
        if self.token:
            self._announce("Without the token (?token=...) the page is refused. "
                           "没有访问令牌的连接会被拒绝。")
        else:
            self._announce("Only this machine can connect (loopback). 仅本机可以访问。")

    async def on_shutdown(self, app: web.Application) -> None:
        """Stop every tablet's app (each quits cleanly; its answers are already saved)."""
        services = list(self.sessions)
        if services:
            await asyncio.wait([asyncio.ensure_future(service.stop()) for service in services],
                               timeout=5)
        for service in services:
            process = service._process
            if process is not None and process.returncode is None:
                process.kill()

    def serve(self, debug: bool = False) -> None:
        """Serve until SIGINT or SIGTERM; OSError when the address cannot be bound."""
        self.debug = debug
        self.initialize_logging()
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signal_number, stop.set)
        # No access log: page URLs carry the token.
        runner = web.AppRunner(await self._make_app(), access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
            self.announce_urls()  # only once the port answers
            await stop.wait()
        finally:
            await runner.cleanup()  # on_shutdown stops the tablets' apps


def serve(db_path: Path, config_path: Path, host: str = "127.0.0.1", port: int = 8000, *,
          token: str | None = None, kiosk_id: str | None = None,
          max_sessions: int = MAX_SESSIONS) -> None:
    """Serve the kiosk screens to browsers until stopped; one ``kiosk run`` per connection.

    ``token`` is required on any non-loopback ``host`` (see :func:`ensure_token`).
    """
    if token is None and not is_loopback(host):
        raise ValueError(f"serving on {host} needs an access token")
    server = KioskServer(app_command(db_path, config_path, kiosk_id), host=host, port=port,
                         token=token, max_sessions=max_sessions)
    server.serve()

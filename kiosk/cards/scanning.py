"""Reading volunteer cards from pictures: image files and camera frames.

``decode_image`` finds QR codes (QR only, on a greyscale copy) in a file, a PIL image or a
numpy array and returns their texts. It tries a few passes, cheapest and likeliest first,
and stops at the first pass that finds something shaped like a card (``looks_like_card``):

1. zxing-cpp on the picture, when installed;
2. zxing-cpp on the picture enlarged 1.5 times (small or far codes);
3. zbar (pyzbar) after a 3 × 3 mean: sensor noise and JPEG blocks throw zbar's scanline
   edge detector (on the raw frames it read 79 % of the photos, after the filter 90 %);
4. zbar on a locally thresholded copy (uneven light, low contrast, glare near the code);
5. the card's layout (``kiosk.cards.rescue``, needs OpenCV): glare over one of the code's
   three finder patterns (the big squares) hides the code from zxing-cpp and zbar, which
   find a code by its finders. This pass finds the card's outline instead, places the
   code's module grid where the card sheet prints it, repaints the patterns every code
   has and lets the code's error correction (level Q) mend the modules under the glare.

Measured on distorted 640 × 480 photos of printed cards (``tests/card_photos.py``;
scripts/bench.py prints the current figures): zxing-cpp alone reads 92 % in under 1 ms a
frame, zbar alone 78 % in 7 ms. Passes 1–4 read 97 %; with pass 5, 100 % of the bench's
300 photos (99.3 % of 600 more with other seeds): 1 ms a frame with a card (zxing-cpp finds
most at once), 16 ms a frame without one (every pass runs; pass 5 stops at once when no
card-shaped region with a code's texture is in sight, 0.5 ms). So zxing-cpp goes first
where installed: it reads more, and faster; the other passes add what it misses. Without
zxing-cpp (it is optional), passes 3, 4, zbar on the plain picture and pass 5 read as many.
What still fails is glare that washes out much of the data as well, or a card whose
outline is lost in the background: the camera reads the next frame.

``decode_contained`` and ``DecoderProcess`` run the decoding in a worker process with a
time limit: zbar, zxing-cpp and the image libraries are C code reading whatever a camera or
a file holds, and a crash, a hang or a memory blow-up there must never take the kiosk down.
The worker is restarted on the next picture. ``Camera`` reads frames through OpenCV
(the optional ``camera`` extra) and reports each card once while it is held up.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.cards.payload import looks_like_card

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

    from PIL import Image as PILImage

log = logging.getLogger("kiosk.scanning")
log.addHandler(logging.NullHandler())

MAX_PIXELS = 40_000_000  # larger pictures are refused: decompression bombs, memory
WORK_SIDE = 1600  # larger pictures are decoded shrunk to this long side first
NO_CARD = "no card found"


class UnreadableImage(ValueError):
    """The picture could not be opened: not an image, truncated, too large, empty."""


# ---- loading -----------------------------------------------------------------------------


def load_grey(image: Any) -> PILImage.Image:
    """A greyscale (mode L) PIL image from a path, bytes, a PIL image or a numpy array.

    Raises ``UnreadableImage`` for anything that is not a readable picture. Channel order
    does not matter (OpenCV's BGR or RGB): the code is black on white.
    """
    from PIL import Image

    try:
        if isinstance(image, str | os.PathLike | bytes):
            source = io.BytesIO(image) if isinstance(image, bytes) else image
            with Image.open(source) as opened:
                _check_size(opened.size)
                if max(opened.size) > 2 * WORK_SIDE:
                    opened.draft("L", (WORK_SIDE, WORK_SIDE))  # JPEG: decode small, cheaply
                grey = opened.convert("L")
        elif isinstance(image, Image.Image):
            _check_size(image.size)
            grey = image if image.mode == "L" else image.convert("L")
        elif hasattr(image, "__array_interface__"):
            grey = _grey_from_array(image)
        else:
            raise UnreadableImage(f"not a picture: {type(image).__name__}")
    except UnreadableImage:
        raise
    except FileNotFoundError as error:
        raise UnreadableImage(f"no such file: {error.filename}") from None
    except Image.DecompressionBombError as error:
        raise UnreadableImage(f"the image is too large: {error}") from None
    except Image.UnidentifiedImageError:
        raise UnreadableImage("not an image file (or a format Pillow cannot read)") from None
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise UnreadableImage(f"not a readable image ({error})") from None
    if grey.width < 21 or grey.height < 21:  # a version 1 code without quiet zone
        raise UnreadableImage(f"the image is too small ({grey.width} × {grey.height})")
    return grey


def _check_size(size: tuple[int, int]) -> None:
    if size[0] * size[1] > MAX_PIXELS:
        raise UnreadableImage(f"the image is too large ({size[0]} × {size[1]} pixels; "
                              f"at most {MAX_PIXELS // 1_000_000} million)")


def _grey_from_array(array: Any) -> PILImage.Image:
    import numpy as np
    from PIL import Image

    frame = np.asarray(array)
    if frame.dtype != np.uint8:
        raise UnreadableImage(f"frames must be 8-bit (got {frame.dtype})")
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    if frame.ndim == 3 and frame.shape[2] in (3, 4):
        _check_size((frame.shape[1], frame.shape[0]))
        return Image.fromarray(np.ascontiguousarray(frame[:, :, :3])).convert("L")
    if frame.ndim != 2:
        raise UnreadableImage(f"a frame must be H × W or H × W × 3 (got {frame.shape})")
    _check_size((frame.shape[1], frame.shape[0]))
    return Image.fromarray(np.ascontiguousarray(frame))


# ---- decoding passes -----------------------------------------------------------------------


@functools.cache  # a failed import is not cached by Python: it would search every frame
def _zxing_module() -> Any:
    try:
        import zxingcpp
    except ImportError:
        return None
    return zxingcpp


def zxing_available() -> bool:
    """Is zxing-cpp installed (it is optional: the kiosk reads cards with zbar alone)?"""
    return _zxing_module() is not None


def zbar(grey: PILImage.Image) -> list[str]:
    """zbar (pyzbar) on the picture as it is, QR codes only."""
    from pyzbar import pyzbar

    symbols = pyzbar.decode(grey, symbols=[pyzbar.ZBarSymbol.QRCODE])
    return [symbol.data.decode("utf-8", errors="replace") for symbol in symbols]


def zbar_smoothed(grey: PILImage.Image) -> list[str]:
    """zbar after a 3 × 3 mean: sensor noise and JPEG blocks no longer look like edges."""
    from PIL import ImageFilter

    return zbar(grey.filter(ImageFilter.BoxBlur(1)))


def zbar_threshold(grey: PILImage.Image) -> list[str]:
    """zbar on black and white by the local mean (light that changes across the card)."""
    from PIL import ImageChops, ImageFilter

    smooth = grey.filter(ImageFilter.GaussianBlur(0.8))
    local = smooth.filter(ImageFilter.BoxBlur(max(8, min(grey.size) // 40)))
    darker = ImageChops.subtract(local, smooth)  # how much darker than around it, clipped at 0
    return zbar(darker.point(lambda value: 0 if value > 4 else 255))


def zxing(grey: PILImage.Image) -> list[str]:
    """zxing-cpp on the picture as it is, QR codes only (nothing when not installed)."""
    module = _zxing_module()
    if module is None:
        return []
    # Plain text, as zbar gives it (the default, HRI, spells control characters as <ESC>).
    return [result.text for result in module.read_barcodes(
        grey, formats=module.BarcodeFormat.QRCode, text_mode=module.TextMode.Plain)]


def zxing_enlarged(grey: PILImage.Image) -> list[str]:
    """zxing-cpp on the picture enlarged 1.5 times: small codes get pixels to stand on."""
    from PIL import Image

    if _zxing_module() is None or max(grey.size) > WORK_SIDE:
        return []
    size = (grey.width * 3 // 2, grey.height * 3 // 2)
    return zxing(grey.resize(size, Image.Resampling.BILINEAR))


def card_layout(grey: PILImage.Image) -> list[str]:
    """The code read by the card's known layout (``kiosk.cards.rescue``): glare on a finder.

    Needs OpenCV (nothing without it). The clean code it draws is read by zxing-cpp where
    installed, else by zbar. Only card-shaped texts are kept.
    """
    import numpy as np
    from PIL import Image

    from kiosk.cards import rescue as card_rescue

    if not card_rescue.available():
        return []
    read = zxing if zxing_available() else zbar
    return card_rescue.rescue(np.asarray(grey), lambda bitmap: read(Image.fromarray(bitmap)),
                              looks_like_card)


PASSES: tuple[Callable[[PILImage.Image], list[str]], ...] = (
    zxing, zxing_enlarged, zbar_smoothed, zbar_threshold, card_layout)
ZBAR_PASSES: tuple[Callable[[PILImage.Image], list[str]], ...] = (
    zbar_smoothed, zbar_threshold, zbar, card_layout)


def decode_image(image: Any, *,
                 passes: Sequence[Callable[[PILImage.Image], list[str]]] | None = None
                 ) -> list[str]:
    """The texts of the QR codes in ``image`` (path, bytes, PIL image or numpy array).

    Cards first found stop the search; other codes (a poster's URL) are returned too, so the
    caller can say "not a volunteer card". An empty list: no code found. Raises
    ``UnreadableImage`` when the picture cannot be read at all.
    """
    from PIL import Image

    grey = load_grey(image)
    if max(grey.size) > WORK_SIDE:  # a phone photo: zbar slows down, zxing-cpp gains nothing
        grey = grey.copy()
        grey.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BOX)
    chosen = passes if passes is not None else (PASSES if zxing_available() else ZBAR_PASSES)
    found: list[str] = []
    for decode in chosen:
        for text in decode(grey):
            if text not in found:
                found.append(text)
        if any(looks_like_card(text) for text in found):
            break
    return found


# ---- contained decoding ----------------------------------------------------------------------


@dataclass(frozen=True)
class DecodeResult:
    """What decoding one picture gave: the texts found, or why nothing could be read.

    ``error`` is set when the picture was unreadable or the decoder failed (crashed, hung,
    raised); ``texts`` is then empty. Either way the kiosk says "no card found".
    """

    texts: tuple[str, ...] = ()
    error: str | None = None

    @property
    def found(self) -> bool:
        return bool(self.texts)

    def cards(self) -> list[str]:
        """The texts shaped like volunteer cards (signatures not checked)."""
        return [text for text in self.texts if looks_like_card(text)]


def _serve(connection: Connection, decoder: Callable[..., list[str]]) -> None:
    """The worker process: decode requests until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is for the kiosk, which stops us
    with contextlib.suppress(OSError):  # if memory runs out, the OOM killer takes us first
        Path("/proc/self/oom_score_adj").write_text("1000")
    connection.send(("ready", None))
    while True:
        try:
            request = connection.recv()
        except (EOFError, OSError):
            return
        try:
            picture = _request_picture(request)
            connection.send(("ok", list(decoder(picture))))
        except UnreadableImage as error:
            connection.send(("unreadable", str(error)))
        except Exception as error:  # contained: report it, stay alive for the next picture
            connection.send(("failed", f"{type(error).__name__}: {error}"))


def _request_picture(request: tuple[str, Any]) -> Any:
    kind, value = request
    if kind == "grey":
        from PIL import Image

        width, height, data = value
        return Image.frombytes("L", (width, height), data)
    return value  # a path


def _picture_request(image: Any) -> tuple[str, Any]:
    """What goes through the pipe: a file's path (opened in the worker) or grey pixels."""
    if isinstance(image, str | os.PathLike):
        return ("path", os.fspath(image))
    if isinstance(image, bytes):
        return ("path", image)  # an encoded file's bytes: load_grey opens them
    grey = load_grey(image)  # already in memory: converting it here is safe
    return ("grey", (grey.width, grey.height, grey.tobytes()))


def _ensure_resource_tracker() -> None:
    """Start multiprocessing's resource tracker with a usable stderr.

    The first spawn starts the tracker and hands it ``sys.stderr.fileno()``; inside a
    running Textual app that is the app's print capture (fileno -1), and the spawn fails
    with "bad value(s) in fds_to_keep". The tracker then gets /dev/null instead.
    """
    from multiprocessing import resource_tracker

    try:
        usable = sys.stderr is not None and sys.stderr.fileno() >= 0
    except (AttributeError, OSError, ValueError):
        usable = False
    if usable:
        return
    with open(os.devnull, "w") as devnull, contextlib.redirect_stderr(devnull):
        resource_tracker.ensure_running()


class DecoderProcess:
    """Decode pictures in a worker process; a crash or hang gives an error result.

    ``timeout`` bounds one picture's decoding (seconds); ``start_timeout`` the worker's
    start. A worker that died or hung is killed and started again for the next picture.
    ``decoder`` (default ``decode_image``) must be picklable: a module-level function.
    """

    def __init__(self, decoder: Callable[..., list[str]] = decode_image, *,
                 timeout: float = 5.0, start_timeout: float = 30.0) -> None:
        self.decoder = decoder
        self.timeout = timeout
        self.start_timeout = start_timeout
        self._process: BaseProcess | None = None
        self._connection: Connection | None = None
        self._lock = threading.Lock()
        self.restarts = 0

    def __enter__(self) -> DecoderProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _start(self) -> None:
        # spawn, not fork: the kiosk runs threads (Textual, the print worker), and a forked
        # child of a threaded process can deadlock on a lock held at the fork.
        context = multiprocessing.get_context("spawn")
        _ensure_resource_tracker()
        parent, child = context.Pipe()
        process = context.Process(target=_serve, args=(child, self.decoder),
                                  name="kiosk-card-decoder", daemon=True)
        process.start()
        child.close()
        self._process, self._connection = process, parent
        if not parent.poll(self.start_timeout):
            self._stop()
            raise RuntimeError(f"the card decoder did not start in {self.start_timeout:g} s")
        try:
            parent.recv()
        except (EOFError, OSError):
            code = process.exitcode
            self._stop()
            raise RuntimeError(f"the card decoder exited at start (exit code {code})") from None

    def _stop(self) -> None:
        process, connection = self._process, self._connection
        self._process = self._connection = None
        if connection is not None:
            connection.close()
        if process is not None:
            if process.is_alive():
                process.kill()
            process.join(5)
            with contextlib.suppress(ValueError):
                process.close()

    def decode(self, image: Any, *, timeout: float | None = None) -> DecodeResult:
        """Decode one picture (path, bytes, PIL image or numpy array); never raises."""
        try:
            request = _picture_request(image)
        except UnreadableImage as error:
            return DecodeResult(error=str(error))
        except Exception as error:
            return DecodeResult(error=f"not a readable image ({type(error).__name__})")
        with self._lock:
            return self._decode(request, self.timeout if timeout is None else timeout)

    def _decode(self, request: tuple[str, Any], timeout: float) -> DecodeResult:
        try:
            if self._process is None:
                self._start()
        except RuntimeError as error:
            log.error("%s", error)
            return DecodeResult(error=str(error))
        connection, process = self._connection, self._process
        assert connection is not None and process is not None
        try:
            connection.send(request)
            if not connection.poll(timeout):
                log.warning("the card decoder took over %g s; restarting it", timeout)
                self._restart()
                return DecodeResult(error=f"the decoder took longer than {timeout:g} s")
            kind, value = connection.recv()
        except (EOFError, OSError, BrokenPipeError):
            process.join(1)
            code = process.exitcode
            log.warning("the card decoder died (exit code %s); restarting it", code)
            self._restart()
            return DecodeResult(error=f"the decoder crashed (exit code {code})")
        if kind == "ok":
            return DecodeResult(texts=tuple(value))
        if kind == "unreadable":
            return DecodeResult(error=value)
        log.warning("the card decoder failed: %s", value)
        return DecodeResult(error=f"the decoder failed ({value})")

    def _restart(self) -> None:
        self._stop()
        self.restarts += 1  # started again lazily, by the next picture

    def close(self) -> None:
        """Stop the worker process."""
        with self._lock:
            self._stop()


def decode_contained(image: Any, *, timeout: float = 5.0,
                     decoder: Callable[..., list[str]] = decode_image) -> DecodeResult:
    """Decode one picture in a worker process of its own (see ``DecoderProcess``).

    For many pictures, keep one ``DecoderProcess``: starting a worker takes a few hundred
    milliseconds.
    """
    with DecoderProcess(decoder, timeout=timeout) as worker:
        return worker.decode(image)


# ---- the camera ----------------------------------------------------------------------------------


class CameraError(RuntimeError):
    """The camera could not be opened or stopped giving frames."""


class Camera:
    """Card codes from a camera, through OpenCV (the ``camera`` extra; see ``available``).

    ``source`` is a camera index (0: the first camera), a device path or a video file or
    stream URL. Frames are read at ``width`` × ``height``, turned grey and decoded in a
    ``DecoderProcess``. A card held in front of the camera is reported once; it is reported
    again only after it was out of sight for ``repeat_after`` seconds.
    """

    def __init__(self, source: int | str = 0, *, width: int = 640, height: int = 480,
                 decoder: DecoderProcess | None = None, repeat_after: float = 3.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.source = source
        self.width, self.height = width, height
        self._own_decoder = decoder is None
        self.decoder = decoder or DecoderProcess(timeout=2.0)
        self.repeat_after = repeat_after
        self.clock = clock
        self._capture: Any = None
        self._last_seen: dict[str, float] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.errors: list[str] = []

    @staticmethod
    def available() -> bool:
        """Is OpenCV installed (``pip install 'shegong-kiosk[camera]'``)?"""
        try:
            import cv2  # noqa: F401
        except ImportError:
            return False
        return True

    def __enter__(self) -> Camera:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def open(self) -> None:
        """Open the camera; raises ``CameraError`` when it cannot be opened."""
        if self._capture is not None:
            return
        try:
            import cv2
        except ImportError:
            raise CameraError("OpenCV is not installed: pip install 'shegong-kiosk[camera]'"
                              ) from None
        capture = cv2.VideoCapture(self.source)
        if not capture.isOpened():
            capture.release()
            raise CameraError(f"camera {self.source!r} could not be opened")
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        self._capture = capture

    def frame(self) -> Any:
        """The next frame, grey (a numpy array), or None when the camera gives none."""
        import cv2

        self.open()
        ok, frame = self._capture.read()
        if not ok or frame is None:
            return None
        return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame

    def scan(self) -> list[str] | None:
        """Read and decode one frame; return the card texts newly in sight (None: no frame).

        Only texts shaped like cards are returned; the caller checks them against the roster
        (``VolunteerDesk``), which refuses old, foreign and forged cards.
        """
        picture = self.frame()
        if picture is None:
            return None
        result = self.decoder.decode(picture)
        if result.error:
            self.errors.append(result.error)
        return self._new_cards(result.cards())

    def _new_cards(self, texts: Iterable[str]) -> list[str]:
        now = self.clock()
        fresh = []
        for text in texts:
            key = text.strip().upper()
            last = self._last_seen.get(key)
            if last is None or now - last > self.repeat_after:
                fresh.append(text)
            self._last_seen[key] = now
        for key, seen in list(self._last_seen.items()):
            if now - seen > self.repeat_after:
                del self._last_seen[key]
        return fresh

    def start(self, on_card: Callable[[str], None], *, interval: float = 0.1,
              on_error: Callable[[str], None] | None = None) -> None:
        """Scan in a background thread, calling ``on_card(text)`` for each card seen.

        ``on_card`` runs in that thread (a Textual app passes it on with call_from_thread).
        ``on_error`` is told when the camera stops giving frames; the thread then ends.
        """
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(on_card, interval, on_error),
                                        name="kiosk-camera", daemon=True)
        self._thread.start()

    def _run(self, on_card: Callable[[str], None], interval: float,
             on_error: Callable[[str], None] | None) -> None:
        missing = 0
        while not self._stop.is_set():
            started = self.clock()
            try:
                texts = self.scan()
            except Exception as error:  # the camera thread must not die silently
                log.exception("camera scan failed")
                if on_error is not None:
                    on_error(f"camera: {error}")
                return
            if texts is None:
                missing += 1
                if missing >= 20:  # two seconds without a frame: unplugged or at its end
                    if on_error is not None:
                        on_error(f"camera {self.source!r} gives no frames")
                    return
            else:
                missing = 0
                for text in texts:
                    on_card(text)
            self._stop.wait(max(0.0, interval - (self.clock() - started)))

    def stop(self) -> None:
        """Stop the background scanning (the camera stays open)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(5)
        self._thread = None

    def close(self) -> None:
        """Stop scanning, release the camera, and stop our decoder process."""
        self.stop()
        if self._capture is not None:
            self._capture.release()
            self._capture = None
        if self._own_decoder:
            self.decoder.close()

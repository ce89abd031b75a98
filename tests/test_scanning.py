"""Reading cards from pictures: real printed cards photographed badly, garbage that must not
crash anything, other QR codes refused with a message, a decoder contained in a worker
process, the camera (OpenCV reading a recorded image sequence) and `kiosk volunteer scan`."""

from __future__ import annotations

import ctypes
import os
import random
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import qrcode
from click.testing import CliRunner
from PIL import Image

from kiosk.cards import rescue as card_rescue
from kiosk.cards import scanning
from kiosk.cards import sheets as card_sheets
from kiosk.cards.payload import make_payload, read_payload
from kiosk.cards.scanning import (
    NO_CARD,
    PASSES,
    ZBAR_PASSES,
    Camera,
    CameraError,
    DecoderProcess,
    UnreadableImage,
    decode_contained,
    decode_image,
)
from kiosk.cards.sheets import CARDS_PER_PAGE
from kiosk.cli import main
from tests.card_photos import (
    SECRET,
    card_photo,
    card_photos,
    cut_cards,
    empty_frames,
    rasterise,
    shared_card_set,
)

PHOTO_SEED = 2026
PHOTO_COUNT = 200


@pytest.fixture(scope="module")
def sheet():
    return shared_card_set(12)


@pytest.fixture(scope="module")
def photos(sheet):
    return card_photos(sheet.cards, sheet.payloads, PHOTO_COUNT, seed=PHOTO_SEED)


@pytest.fixture(scope="module")
def worker():
    with DecoderProcess(timeout=20) as process:
        yield process


def qr_png(path: Path, text: str, **options) -> Path:
    code = qrcode.QRCode(**options)
    code.add_data(text)
    code.make(fit=True)
    code.make_image().save(path)
    return path


# ---- distorted photos of printed cards ----------------------------------------------------


def test_distorted_card_photos_decode_at_the_measured_rates(photos):
    """200 photos (rotation, tilt, blur, noise, low contrast, glare, JPEG) of the real cards.

    Measured with this seed: all passes 100 %, the zbar passes alone (no zxing-cpp) 100 %,
    zxing-cpp alone 91.5 %, zbar alone on the plain frame 75 %. Before the card-layout pass
    all passes read 97 %: it reads the six with glare over a finder pattern. The thresholds
    leave room for other zbar, zxing-cpp and OpenCV builds.
    """
    def rate(decode) -> float:
        hits = 0
        for photo in photos:
            texts = decode(photo)
            assert set(texts) <= {photo.payload}, "a wrong text decoded"
            hits += photo.payload in texts
        return hits / len(photos)

    ours = rate(lambda photo: decode_image(photo.image))
    zbar_only = rate(lambda photo: decode_image(photo.image, passes=ZBAR_PASSES))
    zxing_only = rate(lambda photo: scanning.zxing(scanning.load_grey(photo.image)))
    plain_zbar = rate(lambda photo: scanning.zbar(scanning.load_grey(photo.image)))
    assert ours >= 0.985, f"all passes read {ours:.1%}"
    assert zbar_only >= 0.97, f"zbar passes read {zbar_only:.1%}"
    assert ours >= zxing_only and ours >= plain_zbar
    assert zbar_only > plain_zbar + 0.10  # smoothing and thresholding earn their time


def test_the_card_layout_pass_reads_the_glared_photos(photos):
    """The photos the other passes miss (glare over a finder) are read by the card's layout."""
    earlier = PASSES[:-1]
    assert PASSES[-1] is scanning.card_layout
    missed = [photo for photo in photos
              if photo.payload not in decode_image(photo.image, passes=earlier)]
    assert missed and all("glare" in photo.params for photo in missed)
    assert all(scanning.card_layout(scanning.load_grey(photo.image)) == [photo.payload]
               for photo in missed)


def test_photos_without_glare_all_decode(photos):
    clear = [photo for photo in photos if "glare" not in photo.params]
    assert len(clear) > 80
    assert all(photo.payload in decode_image(photo.image) for photo in clear)


def test_the_photo_generator_is_deterministic(sheet):
    first = card_photos(sheet.cards[:2], sheet.payloads[:2], 3, seed=7)
    again = card_photos(sheet.cards[:2], sheet.payloads[:2], 3, seed=7)
    other = card_photos(sheet.cards[:2], sheet.payloads[:2], 3, seed=8)
    assert all(np.array_equal(a.image, b.image) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0].image, other[0].image)
    assert first[0].image.shape == (480, 640, 3) and first[0].image.dtype == np.uint8


# ---- the card-layout pass: glare over a finder pattern -----------------------------------


def finder_centre(finder: str) -> tuple[float, float]:
    """Millimetres from a card's top left to the centre of a finder pattern of its code
    (a version 2 code: 25 modules and the quiet zone in card_sheets.QR_SIZE_MM)."""
    module = card_sheets.QR_SIZE_MM / 33
    near = card_sheets.QUIET_ZONE + 3.5
    far = card_sheets.QUIET_ZONE + 25 - 3.5
    left = card_rescue.QR_LEFT_MM
    top = card_rescue.QR_TOP_MM
    column, row = {"top left": (near, near), "top right": (far, near),
                   "bottom left": (near, far)}[finder]
    return left + column * module, top + row * module


def glared_photo(card: np.ndarray, finder: str = "top left", *, upside_down: bool = False,
                 seed: int = 0) -> np.ndarray:
    """A grey 640 × 480 frame of ``card`` (a card cut from the sheet), turned and tilted,
    with a saturated highlight over one of its code's finder patterns."""
    rng = np.random.default_rng(seed)
    grey = cv2.cvtColor(card, cv2.COLOR_RGB2GRAY).astype(np.float32)
    height, width = grey.shape
    per_mm = width / card_sheets.CARD_WIDTH_MM
    x, y = (value * per_mm for value in finder_centre(finder))
    sigma = 3.5 * card_sheets.QR_SIZE_MM / 33 * per_mm  # 3.5 modules
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    grey += 450 * np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma**2))
    grey = np.clip(grey, 0, 255)
    small = cv2.resize(grey, (width * 2 // 5, height * 2 // 5), interpolation=cv2.INTER_AREA)
    corners = np.float32([[120, 130], [520, 70], [540, 330], [150, 400]])  # turned, tilted
    if upside_down:
        corners = np.roll(corners, 2, axis=0)
    source = np.float32([[0, 0], [small.shape[1], 0], [small.shape[1], small.shape[0]],
                         [0, small.shape[0]]])
    frame = cv2.warpPerspective(small, cv2.getPerspectiveTransform(source, corners),
                                (640, 480), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=90)
    frame = cv2.GaussianBlur(frame, (0, 0), 0.8) + rng.normal(0, 3, frame.shape)
    return np.clip(frame, 0, 255).astype(np.uint8)


@pytest.mark.parametrize(("finder", "upside_down"), [
    ("top left", False), ("top right", False), ("bottom left", True)])
def test_a_card_with_glare_over_a_finder_is_read_by_its_layout(sheet, finder, upside_down):
    frame = glared_photo(sheet.cards[4], finder, upside_down=upside_down)
    grey = scanning.load_grey(frame)
    assert all(decode(grey) == [] for decode in PASSES[:-1])  # the finders are how they look
    assert scanning.card_layout(grey) == [sheet.payloads[4]]
    assert decode_image(frame) == [sheet.payloads[4]]
    assert decode_image(frame, passes=ZBAR_PASSES) == [sheet.payloads[4]]  # no zxing-cpp


@pytest.mark.parametrize("version", [2, 3, 4])
def test_the_repainted_patterns_are_those_of_real_codes(version):
    """What the layout pass repaints (finders, timing, alignment, dark module, format bits)
    is what qrcode draws in every code of that version, at each level and mask."""
    mask, dark = card_rescue.function_modules(version)
    fixed = mask & ~card_rescue.format_places(version)
    for level in "MQ":
        for mask_pattern in range(8):
            code = qrcode.QRCode(version=version, border=0, mask_pattern=mask_pattern,
                                 error_correction={"M": 0, "Q": 3}[level])
            code.add_data("V1.JG0001.1.ABCDEFGHIJKLMNOP")
            code.make(fit=False)
            drawn = np.array(code.get_matrix(), bool)
            reference = card_rescue.reference_code(version, level, mask_pattern)
            assert (drawn[fixed] == dark[fixed]).all()
            assert (drawn[mask | card_rescue.format_places(version)]
                    == reference[mask | card_rescue.format_places(version)]).all()


def test_the_card_layout_pass_is_skipped_without_opencv(sheet, monkeypatch):
    frame = glared_photo(sheet.cards[4])
    monkeypatch.setattr(card_rescue, "_cv2", lambda: None)  # as if OpenCV were not installed
    assert not card_rescue.available()
    assert scanning.card_layout(scanning.load_grey(frame)) == []
    assert decode_image(frame) == []
    assert decode_image(sheet.cards[4]) == [sheet.payloads[4]]  # the other passes still read


def test_a_scrambled_code_on_a_card_reads_as_nothing(sheet):
    """The card's layout with modules that are no valid code: error correction refuses it,
    however the grid is placed and whichever format is guessed. No made-up text."""
    card = sheet.cards[4].copy()
    per_mm = card.shape[1] / card_sheets.CARD_WIDTH_MM
    module = card_sheets.QR_SIZE_MM / 33 * per_mm
    fixed = card_rescue.function_modules(2)[0] | card_rescue.format_places(2)
    rng = np.random.default_rng(11)
    left = card_rescue.QR_LEFT_MM * per_mm + card_sheets.QUIET_ZONE * module
    top = card_rescue.QR_TOP_MM * per_mm + card_sheets.QUIET_ZONE * module
    for row, column in zip(*np.nonzero(~fixed), strict=True):
        if rng.random() < 0.5:  # flip half the data modules
            x0, y0 = round(left + column * module), round(top + row * module)
            x1, y1 = round(left + (column + 1) * module), round(top + (row + 1) * module)
            card[y0:y1, x0:x1] = 255 - card[y0:y1, x0:x1]
    for finder in ("top left", "top right"):
        frame = glared_photo(card, finder)
        assert scanning.card_layout(scanning.load_grey(frame)) == []
        assert decode_image(frame) == []


def test_frames_without_a_code_are_passed_over_before_fitting_a_grid(sheet, monkeypatch):
    """Empty frames (the camera's usual view) and a blank card-shaped rectangle: found
    nothing, without the costly grid fitting (timing: scripts/bench.py)."""
    fits = []
    fit_grid = card_rescue.fit_grid
    monkeypatch.setattr(card_rescue, "fit_grid",
                        lambda *args, **kwargs: fits.append(1) or fit_grid(*args, **kwargs))
    blank = np.full((480, 640), 80, np.uint8)
    cv2.fillConvexPoly(blank, np.int32([[120, 130], [520, 70], [540, 330], [150, 400]]), 230)
    noise = np.random.default_rng(3).integers(0, 256, (480, 640), dtype=np.uint8)
    for frame in [blank, noise, *empty_frames(20, seed=2)]:
        assert scanning.card_layout(scanning.load_grey(frame)) == []
    assert card_rescue.card_quads(blank)  # found as a card's shape, then passed over
    assert len(fits) <= 2


def test_decode_image_takes_paths_bytes_pil_and_arrays(sheet, tmp_path):
    card = sheet.cards[0]
    payload = sheet.payloads[0]
    path = tmp_path / "card.png"
    Image.fromarray(card).save(path)
    assert decode_image(path) == [payload]
    assert decode_image(str(path)) == [payload]
    assert decode_image(path.read_bytes()) == [payload]
    assert decode_image(Image.fromarray(card)) == [payload]
    assert decode_image(card) == [payload]  # RGB (or OpenCV's BGR: the code is black on white)
    assert decode_image(card.min(axis=2)) == [payload]


def test_without_zxing_cpp_zbar_reads_the_cards(sheet, photos, monkeypatch):
    monkeypatch.setattr(scanning, "_zxing_module", lambda: None)  # as if not installed
    assert not scanning.zxing_available()
    assert decode_image(sheet.cards[5]) == [sheet.payloads[5]]
    clear = [photo for photo in photos if "glare" not in photo.params][:40]
    assert sum(photo.payload in decode_image(photo.image) for photo in clear) >= 38


def test_a_large_phone_photo_is_shrunk_and_read(sheet, tmp_path):
    """A 24-megapixel JPEG: decoded small (JPEG draft mode), the card still read."""
    canvas = Image.new("RGB", (6000, 4000), (120, 110, 100))
    card = Image.fromarray(sheet.cards[3]).resize((3000, 1892))
    canvas.paste(card.rotate(12, expand=True, fillcolor=(120, 110, 100)), (1400, 900))
    path = tmp_path / "phone.jpg"
    canvas.save(path, quality=85)
    assert decode_image(path) == [sheet.payloads[3]]


def test_every_pass_is_qr_only(tmp_path):
    """An EAN-13 barcode or other symbologies are not looked for (QR only)."""
    from PIL import ImageDraw

    image = Image.new("L", (400, 200), 255)
    draw = ImageDraw.Draw(image)
    for x in range(40, 360, 6):  # bars, like a 1-D barcode
        draw.rectangle((x, 40, x + 2, 160), fill=0)
    assert all(decode(image) == [] for decode in PASSES)


# ---- garbage: "no card found", never a crash ----------------------------------------------


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG claiming ``width`` × ``height`` with almost no data: a decompression bomb."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))
    return path


@pytest.fixture(scope="module")
def garbage(tmp_path_factory, sheet) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("garbage")
    rng = np.random.default_rng(1)
    files = {}
    files["noise"] = folder / "noise.png"
    Image.fromarray(rng.integers(0, 256, (480, 640), dtype=np.uint8)).save(files["noise"])
    files["blank"] = folder / "blank.png"
    Image.new("L", (640, 480), 255).save(files["blank"])
    files["tiny"] = folder / "tiny.png"
    Image.new("L", (1, 1), 0).save(files["tiny"])
    files["bomb"] = png_header_only(folder / "bomb.png", 60000, 60000)
    files["huge"] = png_header_only(folder / "huge.png", 9000, 6000)
    card_png = folder / "card.png"
    Image.fromarray(sheet.cards[0]).save(card_png)
    files["truncated"] = folder / "truncated.png"
    files["truncated"].write_bytes(card_png.read_bytes()[:2000])
    files["text"] = folder / "notes.txt"
    files["text"].write_text("志愿者名单\nJG0001 张伟\n", encoding="utf-8")
    files["empty"] = folder / "empty.png"
    files["empty"].write_bytes(b"")
    files["missing"] = folder / "no-such-file.png"
    files["directory"] = folder
    return files


@pytest.mark.parametrize(("name", "why"), [
    ("noise", None), ("blank", None), ("tiny", "too small"), ("bomb", "too large"),
    ("huge", "too large"), ("truncated", "truncated"), ("text", "not an image"),
    ("empty", "not an image"), ("missing", "no such file"), ("directory", ""),
])
def test_garbage_gives_no_card_and_never_raises(garbage, worker, name, why):
    result = worker.decode(garbage[name])
    assert result.texts == ()
    if why is None:
        assert result.error is None
        assert decode_image(garbage[name]) == []
    else:
        assert result.error is not None and why in result.error
        with pytest.raises(UnreadableImage):
            decode_image(garbage[name])


@pytest.mark.parametrize("frame", [
    np.zeros((0, 0), np.uint8), np.zeros((480, 640), np.float64), np.zeros((4, 4, 4, 4), np.uint8),
    np.zeros((480, 640, 2), np.uint8), b"not a picture", 42, None,
])
def test_odd_in_memory_pictures_give_an_error_result(worker, frame):
    result = worker.decode(frame)
    assert result.texts == () and result.error


def test_random_frames_never_crash_the_worker(worker):
    rng = np.random.default_rng(5)
    pid = worker.decode(np.zeros((480, 640), np.uint8)) and worker.pid
    for _ in range(20):
        height, width = rng.integers(21, 700, 2)
        frame = rng.integers(0, 256, (height, width), dtype=np.uint8)
        if rng.random() < 0.5:  # blocky noise: finder-pattern-like squares
            frame = np.kron(rng.integers(0, 2, (height // 8 + 1, width // 8 + 1)) * 255,
                            np.ones((8, 8)))[:height, :width].astype(np.uint8)
        assert worker.decode(frame).texts == ()
    assert worker.pid == pid


# ---- other QR codes: refused with a message ---------------------------------------------------

OTHER_CODES = {
    "url": "https://weixin.qq.com/r/AbCdEfGhIj",
    "chinese": "欢迎光临九龙街道社工站",
    "long": "V1." + "A" * 2400,
    "escape": "\x1b[2J\x1b[31mHACKED\x07",
    "looks like a card": "V1.JG0001.1.AAAAAAAAAAAAAAAA",  # forged signature
}


@pytest.mark.parametrize("name", list(OTHER_CODES))
def test_other_codes_are_found_and_are_not_cards(tmp_path, worker, name):
    text = OTHER_CODES[name]
    path = qr_png(tmp_path / "code.png", text, box_size=4)
    result = worker.decode(path)
    assert result.found, result
    assert result.cards() == ([text] if name == "looks like a card" else [])
    if name != "chinese":  # zbar guesses at byte-mode encodings; the point is: not a card
        assert list(result.texts) == [text]
    with pytest.raises(Exception, match=r"not a volunteer card|signature"):
        read_payload(result.texts[0], SECRET)


# ---- the worker process contains crashes and hangs --------------------------------------------


def picky_decoder(image):
    """Hangs, crashes, segfaults or raises on request; decodes anything else."""
    if image == "hang":
        time.sleep(60)
    if image == "exit":
        os._exit(3)
    if image == "segfault":
        ctypes.string_at(0)  # SIGSEGV, as a broken C decoder would
    if image == "raise":
        raise MemoryError("out of memory in the decoder")
    return decode_image(image)


def test_a_hanging_or_crashing_decoder_gives_an_error_result(sheet, tmp_path):
    card = tmp_path / "card.png"
    Image.fromarray(sheet.cards[1]).save(card)
    with DecoderProcess(picky_decoder, timeout=2) as process:
        assert process.decode(card).texts == (sheet.payloads[1],)
        first = process.pid

        started = time.monotonic()
        hung = process.decode("hang")
        assert "took longer than 2 s" in hung.error and time.monotonic() - started < 10
        with pytest.raises(ProcessLookupError):
            os.kill(first, 0)  # the hung worker was killed

        assert process.decode(card).texts == (sheet.payloads[1],)  # a new worker
        assert "crashed (exit code 3)" in process.decode("exit").error
        assert process.decode(card).found
        assert "crashed (exit code -11)" in process.decode("segfault").error
        alive = process.decode(card)
        assert alive.found
        pid = process.pid
        failed = process.decode("raise")
        assert "MemoryError" in failed.error and process.pid == pid  # raised: still alive
        assert process.restarts == 3


def test_decode_contained_in_a_process_of_its_own(sheet, garbage):
    card = sheet.cards[2]
    assert decode_contained(card).texts == (sheet.payloads[2],)
    assert "truncated" in decode_contained(garbage["truncated"]).error
    assert "crashed" in decode_contained("exit", decoder=picky_decoder).error
    assert "longer" in decode_contained("hang", decoder=picky_decoder, timeout=1).error


CAPTURED_STDERR = """
import io, sys

class Capture(io.StringIO):  # what a running Textual app puts in sys.stderr
    def fileno(self):
        return -1

if __name__ == "__main__":
    sys.stderr = Capture()
    from kiosk.cards.scanning import DecoderProcess
    with DecoderProcess() as worker:
        result = worker.decode(sys.argv[1])
    sys.__stdout__.write(repr(result.texts))
"""


def test_the_worker_starts_where_stderr_has_no_file(tmp_path, sheet):
    """Inside a Textual app sys.stderr.fileno() is -1; spawning must still work."""
    card = tmp_path / "card.png"
    Image.fromarray(sheet.cards[4]).save(card)
    script = tmp_path / "captured.py"
    script.write_text(CAPTURED_STDERR, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script), str(card)], capture_output=True,
                          text=True, timeout=60, cwd=Path(__file__).parents[1])
    assert done.returncode == 0, done.stderr
    assert done.stdout == repr((sheet.payloads[4],))


# ---- the camera ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def recording(tmp_path_factory, sheet):
    """An image sequence OpenCV opens like a camera: nothing, card 0, nothing, card 1, card 0."""
    folder = tmp_path_factory.mktemp("camera")
    rng = random.Random(3)
    empty = empty_frames(4, seed=3)
    frames = list(empty)
    for index in (0, 1, 0):
        shots = []
        while len(shots) < 6:
            picture = card_photo(sheet.cards[index], rng)
            if decode_image(picture) == [sheet.payloads[index]]:
                shots.append(picture)
        frames += shots + empty
    for number, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"frame{number:03d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return str(folder / "frame%03d.png"), len(frames)


class Ticks:
    """A clock that moves 0.1 s a frame."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 0.1
        return self.now


def test_camera_reports_each_card_once_while_in_sight(recording, sheet):
    source, count = recording
    assert Camera.available()
    reported = []
    with Camera(source, clock=Ticks(), repeat_after=1.0) as camera:
        for _ in range(count + 5):
            texts = camera.scan()
            if texts is None:
                break
            reported += texts
    # Card 0 was out of sight for 1.6 s before it came back: reported again.
    assert reported == [sheet.payloads[0], sheet.payloads[1], sheet.payloads[0]]
    assert camera.errors == []


def test_camera_scans_in_a_background_thread(recording, sheet):
    source, _count = recording
    seen: list[str] = []
    ended: list[str] = []
    camera = Camera(source, repeat_after=60)
    try:
        camera.start(seen.append, interval=0.0, on_error=ended.append)
        deadline = time.monotonic() + 30
        while not ended and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        camera.close()
    assert seen == [sheet.payloads[0], sheet.payloads[1]]
    assert ended and "gives no frames" in ended[0]


def test_camera_that_cannot_be_opened(tmp_path):
    with pytest.raises(CameraError, match="could not be opened"):
        Camera(str(tmp_path / "none%03d.png")).open()


def test_camera_without_opencv(monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 now raises ImportError
    assert not Camera.available()
    with pytest.raises(CameraError, match=r"pip install 'shegong-kiosk\[camera\]'"):
        Camera(0).open()


# ---- kiosk volunteer cards / scan ------------------------------------------------------------


@pytest.fixture
def run(tmp_path: Path):
    runner = CliRunner()
    base = ["--db", str(tmp_path / "kiosk.db"), "--config", str(tmp_path / "config.toml"),
            "--kiosk-id", "office"]
    (tmp_path / "config.toml").write_text('[station]\nname = "九龙街道社工站"\n',
                                          encoding="utf-8")

    def invoke(*arguments: str):
        return runner.invoke(main, [*base, *arguments], env={"COLUMNS": "160"})

    return invoke


def add_roster(run) -> None:
    for number, name, team in (("JG0001", "陈晓燕", "心语志愿服务队"), ("JG0002", "王建国", ""),
                               ("JG0003", "李梅", "五老志愿服务队")):
        result = run("volunteer", "add", number, name, "--phone", "13912345678", "--team", team)
        assert result.exit_code == 0, result.output


def test_cli_cards_choose_volunteers_and_make_the_secret(run, tmp_path):
    add_roster(run)
    assert "suspended" in run("volunteer", "suspend", "JG0003").output
    result = run("volunteer", "cards", "-o", str(tmp_path / "all.pdf"))
    assert result.exit_code == 0, result.output
    assert "made the card secret" in result.output
    assert "no card for suspended volunteers: JG0003 李梅" in result.output
    assert "2 cards on 1 A4 page;" in result.output  # once "1 A4 pages"
    assert (tmp_path / "card-secret").exists()

    one = run("volunteer", "cards", "jg0002", "-o", str(tmp_path / "one.pdf"))
    assert one.exit_code == 0 and "1 card on 1 A4 page;" in one.output
    assert "made the card" not in one.output
    team = run("volunteer", "cards", "--team", "心语志愿服务队", "-o", str(tmp_path / "t.pdf"))
    assert team.exit_code == 0 and "1 card on" in team.output
    unknown = run("volunteer", "cards", "--number", "JG0001", "--number", "JG0404",
                  "-o", str(tmp_path / "x.pdf"))
    assert unknown.exit_code == 1 and "not on the roster: JG0404" in unknown.output
    nobody = run("volunteer", "cards", "JG0003", "-o", str(tmp_path / "x.pdf"))
    assert nobody.exit_code == 1 and "no volunteers to make cards for" in nobody.output
    assert not (tmp_path / "x.pdf").exists()


def test_cli_scan_says_whose_card_or_why_not(run, tmp_path):
    add_roster(run)
    made = run("volunteer", "cards", "-o", str(tmp_path / "cards.pdf"))
    assert made.exit_code == 0, made.output
    cards = cut_cards(rasterise(tmp_path / "cards.pdf", 200), 3, 200)
    assert len(cards) <= CARDS_PER_PAGE
    images = {}
    for name, card in zip(("good", "old", "suspended"), cards, strict=True):
        images[name] = tmp_path / f"{name}.png"
        Image.fromarray(card).save(images[name])
    rng = random.Random(11)
    while True:  # a camera photo of the good card
        photo = card_photo(cards[0], rng)
        if decode_image(photo):
            break
    images["photo"] = tmp_path / "photo.jpg"
    Image.fromarray(photo).save(images["photo"], quality=80)
    assert run("volunteer", "reissue", "JG0002").exit_code == 0
    assert run("volunteer", "suspend", "JG0003").exit_code == 0
    images["url"] = qr_png(tmp_path / "url.png", OTHER_CODES["url"])
    images["escape"] = qr_png(tmp_path / "escape.png", OTHER_CODES["escape"])
    images["forged"] = qr_png(tmp_path / "forged.png", make_payload("JG0001", 1, b"x" * 32))
    images["unknown"] = qr_png(tmp_path / "unknown.png",
                               make_payload("JG0999", 1, _secret(tmp_path)))
    images["noise"] = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (480, 640), np.uint8)).save(
        images["noise"])
    images["text"] = tmp_path / "notes.txt"
    images["text"].write_text("not a picture", encoding="utf-8")

    result = run("volunteer", "scan", *map(str, images.values()))
    assert result.exit_code == 1
    said = dict(line.split(": ", 1) for line in result.output.splitlines()
                if line.startswith(str(tmp_path)))
    said = {Path(key).stem: value for key, value in said.items()}
    assert said["good"] == "JG0001 陈晓燕, 心语志愿服务队, card 1"
    assert said["photo"] == "JG0001 陈晓燕, 心语志愿服务队, card 1"
    assert said["old"] == "refused: old card (replaced by a newer one) — JG0002 王建国"
    assert said["suspended"] == "refused: suspended — JG0003 李梅"
    assert said["url"] == ("refused: not a volunteer card: "
                           "'https://weixin.qq.com/r/AbCdEfGhIj'")
    assert said["escape"].startswith("refused: not a volunteer card: '\\x1b[2J")
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert said["forged"].startswith("refused: not a card of this station")
    assert said["unknown"] == "refused: no such volunteer on the roster"
    assert said["noise"] == NO_CARD
    assert said["notes"].startswith(f"{NO_CARD} (not an image file")
    assert "8 of 10 images refused" in result.output

    good = run("volunteer", "scan", str(images["good"]), str(images["photo"]))
    assert good.exit_code == 0, good.output


def _secret(folder: Path) -> bytes:
    from kiosk.cards.payload import load_secret

    return load_secret(folder / "card-secret")


def test_cli_scan_without_cards_set_up(run, tmp_path):
    path = qr_png(tmp_path / "url.png", "https://example.com")
    result = run("volunteer", "scan", str(path))
    assert result.exit_code == 1
    assert "volunteer cards are not set up here" in result.output
    assert not (tmp_path / "card-secret").exists()

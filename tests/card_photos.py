"""Distorted photos of real volunteer cards, for the scanning tests and the bench.

The cards come from the real card sheet: ``kiosk.cards.sheets.card_sheet_pdf`` writes the PDF,
pdftoppm rasterises it (300 dpi, like a printout), and each card is cut out at its place on
the page. A photo puts one card in a 640 × 480 colour frame as a kiosk's webcam would see
it, everything drawn from a seeded ``random.Random``:

- geometry: a pinhole camera (60° field of view) looking at the card turned in its plane
  (any angle) and tilted up to 35° about both axes, at a distance where the card spans
  40–85 % of the frame width (about 2–4 pixels a QR module), anywhere in the frame;
- lighting: a cluttered background, uneven light across the frame, low contrast (the
  card's black-to-white range down to 35 %), a dim or bright exposure, and in half of the
  photos a patch of glare (a saturated highlight 6–15 % of the card wide, anywhere on the
  card, so sometimes on the code);
- the camera: defocus or motion blur, sensor noise, and MJPEG compression (quality 55–90).

Each distortion's range is what a card held up to a kiosk camera meets; none is tuned to a
decoder. ``Photo.params`` records what was applied, for reading a failure.
"""

from __future__ import annotations

import atexit
import functools
import math
import random
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from kiosk.cards.payload import make_payload
from kiosk.cards.sheets import CARDS_PER_PAGE, card_box, card_sheet_pdf

FRAME = (640, 480)  # width, height: a common webcam mode
DPI = 300
SECRET = b"card-photos-test-secret-32-bytes"
STATION = "九龙街道社工站"
NAMES = ["张伟", "王秀英", "李娜", "刘洋", "陈静", "杨帆", "赵敏", "黄建国", "周丽华", "吴磊",
         "欧阳明月", "马晓东", "阿依古丽", "徐志强", "孙桂英", "朱海燕", "胡军", "郭子涵"]
TEAMS = ["为老服务队", "儿童关爱队", "社区环境队", None, "法律咨询服务队"]


@dataclass(frozen=True)
class SampleVolunteer:
    """Volunteer-like: what a card needs (number, name, team, card serial)."""

    number: str
    name: str
    team: str | None
    card_serial: int


@dataclass
class Photo:
    image: np.ndarray  # H × W × 3, uint8, RGB
    payload: str  # what the card's QR code holds
    params: dict[str, Any] = field(default_factory=dict)


def sample_volunteers(count: int) -> list[SampleVolunteer]:
    """``count`` volunteers with Chinese names, a few teams and serials 1–3."""
    return [SampleVolunteer(f"JG{index + 1:04d}", NAMES[index % len(NAMES)],
                            TEAMS[index % len(TEAMS)], 1 + index % 3)
            for index in range(count)]


def rasterise(pdf: Path, dpi: int = DPI, *, gray: bool = False) -> list[np.ndarray]:
    """The PDF's pages as images (RGB, or greyscale with ``gray``), through pdftoppm."""
    with tempfile.TemporaryDirectory(prefix="card-pages-") as directory:
        prefix = Path(directory) / "page"
        subprocess.run(["pdftoppm", "-r", str(dpi), "-png", *(["-gray"] if gray else []),
                        str(pdf), str(prefix)], check=True, capture_output=True, timeout=120)
        pages = []
        for path in sorted(Path(directory).glob("page-*.png"),
                           key=lambda item: int(item.stem.split("-")[-1])):
            image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR)
            pages.append(image if gray else cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        return pages


def cut_cards(pages: Sequence[np.ndarray], count: int, dpi: int = DPI) -> list[np.ndarray]:
    """The first ``count`` cards cut out of the rasterised pages, at their boxes."""
    scale = dpi / 25.4
    cards = []
    for index in range(count):
        page = pages[index // CARDS_PER_PAGE]
        box = card_box(index % CARDS_PER_PAGE)
        cards.append(page[round(box.top * scale):round(box.bottom * scale),
                          round(box.left * scale):round(box.right * scale)].copy())
    return cards


@dataclass
class CardSet:
    """A card sheet of sample volunteers, its rasterised pages and the cards cut out."""

    pdf: Path
    volunteers: list[SampleVolunteer]
    pages: list[np.ndarray]  # RGB, at ``dpi``
    cards: list[np.ndarray]
    payloads: list[str]
    dpi: int


def card_set(workdir: Path, count: int, dpi: int = DPI) -> CardSet:
    """Write a sheet of ``count`` sample cards, rasterise it and cut the cards out."""
    volunteers = sample_volunteers(count)
    pdf = card_sheet_pdf(volunteers, STATION, SECRET, workdir / "cards.pdf")
    pages = rasterise(pdf, dpi)
    payloads = [make_payload(item.number, item.card_serial, SECRET) for item in volunteers]
    return CardSet(pdf, volunteers, pages, cut_cards(pages, count, dpi), payloads, dpi)


@functools.cache
def shared_card_set(count: int = 12, dpi: int = DPI) -> CardSet:
    """One card set per test session (rasterising takes a second or two), in a temp dir."""
    workdir = Path(tempfile.mkdtemp(prefix="card-set-"))
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    return card_set(workdir, count, dpi)


# ---- one photo ------------------------------------------------------------------------------


def _background(rng: random.Random, size: tuple[int, int]) -> np.ndarray:
    """A desk or a sleeve: a colour, a light gradient and a few blurred shapes."""
    width, height = size
    base = np.array([rng.randint(40, 200) for _ in range(3)], dtype=np.float32)
    image = np.empty((height, width, 3), np.float32)
    image[:] = base
    for _ in range(rng.randint(2, 6)):
        colour = tuple(float(rng.randint(0, 255)) for _ in range(3))
        x, y = rng.randint(-100, width), rng.randint(-100, height)
        if rng.random() < 0.5:
            cv2.rectangle(image, (x, y), (x + rng.randint(40, 300), y + rng.randint(20, 200)),
                          colour, -1)
        else:
            cv2.line(image, (x, y), (rng.randint(0, width), rng.randint(0, height)), colour,
                     rng.randint(1, 8))
    return cv2.GaussianBlur(image, (0, 0), rng.uniform(1.5, 5))


def _corners(rng: random.Random, card_size: tuple[int, int], frame: tuple[int, int],
             params: dict[str, Any]) -> np.ndarray:
    """Where the card's corners land in the frame: a pinhole camera looking at a card."""
    width, height = frame
    focal = width / 2 / math.tan(math.radians(60) / 2)
    aspect = card_size[1] / card_size[0]
    for _attempt in range(100):
        spin = rng.uniform(-180, 180)
        tilt_x, tilt_y = rng.uniform(-35, 35), rng.uniform(-35, 35)
        span = rng.uniform(0.40, 0.85)  # card width / frame width, seen face-on
        half_w, half_h = 0.5, 0.5 * aspect  # card units: its width is 1
        points = np.array([[-half_w, -half_h, 0], [half_w, -half_h, 0], [half_w, half_h, 0],
                           [-half_w, half_h, 0]], dtype=np.float64)
        a, b, c = (math.radians(value) for value in (tilt_x, tilt_y, spin))
        rot_x = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a),
                                                                       math.cos(a)]])
        rot_y = np.array([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0,
                                                                      math.cos(b)]])
        rot_z = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0],
                          [0, 0, 1]])
        turned = points @ (rot_x @ rot_y @ rot_z).T
        distance = focal / (span * width)  # card width 1 spans span * width pixels
        turned[:, 2] += distance
        projected = focal * turned[:, :2] / turned[:, 2:3]
        low, high = projected.min(axis=0), projected.max(axis=0)
        room_x = width - 16 - (high[0] - low[0])
        room_y = height - 16 - (high[1] - low[1])
        if room_x < 0 or room_y < 0:
            continue  # too big for the frame at this angle: draw again
        shift_x = 8 - low[0] + rng.uniform(0, room_x)
        shift_y = 8 - low[1] + rng.uniform(0, room_y)
        params.update(spin=round(spin), tilt=(round(tilt_x), round(tilt_y)),
                      span=round(span, 2))
        return (projected + np.array([shift_x, shift_y])).astype(np.float32)
    raise RuntimeError("no card placement fits the frame")


def card_photo(card: np.ndarray, rng: random.Random, frame: tuple[int, int] = FRAME,
               params: dict[str, Any] | None = None) -> np.ndarray:
    """One camera frame (RGB, uint8) showing ``card`` distorted as described above."""
    params = {} if params is None else params
    width, height = frame
    if card.ndim == 2:
        card = cv2.cvtColor(card, cv2.COLOR_GRAY2RGB)
    card_h, card_w = card.shape[:2]
    target = _corners(rng, (card_w, card_h), frame, params)
    # Shrink with area averaging first (what a lens and sensor do), then warp: a warp alone
    # would alias the 300 dpi print down to a few pixels a module.
    seen_width = float(np.linalg.norm(target[1] - target[0]))
    factor = min(1.0, 1.5 * seen_width / card_w)
    small = cv2.resize(card, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    small_h, small_w = small.shape[:2]
    source = np.array([[0, 0], [small_w, 0], [small_w, small_h], [0, small_h]], np.float32)
    homography = cv2.getPerspectiveTransform(source, target)
    warped = cv2.warpPerspective(small.astype(np.float32), homography, frame,
                                 flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.ones((small_h, small_w), np.float32), homography, frame,
                               flags=cv2.INTER_LINEAR)[..., None]
    image = _background(rng, frame) * (1 - mask) + warped * mask

    # Light: uneven across the frame, an exposure, then the contrast squeezed.
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    ramp = (xs * math.cos(angle) + ys * math.sin(angle)) / max(width, height)
    unevenness = rng.uniform(0, 0.35)
    light = 1 - unevenness * (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    exposure = rng.uniform(0.6, 1.1)
    contrast = rng.uniform(0.35, 1.0)
    image = image * (light * exposure)[..., None]
    image = (image - 128) * contrast + 128 + rng.uniform(-20, 20)
    params.update(exposure=round(exposure, 2), contrast=round(contrast, 2),
                  unevenness=round(unevenness, 2))

    if rng.random() < 0.5:  # glare: a saturated highlight somewhere on the card
        u, v = rng.random(), rng.random()
        top = target[0] + (target[1] - target[0]) * u
        bottom = target[3] + (target[2] - target[3]) * u
        centre = top + (bottom - top) * v
        sigma = rng.uniform(0.04, 0.10) * seen_width
        peak = rng.uniform(120, 280)
        blob = peak * np.exp(-((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2) / (2 * sigma**2))
        image = image + blob[..., None]
        params.update(glare=(round(u, 2), round(v, 2), round(sigma), round(peak)))

    image = np.clip(image, 0, 255)
    if rng.random() < 0.5:
        sigma = rng.uniform(0.3, 1.4)
        image = cv2.GaussianBlur(image, (0, 0), sigma)
        params["defocus"] = round(sigma, 2)
    else:
        length = rng.randint(1, 5)
        kernel = np.zeros((9, 9), np.float32)
        kernel[4, 4 - length // 2:4 - length // 2 + length] = 1 / length
        rotation = cv2.getRotationMatrix2D((4, 4), rng.uniform(0, 180), 1)
        kernel = cv2.warpAffine(kernel, rotation, (9, 9))
        image = cv2.filter2D(image, -1, kernel / max(float(kernel.sum()), 1e-6))
        params["motion"] = length
    noise = rng.uniform(2, 12)
    numpy_rng = np.random.default_rng(rng.getrandbits(32))
    image = image + numpy_rng.normal(0, noise, image.shape)
    params["noise"] = round(noise, 1)
    image = np.clip(image, 0, 255).astype(np.uint8)
    quality = rng.randint(55, 90)
    _, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    params["jpeg"] = quality
    return cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)


def card_photos(cards: Sequence[np.ndarray], payloads: Sequence[str], count: int,
                seed: int, frame: tuple[int, int] = FRAME) -> list[Photo]:
    """``count`` photos, cycling through the cards; the same seed gives the same photos."""
    rng = random.Random(seed)
    photos = []
    for index in range(count):
        params: dict[str, Any] = {"card": index % len(cards)}
        image = card_photo(cards[index % len(cards)], rng, frame, params)
        photos.append(Photo(image, payloads[index % len(cards)], params))
    return photos


def empty_frames(count: int, seed: int, frame: tuple[int, int] = FRAME) -> list[np.ndarray]:
    """Camera frames with no card in them (what the kiosk's camera sees most of the time)."""
    rng = random.Random(seed)
    frames = []
    for _ in range(count):
        image = _background(rng, frame) + np.random.default_rng(rng.getrandbits(32)).normal(
            0, 4, (frame[1], frame[0], 3))
        frames.append(np.clip(image, 0, 255).astype(np.uint8))
    return frames

"""A last pass for camera frames: read a card's QR code from the card's known layout.

Glare over one of the code's three finder patterns (the big squares) stops zxing-cpp and
zbar: they find a code by its finders. But a volunteer card is not any QR code: it is an
ID-1 card (85.6 × 54 mm) with the code at a fixed place and size (``kiosk.cards.sheets``),
error correction Q, version 2–4 (by the length of the volunteer number). So this pass:

1. finds bright card-shaped quadrilaterals in the frame (OpenCV contours); none: done;
2. places the code's module grid by the card's corners, in both ways up (a card held
   upside down), and fits it to the image by the patterns every code of that version
   has (finders, separators, timing, alignment, quiet zone) — the corners of a blurred
   card are a module or so off;
3. reads each module as darker or lighter than its neighbourhood, repaints the fixed
   patterns (and the format bits, the closest valid ones) and hands a clean bitmap to
   zxing-cpp (or zbar). The data modules under the glare are wrong or guessed; the code's
   error correction mends them, or the decoder finds nothing.

A wrongly placed grid cannot make up a card: what the Reed–Solomon decoding accepts is
still checked by its HMAC signature (``kiosk.cards.read_payload``). OpenCV is needed (the
``camera`` extra); without it this pass finds nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

from kiosk.cards.sheets import CARD_HEIGHT_MM, CARD_WIDTH_MM, QR_SIZE_MM, QUIET_ZONE, SAFE_MM

QR_LEFT_MM = CARD_WIDTH_MM - SAFE_MM - QR_SIZE_MM  # where cards/sheets.py draws the code
QR_TOP_MM = (CARD_HEIGHT_MM - QR_SIZE_MM) / 2
VERSIONS = (2, 3, 4)  # card payloads of 23 to 51 characters, at level Q or M
MIN_CARD_AREA = 0.04  # of the frame: smaller cards have modules too small to read
MAX_CANDIDATES = 3  # quadrilaterals tried per frame, largest first
MIN_FIT = 0.45  # correlation of the fixed patterns below which no code is there
GIVE_UP = 0.3  # ... after the first, coarse fit: not a code, stop there
MIN_TEXTURE = 8.0  # grey levels between neighbouring modules below which no code is there


@functools.cache
def _cv2() -> Any:
    try:
        import cv2
    except ImportError:
        return None
    return cv2


def available() -> bool:
    """Can this pass run (OpenCV installed)?"""
    return _cv2() is not None


# ---- finding the card ---------------------------------------------------------------------


def card_quads(grey: Any, keep: Callable[[Any], bool] | None = None) -> list[Any]:
    """Corners (4 × 2 float32, clockwise on screen) of bright card-shaped regions.

    Largest first. A card is lighter than most of what is around it: the regions are
    above Otsu's threshold on the smoothed frame, and above a higher one too (halfway to
    the bright regions' median), which parts a card from a lighter desk or paper it
    touches. Each side is fitted as a line through its contour points, so the corners are
    not the contour's pixel-rounded, blur-rounded tips, nor pulled off by glare that spills
    over an edge. ``keep`` (given rough corners) drops a region before that fitting.
    """
    import numpy as np

    cv2 = _cv2()
    # At half size: a card is large, its sides long; a quarter of the pixels to look at.
    shrink = 2 if min(grey.shape) >= 320 else 1
    if shrink > 1:
        grey = cv2.resize(grey, (grey.shape[1] // shrink, grey.shape[0] // shrink),
                          interpolation=cv2.INTER_AREA)
    height, width = grey.shape
    smooth = cv2.GaussianBlur(grey, (3, 3), 0)
    otsu, bright = cv2.threshold(smooth, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    above = smooth[bright > 0]
    levels = [bright]
    if above.size:
        higher = (otsu + float(np.median(above))) / 2
        levels.append(cv2.threshold(smooth, higher, 255, cv2.THRESH_BINARY)[1])
    seen: list[Any] = []
    quads: list[Any] = []
    for binary in levels:
        contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        for contour in sorted(contours, key=cv2.contourArea, reverse=True)[:4]:
            if cv2.contourArea(contour) < MIN_CARD_AREA * width * height:
                break
            rough = _rough_quad(contour)
            if rough is None or any(np.abs(rough - other).max() < 4 for other in seen):
                continue
            seen.append(rough)
            # A small pixel's centre, in the frame's pixels.
            if keep is not None and not keep(rough * shrink + (shrink - 1) / 2):
                continue
            quad = _refined_quad(contour, rough)
            if quad is not None:
                quads.append(quad * shrink + (shrink - 1) / 2)
    quads.sort(key=lambda quad: -cv2.contourArea(quad))
    return quads[:MAX_CANDIDATES]


def _rough_quad(contour: Any) -> Any:
    """The quadrilateral a contour's hull simplifies to (clockwise), or None."""
    import numpy as np

    cv2 = _cv2()
    hull = cv2.convexHull(contour)
    perimeter = cv2.arcLength(hull, True)
    for epsilon in (0.02, 0.04, 0.07):
        corners = cv2.approxPolyDP(hull, epsilon * perimeter, True)
        if len(corners) <= 4:
            break
    if len(corners) != 4:
        return None
    corners = corners.reshape(4, 2).astype(np.float32)
    sides = np.linalg.norm(corners - np.roll(corners, -1, axis=0), axis=1)
    ratio = (sides[0] + sides[2]) / (sides[1] + sides[3])
    if not 1 / 2.4 < ratio < 2.4:
        return None  # a card's sides are 1.6 : 1, less or more when tilted
    return _clockwise(corners)


def _refined_quad(contour: Any, corners: Any) -> Any:
    """The rough corners made the crossings of the sides' fitted lines, or None."""
    cv2 = _cv2()
    points = contour.reshape(-1, 2).astype("float32")
    for band in (0.06, 0.015):  # rough corners first, then the lines through them
        refined = _fit_sides(points, corners, band)
        if refined is None:
            return None
        corners = refined
    if cv2.contourArea(contour) < 0.8 * cv2.contourArea(corners):
        return None  # not filled: a frame, a ring, a shape with a bite out of it
    return corners


def _fit_sides(points: Any, corners: Any, band: float) -> Any:
    """Corners as the crossings of lines fitted to the contour between rough corners."""
    import numpy as np

    cv2 = _cv2()
    lines = []
    for index in range(4):
        start, end = corners[index], corners[(index + 1) % 4]
        direction = end - start
        length = float(np.linalg.norm(direction))
        if length < 8:
            return None
        direction /= length
        normal = np.array([-direction[1], direction[0]])
        along = (points - start) @ direction
        across = (points - start) @ normal
        # The middle of the side: the corners are rounded by blur and the threshold.
        near = (np.abs(across) < max(1.5, band * length)) & (along > 0.12 * length) & (
            along < 0.88 * length)
        if near.sum() < 6:
            return None
        vx, vy, x0, y0 = cv2.fitLine(points[near], cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
        lines.append((np.array([x0, y0]), np.array([vx, vy])))
    refined = []
    for index in range(4):
        (p1, d1), (p2, d2) = lines[index - 1], lines[index]
        matrix = np.array([d1, -d2]).T
        if abs(np.linalg.det(matrix)) < 1e-3:
            return None
        t = np.linalg.solve(matrix, p2 - p1)
        corner = p1 + t[0] * d1
        if np.linalg.norm(corner - corners[index]) > 0.15 * float(np.linalg.norm(
                corners[index] - corners[(index + 2) % 4])):
            return None
        refined.append(corner)
    return np.array(refined, np.float32)


def _clockwise(corners: Any) -> Any:
    """The corners in clockwise order on screen (y down), as a card seen from the front is."""
    import numpy as np

    x, y = corners[:, 0], corners[:, 1]
    signed = float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))
    return corners if signed > 0 else corners[::-1].copy()


# ---- the code's fixed patterns ------------------------------------------------------------


@functools.cache
def function_modules(version: int) -> tuple[Any, Any]:
    """(mask, dark): which modules every code of ``version`` has fixed, and which are dark.

    Finders with separators, timing, alignment (versions 2–6: one) and the dark module.
    The format bits depend on the level and mask: ``format_places``, ``reference_code``.
    """
    import numpy as np

    size = 17 + 4 * version
    mask = np.zeros((size, size), bool)
    dark = np.zeros((size, size), bool)
    for top, left in ((0, 0), (0, size - 7), (size - 7, 0)):
        mask[max(top - 1, 0):top + 8, max(left - 1, 0):left + 8] = True  # with separator
        dark[top:top + 7, left:left + 7] = True
        dark[top + 1:top + 6, left + 1:left + 6] = False
        dark[top + 2:top + 5, left + 2:left + 5] = True
    mask[6, 8:size - 8] = mask[8:size - 8, 6] = True
    dark[6, 8:size - 8:2] = dark[8:size - 8:2, 6] = True
    if version >= 2:
        centre = size - 7
        mask[centre - 2:centre + 3, centre - 2:centre + 3] = True
        dark[centre - 2:centre + 3, centre - 2:centre + 3] = True
        dark[centre - 1:centre + 2, centre - 1:centre + 2] = False
        dark[centre, centre] = True
    mask[size - 8, 8] = dark[size - 8, 8] = True  # the dark module
    return mask, dark


@functools.cache
def format_places(version: int) -> Any:
    """Where the 15 format bits lie (both copies): a boolean mask."""
    import numpy as np

    size = 17 + 4 * version
    places = np.zeros((size, size), bool)
    places[8, 0:9] = places[0:9, 8] = True
    places[8, size - 8:] = places[size - 7:, 8] = True
    places[6, 8] = places[8, 6] = False  # timing
    return places


@functools.cache
def reference_code(version: int, level: str, mask_pattern: int) -> Any:
    """A code of ``version``, ``level`` and ``mask_pattern``: its fixed and format modules."""
    import numpy as np
    import qrcode

    levels = {"L": 1, "M": 0, "Q": 3, "H": 2}
    code = qrcode.QRCode(version=version, error_correction=levels[level], border=0,
                         mask_pattern=mask_pattern)
    code.add_data("V1")
    code.make(fit=False)
    return np.array(code.get_matrix(), bool)


# ---- fitting the module grid --------------------------------------------------------------


@functools.cache
def _template(version: int) -> tuple[Any, Any]:
    """Grid points (row, column, module centres) of the fixed modules and the quiet zone
    ring next to the code, with +1 for light and -1 for dark."""
    import numpy as np

    size = 17 + 4 * version
    mask, dark = function_modules(version)
    mask = mask & ~format_places(version)
    rows, cols = np.nonzero(mask)
    values = np.where(dark[rows, cols], -1.0, 1.0)
    ring = [(-1, i) for i in range(-1, size + 1)] + [(size, i) for i in range(-1, size + 1)]
    ring += [(i, -1) for i in range(size)] + [(i, size) for i in range(size)]
    ring_rows, ring_cols = np.array(ring).T
    points = np.stack([np.concatenate([cols, ring_cols]) + 0.5,
                       np.concatenate([rows, ring_rows]) + 0.5], axis=1)
    return points.astype(np.float32), np.concatenate([values, np.ones(len(ring))])


def _sample(contrast: Any, corners: Any, size: int, points: Any) -> Any:
    """Values of ``contrast`` at grid ``points`` (x, y in modules) of the code whose
    module-area corners are ``corners`` (clockwise from the top left)."""
    import numpy as np

    cv2 = _cv2()
    square = np.array([[0, 0], [size, 0], [size, size], [0, size]], np.float32)
    homography = cv2.getPerspectiveTransform(square, corners.astype(np.float32))
    mapped = cv2.perspectiveTransform(points.reshape(-1, 1, 2), homography).reshape(-1, 2)
    xs = mapped[:, 0].reshape(1, -1).astype(np.float32)
    ys = mapped[:, 1].reshape(1, -1).astype(np.float32)
    return cv2.remap(contrast, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)[0]


def _fit_score(contrast: Any, corners: Any, version: int) -> float:
    """How well the fixed patterns match the picture there: a correlation, -1 to 1."""
    import numpy as np

    points, expected = _template(version)
    values = _sample(contrast, corners, 17 + 4 * version, points)
    values = values - values.mean()
    norm = float(np.linalg.norm(values)) * float(np.linalg.norm(expected - expected.mean()))
    if norm == 0:
        return -1.0
    return float(values @ (expected - expected.mean())) / norm


def fit_grid(contrast: Any, corners: Any, version: int, module: float) -> tuple[Any, float]:
    """Move the code's corners (a module, then less) while the fixed patterns match better.

    Coordinate ascent on the 8 corner coordinates; ``module`` is the module's size in
    pixels. Returns the corners and their score.
    """
    import numpy as np

    best = corners.astype(np.float32)
    score = _fit_score(contrast, best, version)
    for step in (1.0, 0.5, 0.25):
        # The whole grid first: the card's corners tend to be off all the same way.
        for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            trial = best + np.float32(step * module) * np.array([dx, dy], np.float32)
            trial_score = _fit_score(contrast, trial, version)
            if trial_score > score:
                best, score = trial, trial_score
        improved = True
        rounds = 0
        while improved and rounds < 6:
            improved = False
            rounds += 1
            for corner in range(4):
                for axis in range(2):
                    for sign in (1, -1):
                        trial = best.copy()
                        trial[corner, axis] += sign * step * module
                        trial_score = _fit_score(contrast, trial, version)
                        if trial_score > score:
                            best, score, improved = trial, trial_score, True
                            break
        if score < GIVE_UP:
            break  # nothing like a code's patterns here: not worth the finer steps
    return best, score


# ---- reading the modules ------------------------------------------------------------------


def _modules(contrast: Any, corners: Any, version: int) -> Any:
    """Each module's contrast (negative: darker than around it), size × size."""
    import numpy as np

    size = 17 + 4 * version
    grid = (np.mgrid[0:size, 0:size][::-1].reshape(2, -1).T + 0.5).astype(np.float32)
    return _sample(contrast, corners, size, grid).reshape(size, size)


def _formats(bits: Any, version: int, levels: tuple[str, ...]) -> list[tuple[int, str, int]]:
    """(distance, level, mask) for each level and mask, closest format bits first."""
    places = format_places(version)
    found = []
    for level in levels:
        for mask_pattern in range(8):
            reference = reference_code(version, level, mask_pattern)
            distance = int((reference[places] != bits[places]).sum())
            found.append((distance, level, mask_pattern))
    return sorted(found)


def _render(bits: Any, scale: int = 4) -> Any:
    """A clean picture of the code: black modules, 4 modules of white around."""
    import numpy as np

    padded = np.pad(bits, QUIET_ZONE, constant_values=False)
    picture = np.where(padded, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(np.kron(picture, np.ones((scale, scale), np.uint8)))


def read_grid(values: Any, version: int, decode: Callable[[Any], list[str]],
              accept: Callable[[str], bool]) -> list[str]:
    """Decode sampled module contrasts: repaint the fixed modules, try the likeliest formats."""
    import numpy as np

    dark = values < 0  # darker than the module's surroundings
    fixed, _ = function_modules(version)
    places = fixed | format_places(version)
    # The format bits under glare read wrong: the closest valid ones (two copies of 15
    # bits; valid ones differ in at least 7 a copy) replace them, with the next closest
    # as a fallback. The decoder's Reed-Solomon check rejects a wrong guess.
    for distance, level, mask_pattern in _formats(dark, version, ("Q", "M"))[:3]:
        if distance > 10:
            break
        bits = np.where(places, reference_code(version, level, mask_pattern), dark)
        texts = decode(_render(bits))
        if any(accept(text) for text in texts):
            return texts
    return []


def _local_contrast(grey: Any, module: float) -> Any:
    """Each pixel minus the mean around it (about 5 modules): darker is negative."""
    import numpy as np

    cv2 = _cv2()
    picture = grey.astype(np.float32)
    small = max(1, round(module * 0.25)) * 2 + 1
    smooth = cv2.GaussianBlur(picture, (small, small), 0)
    wide = max(3, round(module * 2.5)) * 2 + 1
    around = cv2.boxFilter(picture, -1, (wide, wide))
    return smooth - around


def _orientations(card: Any) -> Iterator[Any]:
    """The card's corners from its top-left, long side first, both ways up."""
    import numpy as np

    sides = np.linalg.norm(card - np.roll(card, -1, axis=0), axis=1)
    start = 0 if sides[0] + sides[2] >= sides[1] + sides[3] else 1
    for turn in (start, start + 2):
        yield np.roll(card, -turn, axis=0)


def code_corners(card: Any, version: int) -> Any:
    """Where the code's module area lies in the frame, given the card's corners."""
    import numpy as np

    cv2 = _cv2()
    outline = np.array([[0, 0], [CARD_WIDTH_MM, 0], [CARD_WIDTH_MM, CARD_HEIGHT_MM],
                        [0, CARD_HEIGHT_MM]], np.float32)
    homography = cv2.getPerspectiveTransform(outline, card.astype(np.float32))
    size = 17 + 4 * version
    module = QR_SIZE_MM / (size + 2 * QUIET_ZONE)
    left, top = QR_LEFT_MM + QUIET_ZONE * module, QR_TOP_MM + QUIET_ZONE * module
    right, bottom = left + size * module, top + size * module
    square = np.array([[left, top], [right, top], [right, bottom], [left, bottom]],
                      np.float32)
    return cv2.perspectiveTransform(square.reshape(-1, 1, 2), homography).reshape(4, 2)


def code_texture(grey: Any, card: Any) -> list[tuple[float, Any]]:
    """(texture, corners) for the card both ways up, the likelier way first.

    The texture is the mean grey difference between neighbouring modules where the code
    would be: the code's black and white modules give tens of grey levels, a plain lit
    rectangle of the background (or the card's text end) little more than noise. Smooth
    light and glare hardly change from one module to the next.
    """
    import numpy as np

    cv2 = _cv2()
    size = 17 + 4 * VERSIONS[0]
    grid = (np.mgrid[0:size, 0:size][::-1].reshape(2, -1).T + 0.5).astype(np.float32)
    found = []
    for corners in _orientations(card):
        square = np.array([[0, 0], [size, 0], [size, size], [0, size]], np.float32)
        homography = cv2.getPerspectiveTransform(square, code_corners(corners, VERSIONS[0]))
        mapped = cv2.perspectiveTransform(grid.reshape(-1, 1, 2), homography).reshape(-1, 2)
        values = cv2.remap(grey, mapped[:, 0].reshape(1, -1), mapped[:, 1].reshape(1, -1),
                           cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        modules = values.reshape(size, size).astype(np.float32)
        texture = (float(np.abs(np.diff(modules, axis=0)).mean())
                   + float(np.abs(np.diff(modules, axis=1)).mean())) / 2
        found.append((texture, corners))
    return sorted(found, key=lambda item: -item[0])


def rescue(grey: Any, decode: Callable[[Any], list[str]], accept: Callable[[str], bool],
           ) -> list[str]:
    """Card texts read by the card's layout (see the module's docstring); [] if none.

    ``grey`` is the frame (H × W uint8 array); ``decode`` reads a clean code picture;
    ``accept`` says whether a text is shaped like a card.
    """
    import numpy as np

    cv2 = _cv2()
    if cv2 is None:
        return []
    grey = np.ascontiguousarray(grey)
    smooth = cv2.blur(grey, (3, 3))  # module samples without the sensor's noise

    def textured(card: Any) -> bool:
        return code_texture(smooth, card)[0][0] >= MIN_TEXTURE

    for card in card_quads(grey, keep=textured):
        long_side = float(np.linalg.norm(card - np.roll(card, -1, axis=0), axis=1).max())
        module = long_side / CARD_WIDTH_MM * QR_SIZE_MM / (17 + 4 * VERSIONS[0] + 8)
        if module < 1.5:
            continue  # too far away to read a module
        # The card and a margin: the contrast of the whole frame is not needed.
        margin = 4 * module
        left, top = np.maximum(card.min(axis=0) - margin, 0).astype(int)
        right, bottom = (card.max(axis=0) + margin).astype(int) + 1
        contrast = _local_contrast(grey[top:bottom, left:right], module)
        ways = [corners - np.float32([left, top]) for _texture, corners
                in code_texture(smooth, card)]
        for version in VERSIONS:
            scale = (17 + 4 * VERSIONS[0] + 8) / (17 + 4 * version + 8)
            for corners in ways:
                fitted, score = fit_grid(contrast, code_corners(corners, version), version,
                                         module * scale)
                if score < MIN_FIT:
                    continue
                texts = read_grid(_modules(contrast, fitted, version), version, decode,
                                  accept)
                if texts:
                    return texts
    return []

"""Volunteer card payloads: short, ASCII-only, signed with HMAC-SHA256.

A card's QR code holds ``V1.<number>.<serial>.<mac>``, e.g. ``V1.JG0042.1.MZXW6YTBOI2DEMRU``:

- ``number`` is the volunteer number (letters, digits and ``-``), ``serial`` the card's
  serial (``kiosk volunteer reissue`` bumps it, so the old card is refused);
- ``mac`` is the first 80 bits of HMAC-SHA256 over ``V1.<number>.<serial>`` under this
  installation's secret, in base32 (A–Z, 2–7).

Only capital letters, digits, ``.`` and ``-``: keyboard-wedge scanners type these the same on
every keyboard layout, and zbar reads them without guessing at encodings. Letters are read
case-blind, so a scanner typing with Caps Lock on still works.

The secret lives in its own file beside the configuration (``card-secret``, owner-only), not
in the database, so no export or bundle ever carries it. Kiosks of one station that should
accept the same cards get a copy of that file.
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass
from pathlib import Path

VERSION = "V1"
MAC_BYTES = 10  # 80 bits: 16 base32 characters
NUMBER = re.compile(r"[A-Z0-9][A-Z0-9-]{0,23}")
CARD = re.compile(r"V1\.([A-Z0-9][A-Z0-9-]{0,23})\.([1-9][0-9]{0,5})\.([A-Z2-7]{16})")
SECRET_FILE = "card-secret"


class CardError(ValueError):
    """Text that is not a valid card of this installation.

    ``reason``: ``not_a_card`` (some other QR code or text), ``tampered`` (looks like our
    card but the signature does not match: changed, forged, or from another installation).
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class CardPayload:
    number: str
    serial: int


def normalise_number(number: str) -> str:
    """Volunteer numbers are compared in capitals, without surrounding spaces."""
    return number.strip().upper()


def valid_number(number: str) -> bool:
    return bool(NUMBER.fullmatch(normalise_number(number)))


def _mac(number: str, serial: int, secret: bytes) -> str:
    import hashlib  # OpenSSL loads with the first use, not before home is drawn
    import hmac

    message = f"{VERSION}.{number}.{serial}".encode("ascii")
    digest = hmac.new(secret, message, hashlib.sha256).digest()[:MAC_BYTES]
    return base64.b32encode(digest).decode("ascii")


def make_payload(number: str, serial: int, secret: bytes) -> str:
    """The text for a volunteer's card QR code."""
    number = normalise_number(number)
    if not NUMBER.fullmatch(number):
        raise ValueError(f"volunteer number {number!r} must be letters, digits and '-' "
                         "(at most 24, starting with a letter or digit)")
    if not 1 <= serial <= 999_999:
        raise ValueError(f"card serial {serial} must be between 1 and 999999")
    return f"{VERSION}.{number}.{serial}.{_mac(number, serial, secret)}"


def looks_like_card(text: str) -> bool:
    """Shaped like a card (without checking the signature): for spotting scanner input."""
    return bool(CARD.fullmatch(text.strip().upper()))


def read_payload(text: str, secret: bytes) -> CardPayload:
    """Check a scanned text; return the number and serial, or raise CardError."""
    cleaned = text.strip().upper()
    match = CARD.fullmatch(cleaned)
    if not match:
        raise CardError("not_a_card", "this code is not a volunteer card of the kiosk")
    number, serial_text, mac = match.groups()
    serial = int(serial_text)
    import hmac

    if not hmac.compare_digest(mac, _mac(number, serial, secret)):
        raise CardError("tampered", "the card's signature does not match: it was changed, "
                                    "or it belongs to another installation")
    return CardPayload(number=number, serial=serial)


def secret_path(config_path: Path) -> Path:
    """Where the card secret lives: beside the configuration file."""
    return config_path.parent / SECRET_FILE


def load_secret(path: Path) -> bytes:
    """This installation's card secret, created (32 random bytes, owner-only) on first use."""
    if path.exists():
        secret = base64.b64decode(path.read_text(encoding="ascii").strip())
        if len(secret) < 16:
            raise ValueError(f"{path}: the card secret is too short; restore it from a copy")
        return secret
    path.parent.mkdir(parents=True, exist_ok=True)
    import secrets

    secret = secrets.token_bytes(32)
    # Created owner-only from the start: the secret is never readable by others.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(base64.b64encode(secret).decode("ascii") + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return secret

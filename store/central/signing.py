"""Records that prove their origin: every row a kiosk sends to the central database is signed
with that kiosk's enrolled key (HMAC-SHA256), and the central database checks the signature
itself (store/central/trust.py, through pgcrypto) before it stores anything.

What is signed is the row's *payload*: its values in the order of the stream's columns
(store/sqlite/sync_cursors.py ``SYNC_COLUMNS``; the roster: ``ROSTER_FIELDS``) as compact
JSON, a column that holds JSON text (a submission's answers, a compiled form) as the JSON it
is rather than a string of it (no escaping, and the central database parses it once). The
central database stores the values it reads from that very payload, so no second canonical
form has to agree between Python and SQL: what was signed is what is stored. The message is
the stream's name, a newline, the payload, so a row signed for one stream cannot be
replayed as another. Plain Python: the kiosk signs without loading psycopg.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from store.sqlite.sync_cursors import SYNC_COLUMNS

# The roster is signed as a stream of its own: a volunteer's entry, as a roster file holds it.
ROSTER_STREAM = "roster"
ROSTER_FIELDS = ("number", "name", "phone", "id_card", "team", "organisation", "joined",
                 "status", "card_serial")
KEY_BYTES = 32
# Stream -> the column whose text is JSON, carried in the payload as that JSON.
JSON_COLUMNS = {stream: SYNC_COLUMNS[stream].index(column)
                for stream, column in (("submissions", "answers"), ("forms", "compiled"))}


def _compact(values: list[Any]) -> str:
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def payload_of(stream: str, row: Any) -> str:
    """The text a row of ``stream`` is signed and stored as (compact JSON, Chinese kept as
    it is). Its JSON column, when it holds text, goes in as that text: should the text not
    be one JSON value, the payload is no JSON array of the stream's width and the central
    database refuses the row."""
    values = list(row)
    at = JSON_COLUMNS.get(stream)
    if at is None or at >= len(values) or not isinstance(values[at], str):
        return _compact(values)
    before, after = _compact(values[:at]), _compact(values[at + 1:])
    return (before[:-1] + ("," if at else "") + values[at]
            + ("," + after[1:] if len(after) > 2 else "]"))


def signature_of(key: bytes, stream: str, payload: str) -> bytes:
    """HMAC-SHA256 of ``stream``, a newline and ``payload`` (UTF-8), as the central
    database computes it: ``hmac(convert_to(stream || E'\\n' || payload, 'UTF8'), key,
    'sha256')``."""
    return hmac.new(key, f"{stream}\n{payload}".encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class SignedRow:
    """A row as it travels: who signed it, with which of their keys, the payload, the
    signature. A kiosk relays another kiosk's rows exactly as they were signed."""

    signer: str
    key_version: int
    payload: str
    signature: bytes

    def as_list(self) -> list[Any]:
        """The row's signature fields in a bundle line: [signer, key version, hex]."""
        return [self.signer, self.key_version, self.signature.hex()]


@dataclass(frozen=True)
class RecordSigner:
    """A kiosk's enrolled key: signs the rows it sends."""

    kiosk_id: str
    key_version: int
    key: bytes

    def __post_init__(self) -> None:
        if len(self.key) != KEY_BYTES:
            raise ValueError(f"a signing key has {KEY_BYTES} bytes")

    def sign(self, stream: str, row: Any) -> SignedRow:
        payload = payload_of(stream, row)
        return SignedRow(self.kiosk_id, self.key_version, payload,
                         signature_of(self.key, stream, payload))

    def __repr__(self) -> str:  # never the key, in a traceback or a log
        return f"RecordSigner({self.kiosk_id!r}, key version {self.key_version})"

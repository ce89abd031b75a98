"""What the printer says about itself: the replies to DLE EOT 1-4, read as one state.

Each reply is one byte with fixed bits (0 and 7 clear, 1 and 4 set: ``0x12`` under the mask
``0x93``), so a reply at the wrong baud rate or from another device is recognised as garbage.

n = 1 printer:       bit 3 offline, bit 5 waiting for online recovery, bit 6 feed button held
n = 2 offline cause: bit 2 cover open, bit 3 paper fed by the button, bit 5 stopped at paper
                     end, bit 6 an error occurred
n = 3 error cause:   bit 2 recoverable error, bit 3 autocutter error, bit 5 unrecoverable
                     error, bit 6 auto-recoverable error (head too hot)
n = 4 paper sensor:  bits 2-3 roll near its end, bits 5-6 roll end (no paper)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

logger = logging.getLogger(__name__)

FIXED_MASK = 0x93
FIXED_BITS = 0x12

STATES = ("ready", "offline", "cover_open", "paper_out", "error", "unplugged", "unknown")

WORDS = {
    "zh": {"ready": "正常", "offline": "脱机", "cover_open": "纸仓盖未关",
           "paper_out": "缺纸", "error": "故障", "unplugged": "未连接",
           "unknown": "状态不明", "paper_near_end": "纸将用完"},
    "en": {"ready": "ready", "offline": "offline", "cover_open": "cover open",
           "paper_out": "paper out", "error": "error", "unplugged": "not connected",
           "unknown": "status unknown", "paper_near_end": "paper low"},
}


@dataclass(frozen=True)
class PrinterStatus:
    """One reading of a printer's state.

    ``state``: ``ready``, ``offline`` (switched off, not answering, or stopped: the feed button,
    waiting to recover), ``cover_open``, ``paper_out``, ``error`` (cutter jam, head too hot,
    or a fault of the port itself), ``unplugged`` (the port is gone or cannot be reached),
    ``unknown`` (replies that make no sense). ``paper_near_end`` can go with any state: the
    roll is low but still prints. ``detail`` says more for a log or a staff screen, in English,
    naming the port.
    """

    state: str
    paper_near_end: bool = False
    detail: str = ""

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise ValueError(f"unknown printer state {self.state!r}; one of {STATES}")

    @property
    def ok(self) -> bool:
        """The printer can print now (a low roll still prints)."""
        return self.state == "ready"

    def words(self, language: str = "zh") -> str:
        """A short phrase for a screen: ``缺纸`` / ``paper out``; ``正常，纸将用完`` when low."""
        words = WORDS.get(language, WORDS["zh"])
        text = words[self.state]
        if self.paper_near_end:
            text += ("，" if language != "en" else ", ") + words["paper_near_end"]
        return text


def _valid(reply: int | None) -> bool:
    return reply is not None and 0 <= reply <= 0xFF and reply & FIXED_MASK == FIXED_BITS


def parse_status(replies: dict[int, int | None]) -> PrinterStatus:
    """The state from the replies to DLE EOT n (n = 1-4; ``None`` where nothing came back).

    No reply at all: ``offline`` — the printer is switched off or not on this line (a
    printer answers DLE EOT even when it is offline or its buffer is full; only one that is
    off, or at another baud rate, stays silent). A reply with the fixed bits wrong, or only
    some replies: ``unknown`` (logged with the bytes). Several faults at once are reported
    by the one a person must see to first: paper out, cover open, error, offline.
    """
    if not replies or all(reply is None for reply in replies.values()):
        return PrinterStatus("offline", detail="no reply to the status request (DLE EOT): "
                             "switched off, another baud rate, or a loose cable")
    shown = " ".join("--" if replies[n] is None else f"{replies[n]:02x}" for n in sorted(replies))
    if not all(_valid(reply) for reply in replies.values()):
        logger.warning("printer status replies make no sense: %s (DLE EOT %s)", shown,
                       ",".join(str(n) for n in sorted(replies)))
        return PrinterStatus("unknown", detail=f"status replies make no sense: {shown}")
    printer = replies.get(1, FIXED_BITS)
    offline_cause = replies.get(2, FIXED_BITS)
    error_cause = replies.get(3, FIXED_BITS)
    paper = replies.get(4, FIXED_BITS)
    near_end = bool(paper & 0x0C)
    causes = []
    if offline_cause & 0x08:
        causes.append("paper being fed with the feed button")
    if printer & 0x20:
        causes.append("waiting for online recovery")
    if printer & 0x40:
        causes.append("feed button held")
    if error_cause & 0x08:
        causes.append("autocutter error (paper jam?)")
    if error_cause & 0x20:
        causes.append("unrecoverable error")
    if error_cause & 0x40:
        causes.append("auto-recoverable error (print head too hot?)")
    if error_cause & 0x04:
        causes.append("recoverable error")
    detail = "; ".join(causes)
    if paper & 0x60 or offline_cause & 0x20:
        return PrinterStatus("paper_out", near_end, "roll paper end" + (
            f"; {detail}" if detail else ""))
    if offline_cause & 0x04:
        return PrinterStatus("cover_open", near_end, "cover open" + (
            f"; {detail}" if detail else ""))
    if offline_cause & 0x40 or error_cause & 0x6C:
        return PrinterStatus("error", near_end, detail or "an error occurred")
    if printer & 0x08:
        return PrinterStatus("offline", near_end, detail or "the printer reports offline")
    return PrinterStatus("ready", near_end, "roll paper near its end" if near_end else "")

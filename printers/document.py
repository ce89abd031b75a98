"""A receipt as a list of simple operations, independent of any printer.

Templates (in the kiosk) build a ``Document``; the print queue stores it as JSON, so a job
can be rendered again for another printer, or with a 补打 REPRINT mark after a crash;
``printers.escpos.encode`` turns it into the bytes for one printer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Align = Literal["left", "center", "right"]
ErrorCorrection = Literal["L", "M", "Q", "H"]


@dataclass(frozen=True)
class Op:
    """One operation: ``kind`` and its parameters (JSON-compatible values only)."""

    kind: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Document:
    """What to print, top to bottom. Every method returns the document, for chaining."""

    ops: list[Op] = field(default_factory=list)

    def _add(self, kind: str, **params: Any) -> Document:
        self.ops.append(Op(kind, params))
        return self

    def title(self, text: str) -> Document:
        """A centred heading in double width and height (wrapped to fit)."""
        return self._add("title", text=text)

    def text(self, text: str, *, align: Align = "left", bold: bool = False,
             double_width: bool = False, double_height: bool = False) -> Document:
        """A paragraph, wrapped at the paper's width (a Chinese character takes two columns)."""
        return self._add("text", text=text, align=align, bold=bold,
                         double_width=double_width, double_height=double_height)

    def pair(self, label: str, value: str) -> Document:
        """``label …… value`` on one line (value on the next line when both do not fit)."""
        return self._add("pair", label=label, value=value)

    def rule(self, char: str = "-") -> Document:
        """A line across the paper."""
        return self._add("rule", char=char)

    def qr(self, data: str, *, module_size: int = 6,
           error_correction: ErrorCorrection = "M") -> Document:
        """A QR code printed by the printer itself (GS ( k), centred."""
        return self._add("qr", data=data, module_size=module_size,
                         error_correction=error_correction)

    def feed(self, lines: int = 1) -> Document:
        return self._add("feed", lines=lines)

    def cut(self) -> Document:
        """Feed past the cutter and cut (partial or full, as the printer is set up)."""
        return self._add("cut")

    def to_json(self) -> list[dict[str, Any]]:
        return [{"kind": op.kind, **op.params} for op in self.ops]

    @classmethod
    def from_json(cls, data: list[dict[str, Any]]) -> Document:
        return cls([Op(entry["kind"], {key: value for key, value in entry.items()
                                       if key != "kind"}) for entry in data])

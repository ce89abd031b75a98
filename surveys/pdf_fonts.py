"""The Chinese font for PDFs (volunteer cards, survey reports), registered once with reportlab.

WenQuanYi Zen Hei (Debian's fonts-wqy-zenhei) is embedded as a TrueType subset: reportlab
cannot embed CFF fonts such as Noto Sans CJK, and the non-embedded CID font STSong-Light
shows as boxes on machines without Adobe's Asian font pack. It lives here, at the bottom of
the layers, so that ``surveys`` (reports) and ``kiosk`` (card sheets) share one copy.
"""

from __future__ import annotations

from pathlib import Path

CJK_FONT_PATH = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
CJK_FONT_INDEX = 0  # WenQuanYi Zen Hei (proportional Latin); 1 is the Mono face
CJK_FONT_NAME = "WenQuanYiZenHei"


def register_cjk_font(path: Path = CJK_FONT_PATH, index: int = CJK_FONT_INDEX) -> str:
    """Register the CJK TrueType font with reportlab (once); return its name."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if CJK_FONT_NAME in pdfmetrics.getRegisteredFontNames():
        return CJK_FONT_NAME
    if not path.exists():
        raise FileNotFoundError(
            f"the Chinese font {path} is missing; install it with "
            "'apt-get install fonts-wqy-zenhei' (PDFs need an embedded CJK font)")
    pdfmetrics.registerFont(TTFont(CJK_FONT_NAME, str(path), subfontIndex=index))
    return CJK_FONT_NAME


def missing_glyphs(text: str) -> list[str]:
    """Characters of ``text`` the font cannot draw (rare 生僻字 print as boxes)."""
    from reportlab.pdfbase import pdfmetrics

    font = pdfmetrics.getFont(register_cjk_font())
    known = font.face.charToGlyph
    return [char for char in dict.fromkeys(text) if not char.isspace() and ord(char) not in known]

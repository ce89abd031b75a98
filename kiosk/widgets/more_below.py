"""A line under a scrolling area that says how many of its items are out of sight below.

Large text makes buttons taller: on a small screen the last choices (70–79岁, 80岁及以上) or
the last questionnaire sit below the edge, and a resident who does not know that a terminal
scrolls never finds them. The line names how many are there, as long as any are.
"""

from __future__ import annotations

from textual.containers import ScrollableContainer
from textual.content import Content
from textual.widgets import Static

from kiosk.i18n import tr


class MoreBelow(Static):
    """Counts the items (``selector``) of the scrolling ``area`` not wholly in view below."""

    DEFAULT_CSS = """
    MoreBelow {
        display: none;
        visibility: hidden;
        width: 100%;
        height: 1;
        content-align: center middle;
        text-style: bold;
        background: $warning;
        color: $text;
    }
    MoreBelow.shown {
        visibility: visible;
    }
    """
    # The line takes its row while the area can scroll at all (not only while something is
    # below): scrolling never moves the buttons above it, and a tap lands where it aims.

    def __init__(self, area: str, selector: str, language: str, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.area_id = area
        self.selector = selector
        self.language = language
        self.count = 0

    def on_mount(self) -> None:
        area = self.screen.query_one(f"#{self.area_id}", ScrollableContainer)
        self.watch(area, "scroll_y", self.recount_later, init=False)
        self.watch(area, "virtual_size", self.recount_later, init=False)
        self.watch(area, "size", self.recount_later, init=False)
        self.recount_later()

    def recount_later(self, *_: object) -> None:
        self.call_after_refresh(self.recount)

    def recount(self) -> None:
        """Count again (also called by screens after they replace the area's items)."""
        if not self.is_attached:
            return  # the screen went (a count asked for just before it was left)
        areas = self.screen.query(f"#{self.area_id}").results(ScrollableContainer)
        area = next(iter(areas), None)
        if area is None:
            return
        bottom = area.scrollable_content_region.bottom
        # Its own row counts: without it the area is one line taller.
        overflows = area.max_scroll_y > (1 if self.display else 0)
        if overflows != self.display:
            self.display = overflows
            self.recount_later()  # count once the area has its new height
            return
        # Out of sight: the item's middle line (where its label is) at or below the edge.
        hidden = sum(1 for item in area.query(self.selector)
                     if item.display and item.region.y + (item.region.height - 1) // 2 >= bottom)
        self.count = hidden
        self.update(Content(tr("more_below", self.language, count=hidden)) if hidden else "")
        self.set_class(bool(hidden), "shown")

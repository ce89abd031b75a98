"""``kiosk stats --by-site`` in the terminal: per street, community and kiosk, N and each
select question's counts and percentages as rich tables (the JSON keeps exact figures)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

HEADINGS = {
    "zh": {"street": "按街道/镇", "community": "按社区/村", "kiosk": "按终端", "n": "提交份数",
           "place": "地点", "none": "（未记站点）", "answered": "作答"},
    "en": {"street": "By street", "community": "By community or village",
           "kiosk": "By kiosk", "n": "Submissions", "place": "Place", "none": "(no site)",
           "answered": "Answered"},
}


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def render_site_breakdown(stats: dict[str, Any]) -> Iterator[RenderableType]:
    """Renderables for ``stats["by_site"]`` (labels from the rest of ``stats``)."""
    words = HEADINGS.get(stats.get("language", "zh"), HEADINGS["zh"])
    for dimension, places in stats["by_site"].items():
        yield Text(f"\n{words[dimension]}", style="bold")
        table = Table()
        table.add_column(words["place"])
        table.add_column(words["n"], justify="right")
        for place, figures in places.items():
            table.add_row(Text(place or words["none"]), f"{figures['n']:,}")
        yield table
        for name, question in stats["questions"].items():
            if "choices" not in question:
                continue
            yield _question_table(name, question, places, words)


def _question_table(name: str, question: dict[str, Any], places: dict[str, Any],
                    words: dict[str, str]) -> RenderableType:
    # Text, not markup: a label or place may hold [brackets].
    table = Table(title=Text(f"{question['label']} [{name}]"), title_justify="left")
    table.add_column(words["place"])
    table.add_column(words["answered"], justify="right")
    for choice in question["choices"]:
        table.add_column(Text(choice["label"]), justify="right")
    for place, figures in places.items():
        entry = figures["questions"].get(name)
        if entry is None:
            continue
        table.add_row(Text(place or words["none"]), f"{entry['n']:,}", *(
            f"{entry['counts'][choice['name']]:,} ({_pct(entry['percent'][choice['name']])})"
            for choice in question["choices"]))
    return table

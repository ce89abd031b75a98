"""Tallies per place from a kiosk's own database, for ``kiosk stats --by-site`` without
``--central`` (the central database has the same, store/central_stats.py).

A kiosk's statistics tables (store/statistics.py) keep kiosk and site in every cell, so the
breakdown is one small query; the street is the part of the site before ``/``. With a
filter on answers, the flat table is read once, grouped by place.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from store.db import KioskStore
from store.statistics import _cube_conditions, choice_column, flat_table, quoted
from surveys.stats.model import StatsFilter, Tallies, catalogue
from surveys.stats.sites import street_of


class KioskSiteStatistics:
    """A KioskStore that also tallies per street, community and kiosk (every other
    method is the store's own)."""

    def __init__(self, store: KioskStore) -> None:
        self.store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def stats_site_tallies(self, survey_id: str, questions: Sequence[str],
                           filters: StatsFilter, dimension: str) -> dict[str, Tallies]:
        column = "kiosk" if dimension == "kiosk" else "site"
        if filters.by_answer:
            rows = self._flat_rows(survey_id, questions, filters, column)
        else:
            conditions, parameters = _cube_conditions(filters)
            marks = ", ".join("?" * len(questions))
            rows = self.store.conn.execute(
                f"SELECT {column}, question, value, sum(count) FROM stats_tally_cell"
                f" WHERE survey_id = ? AND (question = '' OR question IN ({marks})){conditions}"
                " GROUP BY 1, 2, 3", [survey_id, *questions, *parameters]).fetchall()
        found: dict[str, Tallies] = {}
        for place, question, value, count in rows:
            key = street_of(place) if dimension == "street" else (place or "")
            tallies = found.get(key)
            if tallies is None:
                tallies = found[key] = Tallies(0, {}, {})
            if question == "":
                tallies.n += int(count)
            elif value == "":
                tallies.answered[question] = tallies.answered.get(question, 0) + int(count)
            else:
                values = tallies.counts.setdefault(question, {})
                values[value] = values.get(value, 0) + int(count)
        return found

    def _flat_rows(self, survey_id: str, questions: Sequence[str], filters: StatsFilter,
                   column: str) -> list[tuple[str, str, Any, int]]:
        """(place, question, value, count) rows from the flat table, as the cells give them
        (question '': submissions; value '': respondents who answered)."""
        stats = self.store.stats
        existing = set(stats._table_columns(survey_id))
        if not existing:
            return []
        conditions, parameters = stats._flat_conditions(survey_id, filters)
        known = catalogue([self.store.load_form(survey_id, version)
                           for version in self.store.versions(survey_id)])
        aggregates = ["count(*)"]
        aggregate_parameters: list[Any] = []
        keys: list[tuple[str, Any]] = [("", "")]
        for name in questions:
            question = known[name]
            if name not in existing:
                continue
            aggregates.append(f"count({quoted(name)})")
            keys.append((name, ""))
            for choice in question.choice_names:
                if question.is_multiple:
                    target = choice_column(name, choice)
                    aggregates.append(f"total({quoted(target)})" if target in existing
                                      else "0")
                else:
                    aggregates.append(f"total({quoted(name)} = ?)")
                    aggregate_parameters.append(choice)
                keys.append((name, choice))
        rows = self.store.conn.execute(
            f"SELECT coalesce(_{column}, ''), {', '.join(aggregates)}"
            f" FROM {flat_table(survey_id)} WHERE 1=1{conditions} GROUP BY 1",
            [*aggregate_parameters, *parameters]).fetchall()
        return [(place, name, value, int(count)) for place, *counts in rows
                for (name, value), count in zip(keys, counts, strict=True)]

"""The one builder of SQL filter conditions, for both databases: the kiosk's SQLite
(``?`` placeholders, ``IN (?, ?)``) and the central PostgreSQL (``%s``, ``= ANY(%s)``).

Statistics (dates, kiosks, sites, enumerators of ``surveys.stats.StatsFilter``) and volunteer
reports (a volunteer, a team, a time range of check-ins) are filtered by the same code on
both, so kiosk and city-wide figures cannot drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from surveys.stats.model import StatsFilter


@dataclass(frozen=True)
class Dialect:
    """How one database spells a parameter and a membership test."""

    placeholder: str  # "?" (SQLite) or "%s" (PostgreSQL)

    def one_of(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """``column`` is one of ``values``: the SQL and its parameters."""
        if self.placeholder == "?":
            if len(values) > 500:  # one parameter, however many (SQLite limits parameters)
                return f"{column} IN (SELECT value FROM json_each(?))", [json.dumps(values)]
            return f"{column} IN ({', '.join('?' * len(values))})", list(values)
        return f"{column} = ANY(%s)", [list(values)]


SQLITE = Dialect("?")
POSTGRES = Dialect("%s")


def dimension_conditions(filters: StatsFilter, columns: Mapping[str, str],
                         dialect: Dialect) -> tuple[str, list[Any]]:
    """`` AND …`` conditions for the filters that are not on answers: the China day of
    completion from/to, kiosks, sites and enumerators. ``columns`` maps ``day``, ``kiosk``,
    ``site`` and ``enumerator`` to the SQL that reads each."""
    mark = dialect.placeholder
    conditions = ""
    parameters: list[Any] = []
    if filters.date_from is not None:
        conditions += f" AND {columns['day']} >= {mark}"
        parameters.append(filters.date_from.isoformat())
    if filters.date_to is not None:
        conditions += f" AND {columns['day']} <= {mark}"
        parameters.append(filters.date_to.isoformat())
    for dimension, values in (("kiosk", filters.kiosks), ("site", filters.sites),
                              ("enumerator", filters.enumerators)):
        if values:
            condition, extra = dialect.one_of(columns[dimension], values)
            conditions += f" AND {condition}"
            parameters.extend(extra)
    return conditions, parameters


def review_conditions(filters: StatsFilter, column: str,
                      dialect: Dialect) -> tuple[str, list[Any]]:
    """`` AND …`` on the review state in ``column`` (NULL: never reviewed, 未审核): the states
    ``filters.review`` names, else every state but void."""
    if not filters.review:
        return f" AND ({column} IS NULL OR {column} <> 'void')", []
    states = list(filters.review)
    condition, parameters = dialect.one_of(f"coalesce({column}, 'pending')", states)
    return f" AND {condition}", parameters


def session_conditions(dialect: Dialect, *, number: str | None = None,
                       team: str | None = None, since: float | None = None,
                       until: float | None = None) -> tuple[str, list[Any]]:
    """`` AND …`` conditions on volunteer check-ins ``c``: one volunteer, one team (from the
    ``volunteers`` roster), check-in Unix times from ``since`` (inclusive) to ``until``
    (exclusive)."""
    mark = dialect.placeholder
    conditions = ""
    parameters: list[Any] = []
    if number is not None:
        conditions += f" AND c.number = {mark}"
        parameters.append(number)
    if team is not None:
        conditions += f" AND c.number IN (SELECT number FROM volunteers WHERE team = {mark})"
        parameters.append(team)
    if since is not None:
        conditions += f" AND c.at_epoch >= {mark}"
        parameters.append(since)
    if until is not None:
        conditions += f" AND c.at_epoch < {mark}"
        parameters.append(until)
    return conditions, parameters


def roster_conditions(dialect: Dialect, *, team: str | None = None,
                      numbers: Iterable[str] | None = None) -> tuple[str, list[Any]]:
    """`` AND …`` conditions on the ``volunteers`` roster: one team, some numbers."""
    conditions = ""
    parameters: list[Any] = []
    if team is not None:
        conditions += f" AND team = {dialect.placeholder}"
        parameters.append(team)
    if numbers is not None:
        condition, extra = dialect.one_of("number", list(dict.fromkeys(numbers)))
        conditions += f" AND {condition}"
        parameters.extend(extra)
    return conditions, parameters

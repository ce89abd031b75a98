"""The statistics of a kiosk database: the counts ``surveys.stats`` asks of a store
(``StatsStore`` and ``SiteStatsStore``), read from the tallies, bitmaps and flat tables that
store/sqlite/tallies.py keeps (why each, and what they cost: its docstring and
store/bitmaps.py's).

Without filters on answers or places the tallies answer at once (the whole survey, or per
day). With a filter on answers, kiosks, sites or enumerators, and for every cross-tab, the
bitmaps do: a filter is an AND of bitmaps, each count a popcount. Decimals and text answers
are read from the survey's flat table, under the same filters in SQL. The street of a place
is the part of its site before ``/``.

Questions inside repeat groups are read from the repeat's own flat table (one row per
instance, store/sqlite/tallies.py), under any filter: the instances of the submissions the
filter keeps (``_sub IN`` those of the survey's flat table).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from store.bitmaps import BitmapIndex
from store.filters import SQLITE, dimension_conditions, review_conditions
from store.sqlite.connection import StoreBase
from store.sqlite.tallies import (
    ANSWERED,
    SUBMISSIONS,
    choice_column,
    flat_table,
    instance_count_column,
    quoted,
    repeat_table,
)
from surveys.stats.model import (
    Question,
    RepeatGroup,
    StatsFilter,
    Tallies,
    add_column_totals,
    catalogue,
    empty_crosstab,
    repeat_key,
)

# The tallies' columns, and the flat table's (whose place columns may be NULL).
_CUBE_COLUMNS = {"day": "day", "kiosk": "kiosk", "site": "site", "enumerator": "enumerator"}
_FLAT_COLUMNS = {"day": "_day", "kiosk": "coalesce(_kiosk, '')", "site": "coalesce(_site, '')",
                 "enumerator": "coalesce(_enumerator, '')"}


def _cube_conditions(filters: StatsFilter) -> tuple[str, list[Any]]:
    return dimension_conditions(filters, _CUBE_COLUMNS, SQLITE)


def _choice_aggregates(questions: Sequence[Question], existing: Collection[str]
                       ) -> tuple[list[str], list[Any], list[tuple[str, str | None]]]:
    """For one pass over a flat table: per question, count(answered) and per choice the
    respondents choosing it (SQLite sorts for every GROUP BY: one per question took twice as
    long). Returns the aggregates, their parameters and what each is: (question, None) for
    respondents who answered, (question, choice) for a choice."""
    aggregates: list[str] = []
    parameters: list[Any] = []
    keys: list[tuple[str, str | None]] = []
    for question in questions:
        if question.name not in existing:
            continue
        aggregates.append(f"count({quoted(question.name)})")
        keys.append((question.name, None))
        for choice in question.choice_names:
            if question.is_multiple:
                column = choice_column(question.name, choice)
                aggregates.append(f"total({quoted(column)})" if column in existing else "0")
            else:
                aggregates.append(f"total({quoted(question.name)} = ?)")
                parameters.append(choice)
            keys.append((question.name, choice))
    return aggregates, parameters, keys


class Stats(StoreBase):
    """Counts for ``surveys.stats``: whole-survey and per-place tallies, values, texts,
    cross-tabs and submissions over time, under a ``StatsFilter``."""

    def stats_tallies(self, survey_id: str, questions: Mapping[str, Question],
                      filters: StatsFilter) -> Tallies:
        """Submissions, respondents per question and per value, under ``filters``."""
        if filters.by_answer or filters.by_place:
            return self._bitmap_tallies(survey_id, questions, filters)
        conditions, parameters = _cube_conditions(filters)
        table = "stats_tally_day" if conditions else "stats_tally_total"
        rows = self.conn.execute(
            f"SELECT question, value, sum(count) FROM {table} WHERE survey_id=?{conditions}"
            " GROUP BY question, value", [survey_id, *parameters])
        n = 0
        answered: dict[str, int] = {}
        counts: dict[str, dict[Any, int]] = {}
        for question, value, count in rows:
            if question == SUBMISSIONS:
                n = count
            elif value == ANSWERED:
                answered[question] = count
            else:
                counts.setdefault(question, {})[value] = count
        return Tallies(n, answered, counts)

    def _bitmap_tallies(self, survey_id: str, questions: Mapping[str, Question],
                        filters: StatsFilter) -> Tallies:
        with self.read_snapshot():
            existing = set(self.stats.table_columns(survey_id))
            if not existing:
                return Tallies(0, {}, {})
            return self._bitmaps(survey_id).tallies(
                [question for name, question in questions.items() if name in existing],
                filters)

    def _bitmaps(self, survey_id: str) -> BitmapIndex:
        """The survey's bitmaps (store/bitmaps.py), as the current snapshot has them."""
        return self.stats.bitmaps.index(survey_id)

    def _value_counts(self, table: str, column: str, conditions: str,
                      parameters: Sequence[Any]) -> list[tuple[Any, int]]:
        return self.conn.execute(
            f"SELECT {quoted(column)}, count(*) FROM {table} WHERE {quoted(column)} IS NOT NULL"
            f"{conditions} GROUP BY 1", parameters).fetchall()

    def stats_value_counts(self, survey_id: str, question: str,
                           filters: StatsFilter) -> list[tuple[Any, int]]:
        """(value, respondents) of one question, from the flat table (decimals)."""
        if question not in self.stats.table_columns(survey_id):
            return []
        conditions, parameters = self._flat_conditions(survey_id, filters)
        return self._value_counts(flat_table(survey_id), question, conditions, parameters)

    def stats_texts(self, survey_id: str, question: str, filters: StatsFilter) -> list[str]:
        """The answers to a text question, in the order they were stored (inside a
        repeat: every instance's, as ``stats_repeat_texts``)."""
        if question not in self.stats.table_columns(survey_id):
            inside = catalogue([self.load_form(survey_id, version)
                                for version in self.versions(survey_id)]).get(question)
            if inside is not None and inside.in_repeat:
                return self.stats_repeat_texts(survey_id, inside, filters)
            return []
        conditions, parameters = self._flat_conditions(survey_id, filters)
        return [str(row[0]) for row in self.conn.execute(
            f"SELECT {quoted(question)} FROM {flat_table(survey_id)}"
            f" WHERE {quoted(question)} IS NOT NULL{conditions} ORDER BY _id", parameters)]

    def stats_over_time(self, survey_id: str, questions: Mapping[str, Question],
                        filters: StatsFilter) -> list[tuple[str, str, int]]:
        """(day, site, submissions) under ``filters``."""
        if filters.by_answer:
            with self.read_snapshot():
                if not self.stats.table_columns(survey_id):
                    return []
                return self._bitmaps(survey_id).over_time(filters)
        conditions, parameters = _cube_conditions(filters)
        return self.conn.execute(
            f"SELECT day, site, sum(n) FROM stats_cells WHERE survey_id=?{conditions}"
            " GROUP BY day, site ORDER BY day, site", [survey_id, *parameters]).fetchall()

    def stats_crosstab(self, survey_id: str, by: Question, questions: Sequence[Question],
                       filters: StatsFilter) -> dict[str, Any]:
        """Per question: ``table`` {group: {choice: n}}, ``row_n`` and ``column_n`` (see
        surveys/stats/figures.py), from the bitmaps: each cell one popcount."""
        with self.read_snapshot():
            if by.name not in self.stats.table_columns(survey_id):
                return empty_crosstab(by, questions)
            return self._bitmaps(survey_id).crosstab(by, questions, filters)

    # ---- questions inside repeats --------------------------------------------------------

    def _instances(self, survey_id: str, filters: StatsFilter) -> tuple[str, list[Any]]:
        """`` AND …`` on a repeat table's rows: those of submissions ``filters`` keeps."""
        conditions, parameters = self._flat_conditions(survey_id, filters)
        if not conditions:
            return "", []
        return (f" AND _sub IN (SELECT _id FROM {flat_table(survey_id)} WHERE 1=1{conditions})",
                parameters)

    def stats_repeat_tallies(self, survey_id: str, questions: Mapping[str, Question],
                             repeats: Mapping[str, RepeatGroup],
                             filters: StatsFilter) -> Tallies:
        """Instances per question and value, submissions per question with an instance
        that answered, and per repeat {instances: submissions}, under ``filters``."""
        tallies = Tallies(0, {}, {})
        existing = set(self.stats.table_columns(survey_id))
        if not existing:
            return tallies
        conditions, parameters = self._flat_conditions(survey_id, filters)
        for name, group in repeats.items():
            column = instance_count_column(repeat_key(group.path))
            if column in existing:
                tallies.instances[name] = dict(self._value_counts(
                    flat_table(survey_id), column, conditions, parameters))
        by_table: dict[str, list[Question]] = {}
        for question in questions.values():
            by_table.setdefault(repeat_key(question.repeat), []).append(question)
        instances, instance_parameters = self._instances(survey_id, filters)
        for key, present in by_table.items():
            table = repeat_table(survey_id, key)
            columns = set(self.stats.repeat_table_columns(survey_id, key))
            aggregates, aggregate_parameters, keys = _choice_aggregates(present, columns)
            if not aggregates:
                continue
            counted = [question.name for question in present if question.name in columns]
            aggregates += [f"count(DISTINCT CASE WHEN {quoted(name)} IS NOT NULL THEN _sub END)"
                           for name in counted]
            row = self.conn.execute(
                f"SELECT {', '.join(aggregates)} FROM {table} WHERE 1=1{instances}",
                [*aggregate_parameters, *instance_parameters]).fetchone()
            for (name, choice), value in zip(keys, row[:len(keys)], strict=True):
                if choice is None:
                    tallies.answered[name] = int(value)
                else:
                    tallies.counts.setdefault(name, {})[choice] = int(value)
            for name, value in zip(counted, row[len(keys):], strict=True):
                tallies.submissions[name] = int(value)
            for question in present:
                if question.kind in ("integer", "date") and question.name in columns:
                    tallies.counts[question.name] = dict(self._value_counts(
                        table, question.name, instances, instance_parameters))
        return tallies

    def stats_repeat_values(self, survey_id: str, question: Question,
                            filters: StatsFilter) -> list[tuple[Any, int]]:
        """(value, instances) of a question inside a repeat (decimals)."""
        key = repeat_key(question.repeat)
        if question.name not in self.stats.repeat_table_columns(survey_id, key):
            return []
        instances, parameters = self._instances(survey_id, filters)
        return self._value_counts(repeat_table(survey_id, key), question.name, instances,
                                  parameters)

    def stats_repeat_texts(self, survey_id: str, question: Question,
                           filters: StatsFilter) -> list[str]:
        """The answers of every instance to a text question inside a repeat, in the order
        stored (by submission, then instance)."""
        key = repeat_key(question.repeat)
        if question.name not in self.stats.repeat_table_columns(survey_id, key):
            return []
        instances, parameters = self._instances(survey_id, filters)
        return [str(row[0]) for row in self.conn.execute(
            f"SELECT {quoted(question.name)} FROM {repeat_table(survey_id, key)}"
            f" WHERE {quoted(question.name)} IS NOT NULL{instances} ORDER BY _rid", parameters)]

    def stats_repeat_crosstab(self, survey_id: str, by: Question,
                              questions: Sequence[Question],
                              filters: StatsFilter) -> dict[str, Any]:
        """A cross-tab of questions inside repeats by a submission-level select question,
        counting instances (its shape as ``stats_crosstab``'s)."""
        result = empty_crosstab(by, questions)
        existing = set(self.stats.table_columns(survey_id))
        if by.name not in existing:
            return result
        conditions, parameters = self._flat_conditions(survey_id, filters)
        flat = flat_table(survey_id)
        by_table: dict[str, list[Question]] = {}
        for question in questions:
            by_table.setdefault(repeat_key(question.repeat), []).append(question)
        for key, present in by_table.items():
            columns = set(self.stats.repeat_table_columns(survey_id, key))
            aggregates, aggregate_parameters, keys = _choice_aggregates(present, columns)
            if not aggregates:
                continue
            selected = ", ".join(aggregates)
            table = repeat_table(survey_id, key)

            def source(group: str, where: str, table: str = table) -> str:
                # The submissions (and their group) as a subquery: its names cannot meet
                # the repeat table's ('#' is in no question's name).
                return (f"{table} JOIN (SELECT _id AS \"#s\"{group} FROM {flat}"
                        f" WHERE {where}{conditions}) ON \"#s\" = _sub")

            def fill(group: str, values: Sequence[Any], keys: list = keys) -> None:
                for (name, choice), value in zip(keys, values, strict=True):
                    if choice is None:
                        result[name]["row_n"][group] = int(value)
                    else:
                        result[name]["table"][group][choice] = int(value)

            if not by.is_multiple:
                rows = self.conn.execute(
                    f"SELECT \"#g\", {selected} FROM "
                    + source(f", {quoted(by.name)} AS \"#g\"", f"{quoted(by.name)} IS NOT NULL")
                    + " GROUP BY 1", [*aggregate_parameters, *parameters])
                for group, *values in rows:
                    if group in result[keys[0][0]]["table"]:
                        fill(group, values)
                continue
            for group in by.choice_names:
                column = choice_column(by.name, group)
                if column not in existing:
                    continue
                fill(group, self.conn.execute(
                    f"SELECT {selected} FROM " + source("", f"{quoted(column)} = 1"),
                    [*aggregate_parameters, *parameters]).fetchone())
            totals = self.conn.execute(
                f"SELECT {selected} FROM " + source("", f"{quoted(by.name)} IS NOT NULL"),
                [*aggregate_parameters, *parameters]).fetchone()
            for (name, choice), value in zip(keys, totals, strict=True):
                if choice is not None:
                    result[name]["column_n"][choice] = int(value)
        return result if by.is_multiple else add_column_totals(result)

    def matching_ids(self, survey_id: str, filters: StatsFilter) -> tuple[str, list[Any]]:
        """A subquery of the rowids of submissions matching ``filters``, with parameters."""
        if not self.stats.table_columns(survey_id):
            return "SELECT NULL WHERE 0", []
        conditions, parameters = self._flat_conditions(survey_id, filters)
        return f"SELECT _id FROM {flat_table(survey_id)} WHERE 1=1{conditions}", parameters

    def _flat_conditions(self, survey_id: str,
                         filters: StatsFilter) -> tuple[str, list[Any]]:
        conditions, parameters = dimension_conditions(filters, _FLAT_COLUMNS, SQLITE)
        review, review_parameters = review_conditions(filters, "_review", SQLITE)
        conditions += review
        parameters.extend(review_parameters)
        # Read afresh: another process may have added columns.
        existing = set(self.stats.table_columns(survey_id))
        for name, value in filters.where.items():
            column = choice_column(name, value)
            if column in existing:  # select_multiple: that choice is among those chosen
                conditions += f" AND {quoted(column)} = 1"
            elif name in existing:
                conditions += f" AND {quoted(name)} = ?"
                parameters.append(value)
            else:
                conditions += " AND 0"
        return conditions, parameters

    def stats_site_tallies(self, survey_id: str, questions: Sequence[str],
                           filters: StatsFilter, dimension: str) -> dict[str, Tallies]:
        """Tallies of ``questions`` per street, community (its site ``街道/社区``) or kiosk,
        from the bitmaps (each place's submissions under ``filters``)."""
        with self.read_snapshot():
            existing = set(self.stats.table_columns(survey_id))
            if not existing:
                return {}
            known = catalogue([self.load_form(survey_id, version)
                               for version in self.versions(survey_id)])
            return self._bitmaps(survey_id).by_place(
                [known[name] for name in questions if name in existing], filters, dimension)

"""Reading the city-wide statistics and exports of the central PostgreSQL (``CentralStats``):
from the tallies store/central/tallies.py keeps; for filters on answers, cross-tabs and the
breakdown by place under them, from the bitmaps of store/central/bitmaps.py (the same
computation as a kiosk's); for decimals, text answers, exports, and a role that reads
personal answers when one is asked, from the submissions' jsonb answers (no flat table:
see scripts/bench.py section 10 for what each costs).

Questions inside repeat groups are always read from the answers: each level of the
repeat's path is a ``jsonb_array_elements`` of the level above (an answer that is not an
array holds no instance; an element that is not an object is an instance without answers,
as surveys.stats.model.instances_at reads them on a kiosk), so the figures equal those of
a kiosk's repeat tables."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from store.bitmaps import BitmapIndex
from store.central.bitmaps import CentralBitmaps
from store.central.connection import connect
from store.central.schema import installation
from store.central.tallies import DIMENSIONS, answered_sql, chosen_sql, hashing, pairs_sql
from store.filters import POSTGRES, dimension_conditions, review_conditions
from surveys.form import Form
from surveys.review import history_entry
from surveys.stats.model import (
    Question,
    RepeatGroup,
    StatsFilter,
    Tallies,
    add_column_totals,
    catalogue,
    empty_crosstab,
    tallies_by_place,
)


def _tallies_by_place(rows: Sequence[tuple[Any, str, Any, int]]) -> dict[str, Tallies]:
    """Tallies per place from (place, question, value, count) tally rows (value: JSON)."""
    return tallies_by_place((place, question, json.loads(value), count)
                            for place, question, value, count in rows)


def _add_pair(tallies: Tallies, question: str, part: str, value: Any, count: int) -> None:
    """Add one row of pairs_sql to ``tallies``."""
    if part != "c":
        tallies.answered[question] = tallies.answered.get(question, 0) + count
    if part != "a":
        values = tallies.counts.setdefault(question, {})
        value = json.loads(value)
        values[value] = values.get(value, 0) + count


# ---- reading: the statistics and exports of the central database ---------------------------

# A submission's answers as staff corrected them (store/central/reviews.py; NULL: none), its
# personal ones apart: what the statistics and exports read.
_PLAIN = "coalesce(s.corrected, s.answers)"
_PERSONAL = "coalesce(s.pii_corrected, s.pii_answers)"

class CentralStats:
    """The central database as ``surveys.stats.StatsStore`` and
    ``surveys.exports.survey.ExportStore``: ``survey_statistics`` and ``export_survey`` run on
    it unchanged, over every kiosk's submissions.

    Versions of a survey are in the order they were installed (at the kiosk that first sent
    each); text answers and exported rows in order of completion, then instance id.
    """

    def __init__(self, dsn: str) -> None:
        """Connect (CentralUnreachable when that fails) and check the schema is this one."""
        self.dsn = dsn
        self.conn = connect(dsn, application_name="kiosk stats")
        try:
            installation(self.conn, dsn)
        except BaseException:
            self.conn.close()
            raise
        # Personal answers sit apart (store/central/trust.py): read where the role may.
        self._pii = bool(self.conn.execute(
            "SELECT has_column_privilege('submissions', 'pii_answers', 'SELECT')").fetchone()[0])
        self._forms: dict[tuple[str, str], Form] = {}
        self._catalogues: dict[str, dict[str, Question]] = {}
        # survey -> question -> the versions whose form has it (as the flat table's columns)
        self._layouts: dict[str, dict[str, list[str]]] = {}
        self._bitmap_reader = CentralBitmaps(self.conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> CentralStats:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ---- forms ----------------------------------------------------------------------------

    def versions(self, survey_id: str) -> list[str]:
        return [row[0] for row in self.conn.execute(
            "SELECT version FROM forms WHERE survey_id = %s"
            ' ORDER BY installed_at COLLATE "C", received_at, version COLLATE "C"',
            (survey_id,))]

    def load_form(self, survey_id: str, version: str | None = None) -> Form:
        """A form version (the newest unless one is named) as the central database has it."""
        if version is None:
            versions = self.versions(survey_id)
            if not versions:
                raise KeyError(survey_id)
            version = versions[-1]
        key = (survey_id, version)
        if key not in self._forms:
            row = self.conn.execute("SELECT compiled FROM forms WHERE survey_id = %s"
                                    " AND version = %s", key).fetchone()
            if row is None:
                raise KeyError(f"{survey_id} version {version}")
            self._forms[key] = Form(row[0])
        return self._forms[key]

    def read_snapshot(self) -> contextlib.AbstractContextManager[Any]:
        """One repeatable-read transaction: every query inside sees the same committed state,
        however many syncs commit meanwhile."""
        return self._snapshot()

    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[None]:
        from psycopg.pq import TransactionStatus

        if self.conn.info.transaction_status != TransactionStatus.IDLE:
            yield  # inside one already
            return
        with self.conn.transaction():
            self.conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield

    def submission_count(self, survey_id: str | None = None) -> int:
        if survey_id is None:
            row = self.conn.execute("SELECT count(*) FROM submissions").fetchone()
        else:
            row = self.conn.execute("SELECT count(*) FROM submissions WHERE survey_id = %s",
                                    (survey_id,)).fetchone()
        return int(row[0]) if row else 0

    def _catalogue(self, survey_id: str) -> dict[str, Question]:
        if survey_id not in self._catalogues:
            self._catalogues[survey_id] = catalogue(
                [self.load_form(survey_id, version) for version in self.versions(survey_id)])
        return self._catalogues[survey_id]

    def _layout(self, survey_id: str) -> dict[str, list[str]]:
        if survey_id not in self._layouts:
            layout: dict[str, list[str]] = {}
            for question, version in self.conn.execute(
                    "SELECT question, version FROM stats_questions WHERE survey_id = %s",
                    (survey_id,)):
                layout.setdefault(question, []).append(version)
            self._layouts[survey_id] = layout
        return self._layouts[survey_id]

    def _has(self, survey_id: str, question: str) -> tuple[str, list[Any]]:
        """SQL: submission ``s`` was answered on a version that has ``question``."""
        layout = self._layout(survey_id)
        versions = layout.get(question)
        if not versions:
            return "false", []
        if len(versions) == len(self.versions(survey_id)):
            return "true", []
        return "s.version = ANY(%s)", [versions]

    # ---- conditions ---------------------------------------------------------------------------

    def _conditions(self, survey_id: str, filters: StatsFilter) -> tuple[str, list[Any]]:
        """SQL conditions on submissions ``s`` for ``filters`` (as the flat table's)."""
        conditions, parameters = dimension_conditions(filters, {
            "day": "s.stats_day", "kiosk": "coalesce(s.kiosk, '')",
            "site": "coalesce(s.site, '')", "enumerator": "coalesce(s.enumerator, '')"}, POSTGRES)
        review, extra = review_conditions(filters, "s.review", POSTGRES)
        conditions += review
        parameters += extra
        questions = self._catalogue(survey_id)
        for name, value in filters.where.items():
            has, extra = self._has(survey_id, name)
            question = questions.get(name)
            answer = self._answer(name)
            if question is not None and question.is_multiple:
                test = f"{answered_sql(answer)} AND {chosen_sql(answer, self._literal(value))}"
            else:
                test = f"{answer} = to_jsonb({self._literal(value)}::text)"
            conditions += f" AND {has} AND {test}"
            parameters += extra
        return conditions, parameters

    def _literal(self, value: str) -> str:
        from psycopg import sql

        return sql.Literal(value).as_string(self.conn)

    def _answer(self, question: str) -> str:
        """SQL: the answer of submission ``s`` to ``question`` (jsonb); a personal one (in
        pii_answers) only for a role that may read those."""
        name = f"{self._literal(question)}::text"
        if self._pii:
            return f"coalesce({_PLAIN} -> {name}, {_PERSONAL} -> {name})"
        return f"({_PLAIN} -> {name})"

    @property
    def _pair_answer(self) -> str:
        if self._pii:
            return f"coalesce({_PLAIN} -> q.question, {_PERSONAL} -> q.question)"
        return f"({_PLAIN} -> q.question)"

    def _cube(self, filters: StatsFilter, prefix: str = "") -> tuple[str, list[Any]]:
        return dimension_conditions(filters, {name: prefix + name for name in DIMENSIONS},
                                    POSTGRES)

    def _tally_rows(self, survey_id: str, filters: StatsFilter) -> list[tuple[Any, ...]]:
        """('', question, value, count) from the tallies per day or per survey, for
        ``filters`` on dates only (by place or enumerator: the bitmaps)."""
        conditions, parameters = self._cube(filters)
        table = "stats_tally_day" if conditions else "stats_tally_total"
        return self.conn.execute(
            f"SELECT '', question, value, sum(count)::bigint FROM {table}"  # type: ignore
            f" WHERE survey_id = %s{conditions} GROUP BY 1, 2, 3",
            [survey_id, *parameters]).fetchall()

    # ---- StatsStore ----------------------------------------------------------------------

    def _bitmaps(self, survey_id: str, names: Iterable[str]) -> BitmapIndex | None:
        """The bitmaps (store/central/bitmaps.py), when they can select and count for these
        questions: they hold no personal answers, so not when one of them is personal for
        a role that reads those."""
        if self._personal(survey_id, names):
            return None
        return self._bitmap_reader.index(survey_id)

    def _personal(self, survey_id: str, names: Iterable[str]) -> list[str]:
        """Those of ``names`` whose answers are personal, when this role reads them."""
        if not self._pii:
            return []
        known = self._catalogue(survey_id)
        return [name for name in names if name in known and known[name].pii]

    def stats_tallies(self, survey_id: str, questions: Mapping[str, Question],
                      filters: StatsFilter) -> Tallies:
        """Submissions, respondents per question and per value, under ``filters``."""
        if filters.by_answer or filters.by_place:
            with self.read_snapshot():
                index = self._bitmaps(survey_id, filters.where)
                if index is None:
                    return self._answer_tallies(survey_id, filters, None, "").get(
                        "", Tallies(0, {}, {}))
                personal = self._personal(survey_id, questions)
                tallies = index.tallies([question for name, question in questions.items()
                                         if name not in personal], filters)
                if personal:  # the same submissions, counted from their answers
                    found = self._answer_tallies(survey_id, filters, personal, "").get(
                        "", Tallies(0, {}, {}))
                    tallies.answered.update(found.answered)
                    tallies.counts.update(found.counts)
                return tallies
        return _tallies_by_place(self._tally_rows(survey_id, filters)).get(
            "", Tallies(0, {}, {}))

    def _answer_tallies(self, survey_id: str, filters: StatsFilter,
                        questions: Sequence[str] | None, place: str) -> dict[str, Tallies]:
        """Tallies from the answers themselves (filters on answers), per ``place`` (an SQL
        expression over ``s``; '' for no breakdown), of ``questions`` (None: all)."""
        conditions, parameters = self._conditions(survey_id, filters)
        key = place or "''"
        found: dict[str, Tallies] = {}
        for group, count in self.conn.execute(
                f"SELECT {key}, count(*) FROM submissions s"  # type: ignore[arg-type]
                f" WHERE s.survey_id = %s{conditions} GROUP BY 1", [survey_id, *parameters]):
            found[group] = Tallies(int(count), {}, {})
        wanted = "" if questions is None else " AND q.question = ANY(%s)"
        pair_parameters = [*([] if questions is None else [list(questions)]), survey_id,
                           *parameters]
        for group, question, part, value, count in self._pairs(
                pairs_sql([key], "submissions s", f" AND s.survey_id = %s{conditions}",
                           wanted, self._pair_answer), pair_parameters):
            _add_pair(found[group], question, part, value, int(count))
        return found

    def _pairs(self, query: str, parameters: Sequence[Any]) -> list[tuple[Any, ...]]:
        with hashing(self.conn):
            return self.conn.execute(query, parameters).fetchall()  # type: ignore[arg-type]

    def stats_value_counts(self, survey_id: str, question: str,
                           filters: StatsFilter) -> list[tuple[Any, int]]:
        """(value, respondents) of one question (decimals), from the answers."""
        has, extra = self._has(survey_id, question)
        conditions, parameters = self._conditions(survey_id, filters)
        answer = self._answer(question)
        return [(value, int(count)) for value, count in self._pairs(
            f"SELECT {answer}, count(*) FROM submissions s WHERE s.survey_id = %s"
            f" AND {has} AND {answered_sql(answer)}{conditions} GROUP BY 1",
            [survey_id, *extra, *parameters])]

    def stats_texts(self, survey_id: str, question: str, filters: StatsFilter) -> list[str]:
        """The answers to a text question, in order of completion (inside a repeat: every
        instance's, as ``stats_repeat_texts``)."""
        inside = self._catalogue(survey_id).get(question)
        if inside is not None and inside.in_repeat:
            return self.stats_repeat_texts(survey_id, inside, filters)
        has, extra = self._has(survey_id, question)
        conditions, parameters = self._conditions(survey_id, filters)
        answer = self._answer(question)
        return [row[0] for row in self._pairs(
            f"SELECT {answer} #>> '{{}}' FROM submissions s WHERE s.survey_id = %s"
            f" AND {has} AND {answered_sql(answer)}{conditions}"
            ' ORDER BY s.completed COLLATE "C", s.instance_id COLLATE "C"',
            [survey_id, *extra, *parameters])]

    def stats_over_time(self, survey_id: str, questions: Mapping[str, Question],
                        filters: StatsFilter) -> list[tuple[str, str, int]]:
        """(day, site, submissions) under ``filters``."""
        if filters.by_answer:
            with self.read_snapshot():
                index = self._bitmaps(survey_id, filters.where)
                if index is not None:
                    return index.over_time(filters)
            conditions, parameters = self._conditions(survey_id, filters)
            query = ("SELECT s.stats_day, coalesce(s.site, ''), count(*) FROM submissions s"
                     f" WHERE s.survey_id = %s{conditions} GROUP BY 1, 2")
        else:
            conditions, parameters = self._cube(filters)
            query = ("SELECT day, site, sum(n)::bigint FROM stats_cells"
                     f" WHERE survey_id = %s{conditions} GROUP BY 1, 2")
        return sorted((day, site, int(count)) for day, site, count in self.conn.execute(
            query, [survey_id, *parameters]))  # type: ignore[arg-type]

    def stats_crosstab(self, survey_id: str, by: Question, questions: Sequence[Question],
                       filters: StatsFilter) -> dict[str, Any]:
        """Per question: ``table`` {group: {choice: n}}, ``row_n`` and ``column_n`` (as the
        kiosk's store/sqlite/stats.py counts them)."""
        result = empty_crosstab(by, questions)
        if not questions:
            return result
        with self.read_snapshot():
            index = self._bitmaps(survey_id, [by.name, *(question.name for question in questions),
                                              *filters.where])
            if index is not None:
                return index.crosstab(by, questions, filters)
        return self._crosstab(survey_id, by, questions, filters, result, "",
                              self._pair_answer)

    def _crosstab(self, survey_id: str, by: Question, questions: Sequence[Question],
                  filters: StatsFilter, result: dict[str, Any], instances: str,
                  answer_of_q: str) -> dict[str, Any]:
        """Fill ``result`` with the cross-tab of ``questions`` (answered as
        ``answer_of_q``, in the rows ``submissions s`` and then ``instances`` make) by
        ``by`` (a submission-level question)."""
        conditions, parameters = self._conditions(survey_id, filters)
        has, by_parameters = self._has(survey_id, by.name)
        answer = self._answer(by.name)
        by_answered = f" AND {has} AND {answered_sql(answer)}"
        if by.is_multiple:
            groups = ("CROSS JOIN LATERAL (SELECT to_jsonb(g) AS g FROM ("
                      f" SELECT jsonb_array_elements_text(CASE WHEN jsonb_typeof({answer})"
                      f" = 'array' THEN {answer} END) UNION ALL SELECT p FROM"
                      f" regexp_split_to_table(CASE WHEN jsonb_typeof({answer}) <> 'array'"
                      f" THEN {answer} #>> '{{}}' END, '\\s+') p WHERE p <> '') groups(g)) b")
        else:
            groups = f"CROSS JOIN LATERAL (SELECT {answer} AS g) b"
        targets = [target.name for target in questions]
        where = f" AND s.survey_id = %s{by_answered}{conditions}"
        pair_parameters = [targets, survey_id, *by_parameters, *parameters]
        wanted = " AND q.question = ANY(%s)"
        for group, name, part, value, count in self._pairs(
                pairs_sql(["b.g"], f"submissions s {groups}{instances}", where, wanted,
                          answer_of_q),
                pair_parameters):
            entry = result[name]
            if not isinstance(group, str) or group not in entry["row_n"]:
                continue
            if part != "c":
                entry["row_n"][group] += int(count)
            value = json.loads(value)
            if part != "a" and isinstance(value, str) and value in entry["column_n"]:
                entry["table"][group][value] += int(count)
        if not by.is_multiple:
            return add_column_totals(result)
        for name, part, value, count in self._pairs(
                pairs_sql([], f"submissions s{instances}", where, wanted, answer_of_q),
                pair_parameters):
            value = json.loads(value)
            if part != "a" and isinstance(value, str) and value in result[name]["column_n"]:
                result[name]["column_n"][value] += int(count)
        return result

    # ---- questions inside repeats -------------------------------------------------------------

    def _instances(self, path: Sequence[str]) -> tuple[str, str]:
        """SQL: the laterals that make one row per instance at ``path`` of submission ``s``
        (outer instances first, each level numbered ``i<level>.place`` in its order), and the
        innermost instance (jsonb)."""
        laterals, holder = "", ""
        for level, name in enumerate(path, start=1):
            value = self._answer(name) if not holder else \
                f"({holder} -> {self._literal(name)}::text)"
            laterals += (f" CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN"
                         f" jsonb_typeof({value}) = 'array' THEN {value} END)"
                         f" WITH ORDINALITY i{level}(instance, place)")
            holder = f"i{level}.instance"
        return laterals, holder

    def stats_repeat_tallies(self, survey_id: str, questions: Mapping[str, Question],
                             repeats: Mapping[str, RepeatGroup],
                             filters: StatsFilter) -> Tallies:
        """Instances per question and value, submissions per question with an instance
        that answered, and per repeat {instances: submissions}, under ``filters``."""
        tallies = Tallies(0, {}, {})
        conditions, parameters = self._conditions(survey_id, filters)
        for name, group in repeats.items():
            laterals, _holder = self._instances(group.path)
            rows = self._pairs(
                "SELECT n, count(*) FROM (SELECT (SELECT count(*) FROM (VALUES (1)) one"
                f"{laterals}) AS n FROM submissions s WHERE s.survey_id = %s"
                f" AND s.version = ANY(%s){conditions}) counted GROUP BY 1",
                [survey_id, group.versions, *parameters])
            tallies.instances[name] = {int(count): int(number) for count, number in rows}
        by_path: dict[tuple[str, ...], list[str]] = {}
        for question in questions.values():
            by_path.setdefault(question.repeat, []).append(question.name)
        for path, names in by_path.items():
            laterals, holder = self._instances(path)
            answer = f"({holder} -> q.question)"
            where = f" AND s.survey_id = %s{conditions}"
            wanted = " AND q.question = ANY(%s)"
            for question, part, value, count in self._pairs(
                    pairs_sql([], f"submissions s{laterals}", where, wanted, answer),
                    [names, survey_id, *parameters]):
                _add_pair(tallies, question, part, value, int(count))
            for question, count in self._pairs(
                    f"SELECT q.question, count(DISTINCT s.instance_id) FROM submissions s"
                    f"{laterals} JOIN stats_questions q ON q.survey_id = s.survey_id"
                    f" AND q.version = s.version{wanted} WHERE {answered_sql(answer)}{where}"
                    " GROUP BY 1", [names, survey_id, *parameters]):
                tallies.submissions[question] = int(count)
        return tallies

    def stats_repeat_values(self, survey_id: str, question: Question,
                            filters: StatsFilter) -> list[tuple[Any, int]]:
        """(value, instances) of a question inside a repeat (decimals)."""
        conditions, parameters = self._conditions(survey_id, filters)
        laterals, holder = self._instances(question.repeat)
        answer = f"({holder} -> {self._literal(question.name)}::text)"
        return [(value, int(count)) for value, count in self._pairs(
            f"SELECT {answer}, count(*) FROM submissions s{laterals} WHERE s.survey_id = %s"
            f" AND {answered_sql(answer)}{conditions} GROUP BY 1", [survey_id, *parameters])]

    def stats_repeat_texts(self, survey_id: str, question: Question,
                           filters: StatsFilter) -> list[str]:
        """The answers of every instance to a text question inside a repeat, in order of
        completion, then of the instances."""
        conditions, parameters = self._conditions(survey_id, filters)
        laterals, holder = self._instances(question.repeat)
        answer = f"({holder} -> {self._literal(question.name)}::text)"
        order = "".join(f", i{level}.place" for level in range(1, len(question.repeat) + 1))
        return [row[0] for row in self._pairs(
            f"SELECT {answer} #>> '{{}}' FROM submissions s{laterals} WHERE s.survey_id = %s"
            f" AND {answered_sql(answer)}{conditions}"
            f' ORDER BY s.completed COLLATE "C", s.instance_id COLLATE "C"{order}',
            [survey_id, *parameters])]

    def stats_repeat_crosstab(self, survey_id: str, by: Question,
                              questions: Sequence[Question],
                              filters: StatsFilter) -> dict[str, Any]:
        """A cross-tab of questions inside repeats by a submission-level select question,
        counting instances (its shape as ``stats_crosstab``'s)."""
        result = empty_crosstab(by, questions)
        by_path: dict[tuple[str, ...], list[Question]] = {}
        for question in questions:
            by_path.setdefault(question.repeat, []).append(question)
        for path, present in by_path.items():
            laterals, holder = self._instances(path)
            part = {name: entry for name, entry in result.items()
                    if name in {question.name for question in present}}
            self._crosstab(survey_id, by, present, filters, part, laterals,
                           f"({holder} -> q.question)")
        return result

    def stats_site_tallies(self, survey_id: str, questions: Sequence[str],
                           filters: StatsFilter, dimension: str) -> dict[str, Tallies]:
        """Tallies of ``questions`` per street, community (its site ``街道/社区``) or kiosk."""
        with self.read_snapshot():
            index = self._bitmaps(survey_id, [*questions, *filters.where])
            if index is not None:
                known = self._catalogue(survey_id)
                return index.by_place([known[name] for name in questions if name in known],
                                      filters, dimension)
            place = {"street": "s.street", "community": "coalesce(s.site, '')",
                     "kiosk": "coalesce(s.kiosk, '')"}[dimension]
            return self._answer_tallies(survey_id, filters, questions, place)

    # ---- ExportStore ----------------------------------------------------------------------------

    def review_log(self, survey_id: str, filters: StatsFilter) -> list[dict[str, Any]]:
        """The review decisions and corrections of the submissions ``filters`` keeps, oldest
        first, as the kiosk's ``review_log`` (a personal answer's values only for a role
        that may read them)."""
        conditions, parameters = self._conditions(survey_id, filters)
        old, new = (("coalesce(c.old, c.pii_old)", "coalesce(c.new, c.pii_new)") if self._pii
                    else ("c.old", "c.new"))
        rows = self.conn.execute(
            "SELECT 'review'::text, r.instance_id, r.at, r.staff, r.kiosk, r.state, NULL::text,"  # type: ignore[arg-type]
            " NULL::text, NULL::text, r.note, r.review_id FROM submission_reviews r"
            f" JOIN submissions s USING (instance_id) WHERE s.survey_id = %s{conditions}"
            " UNION ALL SELECT 'correction', c.instance_id, c.at, c.staff, c.kiosk, NULL,"
            f" c.question, {old}, {new}, c.why, c.correction_id FROM submission_corrections c"
            f" JOIN submissions s USING (instance_id) WHERE s.survey_id = %s{conditions}"
            " ORDER BY 3, 11",
            [survey_id, *parameters, survey_id, *parameters]).fetchall()
        return [history_entry(row) for row in rows]

    @property
    def reads_personal_data(self) -> bool:
        """Whether this login may read the answers to questions marked pii."""
        return self._pii

    @property
    def _all_answers(self) -> str:
        return f"{_PLAIN} || coalesce({_PERSONAL}, '{{}}')" if self._pii else _PLAIN

    def iter_submissions(self, survey_id: str,
                         filters: StatsFilter | None = None) -> Iterator[dict[str, Any]]:
        """Submissions of a survey (all versions) as JSONL records, in order of completion;
        ``filters`` keeps those the statistics under the same filters count."""
        conditions, parameters = self._conditions(survey_id, filters or StatsFilter())
        with self.conn.transaction(), self.conn.cursor(name="kiosk_export") as cursor:
            cursor.itersize = 2000
            cursor.execute(
                "SELECT instance_id, survey_id, version, kiosk, started, completed, lang,"
                f" enumerator, {self._all_answers}, site FROM submissions s"
                " WHERE s.survey_id = %s"
                f'{conditions} ORDER BY s.completed COLLATE "C", s.instance_id COLLATE "C"',
                [survey_id, *parameters])
            for row in cursor:
                record = {"instance_id": row[0], "survey": row[1], "version": row[2],
                          "kiosk": row[3], "started": row[4], "completed": row[5],
                          "lang": row[6], "enumerator": row[7], "answers": row[8]}
                if row[9] is not None:
                    record["site"] = row[9]
                yield record

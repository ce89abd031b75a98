"""Statistics of repeat groups (issue 16): a question inside a repeat counted per instance
(household members, visits, the services of each visit), each repeat summarised per
submission (members per household), on a kiosk's SQLite and on the central PostgreSQL.

Every figure of a few hundred generated households is checked against pandas computed from
the submissions themselves (one frame per level: households, members, visits, services),
without filters and under filters on submission-level answers, days and places; the
central figures must equal the kiosk's as whole JSON. Filters and groupings on a question
inside a repeat are refused with the reason; a cross-tab of a repeat question by a
submission-level one counts instances. Hostile records (``{}`` instances, missing keys,
100 instances, a repeat that is not a list) count as the rules say.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner
from rich.console import Console
from scipy.stats import binomtest

from kiosk.cli import main
from store import KioskStore, open_store
from surveys.session import Submission
from surveys.stats.figures import survey_statistics
from surveys.stats.model import StatsError, StatsFilter
from surveys.stats.sites import site_breakdown
from surveys.xlsform import compile_xlsform
from tests.formbuilder import write_form
from tests.gated import gated, stored_before_the_gate

SURVEY = "home_visits"
COMMUNITIES = ["xinhua", "dongfeng", "longtan"]
GROUPS = ["elderly", "family", "other"]
TOPICS = ["safety", "health", "jobs"]
YN = ["yes", "no"]
NEEDS = ["meal", "clean", "medical", "chat"]
SERVICES = ["meal", "clean", "repair", "other"]
NAMES = ["王芳", "李明", "张丽", "赵强", "陈静"]
NOTES = ["修水管", "陪同就医", "换灯泡"]
SITE = "九龙街道/新华社区"
HEADER = ["type", "name", "label::中文 (zh)", "label::English (en)", "relevant",
          "constraint"]


def _survey(version: int) -> list[list[str]]:
    rows = [
        HEADER,
        ["select_one community", "community", "您住在哪个社区？", "Community", "", ""],
        ["select_one grp", "resp_group", "您是？", "Respondent", "", ""],
        ["select_multiple topic", "topics", "关心哪些事？", "Topics", "", ""],
        ["begin_repeat", "members", "家庭成员", "Household member", "", ""],
        ["text", "name", "姓名", "Name", "", ""],
        ["integer", "age", "年龄", "Age", "", ". >= 0 and . <= 120"],
        ["select_one yn", "works", "有工作吗？", "Works?", "${age} >= 16", ""],
        ["select_multiple need", "needs", "需要什么帮助？", "Needs", "", ""],
        ["decimal", "income", "月收入（元）", "Monthly income", "${works} = 'yes'", ""],
    ]
    if version == 2:
        rows += [["select_one yn", "chronic", "有慢性病吗？", "Chronic illness?", "", ""]]
    rows += [["end_repeat", "", "", "", "", ""]]
    if version == 2:  # visits, with the services of each, only in version 2
        rows += [
            ["begin_repeat", "visits", "探访", "Visit", "", ""],
            ["date", "visit_day", "探访日期", "Visit date", "", ""],
            ["integer", "minutes", "用了几分钟？", "Minutes", "", ". > 0 and . <= 600"],
            ["begin_repeat", "services", "服务", "Service", "", ""],
            ["select_one svc", "service", "什么服务？", "Which service?", "", ""],
            ["text", "note", "备注", "Note", "", ""],
            ["end_repeat", "", "", "", "", ""],
            ["end_repeat", "", "", "", "", ""],
        ]
    return rows


def _choices() -> list[list[str]]:
    rows = [["list_name", "name", "label::中文 (zh)", "label::English (en)"]]
    for list_name, names in (("community", COMMUNITIES), ("grp", GROUPS), ("topic", TOPICS),
                             ("yn", YN), ("need", NEEDS), ("svc", SERVICES)):
        rows += [[list_name, name, f"{list_name}-{name}", name] for name in names]
    return rows


def compiled_versions(directory: Path) -> list[dict[str, Any]]:
    compiled = []
    for version in (1, 2):
        path = write_form(
            directory / f"{SURVEY}_v{version}.xlsx", _survey(version), _choices(),
            [["form_title", "form_title::English (en)", "form_id", "version",
              "default_language"],
             ["入户探访", "Home visits", SURVEY, str(version), "中文 (zh)"]])
        compiled.append(compile_xlsform(path))
    return compiled


def _subset(rng: random.Random, names: list[str]) -> list[str]:
    return sorted(rng.sample(names, rng.randint(1, len(names))), key=names.index)


def _member(rng: random.Random, version: str) -> dict[str, Any]:
    if rng.random() < 0.06:
        return {}  # an instance left empty (nothing in it applied or was answered)
    member: dict[str, Any] = {}
    if rng.random() < 0.9:
        member["name"] = rng.choice(NAMES)
    if rng.random() < 0.9:
        member["age"] = rng.randint(0, 100)
        if member["age"] >= 16 and rng.random() < 0.8:
            member["works"] = rng.choice(YN)
            if member["works"] == "yes" and rng.random() < 0.7:
                member["income"] = round(rng.uniform(800, 9000), 2)
    if rng.random() < 0.7:
        member["needs"] = _subset(rng, NEEDS)
    if version == "2" and rng.random() < 0.7:
        member["chronic"] = rng.choice(YN)
    return member


def _visit(rng: random.Random) -> dict[str, Any]:
    visit: dict[str, Any] = {}
    if rng.random() < 0.9:
        visit["visit_day"] = (dt.date(2026, 11, 1) + dt.timedelta(days=rng.randint(0, 20))
                              ).isoformat()
    if rng.random() < 0.8:
        visit["minutes"] = rng.randint(5, 120)
    services = []
    for _ in range(rng.choice([0, 0, 1, 2, 3])):
        service: dict[str, Any] = {}
        if rng.random() < 0.9:
            service["service"] = rng.choice(SERVICES)
        if rng.random() < 0.3:
            service["note"] = rng.choice(NOTES)
        services.append(service)
    if services or rng.random() < 0.5:
        visit["services"] = services
    return visit


def generate(count: int, seed: int = 16) -> list[Submission]:
    """Households of both versions: 0–6 members, (version 2) 0–3 visits of 0–3 services."""
    rng = random.Random(seed)
    china = dt.timezone(dt.timedelta(hours=8))
    records = []
    for index in range(count):
        version = "1" if index < count // 3 else "2"
        answers: dict[str, Any] = {}
        if rng.random() < 0.95:
            answers["community"] = rng.choices(COMMUNITIES, [5, 3, 2])[0]
        if rng.random() < 0.9:
            answers["resp_group"] = rng.choice(GROUPS)
        if rng.random() < 0.8:
            answers["topics"] = _subset(rng, TOPICS)
        members = [_member(rng, version) for _ in range(rng.randint(0, 6))]
        if members or rng.random() < 0.5:  # none: an empty list, or no answer at all
            answers["members"] = members
        if version == "2":
            visits = [_visit(rng) for _ in range(rng.randint(0, 3))]
            if visits or rng.random() < 0.5:
                answers["visits"] = visits
        moment = dt.datetime(2026, 11, 1, 8, tzinfo=china) + dt.timedelta(
            minutes=rng.randint(0, 25 * 24 * 60))
        completed = moment.isoformat(timespec="milliseconds")
        no_site = rng.random() < 0.2  # a tablet on a household visit: an enumerator, no site
        records.append(Submission(
            instance_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)), survey=SURVEY,
            version=version, started=completed, completed=completed, lang="zh",
            answers=answers, kiosk="hall-1", site=None if no_site else SITE,
            enumerator="JG0001" if no_site else None))
    return sorted(records, key=lambda item: (item.completed, item.instance_id))


# ---- pandas: one frame per level, from the records ---------------------------------------------


@dataclasses.dataclass
class Frames:
    households: pd.DataFrame
    members: pd.DataFrame
    visits: pd.DataFrame
    services: pd.DataFrame


def frames(submissions: list[Submission]) -> Frames:
    households, members, visits, services = [], [], [], []
    for item in submissions:
        answers = item.answers
        day = dt.datetime.fromisoformat(item.completed).date().isoformat()
        row = {"id": item.instance_id, "version": item.version, "day": day,
               "site": item.site, "enumerator": item.enumerator,
               **{name: answers.get(name) for name in ("community", "resp_group", "topics")}}
        listed = answers.get("members") or []
        row["members_n"] = len(listed)
        members += [{"id": item.instance_id, **member} for member in listed]
        if item.version == "2":
            row["visits_n"] = len(answers.get("visits") or [])
            row["services_n"] = 0
            for visit in answers.get("visits") or []:
                visits.append({"id": item.instance_id, **{
                    key: value for key, value in visit.items() if key != "services"}})
                row["services_n"] += len(visit.get("services") or [])
                services += [{"id": item.instance_id, **service}
                             for service in visit.get("services") or []]
        households.append(row)
    columns = {"members": ["id", "name", "age", "works", "needs", "income", "chronic"],
               "visits": ["id", "visit_day", "minutes"], "services": ["id", "service", "note"]}
    return Frames(pd.DataFrame(households),
                  pd.DataFrame(members, columns=columns["members"]),
                  pd.DataFrame(visits, columns=columns["visits"]),
                  pd.DataFrame(services, columns=columns["services"]))


def _has(answer: Any, value: str) -> bool:
    return value in answer if isinstance(answer, list) else answer == value


def select(households: pd.DataFrame, filters: StatsFilter) -> pd.DataFrame:
    keep = pd.Series(True, index=households.index)
    if filters.date_from:
        keep &= households["day"] >= filters.date_from.isoformat()
    if filters.date_to:
        keep &= households["day"] <= filters.date_to.isoformat()
    if filters.sites:
        keep &= households["site"].fillna("").isin(filters.sites)
    if filters.enumerators:
        keep &= households["enumerator"].isin(filters.enumerators)
    for name, value in filters.where.items():
        keep &= households[name].apply(lambda answer, value=value: _has(answer, value))
    return households[keep]


# (question, level, kind, choices)
REPEAT_QUESTIONS = [
    ("name", "members", "text", None), ("age", "members", "integer", None),
    ("works", "members", "select_one", YN), ("needs", "members", "select_multiple", NEEDS),
    ("income", "members", "decimal", None), ("chronic", "members", "select_one", YN),
    ("visit_day", "visits", "date", None), ("minutes", "visits", "integer", None),
    ("service", "services", "select_one", SERVICES), ("note", "services", "text", None),
]
PATHS = {"members": ["members"], "visits": ["visits"], "services": ["visits", "services"]}


def check_figures(stats: dict[str, Any], data: Frames, filters: StatsFilter) -> None:
    """Every figure of every question inside a repeat, and each repeat's summary, against
    pandas on the households ``filters`` keep."""
    kept = select(data.households, filters)
    ids = set(kept["id"])
    assert stats["n"] == len(kept)
    for name, level, kind, choices in REPEAT_QUESTIONS:
        rows = getattr(data, level)
        rows = rows[rows["id"].isin(ids)]
        answered = rows[rows[name].notna()]
        figures = stats["questions"][name]
        assert figures["type"] == kind, name
        assert figures["unit"] == "instance" and figures["repeat"] == level, name
        assert figures["path"] == PATHS[level]
        assert figures["n"] == len(answered), name
        assert figures["instances"] == len(rows), name
        assert figures["submissions"] == answered["id"].nunique(), name
        if choices is not None:
            values = answered[name].explode() if kind == "select_multiple" else answered[name]
            counted = values.value_counts()
            expected = {choice: int(counted.get(choice, 0)) for choice in choices}
            assert figures["counts"] == expected, name
            for choice, count in expected.items():
                if not len(answered):
                    assert figures["percent"][choice] is None
                    continue
                assert figures["percent"][choice] == pytest.approx(
                    count / len(answered) * 100)
                low, high = binomtest(count, len(answered)).proportion_ci(method="wilson")
                assert figures["ci95"][choice] == pytest.approx([low * 100, high * 100],
                                                                abs=1e-9)
        elif kind in ("integer", "decimal"):
            values = answered[name].astype(float)
            assert figures["mean"] == pytest.approx(values.mean()), name
            assert figures["sd"] == pytest.approx(values.std(ddof=1)), name
            assert figures["min"] == values.min() and figures["max"] == values.max()
            for key, p in (("q1", 0.25), ("median", 0.5), ("q3", 0.75)):
                assert figures[key] == pytest.approx(values.quantile(p)), (name, key)
            assert sum(entry["count"] for entry in figures["histogram"]) == len(values)
        elif kind == "date":
            assert figures["counts"] == answered[name].value_counts().sort_index().to_dict()
            assert (figures["min"], figures["max"]) == (answered[name].min(),
                                                        answered[name].max())
        else:
            assert sorted(figures["answers"]) == sorted(answered[name])
    for repeat, versions in (("members", ["1", "2"]), ("visits", ["2"]), ("services", ["2"])):
        counts = kept[kept["version"].isin(versions)][f"{repeat}_n"].astype(int)
        summary = stats["repeats"][repeat]
        assert summary["path"] == PATHS[repeat] and summary["unit"] == "submission"
        assert summary["n"] == len(counts), repeat
        assert summary["instances"] == counts.sum()
        assert summary["counts"] == {str(number): int(count) for number, count
                                     in counts.value_counts().sort_index().items()}
        assert summary["mean"] == pytest.approx(counts.mean())
        assert summary["sd"] == pytest.approx(counts.std(ddof=1))
        assert (summary["min"], summary["max"]) == (counts.min(), counts.max())
        for key, p in (("q1", 0.25), ("median", 0.5), ("q3", 0.75)):
            assert summary[key] == pytest.approx(counts.quantile(p)), (repeat, key)
    # The submission-level questions are counted per submission, as before.
    communities = kept["community"].dropna()
    assert stats["questions"]["community"]["n"] == len(communities)
    assert "unit" not in stats["questions"]["community"]


def check_crosstab(stats: dict[str, Any], data: Frames, filters: StatsFilter, by: str,
                   question: str, level: str, choices: list[str]) -> None:
    """A cross-tab of a question inside a repeat by a submission-level one, in instances."""
    kept = select(data.households, filters)
    rows = getattr(data, level).merge(kept[["id", by]], on="id")
    rows = rows[rows[by].notna()]
    groups = {"community": COMMUNITIES, "topics": TOPICS, "resp_group": GROUPS}[by]
    crosstab = stats["crosstab"]
    assert crosstab["unit"] == "instance" and crosstab["repeat"] == level
    answered = rows[rows[question].notna()]
    for group in groups:
        in_group = answered[answered[by].apply(lambda value, group=group: _has(value, group))]
        assert crosstab["row_n"][group] == len(in_group), group
        for choice in choices:
            chose = in_group[in_group[question].apply(
                lambda value, choice=choice: _has(value, choice))]
            assert crosstab["table"][group][choice] == len(chose), (group, choice)
            assert crosstab["row_percent"][group][choice] == (
                pytest.approx(len(chose) / len(in_group) * 100) if len(in_group) else None)
    for choice in choices:
        chose = answered[answered[question].apply(
            lambda value, choice=choice: _has(value, choice))]
        assert crosstab["column_n"][choice] == len(chose), choice


# ---- the kiosk's SQLite ------------------------------------------------------------------------

COUNT = 300
FILTERS = [
    StatsFilter(),
    StatsFilter(where={"community": "xinhua"}),
    StatsFilter(where={"resp_group": "elderly"}, date_from=dt.date(2026, 11, 10)),
    StatsFilter(where={"topics": "health", "community": "dongfeng"}),
    StatsFilter(sites=(SITE,)),
    StatsFilter(enumerators=("JG0001",), date_to=dt.date(2026, 11, 20)),
    StatsFilter(date_to=dt.date(2026, 11, 5)),
]
CROSSTABS = [
    ("community", "works", "members", YN),
    ("community", "needs", "members", NEEDS),
    ("topics", "works", "members", YN),
    ("topics", "service", "services", SERVICES),
    ("resp_group", "chronic", "members", YN),
]


@dataclasses.dataclass
class Households:
    path: Path
    submissions: list[Submission]
    data: Frames
    versions: list[dict[str, Any]]


@pytest.fixture(scope="module")
def households(tmp_path_factory: pytest.TempPathFactory) -> Households:
    """A kiosk database with COUNT households (in batches, one at a time and sent twice)."""
    directory = tmp_path_factory.mktemp("repeat_stats")
    path = directory / "kiosk.db"
    submissions = generate(COUNT)
    versions = compiled_versions(directory)
    with open_store(path) as store:
        for compiled in versions:
            store.install_form(compiled)
        assert store.insert_submissions(gated(store, submissions[:200])) == 200
        for submission in submissions[200:]:
            store.save_submission(gated(store, [submission])[0])
        assert store.insert_submissions(gated(store, submissions[:20])) == 0
    return Households(path, submissions, frames(submissions), versions)


@pytest.fixture
def store(households: Households) -> Iterator[KioskStore]:
    with KioskStore(households.path) as opened:
        yield opened


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: json.dumps(f.to_json()))
def test_every_repeat_figure_matches_pandas(store: KioskStore, households: Households,
                                            filters: StatsFilter):
    stats = survey_statistics(store, SURVEY, filters, include_pii=True)
    check_figures(stats, households.data, filters)


@pytest.mark.parametrize(("by", "question", "level", "choices"), CROSSTABS)
@pytest.mark.parametrize("filters", [StatsFilter(), StatsFilter(where={"resp_group": "family"}),
                                     StatsFilter(date_from=dt.date(2026, 11, 12))],
                         ids=["all", "family", "late"])
def test_a_crosstab_by_a_submission_question_counts_instances(
        store: KioskStore, households: Households, by: str, question: str, level: str,
        choices: list[str], filters: StatsFilter):
    stats = survey_statistics(store, SURVEY, filters, by=by, question=question)
    check_crosstab(stats, households.data, filters, by, question, level, choices)


def test_a_crosstab_of_every_select_question_marks_those_per_instance(store: KioskStore):
    tables = survey_statistics(store, SURVEY, by="community")["crosstab"]["tables"]
    assert list(tables) == ["resp_group", "topics", "works", "needs", "chronic", "service"]
    assert "unit" not in tables["resp_group"]
    assert tables["works"]["unit"] == "instance" and tables["service"]["repeat"] == "services"
    one = survey_statistics(store, SURVEY, by="community", question="needs")["crosstab"]
    assert tables["needs"]["table"] == one["table"]
    assert tables["needs"]["column_n"] == one["column_n"]


@pytest.mark.parametrize(("options", "words"), [
    ({"filters": StatsFilter(where={"works": "yes"})},
     ["--where works=yes", "“works”是重复组“members”里的题", "按人次计数", "inside the repeat"]),
    ({"filters": StatsFilter(where={"service": "meal"})},
     ["“service”是重复组“visits › services”里的题"]),
    ({"by": "works"}, ["--by works", "不能用来筛选或分组提交"]),
    ({"by": "chronic", "question": "community"}, ["--by chronic"]),
])
def test_a_filter_or_grouping_by_a_repeat_question_is_refused_with_the_reason(
        store: KioskStore, options: dict[str, Any], words: list[str]):
    with pytest.raises(StatsError) as refused:
        survey_statistics(store, SURVEY, **options)
    for word in words:
        assert word in str(refused.value)


def test_by_site_leaves_out_the_questions_counted_per_instance(store: KioskStore,
                                                               households: Households):
    breakdown = site_breakdown(store, SURVEY)
    kiosk = breakdown["kiosk"]["hall-1"]
    assert kiosk["n"] == COUNT
    assert set(kiosk["questions"]) == {"community", "resp_group", "topics"}


def test_kiosk_stats_says_per_instance_and_summarises_each_repeat(households: Households):
    runner = CliRunner()
    shown = runner.invoke(main, ["--db", str(households.path), "stats", SURVEY])
    assert shown.exit_code == 0, shown.output
    text = shown.output
    members = households.data.members
    answered = members[members["age"].notna()]
    assert (f"按人次：{len(answered):,} 人次作答 · 共 {len(members):,} 人次，来自 "
            f"{answered['id'].nunique():,} 份提交") in text
    assert "家庭成员 [members] · 每份提交的条数" in text
    english = runner.invoke(main, ["--db", str(households.path), "stats", SURVEY,
                                   "--lang", "en"])
    assert english.exit_code == 0, english.output
    assert "per instance" in english.output and "instances per submission" in english.output
    as_json = runner.invoke(main, ["--db", str(households.path), "stats", SURVEY, "--json",
                                   "--where", "community=xinhua"])
    assert as_json.exit_code == 0, as_json.output
    stats = json.loads(as_json.output)
    check_figures(stats, households.data, StatsFilter(where={"community": "xinhua"}))
    refused = runner.invoke(main, ["--db", str(households.path), "stats", SURVEY,
                                   "--where", "works=yes"])
    assert refused.exit_code != 0 and "重复组" in refused.output
    assert "Traceback" not in refused.output


def test_the_pdf_report_of_a_repeat_survey(households: Households, tmp_path: Path):
    output = tmp_path / "report.pdf"
    result = CliRunner().invoke(main, ["--db", str(households.path), "export", SURVEY,
                                       "--format", "pdf", "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert output.read_bytes().startswith(b"%PDF")
    crossed = tmp_path / "crossed.pdf"  # every select question by community, per instance too
    result = CliRunner().invoke(main, ["--db", str(households.path), "export", SURVEY,
                                       "--format", "pdf", "--by", "community",
                                       "-o", str(crossed)])
    assert result.exit_code == 0, result.output
    assert crossed.read_bytes().startswith(b"%PDF")
    refused = CliRunner().invoke(main, ["--db", str(households.path), "export", SURVEY,
                                        "--format", "pdf", "--by", "works",
                                        "-o", str(tmp_path / "no.pdf")])
    assert refused.exit_code != 0 and "重复组" in refused.output
    assert "Traceback" not in refused.output and not (tmp_path / "no.pdf").exists()


# ---- hostile records ---------------------------------------------------------------------------


@dataclasses.dataclass
class Hostile:
    store: KioskStore
    gated: list[Submission]  # through the record gate
    unchecked: list[Submission]  # stored before it


def hostile_store(directory: Path) -> Hostile:
    """A kiosk database of five households: {} instances, missing keys, [] and "" answers
    and 100 members through the gate; a repeat that is not a list and elements that are
    not objects stored before it."""
    versions = compiled_versions(directory)
    store = open_store(directory / "kiosk.db")
    for compiled in versions:
        store.install_form(compiled)
    template = generate(1)[0]

    def household(answers: dict[str, Any], version: str = "2") -> Submission:
        return dataclasses.replace(template, instance_id=str(uuid.uuid4()), version=version,
                                   answers=answers)

    hundred = [{"name": f"成员{index}", "age": index} for index in range(100)]
    through_the_gate = [
        household({"community": "xinhua", "members": [{}, {}, {"age": 30}, {"needs": []}]}),
        household({"community": "xinhua", "members": hundred,
                   "visits": [{}, {"services": [{}, {"service": "meal"}]}]}),
        household({"community": "longtan"}, version="1"),  # no members key at all
    ]
    assert store.insert_submissions(gated(store, through_the_gate)) == 3
    # Stored before the record gate: a repeat that is not a list holds no instance, and an
    # element that is not an object is an instance with nothing answered.
    unchecked = [
        household({"community": "dongfeng", "members": "王芳",
                   "visits": [1, None, {"services": "none", "minutes": 20}]}),
        household({"community": "dongfeng", "members": [7, None, {"age": 5, "name": ""}]}),
    ]
    assert stored_before_the_gate(store, unchecked) == 2
    return Hostile(store, through_the_gate, unchecked)


def check_hostile(stats: dict[str, Any], filtered: dict[str, Any]) -> None:
    assert stats["repeats"]["members"]["counts"] == {"0": 2, "3": 1, "4": 1, "100": 1}
    assert stats["repeats"]["members"]["instances"] == 107
    # Only version 2 has visits: the household of version 1 is not among these.
    assert stats["repeats"]["visits"]["counts"] == {"0": 2, "2": 1, "3": 1}
    assert stats["repeats"]["services"]["counts"] == {"0": 3, "2": 1}
    age = stats["questions"]["age"]
    assert (age["n"], age["instances"], age["submissions"]) == (102, 107, 3)
    assert age["max"] == 99 and age["min"] == 0
    assert age["mean"] == pytest.approx((sum(range(100)) + 30 + 5) / 102)
    assert stats["questions"]["name"]["n"] == 100  # "" is no answer
    assert stats["questions"]["needs"]["n"] == 0  # [] is no answer
    assert stats["questions"]["minutes"]["n"] == 1
    assert stats["questions"]["service"]["counts"]["meal"] == 1
    assert stats["questions"]["service"]["n"] == 1
    assert filtered["repeats"]["members"]["counts"] == {"4": 1, "100": 1}
    assert filtered["questions"]["age"]["n"] == 101


def test_empty_instances_missing_keys_and_a_hundred_instances_count_right(tmp_path: Path):
    hostile = hostile_store(tmp_path)
    with hostile.store as store:
        check_hostile(survey_statistics(store, SURVEY, include_pii=True),
                      survey_statistics(store, SURVEY, StatsFilter(where={"community":
                                                                          "xinhua"})))


def test_central_counts_hostile_repeats_as_the_kiosk(postgres, tmp_path: Path):
    """The same five households at the central database: the three the gate passed synced,
    the two stored before it (a sync sets those aside) put in as they are."""
    from psycopg.types.json import Jsonb

    from kiosk.central.sync import KioskIdentity, sync
    from store.central.schema import init
    from store.central.stats import CentralStats
    from tests.enrolled import enrolled

    psycopg = pytest.importorskip("psycopg")
    hostile = hostile_store(tmp_path)
    dsn = postgres.create_database(f"hostile_{uuid.uuid4().hex[:12]}")
    init(dsn)
    enrolment = enrolled(dsn, KioskIdentity("hall-1", "九龙街道", "新华社区", "社工站"),
                         config=tmp_path / "hall-1.toml")
    sync(hostile.store, enrolment)
    with psycopg.connect(dsn, autocommit=True) as connection:
        assert connection.execute("SELECT count(*) FROM submissions").fetchone()[0] == 3
        columns = ", ".join(row[0] for row in connection.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name ="
            " 'submissions' AND is_generated = 'NEVER' AND is_identity = 'NO'"
            " AND column_name NOT IN ('instance_id', 'answers')"))
        for item in hostile.unchecked:
            connection.execute(
                f"INSERT INTO submissions (instance_id, answers, {columns}) SELECT %s, %s,"
                f" {columns} FROM submissions WHERE instance_id = %s",
                (item.instance_id, Jsonb(item.answers), hostile.gated[1].instance_id))
            # Rows from before the checks reach the bitmaps as a migration queues them.
            connection.execute("INSERT INTO stats_bitmap_queue (number) SELECT number"
                               " FROM submissions WHERE instance_id = %s", (item.instance_id,))
    with CentralStats(dsn) as central:
        found = survey_statistics(central, SURVEY, include_pii=True)
        filtered = survey_statistics(central, SURVEY, StatsFilter(where={"community":
                                                                         "xinhua"}))
    check_hostile(found, filtered)
    expected = survey_statistics(hostile.store, SURVEY, include_pii=True)
    assert found["repeats"] == expected["repeats"]
    for name, *_rest in REPEAT_QUESTIONS:
        assert found["questions"][name] == expected["questions"][name], name
    hostile.store.close()


# ---- an older database -------------------------------------------------------------------------


def test_a_database_made_before_repeats_counts_repeat_forms(tmp_path: Path):
    """The repeat tables come with the form version: a database of an earlier schema, and
    one of this schema holding plain surveys, both take a repeat form and count it."""
    from tests.test_migrations import old_database

    submissions = generate(40, seed=3)
    data = frames(submissions)
    for folder in ("old", "current"):
        directory = tmp_path / folder
        path = old_database(directory, 8) if folder == "old" else directory / "kiosk.db"
        directory.mkdir(exist_ok=True)
        open_store(path).close()  # opened (and migrated) before the repeat form arrives
        with open_store(path) as store:
            for compiled in compiled_versions(directory):
                store.install_form(compiled)
        with open_store(path) as store:
            assert store.insert_submissions(gated(store, submissions)) == 40
            check_figures(survey_statistics(store, SURVEY, include_pii=True), data,
                          StatsFilter())


# ---- the central PostgreSQL --------------------------------------------------------------------


@pytest.fixture(scope="module")
def city(postgres, households: Households, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[str]:
    """The central database after the kiosk synced every household to it (twice)."""
    from kiosk.central.sync import KioskIdentity, sync
    from store.central.schema import init
    from tests.enrolled import enrolled

    directory = tmp_path_factory.mktemp("repeat_city")
    dsn = postgres.create_database(f"repeats_{uuid.uuid4().hex[:12]}")
    init(dsn)
    identity = KioskIdentity("hall-1", "九龙街道", "新华社区", "九龙街道社工站")
    enrolment = enrolled(dsn, identity, config=directory / "hall-1.toml")
    with KioskStore(households.path) as store:
        sync(store, enrolment, batch=70)
        store.conn.execute("DELETE FROM sync_cursors")  # everything sent again
        again = sync(store, enrolment, batch=150)
        assert again.new["submissions"] == 0
    return dsn


@pytest.fixture
def central_store(city: str) -> Iterator[Any]:
    from store.central.stats import CentralStats

    with CentralStats(city) as opened:
        yield opened


@pytest.mark.parametrize("filters", FILTERS, ids=[str(index) for index in range(len(FILTERS))])
def test_central_repeat_figures_equal_the_kiosks(central_store: Any, store: KioskStore,
                                                  households: Households,
                                                  filters: StatsFilter):
    for options in ({}, {"by": "community"}, {"by": "topics", "question": "service"},
                    {"by": "resp_group", "question": "needs", "language": "en"}):
        found = survey_statistics(central_store, SURVEY, filters, include_pii=True, **options)
        expected = survey_statistics(store, SURVEY, filters, include_pii=True, **options)
        assert json.dumps(found, ensure_ascii=False) == json.dumps(expected,
                                                                   ensure_ascii=False)
    check_figures(found, households.data, filters)


def test_central_refuses_a_filter_on_a_repeat_question(central_store: Any):
    with pytest.raises(StatsError, match="重复组"):
        survey_statistics(central_store, SURVEY, StatsFilter(where={"needs": "meal"}))


def test_no_figure_is_nan(store: KioskStore):
    """JSON of the figures holds no NaN (a repeat none of the filtered submissions holds)."""
    stats = survey_statistics(store, SURVEY, StatsFilter(date_to=dt.date(2026, 10, 1)))
    assert stats["n"] == 0
    assert stats["repeats"]["members"]["n"] == 0 and stats["repeats"]["members"]["counts"] == {}
    assert stats["questions"]["age"]["instances"] == 0

    def finite(value: Any) -> None:
        if isinstance(value, float):
            assert math.isfinite(value)
        elif isinstance(value, dict):
            for entry in value.values():
                finite(entry)
        elif isinstance(value, list):
            for entry in value:
                finite(entry)

    finite(stats)


def test_text_answers_inside_a_repeat_by_name_and_the_dashboard_chart(
        store: KioskStore, central_store: Any, households: Households):
    """The dashboard lists text answers by the question's name and draws each question's
    figures: inside a repeat, every instance's answers, and its n said to be instances."""
    from kiosk.screens.dashboard import question_chart

    services = households.data.services
    notes = services["note"].dropna().tolist()
    assert sorted(store.stats_texts(SURVEY, "note", StatsFilter())) == sorted(notes)
    assert central_store.stats_texts(SURVEY, "note", StatsFilter()) == \
        store.stats_texts(SURVEY, "note", StatsFilter())
    stats = survey_statistics(store, SURVEY)
    console = Console(width=160, record=True)
    console.print(question_chart(stats["questions"]["works"], "zh"))
    members = households.data.members
    answered = members[members["works"].notna()]
    assert (f"(n={len(answered)})  按人次：共 {len(members)} 人次，来自 "
            f"{answered['id'].nunique()} 份问卷") in console.export_text()
    once = Console(width=160, record=True)
    once.print(question_chart(stats["questions"]["community"], "zh"))
    text = once.export_text()
    assert "按人次" not in text and f"(n={stats['questions']['community']['n']})" in text


async def test_the_dashboard_groups_by_questions_asked_once_and_crosses_per_instance(
        households: Households, tmp_path: Path):
    """The dashboard offers no question inside a repeat to group by (the statistics refuse
    it), crosses one by a submission-level question in instances, and says per instance."""
    from textual.widgets import Select
    from textual.widgets._select import InvalidSelectValueError

    from tests.test_app_flow import kiosk, screen_text, wait_for
    from tests.test_dashboard import STAFF_CONFIG, open_dashboard

    path = tmp_path / "kiosk.db"
    with KioskStore(households.path) as source:
        source.conn.execute("VACUUM INTO ?", (str(path),))
    store = KioskStore(path)
    app = kiosk(store, config=STAFF_CONFIG.with_changes(surveys=(SURVEY,)))
    members = households.data.members.merge(households.data.households[["id", "community"]],
                                            on="id")
    async with app.run_test(size=(160, 70)) as pilot:
        screen = await open_dashboard(pilot)
        await wait_for(pilot, lambda: "按人次：共" in screen_text(app))
        grouping = screen.query_one("#stats-by", Select)
        with pytest.raises(InvalidSelectValueError):
            grouping.value = "works"
        grouping.value = "community"
        screen.query_one("#stats-question", Select).value = "works"
        await pilot.pause()
        await wait_for(pilot, lambda: "交叉表" in screen_text(app))
        working = members[(members["community"] == "dongfeng") & (members["works"] == "yes")]
        answered = members[(members["community"] == "dongfeng") & members["works"].notna()]
        share = round(100 * len(working) / len(answered))
        row = next(line for line in screen_text(app).splitlines()
                   if "community-dongfeng" in line and "%)" in line)
        assert f"{len(working)} ({share}%)" in row, row
    store.close()

"""`kiosk export ID -o FILE.sav` and `.dta` (issue 17): SPSS and Stata files read back.

A real kiosk database holds submissions of every bundled questionnaire: generated ones of the
three hall forms (stored as a kiosk stored them before the record gate: some questions left
out, formulas in text), and the household register's visits walked through their screens —
an assessment with family members (a repeat group), a return visit and a visit to an older
person alone. Every export goes through the CLI and is read back by independent readers:

- ``.sav`` by pyreadstat and by GNU PSPP (``pspp-convert`` to CSV, with and without value
  labels, and PSPP's own DISPLAY DICTIONARY for the variable labels);
- ``.dta`` by pyreadstat and by pandas' own Stata reader (PSPP 1.6 reads no Stata files:
  ``pspp-convert`` calls a .dta "not a system or portable file", and PSPP syntax has no
  GET STATA and refuses GET DATA /TYPE=STATA).

Each value is checked against what was stored, decoded here from the form itself (codes,
choice labels and question labels in Chinese, or English with --lang en). Hostile forms
and answers: names that collide once cleaned, reserved words, Chinese names, labels of 300
characters, control characters, a text answer of 40,000 characters, no submissions at all.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import random
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyreadstat
import pytest
from click.testing import CliRunner

from kiosk.cli import main
from store import KioskStore, open_store
from surveys import exports
from surveys.clock import CHINA
from surveys.form import METADATA, Form
from surveys.session import FormSession, Submission
from surveys.xlsform import FormError, compile_xlsform
from tests import stats_data
from tests.formbuilder import write_form
from tests.gated import gated, stored_before_the_gate
from tests.test_bundled_forms import (
    LIVING_ALONE,
    LONELY_VISIT,
    MEMBERS,
    TODAY,
    WITH_FAMILY,
    followup_answers,
    walk,
)
from tests.test_exports import marriage, satisfaction, service_request

BUNDLED = ["satisfaction", "service_request", "marriage_reform", "home_adaptation",
           "home_adaptation_followup", "lonely_elderly_visit"]
KINDS = {"select_one", "select_multiple", "integer", "decimal", "text", "date", "calculate",
         "acknowledge"}
META_LABELS = {"instance_id": "问卷编号", "completed": "完成时间", "kiosk": "终端"}
SPSS_RESERVED = {"ALL", "AND", "BY", "EQ", "GE", "GT", "LE", "LT", "NE", "NOT", "OR", "TO",
                 "WITH"}
STATA_RESERVED = {"_all", "_b", "byte", "_coef", "_cons", "double", "float", "if", "in", "int",
                  "long", "_n", "_N", "_pi", "_pred", "_rc", "_skip", "strL", "using", "with"}


def pspp_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"GNU PSPP's {name} is missing: apt-get install pspp (scripts/setup.sh)")
    return found


# ---- the kiosk database -------------------------------------------------------------------


def visit(store: KioskStore, survey: str, answers: dict[str, Any], completed: str,
          members: list[dict[str, Any]] | None = None) -> str:
    """A visit walked through its screens and stored through the record gate; returns the
    register entity it made or updated."""
    session = FormSession(store.load_form(survey), "zh", enumerator="JG0042", entities=store)
    if members:
        assert session.answer("household_size", len(members) + 1) == []
        for number, member in enumerate(members, start=1):
            for name, value in member.items():
                assert session.answer(f"members[{number}].{name}", value) == []
    walk(session, answers)
    submission = session.finish()
    submission.completed = completed
    store.save_submission(store.record_gate().check_submission(submission))
    return str(submission.to_json()["entity"]["id"])


@pytest.fixture(scope="module")
def kiosk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("spss") / "kiosk.db"
    rnd = random.Random(17)
    with open_store(path) as store:
        stored_before_the_gate(store, [satisfaction(number, rnd) for number in range(60)])
        stored_before_the_gate(store, [service_request(number) for number in range(8)])
        stored_before_the_gate(store, [marriage(number) for number in range(6)])
        alone = visit(store, "home_adaptation", LIVING_ALONE, "2026-12-01T10:00:00.000+08:00")
        family = visit(store, "home_adaptation", {**WITH_FAMILY, "resident_name": "周秀英"},
                       "2026-12-02T11:30:00.000+08:00", members=MEMBERS)
        visit(store, "home_adaptation_followup", followup_answers(alone),
              "2026-12-20T10:00:00.000+08:00")
        for number, household in enumerate((alone, family)):
            visit(store, "lonely_elderly_visit",
                  {"household": household, **LONELY_VISIT,
                   "next_visit": TODAY + dt.timedelta(days=5)},
                  f"2026-12-2{number + 1}T10:00:00.000+08:00")
    return path


def export(db: Path, *args: str) -> Any:
    return CliRunner().invoke(main, ["--db", str(db), "export", *args])


def stored(db: Path, survey: str) -> list[dict[str, Any]]:
    with open_store(db) as store:
        return list(store.iter_submissions(survey))


def newest_form(db: Path, survey: str) -> Form:
    with open_store(db) as store:
        return store.load_form(survey)


# ---- what the file should hold, decoded here from the form --------------------------------


class Expected:
    """The variables a file should have, from the form (every version) and the stored
    records, computed without the exporter: name -> kind, label, value labels, values."""

    def __init__(self, forms: list[Form], records: list[dict[str, Any]], *,
                 language: str = "zh", include_pii: bool = False, scope: str | None = None
                 ) -> None:
        self.language = language
        self.records = records
        self.variables: dict[str, dict[str, Any]] = {}
        lang = forms[-1].language_or_default(language)
        seen: dict[str, Any] = {}
        choices: dict[str, list[tuple[str, str]]] = {}
        pii = set()
        for form in reversed(forms):
            for item in form.items:
                if item.pii:
                    pii.add(item.name)
                if not item.has_value or item.kind in METADATA or item.kind not in KINDS:
                    continue
                chain = form.repeat_chain.get(item.name, ())
                if (chain[-1] if chain else None) != scope:
                    continue
                seen.setdefault(item.name, (item, form.text(item.label, lang) or item.name))
                listed = choices.setdefault(item.name, [])
                for choice in form.choices_for(item) if item.kind.startswith("select") else ():
                    if choice.name not in dict(listed):
                        listed.append((choice.name,
                                       form.text(choice.label, lang) or choice.name))
        for name, (item, label) in seen.items():
            if name in pii and not include_pii:
                continue
            self.variables[name] = {"item": item, "label": label, "choices": choices[name]}

    def codes(self, name: str) -> dict[str, int]:
        listed = [choice for choice, _ in self.variables[name]["choices"]]
        if all(choice.isdigit() for choice in listed):
            return {choice: int(choice) for choice in listed}
        return {choice: number for number, choice in enumerate(listed, start=1)}


def is_missing(value: Any) -> bool:
    return value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def key_text(value: Any) -> str:
    """A row's key as text: a row number read back as 1.0 is row 1."""
    return str(int(value)) if isinstance(value, float) else str(value)


def check_values(expected: Expected, frame: pd.DataFrame, labels: dict[str, str],
                 value_labels: dict[str, dict[Any, str]], *, key: str = "instance_id",
                 rows: list[dict[str, Any]] | None = None) -> None:
    """Every variable of ``expected`` in ``frame`` (read back by one reader), row by row:
    labels, value labels and values as stored."""
    rows = expected.records if rows is None else rows
    assert len(frame) == len(rows)
    by_key = {key_text(row[key]): row for row in rows}
    part = "：" if expected.language == "zh" else ": "
    label_of = {label: name for name, label in labels.items()}
    for name, variable in expected.variables.items():
        item = variable["item"]
        answers_of = {row_key: (row.get("answers") or {}) for row_key, row in by_key.items()}
        if item.kind == "select_multiple" and variable["choices"]:
            for choice, choice_label in variable["choices"]:
                column = label_of[f"{variable['label']}{part}{choice_label}"]
                assert set(value_labels[column].values()) == (
                    {"未选", "已选"} if expected.language == "zh" else {"not chosen", "chosen"})
                for row_key, value in zip(frame[key], frame[column], strict=True):
                    picked = answers_of[key_text(row_key)].get(name)
                    if picked is None:
                        assert is_missing(value), (name, choice)
                    else:
                        assert value == (choice in picked), (name, choice, picked)
            continue
        assert name in frame.columns, name
        assert labels[name] == variable["label"], name
        codes = expected.codes(name) if item.kind == "select_one" and variable["choices"] \
            else None
        if codes is not None:
            assert {int(code): label for code, label in value_labels[name].items()} == {
                codes[choice]: label for choice, label in variable["choices"]}, name
        for row_key, value in zip(frame[key], frame[name], strict=True):
            answer = answers_of[key_text(row_key)].get(name)
            check_value(item.kind, codes, answer, value, name)


def check_value(kind: str, codes: dict[str, int] | None, answer: Any, value: Any,
                name: str) -> None:
    if answer is None or answer == "":
        assert is_missing(value) or value == "", (name, value)
    elif codes is not None:
        assert value == codes[answer], (name, answer, value)
    elif kind in ("integer", "decimal"):
        assert value == pytest.approx(float(answer)), (name, answer, value)
    elif kind == "date":
        assert value == dt.date.fromisoformat(str(answer)[:10]), (name, answer, value)
    elif kind == "acknowledge":
        assert value == 1, (name, answer, value)
    elif kind == "calculate" and not isinstance(value, str):
        assert value == pytest.approx(float(answer)), (name, answer, value)
    else:
        assert value == str(answer), (name, answer, value)


def china_time(completed: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(completed)
    return moment.astimezone(CHINA).replace(tzinfo=None)


def check_meta(frame: pd.DataFrame, labels: dict[str, str], records: list[dict]) -> None:
    by_id = {record["instance_id"]: record for record in records}
    assert set(frame["instance_id"]) == set(by_id)
    for name, label in META_LABELS.items():
        assert labels[name] == label
    for instance_id, kiosk, completed in zip(frame["instance_id"], frame["kiosk"],
                                             frame["completed"], strict=True):
        record = by_id[instance_id]
        assert kiosk == (record["kiosk"] or "")
        assert completed == china_time(record["completed"])


# ---- the readers ---------------------------------------------------------------------------


def read_sav(path: Path) -> tuple[pd.DataFrame, dict[str, str], dict[str, dict]]:
    frame, meta = pyreadstat.read_sav(path)
    return frame, meta.column_names_to_labels, meta.variable_value_labels


def read_dta(path: Path) -> tuple[pd.DataFrame, dict[str, str], dict[str, dict]]:
    frame, meta = pyreadstat.read_dta(path)
    return frame, meta.column_names_to_labels, meta.variable_value_labels


def read_stata_pandas(path: Path) -> tuple[pd.DataFrame, dict[str, str], dict[str, dict]]:
    """The same file through pandas' own Stata reader (no ReadStat in it); dates made
    ``datetime.date`` and strings as they are, as pyreadstat gives them."""
    with pd.io.stata.StataReader(path) as reader:
        frame = reader.read(convert_categoricals=False)
        labels = reader.variable_labels()
        sets = reader.value_labels()
        formats = dict(zip(reader._varlist, reader._fmtlist, strict=True))
        lbllist = dict(zip(reader._varlist, reader._lbllist, strict=True))
    for name, fmt in formats.items():
        if fmt.startswith("%td"):
            frame[name] = [None if pd.isna(value) else value.date() for value in frame[name]]
    value_labels = {name: sets[label_set] for name, label_set in lbllist.items()
                    if label_set in sets}
    return frame, labels, value_labels


def pspp_csv(path: Path, *, labels: bool = False) -> list[dict[str, str]]:
    out = path.with_suffix(".labels.csv" if labels else ".pspp.csv")
    command = [pspp_tool("pspp-convert"), *(["--labels"] if labels else []), str(path),
               str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with out.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def pspp_dictionary(path: Path) -> dict[str, str]:
    """Variable name -> label, as PSPP itself reads the file (DISPLAY DICTIONARY)."""
    syntax = path.with_suffix(".sps")
    syntax.write_text(f'GET FILE="{path}".\nDISPLAY DICTIONARY.\n', encoding="utf-8")
    done = subprocess.run([pspp_tool("pspp"), "-O", "format=csv", "-o", "-", str(syntax)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.split("Table: Variables", 1)[1].split("\n\n", 1)[0].strip()
    return {row["Name"]: row["Label"] for row in csv.DictReader(io.StringIO(lines))}


def pspp_value(text: str, value: Any) -> Any:
    """PSPP's CSV text of a cell, in the type pyreadstat read the same cell as."""
    if isinstance(value, str):
        return text
    if text.strip() == "":
        return None
    if isinstance(value, dt.datetime):
        return dt.datetime.strptime(text, "%m/%d/%Y %H:%M:%S")
    if isinstance(value, dt.date):
        return dt.datetime.strptime(text, "%m/%d/%Y").date()
    return float(text)


def check_pspp(path: Path, frame: pd.DataFrame, value_labels: dict[str, dict],
               expected: Expected) -> None:
    """PSPP reads the same values, labels and value labels as pyreadstat did, which were
    checked against the stored answers."""
    rows = pspp_csv(path)
    assert len(rows) == len(frame)
    assert not rows or list(rows[0]) == list(frame.columns)
    for index, row in enumerate(rows):
        for name in frame.columns:
            value = frame[name].iloc[index]
            if is_missing(value):
                assert row[name].strip() == "", (name, row[name])
                continue
            read = pspp_value(row[name], value)
            if isinstance(read, float):
                assert read == pytest.approx(float(value)), (name, row[name], value)
            elif isinstance(read, dt.datetime):  # PSPP's CSV shows whole seconds
                assert read == value.floor("s"), (name, row[name], value)
            else:
                assert read == value, (name, row[name], value)
    labelled = pspp_csv(path, labels=True)
    for index, row in enumerate(labelled):
        for name, sets in value_labels.items():
            value = frame[name].iloc[index]
            if not is_missing(value):
                assert row[name] == sets[value], (name, row[name], value)
    dictionary = pspp_dictionary(path)
    _, labels, _ = read_sav(path)
    assert dictionary == {name: labels[name] for name in frame.columns}
    for name, variable in expected.variables.items():
        if name in dictionary:
            assert dictionary[name] == variable["label"]


# ---- every bundled form ---------------------------------------------------------------------


@pytest.mark.parametrize("survey", BUNDLED)
def test_every_bundled_form_as_sav_reads_back_in_pyreadstat_and_pspp(kiosk, tmp_path, survey):
    target = tmp_path / f"{survey}.sav"
    result = export(kiosk, survey, "-o", str(target))
    assert result.exit_code == 0, result.output
    records = stored(kiosk, survey)
    assert f"wrote {len(records)} submissions" in result.output and records
    forms = [newest_form(kiosk, survey)]
    expected = Expected(forms, records)
    frame, labels, value_labels = read_sav(target)
    check_meta(frame, labels, records)
    check_values(expected, frame, labels, value_labels)
    check_pspp(target, frame, value_labels, expected)
    names = list(frame.columns)
    assert len({name.casefold() for name in names}) == len(names)
    assert not any(name.upper() in SPSS_RESERVED for name in names)


@pytest.mark.parametrize("survey", BUNDLED)
def test_every_bundled_form_as_dta_reads_back_in_pyreadstat_and_pandas(kiosk, tmp_path,
                                                                       survey):
    target = tmp_path / f"{survey}.dta"
    result = export(kiosk, survey, "-o", str(target))
    assert result.exit_code == 0, result.output
    records = stored(kiosk, survey)
    expected = Expected([newest_form(kiosk, survey)], records)
    for reader in (read_dta, read_stata_pandas):
        frame, labels, value_labels = reader(target)
        check_meta(frame, labels, records)
        check_values(expected, frame, labels, value_labels)
        assert all(len(name) <= 32 and name not in STATA_RESERVED for name in frame.columns)
        assert all(len(label) <= 80 for label in labels.values())


def test_pii_is_left_out_unless_asked(kiosk, tmp_path):
    for ending in ("sav", "dta"):
        plain, personal = tmp_path / f"plain.{ending}", tmp_path / f"personal.{ending}"
        assert export(kiosk, "service_request", "-o", str(plain)).exit_code == 0
        result = export(kiosk, "service_request", "-o", str(personal), "--include-pii")
        assert result.exit_code == 0, result.output
        reader = read_sav if ending == "sav" else read_dta
        frame, labels, value_labels = reader(plain)
        assert not {"contact_name", "contact_phone", "contact_address"} & set(frame.columns)
        assert not any("王阿姨" in str(value) for value in frame.to_numpy().ravel())
        frame, labels, value_labels = reader(personal)
        records = stored(kiosk, "service_request")
        expected = Expected([newest_form(kiosk, "service_request")], records,
                            include_pii=True)
        assert {"contact_name", "contact_phone"} <= set(frame.columns)
        check_values(expected, frame, labels, value_labels)


def test_the_assessment_members_go_to_a_file_of_their_own_joined_by_keys(kiosk, tmp_path):
    """The repeat group: home_adaptation-members.sav/.dta, one row per member, each naming
    its household's row and instance id, as the CSV's file does."""
    records = stored(kiosk, "home_adaptation")
    form = newest_form(kiosk, "home_adaptation")
    members = [{"_submission__uuid": record["instance_id"], "answers": member}
               for record in records for member in record["answers"].get("members", [])]
    assert len(members) == len(MEMBERS)
    for ending in ("sav", "dta"):
        target = tmp_path / f"家访.{ending}"
        result = export(kiosk, "home_adaptation", "-o", str(target))
        assert result.exit_code == 0, result.output
        inner = tmp_path / f"家访-members.{ending}"
        assert f"{inner} ({len(MEMBERS)} rows)" in result.output
        readers = [read_sav] if ending == "sav" else [read_dta, read_stata_pandas]
        for reader in readers:
            households, _, _ = reader(target)
            frame, labels, value_labels = reader(inner)
            # SPSS names begin with a letter: _index is index there, its label says so.
            keys = {label.split("：")[0]: name for name, label in labels.items()
                    if label.startswith("_")} if ending == "sav" else {
                name: name for name in frame.columns if name.startswith("_")}
            assert set(keys) == {"_index", "_parent_index", "_parent_table_name",
                                 "_submission__uuid"}
            frame = frame.rename(columns={name: key for key, name in keys.items()})
            row_of = dict(zip(households["instance_id"],
                              households["_index" if ending == "dta" else "index"],
                              strict=True))
            for parent, uuid_, table in zip(frame["_parent_index"], frame["_submission__uuid"],
                                            frame["_parent_table_name"], strict=True):
                assert row_of[uuid_] == parent and table == target.name
            expected = Expected([form], members, scope="members")
            assert "member_name" not in frame.columns  # pii, as in the CSV
            check_values(expected, frame, labels, value_labels, key="_index",
                         rows=[{**member, "_index": number}
                               for number, member in enumerate(members, start=1)])
        if ending == "sav":
            check_pspp(inner, *read_sav(inner)[::2], Expected([form], [], scope="members"))
        # A name without an ending and --format: the members' file takes the format's.
        bare = tmp_path / f"bare-{ending}"
        result = export(kiosk, "home_adaptation", "-o", str(bare), "--format", ending)
        assert result.exit_code == 0, result.output
        assert len((read_sav if ending == "sav" else read_dta)(
            tmp_path / f"bare-{ending}-members.{ending}")[0]) == len(MEMBERS)


# ---- versions, filters, languages ------------------------------------------------------------


@pytest.fixture(scope="module")
def civic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The two-version survey of the statistics tests: version 2 adds the choice e of
    services and replaces old_q by new_q."""
    directory = tmp_path_factory.mktemp("civic")
    path = directory / "kiosk.db"
    with open_store(path) as store:
        for compiled in stats_data.compiled_versions(directory):
            store.install_form(compiled)
        store.insert_submissions(gated(store, stats_data.generate(300, seed=5)))
    return path


def civic_forms(db: Path) -> list[Form]:
    with open_store(db) as store:
        return [store.load_form(stats_data.SURVEY, version)
                for version in store.versions(stats_data.SURVEY)]


@pytest.mark.parametrize("ending", ["sav", "dta"])
def test_every_version_in_one_file_with_codes_that_do_not_move(civic, tmp_path, ending):
    target = tmp_path / f"civic.{ending}"
    result = export(civic, stats_data.SURVEY, "-o", str(target), "--include-pii")
    assert result.exit_code == 0, result.output
    records = stored(civic, stats_data.SURVEY)
    expected = Expected(civic_forms(civic), records, include_pii=True)
    reader = read_sav if ending == "sav" else read_dta
    frame, labels, value_labels = reader(target)
    check_values(expected, frame, labels, value_labels)
    # Likert codes are the scale's own numbers; other choices 1 … k.
    assert value_labels["sat"] == {5: "非常满意", 4: "满意", 3: "一般", 2: "不满意",
                                   1: "非常不满意"}
    assert value_labels["group"] == {1: "老年人", 2: "青少年", 3: "其他居民"}
    assert {"old_q", "new_q", "services_e", "visit", "spend"} <= set(frame.columns)
    version_1 = frame["version"] == "1"
    assert frame.loc[version_1, "new_q"].isna().all()
    assert frame.loc[version_1, "services_e"].dropna().eq(0).all()
    visits = frame["visit"].dropna()
    assert len(visits) and all(isinstance(day, dt.date) for day in visits)


def test_filters_choose_the_rows_and_english_labels(civic, tmp_path):
    target = tmp_path / "elderly.sav"
    result = export(civic, stats_data.SURVEY, "-o", str(target), "--where", "group=elderly",
                    "--lang", "en")
    assert result.exit_code == 0, result.output
    records = [record for record in stored(civic, stats_data.SURVEY)
               if record["answers"].get("group") == "elderly"]
    frame, labels, value_labels = read_sav(target)
    assert len(frame) == len(records) > 0
    expected = Expected(civic_forms(civic), records, language="en")
    check_values(expected, frame, labels, value_labels)
    assert labels["sat"] == "Satisfied?" and labels["completed"] == "completed"
    assert labels["services_a"] == "Services used: Service a"
    assert value_labels["group"][1] == "Older person"
    assert value_labels["services_a"] == {0: "not chosen", 1: "chosen"}
    assert pspp_dictionary(target)["sat"] == "Satisfied?"


# ---- hostile names, labels and answers --------------------------------------------------------

LONG_LABEL = "很长的标签" * 60  # 300 characters, 900 bytes
HOSTILE_SURVEY = [
    ["type", "name", "label::中文 (zh)", "label::English (en)"],
    ["select_one yn", "q-1", "横线", "Dash"],
    ["integer", "q_1", "下划线", "Underscore"],
    ["text", "Q1", "大写", "Upper"],
    ["select_one yn", "AND", "保留字", "Reserved"],
    ["decimal", "by", "保留字二", "Reserved too"],
    ["select_multiple yn", "满意度", "中文名", "Chinese name"],
    ["text", "long_label", LONG_LABEL, "Long"],
    ["date", "when", "日期", "Date"],
    ["text", "remarks", "备注", "Remarks"],
    ["select_one long", "long_choice", "长选项", "Long choice"],
    ["text", "a_question_name_longer_than_stata_takes_in_a_name", "长名", "Long name"],
]
HOSTILE_CHOICES = [
    ["list_name", "name", "label::中文 (zh)", "label::English (en)"],
    ["yn", "yes", "是", "Yes"], ["yn", "no", "否", "No"],
    ["long", "x", "选" * 300, "X" * 300], ["long", "y", "短", "Short"],
]
CONTROL = "王\x00芳\x1b[31m红\x07\t制表\n换行"
LONG_TEXT = "长" * 40_000


def hostile(number: int, answers: dict[str, Any]) -> Submission:
    return Submission(
        instance_id=str(uuid.UUID(int=50_000 + number, version=4)), survey="hostile",
        version="1", started="2026-11-20T09:00:00.000+08:00",
        completed=f"2026-11-20T10:{number:02d}:00.000+08:00", lang="zh", answers=answers,
        kiosk="hall-1")


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("hostile")
    form = write_form(directory / "hostile.xlsx", HOSTILE_SURVEY, HOSTILE_CHOICES,
                      [["form_title", "form_id", "version", "default_language"],
                       ["刁难" * 60, "hostile", "1", "中文 (zh)"]])
    empty = write_form(directory / "empty.xlsx", HOSTILE_SURVEY, HOSTILE_CHOICES,
                       [["form_title", "form_id", "version", "default_language"],
                        ["空问卷", "empty", "1", "中文 (zh)"]])
    path = directory / "kiosk.db"
    with open_store(path) as store:
        store.install_form(compile_xlsform(form))
        store.install_form(compile_xlsform(empty))
        # Control characters never pass the record gate: a kiosk stored them before it.
        stored_before_the_gate(store, [
            hostile(0, {"q-1": "yes", "q_1": 7, "Q1": "大", "AND": "no",
                        "by": 2.5, "满意度": ["yes", "no"], "long_label": "x",
                        "when": "2026-11-19", "remarks": CONTROL, "long_choice": "x",
                        "a_question_name_longer_than_stata_takes_in_a_name": "长"}),
            hostile(1, {"q-1": "no", "remarks": LONG_TEXT, "long_choice": "y",
                        "满意度": ["no"], "by": -0.125}),
            hostile(2, {"q-1": "maybe", "remarks": "=1+1"}),  # not a choice of q-1
        ])
    yield path


def trimmed_from(label: str, original: str, limit: int, *, chars: bool) -> None:
    """``label`` is ``original`` cut on a whole character, ended with …, within ``limit``."""
    size = len(label) if chars else len(label.encode("utf-8"))
    assert size <= limit
    assert label.endswith("…") and original.startswith(label[:-1])
    assert size > limit - 4  # as much as fits, not cut early


def test_hostile_names_labels_and_answers_in_sav(hostile_db, tmp_path):
    target = tmp_path / "hostile.sav"
    result = export(hostile_db, "hostile", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert "已截断" in result.output and "变量名" in result.output
    frame, labels, value_labels = read_sav(target)
    names = list(frame.columns)
    assert len({name.casefold() for name in names}) == len(names)
    assert not any(name.upper() in SPSS_RESERVED for name in names)
    # q_1 and Q1 keep their names; q-1, AND, by and 满意度 do not, and their labels begin
    # with their own names.
    assert labels["q_1"] == "下划线" and labels["Q1"] == "大写"
    renamed = {label.split("：")[0]: name for name, label in labels.items() if "：" in label}
    assert {"q-1", "AND", "by"} <= set(renamed)
    assert renamed["q-1"] == "q_1_2" and renamed["by"].casefold() != "by"
    assert labels[renamed["AND"]] == "AND：保留字"
    chinese = [name for name, label in labels.items() if label.startswith("中文名：")]
    assert len(chinese) == 2 and all(name.isascii() for name in chinese)
    # 满意度's choices: a stem of its own (its first variable's place), then the choice
    position = list(frame.columns).index(chinese[0]) + 1
    assert chinese == [f"q_{position}_yes", f"q_{position}_no"]
    # Labels cut on whole characters within SPSS's bytes.
    trimmed_from(labels["long_label"], LONG_LABEL, 255, chars=False)
    trimmed_from(value_labels["long_choice"][1], "选" * 300, 120, chars=False)
    assert value_labels["long_choice"][2] == "短"
    # The answer that is not a choice keeps a code of its own, labelled as stored.
    code_of = value_labels[renamed["q-1"]]
    assert code_of == {1: "是", 2: "否", 3: "maybe"}
    by_row = frame.set_index(frame["completed"].dt.minute)
    assert by_row.loc[2, renamed["q-1"]] == 3
    assert by_row.loc[0, renamed["by"]] == 2.5 and by_row.loc[1, renamed["by"]] == -0.125
    assert by_row.loc[0, "when"] == dt.date(2026, 11, 19)
    meta = pyreadstat.read_sav(target, metadataonly=True)[1]
    trimmed_from(meta.file_label, "刁难" * 60, 64, chars=False)  # the survey's title
    formats = meta.original_variable_types
    assert formats[renamed["by"]] == "F16.3" and formats["q_1"] == "F12.0"  # as answered
    assert formats["when"] == "DATE11" and formats["completed"] == "DATETIME20"
    # Control characters replaced as in the CSV; tab and newline kept.
    assert by_row.loc[0, "remarks"] == "王\ufffd芳\ufffd[31m红\ufffd\t制表\n换行"
    assert by_row.loc[2, "remarks"] == "=1+1"  # no formula escape: SPSS runs no formulas
    # 40,000 characters (120,000 bytes) cut to SPSS's 32,767 bytes, visibly.
    long = by_row.loc[1, "remarks"]
    assert len(long.encode("utf-8")) <= 32_767 and long.endswith("【已截断，原文共 40,000 字】")
    assert long.startswith("长" * 10_000)
    rows = pspp_csv(target)
    assert len(rows) == 3
    pspp_long = next(row["remarks"] for row in rows if row["remarks"].startswith("长"))
    assert pspp_long == long
    assert pspp_dictionary(target)[renamed["AND"]] == "AND：保留字"


def test_hostile_names_labels_and_answers_in_dta(hostile_db, tmp_path):
    target = tmp_path / "hostile.dta"
    result = export(hostile_db, "hostile", "-o", str(target))
    assert result.exit_code == 0, result.output
    for reader in (read_dta, read_stata_pandas):
        frame, labels, value_labels = reader(target)
        names = list(frame.columns)
        assert len(set(names)) == len(names)
        assert all(len(name) <= 32 and name not in STATA_RESERVED for name in names)
        # Stata has no reserved AND or by; q-1 is no name.
        assert labels["Q1"] == "大写" and labels["AND"] == "保留字"
        assert labels["by"] == "保留字二"
        renamed = {label.split("：")[0]: name for name, label in labels.items()
                   if "：" in label}
        assert "q-1" in renamed and renamed["q-1"] != "q_1"
        long_name = renamed["a_question_name_longer_than_stata_takes_in_a_name"]
        assert len(long_name) <= 32
        trimmed_from(labels["long_label"], LONG_LABEL, 80, chars=True)
        if reader is read_dta:
            title = pyreadstat.read_dta(target, metadataonly=True)[1].file_label
            trimmed_from(title, "刁难" * 60, 80, chars=True)
        assert all(len(label) <= 80 for label in labels.values())
        assert value_labels["long_choice"][1] == "选" * 300  # Stata holds 32,000 bytes
        by_row = frame.set_index(pd.to_datetime(frame["completed"]).dt.minute)
        # Stata's strL holds the whole 40,000 characters.
        assert by_row.loc[1, "remarks"] == LONG_TEXT
        assert by_row.loc[0, "remarks"] == "王\ufffd芳\ufffd[31m红\ufffd\t制表\n换行"


@pytest.mark.parametrize("ending", ["sav", "dta"])
def test_an_empty_survey_gives_its_variables_and_no_rows(hostile_db, tmp_path, ending):
    target = tmp_path / f"empty.{ending}"
    result = export(hostile_db, "empty", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert "wrote 0 submissions" in result.output
    frame, labels, _ = (read_sav if ending == "sav" else read_dta)(target)
    assert len(frame) == 0
    assert labels["long_label"].startswith("很长的标签") and labels["when"] == "日期"
    if ending == "sav":
        assert pspp_csv(target) == []
        assert pspp_dictionary(target)["when"] == "日期"
    else:
        assert len(read_stata_pandas(target)[0]) == 0


@pytest.mark.parametrize("ending", ["sav", "dta"])
def test_standard_output_is_refused_and_no_file_is_left(kiosk, tmp_path, ending):
    result = export(kiosk, "satisfaction", "--format", ending, "-o", "-")
    assert result.exit_code == 1
    assert "二进制文件" in result.output and "binary file" in result.output
    assert "Traceback" not in result.output
    portable = export(kiosk, "satisfaction", "-o", str(tmp_path / "x.por"))
    assert portable.exit_code == 1 and "(for SPSS or PSPP: .sav)" in portable.output
    missing = export(kiosk, "satisfaction", "-o", str(tmp_path / "no" / f"x.{ending}"))
    assert missing.exit_code == 1 and "Traceback" not in missing.output
    assert not list(tmp_path.rglob("*.part"))


def test_a_failed_export_keeps_the_earlier_file(kiosk, tmp_path):
    target = tmp_path / "satisfaction.sav"
    assert export(kiosk, "satisfaction", "-o", str(target)).exit_code == 0
    before = target.read_bytes()
    result = export(kiosk, "satisfaction", "-o", str(target), "--where", "overall=9")
    assert result.exit_code == 2, result.output
    assert target.read_bytes() == before
    assert not list(tmp_path.glob(".*.part"))
    assert oct(target.stat().st_mode & 0o777) == "0o600"


CASES_SURVEY = [
    ["type", "name", "label::中文 (zh)"],
    ["text", "Q_1", "大写"], ["text", "q-1", "小写"], ["text", "q_1_2", "已有的名字"],
    ["integer", "by", "保留字"], ["integer", "_n", "Stata 的保留字"],
    ["integer", "x" * 70, "太长的名字"],
]


def test_names_that_differ_only_in_case(tmp_path):
    """Q_1 and q_1 are one name to SPSS, two to Stata: q-1, cleaned to q_1, must not take
    Q_1's place in a .sav. (Questions named Q1 and q1 never get this far: the form is
    refused, its tally columns would clash.)"""
    with pytest.raises(FormError, match="differ only in capital letters"):
        compile_xlsform(write_form(tmp_path / "clash.xlsx", [
            ["type", "name", "label"], ["text", "Q1", "大写"], ["text", "q1", "小写"]]))
    form = Form(compile_xlsform(write_form(tmp_path / "cases.xlsx", CASES_SURVEY)))
    records = [{"instance_id": "a", "version": "1", "kiosk": "hall-1", "site": None,
                "enumerator": None, "started": None,
                "completed": "2026-11-20T02:00:00.000Z", "lang": "zh",
                "answers": {"Q_1": "大", "q-1": "小", "q_1_2": "早有", "by": 1, "_n": 2,
                            "x" * 70: 3}}]
    notes: list[str] = []
    assert exports.write_sav([form], iter(records), tmp_path / "cases.sav", notes=notes) == 1
    frame, labels, _ = read_sav(tmp_path / "cases.sav")
    assert labels["Q_1"] == "大写" and frame["Q_1"][0] == "大"
    assert labels["q_1_2"] == "已有的名字" and frame["q_1_2"][0] == "早有"
    lower = next(name for name, label in labels.items() if label == "q-1：小写")
    assert lower.casefold() not in ("q_1", "q_1_2") and frame[lower][0] == "小"
    long_name = next(name for name, label in labels.items() if label.endswith("太长的名字"))
    assert len(long_name) <= 64 and frame[long_name][0] == 3
    assert labels["n"] == "_n：Stata 的保留字" and frame["n"][0] == 2  # a letter first
    assert frame["completed"][0] == dt.datetime(2026, 11, 20, 10, 0)  # China time
    assert any("变量名" in note for note in notes)
    assert pspp_dictionary(tmp_path / "cases.sav")[lower] == "q-1：小写"
    exports.write_dta([form], iter(records), tmp_path / "cases.dta")
    for reader in (read_dta, read_stata_pandas):
        frame, labels, _ = reader(tmp_path / "cases.dta")
        assert frame["Q_1"][0] == "大" and frame["q_1"][0] == "小"
        assert labels["by"] == "保留字"
        stata_n = next(name for name, label in labels.items() if label.startswith("_n："))
        assert stata_n != "_n" and frame[stata_n][0] == 2
        assert max(map(len, frame.columns)) <= 32


def test_labels_are_cut_on_whole_characters():
    from surveys.exports.labelled import trimmed

    text = "a题😀b" * 100
    for limit in range(4, 130):
        for chars in (False, True):
            cut = trimmed(text, limit, chars=chars)
            size = len(cut) if chars else len(cut.encode("utf-8"))
            assert size <= limit and cut.endswith("…") and text.startswith(cut[:-1])
            assert size > limit - (1 if chars else 4 + 3)
    assert trimmed("短", 3) == "短"


# ---- from the central database ---------------------------------------------------------------


def test_a_sav_from_the_central_database_equals_the_kiosks_own(central, tmp_path):
    """`kiosk export ID -o FILE.sav --central DSN` on a staff computer: the same file as the
    kiosk's own export of what it synced, filters and all."""
    pytest.importorskip("psycopg")
    from kiosk.central.sync import sync
    from store.central.schema import init
    from tests.enrolled import enrolled
    from tests.test_central_stats import PLACES, new_kiosk, submissions_at

    init(central)
    store = new_kiosk(tmp_path, "hall-1")
    enrolment = enrolled(central, PLACES["hall-1"], config=tmp_path / "hall-1.toml")
    store.insert_submissions(gated(store, submissions_at(PLACES["hall-1"], 150, 3)))
    sync(store, enrolment, batch=40)
    store.close()
    staff = ["--db", str(tmp_path / "staff.db"), "--config", str(tmp_path / "none.toml")]
    for extra in ([], ["--where", "group=elderly", "--lang", "en"]):
        found, expected = tmp_path / "central.sav", tmp_path / "kiosk.sav"
        result = CliRunner().invoke(main, [*staff, "export", stats_data.SURVEY, "-o",
                                           str(found), "--central", central, *extra])
        assert result.exit_code == 0, result.output
        result = export(tmp_path / "hall-1.db", stats_data.SURVEY, "-o", str(expected), *extra)
        assert result.exit_code == 0, result.output
        (frame, labels, value_labels), (own, own_labels, own_value_labels) = (
            read_sav(found), read_sav(expected))
        assert len(frame) == len(own) > 0
        pd.testing.assert_frame_equal(
            frame.sort_values("instance_id", ignore_index=True),
            own.sort_values("instance_id", ignore_index=True))
        assert labels == own_labels and value_labels == own_value_labels
        assert len(pspp_csv(found)) == len(frame)
    assert not (tmp_path / "staff.db").exists()


def test_an_answer_off_the_scale_keeps_its_number(tmp_path):
    """A Likert question stores 5 … 1; a 9 stored before the record gate is 9 in the file
    (labelled as stored), not the next free code, so a mean over it shows the mistake."""
    form = Form(compile_xlsform(write_form(
        tmp_path / "scale.xlsx",
        [["type", "name", "label::中文 (zh)", "appearance"],
         ["select_one likert", "sat", "满意吗？", "likert"],
         ["select_one yn", "again", "还来吗？", ""]],
        [["list_name", "name", "label::中文 (zh)"],
         *[["likert", str(score), label] for score, label in
           zip(range(5, 0, -1), ["非常满意", "满意", "一般", "不满意", "非常不满意"],
               strict=True)],
         ["yn", "yes", "会"], ["yn", "no", "不会"]])))
    records = [{"instance_id": str(number), "version": "1", "kiosk": "hall-1",
                "completed": "2026-11-20T10:00:00.000+08:00", "answers": answers}
               for number, answers in enumerate([{"sat": "9", "again": "maybe"},
                                                 {"sat": "4", "again": "no"}, {}])]
    for writer, reader in ((exports.write_sav, read_sav), (exports.write_dta, read_dta)):
        target = tmp_path / f"scale.{'sav' if writer is exports.write_sav else 'dta'}"
        assert writer([form], iter(records), target) == 3
        frame, _, value_labels = reader(target)
        assert frame["sat"].tolist()[:2] == [9, 4] and is_missing(frame["sat"][2])
        assert value_labels["sat"][9] == "9" and value_labels["sat"][4] == "满意"
        assert frame["again"].tolist()[:2] == [3, 2]
        assert value_labels["again"] == {1: "会", 2: "不会", 3: "maybe"}

"""Repeat groups in the data exports (issue 16): each repeat a table of its own, keyed to its
submission as KoboToolbox exports it — an XLSX sheet, or a CSV file beside the submissions'
(``out.csv``, ``out-members.csv`` …) — and JSONL nested as stored.

Households of tests/forms/repeats.md (members by 家里住着几口人, visits with services nested
in each) are generated, stored through the record gate and exported through ``kiosk
export``. The XLSX is opened by LibreOffice itself, one CSV per sheet, and every repeat row
is joined back through ``_parent_index``/``_parent_table_name`` to its submission (a
service through its visit): the members, visits and services rebuilt so must be exactly
those stored. Hostile answers (formulas, control characters, text past a cell) come out of
a repeat sheet as safe as out of the main sheet.
"""

from __future__ import annotations

import csv
import io
import json
import random
import resource
import signal
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kiosk.cli import main
from store import open_store
from surveys.exports import tabular
from surveys.exports.tabular import SHEET_NAME_LIMIT, sheet_title
from surveys.session import Submission
from surveys.xlsform import compile_xlsform
from tests.formbuilder import write_form
from tests.gated import gated, stored_before_the_gate
from tests.test_exports import libreoffice_csv
from tests.test_pdf_report import text_of

FORMS = Path(__file__).parent / "forms"
N_HOUSEHOLDS = 40
NAMES = ["王芳", "李明", "张丽", "刘洋", "陈静", "杨帆", "赵磊", "黄梅"]
KEYS = ["_index", "_parent_index", "_parent_table_name", "_submission__uuid"]
# Repeat -> the repeat it is in (None: the submission); its count column in the outer table.
REPEATS = {"members": None, "visits": None, "services": "visits"}
FORMULAS = ['=HYPERLINK("http://example.com","点我")', "+1", "@x", "-2", "\t制表"]
CONTROL = "王\x00芳\x1b[31m红\x07"
LONG = "长" * 40_000


def household(number: int, rnd: random.Random) -> Submission:
    """A household of repeats_probe with 0-6 members and 0-3 visits of 1-3 services each,
    as the screens would have it answered (the gate checks and completes it)."""
    members = []
    for _ in range(rnd.randint(0, 6)):
        member: dict[str, Any] = {"name": rnd.choice(NAMES), "age": rnd.randint(0, 95)}
        if member["age"] >= 16:
            member["works"] = rnd.choice(["yes", "no"])
        if member["age"] >= 40:
            member["chronic"] = rnd.choice(["yes", "no"])
        members.append(member)
    visits = []
    for day in range(rnd.randint(0, 3)):
        services = []
        for _ in range(rnd.randint(1, 3)):
            service = {"service": rnd.choice(["meal", "clean", "other"])}
            if service["service"] == "other":
                service["service_note"] = rnd.choice(["修水管", "陪同就医", "代购药品"])
            services.append(service)
        visits.append({"visit_day": f"2026-11-{day + 10:02d}", "minutes": rnd.randint(5, 60),
                       "services": services})
    answers: dict[str, Any] = {"hh_size": len(members), "max_minutes": 60, "members": members}
    if visits:
        answers["visits"] = visits
    day = 1 + number % 10
    return Submission(
        instance_id=str(uuid.UUID(int=30_000 + number, version=4)), survey="repeats_probe",
        version="1", started=f"2026-11-{day:02d}T09:00:00.000+08:00",
        completed=f"2026-11-{day:02d}T10:{number % 60:02d}:00.000+08:00", lang="zh",
        answers=answers, kiosk="hall-1", site="新华社区" if number % 2 else "梁丰社区")


def hostile(number: int, text: str) -> Submission:
    """A household whose address and only member's name are both ``text``; a second member
    is ``{}``, an instance that was not relevant."""
    return Submission(
        instance_id=str(uuid.UUID(int=40_000 + number, version=4)), survey="household",
        version="1", started="2026-11-20T09:00:00.000+08:00",
        completed=f"2026-11-20T10:{number:02d}:00.000+08:00", lang="zh",
        answers={"address": text, "helped": "yes",
                 "members": [{"name": text, "age": 30, "relation": "self"}, {}]},
        kiosk="hall-1")


PII_SURVEY = [
    ["type", "name", "label::中文 (zh)", "label::English (en)", "pii"],
    ["text", "street", "街道", "Street", ""],
    ["begin_repeat", "members", "成员/家属[名单]: *?", "Members", ""],
    ["text", "member_name", "姓名", "Name", "yes"],
    ["text", "member_phone", "电话", "Phone", "yes"],
    ["integer", "member_age", "年龄", "Age", ""],
    ["end_repeat", "", "", "", ""],
    ["begin_repeat", "contacts", "紧急联系人", "Emergency contacts", "yes"],
    ["text", "contact_name", "联系人", "Contact", ""],
    ["begin_repeat", "calls", "通话", "Calls", ""],
    ["text", "call_note", "通话记录", "Call note", ""],
    ["end_repeat", "", "", "", ""],
    ["end_repeat", "", "", "", ""],
]
PII_SETTINGS = [["form_title", "form_id", "version", "default_language"],
                ["隐私测试", "pii_repeats", "1", "中文 (zh)"]]
PII_ANSWERS = {
    "street": "梁丰路",
    "members": [{"member_name": "周秀兰", "member_phone": "13900001111", "member_age": 81},
                {"member_name": "周建国", "member_phone": "13900002222", "member_age": 52}],
    "contacts": [{"contact_name": "吴晓燕", "calls": [{"call_note": "每周三来电"}]}],
}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[dict]]]:
    """A kiosk database with the generated households (as stored), the hostile ones and
    the pii form's one record; repeats let through as the screens will have them."""
    folder = tmp_path_factory.mktemp("repeat-exports")
    with open_store(folder / "kiosk.db") as store:
        for name in ("repeats.md", "household.md"):
            store.install_form(compile_xlsform(FORMS / name))
        form = write_form(folder / "pii.md", PII_SURVEY, settings=PII_SETTINGS)
        store.install_form(compile_xlsform(form))
        rnd = random.Random(20261206)
        store.insert_submissions(gated(store, [household(number, rnd)
                                               for number in range(N_HOUSEHOLDS)]))
        # Stored as a kiosk did before the record gate (which refuses control
        # characters): what exports must still write safely.
        stored_before_the_gate(store, [hostile(number, text) for number, text
                                       in enumerate([*FORMULAS, CONTROL, LONG])])
        store.insert_submissions(gated(store, [Submission(
            instance_id=str(uuid.UUID(int=50_000, version=4)), survey="pii_repeats",
            version="1", started="2026-11-21T09:00:00.000+08:00",
            completed="2026-11-21T09:30:00.000+08:00", lang="zh", answers=PII_ANSWERS,
            kiosk="hall-1")]))
        stored = list(store.iter_submissions("repeats_probe"))
    yield folder / "kiosk.db", stored


def export(db: Path, *args: str) -> Any:
    return CliRunner().invoke(main, ["--db", str(db), "export", *args])


def read_csv(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), f"{path.name}: CSV for Excel and WPS has a BOM"
    return as_dicts(list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""))))


def as_dicts(rows: list[list[str]]) -> list[dict[str, str]]:
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def openpyxl_rows(sheet: Any) -> list[list[str]]:
    """A sheet's rows as text, as wide as its header (read-only openpyxl drops the empty
    cells that end a row)."""
    rows = [["" if value is None else str(value) for value in row]
            for row in sheet.iter_rows(values_only=True)]
    return [row + [""] * (len(rows[0]) - len(row)) for row in rows]


def rebuild(main_rows: list[dict[str, str]], main_table: str,
            tables: dict[str, tuple[str, list[dict[str, str]]]]) -> dict[str, dict]:
    """The repeats of each submission (by instance id) rebuilt from the exported tables
    alone: every repeat row joined to its parent row through ``_parent_table_name`` and
    ``_parent_index`` (``tables``: repeat -> (its table's name, its rows), outer first).
    A repeat row's ``_submission__uuid`` must be its parent's submission, and a count
    column the number of rows joined to it."""
    nodes: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    rebuilt: dict[str, dict] = {}
    for row in main_rows:
        assert (main_table, row["_index"]) not in nodes, "one main row per _index"
        rebuilt[row["instance_id"]] = {}
        nodes[(main_table, row["_index"])] = (row["instance_id"], rebuilt[row["instance_id"]])
    counts: list[tuple[dict[str, str], dict[str, Any]]] = [(row, rebuilt[row["instance_id"]])
                                                          for row in main_rows]
    for repeat, (table, rows) in tables.items():
        assert [row["_index"] for row in rows] == [str(n) for n in range(1, len(rows) + 1)]
        for row in rows:
            submission, parent = nodes[(row["_parent_table_name"], row["_parent_index"])]
            assert row["_submission__uuid"] == submission
            instance = {name: value for name, value in row.items()
                        if name not in KEYS and not name.endswith("_count") and value != ""}
            parent.setdefault(repeat, []).append(instance)
            nodes[(table, row["_index"])] = (submission, instance)
            counts.append((row, instance))
    for row, instance in counts:  # every count column says how many were joined
        for repeat in REPEATS:
            if f"{repeat}_count" in row:
                assert int(row[f"{repeat}_count"]) == len(instance.get(repeat, []))
    return rebuilt


def as_exported(answers: dict[str, Any], columns: set[str]) -> dict[str, Any]:
    """The stored repeats of a submission as the tables give them back: text, nested."""
    rebuilt: dict[str, Any] = {}
    for name, value in answers.items():
        if name in REPEATS:
            if value:
                rebuilt[name] = [as_exported(instance, columns) for instance in value]
        elif name in columns and value not in (None, ""):
            rebuilt[name] = str(value)
    return rebuilt


def expected(stored: list[dict], columns: set[str]) -> dict[str, dict]:
    return {record["instance_id"]: {name: value for name, value in
                                    as_exported(record["answers"], columns).items()
                                    if name in REPEATS} for record in stored}


def repeat_columns(rows_by_table: list[list[dict[str, str]]]) -> set[str]:
    return {name for rows in rows_by_table for row in rows[:1] for name in row}


# ---- hostile answers first -----------------------------------------------------------------


def test_hostile_answers_in_a_repeat_file_are_as_safe_as_in_the_main_file(data, tmp_path):
    db, _ = data
    target = tmp_path / "家庭.csv"
    result = export(db, "household", "-o", str(target))
    assert result.exit_code == 0, result.output
    main_rows = read_csv(target)
    members = read_csv(tmp_path / "家庭-members.csv")
    by_index = {row["_index"]: row for row in main_rows}
    names = {}
    for member in members:
        if member["_parent_index"] in by_index and member["name"]:
            names[by_index[member["_parent_index"]]["instance_id"]] = member["name"]
    assert len(names) == len(main_rows) == len(FORMULAS) + 2
    for row in main_rows:
        # the member's name is written exactly as the same text in the address
        assert names[row["instance_id"]] == row["address"]
    cells = set(names.values())
    for formula in FORMULAS:  # never a formula in Excel or WPS
        assert "'" + formula in cells
    assert "王\ufffd芳\ufffd[31m红\ufffd" in cells  # NUL, ESC, BEL: not in any file
    assert LONG in cells  # CSV holds any length
    raw = (tmp_path / "家庭-members.csv").read_bytes()
    assert b"\x00" not in raw and b"\x1b" not in raw and b"\x07" not in raw
    # The {} member: a row of its own, every answer empty, counted in members_count.
    assert sum(1 for member in members if not member["name"]) == len(main_rows)
    assert {row["members_count"] for row in main_rows} == {"2"}


def test_hostile_answers_in_a_repeat_sheet_opened_by_libreoffice(data, tmp_path):
    db, _ = data
    book = tmp_path / "household.xlsx"
    result = export(db, "household", "-o", str(book))
    assert result.exit_code == 0, result.output
    assert "2 个单元格超过 32,767 字" in result.output  # the address and the name, both cut
    sheets = libreoffice_csv(book, tmp_path)
    assert set(sheets) == {"数据", "家庭成员", "统计"}
    main_rows, members = as_dicts(sheets["数据"]), as_dicts(sheets["家庭成员"])
    by_index = {row["_index"]: row for row in main_rows}
    names = {by_index[member["_parent_index"]]["instance_id"]: member["name"]
             for member in members if member["name"]}
    assert len(names) == len(main_rows)
    for row in main_rows:
        assert names[row["instance_id"]] == row["address"]
    cells = set(names.values())
    # A formula-looking answer comes back as the text it was (a cell typed as text), not
    # evaluated (点我) nor escaped.
    assert set(FORMULAS) <= cells
    assert "王\ufffd芳\ufffd[31m红\ufffd" in cells
    cut = next(cell for cell in cells if cell.startswith("长"))
    assert len(cut) <= 32_767 and cut.endswith("…【已截断，原文共 40,000 字】")


# ---- joined back to their submissions ----------------------------------------------------


def test_xlsx_repeat_sheets_joined_back_give_the_stored_repeats(data, tmp_path):
    db, stored = data
    book = tmp_path / "探访.xlsx"
    result = export(db, "repeats_probe", "-o", str(book))
    assert result.exit_code == 0, result.output
    sheets = libreoffice_csv(book, tmp_path)
    assert set(sheets) == {"数据", "家庭成员", "探访", "服务", "统计"}
    main_rows = as_dicts(sheets["数据"])
    assert len(main_rows) == N_HOUSEHOLDS
    assert "members" not in main_rows[0] and "age" not in main_rows[0]  # no list dumped
    tables = {"members": ("家庭成员", as_dicts(sheets["家庭成员"])),
              "visits": ("探访", as_dicts(sheets["探访"])),
              "services": ("服务", as_dicts(sheets["服务"]))}
    assert {row["_parent_table_name"] for row in tables["services"][1]} == {"探访"}
    assert {row["_parent_table_name"] for row in tables["members"][1]} == {"数据"}
    rebuilt = rebuild(main_rows, "数据", tables)
    columns = repeat_columns([rows for _, rows in tables.values()])
    assert rebuilt == expected(stored, columns)
    # Enough to mean something: members, visits, and services nested in them, were joined.
    assert sum(len(entry.get("members", [])) for entry in rebuilt.values()) > 60
    assert sum(len(visit["services"]) for entry in rebuilt.values()
               for visit in entry.get("visits", [])) > 40
    for row in main_rows:
        record = next(record for record in stored if record["instance_id"] == row["instance_id"])
        assert row["members_count"] == str(len(record["answers"].get("members", [])))
        assert row["visits_count"] == str(len(record["answers"].get("visits", [])))
    assert result.output.strip().endswith(
        "their repeat groups to the sheets 家庭成员 ({} rows), 探访 ({} rows), 服务 ({} rows)"
        .format(*(len(rows) for _, rows in tables.values())))


def test_csv_repeat_files_joined_back_give_the_stored_repeats(data, tmp_path):
    db, stored = data
    target = tmp_path / "out.csv"
    result = export(db, "repeats_probe", "-o", str(target))
    assert result.exit_code == 0, result.output
    written = sorted(path.name for path in tmp_path.iterdir())
    assert written == ["out-members.csv", "out-services.csv", "out-visits.csv", "out.csv"]
    main_rows = read_csv(target)
    tables = {repeat: (f"out-{repeat}.csv", read_csv(tmp_path / f"out-{repeat}.csv"))
              for repeat in REPEATS}
    assert list(tables["members"][1][0])[:4] == KEYS
    assert list(main_rows[0])[-1] == "_index"
    assert {row["_parent_table_name"] for row in tables["visits"][1]} == {"out.csv"}
    assert {row["_parent_table_name"] for row in tables["services"][1]} == {"out-visits.csv"}
    rebuilt = rebuild(main_rows, "out.csv", tables)
    assert rebuilt == expected(stored, repeat_columns([rows for _, rows in tables.values()]))
    for name, (file_name, rows) in tables.items():
        assert f"{tmp_path / file_name} ({len(rows)} rows)" in result.output, name
    # Choice labels in the repeat files as in the main one.
    labelled = tmp_path / "labels" / "out.csv"
    labelled.parent.mkdir()
    assert export(db, "repeats_probe", "-o", str(labelled), "--labels").exit_code == 0
    services = read_csv(labelled.parent / "out-services.csv")
    assert {row["service"] for row in services} == {"送餐", "打扫", "其他"}


def test_filters_choose_the_repeat_rows_of_the_chosen_submissions(data, tmp_path):
    db, stored = data
    chosen = [record for record in stored if record.get("site") == "新华社区"
              and "2026-11-03" <= record["completed"][:10] <= "2026-11-07"]
    assert 0 < len(chosen) < len(stored)
    target = tmp_path / "filtered.csv"
    result = export(db, "repeats_probe", "-o", str(target), "--site", "新华社区",
                    "--from", "2026-11-03", "--to", "2026-11-07")
    assert result.exit_code == 0, result.output
    main_rows = read_csv(target)
    assert {row["instance_id"] for row in main_rows} == {r["instance_id"] for r in chosen}
    tables = {repeat: (f"filtered-{repeat}.csv", read_csv(tmp_path / f"filtered-{repeat}.csv"))
              for repeat in REPEATS}
    rebuilt = rebuild(main_rows, "filtered.csv", tables)  # no row without its submission
    assert rebuilt == expected(chosen, repeat_columns([rows for _, rows in tables.values()]))

    from openpyxl import load_workbook

    book = tmp_path / "filtered.xlsx"
    assert export(db, "repeats_probe", "-o", str(book), "--site", "新华社区", "--from",
                  "2026-11-03", "--to", "2026-11-07").exit_code == 0
    workbook = load_workbook(book, read_only=True)
    assert workbook.sheetnames == ["数据", "家庭成员", "探访", "服务", "统计"]
    sheets = {name: as_dicts(openpyxl_rows(workbook[name]))
              for name in ("数据", "家庭成员", "探访", "服务")}
    rebuilt = rebuild(sheets["数据"], "数据", {"members": ("家庭成员", sheets["家庭成员"]),
                                              "visits": ("探访", sheets["探访"]),
                                              "services": ("服务", sheets["服务"])})
    assert rebuilt == expected(chosen, repeat_columns(
        [sheets["家庭成员"], sheets["探访"], sheets["服务"]]))


def test_repeat_sheets_go_on_past_the_row_limit_and_still_join(data, tmp_path, monkeypatch):
    from openpyxl import load_workbook

    db, stored = data
    monkeypatch.setattr(tabular, "SHEET_ROW_LIMIT", 25)
    book = tmp_path / "split.xlsx"
    result = export(db, "repeats_probe", "-o", str(book))
    assert result.exit_code == 0, result.output
    workbook = load_workbook(book, read_only=True)
    names = workbook.sheetnames
    # Each table's sheets together, in form order, the tallies last.
    assert names[:2] == ["数据", "数据2"] and names[-1] == "统计"
    assert names.index("家庭成员") < names.index("家庭成员2") < names.index("探访")
    assert names.index("探访2") < names.index("服务") < names.index("服务2")

    def table(base: str) -> list[dict[str, str]]:
        rows = []
        for name in [base, *(f"{base}{n}" for n in range(2, 20) if f"{base}{n}" in names)]:
            sheet = as_dicts(openpyxl_rows(workbook[name]))
            assert 0 < len(sheet) <= 25
            rows.extend(sheet)
        return rows

    main_rows = table("数据")
    tables = {"members": ("家庭成员", table("家庭成员")), "visits": ("探访", table("探访")),
              "services": ("服务", table("服务"))}
    assert rebuild(main_rows, "数据", tables) == expected(stored, repeat_columns(
        [rows for _, rows in tables.values()]))


def test_jsonl_keeps_repeats_nested_as_stored(data, tmp_path):
    db, stored = data
    target = tmp_path / "out.jsonl"
    assert export(db, "repeats_probe", "-o", str(target)).exit_code == 0
    records = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert records == stored
    assert any(isinstance(record["answers"].get("visits"), list)
               and isinstance(record["answers"]["visits"][0]["services"], list)
               for record in records)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out.jsonl"]


def test_the_pdf_report_of_a_repeat_form_is_made(data, tmp_path):
    db, stored = data
    for survey, title, question in [("repeats_probe", "家庭与探访", "家里住着几口人"),
                                    ("household", "家庭登记", "需要上门服务吗")]:
        target = tmp_path / f"{survey}.pdf"
        result = export(db, survey, "-o", str(target))
        assert result.exit_code == 0, result.output
        text = text_of(target, layout=False)
        assert title in text and question in text
    assert f"of {len(stored)} submissions" in export(
        db, "repeats_probe", "-o", str(tmp_path / "again.pdf")).output


# ---- personal data -----------------------------------------------------------------------


def test_pii_inside_repeats_stays_out_unless_asked(data, tmp_path):
    db, _ = data
    plain = tmp_path / "plain.csv"
    assert export(db, "pii_repeats", "-o", str(plain)).exit_code == 0
    # The pii repeat (contacts) and the repeat inside it: no file, no count column.
    assert sorted(path.name for path in tmp_path.iterdir()) == ["plain-members.csv",
                                                                "plain.csv"]
    main_rows, members = read_csv(plain), read_csv(tmp_path / "plain-members.csv")
    assert list(main_rows[0]) == ["instance_id", "version", "kiosk", "site", "enumerator",
                                  "started", "completed", "lang", "street", "members_count",
                                  "_index"]
    assert list(members[0]) == [*KEYS, "member_age"]
    assert [row["member_age"] for row in members] == ["81", "52"]
    for path in tmp_path.iterdir():
        text = path.read_text(encoding="utf-8-sig")
        assert "周秀兰" not in text and "139" not in text and "吴晓燕" not in text

    jsonl = tmp_path / "plain.jsonl"
    assert export(db, "pii_repeats", "-o", str(jsonl)).exit_code == 0
    record = json.loads(jsonl.read_text(encoding="utf-8"))
    assert record["answers"] == {"street": "梁丰路", "members": [{"member_age": 81},
                                                                {"member_age": 52}]}

    book = tmp_path / "plain.xlsx"
    assert export(db, "pii_repeats", "-o", str(book)).exit_code == 0
    from openpyxl import load_workbook

    workbook = load_workbook(book, read_only=True)
    # The label 成员/家属[名单]: *? holds what no sheet name may: left out.
    assert workbook.sheetnames == ["数据", "成员家属名单", "统计"]
    assert next(workbook["成员家属名单"].iter_rows(values_only=True)) == (*KEYS, "member_age")

    full = tmp_path / "full" / "full.csv"
    full.parent.mkdir()
    assert export(db, "pii_repeats", "-o", str(full), "--include-pii").exit_code == 0
    assert sorted(path.name for path in full.parent.iterdir()) == [
        "full-calls.csv", "full-contacts.csv", "full-members.csv", "full.csv"]
    members = read_csv(full.parent / "full-members.csv")
    assert [row["member_name"] for row in members] == ["周秀兰", "周建国"]
    assert read_csv(full.parent / "full-calls.csv")[0]["call_note"] == "每周三来电"
    assert read_csv(full)[0]["contacts_count"] == "1"
    jsonl = tmp_path / "full.jsonl"
    assert export(db, "pii_repeats", "-o", str(jsonl), "--include-pii").exit_code == 0
    assert json.loads(jsonl.read_text(encoding="utf-8"))["answers"] == PII_ANSWERS


# ---- files written whole or not at all ---------------------------------------------------


def test_csv_with_repeats_leaves_no_file_when_one_cannot_be_written(data, tmp_path):
    db, _ = data
    (tmp_path / "out-visits.csv").mkdir()  # a folder where the visits' file would go
    result = export(db, "repeats_probe", "-o", str(tmp_path / "out.csv"))
    assert result.exit_code == 1
    assert f"cannot write {tmp_path / 'out-visits.csv'}" in result.output
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out-visits.csv"]

    # The disk filling up half-way (a file-size limit, as a full USB stick would say):
    # an earlier good export stays whole, and nothing of the failed one is left.
    good = tmp_path / "good"
    good.mkdir()
    assert export(db, "repeats_probe", "-o", str(good / "out.csv")).exit_code == 0
    before = {path.name: path.read_bytes() for path in good.iterdir()}
    assert len(before) == 4 and len(before["out.csv"]) > 4096
    with file_size_limit(4096):
        result = export(db, "repeats_probe", "-o", str(good / "out.csv"))
    assert result.exit_code == 1
    assert "cannot write" in result.output and "File too large" in result.output
    assert {path.name: path.read_bytes() for path in good.iterdir()} == before


@contextmanager
def file_size_limit(size: int) -> Iterator[None]:
    """Writes past ``size`` bytes fail (EFBIG) for a while, in this process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)


def test_csv_with_repeats_to_standard_output_is_refused_with_why(data):
    db, _ = data
    result = export(db, "repeats_probe", "--format", "csv", "-o", "-")
    assert result.exit_code == 1
    assert "重复组" in result.output and "-o FILE.csv" in result.output
    assert "instance_id" not in result.output


def test_a_form_without_repeats_writes_one_file_and_no_index(data, tmp_path):
    db, _ = data
    form = write_form(tmp_path / "flat.md", [
        ["type", "name", "label::中文 (zh)"], ["text", "street", "街道"]],
        settings=[["form_title", "form_id", "version"], ["无重复组", "flat", "1"]])
    with open_store(db) as store:
        store.install_form(compile_xlsform(form))
        store.insert_submissions(gated(store, [Submission(
            instance_id=str(uuid.UUID(int=60_000, version=4)), survey="flat", version="1",
            started="2026-11-21T09:00:00.000+08:00", completed="2026-11-21T09:30:00.000+08:00",
            lang="zh", answers={"street": "南苑路"}, kiosk="hall-1")]))
    out = tmp_path / "out"
    out.mkdir()
    result = export(db, "flat", "-o", str(out / "flat.csv"))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"wrote 1 submissions to {out / 'flat.csv'}"
    assert [path.name for path in out.iterdir()] == ["flat.csv"]
    assert (out / "flat.csv").read_text(encoding="utf-8-sig").splitlines()[0] == (
        "instance_id,version,kiosk,site,enumerator,started,completed,lang,street")


# ---- sheet names -------------------------------------------------------------------------


def test_sheet_names_are_what_excel_takes_and_never_twice():
    taken = {"数据", "统计", "交叉表", "history"}
    assert sheet_title("家庭成员", "members", taken) == "家庭成员"
    assert sheet_title("家庭成员", "members", taken) == "家庭成员-2"  # two repeats, one label
    assert sheet_title("统计", "stats", taken) == "统计-2"  # not the tallies' sheet
    assert sheet_title("History", "history", taken) == "History-2"  # Excel's own
    assert sheet_title("成员/家属[名单]: *?\\", "members", taken) == "成员家属名单"
    assert sheet_title("'引号'", "quoted", taken) == "引号"
    assert sheet_title("${name}的探访", "visits", taken) == "visits"  # reads an answer
    assert sheet_title("[]:*?", "services", taken) == "services"
    long = sheet_title("很" * 40, "long", taken)
    assert long == "很" * SHEET_NAME_LIMIT
    again = sheet_title("很" * 40, "long", taken)
    assert again == "很" * (SHEET_NAME_LIMIT - 2) + "-2" and len(again) == SHEET_NAME_LIMIT
    assert sheet_title("Members", "m", {"members"}) == "Members-2"  # Excel ignores case

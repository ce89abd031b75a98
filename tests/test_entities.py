"""Registers of households (issue 16, ODK Entities subset): what the compiler takes and
refuses with its place, what a finished visit does to the register, how a later form picks a
household by a search and reads its plan, how the record gate checks a record's register
change, and how two offline updates of one household fold the same way in any order, the
later winning and the overlap flagged.

Real SQLite files; the forms are tests/forms/register.md and followup.md.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from kiosk.importer import import_jsonl
from store import KioskStore, open_store
from surveys.entities import EntityChange, fold
from surveys.form import Form
from surveys.gate import RecordRefused
from surveys.session import FormIncomplete, FormSession
from surveys.xlsform import FormError, compile_xlsform, load_xlsform
from tests.formbuilder import write_form
from tests.households import register

FORMS = Path(__file__).parent / "forms"


@pytest.fixture
def store(tmp_path: Path) -> KioskStore:
    opened = open_store(tmp_path / "kiosk.db")
    for name in ("register.md", "followup.md"):
        opened.install_form(compile_xlsform(FORMS / name))
    yield opened
    opened.close()


def follow_up(store: KioskStore, household: str, installed: str, plan: str = "",
              completed: str = "2026-11-20T10:00:00+08:00") -> dict:
    run = FormSession(store.load_form("household_followup"), entities=store)
    assert run.answer("household", household) == []
    assert run.answer("installed", installed) == []
    if plan:
        assert run.answer("plan", plan) == []
    submission = run.finish()
    submission.completed = completed
    store.save_submission(store.record_gate().check_submission(submission))
    return submission.to_json()


# ---- the compiler ---------------------------------------------------------------------------


def test_the_register_columns_are_compiled():
    form = load_xlsform(FORMS / "followup.md")
    assert form.entity is not None and form.entity.dataset == "households"
    assert (form.entity.create, form.entity.update) == (False, True)
    assert form.by_name["household"].entity_list == "households"
    assert form.by_name["household"].list_name is None
    assert form.saved_to == {"plan": "plan", "state": "state"}
    assert form.reads_register("last_plan") and not form.reads_register("state")
    created = load_xlsform(FORMS / "register.md")
    assert created.entity is not None and (created.entity.create, created.entity.update) == (
        True, False)


BAD_FORMS = [
    # (what the sheets say, the place of the refusal, words of the message)
    ({"survey": [["type", "name", "label", "save_to"], ["text", "a", "A", "a"]]},
     ("survey", 2, "save_to"), "entities"),
    ({"survey": [["type", "name", "label", "save_to"], ["text", "a", "A", "label"]],
      "entities": [["list_name", "label"], ["households", "${a}"]]},
     ("survey", 2, "save_to"), "must not be 'name' or 'label'"),
    ({"survey": [["type", "name", "label", "save_to"], ["begin_repeat", "m", "M", ""],
                 ["text", "a", "A", "a"], ["end_repeat", "", "", ""]],
      "entities": [["list_name", "label"], ["households", "'x'"]]},
     ("survey", 3, "save_to"), "inside the repeat"),
    ({"survey": [["type", "name", "label"], ["begin_repeat", "m", "M"],
                 ["select_one_from_file households.csv", "h", "H"], ["end_repeat", "", ""]]},
     ("survey", 3, "type"), "inside the repeat"),
    ({"survey": [["type", "name", "label"], ["select_multiple_from_file households.csv", "h",
                                              "H"]]},
     ("survey", 2, "type"), "not supported"),
    ({"survey": [["type", "name", "label"], ["select_one_from_file streets.xml", "h", "H"]]},
     ("survey", 2, "type"), "households.csv"),
    ({"survey": [["type", "name", "label", "relevant"],
                 ["select_one_from_file households.csv", "h", "H", ""],
                 ["text", "a", "A", "instance('households')/root/item[name=${h}]/plan != ''"]]},
     ("survey", 3, "relevant"), "calculate"),
    ({"survey": [["type", "name", "label", "calculation"],
                 ["select_one_from_file households.csv", "h", "H", ""],
                 ["calculate", "c", "", "count(instance('households')/root/item)"]]},
     ("survey", 3, "calculation"), "instance('list')/root/item[name=${question}]/property"),
    ({"survey": [["type", "name", "label"], ["text", "a", "A"]],
      "entities": [["list_name", "label"], ["households", "${a}"], ["people", "${a}"]]},
     ("entities", 3, "list_name"), "one list"),
    ({"survey": [["type", "name", "label"], ["text", "a", "A"]],
      "entities": [["list_name", "label", "colour"], ["households", "${a}", "red"]]},
     ("entities", 2, "colour"), "entities sheet"),
]


@pytest.mark.parametrize(("sheets", "place", "words"), BAD_FORMS)
def test_a_register_feature_outside_the_subset_is_refused_with_its_place(
        tmp_path, sheets, place, words):
    path = write_form(tmp_path / "bad.xlsx", sheets["survey"], entities=sheets.get("entities"))
    with pytest.raises(FormError) as raised:
        compile_xlsform(path)
    error = raised.value
    assert (error.sheet, error.row, error.column) == place, str(error)
    assert words in str(error)


# ---- registering and following up ------------------------------------------------------------


def test_a_registered_household_is_found_by_name_address_or_phone_digits(store):
    first = register(store, "王秀英", "金港花园 3 栋 201", "13912345678", "卫生间扶手")
    register(store, "王建国", "长江小区 12 栋", "13800001111")
    entity = store.entity("households", first)
    assert entity is not None and entity.version == 1
    assert entity.label == "王秀英 金港花园 3 栋 201"
    assert entity.properties == {"head_name": "王秀英", "address": "金港花园 3 栋 201",
                                 "phone": "13912345678", "members_n": "3",
                                 "plan": "卫生间扶手"}
    run = FormSession(store.load_form("household_followup"), entities=store)
    item = run.form.by_name["household"]
    found = lambda text: [entity.label for entity in run.search_register(item, text)]  # noqa: E731
    assert found("王秀英") == ["王秀英 金港花园 3 栋 201"]
    assert sorted(found("王")) == ["王建国 长江小区 12 栋", "王秀英 金港花园 3 栋 201"]
    assert found("5678") == ["王秀英 金港花园 3 栋 201"]
    assert found("５６７８") == ["王秀英 金港花园 3 栋 201"]  # full-width digits from a pad
    assert found("金港 201") == ["王秀英 金港花园 3 栋 201"]
    assert found("李") == []
    assert found("%") == [] and found("'; DROP TABLE entities; --") == []


def test_a_follow_up_reads_the_plan_and_updates_the_household(store):
    household = register(store, "王秀英", "金港花园 3 栋 201", "13912345678", "卫生间扶手")
    run = FormSession(store.load_form("household_followup"), entities=store)
    assert run.answer("household", household) == []
    assert run.raw("last_plan") == "卫生间扶手" and run.raw("visits_before") == "1"
    assert run.render("${household}") == "王秀英 金港花园 3 栋 201"
    assert "上次的方案：卫生间扶手" in run.label(run.form.by_name["plan_note"])
    record = follow_up(store, household, "no", plan="卫生间扶手、床边护栏")
    assert record["entity"] == {"dataset": "households", "id": household, "action": "update",
                                "base_version": 1}
    entity = store.entity("households", household)
    assert entity.version == 2 and entity.conflicts == []
    assert entity.properties["plan"] == "卫生间扶手、床边护栏"
    assert entity.properties["state"] == "open"
    follow_up(store, household, "yes", completed="2026-12-01T10:00:00+08:00")
    entity = store.entity("households", household)
    # a plan left blank keeps the one known; the state follows the answer
    assert entity.version == 3 and entity.properties["plan"] == "卫生间扶手、床边护栏"
    assert entity.properties["state"] == "done"
    assert [change.action for change in store.entity_changes("households", household)] == [
        "create", "update", "update"]


def test_a_household_not_in_the_register_cannot_be_picked(store):
    run = FormSession(store.load_form("household_followup"), entities=store)
    problems = run.answer("household", "0b7e5f0c-1d2a-4c3b-9e8f-7a6b5c4d3e2f")
    assert [problem.code for problem in problems] == ["entity"]
    assert problems[0].message == "名单里没有这一户，请重新搜索选择。"
    assert [problem.code for problem in run.answer("household", "王秀英")] == ["entity"]
    with pytest.raises(FormIncomplete):
        run.finish()


# ---- the record gate and import -----------------------------------------------------------


def test_the_gate_computes_the_change_again_and_refuses_a_forged_one(store):
    household = register(store, "王秀英", "金港花园 3 栋 201", "13912345678", "扶手")
    record = follow_up(store, household, "yes")
    gate = store.record_gate()
    assert gate.check(record).entity == record["entity"]
    without = {key: value for key, value in record.items() if key != "entity"}
    assert gate.check(without).entity == {**record["entity"], "base_version": None}
    for forged, words in [
            ({"action": "create"}, "entity.action"),
            ({"id": "0b7e5f0c-1d2a-4c3b-9e8f-7a6b5c4d3e2f"}, "entity.id"),
            ({"dataset": "people"}, "entity.dataset"),
            ({"label": "=HYPERLINK(\"x\")"}, "entity.label"),
            ({"base_version": True}, "base_version"),
            ({"base_version": 10**12}, "base_version"),
            ({"base_version": "1"}, "base_version"),
            ({"colour": "red"}, "unknown key")]:
        with pytest.raises(RecordRefused, match=words):
            gate.check({**record, "entity": {**record["entity"], **forged}})
    with pytest.raises(RecordRefused, match="must be a JSON object"):
        gate.check({**record, "entity": ["households"]})
    # a sync row or a bundle carries the properties: they must be what the answers give
    travelling = {**record["entity"], "properties": {"state": "done"}, "pii_properties": {}}
    assert gate.check({**record, "entity": travelling}).entity == record["entity"]
    for forged in ({"properties": {"state": "done", "plan": "=cmd|' /C calc'!A0"}},
                   {"pii_properties": {"phone": "13800000000"}}):
        with pytest.raises(RecordRefused, match="名单记录和回答不一致"):
            gate.check({**record, "entity": {**travelling, **forged}})
    satisfaction = {"instance_id": "5e0c1f4e-6b1d-4d2c-8f3a-2b1c0d9e8f7a",
                    "survey": "household_register", "completed": "2026-11-02T10:00:00+08:00",
                    "answers": {"head_name": "李", "address": "长江小区", "members_n": 2}}
    created = gate.check(satisfaction)
    assert created.entity == {"dataset": "households", "id": satisfaction["instance_id"],
                              "action": "create", "label": "李 长江小区"}


def test_import_refuses_an_update_of_a_household_it_does_not_have(store, tmp_path):
    other = open_store(tmp_path / "other.db")
    for name in ("register.md", "followup.md"):
        other.install_form(compile_xlsform(FORMS / name))
    known = register(other, "王秀英", "金港花园 3 栋 201", "13912345678", "扶手")
    unknown = register(other, "赵敏", "长江小区 5 栋", "13700002222")
    lines = [follow_up(other, known, "yes")]
    store_known = other.submission_record(
        next(iter(other.entity_changes("households", known))).instance_id)
    lines = [store_known, *lines, follow_up(other, unknown, "no", plan="门口坡道")]
    other.close()
    path = tmp_path / "visits.jsonl"
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines),
                    encoding="utf-8")
    report = import_jsonl(store, path)
    # the household created in the file is updated by its later line; the other is unknown
    assert report.stored == 2
    assert [rejected.line for rejected in report.rejected] == [3]
    assert "名单“households”里没有" in report.rejected[0].error and unknown in \
        report.rejected[0].error
    assert store.entity("households", known).version == 2
    assert store.entity("households", unknown) is None


# ---- two offline updates ------------------------------------------------------------------


def test_two_offline_updates_fold_alike_in_any_order_the_later_winning():
    create = EntityChange("households", "h1", "create", "s0", "2026-11-01T09:00:00+08:00",
                          label="王秀英", properties={"plan": "扶手", "state": "open"})
    at_hall = EntityChange("households", "h1", "update", "s1", "2026-11-10T09:00:00+08:00",
                           base_version=1, properties={"plan": "扶手、护栏"})
    in_village = EntityChange("households", "h1", "update", "s2", "2026-11-10T15:00:00+08:00",
                              base_version=1, properties={"state": "done", "plan": "护栏"})
    results = {json.dumps(fold("households", "h1", order).__dict__, sort_keys=True)
               for order in itertools.permutations([create, at_hall, in_village])}
    assert len(results) == 1
    entity = fold("households", "h1", [in_village, create, at_hall])
    assert entity.version == 3 and entity.properties == {"plan": "护栏", "state": "done"}
    assert entity.conflicts == [{"instance_id": "s2", "base_version": 1, "applied_to": 2}]
    assert entity.changes == ["s0", "s1", "s2"]
    # an update arriving before its household waits for it
    assert not fold("households", "h1", [at_hall]).exists


def test_a_form_without_a_register_carries_no_change():
    form = Form(compile_xlsform(FORMS / "basics.md"))
    run = FormSession(form)
    assert run.entity_block() is None


def test_a_label_made_of_pii_answers_stays_out_of_the_default_export(store, tmp_path):
    from surveys.exports.survey import export_survey

    household = register(store, "王秀英", "金港花园 3 栋 201", "13912345678", "扶手")
    plain, full = tmp_path / "plain.jsonl", tmp_path / "full.jsonl"
    export_survey(store, "household_register", plain)
    export_survey(store, "household_register", full, include_pii=True)
    (record,) = [json.loads(line) for line in plain.read_text(encoding="utf-8").splitlines()]
    assert "王秀英" not in plain.read_text(encoding="utf-8")
    assert record["entity"] == {"dataset": "households", "id": household, "action": "create"}
    (record,) = [json.loads(line) for line in full.read_text(encoding="utf-8").splitlines()]
    assert record["entity"]["label"] == "王秀英 金港花园 3 栋 201"


def test_a_draft_resumed_reads_the_register_again(store):
    household = register(store, "王秀英", "金港花园 3 栋 201", "13912345678", "扶手")
    run = FormSession(store.load_form("household_followup"), entities=store)
    run.answer("household", household)
    store.save_draft(run)
    resumed = store.resume_draft(run.instance_id)
    assert resumed.raw("last_plan") == "扶手"
    assert resumed.display("household") == "王秀英 金港花园 3 栋 201"
    (kept,) = store.kept_drafts()
    assert kept.answers["household"] == household

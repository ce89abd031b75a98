"""Repeat groups in the engine (issue 16, first slice): the compiled form, FormSession with
instances, the ODK repeat functions and the record gate.

The test form (tests/forms/repeats.md) is a household: its members are a repeat whose number
is the answer to 家里住着几口人 (repeat_count), with relevance and a group inside each member,
a constraint and labels reading the same member's name; visits are an open-ended repeat with
a constraint reading a question outside it and services nested in each visit. Calculates use
position(..), count(), sum(), max() and indexed-repeat() as ODK documents them.

The screens show repeats: a form with them compiles and installs like any other, and travels
in bundles and sync batches.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import uuid
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from surveys.form import REPEAT_LIMIT, REPEAT_TOTAL_LIMIT, Form
from surveys.gate import RecordGate, RecordRefused
from surveys.session import FormIncomplete, FormSession, RepeatSession, address, parse_address
from surveys.xlsform import FormError, compile_xlsform, load_xlsform
from tests.formbuilder import SETTINGS, write_form
from tests.test_session_properties import SCALE, values_for

FORMS = Path(__file__).parent / "forms"


@cache
def household() -> Form:
    return load_xlsform(FORMS / "repeats.md")


def session(language: str | None = "zh") -> FormSession:
    return FormSession(household(), language)


def with_members(*members: tuple[str, int]) -> FormSession:
    """A session with these members (name, age) answered and 60 minutes a visit at most."""
    run = session()
    assert run.answer("hh_size", len(members)) == []
    assert run.answer("max_minutes", 60) == []
    for number, (name, age) in enumerate(members, start=1):
        assert run.answer(f"members[{number}].name", name) == []
        assert run.answer(f"members[{number}].age", age) == []
    return run


def record(answers: dict[str, Any]) -> dict[str, Any]:
    return {"instance_id": str(uuid.uuid4()), "survey": "repeats_probe", "version": "1",
            "completed": "2026-12-06T10:00:00.000+08:00", "answers": answers}


def gate() -> RecordGate:
    return RecordGate.for_forms([household()])


GOOD = {
    "hh_size": 2, "max_minutes": 60,
    "members": [
        {"name": "李桂英", "age": 72, "works": "no", "chronic": "yes", "member_no": "1"},
        {"name": "李明", "age": 12, "member_no": "2"},
    ],
    "members_n": "2", "age_total": "84", "oldest": "72", "first_name": "李桂英",
    "visits": [
        {"visit_day": "2026-12-01", "minutes": 30,
         "services": [{"service": "meal"}, {"service": "other", "service_note": "修水管"}],
         "services_n": "2"},
        {"visit_day": "2026-12-05", "minutes": 45, "services": [{"service": "clean"}],
         "services_n": "1"},
    ],
    "total_minutes": "75", "second_visit_first_service": "clean",
}


# ---- accepted now that the screens show repeats ------------------------------------------------


def test_a_form_with_repeats_compiles_without_being_asked_to():
    form = Form(compile_xlsform(FORMS / "repeats.md"))
    assert list(form.repeats) == ["members", "visits", "services"]


def test_a_compiled_form_with_repeats_is_installed(store):
    compiled = compile_xlsform(FORMS / "repeats.md")
    Form(compiled).check_bounds()  # what a bundle's or a sync batch's form meets
    store.install_form(compiled)
    installed = store.compiled_forms().get("repeats_probe", {}).get("1")
    assert installed is not None and list(Form(installed).repeats) == [
        "members", "visits", "services"]


# ---- the compiled form ---------------------------------------------------------------------


def test_references_inside_a_repeat_mean_the_same_instance():
    form = household()
    xpath = {(item.name, kind): entry["xpath"] for item in form.items
             for kind, entry in item.expressions.items()}
    assert xpath[("works", "relevant")] == "(../age >= 16)"  # the sibling, as pyxform writes
    assert xpath[("chronic", "relevant")] == "(../../age >= 40)"  # from inside a group
    assert xpath[("minutes", "constraint")] == "((. > 0) and (. <= /data/max_minutes))"
    assert xpath[("services_n", "calculate")] == "count(../services)"  # this visit's
    assert xpath[("members", "repeat_count")] == "/data/hh_size"
    # outside the repeat, a question inside it is every instance's
    assert xpath[("age_total", "calculate")] == "sum(/data/members/age)"
    # indexed-repeat names whole repeats
    assert xpath[("second_visit_first_service", "calculate")] == (
        "indexed-repeat(/data/visits/services/service, /data/visits, 2, "
        "/data/visits/services, 1)")
    assert form.repeat_chain["service_note"] == ("visits", "services")
    assert list(form.repeats) == ["members", "visits", "services"]


def test_places_are_read_and_written_alike():
    form = household()
    assert address(form, "age", (1,)) == "members[2].age"
    assert address(form, "service", (0, 2)) == "visits[1].services[3].service"
    assert address(form, "services", (0,)) == "visits[1].services"
    assert address(form, "services", (0, 1)) == "visits[1].services[2]"
    for text, slot in [("members[2].age", ("age", (1,))),
                       ("visits[1].services", ("services", (0,))),
                       ("visits[1].services[3].service", ("service", (0, 2))),
                       ("members[1]", ("members", (0,))), ("hh_size", ("hh_size", ()))]:
        assert parse_address(form, text) == slot
    for bad in ["members[0].age", "visits[1].age", "members.age", "members[1].nothing",
                "services[1].service", "members[x].age", "", "members[1]..age", "a" * 500]:
        assert parse_address(form, bad) is None, bad


# ---- instances: repeat_count, add, remove ------------------------------------------------------


def test_repeat_count_from_an_answer_makes_and_drops_instances():
    run = with_members(("李桂英", 72), ("李明", 12), ("王芳", 45))
    assert isinstance(run, RepeatSession)
    assert run.instance_count("members") == 3
    assert run.answers()["members"][2] == {"name": "王芳", "age": 45, "member_no": "3"}
    assert run.answer("hh_size", 1) == []
    assert run.instance_count("members") == 1
    assert [entry["name"] for entry in run.answers()["members"]] == ["李桂英"]
    assert run.answer("hh_size", 2) == []  # a member dropped comes back empty
    assert run.answers()["members"][1] == {"member_no": "2"}
    # the form sets the number: nobody adds or removes one
    assert [problem.code for problem in run.add_instance("members")] == ["repeat_fixed"]
    assert [problem.code for problem in run.remove_instance("members[1]")] == ["repeat_fixed"]


def test_a_fixed_repeat_count_and_a_count_beyond_the_limit(tmp_path):
    survey = [["type", "name", "label", "repeat_count", "constraint"],
              ["integer", "n", "N", "", ""],
              ["begin_repeat", "three", "Three", "3", ""],
              ["integer", "x", "X", "", ". < 10"],
              ["end_repeat", "", "", "", ""],
              ["begin_repeat", "many", "Many", "${n} * 1000", ""],
              ["text", "y", "Y", "", ""],
              ["end_repeat", "", "", "", ""]]
    path = write_form(tmp_path / "fixed.md", survey, settings=SETTINGS)
    run = FormSession(load_xlsform(path))
    assert run.instance_count("three") == 3 and run.instance_count("many") == 0
    assert run.answer("n", 5) == []
    assert run.instance_count("many") == REPEAT_LIMIT  # bounded, whatever the form says
    assert [p.question for p in run.answer("three[3].x", 12)] == ["three[3].x"]


def test_open_repeats_grow_and_shrink_and_later_instances_move_up():
    run = with_members()
    assert run.instance_count("visits") == 0
    for day in ("2026-12-01", "2026-12-02", "2026-12-03"):
        assert run.add_instance("visits") == []
        number = run.instance_count("visits")
        assert run.answer(f"visits[{number}].visit_day", day) == []
        assert run.answer(f"visits[{number}].minutes", 10 * number) == []
    assert run.remove_instance("visits[2]") == []
    visits = run.answers()["visits"]
    assert [(v["visit_day"], v["minutes"]) for v in visits] == [
        ("2026-12-01", 10), ("2026-12-03", 30)]
    assert run.raw("total_minutes") == "40"
    assert [p.code for p in run.remove_instance("visits[3]")] == ["no_instance"]
    assert [p.code for p in run.remove_instance("visits[1].minutes")] == ["unknown"]
    assert [p.code for p in run.add_instance("visits[1]")] == ["unknown"]
    assert [p.code for p in run.add_instance("nothing")] == ["unknown"]
    for _ in range(REPEAT_LIMIT - 2):
        assert run.add_instance("visits") == []
    assert [p.code for p in run.add_instance("visits")] == ["repeat_limit"]


# ---- the ODK functions over instances --------------------------------------------------------


def test_position_count_sum_max_and_indexed_repeat():
    run = with_members(("李桂英", 72), ("李明", 12), ("王芳", 45))
    # [docs] position(..): the instance's number, from 1
    assert [run.raw(f"members[{n}].member_no") for n in (1, 2, 3)] == ["1", "2", "3"]
    assert run.raw("members_n") == "3"  # count(${members})
    assert run.raw("age_total") == "129"  # sum(${age}) over every instance
    assert run.raw("oldest") == "72"  # max(${age})
    assert run.raw("first_name") == "李桂英"  # indexed-repeat(${name}, ${members}, 1)
    assert run.answer("members[1].name", "张秀兰") == []
    assert run.raw("first_name") == "张秀兰"
    # XPath's sum: an empty value is NaN, so the calculate is empty until every age is in
    assert run.answer("hh_size", 4) == []
    assert run.raw("age_total") == "" and run.raw("oldest") == ""
    assert run.raw("members_n") == "4"


def test_indexed_repeat_in_a_nested_repeat_and_out_of_range():
    run = with_members()
    assert run.raw("second_visit_first_service") == ""  # no second visit
    for number in (1, 2):
        assert run.add_instance("visits") == []
        assert run.add_instance(f"visits[{number}].services") == []
    assert run.add_instance("visits[2].services") == []
    assert run.answer("visits[1].services[1].service", "meal") == []
    assert run.answer("visits[2].services[1].service", "clean") == []
    assert run.answer("visits[2].services[2].service", "meal") == []
    assert run.raw("second_visit_first_service") == "clean"
    assert (run.raw("visits[1].services_n"), run.raw("visits[2].services_n")) == ("1", "2")
    assert run.remove_instance("visits[1]") == []
    assert run.raw("second_visit_first_service") == ""
    assert run.raw("visits[1].services_n") == "2"


# ---- relevance, constraints, required, labels inside instances -----------------------------------


def test_relevance_is_per_instance_and_clears_that_instance_only():
    run = with_members(("李桂英", 72), ("李明", 12))
    assert run.is_relevant("members[1].works") and not run.is_relevant("members[2].works")
    assert run.is_relevant("members[1].chronic") and not run.is_relevant("members[2].chronic")
    assert [p.code for p in run.answer("members[2].works", "yes")] == ["not_relevant"]
    assert run.answer("members[1].works", "no") == []
    assert run.answer("members[1].chronic", "yes") == []
    assert run.answer("members[1].age", 30) == []  # under 40: chronic no longer asked
    member = run.answers()["members"][0]
    assert member["works"] == "no" and "chronic" not in member


def test_constraints_read_the_instance_and_questions_outside_it():
    run = with_members(("李桂英", 72))
    problems = run.answer("members[1].age", 130)
    assert [(p.question, p.message) for p in problems] == [
        ("members[1].age", "年龄在0到120之间")]
    assert run.value("members[1].age") == 72  # the refused answer changed nothing
    assert run.add_instance("visits") == []
    problems = run.answer("visits[1].minutes", 90)
    assert [(p.question, p.message) for p in problems] == [("visits[1].minutes",
                                                            "不能超过60分钟")]
    assert run.answer("visits[1].minutes", 50) == []
    assert run.answer("max_minutes", 40) == []  # the answer inside is now out of bounds
    assert ("visits[1].minutes", "constraint") in [(p.question, p.code)
                                                   for p in run.problems()]


def test_required_inside_instances_and_finish_goes_to_the_first_problem():
    run = with_members(("李桂英", 72), ("李明", 12))
    assert run.answer("members[1].works", "no") == []
    with pytest.raises(FormIncomplete) as raised:
        run.finish()
    assert [p.question for p in raised.value.problems] == ["members[1].chronic"]
    view = run.screen
    assert view is not None and view.instance == (0,)
    assert [q.address for q in view.questions] == ["members[1].chronic"]
    assert run.answer("chronic", "no") == []  # a plain name: the instance on screen
    submission = run.finish()
    assert submission.answers["members"][0]["chronic"] == "no"
    assert gate().check(record(submission.answers)).answers == submission.answers


def test_screens_walk_each_instance_in_order_with_its_labels():
    run = with_members(("李桂英", 72), ("李明", 12))
    assert run.add_instance("visits") == []
    seen = []
    run.go_to("hh_size")
    while not run.at_end:
        view = run.screen
        assert view is not None
        seen.append(tuple(q.address for q in view.questions))
        if view.questions and view.questions[0].address == "members[2].age":
            assert view.questions[0].label == "李明的年龄"
        run.position = run._next_relevant(run.position + 1)
    assert seen == [
        ("hh_size",), ("max_minutes",),
        ("members[1].name",), ("members[1].age",), ("members[1].works",),
        ("members[1].chronic",),
        ("members[2].name",), ("members[2].age",),  # 12: neither works nor chronic asked
        ("visits[1].visit_day",), ("visits[1].minutes",),  # no services yet: none to walk
        ("done",),
    ]
    assert ("members[2].works",) not in seen
    assert run.back() and run.screen is not None
    for place, first in [("members", "members[1].name"), ("members[2]", "members[2].name"),
                         ("visits", "visits[1].visit_day")]:
        run.go_to(place)
        assert run.screen.questions[0].address == first
    for place in ("members[3]", "visits[1].services", "nothing"):
        with pytest.raises(KeyError):
            run.go_to(place)


def test_next_and_back_stop_on_a_problem_in_an_instance():
    run = with_members(("李桂英", 72))
    run.go_to("members[1].name")
    assert run.next() == [] and run.screen.questions[0].address == "members[1].age"
    assert run.answer("age", 200)  # refused; the answer stays 72
    assert run.next() == [] and run.screen.questions[0].address == "members[1].works"
    assert [p.question for p in run.next()] == ["members[1].works"]  # required
    assert run.back() and run.screen.questions[0].address == "members[1].age"


# ---- drafts ----------------------------------------------------------------------------------


def test_a_draft_keeps_every_instance_and_the_screen():
    run = with_members(("李桂英", 72), ("李明", 12))
    assert run.add_instance("visits") == []
    assert run.add_instance("visits") == []  # an empty instance is kept too
    assert run.add_instance("visits[1].services") == []
    assert run.answer("visits[1].services[1].service", "other") == []
    assert run.answer("visits[1].services[1].service_note", "修水管") == []
    run.go_to("members[2].age")
    snapshot = copy.deepcopy(run.snapshot())
    assert snapshot["screen"] == "members[2].age"
    assert snapshot["answers"]["visits#"] == "2"
    restored = FormSession.restore(household(), snapshot)
    assert restored.answers() == run.answers()
    assert restored.instance_count("visits") == 2
    assert restored.screen.questions[0].address == "members[2].age"
    assert restored.snapshot()["answers"] == snapshot["answers"]


def test_a_damaged_draft_restores_what_it_can():
    snapshot = session().snapshot()
    snapshot["answers"] = {"hh_size": "2", "members[1].name": "李", "members[9].age": "3",
                           "visits#": "100000", "visits[1].nothing": "x", "zz[1].a": "1",
                           "members[1]..age": "1", "visits[2].minutes": "5", "members#": "x"}
    restored = FormSession.restore(household(), snapshot)
    assert restored.instance_count("members") == 2  # repeat_count decides, not the draft
    assert restored.instance_count("visits") == REPEAT_LIMIT
    assert restored.raw("members[1].name") == "李"
    assert restored.raw("visits[2].minutes") == "5"


# ---- the record gate ---------------------------------------------------------------------------


def test_the_gate_takes_repeats_as_lists_of_objects():
    checked = gate().check(record(copy.deepcopy(GOOD)))
    assert checked.answers == GOOD
    follows_the_rules_of_the_form(GOOD)  # the hand-written rules agree with the engine


@pytest.mark.parametrize(("change", "words"), [
    (lambda a: a.__setitem__("members", {"name": "李"}), "members': This repeat must be a list"),
    (lambda a: a["members"].__setitem__(1, "李明"), "members[2]': This entry must be"),
    (lambda a: a["members"][1].__setitem__("height", 150), "members[2].height': There is no"),
    # (calculates are checked before rules: those that read the value go with it)
    (lambda a: (a["members"][1].__setitem__("age", 130), a.pop("age_total"), a.pop("oldest")),
     "members[2].age': 年龄在0到120之间"),
    (lambda a: a["members"][1].__setitem__("age", "12"), "members[2].age'"),
    (lambda a: a["members"][1].__setitem__("works", "yes"), "members[2].works': This question"
                                                             " does not apply"),
    (lambda a: a["members"][0].__setitem__("member_no", "7"), "members[1].member_no': This "
                                                              "calculated value"),
    (lambda a: a["members"].pop(), "members': The number of entries differs"),
    (lambda a: a["visits"][0]["services"][1].pop("service_note"),
     "visits[1].services[2].service_note': This question needs an answer"),
    (lambda a: (a["visits"][1]["services"][0].__setitem__("service", "fly"),
                a.pop("second_visit_first_service")),
     "visits[2].services[1].service': That is not one of the choices"),
    (lambda a: a.__setitem__("visits", [{}] * (REPEAT_LIMIT + 1)), "visits': This repeat has "
                                                                     "too many entries"),
    (lambda a: a["visits"][0].__setitem__("services", [[]]), "visits[1].services[1]': This "
                                                              "entry must be"),
    (lambda a: a["visits"][0].__setitem__("name", "李"), "visits[1].name': There is no"),
    (lambda a: a.__setitem__("name", "李"), "answer 'name': There is no"),
    (lambda a: a.__setitem__("total_minutes", "80"), "total_minutes': This calculated"),
])
def test_the_gate_refuses_bad_repeat_data_by_its_place(change, words):
    answers = copy.deepcopy(GOOD)
    change(answers)
    with pytest.raises(RecordRefused) as raised:
        gate().check(record(answers))
    assert words in str(raised.value)


def test_the_gate_passes_the_next_record_after_a_refused_one():
    checker = gate()
    bad = copy.deepcopy(GOOD)
    bad["visits"] = [{"visit_day": "2026-12-01", "minutes": 30}] * 3
    with pytest.raises(RecordRefused):
        checker.check(record(bad))
    assert checker.check(record(copy.deepcopy(GOOD))).answers == GOOD


# ---- any order of adding, removing, answering and going back ----------------------------------

REPAIRS = {"hh_size": 2, "max_minutes": 60, "name": "张三", "age": 30, "works": "no",
           "chronic": "no", "visit_day": "2026-12-01", "minutes": 1, "service": "meal",
           "service_note": "修水管"}
STEP = st.one_of(
    st.tuples(st.just("answer"), st.integers(0, 999), st.data()),
    # adding twice as likely as the rest: instances are what this test is about
    st.tuples(st.just("add"), st.integers(0, 999), st.none()),
    st.tuples(st.just("add"), st.integers(0, 999), st.none()),
    st.tuples(st.just("remove"), st.integers(0, 999), st.none()),
    st.tuples(st.sampled_from(["next", "back", "restore", "finish"]), st.none(), st.none()),
)


@settings(max_examples=60 * SCALE, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(STEP, min_size=5, max_size=40))
def test_any_order_of_steps_leaves_a_submission_that_passes_the_gate(steps):
    form = household()
    run = FormSession(form, "zh")
    for kind, number, data in steps:
        if kind == "answer":
            places = sorted(address(form, *slot) for slot in run.slots
                            if form.by_name[slot[0]].answerable)
            place = places[number % len(places)]
            item = form.by_name[parse_address(form, place)[0]]
            value = data.draw(values_for(form, item))
            before = run.snapshot()["answers"]
            if run.answer(place, value):
                assert run.snapshot()["answers"] == before  # refused: nothing changed
        elif kind == "add":
            places = ["visits", *(f"visits[{n}].services"
                                  for n in range(1, run.instance_count("visits") + 1))]
            run.add_instance(places[number % len(places)])
        elif kind == "remove":
            places = sorted(address(form, *slot) for slot in run.slots
                            if slot[0] in ("visits", "services"))
            if places:
                assert run.remove_instance(places[number % len(places)]) == []
        elif kind == "next":
            run.next()
        elif kind == "back":
            run.back()
        elif kind == "restore":
            answers = run.answers()
            run = FormSession.restore(form, copy.deepcopy(run.snapshot()))
            assert run.answers() == answers
        else:
            with contextlib.suppress(FormIncomplete):
                run.finish()
        # no answer to a question that is not relevant; never more than the limit
        for slot, element in run.slots.items():
            if element.text and form.by_name[slot[0]].answerable:
                assert run.slot_relevance.get(slot, True), slot
        assert run.instance_count("visits") <= REPEAT_LIMIT
    for _ in range(200):
        try:
            submission = run.finish()
            break
        except FormIncomplete as incomplete:
            problem = incomplete.problems[0]
            note(f"repair {problem}")
            name = parse_address(form, problem.question)[0]
            assert run.answer(problem.question, REPAIRS[name]) == [], problem
    else:
        pytest.fail("the form could not be finished")
    members = submission.answers.get("members", [])
    assert len(members) == submission.answers["hh_size"]
    visits = submission.answers.get("visits", [])
    event(f"members: {min(len(members), 3)}+, visits: {min(len(visits), 3)}+")
    event(f"services in a visit: {max((len(v.get('services', [])) for v in visits), default=0)}")
    checked = gate().check(record(submission.answers))
    assert checked.answers == submission.answers
    follows_the_rules_of_the_form(submission.answers)


def follows_the_rules_of_the_form(answers: dict[str, Any]) -> None:
    """The test form's rules, written out by hand (not through the engine)."""
    members, visits = answers.get("members", []), answers.get("visits", [])
    assert 0 <= answers["hh_size"] <= 6 and len(members) == answers["hh_size"]
    for number, member in enumerate(members, start=1):
        assert member["name"] and 0 <= member["age"] <= 120
        assert ("works" in member) == (member["age"] >= 16)
        assert ("chronic" in member) == (member["age"] >= 40)
        assert member["member_no"] == str(number)
    assert answers["members_n"] == str(len(members))
    ages = [member["age"] for member in members]
    assert answers.get("age_total") == (str(sum(ages)) if ages else "0")
    assert answers.get("oldest") == (str(max(ages)) if ages else None)
    assert answers.get("first_name") == (members[0]["name"] if members else None)
    for visit in visits:
        assert 0 < visit["minutes"] <= answers["max_minutes"] and visit["visit_day"]
        services = visit.get("services", [])
        assert visit["services_n"] == str(len(services))
        for service in services:
            assert ("service_note" in service) == (service["service"] == "other")
    assert answers.get("total_minutes") == str(sum(v["minutes"] for v in visits))
    second = visits[1].get("services", []) if len(visits) > 1 else []
    assert answers.get("second_visit_first_service") == (
        second[0]["service"] if second else None)


def test_a_session_without_repeats_is_the_plain_one(basics_form):
    assert type(FormSession(basics_form)) is FormSession
    assert not basics_form.repeats


def test_dates_inside_repeats_compare_as_dates(tmp_path):
    survey = [["type", "name", "label", "constraint"],
              ["date", "since", "Since", ""],
              ["begin_repeat", "visits", "Visits", ""],
              ["date", "day", "Day", ". >= ${since}"],
              ["end_repeat", "", "", ""]]
    path = write_form(tmp_path / "dates.md", survey, settings=SETTINGS)
    run = FormSession(load_xlsform(path))
    assert run.answer("since", dt.date(2026, 12, 1)) == []
    assert run.add_instance("visits") == []
    assert [p.code for p in run.answer("visits[1].day", "2026-11-30")] == ["constraint"]
    assert run.answer("visits[1].day", "2026-12-02") == []


def test_a_draft_saved_far_into_the_instances_comes_back_there():
    run = with_members(("李桂英", 72), ("张伟", 50), ("王芳", 45))
    assert run.add_instance("visits") == []
    run.go_to("visits[1].minutes")
    assert run.position >= len(household().screens)  # further than the form's own screens
    restored = FormSession.restore(household(), run.snapshot())
    assert restored.screen.questions[0].address == "visits[1].minutes"
    run.position = run.end_position
    assert FormSession.restore(household(), run.snapshot()).at_end


def small_form(tmp_path: Path, survey: list[list[str]]) -> Form:
    return load_xlsform(write_form(tmp_path / "small.md", survey, settings=SETTINGS))


def test_a_nested_repeat_count_and_relevance_read_the_enclosing_instance(tmp_path):
    form = small_form(tmp_path, [
        ["type", "name", "label", "repeat_count", "relevant", "constraint"],
        ["begin_repeat", "members", "Members", "", "", ""],
        ["integer", "kid_count", "Kids?", "", "", ""],
        ["date", "born", "Born", "", "", ""],
        ["begin_repeat", "kids", "Kids", "${kid_count}", "", ""],
        ["date", "kid_born", "Kid born", "", "", ". > ${born}"],
        ["end_repeat", "", "", "", "", ""],
        ["begin_repeat", "jobs", "Jobs", "", "${kid_count} = 0", ""],
        ["text", "job", "Job", "", "", ""],
        ["end_repeat", "", "", "", "", ""],
        ["end_repeat", "", "", "", "", ""]])
    run = FormSession(form)
    for _ in range(2):
        assert run.add_instance("members") == []
    assert run.answer("members[1].kid_count", 2) == []
    assert run.answer("members[2].kid_count", 0) == []
    assert (run.instance_count("members[1].kids"), run.instance_count("members[2].kids")) == (
        2, 0)
    # relevance written for an instance is tried on the new one: refused where kids are
    assert [p.code for p in run.add_instance("members[1].jobs")] == ["not_relevant"]
    assert run.instance_count("members[1].jobs") == 0
    assert run.add_instance("members[2].jobs") == []
    # a date compared with a date of the enclosing instance, as a date
    assert run.answer("members[1].born", "1960-05-01") == []
    assert [p.code for p in run.answer("members[1].kids[2].kid_born", "1959-01-01")] == [
        "constraint"]
    assert run.answer("members[1].kids[2].kid_born", "1988-01-01") == []


def test_a_repeat_inside_a_field_list_group_is_refused_with_its_row(tmp_path):
    survey = [["type", "name", "label", "appearance"],
              ["begin_group", "page", "Page", "field-list"],
              ["integer", "a", "A", ""],
              ["begin_repeat", "r", "R", ""],
              ["text", "t", "T", ""],
              ["end_repeat", "", "", ""],
              ["end_group", "", "", ""]]
    with pytest.raises(FormError) as raised:
        compile_xlsform(write_form(tmp_path / "page.md", survey, settings=SETTINGS))
    assert (raised.value.row, raised.value.column) == (4, "type")
    assert "field-list" in str(raised.value)


def test_the_test_form_still_converts_to_an_xform_for_odk_tools():
    from pyxform.xls2xform import convert

    xform = convert(xlsform=str(FORMS / "repeats.md")).xform
    assert '<repeat nodeset="/data/members" jr:count=" /data/hh_size ">' in xform
    assert '<repeat nodeset="/data/visits/services">' in xform
    # pyxform reads ${age} from inside the repeat as we do: the same member's age
    assert 'nodeset="/data/members/works" type="string" relevant=" ../age  &gt;= 16"' in xform


def test_all_repeats_together_are_bounded_in_a_record_and_a_session():
    answers = copy.deepcopy(GOOD)
    answers["visits"] = [{"visit_day": "2026-12-01", "minutes": 1, "services_n": "100",
                          "services": [{"service": "meal"}] * 100}] * 100
    with pytest.raises(RecordRefused) as raised:
        gate().check(record(answers))
    # 2 members and 100 visits, then 100 services a visit: the ninth visit's go past 1000
    assert str(raised.value) == (
        "answer 'visits[9].services': All repeats together hold at most 1000 entries.")
    snapshot = with_members(("李桂英", 72)).snapshot()
    snapshot["answers"].update({"visits#": "100", **{f"visits[{n}].services#": "100"
                                                     for n in range(1, 101)}})
    run = FormSession.restore(household(), snapshot)
    assert run.total_instances() == REPEAT_TOTAL_LIMIT  # a draft cannot hold more either
    assert run.instance_count("visits") == 100 and run.instance_count("visits[9].services") == 99
    assert run.instance_count("visits[10].services") == 0
    assert [p.code for p in run.add_instance("visits[10].services")] == ["repeat_total"]


def test_other_aggregates_over_instances(tmp_path):
    form = small_form(tmp_path, [
        ["type", "name", "label", "calculation"],
        ["begin_repeat", "people", "People", ""],
        ["text", "name", "Name", ""],
        ["text", "nick", "Nickname", ""],
        ["decimal", "income", "Income", ""],
        ["end_repeat", "", "", ""],
        ["calculate", "names", "", "join('、', ${name})"],
        ["calculate", "nicks", "", "count-non-empty(${nick})"],
        ["calculate", "lowest", "", "min(${income})"],
        ["calculate", "mean", "", "round(sum(${income}) div count(${people}), 2)"],
        ["calculate", "last", "", "indexed-repeat(${name}, ${people}, count(${people}))"]])
    run = FormSession(form)
    for number, (name, nick, income) in enumerate(
            [("李桂英", "", 1200.5), ("李明", "明明", 800), ("王芳", "芳", 3000)], start=1):
        assert run.add_instance("people") == []
        assert run.answer(f"people[{number}].name", name) == []
        assert run.answer(f"people[{number}].nick", nick) == []
        assert run.answer(f"people[{number}].income", income) == []
    # [docs] join(separator, node-set); count-non-empty; min over a node-set
    assert run.raw("names") == "李桂英、李明、王芳"
    assert run.raw("nicks") == "2"
    assert run.raw("lowest") == "800"
    assert run.raw("mean") == "1666.83"
    assert run.raw("last") == "王芳"


def test_defaults_and_choice_filters_inside_instances(tmp_path):
    path = write_form(tmp_path / "places.md", [
        ["type", "name", "label", "default", "choice_filter"],
        ["begin_repeat", "moves", "Moves", "", ""],
        ["select_one province", "prov", "Province", "sd", ""],
        ["select_one city", "city", "City", "", "province=${prov}"],
        ["integer", "years", "Years", "1", ""],
        ["end_repeat", "", "", "", ""]],
        choices=[["list_name", "name", "label", "province"],
                 ["province", "sd", "山东", ""], ["province", "js", "江苏", ""],
                 ["city", "jn", "济南", "sd"], ["city", "qd", "青岛", "sd"],
                 ["city", "nj", "南京", "js"]],
        settings=SETTINGS)
    run = FormSession(load_xlsform(path))
    for _ in range(2):
        assert run.add_instance("moves") == []
    # each new instance gets the defaults
    assert [run.raw(f"moves[{n}].prov") for n in (1, 2)] == ["sd", "sd"]
    assert [run.value(f"moves[{n}].years") for n in (1, 2)] == [1, 1]
    assert run.answer("moves[2].prov", "js") == []
    run.go_to("moves[2].city")
    assert [c.name for c in run.screen.questions[0].choices] == ["nj"]
    run.go_to("moves[1].city")
    assert [c.name for c in run.screen.questions[0].choices] == ["jn", "qd"]
    assert [p.code for p in run.answer("moves[2].city", "qd")] == ["choice"]
    assert run.answer("moves[1].city", "qd") == []
    assert run.answer("moves[1].prov", "js") == []  # the city no longer fits: cleared
    assert run.raw("moves[1].city") == ""
    assert run.answer("moves[2].city", "nj") == []

"""Interchange (issue 16, item 6): every bundled form, and every test form with repeat groups
or a register (an ``entities`` sheet), still converts with pyxform to an XForm that ODK
Central, ODK Collect and KoboToolbox take, and that XForm says what the kiosk reads from the
same workbook: the same repeats (``<repeat nodeset=…>`` with a ``jr:template`` instance, or
``jr:count`` for a repeat_count), the same register declaration (``<entity dataset=…>`` in
``meta``, creating or updating), the same properties saved (``entities:saveto`` binds) and the
register read as the secondary instance ``jr://file-csv/households.csv``.

The expectations are read from the kiosk's own compiled form, so a form that the kiosk and
pyxform read differently fails here. ODK Validate (Java, with JavaRosa) cannot run here: no
Java runtime is installed, and the tests do not download one. What it would add is JavaRosa
parsing every expression; the kiosk evaluates the same expressions with its own XPath engine.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from surveys.bundled import bundled_paths
from surveys.form import Form
from surveys.xlsform import compile_xlsform

FORMS = Path(__file__).parent / "forms"
XF = "http://www.w3.org/2002/xforms"
JR = "http://openrosa.org/javarosa"
ENTITIES = "http://www.opendatakit.org/xforms/entities"
NS = {"xf": XF, "h": "http://www.w3.org/1999/xhtml", "jr": JR, "entities": ENTITIES}


def uses_repeats_or_a_register(path: Path) -> bool:
    text = path.read_text(encoding="utf-8")
    return "begin_repeat" in text or "| entities |" in text


TEST_FORMS = sorted(path for path in FORMS.glob("*.md") if uses_repeats_or_a_register(path))
CASES = [*bundled_paths(), *TEST_FORMS]


def test_the_cases_cover_repeats_a_register_and_its_follow_ups():
    """The forms this file converts are the ones issue 16 is about (not an empty list)."""
    names = {path.stem for path in CASES}
    assert {"household", "repeats", "register", "followup"} <= names
    assert {"home_adaptation", "home_adaptation_followup", "lonely_elderly_visit"} <= names


def xform_of(path: Path) -> etree._Element:
    from pyxform.xls2xform import convert

    return etree.fromstring(convert(xlsform=str(path)).xform.encode())


def kiosk_form(path: Path) -> Form:
    return Form(compile_xlsform(path))


@pytest.mark.parametrize("path", CASES, ids=lambda path: path.stem)
def test_the_form_converts_to_an_xform_saying_what_the_kiosk_reads(path: Path):
    form = kiosk_form(path)
    xform = xform_of(path)
    model = xform.find("h:head/xf:model", NS)
    (data,) = model.find("xf:instance", NS)  # the primary instance
    assert data.get("id") == form.survey_id and data.get("version") == form.version

    # Repeats: one <repeat> per repeat of the kiosk's form, at the same path; an open-ended
    # one has its jr:template in the instance, one with repeat_count its jr:count.
    body_repeats = {repeat.get("nodeset"): repeat for repeat in xform.iter(f"{{{XF}}}repeat")}
    assert set(body_repeats) == {item.path for item in form.repeats.values()}
    for item in form.repeats.values():
        counted = "repeat_count" in item.expressions
        assert (body_repeats[item.path].get(f"{{{JR}}}count") is not None) == counted, item.name
        steps = item.path.removeprefix("/data/").split("/")
        templates = data.xpath("/".join(["."] + [f"xf:{step}" for step in steps])
                               + "[@jr:template]", namespaces=NS)
        assert len(templates) == 1, item.name

    # The register: the entity declaration in meta, creating or updating as the kiosk does.
    entities = data.findall("xf:meta/xf:entity", NS)
    if form.entity is None:
        assert entities == []
    else:
        (entity,) = entities
        assert entity.get("dataset") == form.entity.dataset
        assert (entity.get("create") == "1") == form.entity.create
        assert (entity.get("update") == "1") == form.entity.update
        if form.entity.update:
            assert model.find("xf:bind[@nodeset='/data/meta/entity/@baseVersion']",
                              NS) is not None
    saved = {bind.get("nodeset"): bind.get(f"{{{ENTITIES}}}saveto")
             for bind in model.iterfind("xf:bind", NS) if bind.get(f"{{{ENTITIES}}}saveto")}
    assert saved == {form.by_name[name].path: prop for prop, name in form.saved_to.items()}

    # A register picked from: the csv instance ODK Central attaches, and the item set on it.
    picked = {item.entity_list for item in form.items if item.entity_list}
    sources = {instance.get("id"): instance.get("src")
               for instance in model.iterfind("xf:instance", NS) if instance.get("src")}
    assert sources == {name: f"jr://file-csv/{name}.csv" for name in picked}
    itemsets = {itemset.get("nodeset") for itemset in xform.iter(f"{{{XF}}}itemset")}
    for name in picked:
        assert f"instance('{name}')/root/item" in itemsets


def test_the_household_forms_carry_the_register_pyxform_writes():
    """The three visits of one household, spelled out: the assessment creates the household
    with its plan; the return visit and the visit to an older person living alone pick it
    from households.csv, read its plan by its id and update it."""
    bundled = {path.stem: path for path in bundled_paths()}
    assessment = xform_of(bundled["home_adaptation"])
    entity = assessment.find(".//xf:meta/xf:entity", NS)
    assert (entity.get("dataset"), entity.get("create")) == ("households", "1")
    label = assessment.find(".//xf:bind[@nodeset='/data/meta/entity/label']", NS)
    assert label.get("calculate") == (
        "concat( /data/resident/resident_name , ' ',  /data/resident/address )")
    for path in (bundled["home_adaptation_followup"], bundled["lonely_elderly_visit"]):
        xform = xform_of(path)
        entity = xform.find(".//xf:meta/xf:entity", NS)
        assert (entity.get("dataset"), entity.get("update")) == ("households", "1")
        entity_id = xform.find(".//xf:bind[@nodeset='/data/meta/entity/@id']", NS)
        assert entity_id.get("calculate").strip() == "/data/household"
        head = xform.find(".//xf:bind[@nodeset='/data/head_name']", NS)
        assert head.get("calculate") == (
            "instance('households')/root/item[name= /data/household ]/head_name")
    followup = xform_of(bundled["home_adaptation_followup"])
    installed = followup.find(".//xf:select[@ref='/data/installed']/xf:itemset", NS)
    assert installed.get("nodeset") == (
        "instance('adaptation_items')/root/item[selected( /data/planned , name) "
        "or name = 'none_yet']")

"""Registers of households travel through the central PostgreSQL (issue 16, item 3): a
household registered at the hall reaches the other kiosks of its street at their next sync
(and not those of another street); two kiosks updating it offline converge on the later
visit, with the conflict flagged, on both kiosks and in the central database alike; the
reader role cannot read the names in it. A real PostgreSQL (tests/pg_server.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiosk.central.bundles import export_bundle, import_into_kiosk, read_bundle
from kiosk.central.sync import KioskIdentity, sync
from store import KioskStore, open_store
from store.central.registers import central_entities
from store.central.schema import init
from store.central.trust import roles_of
from surveys.session import FormSession
from surveys.xlsform import compile_xlsform
from tests.enrolled import enrolled, offline_enrolment

psycopg = pytest.importorskip("psycopg")

FORMS = Path(__file__).parent / "forms"
HALL = KioskIdentity("hall-1", "九龙街道", "新华社区", "九龙街道社工站")
VILLAGE = KioskIdentity("point-2", "九龙街道", "东风社区", "东风社区服务点")
ELSEWHERE = KioskIdentity("town-3", "白石镇", "龙潭村", "白石镇龙潭村服务点")


class Kiosk:
    def __init__(self, tmp_path: Path, identity: KioskIdentity, central: str) -> None:
        self.identity = identity
        self.store: KioskStore = open_store(tmp_path / f"{identity.kiosk_id}.db")
        for name in ("register.md", "followup.md"):
            self.store.install_form(compile_xlsform(FORMS / name))
        self.enrolment = enrolled(central, identity)

    def save(self, run: FormSession, completed: str) -> dict:
        submission = run.finish()
        submission.completed = completed
        submission.site = self.identity.site
        submission.kiosk = self.identity.kiosk_id
        self.store.save_submission(self.store.record_gate().check_submission(submission))
        return submission.to_json()

    def register(self, head: str, address: str, phone: str, plan: str) -> str:
        run = FormSession(self.store.load_form("household_register"), entities=self.store)
        for name, value in (("head_name", head), ("address", address), ("phone", phone),
                            ("members_n", 2), ("plan", plan)):
            assert run.answer(name, value) == [], name
        return str(self.save(run, "2026-11-02T10:00:00+08:00")["entity"]["id"])

    def visit(self, search: str, installed: str, plan: str, completed: str) -> dict:
        run = FormSession(self.store.load_form("household_followup"), entities=self.store)
        (found,) = run.search_register(run.form.by_name["household"], search)
        assert run.answer("household", found.entity_id) == []
        assert run.answer("installed", installed) == []
        if plan:
            assert run.answer("plan", plan) == []
        return self.save(run, completed)

    def sync(self):
        return sync(self.store, self.enrolment, batch=50)

    def entry(self, household: str) -> dict:
        entity = self.store.entity("households", household)
        assert entity is not None
        return {"label": entity.label, "version": entity.version,
                "properties": entity.properties, "conflicts": entity.conflicts,
                "changes": entity.changes}


@pytest.fixture
def street(tmp_path: Path, central: str) -> tuple[Kiosk, Kiosk, Kiosk, str]:
    init(central)
    kiosks = tuple(Kiosk(tmp_path, identity, central)
                   for identity in (HALL, VILLAGE, ELSEWHERE))
    yield (*kiosks, central)
    for kiosk in kiosks:
        kiosk.store.close()


def test_a_household_registered_at_the_hall_is_visited_from_the_village_point(street):
    hall, village, elsewhere, _central = street
    household = hall.register("王秀英", "新华小区 3 栋 201", "13912345678", "卫生间扶手")
    assert hall.sync().summary().count("register") == 0  # nothing new to receive yet
    report = village.sync()
    assert report.register_received == 1
    assert "households register: 1 changes received" in report.summary()
    assert elsewhere.sync().register_received == 0  # another street's kiosk gets none
    assert elsewhere.store.entity("households", household) is None
    # picked by the last digits of the phone, its plan shown, updated at the village point
    record = village.visit("5678", "no", "扶手、护栏", "2026-11-20T10:00:00+08:00")
    assert record["entity"]["base_version"] == 1
    village.sync()
    assert hall.sync().register_received == 1
    assert hall.entry(household) == village.entry(household)
    assert hall.entry(household)["properties"]["plan"] == "扶手、护栏"
    assert hall.entry(household)["version"] == 2 and hall.entry(household)["conflicts"] == []
    # a second sync brings nothing twice
    assert hall.sync().register_received == 0 and village.sync().register_received == 0


def test_two_offline_updates_converge_on_the_later_and_the_conflict_is_flagged(street):
    hall, village, _elsewhere, central = street
    household = hall.register("赵敏", "东风一村 5 栋", "13700002222", "门口坡道")
    hall.sync()
    village.sync()
    # both visit offline, each from version 1; the village visit is the later one
    hall.visit("赵敏", "no", "门口坡道、扶手", "2026-11-20T09:00:00+08:00")
    village.visit("东风 5 栋", "yes", "", "2026-11-20T15:30:00+08:00")
    assert hall.entry(household)["version"] == village.entry(household)["version"] == 2
    village.sync()  # the later visit reaches the central database first
    hall.sync()
    village.sync()
    expected = hall.entry(household)
    assert village.entry(household) == expected
    assert expected["version"] == 3
    # the later visit wins where it said something; the plan it left blank stays the hall's
    assert expected["properties"]["state"] == "done"
    assert expected["properties"]["plan"] == "门口坡道、扶手"
    (conflict,) = expected["conflicts"]
    assert conflict["base_version"] == 1 and conflict["applied_to"] == 2
    with psycopg.connect(central) as connection:
        (at_central,) = central_entities(connection, "households")
    assert {"label": at_central.label, "version": at_central.version,
            "properties": at_central.properties, "conflicts": at_central.conflicts,
            "changes": at_central.changes} == expected


def test_the_reader_role_cannot_read_the_names_in_the_register(street):
    hall, _village, _elsewhere, central = street
    hall.register("王秀英", "新华小区 3 栋 201", "13912345678", "卫生间扶手")
    hall.sync()
    with psycopg.connect(central) as connection:
        roles = roles_of(connection)
        readable = dict(connection.execute(
            "SELECT attname, has_column_privilege(%s, 'entity_changes', attname, 'SELECT')"
            " FROM pg_attribute WHERE attrelid = 'entity_changes'::regclass AND attnum > 0"
            " AND NOT attisdropped", (roles.reader,)).fetchall())
        (stored,) = connection.execute("SELECT entity FROM submissions").fetchone()
        (properties, private) = connection.execute(
            "SELECT properties, pii_properties FROM entity_changes").fetchone()
    assert readable["label"] is False and readable["pii_properties"] is False
    assert readable["properties"] is True and readable["entity_id"] is True
    # the submission keeps the block without the label; pii properties are apart
    assert set(stored) == {"dataset", "id", "action"}
    assert "head_name" in private and "phone" in private and "head_name" not in properties
    assert properties["plan"] == "卫生间扶手"


def test_a_bundle_carries_the_register_and_an_unknown_household_is_refused(street, tmp_path):
    hall, village, _elsewhere, _central = street
    household = hall.register("王秀英", "新华小区 3 栋 201", "13912345678", "卫生间扶手")
    offline = offline_enrolment(HALL, tmp_path / "hall.toml")
    path = tmp_path / "hall.bundle"
    export_bundle(hall.store, HALL, path, signer=offline.signer, everything=True)
    report = import_into_kiosk(village.store, read_bundle(path))
    assert report.refused == []
    assert village.entry(household) == hall.entry(household)
    # a follow-up of a household the receiving kiosk never got is refused by its line
    other = open_store(tmp_path / "other.db")
    for name in ("register.md", "followup.md"):
        other.install_form(compile_xlsform(FORMS / name))
    stranger = Kiosk.register(_Bare(other, ELSEWHERE), "李四", "龙潭村 8 号", "13600003333",
                              "")
    run = FormSession(other.load_form("household_followup"), entities=other)
    run.answer("household", stranger)
    run.answer("installed", "yes")
    submission = run.finish()
    submission.kiosk = ELSEWHERE.kiosk_id
    other.save_submission(other.record_gate().check_submission(submission))
    other.conn.execute("DELETE FROM submissions WHERE json_extract(entity, '$.action')"
                       " = 'create'")  # only the follow-up travels
    away = offline_enrolment(ELSEWHERE, tmp_path / "town.toml")
    export_bundle(other, ELSEWHERE, tmp_path / "town.bundle", signer=away.signer,
                  everything=True)
    other.close()
    report = import_into_kiosk(village.store, read_bundle(tmp_path / "town.bundle"))
    (refused,) = report.refused
    assert "名单“households”里没有" in refused[1] and stranger in refused[1]
    assert json.loads(json.dumps(report.new))["submissions"] == 0


class _Bare:
    """A kiosk database without a central database behind it."""

    def __init__(self, store: KioskStore, identity: KioskIdentity) -> None:
        self.store = store
        self.identity = identity

    save = Kiosk.save


def test_a_personal_answer_inside_a_repeat_is_kept_from_the_reader(street, tmp_path,
                                                                   monkeypatch):
    from tests.formbuilder import write_form

    hall, _village, _elsewhere, central = street
    path = write_form(tmp_path / "members.xlsx", [
        ["type", "name", "label", "pii", "required"],
        ["text", "address", "住址", "", "yes"],
        ["begin_repeat", "members", "家庭成员", "", ""],
        ["text", "name", "姓名", "yes", "yes"],
        ["integer", "age", "年龄", "", "yes"],
        ["end_repeat", "", "", "", ""]])
    hall.store.install_form(compile_xlsform(path))
    run = FormSession(hall.store.load_form("probe"))
    run.answer("address", "新华小区 3 栋")
    for number, (name, age) in enumerate((("王秀英", 78), ("王小明", 9)), start=1):
        assert run.add_instance("members") == []
        assert run.answer(f"members[{number}].name", name) == []
        assert run.answer(f"members[{number}].age", age) == []
    hall.save(run, "2026-11-03T10:00:00+08:00")
    hall.sync()
    with psycopg.connect(central) as connection:
        roles = roles_of(connection)
        connection.execute(f'SET ROLE "{roles.reader}"')
        (answers,) = connection.execute(
            "SELECT answers FROM submissions WHERE survey_id = 'probe'").fetchone()
        connection.execute("RESET ROLE")
        (personal,) = connection.execute(
            "SELECT pii_answers FROM submissions WHERE survey_id = 'probe'").fetchone()
    assert answers == {"address": "新华小区 3 栋", "members": [{"age": 78}, {"age": 9}]}
    assert "王秀英" not in json.dumps(answers, ensure_ascii=False)
    assert personal == {"members": [{"name": "王秀英", "age": 78}, {"name": "王小明", "age": 9}]}


def test_the_upgrade_moves_personal_answers_inside_repeats_apart(postgres, monkeypatch):
    import uuid

    import store.central.schema as central_module

    dsn = postgres.create_database(f"old_{uuid.uuid4().hex[:12]}")
    monkeypatch.setattr(central_module, "CENTRAL_SCHEMA_VERSION", 3)
    init(dsn)
    monkeypatch.undo()
    compiled = compile_xlsform(FORMS / "register.md")
    compiled["items"].append({"name": "members", "kind": "repeat", "path": "/data/members"})
    compiled["items"].append({"name": "name", "kind": "text", "path": "/data/members/name",
                              "parent": "members", "pii": True})
    with psycopg.connect(dsn) as connection:
        # what an older sync left: every answer where the reader reads
        connection.execute(
            "INSERT INTO forms (survey_id, version, compiled, origin) VALUES"
            " ('household_register', '1', %s, 'hall-1')", (json.dumps(compiled),))
        connection.execute(
            "INSERT INTO submissions (instance_id, survey_id, version, answers, origin)"
            " VALUES ('a', 'household_register', '1', %s, 'hall-1'),"
            " ('b', 'household_register', '1', '{\"plan\": \"扶手\"}', 'hall-1')",
            (json.dumps({"plan": "扶手", "head_name": "王秀英",
                         "members": [{"name": "王秀英", "age": 78}]}),))
    assert init(dsn).before == 3
    found = dict(query_all(dsn, "SELECT instance_id, answers FROM submissions"))
    personal = dict(query_all(dsn, "SELECT instance_id, pii_answers FROM submissions"))
    assert found == {"a": {"plan": "扶手", "members": [{"age": 78}]}, "b": {"plan": "扶手"}}
    assert personal == {"a": {"head_name": "王秀英",
                              "members": [{"name": "王秀英", "age": 78}]}, "b": None}


def query_all(dsn: str, sql: str) -> list[tuple]:
    with psycopg.connect(dsn) as connection:
        return connection.execute(sql).fetchall()

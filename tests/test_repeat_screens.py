"""Repeat groups on the kiosk screens (issue 16, second slice): a household's members one
at a time, each screen saying which member it is; an open-ended repeat asks 再添加一位？
after the last member (and where the first would be), each member can be deleted after a
confirmation; a repeat_count-driven repeat shows exactly its number; the review lists every
member with 修改 to its place; keys alone walk it; a draft left in a member comes back there.

Driven through Textual's Pilot; assertions read the screen and the database, with the forms
tests/forms/household.md and children.md installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Input, ProgressBar

from kiosk.app import KioskApp
from kiosk.config import KioskConfig
from kiosk.screens.questionnaire import FormScreen, ReviewScreen
from kiosk.screens.thanks import ThanksScreen
from store import KioskStore, open_store
from surveys.form import REPEAT_LIMIT
from surveys.session import FormSession
from surveys.xlsform import compile_xlsform
from tests.formbuilder import write_form
from tests.test_app_flow import (
    SIZE,
    back,
    block,
    kiosk,
    next_screen,
    on_screen,
    screen_text,
    tap,
    tap_form,
    type_into,
)

FORMS = Path(__file__).parent / "forms"
CONFIG = KioskConfig(station_name="梁丰社区社工站", kiosk_id="hall-1",
                     surveys=("household", "children"))
CONFIRM = "删除后这一位的回答都会清除，确定吗？"


@pytest.fixture
def repeat_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[KioskStore]:
    """A kiosk database holding the two repeat forms (installed as if repeats were on)."""
    store = open_store(tmp_path / "kiosk.db")
    for name in ("household.md", "children.md", "repeats.md"):
        store.install_form(compile_xlsform(FORMS / name))
    yield store
    store.close()


def app_for(store: KioskStore, **options: object) -> KioskApp:
    options.setdefault("config", CONFIG)
    return kiosk(store, **options)


def buttons(app: KioskApp) -> dict[str, str]:
    """The buttons on screen by id, with their labels."""
    return {button.id: str(button.label) for button in app.screen.query(Button).results(Button)
            if button.id}


def progress(app: KioskApp) -> float:
    return app.screen.query_one("#progress", ProgressBar).progress


async def member(pilot: Pilot, number: int, name: str, age: str, relation: str,
                 shares: list[float]) -> None:
    """Fill one member's three screens, checking each says which member it is."""
    app: KioskApp = pilot.app  # type: ignore[assignment]
    for question, answer in (("name", name), ("age", age)):
        assert on_screen(app) == [question]
        assert f"第 {number} 位家庭成员" in screen_text(app)
        await type_into(pilot, question, answer)
        await next_screen(pilot)
        shares.append(progress(app))
    assert on_screen(app) == ["relation"]
    assert f"第 {number} 位家庭成员" in screen_text(app)
    assert f"{name}是户主的什么人" in screen_text(app)
    await pilot.press(relation)
    await pilot.pause()
    await next_screen(pilot)
    shares.append(progress(app))


def review_lines(app: KioskApp) -> list[str]:
    """What the review lists, top to bottom, scrolled into view or not."""
    return [str(found.content) for found in app.screen.query(
        "#review .review-instance, #review .review-label, #review .review-answer")]


def stored_answers(store: KioskStore, survey: str) -> list[dict[str, object]]:
    return [record["answers"] for record in store.iter_submissions(survey)]


async def test_a_household_of_three_one_deleted_changed_on_review_and_stored(
        repeat_store: KioskStore):
    store = repeat_store
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "household")
        await type_into(pilot, "address", "梁丰花园3栋")
        await next_screen(pilot)
        shares = [progress(app)]

        # No member yet: asked where the first would begin (as ODK Collect does).
        text = screen_text(app)
        assert "再添加一位？" in text and "还没有填家庭成员。" in text
        assert on_screen(app) == []
        assert buttons(app)["add-instance"] == "再添加一位"
        assert buttons(app)["no-more"] == "不用了，继续"
        await tap(pilot, "#add-instance")
        await member(pilot, 1, "王芳", "70", "1", shares)
        assert "已经填了 1 位家庭成员。" in screen_text(app)
        await tap(pilot, "#add-instance")
        await member(pilot, 2, "李明", "45", "3", shares)
        assert "已经填了 2 位家庭成员。" in screen_text(app)
        await tap(pilot, "#add-instance")
        await member(pilot, 3, "张丽", "40", "2", shares)
        assert "已经填了 3 位家庭成员。" in screen_text(app)
        await tap(pilot, "#no-more")
        assert on_screen(app) == ["helped"]
        # each member added more questions, yet the bar never went back going forward
        assert shares == sorted(shares), shares
        assert len(store.open_drafts()[0]["answers"]) >= 10

        # Back to the second member: 删除这一位, first refused at the confirmation.
        for _ in range(4):
            await back(pilot)
        assert on_screen(app) == ["relation"] and "第 2 位家庭成员" in screen_text(app)
        assert buttons(app)["remove-instance"] == "删除这一位"
        await tap(pilot, "#remove-instance")
        text = screen_text(app)
        assert CONFIRM in text and "删除第 2 位家庭成员？" in text
        assert on_screen(app) == []
        await tap(pilot, "#keep-instance")
        assert on_screen(app) == ["relation"] and "3  ● 子女" in screen_text(app)
        await tap(pilot, "#remove-instance")
        await tap(pilot, "#remove-confirm")
        # 张丽 moved up to be the second member; her first screen is shown
        assert on_screen(app) == ["name"] and "第 2 位家庭成员" in screen_text(app)
        assert block(app, "name").query_one(Input).value == "张丽"
        await next_screen(pilot)
        await next_screen(pilot)
        await next_screen(pilot)
        assert "已经填了 2 位家庭成员。" in screen_text(app)
        await tap(pilot, "#no-more")
        await pilot.press("2")
        await pilot.pause()
        await next_screen(pilot)

        # The review: the two members under their headings, with their answers.
        assert isinstance(app.screen, ReviewScreen)
        assert "第 1 位家庭成员" in screen_text(app)
        assert review_lines(app) == [
            "家庭住址", "梁丰花园3栋",
            "第 1 位家庭成员", "姓名", "王芳", "王芳的年龄", "70", "王芳是户主的什么人？", "本人",
            "第 2 位家庭成员", "姓名", "张丽", "张丽的年龄", "40", "张丽是户主的什么人？", "配偶",
            "需要上门服务吗？", "否"]
        changes = [button.name for button in app.screen.query("Button.change").results(Button)]
        assert changes == ["address", "members[1].name", "members[1].age",
                           "members[1].relation", "members[2].name", "members[2].age",
                           "members[2].relation", "helped"]
        change = next(button for button in app.screen.query("Button.change").results(Button)
                      if button.name == "members[2].age")
        await tap(pilot, change)
        assert on_screen(app) == ["age"] and "第 2 位家庭成员" in screen_text(app)
        assert "张丽的年龄" in screen_text(app)
        assert buttons(app)["next"] == "回到核对"
        await type_into(pilot, "age", "41")
        await next_screen(pilot)
        assert isinstance(app.screen, ReviewScreen)
        assert review_lines(app)[12:14] == ["张丽的年龄", "41"]
        await tap(pilot, "#submit")
        assert isinstance(app.screen, ThanksScreen)

    [answers] = stored_answers(store, "household")
    assert answers["members"] == [{"name": "王芳", "age": 70, "relation": "self"},
                                  {"name": "张丽", "age": 41, "relation": "spouse"}]
    assert answers["address"] == "梁丰花园3栋" and answers["helped"] == "no"
    assert store.open_drafts() == []


async def test_deleting_the_last_member_asks_again_and_none_at_all_is_said_on_review(
        repeat_store: KioskStore):
    store = repeat_store
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "household")
        await type_into(pilot, "address", "梁丰花园5栋")
        await next_screen(pilot)
        await tap(pilot, "#add-instance")
        await type_into(pilot, "name", "赵强")
        await tap(pilot, "#remove-instance")
        await tap(pilot, "#remove-confirm")
        # the only member gone: asked again, as at the start
        assert "再添加一位？" in screen_text(app) and "还没有填家庭成员。" in screen_text(app)
        await pilot.press("enter")  # Enter on the question is 不用了 (it never adds)
        await pilot.pause()
        assert on_screen(app) == ["helped"]
        await back(pilot)  # back from after the repeat: the address (no member to show)
        assert on_screen(app) == ["address"]
        await next_screen(pilot)
        await tap(pilot, "#no-more")
        await pilot.press("1")
        await pilot.pause()
        await next_screen(pilot)
        assert isinstance(app.screen, ReviewScreen)
        assert review_lines(app) == ["家庭住址", "梁丰花园5栋", "（没有填家庭成员）",
                                     "需要上门服务吗？", "是"]
        await tap(pilot, "#submit")
    [answers] = stored_answers(store, "household")
    assert answers.get("members", []) == []


async def test_a_repeat_count_shows_exactly_that_many_without_add_or_delete(
        repeat_store: KioskStore):
    store = repeat_store
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "children")
        await type_into(pilot, "kids_n", "2")
        await next_screen(pilot)
        seen = []
        while on_screen(app) != ["contact"]:
            text = screen_text(app)
            assert "删除这一位" not in text and "再添加一位" not in text, text
            assert "remove-instance" not in buttons(app)
            [question] = on_screen(app)
            number = 1 if "第 1 位孩子" in text else 2 if "第 2 位孩子" in text else 0
            seen.append((number, question))
            await type_into(pilot, question, "小明" if question == "kid_name" else "7")
            await next_screen(pilot)
        assert seen == [(1, "kid_name"), (1, "kid_age"), (2, "kid_name"), (2, "kid_age")]
        await next_screen(pilot)  # 完成 (no review on this form)
        assert isinstance(app.screen, ThanksScreen)
    [answers] = stored_answers(store, "children")
    assert answers["kids"] == [{"kid_name": "小明", "kid_age": 7}] * 2


async def test_keys_alone_walk_a_household_with_a_member(repeat_store: KioskStore):
    store = repeat_store
    app = app_for(store, config=CONFIG.with_changes(large_text=True))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("1")  # the first questionnaire on home
        await pilot.pause()
        assert on_screen(app) == ["address"] and app.screen.has_class("large-text")
        await pilot.press(*"梁丰花园", "enter")
        await pilot.pause()
        assert "再添加一位？" in screen_text(app)
        await pilot.press("down", "down")  # 上一题 → 再添加一位
        assert app.focused is not None and app.focused.id == "add-instance"
        await pilot.press("enter")
        await pilot.pause()
        assert on_screen(app) == ["name"] and "第 1 位家庭成员" in screen_text(app)
        await pilot.press(*"王芳", "enter")
        await pilot.pause()
        await pilot.press(*"70", "enter")
        await pilot.pause()
        assert on_screen(app) == ["relation"]
        await pilot.press("1", "enter")
        await pilot.pause()
        assert "已经填了 1 位家庭成员。" in screen_text(app)
        await pilot.press("enter")  # 不用了，继续
        await pilot.pause()
        assert on_screen(app) == ["helped"]
        await pilot.press("2", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ThanksScreen)
    [answers] = stored_answers(store, "household")
    assert answers["members"] == [{"name": "王芳", "age": 70, "relation": "self"}]


async def test_a_draft_left_in_the_second_member_resumes_there(repeat_store: KioskStore):
    store = repeat_store
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "household")
        await type_into(pilot, "address", "梁丰花园7栋")
        await next_screen(pilot)
        await tap(pilot, "#add-instance")
        await member(pilot, 1, "王芳", "70", "1", [])
        await tap(pilot, "#add-instance")
        await type_into(pilot, "name", "李明")
        await next_screen(pilot)
        assert on_screen(app) == ["age"] and "第 2 位家庭成员" in screen_text(app)
        instance_id = app.current_session.instance_id  # type: ignore[union-attr]
    # the app is gone (power cut, or kept for later); the next one continues the draft
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.resume_draft(instance_id)
        await pilot.pause()
        assert isinstance(app.screen, FormScreen)
        text = screen_text(app)
        assert on_screen(app) == ["age"]
        assert "第 2 位家庭成员" in text and "李明的年龄" in text
        assert "remove-instance" in buttons(app)
        await type_into(pilot, "age", "45")
        await next_screen(pilot)
        await pilot.press("3")
        await pilot.pause()
        await next_screen(pilot)
        assert "已经填了 2 位家庭成员。" in screen_text(app)
        await tap(pilot, "#no-more")
        await pilot.press("2")
        await pilot.pause()
        await next_screen(pilot)
        await tap(pilot, "#submit")
    [answers] = stored_answers(store, "household")
    assert [entry["name"] for entry in answers["members"]] == ["王芳", "李明"]


async def test_in_english_the_member_and_the_questions_about_it(repeat_store: KioskStore):
    app = app_for(repeat_store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap(pilot, "#lang-en")
        await tap_form(pilot, "household")
        await type_into(pilot, "address", "Liangfeng Garden 3")
        await next_screen(pilot)
        text = screen_text(app)
        assert "Add another?" in text and "Household member: none filled in yet." in text
        assert buttons(app)["add-instance"] == "Add another"
        assert buttons(app)["no-more"] == "No, continue"
        await tap(pilot, "#add-instance")
        assert "Household member 1" in screen_text(app)
        assert buttons(app)["remove-instance"] == "Delete this one"
        await tap(pilot, "#remove-instance")
        text = screen_text(app)
        assert "Delete Household member 1?" in text
        assert "Deleting clears all of this one's answers. Are you sure?" in text
        assert buttons(app) == {"keep-instance": "No, keep it", "remove-confirm": "Yes, delete"}


async def test_a_form_that_begins_with_a_repeat_asks_first(repeat_store: KioskStore,
                                                           tmp_path: Path):
    survey = [["type", "name", "label::中文 (zh)", "required"],
              ["begin_repeat", "people", "来访人", ""],
              ["text", "pname", "姓名", "yes"],
              ["end_repeat", "", "", ""],
              ["select_one yn", "ok", "满意吗？", "yes"]]
    choices = [["list_name", "name", "label::中文 (zh)"], ["yn", "yes", "是"], ["yn", "no", "否"]]
    settings = [["form_title", "form_id", "version", "default_language"],
                ["来访登记", "visitors", "1", "中文 (zh)"]]
    path = write_form(tmp_path / "visitors.md", survey, choices=choices, settings=settings)
    repeat_store.install_form(compile_xlsform(path))
    app = app_for(repeat_store, config=CONFIG.with_changes(surveys=("visitors",)))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "visitors")
        assert "还没有填来访人。" in screen_text(app) and "再添加一位？" in screen_text(app)
        assert buttons(app)["back"] == "返回首页"
        await tap(pilot, "#add-instance")
        assert on_screen(app) == ["pname"] and "第 1 位来访人" in screen_text(app)
        await type_into(pilot, "pname", "周明")
        await next_screen(pilot)
        await tap(pilot, "#no-more")
        await pilot.press("1")
        await pilot.pause()
        await next_screen(pilot)
        assert isinstance(app.screen, ThanksScreen)
    [answers] = stored_answers(repeat_store, "visitors")
    assert answers == {"people": [{"pname": "周明"}], "ok": "yes"}


async def test_a_full_repeat_says_so_and_goes_on(repeat_store: KioskStore):
    """The 101st member is refused with the engine's reason; the kiosk stays on the question
    and 不用了，继续 goes on (no traceback, nothing lost)."""
    session = FormSession(repeat_store.load_form("household", "1"), "zh")
    assert session.answer("address", "梁丰花园9栋") == []
    for number in range(1, REPEAT_LIMIT + 1):
        assert session.add_instance("members") == []
        for name, value in (("name", f"成员{number}"), ("age", 30), ("relation", "child")):
            assert session.answer(f"members[{number}].{name}", value) == []
    session.go_to(f"members[{REPEAT_LIMIT}].relation")
    app = app_for(repeat_store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.show_session(session)
        await pilot.pause()
        assert f"第 {REPEAT_LIMIT} 位家庭成员" in screen_text(app)
        await next_screen(pilot)
        assert f"已经填了 {REPEAT_LIMIT} 位家庭成员。" in screen_text(app)
        await tap(pilot, "#add-instance")
        assert "⚠ 这一组的项数太多了（最多 100 项）。" in screen_text(app)
        assert session.instances("members", ()) == REPEAT_LIMIT  # type: ignore[attr-defined]
        await tap(pilot, "#no-more")
        assert on_screen(app) == ["helped"]


async def test_nested_repeats_ask_for_the_inner_one_first(repeat_store: KioskStore):
    """Visits with services in each (tests/forms/repeats.md): after a visit's last service
    the services are asked about within that visit, then the visits."""
    app = app_for(repeat_store, config=CONFIG.with_changes(surveys=("repeats_probe",)))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "repeats_probe")
        await type_into(pilot, "hh_size", "0")
        await next_screen(pilot)
        await type_into(pilot, "max_minutes", "60")
        await next_screen(pilot)
        assert "还没有填探访。" in screen_text(app)  # no member screens: hh_size is 0
        await tap(pilot, "#add-instance")
        assert "第 1 位探访" in screen_text(app)
        await type_into(pilot, "visit_day", "2026-12-01")
        await next_screen(pilot)
        await type_into(pilot, "minutes", "30")
        await next_screen(pilot)
        text = screen_text(app)
        assert "第 1 位探访 › 服务" in text and "还没有填服务。" in text
        await tap(pilot, "#add-instance")
        assert on_screen(app) == ["service"]
        assert "第 1 位探访 › 第 1 位服务" in screen_text(app)
        await pilot.press("3")  # 其他: its note follows in the same service
        await pilot.pause()
        await next_screen(pilot)
        await type_into(pilot, "service_note", "修水管")
        await next_screen(pilot)
        assert "已经填了 1 位服务。" in screen_text(app)
        await tap(pilot, "#no-more")
        text = screen_text(app)
        assert "已经填了 1 位探访。" in text and "服务" not in text
        await tap(pilot, "#no-more")
        assert on_screen(app) == ["done"]
        await next_screen(pilot)
        assert isinstance(app.screen, ThanksScreen)
    [answers] = stored_answers(repeat_store, "repeats_probe")
    assert answers["visits"] == [{"visit_day": "2026-12-01", "minutes": 30, "services_n": "1",
                                  "services": [{"service": "other",
                                                "service_note": "修水管"}]}]

"""Picking a household from the register on the kiosk screens (issue 16): a search box and
the households it finds as big buttons, the empty box listing the most recent ones; the
pick is the household's id, its plan shown on the next screen, and the finished visit
updates the register entry. Hostile searches (SQL wildcards, quotes, a page pasted, control
characters) are refused or found nothing, without a traceback; an empty register says so and
a required pick is not passed by. A draft left after the pick comes back with it chosen.

Driven through Textual's Pilot; assertions read the screen and the database. The forms are
tests/forms/register.md and followup.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual import events
from textual.pilot import Pilot

from kiosk.app import KioskApp
from kiosk.config import KioskConfig
from kiosk.screens.questionnaire import FormScreen, ReviewScreen
from kiosk.screens.thanks import ThanksScreen
from kiosk.widgets.inputs import KioskInput
from kiosk.widgets.register_picker import (
    SEARCH_BOX_LIMIT,
    EntryButton,
    RegisterPicker,
    mask_phone,
)
from store import KioskStore, open_store
from surveys.entities import SEARCH_LIMIT
from surveys.xlsform import compile_xlsform
from tests.households import register
from tests.test_app_flow import (
    SIZE,
    kiosk,
    next_screen,
    on_screen,
    screen_text,
    tap,
    tap_form,
    type_into,
    wait_for,
)

FORMS = Path(__file__).parent / "forms"
CONFIG = KioskConfig(station_name="梁丰社区社工站", kiosk_id="hall-1",
                     surveys=("household_register", "household_followup"))


@pytest.fixture
def register_store(tmp_path: Path) -> Iterator[KioskStore]:
    store = open_store(tmp_path / "kiosk.db")
    for name in ("register.md", "followup.md"):
        store.install_form(compile_xlsform(FORMS / name))
    yield store
    store.close()


def app_for(store: KioskStore, **options: object) -> KioskApp:
    options.setdefault("config", CONFIG)
    return kiosk(store, **options)


def picker(app: KioskApp) -> RegisterPicker:
    return app.screen.query_one(RegisterPicker)


def listed(app: KioskApp) -> list[str]:
    """The households listed, as their buttons read (label, then the second line)."""
    return [str(button.label) for button in picker(app).entries()]


async def search(pilot: Pilot, text: str) -> None:
    """Clear the search box, type ``text`` and wait until the list is found for it."""
    app: KioskApp = pilot.app  # type: ignore[assignment]
    box = picker(app).box
    await pilot.click(box)
    await pilot.press("home", "ctrl+k", *text)
    await wait_for(pilot, lambda: picker(app).searched == box.value)
    await pilot.pause()


async def test_a_household_is_found_by_name_and_phone_digits_picked_and_updated(
        register_store: KioskStore):
    store = register_store
    wang = register(store, "王秀英", "梁丰花园3栋201", "13912345678", plan="卫生间扶手",
                    completed="2026-11-02T10:00:00+08:00")
    register(store, "李建国", "东门小区5栋102", "13800001111", plan="防滑地砖",
             completed="2026-11-05T09:30:00+08:00")
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "household_followup")
        assert on_screen(app) == ["household"]
        await wait_for(pilot, lambda: len(listed(app)) == 2)
        text = screen_text(app)
        # The empty box lists the most recent first; the box is ready for typing.
        assert "输入户主姓名、地址或电话后四位" in text
        assert "最近登记或走访的家庭" in text
        assert listed(app)[0].startswith("○ 李建国 东门小区5栋102")
        assert isinstance(app.focused, KioskInput)
        # The second line: the plan, the phone by its last four digits, the last visit.
        assert "卫生间扶手 · 电话 *******5678 · 上次走访 2026-11-02" in text, text
        assert "13912345678" not in text and "1391234" not in text

        await search(pilot, "王秀")
        assert [line.split("\n")[0] for line in listed(app)] == ["○ 王秀英 梁丰花园3栋201"]
        assert "找到 1 户" in screen_text(app)
        await search(pilot, "1111")
        assert [line.split("\n")[0] for line in listed(app)] == ["○ 李建国 东门小区5栋102"]
        await search(pilot, "5678")
        assert [line.split("\n")[0] for line in listed(app)] == ["○ 王秀英 梁丰花园3栋201"]
        assert picker(app).box.value == "5678"  # the digits went into the box, nothing picked
        assert app.current_session is not None
        assert app.current_session.value("household") is None

        await tap(pilot, app.screen.query(EntryButton).first())
        assert app.current_session.value("household") == wang
        text = screen_text(app)
        assert "● 王秀英 梁丰花园3栋201" in text and "已选择：王秀英 梁丰花园3栋201" in text
        assert app.screen.query(EntryButton).first().has_class("-chosen")
        await next_screen(pilot)

        # The plan kept in the register, read through the calculate.
        assert on_screen(app) == ["plan_note"]
        assert "上次的方案：卫生间扶手" in screen_text(app)
        await tap(pilot, "#back")  # back to the pick: the household is still chosen
        assert on_screen(app) == ["household"]
        await wait_for(pilot, lambda: bool(listed(app)))
        text = screen_text(app)
        assert "已选择：王秀英 梁丰花园3栋201" in text and "● 王秀英" in text
        assert picker(app).box.value == ""
        await next_screen(pilot)
        await next_screen(pilot)
        assert on_screen(app) == ["installed"]
        await pilot.press("1")
        await pilot.pause()
        await next_screen(pilot)
        await type_into(pilot, "plan", "再加一个淋浴凳")
        await next_screen(pilot)
        await wait_for(pilot, lambda: isinstance(app.screen, ThanksScreen))

    entry = store.entity("households", wang)
    assert entry is not None
    assert entry.version == 2
    assert entry.properties["plan"] == "再加一个淋浴凳"
    assert entry.properties["state"] == "done"
    [record] = list(store.iter_submissions("household_followup"))
    assert record["answers"]["household"] == wang


async def test_keys_alone_find_and_pick_and_number_keys_do_not_type(
        register_store: KioskStore):
    store = register_store
    register(store, "王秀英", "梁丰花园3栋201", "13912345678", plan="卫生间扶手")
    zhao = register(store, "赵玉兰", "梁丰花园8栋502", "13700002222",
                    completed="2026-11-06T10:00:00+08:00")
    app = app_for(store, config=CONFIG.with_changes(large_text=True))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "household_followup")
        await wait_for(pilot, lambda: len(listed(app)) == 2)
        assert app.screen.query(EntryButton).first().outer_size.height == 6  # 大字
        await pilot.press(*"梁丰花园")
        await wait_for(pilot, lambda: picker(app).searched == "梁丰花园")
        await pilot.press("enter")  # Enter in the box: the list, not an answer
        await pilot.pause()
        focused = app.focused
        assert isinstance(focused, EntryButton) and focused.name == zhao
        assert app.current_session is not None
        assert app.current_session.value("household") is None
        assert "⚠" not in screen_text(app)
        await pilot.press("2")  # a digit on the list: neither typed nor picked
        await pilot.pause()
        assert picker(app).box.value == "梁丰花园"
        assert app.current_session is not None
        assert app.current_session.value("household") is None
        await pilot.press("up")  # back to the box, and Tab to the list again
        await pilot.pause()
        assert app.focused is picker(app).box
        await pilot.press("tab", "tab")
        await pilot.pause()
        focused = app.focused
        assert isinstance(focused, EntryButton) and focused.name != zhao
        await pilot.press("space")  # Space picks and stays
        await pilot.pause()
        assert app.current_session.value("household") == focused.name
        assert on_screen(app) == ["household"]
        await pilot.press("shift+tab", "enter")  # Enter picks the other and goes on
        await pilot.pause()
        assert app.current_session.value("household") == zhao
        assert on_screen(app) == ["installed"]  # no plan: its note is not shown


async def test_the_review_names_the_household_and_the_next_resident_finds_an_empty_box(
        register_store: KioskStore, tmp_path: Path):
    store = register_store
    # The follow-up form again, with a review step before 提交 (settings: review).
    source = (FORMS / "followup.md").read_text(encoding="utf-8")
    source = source.replace("| version | default_language |",
                            "| version | default_language | review |")
    source = source.replace("| household_followup | 1 | 中文 (zh) |",
                            "| household_followup | 2 | 中文 (zh) | yes |")
    reviewed = tmp_path / "followup_review.md"
    reviewed.write_text(source, encoding="utf-8")
    store.install_form(compile_xlsform(reviewed))
    wang = register(store, "王秀英", "梁丰花园3栋201", "13912345678")
    register(store, "李建国", "东门小区5栋102", "13800001111",
             completed="2026-11-05T09:30:00+08:00")
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        # A resident searches, then leaves: the next one sees none of it.
        await tap_form(pilot, "household_followup")
        await search(pilot, "王秀英")
        assert len(listed(app)) == 1
        await tap(pilot, "#back")  # 返回首页 (nothing answered: no second tap needed)
        await tap_form(pilot, "household_followup")
        await wait_for(pilot, lambda: len(listed(app)) == 2)
        assert picker(app).box.value == ""
        assert "王秀英" in screen_text(app) and "李建国" in screen_text(app)
        assert "已选择" not in screen_text(app)

        await search(pilot, "王秀英")
        await pilot.press("down", "enter")  # picks it and goes on
        await pilot.pause()
        assert app.current_session is not None
        assert app.current_session.value("household") == wang
        await next_screen(pilot)  # the note of an empty plan is not shown: 方案都装好了吗？
        await pilot.press("2")
        await pilot.pause()
        await next_screen(pilot)
        await next_screen(pilot)  # no new plan
        assert isinstance(app.screen, ReviewScreen), screen_text(app)
        text = screen_text(app)
        assert "选择要回访的家庭" in text and "王秀英 梁丰花园3栋201" in text
        assert wang not in text  # the label, never the id
        await tap(pilot, app.screen.query("Button.change").first())  # 修改 the household
        assert on_screen(app) == ["household"]
        await wait_for(pilot, lambda: bool(listed(app)))
        assert "已选择：王秀英 梁丰花园3栋201" in screen_text(app)
        assert picker(app).box.value == ""


async def test_a_draft_left_after_the_pick_resumes_with_the_household_chosen(
        register_store: KioskStore):
    store = register_store
    wang = register(store, "王秀英", "梁丰花园3栋201", "13912345678", plan="卫生间扶手")
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "household_followup")
        await search(pilot, "王秀英")
        await pilot.press("enter", "enter")  # to the household, then pick it and go on
        await pilot.pause()
        assert on_screen(app) == ["plan_note"]
        assert app.current_session is not None
        instance_id = app.current_session.instance_id
    # the app is gone (power cut, or kept for later); the next one continues the draft
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.resume_draft(instance_id)
        await pilot.pause()
        assert on_screen(app) == ["plan_note"]
        assert "上次的方案：卫生间扶手" in screen_text(app)
        await tap(pilot, "#back")
        assert on_screen(app) == ["household"]
        await wait_for(pilot, lambda: bool(listed(app)))
        assert "已选择：王秀英 梁丰花园3栋201" in screen_text(app)
        assert picker(app).entries()[0].has_class("-chosen")
        assert app.current_session is not None
        assert app.current_session.value("household") == wang


async def test_at_most_fifty_are_listed_and_more_typing_is_asked_for(
        register_store: KioskStore):
    store = register_store
    for number in range(SEARCH_LIMIT + 2):
        register(store, f"张家{number}", f"幸福小区{number}栋", "",
                 completed=f"2026-10-01T08:{number:02d}:00+08:00")
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "household_followup")
        await wait_for(pilot, lambda: len(listed(app)) == SEARCH_LIMIT)
        assert "还有更多，请多输入几个字" in screen_text(app)
        assert listed(app)[0].startswith(f"○ 张家{SEARCH_LIMIT + 1} ")  # the latest first
        await search(pilot, "张家5")
        assert sorted(line.split()[1] for line in listed(app)) == ["张家5", "张家50", "张家51"]
        assert "找到 3 户" in screen_text(app) and "还有更多" not in screen_text(app)


async def test_hostile_searches_are_bounded_and_find_nothing_without_a_traceback(
        register_store: KioskStore):
    store = register_store
    register(store, "王秀英", "梁丰花园3栋201", "13912345678")
    app = app_for(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "household_followup")
        await wait_for(pilot, lambda: len(listed(app)) == 1)
        for text in ("%", "'", "_", "' OR 1=1 --", "\\"):
            await search(pilot, text)
            assert listed(app) == [], text
            assert "没有找到，请换几个字再试" in screen_text(app)
        box = picker(app).box
        await search(pilot, "")
        await pilot.click(box)
        # A paste arrives whole (a terminal's bracketed paste): refused whole, and said.
        box.post_message(events.Paste("王" * 10_000))
        await pilot.pause()
        assert box.value == ""
        assert f"⚠ 太长了：这里最多可以填 {SEARCH_BOX_LIMIT} 个字。" in screen_text(app)
        box.post_message(events.Paste("王\x1b[31m秀\x00"))
        await pilot.pause()
        assert box.value == ""
        assert "⚠ 输入里有不能用的控制字符" in screen_text(app)
        await pilot.press(*("王" * (SEARCH_BOX_LIMIT + 5)))
        assert len(box.value) == SEARCH_BOX_LIMIT
        assert isinstance(app.screen, FormScreen)


async def test_an_empty_register_says_so_and_the_pick_is_required(register_store: KioskStore):
    app = app_for(register_store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "household_followup")
        await wait_for(pilot, lambda: picker(app).empty)
        text = screen_text(app)
        assert "名单里还没有登记的家庭，请先填写登记问卷" in text
        assert "输入户主姓名" not in text  # no box to search nothing
        await next_screen(pilot)
        assert on_screen(app) == ["household"]
        assert "⚠ 这一题需要回答。" in screen_text(app)


async def test_english(register_store: KioskStore):
    register(register_store, "王秀英", "梁丰花园3栋201", "13912345678", plan="卫生间扶手")
    app = app_for(register_store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap(pilot, "#lang-en")
        await tap_form(pilot, "household_followup")
        await wait_for(pilot, lambda: len(listed(app)) == 1)
        text = screen_text(app)
        assert "Pick the household" in text
        assert "Name, address or last 4 digits of the phone" in text, text
        assert "phone *******5678 · last visit 2026-11-02" in text


def test_a_phone_shows_only_its_last_four_digits():
    assert mask_phone("13912345678") == "*******5678"
    assert mask_phone("+86 139-1234-5678") == "*********5678"

"""The hall kiosk (issue 3): lock-down and the staff PIN, the home screen, answering (Likert,
dates, refused input, the review step), idle reset and privacy, and robustness.

Driven through Textual's Pilot like a resident would; assertions read the rendered screen
and the database.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner
from textual import events
from textual.pilot import Pilot
from textual.widgets import Button, Input, Static

from kiosk import speech
from kiosk.app import KioskApp
from kiosk.config import hash_pin
from kiosk.screens.idle import IdleScreen
from kiosk.screens.questionnaire import FormScreen, ReviewScreen
from kiosk.speech import Speaker
from store import KioskStore, open_store
from surveys.clock import CHINA
from surveys.session import FormSession
from surveys.xlsform import compile_xlsform
from tests.test_app_flow import (
    CONFIG,
    FORMS,
    SIZE,
    at,
    back,
    block,
    draft_answers,
    keys,
    kiosk,
    next_screen,
    on_screen,
    screen_text,
    tap,
    tap_choice,
    tap_form,
    type_into,
    wait_for,
)

PIN = "2468"
PIN_HASH = hash_pin(PIN)
HOME_HINT = "请点一下您要填写的问卷"
IDLE_TITLE = "还在吗？请点屏幕继续"


@pytest.fixture
def basics_store(tmp_path: Path) -> KioskStore:
    """The bundled forms plus the small test form (test1)."""
    store = open_store(tmp_path / "kiosk.db")
    store.install_form(compile_xlsform(FORMS / "basics.md"))
    yield store
    store.close()


class Clock:
    """The time the kiosk shows (home screen, receipt countdown, PIN lockout)."""

    def __init__(self) -> None:
        self.moment = dt.datetime(2026, 11, 23, 14, 5, tzinfo=CHINA)

    def __call__(self) -> dt.datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += dt.timedelta(**delta)


def visible(widget: object) -> str:
    return str(widget.render())  # type: ignore[attr-defined]


async def paste(pilot: Pilot, text: str) -> None:
    """Text arriving as a terminal paste (also how a scanner or an input method may send it)."""
    pilot.app.post_message(events.Paste(text))
    await pilot.pause()


async def press_keypad(pilot: Pilot, digits: str) -> None:
    for digit in digits:
        key = next(button for button in pilot.app.screen.query("#keypad Button").results(Button)
                   if button.name == digit)
        await tap(pilot, key)


# ---- 1. lock-down and the staff PIN ---------------------------------------------------------


QUIT_KEYS = ("ctrl+q", "ctrl+c", "ctrl+p", "escape", "escape", "escape", "ctrl+z", "ctrl+d",
             "ctrl+backslash", "f10")



def idle_soon(app: KioskApp, seconds: float = 1.0) -> None:
    """From now on nobody touching for ``seconds`` brings the countdown. The steps before
    ran with a long idle time: on a busy machine they take longer than a second, and the
    countdown must not come in the middle of them."""
    app.idle_seconds = seconds

async def test_quit_keys_and_the_palette_do_nothing_on_a_question_with_a_box_in_focus(
        basics_store: KioskStore):
    app = kiosk(basics_store, developer=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "test1")
        await type_into(pilot, "age", "30")
        assert isinstance(app.focused, Input)
        for key in QUIT_KEYS:
            await pilot.press(key)
            await pilot.pause()
        assert app.is_running
        assert on_screen(app) == ["age"]
        assert block(app, "age").query_one(Input).value == "30"
        assert len(app.screen_stack) == 2  # no palette, no other screen on top
        assert not any(type(screen).__name__ == "CommandPalette" for screen in app.screen_stack)


async def test_staff_leave_through_the_pin_screen(store: KioskStore):
    config = CONFIG.with_changes(staff_pin_hash=PIN_HASH)
    clock = Clock()
    app = kiosk(store, config=config, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap(pilot, "#staff")
        text = screen_text(app)
        assert "工作人员登录" in text and "请输入工作人员密码" in text
        for label in ("1", "5", "9", "0", "删除", "确定", "返回"):
            assert label in text
        # Half on the on-screen keypad, half on a keyboard; the PIN is never shown.
        await press_keypad(pilot, "24")
        await keys(pilot, "6", "8")
        text = screen_text(app)
        assert "● ● ● ●" in text and PIN not in text
        await tap(pilot, "#pin-ok")
        text = screen_text(app)
        assert "工作人员菜单" in text and "退出程序" in text and "返回首页" in text
        await tap(pilot, "#staff-exit")
        await pilot.pause()
        assert not app.is_running
    events_logged = [event["event"] for event in store.staff_events()]
    assert events_logged == ["pin_ok", "exit"]


async def test_five_wrong_pins_lock_the_staff_screen_for_five_minutes(store: KioskStore):
    config = CONFIG.with_changes(staff_pin_hash=PIN_HASH)
    clock = Clock()
    app = kiosk(store, config=config, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap(pilot, "#staff")
        for left in (4, 3, 2, 1):
            await keys(pilot, "1", "1", "1", "1", "enter")
            assert f"密码不对，还可以再试 {left} 次。" in screen_text(app)
        await keys(pilot, "1", "1", "1", "1", "enter")
        text = screen_text(app)
        assert "输错次数太多，已锁定。请在 14:10 以后再试（约 5 分钟）。" in text
        assert all(key.disabled for key in app.screen.query("#keypad Button").results(Button))
        # The right PIN is refused while locked: the keys take nothing.
        await keys(pilot, *PIN, "enter")
        assert "●" not in visible(app.screen.query_one("#pin-display"))
        assert "工作人员菜单" not in screen_text(app)

        # Leaving and coming back does not lift the lockout (it is kept in the database).
        await tap(pilot, "#pin-back")
        assert HOME_HINT in screen_text(app)
        await tap(pilot, "#staff")
        assert "已锁定" in screen_text(app)

        clock.advance(minutes=5, seconds=1)
        await wait_for(pilot, lambda: "请输入工作人员密码" in screen_text(app))
        await keys(pilot, *PIN, "enter")
        assert "工作人员菜单" in screen_text(app)
        await tap(pilot, "#staff-home")
        assert HOME_HINT in screen_text(app)
        assert app.is_running
    logged = [event["event"] for event in store.staff_events()]
    assert logged == ["pin_wrong"] * 5 + ["pin_ok"]


async def test_without_a_pin_the_staff_screen_says_how_to_set_one_and_stays_shut(
        store: KioskStore):
    app = kiosk(store)  # CONFIG has no PIN hash
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap(pilot, "#staff")
        text = screen_text(app)
        assert "还没有设置工作人员密码" in text and "kiosk config set-pin" in text
        assert not app.screen.query("#keypad")
        await keys(pilot, "1", "2", "3", "4", "enter")
        assert "工作人员菜单" not in screen_text(app)
        await tap(pilot, "#pin-back")
        assert HOME_HINT in screen_text(app)


async def test_the_staff_menu_closes_by_itself_when_left_open(store: KioskStore):
    config = CONFIG.with_changes(staff_pin_hash=PIN_HASH)
    app = kiosk(store, config=config, idle_seconds=600, countdown_seconds=1.0)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap(pilot, "#staff")
        await keys(pilot, *PIN, "enter")
        assert "工作人员菜单" in screen_text(app)
        idle_soon(app)
        await wait_for(pilot, lambda: HOME_HINT in screen_text(app))
        assert "工作人员菜单" not in screen_text(app)


# ---- 2. the home screen ------------------------------------------------------------------


async def test_home_shows_the_station_the_time_and_the_configured_questionnaires(
        store: KioskStore):
    config = CONFIG.with_changes(surveys=("marriage_reform", "not_installed", "satisfaction"))
    clock = Clock()
    app = kiosk(store, config=config, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "梁丰社区社工站" in text
        assert "2026年11月23日 星期一 14:05" in text
        lines = text.splitlines()
        first = next(n for n, line in enumerate(lines) if "1  婚俗改革问卷" in line)
        second = next(n for n, line in enumerate(lines) if "2  社区服务满意度调查" in line)
        assert first < second
        for absent in ("需求登记", "适老化改造", "not_installed", "志愿者签到"):
            assert absent not in text
        assert "中文" in text and "English" in text and "大字：关" in text and "工作人员" in text

        clock.advance(minutes=1)  # the clock on the screen moves on
        await wait_for(pilot, lambda: "14:06" in screen_text(app))

        await keys(pilot, "2")  # number keys open questionnaires too
        assert "社区服务满意度调查" in screen_text(app) and on_screen(app) == ["intro"]


async def test_the_language_toggle_switches_home_and_the_questionnaire(store: KioskStore):
    app = kiosk(store, clock=Clock())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap(pilot, "#lang-en")
        text = screen_text(app)
        assert "Monday 23 November 2026, 14:05" in text
        assert "Tap the questionnaire you want to fill in" in text
        assert "Community Service Satisfaction Survey" in text and "社区服务满意度调查" not in text
        assert "Large text: off" in text and "Staff" in text
        await tap_form(pilot, "satisfaction")
        text = screen_text(app)
        assert "Community Service Satisfaction Survey" in text and "Answered 0 of" in text
        assert "Home" in text and "Next" in text
        await back(pilot)  # the same resident, still in English
        await tap(pilot, "#lang-zh")
        text = screen_text(app)
        assert HOME_HINT in text and "社区服务满意度调查" in text


async def test_large_text_mode_gives_bigger_buttons_and_more_room(store: KioskStore):
    app = kiosk(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        normal = app.screen.query(".form-button").first().outer_size.height
        await tap(pilot, "#large-text")
        assert "大字：开" in screen_text(app)
        assert app.screen.has_class("large-text")
        assert app.screen.query(".form-button").first().outer_size.height > normal
        await tap_form(pilot, "satisfaction")
        await next_screen(pilot)
        assert app.screen.has_class("large-text")
        assert app.screen.query_one("#next").outer_size.height == 5
        assert app.screen.query(".choice").first().outer_size.height == 5


# ---- 3. answering ------------------------------------------------------------------------


async def walk_to_overall(pilot: Pilot) -> None:
    await tap_form(pilot, "satisfaction")
    await next_screen(pilot)
    for _ in range(2):  # respondent group, age band
        await keys(pilot, "1")
        await next_screen(pilot)
    await keys(pilot, "1")  # 梁丰社区
    await next_screen(pilot)
    await keys(pilot, "1")  # 梁丰花园
    await next_screen(pilot)


async def test_a_likert_question_shows_its_scale_in_a_row(store: KioskStore):
    app = kiosk(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await walk_to_overall(pilot)
        at(app, "overall")
        scale = ["非常满意", "满意", "一般", "不满意", "非常不满意"]
        rows = [line for line in screen_text(app).splitlines() if "○ 非常满意" in line]
        assert len(rows) == 1
        positions = [rows[0].index(f"○ {label}") for label in scale]
        assert positions == sorted(positions)  # one row, in the form's order
        numbers = next(line for line in screen_text(app).splitlines() if "1" in line
                       and "5" in line and "2" in line and "已答" not in line)
        assert numbers.split() == ["1", "2", "3", "4", "5"]
        await keys(pilot, "2")
        assert "● 满意" in screen_text(app)
        assert draft_answers(store)["overall"] == "4"

        # On a narrow terminal the scale becomes a column that fits.
        await pilot.resize_terminal(64, 30)
        await pilot.pause(0.2)
        lines = screen_text(app).splitlines()
        assert any("1  ○ 非常满意" in line for line in lines)
        assert any("2  ● 满意" in line for line in lines)
        assert not any("非常满意" in line and "一般" in line for line in lines)


async def test_dates_are_picked_with_big_steppers_without_typing_a_format(
        basics_store: KioskStore):
    app = kiosk(basics_store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "test1")
        await type_into(pilot, "age", "5")
        await next_screen(pilot)
        await next_screen(pilot)  # 改进 is optional
        assert on_screen(app) == ["nm", "d"]
        date = block(app, "d")
        field = date.query_one(Input)
        text = screen_text(app)
        assert "也可以点 － ＋ 选日期" in text and "今天" in text
        steps = {button.name: button for button in date.query(".step").results(Button)}
        assert set(steps) == {"year:-1", "year:1", "month:-1", "month:1", "day:-1", "day:1"}

        # Typing still works; the steppers then start from the typed date.
        await type_into(pilot, "d", "2020-01-31")
        await pilot.press("tab")
        await pilot.pause()
        assert "2020年" in screen_text(app) and "1月" in screen_text(app)
        await tap(pilot, steps["month:1"])  # 31 January → the end of February (a leap year)
        assert field.value == "2020-02-29"
        assert draft_answers(basics_store)["d"] == "2020-02-29"
        assert "2020年" in screen_text(app) and "2月" in screen_text(app)
        assert "29日" in screen_text(app)
        await tap(pilot, steps["year:-1"])
        assert field.value == "2019-02-28"
        await tap(pilot, steps["day:1"])
        assert field.value == "2019-03-01"
        await tap(pilot, steps["day:-1"])
        assert field.value == "2019-02-28"
        assert draft_answers(basics_store)["d"] == "2019-02-28"

        # A step past today is refused by the form's rule, with its message.
        await tap(pilot, date.query_one(".today"))
        today = field.value
        await tap(pilot, steps["day:1"])
        assert "⚠ 这个答案不符合要求" in screen_text(app)
        assert draft_answers(basics_store)["d"] == today


async def test_number_boxes_take_only_numbers_and_say_so(basics_store: KioskStore):
    """What is no number stays as typed (once "3a" was kept as 3, silently) and 下一题
    refuses it with the message."""
    app = kiosk(basics_store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "test1")
        await type_into(pilot, "age", "3a")
        assert block(app, "age").query_one(Input).value == "3a"
        await tap(pilot, "#next")
        assert "⚠ 请填一个整数，例如 3。" in screen_text(app)
        assert on_screen(app) == ["age"]
        await type_into(pilot, "age", "１２")  # full-width digits from an input method
        assert block(app, "age").query_one(Input).value == "12"
        await type_into(pilot, "age", "12345678901")
        assert "⚠ 太长了：这里最多可以填 10 个字。" in screen_text(app)


async def test_pasted_control_characters_and_over_long_text_are_refused(
        basics_store: KioskStore):
    app = kiosk(basics_store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "test1")
        await type_into(pilot, "age", "5")
        await next_screen(pilot)
        await next_screen(pilot)
        await type_into(pilot, "nm", "张")
        field = block(app, "nm").query_one(Input)
        message = "⚠ 输入里有不能用的控制字符（如换行、制表符），没有收下，请重新输入。"
        for bad in ("三\n李四", "三\t", "\x1b[31m三", "三\x00", "三\u202e"):
            await paste(pilot, bad)
            assert field.value == "张", repr(bad)
            assert message in screen_text(app)
        await paste(pilot, "三" * 500)
        assert field.value == "张"
        assert "⚠ 太长了：这里最多可以填 500 个字。" in screen_text(app)
        await paste(pilot, "三丰")
        assert field.value == "张三丰"
        assert "⚠" not in screen_text(app)
        # Typing past the limit is refused too.
        field.value = "好" * 500
        await keys(pilot, "end", "x")
        assert field.value == "好" * 500
        assert "⚠ 太长了" in screen_text(app)


async def test_the_review_step_lists_the_answers_and_changes_one(store: KioskStore):
    app = kiosk(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "service_request")
        await next_screen(pilot)
        await keys(pilot, "1")  # 养老
        await next_screen(pilot)
        await keys(pilot, "1")  # 本人
        await next_screen(pilot)
        await keys(pilot, "3")  # 城北社区
        await next_screen(pilot)
        await type_into(pilot, "description", "想申请助餐")
        await next_screen(pilot)
        await keys(pilot, "3")  # 不急
        await next_screen(pilot)
        await keys(pilot, "1")  # 电话回访
        await next_screen(pilot)
        await type_into(pilot, "contact_name", "王阿姨")
        await next_screen(pilot)
        await type_into(pilot, "contact_phone", "13812345678")
        await next_screen(pilot)
        at(app, "thanks")
        await next_screen(pilot)  # 完成 → the review

        assert isinstance(app.screen, ReviewScreen)
        rows = review_rows(app)
        assert rows["您需要哪方面的帮助？"] == "养老"
        assert rows["这件事有多急？"] == "不急"
        assert rows["怎么称呼您？"] == "王阿姨"
        assert rows["您的手机号码"] == "13812345678"
        assert rows["请说一说具体是什么事、需要什么帮助。"] == "想申请助餐"
        text = screen_text(app)
        assert "问卷已经答完了" in text and "修改" in text and "提交" in text
        assert store.submission_count("service_request") == 0

        # 修改 next to the phone: that question, with 回到核对 instead of 下一题.
        await tap_change(pilot, "contact_phone")
        at(app, "contact_phone")
        assert str(app.screen.query_one("#next", Button).label) == "回到核对"
        await type_into(pilot, "contact_phone", "13900001111")
        await next_screen(pilot)
        assert isinstance(app.screen, ReviewScreen)
        rows = review_rows(app)
        assert rows["您的手机号码"] == "13900001111"
        assert "13812345678" not in rows.values()

        # A change that brings a new required question stops there on the way back.
        await tap_change(pilot, "followup")
        await tap_choice(pilot, "followup", "上门")
        await next_screen(pilot)
        at(app, "contact_address")
        assert str(app.screen.query_one("#next", Button).label) == "回到核对"
        await next_screen(pilot)
        assert "⚠" in screen_text(app) and on_screen(app) == ["contact_address"]
        await type_into(pilot, "contact_address", "城北新村5幢302")
        await next_screen(pilot)
        assert isinstance(app.screen, ReviewScreen)
        assert review_rows(app)["上门地址（小区、楼栋、门牌号）"] == "城北新村5幢302"
        await tap(pilot, "#submit")
        assert "提交成功，谢谢您！" in screen_text(app)
    answers = next(store.iter_submissions("service_request"))["answers"]
    assert answers["contact_phone"] == "13900001111" and answers["followup"] == "visit"
    assert answers["contact_address"] == "城北新村5幢302"


def review_rows(app: KioskApp) -> dict[str, str]:
    """The review step's rows: question label -> the answer as listed."""
    rows = {}
    for row in app.screen.query(".review-row"):
        label = visible(row.query_one(".review-label", Static))
        rows[label] = visible(row.query_one(".review-answer", Static))
    return rows


async def tap_change(pilot: Pilot, name: str) -> None:
    """Scroll the review to a question's 修改 and tap it."""
    button = next(button for button in pilot.app.screen.query(".change").results(Button)
                  if button.name == name)
    button.scroll_visible(animate=False)
    await pilot.pause()
    await tap(pilot, button)


async def test_the_receipt_screen_counts_down_from_15_seconds(basics_store: KioskStore):
    app = KioskApp(basics_store, config=CONFIG, tap_guard=0.0, clock=Clock(),
                   animations=False, cursor_blink=False)  # the default home_after
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "test1")
        await type_into(pilot, "age", "5")
        for _ in range(4):
            await next_screen(pilot)
        text = screen_text(app)
        assert "提交成功" in text and "15 秒后自动回到首页" in text


# ---- 4. idle reset and privacy -------------------------------------------------------------


async def answer_test_form_partly(pilot: Pilot) -> None:
    await tap_form(pilot, "test1")
    await type_into(pilot, "age", "66")
    await next_screen(pilot)
    await keys(pilot, "1")  # 满意吗: 是
    await next_screen(pilot)
    await tap_choice(pilot, "imp", "停车")
    await next_screen(pilot)
    await type_into(pilot, "nm", "王小明")


async def test_idle_countdown_then_home_with_nothing_of_the_resident_left(
        basics_store: KioskStore):
    app = kiosk(basics_store, idle_seconds=600, countdown_seconds=1.5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await answer_test_form_partly(pilot)
        idle_soon(app)
        shown: list[str] = []  # the overlay as it was seen (it goes home 1.5 s later)
        await wait_for(pilot, lambda: IDLE_TITLE in (shown.append(screen_text(app))
                                                     or shown[-1]))
        text = shown[-1]
        assert "秒后回到首页" in text and "继续" in text
        assert "王小明" not in text and "年龄" not in text  # the overlay hides the answers
        await wait_for(pilot, lambda: HOME_HINT in screen_text(app))

        text = screen_text(app)
        for left_over in ("王小明", "66", "停车", "满意吗", "姓名", "年龄", "测试 ·", "已答",
                          IDLE_TITLE, "⚠"):
            assert left_over not in text, left_over
        assert len(app.screen_stack) == 2  # Textual's blank screen + a new home: no history
        assert not any(isinstance(screen, FormScreen | IdleScreen)
                       for screen in app.screen_stack)
        # The form says discard: the draft is abandoned, counted, and offered to nobody.
        assert basics_store.open_drafts() == []
        assert basics_store.draft_counts() == {"abandoned": 1}

        # The next resident starts afresh.
        await tap_form(pilot, "test1")
        assert block(app, "age").query_one(Input).value == ""


async def test_a_tap_on_the_countdown_brings_the_questionnaire_back(basics_store: KioskStore):
    app = kiosk(basics_store, idle_seconds=600, countdown_seconds=30)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await answer_test_form_partly(pilot)
        idle_soon(app)
        await wait_for(pilot, lambda: IDLE_TITLE in screen_text(app))
        await pilot.click(offset=(10, 5))
        await pilot.pause()
        assert IDLE_TITLE not in screen_text(app)
        assert on_screen(app) == ["nm", "d"]
        assert block(app, "nm").query_one(Input).value == "王小明"
        # A key continues too (and does nothing else).
        await wait_for(pilot, lambda: IDLE_TITLE in screen_text(app))
        await keys(pilot, "1")
        assert on_screen(app) == ["nm", "d"] and IDLE_TITLE not in screen_text(app)
        assert len(basics_store.open_drafts()) == 1


async def test_keys_and_taps_keep_the_countdown_away(basics_store: KioskStore):
    app = kiosk(basics_store, idle_seconds=1.0, countdown_seconds=30)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "test1")
        for turn in range(8):  # 2.4 s of a resident thinking, touching now and then
            if turn % 2:
                await pilot.press("f5")
            else:
                await pilot.click(offset=(2, 20))
            await pilot.pause(0.3)
            assert IDLE_TITLE not in screen_text(app)
        await wait_for(pilot, lambda: IDLE_TITLE in screen_text(app))


async def test_idle_keeps_the_draft_when_the_form_says_keep(store: KioskStore):
    app = kiosk(store, idle_seconds=600, countdown_seconds=1.0)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "home_adaptation")
        await next_screen(pilot)
        await next_screen(pilot)  # the visit date is today already
        await type_into(pilot, "resident_name", "李奶奶")
        await type_into(pilot, "address", "梁丰花园3幢201")  # typed, not yet confirmed
        idle_soon(app)
        await wait_for(pilot, lambda: HOME_HINT in screen_text(app))
        text = screen_text(app)
        assert "李奶奶" not in text and "梁丰花园3幢201" not in text
        # draft_on_idle = keep: left open for the volunteer or staff, never shown here.
        drafts = store.open_drafts()
        assert len(drafts) == 1
        assert drafts[0]["answers"]["resident_name"] == "李奶奶"
        assert drafts[0]["answers"]["address"] == "梁丰花园3幢201"
        assert store.draft_counts() == {"open": 1}


async def test_abandoned_drafts_are_counted_for_staff(basics_store: KioskStore):
    config = CONFIG.with_changes(staff_pin_hash=PIN_HASH)
    app = kiosk(basics_store, config=config, idle_seconds=600, countdown_seconds=1.0)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await answer_test_form_partly(pilot)
        idle_soon(app)
        await wait_for(pilot, lambda: HOME_HINT in screen_text(app))
        await tap(pilot, "#staff")
        await keys(pilot, *PIN, "enter")
        assert "未完成的问卷：放弃 1 份，保留待续 0 份。" in screen_text(app)


async def test_a_resident_who_switched_to_english_and_left_leaves_home_in_chinese(
        store: KioskStore):
    app = kiosk(store, idle_seconds=600, countdown_seconds=1.0)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap(pilot, "#lang-en")
        await tap(pilot, "#large-text")
        assert "Tap the questionnaire" in screen_text(app)
        idle_soon(app)
        await wait_for(pilot, lambda: HOME_HINT in screen_text(app))
        assert not app.screen.has_class("large-text")
        assert IDLE_TITLE not in screen_text(app)  # home needs no countdown


# ---- 6. robustness -------------------------------------------------------------------------


async def test_a_small_terminal_shows_only_please_enlarge_until_it_grows(
        basics_store: KioskStore):
    app = kiosk(basics_store)
    async with app.run_test(size=(40, 12)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "请放大窗口" in text and "Please enlarge the window" in text
        assert "梁丰社区社工站" not in text and "测试" not in text
        await keys(pilot, "1")  # nothing it could open is visible: keys do nothing
        await pilot.click(offset=(20, 6))
        await pilot.pause()
        await pilot.resize_terminal(*SIZE)
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "请放大窗口" not in text and HOME_HINT in text

        # In the middle of a questionnaire: the flow continues where it was.
        await tap_form(pilot, "test1")
        await type_into(pilot, "age", "42")
        await pilot.resize_terminal(50, 30)
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "请放大窗口" in text and "年龄" not in text and "42" not in text
        await pilot.resize_terminal(*SIZE)
        await pilot.pause(0.2)
        assert on_screen(app) == ["age"] and "请放大窗口" not in screen_text(app)
        assert block(app, "age").query_one(Input).value == "42"
        await next_screen(pilot)
        assert on_screen(app) == ["ok"]


async def test_an_error_in_a_screen_returns_home_with_the_draft_saved(
        basics_store: KioskStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    log_dir = tmp_path / "logs"
    app = kiosk(basics_store, log_dir=log_dir)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "test1")
        await type_into(pilot, "age", "66")
        await next_screen(pilot)
        assert draft_answers(basics_store)["age"] == "66"

        answer = FormSession.answer

        def broken(self: FormSession, name: str, value: object) -> object:
            if name == "ok":
                raise RuntimeError("the session broke on 满意吗")
            return answer(self, name, value)

        monkeypatch.setattr(FormSession, "answer", broken)
        await keys(pilot, "1")
        assert app.is_running
        text = screen_text(app)
        assert HOME_HINT in text and "刚才出了点问题，已经填的答案保存好了" in text
        assert "Traceback" not in text and "RuntimeError" not in text and "满意吗" not in text
        # The draft is kept for staff; the error is in the log file and the staff log.
        assert draft_answers(basics_store)["age"] == "66"
        logged = (log_dir / "kiosk.log").read_text(encoding="utf-8")
        assert "RuntimeError: the session broke on 满意吗" in logged and "Traceback" in logged
        errors = [event for event in basics_store.staff_events() if event["event"] == "error"]
        assert len(errors) == 1 and "RuntimeError" in errors[0]["detail"]

        # The kiosk carries on for the next resident.
        monkeypatch.setattr(FormSession, "answer", answer)
        await tap_form(pilot, "test1")
        await type_into(pilot, "age", "30")
        await next_screen(pilot)
        assert on_screen(app) == ["ok"]


async def test_an_error_while_building_a_screen_returns_home(
        store: KioskStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    app = kiosk(store, log_dir=tmp_path)

    def broken(*_args: object) -> str:
        raise KeyError("no such label")

    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        monkeypatch.setattr("kiosk.screens.questionnaire.answer_text", broken)
        await tap_form(pilot, "service_request")
        await next_screen(pilot)
        for choice in ("1", "1", "3"):  # 养老, 自己, 城北社区
            await keys(pilot, choice)
            await next_screen(pilot)
        await type_into(pilot, "description", "想申请助餐")
        await next_screen(pilot)
        await keys(pilot, "3")
        await next_screen(pilot)
        await keys(pilot, "4")  # no follow-up
        await next_screen(pilot)
        await next_screen(pilot)  # 完成 → the review, which fails to build
        assert app.is_running
        assert HOME_HINT in screen_text(app) and "刚才出了点问题" in screen_text(app)
        assert len(store.open_drafts()) == 1
        assert "KeyError" in (tmp_path / "kiosk.log").read_text(encoding="utf-8")


async def test_errors_that_keep_coming_take_the_kiosk_out_of_service(
        basics_store: KioskStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    app = kiosk(basics_store, log_dir=tmp_path)

    def broken(*_args: object) -> None:
        raise RuntimeError("still broken")

    monkeypatch.setattr(FormSession, "answer", broken)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for _ in range(3):
            await tap_form(pilot, "test1")
            await type_into(pilot, "age", "5")
            await next_screen(pilot)
        text = screen_text(app)
        assert app.is_running
        assert "暂停服务，请找工作人员。" in text and "工作人员" in text
        assert "测试" not in text


# ---- read aloud (朗读) ------------------------------------------------------------------------


class RecordingSpeaker(Speaker):
    """espeak-ng's words for each 朗读, kept instead of played (no audio device here)."""

    def __init__(self) -> None:
        super().__init__()
        self.said: list[tuple[str, str | None]] = []
        self.stops = 0
        self._playing = False

    @property
    def speaking(self) -> bool:
        return self._playing

    def say(self, text: str, language: str | None) -> bool:
        self.said.append((text, language))
        self._playing = True
        return True

    def stop(self) -> None:
        self.stops += 1
        self._playing = False


async def test_read_aloud_speaks_the_question_and_stops_when_the_screen_changes(
        store: KioskStore):
    speaker = RecordingSpeaker()
    app = kiosk(store, read_aloud=True, speaker=speaker)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await walk_to_overall(pilot)
        assert "朗读" in screen_text(app)
        await tap(pilot, "#read-aloud")
        text, language = speaker.said[-1]
        assert language == "中文 (zh)"
        assert "总的来说，您对社区的工作满意吗" in text and "第1项，非常满意" in text
        await pilot.pause(0.3)  # a Textual button ignores a second press for 0.2 s
        await tap(pilot, "#read-aloud")  # pressed again: stop
        assert not speaker.speaking
        await keys(pilot, "f1")  # F1, and 0 where no box takes the digit, read aloud too
        await keys(pilot, "0")
        assert len(speaker.said) == 2 and not speaker.speaking
        await keys(pilot, "f1")
        assert speaker.speaking
        await keys(pilot, "2")
        await next_screen(pilot)  # another question: the speech stops
        assert not speaker.speaking


async def test_read_aloud_in_english_and_hidden_where_it_cannot_speak(store: KioskStore):
    speaker = RecordingSpeaker()
    app = kiosk(store, read_aloud=True, speaker=speaker)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap(pilot, "#lang-en")
        await tap_form(pilot, "satisfaction")
        await next_screen(pilot)
        assert "Read aloud" in screen_text(app)
        await tap(pilot, "#read-aloud")
        text, language = speaker.said[-1]
        assert language == "English (en)" and "Which group of residents" in text
    quiet = kiosk(store, read_aloud=False)
    async with quiet.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "satisfaction")
        assert "朗读" not in screen_text(quiet) and not quiet.screen.query("#read-aloud")
        await keys(pilot, "f1")  # the key does nothing either
    detected = kiosk(store)  # no choice made: offered where espeak-ng can speak Mandarin
    async with detected.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "satisfaction")
        assert bool(detected.screen.query("#read-aloud")) == speech.available("zh")


async def test_two_quick_number_keys_on_a_multi_select_tick_both(tmp_path):
    """Reported from the tablet test: the second key used to overwrite the first."""
    store = open_store(tmp_path / "kiosk.db")
    store.install_form(compile_xlsform(FORMS / "basics.md"))
    app = kiosk(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.start_form("test1")
        await pilot.pause()
        session = app.screen.session
        session.answer("age", 30)
        session.next()
        session.answer("ok", "yes")
        session.next()
        app.show_session(session)
        await pilot.pause()
        assert on_screen(app) == ["imp"]
        app.screen.action_pick(1)  # both keys before the first answer reaches the screen
        app.screen.action_pick(2)
        await pilot.pause()
        assert session.value("imp") == ["park", "other"]
        assert "● 停车" in screen_text(app) or "☑ 停车" in screen_text(app)


async def test_a_new_pin_takes_effect_in_a_running_kiosk(store: KioskStore, tmp_path: Path):
    """`kiosk config set-pin` while the kiosk runs: the new PIN opens the staff menu at
    once, the old one counts as a wrong try."""
    from kiosk.cli import main
    from kiosk.config import load_config, save_config

    path = save_config(CONFIG.with_changes(staff_pin_hash=PIN_HASH), tmp_path / "config.toml")
    app = kiosk(store, config=load_config(path), clock=Clock())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        result = CliRunner().invoke(main, ["--config", str(path), "--db",
                                           str(tmp_path / "other.db"), "config", "set-pin"],
                                    input="1357\n1357\n")
        assert result.exit_code == 0, result.output
        await tap(pilot, "#staff")
        await press_keypad(pilot, PIN)
        await tap(pilot, "#pin-ok")
        assert "工作人员菜单" not in screen_text(app)
        await press_keypad(pilot, "1357")
        await tap(pilot, "#pin-ok")
        assert "工作人员菜单" in screen_text(app)
    assert [event["event"] for event in store.staff_events()] == ["pin_wrong", "pin_ok"]

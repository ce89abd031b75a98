"""The kiosk screens driven like a resident would: taps, number keys and typing (Textual Pilot).

Assertions read what is on the screen (the rendered lines) and what is in the database.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Input

from kiosk.app import KioskApp
from kiosk.database import open_store
from kiosk.widgets.question import QuestionBlock
from store import KioskStore
from surveys.xlsform import compile_xlsform

FORMS = Path(__file__).parent / "forms"
SIZE = (100, 40)


# ---- helpers: what a resident sees and does ------------------------------------------------


def screen_text(app: KioskApp) -> str:
    """The characters on the terminal, line by line, as the resident sees them."""
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.text.rstrip() for strip in strips)


def block(app: KioskApp, name: str) -> QuestionBlock:
    for found in app.screen.query(QuestionBlock).results(QuestionBlock):
        if found.name == name:
            return found
    raise AssertionError(f"question {name!r} is not on the screen:\n{screen_text(app)}")


def on_screen(app: KioskApp) -> list[str]:
    """Names of the questions shown on the current screen."""
    return [found.name for found in app.screen.query(QuestionBlock).results(QuestionBlock)]


async def tap(pilot: Pilot, widget_or_selector: object) -> None:
    await pilot.click(widget_or_selector)  # type: ignore[arg-type]
    await pilot.pause()


async def tap_form(pilot: Pilot, survey_id: str) -> None:
    buttons = [button for button in pilot.app.screen.query(Button).results(Button)
               if button.name == survey_id]
    assert buttons, f"no button for {survey_id} on the home screen"
    await tap(pilot, buttons[0])


async def tap_choice(pilot: Pilot, name: str, label: str) -> None:
    """Tap the choice whose label (as shown) is ``label``."""
    question = block(pilot.app, name)  # type: ignore[arg-type]
    for button in question.query("Button.choice").results(Button):
        if str(button.label).endswith(f" {label}"):
            await tap(pilot, button)
            return
    raise AssertionError(f"no choice {label!r} in {name}")


async def type_into(pilot: Pilot, name: str, text: str) -> None:
    """Tap a question's box, clear it and type (Chinese characters included)."""
    field = block(pilot.app, name).query_one(Input)  # type: ignore[arg-type]
    await pilot.click(field)
    await pilot.press("home", "ctrl+k", *text)
    await pilot.pause()


async def next_screen(pilot: Pilot) -> None:
    await tap(pilot, "#next")


async def back(pilot: Pilot) -> None:
    await tap(pilot, "#back")


def draft_answers(store: KioskStore) -> dict[str, str]:
    drafts = store.open_drafts()
    assert len(drafts) == 1, drafts
    return drafts[0]["answers"]


@pytest.fixture
def basics_store(tmp_path: Path) -> KioskStore:
    """A kiosk database with the bundled forms plus the small test form (test1)."""
    store = open_store(tmp_path / "kiosk.db")
    store.install_form(compile_xlsform(FORMS / "basics.md"))
    yield store
    store.close()


def kiosk(store: KioskStore, **options: object) -> KioskApp:
    settings: dict[str, object] = {"home_after": 0.3, "tap_guard": 0.0}
    settings.update(options)
    return KioskApp(store, kiosk_id="hall-1", **settings)  # type: ignore[arg-type]


# ---- the small test form, end to end -------------------------------------------------------


async def test_resident_walks_the_test_form_to_the_receipt_and_home_comes_back(
        basics_store: KioskStore):
    store = basics_store
    app = kiosk(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "社工站 · 居民问卷" in screen_text(app)
        assert "测试" in screen_text(app)
        await tap_form(pilot, "test1")

        # First screen: a required integer. Nothing typed → the required message.
        text = screen_text(app)
        assert "年龄" in text and "*必答" in text
        assert "已答 0 题" in text
        await next_screen(pilot)
        assert "⚠ 这一题需要回答。" in screen_text(app)
        assert on_screen(app) == ["age"]

        # A constraint error is shown next to the question and the answer is not kept.
        await type_into(pilot, "age", "150")
        await next_screen(pilot)
        assert "⚠ 请输入0到120" in screen_text(app)
        assert on_screen(app) == ["age"]
        assert "age" not in (store.open_drafts() or [{"answers": {}}])[0]["answers"]

        # A good answer: saved as a draft at once, and the next screen follows (age > 10).
        await type_into(pilot, "age", "30")
        await next_screen(pilot)
        assert draft_answers(store)["age"] == "30"
        assert on_screen(app) == ["ok"]
        text = screen_text(app)
        assert "满意吗" in text and "请输入0到120" not in text
        assert "1  ○ 是" in text and "2  ○ 否" in text

        # Number key 1 picks 是; the draft has it before any further tap.
        await pilot.press("1")
        await pilot.pause()
        assert "1  ● 是" in screen_text(app)
        assert draft_answers(store)["ok"] == "yes"

        # Back to the age: the answer is still there; 5 makes 满意吗 irrelevant.
        await back(pilot)
        assert on_screen(app) == ["age"]
        assert block(app, "age").query_one(Input).value == "30"
        await type_into(pilot, "age", "5")
        await next_screen(pilot)
        assert on_screen(app) == ["imp"]  # 满意吗 skipped
        assert "满意吗" not in screen_text(app)
        assert "ok" not in draft_answers(store)  # the session cleared it; so did the draft

        # Multi-select: number keys toggle; 其他 brings its text question.
        await pilot.press("1", "2")
        await pilot.pause()
        assert "1  ☑ 停车" in screen_text(app) and "2  ☑ 其他" in screen_text(app)
        await pilot.press("1")
        await pilot.pause()
        assert "1  ☐ 停车" in screen_text(app)
        await tap_choice(pilot, "imp", "停车")
        assert "1  ☑ 停车" in screen_text(app)
        assert draft_answers(store)["imp"] == "park other"
        await next_screen(pilot)
        assert on_screen(app) == ["imp_other"]
        await type_into(pilot, "imp_other", "电梯")
        await next_screen(pilot)

        # A field-list group: two questions on one screen, with the group's title.
        assert on_screen(app) == ["nm", "d"]
        text = screen_text(app)
        assert "组" in text and "姓名" in text and "日期" in text and "例如 2026-11-23" in text
        assert draft_answers(store)["imp_other"] == "电梯"
        await type_into(pilot, "nm", "张三")
        await type_into(pilot, "d", "2999-01-01")  # after today(): the constraint refuses
        await next_screen(pilot)
        assert "⚠ 这个答案不符合要求，请再看一下。" in screen_text(app)
        assert on_screen(app) == ["nm", "d"]
        assert draft_answers(store)["nm"] == "张三"
        await tap(pilot, block(app, "d").query_one(".today"))
        assert "请再看一下" not in screen_text(app)
        today = block(app, "d").query_one(Input).value
        assert draft_answers(store)["d"] == today
        await next_screen(pilot)

        # A note with the answer filled into its label, then the 提交 step.
        assert "你好 5" in screen_text(app)
        await next_screen(pilot)
        text = screen_text(app)
        assert "问卷已经答完了" in text and "提交" in text

        await tap(pilot, "#submit")
        submissions = list(store.iter_submissions("test1"))
        assert len(submissions) == 1
        submission = submissions[0]
        assert submission["answers"] == {"age": 5, "imp": ["park", "other"],
                                         "imp_other": "电梯", "nm": "张三", "d": today,
                                         "c": "5x"}
        assert submission["kiosk"] == "hall-1"
        code = store.receipt_code_of(submission["instance_id"])
        assert code and len(code) == 9 and code[4] == "-"
        text = screen_text(app)
        assert "谢谢" in text and code in text
        assert store.open_drafts() == []  # the draft became the submission

        # After home_after seconds home comes back, with nothing of this resident on it.
        await pilot.pause(0.6)
        text = screen_text(app)
        assert "请点一下您要填写的问卷" in text
        for left_over in (code, "张三", "电梯", "年龄", "谢谢", "问卷已经答完了"):
            assert left_over not in text
        assert len(app.screen_stack) == 2  # Textual's blank default screen + home: no history


async def test_tapping_the_receipt_screen_goes_home_at_once(basics_store: KioskStore):
    app = kiosk(basics_store, home_after=60)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "test1")
        await type_into(pilot, "age", "８")  # full-width digit from a Chinese input method
        await pilot.press("enter")  # Enter in the last box moves on
        await pilot.pause()
        assert on_screen(app) == ["imp"]
        for _ in range(3):
            await next_screen(pilot)
        assert "问卷已经答完了" in screen_text(app)
        await tap(pilot, "#submit")
        code = basics_store.receipt_code_of(
            next(basics_store.iter_submissions("test1"))["instance_id"])
        assert code in screen_text(app)
        assert "秒后自动回到首页" in screen_text(app)
        await pilot.click(offset=(5, 5))
        await pilot.pause()
        text = screen_text(app)
        assert "请点一下您要填写的问卷" in text and code not in text


async def test_finish_with_a_problem_goes_back_to_that_question(basics_store: KioskStore):
    app = kiosk(basics_store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "test1")
        await type_into(pilot, "age", "40")
        await next_screen(pilot)
        await pilot.press("2")
        for _ in range(4):
            await next_screen(pilot)
        assert "问卷已经答完了" in screen_text(app)
        # The answer disappears behind the screens' back (as a form whose rules change an
        # earlier answer could); 提交 must lead the resident to it rather than store anything.
        app.screen.session.clear("age")  # type: ignore[attr-defined]
        await tap(pilot, "#submit")
        assert on_screen(app) == ["age"]
        assert "⚠ 这一题需要回答。" in screen_text(app)
        assert basics_store.submission_count("test1") == 0


async def test_back_on_the_first_screen_returns_home_and_abandons_the_draft(
        basics_store: KioskStore):
    app = kiosk(basics_store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "test1")
        await type_into(pilot, "age", "66")
        await pilot.press("tab")  # leaving the box hands the answer over too
        await pilot.pause()
        assert draft_answers(basics_store)["age"] == "66"
        assert "返回首页" in screen_text(app)
        await back(pilot)  # one tap too many on 上一题 only warns
        assert "⚠ 再点一次“返回首页”，已经填的答案就不要了" in screen_text(app)
        assert on_screen(app) == ["age"]
        await pilot.pause(0.3)  # a Textual button ignores a second press for 0.2 s
        await back(pilot)
        text = screen_text(app)
        assert "请点一下您要填写的问卷" in text and "66" not in text
        assert basics_store.open_drafts() == []
        assert basics_store.draft_counts() == {"abandoned": 1}


async def test_back_without_answers_goes_home_at_once(basics_store: KioskStore):
    app = kiosk(basics_store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "test1")
        await back(pilot)
        assert "请点一下您要填写的问卷" in screen_text(app)


async def test_residents_cannot_quit_or_open_the_command_palette(basics_store: KioskStore):
    app = kiosk(basics_store, developer=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for key in ("ctrl+q", "ctrl+c", "ctrl+p", "escape"):
            await pilot.press(key)
            await pilot.pause()
        assert app.is_running
        assert "请点一下您要填写的问卷" in screen_text(app)
        assert len(app.screen_stack) == 2


async def test_developers_quit_with_ctrl_q(basics_store: KioskStore):
    app = kiosk(basics_store, developer=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert not app.is_running


async def test_a_double_tap_on_next_moves_only_one_screen(basics_store: KioskStore):
    app = kiosk(basics_store, tap_guard=1.0)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(1.1)  # the home screen ignores taps for tap_guard seconds too
        await tap_form(pilot, "test1")
        await type_into(pilot, "age", "5")
        await pilot.pause(1.1)
        await pilot.click("#next")
        await pilot.click("#next")  # the second tap of a double tap lands on the new screen
        await pilot.pause()
        assert on_screen(app) == ["imp"]  # optional: a second 下一题 would have skipped it

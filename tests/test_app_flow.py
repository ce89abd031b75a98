"""The kiosk screens driven like a resident would: taps, number keys and typing (Textual Pilot).

Assertions read what is on the screen (the rendered lines) and what is in the database.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Input

from kiosk.app import KioskApp
from kiosk.config import DEFAULT_SURVEYS, KioskConfig, Site
from kiosk.widgets.question import QuestionBlock
from store import KioskStore, open_store
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
    field = block(pilot.app, name).query_one(".answer")  # type: ignore[arg-type]
    await pilot.click(field)
    await pilot.press("home", "ctrl+k", *text)
    await pilot.pause()


async def next_screen(pilot: Pilot) -> None:
    await tap(pilot, "#next")


async def back(pilot: Pilot) -> None:
    await tap(pilot, "#back")


async def wait_for(pilot: Pilot, condition: Callable[[], bool], seconds: float = 10) -> None:
    """Let the app run until ``condition`` holds (timers fire on their own)."""
    for _ in range(int(seconds / 0.1)):
        if condition():
            return
        await pilot.pause(0.1)
    raise AssertionError(f"still waiting after {seconds} s:\n{screen_text(pilot.app)}")


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


# The bundled questionnaires and the small test form, offered in this order.
CONFIG = KioskConfig(station_name="梁丰社区社工站", kiosk_id="hall-1",
                     surveys=("test1", *DEFAULT_SURVEYS))


def kiosk(store: KioskStore, **options: object) -> KioskApp:
    """The app as tests run it: no animations or cursor blink, long timers unless asked."""
    settings: dict[str, object] = {"home_after": 600, "tap_guard": 0.0, "config": CONFIG,
                                   "animations": False, "cursor_blink": False}
    settings.update(options)
    return KioskApp(store, **settings)  # type: ignore[arg-type]


# ---- the small test form, end to end -------------------------------------------------------


async def test_resident_walks_the_test_form_to_the_receipt_and_home_comes_back(
        basics_store: KioskStore):
    store = basics_store
    app = kiosk(store, home_after=3.0,
                config=CONFIG.with_changes(site=Site("九龙街道", "梁丰社区")))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "梁丰社区社工站" in screen_text(app)
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

        # A note with the answer filled into its label. It is the last screen and the form
        # asks for no review step: 完成 stores the questionnaire.
        text = screen_text(app)
        assert "你好 5" in text and "完成" in text and "下一题" not in text
        await next_screen(pilot)
        submissions = list(store.iter_submissions("test1"))
        assert len(submissions) == 1
        submission = submissions[0]
        assert submission["answers"] == {"age": 5, "imp": ["park", "other"],
                                         "imp_other": "电梯", "nm": "张三", "d": today,
                                         "c": "5x"}
        assert submission["kiosk"] == "hall-1"
        assert submission["site"] == "九龙街道/梁丰社区"  # the config's site, 街道/社区
        code = store.receipt_code_of(submission["instance_id"])
        assert code and len(code) == 9 and code[4] == "-"
        text = screen_text(app)
        assert "谢谢" in text and code in text
        assert store.open_drafts() == []  # the draft became the submission

        # After home_after seconds home comes back, with nothing of this resident on it.
        await wait_for(pilot, lambda: "请点一下您要填写的问卷" in screen_text(app))
        text = screen_text(app)
        assert "请点一下您要填写的问卷" in text
        for left_over in (code, "张三", "电梯", "年龄", "谢谢", "问卷已经答完了"):
            assert left_over not in text
        assert len(app.screen_stack) == 2  # Textual's blank default screen + home: no history


async def test_tapping_the_receipt_screen_goes_home_at_once(basics_store: KioskStore):
    app = kiosk(basics_store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "test1")
        await type_into(pilot, "age", "８")  # full-width digit from a Chinese input method
        await pilot.press("enter")  # Enter in the last box moves on
        await pilot.pause()
        assert on_screen(app) == ["imp"]
        for _ in range(3):  # imp, the name/date group, the note: 完成 stores it
            await next_screen(pilot)
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
        for _ in range(3):
            await next_screen(pilot)
        assert "你好 40" in screen_text(app) and "完成" in screen_text(app)
        # The answer disappears behind the screens' back (as a form whose rules change an
        # earlier answer could); 完成 must lead the resident to it rather than store anything.
        app.screen.session.clear("age")  # type: ignore[attr-defined]
        await next_screen(pilot)
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


# ---- the four bundled questionnaires, walked on the screen ---------------------------------



def at(app: KioskApp, *names: str) -> str:
    """Assert the screen shows exactly these questions, their labels visible; return the text."""
    assert on_screen(app) == list(names), screen_text(app)
    text = screen_text(app)
    for name in names:
        assert block(app, name).view.label[:12] in text, (name, text)
    return text


async def keys(pilot: Pilot, *pressed: str) -> None:
    await pilot.press(*pressed)
    await pilot.pause()


async def submit_and_read_receipt(pilot: Pilot, store: KioskStore, survey_id: str) -> dict:
    """From the last question: 完成 (→ 提交 when the form asks for a review step) → the
    receipt code on screen; returns the stored record."""
    app: KioskApp = pilot.app  # type: ignore[assignment]
    assert str(app.screen.query_one("#next", Button).label) == "完成"
    await next_screen(pilot)
    if store.load_form(survey_id).review_before_submit:
        assert "问卷已经答完了" in screen_text(app)
        assert store.submission_count(survey_id) == 0  # nothing stored before 提交
        await tap(pilot, "#submit")
    else:
        assert "问卷已经答完了" not in screen_text(app)
    records = list(store.iter_submissions(survey_id))
    assert len(records) == 1
    code = store.receipt_code_of(records[0]["instance_id"])
    assert code in screen_text(app)
    assert store.open_drafts() == []
    return records[0]


async def test_satisfaction_survey_on_screen(store: KioskStore):
    app = kiosk(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "satisfaction")
        at(app, "intro")
        await next_screen(pilot)
        at(app, "respondent_group")
        await keys(pilot, "1")  # 老年人
        await next_screen(pilot)
        at(app, "age_band")
        await keys(pilot, "5")  # 70–79岁
        await next_screen(pilot)

        # 其他社区 skips the estate question and asks for the name instead.
        at(app, "community")
        await tap_choice(pilot, "community", "其他社区")
        await next_screen(pilot)
        at(app, "estate_text")
        await type_into(pilot, "estate_text", "一个名字非常非常长的社区" * 3)  # 36 characters
        # One limit, the form's own: said under the box, and refused while typing past it
        # (the form's 请用30个字以内填写 on 下一题 can no longer differ from it).
        text = at(app, "estate_text")
        assert "⚠ 太长了：这里最多可以填 30 个字。" in text and "最多 30 个字，已写 30 个字" in text
        assert block(app, "estate_text").typed_text() == ("一个名字非常非常长的社区" * 3)[:30]
        assert "estate_text" not in draft_answers(store)

        # Back: the community is still chosen; another one brings its own estates.
        await back(pilot)
        assert "● 其他社区" in at(app, "community")
        await tap_choice(pilot, "community", "梁丰社区")
        await next_screen(pilot)
        text = at(app, "estate")
        assert "梁丰花园" in text and "康乐新村" in text and "南苑新村" not in text
        await keys(pilot, "2")
        await next_screen(pilot)

        # 不满意 brings the follow-up question.
        at(app, "overall")
        await keys(pilot, "4")  # the scale runs 非常满意 … 非常不满意: 4 is 不满意
        assert "● 不满意" in screen_text(app)
        await next_screen(pilot)
        at(app, "unsatisfied_reason")
        await type_into(pilot, "unsatisfied_reason", "楼道灯常坏")
        await next_screen(pilot)

        # 都没有用过 cannot go with another service: refused, shown, not kept.
        at(app, "services_used")
        await keys(pilot, "1", "6")
        text = screen_text(app)
        assert "⚠ 选了最后一项（都没有），就不能再选其他项" in text
        assert "☐ 都没有用过" in text and "☑ 为老服务" in text
        await keys(pilot, "5")
        assert "选了最后一项" not in screen_text(app)
        assert draft_answers(store)["services_used"] == "elderly hall"
        await next_screen(pilot)
        at(app, "sat_elderly")  # only the services used are asked about
        await keys(pilot, "1")
        await next_screen(pilot)
        at(app, "sat_hall")
        await keys(pilot, "2")
        await next_screen(pilot)
        at(app, "sat_environment")
        await keys(pilot, "3")
        await next_screen(pilot)

        # At most 3 projects: the 4th is refused with the form's message.
        at(app, "improvements")
        await keys(pilot, "1", "2", "3", "4")
        assert "⚠ 最多选3项" in screen_text(app)
        await keys(pilot, "3")
        await tap_choice(pilot, "improvements", "其他")
        assert draft_answers(store)["improvements"] == "parking ebike_charging other"
        await next_screen(pilot)
        at(app, "improvements_other")
        await type_into(pilot, "improvements_other", "加装电梯")
        await next_screen(pilot)
        at(app, "suggestion")
        await next_screen(pilot)  # optional: may stay empty
        at(app, "thanks")
        record = await submit_and_read_receipt(pilot, store, "satisfaction")
        answers = record["answers"]
        assert answers["community"] == "liangfeng" and answers["estate"] == "kangle_xincun"
        assert "estate_text" not in answers
        assert answers["overall"] == "2" and answers["unsatisfied_reason"] == "楼道灯常坏"
        assert answers["services_used"] == ["elderly", "hall"]
        assert answers["improvements"] == ["parking", "ebike_charging", "other"]
        assert answers["improvements_other"] == "加装电梯"
        assert "sat_children" not in answers and "suggestion" not in answers


async def test_service_request_on_screen(store: KioskStore):
    app = kiosk(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "service_request")
        at(app, "intro")
        await next_screen(pilot)

        # 其他 asks what it is about; too long a reply is refused.
        at(app, "category")
        await tap_choice(pilot, "category", "其他")
        await next_screen(pilot)
        at(app, "category_specify")
        await type_into(pilot, "category_specify", "邻里之间的一些事情" * 4)
        text = at(app, "category_specify")
        assert "⚠ 太长了：这里最多可以填 30 个字。" in text and "最多 30 个字，已写 30 个字" in text
        await back(pilot)
        at(app, "category")
        await keys(pilot, "1")  # 养老: no need to say more
        await next_screen(pilot)
        at(app, "for_whom")
        await keys(pilot, "2")
        await next_screen(pilot)
        at(app, "community")
        await keys(pilot, "3")
        await next_screen(pilot)

        # The form's own required message.
        at(app, "description")
        await next_screen(pilot)
        assert "⚠ 请简单写一下需要什么帮助。" in at(app, "description")
        await type_into(pilot, "description", "母亲八十多岁，想申请助餐")
        await next_screen(pilot)

        at(app, "urgency")
        await keys(pilot, "1")  # 很急 → the emergency note
        await next_screen(pilot)
        assert "110或120" in at(app, "urgent_note")
        await next_screen(pilot)

        at(app, "followup")
        await keys(pilot, "1")  # 电话回访: name and phone, no address or office time
        await next_screen(pilot)
        at(app, "contact_name")
        await type_into(pilot, "contact_name", "王阿姨")
        await next_screen(pilot)
        at(app, "contact_phone")
        await next_screen(pilot)
        assert "⚠ 电话回访需要留下手机号码。" in screen_text(app)
        await type_into(pilot, "contact_phone", "1234567")
        await next_screen(pilot)
        assert "⚠ 手机号码应是1开头的11位数字" in at(app, "contact_phone")
        await type_into(pilot, "contact_phone", "13812345678")
        await pilot.press("enter")  # Enter in the last box is 下一题
        await pilot.pause()
        at(app, "thanks")
        record = await submit_and_read_receipt(pilot, store, "service_request")
        answers = record["answers"]
        assert answers["category"] == "elderly" and "category_specify" not in answers
        assert answers["contact_phone"] == "13812345678"
        assert answers["contact_name"] == "王阿姨"
        assert "contact_address" not in answers and "office_time" not in answers


async def test_marriage_reform_survey_on_screen(store: KioskStore):
    app = kiosk(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "marriage_reform")
        at(app, "intro")
        await next_screen(pilot)
        at(app, "gender")
        await keys(pilot, "2")
        await next_screen(pilot)
        at(app, "age_band")
        await keys(pilot, "2")
        await next_screen(pilot)
        at(app, "marital_status")
        await keys(pilot, "1")  # 未婚: no questions about one's own wedding
        await next_screen(pilot)

        # 不应该要彩礼 skips the amount; back and another view asks it.
        at(app, "bride_price_view")
        await keys(pilot, "1")
        await next_screen(pilot)
        at(app, "bride_price_burden")
        await back(pilot)
        assert "● 不应该要彩礼" in at(app, "bride_price_view")
        await keys(pilot, "2")
        await next_screen(pilot)
        at(app, "bride_price_amount")
        assert "例如 10000" in screen_text(app)  # the hint
        await type_into(pilot, "bride_price_amount", "600000")
        await next_screen(pilot)
        assert "⚠ 请填0到500000之间的数（单位：元）。" in at(app, "bride_price_amount")
        await type_into(pilot, "bride_price_amount", "8000")
        await next_screen(pilot)
        assert draft_answers(store)["bride_price_amount"] == "8000"
        at(app, "bride_price_burden")
        await keys(pilot, "3")
        await next_screen(pilot)
        at(app, "reasonable_tables")  # the own-wedding group is skipped for a single person
        await keys(pilot, "2")
        await next_screen(pilot)
        at(app, "group_wedding")
        await keys(pilot, "3")  # 不愿意 → why not
        await next_screen(pilot)
        at(app, "group_wedding_reasons")
        await keys(pilot, "1")
        await next_screen(pilot)
        at(app, "matchmaking")
        await keys(pilot, "1")
        await next_screen(pilot)
        at(app, "matchmaking_types")
        await keys(pilot, "1", "4")
        await next_screen(pilot)
        at(app, "reform_measures")
        await keys(pilot, "6", "1")
        assert "⚠ 选了最后一项（都没有），就不能再选其他项" in screen_text(app)
        await keys(pilot, "6", "1", "2")  # un-tick 都不支持, then two measures
        assert "选了最后一项" not in screen_text(app)
        await next_screen(pilot)
        at(app, "comment")
        await next_screen(pilot)
        at(app, "thanks")
        record = await submit_and_read_receipt(pilot, store, "marriage_reform")
        answers = record["answers"]
        assert answers["bride_price_view"] == "symbolic"
        assert answers["bride_price_amount"] == 8000
        assert answers["group_wedding_reasons"] == ["not_grand"]
        assert answers["matchmaking_types"] == ["outdoor", "sports"]
        assert answers["reform_measures"] == ["low_bride_price", "limit_banquet"]
        assert not any(name.startswith("own_") for name in answers)


async def test_home_adaptation_assessment_on_screen(store: KioskStore):
    app = kiosk(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "home_adaptation")
        at(app, "intro")
        await next_screen(pilot)

        # The visit date starts as today; a later date is refused.
        at(app, "visit_date")
        today = block(app, "visit_date").query_one(Input).value
        assert today and today in screen_text(app)
        await type_into(pilot, "visit_date", "2999-01-01")
        await next_screen(pilot)
        assert "⚠ 走访日期不能晚于今天。" in at(app, "visit_date")
        await tap(pilot, block(app, "visit_date").query_one(".today"))
        assert "走访日期不能晚于今天" not in screen_text(app)
        await next_screen(pilot)

        # A field-list group: three boxes on one screen, with the group's title.
        assert "老人信息" in at(app, "resident_name", "address", "phone")
        await type_into(pilot, "resident_name", "李奶奶")
        await type_into(pilot, "address", "梁丰花园3幢201")
        await type_into(pilot, "phone", "12345")
        await next_screen(pilot)
        assert "⚠ 电话号码不对" in at(app, "resident_name", "address", "phone")
        await type_into(pilot, "phone", "0512-58123456")
        await next_screen(pilot)
        at(app, "community")
        await keys(pilot, "1")
        await next_screen(pilot)

        # Living alone skips the two questions about who else lives there…
        at(app, "household_size")
        await type_into(pilot, "household_size", "1")
        await next_screen(pilot)
        at(app, "elders_count")
        await type_into(pilot, "elders_count", "2")
        await next_screen(pilot)
        assert "⚠ 老人人数应在1人到家庭常住人数之间" in at(app, "elders_count")
        # …so the volunteer goes back and corrects the household size.
        await back(pilot)
        at(app, "household_size")
        await type_into(pilot, "household_size", "3")
        await next_screen(pilot)
        # The two who live with her, one by one: three screens each.
        for number, (name, age, relation) in enumerate(
                (("王德福", "88", "老伴"), ("王强", "60", "儿子")), start=1):
            assert f"第 {number} 位同住的家人" in at(app, "member_name", "member_age")
            await type_into(pilot, "member_name", name)
            await type_into(pilot, "member_age", age)
            await next_screen(pilot)
            assert f"{name}是老人的什么人？" in at(app, "member_relation")
            await tap_choice(pilot, "member_relation", relation)
            await next_screen(pilot)
            at(app, "member_mobility", "member_needs_care")
            await tap_choice(pilot, "member_mobility", "要拄拐杖或用助行器")
            await tap_choice(pilot, "member_needs_care", "是" if number == 1 else "否")
            await next_screen(pilot)
        at(app, "living_arrangement")
        await keys(pilot, "2")
        await next_screen(pilot)
        at(app, "alone_daytime")
        await keys(pilot, "1")
        await next_screen(pilot)
        at(app, "elders_count")
        await type_into(pilot, "elders_count", "2")
        await next_screen(pilot)
        at(app, "oldest_age")
        await type_into(pilot, "oldest_age", "86")
        await next_screen(pilot)
        at(app, "mobility")
        await keys(pilot, "2")
        await next_screen(pilot)
        at(app, "conditions")
        await keys(pilot, "1")
        await next_screen(pilot)

        # Relevance inside one screen: a floor above 1 brings the lift question at once.
        assert "住房情况" in at(app, "floor")
        await type_into(pilot, "floor", "5")
        await pilot.press("enter")
        await pilot.pause()
        at(app, "floor", "elevator")
        assert block(app, "floor").query_one(Input).value == "5"
        await tap_choice(pilot, "elevator", "否")
        await next_screen(pilot)

        for room, choice in (("bath", "地面湿滑"), ("bedroom", "没有不方便"),
                             ("stairs", "楼道光线暗"), ("kitchen", "没有不方便")):
            at(app, f"{room}_difficulty", f"{room}_remarks")
            await tap_choice(pilot, f"{room}_difficulty", choice)
            await next_screen(pilot)
        at(app, "subsidy_status")
        await keys(pilot, "5")
        await next_screen(pilot)

        # The plan computed from the answers, room by room with the reasons, in the note.
        plan = ("卫生间：防滑地面（地面湿滑）；卧室：床边扶手（要拄拐杖或用助行器）、"
                "床头开关或感应夜灯（眼神不好）；楼梯和进出门：楼道感应灯（楼道光线暗）；"
                "全屋：紧急呼叫器（白天常独自在家）")
        assert f"建议改造项目：{plan}。" in "".join(at(app, "plan_note").split())
        await next_screen(pilot)
        at(app, "agree_plan")
        await keys(pilot, "1")
        await next_screen(pilot)
        at(app, "self_pay")
        await keys(pilot, "2")
        await next_screen(pilot)
        at(app, "next_visit")  # optional
        await next_screen(pilot)
        at(app, "volunteer_remarks")
        await next_screen(pilot)

        # acknowledge: a big 确认 button.
        at(app, "explained")
        await next_screen(pilot)
        assert "⚠ 这一题需要回答。" in screen_text(app)
        await tap(pilot, block(app, "explained").query_one(Button))
        assert "✓ 已确认" in screen_text(app)
        record = await submit_and_read_receipt(pilot, store, "home_adaptation")
        answers = record["answers"]
        assert answers["visit_date"] == today
        assert answers["phone"] == "0512-58123456"
        assert answers["household_size"] == 3 and answers["elders_count"] == 2
        assert [(member["member_name"], member["member_relation"], member["member_age"],
                 member["member_needs_care"]) for member in answers["members"]] == [
            ("王德福", "spouse", 88, "yes"), ("王强", "son", 60, "no")]
        assert answers["older_members"] == "2" and answers["community"] == "liangfeng"
        assert answers["elevator"] == "no"
        assert answers["plan"] == plan
        assert answers["explained"] == "OK"


async def test_a_returning_resident_goes_on_typing_after_the_answer_they_gave(
        basics_store: KioskStore):
    """上一题 back to a text answer: nothing is selected and the cursor stands at its end,
    so what the resident types is added, never a replacement of what they wrote."""
    store = basics_store
    app = kiosk(store, config=CONFIG)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "test1")
        await type_into(pilot, "age", "30")
        await next_screen(pilot)
        await pilot.press("1")
        await next_screen(pilot)
        await next_screen(pilot)  # 改进: nothing ticked
        assert "nm" in on_screen(app)
        await type_into(pilot, "nm", "希望政府多办集体婚礼")
        await next_screen(pilot)
        assert "nm" not in on_screen(app)
        assert draft_answers(store)["nm"] == "希望政府多办集体婚礼"
        await back(pilot)
        field = block(app, "nm").query_one(Input)
        assert app.focused is field and field.value == "希望政府多办集体婚礼"
        assert field.selection.start == field.selection.end == len(field.value)
        await pilot.press(*"并补贴新人")
        await pilot.pause()
        assert field.value == "希望政府多办集体婚礼并补贴新人"
        await next_screen(pilot)
        assert draft_answers(store)["nm"] == "希望政府多办集体婚礼并补贴新人"
        # A tap on the box does not select it either: what is typed goes in beside.
        await back(pilot)
        field = block(app, "nm").query_one(Input)
        await pilot.click(field)
        await pilot.press(*"吧")
        await pilot.pause()
        assert len(field.value) == len("希望政府多办集体婚礼并补贴新人吧")
        assert "吧" in field.value and "婚礼" in field.value and "新人" in field.value


async def test_a_number_is_read_as_people_write_it_and_anything_else_is_refused(
        basics_store: KioskStore):
    """年龄 "三十" is 30 and said so before 下一题; "3x0" is no number: refused with the
    message and nothing kept, never shortened to 30."""
    store = basics_store
    app = kiosk(store, config=CONFIG)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "test1")
        await type_into(pilot, "age", "3x0")
        assert block(app, "age").query_one(Input).value == "3x0"  # nothing dropped
        await next_screen(pilot)
        assert on_screen(app) == ["age"]
        assert "⚠" in at(app, "age")
        assert "age" not in (store.open_drafts() or [{"answers": {}}])[0]["answers"]
        await type_into(pilot, "age", "三十")
        assert "= 30" in at(app, "age")
        await next_screen(pilot)
        assert draft_answers(store)["age"] == "30"
        assert on_screen(app) == ["ok"]

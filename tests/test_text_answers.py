"""Long text answers (issue 14, item 1): a box that shows everything typed, one length limit
said before it is reached, and nothing wiped when the resident comes back to add more."""

from __future__ import annotations

from textual import events
from textual.pilot import Pilot

from kiosk.widgets.inputs import KioskInput, KioskTextArea
from store import KioskStore
from tests.test_app_flow import SIZE, at, back, block, kiosk, next_screen, screen_text, tap_form

# 52 characters: more than a one-line box of the old kind showed (28).
LONG = ("家里老人腿脚不便想申请助餐送餐服务老人今年八十五岁独自居住"
        "子女在外地工作平时没人照顾希望社区帮忙安排")


def squashed(text: str) -> str:
    """The screen's text without spaces, line breaks and box edges (a wrapped answer joined)."""
    return "".join(char for char in text if char not in " \n┃━┏┓┗┛▊▎▔▁")


async def to_description(pilot: Pilot) -> None:
    await tap_form(pilot, "service_request")
    await next_screen(pilot)
    for key in ("1", "1", "3"):  # 养老, 自己, 城北社区
        await pilot.press(key)
        await pilot.pause()
        await next_screen(pilot)
    at(pilot.app, "description")  # type: ignore[arg-type]


async def test_a_long_answer_is_shown_whole_with_its_limit(store: KioskStore):
    app = kiosk(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await to_description(pilot)
        box = block(app, "description").query_one(".answer")
        assert isinstance(box, KioskTextArea)  # a long answer on its own screen
        assert app.focused is box
        assert "最多 500 个字，已写 0 个字" in screen_text(app)
        await pilot.press(*LONG)
        await pilot.pause()
        text = screen_text(app)
        assert LONG in squashed(text)  # every character in view, over two lines
        assert f"最多 500 个字，已写 {len(LONG)} 个字" in text
        assert box.size.height >= 2


async def test_coming_back_to_a_long_answer_adds_to_it(store: KioskStore):
    app = kiosk(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await to_description(pilot)
        await pilot.press(*"想申请助餐")
        await pilot.press("enter")  # Enter is 下一题 (no line break in the answer)
        await pilot.pause()
        assert "description" not in [found.name for found in
                                     app.screen.query("QuestionBlock")]
        await back(pilot)
        box = block(app, "description").query_one(".answer")
        assert isinstance(box, KioskTextArea) and app.focused is box
        assert box.selected_text == ""  # nothing selected: typing adds, never replaces
        await pilot.press(*"最好中午送")
        await pilot.pause()
        assert box.text == "想申请助餐最好中午送"
        assert app.current_session is not None
        await next_screen(pilot)
        assert app.current_session.value("description") == "想申请助餐最好中午送"


async def test_a_pasted_line_break_or_too_much_is_refused_whole(store: KioskStore):
    app = kiosk(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await to_description(pilot)
        box = block(app, "description").query_one(".answer")
        assert isinstance(box, KioskTextArea)
        box.post_message(events.Paste("第一行\n第二行"))
        await pilot.pause()
        assert box.text == ""
        assert "控制字符" in screen_text(app)
        box.post_message(events.Paste("长" * 501))
        await pilot.pause()
        assert box.text == ""  # refused whole: never cut to 500
        assert "太长了：这里最多可以填 500 个字。" in screen_text(app)
        box.post_message(events.Paste("长" * 500))
        await pilot.pause()
        assert len(box.text) == 500


async def test_short_answers_keep_a_one_line_box_with_the_form_s_limit(store: KioskStore):
    app = kiosk(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "service_request")
        await next_screen(pilot)
        await pilot.press("7")  # 其他: say what it is about, at most 30 characters
        await pilot.pause()
        await next_screen(pilot)
        box = block(app, "category_specify").query_one(".answer")
        assert isinstance(box, KioskInput) and box.limit == 30
        assert "最多 30 个字，已写 0 个字" in screen_text(app)

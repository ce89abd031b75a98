"""Volunteers at the kiosk (issue 5): card scans from keyboard-wedge scanners on any screen,
check-in and check-out, and field mode on tablets.

Scans are driven through Textual's Pilot as a scanner sends them: a burst of keys and Enter.
Pilot presses a key every ~60 ms of real time whatever the test wants, so the pace of the
keys is chosen by a clock given to the kiosk (``scan_clock``): 3 ms a key for a scanner,
150 ms for a person. Assertions read the screen, the database and the print queue.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from textual import events
from textual.keys import _character_to_key
from textual.pilot import Pilot
from textual.widgets import Button, Input

from kiosk.app import KioskApp
from kiosk.cards.payload import looks_like_card, make_payload
from kiosk.config import hash_pin
from kiosk.screens.idle import IdleScreen
from kiosk.screens.questionnaire import FormScreen, ReviewScreen
from kiosk.screens.thanks import ThanksScreen
from kiosk.screens.volunteer import ScanResultScreen
from kiosk.volunteers.roster import add_volunteer, new_volunteer, reissue_card
from kiosk.widgets.wedge import WEB_GAP, KeyboardWedge, could_become_card, pasted_card
from store import KioskStore, open_store
from surveys.xlsform import compile_xlsform
from tests.test_app_flow import (
    CONFIG,
    FORMS,
    SIZE,
    block,
    draft_answers,
    kiosk,
    on_screen,
    screen_text,
    tap,
    tap_form,
    type_into,
    wait_for,
)

SECRET = b"volunteer-card-secret-for-tests!"
CARD = make_payload("JG0042", 1, SECRET)
SCANNER, PERSON = 0.003, 0.150  # seconds between two keys


class KeyPace:
    """A clock for the scanner watch that moves on by ``step`` at every key."""

    def __init__(self, step: float) -> None:
        self.step = step
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def key_events(text: str) -> list[events.Key]:
    """The key events a keyboard (or a keyboard-wedge scanner) sends for ``text``."""
    found = []
    for char in text:
        if char == "\r":
            found.append(events.Key("enter", "\r"))
        else:
            found.append(events.Key(char if char.isalnum() else _character_to_key(char), char))
    return found


def feed_all(wedge: KeyboardWedge, text: str) -> tuple[list[events.Key], list[str]]:
    """Feed ``text`` key by key; the keys handed to the screen and the scans found."""
    released: list[events.Key] = []
    scans: list[str] = []
    for key in key_events(text):
        fed = wedge.feed(key)
        released += fed.release
        if fed.scan is not None:
            scans.append(fed.scan)
    return released, scans


# ---- telling a scanner from a person -------------------------------------------------------


def test_a_fast_burst_that_spells_a_card_and_ends_in_enter_is_a_scan():
    assert looks_like_card(CARD)
    wedge = KeyboardWedge(clock=KeyPace(SCANNER))
    released, scans = feed_all(wedge, CARD + "\r")
    assert scans == [CARD]
    assert released == []  # nothing of it reaches the screen, not even the Enter
    assert not wedge.holding


def test_the_same_card_typed_by_a_person_reaches_the_screen_key_for_key():
    wedge = KeyboardWedge(clock=KeyPace(PERSON))
    released, scans = feed_all(wedge, CARD + "\r")
    assert scans == []
    assert "".join(key.character or "" for key in released) == CARD + "\r"


def test_one_slow_key_in_the_middle_makes_it_typing():
    pace = KeyPace(SCANNER)
    wedge = KeyboardWedge(clock=pace)
    released, scans = feed_all(wedge, CARD[:10])
    pace.now += 0.2  # a person's pause
    more, more_scans = feed_all(wedge, CARD[10:] + "\r")
    assert scans == more_scans == []
    assert "".join(key.character or "" for key in released + more) == CARD + "\r"


def test_on_a_tablet_a_burst_spread_by_the_wifi_is_still_a_scan():
    assert feed_all(KeyboardWedge(clock=KeyPace(0.1)), CARD + "\r")[1] == []
    assert feed_all(KeyboardWedge(WEB_GAP, clock=KeyPace(0.1)), CARD + "\r")[1] == [CARD]


def test_an_enter_that_comes_late_is_not_a_scan():
    pace = KeyPace(SCANNER)
    wedge = KeyboardWedge(clock=pace)
    feed_all(wedge, CARD)
    pace.now += 0.5
    released, scans = feed_all(wedge, "\r")
    assert scans == []
    assert "".join(key.character or "" for key in released) == CARD + "\r"


@pytest.mark.parametrize("text", [
    "V1.JG0042.1.SHORT\r",  # too short a signature
    "V2.JG0042.1.MZXW6YTBOI2DEMRU\r",  # another version
    "VOLUNTEER\r",
    "1234567890123456789012345\r",  # digits only: a person's phone number, say
    "hello world, this is typed fast\r",
])
def test_fast_text_that_is_not_a_card_reaches_the_screen_unchanged(text: str):
    wedge = KeyboardWedge(clock=KeyPace(SCANNER))
    released, scans = feed_all(wedge, text)
    assert scans == []
    assert "".join(key.character or "" for key in released) == text
    assert [key.key for key in released] == [key.key for key in key_events(text)]


def test_caps_lock_and_a_stray_v_before_the_card():
    wedge = KeyboardWedge(clock=KeyPace(SCANNER))
    released, scans = feed_all(wedge, "v" + CARD.lower() + "\r")
    assert scans == [CARD]  # the card's letters are case-blind
    assert [key.character for key in released] == ["v"]


def test_keys_that_cannot_begin_a_card_are_never_held():
    wedge = KeyboardWedge(clock=KeyPace(SCANNER))
    for key in key_events("12张三a"):
        assert wedge.feed(key).release == [key]
    assert not wedge.holding


def test_what_may_begin_a_card():
    for text in ("V", "v1", "V1.", "V1.JG-0042", "V1.JG0042.12.", "V1.A.1.ABCDEFGHIJKLMNOP"):
        assert could_become_card(text), text
    for text in ("", "1", "V2", "V1..", "V1.A.0", "V1.A.1.ABC1", "V1.A.1.ABCDEFGHIJKLMNOPQ",
                 "V1.A.1.B.C"):
        assert not could_become_card(text), text


def test_a_pasted_card_is_a_scan_and_other_pastes_are_not():
    assert pasted_card(CARD + "\r\n") == CARD
    assert pasted_card(" " + CARD.lower()) == CARD
    assert pasted_card("梁丰花园3幢201") is None
    assert pasted_card(CARD + " extra") is None


# ---- scans on the kiosk's screens ------------------------------------------------------------


@pytest.fixture
def basics_store(tmp_path: Path) -> KioskStore:
    """The bundled forms plus the small test form (test1)."""
    store = open_store(tmp_path / "kiosk.db")
    store.install_form(compile_xlsform(FORMS / "basics.md"))
    yield store
    store.close()


async def test_a_resident_typing_fast_into_a_box_is_not_taken_for_a_scan(
        basics_store: KioskStore):
    """Even a card-like text typed at a person's pace lands in the box, Enter and all."""
    app = kiosk(basics_store, scan_clock=KeyPace(PERSON), scan_hold=1.0, card_secret=SECRET)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "test1")
        await tap_form_next_to_text(pilot)
        await type_into(pilot, "imp_other", "Vivian V1.JG")
        assert block(app, "imp_other").query_one(Input).value == "Vivian V1.JG"
        assert len(app.screen_stack) == 2  # no volunteer screen


async def tap_form_next_to_text(pilot) -> None:
    """From test1's first screen to its free-text question (imp_other)."""
    app = pilot.app
    await type_into(pilot, "age", "30")
    await tap(pilot, "#next")
    await pilot.press("1")
    await tap(pilot, "#next")
    await pilot.press("2")  # 其他 brings its text question
    await pilot.pause()
    await tap(pilot, "#next")
    assert on_screen(app) == ["imp_other"], screen_text(app)


async def test_without_cards_set_up_home_offers_no_volunteer_button_and_a_scan_says_so(
        basics_store: KioskStore):
    app = kiosk(basics_store, scan_clock=KeyPace(SCANNER), scan_hold=1.0)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "志愿者" not in screen_text(app)
        await pilot.press(*CARD, "enter")
        await pilot.pause()
        text = screen_text(app)
        assert "暂时不能识别志愿者证" in text and "请找工作人员" in text
        await tap(pilot, "#volunteer-ok")
        assert "请点一下您要填写的问卷" in screen_text(app)
        assert on_screen(app) == []  # the digits of the card opened no questionnaire


# ---- check-in and check-out at the hall --------------------------------------------------------

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOME_HINT = "请点一下您要填写的问卷"
WANG = make_payload("JG0042", 1, SECRET)
LI = make_payload("JG0043", 1, SECRET)


class Clock:
    """The kiosk's time (home screen, check-in and check-out), moved on by the test."""

    def __init__(self) -> None:
        self.moment = dt.datetime(2026, 11, 23, 14, 5, tzinfo=SHANGHAI)

    def __call__(self) -> dt.datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += dt.timedelta(**delta)


@pytest.fixture
def roster(store: KioskStore) -> KioskStore:
    """The bundled forms, the small test form and two volunteers with cards."""
    store.install_form(compile_xlsform(FORMS / "basics.md"))
    today = dt.date(2026, 11, 1)
    add_volunteer(store, new_volunteer("JG0042", "王芳", "13912345678", team="心语志愿服务队",
                                       today=today))
    add_volunteer(store, new_volunteer("JG0043", "李明", "13812345678", today=today))
    return store


def volunteer_kiosk(store: KioskStore, clock: Clock, pace: float = SCANNER,
                    **options: object) -> KioskApp:
    return kiosk(store, clock=clock, card_secret=SECRET, scan_clock=KeyPace(pace),
                 scan_hold=1.0, **options)


async def scan(pilot: Pilot, card: str = WANG) -> str:
    """A keyboard-wedge scanner reads the card: its keys, then Enter; returns the screen."""
    await pilot.press(*card, "enter")
    await pilot.pause()
    return screen_text(pilot.app)  # type: ignore[arg-type]


async def close_result(pilot: Pilot) -> None:
    await tap(pilot, "#volunteer-ok")
    assert not isinstance(pilot.app.screen, ScanResultScreen)


async def test_first_scan_checks_in_the_next_checks_out_with_the_hours_and_a_slip(
        roster: KioskStore):
    clock = Clock()
    app = volunteer_kiosk(roster, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "志愿者签到" in screen_text(app)
        text = await scan(pilot)
        assert "签到成功" in text
        assert "王芳，您好！签到成功，签到时间 14:05。" in text
        assert HOME_HINT not in text  # the result covers home
        session = roster.last_volunteer_session("JG0042")
        assert session is not None and session.open and session.kiosk == "hall-1"
        await close_result(pilot)
        assert HOME_HINT in screen_text(app)
        assert on_screen(app) == []  # the card's digits opened no questionnaire

        clock.advance(hours=2, minutes=30)
        text = await scan(pilot)
        assert "签退成功" in text
        # One phrase a line, so no phrase is ever broken (本月累计 0.03 / 小时 was).
        lines = [line.strip() for line in text.splitlines()]
        assert {"签退时间 16:35", "本次服务 2.5 小时", "本月累计 2.5 小时"} <= set(lines)
        assert not roster.last_volunteer_session("JG0042").open
        slips = [job for job in roster.print_jobs() if job.kind == "slip"]
        assert len(slips) == 1 and "王芳" in slips[0].title
        printed = str(slips[0].document)
        for words in ("志愿服务签退单", "王芳", "心语志愿服务队", "2.5 小时", "梁丰社区社工站"):
            assert words in printed, words

        # It closes by itself too (10 s for a check-out); here a tap anywhere does it.
        await pilot.click("#volunteer-heading")
        await pilot.pause()
        assert HOME_HINT in screen_text(app)


async def test_a_repeat_scan_within_a_minute_is_ignored_with_a_friendly_word(
        roster: KioskStore):
    clock = Clock()
    app = volunteer_kiosk(roster, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await scan(pilot)
        clock.advance(seconds=20)
        text = await scan(pilot)  # a second scan while the first greeting shows
        assert "已经扫过了" in text and "刚刚已经扫过了，您已在 14:05 签到" in text
        assert len(app.screen_stack) == 3  # the newer result replaced the older one
        assert roster.last_volunteer_session("JG0042").open  # still checked in
        await close_result(pilot)
        assert HOME_HINT in screen_text(app)


async def test_refused_cards_say_why(roster: KioskStore):
    clock = Clock()
    reissue_card(roster, "JG0042")  # the card with serial 1 was lost: a new one was made
    app = volunteer_kiosk(roster, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        text = await scan(pilot, WANG)
        assert "这张志愿者证不能用" in text and "这张卡已经作废（已补办新卡）" in text
        await close_result(pilot)
        forged = WANG[:-4] + ("AAAA" if not WANG.endswith("AAAA") else "BBBB")
        text = await scan(pilot, forged)
        assert "这张卡无法识别" in text and "请找工作人员" in text
        await close_result(pilot)
        assert roster.last_volunteer_session("JG0042") is None


async def test_a_short_session_is_flagged_and_a_session_left_open_closes_at_day_end(
        roster: KioskStore):
    clock = Clock()
    app = volunteer_kiosk(roster, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await scan(pilot, LI)
        await close_result(pilot)
        clock.advance(minutes=5)
        text = await scan(pilot, LI)
        assert "本次服务 0.08 小时" in text and "本次服务时间较短，已提醒工作人员核实" in text
        assert "short_session" in roster.last_volunteer_session("JG0043").flags
        await close_result(pilot)

        # 王芳 checks in and forgets to check out; the next morning's scan finds the session
        # closed at 21:00 for staff review, and checks her in again.
        await scan(pilot, WANG)
        await close_result(pilot)
        first = roster.last_volunteer_session("JG0042")
        clock.advance(hours=19)  # 09:05 the next day
        text = await scan(pilot, WANG)
        assert "签到成功" in text and "上次服务没有签退" in text
        closed = roster.volunteer_session(first.id)
        assert closed.closed_by == "day_end" and "closed_at_day_end" in closed.flags
        assert dt.datetime.fromtimestamp(closed.checked_out_epoch, SHANGHAI).hour == 21
        assert roster.last_volunteer_session("JG0042").open


# ---- a scan on any screen: the resident's questionnaire is covered, then back as it was ------


async def test_a_scan_mid_questionnaire_covers_it_and_the_questionnaire_goes_on(
        roster: KioskStore):
    clock = Clock()
    app = volunteer_kiosk(roster, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "test1")
        await type_into(pilot, "age", "30")  # typed, not yet handed over
        field = block(app, "age").query_one(Input)
        assert app.focused is field

        text = await scan(pilot)
        assert "王芳，您好！签到成功" in text
        for private in ("年龄", "30", "测试", "下一题"):  # nothing of the resident shows
            assert private not in text, private
        await close_result(pilot)

        # Back as it was: the same question, the box with the resident's text and the
        # cursor in it; the scan typed nothing and its Enter did not move on.
        assert on_screen(app) == ["age"]
        field = block(app, "age").query_one(Input)
        assert field.value == "30" and app.focused is field
        await pilot.press("1")
        await pilot.pause()
        assert field.value == "301"
        await pilot.press("backspace")
        await tap(pilot, "#next")
        assert on_screen(app) == ["ok"]

        # A question answered with number keys: the card's digits pick nothing.
        text = await scan(pilot, LI)
        assert "李明，您好！签到成功" in text and "满意吗" not in text
        await close_result(pilot)
        assert on_screen(app) == ["ok"]
        assert "ok" not in draft_answers(roster)
        assert "1  ○ 是" in screen_text(app)
        await pilot.press("1")
        await pilot.pause()
        assert draft_answers(roster)["ok"] == "yes"
        assert isinstance(app.screen, FormScreen)


async def test_a_scan_over_the_idle_countdown_the_review_and_the_receipt(
        roster: KioskStore):
    clock = Clock()
    app = volunteer_kiosk(roster, clock, idle_seconds=1.0, countdown_seconds=30)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "test1")
        await wait_for(pilot, lambda: isinstance(app.screen, IdleScreen))
        text = await scan(pilot)
        assert "签到成功" in text and "还在吗" not in text
        await close_result(pilot)
        assert on_screen(app) == ["age"]  # the countdown went: the scan was a touch

    clock = Clock()
    app = volunteer_kiosk(roster, clock, home_after=600)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "home_adaptation")
        await walk_home_adaptation(pilot, until_review=True)
        assert isinstance(app.screen, ReviewScreen)
        clock.advance(hours=1)
        text = await scan(pilot)
        assert "签退成功" in text and "李奶奶" not in text
        await close_result(pilot)
        assert isinstance(app.screen, ReviewScreen) and "李奶奶" in screen_text(app)
        await tap(pilot, "#submit")
        assert isinstance(app.screen, ThanksScreen)
        clock.advance(minutes=5)
        text = await scan(pilot, LI)
        assert "李明，您好！签到成功" in text
        await close_result(pilot)
        assert isinstance(app.screen, ThanksScreen)  # the receipt code is still there


async def test_the_receipt_screen_waits_for_the_scan_result_before_going_home(
        roster: KioskStore):
    clock = Clock()
    app = volunteer_kiosk(roster, clock, home_after=1.0)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "test1")
        await type_into(pilot, "age", "5")
        await tap(pilot, "#next")
        await pilot.press("1")
        # The rest is optional: 下一题 until the form is left (on a busy machine the 1 s
        # receipt can be gone again before this loop looks for it).
        while isinstance(app.screen, FormScreen):
            await tap(pilot, "#next")
        await scan(pilot)
        await pilot.pause(1.5)  # the receipt's time is up while the greeting shows
        assert isinstance(app.screen, ScanResultScreen)
        await close_result(pilot)
        await wait_for(pilot, lambda: HOME_HINT in screen_text(app))


async def test_a_scanned_card_pasted_by_the_terminal_counts_too(roster: KioskStore):
    clock = Clock()
    app = volunteer_kiosk(roster, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap_form(pilot, "test1")
        app.post_message(events.Paste(WANG + "\r"))
        await pilot.pause()
        assert "签到成功" in screen_text(app)
        await close_result(pilot)
        assert block(app, "age").query_one(Input).value == ""


# ---- field mode: volunteers sign in, questionnaires carry their number ---------------------------

FIELD_ANSWERS = {"resident_name": "李奶奶", "address": "梁丰花园3幢201", "phone": "0512-58123456",
                 "household_size": "1", "elders_count": "1", "oldest_age": "86", "floor": "1"}


async def walk_home_adaptation(pilot: Pilot, *, until_review: bool = False) -> None:
    """Answer every screen of the visit (first choices, FIELD_ANSWERS in the boxes) up to
    the review, then 提交 unless ``until_review``."""
    app: KioskApp = pilot.app  # type: ignore[assignment]
    for _ in range(40):
        if isinstance(app.screen, ReviewScreen):
            break
        for question in list(app.screen.query(".question").results()):
            kind = question.kind  # type: ignore[attr-defined]
            if question.view.read_only:  # type: ignore[attr-defined]
                continue
            name = question.name  # type: ignore[attr-defined]
            if kind in ("select_one", "select_multiple") and question.view.value in (None, []):
                await tap(pilot, question.query("Button.choice").first())
            elif kind == "date" and name != "next_visit":  # (optional: after this visit)
                await tap(pilot, question.query_one(".today"))
            elif kind in ("integer", "decimal", "text") and name in FIELD_ANSWERS:
                await type_into(pilot, name, FIELD_ANSWERS[name])
            elif kind == "acknowledge" and not question.view.value:  # type: ignore[attr-defined]
                await tap(pilot, question.query_one("Button.acknowledge"))
        before = on_screen(app)
        await tap(pilot, "#next")
        assert isinstance(app.screen, ReviewScreen) or on_screen(app) != before, \
            screen_text(app)
    assert isinstance(app.screen, ReviewScreen), screen_text(app)
    if not until_review:
        await tap(pilot, "#submit")
        assert isinstance(app.screen, ThanksScreen)


def enumerators(store: KioskStore) -> list[str | None]:
    return [record["enumerator"] for record in store.iter_submissions("home_adaptation")]


async def open_visit(pilot: Pilot) -> None:
    """Tap 适老化改造 on home (scrolled into view: the volunteer's line takes room)."""
    button = next(button for button in pilot.app.screen.query(Button).results(Button)
                  if button.name == "home_adaptation")
    button.scroll_visible(animate=False, immediate=True)
    await pilot.pause()
    await tap(pilot, button)
    assert isinstance(pilot.app.screen, FormScreen), screen_text(pilot.app)


async def start_home_adaptation(pilot: Pilot) -> None:
    await open_visit(pilot)
    await walk_home_adaptation(pilot)
    await tap(pilot, "#home")


async def test_field_mode_visits_carry_the_signed_in_volunteers_number_until_sign_out(
        roster: KioskStore):
    clock = Clock()
    app = volunteer_kiosk(roster, clock, field_mode=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "志愿者登录" in text and "志愿者签到" not in text
        await tap(pilot, "#volunteer-sign-in")
        assert "请扫志愿者证" in screen_text(app) or "扫码器上扫志愿者证" in screen_text(app)
        text = await scan(pilot)
        assert "志愿者已登录" in text and "王芳，您好！身份已确认" in text and "JG0042" in text
        assert roster.last_volunteer_session("JG0042") is None  # no check-in in field mode
        await close_result(pilot)
        text = screen_text(app)
        assert "志愿者：王芳（编号 JG0042）" in text and "退出登录" in text
        assert HOME_HINT in text

        await start_home_adaptation(pilot)
        assert enumerators(roster) == ["JG0042"]
        plan = next(job for job in roster.print_jobs() if job.kind == "plan")
        assert "JG0042" in str(plan.document)  # 走访志愿者 on the printed plan
        assert "志愿者：王芳（编号 JG0042）" in screen_text(app)  # still signed in

        await tap(pilot, "#volunteer-sign-out")
        text = screen_text(app)
        assert "王芳" not in text and "志愿者登录" in text
        await start_home_adaptation(pilot)
        assert enumerators(roster) == ["JG0042", None]


async def test_field_mode_ends_when_the_tablet_is_left_idle(roster: KioskStore):
    clock = Clock()
    app = volunteer_kiosk(roster, clock, field_mode=True, idle_seconds=2.0,
                          countdown_seconds=1.0)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await scan(pilot)  # a scan signs in from any screen
        await close_result(pilot)
        assert "志愿者：王芳" in screen_text(app)
        await open_visit(pilot)
        assert app.current_session is not None
        assert app.current_session.enumerator == "JG0042"
        # Left on a question: the countdown, then home (the visit's draft is kept) and
        # nobody signed in.
        await wait_for(pilot, lambda: HOME_HINT in screen_text(app))
        assert "王芳" not in screen_text(app) and app.field_volunteer is None
        drafts = roster.open_drafts()
        assert len(drafts) == 1 and drafts[0]["enumerator"] == "JG0042"
        await open_visit(pilot)
        assert app.current_session.enumerator is None

        # Signed in and left on the home screen: signed out after the countdown too.
        app.leave_form(app.current_session)  # (taps would race the short idle time here)
        await pilot.pause()
        await scan(pilot, LI)
        await close_result(pilot)
        assert "志愿者：李明" in screen_text(app)
        await wait_for(pilot, lambda: isinstance(app.screen, IdleScreen))
        await wait_for(pilot, lambda: "李明" not in screen_text(app)
                       and HOME_HINT in screen_text(app))
        assert app.field_volunteer is None


async def test_a_volunteer_without_a_scanner_types_the_card_code_to_sign_in(
        roster: KioskStore):
    clock = Clock()
    app = volunteer_kiosk(roster, clock, pace=PERSON, field_mode=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap(pilot, "#volunteer-sign-in")
        field = app.screen.query_one("#card-code", Input)
        assert app.focused is field
        await pilot.press(*WANG[:-1], "Q")  # one character wrong
        await pilot.pause()
        assert field.value == WANG[:-1] + "Q"  # typed at a person's pace: it is in the box
        await pilot.press("enter")
        await pilot.pause()
        assert "这张志愿者证不能用" in screen_text(app)
        await close_result(pilot)
        assert app.screen.query_one("#card-code", Input).value == WANG[:-1] + "Q"
        await pilot.press("backspace", WANG[-1])
        await tap(pilot, "#signin-ok")
        assert "志愿者已登录" in screen_text(app)
        await close_result(pilot)
        assert "志愿者：王芳（编号 JG0042）" in screen_text(app)


async def test_staff_switch_the_hall_kiosk_to_field_mode(roster: KioskStore):
    clock = Clock()
    config = CONFIG.with_changes(staff_pin_hash=hash_pin("2468"))
    app = volunteer_kiosk(roster, clock, config=config)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await tap(pilot, "#volunteer")
        text = screen_text(app)
        assert "请在扫码器上扫志愿者证" in text and "再扫一次签退" in text
        await tap(pilot, "#volunteer-back")
        await tap(pilot, "#staff")
        await pilot.press(*"2468", "enter")
        await pilot.pause()
        assert "入户走访模式：关" in screen_text(app)
        await tap(pilot, "#staff-field")
        text = screen_text(app)
        assert HOME_HINT in text and "志愿者登录" in text and "志愿者签到" not in text
        text = await scan(pilot)
        assert "志愿者已登录" in text  # signed in, not checked in
        assert roster.last_volunteer_session("JG0042") is None
        assert isinstance(app.screen.query_one("#volunteer-ok"), Button)


# ---- the camera ------------------------------------------------------------------------------


def camera_frames(folder: Path, card: str) -> str:
    """An image sequence OpenCV opens like a camera: blank frames, then the card held up."""
    import qrcode
    from PIL import Image

    code = qrcode.QRCode(box_size=8, border=4)
    code.add_data(card)
    code.make(fit=True)
    picture = code.make_image().convert("L")
    for number in range(12):
        frame = Image.new("L", (640, 480), 235)
        if number >= 4:
            frame.paste(picture, ((640 - picture.width) // 2, (480 - picture.height) // 2))
        frame.save(folder / f"frame{number:03d}.png")
    return str(folder / "frame%03d.png")


async def test_a_card_held_up_to_the_camera_checks_in_while_the_check_in_screen_is_up(
        roster: KioskStore, tmp_path: Path):
    pytest.importorskip("cv2")
    pytest.importorskip("kiosk.cards.scanning")
    source = camera_frames(tmp_path, WANG)
    clock = Clock()
    app = volunteer_kiosk(roster, clock, camera_source=source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app._camera is None  # no camera on the home screen
        await tap(pilot, "#volunteer")
        assert "也可以把志愿者证的二维码对准摄像头" in screen_text(app)
        await wait_for(pilot, lambda: "签到成功" in screen_text(app), seconds=30)
        assert "王芳，您好！签到成功，签到时间 14:05。" in screen_text(app)
        assert roster.last_volunteer_session("JG0042").open
        await close_result(pilot)
        assert "请在扫码器上扫志愿者证" in screen_text(app)
        await tap(pilot, "#volunteer-back")
        assert app._camera is None  # stopped with the screen that wanted it

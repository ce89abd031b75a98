"""Resuming drafts (issue 14, item 7): a home-adaptation visit left by the idle countdown is
kept; the volunteer who began it finds it on home after signing in again and continues at
the same question with every answer; nobody else sees it; staff, behind the PIN, continue
or discard any kept draft (a reason required, the audit keeps what was discarded).

Driven through Textual's Pilot; assertions read the screen as a person sees it, and the
database."""

from __future__ import annotations

import re

from textual.pilot import Pilot
from textual.widgets import Button, Input

from kiosk.app import KioskApp
from kiosk.config import hash_pin
from kiosk.screens.drafts import KeptDraftsScreen
from kiosk.screens.idle import IdleScreen
from kiosk.screens.questionnaire import FormScreen, ReviewScreen
from kiosk.screens.thanks import ThanksScreen
from store import KioskStore
from tests.test_app_flow import (
    CONFIG,
    SIZE,
    block,
    on_screen,
    screen_text,
    tap,
    type_into,
    wait_for,
)
from tests.test_volunteer_screens import (
    FIELD_ANSWERS,
    HOME_HINT,
    LI,
    Clock,
    close_result,
    open_visit,
    roster,  # noqa: F401  (a fixture)
    scan,
    volunteer_kiosk,
    walk_home_adaptation,
)

PIN = "2468"
DRAFTS_LINE = "您有 1 份未完成的走访"


async def answer_screens(pilot: Pilot, count: int) -> None:
    """Answer ``count`` screens of the visit as walk_home_adaptation does, then 下一题."""
    app: KioskApp = pilot.app  # type: ignore[assignment]
    for _ in range(count):
        for question in list(app.screen.query(".question").results()):
            kind, name = question.kind, question.name  # type: ignore[attr-defined]
            if question.view.read_only:  # type: ignore[attr-defined]
                continue
            if kind in ("select_one", "select_multiple") and question.view.value in (None, []):
                await tap(pilot, question.query("Button.choice").first())
            elif kind in ("integer", "decimal", "text") and name in FIELD_ANSWERS:
                await type_into(pilot, name, FIELD_ANSWERS[name])
        await tap(pilot, "#next")
        assert isinstance(app.screen, FormScreen), screen_text(app)


async def leave_visit_idle(pilot: Pilot) -> tuple[str, list[str], str]:
    """王芳 signs in, begins a visit, answers the household's screens and walks away: the
    countdown ends it. Returns the draft's id, the questions on screen when it was left and
    the progress line shown there."""
    app: KioskApp = pilot.app  # type: ignore[assignment]
    await scan(pilot)
    await close_result(pilot)
    await open_visit(pilot)
    await answer_screens(pilot, 4)  # intro, visit date, the resident's group, household size
    left_on = on_screen(app)
    assert "resident_name" not in left_on and left_on, left_on
    progress = str(app.screen.query_one("#progress-text").render())
    instance_id = app.current_session.instance_id  # type: ignore[union-attr]
    app.idle_seconds = 0.5  # now nobody touches the tablet (short only from here: no races)
    await wait_for(pilot, lambda: isinstance(app.screen, IdleScreen))
    await wait_for(pilot, lambda: HOME_HINT in screen_text(app))
    app.idle_seconds = 600.0
    assert app.field_volunteer is None
    return instance_id, left_on, progress


def draft_buttons(app: KioskApp) -> list[Button]:
    return list(app.screen.query(".draft-button").results(Button))


async def test_a_visit_left_idle_waits_on_home_for_the_volunteer_who_began_it(
        roster: KioskStore):  # noqa: F811
    clock = Clock()
    app = volunteer_kiosk(roster, clock, field_mode=True, countdown_seconds=0.5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        instance_id, left_on, progress = await leave_visit_idle(pilot)
        [draft] = roster.open_drafts()
        assert draft["instance_id"] == instance_id and draft["enumerator"] == "JG0042"

        # Nobody signed in: home shows nothing of the visit.
        text = screen_text(app)
        assert HOME_HINT in text
        assert "未完成的走访" not in text and "李奶奶" not in text and "梁丰花园" not in text
        assert draft_buttons(app) == []

        # Another volunteer does not see it either.
        await scan(pilot, LI)
        await close_result(pilot)
        text = screen_text(app)
        assert "志愿者：李明" in text
        assert "未完成的走访" not in text and "李奶奶" not in text and draft_buttons(app) == []
        await tap(pilot, "#volunteer-sign-out")

        # 王芳 signs in again: her visit, with the household and when it was last saved.
        await scan(pilot)
        await close_result(pilot)
        text = screen_text(app)
        assert DRAFTS_LINE in text, text
        assert "继续填写：适老化改造需求评估（已答" in text
        assert "李奶奶　梁丰花园3幢201　上次保存 " in text
        [button] = draft_buttons(app)

        # It continues at the question where it stopped, every answer kept.
        await tap(pilot, button)
        assert isinstance(app.screen, FormScreen), screen_text(app)
        assert on_screen(app) == left_on
        assert str(app.screen.query_one("#progress-text").render()) == progress
        session = app.current_session
        assert session is not None and session.instance_id == instance_id
        assert session.enumerator == "JG0042"
        for _ in range(2):  # back to the household's screen: the answers are there
            await tap(pilot, "#back")
        assert "resident_name" in on_screen(app), screen_text(app)
        assert block(app, "resident_name").query_one(Input).value == "李奶奶"
        assert block(app, "address").query_one(Input).value == "梁丰花园3幢201"

        # Finished: one submission under the same id, and the draft is gone.
        await walk_home_adaptation(pilot)
        assert isinstance(app.screen, ThanksScreen)
        records = list(roster.iter_submissions("home_adaptation"))
        assert [record["instance_id"] for record in records] == [instance_id]
        assert records[0]["enumerator"] == "JG0042"
        assert records[0]["answers"]["resident_name"] == "李奶奶"
        assert records[0]["answers"]["household_size"] == 1
        assert roster.open_drafts() == [] and roster.draft_counts() == {}
        await tap(pilot, "#home")
        text = screen_text(app)
        assert "志愿者：王芳" in text and "未完成的走访" not in text


async def test_a_resumed_visit_left_idle_again_is_kept_again(roster: KioskStore):  # noqa: F811
    clock = Clock()
    app = volunteer_kiosk(roster, clock, field_mode=True, countdown_seconds=0.5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        instance_id, _, _ = await leave_visit_idle(pilot)
        await scan(pilot)
        await close_result(pilot)
        await tap(pilot, draft_buttons(app)[0])
        await answer_screens(pilot, 1)  # one more answer, then gone again
        left_on = on_screen(app)
        app.idle_seconds = 0.5
        await wait_for(pilot, lambda: HOME_HINT in screen_text(app))
        app.idle_seconds = 600.0
        [draft] = roster.open_drafts()
        assert draft["instance_id"] == instance_id
        await scan(pilot)
        await close_result(pilot)
        assert DRAFTS_LINE in screen_text(app)  # still one visit, not two
        await tap(pilot, draft_buttons(app)[0])
        assert on_screen(app) == left_on


async def test_a_visit_left_on_the_review_opens_on_the_review(roster: KioskStore):  # noqa: F811
    clock = Clock()
    app = volunteer_kiosk(roster, clock, field_mode=True, countdown_seconds=0.5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await scan(pilot)
        await close_result(pilot)
        await open_visit(pilot)
        await walk_home_adaptation(pilot, until_review=True)
        app.idle_seconds = 0.5
        await wait_for(pilot, lambda: HOME_HINT in screen_text(app))
        app.idle_seconds = 600.0
        await scan(pilot)
        await close_result(pilot)
        assert "继续填写：适老化改造需求评估" in screen_text(app)
        await tap(pilot, draft_buttons(app)[0])
        assert isinstance(app.screen, ReviewScreen), screen_text(app)
        assert "李奶奶" in screen_text(app)  # the answers, ready to check and 提交
        await tap(pilot, "#submit")
        assert isinstance(app.screen, ThanksScreen)
        assert len(list(roster.iter_submissions("home_adaptation"))) == 1
        assert roster.open_drafts() == []


async def test_a_visit_discarded_meanwhile_is_not_opened(roster: KioskStore):  # noqa: F811
    """Tapped on one tablet after staff discarded it (or it was finished on another):
    home says so instead of opening an empty questionnaire."""
    clock = Clock()
    app = volunteer_kiosk(roster, clock, field_mode=True, countdown_seconds=0.5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        instance_id, _, _ = await leave_visit_idle(pilot)
        await scan(pilot)
        await close_result(pilot)
        [button] = draft_buttons(app)
        roster.discard_draft(instance_id, "重复登记", staff="张社工")
        await tap(pilot, button)
        text = screen_text(app)
        assert "这份走访已经填完或作废了。" in text and HOME_HINT in text
        assert "未完成的走访" not in text and app.current_session is None


# ---- staff --------------------------------------------------------------------------------


async def open_staff_drafts(pilot: Pilot) -> str:
    """工作人员 → PIN → 保留待续的问卷; returns the screen."""
    app: KioskApp = pilot.app  # type: ignore[assignment]
    await tap(pilot, "#staff")
    await pilot.press(*PIN, "enter")
    await pilot.pause()
    assert "保留待续的问卷（1 份）" in screen_text(app)
    await tap(pilot, "#staff-drafts")
    assert isinstance(app.screen, KeptDraftsScreen)
    return screen_text(app)


def staff_kiosk(store: KioskStore) -> KioskApp:
    config = CONFIG.with_changes(staff_pin_hash=hash_pin(PIN))
    return volunteer_kiosk(store, Clock(), config=config, field_mode=True,
                           countdown_seconds=0.5)


async def test_staff_see_every_kept_draft_without_names_and_continue_one(
        roster: KioskStore):  # noqa: F811
    app = staff_kiosk(roster)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        instance_id, left_on, _ = await leave_visit_idle(pilot)
        await scan(pilot, LI)  # another volunteer is signed in when staff come
        await close_result(pilot)
        text = await open_staff_drafts(pilot)
        assert "适老化改造需求评估　志愿者 JG0042" in text
        assert re.search(r"已答 \d+ 题　上次保存 \d+月\d+日 \d\d:\d\d", text), text
        assert "李奶奶" not in text and "梁丰花园" not in text  # the household is not shown

        await tap(pilot, "Button.resume-draft")
        assert isinstance(app.screen, FormScreen), screen_text(app)
        assert on_screen(app) == left_on
        assert app.current_session.instance_id == instance_id  # type: ignore[union-attr]
        await walk_home_adaptation(pilot)
        records = list(roster.iter_submissions("home_adaptation"))
        assert [(record["instance_id"], record["enumerator"]) for record in records] == [
            (instance_id, "JG0042")]  # the visit stays the volunteer's
        plan = next(job for job in roster.print_jobs() if job.kind == "plan")
        assert "王芳" in str(plan.document) and "李明" not in str(plan.document)
        assert roster.open_drafts() == []
        [entry] = roster.audit_entries(actions=["draft_resume"])
        assert entry["target"] == instance_id and entry["staff"] == "PIN"


async def test_staff_discard_a_kept_draft_only_with_their_name_and_a_reason(
        roster: KioskStore):  # noqa: F811
    app = staff_kiosk(roster)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        instance_id, _, _ = await leave_visit_idle(pilot)
        [kept] = roster.kept_drafts()
        await open_staff_drafts(pilot)

        await tap(pilot, "Button.discard-draft")
        text = screen_text(app)
        assert "作废这份问卷：适老化改造需求评估　志愿者 JG0042" in text
        await tap(pilot, "#discard-confirm")
        assert "请先在右上角填写经办人姓名" in screen_text(app)
        await tap(pilot, "#drafts-staff-name")
        await pilot.press(*"张社工")
        await tap(pilot, "#discard-confirm")
        assert "请写明作废原因" in screen_text(app)
        assert len(roster.open_drafts()) == 1 and roster.audit_entries() == []

        await tap(pilot, "#discard-reason")
        await pilot.press(*"老人已搬去子女家重复登记", "enter")
        await pilot.pause()
        text = screen_text(app)
        assert "已作废，并记入操作记录：适老化改造需求评估　志愿者 JG0042" in text
        assert "没有保留待续的问卷。" in text
        assert roster.open_drafts() == [] and roster.kept_drafts() == []

        [entry] = roster.audit_entries(actions=["draft_discard"])
        assert entry["staff"] == "张社工" and entry["target"] == instance_id
        detail = entry["detail"]
        assert "home_adaptation" in detail and "JG0042" in detail
        assert f"{kept.answered} answered" in detail
        assert detail.endswith("reason: 老人已搬去子女家重复登记")
        assert "李奶奶" not in detail and "梁丰花园" not in detail  # no personal data

        await tap(pilot, "#drafts-back")
        assert "保留待续的问卷（0 份）" in screen_text(app)
        await tap(pilot, "#staff-home")
        await scan(pilot)  # the volunteer no longer finds it either
        await close_result(pilot)
        assert "未完成的走访" not in screen_text(app)


async def test_a_draft_begun_at_the_hall_is_listed_as_the_halls(roster: KioskStore):  # noqa: F811
    config = CONFIG.with_changes(staff_pin_hash=hash_pin(PIN))
    app = volunteer_kiosk(roster, Clock(), config=config, countdown_seconds=0.5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await open_visit(pilot)
        await answer_screens(pilot, 3)
        app.idle_seconds = 0.5
        await wait_for(pilot, lambda: HOME_HINT in screen_text(app))
        app.idle_seconds = 600.0
        assert "未完成的走访" not in screen_text(app)  # never on the hall's home
        text = await open_staff_drafts(pilot)
        assert "适老化改造需求评估　大厅" in text and "志愿者 JG" not in text


def test_the_store_keeps_no_draft_of_a_stored_submission(roster: KioskStore):  # noqa: F811
    """A draft resumed on two tablets and finished on one is not brought back by the other."""
    from surveys.session import FormSession

    session = FormSession(roster.load_form("home_adaptation"), "zh", enumerator="JG0042")
    session.next()
    roster.save_draft(session)
    [kept] = roster.kept_drafts("JG0042")
    assert kept.instance_id == session.instance_id and roster.kept_drafts("JG0043") == []
    other = roster.resume_draft(session.instance_id)
    roster.conn.execute("INSERT INTO submissions(instance_id, survey_id, version, answers)"
                        " VALUES (?, 'home_adaptation', ?, '{}')",
                        (session.instance_id, session.form.version))
    roster.conn.execute("DELETE FROM drafts")
    roster.save_draft(other)
    assert roster.open_drafts() == []


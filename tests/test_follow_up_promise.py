"""One follow-up promise for a service request: the closing screen, the thank-you screen and
the printed ticket agree on the number of working days and the date (Textual Pilot, a fake
printer on a pty)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from kiosk.app import KioskApp
from kiosk.config import KioskConfig, PrinterConfig
from store import KioskStore, open_store
from surveys.bundled import compiled_bundled_forms
from surveys.session import FormSession
from tests.fake_printer import FakePrinter
from tests.printed import printed_jobs
from tests.test_app_flow import SIZE, next_screen, screen_text, tap, tap_form, wait_for
from tests.test_bundled_forms import REQUEST
from tests.test_kiosk_hall import Clock
from tests.test_kiosk_printing import serial_queue

PROMISE = re.compile(r"(\d+)个工作日内，即(\d+)月(\d+)日（(星期.)）前")
WEEKDAYS = ["星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"]


@pytest.fixture
def store(tmp_path: Path) -> KioskStore:
    store = open_store(tmp_path / "kiosk.db")
    for compiled in compiled_bundled_forms():
        store.install_form(compiled)
    yield store
    store.close()


def squashed(text: str) -> str:
    """Screen or slip text without spaces and line breaks (a sentence may wrap anywhere)."""
    return re.sub(r"\s+", "", text)


def working_days_after(day: dt.date, days: int) -> dt.date:
    while days:
        day += dt.timedelta(days=1)
        days -= day.weekday() < 5
    return day


def answer_up_to_the_closing_note(session: FormSession) -> None:
    answers = {**REQUEST, "followup": "phone", "contact_phone": "13912345678"}
    while "thanks" not in [question.name for question in session.screen.questions]:
        for question in session.screen.questions:
            if question.name in answers:
                assert session.answer(question.name, answers[question.name]) == []
        assert session.next() == []


@pytest.mark.parametrize("days", [3, 5], ids=["default", "station-sets-5"])
async def test_closing_screen_thank_you_screen_and_ticket_make_one_promise(store: KioskStore,
                                                                          days: int):
    with FakePrinter() as printer:
        config = KioskConfig(station_name="梁丰社区社工站", kiosk_id="hall-1",
                             surveys=("service_request",),
                             printer=PrinterConfig(url=printer.port), follow_up_days=days)
        app = KioskApp(store, config=config, clock=Clock(), tap_guard=0.0, home_after=600,
                       animations=False, cursor_blink=False, read_aloud=False,
                       print_queue=serial_queue(store, printer.port))
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await tap_form(pilot, "service_request")
            session = app.current_session
            assert session is not None
            answer_up_to_the_closing_note(session)
            app.show_session(session)
            await pilot.pause()

            # The closing note matches the flow (完成 → review → 提交) and promises no number
            # of its own: the form cannot know the station's follow_up_days.
            closing = squashed(screen_text(app))
            assert "请点【完成】，核对一遍您填的内容，没问题再点【提交】。" in closing
            assert "个工作日" not in closing and "打印" not in closing
            await next_screen(pilot)  # 完成
            assert "问卷已经答完了" in screen_text(app)
            await tap(pilot, "#submit")

            [record] = store.iter_submissions("service_request")
            code = store.receipt_code_of(record["instance_id"])
            thanks = squashed(screen_text(app))
            assert code in thanks
            assert "登记单正在打印，请取走收好。" in thanks
            on_screen = PROMISE.findall(thanks)
            await wait_for(pilot, lambda: b"\x1dV" in printer.data())
        [job] = printed_jobs(printer.data())

    on_slip = PROMISE.findall(squashed(job.text))
    assert len(on_screen) == 1 and on_screen == on_slip, (thanks, job.text)
    [(promised, month, day, weekday)] = on_slip
    completed = dt.datetime.fromisoformat(record["completed"]).date()
    due = working_days_after(completed, days)  # [requests] follow_up_days
    assert (int(promised), int(month), int(day), weekday) == (
        days, due.month, due.day, WEEKDAYS[due.weekday()])
    assert f"社工会在{days}个工作日内" in squashed(job.text)
    assert "给您打电话" in squashed(job.text)


def test_follow_up_days_is_read_checked_and_written(tmp_path: Path):
    from kiosk.config import ConfigError, load_config, render_config

    path = tmp_path / "kiosk.toml"
    assert load_config(path).follow_up_days == 3  # no file: the default
    path.write_text("[requests]\nfollow_up_days = 5\n", encoding="utf-8")
    config = load_config(path)
    assert config.follow_up_days == 5
    path.write_text(render_config(config), encoding="utf-8")
    assert load_config(path).follow_up_days == 5
    for bad in ("0", "31", "2.5", '"3"', "true"):
        path.write_text(f"[requests]\nfollow_up_days = {bad}\n", encoding="utf-8")
        with pytest.raises(ConfigError, match=r"\[requests\] follow_up_days: must be a whole "
                                              r"number of working days from 1 to 30"):
            load_config(path)

"""Screenshots of the kiosk screens (pytest-textual-snapshot), in Chinese and English.

Home, a select question, a validation error and the thank-you screen, at a fixed size, with
a fixed clock and a fixed receipt code, 朗读 shown whether or not espeak-ng is installed; no
animations and no cursor blink. After a change
to the screens on purpose, look at the new pictures and accept them with
``pytest tests/test_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot

from kiosk.app import KioskApp
from kiosk.config import DEFAULT_SURVEYS, KioskConfig
from store import KioskStore, open_store
from surveys.xlsform import compile_xlsform
from tests.test_app_flow import FORMS, screen_text, tap_form, type_into
from tests.test_kiosk_hall import Clock

SNAPSHOT_SIZE = (100, 36)
INSTANCE_ID = "5d1c4f7e-0b6f-4c3a-9d2e-7a1b2c3d4e5f"
LANGUAGES = ["zh", "en"]


@pytest.fixture
def snapshot_store(tmp_path: Path) -> KioskStore:
    store = open_store(tmp_path / "kiosk.db")
    store.install_form(compile_xlsform(FORMS / "basics.md"))
    yield store
    store.close()


def screenshot_app(store: KioskStore, surveys: tuple[str, ...] = DEFAULT_SURVEYS) -> KioskApp:
    config = KioskConfig(station_name="梁丰社区社工站", kiosk_id="hall-1", surveys=surveys)
    return KioskApp(store, config=config, clock=Clock(), home_after=15.0, tap_guard=0.0,
                    new_instance_id=lambda: INSTANCE_ID, animations=False,
                    cursor_blink=False, read_aloud=True)


async def presses_over(pilot: Pilot) -> None:
    """A pressed button stays dimmed for 0.2 s (Textual's active effect): the picture is of
    the screen after it, however fast or slow the machine (it was caught dimmed under load)."""
    for _ in range(100):
        if not pilot.app.screen.query(".-active"):
            return
        await pilot.pause(0.05)
    raise AssertionError("a button stayed pressed for 5 s")


async def choose_language(pilot: Pilot, language: str) -> None:
    await pilot.pause()
    if language == "en":
        await pilot.click("#lang-en")
        await pilot.pause()


@pytest.mark.parametrize("language", LANGUAGES)
def test_home_screen(snap_compare, snapshot_store: KioskStore, language: str):
    async def run_before(pilot: Pilot) -> None:
        await choose_language(pilot, language)
        await presses_over(pilot)

    assert snap_compare(screenshot_app(snapshot_store), run_before=run_before,
                        terminal_size=SNAPSHOT_SIZE)


@pytest.mark.parametrize("language", LANGUAGES)
def test_select_question(snap_compare, snapshot_store: KioskStore, language: str):
    async def run_before(pilot: Pilot) -> None:
        await choose_language(pilot, language)
        await tap_form(pilot, "satisfaction")
        await pilot.click("#next")  # past the introduction
        await pilot.pause()
        await pilot.press("1")
        await pilot.pause()
        await presses_over(pilot)

    assert snap_compare(screenshot_app(snapshot_store), run_before=run_before,
                        terminal_size=SNAPSHOT_SIZE)


@pytest.mark.parametrize("language", LANGUAGES)
def test_validation_error(snap_compare, snapshot_store: KioskStore, language: str):
    async def run_before(pilot: Pilot) -> None:
        await choose_language(pilot, language)
        await tap_form(pilot, "marriage_reform")
        await pilot.click("#next")
        for choice in ("2", "2", "1", "2"):  # gender, age, single, a symbolic bride price
            await pilot.pause()
            await pilot.press(choice)
            await pilot.pause()
            await pilot.click("#next")
        await pilot.pause()
        await type_into(pilot, "bride_price_amount", "600000")
        await pilot.click("#next")
        await pilot.pause()
        assert "⚠" in screen_text(pilot.app)  # type: ignore[arg-type]
        await presses_over(pilot)

    assert snap_compare(screenshot_app(snapshot_store), run_before=run_before,
                        terminal_size=SNAPSHOT_SIZE)


@pytest.mark.parametrize("language", LANGUAGES)
def test_thank_you_screen(snap_compare, snapshot_store: KioskStore, language: str):
    async def run_before(pilot: Pilot) -> None:
        await choose_language(pilot, language)
        await tap_form(pilot, "test1")
        await type_into(pilot, "age", "5")
        for _ in range(4):  # 改进, the name/date group, the note: 完成
            await pilot.click("#next")
            await pilot.pause()
        await presses_over(pilot)

    assert snap_compare(screenshot_app(snapshot_store, surveys=("test1",)),
                        run_before=run_before, terminal_size=SNAPSHOT_SIZE)


@pytest.mark.parametrize("language", LANGUAGES)
def test_register_picker(snap_compare, snapshot_store: KioskStore, language: str):
    """A household picked from the register after a search (issue 16): the box, what was
    found, the chosen one green and named above the box."""
    from kiosk.widgets.register_picker import RegisterPicker
    from tests.test_register_screens import register

    for name in ("register.md", "followup.md"):
        snapshot_store.install_form(compile_xlsform(FORMS / name))
    register(snapshot_store, "王秀英", "梁丰花园3栋201", "13912345678", plan="卫生间扶手",
             completed="2026-11-02T10:00:00+08:00")
    register(snapshot_store, "赵玉兰", "梁丰花园8栋502", "13700002222",
             completed="2026-11-06T15:20:00+08:00")
    register(snapshot_store, "李建国", "东门小区5栋102", "13800001111", plan="防滑地砖",
             completed="2026-11-05T09:30:00+08:00")

    async def run_before(pilot: Pilot) -> None:
        await choose_language(pilot, language)
        await tap_form(pilot, "household_followup")
        await pilot.press(*"梁丰")
        for _ in range(100):
            if pilot.app.screen.query_one(RegisterPicker).searched == "梁丰":
                break
            await pilot.pause(0.05)
        await pilot.pause()
        await pilot.click(pilot.app.screen.query_one(RegisterPicker).entries()[-1])
        await pilot.pause()
        assert pilot.app.current_session.value("household")  # type: ignore[attr-defined]
        await presses_over(pilot)

    app = screenshot_app(snapshot_store, surveys=("household_register", "household_followup"))
    assert snap_compare(app, run_before=run_before, terminal_size=SNAPSHOT_SIZE)

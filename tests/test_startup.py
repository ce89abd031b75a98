"""The ``kiosk`` program holds Python's garbage collector while it loads (kiosk/startup.py):
every command must give it back, or a kiosk left running for months would never free a
cycle; and a process that did not hold it must not have its objects frozen."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

from kiosk import startup

# Runs the real program's entry point with the command given; the screens' run is replaced
# by a report of the collector's state at the moment the kiosk would start drawing.
PROGRAM = """
import gc, sys
import kiosk.app
kiosk.app.KioskApp.run = lambda self: print("screens:", gc.isenabled(), gc.get_freeze_count() > 0)
from kiosk.__main__ import main
sys.argv = ["kiosk", *sys.argv[1:]]
try:
    main()
finally:
    print("after:", gc.isenabled())
"""


def run_program(tmp_path: Path, *arguments: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM, "--db", str(tmp_path / "kiosk.db"),
         "--config", str(tmp_path / "config.toml"), *arguments],
        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    return result.stdout + result.stderr


def test_the_screens_start_with_the_collector_running_and_the_loaded_program_frozen(
        tmp_path: Path):
    out = run_program(tmp_path, "run")
    assert "screens: True True" in out, out
    assert "after: True" in out


def test_every_other_command_gives_the_collector_back(tmp_path: Path):
    for arguments in (["survey", "list"], ["config", "show"], ["stats", "--help"]):
        out = run_program(tmp_path, *arguments)
        assert "after: True" in out, (arguments, out)


def test_a_process_that_did_not_hold_the_collector_is_left_alone():
    frozen = gc.get_freeze_count()
    startup.loaded()
    assert gc.isenabled() and gc.get_freeze_count() == frozen


COUNT_ON_HOME = """
import sys
from store import open_store
store = open_store(sys.argv[1])
counts = {info.survey_id: store.opening_question_count(info.survey_id, info.version)
          for info in store.list_forms()}
print(sorted(counts.items()), "lxml" in sys.modules)
"""


def test_home_counts_questions_without_building_sessions_once_remembered(tmp_path: Path):
    """共 N 题 on home comes from a session of each form (with lxml) once per form version;
    at every later start it is read back, so home is drawn before lxml loads."""
    def counts() -> tuple[str, str]:
        result = subprocess.run(
            [sys.executable, "-c", COUNT_ON_HOME, str(tmp_path / "kiosk.db")],
            capture_output=True, text=True, timeout=120, check=True)
        listed, lxml_loaded = result.stdout.rsplit(" ", 1)
        return listed, lxml_loaded.strip()

    first, lxml_first = counts()
    again, lxml_again = counts()
    assert "('satisfaction', 9)" in first and "('home_adaptation', 23)" in first
    assert (lxml_first, lxml_again) == ("True", "False")
    assert again == first

"""Kill a kiosk process while it writes, many times; nothing it reported as saved is lost."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from store import KioskStore, open_store
from surveys.bundled import compiled_bundled_forms
from surveys.xlsform import compile_xlsform

HERE = Path(__file__).parent
KILLS = 60


def _start_writer(database: Path, seed: int) -> tuple[subprocess.Popen, list[dict]]:
    process = subprocess.Popen(
        [sys.executable, str(HERE / "crash_writer.py"), str(database), str(seed)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(HERE.parent)},
    )
    reports: list[dict] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            reports.append(json.loads(line))

    threading.Thread(target=read, daemon=True).start()
    return process, reports


def test_killed_writer_loses_no_reported_submission_or_draft(tmp_path: Path):
    database = tmp_path / "kiosk.db"
    with KioskStore(database) as store:
        store.install_form(compile_xlsform(HERE / "forms" / "basics.md"))
    rng = random.Random(20261123)
    finished: set[str] = set()
    last_draft: dict[str, dict[str, str]] = {}
    for run in range(KILLS):
        process, reports = _start_writer(database, seed=run)
        deadline = time.monotonic() + 30
        while not reports and time.monotonic() < deadline:  # wait until it is writing
            if process.poll() is not None:
                raise AssertionError(f"writer died: {process.stderr.read()}")
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.25))
        process.send_signal(signal.SIGKILL)
        process.wait()
        time.sleep(0.02)  # let the reader drain what was printed before the kill
        for report in reports:
            if "done" in report:
                finished.add(report["done"])
                last_draft.pop(report["done"], None)
            elif "draft" in report:
                last_draft[report["draft"]] = report["answers"]

    assert len(finished) > KILLS, "the writer should finish several forms between kills"
    with KioskStore(database) as store:
        assert store.integrity_check() == "ok"
        stored = store.submission_ids()
        assert finished <= stored, f"lost {len(finished - stored)} finished submissions"
        open_drafts = {draft["instance_id"]: draft for draft in store.open_drafts()}
        for instance_id, answers in last_draft.items():
            if instance_id in stored:
                continue  # committed just before the kill, not yet reported
            assert instance_id in open_drafts, f"draft {instance_id} lost"
            saved = open_drafts[instance_id]["answers"]
            assert {name: saved.get(name) for name in answers} == answers
            resumed = store.resume_draft(instance_id)  # recoverable: it opens and continues
            assert resumed.raw("age") == answers["age"]


def test_killed_while_creating_a_database_leaves_nothing_half_made(tmp_path: Path):
    """A new database gets its schema and bundled forms in one transaction."""
    expected = {compiled["survey_id"] for compiled in compiled_bundled_forms()}
    code = ("import sys; from store import open_store; "
            "open_store(sys.argv[1]); print('created', flush=True)")
    rng = random.Random(7)
    for attempt in range(20):
        database = tmp_path / f"new-{attempt}.db"
        process = subprocess.Popen([sys.executable, "-c", code, str(database)],
                                   stdout=subprocess.PIPE, text=True,
                                   env={**os.environ, "PYTHONPATH": str(HERE.parent)})
        time.sleep(rng.uniform(0.3, 1.2))
        process.send_signal(signal.SIGKILL)
        process.wait()
        with open_store(database) as store:  # reopening finishes or redoes the creation
            assert store.integrity_check() == "ok"
            assert {info.survey_id for info in store.list_forms()} == expected

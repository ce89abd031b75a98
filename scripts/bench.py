#!/usr/bin/env python3
"""The kiosk's benchmarks: our figures beside baselines measured in the same run.

Run: scripts/setup.sh bench && .venv/bin/python scripts/bench.py [--records N] [--quick]

Measures
  1. Loading a generated 300-question form from the compiled cache in SQLite, against a
     pyxform parse of the same .xlsx (what the kiosk would do without the cache).
  2. `kiosk import` throughput (every record validated by FormSession rules) on generated
     `satisfaction` records, against a plain sqlite-utils insert of the same records with
     no validation at all.
  3. Cold start of `kiosk` in a terminal (a pty) until its home screen is drawn, against a
     bare Textual app that draws one line, started the same way.
  4. Answer-to-next-screen latency on a generated 300-question form, driven through the
     real screens (Textual's Pilot): pick a choice with a number key, tap 下一题, until the
     next question is on screen. Baseline: the same step on FormSession alone (no screen).
  5. A typical 30-line Chinese receipt with a QR code: its size in ESC/POS bytes, beside the
     same receipt as a raster image (GS v 0); and the wall time from "print" until a fake
     printer reading at 9600 baud 8N1 (960 bytes/s) on a pty has the whole job, beside the
     physical minimum (bytes x 10 bits / 9600).
  6. Scan-to-greeting time: a volunteer card read by a keyboard-wedge scanner (its keys
     arriving as one burst), from the Enter that ends the burst until the greeting
     (签到成功, the name and time) is drawn over the home screen, inside the running app.
     Baseline: VolunteerDesk.scan alone (checking the card and recording the check-in).
  7. Card scanning: the real card sheet PDF rasterised by pdftoppm, its cards photographed
     by tests/card_photos.py (640 x 480; rotation, tilt, blur, noise, low contrast, glare,
     JPEG). The decode time per grey camera frame through the kiosk's worker process
     (kiosk.cards.scanning.DecoderProcess, as the camera uses it), for frames with a card and
     without; and the share of at least 200 photos read correctly, with every pass of
     kiosk.cards.scanning (the last reads a card by its known layout when glare hides one of
     the code's finder patterns). Baseline: zxing-cpp alone on the same frames, in the
     same run; zbar (pyzbar) alone is shown too.
  8. Statistics at scale: 1,000,000 generated `satisfaction` submissions (--stats-rows; in
     time order, 20 kiosks at 5 sites over a year) stored through the store's bulk path
     with its statistics upkeep, against a plain INSERT of the same rows (generation is
     timed but not counted; --stats-cache DIR keeps the database for the next run). Then
     all-question tallies through surveys.stats.survey_statistics, against DuckDB GROUP BYs
     on the same flat columns already in memory; the same filtered to one month of one site
     and to an answer (from the bitmaps: once as the first read of a newly opened store,
     then as the next reads); a cross-tab (one question, and every select question), against
     DuckDB's GROUP BY of the one; pandas end-to-end (reading the flat table from SQLite,
     then tallying); and saving one questionnaire at a time into (a copy of) the million,
     against a plain INSERT of the same rows into the same submissions table. Then the
     exports at this scale, each as `kiosk export` in its own process: the CSV of all rows
     (time and peak memory, against pandas reading the flat table and writing it with
     to_csv) and the PDF report (against its statistics alone), and with a cross-tab of
     every question.
  9. `kiosk sync` throughput: --sync-rows generated `satisfaction` submissions (default
     100,000; 20,000 with --quick) of 20 enrolled kiosks, every row signed with its own
     kiosk's key and the signature checked by the central database (a throwaway PostgreSQL
     started here with fsync on, tests/pg_server.py), in batches of 5,000 (the default),
     each its own transaction with the kiosk's cursor moved after it, over two connections
     when there is more than one batch (the default; kiosk/central/sync.py). First as a station
     kiosk relays them (it imported the 20 kiosks' bundles, keeping their signatures), in
     time order; then the same again when all are already there (cursors reset: the
     idempotent path); then the 20 kiosks' own databases, each sending its whole year.
     Baseline: the physical best, the same rows read from SQLite and COPYed by psycopg in
     one transaction into a table of the same shape and indexes, no conflict check, no
     cursor, no signature.
 10. City-wide statistics in PostgreSQL: the --stats-rows submissions of section 8 (from
     --stats-cache when there) COPYed into the submissions of a throwaway central database
     (fsync on), then the tally build of central schema 2 (store/central/tallies.py recount,
     what a migration runs; a sync keeps them as it goes) and the bitmaps of schema 7 (as
     `kiosk central index` writes them), each timed. Then `kiosk stats --central`'s
     all-question tallies (survey_statistics on CentralStats), against the same tallies as
     plain SQL GROUP BYs over the jsonb answers, one per question; one month of one site;
     an answer filter (first read of a new connection, then the next reads) and cross-tabs
     (one question, every select question), from the bitmaps, against the plain GROUP BY of
     the cross-tab; and the --by-site breakdown. Last, `kiosk
     sync` with the statistics upkeep of 100,000 submissions of one kiosk id and site (as a
     kiosk sends its own), against one plain COPY of the same rows.
 11. The record gate: a form whose constraint is regex(., '(a+)+$') checking a 31-character
     answer that does not match, through FormSession as the screen does (RE2: linear),
     against Python's re on the same pattern and only 24 characters (backtracking: each
     character more doubles its time; at 31 it takes about a minute). Then a bundle of
     --bundle-lines generated submissions (default 1,000,000; 100,000 with --quick) as
     `kiosk bundle export` writes it, imported by `kiosk bundle import` into a new kiosk
     database in its own process, every row through the gate: its time and peak memory,
     against the floor of reading the same file line by line with json.loads, nothing kept.
 12. Households: a register of --households generated households (default 10,000), and
     picking one by a search through the follow-up form's session (the words of a name, an
     address, the last four digits of a phone), against a plain SQLite LIKE
     over a table of the same rows. Section 4 also walks a 300-question form that begins
     with a 20-person repeat.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import datetime as dt
import fcntl
import json
import os
import pty
import random
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from openpyxl import Workbook

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kiosk.importer import import_jsonl  # noqa: E402
from store import KioskStore, open_store, receipt_code  # noqa: E402
from surveys.form import Form  # noqa: E402
from surveys.session import FormSession  # noqa: E402
from surveys.xlsform import compile_xlsform  # noqa: E402


def timed(function: Callable[[], Any], repeat: int) -> float:
    """Median wall time of ``function`` in seconds."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


# ---- 1. form load ---------------------------------------------------------------------


def write_large_form(path: Path, questions: int = 300) -> None:
    """A realistic large XLSForm: groups, selects, numbers, rules and calculates."""
    book = Workbook()
    survey = book.active
    survey.title = "survey"
    survey.append(["type", "name", "label::中文 (zh)", "label::English (en)", "relevant",
                   "constraint", "constraint_message::中文 (zh)", "required", "calculation",
                   "appearance", "pii"])
    kinds = ["select_one likert5", "integer", "select_multiple needs", "select_one yn",
             "text", "decimal", "date", "select_one likert5", "integer"]
    group = 0
    for number in range(questions):
        if number % 20 == 0:
            if number:
                survey.append(["end_group"])
            group += 1
            survey.append(["begin_group", f"section{group}", f"第{group}部分",
                           f"Part {group}", "", "", "", "", "", "", ""])
        kind = kinds[number % len(kinds)]
        previous = f"q{number - 1}" if number else ""
        relevant = f"${{{previous}}} != ''" if kind == "select_one yn" and previous else ""
        constraint = ". >= 0 and . <= 120" if kind == "integer" else ""
        message = "请输入0到120之间的数" if constraint else ""
        survey.append([kind, f"q{number}", f"第{number}题：您对这项服务满意吗？",
                       f"Question {number}: are you satisfied?", relevant, constraint,
                       message, "yes" if number % 3 == 0 else "", "", "", "no"])
        if number % 10 == 9:  # derived fields, as real forms have
            survey.append(["calculate", f"c{number}", "", "", "", "", "", "",
                           f"if(${{q{number - 1}}} > 60, 'senior', 'adult')", "", ""])
    survey.append(["end_group"])
    choices = _choices_and_settings(book, "large_form", "大型问卷")
    choices.append(["yn", "yes", "是", "Yes"])
    choices.append(["yn", "no", "否", "No"])
    for index in range(8):
        choices.append(["needs", f"need{index}", f"需求{index}", f"Need {index}"])
    book.save(path)


LIKERT = [("非常不满意", "Very dissatisfied"), ("不满意", "Dissatisfied"), ("一般", "Neutral"),
          ("满意", "Satisfied"), ("非常满意", "Very satisfied")]


def _choices_and_settings(book: Workbook, form_id: str, title: str) -> Any:
    """The settings sheet and a choices sheet holding the 5-point scale ``likert5``."""
    settings = book.create_sheet("settings")
    settings.append(["form_title", "form_id", "version", "default_language"])
    settings.append([title, form_id, "1", "中文 (zh)"])
    choices = book.create_sheet("choices")
    choices.append(["list_name", "name", "label::中文 (zh)", "label::English (en)"])
    for value, (zh, en) in enumerate(LIKERT, start=1):
        choices.append(["likert5", str(value), zh, en])
    return choices


def bench_form_load(workdir: Path, repeat: int) -> list[tuple[str, float, float, str]]:
    from pyxform.xls2json import parse_file_to_json

    path = workdir / "large_form.xlsx"
    write_large_form(path)
    compiled = compile_xlsform(path)
    database = workdir / "forms.db"
    with KioskStore(database) as store:
        store.install_form(compiled)
    question_count = Form(compiled).question_count

    def load_from_cache() -> Form:
        with KioskStore(database) as store:
            return store.load_form("large_form")

    def load_and_start() -> None:
        form = load_from_cache()
        FormSession(form, "zh")  # evaluates every relevance: compiles all XPath

    pyxform_seconds = timed(lambda: parse_file_to_json(str(path)), max(3, repeat // 4))
    compile_seconds = timed(lambda: compile_xlsform(path), max(3, repeat // 4))
    cache_seconds = timed(load_from_cache, repeat)
    start_seconds = timed(load_and_start, repeat)
    return [
        (f"form load, {question_count} questions: compiled cache -> Form (ms)",
         cache_seconds * 1000, pyxform_seconds * 1000, "<= 50 ms, >= 10x faster"),
        ("  ... plus first FormSession (all XPath compiled) (ms)",
         start_seconds * 1000, pyxform_seconds * 1000, "-"),
        ("  ... full import compile: pyxform + translation (ms)",
         compile_seconds * 1000, pyxform_seconds * 1000, "(import time only)"),
    ]


# ---- 2. import throughput -------------------------------------------------------------


def random_submission(form: Form, rng: random.Random) -> dict[str, Any]:
    """Fill a form the way a resident might, through FormSession, and return the record."""
    session = FormSession(form, "zh", kiosk="bench-kiosk")
    for _ in range(len(form.screens) + 1):
        screen = session.screen
        if screen is None:
            break
        for question in screen.questions:
            for _attempt in range(30):
                value = random_value(question, rng)
                if value is None or not session.answer(question.name, value):
                    break
        if session.next():
            break
    completed = dt.datetime(2026, 11, 1, 8, tzinfo=dt.timezone(dt.timedelta(hours=8))) + \
        dt.timedelta(minutes=rng.randint(0, 30 * 24 * 60))
    submission = session.finish(completed=completed)
    record = submission.to_json()
    record["instance_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return record


def random_value(question: Any, rng: random.Random) -> Any:
    kind = question.kind
    names = [choice.name for choice in question.choices]
    if kind == "select_one":
        return rng.choice(names)
    if kind == "select_multiple":
        return rng.sample(names, rng.randint(1, min(3, len(names))))
    if kind == "integer":
        return rng.choice([rng.randint(0, 10), rng.randint(18, 95), rng.randint(1, 3000)])
    if kind == "decimal":
        return round(rng.uniform(0, 100), 1)
    if kind == "date":
        return (dt.date(2026, 11, 1) - dt.timedelta(days=rng.randint(0, 400))).isoformat()
    if kind == "text":
        return rng.choice(["希望多组织活动", "停车难", "楼道灯坏了", "很好", "13812345678"])
    if kind == "acknowledge":
        return True
    return None


def bench_import(workdir: Path, count: int) -> list[tuple[str, float, float, str]]:
    import sqlite_utils

    store = open_store(workdir / "generate.db")
    form = store.load_form("satisfaction")
    rng = random.Random(2018)
    templates = [random_submission(form, rng) for _ in range(min(count, 500))]
    records = []
    for index in range(count):
        record = dict(templates[index % len(templates)])
        record["instance_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        records.append(record)
    store.close()
    source = workdir / "satisfaction.jsonl"
    source.write_text("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in records),
                      encoding="utf-8")

    target = open_store(workdir / "import.db")
    start = time.perf_counter()
    report = import_jsonl(target, source)
    ours = time.perf_counter() - start
    target.close()
    if report.rejected or report.stored != count:
        raise SystemExit(f"import rejected generated records: {report.rejected[:3]}")

    # Baseline: the same rows with no validation at all, through sqlite-utils.
    plain = sqlite_utils.Database(workdir / "plain.db")
    plain.execute("PRAGMA journal_mode=WAL")
    plain.execute("PRAGMA synchronous=FULL")
    start = time.perf_counter()
    with source.open(encoding="utf-8") as handle:
        rows = ({**(item := json.loads(line)), "answers": json.dumps(item["answers"],
                                                                     ensure_ascii=False)}
                for line in handle)
        plain["submissions"].insert_all(rows, pk="instance_id", ignore=True, batch_size=2000)
    baseline = time.perf_counter() - start
    return [(f"kiosk import through the record gate, {count:,} records (records/s)",
             count / ours, count / baseline, ">= 5,000/s (validated)")]


# ---- 3. cold start ----------------------------------------------------------------------

READY = "BENCHREADY"
BARE_APP = f"""
from textual.app import App
from textual.widgets import Static

class Bare(App):
    def compose(self):
        yield Static("{READY}")

Bare().run()
"""


def time_until_drawn(argv: list[str], marker: str, env: dict[str, str],
                     columns: int = 100, rows: int = 40, timeout: float = 30.0) -> float:
    """Seconds from spawning ``argv`` in a pty until ``marker`` appears on its screen."""
    start = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # the child: a program in a terminal of the given size
        os.execvpe(argv[0], argv, env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    seen = b""
    wanted = marker.encode()
    try:
        while wanted not in seen:
            if time.perf_counter() - start > timeout:
                raise SystemExit(f"{argv} did not draw {marker!r} in {timeout} s")
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                try:
                    seen = (seen + os.read(fd, 65536))[-65536:]
                except OSError:
                    break
        return time.perf_counter() - start
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)


def bench_cold_start(workdir: Path, repeat: int) -> list[tuple[str, float, float, str]]:
    # The home screen lists this questionnaire: its title on screen means home is drawn.
    database = workdir / "start.db"
    marker_form = workdir / "benchready.md"
    marker_form.write_text(
        "| survey |\n| | type | name | label |\n| | note | hello | hello |\n"
        f"| settings |\n| | form_title | form_id | version |\n| | {READY} | benchready | 1 |\n",
        encoding="utf-8")
    with open_store(database) as store:
        store.install_form(compile_xlsform(marker_form))
    config = workdir / "start.toml"
    config.write_text('[kiosk]\nsurveys = ["satisfaction", "benchready"]\n', encoding="utf-8")
    bare = workdir / "bare_app.py"
    bare.write_text(BARE_APP, encoding="utf-8")
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "40"}
    kiosk = [sys.executable, "-m", "kiosk", "--db", str(database), "--config", str(config),
             "run"]
    # Both from bytecode, as a kiosk starts once its first start wrote it: Textual's is in
    # site-packages, ours would be compiled at every start where PYTHONDONTWRITEBYTECODE is
    # set (it is on some machines), a cost no station pays twice.
    for package in ("kiosk", "surveys", "store", "printers"):
        compileall.compile_dir(ROOT / package, quiet=1)
    time_until_drawn(kiosk, READY, env)  # warm the OS file cache once, for both
    time_until_drawn([sys.executable, str(bare)], READY, env)
    # Turn about, one start of each per round: this machine's speed drifts by a third over
    # minutes, and two blocks one after the other would each catch a different speed.
    ours_runs, bare_runs = [], []
    for _ in range(repeat):
        ours_runs.append(time_until_drawn(kiosk, READY, env))
        bare_runs.append(time_until_drawn([sys.executable, str(bare)], READY, env))
    ours, baseline = statistics.median(ours_runs), statistics.median(bare_runs)
    return [("cold start to the home screen, in a pty (ms)", ours * 1000, baseline * 1000,
             "<= 1.5x bare Textual (issue 14)")]


# ---- 4. answer-to-next-screen latency -----------------------------------------------------


def write_select_form(path: Path, questions: int = 300) -> None:
    """300 single-select screens (the satisfaction-survey shape), with rules on many."""
    book = Workbook()
    survey = book.active
    survey.title = "survey"
    survey.append(["type", "name", "label::中文 (zh)", "label::English (en)", "relevant",
                   "constraint", "required"])
    for number in range(questions):
        relevant = f"${{q{number - 1}}} != '1'" if number % 7 == 3 else ""
        constraint = ". != '5' or true()" if number % 5 == 0 else ""
        survey.append(["select_one likert5", f"q{number}", f"第{number}题：您满意吗？",
                       f"Question {number}: satisfied?", relevant, constraint, "yes"])
    _choices_and_settings(book, "select300", "三百题问卷")
    book.save(path)


def write_repeat_form(path: Path, members: int = 20, per_member: int = 5,
                      questions: int = 300) -> None:
    """A household of ``members`` people asked ``per_member`` questions each (a repeat with
    a fixed repeat_count, position(..) inside it and count() after it), then single-select
    screens up to ``questions`` in all."""
    book = Workbook()
    survey = book.active
    survey.title = "survey"
    survey.append(["type", "name", "label::中文 (zh)", "label::English (en)", "relevant",
                   "required", "repeat_count", "calculation"])
    survey.append(["begin_repeat", "members", "家庭成员", "Household member", "", "",
                   str(members), ""])
    for number in range(per_member):
        relevant = f"${{m{number - 1}}} != '1'" if number == 3 else ""
        survey.append(["select_one likert5", f"m{number}", f"成员第{number}题：满意吗？",
                       f"Member question {number}", relevant, "yes", "", ""])
    survey.append(["calculate", "member_no", "", "", "", "", "", "position(..)"])
    survey.append(["end_repeat", "", "", "", "", "", "", ""])
    for number in range(questions - members * per_member):
        survey.append(["select_one likert5", f"q{number}", f"第{number}题：您满意吗？",
                       f"Question {number}: satisfied?", "", "yes", "", ""])
    survey.append(["calculate", "members_n", "", "", "", "", "", "count(${members})"])
    _choices_and_settings(book, "repeat300", "三百题含重复组问卷")
    book.save(path)


def bench_answer_latency(workdir: Path, steps: int) -> list[tuple[str, float, float, str]]:
    path = workdir / "select300.xlsx"
    write_select_form(path)
    rows = [_answer_latency(workdir, path, "select300", steps,
                            "answer -> next screen, 300-question form, median (ms)")]
    path = workdir / "repeat300.xlsx"
    write_repeat_form(path)
    rows.append(_answer_latency(
        workdir, path, "repeat300", steps,
        "answer -> next, 300 questions with a 20-person repeat (ms)"))
    return rows


def _answer_latency(workdir: Path, path: Path, survey_id: str, steps: int,
                    label: str) -> tuple[str, float, float, str]:
    from kiosk.app import KioskApp

    database = workdir / f"latency-{survey_id}.db"
    store = KioskStore(database)
    store.install_form(compile_xlsform(path))
    form = store.load_form(survey_id)

    async def drive() -> list[float]:
        """Time what the kiosk does between a key press and the next question drawn.

        Pilot's own press()/click() wait for idle and animations (tens of ms that are the
        harness, not the kiosk), so the steps are timed inside the app: the number key's
        action, until the session holds the answer (saved as a draft); the 下一题 handler,
        which moves and rebuilds the screen; then the layout and the compositor's frame
        for the terminal (Screen._refresh_layout does both, as on Textual's next refresh).
        """
        app = KioskApp(store, kiosk_id="bench", tap_guard=0.0, home_after=600)
        samples: list[float] = []
        async with app.run_test(size=(100, 40)) as pilot:
            await pilot.pause()
            app.start_form(survey_id)
            await pilot.pause()
            for _ in range(steps):
                screen: Any = app.screen
                session = screen.session
                name = session.screen.questions[0].name
                before = session.position
                start = time.perf_counter()
                screen.action_pick(4)  # what the key "4" does
                while session.raw(name) != "4":
                    await asyncio.sleep(0)  # the answer is handled as a message
                await screen.go_next()  # what tapping 下一题 does
                app.screen._refresh_layout(app.size)  # layout, render and send the frame
                samples.append(time.perf_counter() - start)
                if session.position == before:
                    raise SystemExit("the latency walk did not move to the next screen")
                await pilot.pause()
        return samples

    samples = asyncio.run(drive())
    store.close()

    session = FormSession(form, "zh")
    bare: list[float] = []
    for _ in range(steps):
        name = session.screen.questions[0].name
        start = time.perf_counter()
        session.answer(name, "4")
        session.next()
        bare.append(time.perf_counter() - start)
    return (label, statistics.median(samples) * 1000, statistics.median(bare) * 1000,
            "median <= 16 ms, one frame at 60 Hz (baseline: FormSession alone)")


# ---- 5. receipts -----------------------------------------------------------------------


def typical_receipt() -> Any:
    """30 printed lines: title, questionnaire, answers, receipt code, thanks, QR, address."""
    from printers.document import Document

    receipt = Document().title("梁丰社区社工站").text("社区服务满意度调查", align="center")
    receipt.text("2026年11月23日 14:05", align="center").rule()
    for number, service in enumerate(["为老服务", "儿童关爱", "困难帮扶", "助残服务", "便民大厅",
                                      "社区环境", "停车管理", "楼道照明", "文明养宠", "电瓶车充电",
                                      "心理疏导", "法律咨询", "义诊活动", "志愿服务", "文体活动",
                                      "邻里互助", "垃圾分类", "安全巡查"], start=1):
        receipt.pair(f"{number}. {service}", "满意")
    receipt.rule().pair("回执号", "K7QM-3XAB")
    receipt.text("谢谢您的参与！请保留此回执，凭回执号可到服务台查询办理进度。")
    receipt.qr("0b6f3c2e-8d1a-4f5e-9c7b-1a2b3c4d5e6f")
    receipt.text("张家港市杨舍镇梁丰路1号 电话 0512-5868 0000", align="center").cut()
    return receipt


def bench_receipt(workdir: Path, repeat: int) -> list[tuple[str, float, float, str]]:
    from kiosk.printing.queue import PrintQueue
    from printers.escpos import PrinterProfile, encode, raster_bytes
    from printers.transport import open_printer
    from tests.fake_printer import FakePrinter

    profile = PrinterProfile(columns=32)
    data = encode(typical_receipt(), profile).data
    raster = raster_bytes(typical_receipt(), profile)
    minimum = len(data) * 10 / 9600
    times = []
    for run in range(repeat):
        with FakePrinter(bytes_per_second=960) as fake, \
                KioskStore(workdir / f"print-{run}.db") as store:
            queue = PrintQueue(store, lambda port=fake.port: open_printer(port), profile)
            queue.start()
            try:
                time.sleep(0.2)  # the worker is up and idle, as in a running kiosk
                start = time.perf_counter()
                queue.enqueue(typical_receipt(), "receipt", title="bench")  # "print"
                fake.wait_for(lambda received: len(received) >= len(data), timeout=30)
                times.append(time.perf_counter() - start)
            finally:
                queue.close()
    return [
        ("30-line Chinese receipt with QR, ESC/POS size (bytes)", len(data), len(raster),
         "<= 2 KB (baseline: the same as a GS v 0 raster)"),
        ("  ... queued to fully received at 9600 baud (ms)", statistics.median(times) * 1000,
         minimum * 1000, "<= 1.1x the minimum (baseline: bytes x 10 / 9600)"),
    ]


# ---- 6. scan to greeting --------------------------------------------------------------------


def bench_scan_to_greeting(workdir: Path, steps: int) -> list[tuple[str, float, float, str]]:
    from textual import events

    from kiosk.app import KioskApp
    from kiosk.cards.payload import make_payload
    from kiosk.config import VolunteerSettings
    from kiosk.screens.volunteer import ScanResultScreen
    from kiosk.volunteers.desk import VolunteerDesk
    from kiosk.volunteers.roster import add_volunteer, new_volunteer

    secret = b"bench-card-secret-32-bytes-long!"
    store = KioskStore(workdir / "scan.db")
    cards = []
    for index in range(2 * steps):  # one card per scan: every scan is a first check-in
        number = f"BENCH{index:04d}"
        add_volunteer(store, new_volunteer(number, f"志愿者{index}", f"139{index:08d}",
                                           team="心语志愿服务队", today=dt.date(2026, 1, 1)))
        cards.append(make_payload(number, 1, secret))

    def burst(card: str) -> list[events.Key]:
        """The keys of one scan, made at once: a scanner's burst arrives in one read."""
        keys = [events.Key(char if char.isalnum() else "full_stop" if char == "." else
                           "minus", char) for char in card]
        return [*keys, events.Key("enter", "\r")]

    async def drive() -> list[float]:
        """Time what the kiosk does from the scan's Enter until the greeting is drawn.

        The card's keys are posted to the app as the terminal driver would; once they are
        held by the scanner watch, the clock starts, Enter is posted, and it stops when the
        result screen is mounted and its frame rendered (Screen._refresh_layout does the
        layout and the compositor's frame, as on Textual's next refresh).
        """
        app = KioskApp(store, kiosk_id="bench", tap_guard=0.0, home_after=600,
                       card_secret=secret, animations=False, cursor_blink=False)
        samples: list[float] = []
        async with app.run_test(size=(100, 40)) as pilot:
            await pilot.pause()
            for card in cards[:steps]:
                *keys, enter = burst(card)
                for key in keys:
                    app.post_message(key)
                while len(app.wedge.held) < len(keys):
                    await asyncio.sleep(0)
                start = time.perf_counter()
                app.post_message(enter)
                while not (isinstance(app.screen, ScanResultScreen) and app.screen.is_mounted
                           and app.screen.query("#volunteer-heading")):
                    await asyncio.sleep(0)
                app.screen._refresh_layout(app.size)
                samples.append(time.perf_counter() - start)
                if "签到成功" not in str(app.screen.query_one("#volunteer-heading").render()):
                    raise SystemExit("the scan did not check the volunteer in")
                app.screen.close()
                await pilot.pause()
        return samples

    samples = asyncio.run(drive())
    desk = VolunteerDesk(store, secret, kiosk="bench", settings=VolunteerSettings())
    bare: list[float] = []
    for card in cards[steps:]:
        start = time.perf_counter()
        result = desk.scan(card)
        bare.append(time.perf_counter() - start)
        if result.outcome != "checked_in":
            raise SystemExit(f"the baseline scan did not check in: {result.outcome}")
    store.close()
    return [("scan (keyboard wedge) -> greeting drawn, median (ms)",
             statistics.median(samples) * 1000, statistics.median(bare) * 1000,
             "median <= 100 ms (baseline: VolunteerDesk.scan alone)")]


# ---- 7. card scanning --------------------------------------------------------------------


def bench_card_scanning(workdir: Path, photos: int = 300,
                        frames: int = 60) -> list[tuple[str, float, float, str]]:
    import cv2
    import zxingcpp
    from pyzbar import pyzbar

    from kiosk.cards.scanning import ZBAR_PASSES, DecoderProcess, decode_image
    from tests.card_photos import card_photos, card_set, empty_frames

    sheet = card_set(workdir, 12)
    shots = card_photos(sheet.cards, sheet.payloads, photos, seed=1)
    grey = [cv2.cvtColor(shot.image, cv2.COLOR_RGB2GRAY) for shot in shots]
    empty = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in empty_frames(frames, seed=2)]

    def zxing_alone(frame: Any) -> list[str]:
        return [result.text for result in zxingcpp.read_barcodes(
            frame, formats=zxingcpp.BarcodeFormat.QRCode)]

    def zbar_alone(frame: Any) -> list[str]:
        return [symbol.data.decode() for symbol in pyzbar.decode(
            frame, symbols=[pyzbar.ZBarSymbol.QRCODE])]

    def frame_times(decode: Callable[[Any], Any], pictures: list[Any]) -> list[float]:
        samples = []
        for picture in pictures:
            start = time.perf_counter()
            decode(picture)
            samples.append(time.perf_counter() - start)
        return samples

    with DecoderProcess(timeout=10) as worker:
        worker.decode(empty[0])  # started and warm, as in a running kiosk
        card_ms = statistics.median(frame_times(worker.decode, grey[:frames])) * 1000
        empty_ms = statistics.median(frame_times(worker.decode, empty)) * 1000
        ours = sum(shot.payload in worker.decode(frame).texts
                   for shot, frame in zip(shots, grey, strict=True))
    zxing_card_ms = statistics.median(frame_times(zxing_alone, grey[:frames])) * 1000
    zxing_empty_ms = statistics.median(frame_times(zxing_alone, empty)) * 1000
    zxing = sum(shot.payload in zxing_alone(frame) for shot, frame in zip(shots, grey,
                                                                          strict=True))
    zbar_passes = sum(shot.payload in decode_image(frame, passes=ZBAR_PASSES)
                      for shot, frame in zip(shots, grey, strict=True))
    zbar = sum(shot.payload in zbar_alone(frame) for shot, frame in zip(shots, grey,
                                                                        strict=True))
    share = 100 / len(shots)
    return [
        ("card scan: 640x480 frame with a card, in the worker (ms)", card_ms, zxing_card_ms,
         "<= 20 ms (baseline: zxing-cpp alone)"),
        ("  ... frame without a card: every pass runs (ms)", empty_ms, zxing_empty_ms,
         "<= 20 ms"),
        (f"card scan: {len(shots)} distorted card photos read (%)", ours * share,
         zxing * share, ">= 98 % and >= zxing-cpp"),
        ("  ... zbar passes only, as without zxing-cpp (%)", zbar_passes * share,
         zxing * share, "-"),
        ("  ... zbar (pyzbar) alone on the plain frame (%)", zbar * share, zxing * share, "-"),
    ]


# ---- 8. statistics at scale ---------------------------------------------------------------

SITES = {f"hall-{number}": f"site-{(number - 1) // 4 + 1}" for number in range(1, 21)}
GROUP_WEIGHTS = {"elderly": 35, "youth": 8, "hardship": 10, "disabled": 5, "other": 42}
AGES = {"elderly": ["60_69", "70_79", "80_plus"], "youth": ["under_18", "18_35"],
        "hardship": ["18_35", "36_59", "60_69"], "disabled": ["36_59", "60_69", "70_79"],
        "other": ["18_35", "36_59", "60_69"]}
COMMUNITIES = {"liangfeng": 30, "nanyuan": 25, "chengbei": 20, "jingang": 20, "other": 5}
ESTATES = {"liangfeng": ["liangfeng_huayuan", "kangle_xincun"],
           "nanyuan": ["nanyuan_xincun", "fuqian"], "chengbei": ["chengbei_xincun",
                                                                 "beihuan_huayuan"],
           "jingang": ["jingang_1", "jingang_2"]}
LIKERT_WEIGHTS = [35, 38, 16, 7, 4]  # 5 (非常满意) ... 1 (非常不满意)
SERVICES = ["elderly", "children", "hardship", "disability", "hall"]
IMPROVEMENTS = {"parking": 30, "ebike_charging": 25, "stair_lighting": 12, "pets": 8,
                "elevator": 20, "canteen": 18, "after_school": 9, "fitness": 10, "waste": 6,
                "other": 2}
TEXTS = ["希望多组织活动", "停车难", "楼道灯坏了", "很好，谢谢社工", "垃圾清运不及时",
         "希望增加老年助餐点", "电梯什么时候装", "办事排队时间长"]


def generate_satisfaction(version: str, count: int, seed: int = 2026, size: int = 5000) -> Any:
    """Satisfaction submissions as residents might give them (following the form's rules,
    not checked by FormSession: generation is not what is measured), in batches of
    ``size``."""
    from surveys.session import Submission

    rng = random.Random(seed)
    groups, group_weights = list(GROUP_WEIGHTS), list(GROUP_WEIGHTS.values())
    communities, community_weights = list(COMMUNITIES), list(COMMUNITIES.values())
    likert = ["5", "4", "3", "2", "1"]
    kiosks = list(SITES)
    improvements, improvement_weights = list(IMPROVEMENTS), list(IMPROVEMENTS.values())
    start = dt.datetime(2026, 1, 1, 8, 30)
    # In time order, as kiosks store them and imports bring them: a day after another.
    moments = sorted(start + dt.timedelta(days=rng.randrange(365),
                                          seconds=rng.randrange(9 * 3600))  # 8:30 to 17:30
                     for _ in range(count))
    batch = []
    for moment in moments:
        group = rng.choices(groups, group_weights)[0]
        community = rng.choices(communities, community_weights)[0]
        shift = {"liangfeng": 0, "nanyuan": 1, "chengbei": 2, "jingang": 0, "other": 1}[
            community]
        answers: dict[str, Any] = {"respondent_group": group,
                                   "age_band": rng.choice(AGES[group]), "community": community}
        if community == "other":
            answers["estate_text"] = rng.choice(["城南小区", "东方花园", "新村"])
        else:
            answers["estate"] = rng.choice(ESTATES[community] + ["other"] * (rng.random() < .03))
            if answers["estate"] == "other":
                answers["estate_text"] = "未列出的小区"
        overall = rng.choices(likert, LIKERT_WEIGHTS[shift:] + LIKERT_WEIGHTS[:shift])[0]
        answers["overall"] = overall
        if overall in ("1", "2") and rng.random() < 0.6:
            answers["unsatisfied_reason"] = rng.choice(TEXTS)
        if rng.random() < 0.12:
            answers["services_used"] = ["none"]
        else:
            used = rng.sample(SERVICES, rng.randint(1, 3))
            if group == "elderly" and "elderly" not in used:
                used.append("elderly")
            answers["services_used"] = [name for name in SERVICES if name in used]
            for name in answers["services_used"]:
                answers[f"sat_{name}"] = rng.choices(likert, LIKERT_WEIGHTS)[0]
        answers["sat_environment"] = rng.choices(likert, LIKERT_WEIGHTS)[0]
        chosen = set(rng.choices(improvements, improvement_weights, k=rng.randint(1, 3)))
        answers["improvements"] = [name for name in improvements if name in chosen]
        if "other" in chosen:
            answers["improvements_other"] = "小区门口加装路灯"
        if rng.random() < 0.2:
            answers["suggestion"] = rng.choice(TEXTS)
        kiosk = rng.choice(kiosks)
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.000+08:00")
        batch.append(Submission(
            instance_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            survey="satisfaction", version=version, started=stamp, completed=stamp,
            lang="zh", answers=answers, kiosk=kiosk, site=SITES[kiosk]))
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def through_the_gate(store: KioskStore, batch: list[Any]) -> list[Any]:
    """Generated submissions as the store takes them: through its record gate (a refusal
    stops the bench: generation must follow the form's rules)."""
    gate = store.record_gate()
    return [gate.check_submission(item) for item in batch]


def statistics_database(workdir: Path, rows: int,
                        cache: Path | None) -> tuple[Path, list[tuple[str, float, float, str]]]:
    """The generated database: from the cache when it has ``rows`` submissions, else made
    (timing the store's bulk path with its statistics upkeep against a plain insert)."""
    import sqlite3

    path = (cache or workdir) / f"stats-{rows}.db"
    if path.exists():
        with KioskStore(path) as store:
            if store.submission_count("satisfaction") == rows:
                print(f"8. statistics: {rows:,} submissions from {path}", flush=True)
                return path, []
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    store = open_store(path)
    version = store.load_form("satisfaction").version
    generated = checked = stored = plain_seconds = 0.0
    plain_rows = 0
    plain = sqlite3.connect(workdir / "plain-submissions.db", isolation_level=None)
    plain.execute("PRAGMA journal_mode=WAL")
    plain.execute("PRAGMA synchronous=FULL")
    plain.execute("CREATE TABLE submissions(instance_id TEXT PRIMARY KEY, survey_id TEXT,"
                  " version TEXT, kiosk TEXT, started TEXT, completed TEXT, lang TEXT,"
                  " enumerator TEXT, answers TEXT, receipt_code TEXT, source TEXT,"
                  " stored_at TEXT, site TEXT, entity TEXT)")
    plain.execute("CREATE INDEX s1 ON submissions(survey_id, version)")
    plain.execute("CREATE INDEX s2 ON submissions(survey_id, completed)")
    plain.execute("CREATE INDEX s3 ON submissions(receipt_code)")
    from store.sqlite.submissions import BULK_BATCH, receipt_code, submission_row

    # As an import stores them: batches of the bulk paths' size, in the store's bulk
    # loading (its WAL copied into the file at the end is counted).
    with store.bulk_loading():
        clock = time.perf_counter()
        for batch in generate_satisfaction(version, rows, size=BULK_BATCH):
            now = time.perf_counter()
            generated += now - clock
            gated = through_the_gate(store, batch)
            clock = time.perf_counter()
            checked += clock - now
            now = clock
            store.insert_submissions(gated)
            clock = time.perf_counter()
            stored += clock - now
            # The baseline over the same rows (on the first 200,000 only it looked faster
            # than it is: an empty table takes rows faster than a full one).
            values = [submission_row(item, receipt_code(item.instance_id), "import", "x")
                      for item in batch]
            now = time.perf_counter()
            plain.execute("BEGIN IMMEDIATE")
            plain.executemany("INSERT OR IGNORE INTO submissions VALUES"
                              f" ({', '.join('?' * len(values[0]))})", values)
            plain.execute("COMMIT")
            plain_seconds += time.perf_counter() - now
            plain_rows += len(values)
            clock = time.perf_counter()
        now = time.perf_counter()
    stored += time.perf_counter() - now
    plain.close()
    store.close()
    print(f"8. statistics: generated {rows:,} submissions in {generated:.0f} s (not counted), "
          f"checked by the record gate in {checked:.0f} s, stored in {stored:.0f} s", flush=True)
    return path, [(f"bulk insert with statistics upkeep, {rows:,} rows (rows/s)", rows / stored,
                   plain_rows / plain_seconds,
                   f"goal >= 20,000/s; baseline: the same {BULK_BATCH:,}-row batches, plain"
                   " INSERT")]


def duckdb_tallies(connection: Any, questions: dict[str, Any], texts: bool) -> dict[str, Any]:
    """All-question tallies in DuckDB: one GROUP BY per question, sums of the 0/1 columns."""
    result: dict[str, Any] = {"n": connection.execute("SELECT count(*) FROM flat").fetchone()}
    for name, question in questions.items():
        column = f'"{name}"'
        if question.kind == "select_multiple":
            sums = ", ".join(f'sum("{name}/{choice}")' for choice in question.choice_names)
            result[name] = connection.execute(
                f"SELECT count({column}), {sums} FROM flat").fetchone()
        elif question.kind == "text":
            result[name] = connection.execute(f"SELECT count({column}) FROM flat").fetchone()
            if texts:
                result[name] = connection.execute(
                    f"SELECT {column} FROM flat WHERE {column} IS NOT NULL").fetchall()
        else:
            result[name] = connection.execute(
                f"SELECT {column}, count(*) FROM flat WHERE {column} IS NOT NULL GROUP BY 1"
            ).fetchall()
    return result


def bench_statistics(workdir: Path, rows: int, cache: Path | None,
                     repeat: int) -> list[tuple[str, float, float, str]]:
    import sqlite3

    import duckdb
    import pandas

    from surveys.stats.figures import survey_statistics
    from surveys.stats.model import StatsFilter, catalogue

    path, results = statistics_database(workdir, rows, cache)
    store = KioskStore(path)
    questions = catalogue([store.load_form("satisfaction", version)
                           for version in store.versions("satisfaction")])
    # DuckDB: the same flat columns, loaded into memory before the clock starts.
    source = sqlite3.connect(path)
    frame = pandas.read_sql_query('SELECT * FROM "flat_satisfaction"', source)
    source.close()
    duck = duckdb.connect()
    duck.register("frame", frame)
    duck.execute("CREATE TABLE flat AS SELECT * FROM frame")
    duck.unregister("frame")
    del frame

    def ours(**options: Any) -> Callable[[], Any]:
        return lambda: survey_statistics(store, "satisfaction", **options)

    counts_ms = timed(ours(text_answers=False), repeat) * 1000
    duck_ms = timed(lambda: duckdb_tallies(duck, questions, texts=False), repeat) * 1000
    full_ms = timed(ours(), max(3, repeat // 3)) * 1000
    duck_full_ms = timed(lambda: duckdb_tallies(duck, questions, texts=True),
                         max(3, repeat // 3)) * 1000
    month = StatsFilter(date_from=dt.date(2026, 3, 1), date_to=dt.date(2026, 3, 31),
                        sites=("site-2",))
    filtered_ms = timed(ours(filters=month, text_answers=False), repeat) * 1000
    duck.execute("CREATE TEMP VIEW flat_month AS SELECT * FROM flat WHERE"
                 " _day BETWEEN '2026-03-01' AND '2026-03-31' AND _site = 'site-2'")
    duck_filtered_ms = timed(lambda: duckdb_tallies(_DuckView(duck, "flat_month"), questions,
                                                    texts=False), repeat) * 1000
    elderly = StatsFilter(where={"respondent_group": "elderly"})
    # The first read of a newly opened store loads the bitmaps from the file; the next
    # ones reload only the pieces a writer changed.
    with KioskStore(path) as fresh:
        clock = time.perf_counter()
        survey_statistics(fresh, "satisfaction", filters=elderly, text_answers=False)
        cold_answer_ms = (time.perf_counter() - clock) * 1000
    answer_ms = timed(ours(filters=elderly, text_answers=False), repeat) * 1000
    duck.execute("CREATE TEMP VIEW flat_elderly AS SELECT * FROM flat WHERE"
                 " respondent_group = 'elderly'")
    duck_answer_ms = timed(lambda: duckdb_tallies(_DuckView(duck, "flat_elderly"), questions,
                                                  texts=False), 3) * 1000
    crosstab_ms = timed(ours(by="community", question="overall", text_answers=False),
                        repeat) * 1000
    duck_crosstab_ms = timed(lambda: duck.execute(
        "SELECT community, overall, count(*) FROM flat WHERE community IS NOT NULL AND"
        " overall IS NOT NULL GROUP BY 1, 2").fetchall(), repeat) * 1000
    all_crosstabs_ms = timed(ours(by="respondent_group", text_answers=False), 3) * 1000

    def pandas_end_to_end() -> Any:
        connection = sqlite3.connect(path)
        table = pandas.read_sql_query('SELECT * FROM "flat_satisfaction"', connection)
        connection.close()
        tallies = {}
        for name, question in questions.items():
            if question.kind == "select_multiple":
                tallies[name] = table[[f"{name}/{choice}" for choice in
                                       question.choice_names]].sum()
            else:
                tallies[name] = table[name].value_counts()
        return tallies

    pandas_ms = timed(pandas_end_to_end, 1) * 1000
    duck.close()
    store.close()
    label = f"{rows // 1000:,}k"
    results += [
        (f"stats: all-question tallies, {label} submissions (ms)", counts_ms, duck_ms,
         "<= 1.0x DuckDB in memory"),
        ("  ... with the text answers listed (ms)", full_ms, duck_full_ms, "-"),
        ("  ... one month of one site (ms)", filtered_ms, duck_filtered_ms,
         "<= 1.0x DuckDB in memory"),
        ("  ... respondent_group = elderly (bitmaps) (ms)", answer_ms, duck_answer_ms,
         "<= 1.0x DuckDB in memory"),
        ("  ... the same, first read of a newly opened store (ms)", cold_answer_ms,
         duck_answer_ms, "-"),
        ("stats: cross-tab overall by community (ms)", crosstab_ms, duck_crosstab_ms,
         "<= 1.0x DuckDB's GROUP BY"),
        ("  ... every select question by respondent_group (ms)", all_crosstabs_ms,
         duck_crosstab_ms, "<= 10x one DuckDB GROUP BY"),
        ("stats: tallies vs pandas end-to-end (read + tallies) (ms)", counts_ms, pandas_ms,
         ">= 20x faster than pandas"),
    ]
    return [*results, bench_single_saves(workdir, path, rows),
            *bench_exports(workdir, path, rows)]


def bench_single_saves(workdir: Path, path: Path, rows: int,
                       saves: int = 60) -> tuple[str, float, float, str]:
    """A kiosk storing one questionnaire at a time into the database of ``rows`` (a copy):
    each save with its tallies, flat row and bitmaps in one transaction, against a plain
    INSERT of the same rows into the same submissions table (its indexes, no statistics)."""
    import shutil
    import sqlite3

    from store.sqlite.submissions import SUBMISSION_COLUMNS, receipt_code, submission_row

    copy = workdir / "single-saves.db"
    shutil.copyfile(path, copy)
    with KioskStore(copy) as store:
        version = store.load_form("satisfaction").version
        batch = through_the_gate(store, next(generate_satisfaction(version, 2 * saves,
                                                                   seed=77)))
        ours = []
        for item in batch[:saves]:
            clock = time.perf_counter()
            store.save_submission(item)
            ours.append(time.perf_counter() - clock)
    plain = sqlite3.connect(copy, isolation_level=None)
    plain.execute("PRAGMA journal_mode=WAL")
    plain.execute("PRAGMA synchronous=FULL")
    theirs = []
    for item in batch[saves:]:
        values = submission_row(item, receipt_code(item.instance_id), "kiosk", "x")
        clock = time.perf_counter()
        plain.execute("BEGIN IMMEDIATE")
        plain.execute(f"INSERT INTO submissions({SUBMISSION_COLUMNS}) VALUES"
                      f" ({', '.join('?' * len(values))})", values)
        plain.execute("COMMIT")
        theirs.append(time.perf_counter() - clock)
    plain.close()
    copy.unlink()
    return (f"save one questionnaire into {rows // 1000:,}k (ms, median)",
            statistics.median(ours) * 1000, statistics.median(theirs) * 1000,
            "baseline: plain INSERT, same table")


PEAK_MEMORY = ("\nimport sys\nprint(next(line for line in open('/proc/self/status')"
               " if line.startswith('VmHWM')), file=sys.stderr)\n")


def run_measured(code: str, *args: str) -> tuple[float, int]:
    """Run Python ``code`` in a new process: its wall time in ms and its peak memory in bytes.

    The peak is the process's own VmHWM, read as it ends: the rusage of a child counts the
    pages it shared with this (large) process between fork and exec.
    """
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code + PEAK_MEMORY, *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = (time.perf_counter() - start) * 1000
    if result.returncode != 0:
        raise RuntimeError(f"{args} failed: {result.stderr}")
    peak = result.stderr.strip().splitlines()[-1].split()
    return elapsed, int(peak[1]) * 1024


def bench_exports(workdir: Path, path: Path, rows: int) -> list[tuple[str, float, float, str]]:
    """8b. `kiosk export` on the generated database: the CSV of all rows and the PDF report.

    Each runs as the command staff type, in its own process, so its peak memory is its own.
    CSV baseline: pandas reading the same flat table from SQLite and writing it with
    to_csv (the whole table in memory). PDF baseline: the statistics it reports, alone.
    """
    # `kiosk --db DB export satisfaction ARGS…`, as staff type it.
    kiosk = ("import sys\nfrom kiosk.cli import main\n"
             "try:\n    main(sys.argv[1:])\nexcept SystemExit as end:\n"
             "    assert not end.code, end.code\n")
    export = ("--db", str(path), "export", "satisfaction")
    csv_ms, csv_bytes = run_measured(kiosk, *export, "-o", str(workdir / "export.csv"))
    pandas_script = (
        "import sqlite3, sys, pandas\n"
        "connection = sqlite3.connect(sys.argv[1])\n"
        "frame = pandas.read_sql_query('SELECT * FROM \"flat_satisfaction\"', connection)\n"
        "frame.to_csv(sys.argv[2], index=False, encoding='utf-8-sig')\n")
    pandas_ms, pandas_bytes = run_measured(pandas_script, str(path),
                                           str(workdir / "pandas.csv"))
    pdf_ms, _ = run_measured(kiosk, *export, "-o", str(workdir / "report.pdf"))
    by_ms, _ = run_measured(kiosk, *export, "-o", str(workdir / "report-by.pdf"), "--by",
                            "respondent_group")
    stats_script = ("import sys\nfrom store import KioskStore\n"
                    "from surveys.stats.figures import survey_statistics\n"
                    "survey_statistics(KioskStore(sys.argv[1]), 'satisfaction')\n")
    stats_ms, _ = run_measured(stats_script, str(path))
    print(f"8b. exports: CSV {csv_ms / 1000:.1f} s, peak {csv_bytes / 2**20:.0f} MB; "
          f"PDF {pdf_ms / 1000:.1f} s", flush=True)
    label = f"{rows // 1000:,}k"
    return [
        (f"export: CSV of all rows, {label} submissions (ms)", csv_ms, pandas_ms,
         "streams (pandas: read_sql + to_csv)"),
        ("  ... peak memory of that export (bytes)", csv_bytes, pandas_bytes,
         "flat, whatever the rows"),
        (f"export: PDF report, {label} submissions (ms)", pdf_ms, stats_ms,
         "baseline: its statistics alone"),
        ("  ... with every cross-tab by respondent_group (ms)", by_ms, stats_ms, "-"),
    ]


class _DuckView:
    """A DuckDB connection whose table ``flat`` is a filtered view (for duckdb_tallies)."""

    def __init__(self, connection: Any, view: str) -> None:
        self.connection = connection
        self.view = view

    def execute(self, query: str) -> Any:
        return self.connection.execute(query.replace("FROM flat", f"FROM {self.view}"))


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(rows: Any, prefix: tuple[Any, ...] = ()) -> bytes:
    """Rows in COPY's text format (``prefix`` fields first on every row): the baseline's
    plain COPY, which checks nothing."""
    def field(value: Any) -> str:
        return "\\N" if value is None else str(value).translate(_COPY_ESCAPES)

    head = "".join(field(value) + "\t" for value in prefix)
    return "".join(head + "\t".join(map(field, row)) + "\n" for row in rows).encode()


def bench_enrolment(dsn: str, kiosk: Any) -> Any:
    """Enrol ``kiosk`` at the throwaway server (its owner is the admin), as staff would."""
    import psycopg

    from kiosk.central.enrolment import Enrolment
    from store.central.connection import public_address
    from store.central.trust import enrol

    with psycopg.connect(dsn, autocommit=True) as connection:
        made = enrol(connection, kiosk.kiosk_id, station=kiosk.station, street=kiosk.street,
                     community=kiosk.community)
    return Enrolment(**vars(made), address=public_address(dsn))


def bench_sync(workdir: Path, rows: int) -> list[tuple[str, float, float, str]]:
    """``rows`` submissions of 20 kiosks, every row signed by its own kiosk's key and its
    signature checked by the central database (pgcrypto), with the statistics upkeep;
    beside one plain COPY of the same rows. Two shapes: a station kiosk relaying what the
    20 kiosks' bundles brought it, in time order, in one sync (the shape this section
    measured before signatures); and the 20 kiosks' own databases, each sending its whole
    year in one sync (every batch spans 365 days)."""
    from kiosk.central.sync import KioskIdentity, sync
    from store.central.schema import init
    from store.sqlite.sync_cursors import SYNC_COLUMNS
    from tests.pg_server import ThrowawayPostgres

    relay = open_store(workdir / "sync-relay.db")
    own = {kiosk: open_store(workdir / f"sync-{kiosk}.db") for kiosk in SITES}
    results: list[tuple[str, float, float, str]] = []
    with ThrowawayPostgres(fsync=True) as server:
        import psycopg

        init(server.dsn)
        enrolments = {kiosk: bench_enrolment(server.dsn, KioskIdentity(kiosk, "九龙街道",
                                                                        site))
                      for kiosk, site in SITES.items()}
        station = bench_enrolment(server.dsn, KioskIdentity("station", "九龙街道"))
        version = relay.load_form("satisfaction").version
        for batch in generate_satisfaction(version, rows, seed=7):
            checked = through_the_gate(relay, batch)
            # As a bundle brings them: each kiosk's signature of its own row, kept.
            signatures = {}
            for item in checked:
                row = [item.instance_id, item.survey, item.version, item.kiosk, item.site,
                       item.started, item.completed, item.lang, item.enumerator,
                       json.dumps(item.answers, ensure_ascii=False, separators=(",", ":")),
                       receipt_code(item.instance_id), "kiosk", item.completed,
                       None]  # entity: these change no register
                made = enrolments[item.kiosk].signer.sign("submissions", row)
                signatures[item.instance_id] = (made.signer, made.key_version, made.payload,
                                                made.signature)
            relay.insert_submissions(checked, source="bundle", relayed=signatures)
            by_kiosk: dict[str, list[Any]] = {}
            for item in checked:
                by_kiosk.setdefault(item.kiosk, []).append(item)
            for kiosk, items in by_kiosk.items():
                own[kiosk].insert_submissions(items)
        clock = time.perf_counter()
        report = sync(relay, station)
        relayed = time.perf_counter() - clock
        assert report.new["submissions"] == rows, report.summary()
        relay.conn.execute("DELETE FROM sync_cursors")
        clock = time.perf_counter()
        again = sync(relay, station)
        repeated = time.perf_counter() - clock
        assert again.already["submissions"] == rows, again.summary()
    with ThrowawayPostgres(fsync=True) as server:  # the 20 kiosks' own syncs, afresh
        init(server.dsn)
        enrolments = {kiosk: bench_enrolment(server.dsn, KioskIdentity(kiosk, "九龙街道",
                                                                        site))
                      for kiosk, site in SITES.items()}
        new = 0
        clock = time.perf_counter()
        for kiosk, store in own.items():
            new += sync(store, enrolments[kiosk]).new["submissions"]
        each_own = time.perf_counter() - clock
        assert new == rows, new
        # The physical best: the same rows, read the same way, one COPY, no conflict check.
        columns = ("origin", *SYNC_COLUMNS["submissions"])
        with psycopg.connect(server.dsn) as connection:
            connection.execute("CREATE TABLE copied (LIKE submissions INCLUDING ALL)")
            connection.commit()
            clock = time.perf_counter()
            with connection.cursor().copy(
                    f"COPY copied ({', '.join(columns)}) FROM STDIN") as copy:
                after = 0
                while True:
                    after, batch = relay.sync_rows("submissions", after, 1 << 62, 5000)
                    if not batch:
                        break
                    copy.write(copy_text(batch, ("station",)))
            connection.commit()
            copied = time.perf_counter() - clock
    for store in (relay, *own.values()):
        store.close()
    print(f"9. sync: {rows:,} submissions of 20 kiosks, each signature checked: relayed by "
          f"a station in {relayed:.1f} s, again (all there) in {repeated:.1f} s; each kiosk "
          f"its own year in {each_own:.1f} s; plain COPY in {copied:.1f} s", flush=True)
    results.append((f"kiosk sync to PostgreSQL (fsync on), {rows:,} rows of 20 kiosks,"
                    " each signature checked in the database (rows/s)",
                    rows / relayed, rows / copied,
                    "goal >= 25,000/s (issue 18); one station relays the 20 kiosks' bundles;"
                    " baseline: one plain COPY"))
    results.append((f"kiosk sync, all {rows:,} already there (rows/s)",
                    rows / repeated, rows / copied, "idempotent re-send"))
    results.append(("  ... the 20 kiosks each syncing its own year (rows/s)",
                    rows / each_own, rows / copied, "every batch spans 365 days"))
    return results


# ---- 11. the record gate ----------------------------------------------------------------

CATASTROPHIC = "(a+)+$"


def bench_catastrophic_regex(workdir: Path, repeat: int) -> tuple[str, float, float, str]:
    import re

    book = Workbook()
    survey = book.active
    survey.title = "survey"
    survey.append(["type", "name", "label", "constraint"])
    survey.append(["text", "code", "编码", f"regex(., '{CATASTROPHIC}')"])
    book.create_sheet("choices").append(["list_name", "name", "label"])
    settings = book.create_sheet("settings")
    settings.append(["form_id", "version"])
    settings.append(["regex_bench", "1"])
    path = workdir / "regex.xlsx"
    book.save(path)
    form = Form(compile_xlsform(path))
    session = FormSession(form, form.language_or_default("zh"))
    answer = "a" * 30 + "b"
    assert [problem.code for problem in session.answer("code", answer)] == ["constraint"]
    ours = timed(lambda: session.answer("code", answer), repeat) * 1e6
    short = "a" * 23 + "b"
    start = time.perf_counter()
    re.search(CATASTROPHIC, short)
    baseline = (time.perf_counter() - start) * 1e6
    print(f"11. regex {CATASTROPHIC}: {ours / 1000:.3f} ms for 31 characters; Python re "
          f"{baseline / 1000:.0f} ms for 24", flush=True)
    return (f"answer checked by regex(., '{CATASTROPHIC}'), 31 characters (µs)", ours,
            baseline, "<= 10 ms (10,000 µs); baseline: Python re, 24 characters")


def bench_bundle_import(workdir: Path, lines: int) -> list[tuple[str, float, float, str]]:
    from kiosk.central.bundles import export_bundle
    from kiosk.central.sync import KioskIdentity
    from store.central.signing import RecordSigner

    source = open_store(workdir / "bundle-source.db")
    version = source.load_form("satisfaction").version
    for batch in generate_satisfaction(version, lines, seed=11):
        source.insert_submissions(through_the_gate(source, batch))
    bundle = workdir / "kiosk.bundle"
    export_bundle(source, KioskIdentity("village-3", "九龙街道", "金港村"), bundle,
                  signer=RecordSigner("village-3", 1, os.urandom(32)), everything=True)
    source.close()
    size = bundle.stat().st_size
    kiosk = ("import sys\nfrom kiosk.cli import main\n"
             "try:\n    main(sys.argv[1:])\nexcept SystemExit as end:\n"
             "    assert not end.code, end.code\n")
    target = workdir / "bundle-target.db"
    import_ms, import_bytes = run_measured(kiosk, "--db", str(target), "bundle", "import",
                                           str(bundle))
    with KioskStore(target) as store:
        stored = store.submission_count("satisfaction")
    if stored != lines:
        raise SystemExit(f"the bundle import stored {stored:,} of {lines:,} submissions")
    floor = ("import json, sys\n"
             "with open(sys.argv[1], 'rb') as handle:\n"
             "    for line in handle:\n"
             "        if line.startswith(b'['):\n"
             "            json.loads(line)\n")
    floor_ms, floor_bytes = run_measured(floor, str(bundle))
    print(f"11. bundle import: {lines:,} lines ({size / 2**20:.0f} MB) in "
          f"{import_ms / 1000:.1f} s, peak {import_bytes / 2**20:.0f} MB; reading the lines "
          f"alone {floor_ms / 1000:.1f} s, peak {floor_bytes / 2**20:.0f} MB", flush=True)
    label = f"{lines // 1000:,}k"
    return [
        (f"bundle import through the gate, {label} lines (rows/s)", lines / import_ms * 1000,
         lines / floor_ms * 1000, "baseline: json.loads of each line, nothing stored"),
        ("  ... peak memory of that import (bytes)", import_bytes, floor_bytes,
         "<= 200 MB (streamed)"),
    ]


# ---- 10. city-wide statistics in PostgreSQL ---------------------------------------------------


def plain_sql_tallies(connection: Any, questions: dict[str, Any]) -> dict[str, Any]:
    """The peer: every question's counts as one plain GROUP BY over the jsonb answers each."""
    where = "WHERE survey_id = 'satisfaction'"
    result: dict[str, Any] = {"n": connection.execute(
        f"SELECT count(*) FROM submissions {where}").fetchone()}
    for name, question in questions.items():
        if question.kind == "select_multiple":
            result[name] = connection.execute(
                "SELECT e, count(*) FROM submissions, jsonb_array_elements_text(answers -> %s)"
                f" e {where} GROUP BY 1", (name,)).fetchall()
        elif question.kind in ("text", "decimal"):
            result[name] = connection.execute(
                f"SELECT count(answers -> %s) FROM submissions {where}", (name,)).fetchone()
        else:
            result[name] = connection.execute(
                f"SELECT answers ->> %s, count(*) FROM submissions {where} AND answers ? %s"
                " GROUP BY 1", (name, name)).fetchall()
    return result


def bench_sync_one_kiosk(workdir: Path, rows: int = 100_000) -> tuple[str, float, float, str]:
    """kiosk sync with the statistics upkeep when the kiosk sends its own submissions (one
    kiosk id and site: a batch touches a few dozen cells, where section 9's rows, from 20
    kiosk ids, touch thousands), against one plain COPY of the same rows."""
    import dataclasses

    import psycopg

    from kiosk.central.sync import KioskIdentity, sync
    from store.central.schema import init
    from store.sqlite.sync_cursors import SYNC_COLUMNS
    from tests.pg_server import ThrowawayPostgres

    store = open_store(workdir / "one-kiosk.db")
    version = store.load_form("satisfaction").version
    for batch in generate_satisfaction(version, rows, seed=8):
        store.insert_submissions(through_the_gate(store, [
            dataclasses.replace(item, kiosk="hall-1", site="九龙街道/梁丰社区")
            for item in batch]))
    with ThrowawayPostgres(fsync=True) as server:
        init(server.dsn)
        enrolment = bench_enrolment(server.dsn, KioskIdentity("hall-1", "九龙街道", "梁丰社区"))
        clock = time.perf_counter()
        sync(store, enrolment)
        synced = time.perf_counter() - clock
        with psycopg.connect(server.dsn) as connection:
            connection.execute("CREATE TABLE copied (LIKE submissions INCLUDING ALL)")
            connection.commit()
            clock = time.perf_counter()
            columns = ", ".join(("origin", *SYNC_COLUMNS["submissions"]))
            with connection.cursor().copy(f"COPY copied ({columns}) FROM STDIN") as copy:
                after = 0
                while True:
                    after, batch = store.sync_rows("submissions", after, 1 << 62, 5000)
                    if not batch:
                        break
                    copy.write(copy_text(batch, ("hall-1",)))
            connection.commit()
            copied = time.perf_counter() - clock
    store.close()
    print(f"10. sync of one kiosk's {rows:,} submissions with the statistics upkeep: "
          f"{synced:.1f} s", flush=True)
    return (f"central: sync of one kiosk's {rows // 1000:,}k, with the upkeep (rows/s)",
            rows / synced, rows / copied, "goal >= 10,000/s; baseline: one plain COPY")


def bench_central_statistics(workdir: Path, rows: int, cache: Path | None,
                             repeat: int) -> list[tuple[str, float, float, str]]:
    import psycopg

    from kiosk.central.outgoing import form_layout
    from kiosk.central.sync import KioskIdentity
    from store.central.bitmaps import bring_up_to_date
    from store.central.push import push
    from store.central.schema import init
    from store.central.stats import CentralStats
    from store.central.tallies import recount
    from store.sqlite.sync_cursors import SYNC_COLUMNS
    from surveys.stats.figures import survey_statistics
    from surveys.stats.model import StatsFilter, catalogue
    from surveys.stats.sites import site_breakdown
    from tests.pg_server import ThrowawayPostgres

    section_start = time.perf_counter()
    path, _ = statistics_database(workdir, rows, cache)
    local = KioskStore(path)
    results: list[tuple[str, float, float, str]] = []
    with ThrowawayPostgres(fsync=True) as server:
        init(server.dsn)
        columns = ("origin", *SYNC_COLUMNS["submissions"])
        with psycopg.connect(server.dsn, autocommit=True) as connection:
            with connection.transaction():  # the forms, as a kiosk sends them
                _last, forms = local.sync_rows("forms", 0, 1 << 62, 1000)
                signer = bench_enrolment(server.dsn, KioskIdentity("bench")).signer
                push(connection, "forms", [signer.sign("forms", row) for row in forms],
                     [form_layout(row) for row in forms])
            clock = time.perf_counter()
            with connection.transaction(), connection.cursor().copy(
                    f"COPY submissions ({', '.join(columns)}) FROM STDIN") as copy:
                after = 0
                while True:
                    after, batch = local.sync_rows("submissions", after, 1 << 62, 5000)
                    if not batch:
                        break
                    copy.write(copy_text(batch, ("bench",)))
            copied = time.perf_counter() - clock
            clock = time.perf_counter()
            with connection.transaction():
                recount(connection)
            built = time.perf_counter() - clock
            # COPY left them out of the queue a sync fills: the bitmaps of all, as `kiosk
            # central index` writes them after a migration.
            clock = time.perf_counter()
            connection.execute("INSERT INTO stats_bitmap_queue (number)"
                               " SELECT number FROM submissions ORDER BY number")
            bring_up_to_date(connection)
            indexed = time.perf_counter() - clock
            connection.execute("VACUUM ANALYZE")
        print(f"10. central statistics: {rows:,} submissions COPYed in {copied:.1f} s, "
              f"tallies built in {built:.1f} s, bitmaps in {indexed:.1f} s", flush=True)
        elderly = StatsFilter(where={"respondent_group": "elderly"})
        with CentralStats(server.dsn) as fresh:  # the first read loads the bitmaps
            clock = time.perf_counter()
            survey_statistics(fresh, "satisfaction", elderly, text_answers=False)
            cold_answer_ms = (time.perf_counter() - clock) * 1000
        store = CentralStats(server.dsn)
        questions = catalogue([store.load_form("satisfaction", version)
                               for version in store.versions("satisfaction")])
        central_ms = timed(lambda: survey_statistics(store, "satisfaction", text_answers=False),
                           repeat) * 1000
        plain_ms = timed(lambda: plain_sql_tallies(store.conn, questions), 3) * 1000
        full_ms = timed(lambda: survey_statistics(store, "satisfaction"), 3) * 1000
        month = StatsFilter(date_from=dt.date(2026, 3, 1), date_to=dt.date(2026, 3, 31),
                            sites=("site-2",))
        month_ms = timed(lambda: survey_statistics(store, "satisfaction", month,
                                                   text_answers=False), repeat) * 1000
        answer_ms = timed(lambda: survey_statistics(store, "satisfaction", elderly,
                                                    text_answers=False), repeat) * 1000
        crosstab_ms = timed(lambda: survey_statistics(
            store, "satisfaction", by="community", question="overall", text_answers=False),
            repeat) * 1000
        all_crosstabs_ms = timed(lambda: survey_statistics(
            store, "satisfaction", by="respondent_group", text_answers=False), 3) * 1000
        plain_crosstab_ms = timed(lambda: store.conn.execute(
            "SELECT answers ->> 'community', answers ->> 'overall', count(*) FROM submissions"
            " WHERE survey_id = 'satisfaction' AND answers ? 'community' AND answers ? 'overall'"
            " GROUP BY 1, 2").fetchall(), 3) * 1000
        by_site_ms = timed(lambda: site_breakdown(store, "satisfaction"), repeat) * 1000
        local_by_site_ms = timed(lambda: site_breakdown(local,
                                                        "satisfaction"), 3) * 1000
        assert survey_statistics(store, "satisfaction", text_answers=False)["questions"] == \
            survey_statistics(local, "satisfaction", text_answers=False)["questions"]
        store.close()
    local.close()
    results.append(bench_sync_one_kiosk(workdir))
    seconds = time.perf_counter() - section_start
    print(f"10. central statistics: section took {seconds:.0f} s", flush=True)
    label = f"{rows // 1000:,}k"
    results += [
        (f"central: COPY {label} submissions (rows/s)", rows / copied, rows / copied,
         "load, not counted in the tallies"),
        (f"central: tally build over {label} submissions (rows/s)", rows / built,
         rows / copied, "baseline: the COPY"),
        (f"central: bitmap build over {label} submissions (rows/s)", rows / indexed,
         rows / copied, "baseline: the COPY"),
        (f"central stats: all-question tallies, {label} (ms)", central_ms, plain_ms,
         "goal <= 2000 ms; peer: GROUP BY per question"),
        ("  ... with the text answers listed (ms)", full_ms, plain_ms, "-"),
        ("  ... one month of one site (ms)", month_ms, plain_ms, "-"),
        ("  ... respondent_group = elderly (bitmaps) (ms)", answer_ms, plain_ms,
         "goal <= 200 ms"),
        ("  ... the same, first read of a new connection (ms)", cold_answer_ms, plain_ms, "-"),
        ("central stats: cross-tab overall by community (ms)", crosstab_ms, plain_crosstab_ms,
         "goal <= 200 ms; peer: one plain GROUP BY"),
        ("  ... every select question by respondent_group (ms)", all_crosstabs_ms,
         plain_crosstab_ms, "goal <= 200 ms"),
        ("central stats: --by-site breakdown (ms)", by_site_ms, local_by_site_ms,
         "baseline: the same from the kiosk's SQLite"),
    ]
    return results


# ---- 12. households register --------------------------------------------------------------

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "秀英桂兰建国志强玉珍淑芬德明海燕立新凤英春梅国华振华秀兰金凤"
HOUSEHOLD_ESTATES = ["金港花园", "长江小区", "东风一村", "新华小区", "港城佳苑", "沙洲新村",
                     "梁丰花园", "南苑小区", "乘航新村", "塘桥人家"]


def household_changes(count: int, rng: random.Random) -> list[Any]:
    """``count`` households as their registering visits made them: a head's name, an
    address of estate, building and flat, a mobile number and a plan."""
    from surveys.entities import EntityChange

    changes = []
    for number in range(count):
        head = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2))))
        address = (f"{rng.choice(HOUSEHOLD_ESTATES)} {rng.randrange(1, 40)} 栋 "
                   f"{rng.randrange(1, 7)}0{rng.randrange(1, 5)}")
        phone = f"1{rng.choice('3578')}{rng.randrange(10**9):09d}"
        changes.append(EntityChange(
            "households", str(uuid.UUID(int=rng.getrandbits(128))), "create", f"h{number}",
            f"2026-{rng.randrange(1, 12):02d}-{rng.randrange(1, 28):02d}T10:00:00+08:00",
            label=f"{head} {address}", properties={
                "head_name": head, "address": address, "phone": phone,
                "plan": rng.choice(["卫生间扶手", "床边护栏", "门口坡道", "防滑地面"])},
            site="金港街道/长江社区"))
    return changes


def bench_household_search(workdir: Path, households: int,
                           repeat: int) -> list[tuple[str, float, float, str]]:
    """Picking one household among ``households`` by a search, through the session as the
    follow-up form's picker asks it (the words of a name, an address, the last four digits
    of a phone); against a plain SQLite LIKE over a table of the same labels and
    properties (no folding of full-width digits or case)."""
    import sqlite3

    rng = random.Random(16)
    store = KioskStore(workdir / "households.db")
    for name in ("register.md", "followup.md"):
        store.install_form(compile_xlsform(ROOT / "tests" / "forms" / name))
    changes = household_changes(households, rng)
    with store.transaction():
        store.add_entity_changes(changes)
    session = FormSession(store.load_form("household_followup"), "zh", entities=store)
    item = session.form.by_name["household"]
    target = changes[households // 2]
    plain = sqlite3.connect(workdir / "households-plain.db")
    plain.execute("CREATE TABLE households (id TEXT PRIMARY KEY, label TEXT, properties TEXT)")
    plain.executemany("INSERT INTO households VALUES (?, ?, ?)",
                      [(change.entity_id, change.label,
                        json.dumps(dict(change.properties), ensure_ascii=False))
                       for change in changes])
    plain.commit()
    rows = []
    for what, text in (("the last 4 digits of a phone", target.properties["phone"][-4:]),
                       ("a name", target.properties["head_name"]),
                       ("an address", target.properties["address"])):
        def ours(text: str = text) -> None:
            found = session.search_register(item, text)
            if target.entity_id not in {entity.entity_id for entity in found}:
                raise SystemExit(f"the search for {text!r} did not find its household")

        def like(text: str = text) -> None:
            terms = text.split()
            plain.execute("SELECT id, label, properties FROM households WHERE "
                          + " AND ".join("(label || properties) LIKE ?" for _ in terms)
                          + " LIMIT 50", [f"%{term}%" for term in terms]).fetchall()

        rows.append((f"pick 1 of {households:,} households by {what} (ms)",
                     timed(ours, repeat) * 1000, timed(like, repeat) * 1000,
                     "<= 50 ms (baseline: plain SQLite LIKE, no folding)"))
    plain.close()
    store.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20000, help="records to import")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--stats-rows", type=int, default=None,
                        help="generated satisfaction submissions for section 8 "
                             "(default 1,000,000; 100,000 with --quick)")
    parser.add_argument("--stats-cache", type=Path, default=None,
                        help="keep the generated statistics database in this directory and "
                             "reuse it on the next run")
    parser.add_argument("--sync-rows", type=int, default=None,
                        help="submissions sent by kiosk sync in section 9 "
                             "(default 100,000; 20,000 with --quick)")
    parser.add_argument("--bundle-lines", type=int, default=None,
                        help="submissions in the bundle of section 11 "
                             "(default 1,000,000; 100,000 with --quick)")
    parser.add_argument("--households", type=int, default=10_000,
                        help="households in the register of section 12")
    parser.add_argument("--sections", default="1,2,3,4,5,6,7,8,9,10,11,12",
                        help="which sections to run, e.g. 2,8")
    args = parser.parse_args()
    sections = {int(part) for part in args.sections.split(",") if part.strip()}
    stats_rows = args.stats_rows or (100_000 if args.quick else 1_000_000)
    repeat = 5 if args.quick else 21
    rows: list[tuple[str, float, float, str]] = []
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-") as directory:
        workdir = Path(directory)
        if 1 in sections:
            rows += bench_form_load(workdir, repeat)
        if 2 in sections:
            rows += bench_import(workdir, args.records)
        if 3 in sections:
            rows += bench_cold_start(workdir, 5 if args.quick else 11)
        if 4 in sections:
            rows += bench_answer_latency(workdir, 40 if args.quick else 150)
        if 5 in sections:
            rows += bench_receipt(workdir, 3 if args.quick else 5)
        if 6 in sections:
            rows += bench_scan_to_greeting(workdir, 20 if args.quick else 100)
        if 7 in sections:
            rows += bench_card_scanning(workdir, 200 if args.quick else 300)
        if 8 in sections:
            rows += bench_statistics(workdir, stats_rows, args.stats_cache,
                                     5 if args.quick else 11)
        if 9 in sections:
            rows += bench_sync(workdir, args.sync_rows or (20_000 if args.quick else 100_000))
        if 10 in sections:
            rows += bench_central_statistics(workdir, stats_rows, args.stats_cache,
                                             3 if args.quick else 7)
        if 11 in sections:
            rows.append(bench_catastrophic_regex(workdir, repeat))
            rows += bench_bundle_import(workdir, args.bundle_lines
                                        or (100_000 if args.quick else 1_000_000))
        if 12 in sections:
            rows += bench_household_search(workdir, args.households, repeat)
    print()
    print(f"{'measure':62} {'ours':>12} {'baseline':>12}  {'ours vs baseline':17} goal")
    print("-" * 124)
    for label, ours, baseline, goal in rows:
        lower_is_better = any(unit in label for unit in ("(ms)", "(µs)", "(bytes)"))
        better = ours < baseline if lower_is_better else ours > baseline
        factor = max(ours, baseline) / min(ours, baseline)
        # Two decimals near a goal such as 1.5x: 1.546 must not read as 1.5.
        shown = f"{factor:.2f}x" if factor < 10 else f"{factor:.1f}x"
        if lower_is_better:
            versus = f"{shown} {'faster' if better else 'slower'}"
        else:
            versus = f"{shown} {'more' if better else 'less'}"
        print(f"{label:62} {ours:12,.1f} {baseline:12,.1f}  {versus:17} {goal}")
    print()
    # How quiet the machine was: the figures of a busy machine drift by a third.
    print(f"machine load (1-minute average, {os.cpu_count()} cores): {load_before:.2f} at the "
          f"start, {os.getloadavg()[0]:.2f} at the end")
    print("baselines: form load = pyxform parse_file_to_json of the same .xlsx; import = "
          "sqlite-utils insert_all of the same records, unvalidated (WAL, synchronous=FULL); "
          "cold start = a bare Textual app drawing one line; latency = FormSession alone; "
          "receipt = raster image of the same receipt, and the 9600-baud line's minimum; "
          "scan = VolunteerDesk.scan alone; card scan = zxing-cpp alone on the same frames; "
          "stats = DuckDB on the same flat columns already in memory (cross-tab: one GROUP "
          "BY), pandas reading the flat table from SQLite then tallying; bulk insert = the "
          "same rows in the same batches into a bare submissions table (no statistics "
          "upkeep); sync = one plain COPY "
          "of the same rows into a table of the same shape; regex = Python re on a shorter "
          "answer; bundle import = reading the same file's lines with json.loads; households = "
          "a plain SQLite LIKE over the same labels and properties.")


if __name__ == "__main__":
    main()

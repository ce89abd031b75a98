#!/usr/bin/env python3
"""The kiosk's benchmarks: our figures beside baselines measured in the same run.

Run: .venv/bin/python scripts/bench.py [--records N] [--quick]

Measures
  1. Loading a generated 300-question form from the compiled cache in SQLite, against a
     pyxform parse of the same .xlsx (what the kiosk would do without the cache).
  2. `kiosk import` throughput (every record validated by FormSession rules) on generated
     `satisfaction` records, against a plain sqlite-utils insert of the same records with
     no validation at all.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from openpyxl import Workbook

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kiosk.database import open_store  # noqa: E402
from kiosk.importer import import_jsonl  # noqa: E402
from store import KioskStore  # noqa: E402
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
    choices = book.create_sheet("choices")
    choices.append(["list_name", "name", "label::中文 (zh)", "label::English (en)"])
    likert = [("非常不满意", "Very dissatisfied"), ("不满意", "Dissatisfied"), ("一般", "Neutral"),
              ("满意", "Satisfied"), ("非常满意", "Very satisfied")]
    for value, (zh, en) in enumerate(likert, start=1):
        choices.append(["likert5", str(value), zh, en])
    choices.append(["yn", "yes", "是", "Yes"])
    choices.append(["yn", "no", "否", "No"])
    for index in range(8):
        choices.append(["needs", f"need{index}", f"需求{index}", f"Need {index}"])
    settings = book.create_sheet("settings")
    settings.append(["form_title", "form_id", "version", "default_language"])
    settings.append(["大型问卷", "large_form", "1", "中文 (zh)"])
    book.save(path)


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
    return [(f"kiosk import, {count} satisfaction records (records/s)",
             count / ours, count / baseline, ">= 5,000/s (validated)")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20000, help="records to import")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    repeat = 5 if args.quick else 21
    rows: list[tuple[str, float, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-") as directory:
        workdir = Path(directory)
        rows += bench_form_load(workdir, repeat)
        rows += bench_import(workdir, args.records)
    print()
    print(f"{'measure':62} {'ours':>12} {'baseline':>12} {'ratio':>8}  goal")
    print("-" * 110)
    for label, ours, baseline, goal in rows:
        ratio = baseline / ours if "(ms)" in label else ours / baseline
        print(f"{label:62} {ours:12,.1f} {baseline:12,.1f} {ratio:7.1f}x  {goal}")
    print()
    print("baselines: form load = pyxform parse_file_to_json of the same .xlsx; import = "
          "sqlite-utils insert_all of the same records, unvalidated (WAL, synchronous=FULL).")


if __name__ == "__main__":
    main()

"""A two-version survey and a few thousand generated submissions for the statistics tests,
with an independent pandas frame of the same data (built from the records, not the store).

Version 1 has ``old_q`` (dropped in version 2); version 2 adds ``new_q`` and the choice
``e`` of ``services``. Completion times use China time and UTC, so that some UTC evenings
fall on the next China day.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from pathlib import Path
from typing import Any

import pandas as pd

from surveys.session import Submission
from surveys.xlsform import compile_xlsform
from tests.formbuilder import write_form

SURVEY = "civic"
KIOSKS = ["hall-1", "hall-2", "tablet-1"]
SITES = {"hall-1": "九龙", "hall-2": "九龙", "tablet-1": None}
ENUMERATORS = ["JG0001", "JG0002"]
GROUPS = ["elderly", "youth", "other"]
SERVICES_V1 = ["a", "b", "c", "d"]
SERVICES_V2 = ["a", "b", "c", "d", "e"]
LIKERT = ["5", "4", "3", "2", "1"]
TEXTS = ["很好", "停车难", "希望多组织活动", "楼道灯坏了"]
SELECTS = ["group", "sat", "services", "old_q", "new_q"]

HEADER = ["type", "name", "label::中文 (zh)", "label::English (en)", "required", "pii",
          "appearance"]


def _survey(version: int) -> list[list[str]]:
    rows = [
        HEADER,
        ["select_one groups", "group", "您属于哪一类居民？", "Which group?", "yes", "", ""],
        ["integer", "age", "您的年龄", "Age", "", "", ""],
        ["decimal", "spend", "每月花费（元）", "Monthly spending", "", "", ""],
        ["select_multiple services", "services", "用过哪些服务？", "Services used", "", "", ""],
        ["select_one likert", "sat", "您满意吗？", "Satisfied?", "", "", "likert"],
        ["date", "visit", "上次来访日期", "Last visit", "", "", ""],
        ["text", "comment", "意见建议", "Comments", "", "", ""],
        ["text", "phone", "联系电话", "Phone", "", "yes", ""],
    ]
    if version == 1:
        rows.insert(5, ["select_one yn", "old_q", "旧问题", "Old question", "", "", ""])
    else:
        rows.insert(5, ["select_one yn", "new_q", "新问题", "New question", "", "", ""])
    return rows


def _choices(version: int) -> list[list[str]]:
    rows = [["list_name", "name", "label::中文 (zh)", "label::English (en)"],
            ["groups", "elderly", "老年人", "Older person"],
            ["groups", "youth", "青少年", "Young person"],
            ["groups", "other", "其他居民", "Other"],
            ["yn", "yes", "是", "Yes"], ["yn", "no", "否", "No"]]
    labels = {"5": "非常满意", "4": "满意", "3": "一般", "2": "不满意", "1": "非常不满意"}
    rows += [["likert", name, labels[name], name] for name in LIKERT]
    services = SERVICES_V1 if version == 1 else SERVICES_V2
    rows += [["services", name, f"服务{name.upper()}", f"Service {name}"]
             for name in services]
    return rows


def compiled_versions(directory: Path) -> list[dict[str, Any]]:
    compiled = []
    for version in (1, 2):
        path = write_form(
            directory / f"civic_v{version}.xlsx", _survey(version), _choices(version),
            [["form_title", "form_title::English (en)", "form_id", "version",
              "default_language"],
             ["社区调查", "Community survey", SURVEY, str(version), "中文 (zh)"]])
        compiled.append(compile_xlsform(path))
    return compiled


def generate(count: int, seed: int = 7) -> list[Submission]:
    """Submissions of both versions, several kiosks, sites, enumerators and days."""
    rng = random.Random(seed)
    china = dt.timezone(dt.timedelta(hours=8))
    records = []
    for index in range(count):
        version = "1" if index < count // 2 else "2"
        answers: dict[str, Any] = {"group": rng.choices(GROUPS, [5, 2, 3])[0]}
        if rng.random() < 0.8:
            answers["age"] = rng.randint(12, 95)
        if rng.random() < 0.6:
            answers["spend"] = round(rng.uniform(0, 500), 2)
        if rng.random() < 0.9:
            services = SERVICES_V1 if version == "1" else SERVICES_V2
            answers["services"] = sorted(rng.sample(services, rng.randint(1, 3)),
                                         key=services.index)
        yes_no = rng.choice(["yes", "no", None])
        if yes_no:
            answers["old_q" if version == "1" else "new_q"] = yes_no
        if rng.random() < 0.85:
            answers["sat"] = rng.choices(LIKERT, [30, 35, 20, 10, 5])[0]
        if rng.random() < 0.5:
            answers["visit"] = (dt.date(2026, 10, 1) + dt.timedelta(days=rng.randint(0, 9))
                                ).isoformat()
        if rng.random() < 0.3:
            answers["comment"] = rng.choice(TEXTS)
        if rng.random() < 0.2:
            answers["phone"] = f"139{rng.randint(0, 99999999):08d}"
        moment = dt.datetime(2026, 10, 1, 8, tzinfo=china) + dt.timedelta(
            minutes=rng.randint(0, 45 * 24 * 60))
        if rng.random() < 0.3:  # some stamped in UTC (e.g. 20:30Z is 04:30 the next day)
            completed = moment.astimezone(dt.UTC).isoformat(timespec="milliseconds")
        else:
            completed = moment.isoformat(timespec="milliseconds")
        kiosk = rng.choice(KIOSKS)
        records.append(Submission(
            instance_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)), survey=SURVEY,
            version=version, started=completed, completed=completed, lang="zh",
            answers=answers, kiosk=kiosk, site=SITES[kiosk],
            enumerator=rng.choice(ENUMERATORS) if kiosk == "tablet-1" else None))
    return records


def frame(submissions: list[Submission]) -> pd.DataFrame:
    """One row per submission; ``day`` is the China day of completion, computed by pandas."""
    rows = []
    for order, item in enumerate(submissions):
        rows.append({"order": order, "instance_id": item.instance_id,
                     "version": item.version, "kiosk": item.kiosk, "site": item.site,
                     "enumerator": item.enumerator, "completed": item.completed,
                     **{name: item.answers.get(name) for name in
                        ["group", "age", "spend", "services", "old_q", "new_q", "sat",
                         "visit", "comment", "phone"]}})
    table = pd.DataFrame(rows)
    moments = pd.to_datetime(table["completed"], utc=True, format="ISO8601")
    table["day"] = moments.dt.tz_convert("Asia/Shanghai").dt.strftime("%Y-%m-%d")
    return table

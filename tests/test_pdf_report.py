"""The PDF report as the street office gets it: `kiosk export ID -o report.pdf`, read back
through poppler (pdftotext for the words, pdftoppm for the pages).

A kiosk database holds 1,600 satisfaction questionnaires through the record gate: 1,200 from
the four community halls of one town, 400 from a field tablet with no site, and 70 residents
who all wrote 多装长椅. The report must open with a one-page summary in the report's
language, group identical free-text answers, and lay out cross-tabs without headings broken
one character a line.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import shutil
import subprocess
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kiosk.cli import main
from store import open_store
from surveys.session import Submission
from tests.gated import gated

VERSION = "2026112301"
STATION = "杨舍镇社会工作服务站"
SITES = ["杨舍镇/梁丰社区", "杨舍镇/南苑社区", "杨舍镇/城北社区", "杨舍镇/金港花园社区"]
COMMUNITY = dict(zip(SITES, ["liangfeng", "nanyuan", "chengbei", "jingang"], strict=True))
ESTATES = {"liangfeng": ["liangfeng_huayuan", "kangle_xincun"],
           "nanyuan": ["nanyuan_xincun", "fuqian"],
           "chengbei": ["chengbei_xincun", "beihuan_huayuan"],
           "jingang": ["jingang_1", "jingang_2"]}
GROUPS = {"elderly": 40, "youth": 15, "hardship": 10, "disabled": 5, "other": 30}
GROUP_LABELS = ["老年人", "青少年", "困难群体", "残疾人", "其他居民"]
LIKERT = {"5": 38, "4": 34, "3": 16, "2": 8, "1": 4}
IMPROVEMENTS = {"parking": 30, "ebike_charging": 24, "stair_lighting": 18, "elevator": 14,
                "canteen": 12, "pets": 8, "after_school": 7, "fitness": 6, "waste": 4}
SERVICES = ["elderly", "children", "hardship", "disability", "hall"]
SITED, UNSITED = 1200, 400
BENCHES = "多装长椅"
POTHOLES = "第{n}号楼门口的路面坑坑洼洼，下雨天积水，老人走路不方便，希望尽快修一修"
FIELD_NAMES = ("respondent_group", "age_band", "community", "estate", "overall",
               "services_used", "sat_environment", "improvements", "suggestion",
               "unsatisfied_reason", "95% CI")


def _pick(rnd: random.Random, weights: dict[str, int]) -> str:
    return rnd.choices(list(weights), list(weights.values()))[0]


def _submission(number: int, rnd: random.Random, site: str | None,
                suggestion: str | None) -> Submission:
    community = COMMUNITY[site] if site else rnd.choice(list(ESTATES))
    answers: dict[str, Any] = {
        "respondent_group": _pick(rnd, GROUPS),
        "age_band": rnd.choice(["18_35", "36_59", "60_69", "70_79", "80_plus"]),
        "community": community, "estate": rnd.choice(ESTATES[community]),
        "overall": _pick(rnd, LIKERT), "sat_environment": _pick(rnd, LIKERT)}
    used = sorted(rnd.sample(SERVICES, rnd.randint(0, 2)), key=SERVICES.index)
    answers["services_used"] = used or ["none"]
    for name in used:
        answers[f"sat_{name}"] = _pick(rnd, LIKERT)
    wanted = rnd.randint(1, 3)
    chosen: list[str] = []
    while len(chosen) < wanted:
        choice = _pick(rnd, IMPROVEMENTS)
        if choice not in chosen:
            chosen.append(choice)
    answers["improvements"] = chosen
    if int(answers["overall"]) <= 2 and number % 2:
        answers["unsatisfied_reason"] = rnd.choice(["办事要跑好几趟", "停车太难", "晚上楼道太黑"])
    if suggestion:
        answers["suggestion"] = suggestion
    day = dt.date(2026, 9, 1) + dt.timedelta(days=number % 91)
    return Submission(
        instance_id=str(uuid.UUID(int=number + 1, version=4)), survey="satisfaction",
        version=VERSION, started=f"{day}T09:{number % 60:02d}:00.000+08:00",
        completed=f"{day}T09:{number % 60:02d}:40.000+08:00", lang="zh", answers=answers,
        kiosk="hall-1" if site else "tablet-1", site=site,
        enumerator=None if site else "JG0001")


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[Submission]]:
    """A kiosk database of 1,600 questionnaires and a config naming the station."""
    home = tmp_path_factory.mktemp("station")
    rnd = random.Random(2018)
    suggestions: list[str | None] = [BENCHES] * 70 + ["希望多组织活动"] * 40 + [
        "楼道灯坏了很久没人修"] * 12 + [POTHOLES.format(n=n) for n in range(30)]
    suggestions += [None] * (SITED + UNSITED - len(suggestions))
    rnd.shuffle(suggestions)
    submissions = [_submission(number, rnd, SITES[number % 4] if number < SITED else None,
                               suggestions[number]) for number in range(SITED + UNSITED)]
    with open_store(home / "kiosk.db") as store:
        store.insert_submissions(gated(store, submissions))
    config = home / "kiosk.toml"
    config.write_text(f'[station]\nname = "{STATION}"\nkiosk_id = "hall-1"\n',
                      encoding="utf-8")
    return home / "kiosk.db", config, submissions


def poppler(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} (poppler-utils) is not installed")
    return path


def report(station: tuple[Path, Path, list[Submission]], target: Path, *args: str) -> Path:
    db, config, _ = station
    result = CliRunner().invoke(main, ["--db", str(db), "--config", str(config), "export",
                                       "satisfaction", "-o", str(target), *args])
    assert result.exit_code == 0, result.output
    return target


def text_of(pdf: Path, first: int | None = None, last: int | None = None,
            layout: bool = True) -> str:
    pages = [*(["-f", str(first)] if first else []), *(["-l", str(last)] if last else [])]
    return subprocess.run([poppler("pdftotext"), *(["-layout"] if layout else []), *pages,
                           str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def flat(text: str) -> str:
    return " ".join(text.split())


def wilson(k: int, n: int) -> tuple[float, float]:
    z = 1.959963984540054
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * (p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5 / (1 + z * z / n)
    return (centre - half) * 100, (centre + half) * 100


def test_the_summary_page_says_station_figures_groups_and_sites(station, tmp_path):
    _db, _config, submissions = station
    pdf = report(station, tmp_path / "报告.pdf")
    summary = text_of(pdf, 1, 1)
    words = flat(summary)
    n = len(submissions)
    for expected in (STATION, "社区服务满意度调查", "统计报告", "2026-09-01 – 2026-11-30",
                     f"有效问卷 {n:,} 份", "按服务对象", "按站点"):
        assert expected in words, expected

    # The headline: the overall question's top-2 share (非常满意 + 满意) with its interval.
    top = sum(1 for s in submissions if s.answers["overall"] in ("5", "4"))
    low, high = wilson(top, n)
    assert f"{top * 100 / n:.1f}%" in words
    assert f"95%置信区间 {low:.1f}%–{high:.1f}%，n = {n:,}" in words
    # Every Likert question's top-2 share, as a row of its own.
    environment = sum(1 for s in submissions if s.answers["sat_environment"] in ("5", "4"))
    assert re.search(rf"您对社区环境（卫生、绿化、治安）满意吗？ {n:,} "
                     rf"{environment * 100 / n:.1f}%", words)

    # The improvements most asked for: the top choices of the pick-at-most-3 question.
    asked = Counter(choice for s in submissions for choice in s.answers["improvements"])
    assert "选得最多的 5 项：您最希望社区先办哪些实事？" in words
    assert f"停车位改造（有车有位） {asked['parking']:,} {asked['parking'] * 100 / n:.1f}%" in words
    assert "垃圾分类" not in words  # the least asked for is not on the summary

    # Respondents by target group (一老一少一困) and by site; the unsited ones counted.
    groups = Counter(s.answers["respondent_group"] for s in submissions)
    for name, label in zip(GROUPS, GROUP_LABELS, strict=True):
        assert f"{label} {groups[name]:,} {groups[name] * 100 / n:.1f}%" in words, label
    for site in SITES:
        assert f"{site} 300 18.8%" in words, site
    assert f"未记录站点 {UNSITED} 25.0%" in words
    assert f"{UNSITED} 份问卷没有记录站点" in words

    # One page: the results by question start on page 2.
    assert "各题结果" not in summary
    assert flat(text_of(pdf, 2, 2)).startswith("各题结果 1. 您属于下面哪一类居民？")


def test_a_chinese_report_has_no_field_names_or_english_words(station, tmp_path):
    pdf = report(station, tmp_path / "report.pdf", "--by", "respondent_group")
    text = text_of(pdf)
    for name in FIELD_NAMES:
        assert name not in text, name
    assert "95%置信区间" in text
    # No English word of the report's own (figures, dates and site codes aside).
    assert not re.findall(r"\b(?:CI|n/a|count|percent|mean|top|page|total)\b", text,
                          flags=re.IGNORECASE)
    # Questions go by their labels, numbered.
    assert re.search(r"\b\d+\. 总的来说，您对社区的工作满意吗？", text)


def test_an_english_report_stays_english(station, tmp_path):
    pdf = report(station, tmp_path / "report.pdf", "--lang", "en", "--by", "respondent_group")
    summary = flat(text_of(pdf, 1, 1))
    for expected in (STATION, "Community Service Satisfaction Survey", "Summary",
                     "95% CI", "By target group", "By site", "No site recorded",
                     "The 5 most chosen: Which projects should the community do first?",
                     "Older person"):
        assert expected in summary, expected
    text = text_of(pdf)
    for chinese in ("置信区间", "统计报告", "选项", "合计", "回答人数", "其余", "老年人",
                    "您属于"):
        assert chinese not in text, chinese


def test_identical_free_text_answers_show_once_with_their_count(station, tmp_path):
    pdf = report(station, tmp_path / "report.pdf")
    text = text_of(pdf)
    assert text.count(BENCHES) == 1  # 70 residents, one line
    assert re.search(rf"{BENCHES}\s+70\b", text)
    assert re.search(r"希望多组织活动\s+40\b", text)
    lines = [line for line in text.splitlines() if "号楼门口的路面坑坑洼洼" in line]
    assert len(lines) == 30 and all(re.search(r"\s1$", line.rstrip()) for line in lines)
    # Most frequent first.
    assert text.index(BENCHES) < text.index("希望多组织活动") < text.index("楼道灯坏了很久没人修")
    answered = 70 + 40 + 12 + 30
    assert f"共 {answered} 条回答，33 种不同的说法" in flat(text)


def test_free_text_past_the_cap_says_how_many_are_not_listed(station, tmp_path):
    from surveys.bundled import compiled_bundled_forms
    from surveys.exports import write_pdf
    from surveys.form import Form

    form = next(Form(compiled) for compiled in compiled_bundled_forms()
                if compiled["survey_id"] == "satisfaction")
    answers = ["多装长椅"] * 70 + [f"建议第{number}条" for number in range(100)]
    stats = {"survey": "satisfaction", "title": "社区服务满意度调查", "versions": [VERSION],
             "n": 170, "filters": {}, "questions": {
                 "suggestion": {"type": "text", "label": "意见或建议", "n": 170,
                                "answers": answers}}}
    pdf = tmp_path / "capped.pdf"
    write_pdf([form], stats, pdf, free_text_cap=10, station=STATION)
    text = flat(text_of(pdf))
    assert "多装长椅 70" in text and "建议第8条 1" in text and "建议第9条" not in text
    assert "其余 91 条（91 种说法）未列出，共 170 条" in text


def cjk_fragments(text: str) -> list[str]:
    """Cells of a pdftotext -layout page (split at runs of spaces) that are one or two CJK
    characters with nothing else: what a heading broken a character a line leaves."""
    cells = [cell for line in text.splitlines() for cell in re.split(r"\s{2,}", line.strip())]
    return [cell for cell in cells if re.fullmatch(r"[\u4e00-\u9fff]{1,2}", cell)
            and cell not in ("合计", "选项", "一般", "满意", "其他")]


def crosstab_pages(pdf: Path) -> list[tuple[int, str]]:
    pages = text_of(pdf).split("\f")
    start = next(index for index, page in enumerate(pages) if "交叉分析" in page)
    return [(index + 1, page) for index, page in enumerate(pages) if index >= start
            and page.strip()]


def test_cross_tab_headings_never_break_a_character_a_line(station, tmp_path):
    pdf = report(station, tmp_path / "report.pdf", "--by", "respondent_group")
    pages = crosstab_pages(pdf)
    assert pages
    for number, page in pages:
        assert not cjk_fragments(page), (number, cjk_fragments(page))
        headings = next(line for line in page.splitlines() if line.strip().startswith("选项"))
        assert re.split(r"\s{2,}", headings.strip()) == ["选项", *GROUP_LABELS, "合计"]
    text = "".join(page for _number, page in pages)
    # The needs question's long answers stay whole in the rows, with counts and shares.
    assert "电瓶车充电装置（能量满满）" in text
    assert "您最希望社区先办哪些实事？（最多选3项） × 您属于下面哪一类居民？" in text


def test_a_cross_tab_by_many_long_answers_abbreviates_with_a_legend(station, tmp_path):
    pdf = report(station, tmp_path / "report.pdf", "--by", "estate")
    pages = crosstab_pages(pdf)
    for number, page in pages:
        assert not cjk_fragments(page), (number, cjk_fragments(page))
    text = flat("".join(page for _number, page in pages))
    # Nine estates split over two tables; the one too long for its column is lettered.
    assert "表头简称：A = 其他小区（不在上面）" in text
    for estate in ("梁丰花园", "康乐新村", "金港花园一期", "金港花园二期"):
        assert estate in text, estate


def test_pages_render(station, tmp_path):
    """The summary and a cross-tab page, drawn: dark ink where the tables are."""
    from PIL import Image

    pdf = report(station, tmp_path / "report.pdf", "--by", "respondent_group")
    crosstab = crosstab_pages(pdf)[-1][0]
    for page in (1, crosstab):
        subprocess.run([poppler("pdftoppm"), "-r", "60", "-png", "-f", str(page), "-l",
                        str(page), str(pdf), str(tmp_path / "page")], check=True)
    images = sorted(tmp_path.glob("page-*.png"))
    assert len(images) == 2
    for image in images:
        with Image.open(image) as drawn:
            assert drawn.convert("L").getextrema()[0] < 80
    with Image.open(images[0]) as summary:  # the summary's last tables, down the page
        grey = summary.convert("L")
        assert grey.crop((0, grey.height * 3 // 4, grey.width,
                          grey.height * 7 // 8)).getextrema()[0] < 80

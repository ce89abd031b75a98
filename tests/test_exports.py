"""`kiosk export`: CSV read back, XLSX through LibreOffice, the PDF through poppler.

A real kiosk database gets generated submissions; every export is made through the CLI and
checked against figures computed here, independently, from the generated answers.
"""

from __future__ import annotations

import csv
import io
import json
import random
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
from surveys import exports
from surveys.exports import tabular
from surveys.session import Submission
from tests.gated import stored_before_the_gate

N_SATISFACTION = 240
N_REQUESTS = 30
VERSION = "2026112301"
GROUPS = ["elderly", "youth", "hardship", "disabled", "other"]
GROUP_LABELS = {"elderly": "老年人", "youth": "青少年", "hardship": "困难群体",
                "disabled": "残疾人", "other": "其他居民"}
IMPROVEMENTS = ["parking", "ebike_charging", "stair_lighting", "pets", "elevator", "canteen",
                "after_school", "fitness"]
LIKERT = ["5", "4", "3", "2", "1"]
SUGGESTIONS = ["希望多装几盏路灯", "停车位太少，晚上找不到车位", "电瓶车充电桩不够用",
               "=HYPERLINK(\"http://example.com\",\"点我\")", "-没有意见-"]


def satisfaction(number: int, rnd: random.Random) -> Submission:
    answers: dict[str, Any] = {
        "respondent_group": rnd.choice(GROUPS),
        "overall": rnd.choice(LIKERT),
        "improvements": sorted(rnd.sample(IMPROVEMENTS, rnd.randint(1, 3)),
                               key=IMPROVEMENTS.index),
    }
    if number % 4:  # a quarter did not say where they live
        answers["community"] = rnd.choice(["liangfeng", "nanyuan", "chengbei", "jingang"])
    if number % 3 == 0:
        answers["suggestion"] = SUGGESTIONS[number % len(SUGGESTIONS)]
    day = 1 + number % 10
    return Submission(
        instance_id=str(uuid.UUID(int=number, version=4)), survey="satisfaction",
        version=VERSION, started=f"2026-11-{day:02d}T09:{number % 60:02d}:00.000+08:00",
        completed=f"2026-11-{day:02d}T10:{number % 60:02d}:00.000+08:00", lang="zh",
        answers=answers, kiosk="hall-1" if number % 2 else "hall-2",
        enumerator="JG0001" if number % 5 == 0 else None,
        site="新华社区" if number % 2 else "梁丰社区")


def service_request(number: int) -> Submission:
    answers = {"category": "elderly", "for_whom": "self", "community": "nanyuan",
               "description": f"需要上门助浴 {number}", "urgency": "soon", "followup": "phone",
               "contact_name": f"王阿姨{number}", "contact_phone": f"139{number:08d}"}
    return Submission(
        instance_id=str(uuid.UUID(int=10_000 + number, version=4)), survey="service_request",
        version=VERSION, started="2026-11-05T09:00:00.000+08:00",
        completed="2026-11-05T09:10:00.000+08:00", lang="zh", answers=answers, kiosk="hall-1")


BRIDE_PRICES = [0, 8800, 20000, 50000, 66000, None]


def marriage(number: int) -> Submission:
    answers: dict[str, Any] = {"gender": "female", "age_band": "26_30",
                               "marital_status": "married", "bride_price_view": "symbolic"}
    if BRIDE_PRICES[number] is not None:
        answers["bride_price_amount"] = BRIDE_PRICES[number]
    return Submission(
        instance_id=str(uuid.UUID(int=20_000 + number, version=4)), survey="marriage_reform",
        version=VERSION, started="2026-11-06T09:00:00.000+08:00",
        completed="2026-11-06T09:10:00.000+08:00", lang="zh", answers=answers, kiosk="hall-1")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Submission]]:
    path = tmp_path_factory.mktemp("exports") / "kiosk.db"
    rnd = random.Random(20261123)
    generated = [satisfaction(number, rnd) for number in range(N_SATISFACTION)]
    with open_store(path) as store:
        # Generated freely (a quarter without a community, say): rows a kiosk stored
        # before the record gate, which exports must write as they are.
        stored_before_the_gate(store, generated)
        stored_before_the_gate(store, [service_request(number)
                                       for number in range(N_REQUESTS)])
        stored_before_the_gate(store, [marriage(number) for number in range(len(BRIDE_PRICES))])
    return path, generated


def export(db: Path, *args: str) -> Any:
    return CliRunner().invoke(main, ["--db", str(db), "export", *args])


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "CSV for Excel and WPS starts with a BOM"
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    return rows[0], [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


# ---- CSV --------------------------------------------------------------------------------


def test_csv_codes_read_back_with_the_bom_and_chinese_intact(data, tmp_path):
    db, generated = data
    target = tmp_path / "满意度.csv"
    result = export(db, "satisfaction", "--format", "csv", "-o", str(target))
    assert result.exit_code == 0, result.output
    names, rows = read_csv(target)
    assert names[:8] == list(exports.META_COLUMNS)
    assert len(rows) == N_SATISFACTION
    by_id = {row["instance_id"]: row for row in rows}
    for submission in generated:
        row = by_id[submission.instance_id]
        answers = submission.answers
        assert row["kiosk"] == submission.kiosk
        assert row["site"] == submission.site
        assert row["enumerator"] == (submission.enumerator or "")
        assert row["respondent_group"] == answers["respondent_group"]
        assert row["community"] == answers.get("community", "")
        assert row["improvements"] == " ".join(answers["improvements"])
        for choice in IMPROVEMENTS:
            assert row[f"improvements/{choice}"] == str(int(choice in answers["improvements"]))
        # Not answered: every column of the question is empty, not 0.
        assert all(row[name] == "" for name in names if name.startswith("services_used"))
        suggestion = answers.get("suggestion", "")
        if suggestion.startswith(("=", "-")):
            assert row["suggestion"] == "'" + suggestion  # not a formula in Excel
        else:
            assert row["suggestion"] == suggestion
    assert any(row["suggestion"] == "希望多装几盏路灯" for row in rows)
    assert "start" not in names and "today" not in names


def test_csv_labels_in_chinese_and_english(data, tmp_path):
    db, generated = data
    target = tmp_path / "labels.csv"
    assert export(db, "satisfaction", "-o", str(target), "--labels").exit_code == 0
    _names, rows = read_csv(target)
    by_id = {row["instance_id"]: row for row in rows}
    sample = generated[7]
    row = by_id[sample.instance_id]
    assert row["respondent_group"] == GROUP_LABELS[sample.answers["respondent_group"]]
    assert row["overall"] in {"非常满意", "满意", "一般", "不满意", "非常不满意"}
    picked = row["improvements"].split("；")
    assert len(picked) == len(sample.answers["improvements"])
    assert all(label and label.isascii() is False for label in picked)

    english = tmp_path / "english.csv"
    assert export(db, "satisfaction", "-o", str(english), "--labels", "--lang", "en"
                  ).exit_code == 0
    _names, rows = read_csv(english)
    row = {row["instance_id"]: row for row in rows}[sample.instance_id]
    assert row["overall"] in {"Very satisfied", "Satisfied", "Neutral", "Dissatisfied",
                              "Very dissatisfied"}
    assert "; " in row["improvements"] or len(sample.answers["improvements"]) == 1


def test_pii_columns_absent_unless_asked(data, tmp_path):
    db, _ = data
    plain, full = tmp_path / "plain.csv", tmp_path / "full.csv"
    assert export(db, "service_request", "-o", str(plain)).exit_code == 0
    assert export(db, "service_request", "-o", str(full), "--include-pii").exit_code == 0
    names, rows = read_csv(plain)
    assert not any(name.startswith("contact_") for name in names)
    assert "王阿姨" not in plain.read_text(encoding="utf-8-sig")
    assert rows[0]["description"].startswith("需要上门助浴")
    names, rows = read_csv(full)
    assert {"contact_name", "contact_phone", "contact_address"} <= set(names)
    assert {row["contact_name"] for row in rows} == {f"王阿姨{n}" for n in range(N_REQUESTS)}
    assert rows[0]["contact_address"] == ""

    jsonl = tmp_path / "plain.jsonl"
    assert export(db, "service_request", "-o", str(jsonl)).exit_code == 0
    records = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    assert len(records) == N_REQUESTS
    assert all("contact_name" not in record["answers"] for record in records)


def test_filters_choose_the_rows(data, tmp_path):
    db, generated = data
    target = tmp_path / "elderly.csv"
    result = export(db, "satisfaction", "-o", str(target), "--where",
                    "respondent_group=elderly", "--where", "improvements=parking",
                    "--from", "2026-11-03", "--to", "2026-11-07", "--site", "新华社区")
    assert result.exit_code == 0, result.output
    expected = {s.instance_id for s in generated
                if s.answers["respondent_group"] == "elderly"
                and "parking" in s.answers["improvements"]
                and "2026-11-03" <= s.completed[:10] <= "2026-11-07" and s.site == "新华社区"}
    _names, rows = read_csv(target)
    assert {row["instance_id"] for row in rows} == expected
    assert expected


def test_csv_to_standard_output(data):
    db, _ = data
    result = export(db, "satisfaction", "--format", "csv", "-o", "-")
    assert result.exit_code == 0
    assert result.stdout.startswith("\ufeffinstance_id,")
    assert result.stdout.count("\n") == N_SATISFACTION + 1


# ---- XLSX through LibreOffice -----------------------------------------------------------


def libreoffice_csv(book: Path, workdir: Path) -> dict[str, list[list[str]]]:
    """Every sheet of ``book`` as CSV rows, converted by LibreOffice itself (a real client)."""
    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not installed; ./scripts/test installs it")
    out = workdir / "converted"
    # Token 12 = -1: one CSV per sheet; token 5 = 76: UTF-8. A private profile per run, so
    # parallel runs do not fight over ~/.config/libreoffice.
    subprocess.run(
        [soffice, f"-env:UserInstallation=file://{workdir / 'lo-profile'}", "--headless",
         "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,"
         "false,false,-1", "--outdir", str(out), str(book)],
        check=True, capture_output=True, timeout=180)
    sheets = {}
    for path in out.glob(f"{book.stem}-*.csv"):
        text = path.read_text(encoding="utf-8")
        sheets[path.stem.removeprefix(f"{book.stem}-")] = list(csv.reader(io.StringIO(text)))
    return sheets


def wilson(k: int, n: int) -> tuple[float, float]:
    from scipy.stats import binomtest

    interval = binomtest(k, n).proportion_ci(method="wilson")
    return interval.low * 100, interval.high * 100


def test_xlsx_opened_by_libreoffice_has_the_same_figures(data, tmp_path):
    pandas = pytest.importorskip("pandas")
    db, generated = data
    book = tmp_path / "satisfaction.xlsx"
    result = export(db, "satisfaction", "-o", str(book), "--by", "respondent_group")
    assert result.exit_code == 0, result.output
    sheets = libreoffice_csv(book, tmp_path)
    assert set(sheets) == {"数据", "统计", "交叉表"}

    frame = pandas.DataFrame([{"instance_id": s.instance_id, **s.answers} for s in generated])
    data_rows = sheets["数据"]
    header, body = data_rows[0], data_rows[1:]
    assert len(body) == N_SATISFACTION
    by_id = {row[0]: dict(zip(header, row, strict=False)) for row in body}
    for submission in generated[:50]:
        row = by_id[submission.instance_id]
        assert row["improvements"] == " ".join(submission.answers["improvements"])
        assert row["improvements/parking"] == str(int("parking" in
                                                      submission.answers["improvements"]))
        # A formula-looking answer comes back as the text it was, not evaluated.
        assert row["suggestion"] == submission.answers.get("suggestion", "")

    tallies = sheets["统计"]
    counts = frame["respondent_group"].value_counts()
    block = _block(tallies, "respondent_group")
    for group in GROUPS:
        row = next(row for row in block if row[0] == group)
        count = int(counts.get(group, 0))
        assert row[1] == GROUP_LABELS[group]
        assert int(row[2]) == count
        assert float(row[3]) == pytest.approx(100 * count / N_SATISFACTION, abs=0.006)
        low, high = wilson(count, N_SATISFACTION)
        assert float(row[4]) == pytest.approx(low, abs=0.006)
        assert float(row[5]) == pytest.approx(high, abs=0.006)
    # Multi-select: percent of respondents, each choice counted once per respondent.
    chosen = Counter(choice for picked in frame["improvements"] for choice in picked)
    block = _block(tallies, "improvements")
    for choice in IMPROVEMENTS:
        row = next(row for row in block if row[0] == choice)
        assert int(row[2]) == chosen[choice]
    # Likert: top-2 box and mean.
    overall = frame["overall"].astype(int)
    block = _block(tallies, "overall")
    top2 = next(row for row in block if row[0].startswith("前两项"))
    assert float(top2[3]) == pytest.approx(100 * (overall >= 4).mean(), abs=0.006)
    mean = next(row for row in block if row[0] == "平均分")
    assert float(mean[3]) == pytest.approx(overall.mean(), abs=0.006)

    table = pandas.crosstab(frame["respondent_group"], frame["overall"])
    block = _block(sheets["交叉表"], "overall × respondent_group")
    head = block[1]
    for row in block[2:2 + len(table.index)]:
        group = next(key for key, label in GROUP_LABELS.items() if label == row[0])
        for choice in LIKERT:
            column = head.index(_label_of_likert(choice))
            expected = int(table.loc[group, choice]) if choice in table.columns else 0
            assert int(row[column]) == expected


def _label_of_likert(choice: str) -> str:
    return {"5": "非常满意", "4": "满意", "3": "一般", "2": "不满意", "1": "非常不满意"}[choice]


def _block(rows: list[list[str]], title: str) -> list[list[str]]:
    """The rows of one question's block (from its title row to the blank line after)."""
    start = next(index for index, row in enumerate(rows) if row and row[0] == title)
    end = next((index for index in range(start, len(rows)) if not any(rows[index])),
               len(rows))
    return rows[start:end]


def test_xlsx_data_go_on_in_further_sheets_past_the_row_limit(data, tmp_path, monkeypatch):
    from openpyxl import load_workbook

    db, _ = data
    monkeypatch.setattr(tabular, "SHEET_ROW_LIMIT", 100)
    book = tmp_path / "split.xlsx"
    result = export(db, "satisfaction", "-o", str(book))
    assert result.exit_code == 0, result.output
    workbook = load_workbook(book, read_only=True)
    assert workbook.sheetnames == ["数据", "数据2", "数据3", "统计"]
    sizes = [sum(1 for _ in workbook[name].iter_rows()) for name in ("数据", "数据2", "数据3")]
    assert sizes == [101, 101, N_SATISFACTION - 200 + 1]
    assert next(workbook["数据3"].iter_rows(values_only=True))[0] == "instance_id"


def test_numbers_stay_numbers(data, tmp_path):
    from openpyxl import load_workbook

    db, _ = data
    assert export(db, "marriage_reform", "-o", str(tmp_path / "m.csv")).exit_code == 0
    _names, rows = read_csv(tmp_path / "m.csv")
    assert [row["bride_price_amount"] for row in rows] == [
        "" if price is None else str(price) for price in BRIDE_PRICES]
    assert export(db, "marriage_reform", "-o", str(tmp_path / "m.xlsx")).exit_code == 0
    book = load_workbook(tmp_path / "m.xlsx")
    data_rows = list(book["数据"].iter_rows(values_only=True))
    column = data_rows[0].index("bride_price_amount")
    assert [row[column] for row in data_rows[1:]] == BRIDE_PRICES
    tallies = [row for row in book["统计"].iter_rows(values_only=True) if row and row[0]]
    start = next(index for index, row in enumerate(tallies) if row[0] == "bride_price_amount")
    summary = {row[0]: row[1] for row in tallies[start + 2:start + 10]}
    given = [price for price in BRIDE_PRICES if price is not None]
    assert summary["回答人数"] == len(given)
    assert summary["平均值"] == pytest.approx(sum(given) / len(given), abs=0.01)
    assert (summary["最小值"], summary["中位数"], summary["最大值"]) == (0, 20000, 66000)


# ---- PDF through poppler ----------------------------------------------------------------


def poppler(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} (poppler-utils) is not installed")
    return path


def test_pdf_report_renders_with_embedded_chinese(data, tmp_path):
    db, generated = data
    report = tmp_path / "报告.pdf"
    result = export(db, "satisfaction", "-o", str(report), "--by", "respondent_group")
    assert result.exit_code == 0, result.output

    fonts = subprocess.run([poppler("pdffonts"), str(report)], capture_output=True,
                           text=True, check=True).stdout
    cjk = [line for line in fonts.splitlines() if "WenQuanYiZenHei" in line]
    assert cjk and all(line.split()[-5] == "yes" for line in cjk), fonts  # emb column

    text = subprocess.run([poppler("pdftotext"), "-layout", str(report), "-"],
                          capture_output=True, text=True, check=True).stdout
    flat = " ".join(text.split()) + " "
    for words in ("社区服务满意度调查", "统计报告", "您属于下面哪一类居民", "老年人",
                  "非常满意", "95%置信区间", "交叉分析", "文字回答", "希望多装几盏路灯",
                  f"{N_SATISFACTION}", "2026-11-01 – 2026-11-10", "新华社区 120 ",
                  "梁丰社区 120 "):
        assert words in flat, words
    assert "95% CI" not in text and "respondent_group" not in text  # a Chinese report
    elderly = sum(1 for s in generated if s.answers["respondent_group"] == "elderly")
    assert f"老年人 {elderly} " in flat

    subprocess.run([poppler("pdftoppm"), "-r", "40", "-png", str(report),
                    str(tmp_path / "page")], capture_output=True, check=True)
    images = sorted(tmp_path.glob("page-*.png"))
    assert len(images) >= 4
    from PIL import Image

    with Image.open(images[1]) as page:  # the first questions: charts and tables drawn
        assert page.convert("L").getextrema()[0] < 80
    info = subprocess.run([poppler("pdfinfo"), str(report)], capture_output=True, text=True,
                          check=True).stdout
    pages = next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:"))
    assert int(pages) == len(images)
    assert "A4" in info


def test_pdf_free_text_is_capped_with_a_count_of_the_rest(tmp_path):
    from surveys.bundled import compiled_bundled_forms
    from surveys.form import Form

    form = next(Form(compiled) for compiled in compiled_bundled_forms()
                if compiled["survey_id"] == "satisfaction")
    answers = [f"建议第{number}条" for number in range(1000)]
    stats = {"survey": "satisfaction", "title": "社区服务满意度调查", "versions": [VERSION],
             "n": 1000, "filters": {}, "questions": {
                 "suggestion": {"type": "text", "label": "意见或建议", "n": 1000,
                                "answers": answers}}}
    report = tmp_path / "capped.pdf"
    pages = exports.write_pdf([form], stats, report, free_text_cap=50)
    text = subprocess.run([poppler("pdftotext"), str(report), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "建议第49条" in text and "建议第50条" not in text
    assert "其余 950 条（950 种说法）未列出，共 1,000 条" in " ".join(text.split())
    assert pages <= 4


# ---- mistakes ---------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "status", "message"), [
    (["no_such_survey", "-o", "{dir}/x.csv"], 1, "no survey 'no_such_survey'"),
    (["satisfaction", "-o", "{dir}/x.csv", "--where", "colour=red"], 2, "no question 'colour'"),
    (["satisfaction", "-o", "{dir}/x.xlsx", "--where", "respondent_group=martian"], 2,
     "no choice 'martian'"),
    (["satisfaction", "-o", "{dir}/x.pdf", "--where", "respondent_group"], 2,
     "QUESTION=CHOICE"),
    (["satisfaction", "-o", "{dir}/x.pdf", "--by", "suggestion"], 2, "suggestion"),
    (["satisfaction", "-o", "{dir}/x.csv", "--by", "community"], 1, "xlsx and pdf"),
    (["satisfaction", "-o", "{dir}/no/such/folder/x.csv"], 1, "cannot write"),
    (["satisfaction", "-o", "{dir}/x.xlsx", "--from", "2026-13-01"], 2, "2026-13-01"),
])
def test_mistakes_get_a_message_and_leave_no_file(data, tmp_path, args, status, message):
    db, _ = data
    result = export(db, *[arg.format(dir=tmp_path) for arg in args])
    assert result.exit_code == status, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_a_failed_export_leaves_the_earlier_file_and_no_part_file(tmp_path):
    from surveys.bundled import compiled_bundled_forms
    from surveys.form import Form

    form = Form(compiled_bundled_forms()[0])
    target = tmp_path / "export.csv"
    target.write_text("earlier export", encoding="utf-8")

    def records():
        yield {"instance_id": "a", "answers": {}}
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        exports.write_csv([form], records(), target)
    assert target.read_text(encoding="utf-8") == "earlier export"
    assert [path.name for path in tmp_path.iterdir()] == ["export.csv"]


def test_a_file_ending_export_does_not_write_is_refused_not_written_as_jsonl(data, tmp_path):
    """数据.xls once came out as JSON Lines that Excel could not open."""
    db, _generated = data
    for name, hint in (("数据.xls", "(for Excel or WPS: .xlsx)"), ("数据.docx", "")):
        target = tmp_path / name
        result = export(db, "satisfaction", "-o", str(target))
        assert result.exit_code == 1, result.output
        assert (f"kiosk export writes csv, xlsx, pdf, jsonl, sav, dta, not "
                f"'{target.suffix[1:]}'") in result.output and hint in result.output
        assert not target.exists()
    plain = tmp_path / "数据"
    assert export(db, "satisfaction", "-o", str(plain)).exit_code == 0  # no ending: jsonl
    assert export(db, "satisfaction", "-o", str(tmp_path / "x.xls"), "--format",
                  "xlsx").exit_code == 0

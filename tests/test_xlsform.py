"""Reading XLSForms: every format pyxform reads, languages, and refusals with their place."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from kiosk.cli import main
from surveys.session import FormSession
from surveys.xlsform import FormError, compile_xlsform, load_xlsform
from tests.formbuilder import write_form

HEADER = ["type", "name", "label::中文 (zh)", "label::English (en)", "relevant", "constraint",
          "constraint_message::中文 (zh)", "constraint_message::English (en)", "calculation",
          "pii"]
GOOD_SURVEY = [
    HEADER,
    ["integer", "age", "您的年龄？", "Your age?", "", ". >= 0 and . <= 120", "请填0到120",
     "Enter 0 to 120", "", "no"],
    ["select_one yn", "lives_alone", "您一个人住吗？", "", "${age} >= 60", "", "", "", "",
     "no"],
    ["text", "name", "您的姓名", "Your name", "", "", "", "", "", "yes"],
    ["calculate", "senior", "", "", "", "", "", "", "if(${age} >= 60, 1, 0)", ""],
]
CHOICES = [
    ["list_name", "name", "label::中文 (zh)", "label::English (en)"],
    ["yn", "yes", "是", "Yes"],
    ["yn", "no", "否", "No"],
]


@pytest.mark.parametrize("suffix", [".xlsx", ".xls", ".csv", ".md"])
def test_every_format_pyxform_reads_compiles_to_the_same_form(tmp_path: Path, suffix: str):
    form = load_xlsform(write_form(tmp_path / f"probe{suffix}", GOOD_SURVEY, CHOICES))
    assert form.survey_id == "probe"
    assert form.title_in("en") == "Test form"
    assert form.title_in("zh") == "测试问卷"
    assert [item.name for item in form.items] == ["age", "lives_alone", "name", "senior"]
    assert [item.pii for item in form.items] == [False, False, True, False]
    session = FormSession(form, "en")
    session.answer("age", 70)
    assert session.is_relevant("lives_alone")
    assert session.raw("senior") == "1"


def test_missing_translation_falls_back_to_default_language(tmp_path: Path):
    form = load_xlsform(write_form(tmp_path / "probe.xlsx", GOOD_SURVEY, CHOICES))
    english = FormSession(form, "en")
    english.answer("age", 70)
    english.next()
    # lives_alone has no English label: the Chinese one is shown rather than nothing.
    assert english.screen.questions[0].label == "您一个人住吗？"
    assert english.answer("age", 300)[0].message == "Enter 0 to 120"
    chinese = FormSession(form, "中文 (zh)")
    assert chinese.answer("age", 300)[0].message == "请填0到120"


def place(error: FormError) -> tuple:
    return (error.file, error.sheet, error.row, error.column)


def refusal(tmp_path: Path, survey, choices=CHOICES, settings=None, suffix=".xlsx") -> FormError:
    kwargs = {} if settings is None else {"settings": settings}
    path = write_form(tmp_path / f"bad{suffix}", survey, choices, **kwargs)
    with pytest.raises(FormError) as raised:
        compile_xlsform(path)
    return raised.value


@pytest.mark.parametrize(("row_type", "words"), [
    ("geopoint", "geo types"),
    ("image", "media"),
    ("audio", "media"),
    ("intger", "unknown or unsupported type 'intger'"),
])
def test_unsupported_types_are_refused_with_their_row(tmp_path, row_type, words):
    # (repeat groups are run since issue 16: tests/test_repeats.py)
    survey = [*GOOD_SURVEY[:3], [row_type, "thing", "东西", "Thing", "", "", "", "", "", ""]]
    error = refusal(tmp_path, survey)
    assert place(error) == ("bad.xlsx", "survey", 4, "type")
    assert words in str(error)


@pytest.mark.parametrize(("column", "text", "words"), [
    ("relevant", "${age} > 60 and foo(${age})", "unknown function 'foo'"),
    ("relevant", "${agee} > 60", "Could not find the name 'agee'"),
    ("constraint", ". >= 0 and", "unexpected end"),
    ("constraint", "if(. > 1, 2)", "Too few arguments"),
    ("calculation", "concat('a', 'b'", "unexpected end"),
])
def test_bad_expressions_are_refused_with_row_and_column(tmp_path, column, text, words):
    row = ["integer", "visits", "来过几次？", "Visits?", "", "", "", "", "", ""]
    row[HEADER.index(column)] = text
    if column == "calculation":
        row[0] = "calculate"
    error = refusal(tmp_path, [*GOOD_SURVEY, row])
    assert place(error) == ("bad.xlsx", "survey", 6, column)
    assert words in str(error)
    if "agee" not in text:  # that one is pyxform's own message, which names the reference
        assert text in str(error)


def test_label_reference_to_unknown_question_is_refused(tmp_path):
    row = ["note", "thanks", "谢谢，${nmae}！", "Thanks", "", "", "", "", "", ""]
    error = refusal(tmp_path, [*GOOD_SURVEY, row])
    assert place(error)[:3] == ("bad.xlsx", "survey", 6)
    assert "Could not find the name 'nmae'" in str(error)


def test_pyxform_errors_keep_their_row(tmp_path):
    row = ["calculate", "total", "", "", "", "", "", "", "", ""]  # no calculation
    error = refusal(tmp_path, [*GOOD_SURVEY, row])
    assert (error.file, error.sheet, error.row) == ("bad.xlsx", "survey", 6)
    assert "calculation" in str(error).lower()


def test_names_that_differ_only_in_capitals_are_refused_with_their_row(tmp_path):
    # The statistics keep a column per question, and SQL names ignore case: installing
    # such a form once failed with a raw "duplicate column name".
    row = ["integer", "AGE", "年龄", "Age", "", "", "", "", "", ""]
    error = refusal(tmp_path, [*GOOD_SURVEY, row])
    assert place(error)[:3] == ("bad.xlsx", "survey", 6)
    assert "differ only in capital letters" in str(error) and "只差大小写" in str(error)


def test_missing_choice_list_is_refused(tmp_path):
    row = ["select_one colours", "colour", "颜色", "Colour", "", "", "", "", "", ""]
    error = refusal(tmp_path, [*GOOD_SURVEY, row])
    assert error.file == "bad.xlsx"
    assert "colours" in str(error)


def test_bad_form_id_is_refused_on_settings_sheet(tmp_path):
    settings = [["form_title", "form_id", "version"], ["问卷", "my form!", "1"]]
    error = refusal(tmp_path, GOOD_SURVEY, settings=settings)
    assert place(error) == ("bad.xlsx", "settings", 2, "form_id")


def test_calculation_cycle_is_refused(tmp_path):
    rows = [["calculate", "a", "", "", "", "", "", "", "${b} + 1", ""],
            ["calculate", "b", "", "", "", "", "", "", "${a} + 1", ""]]
    error = refusal(tmp_path, [*GOOD_SURVEY, *rows])
    assert error.sheet == "survey" and error.column == "calculation"
    assert "circle" in str(error)


def test_damaged_file_is_refused_clearly(tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04 this is not really a workbook")
    with pytest.raises(FormError, match=r"broken\.xlsx: not a readable XLSForm"):
        compile_xlsform(path)


def test_validate_command_exit_codes_and_place(tmp_path):
    good = write_form(tmp_path / "probe.xlsx", GOOD_SURVEY, CHOICES)
    result = CliRunner().invoke(main, ["survey", "validate", str(good)])
    assert result.exit_code == 0
    assert "OK" in result.output and "probe" in result.output

    bad_row = ["geopoint", "where", "位置", "Where", "", "", "", "", "", ""]
    bad = write_form(tmp_path / "bad.xlsx", [*GOOD_SURVEY, bad_row], CHOICES)
    result = CliRunner().invoke(main, ["survey", "validate", str(bad)])
    assert result.exit_code != 0
    assert "bad.xlsx, sheet 'survey', row 6, column 'type'" in result.output


def test_import_command_installs_and_refuses_changed_same_version(tmp_path):
    db = tmp_path / "kiosk.db"
    path = write_form(tmp_path / "probe.xlsx", GOOD_SURVEY, CHOICES)
    result = CliRunner().invoke(main, ["--db", str(db), "survey", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "probe version 1" in result.output and "imported" in result.output
    listed = CliRunner().invoke(main, ["--db", str(db), "survey", "list", "--json"])
    assert any(entry["id"] == "probe" for entry in __import__("json").loads(listed.output))

    changed = [*GOOD_SURVEY, ["text", "extra", "补充", "Extra", "", "", "", "", "", ""]]
    write_form(path, changed, CHOICES)
    result = CliRunner().invoke(main, ["--db", str(db), "survey", "import", str(path)])
    assert result.exit_code != 0
    assert "already installed with different content" in result.output


def test_chinese_quotes_in_labels_survive_and_titles_translate(tmp_path):
    survey = [HEADER,
              ["note", "intro", "请点“下一题”继续。", "Tap ‘Next’ to go on.", "", "", "", "", "",
               ""],
              ["select_one yn", "agree", "同意“文明养宠”公约吗？", "Agree?", "", "", "", "", "",
               ""]]
    choices = [*CHOICES, ["yn", "maybe", "说不好“再看看”", "Not sure"]]
    settings = [["form_title", "kiosk_title::English (en)", "form_id", "version",
                 "default_language"],
                ["“宠爱有法”问卷", "Pet survey", "pets", "1", "中文 (zh)"]]
    form = load_xlsform(write_form(tmp_path / "pets.xlsx", survey, choices, settings))
    session = FormSession(form, "zh")
    assert session.screen.questions[0].label == "请点“下一题”继续。"
    session.next()
    question = session.screen.questions[0]
    assert question.label == "同意“文明养宠”公约吗？"
    assert question.choices[-1].label == "说不好“再看看”"
    assert FormSession(form, "en").screen.questions[0].label == "Tap ‘Next’ to go on."
    assert form.title_in("zh") == "“宠爱有法”问卷"
    assert form.title_in("en") == "Pet survey"

"""FormSession on a small form: answering, relevance, constraints, navigation, finishing."""

from __future__ import annotations

import pytest

from surveys.form import Form
from surveys.session import FormIncomplete, FormSession


def test_required_question_blocks_next_with_message_in_chosen_language(basics_form: Form):
    chinese = FormSession(basics_form, "zh")
    assert chinese.next()[0].message == "这一题需要回答。"
    english = FormSession(basics_form, "en")
    assert english.next()[0].message == "This question needs an answer."


def test_constraint_message_and_value_not_kept(basics_form: Form):
    session = FormSession(basics_form, "zh")
    problems = session.answer("age", "150")
    assert [problem.message for problem in problems] == ["请输入0到120"]
    assert session.value("age") is None
    assert session.answer("age", "６５") == []  # full-width digits from a Chinese IME
    assert session.value("age") == 65


def test_relevance_skip_and_clearing(basics_form: Form):
    session = FormSession(basics_form, "zh")
    session.answer("age", 30)
    assert session.next() == []
    assert session.screen.questions[0].name == "ok"
    session.answer("ok", "yes")
    session.back()
    session.answer("age", 5)  # "ok" is only asked when age > 10
    assert session.value("ok") is None
    assert session.next() == []
    assert session.screen.questions[0].name == "imp"  # "ok" skipped


def test_finish_refuses_incomplete_and_jumps_to_problem(basics_form: Form):
    session = FormSession(basics_form, "zh")
    with pytest.raises(FormIncomplete) as raised:
        session.finish()
    assert raised.value.problems[0].question == "age"
    assert session.screen.questions[0].name == "age"


def test_submission_holds_typed_answers_and_calculates(basics_form: Form):
    session = FormSession(basics_form, "en")
    session.answer("age", 70)
    session.answer("ok", "no")
    session.answer("imp", ["other", "park"])
    session.answer("imp_other", "电梯")
    submission = session.finish()
    assert submission.answers == {
        "age": 70, "ok": "no", "imp": ["park", "other"], "imp_other": "电梯", "c": "70x",
    }
    assert submission.lang == "en"
    record = submission.to_json()
    assert set(record) == {"instance_id", "survey", "version", "kiosk", "started",
                           "completed", "lang", "enumerator", "answers"}


def test_is_last_follows_relevance(basics_form: Form):
    session = FormSession(basics_form, "zh")
    assert not session.is_last
    session.answer("age", 30)
    for _ in range(4):
        session.next()
    assert session.screen.questions[0].name == "n1"
    assert session.is_last
    session.next()
    assert session.at_end and not session.is_last


def test_repeating_an_answer_that_other_answers_made_invalid_reports_it(tmp_path):
    """Found by the property test: household 4, elderly 4, household 1, elderly 4 again."""
    from surveys.xlsform import load_xlsform
    from tests.formbuilder import write_form

    survey = [["type", "name", "label", "constraint", "constraint_message"],
              ["integer", "household", "家里几口人？", ". >= 1", ""],
              ["integer", "elderly", "其中老人几位？", ". <= ${household}",
               "老人不能多于家里人数。"]]
    form = load_xlsform(write_form(tmp_path / "home.xlsx", survey))
    session = FormSession(form)
    assert session.answer("household", 4) == []
    assert session.answer("elderly", 4) == []
    assert session.answer("household", 1) == []
    problems = session.answer("elderly", 4)
    assert [problem.message for problem in problems] == ["老人不能多于家里人数。"]
    with pytest.raises(FormIncomplete) as raised:
        session.finish()
    assert [problem.question for problem in raised.value.problems] == ["elderly"]


@pytest.mark.parametrize(("written", "number"), [
    ("1万", "10000"), ("1.5万", "15000"), ("一万五", "15000"), ("3千", "3000"),
    ("两千", "2000"), ("800元", "800"), ("8,000", "8000"), ("一万零五", "10005"),
    ("三千五", "3500"), ("1万5", "15000"), ("２万", "20000"), ("30岁", "30")])
def test_numbers_are_read_as_people_write_them(written: str, number: str):
    from surveys.form import Item
    from surveys.session import canonical_text

    assert canonical_text(Item("amount", "integer", "/data/amount"), written) == number
    assert canonical_text(Item("amount", "decimal", "/data/amount"), written) == number


@pytest.mark.parametrize("written", ["1万元abc-.5", "1x", "万万", "1.5千.5", "abc", "3 千 x"])
def test_what_is_no_number_is_refused_not_shortened(written: str):
    from surveys.form import Item
    from surveys.session import AnswerError, canonical_text

    for kind in ("integer", "decimal"):
        with pytest.raises(AnswerError):
            canonical_text(Item("amount", kind, "/data/amount"), written)

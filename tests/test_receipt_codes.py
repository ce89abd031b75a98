"""Receipt codes a resident can read out and staff can type: no look-alikes on the slip, and
a lookup that forgives case, the dash, look-alikes and codes of the old alphabet."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from store import KioskStore, open_store, receipt_code
from store.sqlite.submissions import legacy_receipt_code, receipt_code_readings
from surveys.form import Form
from surveys.session import FormSession
from surveys.xlsform import compile_xlsform
from tests.gated import gated_one
from tests.test_kiosk_printing import QUICK_FORM

NEW_CODE = re.compile(r"[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}")


@pytest.fixture
def store(tmp_path: Path) -> KioskStore:
    store = open_store(tmp_path / "kiosk.db")
    store.install_form(compile_xlsform(QUICK_FORM.encode(), file_name="quick.md"))
    yield store
    store.close()


def instance(number: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"receipt-code-{number}"))


def save(store: KioskStore, instance_id: str) -> str:
    session = FormSession(Form(store.load_form("quick").compiled), "zh",
                          instance_id=instance_id)
    session.answer("happy", "yes")
    session.next()
    return store.save_submission(gated_one(store, session.finish()))


def with_digit(digit: str) -> str:
    """An instance id whose code holds ``digit``."""
    return next(instance(number) for number in range(10_000)
                if digit in receipt_code(instance(number)))


def test_codes_have_no_look_alike_letters_and_keep_their_shape():
    codes = [receipt_code(instance(number)) for number in range(2000)]
    assert all(NEW_CODE.fullmatch(code) for code in codes)
    assert not set("ILOU") & set("".join(codes))
    assert {"0", "1"} <= set("".join(codes))  # the digits the letters were dropped for
    assert len(set(codes)) == len(codes)
    assert receipt_code(instance(1)) == receipt_code(instance(1))  # made again from the id


def test_a_code_is_found_however_the_resident_types_it(store: KioskStore):
    for digit, look_alikes in (("0", "Oo"), ("1", "IiLl")):
        instance_id = with_digit(digit)
        code = save(store, instance_id)
        assert code == receipt_code(instance_id)
        bare = code.replace("-", "")
        typed = [code, code.lower(), bare, f" {bare[:4]} {bare[4:]} ", f"{bare[:4]}－{bare[4:]}",
                 *(code.replace(digit, alike) for alike in look_alikes)]
        for text in typed:
            assert store.instance_of_receipt_code(text) == instance_id, text
    for nonsense in ("", "1234", "ABCD-EFGH-J", "回执号", "ZZZZ-ZZZZ"):
        assert store.instance_of_receipt_code(nonsense) is None, nonsense


def test_codes_of_the_old_alphabet_stay_findable(store: KioskStore):
    # A slip printed before the change: its code is stored as it was printed.
    old_id = next(instance(number) for number in range(10_000)
                  if "O" in legacy_receipt_code(instance(number)))
    save(store, old_id)
    old_code = legacy_receipt_code(old_id)
    store.conn.execute("UPDATE submissions SET receipt_code=? WHERE instance_id=?",
                       (old_code, old_id))
    assert store.instance_of_receipt_code(old_code) == old_id
    assert store.instance_of_receipt_code(old_code.lower().replace("-", "")) == old_id
    assert store.instance_of_receipt_code(old_code.replace("O", "0")) == old_id
    # A submission a bundle brought in after the change, printed with its old code at the
    # village point: stored with the new code, still found by the old one.
    brought_in = instance(20_001)
    save(store, brought_in)
    assert store.instance_of_receipt_code(legacy_receipt_code(brought_in)) == brought_in
    assert store.instance_of_receipt_code(receipt_code(brought_in)) == brought_in


def test_readings_put_the_literal_one_first():
    assert receipt_code_readings("k7qm 3xab") == ["K7QM-3XAB"]
    readings = receipt_code_readings("AB0O-1LI2")
    assert readings[:2] == ["AB0O-1LI2", "AB00-1112"]
    assert {"ABOO-ILI2", "ABOO-LLI2"} <= set(readings[2:])
    assert receipt_code_readings("not-a-receipt") == []
    assert receipt_code_readings("回执号码是多少") == []


def sent_code(store: KioskStore, instance_id: str) -> str:
    """The receipt code a sync (or a bundle) sends for this submission."""
    from kiosk.central.outgoing import checked_submission
    from store.sqlite.sync_cursors import SYNC_COLUMNS

    _key, rows = store.sync_rows("submissions", 0, 10**9, 100)
    [row] = [row for row in rows if row[0] == instance_id]
    _checked, sent = checked_submission(row, store.record_gate())
    return sent[SYNC_COLUMNS["submissions"].index("receipt_code")]


def test_a_sync_sends_the_code_printed_on_the_slip_and_nothing_forged(store: KioskStore):
    printed_before = instance(30_001)
    save(store, printed_before)
    old_code = legacy_receipt_code(printed_before)
    store.conn.execute("UPDATE submissions SET receipt_code=? WHERE instance_id=?",
                       (old_code, printed_before))
    assert sent_code(store, printed_before) == old_code  # the code the resident holds
    forged = instance(30_002)
    save(store, forged)
    store.conn.execute("UPDATE submissions SET receipt_code='=HYPERLINK(1)' "
                       "WHERE instance_id=?", (forged,))
    assert sent_code(store, forged) == receipt_code(forged)


def test_an_all_digit_code_typed_without_its_dash_is_a_code_not_a_job(store: KioskStore):
    from kiosk.config import KioskConfig
    from kiosk.printing.commands import find_job, reprint

    digits = next(instance(number) for number in range(2_000_000)
                  if receipt_code(instance(number)).replace("-", "").isdigit())
    save(store, digits)
    code = receipt_code(digits)
    config = KioskConfig(kiosk_id="hall-1")
    first = reprint(store, config, code.replace("-", ""))  # never queued: made from answers
    assert store.print_job(first).source == digits
    assert find_job(store, code.replace("-", "")).source == digits
    assert find_job(store, str(first)).id == first  # a short number is still a job id

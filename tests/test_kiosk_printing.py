"""Receipts from the kiosk screens (Textual Pilot) and the `kiosk printer` commands, with the
fake ESC/POS printer on a pty pair: a finished questionnaire's receipt is queued, printed
when the printer is up, and waits with a notice on the thank-you screen when it is down."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from kiosk.app import KioskApp
from kiosk.cli import main
from kiosk.config import KioskConfig, PrinterConfig, save_config
from kiosk.printing.queue import Backoff, PrintQueue, queue_from_config
from kiosk.printing.receipts import receipt_for_submission
from printers.document import Document
from printers.escpos import PrinterProfile, encode
from printers.transport import SerialSettings, open_printer
from store import KioskStore, open_store
from surveys.session import FormSession, Submission
from surveys.xlsform import compile_xlsform
from tests.fake_printer import FakePrinter
from tests.gated import gated_one
from tests.printed import printed_jobs
from tests.test_app_flow import SIZE, next_screen, screen_text, tap_form, wait_for
from tests.test_kiosk_hall import Clock

# One question, so a resident finishes in two taps.
QUICK_FORM = """\
| survey |
| | type | name | label::中文 (zh) | label::English (en) | required |
| | select_one yn | happy | 您今天满意吗？ | Are you happy today? | yes |
| choices |
| | list_name | name | label::中文 (zh) | label::English (en) |
| | yn | yes | 满意 | Yes |
| | yn | no | 不满意 | No |
| settings |
| | form_title | form_id | version | default_language |
| | 快速问卷 | quick | 2026112301 | 中文 (zh) |
"""
INSTANCE_ID = "5d1c4f7e-0b6f-4c3a-9d2e-7a1b2c3d4e5f"
CONFIG = KioskConfig(station_name="梁丰社区社工站", kiosk_id="hall-1", surveys=("quick",),
                     printer=PrinterConfig(footer="服务电话：0512-5867 1234"))
SETTINGS = SerialSettings(status_timeout=0.1, write_timeout=2.0)


@pytest.fixture
def quick_store(tmp_path: Path) -> KioskStore:
    store = open_store(tmp_path / "kiosk.db")
    store.install_form(compile_xlsform(QUICK_FORM.encode(), file_name="quick.md"))
    yield store
    store.close()


def serial_queue(store: KioskStore, port: str) -> PrintQueue:
    return PrintQueue(store, lambda: open_printer(port, SETTINGS), PrinterProfile(),
                      kiosk="hall-1", backoff=Backoff(0.05, 0.2), poll_seconds=0.05)


def kiosk_app(store: KioskStore, queue: PrintQueue, **options: object) -> KioskApp:
    return KioskApp(store, config=CONFIG, clock=Clock(), tap_guard=0.0, home_after=600,
                    new_instance_id=lambda: INSTANCE_ID, animations=False,
                    cursor_blink=False, read_aloud=False, print_queue=queue,
                    **options)  # type: ignore[arg-type]


async def finish_quick_form(pilot) -> None:
    await pilot.pause()
    await tap_form(pilot, "quick")
    await pilot.press("1")
    await pilot.pause()
    await next_screen(pilot)  # 完成


# ---- the kiosk screens ----------------------------------------------------------------------


async def test_receipt_prints_when_the_resident_finishes(quick_store: KioskStore):
    with FakePrinter() as printer:
        queue = serial_queue(quick_store, printer.port)
        app = kiosk_app(quick_store, queue)
        async with app.run_test(size=SIZE) as pilot:
            await finish_quick_form(pilot)
            code = quick_store.receipt_code_of(INSTANCE_ID)
            assert code in screen_text(app)
            await wait_for(pilot, lambda: b"\x1dV" in printer.data())
            assert "回执稍后打印" not in screen_text(app)
        [job] = printed_jobs(printer.data())
    assert job.codes == [code] and job.qr == [INSTANCE_ID] and job.complete
    assert "梁丰社区社工站" in job.text and "快速问卷" in job.text
    assert "服务电话：0512-5867 1234" in job.text
    [stored] = quick_store.print_jobs()
    assert (stored.state, stored.kind, stored.source) == ("done", "receipt", INSTANCE_ID)


async def test_printer_down_the_resident_is_told_and_the_receipt_waits(
        quick_store: KioskStore):
    with FakePrinter(state="paper_out") as printer:
        queue = serial_queue(quick_store, printer.port)
        app = kiosk_app(quick_store, queue)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await wait_for(pilot, lambda: not queue.printer_ready)  # the worker asked
            await finish_quick_form(pilot)
            code = quick_store.receipt_code_of(INSTANCE_ID)
            text = screen_text(app)
            assert code in text  # the code is shown whatever the printer does
            assert "回执稍后打印，也可以凭回执号到服务台补打" in text.replace("\n", "")
            [job] = quick_store.print_jobs()
            assert job.source == INSTANCE_ID and job.state in ("queued", "waiting")
            await wait_for(pilot, lambda: quick_store.print_job(job.id).state == "waiting")
            assert quick_store.print_job(job.id).last_status == "paper_out"
            assert printer.data() == b""
            # Paper goes in while the kiosk runs: the waiting receipt prints by itself.
            printer.state = "online"
            await wait_for(pilot, lambda: quick_store.print_job(job.id).state == "done")
        [printed] = printed_jobs(printer.data())
    assert printed.codes == [code] and not printed.reprint


async def test_unknown_port_the_kiosk_keeps_running_in_english(quick_store: KioskStore,
                                                                tmp_path: Path):
    queue = serial_queue(quick_store, str(tmp_path / "ttyUSB7"))
    app = kiosk_app(quick_store, queue, log_dir=tmp_path / "log")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.click("#lang-en")
        await pilot.pause()
        await finish_quick_form(pilot)
        await wait_for(pilot, lambda: "receipt will print" in screen_text(app))
        assert "The printer is not available right now" in screen_text(app)
        [job] = quick_store.print_jobs()
        assert job.state in ("queued", "waiting")
        await wait_for(pilot, lambda: quick_store.print_job(job.id).last_status == "unplugged")
        assert "ttyUSB7 does not exist" in quick_store.print_job(job.id).last_error
    logged = (tmp_path / "log" / "kiosk.log").read_text(encoding="utf-8")
    assert "printer not ready" in logged and "ttyUSB7" in logged


async def test_default_printer_writes_receipt_files_beside_the_database(
        quick_store: KioskStore):
    app = KioskApp(quick_store, config=CONFIG, tap_guard=0.0, home_after=600,
                   new_instance_id=lambda: INSTANCE_ID, animations=False,
                   cursor_blink=False, read_aloud=False)
    folder = quick_store.path.parent / "receipts"
    async with app.run_test(size=SIZE) as pilot:
        await finish_quick_form(pilot)
        await wait_for(pilot, lambda: any(folder.glob("job-*.png")), seconds=20)
        assert "回执稍后打印" not in screen_text(app)
    [binary] = folder.glob("job-*.bin")
    [job] = printed_jobs(binary.read_bytes())
    assert job.codes == [quick_store.receipt_code_of(INSTANCE_ID)]


# ---- kiosk printer … ------------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path: Path):
    """Run `kiosk …` on a database with one printed receipt and a config."""
    database = tmp_path / "kiosk.db"
    config_path = tmp_path / "config.toml"
    store = open_store(database)
    store.install_form(compile_xlsform(QUICK_FORM.encode(), file_name="quick.md"))
    session = FormSession(store.load_form("quick"), "zh", instance_id=INSTANCE_ID,
                          kiosk="hall-1")
    session.answer("happy", "yes")
    code = store.save_submission(gated_one(store, session.finish()))
    store.close()

    def run(*arguments: str, printer_url: str = ""):
        save_config(CONFIG.with_changes(printer=PrinterConfig(url=printer_url)), config_path)
        return CliRunner().invoke(main, ["--db", str(database), "--config", str(config_path),
                                         *arguments])

    run.database = database  # type: ignore[attr-defined]
    run.code = code  # type: ignore[attr-defined]
    return run


def queue_receipt(database: Path, state: str = "done") -> int:
    """The receipt job of the submission, printed to receipt files (or left waiting)."""
    with KioskStore(database) as store:
        queue = queue_from_config(store, CONFIG)
        record = store.submission_record(INSTANCE_ID)
        receipt = receipt_for_submission(Submission(**record), store.load_form("quick"),
                                         store.receipt_code_of(INSTANCE_ID),
                                         station=CONFIG.station_name)
        job_id = queue.enqueue(receipt.document, receipt.kind, receipt.source, receipt.title)
        if state == "done":
            while queue.run_once():
                pass
        else:
            store.hold_print_jobs(queue.clock() + 30, "paper_out", "缺纸", attempted=job_id)
        queue.close()
        return job_id


def test_printer_queue_lists_jobs_with_state_and_printer_words(cli):
    printed = queue_receipt(cli.database)
    waiting = queue_receipt(cli.database, state="waiting")
    result = cli("printer", "queue")
    assert result.exit_code == 0, result.output
    assert "已打印" in result.output and "等打印机" in result.output
    assert "缺纸" in result.output
    listed = json.loads(cli("printer", "queue", "--json").output)
    assert [(job["id"], job["state"]) for job in listed] == [(printed, "done"),
                                                              (waiting, "waiting")]
    assert listed[1]["status"] == "paper_out"


def test_printer_queue_retry_cancel_and_reprint(cli):
    printed = queue_receipt(cli.database)
    waiting = queue_receipt(cli.database, state="waiting")
    result = cli("printer", "queue", "cancel", str(waiting))
    assert result.exit_code == 0 and "cancelled" in result.output
    result = cli("printer", "queue", "retry", str(waiting))
    assert result.exit_code == 0 and "queued again" in result.output
    result = cli("printer", "queue", "cancel", str(printed))
    assert result.exit_code != 0 and "already printed" in result.output
    result = cli("printer", "queue", "retry", "999")
    assert result.exit_code != 0 and "no print job 999" in result.output
    result = cli("printer", "queue", "reprint", cli.code.lower())  # read out at the desk
    assert result.exit_code == 0, result.output
    with KioskStore(cli.database) as store:
        copy = store.print_jobs()[0]
        assert copy.reprint and copy.reprint_of == printed and copy.state == "queued"
        assert store.print_job(waiting).state == "queued"


def test_reprint_of_a_submission_that_never_had_a_receipt(cli):
    result = cli("printer", "queue", "reprint", cli.code)
    assert result.exit_code == 0, result.output
    with KioskStore(cli.database) as store:
        [job] = store.print_jobs()
        assert job.reprint and job.source == INSTANCE_ID and job.kind == "receipt"
        data = encode(Document.from_json(job.document), PrinterProfile(), reprint=True).data
    [printed] = printed_jobs(data)
    assert printed.codes == [cli.code] and printed.reprint


def test_preview_of_a_job_and_of_a_file_of_bytes(cli, tmp_path: Path):
    job_id = queue_receipt(cli.database)
    picture = tmp_path / "receipt.png"
    result = cli("printer", "preview", str(job_id), "-o", str(picture))
    assert result.exit_code == 0, result.output
    with Image.open(picture) as image:
        assert image.width == 384  # 58 mm paper: 32 columns of 12 dots
        tall = image.height
    [binary] = (cli.database.parent / "receipts").glob("job-*.bin")
    from_file = tmp_path / "from-file.png"
    result = cli("printer", "preview", str(binary), "-o", str(from_file))
    assert result.exit_code == 0, result.output
    with Image.open(from_file) as image:
        assert (image.width, image.height) == (384, tall)
    result = cli("printer", "preview", "nothing-here", "-o", str(from_file))
    assert result.exit_code != 0 and "no such file, print job or receipt code" in result.output


def test_printer_test_prints_the_page_and_says_how_the_printer_is(cli):
    with FakePrinter() as printer:
        result = cli("printer", "test", "--port", printer.port)
        assert result.exit_code == 0, result.output
        assert "printer status: 正常 / ready" in result.output
        printer.wait_for(lambda data: b"\x1dV" in data)
        [page] = printed_jobs(printer.data())
    assert "打印测试页" in page.text and "PRINTER TEST PAGE" in page.text
    assert page.qr == ["https://example.org/printer-test"]


@pytest.mark.parametrize(("state", "words"), [("paper_out", "缺纸 / paper out"),
                                               ("cover_open", "纸仓盖未关 / cover open"),
                                               ("garbage", "状态不明 / status unknown")])
def test_printer_test_exits_non_zero_when_the_printer_is_not_ready(cli, state: str,
                                                                    words: str):
    with FakePrinter(state=state) as printer:
        result = cli("printer", "test", "--port", printer.port)
        assert result.exit_code == 1
        assert f"printer status: {words}" in result.output
        assert printer.data() == b""


def test_printer_test_on_a_port_that_is_not_there(cli, tmp_path: Path):
    result = cli("printer", "test", printer_url=str(tmp_path / "ttyUSB3"))
    assert result.exit_code == 1
    assert "未连接 / not connected" in result.output
    assert "ttyUSB3" in result.output


def test_config_show_names_the_printer_settings(cli):
    result = cli("config", "show", printer_url="/dev/ttyUSB0")
    assert "printer: /dev/ttyUSB0; 58mm paper, gb18030, partial cut, 9600 baud" in result.output


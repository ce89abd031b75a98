"""Printers over real I/O: the fake printer at the far end of a pty, a TCP printer, a device
file, a folder. Status from the DLE EOT replies; jobs decoded with printers.parse; a printer
that stops taking data or is unplugged ends in PrinterError, never a hang or a crash."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from printers.document import Document
from printers.escpos import PrinterProfile, encode
from printers.layout import display_width
from printers.parse import Cut, QRCode, StatusRequest, parse, text_lines
from printers.status import PrinterStatus, parse_status
from printers.transport import (
    FilePrinter,
    FolderPrinter,
    PrinterError,
    SerialPrinter,
    SerialSettings,
    open_printer,
)
from tests.fake_printer import FIXED, REPLIES, FakePrinter

INSTANCE_ID = "5d0c8a3e-2b1f-4c6d-8e9a-7f6b5c4d3e2a"
FAST = SerialSettings(write_timeout=1.0, status_timeout=0.3)


def receipt() -> Document:
    return (Document().title("感谢参与").text("社区服务满意度调查 Satisfaction survey")
            .pair("回执码", "K7QM-3XAB").qr(INSTANCE_ID).cut())


def long_job(lines: int = 800) -> bytes:
    """A job bigger than a pty's buffer (about 19 KB), so the writer waits on the reader."""
    document = Document()
    for index in range(lines):
        document.text(f"第{index}行：社区服务满意度调查，感谢您的参与。")
    return encode(document.cut(), PrinterProfile()).data


def run_with_limit(function, limit: float = 20.0):
    """Call ``function`` in a thread; fail the test (instead of hanging it) past ``limit``."""
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["value"] = function()
        except BaseException as error:  # handed to the test below
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(limit)
    assert not thread.is_alive(), f"still blocked after {limit} s"
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome.get("value")


# ---- reading the status bytes ----------------------------------------------------------------


@pytest.mark.parametrize(("fake_state", "state", "near_end"), [
    ("online", "ready", False),
    ("offline", "offline", False),
    ("cover_open", "cover_open", False),
    ("paper_out", "paper_out", False),
    ("paper_near_end", "ready", True),
    ("error", "error", False),
])
def test_parse_status(fake_state: str, state: str, near_end: bool):
    replies = dict(zip((1, 2, 3, 4), REPLIES[fake_state], strict=True))
    status = parse_status(replies)
    assert (status.state, status.paper_near_end) == (state, near_end)
    assert status.ok == (state == "ready")


def test_parse_status_checks_the_fixed_bits(caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.WARNING, logger="printers.status"):
        assert parse_status({1: 0xFF, 2: 0xFF, 3: 0xFF, 4: 0xFF}).state == "unknown"
        assert parse_status({1: 0x00, 2: FIXED, 3: FIXED, 4: FIXED}).state == "unknown"
        assert parse_status({1: FIXED | 0x80, 2: FIXED, 3: FIXED, 4: FIXED}).state == "unknown"
    assert "ff ff ff ff" in caplog.text
    # Answering some requests and not others is not a state either.
    assert parse_status({1: FIXED, 2: None, 3: None, 4: None}).state == "unknown"
    assert parse_status({1: None, 2: None, 3: None, 4: None}).state == "offline"


def test_status_words():
    assert PrinterStatus("paper_out").words() == "缺纸"
    assert PrinterStatus("paper_out").words("en") == "paper out"
    assert PrinterStatus("ready", paper_near_end=True).words() == "正常，纸将用完"
    assert PrinterStatus("unplugged").words("en") == "not connected"
    with pytest.raises(ValueError):
        PrinterStatus("on fire")


# ---- a serial printer at the end of a pty ------------------------------------------------------


@pytest.mark.parametrize(("fake_state", "state", "near_end"), [
    ("online", "ready", False),
    ("offline", "offline", False),
    ("cover_open", "cover_open", False),
    ("paper_out", "paper_out", False),
    ("paper_near_end", "ready", True),
    ("error", "error", False),
])
def test_status_over_the_serial_line(fake_state: str, state: str, near_end: bool):
    with FakePrinter(fake_state) as fake, open_printer(fake.port, FAST) as printer:
        status = printer.status()
        assert (status.state, status.paper_near_end) == (state, near_end)
        assert fake.status_requests == [1, 2, 3, 4]
        if state != "ready":
            assert fake.port in status.detail
        assert fake.data() == b""  # status requests are not printed


def test_garbage_replies_are_unknown_and_logged(caplog: pytest.LogCaptureFixture):
    with FakePrinter("garbage") as fake, open_printer(fake.port, FAST) as printer, \
            caplog.at_level(logging.WARNING):
        status = printer.status()
    assert status.state == "unknown"
    assert "ff ff ff ff" in status.detail and fake.port in status.detail
    assert "make no sense" in caplog.text


def test_a_silent_printer_is_offline_after_one_timeout():
    with FakePrinter("silent") as fake, open_printer(fake.port, FAST) as printer:
        status = run_with_limit(printer.status)
        assert status.state == "offline"
        assert "no reply" in status.detail and fake.port in status.detail
        assert fake.status_requests == [1]  # it did not wait four times


def test_status_follows_the_printer_between_calls():
    with FakePrinter("online") as fake, open_printer(fake.port, FAST) as printer:
        assert printer.status().ok
        fake.state = "paper_out"
        assert printer.status().state == "paper_out"
        fake.state = "online"
        assert printer.status().ok


def test_a_printer_unplugged_between_jobs_is_unplugged():
    with FakePrinter() as fake, open_printer(fake.port, FAST) as printer:
        assert printer.status().ok
        fake.unplug()
        status = run_with_limit(printer.status)
        assert status.state == "unplugged" and fake.port in status.detail
        with pytest.raises(PrinterError) as caught:
            printer.send(b"\x1b@x\n", job_id=5)
        assert caught.value.state == "unplugged"


def test_a_port_that_does_not_exist_is_unplugged():
    printer = open_printer("/dev/ttyUSB97", FAST)
    status = printer.status()
    assert status.state == "unplugged"
    assert "/dev/ttyUSB97" in status.detail and "does not exist" in status.detail
    with pytest.raises(PrinterError, match="/dev/ttyUSB97") as caught:
        printer.send(b"\x1b@hello\n", job_id=1)
    assert caught.value.state == "unplugged"


def test_a_second_program_cannot_share_the_port():
    with FakePrinter() as fake, open_printer(fake.port, FAST) as first, \
            open_printer(fake.port, FAST) as second:
        assert first.status().ok
        status = second.status()
        assert status.state == "unknown" and "in use" in status.detail


def test_a_receipt_arrives_whole_and_decodes():
    job = encode(receipt(), PrinterProfile())
    with FakePrinter(bytes_per_second=960) as fake, open_printer(fake.port, FAST) as printer:
        assert printer.status().ok
        printer.send(job.data, job_id=42)
        data = fake.wait_for(lambda received: received.endswith(b"\x1dV\x01"))
        assert printer.status().ok  # the port stays open between jobs
    assert data == job.data
    events = parse(data)
    [code] = [event for event in events if isinstance(event, QRCode)]
    assert code.data == INSTANCE_ID
    assert isinstance(events[-1], Cut) and events[-1].mode == "partial"
    lines = text_lines(events)
    assert lines[:3] == ["感谢参与", "社区服务满意度调查 Satisfaction", "survey"]
    assert lines[3].startswith("回执码 ...") and lines[3].endswith("... K7QM-3XAB")
    assert display_width(lines[3]) == 32
    assert not [event for event in events if isinstance(event, StatusRequest)]


def test_closing_right_after_a_job_keeps_the_job():
    job = encode(receipt(), PrinterProfile())
    with FakePrinter(bytes_per_second=960) as fake:
        printer = open_printer(fake.port, FAST)
        printer.send(job.data, job_id=43)
        printer.close()
        assert fake.wait_for(lambda received: len(received) >= len(job.data)) == job.data


def test_unplugged_mid_job_raises_printer_error_and_status_says_unplugged():
    data = long_job()
    with FakePrinter() as fake:
        fake.unplug_after = 2_000
        printer = SerialPrinter(fake.port, FAST)
        with pytest.raises(PrinterError) as caught:
            run_with_limit(lambda: printer.send(data, job_id="a1"))
        assert caught.value.state == "unplugged"
        assert fake.port in str(caught.value) and "job a1" in str(caught.value)
        assert len(fake.data()) == 2_000
        status = printer.status()  # the port is opened again, and is gone
        assert status.state == "unplugged" and fake.port in status.detail
        printer.close()


def test_a_printer_that_reads_very_slowly_makes_send_fail_not_hang():
    data = long_job()
    with FakePrinter(bytes_per_second=50) as fake, \
            open_printer(fake.port, SerialSettings(write_timeout=0.5)) as printer:
        with pytest.raises(PrinterError) as caught:
            run_with_limit(lambda: printer.send(data, job_id=7))
        assert caught.value.state == "offline"
        assert "took no data for 0.5 s" in str(caught.value) and fake.port in str(caught.value)


def test_a_printer_that_reads_nothing_makes_send_fail_not_hang():
    master, slave = os.openpty()  # nobody reads the master: the line is held
    try:
        port = os.ttyname(slave)
        printer = open_printer(port, SerialSettings(write_timeout=0.5))
        with pytest.raises(PrinterError, match="stalled"):
            run_with_limit(lambda: printer.send(long_job(), job_id=8))
        printer.close()
    finally:
        os.close(master)
        os.close(slave)


def test_settings_are_checked():
    with pytest.raises(ValueError, match="baud"):
        SerialSettings(baudrate=1234)
    with pytest.raises(ValueError, match="parity"):
        SerialSettings(parity="X")


# ---- other pyserial URLs -----------------------------------------------------------------------


class NetworkPrinter:
    """A printer on TCP port 9100 (through pyserial's socket://): records what it gets,
    answers DLE EOT as online, and can hang up after a number of bytes."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"socket://127.0.0.1:{self.server.getsockname()[1]}"
        self.received = bytearray()
        self.hang_up_after: int | None = None
        self.connections = 0
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            with connection:
                while chunk := connection.recv(4096):
                    for index in range(len(chunk) - 2):
                        if chunk[index:index + 2] == b"\x10\x04":
                            connection.sendall(bytes([FIXED]))
                    self.received += chunk
                    if self.hang_up_after is not None and len(self.received) >= self.hang_up_after:
                        self.hang_up_after = None
                        connection.shutdown(socket.SHUT_RDWR)
                        break

    def close(self) -> None:
        self.server.close()


def test_network_printer_through_socket_url_and_reopen_after_a_failure():
    network = NetworkPrinter()
    try:
        printer = open_printer(network.url, FAST)
        assert isinstance(printer, SerialPrinter)
        assert printer.status().ok
        network.hang_up_after = 100
        with pytest.raises(PrinterError) as caught:
            for _ in range(50):  # the failure shows on a write after the hang-up
                printer.send(long_job(40), job_id=1)
        assert network.url in str(caught.value)
        job = encode(receipt(), PrinterProfile()).data
        printer.send(job, job_id=2)  # opened again
        deadline = time.monotonic() + 10
        while not network.received.endswith(job) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert network.received.endswith(job)
        assert network.connections == 2
        printer.close()
    finally:
        network.close()


def test_nobody_listening_on_a_socket_url_is_unplugged():
    with socket.create_server(("127.0.0.1", 0)) as probe:
        url = f"socket://127.0.0.1:{probe.getsockname()[1]}"
    status = open_printer(url, FAST).status()
    assert status.state == "unplugged" and url in status.detail


def test_loop_url_echoes_the_requests_which_are_not_status_replies():
    printer = open_printer("loop://", FAST)
    assert printer.status().state == "unknown"  # 0x10 is no status byte
    printer.send(b"\x1b@test\n", job_id="loop")
    printer.close()


def test_bad_urls_are_refused_with_the_url_in_the_message():
    for url in ("ftp://printer/", "ttyUSB0", "file:relative/lp0"):
        with pytest.raises(PrinterError, match="printer URL"):
            open_printer(url)


# ---- device files and folders ------------------------------------------------------------------


def test_file_printer(tmp_path: Path):
    device = tmp_path / "lp0"
    printer = open_printer(f"file:{device}")
    assert isinstance(printer, FilePrinter)
    status = printer.status()
    assert status.state == "unplugged" and str(device) in status.detail
    with pytest.raises(PrinterError, match="lp0"):
        printer.send(b"x", job_id=1)
    device.write_bytes(b"")
    assert printer.status().ok
    job = encode(receipt(), PrinterProfile())
    printer.send(job.data, job_id=1)
    printer.send(job.data, job_id=2)
    assert device.read_bytes() == job.data * 2
    assert isinstance(open_printer("/dev/usb/lp7"), FilePrinter)
    assert open_printer("/dev/usb/lp7").status().state == "unplugged"


def test_file_printer_that_takes_no_data_fails_after_the_write_timeout(tmp_path: Path):
    fifo = tmp_path / "lp0"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # open, but never read
    try:
        printer = FilePrinter(fifo, SerialSettings(write_timeout=0.5))
        with pytest.raises(PrinterError, match="stalled") as caught:
            run_with_limit(lambda: printer.send(b"\n" * 300_000, job_id=3))
        assert caught.value.state == "offline"
    finally:
        os.close(reader)


def test_folder_printer_writes_bytes_and_preview(tmp_path: Path):
    folder = tmp_path / "receipts"
    printer = open_printer("", folder=folder, profile=PrinterProfile(columns=48))
    assert isinstance(printer, FolderPrinter)
    assert printer.status().ok and folder.is_dir()
    job = encode(receipt(), PrinterProfile(columns=48))
    printer.send(job.data, job_id=17)
    assert (folder / "job-17.bin").read_bytes() == job.data
    from PIL import Image

    with Image.open(folder / "job-17.png") as picture:
        assert picture.width == 576
    assert sorted(path.name for path in folder.iterdir()) == ["job-17.bin", "job-17.png"]
    assert open_printer(f"folder:{tmp_path / 'other'}").url == f"folder:{tmp_path / 'other'}"
    assert open_printer("folder", folder=folder).status().ok


def test_folder_printer_needs_a_folder_and_a_writable_one(tmp_path: Path):
    with pytest.raises(PrinterError, match="folder"):
        open_printer("")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    printer = open_printer("folder", folder=blocker / "receipts")
    status = printer.status()
    assert status.state == "error" and str(blocker) in status.detail
    with pytest.raises(PrinterError, match="receipt folder"):
        printer.send(b"\x1b@", job_id=1)


def test_folder_printer_job_ids_cannot_leave_the_folder(tmp_path: Path):
    printer = FolderPrinter(tmp_path)
    printer.send(b"\x1b@x\n", job_id="../../etc/passwd")
    assert all(path.parent == tmp_path for path in tmp_path.rglob("*"))


def test_serial_printer_closes_cleanly_twice():
    with FakePrinter() as fake:
        printer = SerialPrinter(fake.port, FAST)
        assert printer.status().ok
        printer.close()
        printer.close()
        assert printer.status().ok  # opened again
        printer.close()

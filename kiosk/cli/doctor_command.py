"""``kiosk doctor``: check what the station needs (kiosk/doctor.py does the checking) and say
each finding in Chinese with what to do. Exit status 0 when nothing failed."""

from __future__ import annotations

import contextlib
import json
import os
import select
import sys
import time
from collections.abc import Callable, Iterator
from itertools import pairwise
from typing import TYPE_CHECKING, TextIO

import click

from kiosk.cli.context import Context, pass_context
from kiosk.cli.exit_codes import KioskCommand

if TYPE_CHECKING:
    from kiosk.doctor import Finding, Station


@contextlib.contextmanager
def _keys_one_by_one(stream: TextIO) -> Iterator[int]:
    """The terminal hands over every key as it comes (no line editing, no echo), so the
    pauses between a scanner's keys can be measured; put back as it was afterwards."""
    import termios
    import tty

    descriptor = stream.fileno()
    saved = termios.tcgetattr(descriptor)
    try:
        tty.setcbreak(descriptor)
        yield descriptor
    finally:
        termios.tcsetattr(descriptor, termios.TCSADRAIN, saved)


def read_scan(stream: TextIO, seconds: float) -> tuple[str | None, list[float]]:
    """What a keyboard-wedge scanner types into the terminal up to Enter, within
    ``seconds``, and the pauses between its keys (None: nothing came)."""
    deadline = time.monotonic() + seconds
    typed = bytearray()
    stamps: list[float] = []
    with _keys_one_by_one(stream) as descriptor:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None, []
            ready, _, _ = select.select([descriptor], [], [], left)
            if not ready:
                continue
            chunk = os.read(descriptor, 256)
            if not chunk:
                return None, []
            now = time.monotonic()
            for byte in chunk:
                if byte in b"\r\n":
                    if typed:  # the pause before Enter counts too: the kiosk waits as long
                        gaps = [later - earlier for earlier, later in pairwise([*stamps, now])]
                        return typed.decode("utf-8", errors="replace"), gaps
                    continue  # an Enter before anything: not a scan yet
                typed.append(byte)
                stamps.append(now)
                if len(typed) > 512:  # no card is this long: a stuck key
                    return typed.decode("utf-8", errors="replace"), []


def terminal_scan(seconds: float) -> Callable[[Station], Finding]:
    """The scanner test run in this terminal (when it is one)."""
    from kiosk.doctor import Finding, scan_finding

    def scan(station: Station) -> Finding:
        if not sys.stdin.isatty():
            return Finding("scanner", "扫码枪", "skipped",
                           "--scan 要在终端前运行（现在的输入不是键盘）。",
                           "在终端前直接运行 kiosk doctor --scan，按提示扫一张志愿者证。")
        click.echo(f"请在 {seconds:g} 秒内用扫码枪扫一张志愿者证……", err=True)
        text, gaps = read_scan(sys.stdin, seconds)
        return scan_finding(station, text, slowest=max(gaps, default=0.0), seconds=seconds)

    return scan


def _print(findings: list[Finding], header: str) -> None:
    from kiosk.doctor import STATE_MARKS, STATE_WORDS, summary_words

    click.echo(header)
    width = max(len(finding.title) for finding in findings)
    for finding in findings:
        mark, colour = STATE_MARKS[finding.status]
        title = finding.title + "　" * (width - len(finding.title))
        label = click.style(f"{mark} {STATE_WORDS[finding.status]}", fg=colour, bold=True)
        click.echo(f"{label}  {title}  {finding.detail}")
        if finding.fix and finding.status != "ok":
            click.echo(f"{' ' * 8}{'　' * width}  怎么办：{finding.fix}")
    click.echo(summary_words(findings))


@click.command("doctor", cls=KioskCommand)
@click.option("--check", "only", multiple=True, metavar="NAME",
              help="Only this check (repeatable): config, database, disk, timezone, clock, "
                   "printer, scanner, camera, speaker, fonts, card_secret, permissions, "
                   "central, backup.")
@click.option("--scan", "scan", is_flag=True,
              help="Test the card scanner: scan a volunteer card when asked (needs a "
                   "terminal).")
@click.option("--scan-seconds", type=click.IntRange(3, 120), default=20, show_default=True,
              help="How long --scan waits for the card.")
@click.option("--speak", is_flag=True, help="Speak a test line through the speaker.")
@click.option("--strict", is_flag=True,
              help="Exit 1 when a check needs attention (注意), not only when one fails.")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@pass_context
def doctor_command(context: Context, only: tuple[str, ...], scan: bool, scan_seconds: int,
                   speak: bool, strict: bool, as_json: bool) -> None:
    """Check what this kiosk needs and say how to fix what is wrong (系统检查).

    The database (whole, disk space), time zone and clock, the printer and its paper, the
    card scanner (--scan), camera, speaker (--speak plays a line), Chinese fonts, the card
    secret, file permissions, the central database or the last bundle, and the last
    backup (older than 2 days fails). Nothing is changed. Each finding is 正常 (ok), 注意
    (works but needs attention), 故障 (fails) or 未查 (nothing to check here).

    Exit status 0 when nothing failed (with --strict: nor needs attention), 1 otherwise.
    """
    from kiosk.config import ConfigError, KioskConfig, default_kiosk_id, load_config
    from kiosk.doctor import CHECK_IDS, Station, all_well, run_checks, summary
    from surveys.clock import now_local, set_station_zone

    unknown = sorted(set(only) - set(CHECK_IDS))
    if unknown:
        raise click.BadParameter(f"{', '.join(unknown)}: no such check; the checks are "
                                 f"{', '.join(CHECK_IDS)}", param_hint="--check")
    error = None
    try:
        config = load_config(context.config_path)
    except ConfigError as problem:  # reported as a finding; the other checks still run
        error = str(problem)
        config = KioskConfig(kiosk_id=default_kiosk_id(), path=context.config_path)
    if context.given_kiosk_id:
        config = config.with_changes(kiosk_id=context.given_kiosk_id)
    set_station_zone(config.timezone)
    station = Station(context.db_path, context.config_path, config, error, speak=speak,
                      scan=terminal_scan(scan_seconds) if scan else None)
    findings = run_checks(station, only or None)
    well = all_well(findings, strict=strict)
    now = now_local()
    if as_json:
        click.echo(json.dumps({
            "station": config.station_name, "kiosk_id": config.kiosk_id,
            "checked_at": now.isoformat(timespec="seconds"), "ok": well,
            "summary": summary(findings),
            "checks": [finding.to_json() for finding in findings]},
            ensure_ascii=False, indent=1))
    else:
        _print(findings, f"系统检查 · kiosk doctor（{config.station_name}，终端 "
                         f"{config.kiosk_id}，{now:%Y-%m-%d %H:%M}）")
    sys.exit(0 if well else 1)

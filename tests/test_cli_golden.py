"""What the ``kiosk`` command shows, frozen: every command's ``--help`` and the message and
exit code of its error paths, compared with tests/golden/. A move of code between modules
must not change a word of what a user sees.

After a deliberate change of a help text or message, write the golden files anew with
``KIOSK_UPDATE_GOLDEN=1 ./scripts/test tests/test_cli_golden.py`` and read the diff.
"""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from kiosk.cli import main

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("KIOSK_UPDATE_GOLDEN") == "1"


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command and group under ``group``, depth first, in name order."""
    for name in sorted(group.commands):
        command = group.commands[name]
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from command_paths(command, (*prefix, name))


def run(args: list[str], env: dict[str, str] | None = None, stdin: str | None = None
        ) -> tuple[int, str, str]:
    runner = CliRunner()
    result = runner.invoke(main, args, prog_name="kiosk", terminal_width=100, env=env,
                           input=stdin, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def compare(name: str, actual: object) -> None:
    path = GOLDEN / name
    text = json.dumps(actual, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert actual == expected


def test_every_help_text_is_unchanged() -> None:
    helps = {}
    for path in [(), *command_paths(main)]:
        code, out, err = run([*path, "--help"])
        assert code == 0, (path, err)
        helps[" ".join(("kiosk", *path))] = out
    compare("cli_help.json", helps)
    code, out, _err = run(["--version"])
    assert code == 0 and out.startswith("kiosk, version ")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def places(tmp_path: Path) -> dict[str, Path]:
    """A kiosk database with the bundled forms, a configuration and a few files to refuse."""
    db = tmp_path / "kiosk.db"
    config = tmp_path / "config.toml"
    code, _out, err = run(["--db", str(db), "--config", str(config), "config", "init",
                           "--station", "九龙街道社工站", "--kiosk-id", "hall-1",
                           "--street", "九龙街道", "--community", "幸福社区"])
    assert code == 0, err
    code, _out, err = run(["--db", str(db), "--config", str(config), "survey", "list"])
    assert code == 0, err
    bad_jsonl = tmp_path / "bad.jsonl"
    bad_jsonl.write_text('{"instance_id": "broken\n[1, 2]\n', encoding="utf-8")
    roster = tmp_path / "roster.csv"
    roster.write_text("编号,姓名,手机\nJG0001,张三,12345\n", encoding="utf-8")
    bundle = tmp_path / "damaged.bundle"
    bundle.write_text("not a bundle\n", encoding="utf-8")
    other = tmp_path / "other.db"
    import sqlite3

    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE t(x)")
    picture = tmp_path / "card.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n")
    return {"db": db, "config": config, "bad_jsonl": bad_jsonl, "roster": roster,
            "bundle": bundle, "other_db": other, "picture": picture, "tmp": tmp_path}


def error_cases(places: dict[str, Path]) -> dict[str, list[str]]:
    """Name -> arguments (after --db and --config) of a command a user gets wrong."""
    tmp = places["tmp"]
    unreachable = f"postgresql://kiosk@127.0.0.1:{free_port()}/central?connect_timeout=3"
    return {
        "survey show unknown": ["survey", "show", "no_such_survey"],
        "survey validate missing file": ["survey", "validate", str(tmp / "missing.xlsx")],
        "survey import bad form": ["survey", "import", str(places["roster"])],
        "import missing file": ["import", str(tmp / "missing.jsonl")],
        "import bad lines": ["import", str(places["bad_jsonl"])],
        "import bad lines json": ["import", "--json", str(places["bad_jsonl"])],
        "export unknown survey": ["export", "no_such_survey", "-o", str(tmp / "x.csv")],
        "export unknown question": ["export", "satisfaction", "-o", str(tmp / "x.xlsx"),
                                    "--by", "no_such_question"],
        "export by in csv": ["export", "satisfaction", "-o", str(tmp / "x.csv"),
                             "--by", "age_band"],
        "export unknown choice": ["export", "satisfaction", "-o", str(tmp / "x.csv"),
                                  "--where", "overall=11"],
        "export bad where": ["export", "satisfaction", "-o", str(tmp / "x.csv"),
                             "--where", "overall"],
        "export bad date": ["export", "satisfaction", "-o", str(tmp / "x.csv"),
                            "--from", "2026-13-01"],
        "export unwritable": ["export", "satisfaction", "-o", str(tmp / "no" / "dir" / "x.csv")],
        "stats unknown survey": ["stats", "no_such_survey"],
        "stats unknown question": ["stats", "satisfaction", "--where", "nothing=1"],
        "stats twice the same question": ["stats", "satisfaction", "--where", "overall=1",
                                          "--where", "overall=2"],
        "stats by unknown": ["stats", "satisfaction", "--by", "no_such_question"],
        "stats central without dsn": ["stats", "satisfaction", "--central"],
        "stats central unreachable": ["stats", "satisfaction", "--central", unreachable],
        "sync not enrolled": ["sync"],
        "central join not an enrolment": ["central", "join", str(places["roster"])],
        "central join missing": ["central", "join", str(tmp / "no-such-enrolment.json")],
        "central enrol not a dsn": ["central", "enrol", "not a dsn at all", "hall-9", "-o",
                                    str(tmp / "e.json")],
        "central enrol unreachable": ["central", "enrol", unreachable, "hall-9", "-o",
                                      str(tmp / "e.json")],
        "central revoke unreachable": ["central", "revoke", unreachable, "hall-9"],
        "central init unreachable": ["central", "init", unreachable],
        "bundle export both": ["bundle", "export", "-o", str(tmp / "b.bundle"), "--all",
                               "--since", str(places["bundle"])],
        "bundle import damaged": ["bundle", "import", str(places["bundle"])],
        "volunteer add bad phone": ["volunteer", "add", "JG0001", "张三", "--phone", "12345"],
        "volunteer import bad rows": ["volunteer", "import", str(places["roster"])],
        "volunteer suspend unknown": ["volunteer", "suspend", "JG9999"],
        "volunteer activate unknown": ["volunteer", "activate", "JG9999"],
        "volunteer reissue unknown": ["volunteer", "reissue", "JG9999"],
        "volunteer sessions bad month": ["volunteer", "sessions", "--month", "2026-13"],
        "volunteer sessions month and from": ["volunteer", "sessions", "--month", "2026-11",
                                              "--from", "2026-11-01"],
        "volunteer sessions bad day": ["volunteer", "sessions", "--from", "yesterday"],
        "volunteer hours backwards": ["volunteer", "hours", "--from", "2026-11-02", "--to",
                                      "2026-11-01", "-o", str(tmp / "hours.csv")],
        "volunteer hours central unreachable": ["volunteer", "hours", "--central", unreachable,
                                                "-o", str(tmp / "hours.csv")],
        "volunteer correct unknown": ["volunteer", "correct", "999", "--reason", "忘记签退",
                                      "--staff", "李站长", "--confirm"],
        "volunteer cards nobody": ["volunteer", "cards", "-o", str(tmp / "cards.pdf")],
        "volunteer cards unknown": ["volunteer", "cards", "JG9999", "-o", str(tmp / "c.pdf")],
        "volunteer scan without secret": ["volunteer", "scan", str(places["picture"])],
        "printer retry unknown": ["printer", "queue", "retry", "99"],
        "printer cancel unknown": ["printer", "queue", "cancel", "99"],
        "printer reprint unknown": ["printer", "queue", "reprint", "ZZZZ-ZZZZ"],
        "printer preview unknown": ["printer", "preview", "99", "-o", str(tmp / "p.png")],
        "config init again": ["config", "init"],
        "serve bad port": ["serve", "--port", "70000"],
        "say bad rate": ["say", "你好", "--rate", "10"],
        "unknown command": ["no_such_command"],
    }


def normalised(text: str, places: dict[str, Path]) -> str:
    text = text.replace(str(places["tmp"]), "<tmp>")
    return re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:<port>", text)


def test_error_paths_keep_their_messages_and_exit_codes(places: dict[str, Path]) -> None:
    common = ["--db", str(places["db"]), "--config", str(places["config"])]
    outcomes = {}
    env = {"KIOSK_CENTRAL": ""}
    for name, args in error_cases(places).items():
        code, out, err = run([*common, *args], env=env)
        outcomes[name] = {"exit": code, "stdout": normalised(out, places),
                          "stderr": normalised(err, places)}
    # A database of another program, and a configuration that offers a missing survey.
    code, out, err = run(["--db", str(places["other_db"]), "--config", str(places["config"]),
                          "survey", "list"])
    outcomes["not our database"] = {"exit": code, "stdout": normalised(out, places),
                                    "stderr": normalised(err, places)}
    offering = places["tmp"] / "offering.toml"
    offering.write_text(places["config"].read_text(encoding="utf-8").replace(
        '"satisfaction"', '"satisfaction", "no_such_survey"', 1), encoding="utf-8")
    for name, args in (("run missing survey", ["run"]), ("serve missing survey", ["serve"])):
        code, out, err = run(["--db", str(places["db"]), "--config", str(offering), *args])
        outcomes[name] = {"exit": code, "stdout": normalised(out, places),
                          "stderr": normalised(err, places)}
    compare("cli_errors.json", outcomes)
    assert {outcome["exit"] for outcome in outcomes.values()} == {1, 2, 3}

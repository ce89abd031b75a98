"""`kiosk volunteer list` shows every name whole, in columns sized by display width."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.cells import cell_len

from kiosk.cli import main

LONG_NAME = "阿卜杜热合曼·买买提依明"  # 12 characters: 24 cells
LONG_TEAM = "金港街道新时代文明实践志愿服务队"


@pytest.fixture
def run(tmp_path: Path):
    runner = CliRunner()
    base = ["--db", str(tmp_path / "kiosk.db"), "--config", str(tmp_path / "config.toml"),
            "--kiosk-id", "office"]
    (tmp_path / "config.toml").write_text('[station]\nname = "金港街道社工站"\n',
                                          encoding="utf-8")

    def invoke(*arguments: str, columns: int = 80):
        return runner.invoke(main, [*base, *arguments], env={"COLUMNS": str(columns)})

    return invoke


@pytest.mark.parametrize("columns", [60, 80, 200])
def test_long_names_are_never_cut_and_columns_line_up(run, columns: int):
    for number, name, team in (("JG0001", LONG_NAME, LONG_TEAM), ("JG0002", "王芳", "心语"),
                               ("JG0003", "Li Wei", "助残志愿服务队")):
        result = run("volunteer", "add", number, name, "--phone", "13912345678", "--team",
                     team, "--organisation", "金港花园社区")
        assert result.exit_code == 0, result.output
    result = run("volunteer", "list", columns=columns)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    header, rows = lines[0], lines[1:4]
    assert lines[4] == "3 volunteers"
    for row, name, team in zip(rows, (LONG_NAME, "王芳", "Li Wei"),
                               (LONG_TEAM, "心语", "助残志愿服务队"), strict=True):
        assert name in row and team in row and "…" not in row
        # Each column starts at the same display column as its heading.
        for heading, cell in (("姓名", name), ("服务队 team", team), ("状态", "在册")):
            assert cell_len(row[:row.index(cell)]) == cell_len(header[:header.index(heading)])

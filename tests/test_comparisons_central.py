"""``kiosk stats --compare … --with …`` with ``--central``: the comparison of two sites of
every kiosk synced to the central PostgreSQL equals the one made on a single database holding
every submission (the same code path: surveys.stats.comparison over another StatsStore).
Kept apart from tests/test_comparisons.py so that it runs without PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from kiosk.cli import main
from surveys.stats.comparison import compare_statistics, parse_filter_string
from tests.test_central_stats import SURVEY, City, city  # noqa: F401 (city: a fixture)

FIRST, SECOND = "site=九龙街道/新华社区 to=2026-10-25", "site=九龙街道/东风社区"


def test_compare_with_central_equals_the_union(city: City, tmp_path: Path):  # noqa: F811
    local = ["--db", str(tmp_path / "staff.db"), "--config", str(tmp_path / "none.toml")]
    result = CliRunner().invoke(main, [*local, "stats", SURVEY, "--central", city.dsn,
                                       "--compare", FIRST, "--with", SECOND, "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    expected = compare_statistics(city.union, SURVEY,
                                  parse_filter_string(FIRST, "--compare"),
                                  parse_filter_string(SECOND, "--with"))
    assert shown == json.loads(json.dumps(expected, ensure_ascii=False))
    assert shown["a"]["n"] > 0 and shown["b"]["n"] > 0 and shown["overlap"] == 0
    overlapping = CliRunner().invoke(main, [*local, "stats", SURVEY, "--central", city.dsn,
                                            "--compare", "site=九龙街道/新华社区",
                                            "--with", "kiosk=hall-1", "--json"])
    assert overlapping.exit_code == 0, overlapping.output
    assert json.loads(overlapping.output)["overlap"] > 0
    bad = CliRunner().invoke(main, [*local, "stats", SURVEY, "--central", city.dsn,
                                    "--compare", "group=child", "--with", SECOND])
    assert bad.exit_code == 2 and "--compare: --where group=child" in bad.output

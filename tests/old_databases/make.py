"""Make tests/old_databases/schema-<v>.sql: a database as the kiosk of schema <v> left it,
written by that kiosk's own code (fill.py run in the source tree of the last commit at that
schema), dumped as SQL text so that a review can read what it holds.

Usage (from the repository, with its .venv):  .venv/bin/python tests/old_databases/make.py [V…]

After a commit that raises SCHEMA_VERSION to N+1, add N with the commit *before* it (the
last one whose kiosk wrote schema N) to KIOSK_OF_SCHEMA and run this for N:
tests/test_migrations.py refuses to pass until every older schema has its database.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPOSITORY = HERE.parents[1]

# Schema version -> the last commit whose kiosk wrote it.
KIOSK_OF_SCHEMA = {
    1: "22cc56312a805bd62eb846ecc9b302dba489fba8",
    2: "5f4418d0b18593f55d3b57b693e4ed4274636fc0",
    3: "7f2c5bc24928b3888c12305141fb6b3c664db2c2",
    4: "29a3bd216483ae165fe78b481391a1c977515b58",
    5: "0eb22f59c837ff4f63b947e1bddae3bdbaf0ce52",
    6: "7a1c7bfe5e7dde4ac388a693964d57b4fba4c442",
    7: "c6fb2351d8f63b30fdd5535fafb867800c39ca90",
    8: "22b3211a0699a73720e921756bff3e73c52b4e77",
    9: "9a8b5c2d23c499c3a7d9f97e7d8b90f93f910a7b",
    10: "29453af2343368c610bba2ccda9b1ee67738f178",
    11: "2b677f4d360fb97e515e92ed38daa32b96afd63e",
}


def dump(database: Path, commit: str) -> str:
    """The database as SQL text that makes it again: tables with their rows, then indexes
    and triggers, then the two PRAGMAs that make it a kiosk database of its schema."""
    connection = sqlite3.connect(database)
    try:
        application_id = connection.execute("PRAGMA application_id").fetchone()[0]
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        lines = [f"-- A kiosk database of schema {version}, written by the kiosk of commit",
                 f"-- {commit} (tests/old_databases/make.py).",
                 *connection.iterdump(),
                 f"PRAGMA application_id={application_id};",
                 f"PRAGMA user_version={version};"]
    finally:
        connection.close()
    return "\n".join(lines) + "\n"


def old_kiosk(version: int, folder: Path) -> dict[str, str]:
    """The source of the kiosk of schema ``version`` unpacked in ``folder`` (from this
    repository's history); the environment that runs it with the current Python."""
    tree = folder / f"kiosk-schema-{version}"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(REPOSITORY), "archive",
                              KIOSK_OF_SCHEMA[version]], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    # The older kiosks read the machine's clock in its own zone: a station's.
    return {**os.environ, "PYTHONPATH": str(tree), "TZ": "Asia/Shanghai"}


def make(version: int) -> Path:
    commit = KIOSK_OF_SCHEMA[version]
    with tempfile.TemporaryDirectory() as scratch:
        environment = old_kiosk(version, Path(scratch))
        database = Path(scratch) / "kiosk.db"
        subprocess.run([sys.executable, str(HERE / "fill.py"), str(database)], check=True,
                       cwd=scratch, env=environment)
        target = HERE / f"schema-{version}.sql"
        target.write_text(dump(database, commit), encoding="utf-8")
    return target


def main(arguments: list[str]) -> None:
    for version in [int(argument) for argument in arguments] or sorted(KIOSK_OF_SCHEMA):
        print(make(version))


if __name__ == "__main__":
    main(sys.argv[1:])

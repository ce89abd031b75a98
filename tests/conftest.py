"""Shared fixtures: real SQLite files in a temp dir, forms compiled from real XLSForms."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from store import KioskStore, open_store
from surveys.clock import CHINA, set_station_zone
from surveys.form import Form
from surveys.xlsform import load_xlsform
from tests.pg_server import PostgresUnavailable, ThrowawayPostgres

FORMS = Path(__file__).parent / "forms"


@pytest.fixture(autouse=True)
def station_clock() -> Iterator[None]:
    """Every test starts on the default station clock (China time) and leaves it so: a test
    that runs a station in another zone must not move the next test's clock."""
    set_station_zone(CHINA)
    yield
    set_station_zone(CHINA)


@pytest.fixture
def basics_form() -> Form:
    """A small form with every supported kind of rule (see tests/forms/basics.md)."""
    return load_xlsform(FORMS / "basics.md")


@pytest.fixture
def store(tmp_path: Path) -> KioskStore:
    """A new kiosk database with the bundled questionnaires installed."""
    opened = open_store(tmp_path / "kiosk.db")
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def postgres() -> Iterator[ThrowawayPostgres]:
    """One throwaway PostgreSQL for the whole session (tests/pg_server.py; a fresh database
    per test through ``central``), skipped where the server binaries are missing."""
    try:
        server = ThrowawayPostgres()
    except PostgresUnavailable as error:
        pytest.skip(str(error))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def central(postgres: ThrowawayPostgres) -> str:
    """The DSN of a new, empty database."""
    return postgres.create_database(f"central_{uuid.uuid4().hex[:12]}")

"""Shared fixtures: real SQLite files in a temp dir, forms compiled from real XLSForms."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.database import open_store
from store import KioskStore
from surveys.form import Form
from surveys.xlsform import load_xlsform

FORMS = Path(__file__).parent / "forms"


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

"""The installed package carries its data: the bundled forms and the screens' stylesheet."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_wheel_ships_bundled_forms_and_stylesheet(tmp_path: Path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True,
    )
    [wheel] = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for form in (ROOT / "surveys" / "forms").glob("*.xlsx"):
        assert f"surveys/forms/{form.name}" in names
    assert "kiosk/app.tcss" in names
    assert "kiosk/cli/__init__.py" in names and "store/sqlite/kiosk_store.py" in names
    assert "store/central/push.py" in names and "printers/__init__.py" in names

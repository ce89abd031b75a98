"""Dependencies point downward: surveys/ knows no UI or serial port, printers/ no surveys."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def modules_loaded_by(package: str) -> set[str]:
    """Import every module of a package in a fresh interpreter; list top-level packages."""
    names = [package] + [
        f"{package}.{info.name}" for info in pkgutil.iter_modules([str(ROOT / package)])
    ]
    code = (
        "import importlib, json, sys\n"
        f"for name in {names!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=ROOT)
    return set(json.loads(result.stdout))


@pytest.mark.parametrize(("package", "forbidden"), [
    ("surveys", {"textual", "serial", "kiosk", "store", "printers"}),
    ("printers", {"surveys", "textual", "kiosk", "store"}),
    ("store", {"textual", "serial", "kiosk", "printers"}),
])
def test_package_does_not_import_upper_layers(package: str, forbidden: set[str]):
    assert modules_loaded_by(package) & forbidden == set()


def test_starting_the_kiosk_does_not_load_the_form_compiler():
    """pyxform and elementpath are needed to import a form, not to run compiled ones; the
    printer stack (pyserial, Pillow) is set up after the home screen is drawn."""
    code = ("import json, sys, kiosk.cli, kiosk.app; "
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=ROOT)
    loaded = set(json.loads(result.stdout))
    assert {"pyxform", "elementpath", "printers", "serial", "PIL", "psycopg"} & loaded == set()

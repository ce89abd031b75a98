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


def test_screens_reach_the_app_only_through_its_small_protocol(store):
    """Screens and widgets use the app only as kiosk/screens/host.py describes it, and the
    app provides every member of that description."""
    import ast

    from kiosk.app import KioskApp
    from kiosk.screens.host import KioskHost

    described = {name for name in dir(KioskHost) if not name.startswith("_")}
    described |= set(KioskHost.__annotations__)  # the attributes
    used: set[str] = set()
    for path in [*(ROOT / "kiosk" / "screens").glob("*.py"),
                 *(ROOT / "kiosk" / "widgets").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
                    and node.value.attr == "kiosk" and isinstance(node.value.value, ast.Name)
                    and node.value.value.id == "self"):
                used.add(node.attr)
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id == "kiosk"):
                used.add(node.attr)
    assert used <= described, sorted(used - described)
    app = KioskApp(store, kiosk_id="hall-1")
    assert [name for name in described if not hasattr(app, name)] == []



def run_import_contracts(root: Path) -> subprocess.CompletedProcess[str]:
    lint = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(lint), "--config", str(root / "pyproject.toml"), "--no-cache"],
                          capture_output=True, text=True, cwd=root,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)})


def test_the_import_contracts_hold_and_catch_a_violation(tmp_path: Path):
    """The contracts of pyproject.toml (run by ./scripts/test) hold for the tree, and break
    when a copy of it has surveys/ import the store or a kiosk module import Textual."""
    import shutil

    kept = run_import_contracts(ROOT)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    for package in ("kiosk", "surveys", "store", "printers"):
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    with (tmp_path / "surveys" / "form.py").open("a", encoding="utf-8") as module:
        module.write("\nfrom store.rows import FormInfo  # noqa\n")
    with (tmp_path / "kiosk" / "config.py").open("a", encoding="utf-8") as module:
        module.write("\nimport textual  # noqa\n")
    broken = run_import_contracts(tmp_path)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "surveys.form -> store.rows" in broken.stdout
    assert "kiosk.config -> textual" in broken.stdout
    assert "Contracts: 5 kept, 2 broken." in broken.stdout

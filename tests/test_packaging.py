"""The installed package carries its data (the bundled forms, the screens' stylesheets), installs
from the lock files into a fresh venv and runs outside the repository; the lock files pin
every dependency pyproject.toml names."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).parents[1]
PACKAGES = ("kiosk", "surveys", "store", "printers")
# Which lock file holds which part of pyproject.toml's dependencies (scripts/lock.sh).
LOCKS = {"base": (), "test": ("test",), "bench": ("test", "bench")}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(folder), str(ROOT)],
        check=True, capture_output=True,
    )
    [built] = folder.glob("*.whl")
    return built


def test_wheel_ships_bundled_forms_and_stylesheet(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    for form in (ROOT / "surveys" / "forms").glob("*.xlsx"):
        assert f"surveys/forms/{form.name}" in names
    assert "kiosk/app.tcss" in names
    assert "kiosk/cli/__init__.py" in names and "store/sqlite/kiosk_store.py" in names
    assert "store/central/push.py" in names and "printers/__init__.py" in names


def test_wheel_ships_every_file_of_the_packages(wheel: Path):
    # A data file added later (a template, a stylesheet, a form) is read from beside its
    # module at run time: a wheel without it breaks only on the kiosk, so none may be missing.
    tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files", *PACKAGES], check=True,
                             capture_output=True, text=True).stdout.split()
    assert "kiosk/app.tcss" in tracked
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [name for name in tracked if name not in names]
    assert not missing, f"pyproject.toml's package-data leaves out {missing}"


def test_the_wheel_installs_from_the_lock_into_a_fresh_venv_and_runs_outside_the_tree(
        wheel: Path, tmp_path: Path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    started = time.monotonic()
    for arguments in (["--require-hashes", "-r", str(ROOT / "requirements" / "base.txt")],
                      ["--no-deps", str(wheel)]):
        installed = subprocess.run([str(python), "-m", "pip", "install", "-q", *arguments],
                                   capture_output=True, text=True)
        assert installed.returncode == 0, installed.stdout + installed.stderr
    took = time.monotonic() - started
    print(f"install from the lock and the wheel: {took:.1f} s")  # shown with -s; no assertion

    away = tmp_path / "elsewhere"  # no repository here, nothing of it on the path
    away.mkdir()
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("PYTHONPATH", "KIOSK_DB", "KIOSK_CONFIG", "KIOSK_ID")}
    environment |= {"HOME": str(away), "XDG_DATA_HOME": str(away / "data"),
                    "XDG_CONFIG_HOME": str(away / "config"), "COLUMNS": "200"}
    listed = subprocess.run([str(venv / "bin" / "kiosk"), "survey", "list"], cwd=away,
                            env=environment, capture_output=True, text=True, timeout=300)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    for form in (ROOT / "surveys" / "forms").glob("*.xlsx"):
        assert re.search(rf"^\W*{form.stem}\b", listed.stdout, re.MULTILINE), listed.stdout
    assert "社区服务满意度调查" in listed.stdout
    assert (away / "data" / "shegong-kiosk" / "kiosk.db").exists()  # the default database

    # Everything is read from the venv: the modules, and the data files beside them are the
    # tree's own.
    where = subprocess.run(
        [str(python), "-c", "import kiosk.app, surveys.bundled;"
         " print(kiosk.app.__file__); print(surveys.bundled.FORMS_DIR)"],
        cwd=away, env=environment, capture_output=True, text=True)
    assert where.returncode == 0, where.stderr
    app, forms = map(Path, where.stdout.split())
    for path in (app, forms):
        assert path.is_relative_to(venv) and not path.is_relative_to(ROOT), path
    installed = app.parents[1]  # site-packages
    for name in tracked_data_files():
        assert (installed / name).read_bytes() == (ROOT / name).read_bytes(), name


def tracked_data_files() -> list[str]:
    """The files of the packages in git that are not Python: stylesheets, forms …"""
    tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files", *PACKAGES], check=True,
                             capture_output=True, text=True).stdout.split()
    return [name for name in tracked if not name.endswith(".py")]


def pins(lock: Path) -> dict[str, str]:
    """name -> version of each ``name==version`` with at least one hash in a lock file."""
    text = lock.read_text(encoding="utf-8")
    found = {}
    for match in re.finditer(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)((?:\s*\\\n\s+--hash=\S+)*)",
                             text, re.MULTILINE):
        assert match.group(3), f"{lock.name}: {match.group(1)} has no hash"
        found[canonicalize_name(match.group(1))] = match.group(2)
    return found


def lock_problems(pyproject: dict, locks: dict[str, dict[str, str]]) -> list[str]:
    """What makes the lock files disagree with pyproject.toml: a dependency not pinned, or
    pinned to a version its range does not allow; the kiosk's own packages pinned to other
    versions in the test or bench lock than in the base one."""
    problems = []
    project = pyproject["project"]
    for name, extras in LOCKS.items():
        wanted = list(project["dependencies"])
        for extra in extras:
            wanted += project["optional-dependencies"][extra]
        for line in wanted:
            requirement = Requirement(line)
            pinned = locks[name].get(canonicalize_name(requirement.name))
            if pinned is None:
                problems.append(f"{name}.txt: {requirement.name} is not pinned")
            elif not requirement.specifier.contains(pinned, prereleases=True):
                problems.append(f"{name}.txt: {requirement.name}=={pinned} is outside"
                                f" {requirement.specifier}")
        for package, version in locks["base"].items():
            if locks[name].get(package) != version:
                problems.append(f"{name}.txt: {package} is {locks[name].get(package)},"
                                f" base.txt has {version}")
    return problems


def test_the_lock_files_pin_every_dependency_of_pyproject():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    locks = {name: pins(ROOT / "requirements" / f"{name}.txt") for name in LOCKS}
    assert "setuptools" in locks["base"]  # the build back-end: setup.sh builds without isolation
    problems = lock_problems(pyproject, locks)
    assert not problems, "run scripts/lock.sh: " + "; ".join(problems)

    # And the check sees a drift: a new dependency, a narrowed range, a test pin that moved.
    drifted = {"project": {**pyproject["project"], "dependencies": [
        *pyproject["project"]["dependencies"], "humanize>=4"]}}
    drifted["project"]["dependencies"][0] = "textual==0.1.0"
    moved = {**locks, "test": {**locks["test"], "mdurl": "0.0.1"}}
    assert lock_problems(drifted, moved) == [
        f"{name}.txt: {problem}" for name in LOCKS for problem in (
            [f"textual=={locks['base']['textual']} is outside ==0.1.0",
             "humanize is not pinned"]
            + ([f"mdurl is 0.0.1, base.txt has {locks['base']['mdurl']}"] if name == "test"
               else []))]

"""The questionnaires that ship with the kiosk (``surveys/forms/*.xlsx``)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from surveys.xlsform import compile_xlsform

FORMS_DIR = Path(__file__).parent / "forms"
# The order the home screen offers them in (the visits that follow a household after its
# assessment come after it).
BUNDLED_ORDER = ("satisfaction", "service_request", "marriage_reform", "home_adaptation",
                 "home_adaptation_followup", "lonely_elderly_visit")


def bundled_paths() -> list[Path]:
    """The bundled XLSForm files, in home-screen order."""
    paths = {path.stem: path for path in FORMS_DIR.glob("*.xlsx")}
    ordered = [paths.pop(name) for name in BUNDLED_ORDER if name in paths]
    return ordered + [paths[name] for name in sorted(paths)]


@cache
def _compiled(path: Path, mtime_ns: int) -> dict[str, Any]:
    return compile_xlsform(path)


def compiled_bundled_forms() -> list[dict[str, Any]]:
    """Compiled bundled forms (compiled once per process: pyxform is slow)."""
    return [_compiled(path, path.stat().st_mtime_ns) for path in bundled_paths()]

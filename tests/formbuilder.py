"""Write small XLSForms in every format pyxform reads (.xlsx, .xls, .csv, .md) for tests."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

Sheet = Sequence[Sequence[str]]  # header row first

SETTINGS: Sheet = [
    ["form_title", "form_title::English (en)", "form_id", "version", "default_language"],
    ["测试问卷", "Test form", "probe", "1", "中文 (zh)"],
]


def write_form(path: Path, survey: Sheet, choices: Sheet | None = None,
               settings: Sheet | None = SETTINGS, *, entities: Sheet | None = None) -> Path:
    sheets = {"survey": survey}
    if choices:
        sheets["choices"] = choices
    if settings:
        sheets["settings"] = settings
    if entities:
        sheets["entities"] = entities
    suffix = path.suffix
    if suffix == ".xlsx":
        from openpyxl import Workbook

        book = Workbook()
        book.remove(book.active)
        for name, rows in sheets.items():
            sheet = book.create_sheet(name)
            for row in rows:
                sheet.append(list(row))
        book.save(path)
    elif suffix == ".xls":
        import xlwt

        book = xlwt.Workbook(encoding="utf-8")
        for name, rows in sheets.items():
            sheet = book.add_sheet(name)
            for row_number, row in enumerate(rows):
                for column, value in enumerate(row):
                    sheet.write(row_number, column, value)
        book.save(str(path))
    elif suffix == ".csv":
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            for name, rows in sheets.items():
                writer.writerow([name])
                for row in rows:
                    writer.writerow(["", *row])
    elif suffix == ".md":
        lines = []
        for name, rows in sheets.items():
            lines.append(f"| {name} |")
            lines.extend("| | " + " | ".join(row) + " |" for row in rows)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    else:
        raise ValueError(suffix)
    return path

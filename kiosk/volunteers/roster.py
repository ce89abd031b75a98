"""The roster: volunteers added one by one or from a CSV/XLSX file (every bad row reported by
its number), suspended, reactivated, given a new card; phones and ID numbers masked unless
asked for."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.cards.payload import normalise_number, valid_number
from store import KioskStore
from store.errors import VolunteerError
from store.rows import Volunteer
from surveys.clock import now_local
from surveys.session import REFUSED_IN_LINE

MOBILE = re.compile(r"1[3-9]\d{9}")


ID_CARD = re.compile(r"\d{17}[\dX]")


ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


ID_CHECK = "10X98765432"


# ---- the roster --------------------------------------------------------------------------------

# Column headers a roster file may use (after dropping spaces, '*' and bracketed notes).
ROSTER_HEADERS: dict[str, tuple[str, ...]] = {
    "number": ("编号", "志愿者编号", "志愿者号", "number", "volunteer_number", "volunteerno",
               "no", "no."),
    "name": ("姓名", "name"),
    "phone": ("手机", "手机号", "手机号码", "电话", "联系电话", "phone", "mobile"),
    "id_card": ("身份证号", "身份证", "身份证号码", "id_card", "idcard", "id_number"),
    "team": ("服务队", "队伍", "志愿服务队", "所属服务队", "team"),
    "organisation": ("单位", "工作单位", "所在单位", "organisation", "organization"),
    "joined": ("加入日期", "加入时间", "入队日期", "注册日期", "joined", "joined_date"),
}


REQUIRED_COLUMNS = ("number", "name", "phone")


_HEADER_OF = {alias: key for key, aliases in ROSTER_HEADERS.items() for alias in aliases}


class RosterFileError(ValueError):
    """A roster file that cannot be read at all (the message names the file)."""


@dataclass
class RosterReport:
    """What an import did: the numbers added and each bad row's number and reasons."""

    added: list[str] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    sheet: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"added": len(self.added), "numbers": self.added,
                "rejected": [{"row": row, "error": error} for row, error in self.rejected],
                "ignored_columns": self.ignored_columns}


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFKC", str(value)).strip()


def normalise_phone(value: Any) -> str:
    """A mainland mobile number as 11 digits, or ValueError saying what is wrong.

    Full-width digits, spaces, '-' and a leading +86 / 86 are accepted.
    """
    text = re.sub(r"[\s\-()]", "", _cell_text(value))
    if text.startswith("+86"):
        text = text[3:]
    elif text.startswith("86") and len(text) == 13:
        text = text[2:]
    if not MOBILE.fullmatch(text):
        raise ValueError(f"phone {_cell_text(value)!r} is not a mainland mobile number "
                         "(11 digits starting 13–19)")
    return text


def normalise_id_card(value: Any) -> str:
    """An 18-character resident ID number with a correct check digit ("" when empty)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("ID number is stored as a number, so Excel has lost its last digits; "
                         "format the column as text (文本) and type it again")
    text = re.sub(r"\s", "", _cell_text(value)).upper()
    if not text:
        return ""
    if not ID_CARD.fullmatch(text):
        raise ValueError(f"ID number {text!r} must be 18 characters (17 digits and a digit "
                         "or X)")
    total = sum(int(digit) * weight for digit, weight in zip(text[:17], ID_WEIGHTS,
                                                            strict=True))
    if ID_CHECK[total % 11] != text[17]:
        raise ValueError(f"ID number {text!r} has a wrong check digit (mistyped?)")
    return text


def parse_date(value: Any, *, what: str = "date") -> dt.date | None:
    """2024-03-01, 2024/3/1, 2024.3.1, 2024年3月1日 or a spreadsheet date; None when empty."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = _cell_text(value)
    if not text:
        return None
    match = re.fullmatch(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
                         r"(?:[ T]00:00(?::00)?)?", text)
    if match:
        try:
            return dt.date(*map(int, match.groups()))
        except ValueError:
            pass
    raise ValueError(f"{what} {text!r} is not a date (write it as 2024-03-01)")


def new_volunteer(number: Any, name: Any, phone: Any, *, id_card: Any = "", team: Any = "",
                  organisation: Any = "", joined: Any = None,
                  today: dt.date | None = None) -> Volunteer:
    """A roster entry from what staff typed, or ValueError listing every problem."""
    problems: list[str] = []
    for what, value in (("number", number), ("name", name), ("phone", phone),
                        ("ID number", id_card), ("team", team),
                        ("organisation", organisation)):
        if isinstance(value, str) and REFUSED_IN_LINE.search(value):
            problems.append(f"{what} holds control or line-break characters")
    if problems:
        raise ValueError("; ".join(problems))
    number_text = normalise_number(_cell_text(number))
    if not number_text:
        problems.append("missing volunteer number (编号)")
    elif not valid_number(number_text):
        problems.append(f"volunteer number {number_text!r} must be letters, digits and '-' "
                        "(at most 24, starting with a letter or digit)")
    name_text = _cell_text(name)
    if not name_text:
        problems.append("missing name (姓名)")
    elif len(name_text) > 50:
        problems.append(f"name is longer than 50 characters ({len(name_text)})")
    phone_text = ""
    if not _cell_text(phone):
        problems.append("missing phone (手机)")
    else:
        try:
            phone_text = normalise_phone(phone)
        except ValueError as error:
            problems.append(str(error))
    id_text = ""
    try:
        id_text = normalise_id_card(id_card)
    except ValueError as error:
        problems.append(str(error))
    joined_date = None
    try:
        joined_date = parse_date(joined, what="joined date")
    except ValueError as error:
        problems.append(str(error))
    today = today or now_local().date()
    if joined_date and joined_date > today:
        problems.append(f"joined date {joined_date.isoformat()} is in the future")
    team_text, organisation_text = _cell_text(team), _cell_text(organisation)
    if len(team_text) > 50:
        problems.append(f"team is longer than 50 characters ({len(team_text)})")
    if len(organisation_text) > 100:
        problems.append(f"organisation is longer than 100 characters "
                        f"({len(organisation_text)})")
    if problems:
        raise ValueError("; ".join(problems))
    return Volunteer(number=number_text, name=name_text, phone=phone_text, id_card=id_text,
                     team=team_text, organisation=organisation_text,
                     joined=joined_date or today, status="active", card_serial=1)


def add_volunteer(store: KioskStore, volunteer: Volunteer) -> Volunteer:
    """Put one volunteer on the roster (VolunteerError if the number is taken)."""
    store.add_volunteers([volunteer])
    return volunteer


def _header_key(header: Any) -> str:
    text = _cell_text(header).lower()
    text = re.sub(r"[(（\[【].*?[)）\]】]", "", text)
    return re.sub(r"[\s*:：]", "", text)


def _read_rows(path: Path) -> tuple[str, list[tuple[int, list[Any]]]]:
    """(sheet name or "", [(row number as the spreadsheet shows it, cells)])."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:  # Excel on Chinese Windows saves "CSV" in GB18030/GBK
                text = raw.decode("gb18030")
            except UnicodeDecodeError:
                raise RosterFileError(f"{path}: not a UTF-8 (or GBK) text file") from None
        # A file object, not splitlines(): that splits at U+2028 and other separators too
        # inside a cell, and every later row number would be off.
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            return "", [(index, row) for index, row in enumerate(reader, start=1)]
        except csv.Error as error:
            raise RosterFileError(f"{path}: not a readable CSV file ({error})") from None
    if suffix in (".xlsx", ".xlsm"):
        import openpyxl
        from openpyxl.utils.exceptions import InvalidFileException

        try:
            book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except (InvalidFileException, OSError, KeyError, ValueError) as error:
            raise RosterFileError(f"{path}: cannot read the workbook ({error})") from None
        try:
            for sheet in book.worksheets:
                rows = [(index, list(row)) for index, row in
                        enumerate(sheet.iter_rows(values_only=True), start=1)]
                if _find_header(rows) is not None:
                    return sheet.title, rows
            first = book.worksheets[0]
            return first.title, [(index, list(row)) for index, row in
                                 enumerate(first.iter_rows(values_only=True), start=1)]
        finally:
            book.close()
    raise RosterFileError(f"{path}: a roster must be a .csv or .xlsx file")


def _find_header(rows: list[tuple[int, list[Any]]]) -> int | None:
    """The index of the header row: the first of the first ten naming number and name."""
    for position, (_row, cells) in enumerate(rows[:10]):
        keys = {_HEADER_OF.get(_header_key(cell)) for cell in cells}
        if {"number", "name"} <= keys:
            return position
    return None


def import_roster(store: KioskStore, path: Path, *, today: dt.date | None = None
                  ) -> RosterReport:
    """Import a roster file: good rows are added (in one transaction), bad rows reported
    by their row number with every reason. Headers in Chinese or English (see
    ``ROSTER_HEADERS``); a title line above the headers is skipped. A number that repeats
    in the file is kept on its first row and reported on the later ones."""
    sheet, rows = _read_rows(path)
    header_at = _find_header(rows)
    where = f"{path}" + (f", sheet '{sheet}'" if sheet else "")
    if header_at is None:
        raise RosterFileError(
            f"{where}: no header row naming the columns; the first row should read e.g. "
            "编号, 姓名, 手机, 身份证号, 服务队, 单位, 加入日期 (or number, name, phone, id_card, "
            "team, organisation, joined)")
    header_row, headers = rows[header_at]
    columns: dict[str, int] = {}
    report = RosterReport(sheet=sheet)
    for index, header in enumerate(headers):
        key = _HEADER_OF.get(_header_key(header))
        if key is None:
            if _cell_text(header):
                report.ignored_columns.append(_cell_text(header))
            continue
        if key in columns:
            raise RosterFileError(f"{where}, row {header_row}: two columns for {key} "
                                  f"({_cell_text(headers[columns[key]])!r} and "
                                  f"{_cell_text(header)!r})")
        columns[key] = index
    missing = [key for key in REQUIRED_COLUMNS if key not in columns]
    if missing:
        names = {key: ROSTER_HEADERS[key][0] for key in missing}
        raise RosterFileError(f"{where}, row {header_row}: no column for "
                              + ", ".join(f"{key} ({names[key]})" for key in missing))
    candidates: list[tuple[int, Volunteer]] = []
    first_row: dict[str, int] = {}
    for row_number, cells in rows[header_at + 1:]:
        if not any(_cell_text(cell) for cell in cells):
            continue  # blank line
        bad = [index for index, cell in enumerate(cells)
               if isinstance(cell, str) and REFUSED_IN_LINE.search(cell)]
        if bad:
            names = ", ".join(repr(_cell_text(headers[index]) if index < len(headers)
                                   else f"column {index + 1}") for index in bad)
            report.rejected.append((row_number, f"control or line-break characters in {names}"
                                                " (a NUL, a tab, a line separator …)"))
            continue

        def cell(key: str, cells: list[Any] = cells) -> Any:
            index = columns.get(key)
            return cells[index] if index is not None and index < len(cells) else None

        number = normalise_number(_cell_text(cell("number")))
        if number and number in first_row:
            report.rejected.append((row_number, f"volunteer number {number} appears again "
                                                f"(first on row {first_row[number]})"))
            continue
        if number:
            first_row[number] = row_number
        try:
            volunteer = new_volunteer(number, cell("name"), cell("phone"),
                                      id_card=cell("id_card"), team=cell("team"),
                                      organisation=cell("organisation"), joined=cell("joined"),
                                      today=today)
        except ValueError as error:
            report.rejected.append((row_number, str(error)))
            continue
        candidates.append((row_number, volunteer))
    with store.transaction():
        taken = store.existing_volunteer_numbers(volunteer.number for _, volunteer in candidates)
        good = []
        for row_number, volunteer in candidates:
            if volunteer.number in taken:
                report.rejected.append((row_number, f"volunteer number {volunteer.number} is "
                                                    "already on the roster"))
            else:
                good.append(volunteer)
        if good:
            store.add_volunteers(good)
    report.added = [volunteer.number for volunteer in good]
    report.rejected.sort()
    return report


def mask_phone(phone: str) -> str:
    """139****5678."""
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 8 else "*" * len(phone)


def mask_id_card(id_card: str) -> str:
    """3201**********0012."""
    return f"{id_card[:4]}{'*' * (len(id_card) - 8)}{id_card[-4:]}" if len(id_card) > 8 else (
        "*" * len(id_card))


def volunteer_record(volunteer: Volunteer, *, include_pii: bool = False) -> dict[str, Any]:
    """A roster entry as JSON; phone and ID number masked unless ``include_pii``."""
    return {
        "number": volunteer.number, "name": volunteer.name,
        "phone": volunteer.phone if include_pii else mask_phone(volunteer.phone),
        "id_card": volunteer.id_card if include_pii else mask_id_card(volunteer.id_card),
        "team": volunteer.team, "organisation": volunteer.organisation,
        "joined": volunteer.joined.isoformat() if volunteer.joined else None,
        "status": volunteer.status, "card_serial": volunteer.card_serial,
    }


def find_volunteer(store: KioskStore, number: str) -> Volunteer:
    volunteer = store.volunteer(normalise_number(number))
    if volunteer is None:
        raise VolunteerError(f"there is no volunteer {normalise_number(number)} on the roster")
    return volunteer


def set_status(store: KioskStore, number: str, status: str) -> Volunteer:
    """Suspend (cards refused) or reactivate a volunteer; logged in the staff log."""
    volunteer = store.set_volunteer_status(find_volunteer(store, number).number, status)
    store.log_staff_event(f"volunteer_{'suspended' if status == 'suspended' else 'activated'}",
                          volunteer.number)
    return volunteer


def reissue_card(store: KioskStore, number: str) -> Volunteer:
    """A new card: the serial goes up, so the old card is refused from now on."""
    volunteer = store.bump_card_serial(find_volunteer(store, number).number)
    store.log_staff_event("volunteer_card_reissued",
                          f"{volunteer.number} serial {volunteer.card_serial}")
    return volunteer

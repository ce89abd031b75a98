"""The hours report: a summary per volunteer and every session with the fields of a volunteer
service record (《志愿服务记录与证明出具办法》), corrections beside the recorded times, as CSV
or XLSX; and a session as JSON."""

from __future__ import annotations

import csv
import datetime as dt
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from kiosk.config import VolunteerSettings
from kiosk.i18n import state_word
from kiosk.volunteers.hours import SHORT_SESSION, SessionHours, VolunteerRecords, sessions_between
from store.rows import SessionCorrection, Volunteer
from surveys.exports.columns import XlsxCells, csv_cell

# ---- the hours report -------------------------------------------------------------------------







@dataclass(frozen=True)
class SummaryRow:
    volunteer: Volunteer
    sessions: int  # credited
    hours: Decimal
    review: int  # closed at day end, not reviewed yet
    short: int


@dataclass
class HoursReport:
    """Service hours of a period: a row per volunteer and every session (see the module's
    rules for what counts)."""

    station: str
    start: dt.date | None
    end: dt.date | None
    team: str | None
    sessions: list[SessionHours]
    volunteers: dict[str, Volunteer]
    made_at: dt.datetime
    # Kiosk id -> its station, when sessions come from several (the central database).
    station_of: dict[str, str] = field(default_factory=dict)

    def summary(self) -> list[SummaryRow]:
        rows: dict[str, list[SessionHours]] = {}
        for item in self.sessions:
            rows.setdefault(item.number, []).append(item)
        return [SummaryRow(
            volunteer=self.volunteers[number],
            sessions=sum(1 for item in items if item.state == "credited"),
            hours=sum((item.hours for item in items), Decimal("0.00")),
            review=sum(1 for item in items if item.state == "review"),
            short=sum(1 for item in items if SHORT_SESSION in item.flags
                      and item.state == "credited"))
            for number, items in sorted(rows.items())]

    @property
    def total_hours(self) -> Decimal:
        return sum((item.hours for item in self.sessions), Decimal("0.00"))

    def period_text(self) -> str:
        start = self.start.isoformat() if self.start else "最早"
        end = self.end.isoformat() if self.end else "至今"
        return f"{start} 至 {end}"


def hours_report(store: VolunteerRecords, settings: VolunteerSettings, *, station: str,
                 start: dt.date | None = None, end: dt.date | None = None,
                 team: str | None = None, now: dt.datetime | None = None,
                 station_of: dict[str, str] | None = None) -> HoursReport:
    """Collect the sessions of ``start`` … ``end`` (days of check-in, inclusive)."""
    sessions = sessions_between(store, settings, start=start, end=end, team=team)
    numbers = {item.number for item in sessions}
    volunteers = {volunteer.number: volunteer
                  for volunteer in store.volunteers(numbers=numbers)}
    for number in numbers - volunteers.keys():  # central: a roster not sent (yet)
        volunteers[number] = Volunteer(number=number, name="（名册中没有）", phone="",
                                       id_card="", team="", organisation="", joined=None,
                                       status="active", card_serial=0)
    return HoursReport(station, start, end, team, sessions, volunteers,
                       (now or dt.datetime.now(settings.zone)).astimezone(settings.zone),
                       station_of or {})


def flags_text(flags: tuple[str, ...], language: str) -> str:
    """A session's flags in words: 时长过短、日终自动签退."""
    return "、".join(state_word("session_flag", flag, language) for flag in flags)


def central_hours_report(dsn: str, settings: VolunteerSettings, *, station: str,
                         start: dt.date | None = None, end: dt.date | None = None,
                         team: str | None = None) -> HoursReport:
    """The hours report over every kiosk's sessions in the central database at ``dsn``
    (记录单位: the station of the kiosk that recorded each session)."""
    from store.central.connection import connect
    from store.central.schema import installation
    from store.central.volunteers import CentralVolunteers

    connection = connect(dsn, application_name="kiosk volunteer hours")
    try:
        installation(connection, dsn)  # the schema must be there, and of this version
        records = CentralVolunteers(connection)
        return hours_report(records, settings, station=station, start=start, end=end,
                            team=team, station_of=records.stations())
    finally:
        connection.close()


def _when(moment: dt.datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else ""


def _hours_cell(hours: Decimal | None) -> str:
    return "" if hours is None else f"{hours:.2f}"


def correction_text(correction: SessionCorrection, zone: dt.tzinfo) -> str:
    """2026-11-24 10:05 王社工 更正 签退→17:30：忘记签退."""
    made = dt.datetime.fromtimestamp(correction.at_epoch, zone)
    changes = []
    if correction.checked_in_epoch is not None:
        changes.append(
            f"签到→{_when(dt.datetime.fromtimestamp(correction.checked_in_epoch, zone))}")
    if correction.checked_out_epoch is not None:
        changes.append(
            f"签退→{_when(dt.datetime.fromtimestamp(correction.checked_out_epoch, zone))}")
    words = " ".join([state_word("correction", correction.action, "zh"), *changes])
    return f"{_when(made)} {correction.staff} {words}：{correction.reason}"


SUMMARY_HEADERS = ("志愿者编号", "姓名", "服务队", "单位", "服务次数", "服务时长(小时)",
                   "待核实次数", "过短次数")


DETAIL_HEADERS = ("记录号", "志愿者编号", "姓名", "服务队", "单位", "服务内容", "服务日期",
                  "签到", "签退", "时长(小时)", "更正后签到", "更正后签退", "计入时长(小时)",
                  "状态", "标记", "更正记录", "记录单位", "终端")


PII_HEADERS = ("手机", "身份证号")


def summary_table(report: HoursReport, *, include_pii: bool = False
                  ) -> tuple[list[str], list[list[Any]]]:
    """The summary's header and rows (hours as Decimal), with a 合计 row at the end."""
    headers = list(SUMMARY_HEADERS)
    if include_pii:
        headers[2:2] = PII_HEADERS
    rows: list[list[Any]] = []
    summary = report.summary()
    for row in summary:
        volunteer = row.volunteer
        cells: list[Any] = [volunteer.number, volunteer.name, volunteer.team,
                            volunteer.organisation, row.sessions, row.hours, row.review,
                            row.short]
        if include_pii:
            cells[2:2] = [volunteer.phone, volunteer.id_card]
        rows.append(cells)
    total: list[Any] = ["合计", f"{len(summary)} 人", "", "",
                        sum(row.sessions for row in summary), report.total_hours,
                        sum(row.review for row in summary), sum(row.short for row in summary)]
    if include_pii:
        total[2:2] = ["", ""]
    rows.append(total)
    return headers, rows


def detail_table(report: HoursReport, *, zone: dt.tzinfo, include_pii: bool = False
                 ) -> tuple[list[str], list[list[Any]]]:
    """The detailed listing: one row per session, corrections beside the recorded times."""
    headers = list(DETAIL_HEADERS)
    if include_pii:
        headers[3:3] = PII_HEADERS
    rows: list[list[Any]] = []
    for item in report.sessions:
        volunteer = report.volunteers[item.number]
        changed_in = item.checked_in != item.recorded_in
        changed_out = item.checked_out != item.recorded_out
        cells: list[Any] = [
            item.id, volunteer.number, volunteer.name, volunteer.team, volunteer.organisation,
            item.session.service, item.day.isoformat(), _when(item.recorded_in),
            _when(item.recorded_out), item.recorded_hours,
            _when(item.checked_in) if changed_in else "",
            _when(item.checked_out) if changed_out else "",
            item.hours, state_word("session_state", item.state, "zh"),
            flags_text(item.flags, "zh"),
            "；".join(correction_text(correction, zone) for correction in item.corrections),
            report.station_of.get(item.session.kiosk, report.station), item.session.kiosk]
        if include_pii:
            cells[3:3] = [volunteer.phone, volunteer.id_card]
        rows.append(cells)
    return headers, rows


def _csv_value(value: Any) -> Any:
    """Hours to two places; text a spreadsheet would take for a formula escaped (names,
    teams and organisations come from a roster file anyone may have typed)."""
    return _hours_cell(value) if isinstance(value, Decimal) else csv_cell(value)


def write_hours_csv(report: HoursReport, path: Path, *, zone: dt.tzinfo,
                    include_pii: bool = False) -> None:
    """One CSV (UTF-8 with BOM, for Excel and WPS) with two blocks: the summary, a blank
    line, then the detailed listing; each block starts with a title line and its header."""
    scope = f"服务队：{report.team}" if report.team else "服务队：全部"
    summary_headers, summary_rows = summary_table(report, include_pii=include_pii)
    detail_headers, detail_rows = detail_table(report, zone=zone, include_pii=include_pii)
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(map(csv_cell, ["志愿服务时长汇总", report.station, report.period_text(),
                                       scope]))
        writer.writerow(summary_headers)
        writer.writerows([_csv_value(value) for value in row] for row in summary_rows)
        writer.writerow([])
        writer.writerow(map(csv_cell, ["志愿服务记录明细", report.station, report.period_text(),
                                       scope]))
        writer.writerow(detail_headers)
        writer.writerows([_csv_value(value) for value in row] for row in detail_rows)


def write_hours_xlsx(report: HoursReport, path: Path, *, zone: dt.tzinfo,
                     include_pii: bool = False) -> None:
    """A workbook with the sheets 汇总 (summary), 明细 (every session) and 说明 (about)."""
    import openpyxl
    from openpyxl.styles import Font

    book = openpyxl.Workbook()
    cells = XlsxCells("zh")
    tables = [("汇总", summary_table(report, include_pii=include_pii)),
              ("明细", detail_table(report, zone=zone, include_pii=include_pii))]
    for index, (title, (headers, rows)) in enumerate(tables):
        sheet = book.active if index == 0 else book.create_sheet()
        sheet.title = title
        sheet.append(headers)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append([float(value) if isinstance(value, Decimal) else
                          cells(value) if isinstance(value, str) else value
                          for value in row])
            for cell, value in zip(sheet[sheet.max_row], row, strict=True):
                if isinstance(value, Decimal):
                    cell.number_format = "0.00"
                elif isinstance(value, str):
                    cell.data_type = "s"  # text, never a formula (a name may start with =)
        sheet.freeze_panes = "A2"
        for column, header in enumerate(headers, start=1):
            width = max([_display_width(header)] + [_display_width(row[column - 1])
                                                     for row in rows[:200]])
            sheet.column_dimensions[openpyxl.utils.get_column_letter(column)].width = min(
                max(width + 2, 8), 60)
    about = book.create_sheet("说明")
    for row in (("站点", report.station), ("时段", report.period_text()),
                ("服务队", report.team or "全部"), ("生成时间", _when(report.made_at)),
                ("计时", "每次服务按签到至签退计，四舍五入到 0.01 小时；合计为各次之和"),
                ("归属", "跨午夜或跨月的服务计入签到当天和当月"),
                ("待核实", "到日终仍未签退的服务在日终自动签退，工作人员核实前不计时长"),
                ("更正", "原始签到签退记录不修改；工作人员的更正另行记录，列在原记录旁")):
        about.append([cells(value) for value in row])
        for cell in about[about.max_row]:
            cell.data_type = "s"
    about.column_dimensions["A"].width = 10
    about.column_dimensions["B"].width = 70
    book.save(path)


def _display_width(value: Any) -> int:
    text = _hours_cell(value) if isinstance(value, Decimal) else str(value or "")
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def write_hours_report(report: HoursReport, path: Path, file_format: str, *,
                       zone: dt.tzinfo, include_pii: bool = False) -> None:
    """Write the report as ``csv`` or ``xlsx``."""
    if file_format == "csv":
        write_hours_csv(report, path, zone=zone, include_pii=include_pii)
    elif file_format == "xlsx":
        write_hours_xlsx(report, path, zone=zone, include_pii=include_pii)
    else:
        raise ValueError(f"format must be csv or xlsx (got {file_format!r})")


def session_record(item: SessionHours, volunteer: Volunteer | None) -> dict[str, Any]:
    """A session as JSON for ``kiosk volunteer sessions --json``."""
    return {
        "id": item.id, "number": item.number, "name": volunteer.name if volunteer else "",
        "day": item.day.isoformat(), "checked_in": item.session.checked_in,
        "checked_out": item.session.checked_out, "closed_by": item.session.closed_by,
        "corrected_in": item.checked_in.isoformat(timespec="seconds")
        if item.checked_in != item.recorded_in else None,
        "corrected_out": item.checked_out.isoformat(timespec="seconds")
        if item.checked_out and item.checked_out != item.recorded_out else None,
        "hours": float(item.hours), "state": item.state, "flags": list(item.flags),
        "corrections": [{"action": correction.action, "staff": correction.staff,
                         "reason": correction.reason, "at": correction.at}
                        for correction in item.corrections],
    }

"""Volunteers: roster import, check-in and out with a fixed clock in Asia/Shanghai, day-end
closing, refused cards, staff corrections and the hours report (CSV and XLSX)."""

from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from kiosk.cards.payload import make_payload
from kiosk.config import VolunteerSettings
from kiosk.volunteers.corrections import correct_session
from kiosk.volunteers.desk import ScanResult, VolunteerDesk
from kiosk.volunteers.hours import (
    CLOSED_AT_DAY_END,
    LAST_NOT_CHECKED_OUT,
    SHORT_SESSION,
    hours_between,
    month_hours,
    sessions_between,
)
from kiosk.volunteers.report import hours_report, write_hours_report
from kiosk.volunteers.roster import import_roster, new_volunteer, reissue_card, set_status
from store import KioskStore
from store.errors import VolunteerError
from store.rows import Volunteer

SHANGHAI = ZoneInfo("Asia/Shanghai")
SECRET = b"s" * 32
SETTINGS = VolunteerSettings()  # 15 min, day end 21:00, 60 s, Asia/Shanghai
TODAY = dt.date(2026, 11, 23)


def at(month: int, day: int, hour: int, minute: int = 0, second: int = 0,
       year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def set(self, moment: dt.datetime) -> None:
        self.now = moment

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def volunteer(number: str, name: str, team: str = "心语志愿服务队",
              phone: str = "13912345678") -> Volunteer:
    return new_volunteer(number, name, phone, team=team, organisation="新华社区",
                         joined="2024-03-01", today=TODAY)


@pytest.fixture
def store(tmp_path: Path) -> KioskStore:
    opened = KioskStore(tmp_path / "kiosk.db")
    opened.add_volunteers([volunteer("JG0001", "陈晓燕"),
                           volunteer("JG0002", "王建国", team="五老志愿服务队",
                                     phone="13800001111"),
                           volunteer("JG0003", "李梅", team="助残志愿服务队",
                                     phone="15900002222")])
    yield opened
    opened.close()


@pytest.fixture
def clock() -> Clock:
    return Clock(at(11, 23, 9, 0))


@pytest.fixture
def desk(store: KioskStore, clock: Clock) -> VolunteerDesk:
    return VolunteerDesk(store, SECRET, kiosk="hall-1", settings=SETTINGS, clock=clock)


def card(number: str, serial: int = 1) -> str:
    return make_payload(number, serial, SECRET)


def visit(desk: VolunteerDesk, clock: Clock, number: str, start: dt.datetime,
          end: dt.datetime) -> ScanResult:
    """Check in at ``start`` and out at ``end``; the check-out's result."""
    clock.set(start)
    assert desk.scan(card(number)).outcome == "checked_in"
    clock.set(end)
    result = desk.scan(card(number))
    assert result.outcome == "checked_out", result
    return result


# ---- checking in and out -----------------------------------------------------------------


def test_check_in_repeat_check_out_with_hours_and_month_total(store, desk, clock):
    visit(desk, clock, "JG0001", at(11, 2, 14, 0), at(11, 2, 15, 15))  # 1.25 h in November
    visit(desk, clock, "JG0001", at(10, 31, 9, 0), at(10, 31, 12, 0))  # October: not counted

    clock.set(at(11, 23, 9, 0, 12))
    checked_in = desk.scan(card("JG0001"))
    assert checked_in.outcome == "checked_in"
    assert checked_in.volunteer.name == "陈晓燕"
    assert checked_in.checked_in_at == at(11, 23, 9, 0, 12)
    assert checked_in.checked_in_at.utcoffset() == dt.timedelta(hours=8)
    assert checked_in.message() == "陈晓燕，您好！签到成功，签到时间 09:00。"
    assert "Hello, 陈晓燕" in checked_in.message("en") and "09:00" in checked_in.message("en")

    clock.advance(seconds=40)
    repeat = desk.scan(card("JG0001"))
    assert repeat.outcome == "repeat" and repeat.checked_in_at == at(11, 23, 9, 0, 12)
    assert "刚刚已经扫过了" in repeat.message() and "09:00 签到" in repeat.message()
    assert len(store.volunteer_sessions(number="JG0001")) == 3  # nothing recorded

    clock.set(at(11, 23, 11, 30, 12))
    out = desk.scan(card("JG0001"))
    assert out.outcome == "checked_out"
    assert (out.checked_in_at, out.checked_out_at) == (at(11, 23, 9, 0, 12),
                                                       at(11, 23, 11, 30, 12))
    assert out.hours == 2.5
    assert out.month_hours == 3.75  # 1.25 + 2.5; October's 3 h are another month
    assert out.flags == ()
    assert out.message().splitlines() == [
        "陈晓燕，签退成功！", "签退时间 11:30", "本次服务 2.5 小时", "本月累计 3.75 小时",
        "感谢您的付出！"]

    clock.advance(seconds=59)
    again = desk.scan(card("JG0001"))
    assert again.outcome == "repeat" and again.checked_out_at == at(11, 23, 11, 30, 12)
    assert "刚刚已经扫过了" in again.message() and "11:30 签退" in again.message()
    clock.advance(seconds=2)  # past the 60 s: a new session begins
    assert desk.scan(card("JG0001")).outcome == "checked_in"


def test_check_out_queues_the_slip_when_asked(store, desk, clock):
    printing = VolunteerDesk(store, SECRET, kiosk="hall-1", settings=SETTINGS, clock=clock,
                             station="九龙街道社工站", footer="服务电话 0512-5868 0000",
                             print_slips=True)
    out = visit(printing, clock, "JG0002", at(11, 23, 8, 30), at(11, 23, 12, 0))
    job = store.print_job(out.slip_job)
    assert job is not None and job.kind == "slip" and job.state == "queued"
    text = " ".join(str(part) for part in job.document)
    for words in ("九龙街道社工站", "王建国", "五老志愿服务队", "3.5 小时",
                  "服务电话 0512-5868 0000"):
        assert words in text, words
    assert "13800001111" not in text  # no personal data on a slip that leaves the hall
    # By default the caller prints (the kiosk app queues the slip on its own queue).
    assert visit(desk, clock, "JG0002", at(11, 24, 9, 0), at(11, 24, 10, 0)).slip_job is None
    assert len(store.print_jobs()) == 1


def test_short_session_is_flagged_and_still_counted(store, desk, clock):
    out = visit(desk, clock, "JG0003", at(11, 23, 10, 0), at(11, 23, 10, 10))
    assert out.flags == (SHORT_SESSION,)
    assert out.hours == 0.17  # 10 min = 0.1667 h, rounded to 0.01 h
    assert "时间较短" in out.message() and "short" in out.message("en")
    [item] = sessions_between(store, SETTINGS, number="JG0003")
    assert item.state == "credited" and item.flags == (SHORT_SESSION,)
    exactly = visit(desk, clock, "JG0003", at(11, 23, 14, 0), at(11, 23, 14, 15))
    assert exactly.flags == ()  # 15 minutes is not shorter than the minimum


def test_session_open_at_day_end_is_closed_there_for_review(store, desk, clock):
    clock.set(at(11, 23, 14, 0))
    desk.scan(card("JG0001"))
    clock.set(at(11, 23, 20, 59))
    assert desk.close_stale_sessions() == []
    clock.set(at(11, 23, 21, 30))
    [closed] = desk.close_stale_sessions()
    assert closed.closed_by == "day_end"
    assert closed.checked_out == "2026-11-23T21:00:00+08:00"  # at day end, not at 21:30
    assert CLOSED_AT_DAY_END in closed.flags
    [item] = sessions_between(store, SETTINGS, number="JG0001")
    assert item.state == "review" and item.hours == 0  # not credited until staff review
    assert month_hours(store, SETTINGS, "JG0001", TODAY) == 0

    clock.set(at(11, 24, 8, 30))
    morning = desk.scan(card("JG0001"))
    assert morning.outcome == "checked_in"  # not a check-out of yesterday's session
    assert morning.flags == (LAST_NOT_CHECKED_OUT,)
    assert "上次服务没有签退" in morning.message()


def test_scan_closes_forgotten_sessions_first(store, desk, clock):
    clock.set(at(11, 23, 16, 0))
    desk.scan(card("JG0001"))
    desk.scan(card("JG0002"))
    clock.set(at(11, 25, 9, 0))  # the kiosk was off; the next scan is someone else's
    assert desk.scan(card("JG0003")).outcome == "checked_in"
    sessions = {item.number: item for item in sessions_between(store, SETTINGS)}
    for number in ("JG0001", "JG0002"):
        assert sessions[number].state == "review"
        assert sessions[number].session.checked_out == "2026-11-23T21:00:00+08:00"
    assert sessions["JG0003"].state == "open"


def test_session_begun_after_day_end_runs_across_midnight(store, desk, clock):
    out = visit(desk, clock, "JG0002", at(11, 23, 22, 0), at(11, 24, 1, 30))  # night duty
    assert out.hours == 3.5
    [item] = sessions_between(store, SETTINGS, number="JG0002")
    assert item.day == dt.date(2026, 11, 23)  # counted on the day of its check-in
    assert sessions_between(store, SETTINGS, start=dt.date(2026, 11, 24)) == []
    # Left open, it would be closed at the next day end: 21:00 on the 24th.
    clock.set(at(11, 24, 22, 0))
    desk.scan(card("JG0003"))
    clock.set(at(11, 25, 21, 0))
    [closed] = desk.close_stale_sessions()
    assert closed.checked_out == "2026-11-25T21:00:00+08:00"


def test_session_across_a_month_end_counts_in_the_month_of_check_in(store, desk, clock):
    visit(desk, clock, "JG0001", at(11, 30, 9, 0), at(11, 30, 12, 0))
    out = visit(desk, clock, "JG0001", at(11, 30, 22, 30), at(12, 1, 0, 45))
    assert out.hours == 2.25
    assert out.month_hours == 5.25  # November's total: the session began in November
    assert month_hours(store, SETTINGS, "JG0001", dt.date(2026, 11, 15)) == Decimal("5.25")
    assert month_hours(store, SETTINGS, "JG0001", dt.date(2026, 12, 1)) == 0
    december = visit(desk, clock, "JG0001", at(12, 1, 9, 0), at(12, 1, 10, 0))
    assert december.month_hours == 1.0
    november = hours_report(store, SETTINGS, station="站", start=dt.date(2026, 11, 1),
                            end=dt.date(2026, 11, 30))
    assert november.total_hours == Decimal("5.25")
    # Midnight in Shanghai is 16:00 UTC: a clock in UTC gives the same answers.
    utc_clock = Clock(at(12, 31, 23, 0).astimezone(dt.UTC))
    utc_desk = VolunteerDesk(store, SECRET, kiosk="hall-2", settings=SETTINGS, clock=utc_clock)
    assert utc_desk.scan(card("JG0003")).checked_in_at == at(12, 31, 23, 0)
    utc_clock.set(at(1, 1, 1, 0, year=2027).astimezone(dt.UTC))
    new_year = utc_desk.scan(card("JG0003"))
    assert new_year.checked_out_at.tzinfo == SHANGHAI
    assert (new_year.hours, new_year.month_hours) == (2.0, 2.0)
    assert month_hours(store, SETTINGS, "JG0003", dt.date(2027, 1, 1)) == 0


def test_two_kiosks_on_one_database_do_not_check_in_twice(tmp_path, store, desk, clock):
    other_store = KioskStore(store.path)
    try:
        other = VolunteerDesk(other_store, SECRET, kiosk="tablet-1", settings=SETTINGS,
                              clock=clock)
        assert desk.scan(card("JG0001")).outcome == "checked_in"
        clock.advance(seconds=5)
        assert other.scan(card("JG0001")).outcome == "repeat"
        clock.advance(hours=2)
        assert other.scan(card("JG0001")).outcome == "checked_out"
    finally:
        other_store.close()


def test_hours_round_half_up_to_a_hundredth():
    start = at(11, 23, 9, 0)
    assert hours_between(start, start + dt.timedelta(seconds=18)) == Decimal("0.01")  # 0.005
    assert hours_between(start, start + dt.timedelta(seconds=17)) == Decimal("0.00")
    assert hours_between(start, start + dt.timedelta(minutes=20)) == Decimal("0.33")
    assert hours_between(start, start + dt.timedelta(minutes=40)) == Decimal("0.67")


# ---- refused cards ----------------------------------------------------------------------------


def test_tampered_and_foreign_payloads_are_refused_with_the_right_reason(store, desk, clock):
    good = card("JG0001")
    mac = good.rsplit(".", 1)[1]
    flipped = ("A" if mac[0] != "A" else "B") + mac[1:]
    cases = {
        "changed number": (good.replace("JG0001", "JG0002"), "tampered", "无法识别"),
        "changed serial": (good.replace(".1.", ".2."), "tampered", "无法识别"),
        "bad MAC": (good.rsplit(".", 1)[0] + "." + flipped, "tampered", "无法识别"),
        "another station": (make_payload("JG0001", 1, b"x" * 32), "tampered", "无法识别"),
        "random text": ("https://weixin.qq.com/r/abc", "not_a_card", "不是志愿者卡"),
        "empty": ("", "not_a_card", "不是志愿者卡"),
        "control characters": ("V1.\x00JG0001\x1b[2J", "not_a_card", "不是志愿者卡"),
        "very long": ("V1." + "9" * 100_000, "not_a_card", "不是志愿者卡"),
        "emoji": ("V1.志愿者🙂.1.AAAAAAAAAAAAAAAA", "not_a_card", "不是志愿者卡"),
        "not on the roster": (card("JG9999"), "unknown_volunteer", "请找工作人员登记"),
    }
    for name, (text, reason, words) in cases.items():
        result = desk.scan(text)
        assert (result.outcome, result.reason) == ("refused", reason), name
        assert words in result.message(), name
        assert result.message("en"), name
        assert desk.identify(text).reason == reason, name
    assert store.volunteer_sessions() == []  # nothing was recorded


def test_old_card_after_reissue_and_suspended_volunteer_are_refused(store, desk, clock):
    old = card("JG0001", 1)
    assert reissue_card(store, "jg0001").card_serial == 2
    refused = desk.scan(old)
    assert (refused.outcome, refused.reason) == ("refused", "old_card")
    assert "作废" in refused.message() and "replaced" in refused.message("en")
    assert desk.scan(card("JG0001", 2)).outcome == "checked_in"

    set_status(store, "JG0002", "suspended")
    suspended = desk.scan(card("JG0002"))
    assert (suspended.outcome, suspended.reason) == ("refused", "suspended")
    assert suspended.message() == "王建国，您的志愿者服务已暂停，请找工作人员。"
    assert desk.identify(card("JG0002")).outcome == "refused"
    set_status(store, "JG0002", "active")
    assert desk.identify(card("JG0002")).outcome == "identified"
    assert desk.identify(card("JG0002")).message() == "王建国，您好！身份已确认。"
    assert [event["event"] for event in store.staff_events()] == [
        "volunteer_card_reissued", "volunteer_suspended", "volunteer_activated"]


def test_field_mode_identify_records_nothing(store, desk):
    result = desk.identify(card("JG0003"))
    assert (result.outcome, result.volunteer.name) == ("identified", "李梅")
    assert store.volunteer_sessions() == []


# ---- the roster -------------------------------------------------------------------------------


ROSTER_CSV = """九龙街道志愿者名册（2026年）
编号,姓名,手机号码（必填）,身份证号,服务队,单位,加入日期,备注
JG0101,赵敏,139 1234 5670,110101199003071233,心语志愿服务队,新华社区,2024/3/1,
,无编号,13912345671,,心语志愿服务队,新华社区,2024-03-01,
JG0102,钱伟,+86 138-0000-1234,,五老志愿服务队,退休教师,2023年5月9日,组长

JG0101,赵敏重复,13912345672,,心语志愿服务队,新华社区,,
JG0001,已在名册,13912345673,,心语志愿服务队,新华社区,,
JG0103,孙丽,1234567,,助残志愿服务队,新华社区,,
JG0104,周强,13912345674,,义诊志愿服务队,社区医院,2024-13-01,
JG0105,吴芳,１５９００００３３３３,,,,,
JG0106,,13912345675,11010119900307123X,,,,
"""


def test_roster_csv_import_reports_bad_rows_by_number_and_keeps_the_rest(store, tmp_path):
    path = tmp_path / "名册.csv"
    path.write_bytes(ROSTER_CSV.encode("utf-8-sig"))
    report = import_roster(store, path, today=TODAY)
    assert report.added == ["JG0101", "JG0102", "JG0105"]
    rejected = dict(report.rejected)
    assert sorted(rejected) == [4, 7, 8, 9, 10, 12]
    assert "missing volunteer number" in rejected[4]
    assert "JG0101 appears again (first on row 3)" in rejected[7]
    assert "JG0001 is already on the roster" in rejected[8]
    assert "phone '1234567' is not a mainland mobile number" in rejected[9]
    assert "joined date '2024-13-01' is not a date" in rejected[10]
    assert "missing name" in rejected[12] and "wrong check digit" in rejected[12]
    assert report.ignored_columns == ["备注"]
    zhao = store.volunteer("JG0101")
    assert (zhao.phone, zhao.id_card, zhao.joined) == ("13912345670", "110101199003071233",
                                                       dt.date(2024, 3, 1))
    qian = store.volunteer("JG0102")
    assert (qian.phone, qian.team, qian.joined) == ("13800001234", "五老志愿服务队",
                                                    dt.date(2023, 5, 9))
    wu = store.volunteer("JG0105")
    assert (wu.phone, wu.team, wu.joined, wu.card_serial) == ("15900003333", "", TODAY, 1)
    assert store.volunteer("JG0001").name == "陈晓燕"  # the existing entry is untouched
    # Importing the same file again adds nothing and says why, row by row.
    again = import_roster(store, path, today=TODAY)
    assert again.added == []
    assert "JG0101 is already on the roster" in dict(again.rejected)[3]


def test_roster_xlsx_with_english_headers(store, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "roster"
    sheet.append(["Number", "Name", "Phone", "ID_card", "Team", "Organisation", "Joined"])
    sheet.append(["jg0201", "Li Lei", 13912340000, None, "双拥志愿服务队", "军休所",
                  dt.datetime(2025, 1, 6)])
    sheet.append(["JG0202", "Han Meimei", "13912340001", 110101199003071233, "", "", None])
    sheet.append(["JG 0203", "Bad Number", "13912340002", None, None, None, None])
    sheet.append([None, None, None, None, None, None, None])
    sheet.append(["JG0204", "Wang Fang", "13912340003", None, None, None, "yesterday"])
    path = tmp_path / "roster.xlsx"
    book.save(path)
    report = import_roster(store, path, today=TODAY)
    assert report.added == ["JG0201"]
    rejected = dict(report.rejected)
    assert sorted(rejected) == [3, 4, 6]
    assert "stored as a number" in rejected[3]
    assert "volunteer number 'JG 0203'" in rejected[4]
    assert "joined date 'yesterday'" in rejected[6]
    li = store.volunteer("JG0201")
    assert (li.phone, li.joined, li.team) == ("13912340000", dt.date(2025, 1, 6), "双拥志愿服务队")


def test_roster_file_without_the_needed_columns_is_refused_whole(store, tmp_path):
    from kiosk.volunteers.roster import RosterFileError

    path = tmp_path / "names.csv"
    path.write_text("编号,姓名\nJG0301,张三\n", encoding="utf-8")
    with pytest.raises(RosterFileError, match=r"names.csv, row 1: no column for phone \(手机\)"):
        import_roster(store, path)
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(RosterFileError, match="no header row"):
        import_roster(store, path)
    assert store.volunteer("JG0301") is None


def test_gbk_csv_from_excel_is_read(store, tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("编号,姓名,手机\r\nJG0401,欧阳娜娜,13912349999\r\n".encode("gbk"))
    assert import_roster(store, path).added == ["JG0401"]
    assert store.volunteer("JG0401").name == "欧阳娜娜"


# ---- corrections and the report ----------------------------------------------------------


def make_month(store, desk, clock) -> dict[str, int]:
    """A November with ordinary, short, forgotten and corrected sessions; the ids by name."""
    ids = {}
    ids["plain"] = visit(desk, clock, "JG0001", at(11, 2, 9, 0), at(11, 2, 11, 30)).session_id
    ids["short"] = visit(desk, clock, "JG0001", at(11, 9, 9, 0), at(11, 9, 9, 5)).session_id
    ids["night"] = visit(desk, clock, "JG0002", at(11, 30, 22, 0),
                         at(12, 1, 0, 20)).session_id
    clock.set(at(11, 10, 14, 0))
    ids["forgot"] = desk.scan(card("JG0002")).session_id
    clock.set(at(11, 12, 9, 0))
    ids["review"] = desk.scan(card("JG0003")).session_id  # left open: closed at 21:00
    ids["wrong"] = visit(desk, clock, "JG0003", at(11, 20, 13, 0), at(11, 20, 16, 0)).session_id
    ids["void"] = visit(desk, clock, "JG0003", at(11, 21, 13, 0), at(11, 21, 13, 20)).session_id
    ids["december"] = visit(desk, clock, "JG0001", at(12, 2, 9, 0), at(12, 2, 10, 0)).session_id
    staff = {"staff": "王社工", "now": at(12, 3, 10, 0), "kiosk": "office"}
    correct_session(store, SETTINGS, ids["forgot"], checked_out="17:30",
                    reason="忘记签退，实际17:30离开", **staff)
    correct_session(store, SETTINGS, ids["wrong"], checked_in="13:30", checked_out="15:45",
                    reason="签到时间有误", **staff)
    correct_session(store, SETTINGS, ids["void"], void=True, reason="误扫", **staff)
    return ids


def test_corrections_stand_beside_the_original(store, desk, clock):
    ids = make_month(store, desk, clock)
    sessions = {item.id: item for item in sessions_between(store, SETTINGS)}
    forgot = sessions[ids["forgot"]]
    assert forgot.state == "credited" and forgot.hours == Decimal("3.50")
    assert forgot.session.checked_out == "2026-11-10T21:00:00+08:00"  # the original stays
    assert forgot.session.closed_by == "day_end"
    assert forgot.checked_out == at(11, 10, 17, 30)
    assert [c.reason for c in forgot.corrections] == ["忘记签退，实际17:30离开"]
    wrong = sessions[ids["wrong"]]
    assert (wrong.recorded_hours, wrong.hours) == (Decimal("3.00"), Decimal("2.25"))
    assert sessions[ids["void"]].state == "void" and sessions[ids["void"]].hours == 0
    assert sessions[ids["review"]].state == "review"
    # A review can also confirm the day-end time as it was recorded.
    confirmed = correct_session(store, SETTINGS, ids["review"], confirm=True,
                                reason="活动持续到闭馆", staff="李站长", now=at(12, 3, 11, 0))
    assert confirmed.state == "credited" and confirmed.hours == Decimal("12.00")


@pytest.mark.parametrize(("options", "words"), [
    ({"checked_out": "08:00"}, "is not after check-in"),
    ({"checked_out": "01:00"}, "for a session past midnight give the date"),
    ({"checked_out": "2026-11-04 10:00"}, "longer than 24 hours"),
    ({"checked_in": "2026-11-05 09:00", "checked_out": "2026-11-05 11:00"},
     "more than a day from the recorded"),
    ({"checked_out": "25:99"}, "not a valid date and time"),
    ({"checked_out": "soon"}, "must be HH:MM or YYYY-MM-DD HH:MM"),
    ({}, "give new times (--in and/or --out), --confirm or --void"),
    ({"void": True, "confirm": True}, "give only one of --void, --confirm"),
    ({"void": True, "reason": " "}, "give the reason"),
    ({"void": True, "staff": ""}, "give the name of the staff member"),
])
def test_bad_corrections_are_refused(store, desk, clock, options, words):
    session_id = visit(desk, clock, "JG0001", at(11, 3, 9, 0), at(11, 3, 11, 0)).session_id
    arguments = {"reason": "更正", "staff": "王社工", **options}
    with pytest.raises(VolunteerError) as raised:
        correct_session(store, SETTINGS, session_id, **arguments)
    assert words in str(raised.value)
    assert store.volunteer_session(session_id).corrections == ()


def test_open_or_missing_session_cannot_be_corrected(store, desk, clock):
    session_id = desk.scan(card("JG0001")).session_id
    with pytest.raises(VolunteerError, match="still open"):
        correct_session(store, SETTINGS, session_id, checked_out="11:00", reason="x",
                        staff="y")
    with pytest.raises(VolunteerError, match="no session 999"):
        correct_session(store, SETTINGS, 999, void=True, reason="x", staff="y")


def independent_totals(store) -> dict[str, tuple[int, Decimal]]:
    """November's credited sessions and hours per volunteer, straight from the tables."""
    totals: dict[str, tuple[int, Decimal]] = {}
    start = at(11, 1, 0).timestamp()
    end = at(12, 1, 0).timestamp()
    rows = store.conn.execute(
        "SELECT c.id, c.number, c.at_epoch, o.at_epoch, o.closed_by FROM volunteer_checkins c"
        " JOIN volunteer_checkouts o ON o.session_id = c.id").fetchall()
    for session_id, number, checked_in, checked_out, closed_by in rows:
        corrections = store.conn.execute(
            "SELECT action, checked_in_epoch, checked_out_epoch FROM volunteer_corrections"
            " WHERE session_id=? ORDER BY id", (session_id,)).fetchall()
        if corrections and corrections[-1][0] == "void":
            continue
        if closed_by == "day_end" and not corrections:
            continue
        for _action, new_in, new_out in corrections:
            checked_in = new_in or checked_in
            checked_out = new_out or checked_out
        if not start <= checked_in < end:
            continue
        hours = (Decimal(round(checked_out - checked_in)) / 3600).quantize(Decimal("0.01"))
        count, total = totals.get(number, (0, Decimal(0)))
        totals[number] = (count + 1, total + hours)
    return totals


def read_csv_report(path: Path) -> tuple[list[list[str]], list[list[str]]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    blank = rows.index([])
    return rows[:blank], rows[blank + 1:]


def test_hours_report_csv(store, desk, clock, tmp_path):
    ids = make_month(store, desk, clock)
    report = hours_report(store, SETTINGS, station="九龙街道社工站", start=dt.date(2026, 11, 1),
                          end=dt.date(2026, 11, 30), now=at(12, 3, 12, 0))
    path = tmp_path / "hours.csv"
    write_hours_report(report, path, "csv", zone=SHANGHAI)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM, for Excel and WPS
    summary, details = read_csv_report(path)
    assert summary[0][:3] == ["志愿服务时长汇总", "九龙街道社工站", "2026-11-01 至 2026-11-30"]
    header, *rows, total = summary[1:]
    assert header[:6] == ["志愿者编号", "姓名", "服务队", "单位", "服务次数", "服务时长(小时)"]
    expected = independent_totals(store)
    assert {row[0]: (int(row[4]), Decimal(row[5])) for row in rows} == expected
    assert total[0] == "合计"
    assert int(total[4]) == sum(count for count, _ in expected.values())
    assert Decimal(total[5]) == sum(hours for _, hours in expected.values())
    assert Decimal(total[5]) == Decimal("2.50") + Decimal("0.08") + Decimal("2.33") + Decimal(
        "3.50") + Decimal("2.25")
    assert {row[0]: row[6] for row in rows}["JG0003"] == "1"  # one session waiting for review
    assert "13912345678" not in path.read_text(encoding="utf-8-sig")  # no PII by default

    assert details[0][0] == "志愿服务记录明细"
    detail_header, *detail_rows = details[1:]
    listing = {int(row[0]): dict(zip(detail_header, row, strict=True)) for row in detail_rows}
    assert ids["december"] not in listing
    for column in ("姓名", "志愿者编号", "服务内容", "单位", "服务日期", "签到", "签退",
                   "时长(小时)", "更正记录"):
        assert column in detail_header
    forgot = listing[ids["forgot"]]
    assert (forgot["签到"], forgot["签退"], forgot["时长(小时)"]) == (
        "2026-11-10 14:00", "2026-11-10 21:00", "7.00")  # as recorded
    assert (forgot["更正后签到"], forgot["更正后签退"], forgot["计入时长(小时)"]) == (
        "", "2026-11-10 17:30", "3.50")  # beside it, the correction
    assert forgot["更正记录"] == ("2026-12-03 10:00 王社工 更正 签退→2026-11-10 17:30："
                                  "忘记签退，实际17:30离开")
    assert forgot["标记"] == "日终自动签退" and forgot["状态"] == "已计入"
    assert forgot["服务内容"] == "社工站志愿服务" and forgot["记录单位"] == "九龙街道社工站"
    wrong = listing[ids["wrong"]]
    assert (wrong["签到"], wrong["更正后签到"], wrong["更正后签退"]) == (
        "2026-11-20 13:00", "2026-11-20 13:30", "2026-11-20 15:45")
    voided = listing[ids["void"]]
    assert (voided["状态"], voided["计入时长(小时)"], voided["时长(小时)"]) == (
        "已作废", "0.00", "0.33")
    assert listing[ids["review"]]["状态"] == "待核实"
    assert listing[ids["short"]]["标记"] == "时长过短"
    night = listing[ids["night"]]
    assert (night["服务日期"], night["签退"], night["时长(小时)"]) == (
        "2026-11-30", "2026-12-01 00:20", "2.33")
    assert sum(Decimal(row["计入时长(小时)"]) for row in listing.values()) == Decimal(total[5])


def test_hours_report_xlsx_with_pii_and_team(store, desk, clock, tmp_path):
    make_month(store, desk, clock)
    report = hours_report(store, SETTINGS, station="九龙街道社工站", start=dt.date(2026, 11, 1),
                          end=dt.date(2026, 11, 30))
    path = tmp_path / "hours.xlsx"
    write_hours_report(report, path, "xlsx", zone=SHANGHAI, include_pii=True)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["汇总", "明细", "说明"]
    header, *rows, total = [list(row) for row in book["汇总"].iter_rows(values_only=True)]
    assert header[:6] == ["志愿者编号", "姓名", "手机", "身份证号", "服务队", "单位"]
    expected = independent_totals(store)
    hours_at = header.index("服务时长(小时)")
    assert {row[0]: (row[header.index("服务次数")], Decimal(str(row[hours_at])))
            for row in rows} == expected
    assert {row[0]: row[2] for row in rows}["JG0001"] == "13912345678"
    assert Decimal(str(total[hours_at])) == sum(hours for _, hours in expected.values())
    detail_header, *detail_rows = list(book["明细"].iter_rows(values_only=True))
    credited = detail_header.index("计入时长(小时)")
    assert round(sum(row[credited] for row in detail_rows), 2) == float(total[hours_at])
    corrections = [row[detail_header.index("更正记录")] for row in detail_rows]
    assert sum(1 for text in corrections if text) == 3

    team = hours_report(store, SETTINGS, station="站", start=dt.date(2026, 11, 1),
                        end=dt.date(2026, 11, 30), team="五老志愿服务队")
    assert {item.number for item in team.sessions} == {"JG0002"}
    assert team.total_hours == expected["JG0002"][1]


def test_one_hours_text_rounds_half_up_on_the_slip_and_in_reports():
    """The slip and the reports write hours with the same rounding as the hours themselves
    (half up to 0.01 h); two versions once disagreed on 2.675."""
    from kiosk.i18n import hours_text
    from kiosk.printing.receipts import checkout_slip

    assert [hours_text(value) for value in (2.675, 2.5, 3.0, Decimal("0.005"))] == [
        "2.68", "2.5", "3", "0.01"]
    slip = checkout_slip(station="九龙街道社工站", name="陈志愿", team="心语志愿服务队",
                         checked_in=at(11, 23, 8, 30), checked_out=at(11, 23, 11, 10),
                         hours=2.675, month_hours=10.0, language="zh", footer="")
    text = json.dumps(slip.to_json(), ensure_ascii=False)
    assert "2.68 小时" in text and "2.67" not in text

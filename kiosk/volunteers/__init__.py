"""Volunteers: the roster (roster.py), check-in and check-out at the kiosk (desk.py), staff
corrections (corrections.py), hours (hours.py) and the hours report (report.py).

The rules, in one place:

- **Cards.** A scan is accepted only when the card's signature matches (``kiosk.cards``),
  its serial is the volunteer's current one (``reissue`` bumps it, so an old card is refused)
  and the volunteer is active.
- **Check-in and out.** A volunteer's first scan checks in, the next checks out. A scan within
  ``repeat_seconds`` of that volunteer's last scan is ignored (刚刚已经扫过了).
- **Day end.** A session still open at the configured ``day_end`` (the first one after its
  check-in, in the configured zone) is closed there, flagged ``closed_at_day_end``, and
  counts no hours until staff review it (``kiosk volunteer correct``): the volunteer forgot
  to check out, and nobody knows when they left.
- **Hours.** A session's hours are its length rounded half-up to 0.01 h (36 s); every total
  (the slip's month, the report) is the sum of those rounded session hours, so the numbers
  on paper add up. A session shorter than ``min_session_minutes`` is flagged
  ``short_session`` and still counted.
- **Days and months.** A session belongs to the day, and the calendar month, of its check-in
  in the configured zone (Asia/Shanghai by default) — also when it runs past midnight or
  past a month's end; it is never split.
- **Corrections.** Check-ins and check-outs are never changed (the database refuses it).
  Staff add corrections beside them, with their name and the reason: new times, a
  confirmation of the recorded times, or void. They apply in order; any correction counts
  as the staff review of a day-end closing. A correction keeps the session within a day of
  its recorded check-in and at most 24 hours long.
"""

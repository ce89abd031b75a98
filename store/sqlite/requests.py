"""Service requests (需求登记) and their handling by staff: 新登记 → 处理中 → 已办结, each
change with its note, kept beside the submission and only ever added to."""

from __future__ import annotations

import json
from typing import Any

from store.errors import StoreError
from store.rows import REQUEST_STATUSES
from store.sqlite.connection import StoreBase
from surveys.clock import format_datetime, from_epoch, now_local


class ServiceRequests(StoreBase):
    """Moving service requests on, and listing them with their latest state."""

    def set_request_status(self, instance_id: str, status: str, *, note: str = "",
                           staff: str, kiosk: str | None = None,
                           at: float | None = None) -> None:
        """A staff member moves a service request on (with the audit entry, together)."""
        if status not in REQUEST_STATUSES:
            raise StoreError(f"request status must be one of {', '.join(REQUEST_STATUSES)}")
        moment = now_local() if at is None else from_epoch(at)
        with self.transaction():
            record = self.submission_record(instance_id)
            if record is None:
                raise StoreError(f"there is no submission {instance_id}")
            instance_id = record["instance_id"]  # as stored
            self.conn.execute(
                "INSERT INTO request_updates(instance_id, status, note, staff, kiosk, at,"
                " at_epoch) VALUES (?,?,?,?,?,?,?)",
                (instance_id, status, note, staff, kiosk, format_datetime(moment),
                 moment.timestamp()))
            self.add_audit("request_status", instance_id, f"{status}: {note}".rstrip(": "),
                           staff=staff, kiosk=kiosk, at=moment.timestamp())

    def request_updates(self, instance_id: str) -> list[dict[str, Any]]:
        record = self.submission_record(instance_id)
        if record is not None:
            instance_id = record["instance_id"]
        rows = self.conn.execute(
            "SELECT status, note, staff, kiosk, at FROM request_updates WHERE instance_id=?"
            " ORDER BY id", (instance_id,)).fetchall()
        return [dict(zip(("status", "note", "staff", "kiosk", "at"), row, strict=True))
                for row in rows]

    def service_requests(self, survey_id: str, *, include_closed: bool = False,
                         limit: int = 200) -> list[dict[str, Any]]:
        """Submissions of a request survey with their latest status (``new`` until staff
        act), open ones first, oldest first within a status."""
        rows = self.conn.execute(
            "SELECT s.instance_id, s.receipt_code, s.completed, s.answers,"
            " coalesce(u.status, 'new'), coalesce(u.note, ''), coalesce(u.staff, ''),"
            " coalesce(u.at, '') FROM submissions s LEFT JOIN request_updates u ON u.id ="
            " (SELECT max(id) FROM request_updates WHERE instance_id = s.instance_id)"
            " WHERE s.survey_id=? AND (? OR coalesce(u.status, 'new') != 'closed')"
            " ORDER BY CASE coalesce(u.status, 'new') WHEN 'new' THEN 0"
            " WHEN 'in_progress' THEN 1 ELSE 2 END, s.completed, s.instance_id LIMIT ?",
            (survey_id, include_closed, limit)).fetchall()
        return [{"instance_id": row[0], "receipt_code": row[1] or "", "completed": row[2] or "",
                 "answers": json.loads(row[3]), "status": row[4], "note": row[5],
                 "staff": row[6], "updated": row[7]} for row in rows]

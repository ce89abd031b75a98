"""The staff log (PIN attempts, exits and other staff events at the kiosk) and the audit
record of staff actions; both only ever added to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from store.sqlite.connection import StoreBase
from surveys.clock import format_datetime, from_epoch, now_local


class StaffLogs(StoreBase):
    """Staff events and the audit record."""

    def log_staff_event(self, event: str, detail: str = "", *, kiosk: str | None = None,
                        at: float | None = None) -> None:
        """Record a staff event (PIN attempt, lockout, exit...); committed at once."""
        moment = now_local() if at is None else from_epoch(at)
        self.conn.execute(
            "INSERT INTO staff_events(at, at_epoch, kiosk, event, detail) VALUES (?,?,?,?,?)",
            (format_datetime(moment), moment.timestamp(), kiosk, event, detail))

    def staff_events(self, *, since: float | None = None,
                     events: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Staff events, oldest first; ``since`` is a Unix time."""
        return self._log_rows("staff_events", ("at", "at_epoch", "kiosk", "event", "detail"),
                              since, "event", events)

    def add_audit(self, action: str, target: str = "", detail: str = "", *, staff: str,
                  kiosk: str | None = None, at: float | None = None) -> None:
        """Record one staff action (export, reprint, correction, status change...)."""
        moment = now_local() if at is None else from_epoch(at)
        self.conn.execute(
            "INSERT INTO audit(at, at_epoch, kiosk, staff, action, target, detail)"
            " VALUES (?,?,?,?,?,?,?)",
            (format_datetime(moment), moment.timestamp(), kiosk, staff, action, target,
             detail))

    def audit_entries(self, *, since: float | None = None,
                      actions: Sequence[str] = ()) -> list[dict[str, Any]]:
        """The audit record, oldest first; ``since`` is a Unix time."""
        return self._log_rows(
            "audit", ("at", "at_epoch", "kiosk", "staff", "action", "target", "detail"),
            since, "action", actions)

    def _log_rows(self, table: str, columns: tuple[str, ...], since: float | None,
                  kind_column: str, kinds: Sequence[str]) -> list[dict[str, Any]]:
        """Rows of a log table as dicts, oldest first: since a Unix time, of some kinds."""
        query = f"SELECT {', '.join(columns)} FROM {table} WHERE 1=1"
        parameters: list[Any] = []
        if since is not None:
            query += " AND at_epoch >= ?"
            parameters.append(since)
        if kinds:
            query += f" AND {kind_column} IN ({', '.join('?' for _ in kinds)})"
            parameters.extend(kinds)
        rows = self.conn.execute(query + " ORDER BY at_epoch, id", parameters).fetchall()
        return [dict(zip(columns, row, strict=True)) for row in rows]

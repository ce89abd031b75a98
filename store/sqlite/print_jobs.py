"""The print queue's rows. The queue's rules (states, back-off, crash recovery) live in
kiosk/printing/queue.py; these are its queries. Every change is committed at once
(synchronous=FULL): a job the kiosk said it saved, or marked as being sent, is on disk before
anything reaches the printer."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from store.errors import PrintJobError
from store.rows import PRINT_JOB_COLUMNS, PrintJob, print_job_from_row
from store.sqlite.connection import StoreBase
from surveys.clock import format_datetime, from_epoch


class PrintJobs(StoreBase):
    """Adding, claiming and finishing print jobs; staff retry, cancel and reprint."""

    def add_print_job(self, kind: str, document: list[dict[str, Any]], *, at: float,
                      source: str = "", title: str = "", kiosk: str | None = None,
                      reprint: bool = False, reprint_of: int | None = None) -> int:
        """Save a new job (state ``queued``, due at once); returns its id."""
        moment = from_epoch(at)
        cursor = self.conn.execute(
            "INSERT INTO print_jobs(created, created_epoch, kiosk, kind, source, title,"
            " document, state, reprint, attempts, next_attempt, reprint_of)"
            " VALUES (?,?,?,?,?,?,?,'queued',?,0,?,?)",
            (format_datetime(moment), at, kiosk, kind, source, title,
             json.dumps(document, ensure_ascii=False, separators=(",", ":")), int(reprint),
             at, reprint_of))
        return int(cursor.lastrowid or 0)

    def print_job(self, job_id: int) -> PrintJob | None:
        row = self.conn.execute(f"SELECT {PRINT_JOB_COLUMNS} FROM print_jobs WHERE id=?",
                                (job_id,)).fetchone()
        return print_job_from_row(row) if row else None

    def print_jobs(self, *, states: Sequence[str] = (), source: str | None = None,
                   limit: int | None = None) -> list[PrintJob]:
        """Jobs, newest first; only those in ``states`` / of ``source`` when given."""
        query = f"SELECT {PRINT_JOB_COLUMNS} FROM print_jobs WHERE 1=1"
        parameters: list[Any] = []
        if states:
            query += f" AND state IN ({', '.join('?' for _ in states)})"
            parameters.extend(states)
        if source is not None:
            query += " AND source=?"
            parameters.append(source)
        query += " ORDER BY id DESC"
        if limit is not None:
            query += " LIMIT ?"
            parameters.append(limit)
        return [print_job_from_row(row) for row in self.conn.execute(query, parameters)]

    def print_job_counts(self) -> dict[str, int]:
        return {row[0]: row[1] for row in self.conn.execute(
            "SELECT state, count(*) FROM print_jobs GROUP BY state")}

    def _oldest_pending_job(self) -> PrintJob | None:
        """The oldest queued or waiting job: the next to print, whenever it is due."""
        row = self.conn.execute(
            f"SELECT {PRINT_JOB_COLUMNS} FROM print_jobs WHERE state IN ('queued', 'waiting')"
            " ORDER BY id LIMIT 1").fetchone()
        return print_job_from_row(row) if row else None

    def due_print_job(self, now: float) -> PrintJob | None:
        """The oldest queued or waiting job, when its time has come. Receipts come out in
        the order they were queued: one queued while older ones wait for their next
        attempt (the printer was not ready) waits behind them, not due at once."""
        job = self._oldest_pending_job()
        return job if job is not None and job.next_attempt <= now else None

    def next_print_attempt(self) -> float | None:
        """When the oldest queued or waiting job is due (None: nothing to print)."""
        job = self._oldest_pending_job()
        return job.next_attempt if job is not None else None

    def claim_print_job(self, job_id: int, worker: str, now: float) -> bool:
        """Mark a due job ``sending`` by ``worker``; False if another worker (or staff)
        changed it first. Committed before the first byte goes to the printer."""
        cursor = self.conn.execute(
            "UPDATE print_jobs SET state='sending', worker=?, sending_since=?,"
            " attempts=attempts+1 WHERE id=? AND state IN ('queued', 'waiting')",
            (worker, now, job_id))
        return cursor.rowcount == 1

    def print_job_done(self, job_id: int, worker: str, now: float, status: str = "",
                       note: str = "") -> None:
        """The last byte went out; ``note`` says e.g. which characters were replaced."""
        moment = from_epoch(now)
        self.conn.execute(
            "UPDATE print_jobs SET state='done', done_at=?, last_status=?, last_error=?"
            " WHERE id=? AND state='sending' AND worker=?",
            (format_datetime(moment), status, note, job_id, worker))

    def print_job_failed(self, job_id: int, worker: str, *, next_attempt: float, status: str,
                         error: str) -> None:
        """A send that did not finish: the job waits for its next attempt."""
        self.conn.execute(
            "UPDATE print_jobs SET state='waiting', next_attempt=?, last_status=?, last_error=?"
            " WHERE id=? AND state='sending' AND worker=?",
            (next_attempt, status, error, job_id, worker))

    def hold_print_jobs(self, until: float, status: str, error: str,
                        attempted: int | None = None) -> int:
        """The printer is not ready: every queued or waiting job waits until ``until``.

        ``attempted`` is the job whose turn it was (its attempts are counted). Returns how
        many jobs wait.
        """
        with self.transaction():
            if attempted is not None:
                self.conn.execute(
                    "UPDATE print_jobs SET attempts=attempts+1 WHERE id=?"
                    " AND state IN ('queued', 'waiting')", (attempted,))
            cursor = self.conn.execute(
                "UPDATE print_jobs SET state='waiting', next_attempt=max(next_attempt, ?),"
                " last_status=?, last_error=? WHERE state IN ('queued', 'waiting')",
                (until, status, error))
            return cursor.rowcount

    def release_print_jobs(self, now: float) -> int:
        """The printer is ready again: waiting jobs are due now (their order is kept)."""
        cursor = self.conn.execute(
            "UPDATE print_jobs SET next_attempt=? WHERE state='waiting' AND next_attempt > ?",
            (now, now))
        return cursor.rowcount

    def requeue_interrupted_print_jobs(self, alive: Callable[[str], bool], now: float,
                                       note: str = "") -> list[int]:
        """Jobs left ``sending`` by a worker that is gone (the kiosk crashed mid-send):
        queued again, marked as reprints. Returns their ids."""
        with self.transaction():
            rows = self.conn.execute(
                "SELECT id, worker FROM print_jobs WHERE state='sending' ORDER BY id"
            ).fetchall()
            requeued = [job_id for job_id, worker in rows if not alive(worker or "")]
            for job_id in requeued:
                self.conn.execute(
                    "UPDATE print_jobs SET state='queued', reprint=1, next_attempt=?,"
                    " worker='', last_error=? WHERE id=? AND state='sending'",
                    (now, note, job_id))
        return requeued

    def retry_print_job(self, job_id: int, now: float) -> PrintJob:
        """Staff: try a waiting (or cancelled) job again now."""
        with self.transaction():
            job = self._print_job_for_staff(job_id)
            if job.state == "done":
                raise PrintJobError(f"print job {job_id} was already printed ({job.done_at}); "
                                    "use reprint for another copy")
            if job.state == "sending":
                raise PrintJobError(f"print job {job_id} is being printed right now")
            self.conn.execute(
                "UPDATE print_jobs SET state='queued', next_attempt=? WHERE id=?",
                (now, job_id))
        return self._print_job_for_staff(job_id)

    def cancel_print_job(self, job_id: int) -> PrintJob:
        """Staff: drop a job that has not been printed."""
        with self.transaction():
            job = self._print_job_for_staff(job_id)
            if job.state == "done":
                raise PrintJobError(f"print job {job_id} was already printed ({job.done_at})")
            if job.state == "sending":
                raise PrintJobError(f"print job {job_id} is being printed right now; "
                                    "it cannot be stopped")
            self.conn.execute("UPDATE print_jobs SET state='cancelled' WHERE id=?", (job_id,))
        return self._print_job_for_staff(job_id)

    def reprint_print_job(self, job_id: int, now: float, kiosk: str | None = None) -> int:
        """Staff: a new copy of a printed job, marked as a reprint; returns the new job's id."""
        with self.transaction():
            job = self._print_job_for_staff(job_id)
            if job.state != "done":
                raise PrintJobError(
                    f"print job {job_id} has not been printed (it is {job.state}); "
                    + ("use retry to print it" if job.state in ("waiting", "queued",
                                                                "cancelled")
                       else "wait until it is done"))
            return self.add_print_job(job.kind, job.document, at=now, source=job.source,
                                      title=job.title, kiosk=kiosk or job.kiosk, reprint=True,
                                      reprint_of=job.id)

    def _print_job_for_staff(self, job_id: int) -> PrintJob:
        job = self.print_job(job_id)
        if job is None:
            raise PrintJobError(f"there is no print job {job_id}")
        return job

"""Nightly backups: one verified copy of the database a night, made by the kiosk itself into
the ``[backup]`` folder, with grandfather-father-son rotation.

Who makes it: every kiosk process (``kiosk run`` at the hall, the ``kiosk serve`` server and
each tablet's ``kiosk run``) runs a ``NightlyBackups`` thread that looks every few minutes.
Exactly one of them makes each night's copy: the attempt runs under an exclusive ``flock``
on ``<database>.nightly.lock`` (taken without waiting; another process holding it is making
the copy), and inside the lock it reads the database's record of the last nightly copy
(meta rows, store/sqlite/backup.py), written before the lock is let go. A lock, not a claim
row like the print queue's: a process killed mid-copy lets go of it by dying, and the next
look makes the copy that was not recorded.

When: at ``[backup] hour`` (2 o'clock station time by default) or at the first look after it
when the kiosk was off then: a copy is due when none was made since the latest such hour
(so a kiosk started in the morning after a night switched off catches up at once).

Rotation, after each copy that was read back whole: of the files this kiosk made
(``nightly-<kiosk id>-<YYYYmmdd-HHMMSS>.db``, its own name, a regular file of this user),
the newest of each of the newest ``daily`` days, ``weekly`` ISO weeks and ``monthly``
months are kept, the others deleted. ``kiosk backup`` copies (``kiosk-…``), other kiosks'
copies and anything else in the folder are never touched, and the newest copy is always kept.

A folder that is not there (the USB stick is not plugged in), cannot be written or fills up
is recorded in the database (shown on the staff menu, ``kiosk backup --nightly``) and
logged, never raised into the kiosk screens, and tried again at the next look.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.config import BackupSettings
from kiosk.i18n import tr, when_text
from store import KioskStore, StoreError
from surveys.clock import format_datetime, local, now_local

log = logging.getLogger("kiosk.backup")
log.addHandler(logging.NullHandler())  # to kiosk.log when the app has it open

PREFIX = "nightly"
STAMP = re.compile(r"(\d{8}-\d{6})(?:-\d{1,2})?\.db")
LOOK_EVERY = 600.0  # seconds between looks: a stick plugged in is used within ten minutes
FIRST_LOOK = 30.0  # after start: the screens come up first


# ---- when ----------------------------------------------------------------------------------


def latest_hour(now: dt.datetime, hour: int) -> dt.datetime:
    """The latest ``hour`` o'clock (station time) at or before ``now``."""
    here = local(now)
    day = here.date() if here.hour >= hour else here.date() - dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(hour), tzinfo=here.tzinfo)


def _moment(stamp: object) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(str(stamp))
    except ValueError:
        return None
    return local(moment)


def is_due(last: dict[str, object] | None, now: dt.datetime, hour: int) -> bool:
    """Is a nightly copy due: none made since the latest ``hour`` o'clock? A copy recorded
    in the future (the clock was wrong, then set right) does not count."""
    made = _moment(last.get("at")) if last else None
    if made is None:
        return True
    return made < latest_hour(now, hour) or made > local(now) + dt.timedelta(hours=1)


# ---- which copies stay ---------------------------------------------------------------------


def nightly_files(folder: Path, kiosk_id: str) -> list[tuple[dt.datetime, Path]]:
    """The copies this kiosk's nightly backups made in ``folder``, newest first: by their
    exact name, regular files (not links) of this user."""
    from kiosk.backup import safe_kiosk_id

    prefix = f"{PREFIX}-{safe_kiosk_id(kiosk_id)}-"
    found = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        match = STAMP.fullmatch(entry.name[len(prefix):])
        if match is None:
            continue
        try:
            if not entry.is_file(follow_symlinks=False) or entry.stat(
                    follow_symlinks=False).st_uid != os.getuid():
                continue
            made = dt.datetime.strptime(match.group(1), "%Y%m%d-%H%M%S")
        except (OSError, ValueError):
            continue
        found.append((made, Path(entry.path)))
    return sorted(found, key=lambda item: (item[0], item[1].name), reverse=True)


def copies_to_keep(made: list[dt.datetime], settings: BackupSettings) -> set[dt.datetime]:
    """Grandfather-father-son: the newest copy of each of the newest ``daily`` days,
    ``weekly`` ISO weeks and ``monthly`` calendar months that have one."""
    keep: set[dt.datetime] = set()
    newest_first = sorted(made, reverse=True)
    periods: tuple[tuple[int, Callable[[dt.datetime], object]], ...] = (
        (settings.daily, lambda moment: moment.date()),
        (settings.weekly, lambda moment: moment.isocalendar()[:2]),
        (settings.monthly, lambda moment: (moment.year, moment.month)),
    )
    for count, period_of in periods:
        seen: set[object] = set()
        for moment in newest_first:
            if len(seen) >= count:
                break
            period = period_of(moment)
            if period not in seen:
                seen.add(period)
                keep.add(moment)
    if newest_first:
        keep.add(newest_first[0])  # whatever the settings: never the only or newest copy
    return keep


def rotate(folder: Path, kiosk_id: str, settings: BackupSettings) -> list[Path]:
    """Delete this kiosk's nightly copies that the rotation does not keep; the deleted."""
    files = nightly_files(folder, kiosk_id)
    keep = copies_to_keep([made for made, _ in files], settings)
    deleted = []
    for made, path in files:
        if made in keep:
            continue
        try:
            path.unlink()
        except OSError as error:
            log.warning("nightly backup: could not delete %s (%s)", path, error)
            continue
        deleted.append(path)
    return deleted


# ---- one attempt ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NightlyResult:
    """What a look at the nightly backup did.

    ``outcome``: ``made`` (a copy, verified, rotation done), ``not_due`` (made already since
    the latest nightly hour), ``busy`` (another process is making it), ``off`` (``[backup]
    nightly = false``), ``failed`` (``problem`` says why: ``missing_folder``,
    ``unwritable``, ``failed``)."""

    outcome: str
    folder: Path
    hour: int = 2
    path: Path | None = None
    problem: str = ""
    detail: str = ""
    last: dict[str, object] | None = None
    deleted: list[Path] = field(default_factory=list)

    def message(self, language: str = "zh") -> str:
        """The result in words, for staff."""
        if self.outcome == "failed":
            return tr(f"backup.problem.{self.problem}", language, folder=self.folder,
                      detail=self.detail)
        if self.outcome == "made":
            return tr("backup.made", language, path=self.path, deleted=len(self.deleted))
        if self.outcome == "not_due":
            last = self.last or {}
            made = _moment(last.get("at"))
            due = latest_hour(now_local(), self.hour) + dt.timedelta(days=1)
            return tr("backup.not_due", language, path=last.get("path", "?"),
                      when=when_text(made, language) if made else "?",
                      next=when_text(due, language))
        return tr(f"backup.{self.outcome}", language)


@contextlib.contextmanager
def nightly_lock(database: Path) -> Iterator[bool]:
    """Hold ``<database>.nightly.lock`` exclusively: True when this process has it, False
    when another one does (nothing waits). The lock goes with the process."""
    path = database.with_name(database.name + ".nightly.lock")
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


def _folder_problem(folder: Path, configured: bool) -> tuple[str, str] | None:
    """Why copies cannot go into ``folder`` now (a configured folder must exist: one not
    there is a stick not plugged in, never made on the kiosk's own disk); None when they can."""
    if not folder.exists():
        if configured:
            return "missing_folder", ""
        try:
            folder.mkdir(mode=0o700, parents=True)
        except OSError as error:
            return "unwritable", error.strerror or str(error)
        return None
    if not folder.is_dir():
        return "unwritable", tr("backup.not_a_folder", "zh")
    if not os.access(folder, os.W_OK | os.X_OK):
        return "unwritable", os.strerror(errno.EACCES)
    return None


def run_nightly(database: Path, kiosk_id: str, settings: BackupSettings, *,
                now: dt.datetime | None = None) -> NightlyResult:
    """Make tonight's copy if it is due and no other process is making it; rotate; record
    the outcome in the database. Never raises for a folder, disk or database problem."""
    folder = settings.folder_for(database)
    if not settings.nightly:
        return NightlyResult("off", folder)
    if not database.exists():
        return NightlyResult("failed", folder, problem="failed",
                             detail=f"{database}: no database")
    moment = local(now or now_local())
    try:
        with nightly_lock(database) as mine:
            if not mine:
                return NightlyResult("busy", folder)
            with KioskStore(database) as store:
                return _attempt(store, kiosk_id, settings, folder, moment)
    except (OSError, StoreError) as error:  # the database or its lock cannot be opened
        log.error("nightly backup: %s", error)
        return NightlyResult("failed", folder, problem="failed", detail=str(error))


def _attempt(store: KioskStore, kiosk_id: str, settings: BackupSettings, folder: Path,
             moment: dt.datetime) -> NightlyResult:
    # The backup code loads when a copy is looked for: kiosk run imports this module
    # before it draws home, and the first look is 30 s later.
    from kiosk.backup import make_backup, safe_kiosk_id
    from store.sqlite.backup import nightly_record, note_nightly

    last = nightly_record(store)["last"]
    if not is_due(last, moment, settings.hour):
        return NightlyResult("not_due", folder, settings.hour, last=last)
    problem = _folder_problem(folder, configured=bool(settings.folder))
    made = None
    if problem is None:
        for leftover in folder.glob(f"{PREFIX}-{safe_kiosk_id(kiosk_id)}-*.db.part"):
            with contextlib.suppress(OSError):
                leftover.unlink()  # a copy cut off by a process killed under this lock
        try:
            made = make_backup(store, kiosk_id, folder, staff="nightly", prefix=PREFIX,
                               moment=moment)
        except OSError as error:
            problem = ("unwritable" if error.errno in (errno.EACCES, errno.EROFS, errno.EPERM)
                       else "failed", error.strerror or str(error))
        except StoreError as error:
            problem = ("failed", str(error))
    if made is None:
        assert problem is not None
        kind, detail = problem
        night = latest_hour(moment, settings.hour).isoformat()
        _note_problem(store, kind, detail, folder, moment, night)
        return NightlyResult("failed", folder, problem=kind, detail=detail, last=last)
    deleted = rotate(folder, kiosk_id, settings)
    record = {"at": format_datetime(moment), "path": str(made.path), "folder": str(folder),
              "size": made.size}
    note_nightly(store, last=record)
    log.info("nightly backup: %s (%d bytes); rotation deleted %d", made.path, made.size,
             len(deleted))
    return NightlyResult("made", folder, path=made.path, last=record, deleted=deleted)


def _note_problem(store: KioskStore, kind: str, detail: str, folder: Path,
                  moment: dt.datetime, night: str) -> None:
    """Record the problem (shown to staff) and, once per night and kind, in the staff log."""
    from store.sqlite.backup import nightly_record, note_nightly

    earlier = nightly_record(store)["problem"]
    problem = {"at": format_datetime(moment), "kind": kind, "detail": detail,
               "folder": str(folder), "night": night}
    note_nightly(store, problem=problem)
    if not earlier or earlier.get("night") != night or earlier.get("kind") != kind:
        store.log_staff_event("backup_failed", f"{kind}: {folder} {detail}".strip())
    log.warning("nightly backup not made: %s %s %s", kind, folder, detail)


# ---- the thread in every kiosk process ----------------------------------------------------


class NightlyBackups:
    """Looks for a due nightly copy at ``first_look`` seconds after start, then every
    ``every`` seconds, in a daemon thread: the kiosk screens never wait for a backup."""

    def __init__(self, database: Path, kiosk_id: str, settings: BackupSettings, *,
                 clock: Callable[[], dt.datetime] = now_local, first_look: float = FIRST_LOOK,
                 every: float = LOOK_EVERY) -> None:
        self.database, self.kiosk_id, self.settings = database, kiosk_id, settings
        self.clock, self.first_look, self.every = clock, first_look, every
        self.results: list[NightlyResult] = []  # what each look did (newest last, 20 kept)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not self.settings.nightly or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="kiosk-nightly-backup",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> NightlyBackups:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        wait = self.first_look
        while not self._stop.wait(wait):
            wait = self.every
            try:
                result = run_nightly(self.database, self.kiosk_id, self.settings,
                                     now=self.clock())
            except Exception:  # a bug must not end the thread, or reach the screens
                log.exception("nightly backup: unexpected error")
                continue
            self.results = [*self.results[-19:], result]


# ---- what staff see ------------------------------------------------------------------------


def status(store: KioskStore, settings: BackupSettings, language: str = "zh"
           ) -> tuple[str, bool]:
    """One line on the nightly backups for the staff menu, and whether it is a problem."""
    if not settings.nightly:
        return tr("backup.off", language), False
    from store.sqlite.backup import nightly_record

    record = nightly_record(store)
    last, problem = record["last"], record["problem"]
    if problem:
        at = _moment(problem.get("at"))
        words = tr(f"backup.problem.{problem.get('kind', 'failed')}", language,
                   folder=problem.get("folder", ""), detail=problem.get("detail", ""))
        return tr("backup.failed_at", language,
                  when=when_text(at, language) if at else "?") + words, True
    made = _moment(last.get("at")) if last else None
    if last is None or made is None:
        return tr("backup.none", language, hour=settings.hour,
                  folder=settings.folder_for(store.path)), False
    return tr("backup.last", language, when=when_text(made, language),
              folder=last.get("folder", "")), False

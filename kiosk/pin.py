"""The staff PIN gate: 5 wrong PINs lock it for 5 minutes; every attempt is logged.

The attempts live in the database (staff_events), so restarting the kiosk does not lift a
lockout.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.config import check_pin
from store import KioskStore

MAX_FAILURES = 5
LOCKOUT_SECONDS = 5 * 60
PIN_EVENTS = ("pin_ok", "pin_wrong", "pin_locked")


@dataclass(frozen=True)
class PinResult:
    ok: bool
    failures_left: int = 0  # wrong PINs still allowed before the lockout
    locked_until: float | None = None  # Unix time
    no_pin_set: bool = False


class PinGate:
    """Checks the staff PIN against the configured scrypt hash, with lockout."""

    def __init__(self, store: KioskStore, pin_hash: str, *, kiosk: str | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.pin_hash = pin_hash
        self.kiosk = kiosk
        self.clock = clock

    def _state(self) -> tuple[int, float | None]:
        """(wrong PINs in the current streak, end of the lockout or None).

        A streak is the wrong PINs since the last right one or the last lockout; the fifth
        starts a lockout. Attempts during a lockout do not count.
        """
        now = self.clock()
        streak, locked_until = 0, None
        for event in self.store.staff_events(since=now - 86400, events=PIN_EVENTS):
            moment = event["at_epoch"]
            if locked_until is not None and moment >= locked_until:
                locked_until = None
            if event["event"] == "pin_ok":
                streak = 0
            elif event["event"] == "pin_wrong" and locked_until is None:
                streak += 1
                if streak >= MAX_FAILURES:
                    streak, locked_until = 0, moment + LOCKOUT_SECONDS
        if locked_until is not None and locked_until <= now:
            locked_until = None
        return streak, locked_until

    def locked_until(self) -> float | None:
        return self._state()[1]

    def attempt(self, pin: str) -> PinResult:
        """Check a PIN typed on the staff screen.

        The whole attempt — the lockout state, the check, the record of it — is one write
        transaction: however many kiosks or tablets on this database guess at once, each
        sees every attempt before it, so no more than MAX_FAILURES wrong PINs are ever tried
        before the lock."""
        if not self.pin_hash:
            self.store.log_staff_event("pin_unset", "no staff PIN is configured",
                                       kiosk=self.kiosk, at=self.clock())
            return PinResult(ok=False, no_pin_set=True)
        with self.store.transaction():
            until = self.locked_until()
            if until is not None:
                self.store.log_staff_event("pin_locked", "attempt while locked",
                                           kiosk=self.kiosk, at=self.clock())
                return PinResult(ok=False, locked_until=until)
            if check_pin(pin, self.pin_hash):
                self.store.log_staff_event("pin_ok", kiosk=self.kiosk, at=self.clock())
                return PinResult(ok=True)
            self.store.log_staff_event("pin_wrong", kiosk=self.kiosk, at=self.clock())
            streak, until = self._state()
        return PinResult(ok=False, failures_left=0 if until else MAX_FAILURES - streak,
                         locked_until=until)

"""The errors of the stores: each a problem a user can act on, the message saying what and
where."""

from __future__ import annotations


class StoreError(Exception):
    """A database problem a user can act on; the message says what and where."""


class NotOurDatabase(StoreError):
    pass


class NewerDatabase(StoreError):
    pass


class BackupError(StoreError):
    """A backup that cannot be made, read or restored; the message names the file."""


class FormVersionConflict(StoreError):
    pass


class PrintJobError(StoreError):
    """A staff action on a print job that cannot be done (no such job, wrong state)."""


class VolunteerError(StoreError):
    """A roster or session change that cannot be done (no such volunteer, duplicate...)."""


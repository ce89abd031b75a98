"""Connecting to the central PostgreSQL, and its errors. psycopg is loaded only here and in
the rest of store/central/ (a kiosk that never syncs never loads it); its errors leave this
package as ours (``CentralError`` and its kinds)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg


class CentralError(Exception):
    """Something about the central database the user has to act on."""


class CentralUnreachable(CentralError):
    """No connection could be made (server down, wrong address, no network)."""


class CentralConnectionLost(CentralError):
    """The connection broke during a sync; what was committed stays, the rest comes next time.
    ``reason``: libpq's, on one line."""

    def __init__(self, message: str, *, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message


class KioskNotEnrolled(CentralError):
    """The kiosk (or the role connecting) may not send to this central database: not
    enrolled, revoked, or not a kiosk's role."""


class CentralSchemaError(CentralError):
    """The central database has no kiosk schema, an older one, or a newer one."""


def describe(dsn: str) -> str:
    """``host:port/database`` of a DSN, without user or password (for messages)."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        parts = conninfo_to_dict(dsn)
    except Exception:  # a DSN psycopg cannot parse is described as given
        return dsn.split("@")[-1]
    host = parts.get("host") or parts.get("hostaddr") or "localhost"
    port = parts.get("port") or "5432"
    return f"{host}:{port}/{parts.get('dbname') or parts.get('user') or ''}"


def connect(dsn: str, *, application_name: str = "kiosk",
            **parameters: str) -> psycopg.Connection[Any]:
    """Open a connection, or raise CentralUnreachable saying where and why. ``parameters``
    (user, password, sslrootcert …) go to libpq beside the DSN: a password given so is never
    part of a command line or a message. A ``connect_timeout`` given so (kiosk doctor's
    short one) takes the place of the default 10 seconds."""
    import psycopg

    given = _parsed(dsn)
    options: dict[str, Any] = {"application_name": application_name, **parameters}
    if "connect_timeout" not in given and "connect_timeout" not in parameters:
        options["connect_timeout"] = 10  # no network: say so soon
    try:
        return psycopg.connect(dsn, autocommit=True, **options)  # transactions are explicit
    except psycopg.Error as error:
        reason = reason_of(error)
        if _REFUSED_LOGIN.search(reason):  # no network problem: trying again will not help
            raise KioskNotEnrolled(
                f"the central database at {describe(dsn)} refused the login "
                f"({reason}): it was revoked, or its password changed (kiosk central "
                "rotate); ask staff for this kiosk's new enrolment file, or for a login"
            ) from None
        raise CentralUnreachable(
            f"cannot reach the central database at {describe(dsn)}: {reason}") from None


# What libpq says when the server is there but will not take this login.
_REFUSED_LOGIN = re.compile(r"is not permitted to log in|password authentication failed"
                            r"|permission denied for database")


def _parsed(dsn: str) -> dict[str, Any]:
    """A DSN's parts, or CentralError saying it is not one."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        return conninfo_to_dict(dsn)
    except psycopg.Error as error:
        raise CentralError(f"not a PostgreSQL address: {dsn!r} ({reason_of(error)}); "
                           "expected e.g. postgresql://user@host:5432/database") from None


def public_address(dsn: str) -> str:
    """The DSN without who connects (user, password, passfile): where a kiosk is to
    connect, to hand over with its own login."""
    from psycopg.conninfo import make_conninfo

    parts = {key: value for key, value in _parsed(dsn).items()
             if key not in ("user", "password", "passfile", "application_name")}
    return make_conninfo(**parts)


def reason_of(error: Exception) -> str:
    """libpq's message on one line, without the address it repeats nor the PL/pgSQL
    context after it (which line of which function raised it: nothing staff can use)."""
    text = " ".join(str(error).split()) or type(error).__name__
    text = text.split(" CONTEXT: ")[0]
    return re.sub(r'^connection failed: connection to server at "[^"]*", port \d+ failed: ',
                  "", text)


@contextlib.contextmanager
def refusals() -> Iterator[None]:
    """Around any use of the central database: psycopg missing its libpq, or a statement the
    database refuses, become a CentralError saying so."""
    try:
        import psycopg
    except ImportError as error:  # psycopg without libpq: the system library is missing
        raise CentralError(
            f"cannot load psycopg ({error}); install libpq5 (apt-get install libpq5)") from None
    try:
        yield
    except psycopg.Error as error:
        raise CentralError(f"the central database refused it: {error}") from None


@contextlib.contextmanager
def lost_connection() -> Iterator[None]:
    """Around a sync or an import: a connection that breaks midway raises
    CentralConnectionLost with libpq's reason (``reason``), for the caller to say what was
    saved."""
    import psycopg

    try:
        yield
    except psycopg.OperationalError as error:
        raise CentralConnectionLost(reason_of(error), reason=reason_of(error)) from None

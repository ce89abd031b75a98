"""What ``kiosk doctor`` asks the central database, as this kiosk's own login: whether it
answers, what it says of this kiosk's enrolment, and its clock. Nothing is written there
(``kiosk_hello`` would bind this database to the enrolment: a check must not)."""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass

from store.central.connection import CentralError, connect, reason_of
from store.central.push import kiosk_status

# A central host that blackholes packets must not hold the check up for libpq's default.
CONNECT_SECONDS = 5
STATEMENT_MILLISECONDS = 5000


@dataclass(frozen=True)
class CentralHealth:
    """``status``: 'enrolled', 'revoked <when>' or 'unknown' (kiosk_status); ``server_time``:
    the central database's clock when it answered."""

    status: str
    server_time: dt.datetime


def central_health(dsn: str, kiosk_id: str, **parameters: str) -> CentralHealth:
    """Connect as the kiosk (``parameters``: its login, password, CA) with a short time
    limit, and read its enrolment status and the server's clock. Raises CentralUnreachable
    (no connection), KioskNotEnrolled (the login is refused or revoked) or CentralError."""
    import psycopg

    connection = connect(dsn, application_name=f"kiosk doctor {kiosk_id}"[:63],
                         connect_timeout=str(CONNECT_SECONDS),
                         options=f"-c statement_timeout={STATEMENT_MILLISECONDS}",
                         **parameters)
    try:
        status = kiosk_status(connection, kiosk_id)
        row = connection.execute("SELECT now()").fetchone()
    except psycopg.Error as error:
        raise CentralError(f"the central database did not answer the check: "
                           f"{reason_of(error)}") from None
    finally:
        with contextlib.suppress(Exception):
            connection.close()
    assert row is not None
    return CentralHealth(status, row[0])

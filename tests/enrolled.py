"""Enrolling kiosks at a test's central database, as staff with the admin role would
(``kiosk central enrol``), and keeping the enrolment where the kiosk's ``join`` would."""

from __future__ import annotations

import secrets
from pathlib import Path

import psycopg

from kiosk.central.enrolment import Enrolment, enrolment_path, write_enrolment
from kiosk.central.sync import KioskIdentity
from store.central.connection import public_address
from store.central.trust import enrol


def enrolled(central: str, kiosk: KioskIdentity | str, *, config: Path | None = None,
             address: str | None = None) -> Enrolment:
    """Enrol ``kiosk`` at ``central`` (a superuser DSN: the admin); with ``config``, keep
    the enrolment beside that configuration file (as ``kiosk central join`` does).
    ``address``: where the kiosk connects, if not ``central``."""
    identity = kiosk if isinstance(kiosk, KioskIdentity) else KioskIdentity(kiosk)
    with psycopg.connect(central, autocommit=True) as connection:
        credentials = enrol(connection, identity.kiosk_id, station=identity.station,
                            street=identity.street, community=identity.community)
    enrolment = Enrolment(**vars(credentials), address=public_address(address or central),
                          path=enrolment_path(config) if config is not None else None)
    if config is not None:
        write_enrolment(enrolment_path(config), enrolment)
    return enrolment


def offline_enrolment(kiosk: KioskIdentity, config: Path) -> Enrolment:
    """An enrolment with a key of its own and no central database behind it: for bundles
    carried between kiosks only (a kiosk keeps the signatures; it cannot check them)."""
    enrolment = Enrolment(kiosk_id=kiosk.kiosk_id, login="nowhere_k_test", password="unused",
                          key_version=1, key=secrets.token_bytes(32),
                          address="postgresql://127.0.0.1:1/nowhere",
                          path=enrolment_path(config))
    write_enrolment(enrolment_path(config), enrolment)
    return enrolment

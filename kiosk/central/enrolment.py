"""A kiosk's enrolment at the central database: the file ``kiosk central enrol`` writes for
staff to carry to the kiosk, and ``kiosk central join`` keeps beside the kiosk's
configuration (owner-only: it holds the kiosk's password and signing key).

It says where the central database is (without a password), the kiosk's own login and
password, its signing key and the key's version, and (for TLS with ``sslmode=verify-full``)
the certificate of the station's CA, which ``join`` writes beside it for libpq.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.paths import write_owner_only
from store.central.signing import KEY_BYTES, RecordSigner
from store.central.trust import Credentials

KIND = "kiosk-enrolment"
FORMAT = 1
# Beside the configuration, named after it (config.toml: config.enrolment.json), so two
# kiosks configured in one folder keep theirs apart.
ENROLMENT_SUFFIX = ".enrolment.json"
CA_SUFFIX = ".central-ca.pem"
MAX_FILE_BYTES = 64 << 10  # a few hundred bytes, with a CA certificate a few kilobytes


class EnrolmentError(Exception):
    """An enrolment file that cannot be used, or none where one is needed."""


@dataclass(frozen=True, repr=False)
class Enrolment(Credentials):
    """A kiosk's credentials (store/central/trust.py) and where to use them."""

    address: str = ""  # the central database's DSN, without user or password
    ca: str | None = None  # the station CA's certificate (PEM)
    path: Path | None = None  # where it was read from

    @property
    def signer(self) -> RecordSigner:
        return RecordSigner(self.kiosk_id, self.key_version, self.key)

    @property
    def ca_path(self) -> Path | None:
        if self.ca is None or self.path is None:
            return None
        return self.path.with_name(self.path.name.removesuffix(ENROLMENT_SUFFIX) + CA_SUFFIX)

    def connection_parameters(self) -> dict[str, str]:
        """libpq parameters beside ``address``: the login, its password, the CA."""
        parameters = {"user": self.login, "password": self.password}
        if self.ca_path is not None:
            parameters["sslrootcert"] = str(self.ca_path)
        return parameters

    def to_json(self) -> dict[str, Any]:
        return {"kind": KIND, "format": FORMAT, "kiosk_id": self.kiosk_id,
                "station": self.station, "street": self.street, "community": self.community,
                "central": self.address, "login": self.login, "password": self.password,
                "key_version": self.key_version,
                "key": base64.b64encode(self.key).decode(), "ca": self.ca}


def write_enrolment(path: Path, enrolment: Enrolment) -> Path:
    """Write an enrolment file, owner-only, atomically."""
    text = json.dumps(enrolment.to_json(), ensure_ascii=False, indent=1) + "\n"
    return write_owner_only(path, text.encode("utf-8"))


def read_enrolment(path: Path) -> Enrolment:
    """Read an enrolment file; EnrolmentError says what is wrong with it and where."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise EnrolmentError(f"{path}: no such enrolment file") from None
    except OSError as error:
        raise EnrolmentError(f"cannot read {path}: {error.strerror or error}") from None
    if len(data) > MAX_FILE_BYTES:
        raise EnrolmentError(f"{path}: not an enrolment file (larger than "
                             f"{MAX_FILE_BYTES >> 10} KB)")
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise EnrolmentError(f"{path}: not an enrolment file (not JSON)") from None
    if not isinstance(value, dict) or value.get("kind") != KIND:
        raise EnrolmentError(f"{path}: not an enrolment file (kiosk central enrol writes "
                             "them)")
    if value.get("format") != FORMAT:
        raise EnrolmentError(f"{path}: enrolment format {value.get('format')!r}; this kiosk "
                             f"reads format {FORMAT}: update the kiosk software")

    def text(key: str, *, required: bool = True) -> str:
        found = value.get(key)
        if found is None and not required:
            return ""
        if not isinstance(found, str) or (required and not found) or len(found) > 4096:
            raise EnrolmentError(f"{path}: '{key}' is missing or not text")
        return found

    try:
        key = base64.b64decode(text("key"), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise EnrolmentError(f"{path}: 'key' is not a {KEY_BYTES}-byte key in base64")
    version = value.get("key_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise EnrolmentError(f"{path}: 'key_version' is not a positive whole number")
    ca = value.get("ca")
    if ca is not None and (not isinstance(ca, str) or "BEGIN CERTIFICATE" not in ca):
        raise EnrolmentError(f"{path}: 'ca' is not a PEM certificate")
    return Enrolment(kiosk_id=text("kiosk_id"), login=text("login"), password=text("password"),
                     key_version=version, key=key, station=text("station", required=False),
                     street=text("street", required=False),
                     community=text("community", required=False), address=text("central"),
                     ca=ca, path=path)


def enrolment_path(config_path: Path) -> Path:
    """Where a kiosk keeps its enrolment: beside its configuration."""
    return config_path.with_name(config_path.stem + ENROLMENT_SUFFIX)


def join(source: Path, config_path: Path, kiosk_id: str) -> Enrolment:
    """Keep the enrolment file ``source`` as this kiosk's (owner-only, beside its
    configuration, with the CA certificate for libpq); it must be this kiosk's own."""
    enrolment = read_enrolment(source)
    if enrolment.kiosk_id != kiosk_id:
        raise EnrolmentError(
            f"{source} enrols kiosk {enrolment.kiosk_id!r}, but this kiosk is {kiosk_id!r} "
            "([station] kiosk_id in its configuration): use the file made for this kiosk")
    target = enrolment_path(config_path)
    kept = dataclasses.replace(enrolment, path=target)
    if kept.ca is not None and kept.ca_path is not None:
        write_owner_only(kept.ca_path, kept.ca.encode())
    write_enrolment(target, kept)
    return kept


def this_kiosks_enrolment(config_path: Path, kiosk_id: str) -> Enrolment:
    """The enrolment this kiosk joined, checked against its kiosk id."""
    path = enrolment_path(config_path)
    if not path.exists():
        raise EnrolmentError(
            f"kiosk {kiosk_id} is not enrolled at a central database: staff run kiosk "
            f"central enrol {kiosk_id} … and bring the file here for kiosk central join FILE")
    enrolment = read_enrolment(path)
    if enrolment.kiosk_id != kiosk_id:
        raise EnrolmentError(
            f"{path} enrols kiosk {enrolment.kiosk_id!r}, but this kiosk is now {kiosk_id!r}:"
            " enrol it under its new id and join again")
    return enrolment

"""The configuration and the volunteer card secret in a backup, sealed under a staff
passphrase (``kiosk backup --with-secrets``, ``kiosk restore FILE --secrets``).

They go into a file of their own beside the database copy, ``<backup>.secrets``, owner-only:
the database copy can be read back and checked without the passphrase, and the secrets stay
sealed wherever the copy travels (a USB stick gets lost). The file is UTF-8 text::

    KIOSK-SECRETS 1
    {"kdf": "scrypt", "n": 32768, "r": 8, "p": 1, "salt": "…", "nonce": "…",
     "length": 1234, "kiosk": "office", "made_at": "2026-12-07T18:30:00.120+08:00",
     "database": "kiosk-office-20261207-183000.db", "holds": ["config", "card-secret"]}
    <base64 of the AES-256-GCM ciphertext with its 16-byte tag>
    END

(the header is one line). The key is scrypt of the passphrase (NFC, UTF-8) with the header's
random salt; the first two lines are the authenticated data, so a changed header fails like a
changed ciphertext. The plaintext is JSON: ``{"config": TEXT, "card-secret": TEXT}``, each
file as it was (absent when the kiosk had none). ``length`` and ``END`` tell a truncated
file from a wrong passphrase, which AES-GCM alone cannot.

Nothing here writes the passphrase or a secret anywhere but into the sealed file.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import secrets
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from store.errors import BackupError

MAGIC = "KIOSK-SECRETS 1"
SUFFIX = ".secrets"
# scrypt with 32 MiB of memory (~0.1 s here): a stolen stick's file resists guessing.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
# What a file may ask for: a crafted header must not make us use gigabytes.
MAX_N, MAX_R, MAX_P = 2**20, 16, 4
MAX_FILE = 4 * 1024 * 1024  # a config and a 32-byte secret fit many times over
MIN_PASSPHRASE = 8
PASSPHRASE_ENV = "KIOSK_BACKUP_PASSPHRASE"
NAMES = ("config", "card-secret")  # what a sealed file may hold


class SecretsError(BackupError):
    """A secrets file that cannot be made or opened; the message says why, Chinese first."""


def secrets_path(backup: Path) -> Path:
    """The sealed secrets beside a database copy: ``<backup without .db>.secrets``."""
    return backup.with_suffix(SUFFIX)


def check_passphrase(passphrase: str) -> str:
    """The passphrase as it is used (NFC, without the line end a file or pipe adds);
    SecretsError when it is too short to protect anything."""
    text = unicodedata.normalize("NFC", passphrase.rstrip("\r\n"))
    if len(text) < MIN_PASSPHRASE:
        raise SecretsError(
            f"口令太短：至少 {MIN_PASSPHRASE} 个字符（汉字、字母、数字都可以）。"
            f" / The passphrase is too short: at least {MIN_PASSPHRASE} characters.")
    return text


def _key(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


@dataclass(frozen=True)
class SealedSecrets:
    """What an opened secrets file holds: its header and the files (name -> text)."""

    path: Path
    header: dict[str, Any]
    files: dict[str, str]


def seal(target: Path, files: dict[str, str], passphrase: str, *, kiosk: str,
         made_at: str, database: str) -> Path:
    """Write ``files`` (``config``, ``card-secret``: their text) sealed under
    ``passphrase`` into the new owner-only file ``target`` (written under ``.part``, renamed
    once whole)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    unknown = set(files) - set(NAMES)
    if unknown:
        raise ValueError(f"cannot seal {sorted(unknown)}")
    passphrase = check_passphrase(passphrase)
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    plaintext = json.dumps(files, ensure_ascii=False).encode("utf-8")
    key = _key(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    header = {"kdf": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P,
              "salt": base64.b64encode(salt).decode(), "nonce": base64.b64encode(nonce).decode(),
              "length": len(plaintext) + 16, "kiosk": kiosk, "made_at": made_at,
              "database": database, "holds": [name for name in NAMES if name in files]}
    head = f"{MAGIC}\n{json.dumps(header, ensure_ascii=False)}\n".encode()
    sealed = AESGCM(key).encrypt(nonce, plaintext, head)
    data = head + base64.b64encode(sealed) + b"\nEND\n"
    partial = target.with_name(target.name + ".part")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()  # left by a backup that was killed
    try:
        with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600),
                       "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if target.exists():
            raise FileExistsError(target)
        os.replace(partial, target)
    except OSError as error:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise SecretsError(f"无法写入 {target}（{error.strerror or error}）。"
                           f" / Cannot write {target}.") from None
    return target


def _damaged(path: Path, why: str) -> SecretsError:
    return SecretsError(
        f"{path} 已损坏或不完整（{why}），不能用来恢复；什么都没有改变。"
        f" / {path} is damaged or incomplete ({why}); nothing was changed.")


def _header(path: Path, line: bytes) -> dict[str, Any]:
    """The header line, every field checked before scrypt runs on what it says."""
    try:
        header = json.loads(line)
    except ValueError:
        raise _damaged(path, "文件头不是 JSON / header is not JSON") from None
    if not isinstance(header, dict) or header.get("kdf") != "scrypt":
        raise _damaged(path, "文件头不对 / unknown header")
    n, r, p = header.get("n"), header.get("r"), header.get("p")
    numbers = (n, r, p, header.get("length"))
    if not all(isinstance(value, int) and not isinstance(value, bool) for value in numbers):
        raise _damaged(path, "参数不对 / bad parameters")
    assert isinstance(n, int) and isinstance(r, int) and isinstance(p, int)
    if not (2 <= n <= MAX_N and n & (n - 1) == 0 and 1 <= r <= MAX_R and 1 <= p <= MAX_P):
        raise _damaged(path, "参数超出范围 / parameters out of range")
    try:
        salt = base64.b64decode(header.get("salt", ""), validate=True)
        nonce = base64.b64decode(header.get("nonce", ""), validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise _damaged(path, "参数不对 / bad salt or nonce") from None
    if len(salt) < 16 or len(nonce) != 12:
        raise _damaged(path, "参数不对 / bad salt or nonce")
    return {**header, "_salt": salt, "_nonce": nonce}


def open_sealed(path: Path, passphrase: str) -> SealedSecrets:
    """Read and open the secrets file at ``path``; SecretsError (Chinese first) when it is
    missing, not ours, truncated, damaged, or the passphrase is wrong. Writes nothing."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        size = path.stat().st_size
        if size > MAX_FILE:
            raise _damaged(path, f"文件太大 / {size} bytes, too large")
        data = path.read_bytes()
    except FileNotFoundError:
        raise SecretsError(
            f"找不到 {path}：这份备份没有带上配置和卡密钥（备份时要加 --with-secrets），"
            f"什么都没有改变。 / No {path}: this backup was made without --with-secrets; "
            "nothing was changed.") from None
    except OSError as error:
        raise SecretsError(f"无法读取 {path}（{error.strerror or error}），什么都没有改变。"
                           f" / Cannot read {path}; nothing was changed.") from None
    lines = data.split(b"\n")
    if lines[0] != MAGIC.encode():
        raise SecretsError(f"{path} 不是终端的加密备份文件，什么都没有改变。 / {path} is "
                           "not a kiosk secrets file; nothing was changed.")
    if len(lines) < 3:
        raise _damaged(path, "文件被截断 / truncated")
    header = _header(path, lines[1])
    head = b"\n".join(lines[:2]) + b"\n"
    try:
        sealed = base64.b64decode(lines[2], validate=True)
    except (binascii.Error, ValueError):
        raise _damaged(path, "密文不完整 / ciphertext cut or changed") from None
    if len(sealed) != header["length"] or lines[3:] != [b"END", b""]:
        raise _damaged(path, "文件被截断 / truncated")
    passphrase = unicodedata.normalize("NFC", passphrase.rstrip("\r\n"))
    key = _key(passphrase, header["_salt"], header["n"], header["r"], header["p"])
    try:
        plaintext = AESGCM(key).decrypt(header["_nonce"], sealed, head)
    except InvalidTag:
        raise SecretsError(
            f"口令不对，或者 {path} 被改动过：打不开，什么都没有改变。请用备份时设的口令再试。"
            f" / Wrong passphrase, or {path} was changed: nothing was changed.") from None
    files = json.loads(plaintext)
    if not isinstance(files, dict):
        raise _damaged(path, "内容不对 / unexpected content")
    public = {key: value for key, value in header.items() if not key.startswith("_")}
    return SealedSecrets(path, public, {name: files[name] for name in NAMES
                                        if isinstance(files.get(name), str)})


def collect(config_path: Path, card_secret: Path) -> dict[str, str]:
    """The files a sealed backup carries, as they are on disk (none may be missing both)."""
    files: dict[str, str] = {}
    for name, path in (("config", config_path), ("card-secret", card_secret)):
        try:
            files[name] = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError) as error:
            raise SecretsError(f"无法读取 {path}（{error}）。 / Cannot read {path}.") from None
    if not files:
        raise SecretsError(
            f"没有可以加密备份的配置或卡密钥：{config_path} 和 {card_secret} 都不存在。"
            f" / Neither {config_path} nor {card_secret} exists.")
    return files


def check_contents(sealed: SealedSecrets) -> None:
    """What a restore would write must work here: a configuration this kiosk starts with
    (read in a private temporary folder) and a card secret it can read; SecretsError naming
    the key otherwise, before anything is written."""
    from kiosk.config import ConfigError, load_config

    if "config" in sealed.files:
        with tempfile.TemporaryDirectory() as folder:
            probe = Path(folder) / "config.toml"
            probe.write_text(sealed.files["config"], encoding="utf-8")
            try:
                load_config(probe)
            except ConfigError as error:
                why = str(error).replace(f"{probe}: ", "")
                raise SecretsError(f"{sealed.path} 里的配置这台终端用不了（{why}），什么都没有"
                                   f"改变。 / The configuration in {sealed.path} does not work "
                                   f"here ({why}); nothing was changed.") from None
    if "card-secret" in sealed.files:
        try:
            secret = base64.b64decode(sealed.files["card-secret"].strip(), validate=True)
        except (binascii.Error, ValueError):
            secret = b""
        if len(secret) < 16:
            raise _damaged(sealed.path, "卡密钥不对 / the card secret is not one")


def put_back(sealed: SealedSecrets, config_path: Path, card_secret: Path,
             stamp: str) -> list[tuple[Path, Path | None]]:
    """Write the sealed files in place (owner-only, atomically), each file that was there
    kept first as ``<name>.before-restore-<stamp>``. Returns (restored, kept) pairs."""
    from kiosk.paths import write_owner_only

    done: list[tuple[Path, Path | None]] = []
    for name, path in (("config", config_path), ("card-secret", card_secret)):
        if name not in sealed.files:
            continue
        kept: Path | None = None
        if path.exists():
            kept = path.with_name(f"{path.name}.before-restore-{stamp}")
            write_owner_only(kept, path.read_bytes())
        write_owner_only(path, sealed.files[name].encode("utf-8"))
        done.append((path, kept))
    return done

"""The configuration and card secret in a backup, sealed under a staff passphrase
(kiosk/backup_secrets.py): they come back only with the passphrase; a wrong one, a truncated
or a changed file is refused in Chinese and changes nothing; neither the passphrase nor a
secret is written anywhere but into the sealed file."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from kiosk.backup_secrets import SecretsError, open_sealed, seal, secrets_path
from kiosk.cards.payload import load_secret, make_payload, read_payload, secret_path
from kiosk.cli import main
from kiosk.config import BackupSettings, KioskConfig, hash_pin, load_config, save_config
from tests.test_backup import database, ids_in  # noqa: F401 (a fixture)

PASSPHRASE = "梁丰社区 备份口令 2026"
ENV = "KIOSK_BACKUP_PASSPHRASE"


@pytest.fixture
def station(tmp_path: Path, database: Path) -> dict[str, Path]:  # noqa: F811
    """A kiosk with its configuration (PIN, printer, nightly folder) and a card secret."""
    config = tmp_path / "conf" / "config.toml"
    save_config(KioskConfig(station_name="梁丰社区社工站", kiosk_id="office",
                            staff_pin_hash=hash_pin("2468"), serve_token="tablet-token-123",
                            backup=BackupSettings(folder="/media/usb/备份", daily=10)), config)
    load_secret(secret_path(config))  # made on first use, as the kiosk does
    return {"db": database, "config": config, "secret": secret_path(config),
            "out": tmp_path / "usb"}


def kiosk(db: Path, config: Path, *arguments: str, env: dict[str, str] | None = None,
          stdin: str | None = None):
    return CliRunner().invoke(main, ["--db", str(db), "--config", str(config),
                                     "--kiosk-id", "office", *arguments],
                              env={"COLUMNS": "200", ENV: "", **(env or {})}, input=stdin)


def sealed_backup(station: dict[str, Path], passphrase: str = PASSPHRASE) -> Path:
    result = kiosk(station["db"], station["config"], "backup", "-o", str(station["out"]),
                   "--with-secrets", env={ENV: passphrase})
    assert result.exit_code == 0, result.output
    [made] = station["out"].glob("kiosk-office-*.db")
    return made


def new_machine(tmp_path: Path) -> dict[str, Path]:
    return {"db": tmp_path / "new" / "data" / "kiosk.db",
            "config": tmp_path / "new" / "conf" / "config.toml",
            "secret": tmp_path / "new" / "conf" / "card-secret"}


def test_config_and_card_secret_come_back_only_with_the_passphrase(station, tmp_path):
    made = sealed_backup(station)
    sealed = secrets_path(made)
    assert stat.S_IMODE(sealed.stat().st_mode) == 0o600
    text = sealed.read_text(encoding="utf-8")
    secret = station["secret"].read_text(encoding="ascii").strip()
    for plain in (secret, "tablet-token-123", "梁丰社区社工站", "scrypt$", PASSPHRASE):
        assert plain not in text  # sealed, not merely encoded
    assert text.startswith("KIOSK-SECRETS 1\n") and text.endswith("\nEND\n")

    machine = new_machine(tmp_path)  # the kiosk's disk died: a new machine, nothing on it
    result = kiosk(machine["db"], machine["config"], "restore", str(made), "--secrets",
                   env={ENV: PASSPHRASE})
    assert result.exit_code == 0, result.output
    assert machine["config"].read_bytes() == station["config"].read_bytes()
    assert machine["secret"].read_bytes() == station["secret"].read_bytes()
    for path in (machine["config"], machine["secret"]):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    restored = load_config(machine["config"])
    assert restored.with_changes(path=None) == load_config(station["config"]).with_changes(
        path=None)
    assert restored.backup == BackupSettings(folder="/media/usb/备份", daily=10)
    # A card printed before the disk died is still accepted.
    card = make_payload("JG0042", 1, load_secret(station["secret"]))
    assert read_payload(card, load_secret(machine["secret"])).number == "JG0042"
    assert ids_in(machine["db"]) == ids_in(station["db"])


def unchanged(station: dict[str, Path], result, words: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and words in result.output, result.output
    assert "什么都没有改变" in result.output


def test_a_wrong_passphrase_is_refused_and_nothing_changes(station, tmp_path):
    made = sealed_backup(station)
    machine = new_machine(tmp_path)
    for wrong in ("梁丰社区 备份口令 2025", PASSPHRASE.upper() + "x", "12345678"):
        result = kiosk(machine["db"], machine["config"], "restore", str(made), "--secrets",
                       env={ENV: wrong})
        unchanged(station, result, "口令不对")
        assert not machine["db"].exists() and not machine["config"].exists()
        assert not machine["secret"].exists()
    # Over a working kiosk: its database, configuration and secret stay as they were.
    before = {name: station[name].read_bytes() for name in ("config", "secret")}
    ids = ids_in(station["db"])
    result = kiosk(station["db"], station["config"], "restore", str(made), "--secrets",
                   env={ENV: "not the passphrase"})
    unchanged(station, result, "口令不对")
    assert {name: station[name].read_bytes() for name in ("config", "secret")} == before
    assert ids_in(station["db"]) == ids
    assert not list(station["db"].parent.glob("*.before-restore-*"))
    assert not list(station["config"].parent.glob("*.before-restore-*"))


def test_a_changed_or_truncated_secrets_file_is_refused(station, tmp_path):
    made = sealed_backup(station)
    sealed = secrets_path(made)
    whole = sealed.read_bytes()
    magic, header, body, end = whole.decode().split("\n")[:4]
    machine = new_machine(tmp_path)

    def refused(data: bytes, words: str) -> None:
        sealed.write_bytes(data)
        result = kiosk(machine["db"], machine["config"], "restore", str(made), "--secrets",
                       env={ENV: PASSPHRASE})
        unchanged(station, result, words)
        assert not machine["db"].exists() and not machine["config"].exists()

    flipped = bytearray(base64.b64decode(body))
    flipped[len(flipped) // 2] ^= 0x01
    refused(f"{magic}\n{header}\n{base64.b64encode(flipped).decode()}\n{end}\n".encode(),
            "被改动过")
    other = json.loads(header)
    other["kiosk"] = "hall-2"  # the header is authenticated too
    refused(f"{magic}\n{json.dumps(other)}\n{body}\n{end}\n".encode(), "被改动过")
    refused(whole[: len(whole) // 2], "不完整")
    refused(whole[:-4], "不完整")  # END cut off
    refused(whole[: len(magic) + 1], "不完整")
    greedy = {**json.loads(header), "n": 2**30}  # would ask scrypt for 128 GiB
    refused(f"{magic}\n{json.dumps(greedy)}\n{body}\n{end}\n".encode(), "参数超出范围")
    refused(b"", "不是终端的加密备份文件")
    sealed.unlink()
    result = kiosk(machine["db"], machine["config"], "restore", str(made), "--secrets",
                   env={ENV: PASSPHRASE})
    unchanged(station, result, "这份备份没有带上配置和卡密钥")
    sealed.write_bytes(whole)  # the whole file still opens
    assert open_sealed(sealed, PASSPHRASE).files["card-secret"] == station["secret"].read_text()


def test_the_passphrase_is_asked_twice_or_read_from_an_owner_only_file(station, tmp_path):
    result = kiosk(station["db"], station["config"], "backup", "-o", str(station["out"]),
                   "--with-secrets", stdin=f"{PASSPHRASE}\n{PASSPHRASE}\n")
    assert result.exit_code == 0, result.output
    assert PASSPHRASE not in result.output  # never echoed
    [made] = station["out"].glob("kiosk-office-*.db")
    assert open_sealed(secrets_path(made), PASSPHRASE).header["holds"] == [
        "config", "card-secret"]

    too_short = tmp_path / "other-usb"
    result = kiosk(station["db"], station["config"], "backup", "-o", str(too_short),
                   "--with-secrets", stdin="短口令\n短口令\n")
    assert result.exit_code == 1 and "口令太短" in result.output
    assert not too_short.exists()  # refused before anything was written

    file = tmp_path / "passphrase"
    file.write_text(PASSPHRASE + "\n", encoding="utf-8")
    file.chmod(0o644)
    result = kiosk(station["db"], station["config"], "restore", str(made), "--secrets",
                   "--passphrase-file", str(file))
    assert result.exit_code == 1 and "别人也能读" in result.output
    file.chmod(0o600)
    result = kiosk(station["db"], station["config"], "restore", str(made), "--secrets",
                   "--passphrase-file", str(file))
    assert result.exit_code == 0, result.output
    kept = list(station["config"].parent.glob("config.toml.before-restore-*"))
    assert len(kept) == 1 and stat.S_IMODE(kept[0].stat().st_mode) == 0o600


def test_neither_the_passphrase_nor_a_secret_reaches_the_logs(station, tmp_path):
    made = sealed_backup(station)
    machine = new_machine(tmp_path)
    result = kiosk(machine["db"], machine["config"], "restore", str(made), "--secrets",
                   env={ENV: PASSPHRASE})
    assert result.exit_code == 0, result.output
    secret = station["secret"].read_text(encoding="ascii").strip()
    from store import open_store

    for db in (station["db"], machine["db"]):
        with open_store(db) as store:
            records = json.dumps([store.audit_entries(), store.staff_events()],
                                 ensure_ascii=False)
        assert PASSPHRASE not in records and secret not in records
        assert "tablet-token-123" not in records
    with open_store(station["db"]) as store:
        [entry] = store.audit_entries(actions=["backup-secrets"])
    assert entry["target"] == str(secrets_path(made))
    assert entry["detail"] == "config, card-secret sealed under a passphrase"


def test_a_kiosk_with_nothing_to_seal_is_told_so(database, tmp_path):  # noqa: F811
    result = kiosk(database, tmp_path / "none" / "config.toml", "backup", "-o",
                   str(tmp_path / "usb"), "--with-secrets", env={ENV: PASSPHRASE})
    assert result.exit_code == 1 and "没有可以加密备份的配置或卡密钥" in result.output
    assert not (tmp_path / "usb").exists()


def test_a_sealed_config_this_kiosk_cannot_start_with_is_refused(station, tmp_path):
    made = sealed_backup(station)
    sealed = secrets_path(made)
    sealed.unlink()  # sealed by a kiosk whose software read this config otherwise
    seal(sealed, {"config": "[backup]\nhour = 25\n"}, PASSPHRASE, kiosk="office",
         made_at="2026-12-07T18:30:00.000+08:00", database=made.name)
    machine = new_machine(tmp_path)
    result = kiosk(machine["db"], machine["config"], "restore", str(made), "--secrets",
                   env={ENV: PASSPHRASE})
    unchanged(station, result, "里的配置这台终端用不了")
    assert "[backup] hour" in result.output
    assert not machine["db"].exists() and not machine["config"].exists()
    with pytest.raises(SecretsError):
        open_sealed(secrets_path(made), "wrong passphrase")

"""A throwaway PostgreSQL for the tests and the bench: Debian's server binaries, a cluster
made by initdb in a temp dir, listening on a free loopback port, stopped and removed at the
end. Nothing of the machine's own clusters is touched.

PostgreSQL refuses to run as root; when the tests run as root (CI containers), the cluster
is made and run as the ``postgres`` user that Debian's package creates.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

BIN_ROOT = Path("/usr/lib/postgresql")


class PostgresUnavailable(RuntimeError):
    """The server binaries are missing (./scripts/test installs Debian's postgresql)."""


def server_bin() -> Path:
    versions = sorted((path for path in BIN_ROOT.glob("*/bin") if (path / "initdb").exists()),
                      key=lambda path: int(path.parent.name) if path.parent.name.isdigit()
                      else 0)
    if not versions:
        raise PostgresUnavailable(
            f"no PostgreSQL server under {BIN_ROOT}: apt-get install postgresql")
    return versions[-1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ThrowawayPostgres:
    """``start()`` gives a DSN for a new empty database ``kiosk_central``; ``stop()`` ends
    the server and removes its files. Use as a context manager."""

    def __init__(self, *, fsync: bool = False, tls: bool = False) -> None:
        self.bin = server_bin()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="kiosk-pg-"))
        self.data = self.root / "data"
        self.sockets = self.root / "run"
        # fsync off: the tests kill clients, not the server; the bench says when it is on.
        self.fsync = fsync
        self.user: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            self.user = pwd.getpwnam("postgres")
        self.process: subprocess.Popen[bytes] | None = None
        self._log: object = None
        # tls: a CA of its own signs the server's certificate (for host name localhost);
        # TCP connections must use TLS and a password (SCRAM); the owner ``kiosk`` comes in
        # through the Unix socket (trust), as a DBA on the machine would.
        self.tls = tls
        self.ca = self.root / "ca.crt"

    @property
    def log_path(self) -> Path:
        return self.root / "server.log"

    def _make_certificates(self) -> list[str]:
        """A CA and the server's certificate signed by it; the server options to use them."""
        tls = self.root / "tls"
        tls.mkdir()

        def openssl(*arguments: str) -> None:
            subprocess.run(["openssl", *arguments], check=True, capture_output=True, cwd=tls)

        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-keyout", "ca.key", "-out", str(self.ca), "-subj", "/CN=Test Station CA")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key",
                "-out", "server.csr", "-subj", "/CN=localhost")
        (tls / "san.ext").write_text("subjectAltName=DNS:localhost\n")
        openssl("x509", "-req", "-in", "server.csr", "-CA", str(self.ca), "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-out", "server.crt", "-extfile", "san.ext")
        for name in ("server.key", "server.crt"):
            os.chmod(tls / name, 0o600)
            self._chown(tls / name)
        self._chown(tls)
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\n"
            "hostssl all all 127.0.0.1/32 scram-sha-256\n"
            "hostssl all all ::1/128 scram-sha-256\n"
            "host all all all reject\n")
        self._chown(self.data / "pg_hba.conf")
        return ["-c", "ssl=on", "-c", f"ssl_cert_file={tls / 'server.crt'}",
                "-c", f"ssl_key_file={tls / 'server.key'}", "-c", "log_connections=on",
                "-c", "log_statement=all", "-h", "127.0.0.1,::1"]

    def tcp_dsn(self, database: str, **options: str) -> str:
        """How a kiosk reaches a TLS server: by host name, no user or password."""
        query = "&".join(f"{key}={value}" for key, value in options.items())
        return f"postgresql://localhost:{self.port}/{database}" + (f"?{query}" if query else "")

    def _run_as(self) -> dict[str, object]:
        if self.user is None:
            return {}
        return {"user": self.user.pw_uid, "group": self.user.pw_gid}

    def _chown(self, path: Path) -> None:
        if self.user is not None:
            os.chown(path, self.user.pw_uid, self.user.pw_gid)

    @property
    def dsn(self) -> str:
        return self.dsn_for("kiosk_central")

    def dsn_for(self, database: str) -> str:
        if self.tls:  # the owner, through the Unix socket
            return f"postgresql://kiosk@/{database}?host={self.sockets}&port={self.port}"
        return f"postgresql://kiosk@127.0.0.1:{self.port}/{database}"

    def start(self) -> str:
        self.sockets.mkdir(parents=True)
        self._chown(self.root)
        self._chown(self.sockets)
        subprocess.run(
            [str(self.bin / "initdb"), "-D", str(self.data), "-U", "kiosk", "-A", "trust",
             "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
            check=True, capture_output=True, **self._run_as())  # type: ignore[arg-type]
        durable = "on" if self.fsync else "off"
        tls = self._make_certificates() if self.tls else ["-h", "127.0.0.1"]
        self._log = log = open(self.log_path, "wb")  # noqa: SIM115 - kept open
        self.process = subprocess.Popen(
            [str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port),
             "-k", str(self.sockets),
             "-c", f"fsync={durable}", "-c", f"synchronous_commit={durable}",
             "-c", f"full_page_writes={durable}",
             "-c", "max_connections=60", "-c", "shared_buffers=256MB", *tls],
            stdout=log, stderr=subprocess.STDOUT, **self._run_as())  # type: ignore[arg-type]
        self._wait_ready()
        self.create_database("kiosk_central")
        return self.dsn

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError("PostgreSQL stopped at start:\n"
                                   + (self.root / "server.log").read_text(errors="replace"))
            ready = subprocess.run(
                [str(self.bin / "pg_isready"), "-h", str(self.sockets), "-p", str(self.port)],
                capture_output=True)
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL did not start within {timeout:.0f} s")

    def create_database(self, name: str) -> str:
        subprocess.run([str(self.bin / "createdb"), "-h", str(self.sockets), "-p",
                        str(self.port), "-U", "kiosk", name], check=True, capture_output=True)
        return self.dsn_for(name)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # smart shutdown: SIGTERM
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._log is not None:
            self._log.close()  # type: ignore[attr-defined]
            self._log = None
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> ThrowawayPostgres:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def throwaway_postgres(**options: bool) -> Iterator[ThrowawayPostgres]:
    server = ThrowawayPostgres(**options)
    try:
        server.start()
        yield server
    finally:
        server.stop()

"""A private PostgreSQL server for tests that stop and start it (never the machine's shared one).

initdb + pg_ctl from /usr/lib/postgresql/*/bin, run as the `postgres` user (runuser) when we are root,
in a temporary directory, on a free port of 127.0.0.1, trust authentication. Skipped when the
binaries are missing (a machine without a PostgreSQL server installed).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PrivatePostgres:
    """A server we own: its data directory, port and the commands to stop and start it."""

    bin_dir: Path
    data_dir: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self.data_dir / "data"), "-o", options, "-l", str(self.data_dir / "log"), "-w", "start"
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data_dir / "data"), "-m", "fast", "-w", "stop")


PASSWORD = "the-right-store-password"  # the private test server's own superuser password


def _private(password: str | None) -> Iterator[PrivatePostgres]:
    """A fresh server: trust authentication, or (a password given) scram-sha-256 for every connection."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (needed for a private server)")
    base = Path(tempfile.mkdtemp(prefix="v1proxy-pg-"))
    auth = ["--auth=trust"]
    if password is not None:
        (base / "pwfile").write_text(password + "\n", encoding="utf-8")
        auth = ["--auth=scram-sha-256", f"--pwfile={base / 'pwfile'}"]
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
        if password is not None:
            shutil.chown(base / "pwfile", "postgres", "postgres")
    server = PrivatePostgres(bin_dir, base, _free_port())
    server._run("initdb", "-D", str(base / "data"), "-U", "postgres", *auth, "-E", "UTF8", "--no-sync")
    server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    yield from _private(None)


@pytest.fixture
def private_postgres_with_password() -> Iterator[PrivatePostgres]:
    """A private server that asks every client for the superuser's PASSWORD (scram-sha-256)."""
    yield from _private(PASSWORD)

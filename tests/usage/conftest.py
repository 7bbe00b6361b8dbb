"""Fixtures for the usage tests: a throwaway REAL PostgreSQL server and a per-test ledger URL.

The server comes from Debian's ``postgresql`` package (``apt-get install -y postgresql``):
``initdb``/``pg_ctl`` under ``/usr/lib/postgresql/*/bin``. It is initdb'ed in a temp dir,
listens on a free port on 127.0.0.1 (unix socket in the temp dir) and is stopped at the end
of the test session. As root it runs as the ``postgres`` user (initdb refuses root).
Set ``CHIMEIN_TEST_POSTGRES_URL=postgresql://user@host:port/db`` to use an existing server
instead (a CI service container, say); each test then gets its own database there.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

APT_HINT = "install Debian's PostgreSQL server package: apt-get install -y postgresql"


def _pg_bindir() -> Path | None:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """A running PostgreSQL server; ``new_database()`` gives each test a clean database."""

    def __init__(self, admin_url: str, stop: Callable[[], None] | None = None) -> None:
        self.admin_url = admin_url
        self._stop = stop

    def new_database(self) -> str:
        import psycopg

        name = "chimein_test_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        base, _, _ = self.admin_url.rpartition("/")
        return f"{base}/{name}"

    def stop(self) -> None:
        if self._stop:
            self._stop()


def _start_local_server() -> PgServer:
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip(f"PostgreSQL server binaries (initdb, pg_ctl) not found: {APT_HINT}")
    as_user: list[str] = []
    tmp = Path(tempfile.mkdtemp(prefix="chimein-pg-"))
    if os.geteuid() == 0:
        try:
            pg = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(tmp, ignore_errors=True)
            pytest.skip(f"running as root and no 'postgres' user to run initdb as: {APT_HINT}")
        runuser = shutil.which("runuser")
        if runuser is None:
            shutil.rmtree(tmp, ignore_errors=True)
            pytest.skip("running as root and 'runuser' (util-linux) is missing")
        os.chown(tmp, pg.pw_uid, pg.pw_gid)
        as_user = [runuser, "-u", "postgres", "--"]
    data, log = tmp / "data", tmp / "server.log"
    port = _free_port()

    def run(*cmd: str | Path) -> None:
        subprocess.run([*as_user, *map(str, cmd)], check=True, capture_output=True, text=True, timeout=120)

    try:
        run(
            bindir / "initdb",
            "-D",
            data,
            "-A",
            "trust",
            "-U",
            "chimein",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        opts = (
            f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 "
            "-c shared_buffers=16MB -c max_connections=40 -c fsync=on -c synchronous_commit=on"
        )
        run(bindir / "pg_ctl", "-D", data, "-l", log, "-o", opts, "-w", "-t", "60", "start")
    except subprocess.CalledProcessError as e:
        detail = (e.stderr or "") + (log.read_text() if log.exists() else "")
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeError(f"could not start a throwaway PostgreSQL server: {detail}") from e

    def stop() -> None:  # immediate: no shutdown checkpoint, the data dir is thrown away
        try:
            run(bindir / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    return PgServer(f"postgresql://chimein@127.0.0.1:{port}/postgres", stop)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A real PostgreSQL server for this test session (skips, naming the apt package, if absent)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg 3 is not installed: pip install 'psycopg[binary]'")
    external = os.environ.get("CHIMEIN_TEST_POSTGRES_URL")
    server = PgServer(external) if external else _start_local_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty ledger URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'ledger.sqlite3'}"
    return request.getfixturevalue("pg_server").new_database()

"""Fixtures for the scale-out tests: a REAL PostgreSQL, REAL ``chimein serve`` replicas and a REAL HAProxy.

The pieces are the ones ``deploy/local-cluster.sh`` starts (chimein/server/cluster.py): Debian's
``postgresql`` (a throwaway initdb) and ``haproxy`` with ``deploy/haproxy.cfg.in``. Missing
packages skip the tests with the apt-get line that installs them (scripts/test-services.sh does).
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chimein.server import cluster
from chimein.server.launch import LaunchedServer, launch_server

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def postgres() -> Iterator[cluster.LocalPostgres]:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg 3 is not installed: pip install 'psycopg[binary]'")
    if cluster.postgres_bindir() is None:
        pytest.skip(f"PostgreSQL server binaries (initdb, pg_ctl) not found: {cluster.APT_HINT}")
    try:
        pg = cluster.start_postgres()
    except RuntimeError as exc:
        pytest.skip(str(exc))
    yield pg
    pg.stop()


@pytest.fixture
def fresh_database(postgres: cluster.LocalPostgres) -> str:
    """A new, empty database on the throwaway server."""
    import psycopg

    name = "chimein_" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return postgres.url.rsplit("/", 1)[0] + "/" + name


@dataclass
class Cluster:
    """Two replicas sharing one PostgreSQL, behind HAProxy (TLS terminated there)."""

    work: Path
    home: Path
    ledger: str
    replicas: dict[str, LaunchedServer]
    proxy: cluster.HAProxy
    tls_port: int
    plain_port: int
    extra: tuple[str, ...]
    history: list[LaunchedServer]
    """Every replica process started, restarted ones included (their logs name their sessions)."""

    @property
    def base_url(self) -> str:  # what tests.e2e.client.sdk_client reads
        return f"https://127.0.0.1:{self.tls_port}"

    @property
    def cert(self) -> Path:
        return self.home / "tls" / "cert.pem"

    def serving(self, session_id: str) -> str | None:
        """Which replica logged ``session <id> opened``."""
        for replica in self.history:
            if any(f"session {session_id} opened" in line for line in list(replica.output)):
                return replica.name
        return None

    def restart(self, name: str) -> LaunchedServer:
        """Start a replica again on the same plain port, and wait until HAProxy's health checks have
        brought it back: a test that kills the other replica before that leaves HAProxy none (503)."""
        old = self.replicas[name]
        assert old.plain_port is not None
        new = launch_server(self.home, "--ledger", self.ledger, *self.extra, "--plain-port", str(old.plain_port),
                            cwd=REPO, name=name)
        # launch_server passes --plain-port 0 first; argparse keeps the last value given.
        assert new.plain_port == old.plain_port, (new.plain_port, old.plain_port)
        self.replicas[name] = new
        self.history.append(new)
        cluster.wait_until_up("127.0.0.1", new.plain_port)
        self.proxy.wait_server_up(name)
        return new


REPLICA_ARGS = ("--drain-s", "20", "--log-level", "info")


@pytest.fixture(scope="module")
def two_replicas(postgres: cluster.LocalPostgres) -> Iterator[Cluster]:
    if cluster.haproxy_binary() is None:
        pytest.skip(f"haproxy not found: {cluster.APT_HINT}")
    import psycopg

    with psycopg.connect(postgres.url, autocommit=True) as conn:
        name = "chimein_cluster_" + uuid.uuid4().hex[:8]
        conn.execute(f"CREATE DATABASE {name}")
    ledger = postgres.url.rsplit("/", 1)[0] + "/" + name
    work = Path(tempfile.mkdtemp(prefix="chimein-cluster-test-"))
    home = work / "home"
    replicas = {r.name: r for r in cluster.start_replicas(home, 2, ledger, REPLICA_ARGS)}
    proxy = None
    try:
        pem = cluster.combined_pem(home / "tls" / "cert.pem", home / "tls" / "key.pem", work / "haproxy.pem")
        tls_port, plain_port = cluster.free_port(), cluster.free_port()
        config = work / "haproxy.cfg"
        config.write_text(cluster.haproxy_config(
            bind="127.0.0.1", tls_port=tls_port, plain_port=plain_port, pem=pem,
            servers=[(r.name, "127.0.0.1", r.plain_port) for r in replicas.values()]))
        proxy = cluster.HAProxy(config)
        cluster.wait_until_up("127.0.0.1", plain_port)
        yield Cluster(work, home, ledger, replicas, proxy, tls_port, plain_port, REPLICA_ARGS, list(replicas.values()))
    finally:
        if proxy is not None:
            proxy.stop()
        for r in replicas.values():  # Cluster.restart replaces entries in this same dict
            r.stop(timeout_s=5)
        shutil.rmtree(work, ignore_errors=True)

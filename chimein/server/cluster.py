"""Several replicas on one machine, for trying the scale-out set-up: PostgreSQL + N ``chimein serve`` + HAProxy.

``deploy/local-cluster.sh`` runs :func:`main`; tests/deploy uses the same pieces, so what the
script starts is what the tests check. Every part is the real one: Debian's ``postgresql`` (a
throwaway ``initdb`` in a temp dir, unless ``--ledger`` names a running server), Debian's
``haproxy`` with ``deploy/haproxy.cfg.in``, and ``chimein serve`` child processes sharing the
database for usage and resumption handles. Ctrl-C (or SIGTERM) drains the replicas one by one.
"""

from __future__ import annotations

import argparse
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from chimein.server.launch import LaunchedServer, launch_server

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "deploy" / "haproxy.cfg.in"
APT_HINT = "apt-get install -y postgresql haproxy"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def haproxy_binary() -> str | None:
    return shutil.which("haproxy") or next((p for p in ("/usr/sbin/haproxy",) if os.access(p, os.X_OK)), None)


def postgres_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("pg_ctl") else None


@dataclass
class LocalPostgres:
    """A throwaway PostgreSQL server in a temp dir (``url`` names its ``chimein`` database)."""

    url: str
    stop: Callable[[], None]


def start_postgres(workdir: Path | None = None) -> LocalPostgres:
    """``initdb`` + ``pg_ctl start`` on a free port (as the ``postgres`` user when run as root)."""
    bindir = postgres_bindir()
    if bindir is None:
        raise RuntimeError(f"PostgreSQL server binaries (initdb, pg_ctl) not found: {APT_HINT}")
    tmp = Path(tempfile.mkdtemp(prefix="chimein-pg-", dir=workdir))
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        try:
            pg = pwd.getpwnam("postgres")
        except KeyError:
            raise RuntimeError(f"running as root and no 'postgres' user to run initdb as: {APT_HINT}") from None
        os.chown(tmp, pg.pw_uid, pg.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, log, port = tmp / "data", tmp / "server.log", free_port()

    def run(*cmd: str | Path) -> None:
        subprocess.run([*as_user, *map(str, cmd)], check=True, capture_output=True, text=True, timeout=120)

    try:
        run(bindir / "initdb", "-D", data, "-A", "trust", "-U", "chimein", "-E", "UTF8", "--locale=C", "--no-sync")
        opts = (f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c shared_buffers=16MB -c max_connections=60 "
                "-c fsync=on -c synchronous_commit=on")
        run(bindir / "pg_ctl", "-D", data, "-l", log, "-o", opts, "-w", "-t", "60", "start")
        run(bindir / "createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "chimein", "chimein")
    except subprocess.CalledProcessError as e:
        detail = (e.stderr or "") + (log.read_text() if log.exists() else "")
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeError(f"could not start a throwaway PostgreSQL server: {detail}") from e

    def stop() -> None:
        try:
            run(bindir / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    return LocalPostgres(f"postgresql://chimein@127.0.0.1:{port}/chimein", stop)


def combined_pem(cert: Path, key: Path, out: Path) -> Path:
    """HAProxy wants the certificate and its key in one file."""
    out.write_text(cert.read_text() + key.read_text())
    out.chmod(0o600)
    return out


def haproxy_config(*, bind: str, tls_port: int, plain_port: int, pem: Path,
                   servers: Sequence[tuple[str, str, int]], template: Path = TEMPLATE) -> str:
    """``deploy/haproxy.cfg.in`` filled in; ``servers`` are (name, host, plain port) of the replicas."""
    lines = "\n".join(f"    server {name} {host}:{port}" for name, host, port in servers)
    values = {"@BIND@": bind, "@TLS_PORT@": str(tls_port), "@PLAIN_PORT@": str(plain_port), "@PEM@": str(pem),
              "@SERVERS@": lines}
    filled = []
    for line in template.read_text().splitlines():
        if not line.lstrip().startswith("#"):  # the comments name the placeholders
            for name, value in values.items():
                line = line.replace(name, value)
        filled.append(line)
    return "\n".join(filled) + "\n"


class HAProxy:
    """``haproxy -db -f CFG`` in the foreground, its output kept (``output``)."""

    def __init__(self, config: Path) -> None:
        binary = haproxy_binary()
        if binary is None:
            raise RuntimeError(f"haproxy not found: {APT_HINT}")
        check = subprocess.run([binary, "-c", "-f", str(config)], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"haproxy rejected {config}:\n{check.stdout}{check.stderr}")
        self.log = config.with_suffix(".log")
        self._log_file = self.log.open("w")
        self.process = subprocess.Popen([binary, "-db", "-f", str(config)], stdout=self._log_file,
                                        stderr=subprocess.STDOUT)

    @property
    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def server_state(self, name: str) -> str:
        """``UP`` or ``DOWN``: the last state change HAProxy logged for server ``name`` (``UP`` if none:
        servers start up)."""
        states = re.findall(rf"Server [^/\s]+/{re.escape(name)} is (UP|DOWN)", self.output)
        return states[-1] if states else "UP"

    def wait_server_up(self, name: str, timeout_s: float = 30.0) -> None:
        """Until HAProxy's health checks have brought server ``name`` back (``rise 2``: about 2 s)."""
        deadline = time.monotonic() + timeout_s
        while self.server_state(name) != "UP":
            if time.monotonic() > deadline:
                raise RuntimeError(f"HAProxy still has {name} down after {timeout_s:.0f} s:\n{self.output[-2000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log_file.close()


def wait_until_up(host: str, port: int, path: str = "/readyz", timeout_s: float = 30.0) -> None:
    """Until ``GET path`` on host:port answers 200 (a replica, or HAProxy reaching one)."""
    import http.client

    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection(host, port, timeout=2)
            conn.request("GET", path)
            response = conn.getresponse()
            last = f"{response.status} {response.read().decode(errors='replace').strip()}"
            if response.status == 200:
                return
        except OSError as exc:
            last = str(exc)
        time.sleep(0.3)
    raise RuntimeError(f"http://{host}:{port}{path} not ready after {timeout_s:.0f} s: {last}")


def start_replicas(home: Path, count: int, ledger: str, extra: Sequence[str] = (),
                   logs: Path | None = None) -> list[LaunchedServer]:
    """``count`` replicas sharing ``home`` (one TLS certificate) and the ledger database.

    The first starts alone (it creates the certificate), the others then start together.
    ``logs``: a folder for each replica's output (``r1.log``...).
    """
    def log(name: str) -> Path | None:
        return logs / f"{name}.log" if logs is not None else None

    first = launch_server(home, "--ledger", ledger, *extra, name="r1", log=log("r1"))
    rest: list[LaunchedServer] = []
    try:
        import concurrent.futures

        with concurrent.futures.ThreadPoolExecutor(max(1, count - 1)) as pool:
            futures = [pool.submit(launch_server, home, "--ledger", ledger, *extra, name=f"r{i}", log=log(f"r{i}"))
                       for i in range(2, count + 1)]
            rest = [f.result() for f in futures]
    except BaseException:
        first.stop()
        for r in rest:
            r.stop()
        raise
    return [first, *rest]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="deploy/local-cluster.sh",
        description="Start PostgreSQL, N chimein replicas and HAProxy on this machine; Ctrl-C drains and stops them. "
        "Clients connect to HAProxy exactly as to one server.")
    parser.add_argument("--replicas", type=int, default=2, help="how many `chimein serve` processes (default 2)")
    parser.add_argument("--port", type=int, default=8443, help="HAProxy's TLS port for the SDK (default 8443)")
    parser.add_argument("--plain-port", type=int, default=8080, help="HAProxy's ws:// port (default 8080)")
    parser.add_argument("--ledger", help="a running PostgreSQL (postgresql://...); default: a throwaway one")
    parser.add_argument("--home", type=Path, help="CHIMEIN_HOME of the replicas (default: a temp dir)")
    parser.add_argument("serve_args", nargs=argparse.REMAINDER,
                        help="after --: more `chimein serve` options for every replica (e.g. -- --llm-url ...)")
    args = parser.parse_args(argv)
    extra = [a for a in args.serve_args if a != "--"]
    if args.replicas < 1:
        parser.error("--replicas must be at least 1")
    if haproxy_binary() is None:
        print(f"haproxy not found: {APT_HINT}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="chimein-cluster-"))
    home = args.home or work / "home"
    stops: list[Callable[[], None]] = []
    try:
        if args.ledger:
            ledger = args.ledger
        else:
            print("starting PostgreSQL...", flush=True)
            pg = start_postgres()  # its own temp dir: the postgres user must reach it
            stops.append(pg.stop)
            ledger = pg.url
        print(f"starting {args.replicas} replicas (models load once per process)...", flush=True)
        replicas = start_replicas(home, args.replicas, ledger, extra, logs=work)
        stops.extend(r.stop for r in replicas)
        for r in replicas:
            print(f"  {r.name}: pid {r.process.pid}, ws://127.0.0.1:{r.plain_port}, "
                  f"metrics http://127.0.0.1:{r.plain_port}/metrics, log {work / (r.name + '.log')}")
        cert = home / "tls" / "cert.pem"
        pem = combined_pem(cert, home / "tls" / "key.pem", work / "haproxy.pem")
        config = work / "haproxy.cfg"
        config.write_text(haproxy_config(bind="127.0.0.1", tls_port=args.port, plain_port=args.plain_port, pem=pem,
                                         servers=[(r.name, "127.0.0.1", r.plain_port) for r in replicas]))
        proxy = HAProxy(config)
        stops.append(proxy.stop)
        wait_until_up("127.0.0.1", args.plain_port)
        print(f"""
HAProxy: wss://127.0.0.1:{args.port} (SDK), ws://127.0.0.1:{args.plain_port} (browsers); config {config}, log {proxy.log}
ledger:  {ledger}   (chimein usage --ledger {ledger})

    export SSL_CERT_FILE={cert}
    client = genai.Client(api_key="any-key", http_options=types.HttpOptions(base_url="https://127.0.0.1:{args.port}"))

Drain one replica:  kill -TERM {replicas[0].process.pid}   (its clients get goAway and resume on another)
Load:               chimein load --url https://127.0.0.1:{args.port} --cert {cert} --sessions 4
Ctrl-C stops everything.
""", flush=True)
        stopped = {"now": False}

        def on_signal(*_: object) -> None:
            stopped["now"] = True

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        while not stopped["now"]:
            time.sleep(0.5)
            for r in replicas:
                if r.process.poll() is not None and not getattr(r, "_reported", False):
                    print(f"{r.name} exited with {r.process.returncode}", flush=True)
                    r._reported = True  # type: ignore[attr-defined]
        return 0
    except RuntimeError as exc:
        print(f"chimein cluster: {exc}", file=sys.stderr)
        return 1
    finally:
        for stop in reversed(stops):
            try:
                stop()
            except Exception as exc:  # keep stopping the rest
                print(f"while stopping: {exc}", file=sys.stderr)
        print(f"logs and HAProxy config kept in {work}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())

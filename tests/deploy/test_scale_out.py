"""Two replicas behind a REAL HAProxy sharing a REAL PostgreSQL, driven by the public google-genai SDK only.

A client connects through HAProxy (TLS terminated there), co-listens to a real recording, and
the replica serving it is drained (SIGTERM): the client gets ``goAway``, reconnects through
HAProxy with its handle, lands on the other replica, and is answered about the recording. A
replica killed with SIGKILL loses no conversation either. Used or expired handles are refused
with 1008, and the one ledger adds up both replicas' usage without counting anything twice.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import signal
import ssl
import subprocess
import sys
import time

import pytest
from google.genai import errors, types

from chimein.usage.ledger import open_ledger
from chimein.usage.tokens import AUDIO_TOKENS_PER_SECOND
from tests.deploy.conftest import REPO, Cluster
from tests.e2e.client import MODEL, sdk_client

pytestmark = [pytest.mark.slow, pytest.mark.real_recordings]

QUESTION = "What did the speaker ask Americans to do?"
RESUMABLE = types.LiveConnectConfig(response_modalities=["TEXT"], session_resumption=types.SessionResumptionConfig())


def _resume(handle: str) -> types.LiveConnectConfig:
    return types.LiveConnectConfig(response_modalities=["TEXT"],
                                   session_resumption=types.SessionResumptionConfig(handle=handle))


def _file(data: bytes) -> types.Content:
    return types.Content(role="user", parts=[types.Part(inline_data=types.Blob(data=data, mime_type="audio/wav"))])


async def _next_handle(session, *, after_not_resumable: bool = False, timeout_s: float = 120.0) -> str:
    """The next resumable handle; ``after_not_resumable``: the first after a ``resumable: false``
    update (a shared store says so while a recording is heard; the handle after it holds the recording)."""
    async def wait() -> str:
        waiting = after_not_resumable
        while True:
            async for message in session.receive():
                update = message.session_resumption_update
                if update and not update.resumable:
                    waiting = False
                elif update and update.new_handle and not waiting:
                    return update.new_handle

    return await asyncio.wait_for(wait(), timeout_s)


async def _ask(session, question: str, timeout_s: float = 90.0) -> str:
    await session.send_client_content(turns=types.Content(role="user", parts=[types.Part(text=question)]),
                                      turn_complete=True)
    texts: list[str] = []

    async def collect() -> None:
        async for message in session.receive():
            if message.text:
                texts.append(message.text)
            if message.server_content and message.server_content.turn_complete:
                return

    await asyncio.wait_for(collect(), timeout_s)
    return "".join(texts)


async def _serving(cluster: Cluster, session_id: str) -> str:
    for _ in range(50):  # the replica's output reaches us through a pipe-reading thread
        name = cluster.serving(session_id)
        if name is not None:
            return name
        await asyncio.sleep(0.1)
    raise AssertionError(f"no replica logged session {session_id}")


def _get(port: int, path: str, *, tls_cafile: str | None = None) -> tuple[int, str]:
    if tls_cafile:
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            "127.0.0.1", port, timeout=10, context=ssl.create_default_context(cafile=tls_cafile))
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path)
    response = conn.getresponse()
    return response.status, response.read().decode()


def _jfk(real_data) -> tuple[bytes, int]:
    import soundfile as sf

    path = real_data / "speech" / "jfk_inaugural_1961.wav"
    info = sf.info(path)
    return path.read_bytes(), -(-info.frames * AUDIO_TOKENS_PER_SECOND // info.samplerate)


def test_health_and_metrics_on_both_ports(two_replicas: Cluster) -> None:
    replica = two_replicas.replicas["r1"]
    cafile = str(two_replicas.cert)
    for port, tls in ((replica.plain_port, None), (replica.tls_port, cafile)):
        assert _get(port, "/livez", tls_cafile=tls) == (200, "ok\n")
        status, body = _get(port, "/readyz", tls_cafile=tls)
        assert status == 200 and body.startswith("ready: "), body
        status, body = _get(port, "/metrics", tls_cafile=tls)
        assert status == 200
        for name in ("chimein_sessions_open 0.0", 'chimein_turns_total{outcome="answered"}',
                     "chimein_answer_latency_seconds_bucket", "chimein_model_requests_in_flight",
                     "process_cpu_seconds_total", "process_resident_memory_bytes", "chimein_max_sessions 12.0"):
            assert name in body, name
    # Through HAProxy too: its health checks reach the replicas, so /readyz answers there.
    assert _get(two_replicas.plain_port, "/readyz")[0] == 200


async def test_used_or_expired_handles_are_refused_with_1008(two_replicas: Cluster) -> None:
    import psycopg

    client = sdk_client(two_replicas)
    async with client.aio.live.connect(model=MODEL, config=RESUMABLE) as session:
        handle = await _next_handle(session)
    async with client.aio.live.connect(model=MODEL, config=_resume(handle)) as session:
        newest = await _next_handle(session)  # a resumed session hands out a fresh handle at once
        with pytest.raises(errors.APIError) as caught:  # the same handle again, from another connection
            async with client.aio.live.connect(model=MODEL, config=_resume(handle)) as second:
                await _ask(second, "hello", timeout_s=30)
        assert caught.value.code == 1008 and "already used" in str(caught.value), str(caught.value)
    with psycopg.connect(two_replicas.ledger, autocommit=True) as conn:  # two hours pass, by the database clock
        conn.execute("UPDATE chimein_resumption SET expires_at = now() - interval '1 second' WHERE handle = %s",
                     (newest,))
    with pytest.raises(errors.APIError) as caught:
        async with client.aio.live.connect(model=MODEL, config=_resume(newest)) as session:
            await _ask(session, "hello", timeout_s=30)
    assert caught.value.code == 1008 and "expired" in str(caught.value), str(caught.value)


async def test_drained_replica_sends_go_away_and_the_client_resumes_on_the_other(two_replicas: Cluster,
                                                                                real_data) -> None:
    wav, file_tokens = _jfk(real_data)
    client = sdk_client(two_replicas)
    async with client.aio.live.connect(model=MODEL, config=RESUMABLE) as session:
        first_id = session.session_id
        await session.send_client_content(turns=_file(wav), turn_complete=False)
        handle = await _next_handle(session, after_not_resumable=True)
        name = await _serving(two_replicas, first_id)
        drained = two_replicas.replicas[name]
        other = next(n for n in two_replicas.replicas if n != name)
        drained.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        go_away = None

        async def wait_go_away() -> None:
            nonlocal go_away, handle
            while go_away is None:
                async for message in session.receive():
                    update = message.session_resumption_update
                    if update and update.resumable and update.new_handle:
                        handle = update.new_handle
                    if message.go_away is not None:
                        go_away = message.go_away
                        return

        await asyncio.wait_for(wait_go_away(), 30)
        print(f"goAway {go_away.time_left} after {time.monotonic() - signalled:.2f} s")
        status, body = _get(drained.plain_port, "/readyz")
        assert status == 503 and "draining" in body, body
        metrics = _get(drained.plain_port, "/metrics")[1]
        assert 'chimein_go_away_total{why="drain"} 1.0' in metrics and "chimein_sessions_open 1.0" in metrics
        assert float(str(go_away.time_left).rstrip("s")) == 20.0  # --drain-s 20
    left = time.monotonic()
    async with client.aio.live.connect(model=MODEL, config=_resume(handle)) as session:
        print(f"resumed through HAProxy in {time.monotonic() - left:.2f} s")
        assert await _serving(two_replicas, session.session_id) == other
        second_id = session.session_id
        answer = await _ask(session, QUESTION)
        assert "for your country" in answer, answer
    assert drained.process.wait(timeout=60) == 0, "".join(drained.output[-20:])
    print(f"drained replica exited 0, {time.monotonic() - signalled:.1f} s after SIGTERM")
    assert any("drained in" in line for line in drained.output)

    # The file was billed once, on the first replica; resuming re-bills nothing.
    ledger = open_ledger(two_replicas.ledger)
    try:
        first, second = ledger.events(session_id=first_id), ledger.events(session_id=second_id)
    finally:
        ledger.close()
    assert abs(sum(e.prompt_audio_tokens for e in first) - file_tokens) <= 1, (first, file_tokens)
    assert sum(e.prompt_audio_tokens for e in second) == 0 and sum(e.prompt_text_tokens for e in second) > 0
    assert len({e.sequence for e in first}) == len(first)
    two_replicas.restart(name)


async def test_replica_killed_mid_session_the_client_resumes_from_its_last_handle(two_replicas: Cluster,
                                                                                  real_data) -> None:
    wav, _ = _jfk(real_data)
    client = sdk_client(two_replicas)
    handle = None
    with pytest.raises(Exception) as dropped:  # the SDK reports the lost connection its own way
        async with client.aio.live.connect(model=MODEL, config=RESUMABLE) as session:
            await session.send_client_content(turns=_file(wav), turn_complete=False)
            handle = await _next_handle(session, after_not_resumable=True)
            name = await _serving(two_replicas, session.session_id)
            two_replicas.replicas[name].process.send_signal(signal.SIGKILL)
            await asyncio.wait_for(_ask(session, QUESTION), 30)
    print(f"the client saw: {type(dropped.value).__name__}: {str(dropped.value)[:120]}")
    assert handle is not None
    two_replicas.replicas[name].process.wait(timeout=30)
    async with client.aio.live.connect(model=MODEL, config=_resume(handle)) as session:
        survivor = await _serving(two_replicas, session.session_id)
        assert survivor != name
        answer = await _ask(session, QUESTION)
        assert "for your country" in answer, (answer, "".join(two_replicas.replicas[survivor].output[-30:]))
    metrics = _get(two_replicas.replicas[survivor].plain_port, "/metrics")[1]
    answered = next(line for line in metrics.splitlines() if line.startswith('chimein_turns_total{outcome="answered"}'))
    assert float(answered.split()[-1]) >= 1, answered
    resumed = next(line for line in metrics.splitlines() if line.startswith('chimein_sessions_total{kind="resumed"}'))
    assert float(resumed.split()[-1]) >= 1, resumed
    two_replicas.restart(name)


def test_one_ledger_reports_both_replicas_usage(two_replicas: Cluster) -> None:
    ledger = open_ledger(two_replicas.ledger)
    try:
        events = ledger.events()
    finally:
        ledger.close()
    by_replica: dict[str, set[str]] = {}
    for session_id in {e.session_id for e in events}:
        name = two_replicas.serving(session_id)
        assert name is not None, f"session {session_id} is in the ledger but no replica served it"
        by_replica.setdefault(name, set()).add(session_id)
    assert set(by_replica) == {"r1", "r2"}, by_replica
    done = subprocess.run([sys.executable, "-m", "chimein.cli", "usage", "--ledger", two_replicas.ledger, "--json"],
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["sessions"] == sum(len(s) for s in by_replica.values())
    assert report["events"] == len(events)

"""The outbox: frames leave in the order they were made; a client that hung up is a normal end."""

from __future__ import annotations

import logging

import pytest

from chimein.session.outbox import Disconnected, Outbox


async def test_frames_leave_in_order_and_close_flushes():
    sent: list[int] = []

    async def send(message: dict) -> None:
        sent.append(message["n"])

    outbox = Outbox(send, "s")
    for n in range(50):
        outbox.put({"n": n})
    await outbox.close()
    assert sent == list(range(50))
    outbox.put({"n": 99})  # after close: dropped, not sent
    assert sent[-1] == 49


async def test_a_client_that_hung_up_stops_output_without_an_error(caplog: pytest.LogCaptureFixture):
    async def send(message: dict) -> None:
        raise Disconnected("1000 (OK)")

    outbox = Outbox(send, "s")
    outbox.put({"n": 1})
    outbox.put({"n": 2})
    await outbox.close()
    assert not outbox.open
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def test_a_real_send_failure_is_logged(caplog: pytest.LogCaptureFixture):
    async def send(message: dict) -> None:
        raise TypeError("not JSON serialisable")

    outbox = Outbox(send, "s")
    outbox.put({"n": 1})
    await outbox.close()
    assert any(r.levelno >= logging.ERROR and r.exc_info for r in caplog.records)

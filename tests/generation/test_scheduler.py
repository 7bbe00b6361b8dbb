"""GenerationScheduler: arrival order, capacity, deadline, cancel, and the load a readiness check reads."""

from __future__ import annotations

import threading
import time

import pytest

from chimein.generation.scheduler import GenerationScheduler, OverCapacity, PriorityLock, process_load


def _hold(scheduler: GenerationScheduler, release: threading.Event, admitted: threading.Event) -> threading.Thread:
    def run() -> None:
        with scheduler.slot():
            admitted.set()
            release.wait(10)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert admitted.wait(5)
    return thread


def test_requests_are_admitted_in_arrival_order_up_to_capacity():
    scheduler = GenerationScheduler(2, deadline_s=10)
    release = threading.Event()
    holders = [_hold(scheduler, release, threading.Event()) for _ in range(2)]
    order: list[int] = []
    waiters = []
    for i in range(6):
        def run(i: int = i) -> None:
            with scheduler.slot():
                order.append(i)
                time.sleep(0.01)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        waiters.append(thread)
        deadline = time.monotonic() + 5
        while scheduler.load().waiting < i + 1 and time.monotonic() < deadline:  # queued in this order
            time.sleep(0.005)
    load = scheduler.load()
    assert (load.active, load.waiting, load.capacity) == (2, 6, 2)
    release.set()
    for thread in holders + waiters:
        thread.join(5)
    assert order == list(range(6))
    assert scheduler.load().active == 0 and scheduler.load().admitted == 8


def test_a_request_past_its_deadline_is_refused_with_a_clear_message_and_flags_over_capacity():
    scheduler = GenerationScheduler(1, deadline_s=0.2)
    release = threading.Event()
    holder = _hold(scheduler, release, threading.Event())
    started = time.monotonic()
    with pytest.raises(OverCapacity, match="over capacity.*1 answers running"):
        with scheduler.slot():
            pass
    assert 0.15 <= time.monotonic() - started < 3
    load = scheduler.load()
    assert load.refused == 1 and load.waiting == 0
    assert load.over_capacity  # refused recently
    release.set()
    holder.join(5)


def test_a_long_wait_reports_over_capacity_before_anything_is_refused():
    scheduler = GenerationScheduler(1, deadline_s=30)
    release = threading.Event()
    holder = _hold(scheduler, release, threading.Event())
    assert not scheduler.over_capacity  # full, but nobody waits
    waiter = threading.Thread(target=lambda: scheduler.slot().__enter__(), daemon=True)
    waiter.start()
    time.sleep(0.7)
    load = scheduler.load()
    assert load.waiting == 1 and load.oldest_wait_s >= 0.5 and load.over_capacity
    assert process_load().over_capacity  # the process-wide view sees it too
    release.set()
    holder.join(5)


def test_cancel_leaves_the_queue_and_lets_the_next_in():
    scheduler = GenerationScheduler(1, deadline_s=10)
    release = threading.Event()
    holder = _hold(scheduler, release, threading.Event())
    cancel = threading.Event()
    got: list[bool] = []

    def first() -> None:
        with scheduler.slot(cancel) as admitted:
            got.append(admitted)

    t1 = threading.Thread(target=first, daemon=True)
    t1.start()
    time.sleep(0.1)
    cancel.set()
    t1.join(2)
    assert got == [False] and scheduler.load().waiting == 0
    release.set()
    holder.join(5)
    with scheduler.slot() as admitted:  # nothing leaked
        assert admitted and scheduler.load().active == 1
    assert scheduler.load().active == 0


def test_optional_work_only_takes_a_free_slot():
    scheduler = GenerationScheduler(1)
    with scheduler.slot_if_free() as first:
        assert first
        with scheduler.slot_if_free() as second:
            assert not second
    assert scheduler.load().active == 0


def test_capacity_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        GenerationScheduler(0)


def _request(max_tokens: int = 80, *, speaking: bool = False, served_at: float = 0.0):
    import numpy as np

    from chimein.generation.batched import _Request

    relaxed = threading.Event()
    if speaking:
        relaxed.set()
    r = _Request([1, 2, 3], None, max_tokens, 1.0, np.zeros(0, dtype=np.intp), frozenset(), None, relaxed)
    r.served_at = served_at
    return r


def test_engine_serves_the_oldest_unspoken_answer_first_and_keeps_speaking_ones_at_speech_pace():
    from types import SimpleNamespace

    from chimein.generation.batched import PREFILL_CHUNK_WITH_SPEAKERS, BatchedLlamaEngine

    engine = SimpleNamespace(n_batch=512)
    now = time.perf_counter()
    speaking_due = _request(speaking=True, served_at=now - 1.0)
    speaking_fresh = _request(speaking=True, served_at=now)
    first, second = _request(), _request()
    prefill = _request(0)
    chosen, chunk = BatchedLlamaEngine._plan(engine, [speaking_due, first, speaking_fresh, second, prefill])
    # the oldest question without its first clause, alone among the new ones; a speaking answer that
    # has waited its interval rides along; the one just served and the prefill wait
    assert chosen == [first, speaking_due]
    assert chunk == PREFILL_CHUNK_WITH_SPEAKERS  # a long prompt is fed in pieces while voices speak
    chosen, chunk = BatchedLlamaEngine._plan(engine, [speaking_due, speaking_fresh, prefill])
    assert chosen == [speaking_due, speaking_fresh] and chunk == 512  # nothing urgent: all speaking ones
    chosen, _ = BatchedLlamaEngine._plan(engine, [prefill])
    assert chosen == [prefill]  # prefills ahead of time run when nothing else does
    chosen, chunk = BatchedLlamaEngine._plan(engine, [second, first])
    assert chosen == [second] and chunk == 512  # arrival order, full batches when nobody speaks
    many = [_request(speaking=True, served_at=now - 1.0 + i * 0.01) for i in range(6)]
    chosen, _ = BatchedLlamaEngine._plan(engine, [*many, first])
    assert chosen == [first, many[0], many[1]]  # a few speaking answers per step, the longest waiting


def test_priority_lock_serves_first_clauses_before_later_ones_then_in_arrival_order():
    """While one clause is synthesised, a later clause and then two first clauses queue: the first
    clauses go next, in the order they came, then the later clause (#12)."""
    lock = PriorityLock()
    order: list[str] = []
    release = threading.Event()

    def holder() -> None:
        with lock.hold(1):
            release.wait(5)
            order.append("playing")

    def waiter(name: str, priority: int) -> None:
        with lock.hold(priority):
            order.append(name)

    threads = [threading.Thread(target=holder)]
    threads[0].start()
    time.sleep(0.05)
    for name, priority in (("later clause", 1), ("first clause A", 0), ("first clause B", 0)):
        t = threading.Thread(target=waiter, args=(name, priority))
        t.start()
        threads.append(t)
        time.sleep(0.05)
    release.set()
    for t in threads:
        t.join(5)
    assert order == ["playing", "first clause A", "first clause B", "later clause"]

"""One queue for every answer the process generates: first come, first served, with a deadline.

All sessions of a process share one answer engine. Without a scheduler, whoever grabs the
engine's lock next wins, so under load a question can wait behind any number of later ones and
time out unanswered. :class:`GenerationScheduler` admits requests strictly in arrival order, up
to ``capacity`` at once (the engine's parallel slots: the embedded model decodes that many
conversations in one batch; a remote server runs that many requests side by side). A request
still waiting at its deadline fails with :class:`OverCapacity`, whose message tells the caller
what to do, instead of hanging.

:func:`process_load` sums every live scheduler so a readiness probe can say "over capacity,
send new sessions elsewhere" before questions start waiting (``over_capacity``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import heapq
import itertools
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["GenerationLoad", "GenerationScheduler", "OverCapacity", "PriorityLock", "loop_view", "process_load",
           "run_in_own_thread"]

OVER_CAPACITY_WAIT_S = 0.5
"""A queued request older than this means answers are being delayed: the process is over capacity."""
REFUSED_MEMORY_S = 10.0
"""After a refusal, report over capacity for this long (the queue may have drained since)."""
DEFAULT_DEADLINE_S = 20.0
"""How long a question may wait for a free slot before it is refused. A spoken answer that starts
20 s late is still better than none; beyond that the person has given up."""


class OverCapacity(Exception):
    """A request waited past its deadline for a free generation slot."""


@dataclass(frozen=True)
class GenerationLoad:
    """What a readiness check needs to know about the answer engine(s) of this process."""

    capacity: int
    """Requests that can run at once."""
    active: int
    """Requests running now."""
    waiting: int
    """Requests queued for a slot."""
    oldest_wait_s: float
    """How long the oldest queued request has waited (0 when none waits)."""
    admitted: int
    """Requests admitted since start."""
    refused: int
    """Requests that missed their deadline since start."""
    over_capacity: bool
    """True when answers are being delayed (a request has waited more than 0.5 s for a slot) or one
    was refused in the last 10 s: new sessions should go elsewhere."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class _Ticket:
    __slots__ = ("arrived", "admitted")

    def __init__(self) -> None:
        self.arrived = time.monotonic()
        self.admitted = False


_SCHEDULERS: weakref.WeakSet[GenerationScheduler] = weakref.WeakSet()
_REGISTRY_LOCK = threading.Lock()


class GenerationScheduler:
    """FIFO admission of generation requests to ``capacity`` slots, with a per-request deadline.

    Thread-safe; :meth:`slot` blocks the calling worker thread (answers are produced in worker
    threads), never the event loop. A cancelled request leaves the queue at once.
    """

    def __init__(self, capacity: int, *, deadline_s: float = DEFAULT_DEADLINE_S, name: str = "llm") -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self.deadline_s = deadline_s
        self.name = name
        self._cond = threading.Condition()
        self._queue: deque[_Ticket] = deque()
        self._active = 0
        self._admitted = 0
        self._refused = 0
        self._refused_at = -1e9
        with _REGISTRY_LOCK:
            _SCHEDULERS.add(self)

    @contextmanager
    def slot(
        self, cancel: threading.Event | None = None, *, deadline_s: float | None = None
    ) -> Iterator[bool]:
        """Hold one slot for the body of the ``with``; yields False (and holds nothing) if cancelled first.

        Raises :class:`OverCapacity` when no slot frees up within the deadline.
        """
        admitted = self._acquire(cancel, self.deadline_s if deadline_s is None else deadline_s)
        try:
            yield admitted
        finally:
            if admitted:
                self._release()

    @contextmanager
    def slot_if_free(self) -> Iterator[bool]:
        """Hold a slot only if one is free now and nobody waits (for optional work such as prefill)."""
        with self._cond:
            admitted = not self._queue and self._active < self.capacity
            if admitted:
                self._active += 1
        try:
            yield admitted
        finally:
            if admitted:
                self._release()

    def _acquire(self, cancel: threading.Event | None, deadline_s: float) -> bool:
        ticket = _Ticket()
        limit = ticket.arrived + deadline_s
        with self._cond:
            self._queue.append(ticket)
            try:
                while True:
                    if cancel is not None and cancel.is_set():
                        return False
                    if self._queue[0] is ticket and self._active < self.capacity:
                        self._queue.popleft()
                        self._active += 1
                        self._admitted += 1
                        ticket.admitted = True
                        return True
                    left = limit - time.monotonic()
                    if left <= 0:
                        self._refused += 1
                        self._refused_at = time.monotonic()
                        raise OverCapacity(
                            f"the answer engine is over capacity: {self._active} answers running, "
                            f"{len(self._queue) - 1} more waiting, none free within {deadline_s:.0f} s. "
                            "Try again shortly, run more server processes, or use a faster model (--llm-url)."
                        )
                    # wake often enough to notice a cancel promptly
                    self._cond.wait(timeout=min(left, 0.05) if cancel is not None else left)
            finally:
                if not ticket.admitted:
                    try:
                        self._queue.remove(ticket)
                    except ValueError:
                        pass
                    self._cond.notify_all()  # the next in line may now be first

    def _release(self) -> None:
        with self._cond:
            self._active -= 1
            self._cond.notify_all()

    def load(self) -> GenerationLoad:
        with self._cond:
            now = time.monotonic()
            waiting = len(self._queue)
            oldest = now - self._queue[0].arrived if waiting else 0.0
            return GenerationLoad(
                capacity=self.capacity,
                active=self._active,
                waiting=waiting,
                oldest_wait_s=round(oldest, 3),
                admitted=self._admitted,
                refused=self._refused,
                over_capacity=oldest >= OVER_CAPACITY_WAIT_S or now - self._refused_at < REFUSED_MEMORY_S,
            )

    @property
    def over_capacity(self) -> bool:
        return self.load().over_capacity


def process_load() -> GenerationLoad:
    """The load of every generation scheduler in this process, summed (for /readyz).

    With no scheduler yet (no model loaded), reports zero capacity and not over capacity.
    """
    with _REGISTRY_LOCK:
        loads = [s.load() for s in list(_SCHEDULERS)]
    return GenerationLoad(
        capacity=sum(x.capacity for x in loads),
        active=sum(x.active for x in loads),
        waiting=sum(x.waiting for x in loads),
        oldest_wait_s=max((x.oldest_wait_s for x in loads), default=0.0),
        admitted=sum(x.admitted for x in loads),
        refused=sum(x.refused for x in loads),
        over_capacity=any(x.over_capacity for x in loads),
    )


LoadProbe = Callable[[], GenerationLoad]
"""What a readiness check calls: :func:`process_load` by default."""


def loop_view(call: concurrent.futures.Future[Any]) -> asyncio.Future[Any]:
    """An awaitable on the running loop for a call running in another thread.

    Cancelling the view leaves the call alone (a dropped turn's transcription can still serve a
    split; a producer finishes its own clean-up). A call that finishes after the loop closed is
    dropped quietly: nobody is waiting for it.
    """
    loop = asyncio.get_running_loop()
    view: asyncio.Future[Any] = loop.create_future()

    def settle(done: concurrent.futures.Future[Any]) -> None:
        if view.done():
            return
        if done.cancelled():
            view.cancel()
        elif done.exception() is not None:
            view.set_exception(done.exception())  # type: ignore[arg-type]
        else:
            view.set_result(done.result())

    def hand_over(done: concurrent.futures.Future[Any]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(settle, done)

    call.add_done_callback(hand_over)
    return view


def run_in_own_thread(fn: Callable[[], Any]) -> asyncio.Future[Any]:
    """Run a blocking answer producer on its own thread; a future of its result on the running loop.

    Not the loop's default executor: that pool has only cpu_count + 4 threads, and the sessions
    also run voice activity detection, speech recognition and synthesis through it. Producers
    that wait for a generation slot would hold those threads, and under load every session's
    listening would stall behind the answer queue.
    """
    loop = asyncio.get_running_loop()
    counted = getattr(loop, "answer_executor", None)
    if counted is not None:  # the benchmark's virtual clock counts model work in its own executor
        return loop.run_in_executor(counted, fn)
    call: concurrent.futures.Future[Any] = concurrent.futures.Future()

    def run() -> None:
        call.set_running_or_notify_cancel()
        try:
            call.set_result(fn())
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
            call.set_exception(exc)

    view = loop_view(call)
    threading.Thread(target=run, name="answer-producer", daemon=True).start()
    return view


class PriorityLock:
    """A lock whose waiters are served by priority (lower first), then in arrival order.

    The voice serves every session of the process one clause at a time. Under load an answer's
    first clause must not wait behind other answers' later clauses: those play after audio that is
    already on its way, so they can wait (#12).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._held = False
        self._waiting: list[tuple[int, int]] = []
        self._tickets = itertools.count()

    @contextmanager
    def hold(self, priority: int = 0) -> Iterator[None]:
        ticket = (priority, next(self._tickets))
        with self._cond:
            heapq.heappush(self._waiting, ticket)
            while self._held or self._waiting[0] != ticket:
                self._cond.wait()
            heapq.heappop(self._waiting)
            self._held = True
        try:
            yield
        finally:
            with self._cond:
                self._held = False
                self._cond.notify_all()

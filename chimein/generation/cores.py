"""Whether the answer model may use a second core right now.

llama.cpp's OpenMP workers meet at a barrier after every operation, a few hundred times a token.
On the 2-core VM (#12), decoding SmolLM2-135M took 24 ms a token on one thread, 13-15 ms on two
workers that spin briefly at the barrier (``GOMP_SPINCOUNT=10000``), but 57-100 ms on those two
when anything else held the other core, which is most of the time under load: listening
sessions' VAD and Whisper, the voice, other processes. Two workers that sleep at the barrier
(``OMP_WAIT_POLICY=PASSIVE``) were never that bad but were slow when idle (53-55 ms a token).

So the decoding thread asks :class:`SpareCores` before every ``llama_decode``: two threads only
while nothing else is runnable on the machine at that moment. The moment, not an average of the
last tenth of a second: at the end of a question the recogniser has just finished, and an
average would still count it; what holds a core for long (a transcription, a voice, another
process) is also runnable when looked at, and what is not (a 1 ms VAD call) costs the spinning
worker little.
"""

from __future__ import annotations

import ctypes
import os
import threading
import time
from pathlib import Path

__all__ = ["SpareCores", "name_this_thread"]

_TASKS_RESCAN_STEPS = 200
RECHECKS = 2
RECHECK_S = 0.0005
"""A task seen runnable is looked for again this many times, this far apart, before one thread is
chosen, where a second core was free a step ago or the step is a batch: at the end of a question
the event loop and the client are busy for a millisecond or two with its transcript, just as
the question's last words go in (seen in the bench: 3 of 8 steps on two cores, first token
0.10-0.14 s against 0.05-0.07 s). Under steady load the previous step was on one thread and no
second look is taken."""
_PR_SET_NAME = 15


def name_this_thread(name: str) -> None:
    """Set the calling thread's kernel name (15 bytes); threads it starts (OpenMP's) inherit it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the threads keep their names
        pass


def _cpu_quota_limited() -> bool:
    """A cgroup CPU quota: /proc/loadavg then counts the host's tasks, not this container's."""
    try:
        quota = Path("/sys/fs/cgroup/cpu.max").read_text().split()[0]
    except (OSError, IndexError):
        return False
    return quota != "max"


class SpareCores:
    """How many threads the answer model's next step may use (at most ``max_threads``).

    ``threads()`` is called by the decoding thread before each step (~30 us; up to ~1 ms with
    ``RECHECKS``): the runnable tasks of the whole machine (``/proc/loadavg``), less the caller
    and its own OpenMP workers (this process's threads named ``thread_name`` that are running),
    leave that many cores. Where that cannot be read (not Linux, a cgroup CPU quota, one core)
    it always answers 1, the setting that is never much worse than the best one.
    """

    def __init__(self, max_threads: int, *, thread_name: str = "llama-batch") -> None:
        self.max_threads = max(1, max_threads)
        self.thread_name = thread_name
        self.cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
        # Workers told to sleep at every barrier (OMP_WAIT_POLICY=PASSIVE) make two threads slower
        # than one on an idle machine: then one it is.
        passive = os.environ.get("OMP_WAIT_POLICY", "").strip().upper() == "PASSIVE"
        self.enabled = (self.max_threads > 1 and self.cores >= 2 and not passive
                        and os.path.exists("/proc/loadavg") and not _cpu_quota_limited())
        self._workers: list[str] = []
        self._steps = 0
        self._threads = 1
        self.others_running = 0
        """Other runnable tasks at the latest look (for logs and tests)."""

    def threads(self, *, batch: bool = False) -> int:
        """Threads for the next step; ``batch``: it evaluates several tokens (a longer step)."""
        if not self.enabled:
            return 1
        if self._steps % _TASKS_RESCAN_STEPS == 0:
            self._workers = self._our_threads()
        self._steps += 1
        others = self._others_running()
        looks = RECHECKS if (batch or self._threads > 1) else 0
        while others and looks and self.enabled:
            time.sleep(RECHECK_S)
            others, looks = self._others_running(), looks - 1
        self.others_running = others
        self._threads = max(1, min(self.max_threads, self.cores - others)) if self.enabled else 1
        return self._threads

    def _others_running(self) -> int:
        try:
            with open("/proc/loadavg") as f:
                running = int(f.read().split()[3].split("/")[0])
        except (OSError, IndexError, ValueError):
            self.enabled = False
            return 0
        ours = 1 + sum(1 for tid in self._workers if self._running(tid))
        return max(0, running - ours)

    def _running(self, tid: str) -> bool:
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] == "R"
        except (OSError, IndexError):
            self._steps = 0  # a thread went away: look again next time
            return False

    def _our_threads(self) -> list[str]:
        """This process's threads named ``thread_name`` other than the caller (its OpenMP workers)."""
        me = str(threading.get_native_id())
        tids = []
        for task in Path("/proc/self/task").iterdir():
            try:
                if task.name != me and (task / "comm").read_text().strip() == self.thread_name:
                    tids.append(task.name)
            except OSError:
                continue
        return tids

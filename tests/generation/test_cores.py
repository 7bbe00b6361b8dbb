"""The answer model's second thread: taken only while the machine leaves a core spare."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from chimein.generation import cores
from chimein.generation.cores import SpareCores, name_this_thread

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


@linux_only
def test_busy_cores_leave_one_thread() -> None:
    spare = SpareCores(2)
    if not spare.enabled:
        pytest.skip("one core or a cgroup CPU quota: SpareCores always answers 1 here")
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(spare.cores)]
    try:
        time.sleep(0.3)
        answers = [spare.threads() for _ in range(20)]
    finally:
        for p in spinners:
            p.kill()
            p.wait()
    assert spare.others_running >= 1
    assert answers.count(1) >= 18, answers  # a spinner may be caught between time slices


@linux_only
def test_its_own_openmp_workers_are_not_other_work() -> None:
    """Threads started by the named decoding thread inherit its name and are counted as its own."""
    seen: list[list[str]] = []
    release = threading.Event()

    def decoding_thread() -> None:
        name_this_thread("chimein-test")
        worker = threading.Thread(target=release.wait)
        worker.start()
        spare = SpareCores(2, thread_name="chimein-test")
        seen.append(spare._our_threads())
        release.set()
        worker.join()

    t = threading.Thread(target=decoding_thread)
    t.start()
    t.join()
    assert len(seen[0]) == 1  # the worker, not the caller


def test_passive_openmp_workers_mean_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_WAIT_POLICY", "passive")
    assert not SpareCores(2).enabled
    assert SpareCores(2).threads() == 1


def test_a_cpu_quota_means_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.setattr(cores, "_cpu_quota_limited", lambda: True)
    assert SpareCores(2).threads() == 1

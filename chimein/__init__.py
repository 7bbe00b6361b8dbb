"""chimein: a self-hosted, offline Live API server with Proactive Audio."""

import ctypes
import os

# Set before numpy and llama.cpp load, whoever imports chimein (the CLI, the tests, a script):
# - llama.cpp's OpenMP threads (prompt evaluation) meet at a barrier after every operation. By
#   default a waiting thread spins 300,000 times and then stalls whenever another process holds a
#   core (first token up to 2.5 s on a loaded 2-core machine); a passive one sleeps at once, and
#   waking it is slow on an idle VM (first token ~200 ms). Spinning 1,000 times, then sleeping:
#   110-120 ms idle, 250 ms beside a busy core as passive (#12, docs/latency.md stop 11).
# - numpy's OpenBLAS helper thread spins after every small matmul (Smart Turn's and the voice
#   prints' log-mel, Whisper's features): 0.037 CPU-s per audio-s of one listening session for
#   nothing; one thread made those steps faster, not slower (#12).
os.environ.setdefault("OMP_WAIT_POLICY", "ACTIVE")
os.environ.setdefault("GOMP_SPINCOUNT", "1000")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _cap_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives each thread that allocates its own heap (up to 8 per core) and keeps what they
    freed; with a dozen sessions' worker threads that is memory nobody uses."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return  # not glibc: nothing to cap
    libc.mallopt(-8, arenas)  # M_ARENA_MAX


_cap_malloc_arenas()

__version__ = "0.1.0"

"""chimein: a self-hosted, offline Live API server with Proactive Audio."""

import ctypes
import os

# Set before numpy and llama.cpp load, whoever imports chimein (the CLI, the tests, a script):
# - llama.cpp's OpenMP workers busy-wait at each barrier by default (up to 300000 spins) and then
#   stall whenever another thread holds the core (first token up to 2.5 s on a loaded 2-core
#   machine); workers that only sleep are slow to wake on an idle VM (53 ms a token against 24
#   on one thread). A short spin, and a second thread only while a core is spare
#   (generation/cores.py), gets 13-15 ms a token idle and one thread's speed under load.
# - numpy's OpenBLAS helper thread spins after every small matmul (Smart Turn's and the voice
#   prints' log-mel, Whisper's features): 0.037 CPU-s per audio-s of one listening session for
#   nothing; one thread made those steps faster, not slower (#12).
os.environ.setdefault("GOMP_SPINCOUNT", "10000")
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

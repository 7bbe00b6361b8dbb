"""chimein: a self-hosted, offline Live API server with Proactive Audio."""

import ctypes
import os

# Set before numpy and llama.cpp load, whoever imports chimein (the CLI, the tests, a script):
# - llama.cpp's OpenMP threads busy-wait by default and then stall whenever another process holds a
#   core (measured: first token 115 ms passive vs up to 2.5 s spinning on a loaded 2-core machine).
# - numpy's OpenBLAS helper thread spins after every small matmul (Smart Turn's and the voice
#   prints' log-mel, Whisper's features): 0.037 CPU-s per audio-s of one listening session for
#   nothing; one thread made those steps faster, not slower (#12).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
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

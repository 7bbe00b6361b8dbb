"""chimein: a self-hosted, offline Live API server with Proactive Audio."""

import os

# Set before numpy and llama.cpp load, whoever imports chimein (the CLI, the tests, a script):
# - llama.cpp's OpenMP threads busy-wait by default and then stall whenever another process holds a
#   core (measured: first token 115 ms passive vs up to 2.5 s spinning on a loaded 2-core machine).
# - numpy's OpenBLAS helper thread spins after every small matmul (Smart Turn's and the voice
#   prints' log-mel, Whisper's features): 0.037 CPU-s per audio-s of one listening session for
#   nothing; one thread made those steps faster, not slower (#12).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"

"""Runs `llama_cpp.server` (the real OpenAI-compatible server) with ggml's extra CPU buffer types off.

Same arguments as `python -m llama_cpp.server`. Why the wrapper: on AMX-capable Xeons inside some
VMs, ggml's AMX kernel dies with a general protection fault (`ldtilecfg`) on the first
multi-token batch, and the server has no option to turn it off. chimein's EmbeddedLlama does the
same (see chimein.generation.batched.BatchedLlamaEngine); on other machines this is plain llama_cpp.server.
"""

from __future__ import annotations

import llama_cpp.llama as llama_module
from llama_cpp.server.__main__ import main

_original = llama_module.llama_cpp.llama_model_default_params


def _defaults_without_extra_buffers():
    params = _original()
    params.use_extra_bufts = False
    return params


if __name__ == "__main__":
    llama_module.llama_cpp.llama_model_default_params = _defaults_without_extra_buffers
    main()

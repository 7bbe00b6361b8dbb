"""The embedded answer model's speed and memory with flash attention on or off (issue #12).

One conversation growing turn by turn (first token and time per text piece, from the third turn
on), or N conversations answering at once (``--concurrent``: wall time for all answers, first
token); the process's RSS after loading and its peak. Run each setting several times,
alternating, on a quiet machine:

    for r in 1 2 3; do for f in off auto; do
      .venv/bin/python scripts/measure_llm_attention.py --flash $f; done; done
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import chimein  # noqa: F401  (thread settings before llama.cpp loads)

QUESTIONS = (
    "What is the capital of France?", "How far away is the moon?", "Who wrote Romeo and Juliet?",
    "What's a good name for a cat?", "How many legs does a spider have?", "What's the boiling point of water?",
    "Why is the sky blue?", "What is a prime number?",
)


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) // 1024
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flash", choices=("off", "on", "auto"), default="off")
    parser.add_argument("--kv", choices=("f16", "q8_0"), default="f16", help="KV cache type (q8_0 needs --flash on)")
    parser.add_argument("--rounds", type=int, default=3, help="times through the questions")
    parser.add_argument("--concurrent", type=int, default=0, help="conversations answering at once (0: one long one)")
    args = parser.parse_args()

    import llama_cpp

    from chimein.generation import batched
    from chimein.generation.llm import ChatMessage, EmbeddedLlama

    defaults = llama_cpp.llama_context_default_params

    def params():  # what BatchedLlamaEngine gets, then overrides
        p = defaults()
        if args.kv == "q8_0":
            p.type_k = p.type_v = llama_cpp.GGML_TYPE_Q8_0
        return p

    llama_cpp.llama_context_default_params = params
    engine_init = batched.BatchedLlamaEngine.__init__

    flash = {"off": False, "on": True, "auto": None}[args.flash]

    def init(self, *a, **k):
        engine_init(self, *a, **k, flash_attention=flash)

    batched.BatchedLlamaEngine.__init__ = init

    before = _status("VmRSS")
    model = EmbeddedLlama()
    loaded = _status("VmRSS") - before
    label = f"flash {args.flash}, {args.kv} cache"
    if not args.concurrent:
        messages: list[ChatMessage] = []
        firsts, pieces = [], []
        for i, question in enumerate(QUESTIONS * args.rounds):
            messages.append(ChatMessage("user", question))
            start = time.perf_counter()
            first, n, reply = None, 0, ""
            for piece in model.stream_reply(messages, conversation="long", max_tokens=24):
                first = first if first is not None else time.perf_counter() - start
                n, reply = n + 1, reply + piece
            total = time.perf_counter() - start
            messages.append(ChatMessage("assistant", reply))
            if i >= 2 and first is not None:
                firsts.append(first)
                pieces.append((total - first) / max(1, n - 1))
        print(f"{label}: first token median {statistics.median(firsts) * 1000:.0f} ms (max {max(firsts) * 1000:.0f}), "
              f"{statistics.median(pieces) * 1000:.1f} ms per piece, {model.last_prompt_tokens} prompt tokens at the end, "
              f"RSS after load +{loaded} MiB, peak {_status('VmHWM')} MiB")
        return
    walls, firsts = [], []
    for r in range(args.rounds + 1):
        got: dict[int, float] = {}

        def answer(i: int, got: dict[int, float] = got) -> None:
            messages = [ChatMessage("user", f"Tell me about the number {i}."), ChatMessage("assistant", "It is a number."),
                        ChatMessage("user", QUESTIONS[i % len(QUESTIONS)])]
            start = time.perf_counter()
            for _ in model.stream_reply(messages, conversation=f"c{i}", max_tokens=24):
                got.setdefault(i, time.perf_counter() - start)

        threads = [threading.Thread(target=answer, args=(i,)) for i in range(args.concurrent)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if r:  # the first round fills the slots
            walls.append(time.perf_counter() - start)
            firsts.append(statistics.median(got.values()))
    print(f"{label}, {args.concurrent} at once: all answers in {statistics.median(walls):.2f} s (median of {len(walls)}), "
          f"first token median {statistics.median(firsts):.2f} s, RSS after load +{loaded} MiB, peak {_status('VmHWM')} MiB")


if __name__ == "__main__":
    main()

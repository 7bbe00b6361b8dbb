"""Where a turn's time goes after the transcript, by turn index, over a long conversation.

    .venv/bin/python scripts/measure_turn_stages.py --turns 30 --baseline-tree /work/wt/i12-base

For each turn of one text conversation (the same questions as `chimein bench latency`), in the
process that the code under test runs in: prompt tokens, tokens evaluated (not found in the
cache), first token, first clause and first synthesised audio, measured from the moment the
answer is asked for. With --baseline-tree the same run is repeated with that checkout's code,
alternating rounds (new, baseline, new, baseline ...), so both see the same machine load.

    .venv/bin/python scripts/measure_turn_stages.py --concurrent 1,4,8,12 --baseline-tree /work/wt/i12-base

measures the answer engine under load instead: N conversations each ask one question within
--stagger-s of each other; time from each question to its first clause (what the voice waits
for) and to the whole answer.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one_run(turns: int) -> list[dict[str, float | int | str]]:
    """The measurement itself (runs in a child process with the tree under test on PYTHONPATH)."""
    questions = json.loads(os.environ["CHIMEIN_STAGE_QUESTIONS"])  # the baseline tree may lack bench.latency
    from chimein.generation.llm import EmbeddedLlama
    from chimein.generation.text import ClauseSplitter
    from chimein.generation.tts import shared_synthesizer
    from chimein.memory.conversation import Conversation

    llm = EmbeddedLlama.shared()
    synth = shared_synthesizer("heart")
    synth.synthesize("Ready.")
    system = "You are a helpful voice assistant in a family kitchen."
    conv = Conversation()
    rows = []
    for i in range(turns):
        if hasattr(conv, "next_turn_head"):  # what the session does when the person starts to speak
            llm.prefill(conv.next_turn_head(system), conversation=conv.key)
        conv.add_user(questions[i % len(questions)])
        t0 = time.perf_counter()
        plan = conv.answer_plan(system)
        splitter = ClauseSplitter(max_sentences=2)
        first_token = first_clause = first_audio = None
        clauses: list[str] = []
        for delta in plan.stream_reply(llm, max_tokens=80):
            if first_token is None:
                first_token = time.perf_counter() - t0
            for clause in splitter.feed(delta):
                if first_clause is None:
                    first_clause = time.perf_counter() - t0
                    synth.synthesize(clause)
                    first_audio = time.perf_counter() - t0
                clauses.append(clause)
        for clause in splitter.flush():
            if first_clause is None:
                first_clause = time.perf_counter() - t0
                synth.synthesize(clause)
                first_audio = time.perf_counter() - t0
            clauses.append(clause)
        answer = " ".join(clauses)
        conv.add_assistant(answer)
        rows.append({
            "turn": i + 1,
            "prompt_tokens": llm.last_prompt_tokens,
            "evaluated_tokens": llm.last_prompt_tokens - llm.last_cached_tokens,
            "first_token_s": round(first_token or 0.0, 4),
            "first_clause_s": round(first_clause or 0.0, 4),
            "first_audio_s": round(first_audio or 0.0, 4),
            "answer": answer,
        })
    return rows


def concurrent_run(n: int, stagger_s: float, seed: int) -> list[dict[str, float | str]]:
    """N conversations, each with one question arriving within ``stagger_s``: time to each first clause."""
    import random
    import threading

    questions = json.loads(os.environ["CHIMEIN_STAGE_QUESTIONS"])
    from chimein.generation.llm import EmbeddedLlama
    from chimein.generation.text import ClauseSplitter
    from chimein.memory.conversation import Conversation

    llm = EmbeddedLlama.shared()
    system = "You are a helpful voice assistant in a family kitchen."
    warm = Conversation()
    warm.add_user("Hello!")
    "".join(warm.answer_plan(system).stream_reply(llm, max_tokens=20))
    rng = random.Random(seed)
    offsets = sorted(rng.uniform(0, stagger_s) for _ in range(n))
    rows: list[dict[str, float | str]] = [{} for _ in range(n)]
    start = time.perf_counter() + 0.2

    def one(k: int) -> None:
        conv = Conversation()
        conv.add_user(questions[(seed + k) % len(questions)])
        time.sleep(max(0.0, start + offsets[k] - time.perf_counter()))
        t0 = time.perf_counter()
        splitter = ClauseSplitter(max_sentences=2)
        first_clause = None
        clauses = []
        for delta in conv.answer_plan(system).stream_reply(llm, max_tokens=80):
            for clause in splitter.feed(delta):
                if first_clause is None:
                    first_clause = time.perf_counter() - t0
                clauses.append(clause)
        clauses += splitter.flush()
        if first_clause is None:
            first_clause = time.perf_counter() - t0
        rows[k] = {"first_clause_s": round(first_clause, 4), "done_s": round(time.perf_counter() - t0, 4),
                   "answer": " ".join(clauses)}

    threads = [threading.Thread(target=one, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2, help="runs per tree, alternating")
    parser.add_argument("--baseline-tree", type=Path, help="a checkout of the previous commit")
    parser.add_argument("--json", type=Path, help="also write all rows here")
    parser.add_argument("--concurrent", default="",
                        help="instead of one long conversation: these numbers of conversations asking at once "
                             "(comma-separated, e.g. 1,4,8,12), each question within --stagger-s; time to first clause")
    parser.add_argument("--stagger-s", type=float, default=2.0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-concurrent", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.child_concurrent:
            print(json.dumps(concurrent_run(args.child_concurrent, args.stagger_s, 100 + args.child_concurrent)))
        else:
            print(json.dumps(one_run(args.turns)))
        return 0
    if args.concurrent:
        return concurrent_main(args)
    from chimein.bench.latency import QUESTIONS

    os.environ["CHIMEIN_STAGE_QUESTIONS"] = json.dumps(QUESTIONS)
    trees = {"new": ROOT}
    if args.baseline_tree:
        trees["baseline"] = args.baseline_tree.resolve()
    runs: dict[str, list[list[dict]]] = {name: [] for name in trees}
    for r in range(args.rounds):
        for name, tree in (trees.items() if r % 2 == 0 else reversed(trees.items())):
            env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{ROOT}"}
            out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", "--turns", str(args.turns)],
                                 env=env, cwd=tree, capture_output=True, text=True, check=True)
            runs[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"round {r + 1} {name} done (load {os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)
    print(f"{'turn':>4} " + " ".join(f"{name + ' ' + k:>22}" for name in trees for k in ("eval tok", "1st tok s", "1st audio s")))
    for i in range(args.turns):
        cells = []
        for name in trees:
            for key in ("evaluated_tokens", "first_token_s", "first_audio_s"):
                cells.append(statistics.median(run[i][key] for run in runs[name]))
        print(f"{i + 1:>4} " + " ".join(f"{c:>22.3f}" for c in cells))
    for name in trees:
        for lo, hi in ((0, 5), (5, 10), (10, 20), (20, args.turns)):
            if hi > args.turns or lo >= hi:
                continue
            vals = [run[i]["first_audio_s"] for run in runs[name] for i in range(lo, hi)]
            toks = [run[i]["evaluated_tokens"] for run in runs[name] for i in range(lo, hi)]
            print(f"{name:>8} turns {lo + 1:2d}-{hi:2d}: first audio median {statistics.median(vals):.3f} s, "
                  f"max {max(vals):.3f} s; evaluated tokens median {statistics.median(toks):.0f}")
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2))
    return 0


def concurrent_main(args: argparse.Namespace) -> int:
    from chimein.bench.latency import QUESTIONS

    os.environ["CHIMEIN_STAGE_QUESTIONS"] = json.dumps(QUESTIONS)
    trees = {"new": ROOT}
    if args.baseline_tree:
        trees["baseline"] = args.baseline_tree.resolve()
    levels = [int(x) for x in args.concurrent.split(",") if x.strip()]
    results: dict[str, dict[int, list[list[dict]]]] = {name: {n: [] for n in levels} for name in trees}
    for r in range(args.rounds):
        for li, n in enumerate(levels):
            order = list(trees.items()) if (r + li) % 2 == 0 else list(reversed(trees.items()))
            for name, tree in order:
                env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{ROOT}"}
                out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", "--child-concurrent",
                                      str(n), "--stagger-s", str(args.stagger_s)],
                                     env=env, cwd=tree, capture_output=True, text=True, check=True)
                results[name][n].append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(f"round {r + 1} {n} conversations {name} done (load {os.getloadavg()[0]:.1f})",
                      file=sys.stderr, flush=True)
    for n in levels:
        for name in trees:
            firsts = [row["first_clause_s"] for run in results[name][n] for row in run]
            done = [row["done_s"] for run in results[name][n] for row in run]
            print(f"{n:2d} at once, {name:>8}: first clause median {statistics.median(firsts):.3f} s, "
                  f"max {max(firsts):.3f} s; whole answer median {statistics.median(done):.3f} s, max {max(done):.3f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

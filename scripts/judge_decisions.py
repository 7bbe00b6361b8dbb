"""How much a turn judge (chimein/policy/judge.py) changes decisions on labelled turns.

    .venv/bin/python scripts/judge_decisions.py --oracle                    # the most a judge can add (dev)
    .venv/bin/python scripts/judge_decisions.py --llm-url http://127.0.0.1:8000   # a real model as the judge
    .venv/bin/python scripts/judge_decisions.py --llm-url ... --split heldout3     # held back: aggregates only
"""

from __future__ import annotations

from chimein.policy.judge import JUDGE_BAND, in_middle_band


def main(argv: list[str] | None = None) -> None:
    """Measure a judge on labelled turns: ``--oracle`` (always right: the most it can add) or ``--llm-url``."""
    import argparse
    import time

    from chimein.policy import calibrate
    from chimein.policy.proactivity import Thresholds, decide_from_features

    parser = argparse.ArgumentParser(prog="scripts/judge_decisions.py", description=main.__doc__)
    parser.add_argument("--split", default="dev", choices=["dev", "heldout", "heldout2", "heldout3"],
                        help="dev: the turns thresholds are tuned on; heldoutN: a held-back file (aggregates only)")
    parser.add_argument("--oracle", action="store_true", help="a judge that is always right, for bands 0.05-0.20")
    parser.add_argument("--llm-url", help="an OpenAI-compatible server to judge with")
    parser.add_argument("--llm-model", help="model name for --llm-url")
    parser.add_argument("--band", type=float, default=JUDGE_BAND, help=f"the band judged (default {JUDGE_BAND})")
    args = parser.parse_args(argv)
    if not args.oracle and not args.llm_url:
        parser.error("give --oracle or --llm-url")
    instructions, turns = calibrate.load_all(calibrate.ALL_DATA)
    turns = [t for t in turns if t.split == args.split]
    policies, features, _ = calibrate.compute_features(instructions, turns)
    th = Thresholds()
    base = [decide_from_features(policies[t.instruction].rules, f, th) for t, f in zip(turns, features, strict=True)]
    labels = [t.answer for t in turns]
    print(f"{args.split}: embedded policy  {calibrate.score(labels, [d.answer for d in base]).line()}")
    if args.oracle:
        for band in (0.05, 0.08, 0.10, 0.15, 0.20):
            asked = {i for i, d in enumerate(base) if in_middle_band(d.rule, d.scores.get("relevance"), th.topic, band)}
            oracle = [labels[i] if i in asked else d.answer for i, d in enumerate(base)]
            print(f"  oracle judge, band {band:.2f}: asks {len(asked):3d} ({len(asked) / len(turns):.0%})  "
                  f"{calibrate.score(labels, oracle).line()}")
    if args.llm_url:
        from chimein.session.services import language_model_judge

        judge = language_model_judge(args.llm_url, args.llm_model)
        judged, spent, unclear = [], 0.0, 0
        for t, d in zip(turns, base, strict=True):
            if not in_middle_band(d.rule, d.scores.get("relevance"), th.topic, args.band):
                judged.append(d.answer)
                continue
            started = time.perf_counter()
            verdict, _ = judge.verdict(instructions[t.instruction] or "", t.context, t.text)
            spent += time.perf_counter() - started
            unclear += verdict is None
            judged.append(d.answer if verdict is None else verdict)
        asked = sum(in_middle_band(d.rule, d.scores.get("relevance"), th.topic, args.band) for d in base)
        print(f"  judge {judge.where}, band {args.band:.2f}: asks {asked} ({asked / len(turns):.0%}), "
              f"{unclear} unclear, {spent / max(1, asked) * 1000:.0f} ms each  {calibrate.score(labels, judged).line()}")


if __name__ == "__main__":
    main()

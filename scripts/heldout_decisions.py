"""Held-back decisions (issue #11): text through the Live API, and spoken through the recogniser.

    .venv/bin/python scripts/heldout_decisions.py text   [--split heldout3|heldout2|heldout|dev|test] [--limit N]
    .venv/bin/python scripts/heldout_decisions.py spoken [--split heldout3|heldout2|heldout|dev|test] [--voices slt,rms,awb]
                                                         [--levels 0,-8,-14] [--no-hotwords] [--real N] [--errors] [--beam N]
                                                         [--no-second-opinion]

``heldout2`` is the held-back set written blind (report it first); ``--errors`` lists misheard
turns of the dev or test split only, never a held-back one.

``text``: starts ``chimein serve`` and, for every labelled turn of the split, opens a session with
the turn's instruction and proactive audio on, sends the turn's context as ``clientContent``
(not complete) and the turn as ``realtimeInput.text``; answered = a turnComplete without
RESPONSE_REJECTED. Prints precision / recall / F1, per instruction family.

``spoken``: each turn synthesised by CMU Flite voices chimein never uses nor was tuned on
(apt package ``flite``: slt female US, rms male US, awb male Scottish), one voice per turn in
rotation, at the given levels relative to -26 dBFS (in rotation, or every level with ``--every-level``), transcribed by the live recogniser
(Whisper tiny.en, with the instruction's recognition hints unless ``--no-hotwords``; a turn that
is declined under an instruction with names or a wake phrase heard again by Whisper base, as the
server does when idle, unless ``--no-second-opinion``), then decided by the policy with the turn's context as text. ``--real N`` adds N real recordings per
instruction (LibriSpeech/ARCTIC/VCTK read speech and AMI meeting talk from ../shared/data/real,
at the same levels): nobody there addresses the assistant, so each must stay silent. Also
reports the recall of the assistant's names and wake phrases in the transcripts.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from chimein.policy.calibrate import ALL_DATA, LabelledTurn, load_all, score  # noqa: E402

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
REAL_CLIPS = (
    "speech/librispeech_198-209-0000.wav", "speech/cmu_arctic_aew_a0002.wav", "speech/vctk_p286_011.wav",
    "speech/librispeech_test-other_2414-128291-0001.wav", "speech/ljspeech_LJ050-0131.wav",
    "speech/librispeech_test-other_367-130732-0007.wav", "speech/cmu_arctic_axb_a0005.wav",
    "speech/librivox_sense_and_sensibility_01_austen_64kb-0890.wav",
)


EXCLUDED: set[str] = set()
"""Instructions left out (--exclude): those whose held-back results were read while fixing."""


def _turns(split: str) -> tuple[dict[str, str | None], list[LabelledTurn]]:
    instructions, turns = load_all(ALL_DATA)
    return instructions, [t for t in turns if t.split == split and t.instruction not in EXCLUDED]


def _report(title: str, turns: list[LabelledTurn], predicted: list[bool]) -> None:
    s = score([t.answer for t in turns], predicted)
    print(f"{title}: {s.line()}")
    by_family: dict[str, list[int]] = defaultdict(list)
    for i, t in enumerate(turns):
        by_family[t.family or "-"].append(i)
    for family, idx in sorted(by_family.items()):
        f = score([turns[i].answer for i in idx], [predicted[i] for i in idx])
        print(f"   {family:12} {f.line()}")


# ---------------------------------------------------------------- text through the Live API

async def _text_turn(client, model: str, instruction: str | None, turn: LabelledTurn) -> bool:
    from google.genai import types

    config = types.LiveConnectConfig(
        response_modalities=["TEXT"], system_instruction=instruction or None,
        proactivity=types.ProactivityConfig(proactive_audio=True), max_output_tokens=8,
    )
    async with client.aio.live.connect(model=model, config=config) as session:
        if turn.context:
            turns = [types.Content(role="model" if c.is_assistant else "user", parts=[types.Part(text=c.text)])
                     for c in turn.context]
            await session.send_client_content(turns=turns, turn_complete=False)
        await session.send_realtime_input(text=turn.text)
        async for message in session.receive():
            content = message.server_content
            if content is not None and content.turn_complete:
                return "REJECTED" not in str(content.turn_complete_reason or "")
    raise RuntimeError(f"{turn.id}: the session ended without a turnComplete")


def run_text(split: str, limit: int | None) -> None:
    from tests.conftest import start_server, stop_server
    from tests.e2e.client import MODEL, sdk_client

    instructions, turns = _turns(split)
    turns = turns[:limit] if limit else turns
    home = Path(tempfile.mkdtemp(prefix="chimein-heldout-"))
    server = start_server(home)
    try:
        client = sdk_client(server)
        predicted = []
        started = time.monotonic()
        for t in turns:
            predicted.append(asyncio.run(_text_turn(client, MODEL, instructions[t.instruction], t)))
        print(f"{len(turns)} turns through realtimeInput.text in {time.monotonic() - started:.0f} s")
    finally:
        stop_server(server)
        shutil.rmtree(home, ignore_errors=True)
    _report(f"{split} text via the Live API", turns, predicted)


# ---------------------------------------------------------------- spoken

def flite(text: str, voice: str) -> np.ndarray:
    """``text`` spoken by a CMU Flite voice, float32 16 kHz (flite writes 16 kHz for slt/rms/awb)."""
    from chimein.perception.audio import decode_audio_file, resample

    exe = shutil.which("flite")
    if exe is None:
        raise SystemExit("spoken mode needs CMU Flite: apt-get install -y flite")
    with tempfile.NamedTemporaryFile(suffix=".wav") as wav:
        subprocess.run([exe, "-voice", voice, "-t", text, "-o", wav.name], check=True, capture_output=True)
        audio, rate = decode_audio_file(Path(wav.name).read_bytes(), None)
    return resample(audio, rate, 16000).astype(np.float32)


def _speak(text: str, voice: str) -> np.ndarray:
    """A Flite voice (slt, rms, awb, kal...) or one of chimein's bench voices (heart, joe, joe-high, heart-low)."""
    from chimein.bench.voices import VOICES, speak

    if voice in VOICES and not VOICES[voice].base.startswith("flite:"):
        return speak(text, voice)
    return flite(text, voice)


def _at_level(audio: np.ndarray, dbfs: float) -> np.ndarray:
    from chimein.perception.levels import speech_level_db

    return (audio * 10 ** ((dbfs - speech_level_db(audio)) / 20)).astype(np.float32)


def _key_words(rules) -> list[str]:
    return [n.lower() for n in rules.names] + [w.lower() for w in rules.wake_phrases]


def _said(text: str, phrase: str) -> bool:
    norm = " " + " ".join(re.findall(r"[a-z0-9']+", text.lower().replace("okay", "ok"))) + " "
    target = " " + " ".join(re.findall(r"[a-z0-9']+", phrase.lower().replace("okay", "ok"))) + " "
    return target in norm


def run_spoken(split: str, voices: list[str], levels: list[float], hotwords: bool, real: int,
               keyed_only: bool = False, every_level: bool = False, errors: bool = False, beam: int = 1,
               second_opinion: bool = True) -> None:
    from chimein.perception.asr import SpeechRecognizer
    from chimein.perception.audio import decode_audio_file, resample
    from chimein.policy.hints import recognition_hints, second_opinion_calls, wants_second_opinion
    from chimein.policy.proactivity import ProactivityPolicy

    instructions, turns = _turns(split)
    asr = SpeechRecognizer.shared("tiny.en")
    second = SpeechRecognizer.shared("base") if second_opinion else None
    seconds_taken = 0

    def hear_and_decide(policy, audio, hint, context=()):
        """As the server does on an idle machine: tiny.en, then Whisper base for a declined turn
        under an instruction with names or a wake phrase (policy.hints.wants_second_opinion)."""
        nonlocal seconds_taken
        heard = asr.transcribe(audio, hotwords=hint, beam_size=beam).text
        decision = policy.decide(heard, context) if heard.strip() else None
        if second is not None and wants_second_opinion(policy.rules, decision is not None and decision.answer):
            again = second.transcribe(audio, hotwords=hint, language="en").text
            if again.strip() and again.strip() != heard.strip():
                redecided = policy.decide(again, context)
                if second_opinion_calls(redecided.answer, redecided.rule):
                    heard, decision = again, redecided
                    seconds_taken += 1
        return heard, decision
    policies = {k: ProactivityPolicy(v) for k, v in instructions.items() if any(t.instruction == k for t in turns)}
    hints = {k: (recognition_hints(p.rules) if hotwords else None) for k, p in policies.items()}
    if keyed_only:  # only turns that say one of the instruction's names or wake phrases
        turns = [t for t in turns if any(_said(t.text, k) for k in _key_words(policies[t.instruction].rules))]
    # Each turn once, voices and levels in rotation (or, with every_level, each turn at every level).
    plan = ([(t, voices[i % len(voices)], lv) for lv in levels for i, t in enumerate(turns)] if every_level else
            [(t, voices[i % len(voices)], levels[(i // len(voices)) % len(levels)]) for i, t in enumerate(turns)])
    labelled: list[LabelledTurn] = []
    predicted: list[bool] = []
    key_hits = key_total = 0
    asr_s: list[float] = []
    started = time.monotonic()
    for t, voice, level in plan:
        audio = _at_level(_speak(t.text, voice), -26.0 + level)
        asr_started = time.perf_counter()
        policy = policies[t.instruction]
        heard, decision = hear_and_decide(policy, audio, hints[t.instruction], t.context)
        asr_s.append(time.perf_counter() - asr_started)
        for phrase in _key_words(policy.rules):
            if _said(t.text, phrase):
                key_total += 1
                key_hits += _said(heard, phrase)
        labelled.append(t)
        predicted.append(decision is not None and decision.answer)
        if errors and split in ("dev", "test") and predicted[-1] != t.answer:  # held-back turns are never listed
            why = decision.reason if decision is not None else "nothing heard"
            print(f"   {t.id:14} want={'answer' if t.answer else 'silent'} {voice} {level:+.0f} dB heard={heard!r} | {why}")
    if real and not REAL.is_dir():
        print(f"real recordings skipped: {REAL} not found (they come with ../shared beside the repository)")
    if real and REAL.is_dir() and not keyed_only:  # keyed-only: the turns that say a name, no recordings
        n = 0
        for level in levels:
            for key, policy in policies.items():
                for _ in range(real):
                    clip = REAL_CLIPS[n % len(REAL_CLIPS)]
                    n += 1
                    audio, rate = decode_audio_file((REAL / clip).read_bytes(), None)
                    audio = _at_level(resample(audio, rate, 16000)[: 16000 * 8], -26.0 + level)
                    heard, decision = hear_and_decide(policy, audio, hints[key])
                    family = next(t.family for t in turns if t.instruction == key)
                    labelled.append(LabelledTurn(f"{key}-real-{n}", key, split, True, (), "R", heard, False, clip, family))
                    predicted.append(decision is not None and decision.answer)
                    if errors and split in ("dev", "test") and predicted[-1]:  # a recording answered
                        print(f"   {key + '-real':14} want=silent {clip} {level:+.0f} dB heard={heard!r} | {decision.reason}")
    print(f"{len(labelled)} spoken turns ({', '.join(voices)}; levels {levels} dB; hotwords {'on' if hotwords else 'off'}; "
          f"{real} real recordings per instruction and level) in {time.monotonic() - started:.0f} s; "
          f"beam {beam}, recogniser median {1000 * float(np.median(asr_s)):.0f} ms per labelled turn; "
          f"second opinion (Whisper base) {'taken for ' + str(seconds_taken) + ' turns' if second else 'off'}")
    _report(f"{split} spoken", labelled, predicted)
    if key_total:
        print(f"name / wake-phrase recall in the transcripts: {key_hits}/{key_total} = {key_hits / key_total:.3f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("text", "spoken"))
    parser.add_argument("--split", default="heldout", choices=("heldout3", "heldout2", "heldout", "dev", "test"))
    parser.add_argument("--limit", type=int, default=None, help="text: only the first N turns")
    parser.add_argument("--voices", default="slt,rms,awb",
                        help="spoken: voices in rotation: Flite (slt, rms, awb) or chimein's (heart, joe, joe-high, heart-low)")
    parser.add_argument("--levels", default="0,-8,-14", help="spoken: levels in dB relative to -26 dBFS")
    parser.add_argument("--no-hotwords", action="store_true", help="spoken: recognise without the instruction's hints")
    parser.add_argument("--real", type=int, default=2, help="spoken: real recordings per instruction and level (silent)")
    parser.add_argument("--every-level", action="store_true",
                        help="spoken: every turn at every level (default: one rendering per turn, levels in rotation)")
    parser.add_argument("--keyed-only", action="store_true",
                        help="spoken: only the turns that say a name or wake phrase (for the recall figure)")
    parser.add_argument("--errors", action="store_true",
                        help="spoken: list the misclassified turns of the dev or test split (never a held-back one)")
    parser.add_argument("--beam", type=int, default=1,
                        help="spoken: Whisper beam size (the server decodes greedily, 1)")
    parser.add_argument("--no-second-opinion", action="store_true",
                        help="spoken: decide on tiny.en's words alone (the server's --no-second-opinion)")
    parser.add_argument("--exclude", action="append", default=[], metavar="INSTRUCTION",
                        help="leave out an instruction (repeatable), e.g. one whose held-back results were read: h-atlas")
    args = parser.parse_args(argv)
    EXCLUDED.update(args.exclude)
    if args.mode == "text":
        run_text(args.split, args.limit)
    else:
        levels = [float(x) for x in args.levels.split(",") if x.strip()]
        run_spoken(args.split, [v.strip() for v in args.voices.split(",") if v.strip()], levels,
                   not args.no_hotwords, args.real, args.keyed_only, args.every_level, args.errors, args.beam,
                   second_opinion=not args.no_second_opinion)


if __name__ == "__main__":
    main()

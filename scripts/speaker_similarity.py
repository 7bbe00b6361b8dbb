"""How well the speaker embedder tells voices apart: the figures behind chimein's voice thresholds.

    .venv/bin/python scripts/speaker_similarity.py            # bench voices, plus ../shared real speech if present

Prints cosine similarities of voice prints (perception/speakers.py) within one voice and between
voices: chimein's four bench voices clean, reverberant (like side talk) and low-passed with
reverb (like a TV), and, where ../shared/data/real exists, read speech by several real speakers.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from chimein.bench import dsp
from chimein.bench.voices import speak
from chimein.perception.audio import decode_audio_file, resample
from chimein.perception.speakers import SpeakerEmbedder

SENTENCES = [
    "Can you grab me a coffee when you go out?", "What time does the store close today?",
    "Do you know where I put my keys?", "I really like Italian food; do you know how to make a pizza?",
    "Oh yes, me too! My favorite is French cuisine.", "How long should the dough rest?",
]
VOICES = ["heart", "joe", "joe-high", "heart-low"]
CONDITIONS = {
    "clean": lambda a: a,
    "reverberant (side talk)": lambda a: dsp.reverb(a, 0.2, rt60_s=0.5) * 0.4,
    "low-passed + reverb (TV)": lambda a: dsp.reverb(dsp.lowpass(a, 3000), 0.3) * 0.2,
}
REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real" / "speech"


def _spread(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f} (median {np.median(values):.2f}, n={len(values)})"


def main() -> None:
    embedder = SpeakerEmbedder.shared()
    prints = {(v, i, c): embedder.embed(f(speak(s, v))) for v in VOICES for i, s in enumerate(SENTENCES)
              for c, f in CONDITIONS.items()}
    for condition in CONDITIONS:
        same, other = [], []
        keys = [k for k in prints if k[2] == condition and prints[k] is not None]
        for a, b in itertools.combinations(keys, 2):
            (same if a[0] == b[0] else other).append(float(prints[a] @ prints[b]))
        print(f"bench voices, {condition}: same voice {_spread(same)}; different voices {_spread(other)}")
    if REAL.is_dir():
        def speaker(name: str) -> str:
            parts = name.split("_")
            if parts[0] == "cmu":
                return parts[2]
            if parts[0] == "librispeech":
                return parts[-1].split("-")[0]
            return parts[0] + parts[1]

        real = {}
        for path in sorted(REAL.glob("*.wav")):
            audio, rate = decode_audio_file(path.read_bytes(), None)
            emb = embedder.embed(resample(audio, rate, 16000)[: 16000 * 6])
            if emb is not None:
                real[path.stem] = emb
        same, other = [], []
        for a, b in itertools.combinations(real, 2):
            (same if speaker(a) == speaker(b) else other).append(float(real[a] @ real[b]))
        if same:
            print(f"real read speech ({len(real)} recordings): same speaker {_spread(same)}; different speakers "
                  f"{_spread(other)}, 90th percentile {np.percentile(other, 90):.2f}")
    else:
        print(f"real recordings skipped: {REAL} not found")


if __name__ == "__main__":
    main()

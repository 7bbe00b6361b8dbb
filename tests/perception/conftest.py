"""Perception fixtures: real recordings as float32 16 kHz, and the process-wide models."""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from chimein.perception.audio import INPUT_RATE, resample


def load_clip(real_data: Path, relative: str) -> np.ndarray:
    """A recording from ../shared/data/real as float32 mono at 16 kHz."""
    x, rate = sf.read(real_data / relative, dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    return resample(x, rate, INPUT_RATE) if rate != INPUT_RATE else x


@cache
def manifest(real_data: Path) -> dict[str, str]:
    """file -> transcript (the MANIFEST.tsv column, without bracketed notes)."""
    with open(real_data / "MANIFEST.tsv", newline="") as f:
        rows = csv.DictReader(f, delimiter="\t")
        return {r["file"]: r["transcript_or_notes"].split(" [")[0].strip() for r in rows}


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * INPUT_RATE), dtype=np.float32)


@pytest.fixture(scope="session")
def vad():
    from chimein.perception.vad import SileroVad

    return SileroVad.shared()

"""The microphone at run time: the rendered scene plus what depends on the assistant.

Two things cannot be rendered in advance because they depend on when the assistant speaks:
back-channels and interrupts (timed from the first audio of the answer they react to), and the
assistant's own voice coming back from the loudspeaker (echo). A runner pulls the microphone
signal chunk by chunk from :class:`InputMixer` and tells it about every server message; the
mixer adds those sounds to audio not yet sent. Both runners use it, so the scene each one
plays is built by the same rules.

The loudspeaker model: a client plays answer audio as it arrives, back to back (a chunk that
arrives while the previous one plays is queued), and flushes its queue on ``interrupted``.
"""

from __future__ import annotations

import numpy as np

from chimein.bench import dsp
from chimein.bench.builder import Label, ReactiveClip, RenderedScene
from chimein.bench.dsp import RATE
from chimein.perception.audio import resample

OUTPUT_RATE = 24000
LINGER_MAX_S = 20.0
"""After the scene, the microphone stays open (silence) while the assistant is still answering,
at most this long; see :func:`InputMixer.lingering`."""
LINGER_QUIET_S = 2.0
REACTIVE_GIVE_UP_S = 8.0
"""A back-channel/interrupt whose answer has not begun this long after its utterance ended is
not played at all (it would otherwise be a new turn in the silence and muddle the scoring);
its label stays unplaced and scores "n/a"."""


class InputMixer:
    """Base scene + reactive clips + echo, handed out in order as 16 kHz float chunks."""

    def __init__(self, scene: RenderedScene) -> None:
        self.scene = scene
        self.total = len(scene.audio)  # the scene; after it, silence while the assistant finishes
        self.base = np.concatenate([scene.audio, np.zeros(int(LINGER_MAX_S * RATE), np.float32)])
        self.overlay = np.zeros(len(self.base), np.float32)
        self.echo = np.zeros(len(self.base), np.float32)
        self.sent = 0  # samples handed out
        self.last_message_s = 0.0
        self._pending: list[ReactiveClip] = list(scene.reactive)
        self._labels = {lab.id: lab for lab in scene.labels}
        self.placed: list[Label] = []
        self._in_response = False
        self._play_cursor_s = 0.0
        spec = scene.scenario.echo
        self._echo_gain = dsp.db_to_gain(spec.level_db) if spec else 0.0
        self._echo_delay_s = spec.delay_ms / 1000.0 if spec else 0.0
        self._echo_ir = dsp.room_impulse(spec.rt60_s, seed=7) if spec and spec.reverb > 0 else None
        self._echo_wet = spec.reverb if spec else 0.0

    @property
    def done(self) -> bool:
        return self.sent >= self.total

    @property
    def in_response(self) -> bool:
        """An answer's audio has started and its turn has not completed."""
        return self._in_response

    def lingering(self, t: float) -> bool:
        """After the scene: keep the microphone open? Yes while an answer is still playing, or the
        server spoke within the last 2 s, for at most LINGER_MAX_S."""
        if self.sent >= len(self.base):
            return False
        return self._in_response or t - self.last_message_s < LINGER_QUIET_S

    def next_chunk(self, samples: int) -> np.ndarray:
        """The next ``samples`` of microphone signal (shorter at the very end)."""
        lo, hi = self.sent, min(len(self.base), self.sent + samples)
        self.sent = hi
        return (self.base[lo:hi] + self.overlay[lo:hi] + self.echo[lo:hi]).astype(np.float32)

    # ------------------------------------------------------------------ server messages

    def on_message(self, t: float) -> None:
        """Any server message arrived at ``t``."""
        self.last_message_s = max(self.last_message_s, t)

    def on_audio(self, t: float, pcm: bytes) -> None:
        """An answer audio chunk (24 kHz int16) arrived at stream time ``t``."""
        if not self._in_response:
            self._in_response = True
            self._answer_started(t)
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        duration = len(samples) / OUTPUT_RATE
        play_start = max(t, self._play_cursor_s)
        self._play_cursor_s = play_start + duration
        if self._echo_gain > 0 and len(samples):
            heard = resample(samples, OUTPUT_RATE, RATE)
            if self._echo_ir is not None:
                wet = np.convolve(heard, self._echo_ir)  # full length: the room keeps ringing
                dry = np.concatenate([heard, np.zeros(len(wet) - len(heard), np.float32)])
                heard = (1 - self._echo_wet) * dry + self._echo_wet * wet
            self._add(self.echo, heard * self._echo_gain, play_start + self._echo_delay_s)

    def on_interrupted(self, t: float) -> None:
        """The client flushes its playback queue: no more echo from this answer after ``t``."""
        cut = max(self.sent, int((t + self._echo_delay_s) * RATE))
        self.echo[cut:] = 0.0
        self._play_cursor_s = t
        self._in_response = False

    def on_turn_complete(self, t: float) -> None:
        self._in_response = False

    def tick(self, t: float) -> None:
        """Called as time passes: gives up on reactive clips whose answer never came."""
        keep = []
        for clip in self._pending:
            anchor = self._labels.get(clip.anchor)
            if anchor is not None and t > anchor.speech_end_s + REACTIVE_GIVE_UP_S:
                self.placed.extend(clip.labels)  # unplaced (end_s == 0): scored n/a
            else:
                keep.append(clip)
        self._pending = keep

    def finish(self) -> None:
        """The run is over: reactive clips never played are recorded as unplaced (scored n/a)."""
        for clip in self._pending:
            self.placed.extend(clip.labels)
        self._pending = []

    # ------------------------------------------------------------------ placing

    def _answer_started(self, t: float) -> None:
        keep = []
        for clip in self._pending:
            anchor = self._labels.get(clip.anchor)
            if anchor is None or t < anchor.start_s:
                keep.append(clip)
                continue
            self._place(clip, t + clip.after_answer_s)
        self._pending = keep

    def _place(self, clip: ReactiveClip, at_s: float) -> None:
        start = max(self.sent, int(round(at_s * RATE)))
        self._add(self.overlay, clip.audio, start / RATE)
        lo, hi = dsp.voiced_span(clip.audio)
        onset = (start + lo) / RATE
        for lab in clip.labels:
            self.placed.append(lab.placed(onset, (hi - lo) / RATE, (hi - lo) / RATE))

    def _add(self, target: np.ndarray, audio: np.ndarray, at_s: float) -> None:
        start = int(round(at_s * RATE))
        if start < self.sent:  # that part of the microphone signal has already gone out
            audio = audio[self.sent - start :]
            start = self.sent
        dsp.add_at(target, audio.astype(np.float32), start)

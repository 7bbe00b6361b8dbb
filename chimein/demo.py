"""``chimein demo``: the Proactive Audio guide's conversation, spoken, through the real SDK.

Synthesises each line of a dialogue with a distinct voice per speaker, starts a chimein server
in this process, streams the lines in real time through the unmodified google-genai SDK, and
prints a live timeline: who spoke, what was heard, the decision and its reason, the answer,
its latency, tokens and cost. The whole conversation (participants and assistant) is saved
as a WAV.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import sys
import time
import wave
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from websockets.exceptions import ConnectionClosed

from chimein.generation.tts import OUTPUT_RATE
from chimein.perception.audio import INPUT_RATE, decode_audio_file, resample
from chimein.protocol.models import CURRENT

GUIDE_INSTRUCTION = (
    "You are an AI assistant in Italian cooking; only chime in when the topic is about Italian cooking."
)
GUIDE_SCRIPT = [
    ("A", "I really love cooking!"),
    ("B", "Oh yes, me too! My favorite is French cuisine."),
    ("A", "I really like Italian food; do you know how to make a pizza?"),
]
CHUNK_S = 0.1
TRAILING_SILENCE_S = 1.6
TURN_TIMEOUT_S = 45.0
QUIET_S = 1.2  # the server is done with a line when nothing has happened for this long


@dataclass
class LineResult:
    speaker: str
    said: str
    heard: str = ""
    decision: str = ""
    reason: str = ""
    answer: str = ""
    latency_s: float | None = None
    prompt_tokens: int = 0
    response_tokens: int = 0
    outcome: str = "no turn"
    events: list[dict[str, Any]] = field(default_factory=list)


def parse_script(path: Path) -> list[tuple[str, str]]:
    """Lines ``SPEAKER: text`` or ``SPEAKER: @file.wav``; blank lines and ``#`` comments are skipped."""
    lines = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        speaker, sep, text = line.partition(":")
        if not sep or not text.strip():
            raise SystemExit(f"{path}:{number}: expected 'SPEAKER: text' or 'SPEAKER: @file.wav', got {line!r}")
        lines.append((speaker.strip(), text.strip()))
    if not lines:
        raise SystemExit(f"{path}: no dialogue lines found")
    return lines


def _voice_audio(services: Any, speaker_index: int, text: str, base: Path) -> np.ndarray:
    """16 kHz float32 audio for one line: a WAV given with @, or speech in the speaker's voice."""
    if text.startswith("@"):
        path = (base / text[1:]).expanduser()
        if not path.exists():
            raise SystemExit(f"audio file not found: {path}")
        audio, rate = decode_audio_file(path.read_bytes(), None)
        return resample(audio, rate, INPUT_RATE)
    voice = ("heart", "joe")[speaker_index % 2]
    clip = services.synthesizer(voice).synthesize(text)
    audio = clip.pcm.astype(np.float32) / 32768.0
    if speaker_index % 4 >= 2:  # a third and fourth speaker: same engines, pitched down to sound different
        audio = resample(audio, OUTPUT_RATE, int(OUTPUT_RATE * 1.12))
    return resample(audio, OUTPUT_RATE, INPUT_RATE)


class ResumingSession:
    """The SDK session, reopened with the newest resumption handle after the server's ``goAway``.

    The Live API ends every connection after a while (chimein: ``--max-connection-s``, or a drain)
    and expects the client to continue on a new one. The demo switches at the first turn boundary
    after ``goAway`` (so no line is cut in two), or when the server closes the old connection.
    Sends wait while the new connection opens.
    """

    def __init__(self, client: Any, config: Any, types: Any) -> None:
        self.client, self.config, self.types = client, config, types
        self.handle: str | None = None
        self.resumptions = 0
        self.go_away = False
        self._context: Any = None
        self.session: Any = None
        self._open = asyncio.Event()

    async def open(self) -> None:
        config = self.config.model_copy(
            update={"session_resumption": self.types.SessionResumptionConfig(handle=self.handle)})
        self._context = self.client.aio.live.connect(model=CURRENT, config=config)
        self.session = await self._context.__aenter__()
        self.go_away = False
        self._open.set()

    async def close(self) -> None:
        self._open.clear()
        if self._context is not None:
            context, self._context = self._context, None
            with contextlib.suppress(Exception):  # the server may have closed it already
                await context.__aexit__(None, None, None)

    async def send_realtime_input(self, **kwargs: Any) -> None:
        """Send on the current connection; a chunk sent while it is being replaced is dropped."""
        await self._open.wait()
        with contextlib.suppress(ConnectionClosed):
            await self.session.send_realtime_input(**kwargs)

    async def messages(self) -> Any:
        """Every server message, across connections."""
        while True:
            try:
                async for message in self.session.receive():
                    update = message.session_resumption_update
                    if update and update.resumable and update.new_handle:
                        self.handle = update.new_handle
                    if message.go_away is not None:
                        self.go_away = True
                    yield message
            except Exception:  # the server closed the connection (after goAway, or it went away)
                if not self.handle:
                    raise
                self.go_away = True
            if self.go_away and self.handle:  # a turn just ended, or the connection did: continue elsewhere
                await self.close()
                await self.open()
                self.resumptions += 1
                print(f"     (goAway: continued on a new connection, resumption {self.resumptions})", flush=True)


def _pcm16(audio: np.ndarray) -> bytes:
    return (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()


async def run_demo(
    *,
    instruction: str,
    script: list[tuple[str, str]],
    script_base: Path,
    proactive: bool,
    wav_out: Path,
    json_out: Path | None,
    voice: str | None,
    max_connection_s: float = 600.0,
) -> int:
    from google import genai
    from google.genai import types

    from chimein.server.app import LiveServer, ServerConfig
    from chimein.server.tls import ensure_certificate, server_ssl_context
    from chimein.session.services import Services

    print("chimein demo: loading models (first run takes a while)...", flush=True)
    services = await asyncio.to_thread(Services.load)
    speakers: dict[str, int] = {}
    lines_audio = []
    for speaker, text in script:
        index = speakers.setdefault(speaker, len(speakers))
        lines_audio.append(await asyncio.to_thread(_voice_audio, services, index, text, script_base))
    events: list[dict[str, Any]] = []
    cert, key = ensure_certificate()
    server = LiveServer(
        ServerConfig(port=0, plain_port=None, ssl_context=server_ssl_context(cert, key), on_session_event=events.append,
                     max_connection_s=max_connection_s, go_away_warning_s=min(10.0, max_connection_s / 2)),
        services,
    )
    (_, port, _), = await server.start()
    client = genai.Client(
        api_key="demo",
        http_options=types.HttpOptions(
            base_url=f"https://127.0.0.1:{port}",
            async_client_args={"ssl": ssl.create_default_context(cafile=str(cert))},
        ),
    )
    config = types.LiveConnectConfig(
        response_modalities=["AUDIO"],
        system_instruction=instruction,
        input_audio_transcription=types.AudioTranscriptionConfig(),
        output_audio_transcription=types.AudioTranscriptionConfig(),
        proactivity=types.ProactivityConfig(proactive_audio=True) if proactive else None,
        speech_config=types.SpeechConfig(
            voice_config=types.VoiceConfig(prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name=voice or "Puck"))
        ),
        session_resumption=types.SessionResumptionConfig(),
    )
    results = [LineResult(speaker=s, said=t) for s, t in script]
    mix: list[tuple[float, np.ndarray]] = []  # (start time, 24 kHz audio) for the saved conversation
    t0 = time.monotonic()
    print(f"\ninstruction: {instruction}\nproactive audio: {'on' if proactive else 'off'}\n")
    session = ResumingSession(client, config, types)
    try:
        await session.open()
        state: dict[str, Any] = {"line": 0, "speech_end": None, "done": asyncio.Event(), "answer_start": None,
                                 "last_message": 0.0}

        async def receive() -> None:
            async for message in session.messages():
                state["last_message"] = time.monotonic()
                result = results[state["line"]]
                content = message.server_content
                if content is None:
                    continue
                if content.input_transcription and content.input_transcription.text:
                    result.heard += content.input_transcription.text
                if content.output_transcription and content.output_transcription.text:
                    result.answer += content.output_transcription.text
                if content.model_turn and content.model_turn.parts:
                    for part in content.model_turn.parts:
                        if part.inline_data and part.inline_data.data:
                            now = time.monotonic() - t0
                            if state["answer_start"] is None:
                                state["answer_start"] = now
                                if state["speech_end"] is not None:
                                    result.latency_s = now - state["speech_end"]
                            pcm = np.frombuffer(part.inline_data.data, "<i2").astype(np.float32) / 32768
                            mix.append((state["answer_start"], pcm))
                            state["answer_start"] += len(pcm) / OUTPUT_RATE
                if content.turn_complete:
                    if message.usage_metadata:
                        result.prompt_tokens += message.usage_metadata.prompt_token_count or 0
                        result.response_tokens += message.usage_metadata.response_token_count or 0
                    reason = content.turn_complete_reason
                    declined = bool(reason and "REJECTED" in str(reason))
                    if result.outcome != "answered":  # a line split into two turns: any answer counts
                        result.outcome = "declined" if declined else "answered"
                    state["done"].set()

        receiver = asyncio.create_task(receive())
        for i, audio in enumerate(lines_audio):
            state.update(line=i, speech_end=None, answer_start=None)
            state["done"].clear()
            seen = len(events)
            mix.append((time.monotonic() - t0, resample(audio, INPUT_RATE, OUTPUT_RATE)))
            await _stream(session, audio, types)
            state["speech_end"] = time.monotonic() - t0
            await _stream(session, np.zeros(int(TRAILING_SILENCE_S * INPUT_RATE), np.float32), types)
            # Keep the microphone open (silence) until the server has finished with this line: a
            # turn completed and nothing else happening for a moment (a line may become two turns).
            deadline = time.monotonic() + TURN_TIMEOUT_S
            while time.monotonic() < deadline:
                quiet_for = time.monotonic() - max([e["t"] for e in events[seen:]] + [state["last_message"]])
                if state["done"].is_set() and quiet_for > QUIET_S:
                    break
                await _stream(session, np.zeros(int(CHUNK_S * INPUT_RATE), np.float32), types)
            result = results[i]
            result.events = events[seen:]
            for event in result.events:
                if event["type"] == "decision" and result.decision != "answer":
                    result.decision = "answer" if event.get("answer") else "silent"
                    result.reason = event.get("reason", "")
            _print_line(result)
        receiver.cancel()
    finally:
        await session.close()
        await server.close()
    _save_wav(wav_out, mix)
    answered = sum(r.outcome == "answered" for r in results)
    print(f"\n{answered} of {len(results)} turns answered; conversation saved to {wav_out}")
    if json_out is not None:
        json_out.write_text(json.dumps({"instruction": instruction, "proactive": proactive,
                                        "resumptions": session.resumptions,
                                        "lines": [asdict(r) for r in results]}, indent=2))
        print(f"timeline written to {json_out}")
    return 0


async def _stream(session: Any, audio: np.ndarray, types: Any) -> None:
    """Send audio in 100 ms chunks at real-time pace (a microphone's rate)."""
    step = int(CHUNK_S * INPUT_RATE)
    started = time.monotonic()
    for n, i in enumerate(range(0, len(audio), step)):
        await session.send_realtime_input(
            audio=types.Blob(data=_pcm16(audio[i : i + step]), mime_type=f"audio/pcm;rate={INPUT_RATE}")
        )
        delay = started + (n + 1) * CHUNK_S - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


def _print_line(r: LineResult) -> None:
    print(f"[{r.speaker}] said:  {r.said}")
    print(f"     heard: {r.heard.strip() or '(nothing recognised)'}")
    if r.decision:
        print(f"     decision: {r.decision} ({r.reason})")
    if r.outcome == "answered":
        latency = f"{r.latency_s * 1000:.0f} ms after end of speech" if r.latency_s is not None else "n/a"
        print(f"     assistant: {r.answer.strip()}")
        print(f"     latency: {latency}")
    elif r.outcome == "declined":
        print("     assistant: (stayed silent)")
    print(f"     tokens: {r.prompt_tokens} in, {r.response_tokens} out\n", flush=True)


def _save_wav(path: Path, mix: list[tuple[float, np.ndarray]]) -> None:
    clips = [(s, a) for s, a in mix if len(a)]
    if not clips:
        return
    end = max(s + len(a) / OUTPUT_RATE for s, a in clips)
    track = np.zeros(int(end * OUTPUT_RATE) + 1, np.float32)
    for start, audio in clips:
        i = int(start * OUTPUT_RATE)
        track[i : i + len(audio)] += audio[: len(track) - i]
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(OUTPUT_RATE)
        w.writeframes(_pcm16(track))


def demo_main(args: Any) -> int:
    script = parse_script(Path(args.script)) if args.script else GUIDE_SCRIPT
    base = Path(args.script).parent if args.script else Path.cwd()
    try:
        return asyncio.run(
            run_demo(
                instruction=args.instruction,
                script=script,
                script_base=base,
                proactive=not args.no_proactive,
                wav_out=Path(args.out),
                json_out=Path(args.json) if args.json else None,
                voice=args.voice,
                max_connection_s=getattr(args, "max_connection_s", 600.0),
            )
        )
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130

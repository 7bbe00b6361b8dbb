"""The session runner end to end on scripted fakes: VAD probabilities from the audio's level, Smart
Turn scores, transcripts, LLM tokens and TTS clips. No model is loaded; each test takes well under a
second of speech-free waiting."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from chimein.protocol.messages import (
    AudioChunk,
    ClientContent,
    RealtimeText,
    parse_client_message,
    parse_setup,
)
from chimein.protocol.models import resolve_model
from chimein.session.live import LiveSession, SessionOptions

from .fake_models import FakeAsr, FakeServices

RATE = 16000
CHUNK = 1600  # 100 ms


def speech(seconds: float) -> np.ndarray:
    return (np.sign(np.sin(np.arange(int(seconds * RATE)) / 3.0)) * 0.3).astype(np.float32)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), np.float32)


class Client:
    def __init__(self, said: list[str], lead_s: float = 5.0, second: list[str] | None = None, **setup: Any) -> None:
        self.messages: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.services = FakeServices(FakeAsr(said), second=FakeAsr(second) if second is not None else None)
        body = {"model": "models/gemini-2.5-flash-native-audio-preview-09-2025", **setup}
        self.session = LiveSession(parse_setup(body), resolve_model(body["model"]), self.services,  # type: ignore[arg-type]
                                   self._send, SessionOptions(observer=self.events.append, output_lead_s=lead_s))

    async def _send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    async def play(self, audio: np.ndarray) -> None:
        for start in range(0, len(audio), CHUNK):
            pcm = (audio[start : start + CHUNK] * 32767).astype("<i2").tobytes()
            await self.session.handle(AudioChunk(pcm=pcm, rate=RATE))

    async def until(self, kind: str, count: int = 1, timeout_s: float = 5.0) -> None:
        async def wait() -> None:
            while sum(1 for m in self.messages if kind in m.get("serverContent", {})) < count:
                await asyncio.sleep(0.01)
        await asyncio.wait_for(wait(), timeout_s)

    def kinds(self) -> list[str]:
        out = []
        for m in self.messages:
            content = m.get("serverContent", {})
            out.extend(k for k in content if k != "chimein")
        return out

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]


@pytest.fixture
def client_factory():
    made: list[Client] = []

    def make(said: list[str], lead_s: float = 5.0, second: list[str] | None = None, **setup: Any) -> Client:
        client = Client(said, lead_s, second, **setup)
        made.append(client)
        return client

    yield make


async def test_a_spoken_question_gets_a_spoken_answer(client_factory):
    client = client_factory(["What time is it?"], realtimeInputConfig={}, inputAudioTranscription={},
                            outputAudioTranscription={})
    await client.play(np.concatenate([silence(0.5), speech(1.0), silence(1.0)]))
    await client.until("turnComplete")
    kinds = client.kinds()
    assert kinds[0] == "inputTranscription" and "modelTurn" in kinds
    assert kinds.index("generationComplete") < kinds.index("turnComplete")
    types = client.types()
    assert types.index("end_of_turn_scored") < types.index("transcribed") < types.index("first_audio")
    memory = client.session.memory.recent()
    assert [e.text for e in memory] == ["What time is it?", "It is noon."]
    await client.session.close()


async def test_the_next_answers_prompt_head_is_evaluated_when_a_person_starts_speaking(client_factory):
    client = client_factory(["What time is it?", "And the date?"])
    client.services.asr.so_far = "What time"
    prefills: list[tuple[list[Any], str | None, bool]] = []
    client.services.llm.prefill = lambda messages, conversation=None, open_end=False: prefills.append(
        (messages, conversation, open_end))
    for n in (1, 2):
        await client.play(np.concatenate([silence(0.5), speech(1.0), silence(1.0)]))
        await client.until("turnComplete", n)
    warmed = [(m, c) for m, c, open_end in prefills if len(m) > 1 and not open_end]
    assert len(warmed) == 1  # the first question had no history to warm
    messages, conversation = warmed[0]
    assert [m.content for m in messages[1:]] == ["What time is it?", "It is noon."]
    assert conversation == client.session.memory.key
    assert client.services.llm.prompts[-1][:-1] == messages  # the answer's prompt continues the warmed head
    await client.session.close()


async def test_words_said_so_far_are_put_in_the_answers_prompt_before_the_turn_ends(client_factory):
    """While the question is spoken its words so far, less the last (it may be cut off), are
    evaluated as the open end of the answer's prompt; the answer's prompt then continues them (#12)."""
    client = client_factory(["What is the capital of France?"])
    client.services.asr.so_far = "What is the capital of Fr"
    prefills: list[tuple[list[Any], bool]] = []
    client.services.llm.prefill = lambda messages, conversation=None, open_end=False: prefills.append(
        (messages, open_end))
    await client.play(np.concatenate([silence(0.5), speech(2.0), silence(1.0)]))
    await client.until("turnComplete")
    said = [m[-1].content for m, open_end in prefills if open_end]
    assert said and set(said) == {"What is the capital of"}
    assert client.services.llm.prompts[-1][-1].content == "What is the capital of France?"
    await client.session.close()


NAMED = "Your name is Juno. Only respond when someone addresses you by name."


async def test_a_turn_declined_for_want_of_a_name_is_answered_when_a_second_hearing_hears_it(client_factory):
    """tiny.en hears "Juno, how long ..." as "Do you know how long ..."; Whisper base hears the name (#11)."""
    client = client_factory(["Do you know how long it takes to boil an egg?"],
                            second=["Juno, how long does it take to boil an egg?"], inputAudioTranscription={},
                            proactivity={"proactiveAudio": True}, systemInstruction=NAMED)
    await client.play(np.concatenate([silence(0.5), speech(1.0), silence(1.0)]))
    await client.until("turnComplete")
    completes = [m["serverContent"] for m in client.messages if "turnComplete" in m.get("serverContent", {})]
    assert "turnCompleteReason" not in completes[0]  # answered, not RESPONSE_REJECTED
    said = "".join(m["serverContent"]["inputTranscription"]["text"] for m in client.messages
                   if "inputTranscription" in m.get("serverContent", {}))
    assert said.startswith("Juno, how long")  # the client and memory get the words that were answered
    second = next(e for e in client.events if e["type"] == "second_opinion")
    assert second["first_text"].startswith("Do you know") and second["rule"] == "name"
    assert client.session.memory.recent()[0].text.startswith("Juno, how long")
    await client.session.close()


async def test_a_second_hearing_that_hears_no_call_leaves_the_turn_declined(client_factory):
    client = client_factory(["Do you know how long it takes to boil an egg?"],
                            second=["Do you know how long does it take to boil an egg?"],
                            proactivity={"proactiveAudio": True}, systemInstruction=NAMED)
    await client.play(np.concatenate([silence(0.5), speech(1.0), silence(1.0)]))
    await client.until("turnComplete")
    completes = [m["serverContent"] for m in client.messages if "turnComplete" in m.get("serverContent", {})]
    assert completes[0]["turnCompleteReason"] == "RESPONSE_REJECTED"
    assert "second_opinion" not in client.types()
    await client.session.close()


async def test_a_busy_recogniser_gives_no_second_hearing(client_factory):
    """Under load the first hearing stands: the second one would queue behind other sessions' turns."""
    client = client_factory(["Do you know how long it takes to boil an egg?"],
                            second=["Juno, how long does it take to boil an egg?"],
                            proactivity={"proactiveAudio": True}, systemInstruction=NAMED)
    assert client.services.second is not None
    client.services.second.busy = True
    await client.play(np.concatenate([silence(0.5), speech(1.0), silence(1.0)]))
    await client.until("turnComplete")
    assert "second_opinion" not in client.types()
    await client.session.close()


async def test_a_call_lost_from_the_joined_clip_still_calls_the_assistant(client_factory):
    """"OK computer.", then the question while the call's answer waits: Whisper heard the joined
    clip as the question alone (Flite awb, through the SDK). The call stays in memory, so the
    question follows a call and is answered, not declined for want of the wake phrase."""
    client = client_factory(["OK computer.", "What is the capital of Australia?"], inputAudioTranscription={},
                            proactivity={"proactiveAudio": True},
                            systemInstruction="Respond only when someone says 'OK computer'.")

    async def call_waits() -> None:
        while "call_wait" not in client.types():
            await asyncio.sleep(0.01)

    await client.play(np.concatenate([silence(0.5), speech(0.6), silence(0.8)]))
    await asyncio.wait_for(call_waits(), 5.0)
    await client.play(np.concatenate([speech(1.5), silence(1.0)]))
    await client.until("turnComplete")
    completes = [m["serverContent"] for m in client.messages if "turnComplete" in m.get("serverContent", {})]
    assert len(completes) == 1 and "turnCompleteReason" not in completes[0]  # answered once, not rejected
    assert [e.text for e in client.session.memory.recent()][:2] == ["OK computer.", "What is the capital of Australia?"]
    await client.session.close()


async def test_with_proactive_audio_speech_is_not_transcribed_as_it_is_spoken(client_factory):
    """Most of what a proactive session hears is not for it: no second transcription of it (#12)."""
    client = client_factory(["Wren, what is the weather like?"], proactivity={"proactiveAudio": True},
                            systemInstruction="Your name is Wren. Only respond when someone addresses you by name.")
    client.services.asr.so_far = "Wren, what is the weather"
    prefills: list[bool] = []
    client.services.llm.prefill = lambda messages, conversation=None, open_end=False: prefills.append(open_end)
    await client.play(np.concatenate([silence(0.5), speech(2.0), silence(1.0)]))
    await client.until("turnComplete")
    assert client.services.asr.partial_calls == 0 and not any(prefills)
    await client.session.close()


async def test_a_pause_is_transcribed_early_only_while_the_recogniser_is_idle(client_factory):
    """Early work must not queue ahead of turns other sessions have finished (#12)."""
    client = client_factory(["What time is it?"])
    recognition = client.session.recognition
    client.services.asr.busy = True
    assert recognition.speculate(1, speech(1.0)) is None
    client.services.asr.busy = False
    early = recognition.speculate(2, speech(1.0))
    assert early is not None and (await early).text == "What time is it?"
    await client.session.close()


async def test_a_pause_takes_over_the_transcription_started_just_before_it(client_factory):
    """SpeechQuiet starts the words 64 ms before the pause; the pause reuses them only when no speech
    came in between (the same utterance and voiced end), else it transcribes again (#12)."""
    client = client_factory(["What time is it?", "What time is it now?"])
    recognition = client.session.recognition
    recognition.speculate_early(1, 2.0, speech(1.0))
    early = recognition._early[1]
    taken = recognition.speculate(1, speech(1.1), early_key=(1, 2.0))
    assert recognition._speculative[1] is early and (await taken).text == "What time is it?"  # not decoded again
    recognition.speculate_early(1, 3.0, speech(1.0))
    stale = recognition._early[1]
    again = recognition.speculate(2, speech(1.5), early_key=(1, 3.5))  # the speaker went on meanwhile
    assert again is not None and recognition._speculative[1] is not stale
    assert (await again).text == "What time is it now?"
    await client.session.close()


async def test_speech_over_the_answer_interrupts_it_and_is_answered(client_factory):
    said = ["What time is it?", "tell me about trains instead", "Tell me about trains instead."]
    client = client_factory(said, lead_s=0.25)  # paced: the answer is still playing when the listener speaks
    client.services.llm.reply = " ".join(["word"] * 300)  # 30 s of answer: still playing however slow the machine
    await client.play(np.concatenate([silence(0.5), speech(1.0), silence(1.0)]))
    await client.until("modelTurn", count=10, timeout_s=30.0)  # ~1 s sent: some words were heard
    await asyncio.sleep(0.3)
    await client.play(np.concatenate([speech(1.5), silence(1.0)]))
    await client.until("interrupted")
    await client.until("turnComplete")  # the interrupted answer's
    while client.types().count("first_audio") < 2:  # the interrupting turn is answered
        await asyncio.sleep(0.01)
    judged = next(e for e in client.events if e["type"] == "overlap_judged")
    assert judged["action"] == "interrupt"
    cut = next(e for e in client.events if e["type"] == "interrupted")
    assert 0.0 < cut["played_s"] < 30.0 and cut["heard"].split() == ["word"] * len(cut["heard"].split())
    assert cut["heard"], "the listener heard part of the answer before speaking over it"
    kinds = client.kinds()
    assert kinds.index("interrupted") < kinds.index("turnComplete")
    # Memory: the question, the words of the answer the listener heard (none if it was cut within its
    # first word: how far it got depends on the machine's speed), then the interrupting turn.
    entries = client.session.memory.recent()
    heard = [cut["heard"]] if cut["heard"] else []
    assert [e.text for e in entries][: 2 + len(heard)] == ["What time is it?", *heard, "Tell me about trains instead."]
    assert all(e.interrupted for e in entries if e.kind == "assistant")
    await client.session.close()


async def test_a_text_turn_is_answered_in_text(client_factory):
    client = client_factory(["unused"], generationConfig={"responseModalities": ["TEXT"]})
    await client.session.handle(RealtimeText(text="Hello there"))
    await client.until("turnComplete")
    assert "modelTurn" in client.kinds() and "first_audio" not in client.types()
    await client.session.close()


async def test_client_content_answers_from_memory(client_factory):
    client = client_factory(["unused"])
    (content,) = parse_client_message({"clientContent": {"turns": [{"role": "user", "parts": [{"text": "Hi"}]}],
                                                         "turnComplete": True}})
    assert isinstance(content, ClientContent)
    await client.session.handle(content)
    await client.until("turnComplete")
    assert [e.text for e in client.session.memory.recent()] == ["Hi", "It is noon."]
    await client.session.close()


async def test_a_resumed_session_continues_the_same_memory():
    from chimein.memory.conversation import Conversation
    from chimein.session.resumption import ResumableState, ResumptionStore

    store = ResumptionStore()
    memory = Conversation()
    memory.add_user("My name is Ada.")
    handle = store.issue(ResumableState(memory, "first-session"), 0.0)
    messages: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    body = {"model": "models/gemini-2.5-flash-native-audio-preview-09-2025", "sessionResumption": {"handle": handle},
            "generationConfig": {"responseModalities": ["TEXT"]}}
    session = LiveSession(parse_setup(body), resolve_model(body["model"]), FakeServices(FakeAsr(["x"])),  # type: ignore[arg-type]
                          send, SessionOptions(observer=events.append, resumption=store, clock=lambda: 1.0))
    assert session.memory is memory
    assert next(e for e in events if e["type"] == "resumed")["conversation_id"] == "first-session"
    await session.handle(RealtimeText(text="What is my name?"))
    while not any("turnComplete" in m.get("serverContent", {}) for m in messages):
        await asyncio.sleep(0.01)
    await session.close()
    update = next(m["sessionResumptionUpdate"] for m in messages if "sessionResumptionUpdate" in m)
    assert update["resumable"] and store.resume(update["newHandle"], 2.0).memory is memory
    assert [e.text for e in memory.recent()][:2] == ["My name is Ada.", "What is my name?"]


async def test_an_unknown_resumption_handle_is_refused_with_1008():
    from chimein.protocol.messages import ProtocolError
    from chimein.session.resumption import ResumptionStore

    body = {"model": "models/gemini-2.5-flash-native-audio-preview-09-2025", "sessionResumption": {"handle": "nope"}}

    async def send(message: dict[str, Any]) -> None:
        pass

    with pytest.raises(ProtocolError) as caught:
        LiveSession(parse_setup(body), resolve_model(body["model"]), FakeServices(FakeAsr(["x"])),  # type: ignore[arg-type]
                    send, SessionOptions(resumption=ResumptionStore()))
    assert caught.value.code == 1008 and "unknown session resumption handle" in caught.value.reason


async def test_a_shared_stores_late_handle_never_follows_resumable_false():
    """A handle issued in a worker thread (PostgreSQL) that lands after ``resumable: false`` (a file
    arrived meanwhile) holds a snapshot without that file: sending it would let the client resume a
    conversation missing the recording. Seen on a real cluster: the resumed answer knew nothing of it."""
    import threading

    from chimein.session.resumption import ResumptionStore

    class SlowSharedStore(ResumptionStore):
        by_reference = False

        def __init__(self) -> None:
            super().__init__()
            self.release = threading.Event()
            self.snapshots: dict[str, dict[str, Any]] = {}

        def issue(self, state, now_s):  # type: ignore[no-untyped-def]
            self.release.wait(5)
            handle = super().issue(state, now_s)
            self.snapshots[handle] = state.snapshot
            return handle

    store = SlowSharedStore()
    messages: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    body = {"model": "models/gemini-2.5-flash-native-audio-preview-09-2025", "sessionResumption": {},
            "generationConfig": {"responseModalities": ["TEXT"]}}
    session = LiveSession(parse_setup(body), resolve_model(body["model"]), FakeServices(FakeAsr(["x"])),  # type: ignore[arg-type]
                          send, SessionOptions(resumption=store, clock=lambda: 1.0))
    await session.after_setup()
    await asyncio.sleep(0.05)  # the first handle is being issued (blocked in its thread)
    entry = session.memory.start_heard(source="recording", duration_s=10.0)  # a file arrives: heard from now on
    session.memory.heard.recording(entry.recording_id).complete = False
    session.colistener.send_resumption_update()
    store.release.set()
    await asyncio.sleep(0.3)
    updates = [m["sessionResumptionUpdate"] for m in messages if "sessionResumptionUpdate" in m]
    assert updates and updates[-1] == {"resumable": False}, updates
    session.memory.heard.recording(entry.recording_id).complete = True  # heard: the next handle holds it
    session.colistener.send_resumption_update()
    for _ in range(100):
        updates = [m["sessionResumptionUpdate"] for m in messages if "sessionResumptionUpdate" in m]
        if updates[-1].get("newHandle"):
            break
        await asyncio.sleep(0.02)
    assert updates[-1]["resumable"] and store.snapshots[updates[-1]["newHandle"]]["heard"]["recordings"], updates
    await session.close()

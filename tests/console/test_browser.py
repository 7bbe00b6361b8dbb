"""The browser console, end to end in a real headless Chromium against a real `chimein serve`.

Chromium's fake capture device plays a WAV as the microphone: the Proactive Audio guide's
cooking dialogue, spoken by chimein's own two voices. The page must capture it through its
AudioWorklet (resampling from the AudioContext rate to 16 kHz), stream it over the Live API,
draw the timeline (two declined turns, then one answer) and play the answer back.

Needs Debian's ``chromium`` (``/usr/bin/chromium``) and Playwright for Python; the browser
Playwright would download is never used (no ``playwright install``).
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import json
import re
import shutil
import socket
import struct
import tempfile
import threading
import time
import urllib.request
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "artifacts"
WAV_RATE = 48000
GUIDE_INSTRUCTION = "You are an AI assistant in Italian cooking; only chime in when the topic is about Italian cooking."
GUIDE_LINES = [  # (voice, line): the guide's dialogue, two people alternating
    ("heart", "I really love cooking!"),
    ("joe", "Oh yes, me too! My favorite is French cuisine."),
    ("heart", "I really like Italian food; do you know how to make a pizza?"),
]
LEAD_SILENCE_S = 1.0
GAP_S = 2.0
TAIL_SILENCE_S = 40.0  # the fake device loops the file: the dialogue must not come round again
ANSWER_TIMEOUT_S = 75.0
BROWSER_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.slow


def _require_browser() -> None:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium not found: install Debian's browser with `apt-get install -y chromium`")
    if importlib.util.find_spec("playwright") is None:
        pytest.skip("playwright (Python) not installed: `.venv/bin/pip install playwright` (never `playwright install`)")


def _dialogue_wav(path: Path) -> list[tuple[float, float]]:
    """Write the guide's dialogue as a 48 kHz mono WAV; returns (start_s, end_s) of each line."""
    from chimein.generation.tts import shared_synthesizer
    from chimein.perception.audio import resample

    pieces = [np.zeros(int(LEAD_SILENCE_S * WAV_RATE), np.int16)]
    spans = []
    cursor = LEAD_SILENCE_S
    for index, (voice, text) in enumerate(GUIDE_LINES):
        clip = resample(shared_synthesizer(voice).synthesize(text).pcm.astype(np.int16), 24000, WAV_RATE)
        pieces.append(clip)
        spans.append((cursor, cursor + len(clip) / WAV_RATE))
        cursor += len(clip) / WAV_RATE
        silence = GAP_S if index < len(GUIDE_LINES) - 1 else TAIL_SILENCE_S
        pieces.append(np.zeros(int(silence * WAV_RATE), np.int16))
        cursor += silence
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(WAV_RATE)
        out.writeframes(np.concatenate(pieces).astype("<i2").tobytes())
    return spans


@pytest.fixture(scope="module")
def dialogue(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _require_browser()
    path = tmp_path_factory.mktemp("console-audio") / "guide-dialogue.wav"
    _dialogue_wav(path)
    return path


@pytest.fixture
def browser_factory() -> Iterator:
    """Launch Debian's Chromium through Playwright, each in a fresh profile; closed afterwards."""
    _require_browser()
    from playwright.sync_api import sync_playwright

    profiles: list[str] = []
    contexts = []
    with sync_playwright() as playwright:

        def launch(*extra: str, **options):
            profile = tempfile.mkdtemp(prefix="chimein-chromium-")
            profiles.append(profile)
            context = playwright.chromium.launch_persistent_context(
                profile,
                executable_path=str(CHROMIUM),
                headless=True,
                args=[*BROWSER_FLAGS, *extra],
                viewport={"width": 1280, "height": 900},
                bypass_csp=True,  # the page's CSP forbids eval, which wait_for_function uses
                **options,
            )
            contexts.append(context)
            return context

        yield launch
        for context in contexts:
            context.close()
    for profile in profiles:
        shutil.rmtree(profile, ignore_errors=True)


def _console_url(server) -> str:
    return f"http://127.0.0.1:{server.plain_port}/"


def _open_console(context, url: str, errors: list[str]):
    page = context.pages[0] if context.pages else context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(url)
    page.wait_for_function("window.chimeinConsole && window.chimeinConsole.ready === true", timeout=15_000)
    return page


def test_static_files_are_served_with_types_and_config(server):
    """The page and its scripts come from the package, with the right types and the server's tables."""
    base = f"http://127.0.0.1:{server.plain_port}"
    for path, kind in [("/", "text/html"), ("/console", "text/html"), ("/console/app.js", "text/javascript"),
                       ("/console/capture-worklet.js", "text/javascript"), ("/console/style.css", "text/css")]:
        with urllib.request.urlopen(base + path, timeout=10) as response:
            assert response.status == 200, path
            assert response.headers["Content-Type"].startswith(kind), (path, response.headers["Content-Type"])
            body = response.read().decode()
            assert not re.search(r"(src|href)=[\"']?(https?:)?//", body), f"{path} loads something from elsewhere"
    with urllib.request.urlopen(base + "/console/config.json", timeout=10) as response:
        config = json.load(response)
    assert "gemini-2.5-flash-native-audio-preview-09-2025" in config["models"]
    voices = {v["name"]: v["voice"] for v in config["voices"]}
    assert voices["Puck"] == "joe" and voices["Kore"] == "heart"
    assert config["prices"]["example"] is True  # a fresh CHIMEIN_HOME has no prices.toml


def _timeline(turns: list[dict]) -> str:
    """The page's turn cards, one per line, in full (pytest shortens a list)."""
    return "\n".join(f"{t['outcome']:>9} {t['who']}: {t['heard']} -> {t['decision']}" for t in turns)


def _dialogue_lines(turns: list[dict]) -> list[dict]:
    """One entry per line of the dialogue: a line declined sentence by sentence (its pause ended the
    turn and the decision came before the speaker went on) is still one line, declined throughout."""
    lines: list[dict] = []
    for turn in turns:
        last = lines[-1] if lines else None
        if last is not None and last["outcome"] == turn["outcome"] == "declined" and last["who"] == turn["who"]:
            last["heard"] += " " + turn["heard"]
            last["decisions"].append(turn["decision"])
        else:
            lines.append({**turn, "decisions": [turn["decision"]]})
    return lines


def test_guide_dialogue_through_the_browser(server, dialogue, browser_factory):
    """Fake microphone -> worklet -> Live API -> two declined turns, one spoken answer, played back."""
    started = time.monotonic()
    context = browser_factory(
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={dialogue.resolve()}",
    )
    errors: list[str] = []
    page = _open_console(context, _console_url(server), errors)
    assert page.title() == "chimein console"
    page.select_option("#preset", "italian")
    assert page.input_value("#instruction") == GUIDE_INSTRUCTION
    assert page.is_checked("#proactive")
    page.uncheck("#voice-processing")  # the fake device is clean: keep the browser's DSP out of the path
    page.select_option("#voice", "Kore")
    # Wait 512 ms (not 192) before asking the end-of-turn model: the guide's third line has a pause
    # at its semicolon, and splitting it there sometimes lost a word on the server (see report).
    page.select_option("#end-sensitivity", "END_SENSITIVITY_LOW")
    sent_frames: list[dict] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent_frames.append(json.loads(payload))))
    page.click("#connect")
    page.wait_for_function("window.chimeinConsole.stats.state === 'connected'", timeout=15_000)
    page.wait_for_function("window.chimeinConsole.stats.sentChunks > 5", timeout=15_000)
    assert "16 kHz" in page.text_content("#mic-state")
    setup = sent_frames[0]["setup"]
    assert setup["model"] == "models/gemini-2.5-flash-native-audio-preview-09-2025"
    assert setup["systemInstruction"] == {"parts": [{"text": GUIDE_INSTRUCTION}]}
    assert setup["proactivity"] == {"proactiveAudio": True}
    assert setup["generationConfig"]["speechConfig"]["voiceConfig"]["prebuiltVoiceConfig"]["voiceName"] == "Kore"
    assert setup["realtimeInputConfig"]["automaticActivityDetection"] == {
        "startOfSpeechSensitivity": "START_SENSITIVITY_HIGH", "endOfSpeechSensitivity": "END_SENSITIVITY_LOW"}
    chunk = sent_frames[1]["realtimeInput"]["audio"]
    assert chunk["mimeType"] == "audio/pcm;rate=16000"
    assert len(base64.b64decode(chunk["data"])) == 3200  # 100 ms of 16-bit samples at 16 kHz

    # Three turns end; the last one is answered with audio that the page plays.
    try:
        page.wait_for_function(
            """() => { const t = window.chimeinConsole.turns();
                       return t.filter(x => x.outcome === 'answered').length >= 1
                           && t.filter(x => x.outcome === 'declined').length >= 2; }""",
            timeout=ANSWER_TIMEOUT_S * 1000,
        )
        page.wait_for_function("window.chimeinConsole.stats.playbackPeak > 0.02", timeout=15_000)
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "console.png"), full_page=True)
    # A turn whose answer was dropped because the speaker went on is not a turn of its own.
    # Nor is a declined line the speaker went on with (its pause may end the turn on a slow machine).
    shown = page.evaluate("window.chimeinConsole.turns()")
    (ARTIFACTS / "console-turns.json").write_text(json.dumps(shown, indent=1))
    turns = _dialogue_lines([t for t in shown if t["outcome"] not in ("dropped", "continued")])
    stats = page.evaluate("window.chimeinConsole.stats")

    outcomes = [t["outcome"] for t in turns]
    assert outcomes == ["declined", "declined", "answered"], _timeline(shown)
    for turn, (_, line) in zip(turns, GUIDE_LINES, strict=True):
        said = set(re.findall(r"[a-z]+", line.lower()))
        heard = set(re.findall(r"[a-z]+", turn["heard"].lower()))
        assert len(said & heard) >= 0.6 * len(said), (line, turn["heard"])
    # Two voices in the dialogue (heart, joe, heart): the timeline names them by their voice prints.
    assert [t["who"] for t in turns] == ["Speaker 1", "Speaker 2", "Speaker 1"], _timeline(shown)
    for declined in turns[:2]:
        for decision in declined["decisions"]:
            assert decision.startswith("stayed silent: "), declined
            assert len(decision) > len("stayed silent: ") + 5, "the reason is missing"
    answer = turns[2]
    assert answer["decision"].startswith("chimes in: "), answer
    assert answer["answer"].strip(), "no output transcription shown"
    assert answer["latency"] is not None and answer["latency"] > 0, answer  # how fast is the bench's to measure
    assert "answer began" in answer["notes"]

    # Audio: received at 24 kHz, handed to the graph, heard by the AnalyserNode.
    assert stats["receivedSamples"] > 0.5 * 24000, stats["receivedSamples"]
    assert stats["scheduledSamples"] == stats["receivedSamples"]
    assert stats["playbackPeak"] > 0.02
    # Usage: the meter added up the per-turn reports; declined turns cost no output tokens.
    usage = stats["usage"]
    assert usage["outAudio"] > 0 and usage["inAudio"] > 0
    assert usage["total"] == usage["inAudio"] + usage["inText"] + usage["outAudio"] + usage["outText"]
    assert abs(usage["outAudio"] - stats["receivedSamples"] / 24000 * 32) <= 2
    assert "EXAMPLE prices" in page.text_content("#price-label")
    assert page.text_content("#total-cost").strip() not in ("", "–")
    assert not [e for e in errors if "favicon" not in e], errors

    # Co-listening: a recording goes in as clientContent inlineData. The server may still refuse
    # it; then the page must say so with the close code and the server's reason.
    recording = dialogue.parent / "one-line.wav"
    with wave.open(str(dialogue)) as full:
        with wave.open(str(recording), "wb") as out:
            out.setparams(full.getparams())
            out.writeframes(full.readframes(int(4 * WAV_RATE)))
    page.set_input_files("#file", str(recording))
    page.click("#colisten")
    page.wait_for_selector("#timeline li.file", timeout=10_000)
    time.sleep(1.5)
    page.screenshot(path=str(ARTIFACTS / "console-colisten.png"), full_page=True)
    close = page.evaluate("window.chimeinConsole.stats.lastClose")
    if close is not None:
        message = page.text_content("#message-text")
        assert f"close code {close['code']}" in message and "one-line.wav" in message, message
        assert close["reason"] and close["reason"] in message, message
        assert page.is_visible("#reconnect")
    else:
        assert page.evaluate("window.chimeinConsole.stats.state") == "connected"
    print(f"console dialogue test: {time.monotonic() - started:.1f}s, answer latency {answer['latency']:.2f}s")


def test_refused_setup_denied_microphone_typed_turn_and_interruption(server, browser_factory):
    """No fake-UI flag, so the browser denies the microphone; a bad model name is refused by the
    server; a typed question is answered aloud and a second typed message interrupts the answer."""
    context = browser_factory("--use-fake-device-for-media-stream")
    errors: list[str] = []
    page = _open_console(context, _console_url(server), errors)

    page.fill("#model", "gemini-1.0-pro")
    page.click("#connect")
    page.wait_for_selector("#reconnect", state="visible", timeout=15_000)
    message = page.text_content("#message-text")
    assert "refused the setup" in message and "close code 1008" in message, message
    assert "unknown model" in message, message
    assert page.is_enabled("#connect") and page.is_disabled("#disconnect")

    page.fill("#model", "gemini-2.5-flash-native-audio-preview-09-2025")
    page.uncheck("#proactive")  # every turn is answered: the interruption needs an answer to cut
    page.click("#connect")
    page.wait_for_function("window.chimeinConsole.stats.state === 'connected'", timeout=15_000)
    page.wait_for_function("document.getElementById('message-text').textContent.includes('Microphone')", timeout=15_000)
    message = page.text_content("#message-text")
    assert "Microphone access was denied" in message, message
    assert "co-listen" in message
    assert page.evaluate("window.chimeinConsole.stats.sentChunks") == 0
    assert page.evaluate("window.chimeinConsole.stats.state") == "connected"  # the session survives

    page.fill("#text", "Tell me a long story about a dragon who learns to cook.")
    page.press("#text", "Enter")
    page.wait_for_function("window.chimeinConsole.stats.receivedSamples > 12000", timeout=ANSWER_TIMEOUT_S * 1000)
    assert page.text_content("#speaking") == "assistant speaking"
    page.fill("#text", "Stop, thank you.")
    page.click("#send-text")
    page.wait_for_function("window.chimeinConsole.stats.interruptions >= 1", timeout=15_000)
    cut = page.evaluate("window.chimeinConsole.stats.lastInterrupt")
    assert cut is not None and cut["playingAfter"] is False, cut
    assert cut["droppedS"] > 0, "nothing was queued when the interruption came: nothing was cut"
    first = page.evaluate("window.chimeinConsole.turns()")[0]
    assert first["heard"] == "“Tell me a long story about a dragon who learns to cook.”", first
    assert "interrupted after" in first["notes"], first
    assert first["answer"].strip(), "the interrupted answer's words are not shown"
    page.wait_for_function("window.chimeinConsole.turns()[0].outcome === 'interrupted'", timeout=15_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console-interrupted.png"), full_page=True)

    page.click("#disconnect")
    page.wait_for_function("window.chimeinConsole.stats.state === 'idle'", timeout=10_000)
    assert page.is_hidden("#reconnect")


def _page_state(page) -> dict:
    """What a failed wait shows: the console's stats, its message and the end of its timeline."""
    return page.evaluate("""() => ({stats: window.chimeinConsole.stats,
        message: document.getElementById('message-text').textContent,
        messageHidden: document.getElementById('message').hidden,
        microphone: document.getElementById('mic-state').textContent,
        timeline: Array.from(document.querySelectorAll('#timeline li')).slice(-12).map((e) => e.textContent)})""")


class _Relay:
    """A TCP relay in front of the real server: cutting it is a network drop, not a server change."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Drop every open connection at once, without a WebSocket close frame; new ones still pass."""
        with self._lock:
            doomed, self.sockets = self.sockets, []
            for s in doomed:
                with contextlib.suppress(OSError):
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
                    # close() alone does not tear down a socket another thread is blocked in recv() on;
                    # shutdown() does, at once.
                    s.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    s.close()


def test_lost_connection_offers_reconnect(server, browser_factory):
    """The network drops mid-session: the page says so and offers Reconnect (a new session)."""
    relay = _Relay(server.plain_port)
    context = browser_factory("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")
    errors: list[str] = []
    page = _open_console(context, f"http://127.0.0.1:{relay.port}/", errors)
    page.click("#connect")
    page.wait_for_function("window.chimeinConsole.stats.state === 'connected'", timeout=15_000)
    first_session = page.evaluate("window.chimeinConsole.stats.sessionId")
    # The handle is issued just after setupComplete (off the event loop with a shared store): a cut
    # before it arrives rightly offers a new session instead, which is not what this test is about.
    page.wait_for_function("Boolean(window.chimeinConsole.stats.resumeHandle)", timeout=15_000)
    relay.cut()
    try:
        page.wait_for_selector("#reconnect", state="visible", timeout=15_000)
    except Exception:
        raise AssertionError(f"no Reconnect after the cut: {_page_state(page)}, errors {errors}") from None
    message = page.text_content("#message-text")
    assert "Connection lost" in message and "close code 1006" in message, message
    assert "Reconnect resumes the session with its memory" in message
    assert page.evaluate("window.chimeinConsole.stats.state") == "closed"
    page.click("#reconnect")
    page.wait_for_function("window.chimeinConsole.stats.state === 'connected'", timeout=15_000)
    assert page.evaluate("window.chimeinConsole.stats.resumed") is True  # the server accepted the handle
    assert page.evaluate("window.chimeinConsole.stats.sessionId") is not None
    assert first_session
    chunks = page.evaluate("window.chimeinConsole.stats.sentChunks")
    try:
        page.wait_for_function(f"window.chimeinConsole.stats.sentChunks > {chunks + 2}", timeout=15_000)  # mic back
    except Exception:
        raise AssertionError(f"no microphone after Reconnect: {_page_state(page)}, errors {errors}") from None
    assert page.is_hidden("#message")
    relay.listener.close()


@pytest.mark.parametrize("fails_after", ["the close", "the reconnect"])
def test_drop_while_the_microphone_starts_still_offers_reconnect(server, browser_factory, fails_after):
    """The network drops while the page is still fetching the capture worklet. The fetch fails after
    the close was shown, or after the user already reconnected: either way the failure must not
    replace the Reconnect offer, and the reconnected session gets its microphone (fetched again)."""
    relay = _Relay(server.plain_port)
    context = browser_factory("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")
    errors: list[str] = []
    page = _open_console(context, f"http://127.0.0.1:{relay.port}/", errors)
    # Worklet fetches pass by Playwright's routing, so the page's addModule is held instead: it
    # fails, as the real fetch through the cut relay did, when the test says; like the browser's
    # module map, a URL that failed fails again.
    page.evaluate("""() => {
      const original = AudioWorklet.prototype.addModule;
      const failed = new Set();
      const failure = () => new DOMException("Failed to load worklet module script (Network error)", "AbortError");
      let held = true;
      AudioWorklet.prototype.addModule = function (url) {
        if (failed.has(url)) return Promise.reject(failure());
        if (!held) return original.call(this, url);
        return new Promise((resolve, reject) => {
          window.failWorklet = () => { held = false; failed.add(url); reject(failure()); };
        });
      };
    }""")
    page.click("#connect")
    page.wait_for_function("window.failWorklet !== undefined", timeout=15_000)
    relay.cut()
    try:
        page.wait_for_selector("#reconnect", state="visible", timeout=15_000)
    except Exception:
        raise AssertionError(f"no Reconnect after the cut: {_page_state(page)}, errors {errors}") from None
    if fails_after == "the close":
        page.evaluate("window.failWorklet()")
        page.wait_for_timeout(300)  # a late microphone failure would replace the message now
        assert page.is_visible("#reconnect")
        assert "Connection lost" in page.text_content("#message-text")
    page.click("#reconnect")
    page.wait_for_function("window.chimeinConsole.stats.state === 'connected'", timeout=15_000)
    if fails_after == "the reconnect":  # the new session was waiting on the old session's download
        page.evaluate("window.failWorklet()")
    try:
        page.wait_for_function("window.chimeinConsole.stats.sentChunks > 2", timeout=15_000)
    except Exception:
        raise AssertionError(f"no microphone after Reconnect: {_page_state(page)}, errors {errors}") from None
    assert page.is_hidden("#message")
    relay.listener.close()


def test_console_over_tls_connects_with_wss(server, browser_factory):
    """Loaded from the TLS port, the page talks wss:// to the same server."""
    context = browser_factory("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                              ignore_https_errors=True)  # chimein's certificate is self-signed
    errors: list[str] = []
    page = _open_console(context, f"https://127.0.0.1:{server.tls_port}/console", errors)
    page.click("#connect")
    page.wait_for_function("window.chimeinConsole.stats.state === 'connected'", timeout=15_000)
    assert page.text_content("#endpoint").startswith(f"wss://127.0.0.1:{server.tls_port}/ws/")
    page.wait_for_function("window.chimeinConsole.stats.sentChunks > 2", timeout=15_000)


_RESAMPLE_JS = """
async ([rate, frequency]) => {
  const ctx = new OfflineAudioContext(1, rate, rate);  // one second at `rate`
  await ctx.audioWorklet.addModule("/console/capture-worklet.js");
  const tone = ctx.createOscillator();
  tone.frequency.value = frequency;
  const gain = ctx.createGain();
  gain.gain.value = 0.5;
  const node = new AudioWorkletNode(ctx, "chimein-capture", { numberOfOutputs: 1, outputChannelCount: [1] });
  const chunks = [];
  node.port.onmessage = (event) => chunks.push(Array.from(new Int16Array(event.data.pcm)));
  tone.connect(gain).connect(node);
  node.connect(ctx.destination);
  tone.start();
  await ctx.startRendering();
  await new Promise((resolve) => setTimeout(resolve, 200));  // the last port messages
  return chunks;
}
"""


@pytest.mark.parametrize("rate", [44100, 48000])
def test_capture_worklet_resamples_to_16k(server, browser_factory, rate):
    """The worklet turns the context rate into 16 kHz by a (fractional) ratio, in 100 ms chunks,
    keeps a 1 kHz tone at its level and frequency, and filters out what 16 kHz cannot hold."""
    context = browser_factory()
    page = _open_console(context, _console_url(server), [])
    chunks = page.evaluate(_RESAMPLE_JS, [rate, 1000])
    assert chunks and all(len(c) == 1600 for c in chunks)
    assert len(chunks) >= 9  # one second in, minus the filter's short look-ahead
    x = np.concatenate([np.asarray(c, np.float64) for c in chunks]) / 32768
    steady = x[800:]
    spectrum = np.abs(np.fft.rfft(steady * np.hanning(len(steady))))
    peak_hz = np.argmax(spectrum) * 16000 / len(steady)
    assert abs(peak_hz - 1000) < 5, peak_hz
    assert abs(np.sqrt(np.mean(steady**2)) - 0.5 / np.sqrt(2)) < 0.01
    # 9 kHz is above 16 kHz's Nyquist: without the low-pass it would alias to 7 kHz at full level.
    aliased = np.concatenate([np.asarray(c, np.float64) for c in page.evaluate(_RESAMPLE_JS, [rate, 9000])]) / 32768
    level_db = 20 * np.log10(np.sqrt(np.mean(aliased[800:] ** 2)) / (0.5 / np.sqrt(2)))
    assert level_db < -30, f"9 kHz leaks through at {level_db:.1f} dB"

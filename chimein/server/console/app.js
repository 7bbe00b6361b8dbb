// chimein console: talk to a chimein server over the Live API and watch Proactive Audio decide.
//
// The page speaks the same wire protocol as the google-genai SDK (setup, realtimeInput audio,
// clientContent) and adds `?chimein_events=1` to also receive chimein's own event stream
// (speech started/ended, transcripts, decisions, interruptions) for the timeline.
// No build step and no third-party code: this file, capture-worklet.js and style.css are all.

const LIVE_PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent";
const INPUT_RATE = 16000;
const OUTPUT_RATE = 24000;
const AUDIO_TOKENS_PER_S = 32; // Gemini counts audio at 32 tokens per second

const PRESETS = {
  default: "You are a helpful assistant in a live voice conversation. Keep your answers short and friendly.",
  italian: "You are an AI assistant in Italian cooking; only chime in when the topic is about Italian cooking.",
  chef: "Only respond when someone says 'hey chef'.",
};

// Used only if the server cannot tell us its table (older server, broken prices.toml).
const FALLBACK_PRICES = {
  currency: "USD", example: true, source: "built-in example",
  perMillionTokens: { input: { audio: 1.0, text: 0.5 }, output: { audio: 4.0, text: 2.0 } },
};

const CLOSE_MEANINGS = {
  1000: "closed normally",
  1001: "server going away",
  1006: "connection dropped without a close frame",
  1007: "invalid data",
  1008: "refused by policy",
  1009: "message too big",
  1011: "internal server error",
  1012: "server restarting",
};

const $ = (id) => document.getElementById(id);

// ------------------------------------------------------------------ state, exposed for tests

const stats = {
  state: "idle", // idle | connecting | connected | closed
  sessionId: null,
  sentChunks: 0,
  sentSamples: 0,
  receivedSamples: 0, // 24 kHz answer samples received
  scheduledSamples: 0, // ... and handed to the audio graph
  playbackPeak: 0, // highest level the AnalyserNode saw on the playback path
  interruptions: 0,
  lastInterrupt: null, // {droppedS: queued answer audio discarded, playingAfter: false once stopped}
  micRms: 0,
  lastClose: null, // {code, reason}
  reportedInputSamples: 0, // audio sent up to the last usage report
  events: [], // every chimeinEvent, in order
  usage: { inAudio: 0, inText: 0, outAudio: 0, outText: 0, total: 0 },
};
window.chimeinConsole = { stats, turns: () => [...document.querySelectorAll("#timeline li.turn")].map(turnSummary) };

let config = null;
let prices = FALLBACK_PRICES;
let ws = null;
let setupDone = false;
let userClosed = false;
let lastFileSent = null; // {name, at} of the last co-listened recording
let connectedAt = performance.now();
let audio = null; // {ctx, player}
let mic = null; // {stream, source, node, sink}

// ------------------------------------------------------------------ audio: playback

class Player {
  constructor(ctx) {
    this.ctx = ctx;
    this.gain = ctx.createGain();
    this.analyser = ctx.createAnalyser();
    this.analyser.fftSize = 1024;
    this.gain.connect(this.analyser);
    this.analyser.connect(ctx.destination);
    this.sources = new Set();
    this.nextTime = 0;
    this.levels = new Float32Array(this.analyser.fftSize);
    setInterval(() => this.measure(), 50);
  }

  play(pcm) {
    const samples = pcm.length;
    if (!samples) return;
    const buffer = this.ctx.createBuffer(1, samples, OUTPUT_RATE);
    const channel = buffer.getChannelData(0);
    for (let i = 0; i < samples; i++) channel[i] = pcm[i] / 32768;
    const source = this.ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(this.gain);
    const now = this.ctx.currentTime;
    // A small cushion absorbs network jitter; the server already paces at real time.
    const start = Math.max(now + 0.04, this.nextTime);
    source.start(start);
    this.nextTime = start + buffer.duration;
    this.sources.add(source);
    source.onended = () => {
      this.sources.delete(source);
      this.updateIndicator();
    };
    stats.scheduledSamples += samples;
    this.updateIndicator();
  }

  // Seconds of answer audio scheduled but not yet heard.
  get queuedS() { return this.playing ? Math.max(0, this.nextTime - this.ctx.currentTime) : 0; }

  // The server said `interrupted`: everything queued goes, now.
  stop() {
    for (const source of this.sources) {
      try { source.stop(); } catch { /* already stopped */ }
    }
    this.sources.clear();
    this.nextTime = 0;
    this.updateIndicator();
  }

  get playing() { return this.sources.size > 0; }

  measure() {
    if (!this.playing) return;
    this.analyser.getFloatTimeDomainData(this.levels);
    let peak = 0;
    for (const v of this.levels) peak = Math.max(peak, Math.abs(v));
    stats.playbackPeak = Math.max(stats.playbackPeak, peak);
  }

  updateIndicator() {
    const el = $("speaking");
    el.dataset.on = String(this.playing);
    el.textContent = this.playing ? "assistant speaking" : "assistant silent";
  }
}

function ensureAudio() {
  // Created inside the click handler: browsers only let a page start audio after a gesture.
  if (!audio) {
    const ctx = new AudioContext();
    audio = { ctx, player: new Player(ctx) };
  }
  if (audio.ctx.state === "suspended") audio.ctx.resume();
  return audio;
}

// ------------------------------------------------------------------ audio: microphone

let workletAttempts = 0;

function loadCaptureWorklet(current) {
  // Once per audio context. A failed download (the network dropped) is forgotten and tried again
  // under a new URL: the context remembers a failed module URL and would fail it again at once.
  if (!current.worklet) {
    workletAttempts += 1;
    const url = "/console/capture-worklet.js" + (workletAttempts > 1 ? `?attempt=${workletAttempts}` : "");
    current.worklet = current.ctx.audioWorklet.addModule(url)
      .catch((err) => { current.worklet = null; throw err; });
  }
  return current.worklet;
}

async function startMicrophone() {
  // The session this start belongs to: if it closes while we wait (permission prompt, worklet
  // download), the start is abandoned quietly and the close's own message (Reconnect) stays.
  const session = ws;
  const sessionOpen = () => ws === session && ws.readyState === WebSocket.OPEN;
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    showMessage("error",
      "This page is not a secure context, so the browser offers no microphone. Open it as " +
      "http://127.0.0.1:<plain port>/ on this machine, or over https:// (the TLS port) from elsewhere. " +
      "You can still co-listen to a recording.");
    $("mic-state").textContent = "microphone unavailable (insecure context)";
    return;
  }
  const processing = $("voice-processing").checked;
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: processing, noiseSuppression: processing, autoGainControl: processing },
    });
  } catch (err) {
    if (!sessionOpen()) return;
    $("mic-state").textContent = "microphone off (" + err.name + ")";
    const why = {
      NotAllowedError: "Microphone access was denied. Allow it for this site (the icon at the left of the address bar), then press Disconnect and Connect again.",
      SecurityError: "Microphone access was denied. Allow it for this site (the icon at the left of the address bar), then press Disconnect and Connect again.",
      NotFoundError: "No microphone was found. Plug one in, then reconnect.",
      NotReadableError: "The microphone is in use by another application or could not be opened.",
      OverconstrainedError: "The microphone cannot deliver audio in the requested form.",
    }[err.name] || `The microphone could not be opened (${err.name}: ${err.message}).`;
    showMessage("error", why + " The session stays open: you can still co-listen to a recording.");
    addEntry("error", null, "microphone: " + err.name);
    return;
  }
  const release = () => stream.getTracks().forEach((t) => t.stop());
  if (!sessionOpen()) { // disconnected while the permission prompt was up
    release();
    return;
  }
  const current = ensureAudio();
  const { ctx } = current;
  try {
    // A second try: the download awaited may be an earlier session's, cut off with its connection.
    await loadCaptureWorklet(current).catch(() => sessionOpen() && loadCaptureWorklet(current));
  } catch (err) {
    release();
    if (sessionOpen()) throw err;
    return;
  }
  if (!sessionOpen()) { // disconnected while the worklet loaded
    release();
    return;
  }
  const source = ctx.createMediaStreamSource(stream);
  const node = new AudioWorkletNode(ctx, "chimein-capture", { numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1] });
  const sink = ctx.createGain(); // keeps the worklet pulled by the graph, silently
  sink.gain.value = 0;
  source.connect(node);
  node.connect(sink);
  sink.connect(ctx.destination);
  node.port.onmessage = (event) => onMicChunk(new Int16Array(event.data.pcm), event.data.rms);
  mic = { stream, source, node, sink };
  const track = stream.getAudioTracks()[0];
  $("mic-state").textContent = `microphone on: ${track ? track.label || "default" : "?"} (${ctx.sampleRate} Hz -> 16 kHz)`;
  for (const t of stream.getAudioTracks()) t.onended = () => {
    showMessage("warn", "The microphone stopped (unplugged or taken by another application).");
    $("mic-state").textContent = "microphone stopped";
  };
}

function stopMicrophone() {
  if (!mic) return;
  mic.node.port.postMessage("stop");
  mic.source.disconnect();
  mic.node.disconnect();
  mic.sink.disconnect();
  mic.stream.getTracks().forEach((t) => t.stop());
  mic = null;
  $("mic-level").style.width = "0";
  $("mic-state").textContent = "microphone off";
}

function onMicChunk(pcm, rms) {
  stats.micRms = rms;
  $("mic-level").style.width = Math.min(100, Math.round(Math.sqrt(rms) * 250)) + "%";
  if (!ws || ws.readyState !== WebSocket.OPEN || !setupDone) return;
  send({ realtimeInput: { audio: { data: bytesToBase64(new Uint8Array(pcm.buffer)), mimeType: `audio/pcm;rate=${INPUT_RATE}` } } });
  stats.sentChunks += 1;
  stats.sentSamples += pcm.length;
  updateListening();
}

// ------------------------------------------------------------------ connection

function liveUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const params = new URLSearchParams({ chimein_events: "1" });
  const key = $("api-key").value.trim();
  if (key) params.set("key", key);
  return `${scheme}//${location.host}${LIVE_PATH}?${params}`;
}

function setupMessage() {
  const detection = { startOfSpeechSensitivity: $("start-sensitivity").value };
  if ($("end-sensitivity").value) detection.endOfSpeechSensitivity = $("end-sensitivity").value;
  const silence = $("silence-ms").value.trim();
  if (silence) detection.silenceDurationMs = Number(silence);
  const setup = {
    model: "models/" + ($("model").value.trim() || (config && config.defaultModel) || ""),
    generationConfig: {
      responseModalities: ["AUDIO"],
      speechConfig: { voiceConfig: { prebuiltVoiceConfig: { voiceName: $("voice").value } } },
    },
    inputAudioTranscription: {},
    outputAudioTranscription: {},
    realtimeInputConfig: {
      automaticActivityDetection: detection,
      activityHandling: $("interrupts").checked ? "START_OF_ACTIVITY_INTERRUPTS" : "NO_INTERRUPTION",
    },
    proactivity: { proactiveAudio: $("proactive").checked },
    // Ask for resumption handles; on a reconnect, present the last one to keep the same memory.
    sessionResumption: resuming && resumeHandle ? { handle: resumeHandle } : {},
  };
  const instruction = $("instruction").value.trim();
  if (instruction) setup.systemInstruction = { parts: [{ text: instruction }] };
  return { setup };
}

function connect() {
  if (ws) return;
  ensureAudio();
  hideMessage();
  setupDone = false;
  userClosed = false;
  lastFileSent = null;
  connectedAt = performance.now();
  currentAnswerCard = null;
  answerTextBuffer = "";
  pendingTyped = null;
  setState("connecting", "connecting…");
  const url = liveUrl();
  $("endpoint").textContent = url.replace(/key=[^&]*/, "key=…");
  let socket;
  try {
    socket = new WebSocket(url);
  } catch (err) {
    setState("error", "not connected");
    showMessage("error", `Cannot open ${url}: ${err.message}`);
    return;
  }
  ws = socket;
  setButtons();
  socket.onopen = () => send(setupMessage());
  socket.onmessage = (event) => {
    if (typeof event.data !== "string") return;
    let message;
    try { message = JSON.parse(event.data); } catch { return; }
    onServerMessage(message);
  };
  socket.onclose = (event) => onClose(socket, event);
}

function disconnect() {
  if (!ws) return;
  userClosed = true;
  ws.close(1000, "client disconnected");
}

function onClose(socket, event) {
  if (socket !== ws) return;
  const wasSetup = setupDone;
  ws = null;
  setupDone = false;
  stopMicrophone();
  if (audio) audio.player.stop();
  stats.lastClose = { code: event.code, reason: event.reason };
  const meaning = CLOSE_MEANINGS[event.code] || "";
  const code = `close code ${event.code}${meaning ? ", " + meaning : ""}`;
  const reason = event.reason ? `: ${event.reason}` : "";
  setButtons();
  if (goAwayPending && resumeHandle && !userClosed) {
    goAwayPending = false;
    addEntry("session", null, "connection limit reached: resuming on a new connection");
    resuming = true;
    connect();
    return;
  }
  if (userClosed) {
    setState("idle", "not connected");
    addEntry("session", null, "disconnected");
    return;
  }
  setState("error", "not connected");
  const refusedFile = lastFileSent && performance.now() - lastFileSent.at < 15000 && event.code !== 1006;
  if (refusedFile) {
    showMessage("error", `The server refused the recording "${lastFileSent.name}" (${code})${reason}. ` +
      "The session ended; Reconnect starts a new one.", true);
  } else if (!wasSetup && event.code === 1006) {
    showMessage("error", `Could not reach the chimein server at ${location.host} (${code}). Is \`chimein serve\` running?`, true);
  } else if (!wasSetup) {
    showMessage("error", `The server refused the setup (${code})${reason}`, true);
  } else if ([1007, 1008, 1009, 1011].includes(event.code)) {
    showMessage("error", `The server closed the session (${code})${reason}. Reconnect starts a new session.`, true);
  } else {
    showMessage("error", `Connection lost (${code})${reason}. ` + (resumeHandle
      ? "Reconnect resumes the session with its memory (the timeline and usage so far stay on this page)."
      : "Reconnect starts a new session (the timeline and usage so far stay on this page)."), true);
  }
  addEntry("error", null, `connection closed (${code})${reason}`);
}

function send(message) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
}

// ------------------------------------------------------------------ server messages

let resumeHandle = null;  // the latest sessionResumptionUpdate.newHandle
let resuming = false;     // the next connect presents resumeHandle
let goAwayPending = false;

let eventsSeen = false;

function onServerMessage(message) {
  if (message.sessionResumptionUpdate && message.sessionResumptionUpdate.newHandle) {
    resumeHandle = message.sessionResumptionUpdate.newHandle;
    stats.resumeHandle = resumeHandle;
  }
  if (message.setupComplete) {
    if (resuming) addEntry("session", null, "resumed the previous session: same conversation memory");
    stats.resumed = resuming;
    resuming = false;
    setupDone = true;
    stats.sessionId = message.setupComplete.sessionId || null;
    setState("connected", "connected");
    addEntry("session", null, `session ${stats.sessionId || ""} started · ${$("voice").value} · proactive audio ${$("proactive").checked ? "on" : "off"}`);
    startMicrophone().catch((err) => {
      stopMicrophone();
      showMessage("error", `The microphone capture could not start (${err.name}: ${err.message}).`);
    });
  }
  if (message.chimeinEvent) {
    eventsSeen = true;
    onEvent(message.chimeinEvent);
  }
  const content = message.serverContent;
  if (content) onServerContent(content);
  if (message.usageMetadata) onUsage(message.usageMetadata);
  if (message.goAway) {
    goAwayPending = true;
    showMessage("warn", `The server will close this connection in ${message.goAway.timeLeft || "a moment"}; ` +
      "the console will resume the session on a new connection.");
  }
}

function onServerContent(content) {
  const parts = (content.modelTurn && content.modelTurn.parts) || [];
  for (const part of parts) {
    const blob = part.inlineData || part.inline_data;
    if (blob && blob.data) {
      const pcm = base64ToInt16(blob.data);
      stats.receivedSamples += pcm.length;
      if (audio) audio.player.play(pcm);
    }
  }
  if (content.interrupted) cutPlayback();
  if (content.outputTranscription && content.outputTranscription.text) {
    // A clip's words arrive just before its audio, so the first ones precede `first_audio`.
    const card = currentAnswerCard || (eventsSeen ? null : latestTurnCard());
    if (card) appendAnswerText(card, content.outputTranscription.text);
    else answerTextBuffer += content.outputTranscription.text;
  }
  const heard = content.inputTranscription;
  if (heard && heard.text) {
    // Without the event stream this is all we learn about a turn; with it, only the speaker label.
    const card = eventsSeen ? latestTurnCard() : turnCard(null);
    if (card && !eventsSeen) card.querySelector(".heard").textContent = `“${heard.text.trim()}”`;
    if (card && heard.speakerLabel) card.querySelector(".who").textContent = heard.speakerLabel;
  }
  if (content.turnComplete && !eventsSeen) {
    const latest = latestTurnCard();
    const card = latest && latest.dataset.outcome === "pending" ? latest : turnCard(content.chimein && content.chimein.answer_id);
    const decision = content.chimein && content.chimein.decision;
    if (decision) showDecision(card, decision);
    setOutcome(card, content.turnCompleteReason === "RESPONSE_REJECTED" ? "declined" : "answered");
  }
}

// The answer was interrupted: everything queued goes, at once.
function cutPlayback() {
  if (!audio) return;
  const droppedS = audio.player.queuedS;
  audio.player.stop();
  if (droppedS > 0 || !stats.lastInterrupt) stats.lastInterrupt = { droppedS, playingAfter: audio.player.playing };
}

// ------------------------------------------------------------------ timeline

const turnCards = new Map(); // answer_id -> <li>
let currentAnswerCard = null;
let answerTextBuffer = ""; // answer words that arrived before the answer's first audio
let lastSpeechEntry = null;
let lastSpeechStart = null; // {t, at_s}
let lastSpeechEndT = null; // server time of the last end of speech

function onEvent(ev) {
  stats.events.push(ev);
  switch (ev.type) {
    case "speech_started":
      lastSpeechStart = ev;
      lastSpeechEntry = addEntry("speech", ev, "someone is speaking…");
      break;
    case "speech_ended": {
      lastSpeechEndT = ev.t;
      const length = lastSpeechStart && ev.at_s != null ? ` (${(ev.at_s - lastSpeechStart.at_s).toFixed(1)} s)` : "";
      if (lastSpeechEntry) lastSpeechEntry.querySelector(".line").textContent = "someone spoke" + length + " · end of turn";
      else addEntry("speech", ev, "speech ended");
      lastSpeechEntry = null;
      break;
    }
    case "end_of_turn_scored":
      if (lastSpeechEntry) {
        lastSpeechEntry.querySelector(".line").textContent =
          `someone is speaking… a pause scored ${(ev.probability * 100).toFixed(0)}% likely the end of the turn`;
      }
      break;
    case "transcribed": {
      const card = turnCard(ev.answer_id, ev);
      card.dataset.endT = lastSpeechEndT != null ? String(lastSpeechEndT) : "";
      card.querySelector(".heard").textContent = ev.text ? `“${ev.text}”` : "(no words)";
      break;
    }
    case "speaker": {
      // Whose voice this turn was: an enrolled name, or "speaker N" as the session learns them.
      const who = turnCard(ev.answer_id, ev).querySelector(".line .who");
      if (who) who.textContent = ev.name.replace(/^speaker /, "Speaker ");
      break;
    }
    case "decision":
      showDecision(turnCard(ev.answer_id, ev), ev);
      break;
    case "first_audio": {
      const card = turnCard(ev.answer_id, ev);
      currentAnswerCard = card;
      if (answerTextBuffer) appendAnswerText(card, answerTextBuffer);
      answerTextBuffer = "";
      const endT = card.dataset.endT ? Number(card.dataset.endT) : lastSpeechEndT;
      const latency = endT != null ? ev.t - endT : null;
      card.dataset.latency = latency != null ? latency.toFixed(3) : "";
      setNote(card, "latency", latency != null ? `answer began ${latency.toFixed(2)} s after the end of the turn` : "answer began");
      break;
    }
    case "interrupted": {
      stats.interruptions += 1;
      cutPlayback(); // the event may overtake serverContent.interrupted
      answerTextBuffer = "";
      const card = turnCard(ev.answer_id, ev);
      setNote(card, "interrupted", `interrupted after ${Number(ev.played_s || 0).toFixed(1)} s (${ev.reason})` +
        (ev.heard ? `; they heard: “${ev.heard}”` : "; nothing was heard yet"));
      break;
    }
    case "turn_complete": {
      const card = turnCard(ev.answer_id, ev);
      setOutcome(card, ev.outcome);
      const usage = ev.usage || {};
      setNote(card, "usage", `${usage.promptTokenCount || 0} prompt + ${usage.responseTokenCount || 0} response tokens`);
      if (card === currentAnswerCard) currentAnswerCard = null;
      answerTextBuffer = "";
      break;
    }
    case "ignored":
      addEntry("ignored", ev, "ignored: " + (ev.reason || "no reason given"));
      break;
    case "answer_dropped": {
      const card = turnCards.get(ev.answer_id);
      if (card) {
        setOutcome(card, "dropped");
        setNote(card, "dropped", "answer dropped: " + (ev.reason || "the speaker went on"));
      } else {
        addEntry("ignored", ev, "answer dropped: " + (ev.reason || "the speaker went on"));
      }
      break;
    }
    case "turn_continued": {
      // The declined line went on: it is decided again with what follows, on the next card.
      const card = turnCards.get(ev.answer_id);
      if (card) {
        setOutcome(card, "continued");
        setNote(card, "continued", "the speaker went on: decided again with the next words");
      }
      break;
    }
    case "error":
      addEntry("error", ev, `server error in ${ev.stage || "?"}: ${ev.message || ""}`);
      break;
    default:
      break; // new event types appear in stats.events; the timeline shows the ones it knows
  }
}

function clock(ev) {
  // Seconds since Connect, on this page's clock: one scale for every entry.
  return ((performance.now() - connectedAt) / 1000).toFixed(1) + " s";
}

function addEntry(kind, ev, text) {
  const li = document.createElement("li");
  li.className = kind;
  const t = document.createElement("span");
  t.className = "t";
  t.textContent = clock(ev);
  const line = document.createElement("span");
  line.className = "line";
  line.textContent = text;
  li.append(t, line);
  $("timeline").append(li);
  li.scrollIntoView({ block: "nearest" });
  return li;
}

function turnCard(answerId, ev) {
  if (answerId && turnCards.has(answerId)) return turnCards.get(answerId);
  const li = document.createElement("li");
  li.className = "turn";
  li.dataset.outcome = "pending";
  if (answerId) li.dataset.answerId = answerId;
  const head = document.createElement("div");
  head.className = "line";
  const t = document.createElement("span");
  t.className = "t";
  t.textContent = clock(ev);
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = "Participant"; // until a "speaker" event names the voice
  const heard = document.createElement("span");
  heard.className = "heard";
  head.append(t, who, heard);
  const decision = document.createElement("div");
  decision.className = "decision line";
  const answer = document.createElement("div");
  answer.className = "line answer-line";
  answer.hidden = true;
  const bot = document.createElement("span");
  bot.className = "who";
  bot.textContent = "Assistant";
  const said = document.createElement("span");
  said.className = "answer";
  answer.append(bot, said);
  const notes = document.createElement("div");
  notes.className = "note";
  li.append(head, decision, answer, notes);
  $("timeline").append(li);
  li.scrollIntoView({ block: "nearest" });
  if (answerId) turnCards.set(answerId, li);
  if (pendingTyped !== null && (!ev || ev.type !== "transcribed")) {
    who.textContent = "You (typed)";
    heard.textContent = `“${pendingTyped}”`;
    pendingTyped = null;
  }
  return li;
}

function latestTurnCard() {
  const cards = document.querySelectorAll("#timeline li.turn");
  return cards.length ? cards[cards.length - 1] : null;
}

function showDecision(card, decision) {
  const el = card.querySelector(".decision");
  const answered = Boolean(decision.answer);
  el.className = "decision line " + (answered ? "chimes" : "silent");
  // The server's reason may already say what it did ("stayed silent: ..."): say it once.
  const reason = String(decision.reason || decision.rule || "").replace(/^\s*(stayed silent|staying silent|silent|answering|answered|answer|chiming in|chimes in)\s*:\s*/i, "");
  el.textContent = (answered ? "chimes in: " : "stayed silent: ") + reason;
  const scores = decision.scores || {};
  const shown = Object.entries(scores)
    .filter(([, v]) => typeof v === "number")
    .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(2)}`);
  if (decision.rule) shown.unshift("rule: " + decision.rule);
  if (shown.length) {
    const small = document.createElement("span");
    small.className = "scores";
    small.textContent = "(" + shown.join(", ") + ")";
    el.append(small);
  }
  card.dataset.decision = answered ? "answer" : "silent";
}

function appendAnswerText(card, text) {
  const line = card.querySelector(".answer-line");
  line.hidden = false;
  const said = card.querySelector(".answer");
  said.textContent = (said.textContent + text).replace(/\s+/g, " ");
}

function setOutcome(card, outcome) {
  card.dataset.outcome = outcome || "answered";
  if (outcome === "declined" && !card.querySelector(".decision").textContent) {
    card.querySelector(".decision").textContent = "stayed silent";
  }
}

function setNote(card, key, text) {
  const notes = card.querySelector(".note");
  let span = notes.querySelector(`[data-key="${key}"]`);
  if (!span) {
    span = document.createElement("span");
    span.dataset.key = key;
    if (notes.childNodes.length) notes.append(document.createTextNode(" · "));
    notes.append(span);
  }
  span.textContent = text;
}

function turnSummary(card) {
  return {
    answerId: card.dataset.answerId || null,
    outcome: card.dataset.outcome,
    who: card.querySelector(".line .who").textContent,
    heard: card.querySelector(".heard").textContent,
    decision: card.querySelector(".decision").textContent,
    answer: card.querySelector(".answer").textContent,
    latency: card.dataset.latency ? Number(card.dataset.latency) : null,
    notes: card.querySelector(".note").textContent,
  };
}

// ------------------------------------------------------------------ usage meter

function tokensOf(details, modality) {
  return (details || []).filter((d) => d.modality === modality).reduce((n, d) => n + (d.tokenCount || 0), 0);
}

function onUsage(usage) {
  // chimein reports usage per turn (like the Live API): the meter adds them up.
  const u = stats.usage;
  u.inAudio += tokensOf(usage.promptTokensDetails, "AUDIO");
  u.inText += tokensOf(usage.promptTokensDetails, "TEXT");
  const response = usage.responseTokensDetails || usage.candidatesTokensDetails;
  u.outAudio += tokensOf(response, "AUDIO");
  u.outText += tokensOf(response, "TEXT");
  u.total += usage.totalTokenCount || 0;
  stats.reportedInputSamples = stats.sentSamples;
  renderUsage();
}

function money(value) {
  const currency = prices.currency || "USD";
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency, minimumFractionDigits: 4, maximumFractionDigits: 4 }).format(value);
  } catch {
    return value.toFixed(4) + " " + currency;
  }
}

function renderUsage() {
  const u = stats.usage;
  const p = prices.perMillionTokens;
  const inCost = (u.inAudio * p.input.audio + u.inText * p.input.text) / 1e6;
  const outCost = (u.outAudio * p.output.audio + u.outText * p.output.text) / 1e6;
  $("in-audio").textContent = u.inAudio.toLocaleString();
  $("in-text").textContent = u.inText.toLocaleString();
  $("out-audio").textContent = u.outAudio.toLocaleString();
  $("out-text").textContent = u.outText.toLocaleString();
  $("total-tokens").textContent = u.total.toLocaleString();
  $("in-cost").textContent = money(inCost);
  $("out-cost").textContent = money(outCost);
  $("total-cost").textContent = money(inCost + outCost);
  updateListening();
}

function updateListening() {
  const pending = (stats.sentSamples - (stats.reportedInputSamples || 0)) / INPUT_RATE;
  $("listening").textContent =
    `${(stats.sentSamples / INPUT_RATE).toFixed(1)} s of audio sent; ${pending.toFixed(1)} s ` +
    `(~${Math.ceil(pending * AUDIO_TOKENS_PER_S)} input tokens) not yet reported: the server reports usage at each turn's end.`;
}

function renderPriceLabel() {
  const p = prices.perMillionTokens;
  const rate = `${p.input.audio}/${p.output.audio} per million audio tokens in/out`;
  $("price-label").textContent = prices.example
    ? `· cost at EXAMPLE prices (${rate}, ${prices.currency}), not real ones: set yours in $CHIMEIN_HOME/prices.toml`
    : `· cost at the server's prices (${rate}, ${prices.currency}; ${prices.source})`;
}

// ------------------------------------------------------------------ typed turns

let pendingTyped = null; // text typed and sent, waiting for its turn card

function sendText() {
  const text = $("text").value.trim();
  if (!text || !ws || !setupDone) return;
  send({ realtimeInput: { text } });
  pendingTyped = text;
  $("text").value = "";
}

// ------------------------------------------------------------------ co-listening

const MIME_BY_EXTENSION = {
  wav: "audio/wav", mp3: "audio/mpeg", ogg: "audio/ogg", oga: "audio/ogg", opus: "audio/ogg",
  flac: "audio/flac", m4a: "audio/mp4", mp4: "audio/mp4", webm: "audio/webm", aac: "audio/aac",
};

async function coListen() {
  const file = $("file").files[0];
  if (!file) {
    showMessage("warn", "Choose a recording first.");
    return;
  }
  if (!ws || !setupDone) {
    showMessage("warn", "Connect first: the recording is sent into the live session.");
    return;
  }
  const extension = file.name.includes(".") ? file.name.split(".").pop().toLowerCase() : "";
  const mimeType = file.type || MIME_BY_EXTENSION[extension] || "application/octet-stream";
  const data = await fileToBase64(file);
  let duration = "";
  try {
    const decoded = await ensureAudio().ctx.decodeAudioData(await file.arrayBuffer());
    duration = `${decoded.duration.toFixed(1)} s, `;
  } catch { /* the server decides what it accepts; the browser may not know the format */ }
  lastFileSent = { name: file.name, at: performance.now() };
  send({ clientContent: { turns: [{ role: "user", parts: [{ inlineData: { mimeType, data } }] }], turnComplete: false } });
  addEntry("file", null, `co-listening: sent “${file.name}” (${duration}${Math.round(file.size / 1024)} kB, ${mimeType})`);
}

function fileToBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

// ------------------------------------------------------------------ helpers

function bytesToBase64(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function base64ToInt16(text) {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  const bytes = new Uint8Array(binary.length - (binary.length % 2));
  for (let i = 0; i < bytes.length; i++) bytes[i] = binary.charCodeAt(i);
  const view = new DataView(bytes.buffer);
  const out = new Int16Array(bytes.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = view.getInt16(i * 2, true);
  return out;
}

function setState(state, label) {
  stats.state = state === "error" ? "closed" : state;
  const el = $("status");
  el.dataset.state = state;
  el.textContent = label;
}

function setButtons() {
  const open = Boolean(ws);
  $("connect").disabled = open;
  $("disconnect").disabled = !open;
  $("colisten").disabled = !open;
  $("send-text").disabled = !open;
  for (const id of ["model", "voice", "preset", "instruction", "proactive", "start-sensitivity", "end-sensitivity", "silence-ms", "interrupts", "voice-processing", "api-key"]) {
    $(id).disabled = open;
  }
}

function showMessage(kind, text, offerReconnect = false) {
  $("message").hidden = false;
  $("message").dataset.kind = kind;
  $("message-text").textContent = text;
  $("reconnect").hidden = !offerReconnect;
}

function hideMessage() {
  $("message").hidden = true;
  $("reconnect").hidden = true;
}

// ------------------------------------------------------------------ start-up

async function loadConfig() {
  try {
    const response = await fetch("/console/config.json", { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    config = await response.json();
  } catch (err) {
    config = {
      version: "", models: ["gemini-2.5-flash-native-audio-preview-09-2025"],
      defaultModel: "gemini-2.5-flash-native-audio-preview-09-2025",
      voices: [{ name: "Puck", voice: "joe" }, { name: "Kore", voice: "heart" }], defaultVoice: "Kore", prices: null,
    };
    showMessage("warn", `Could not read the server's settings (${err.message}); using built-in defaults.`);
  }
  prices = config.prices || FALLBACK_PRICES;
  $("version").textContent = config.version ? "v" + config.version : "";
  for (const name of config.models) {
    const option = document.createElement("option");
    option.value = name;
    $("models").append(option);
  }
  $("model").value = config.defaultModel;
  const groups = {};
  for (const v of config.voices) (groups[v.voice] = groups[v.voice] || []).push(v.name);
  for (const [voice, names] of Object.entries(groups)) {
    const group = document.createElement("optgroup");
    group.label = `spoken by chimein's “${voice}” voice`;
    for (const name of names) {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = name;
      group.append(option);
    }
    $("voice").append(group);
  }
  $("voice").value = config.defaultVoice;
  renderPriceLabel();
  renderUsage();
}

function init() {
  $("instruction").value = PRESETS.default;
  $("preset").addEventListener("change", () => {
    const text = PRESETS[$("preset").value];
    if (text !== undefined) $("instruction").value = text;
  });
  $("instruction").addEventListener("input", () => {
    const match = Object.entries(PRESETS).find(([, text]) => text === $("instruction").value);
    $("preset").value = match ? match[0] : "custom";
  });
  $("connect").addEventListener("click", () => { resuming = false; resumeHandle = null; connect(); });
  $("disconnect").addEventListener("click", disconnect);
  $("reconnect").addEventListener("click", () => {
    resuming = Boolean(resumeHandle);
    addEntry("session", null, resuming ? "reconnecting: resuming the session" : "reconnecting: a new session");
    connect();
  });
  $("colisten").addEventListener("click", () => coListen().catch((err) => showMessage("error", "Could not send the recording: " + err.message)));
  $("send-text").addEventListener("click", sendText);
  $("text").addEventListener("keydown", (event) => { if (event.key === "Enter") { event.preventDefault(); sendText(); } });
  $("endpoint").textContent = liveUrl().replace(/\?.*/, "");
  setButtons();
  loadConfig().then(() => { window.chimeinConsole.ready = true; });
}

init();

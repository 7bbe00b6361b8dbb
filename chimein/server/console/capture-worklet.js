// Microphone capture for the chimein console: AudioContext rate -> 16 kHz PCM16, 100 ms chunks.
//
// Why a worklet: it runs on the audio thread with every sample, so nothing is lost when the page
// is busy drawing. Why our own resampler: the AudioContext runs at the device rate (often 44.1 or
// 48 kHz) and the Live API takes 16 kHz; 44.1 -> 16 is a fractional ratio (2.75625), so we
// evaluate a windowed-sinc low-pass at each output instant (anti-aliasing included), keeping a
// little history across the 128-frame blocks.

const OUTPUT_RATE = 16000;
const CHUNK_SAMPLES = 1600; // 100 ms at 16 kHz
const HALF_TAPS = 8; // kernel half-width in output-rate periods (8 zero crossings each side)

class FractionalResampler {
  constructor(inputRate, outputRate) {
    this.step = inputRate / outputRate; // input samples per output sample
    this.cutoff = Math.min(1, outputRate / inputRate) * 0.92; // normalised to the input rate
    this.half = Math.ceil(HALF_TAPS * this.step); // kernel half-width in input samples
    this.buffer = new Float32Array(0);
    this.next = this.half; // position (in buffer samples) of the next output instant
  }

  push(input) {
    const merged = new Float32Array(this.buffer.length + input.length);
    merged.set(this.buffer);
    merged.set(input, this.buffer.length);
    this.buffer = merged;
    const out = [];
    while (this.next + this.half < this.buffer.length) {
      out.push(this.sample(this.next));
      this.next += this.step;
    }
    // Drop what no future output instant can reach.
    const keepFrom = Math.max(0, Math.floor(this.next) - this.half);
    if (keepFrom > 0) {
      this.buffer = this.buffer.slice(keepFrom);
      this.next -= keepFrom;
    }
    return out;
  }

  sample(t) {
    const first = Math.ceil(t - this.half);
    const last = Math.floor(t + this.half);
    let acc = 0;
    let norm = 0;
    for (let k = first; k <= last; k++) {
      const x = t - k;
      const w = 0.5 + 0.5 * Math.cos((Math.PI * x) / (this.half + 1)); // Hann window
      const arg = Math.PI * this.cutoff * x;
      const h = w * (x === 0 ? 1 : Math.sin(arg) / arg);
      acc += this.buffer[k] * h;
      norm += h;
    }
    return norm !== 0 ? acc / norm : 0;
  }
}

class CaptureProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.resampler = new FractionalResampler(sampleRate, OUTPUT_RATE);
    this.chunk = new Int16Array(CHUNK_SAMPLES);
    this.filled = 0;
    this.sumSquares = 0;
    this.running = true;
    this.port.onmessage = (event) => {
      if (event.data === "stop") this.running = false;
    };
  }

  process(inputs) {
    if (!this.running) return false;
    const channels = inputs[0];
    if (!channels || channels.length === 0) return true;
    // Mix down to mono.
    let mono = channels[0];
    if (channels.length > 1) {
      mono = new Float32Array(channels[0].length);
      for (const channel of channels) for (let i = 0; i < mono.length; i++) mono[i] += channel[i] / channels.length;
    }
    for (const value of this.resampler.push(mono)) {
      const clipped = Math.max(-1, Math.min(1, value));
      this.chunk[this.filled++] = clipped < 0 ? clipped * 32768 : clipped * 32767;
      this.sumSquares += clipped * clipped;
      if (this.filled === CHUNK_SAMPLES) {
        const rms = Math.sqrt(this.sumSquares / CHUNK_SAMPLES);
        this.port.postMessage({ pcm: this.chunk.buffer, rms }, [this.chunk.buffer]);
        this.chunk = new Int16Array(CHUNK_SAMPLES);
        this.filled = 0;
        this.sumSquares = 0;
      }
    }
    return true;
  }
}

registerProcessor("chimein-capture", CaptureProcessor);

// AudioWorklet: the page's audio (microphone or a played file) as 16 kHz 16-bit mono PCM, posted in ~100 ms
// pieces. The context is opened at 16 kHz where the browser allows it (its own resampler); otherwise this
// resamples: a moving average as long as the rate ratio (against aliasing), then linear interpolation.
const TARGET_RATE = 16000;
const POST_SAMPLES = 1600; // 100 ms at 16 kHz

class Capture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = sampleRate / TARGET_RATE; // input samples per output sample
    this.width = Math.max(1, Math.round(this.step));
    this.history = new Float32Array(this.width);
    this.pos = 0; // position of the next output sample, in input samples from the current block's start
    this.prev = 0; // the last smoothed input sample of the previous block
    this.out = new Int16Array(POST_SAMPLES);
    this.n = 0;
  }

  push(x) {
    const s = Math.max(-1, Math.min(1, x));
    this.out[this.n++] = s < 0 ? s * 32768 : s * 32767;
    if (this.n === POST_SAMPLES) {
      this.port.postMessage(this.out.buffer, [this.out.buffer]);
      this.out = new Int16Array(POST_SAMPLES);
      this.n = 0;
    }
  }

  smooth(block) {
    if (this.width === 1) return block;
    const out = new Float32Array(block.length);
    let sum = this.history.reduce((a, b) => a + b, 0);
    for (let i = 0; i < block.length; i++) {
      sum += block[i] - this.history[i % this.width];
      this.history[i % this.width] = block[i];
      out[i] = sum / this.width;
    }
    return out;
  }

  process(inputs) {
    const input = inputs[0];
    if (!input || input.length === 0) return true;
    const block = this.smooth(input[0]); // first channel: mono
    if (this.step === 1) {
      for (let i = 0; i < block.length; i++) this.push(block[i]);
      return true;
    }
    while (this.pos < block.length) {
      const i = Math.floor(this.pos);
      const frac = this.pos - i;
      const a = i === 0 ? this.prev : block[i - 1];
      this.push(a + (block[i] - a) * frac);
      this.pos += this.step;
    }
    this.pos -= block.length;
    this.prev = block[block.length - 1];
    return true;
  }
}

registerProcessor("capture", Capture);

// The page: capture (microphone or a played file) -> capture.js worklet (16 kHz PCM) -> WebSocket -> words.
"use strict";
const $ = (id) => document.getElementById(id);
const token = new URLSearchParams(location.search).get("token");
const withToken = (path) => (token ? `${path}?token=${encodeURIComponent(token)}` : path);
let ws = null, ctx = null, source = null, node = null, sentSamples = 0, startedAt = 0;
let segments = {}; // segment index -> {committed, tail, final}
let nWords = 0;

function render() {
  const box = $("transcript");
  box.replaceChildren();
  for (const key of Object.keys(segments).map(Number).sort((a, b) => a - b)) {
    const s = segments[key];
    const p = document.createElement("p");
    p.append(document.createTextNode(s.final ?? s.committed));
    if (s.final === undefined && s.tail) {
      const span = document.createElement("span");
      span.className = "tail";
      span.textContent = (s.committed ? " " : "") + s.tail;
      p.append(span);
    }
    box.append(p);
  }
}

function onEvent(e) {
  if (e.event === "error") { $("error").textContent = e.message; return; }
  if (e.event === "ready") { $("error").textContent = ""; return; }
  if (e.event === "segment_start") segments[e.segment] = { committed: "", tail: "" };
  if (e.event === "text") Object.assign(segments[e.segment] ??= {}, { committed: e.committed, tail: e.tail });
  if (e.event === "segment_end") (segments[e.segment] ??= {}).final = e.text;
  if (e.event === "status") {
    const sentMs = (sentSamples / 16) | 0;
    $("stats").textContent = `lag behind real time: ${Math.max(0, sentMs - e.source_ms).toFixed(0)} ms · ` +
      `model time per chunk: ${e.compute_ms.toFixed(1)} ms · words: ${nWords}`;
  }
  if (e.event === "final") {
    Object.assign($("transcript").dataset, { final: e.text, durationMs: e.duration_ms, segments: e.n_segments });
    stopAudio();
  }
  nWords = Object.values(segments).reduce((n, s) => n + (s.final ?? s.committed).split(/\s+/).filter(Boolean).length, 0);
  render();
}

async function openSocket() {
  const [src, tgt] = $("direction").value.split(">");
  ws = new WebSocket(withToken(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/stream`));
  ws.binaryType = "arraybuffer";
  ws.onmessage = (m) => onEvent(JSON.parse(m.data));
  ws.onclose = (c) => { if (c.code !== 1000) $("error").textContent = `closed: ${c.code} ${c.reason}`; stopAudio(); };
  await new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = fail; });
  const start = { type: "start", task: src === tgt ? "asr" : "st", src_lang: src, tgt_lang: tgt };
  if ($("policy").value) start.policy = $("policy").value;
  ws.send(JSON.stringify(start));
}

async function startAudio(makeSource) {
  segments = {}; sentSamples = 0; render();
  $("start").disabled = true; $("file").disabled = true; $("stop").disabled = false;
  try {
    await openSocket();
    ctx = new AudioContext({ sampleRate: 16000 });
    await ctx.audioWorklet.addModule("capture.js");
    node = new AudioWorkletNode(ctx, "capture");
    node.port.onmessage = (m) => {
      if (ws && ws.readyState === WebSocket.OPEN) { ws.send(m.data); sentSamples += m.data.byteLength / 2; }
    };
    source = await makeSource(ctx);
    source.connect(node);
    startedAt = performance.now();
  } catch (err) {
    $("error").textContent = `cannot start: ${err.message ?? err}`;
    stopAudio();
  }
}

function stopAudio() {
  if (source) { try { source.disconnect(); source.mediaStream?.getTracks().forEach((t) => t.stop()); } catch (_) {} }
  if (ctx) ctx.close();
  source = ctx = node = null;
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "stop" }));
  $("start").disabled = false; $("file").disabled = false; $("stop").disabled = true;
}

$("start").onclick = () => startAudio(async (c) => {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: false } });
  return c.createMediaStreamSource(stream); // its .mediaStream: the tracks stopAudio stops
});

$("file").onchange = () => {
  const file = $("file").files[0];
  if (!file) return;
  startAudio(async (c) => {
    const s = c.createBufferSource();
    s.buffer = await c.decodeAudioData(await file.arrayBuffer());
    s.connect(c.destination); // heard while it is streamed
    s.onended = () => setTimeout(stopAudio, 400); // let the worklet post its last piece
    s.start();
    return s;
  });
};

$("stop").onclick = stopAudio;

fetch(withToken("/info")).then((r) => r.json()).then((info) => {
  $("model").textContent = `model: ${info.model} · default policy: ${info.policy}`;
  $("policy").placeholder = info.policy;
  for (const t of info.tasks) {
    const o = document.createElement("option");
    o.value = `${t.src_lang}>${t.tgt_lang}`;
    o.textContent = t.task === "st" ? `${t.src_lang} → ${t.tgt_lang}` : `${t.src_lang} (transcribe)`;
    $("direction").append(o);
  }
}).catch((err) => { $("error").textContent = `no server info: ${err}`; });

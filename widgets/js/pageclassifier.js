// widgets/intro.py's PageClassifier front end: draw, and a TF.js model running IN THIS PAGE
// says what it is, as you draw. The kernel is told the prediction (label, probabilities,
// milliseconds) once per stroke, never the pixels; only "Compare with the kernel" sends the
// drawing, on purpose, to time a round trip. Styles: pageclassifier.css.
//
// TF.js is not imported here: evaluating it twice in one page breaks it. The browser runtime
// (widgets/browser_runtime.js) loads it once per page and caches a promise of {tf, ...} on
// globalThis.__browserml.tfjs[bundle_id]; this module polls for that entry, with a deadline.
//
// Messages (custom ones: nothing lands in the saved notebook):
//   page -> kernel: hello; status {text, phase, ...}; prediction {stroke, index, label, probs, ms,
//                   backend}; ping {run, seq} + 784 float32 pixels; latency {run, page_ms, round_trip_ms}
//   kernel -> page: model {model_json, labels} + the weights' bytes; pong {run, seq, label}; compare {n}
// The model, the latest drawing and the comparison belong to the widget (initialize), shared
// by its views; each view (render) has its own canvas, bars and listeners.

const SIZE = 28;
const MAX_COMPARE = 30;
const MIN_SAMPLE_MS = 2;  // the page's clock is coarse (0.1 ms): time batches of predictions this long
const KIND = Object.freeze({
  HELLO: "hello", STATUS: "status", PREDICTION: "prediction", PING: "ping", LATENCY: "latency",
  MODEL: "model", PONG: "pong", COMPARE: "compare",
});
// One engine per widget, keyed by its instance_id trait: anywidget hands initialize and each
// render a different proxy of the same model, so the proxy itself cannot be the key.
const ENGINES = new Map();

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const errorText = (err) => String(err && err.message ? err.message : err);
const median = (xs) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function withTimeout(promise, ms, why) {
  let timer;
  const late = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(why)), ms); });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** The widget's shared half: the TF.js model, the latest drawing, the views showing them. */
function engineFor(model) {
  const id = model.get("instance_id");
  let e = ENGINES.get(id);
  if (!e) {
    e = { tf: null, net: null, labels: [], backend: "", ready: false, status: "starting…", views: new Set(),
          pixels: new Float32Array(SIZE * SIZE), hasInk: false, pending: new Map(), run: 0, comparing: false,
          latency: null, closed: false, modelArrived: null };
    ENGINES.set(id, e);
  }
  return e;
}

function send(model, e, content, buffers) {
  if (!e.closed) model.send(content, undefined, buffers);
}

/** Show `text` in every view; with a phase, tell the kernel too (milestones only). */
function say(model, e, text, phase, extra) {
  e.status = text;
  e.views.forEach((v) => v.showStatus(text));
  if (phase) send(model, e, Object.assign({ kind: KIND.STATUS, text: text, phase: phase }, extra || {}));
}

/** TF.js from the browser runtime's page-wide cache: poll for it, then await it, both by a deadline. */
async function waitForTf(bundleId, timeoutMs, show) {
  const cache = () => (globalThis.__browserml && globalThis.__browserml.tfjs) || {};
  const t0 = performance.now();
  let shown = -1;
  while (!cache()[bundleId]) {
    const waited = performance.now() - t0;
    if (waited > timeoutMs) {
      throw new Error(`TF.js did not load within ${Math.round(timeoutMs / 1000)} s. The browser runtime loads ` +
                      "it: see its status line above, and run the cell again once it has loaded.");
    }
    if (Math.floor(waited / 1000) !== shown) {
      shown = Math.floor(waited / 1000);
      show(`waiting for TF.js from the browser runtime… ${shown} s`);
    }
    await sleep(150);
  }
  show("TF.js is loading…");
  try {
    const left = Math.max(1000, timeoutMs - (performance.now() - t0));
    return (await withTimeout(cache()[bundleId], left, `TF.js did not finish loading within ${Math.round(timeoutMs / 1000)} s`)).tf;
  } catch (err) {
    throw new Error("TF.js could not be loaded: " + errorText(err));
  }
}

/** Wait for TF.js and the model, build it from memory, warm it up; every failure in words. */
async function start(model, e) {
  const timeoutMs = 1000 * model.get("load_timeout_s");
  const arrived = new Promise((resolve) => { e.modelArrived = resolve; });
  send(model, e, { kind: KIND.HELLO });
  let tf;
  try {
    tf = await waitForTf(model.get("bundle_id"), timeoutMs, (text) => say(model, e, text));
  } catch (err) {
    say(model, e, errorText(err), "no-tfjs");
    return;
  }
  say(model, e, "waiting for the model from the kernel…");
  let msg;
  try {
    msg = await withTimeout(arrived, timeoutMs, "the kernel did not send the model in time (is a cell still running?)");
  } catch (err) {
    say(model, e, errorText(err), "no-model");
    return;
  }
  try {
    // The backend the runtime's last job left (cpu after its TF.js check); none yet: cpu.
    if (!tf.getBackend()) await tf.setBackend("cpu");
    else await tf.ready();  // a backend still initialising (wasm) is awaited, not raced
    const t0 = performance.now();
    const artifacts = tf.browserml.artifactsFromParts(msg.content.model_json, msg.buffers[0]);
    const net = await tf.loadLayersModel(tf.browserml.memoryHandler(artifacts));
    const probe = tf.tidy(() => net.predict(tf.zeros([1, SIZE, SIZE])).dataSync());
    if (probe.length !== msg.content.labels.length) throw new Error(`it answers ${probe.length} values, not one per class`);
    Object.assign(e, { tf: tf, net: net, labels: msg.content.labels, backend: tf.getBackend(), ready: true });
    const loadMs = performance.now() - t0;
    say(model, e, `model loaded in this page in ${loadMs.toFixed(0)} ms (TF.js ${tf.version.tfjs}, ${e.backend}): draw!`,
        "ready", { backend: e.backend, tfjs_version: tf.version.tfjs, load_ms: Number(loadMs.toFixed(1)) });
    e.views.forEach((v) => v.update(false));
  } catch (err) {
    say(model, e, "the model could not be loaded in this page: " + errorText(err), "bad-model");
  }
}

/** One prediction in the page, inside tf.tidy (every tensor disposed): probabilities and ms. */
function classify(e, pixels) {
  const tf = e.tf;
  const t0 = performance.now();
  const probs = tf.tidy(() => e.net.predict(tf.tensor(pixels, [1, SIZE, SIZE])).dataSync());
  return { probs: Float32Array.from(probs), ms: performance.now() - t0 };
}

/** The model's input from a canvas, by browserml.intro.model.fit_drawing's rule: the square
 * around the ink's bounding box (its longer side, at least 28 px), centred on the box, split into
 * 28 x 28 cells, each the mean ink (red channel / 255) of the pixels whose centres fall in it. */
function drawingInput(ctx, w, h) {
  const rgba = ctx.getImageData(0, 0, w, h).data;
  let x0 = w, x1 = -1, y0 = h, y1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (rgba[4 * (y * w + x)] > 0) {
        if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
      }
    }
  }
  const sums = new Float64Array(SIZE * SIZE);
  const out = new Float32Array(SIZE * SIZE);
  if (x1 < 0) return { pixels: out, hasInk: false };
  x1 += 1; y1 += 1;
  const side = Math.max(x1 - x0, y1 - y0, SIZE);
  const left = (x0 + x1 - side) / 2, top = (y0 + y1 - side) / 2, cell = side / SIZE;
  for (let y = y0; y < y1; y++) {
    const row = Math.floor((y + 0.5 - top) / cell);
    for (let x = x0; x < x1; x++) {
      const v = rgba[4 * (y * w + x)];
      const col = Math.floor((x + 0.5 - left) / cell);
      if (v > 0 && row >= 0 && row < SIZE && col >= 0 && col < SIZE) sums[row * SIZE + col] += v / 255;
    }
  }
  const rows = pixelsPerCell(top, side), cols = pixelsPerCell(left, side);
  for (let i = 0; i < sums.length; i++) out[i] = Math.min(sums[i] / (rows[Math.floor(i / SIZE)] * cols[i % SIZE]), 1);
  return { pixels: out, hasInk: true };
}

/** How many whole-pixel centres fall in each of the 28 cells along one axis of the square
 * [start, start + side): fit_drawing's _pixels_per_cell, with the same arithmetic. */
function pixelsPerCell(start, side) {
  const counts = new Float64Array(SIZE);
  for (let x = Math.floor(start) - 1; x < Math.ceil(start + side) + 1; x++) {
    const c = Math.floor((x + 0.5 - start) / (side / SIZE));
    if (c >= 0 && c < SIZE) counts[c] += 1;
  }
  return counts;
}

/** One round trip: the drawing to the kernel, its answer back. */
function ping(model, e, run, seq, pixels) {
  const key = `${run}:${seq}`;
  const answer = new Promise((resolve) => e.pending.set(key, resolve));
  const seconds = model.get("ping_timeout_s");
  send(model, e, { kind: KIND.PING, run: run, seq: seq, shape: [SIZE, SIZE], dtype: "float32" }, [pixels.slice().buffer]);
  return withTimeout(answer, 1000 * seconds, `the kernel did not answer within ${seconds} s ` +
                     "(it answers between cells: is a cell running?)").finally(() => e.pending.delete(key));
}

/** Time n predictions in the page, then n round trips to the kernel with the same drawing. */
async function compare(model, e, n) {
  if (e.comparing) return;
  if (!e.ready) { say(model, e, "the model is not loaded in this page yet: nothing to compare", "not-ready"); return; }
  n = Math.max(1, Math.min(MAX_COMPARE, Math.round(Number(n) || model.get("compare_n"))));
  e.comparing = true;
  e.views.forEach((v) => v.setBusy(true));
  const run = ++e.run, pixels = Float32Array.from(e.pixels), pageMs = [], tripMs = [];
  let error = null;
  try {
    say(model, e, `timing ${n} predictions in this page…`);
    classify(e, pixels);  // warm
    let reps = 1;  // predictions per sample: doubled until a sample lasts MIN_SAMPLE_MS
    while (reps < 4096) {
      const t = performance.now();
      for (let r = 0; r < reps; r++) classify(e, pixels);
      if (performance.now() - t >= MIN_SAMPLE_MS) break;
      reps *= 2;
    }
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      for (let r = 0; r < reps; r++) classify(e, pixels);
      pageMs.push((performance.now() - t0) / reps);
    }
    for (let i = 0; i < n; i++) {
      say(model, e, `round trip ${i + 1} of ${n}: your drawing to the kernel and back…`);
      const t0 = performance.now();
      const pong = await ping(model, e, run, i, pixels);
      tripMs.push(performance.now() - t0);
      if (pong.error) throw new Error("the kernel refused the drawing: " + pong.error);
    }
  } catch (err) {
    error = errorText(err);
  } finally {
    e.comparing = false;
  }
  e.latency = { page: median(pageMs), trip: median(tripMs) };
  send(model, e, { kind: KIND.LATENCY, run: run, n: n, error: error,
                   page_ms: pageMs.map((v) => Number(v.toFixed(4))), round_trip_ms: tripMs.map((v) => Number(v.toFixed(2))) });
  e.views.forEach((v) => { v.setBusy(false); v.showLatency(); });
  say(model, e, error ? "comparison stopped: " + error
    : `compared: ${e.latency.page.toFixed(3)} ms in this page, ${e.latency.trip.toFixed(2)} ms to the kernel and back`);
}

export default {
  initialize({ model }) {
    const e = engineFor(model);
    e.closed = false;
    function onCustom(msg, buffers) {
      if (!msg) return;
      if (msg.kind === KIND.MODEL && e.modelArrived) e.modelArrived({ content: msg, buffers: buffers || [] });
      else if (msg.kind === KIND.PONG) {
        const resolve = e.pending.get(`${msg.run}:${msg.seq}`);
        if (resolve) resolve(msg);
      } else if (msg.kind === KIND.COMPARE) compare(model, e, msg.n);
    }
    model.on("msg:custom", onCustom);
    start(model, e);
    return () => {
      e.closed = true;
      ENGINES.delete(model.get("instance_id"));
      model.off("msg:custom", onCustom);
    };
  },

  render({ model, el }) {
    const e = engineFor(model);
    const size = model.get("size") || 280;
    const root = document.createElement("div");
    root.className = "browserml-pageclf";
    const canvas = document.createElement("canvas");
    canvas.width = size; canvas.height = size;
    canvas.className = "browserml-pageclf-canvas";
    canvas.title = "Draw a piece of clothing, a shoe or a bag (light ink on black, as in Fashion-MNIST)";
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    const preview = document.createElement("canvas");
    preview.width = SIZE; preview.height = SIZE;
    preview.className = "browserml-pageclf-preview";
    preview.title = "What the model sees: your drawing fitted to 28 x 28";
    const clear = document.createElement("button");
    clear.textContent = "Clear";
    clear.className = "jupyter-button browserml-pageclf-clear";
    const compareButton = document.createElement("button");
    compareButton.className = "jupyter-button browserml-pageclf-compare";
    compareButton.title = "Time predictions in this page, then the same drawing sent to the kernel and back";
    const bars = document.createElement("div");
    bars.className = "browserml-pageclf-bars";
    const latency = document.createElement("div");
    latency.className = "browserml-pageclf-latency";
    const status = document.createElement("div");
    status.className = "browserml-pageclf-status";
    const side = document.createElement("div");
    side.className = "browserml-pageclf-side";
    const buttons = document.createElement("div");
    buttons.className = "browserml-pageclf-buttons";
    buttons.append(clear, compareButton);
    side.append(bars, preview, buttons, latency);
    root.append(canvas, side, status);
    el.append(root);

    let drawing = false, last = null, frame = 0, strokes = 0;
    function blank() {
      ctx.fillStyle = "#000";  // the model's background: black, as in Fashion-MNIST, on any theme
      ctx.fillRect(0, 0, size, size);
    }
    function showBars(probs) {
      bars.replaceChildren();
      const order = probs ? [...probs.keys()].sort((a, b) => probs[b] - probs[a]).slice(0, 3) : [];
      if (!order.length) {
        const hint = document.createElement("div");
        hint.className = "browserml-pageclf-hint";
        hint.textContent = e.ready ? "draw something: the top 3 classes appear here" : "the model is loading…";
        bars.append(hint);
        return;
      }
      for (const i of order) {
        const row = document.createElement("div");
        row.className = "browserml-pageclf-row";
        const name = document.createElement("span");
        name.className = "browserml-pageclf-name";
        name.textContent = e.labels[i] || String(i);
        const track = document.createElement("span");
        track.className = "browserml-pageclf-track";
        const fill = document.createElement("span");
        fill.className = "browserml-pageclf-fill";
        fill.style.width = `${(100 * probs[i]).toFixed(1)}%`;
        track.append(fill);
        const pct = document.createElement("span");
        pct.className = "browserml-pageclf-pct";
        pct.textContent = `${(100 * probs[i]).toFixed(0)}%`;
        row.append(name, track, pct);
        bars.append(row);
      }
    }
    function showPreview(pixels) {
      const img = new ImageData(SIZE, SIZE);
      for (let i = 0; i < pixels.length; i++) {
        const v = Math.round(255 * pixels[i]);
        img.data.set([v, v, v, 255], 4 * i);
      }
      preview.getContext("2d").putImageData(img, 0, 0);
    }
    const view = {
      showStatus(text) { status.textContent = text; },
      setBusy(busy) { compareButton.disabled = busy; clear.disabled = busy; },
      showLatency() {
        latency.replaceChildren();
        if (!e.latency || !Number.isFinite(e.latency.page)) return;
        const cells = [["in this page", e.latency.page, 3], ["to the kernel and back", e.latency.trip, 2]];
        for (const [where, ms, digits] of cells) {
          const box = document.createElement("div");
          box.className = "browserml-pageclf-timing";
          const value = document.createElement("b");
          value.textContent = Number.isFinite(ms) ? `${ms.toFixed(digits)} ms` : "—";
          box.append(value, document.createTextNode(" " + where));
          latency.append(box);
        }
      },
      /** Classify what this view's canvas holds; at the end of a stroke, tell the kernel. */
      update(endOfStroke) {
        const { pixels, hasInk } = drawingInput(ctx, size, size);
        e.pixels = pixels; e.hasInk = hasInk;
        showPreview(pixels);
        if (!e.ready || !hasInk) { showBars(null); return; }
        let result;
        try {
          result = classify(e, pixels);
        } catch (err) {
          say(model, e, "prediction failed in this page: " + errorText(err), "error");
          return;
        }
        showBars(result.probs);
        if (!endOfStroke) return;
        let best = 0;
        result.probs.forEach((p, i) => { if (p > result.probs[best]) best = i; });
        send(model, e, { kind: KIND.PREDICTION, stroke: strokes, index: best, label: e.labels[best],
                         probs: Array.from(result.probs, (p) => Number(p.toFixed(4))), ms: Number(result.ms.toFixed(3)),
                         backend: e.backend });
      },
    };
    function point(ev) {
      const r = canvas.getBoundingClientRect();
      return [(ev.clientX - r.left) * size / r.width, (ev.clientY - r.top) * size / r.height];
    }
    function stroke(from, to) {
      ctx.strokeStyle = "#fff";
      ctx.lineWidth = model.get("brush") || 24;
      ctx.lineCap = "round"; ctx.lineJoin = "round";
      ctx.beginPath(); ctx.moveTo(from[0], from[1]); ctx.lineTo(to[0], to[1]); ctx.stroke();
    }
    function onFrame() { frame = 0; view.update(false); }
    function schedule() { if (!frame) frame = requestAnimationFrame(onFrame); }
    function onDown(ev) {
      if (e.comparing) return;
      drawing = true; last = point(ev);
      stroke(last, last);
      schedule();
      ev.preventDefault();
    }
    function onMove(ev) {
      if (!drawing) return;
      const p = point(ev);
      stroke(last, p); last = p;
      schedule();
    }
    function onUp() {  // on the window: a stroke that ends outside the canvas still ends
      if (!drawing) return;
      drawing = false; strokes += 1;
      if (frame) { cancelAnimationFrame(frame); frame = 0; }
      view.update(true);
    }
    function onClear() {
      blank(); strokes = 0;
      view.update(false);
      say(model, e, e.ready ? "cleared: draw again" : e.status, "cleared");
    }
    function onCompare() { compare(model, e, model.get("compare_n")); }
    function onCompareN() { compareButton.textContent = `Compare with the kernel (${model.get("compare_n")}×)`; }

    canvas.addEventListener("pointerdown", onDown);
    canvas.addEventListener("pointermove", onMove);
    window.addEventListener("pointerup", onUp);
    window.addEventListener("pointercancel", onUp);
    clear.addEventListener("click", onClear);
    compareButton.addEventListener("click", onCompare);
    model.on("change:compare_n", onCompareN);
    blank(); onCompareN();
    e.views.add(view);
    view.showStatus(e.status); view.showLatency(); view.setBusy(e.comparing); view.update(false);
    return () => {
      e.views.delete(view);
      if (frame) cancelAnimationFrame(frame);
      model.off("change:compare_n", onCompareN);
      canvas.removeEventListener("pointerdown", onDown);
      canvas.removeEventListener("pointermove", onMove);
      window.removeEventListener("pointerup", onUp);
      window.removeEventListener("pointercancel", onUp);
      clear.removeEventListener("click", onClear);
      compareButton.removeEventListener("click", onCompare);
    };
  },
};

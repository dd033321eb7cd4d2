// browserml-page.js: built by browserml/js/runtime/build.mjs from page.js and core.js. Do not edit.

// browserml/js/runtime/core.js
function median(values) {
  const s = values.slice().sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
var now = () => typeof performance !== "undefined" ? performance.now() : Date.now();
var messageOf = (err) => String(err && err.message ? err.message : err);
async function loadModel(tf, format, source) {
  if (format === "layers") return tf.loadLayersModel(source);
  if (format === "graph") return tf.loadGraphModel(source);
  throw new Error("browserml.json: unknown model_format " + JSON.stringify(format));
}
async function useBackend(tf, backend) {
  if (backend === "webgpu" && !(globalThis.navigator && globalThis.navigator.gpu)) {
    throw new Error("TF.js backend 'webgpu' is not available here (this browser has no navigator.gpu)");
  }
  if (!(tf.engine().registryFactory || {})[backend]) {
    throw new Error(`TF.js backend '${backend}' is not in this build of TF.js`);
  }
  let ok = false;
  try {
    ok = await tf.setBackend(backend);
  } catch (err) {
    throw new Error(`TF.js backend '${backend}' failed to start: ${messageOf(err)}`);
  }
  if (!ok || tf.getBackend() !== backend) {
    const where = typeof window === "undefined" ? "under Node" : "in this browser";
    throw new Error(`TF.js backend '${backend}' is not available ${where}`);
  }
  await tf.ready();
  return tf.getBackend();
}
function makeInputs(tf, manifest, inputs) {
  return manifest.inputs.map((spec) => {
    const value = inputs[spec.name];
    if (value === void 0) throw new Error("missing input " + JSON.stringify(spec.name));
    if (value && value.data !== void 0 && value.shape !== void 0) {
      return tf.tensor(value.data, value.shape, value.dtype || spec.dtype || "float32");
    }
    return tf.tensor(value, void 0, spec.dtype || "float32");
  });
}
async function predict(tf, model, manifest, tensors, state = {}) {
  const asList = (out) => Array.isArray(out) ? out : [out];
  if (manifest.model_format === "layers") {
    const batchSize = Math.max(1, tensors[0].shape[0] || 1);
    return tf.tidy(() => asList(model.predict(tensors.length === 1 ? tensors[0] : tensors, { batchSize })));
  }
  const names = manifest.outputs.map((o) => o.name);
  const feed = {};
  manifest.inputs.forEach((spec, i) => {
    feed[spec.name] = tensors[i];
  });
  if (!state.needsAsync) {
    try {
      return tf.tidy(() => asList(model.execute(feed, names)));
    } catch (err) {
      if (!/executeAsync/.test(messageOf(err))) throw err;
      state.needsAsync = true;
    }
  }
  return asList(await model.executeAsync(feed, names));
}
function checkRawRows(rows, limit) {
  for (let r = 0; r < rows.length; r++) {
    for (let c = 0; c < rows[r].length; c++) {
      const v = rows[r][c];
      if (!(Math.abs(v) <= limit)) {
        const why = Number.isFinite(v) ? v.toExponential() + " is beyond \xB1" + limit.toExponential() : v + " is not a finite number";
        throw new Error("beat " + r + ", step " + c + ": " + why + " (refused, as Python refuses it)");
      }
    }
  }
}
function preprocess(tf, manifest, tensor) {
  const p = manifest.preprocessing;
  if (!p) return tensor;
  if (p.kind === "minmax") {
    return tf.tidy(() => {
      const range = p.max.map((m, i) => m - p.min[i] || 1);
      return tensor.sub(tf.tensor1d(p.min)).div(tf.tensor1d(range));
    });
  }
  if (p.kind === "affine") {
    return tf.tidy(() => {
      let x = tensor.toFloat();
      if (p.size && (x.shape[1] !== p.size[0] || x.shape[2] !== p.size[1])) {
        x = tf.image.resizeBilinear(x, p.size, false, true);
      }
      return x.mul(p.scale).add(p.offset);
    });
  }
  throw new Error("browserml.json: unknown preprocessing kind " + JSON.stringify(p.kind));
}
function score(tf, manifest, input, output) {
  if (manifest.score === "mse") return tf.tidy(() => output.sub(input).square().mean(-1));
  throw new Error("browserml.json: unknown score " + JSON.stringify(manifest.score));
}
function maxAbsDiff(a, b) {
  if (a.length !== b.length) throw new Error("TF.js gave " + a.length + " values, Python " + b.length);
  let gap = 0;
  for (let i = 0; i < a.length; i++) gap = Math.max(gap, Math.abs(a[i] - b[i]));
  return gap;
}
async function runExport(tf, source, manifest, options = {}) {
  const inputs = options.inputs || manifest.parity.inputs;
  const repeats = Math.max(1, options.repeats || 1);
  const p = manifest.preprocessing;
  if (options.raw && p && p.kind === "minmax" && typeof p.max_abs === "number") {
    manifest.inputs.forEach((spec) => checkRawRows(inputs[spec.name] || [], p.max_abs));
  }
  const model = await loadModel(tf, manifest.model_format, source);
  let tensors = [];
  try {
    tensors = makeInputs(tf, manifest, inputs);
    if (options.raw) {
      const raw = tensors;
      tensors = raw.map((t) => preprocess(tf, manifest, t));
      raw.forEach((t) => {
        if (!tensors.includes(t)) t.dispose();
      });
    }
    const state = {};
    const tensorsBefore = tf.memory().numTensors;
    let outputs = null;
    let scores = null;
    const times = [];
    for (let i = 0; i <= repeats; i++) {
      const t0 = now();
      const out = await predict(tf, model, manifest, tensors, state);
      try {
        const arrays = await Promise.all(out.map((t) => t.array()));
        if (i > 0) times.push(now() - t0);
        if (outputs === null) {
          outputs = {};
          manifest.outputs.forEach((o, k) => {
            outputs[o.name] = { shape: out[k].shape, data: arrays[k] };
          });
          if (manifest.score) {
            const s = score(tf, manifest, tensors[0], out[0]);
            scores = await s.array();
            s.dispose();
            const bad = scores.findIndex((v) => !Number.isFinite(v));
            if (bad >= 0) {
              throw new Error("beat " + bad + ": the score is " + scores[bad] + ", not a number to compare with the threshold");
            }
          }
        }
      } finally {
        out.forEach((t) => t.dispose());
      }
    }
    return {
      outputs,
      scores,
      backend: tf.getBackend(),
      tfjs_version: tf.version.tfjs,
      latency_ms: median(times),
      repeats,
      num_tensors_before: tensorsBefore,
      num_tensors_after: tf.memory().numTensors
    };
  } finally {
    tensors.forEach((t) => t.dispose());
    model.dispose();
  }
}

// browserml/js/runtime/page.js
var WASM_DIR = "../../node_modules/@tensorflow/tfjs-backend-wasm/dist/";
var params = new URLSearchParams(typeof location === "undefined" ? "" : location.search);
var $ = (id) => document.getElementById(id);
function tfjs() {
  if (!globalThis.tf) {
    throw new Error("TF.js did not load: serve the project root (make serve) and open the export folder under it");
  }
  return globalThis.tf;
}
var BASE_CSS = `
  body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; max-width: 900px; }
  code { background: #f3f3f3; padding: 0 .25em; }
  .ok { color: #17692f; } .fail { color: #b00020; }
  canvas { border: 1px solid #ddd; max-width: 100%; }
`;
function installBaseStyle() {
  if (typeof document === "undefined" || document.getElementById("browserml-base-style")) return;
  const style = document.createElement("style");
  style.id = "browserml-base-style";
  style.textContent = BASE_CSS;
  document.head.prepend(style);
}
installBaseStyle();
function urlChoice(id, fallback) {
  const value = params.get(id) || fallback;
  const select = $(id);
  if (select) {
    select.value = value;
    select.onchange = (event) => {
      params.set(id, event.target.value);
      location.search = params;
    };
  }
  return value;
}
async function startBackend(wanted, wasmDir = WASM_DIR) {
  const tf = tfjs();
  tf.wasm.setWasmPaths(new URL(wasmDir, location.href).href);
  let ok = false;
  try {
    ok = await tf.setBackend(wanted);
  } catch (err) {
    ok = false;
  }
  if (!ok) await tf.setBackend("cpu");
  await tf.ready();
  const used = tf.getBackend();
  const note = $("backend-used");
  if (note) note.textContent = used === wanted ? `(using ${used})` : `(${wanted} is not available here: using ${used})`;
  return used;
}
async function fetchJson(name, folder = location.href) {
  const response = await fetch(new URL(name, folder));
  if (!response.ok) {
    throw new Error(name + " could not be loaded (HTTP " + response.status + "); it belongs in the export folder");
  }
  try {
    return await response.json();
  } catch (err) {
    throw new Error(name + " is not valid JSON: " + messageOf(err));
  }
}
async function loadExport(folder = location.href) {
  const manifest = await fetchJson("browserml.json", folder);
  const model = await loadModel(tfjs(), manifest.model_format, new URL("model.json", folder).href);
  return { manifest, model };
}
function setStatus(text, ok, id = "status") {
  const line = $(id);
  line.className = ok ? "ok" : "fail";
  line.textContent = text;
}
function fail(err, id = "status") {
  setStatus("Error: " + messageOf(err), false, id);
  window.browsermlResult = { error: messageOf(err) };
}
function parityLine(gap, tolerance) {
  return (gap <= tolerance ? "\u2713" : "\u2717") + " parity with Python: max |\u0394| = " + gap.toExponential(2) + " (tolerance " + tolerance + ")";
}
function loadImage(src) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error("could not decode the image (is it an image file?)"));
    img.src = src;
  });
}
function onImageFile(inputId, dropId, onFile) {
  const run = (file) => {
    if (file) Promise.resolve(onFile(file)).catch(fail);
  };
  $(inputId).onchange = (event) => run(event.target.files[0]);
  const zone = $(dropId);
  if (!zone) return;
  zone.ondragover = (event) => event.preventDefault();
  zone.ondrop = (event) => {
    event.preventDefault();
    run(event.dataTransfer.files[0]);
  };
}
export {
  $,
  WASM_DIR,
  checkRawRows,
  fail,
  fetchJson,
  loadExport,
  loadImage,
  loadModel,
  makeInputs,
  maxAbsDiff,
  median,
  messageOf,
  now,
  onImageFile,
  params,
  parityLine,
  predict,
  preprocess,
  runExport,
  score,
  setStatus,
  startBackend,
  tfjs,
  urlChoice,
  useBackend
};

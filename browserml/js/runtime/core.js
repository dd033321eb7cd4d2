/**
 * browserml's TF.js runner core: the one source for running an export, shared by
 *  - the Node scripts (browserml/js/*.cjs import it; this folder's package.json makes it ESM),
 *  - the in-notebook bundle (runner.js builds on it; build.mjs bundles both into dist/tfjs-bundle.mjs),
 *  - every export page and the Chromium harness (page.js re-exports it; build.mjs bundles both
 *    into dist/browserml-page.js, which each export folder carries a copy of).
 *
 * It knows the browserml.json contract: input specs (name, shape, dtype), output names,
 * preprocessing, the score, and the layers/graph formats. Every function takes the TF.js
 * module `tf` as its first argument, so the same code runs whichever TF.js the caller
 * loaded (npm @tensorflow/tfjs under Node, tf.min.js in a page, the bundle in a notebook).
 * It returns plain data, never tensors, and disposes everything it creates.
 */

/** Median of a list of numbers (the latency we report: robust to one slow run). */
export function median(values) {
  const s = values.slice().sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Milliseconds, as finely as the runtime allows (100 µs in a page without isolation). */
export const now = () => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/** An error's message, whatever was thrown. */
export const messageOf = (err) => String(err && err.message ? err.message : err);

/** Load a layers or graph model from an IOHandler or an absolute URL. */
export async function loadModel(tf, format, source) {
  if (format === 'layers') return tf.loadLayersModel(source);
  if (format === 'graph') return tf.loadGraphModel(source);
  throw new Error('browserml.json: unknown model_format ' + JSON.stringify(format));
}

/** Switch to `backend` (initialising it if needed); throws in words if it cannot. */
export async function useBackend(tf, backend) {
  if (backend === 'webgpu' && !(globalThis.navigator && globalThis.navigator.gpu)) {
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
    const where = typeof window === 'undefined' ? 'under Node' : 'in this browser';
    throw new Error(`TF.js backend '${backend}' is not available ${where}`);
  }
  await tf.ready();
  return tf.getBackend();
}

/**
 * Input tensors in the manifest's order. Each input is either {shape, dtype, data} (typed
 * arrays, as the notebook sends them) or plain nested arrays (as browserml.json's parity
 * inputs and the Node scripts' JSON hold them).
 */
export function makeInputs(tf, manifest, inputs) {
  return manifest.inputs.map((spec) => {
    const value = inputs[spec.name];
    if (value === undefined) throw new Error('missing input ' + JSON.stringify(spec.name));
    if (value && value.data !== undefined && value.shape !== undefined) {
      return tf.tensor(value.data, value.shape, value.dtype || spec.dtype || 'float32');
    }
    return tf.tensor(value, undefined, spec.dtype || 'float32');
  });
}

/**
 * One prediction; returns one tensor per manifest output, in the manifest's order.
 * Layers models predict all rows in one batch: predict() otherwise splits the input into
 * batches of 32, which makes a 10,000-row grid 10-40x slower than the model is. Graph
 * models run synchronously inside tf.tidy; one that needs executeAsync (control flow,
 * dynamic shapes such as NMS) is remembered in `state`, so later calls go straight there.
 */
export async function predict(tf, model, manifest, tensors, state = {}) {
  const asList = (out) => (Array.isArray(out) ? out : [out]);
  if (manifest.model_format === 'layers') {
    const batchSize = Math.max(1, tensors[0].shape[0] || 1);
    return tf.tidy(() => asList(model.predict(tensors.length === 1 ? tensors[0] : tensors, { batchSize })));
  }
  const names = manifest.outputs.map((o) => o.name);
  const feed = {};
  manifest.inputs.forEach((spec, i) => { feed[spec.name] = tensors[i]; });
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

/**
 * Refuse raw rows holding a value that is not finite or beyond +-limit (browserml.json's
 * minmax max_abs), worded as Python's ecg5000.first_bad_value: such a value's squared
 * error overflows float32, and TF.js would score the beat NaN, never above a threshold.
 * Checked on the plain numbers, before they become (float32) tensors.
 */
export function checkRawRows(rows, limit) {
  for (let r = 0; r < rows.length; r++) {
    for (let c = 0; c < rows[r].length; c++) {
      const v = rows[r][c];
      if (!(Math.abs(v) <= limit)) {  // NaN fails this comparison too
        const why = Number.isFinite(v) ? v.toExponential() + ' is beyond ±' + limit.toExponential()
          : v + ' is not a finite number';
        throw new Error('beat ' + r + ', step ' + c + ': ' + why + ' (refused, as Python refuses it)');
      }
    }
  }
}

/**
 * Apply browserml.json's preprocessing to raw inputs, as any client must.
 *  - minmax: (raw - min) / (max - min), a zero range counting as 1;
 *  - affine (images): RGB 0-255, (N, H, W, 3) of any size, resized to `size` with
 *    half-pixel centres (as Python's tf.image.resize does), then x * scale + offset.
 */
export function preprocess(tf, manifest, tensor) {
  const p = manifest.preprocessing;
  if (!p) return tensor;
  if (p.kind === 'minmax') {
    return tf.tidy(() => {
      const range = p.max.map((m, i) => (m - p.min[i]) || 1);
      return tensor.sub(tf.tensor1d(p.min)).div(tf.tensor1d(range));
    });
  }
  if (p.kind === 'affine') {
    return tf.tidy(() => {
      let x = tensor.toFloat();
      if (p.size && (x.shape[1] !== p.size[0] || x.shape[2] !== p.size[1])) {
        x = tf.image.resizeBilinear(x, p.size, false, true);
      }
      return x.mul(p.scale).add(p.offset);
    });
  }
  throw new Error('browserml.json: unknown preprocessing kind ' + JSON.stringify(p.kind));
}

/** The export's declared score of each input row (mse = mean squared reconstruction error). */
export function score(tf, manifest, input, output) {
  if (manifest.score === 'mse') return tf.tidy(() => output.sub(input).square().mean(-1));
  throw new Error('browserml.json: unknown score ' + JSON.stringify(manifest.score));
}

/** The largest |a[i] - b[i]|; refuses lists of different lengths (a wrong output shape). */
export function maxAbsDiff(a, b) {
  if (a.length !== b.length) throw new Error('TF.js gave ' + a.length + ' values, Python ' + b.length);
  let gap = 0;
  for (let i = 0; i < a.length; i++) gap = Math.max(gap, Math.abs(a[i] - b[i]));
  return gap;
}

/**
 * Run an export on `inputs` (default: its parity inputs) on the current backend and
 * report the outputs as nested arrays, the scores (if browserml.json declares one), the
 * median latency over `repeats` timed runs after one warm-up, and the live tensor count
 * before and after the runs, which exposes leaks. With `raw`, the inputs are raw values
 * and browserml.json's preprocessing runs first. `source` is an IOHandler or a URL.
 */
export async function runExport(tf, source, manifest, options = {}) {
  const inputs = options.inputs || manifest.parity.inputs;
  const repeats = Math.max(1, options.repeats || 1);
  const p = manifest.preprocessing;
  if (options.raw && p && p.kind === 'minmax' && typeof p.max_abs === 'number') {
    manifest.inputs.forEach((spec) => checkRawRows(inputs[spec.name] || [], p.max_abs));
  }
  const model = await loadModel(tf, manifest.model_format, source);
  let tensors = [];
  try {
    tensors = makeInputs(tf, manifest, inputs);
    if (options.raw) {
      const raw = tensors;
      tensors = raw.map((t) => preprocess(tf, manifest, t));
      raw.forEach((t) => { if (!tensors.includes(t)) t.dispose(); });
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
          manifest.outputs.forEach((o, k) => { outputs[o.name] = { shape: out[k].shape, data: arrays[k] }; });
          if (manifest.score) {
            const s = score(tf, manifest, tensors[0], out[0]);
            scores = await s.array();
            s.dispose();
            // A NaN score is never above a threshold, so it would pass as normal: refuse it.
            const bad = scores.findIndex((v) => !Number.isFinite(v));
            if (bad >= 0) {
              throw new Error('beat ' + bad + ': the score is ' + scores[bad] +
                              ', not a number to compare with the threshold');
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
      num_tensors_after: tf.memory().numTensors,
    };
  } finally {
    tensors.forEach((t) => t.dispose());
    model.dispose();
  }
}

/**
 * browserml's TF.js runner core, shared by Node (run_export.cjs) and the Chromium
 * harness (harness.html) so both runtimes execute an export the same way.
 *
 * It knows the browserml.json contract: input specs (name, shape, dtype), output
 * names, and the layers/graph model formats. It returns plain JSON, never tensors,
 * and disposes everything it creates so repeated runs do not leak.
 */
(function (root, factory) {
  if (typeof module === 'object' && module.exports) {
    module.exports = factory();
  } else {
    root.browsermlRun = factory();
  }
})(typeof self !== 'undefined' ? self : this, function () {
  'use strict';

  /** Load a layers or graph model from any TF.js IOHandler or URL. */
  async function loadModel(tf, manifest, source) {
    if (manifest.model_format === 'layers') return tf.loadLayersModel(source);
    if (manifest.model_format === 'graph') return tf.loadGraphModel(source);
    throw new Error('browserml.json: unknown model_format ' + JSON.stringify(manifest.model_format));
  }

  /** Build the input tensors from plain nested arrays, checked against the specs. */
  function makeInputs(tf, manifest, inputs) {
    return manifest.inputs.map(function (spec) {
      if (!(spec.name in inputs)) {
        throw new Error('missing input ' + JSON.stringify(spec.name));
      }
      return tf.tensor(inputs[spec.name], undefined, spec.dtype || 'float32');
    });
  }

  /** Run the model once; returns one tensor per output spec, in the manifest's order. */
  async function predict(tf, model, manifest, tensors) {
    const names = manifest.outputs.map(function (o) { return o.name; });
    if (manifest.model_format === 'layers') {
      // One batch of all rows: predict() otherwise splits into batches of 32, which makes
      // a 10,000-row input 10-20x slower than the arithmetic.
      const out = model.predict(tensors.length === 1 ? tensors[0] : tensors, {batchSize: Math.max(1, tensors[0].shape[0])});
      return Array.isArray(out) ? out : [out];
    }
    const feed = {};
    manifest.inputs.forEach(function (spec, i) { feed[spec.name] = tensors[i]; });
    let out;
    try {
      out = model.execute(feed, names);  // synchronous: the fast path for static graphs
    } catch (err) {
      if (!/executeAsync/.test(String(err && err.message))) throw err;
      out = await model.executeAsync(feed, names);  // control flow or dynamic shapes (e.g. NMS)
    }
    return Array.isArray(out) ? out : [out];
  }

  /**
   * Refuse raw rows holding a value that is not finite or beyond +-limit (browserml.json's
   * minmax max_abs), worded as Python's ecg5000.first_bad_value: such a value's squared
   * error overflows float32, and TF.js would score the beat NaN, never above a threshold.
   * Checked on the plain numbers, before they become (float32) tensors.
   */
  function checkRawRows(rows, limit) {
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
   * minmax: (raw - min) / (max - min), a zero range counting as 1.
   */
  function preprocess(tf, manifest, tensor) {
    const p = manifest.preprocessing;
    if (!p) return tensor;
    if (p.kind === 'minmax') {
      return tf.tidy(function () {
        const range = p.max.map(function (m, i) { return (m - p.min[i]) || 1; });
        return tensor.sub(tf.tensor1d(p.min)).div(tf.tensor1d(range));
      });
    }
    if (p.kind === 'affine') {
      // Images: RGB 0-255, (N, H, W, 3) of any size -> resize to p.size with half-pixel
      // centres (as Python's tf.image.resize does), then x * scale + offset.
      return tf.tidy(function () {
        let x = tensor.toFloat();
        if (p.size && (x.shape[1] !== p.size[0] || x.shape[2] !== p.size[1])) {
          x = tf.image.resizeBilinear(x, p.size, false, true);
        }
        return x.mul(p.scale).add(p.offset);
      });
    }
    throw new Error('browserml.json: unknown preprocessing kind ' + JSON.stringify(p.kind));
  }

  /** The export's declared score of each input row (e.g. mse = mean squared reconstruction error). */
  function score(tf, manifest, input, output) {
    if (manifest.score === 'mse') {
      return tf.tidy(function () { return output.sub(input).square().mean(-1); });
    }
    throw new Error('browserml.json: unknown score ' + JSON.stringify(manifest.score));
  }

  function median(values) {
    const s = values.slice().sort(function (a, b) { return a - b; });
    const m = Math.floor(s.length / 2);
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  }

  /**
   * Run an export on `inputs` (default: its parity inputs) and report outputs,
   * backend, median latency over `repeats` timed runs (after one warm-up) and the
   * live tensor count before and after, which exposes leaks.
   */
  async function runExport(tf, source, manifest, options) {
    options = options || {};
    const inputs = options.inputs || manifest.parity.inputs;
    const repeats = Math.max(1, options.repeats || 1);
    const now = (typeof performance !== 'undefined') ? function () { return performance.now(); } : Date.now;
    const p = manifest.preprocessing;
    if (options.raw && p && p.kind === 'minmax' && typeof p.max_abs === 'number') {
      manifest.inputs.forEach(function (spec) { checkRawRows(inputs[spec.name] || [], p.max_abs); });
    }
    const model = await loadModel(tf, manifest, source);
    let tensors = makeInputs(tf, manifest, inputs);
    if (options.raw) {  // raw inputs: the export's own preprocessing first
      const raw = tensors;
      tensors = raw.map(function (t) { return preprocess(tf, manifest, t); });
      raw.forEach(function (t) { t.dispose(); });
    }
    const tensorsBefore = tf.memory().numTensors;
    let outputs = null;
    let scores = null;
    const times = [];
    for (let i = 0; i <= repeats; i++) {
      const t0 = now();
      const out = await predict(tf, model, manifest, tensors);
      const arrays = await Promise.all(out.map(function (t) { return t.array(); }));
      const shapes = out.map(function (t) { return t.shape; });
      if (i > 0) times.push(now() - t0);
      if (outputs === null) {
        outputs = {};
        manifest.outputs.forEach(function (o, k) { outputs[o.name] = { shape: shapes[k], data: arrays[k] }; });
        if (manifest.score) {
          const s = score(tf, manifest, tensors[0], out[0]);
          scores = await s.array();
          s.dispose();
          // A NaN score is never above a threshold, so it would pass as normal: refuse it.
          const bad = scores.findIndex(function (v) { return !Number.isFinite(v); });
          if (bad >= 0) {
            out.concat(tensors).forEach(function (t) { t.dispose(); });
            model.dispose();
            throw new Error('beat ' + bad + ': the score is ' + scores[bad] +
                            ', not a number to compare with the threshold');
          }
        }
      }
      out.forEach(function (t) { t.dispose(); });
    }
    const tensorsAfter = tf.memory().numTensors;
    tensors.forEach(function (t) { t.dispose(); });
    model.dispose();
    return {
      outputs: outputs,
      scores: scores,
      backend: tf.getBackend(),
      tfjs_version: tf.version.tfjs,
      latency_ms: median(times),
      repeats: repeats,
      num_tensors_before: tensorsBefore,
      num_tensors_after: tensorsAfter,
    };
  }

  return { loadModel: loadModel, makeInputs: makeInputs, predict: predict, preprocess: preprocess,
           score: score, runExport: runExport };
});

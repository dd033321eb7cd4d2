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
      const out = model.predict(tensors.length === 1 ? tensors[0] : tensors);
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
    const model = await loadModel(tf, manifest, source);
    const tensors = makeInputs(tf, manifest, inputs);
    const tensorsBefore = tf.memory().numTensors;
    let outputs = null;
    const times = [];
    for (let i = 0; i <= repeats; i++) {
      const t0 = now();
      const out = await predict(tf, model, manifest, tensors);
      const arrays = await Promise.all(out.map(function (t) { return t.array(); }));
      const shapes = out.map(function (t) { return t.shape; });
      if (i > 0) times.push(now() - t0);
      out.forEach(function (t) { t.dispose(); });
      if (outputs === null) {
        outputs = {};
        manifest.outputs.forEach(function (o, k) { outputs[o.name] = { shape: shapes[k], data: arrays[k] }; });
      }
    }
    const tensorsAfter = tf.memory().numTensors;
    tensors.forEach(function (t) { t.dispose(); });
    model.dispose();
    return {
      outputs: outputs,
      backend: tf.getBackend(),
      tfjs_version: tf.version.tfjs,
      latency_ms: median(times),
      repeats: repeats,
      num_tensors_before: tensorsBefore,
      num_tensors_after: tensorsAfter,
    };
  }

  return { loadModel: loadModel, makeInputs: makeInputs, predict: predict, runExport: runExport };
});

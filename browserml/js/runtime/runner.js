/**
 * browserml's in-page runner, bundled into tfjs-bundle.mjs as `tf.browserml`.
 *
 * It runs a browserml export (model.json + weights + browserml.json) that is already
 * in memory, on each requested backend in turn, and returns plain data (typed arrays,
 * numbers, strings), never tensors. Every function takes the TF.js module `tf` as its
 * first argument, so the same code runs under the Jupyter widget and in a plain page.
 *
 * Promises it keeps, because a notebook page lives for hours:
 *  - nothing leaks: predictions run inside tf.tidy (or dispose by hand for models that
 *    need executeAsync), and the tensor count before and after the timed loop is reported;
 *  - nothing hangs: every run has a deadline and reports "timed out" in words;
 *  - timings mean something: performance.now() is coarsened to 100 µs on pages without
 *    cross-origin isolation, so each timed sample is a batch of calls lasting at least
 *    `minSampleMs`, and the latency is the median over samples.
 */

import { loadModel, makeInputs, median, messageOf, now, predict, useBackend } from './core.js';

export { loadModel, makeInputs, median, useBackend };
export { evalCell } from './cell.js';

/** Build TF.js ModelArtifacts from a parsed model.json and its shards concatenated in
 * manifest order (exactly what tf.io's HTTP loader assembles). */
export function artifactsFromParts(modelJson, weightData) {
  const weightSpecs = [];
  for (const group of modelJson.weightsManifest || []) weightSpecs.push(...group.weights);
  const buffer = weightData instanceof ArrayBuffer
    ? weightData
    : weightData.buffer.slice(weightData.byteOffset, weightData.byteOffset + weightData.byteLength);
  return {
    modelTopology: modelJson.modelTopology,
    format: modelJson.format,
    generatedBy: modelJson.generatedBy,
    convertedBy: modelJson.convertedBy,
    trainingConfig: modelJson.trainingConfig,
    signature: modelJson.signature,
    userDefinedMetadata: modelJson.userDefinedMetadata,
    modelInitializer: modelJson.modelInitializer,
    initializerSignature: modelJson.initializerSignature,
    weightSpecs: weightSpecs,
    weightData: buffer,
  };
}

/** An IOHandler serving artifacts from memory (no fetch, no deprecation warnings). */
export function memoryHandler(artifacts) {
  return { load: async () => artifacts };
}

/** Predict, read every output back to the CPU (what a page must do to use it), dispose. */
async function predictAndRead(tf, model, manifest, tensors, state) {
  const out = await predict(tf, model, manifest, tensors, state);
  try {
    return await Promise.all(out.map(async (t) => ({ shape: t.shape, dtype: t.dtype, data: await t.data() })));
  } finally {
    out.forEach((t) => t.dispose());
  }
}

function checkDeadline(deadline, what) {
  if (now() > deadline) throw new Error(`timed out ${what}`);
}

/**
 * Run the model on one backend. `loadSource()` returns a fresh IOHandler or URL (the
 * model is loaded per backend, so its weights live on that backend). Options: samples
 * (15), minSampleMs (2), timeBudgetMs (5000, for the timed loop), timeoutMs (30000). Returns
 * {requested, backend, outputs: {name: {shape, dtype, data}}, latency_ms, n_runs,
 *  num_tensors_before, num_tensors_after, load_ms, error}.
 */
export async function runOnBackend(tf, backend, options) {
  const { manifest, inputs, loadSource } = options;
  const samples = Math.max(1, options.samples || 15);
  const minSampleMs = options.minSampleMs === undefined ? 2 : options.minSampleMs;
  const maxRuns = options.maxRuns || 2000;
  const deadline = now() + (options.timeoutMs || 30000);
  const result = {
    requested: backend, backend: null, outputs: null, latency_ms: null, n_runs: 0,
    num_tensors_before: null, num_tensors_after: null, load_ms: null, error: null,
  };
  let model = null;
  let tensors = [];
  try {
    result.backend = await useBackend(tf, backend);
    checkDeadline(deadline, `starting the ${backend} backend`);
    const t0 = now();
    model = await loadModel(tf, manifest.model_format, await loadSource());
    result.load_ms = now() - t0;
    tensors = makeInputs(tf, manifest, inputs);
    const state = { needsAsync: false };
    result.num_tensors_before = tf.memory().numTensors;
    // First call: the outputs (and the warm-up: shader compiles, wasm kernel set-up).
    const first = await predictAndRead(tf, model, manifest, tensors, state);
    result.outputs = {};
    manifest.outputs.forEach((o, k) => { result.outputs[o.name] = first[k]; });
    checkDeadline(deadline, `after the first ${backend} run`);
    // Calibrate: double a batch until it lasts minSampleMs (the clock ticks in 100 µs),
    // then time `samples` batches of that size; the latency is the median per call.
    const maxPerSample = Math.max(1, Math.floor(maxRuns / samples));
    let perSample = 1;
    let t;
    for (let k = 1; minSampleMs > 0; k *= 2) {
      t = now();
      for (let i = 0; i < k; i++) await predictAndRead(tf, model, manifest, tensors, state);
      const elapsed = now() - t;
      checkDeadline(deadline, `calibrating ${backend}`);
      if (elapsed >= minSampleMs || k >= maxPerSample) {
        perSample = Math.min(maxPerSample, Math.max(1, Math.ceil(k * minSampleMs / Math.max(elapsed, 0.1))));
        break;
      }
    }
    // A slow model (seconds per call on cpu) stops sampling at the time budget, once it
    // has 3 samples: a median of 3 is worth more than a timeout.
    const budgetEnd = now() + (options.timeBudgetMs === undefined ? 5000 : options.timeBudgetMs);
    const times = [];
    const loopStart = now();
    for (let s = 0; s < samples; s++) {
      t = now();
      for (let k = 0; k < perSample; k++) await predictAndRead(tf, model, manifest, tensors, state);
      times.push((now() - t) / perSample);
      result.n_runs += perSample;
      checkDeadline(deadline, `timing ${backend} after ${result.n_runs} runs`);
      if (times.length >= 3 && now() > budgetEnd) break;
    }
    result.latency_ms = median(times);
    if (!(result.latency_ms > 0)) {
      // Every sample fell inside one clock tick (a tiny model capped at maxRuns): the whole
      // loop spans more ticks, and at worst one tick bounds it. Never report 0 ms.
      result.latency_ms = Math.max((now() - loopStart) / result.n_runs, 0.1 / result.n_runs);
    }
    result.num_tensors_after = tf.memory().numTensors;
  } catch (err) {
    result.error = messageOf(err);
  } finally {
    tensors.forEach((x) => x.dispose());
    if (model) model.dispose();
  }
  return result;
}

/**
 * Fine-tune a layers model in the page: model.fit(x, y, {epochs, batchSize}).
 * Returns {backend, losses (per epoch), weights: [{name, shape, data: Float32Array}]
 * in model.weights order, named as in the export's weight manifest, fit_ms, error}.
 * Shuffling is off by default so the result can be compared with Python's.
 */
export async function fitModel(tf, options) {
  const { manifest, loadSource, x, y } = options;
  const result = { backend: null, losses: [], weights: null, fit_ms: null, num_tensors_before: null,
                   num_tensors_after: null, error: null };
  let model = null;
  let xs = null;
  let ys = null;
  let optimizer = null;
  try {
    if (manifest.model_format !== 'layers') {
      throw new Error(`fine-tuning needs a layers model; this export is a ${manifest.model_format} model`);
    }
    result.backend = await useBackend(tf, options.backend || 'cpu');
    result.num_tensors_before = tf.memory().numTensors;
    model = await loadModel(tf, 'layers', await loadSource());
    const lr = options.learningRate === undefined ? 0.01 : options.learningRate;
    const makers = { sgd: () => tf.train.sgd(lr), adam: () => tf.train.adam(lr) };
    if (!makers[options.optimizer || 'sgd']) throw new Error('unknown optimizer ' + JSON.stringify(options.optimizer));
    optimizer = makers[options.optimizer || 'sgd']();
    model.compile({ optimizer: optimizer, loss: options.loss || 'meanSquaredError' });
    xs = tf.tensor(x.data, x.shape, 'float32');
    ys = tf.tensor(y.data, y.shape, 'float32');
    const deadline = now() + (options.timeoutMs || 120000);
    const t0 = now();
    const history = await model.fit(xs, ys, {
      epochs: options.epochs || 1,
      batchSize: options.batchSize || 32,
      shuffle: Boolean(options.shuffle),
      verbose: 0,
      callbacks: {
        onEpochEnd: async (epoch, logs) => {
          if (options.onEpoch) options.onEpoch(epoch, logs.loss);
          if (now() > deadline) model.stopTraining = true;
        },
      },
    });
    result.fit_ms = now() - t0;
    result.losses = history.history.loss.map(Number);
    if (now() > deadline) throw new Error(`timed out after ${result.losses.length} epochs`);
    result.weights = [];
    for (const w of model.weights) {
      result.weights.push({ name: w.originalName, shape: w.shape, data: await w.read().data() });
    }
  } catch (err) {
    result.error = messageOf(err);
  } finally {
    [xs, ys].forEach((t) => { if (t) t.dispose(); });
    if (model) model.dispose();
    if (optimizer) optimizer.dispose();
    result.num_tensors_after = tf.memory().numTensors;
  }
  return result;
}

/** Point the wasm backend at in-memory binaries (blob: URLs) and turn threads off:
 * threads need cross-origin isolation, which notebook pages do not have. */
export function configureWasm(tf, urls) {
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  const any = urls['tfjs-backend-wasm-simd.wasm'] || urls['tfjs-backend-wasm.wasm'];
  tf.wasm.setWasmPaths({
    'tfjs-backend-wasm.wasm': urls['tfjs-backend-wasm.wasm'] || any,
    'tfjs-backend-wasm-simd.wasm': urls['tfjs-backend-wasm-simd.wasm'] || any,
    'tfjs-backend-wasm-threaded-simd.wasm': any,  // never fetched: threads are off
  });
}

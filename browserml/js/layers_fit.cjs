#!/usr/bin/env node
/**
 * Re-train an exported layers model in TF.js under Node, and time inference: the
 * talk's hybrid flow (train in Python, keep training on the client), and the
 * benchmark's TF.js side.
 *
 *   node layers_fit.cjs --dir EXPORT_DIR --config CONFIG.json [--backend cpu|wasm]
 *   CONFIG: {"x": [[...]], "y": [[...]] (default: x), "epochs": 20, "batch_size": 512,
 *            "learning_rate": 0.01, "infer_rows": 500, "infer_repeats": 5}
 */
'use strict';
const tf = require('@tensorflow/tfjs');
const { loadCore, useBackend, fileHandler, readConfig, runMain } = require('./node_support.cjs');

runMain('layers_fit', async function (args) {
  const config = readConfig(args);
  await useBackend(tf, args.backend || 'cpu');
  const { median } = await loadCore();
  const model = await tf.loadLayersModel(fileHandler(tf, args.dir));
  const optimizer = tf.train.adam(config.learning_rate);
  model.compile({ optimizer: optimizer, loss: 'meanSquaredError' });
  const x = tf.tensor2d(config.x);
  const y = config.y ? tf.tensor2d(config.y) : x;

  let t0 = Date.now();
  const history = await model.fit(x, y, { epochs: config.epochs, batchSize: config.batch_size, shuffle: true, verbose: 0 });
  const trainMs = Date.now() - t0;

  const rows = x.slice([0, 0], [Math.min(config.infer_rows || 500, x.shape[0]), -1]);
  const times = [];
  for (let i = 0; i <= (config.infer_repeats || 5); i++) {
    t0 = process.hrtime.bigint();
    const out = model.predict(rows);
    out.dataSync();
    out.dispose();
    if (i > 0) times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const weights = model.getWeights().map((w) => w.arraySync());
  [x, y, rows].forEach((t) => { if (!t.isDisposed) t.dispose(); });
  optimizer.dispose();
  process.stdout.write(JSON.stringify({
    losses: history.history.loss, train_ms: trainMs, infer_ms: median(times),
    infer_rows: rows.shape[0], weights: weights, backend: tf.getBackend(), tfjs_version: tf.version.tfjs,
  }) + '\n');
});


#!/usr/bin/env node
/**
 * Run a handtrack.js graph model (shipped or re-converted) in TF.js under Node and
 * print the requested raw outputs as one JSON line.
 *
 *   node handtrack_raw.cjs --dir MODEL_DIR --outputs NAME,NAME [--backend cpu|wasm]
 *                          [--repeats N] --input INPUT.json
 *
 * INPUT.json is {"shape": [1, h, w, 3], "data": [flat int32 pixels]}: the int32 batch
 * handtrack.js's detect() builds (resizeBilinear, expandDims, toInt) saved once, so
 * every runtime sees identical integers (toInt() truncation differs between backends).
 * Output names are node names (a shipped model: handtrack.js's modelOutputNodes) or
 * signature keys (a browserml re-conversion: "boxes", "scores"); executeAsync is what
 * handtrack.js calls, since the shipped graph has control flow.
 */
'use strict';
const fs = require('fs');
const tf = require('@tensorflow/tfjs');
const { loadCore, useBackend, fileHandler, runMain } = require('./node_support.cjs');

runMain('handtrack_raw', async function (args) {
  if (!args.dir || !args.outputs || !args.input) {
    throw new Error('usage: handtrack_raw.cjs --dir MODEL_DIR --outputs A,B --input INPUT.json [--backend wasm]');
  }
  const names = args.outputs.split(',');
  const repeats = Math.max(1, parseInt(args.repeats || '1', 10));
  const input = JSON.parse(fs.readFileSync(args.input, 'utf8'));
  await useBackend(tf, args.backend || 'wasm');
  const { median } = await loadCore();
  const model = await tf.loadGraphModel(fileHandler(tf, args.dir));
  const x = tf.tensor(input.data, input.shape, 'int32');
  const tensorsBefore = tf.memory().numTensors;
  const times = [];
  let outputs = null;
  for (let i = 0; i <= repeats; i++) {  // run 0 warms up (wasm kernels, shape-specific setup)
    const t0 = performance.now();
    let out = await model.executeAsync(x, names);
    out = Array.isArray(out) ? out : [out];
    const data = await Promise.all(out.map(function (t) { return t.data(); }));
    if (i > 0) times.push(performance.now() - t0);
    if (outputs === null) {
      outputs = {};
      names.forEach(function (name, k) { outputs[name] = { shape: out[k].shape, data: Array.from(data[k]) }; });
    }
    tf.dispose(out);
  }
  const tensorsAfter = tf.memory().numTensors;
  x.dispose();
  model.dispose();
  process.stdout.write(JSON.stringify({
    outputs: outputs,
    backend: tf.getBackend(),
    tfjs_version: tf.version.tfjs,
    latency_ms: median(times),
    repeats: repeats,
    num_tensors_before: tensorsBefore,
    num_tensors_after: tensorsAfter,
  }) + '\n');
});

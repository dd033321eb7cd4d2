#!/usr/bin/env node
/**
 * Run a learner's TF.js cell (the %%tfjs magic) under Node, where a notebook has no page
 * (nbval, a plain kernel): runtime/cell.js's evalCell, the very function the page runs,
 * on npm @tensorflow/tfjs. Prints one JSON line; typed arrays become plain lists.
 *
 *   node tfjs_cell.cjs --config CONFIG.json
 *   CONFIG: {"code": "...", "backend": "cpu"|"wasm", "timeout_ms": 30000,
 *            "scope": {name: value}, "model_url": "http://127.0.0.1:…/model.json" or null}
 * With model_url (the kernel serves the --model folder on loopback for the run), the
 * cell sees MODEL_URL, a URL as in the page, for tf.loadGraphModel / loadLayersModel.
 * wasm's binaries are pointed at first, so a cell may switch to it with tf.setBackend.
 */
'use strict';
const tf = require('@tensorflow/tfjs');
const { pointWasmAtPackage, useBackend, readConfig, runMain } = require('./node_support.cjs');

/** JSON for evalCell's plain value: typed arrays as lists. */
function jsonable(value) {
  if (ArrayBuffer.isView(value)) return Array.from(value);
  if (Array.isArray(value)) return value.map(jsonable);
  if (value && typeof value === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = jsonable(v);
    return out;
  }
  return value;
}

runMain('tfjs_cell', async function (args) {
  const config = readConfig(args);
  const backend = config.backend || 'cpu';
  pointWasmAtPackage();
  // The cpu backend greets Node users ("Hi, looks like you are running TensorFlow.js in
  // Node.js...") on its first write: make that write here, so the greeting is not the
  // cell's output (a cell may switch to cpu itself).
  await tf.setBackend('cpu');
  tf.tensor(0).dispose();
  await useBackend(tf, backend);
  const { evalCell } = await import('./runtime/cell.js');
  const scope = Object.assign({}, config.scope || {});
  if (config.model_url) scope.MODEL_URL = config.model_url;
  const result = await evalCell(tf, config.code, { backend, timeoutMs: config.timeout_ms, scope });
  result.where = 'node';
  result.value = jsonable(result.value);
  process.stdout.write(JSON.stringify(result) + '\n');
});

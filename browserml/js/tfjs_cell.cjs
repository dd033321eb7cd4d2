#!/usr/bin/env node
/**
 * Run a learner's TF.js cell (the %%tfjs magic) under Node, where a notebook has no page
 * (nbval, a plain kernel): runtime/cell.js's evalCell, the very function the page runs,
 * on npm @tensorflow/tfjs. Prints one JSON line; typed arrays become plain lists.
 *
 *   node tfjs_cell.cjs --config CONFIG.json
 *   CONFIG: {"code": "...", "backend": "cpu"|"wasm", "timeout_ms": 30000}
 */
'use strict';
const tf = require('@tensorflow/tfjs');
const { useBackend, readConfig, runMain } = require('./node_support.cjs');

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
  await useBackend(tf, backend);  // wasm needs its binaries pointed at first
  const { evalCell } = await import('./runtime/cell.js');
  const result = await evalCell(tf, config.code, { backend, timeoutMs: config.timeout_ms });
  result.value = jsonable(result.value);
  process.stdout.write(JSON.stringify(result) + '\n');
});

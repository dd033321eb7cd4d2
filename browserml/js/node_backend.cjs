/**
 * Select a TF.js backend under Node: pure-JS `cpu`, or `wasm` with its .wasm files
 * read from the installed @tensorflow/tfjs-backend-wasm (no network, no tfjs-node).
 */
'use strict';
const path = require('path');

async function useBackend(tf, name) {
  if (name === 'wasm') {
    const wasm = require('@tensorflow/tfjs-backend-wasm');
    const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
    wasm.setWasmPaths(dist + path.sep);
  }
  const ok = await tf.setBackend(name);
  if (!ok || tf.getBackend() !== name) throw new Error('TF.js backend ' + name + ' is not available');
  await tf.ready();
}

module.exports = { useBackend };

/**
 * What browserml's Node scripts share: the runner core (runtime/core.js, the ES module
 * the pages and the notebook bundle are built from), reading an export folder from disk
 * (pure @tensorflow/tfjs has no file:// loader), and choosing a backend: pure-JS `cpu`,
 * or `wasm` with its .wasm files read from the installed @tensorflow/tfjs-backend-wasm
 * (no network, no tfjs-node).
 */
'use strict';
const fs = require('fs');
const path = require('path');

/** The runner core (an ES module, so CommonJS scripts import it asynchronously). */
function loadCore() {
  return import('./runtime/core.js');
}

/** Point the wasm backend at the binaries of the installed package (no network). */
function pointWasmAtPackage() {
  const wasm = require('@tensorflow/tfjs-backend-wasm');
  const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  wasm.setWasmPaths(dist + path.sep);
}

/** Switch to backend `name`; wasm reads its binaries from the installed package. */
async function useBackend(tf, name) {
  if (name === 'wasm') pointWasmAtPackage();
  return (await loadCore()).useBackend(tf, name);
}

/** Resolve a shard path inside `dir`, refusing anything that escapes it. */
function insideDir(dir, relPath) {
  if (path.isAbsolute(relPath) || /^[a-z]+:/i.test(relPath)) {
    throw new Error('model.json: weight path ' + JSON.stringify(relPath) + ' is not relative');
  }
  const root = path.resolve(dir);
  const full = path.resolve(root, relPath);
  if (full !== root && !full.startsWith(root + path.sep)) {
    throw new Error('model.json: weight path ' + JSON.stringify(relPath) + ' leaves the export folder');
  }
  return full;
}

/** A TF.js IOHandler that loads model.json and its weight shards from a folder. */
function fileHandler(tf, dir) {
  return {
    load: async function () {
      const modelJSON = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
      return tf.io.getModelArtifactsForJSON(modelJSON, async function (manifest) {
        const specs = [];
        const buffers = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const p of group.paths) {
            const b = fs.readFileSync(insideDir(dir, p));
            buffers.push(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
          }
        }
        return [specs, tf.io.concatenateArrayBuffers(buffers)];
      });
    },
  };
}

/** `--name value` pairs of the command line, as an object (`{name: value}`). */
function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i += 2) args[argv[i].replace(/^--/, '')] = argv[i + 1];
  return args;
}

/** Read the JSON file named by `--config`. */
function readConfig(args) {
  if (!args.config) throw new Error('missing --config CONFIG.json');
  return JSON.parse(fs.readFileSync(args.config, 'utf8'));
}

/**
 * Run a script's async main with its command-line arguments. A failure prints
 * "browserml NAME: message" (the line Python's run_node_script reports) and exits 1.
 */
function runMain(name, main) {
  main(parseArgs(process.argv.slice(2))).catch(function (err) {
    process.stderr.write('browserml ' + name + ': ' + (err && err.message ? err.message : err) + '\n' +
      (err && err.stack ? err.stack : '') + '\n');
    process.exit(1);
  });
}

module.exports = { loadCore, pointWasmAtPackage, useBackend, fileHandler, parseArgs, readConfig, runMain };

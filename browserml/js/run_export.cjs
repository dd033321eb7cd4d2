#!/usr/bin/env node
/**
 * Run a browserml export in TF.js under Node and print the result as one JSON line.
 *
 *   node run_export.cjs --dir EXPORT_DIR [--backend cpu|wasm] [--inputs FILE.json] [--repeats N] [--raw 1]
 *
 * With --raw 1 the inputs are raw values, preprocessed as browserml.json says.
 *
 * Pure @tensorflow/tfjs has no file:// loader, so this gives it an IOHandler that
 * reads model.json and its shards from disk. It refuses shard paths that leave the
 * export folder, exactly like browserml.export.read_model_json does in Python.
 */
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const { useBackend } = require('./node_backend.cjs');
const { runExport } = require('./run_core.js');

function parseArgs(argv) {
  const args = { backend: 'cpu', repeats: 1 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    args[key] = argv[i + 1];
  }
  if (!args.dir) throw new Error('usage: run_export.cjs --dir EXPORT_DIR [--backend cpu|wasm]');
  args.repeats = parseInt(args.repeats, 10);
  return args;
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
function fileHandler(dir) {
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

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const manifest = JSON.parse(fs.readFileSync(path.join(args.dir, 'browserml.json'), 'utf8'));
  const inputs = args.inputs ? JSON.parse(fs.readFileSync(args.inputs, 'utf8')) : undefined;
  await useBackend(tf, args.backend);
  const result = await runExport(tf, fileHandler(args.dir), manifest, { inputs: inputs, repeats: args.repeats, raw: args.raw === '1' });
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch(function (err) {
  process.stderr.write('browserml run_export: ' + (err && err.message ? err.message : err) + '\n' + (err && err.stack ? err.stack : '') + '\n');
  process.exit(1);
});

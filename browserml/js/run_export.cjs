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
const { loadCore, useBackend, fileHandler, runMain } = require('./node_support.cjs');

runMain('run_export', async function (args) {
  if (!args.dir) throw new Error('usage: run_export.cjs --dir EXPORT_DIR [--backend cpu|wasm]');
  args.repeats = parseInt(args.repeats || '1', 10);
  const manifest = JSON.parse(fs.readFileSync(path.join(args.dir, 'browserml.json'), 'utf8'));
  const inputs = args.inputs ? JSON.parse(fs.readFileSync(args.inputs, 'utf8')) : undefined;
  await useBackend(tf, args.backend || 'cpu');
  const { runExport } = await loadCore();
  const result = await runExport(tf, fileHandler(tf, args.dir), manifest, { inputs: inputs, repeats: args.repeats, raw: args.raw === '1' });
  process.stdout.write(JSON.stringify(result) + '\n');
});


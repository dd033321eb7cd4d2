#!/usr/bin/env node
/**
 * Build browserml's in-page TF.js bundle (run by `make setup`, after `npm ci`):
 *
 *   node browserml/js/runtime/build.mjs [--out DIR]
 *
 * writes, from the one ES-module source in this folder (core.js, runner.js, page.js):
 *  - DIR/tfjs-bundle.mjs: entry.js (TF.js + runner.js) bundled and minified by esbuild, for
 *    the notebook page (browserml/inbrowser/bundle.py reads it);
 *  - DIR/browserml-page.js: page.js + core.js, bundled but readable (a learner opens it),
 *    which every export folder carries a copy of (browserml/pages.py);
 * and copies the two non-threaded wasm binaries beside it
 * (tfjs-backend-wasm.wasm, tfjs-backend-wasm-simd.wasm). Threads need cross-origin
 * isolation, which a notebook page does not have, so the threaded binary stays out.
 * DIR defaults to browserml/js/dist/ (committed, so Colab and pip installs need no Node;
 * tests/test_front_door.py checks it equals a fresh build; browserml/inbrowser/bundle.py reads it).
 * Prints one JSON line with the sizes.
 */
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const outIndex = args.indexOf('--out');
const outDir = resolve(outIndex >= 0 ? args[outIndex + 1] : join(here, '..', 'dist'));
const require = createRequire(import.meta.url);
const wasmDist = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')) + '/dist';
const WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm'];

mkdirSync(outDir, { recursive: true });
const result = await build({
  entryPoints: [join(here, 'entry.js')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2020'],
  minify: true,
  legalComments: 'none',
  write: false,
  logLevel: 'warning',
  // The wasm backend's emscripten glue mentions Node modules behind runtime checks;
  // its package.json maps them to false for browsers, and esbuild honours that.
});
const page = await build({
  entryPoints: [join(here, 'page.js')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2020'],
  minify: false,
  legalComments: 'none',
  banner: { js: '// browserml-page.js: built by browserml/js/runtime/build.mjs from page.js and core.js. Do not edit.' },
  write: false,
  logLevel: 'warning',
});
const sizes = {};
for (const [name, file] of [['tfjs-bundle.mjs', result.outputFiles[0]], ['browserml-page.js', page.outputFiles[0]]]) {
  // Write then rename, so a half-written file is never served.
  const target = join(outDir, name);
  writeFileSync(target + '.tmp', file.contents);
  renameSync(target + '.tmp', target);
  sizes[name] = file.contents.length;
}
for (const name of WASM_FILES) {
  copyFileSync(join(wasmDist, name), join(outDir, name));
  sizes[name] = statSync(join(outDir, name)).size;
}
process.stdout.write(JSON.stringify({ out: outDir, bytes: sizes }) + '\n');

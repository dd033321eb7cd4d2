#!/usr/bin/env node
/**
 * Build browserml's in-page TF.js bundle (run by `make setup`, after `npm ci`):
 *
 *   node browserml/js/runtime/build.mjs [--out DIR]
 *
 * writes DIR/tfjs-bundle.mjs (entry.js bundled and minified by esbuild, ES module,
 * browser platform) and copies the two non-threaded wasm binaries beside it
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
const bundle = result.outputFiles[0].contents;
// Write then rename, so a half-written bundle is never served.
const target = join(outDir, 'tfjs-bundle.mjs');
writeFileSync(target + '.tmp', bundle);
renameSync(target + '.tmp', target);
const sizes = { 'tfjs-bundle.mjs': bundle.length };
for (const name of WASM_FILES) {
  copyFileSync(join(wasmDist, name), join(outDir, name));
  sizes[name] = statSync(join(outDir, name)).size;
}
process.stdout.write(JSON.stringify({ out: outDir, bytes: sizes }) + '\n');

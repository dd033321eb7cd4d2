/**
 * browserml's in-page TF.js bundle: one ES module, built by build.mjs with esbuild
 * from the project's own node_modules, so a notebook page never needs a CDN.
 *
 * It holds what every lesson's export needs: tfjs-core (with gradients and chained
 * ops, which model.fit and the layers API use), tfjs-layers (layers models),
 * tfjs-converter (graph models: lessons 1 and 4), the cpu, webgl, wasm and webgpu backends,
 * and browserml's runner (runner.js), exported as `browserml`.
 *
 * Import it once per page: evaluating TF.js twice registers every kernel twice and
 * breaks the wasm backend. widgets/browser_runtime.js caches the module on globalThis.
 */
import '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';  // registers itself only where navigator.gpu exists
import * as wasm from '@tensorflow/tfjs-backend-wasm';
import { version_core } from '@tensorflow/tfjs-core';
import { version_layers } from '@tensorflow/tfjs-layers';
import { version_converter } from '@tensorflow/tfjs-converter';

export * from '@tensorflow/tfjs-core';
export * from '@tensorflow/tfjs-layers';
export * from '@tensorflow/tfjs-converter';
export * as browserml from './runner.js';
export { wasm };

/** Same shape as @tensorflow/tfjs's `tf.version`, so `tf.version.tfjs` works. */
export const version = {
  'tfjs-core': version_core,
  'tfjs-layers': version_layers,
  'tfjs-converter': version_converter,
  'tfjs-backend-wasm': wasm.version_wasm,
  tfjs: version_core,
};

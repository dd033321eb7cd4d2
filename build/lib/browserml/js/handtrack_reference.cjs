#!/usr/bin/env node
/**
 * The original handtrack.js (npm handtrackjs@0.1.5) detecting hands in Node: the
 * reference that browserml.handtrack.detect is checked against. Prints one JSON line.
 *
 *   node handtrack_reference.cjs --config CONFIG.json
 *
 * CONFIG.json: {"params": {modelSize, modelType, flipHorizontal, maxNumBoxes,
 * iouThreshold, scoreThreshold}, "images": [{"name", "width", "height", "rgb": BASE64}]}
 * where "rgb" holds height*width*3 bytes, row-major RGB.
 *
 * Which code runs: the library's own shipped browser bundle, dist/handtrack.min.js,
 * with the TF.js 3.3.0 it bundles (pure-JS `cpu` backend, as there is no WebGL in Node).
 * Its `load()` and `ObjectDetection.detect()` run unchanged: getValidResolution,
 * fromPixels, resizeBilinear, toInt, executeAsync, calculateMaxScores, NMS and
 * buildDetectedObjects are all the library's code. Why not the other files:
 * - dist/handtrack.node.js holds only TF.js: the handtrack code is missing from it.
 * - src/index.js is an ES module inside a CommonJS package, so Node cannot require it.
 * Three small shims make the browser bundle load in Node, none touching its maths:
 * 1. `self`: the bundle's UMD wrapper passes `self` (a browser global) to itself.
 * 2. TextEncoder/TextDecoder: the bundled TF.js sees Node, builds its Node platform
 *    from `require('util')`, which webpack replaced by an empty object. A getter on
 *    Object.prototype, present only while the bundle loads, copies the two (standard,
 *    identical) globals onto that empty object the first time it is asked.
 * 3. fetch: `basePath` is an http URL (the library only concatenates strings), and
 *    TF.js fetches through `globalThis.fetch`; a stand-in answers URLs under BASE_URL
 *    from the installed package's models folder and refuses every other URL, so
 *    nothing leaves the machine.
 * Images go in as {data: Uint8Array RGBA, width, height}: the "PixelData" that the
 * library's tf.browser.fromPixels(input) and getInputTensorDimensions(input) accept.
 * For diagnosis, the graph model's executeAsync is wrapped (after the library's warm-up)
 * to record the shape and sha256 of the int32 tensor detect() feeds it, so Python can
 * check that its resize + toInt gives the very same integers.
 */
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { readConfig, runMain } = require('./node_support.cjs');

const BASE_URL = 'http://handtrackjs.invalid/models/webmodel/';

function packageDir() {
  return path.dirname(require.resolve('handtrackjs/package.json'));
}

/** Shim 2: let the bundle's `new util.TextEncoder()` find the real one, then clean up. */
function withTextCodecs(load) {
  const names = ['TextEncoder', 'TextDecoder'];
  for (const name of names) {
    Object.defineProperty(Object.prototype, name, {
      configurable: true,
      get: function () {
        for (const n of names) Object.defineProperty(this, n, { value: globalThis[n], configurable: true });
        return globalThis[name];
      },
    });
  }
  try {
    return load();
  } finally {
    for (const name of names) delete Object.prototype[name];
  }
}

/** Shim 3: a fetch that serves BASE_URL from node_modules/handtrackjs/models/webmodel. */
function installLocalFetch() {
  const root = path.join(packageDir(), 'models', 'webmodel');
  globalThis.fetch = async function (url) {
    // The library asks for ".../model.json " (a trailing space); URL parsing trims it,
    // as a browser's fetch does.
    const href = new URL(String(url)).href;
    if (!href.startsWith(BASE_URL)) throw new Error('handtrack_reference: refusing to fetch ' + href);
    const rel = decodeURIComponent(href.slice(BASE_URL.length));
    const full = path.resolve(root, rel);
    if (!full.startsWith(root + path.sep) || !fs.existsSync(full)) {
      return new Response('not found: ' + rel, { status: 404 });
    }
    return new Response(fs.readFileSync(full), { status: 200 });
  };
}

function loadLibrary() {
  globalThis.self = globalThis; // shim 1
  installLocalFetch();
  const bundle = path.join(packageDir(), 'dist', 'handtrack.min.js');
  return withTextCodecs(() => require(bundle));
}

/** RGB bytes (base64) -> the PixelData object fromPixels reads (RGBA, alpha ignored). */
function pixelData(image) {
  const rgb = Buffer.from(image.rgb, 'base64');
  const n = image.width * image.height;
  if (rgb.length !== n * 3) {
    throw new Error('image ' + image.name + ': ' + rgb.length + ' bytes, expected ' + n * 3);
  }
  const rgba = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) {
    rgba[4 * i] = rgb[3 * i];
    rgba[4 * i + 1] = rgb[3 * i + 1];
    rgba[4 * i + 2] = rgb[3 * i + 2];
    rgba[4 * i + 3] = 255;
  }
  return { data: rgba, width: image.width, height: image.height };
}

/** Record what detect() passes to the graph: {input_shape, input_sha256} of the int32 batch. */
function watchInputs(graphModel) {
  const seen = { last: null };
  const original = graphModel.executeAsync.bind(graphModel);
  graphModel.executeAsync = async function (inputs, outputs) {
    const values = await inputs.data();
    const bytes = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
    seen.last = {
      input_dtype: inputs.dtype,
      input_shape: inputs.shape,
      input_sha256: crypto.createHash('sha256').update(bytes).digest('hex'),
    };
    return original(inputs, outputs);
  };
  return seen;
}

runMain('handtrack_reference', async function (args) {
  const config = readConfig(args);
  const handTrack = loadLibrary();
  const params = Object.assign({}, config.params || {}, { basePath: BASE_URL });
  const model = await handTrack.load(params);
  const seen = watchInputs(model.model);
  const results = [];
  for (const image of config.images) {
    const t0 = Date.now();
    const detections = await model.detect(pixelData(image));
    const ms = Date.now() - t0;
    results.push(Object.assign({ name: image.name, ms: ms, detections: detections }, seen.last));
  }
  model.dispose();
  const used = model.getModelParameters();
  delete used.basePath;
  process.stdout.write(JSON.stringify({
    library: 'handtrackjs@' + handTrack.version + ' dist/handtrack.min.js',
    params: used,
    results: results,
  }) + '\n');
});

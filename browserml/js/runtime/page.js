/**
 * browserml's page module: what every export page (browserml/templates/*_index.html)
 * and the Chromium harness share. build.mjs bundles it with core.js into one file,
 * dist/browserml-page.js, and each export writes a copy beside its index.html
 * (browserml.pages.page_files), so an export folder works on its own:
 *
 *   <script type="module">
 *     import { $, startBackend, loadExport, fail } from './browserml-page.js';
 *
 * TF.js itself is the page's `tf` global (tf.min.js and tf-backend-wasm.min.js from the
 * project's node_modules, loaded by <script> tags before this module runs). Everything
 * here is the part a page would otherwise copy: the base style, the backend picker, the
 * model loaded by an absolute URL, the status line, and image decoding that fails in words.
 */
import { loadModel, messageOf } from './core.js';

export * from './core.js';

/** Where the wasm binaries are, relative to an export page served from the project root. */
export const WASM_DIR = '../../node_modules/@tensorflow/tfjs-backend-wasm/dist/';

/** The page's URL parameters (?backend=wasm&...): a page is configured by its link. */
export const params = new URLSearchParams(typeof location === 'undefined' ? '' : location.search);

/** document.getElementById, short. */
export const $ = (id) => document.getElementById(id);

/** The page's TF.js, with a message that says what to do when the script tags failed. */
export function tfjs() {
  if (!globalThis.tf) {
    throw new Error('TF.js did not load: serve the project root (make serve) and open the export folder under it');
  }
  return globalThis.tf;
}

const BASE_CSS = `
  body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; max-width: 900px; }
  code { background: #f3f3f3; padding: 0 .25em; }
  .ok { color: #17692f; } .fail { color: #b00020; }
  canvas { border: 1px solid #ddd; max-width: 100%; }
`;

/** Put the shared style first in <head>, so each page's own <style> can override it. */
function installBaseStyle() {
  if (typeof document === 'undefined' || document.getElementById('browserml-base-style')) return;
  const style = document.createElement('style');
  style.id = 'browserml-base-style';
  style.textContent = BASE_CSS;
  document.head.prepend(style);
}
installBaseStyle();

/**
 * A <select id=ID> that mirrors the URL parameter ID (default `fallback`): changing it
 * reloads the page with the new value, so every state of the page has a link. Returns
 * the current value.
 */
export function urlChoice(id, fallback) {
  const value = params.get(id) || fallback;
  const select = $(id);
  if (select) {
    select.value = value;
    select.onchange = (event) => { params.set(id, event.target.value); location.search = params; };
  }
  return value;
}

/**
 * Start the `wanted` backend (wasm binaries from WASM_DIR), falling back to cpu with a
 * note in #backend-used rather than hanging where a backend is missing (webgl in a
 * headless browser without a GPU). Returns the backend in use.
 */
export async function startBackend(wanted, wasmDir = WASM_DIR) {
  const tf = tfjs();
  tf.wasm.setWasmPaths(new URL(wasmDir, location.href).href);
  let ok = false;
  try {
    ok = await tf.setBackend(wanted);
  } catch (err) {
    ok = false;
  }
  if (!ok) await tf.setBackend('cpu');
  await tf.ready();
  const used = tf.getBackend();
  const note = $('backend-used');
  if (note) note.textContent = used === wanted ? `(using ${used})` : `(${wanted} is not available here: using ${used})`;
  return used;
}

/** A file of the export folder, as JSON; a missing or broken file fails in words that name it. */
export async function fetchJson(name, folder = location.href) {
  const response = await fetch(new URL(name, folder));
  if (!response.ok) {
    throw new Error(name + ' could not be loaded (HTTP ' + response.status + '); it belongs in the export folder');
  }
  try {
    return await response.json();
  } catch (err) {
    throw new Error(name + ' is not valid JSON: ' + messageOf(err));
  }
}

/**
 * The export in `folder` (a URL; default: this page's folder): its browserml.json and
 * its model. The model is loaded by an absolute URL: from a bare 'model.json', TF.js
 * 4.22 fetches the shards from the site root and decodes the 404 page as weights,
 * without any error.
 */
export async function loadExport(folder = location.href) {
  const manifest = await fetchJson('browserml.json', folder);
  const model = await loadModel(tfjs(), manifest.model_format, new URL('model.json', folder).href);
  return { manifest, model };
}

/** One line of status (#status by default), green when `ok`, red otherwise. */
export function setStatus(text, ok, id = 'status') {
  const line = $(id);
  line.className = ok ? 'ok' : 'fail';
  line.textContent = text;
}

/** Show an error in the status line, and publish it where a test or a script looks. */
export function fail(err, id = 'status') {
  setStatus('Error: ' + messageOf(err), false, id);
  window.browsermlResult = { error: messageOf(err) };
}

/** "✓ parity with Python: max |Δ| = 1.2e-07 (tolerance 1e-05)", or ✗ when it is over. */
export function parityLine(gap, tolerance) {
  return (gap <= tolerance ? '✓' : '✗') + ' parity with Python: max |Δ| = ' + gap.toExponential(2) +
    ' (tolerance ' + tolerance + ')';
}

/** Decode an image (URL or blob: URL); a file that is not an image fails in words. */
export function loadImage(src) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error('could not decode the image (is it an image file?)'));
    img.src = src;
  });
}

/**
 * Call `onFile(file)` for a file picked in <input id=inputId> or dropped on #dropId;
 * its errors go to the status line.
 */
export function onImageFile(inputId, dropId, onFile) {
  const run = (file) => { if (file) Promise.resolve(onFile(file)).catch(fail); };
  $(inputId).onchange = (event) => run(event.target.files[0]);
  const zone = $(dropId);
  if (!zone) return;
  zone.ondragover = (event) => event.preventDefault();
  zone.ondrop = (event) => { event.preventDefault(); run(event.dataTransfer.files[0]); };
}

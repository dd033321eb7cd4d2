/**
 * The front end of widgets/browser_runtime.py: runs browserml exports in TF.js inside
 * the notebook page itself, beside the Python kernel.
 *
 * TF.js is imported ONCE PER PAGE (globalThis.__browserml caches the module promise):
 * evaluating it per widget registers every kernel twice and breaks the wasm backend.
 * It comes from one of two places, chosen automatically:
 *  - "files": the Jupyter server's /files/ route (JupyterLab, Notebook 7, Binder), with the
 *    page's base URL; fetch() + a blob: URL, because a dynamic import() of /files/ is
 *    refused with HTTP 403 by the server's XSRF check;
 *  - "embed": the kernel sends the bytes over the widget's comm on request (anywhere a
 *    widget front end runs, with no server route: VS Code, Colab, a static server).
 * The wasm binary (SIMD or not, whichever this browser runs) travels the same way and
 * becomes a blob: URL for setWasmPaths, with threads off (no cross-origin isolation).
 *
 * Protocol (custom messages, which unlike traits never bloat the saved notebook):
 *   page -> kernel: hello, need {request, names}, progress {id, epoch, loss}, result {id, ...}
 *   kernel -> page: run {id, ...}, fit {id, ...}, eval {id, code, ...} (a %%tfjs cell),
 *                   files {reply_to, names, error} + bytes
 * The kind names are in KIND below and in browserml/inbrowser/protocol.py (the kernel's
 * side of the protocol); tests/test_inbrowser_protocol.py checks that the two agree.
 * The work runs in initialize (once per model, not per view); views only show `status`.
 */

/** Every message kind, by direction: the one place this file names them. */
const KIND = Object.freeze({
  // page -> kernel
  HELLO: 'hello', NEED: 'need', PROGRESS: 'progress', RESULT: 'result',
  // kernel -> page
  RUN: 'run', FIT: 'fit', EVAL: 'eval', FILES: 'files',
});

const G = (globalThis.__browserml = globalThis.__browserml || { tfjs: {}, wasm: {}, queue: Promise.resolve() });

function errorText(err) {
  return String(err && err.message ? err.message : err);
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${Math.round(ms / 1000)} s ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Jupyter's page configuration: JupyterLab and Notebook 7 put it in a JSON script tag. */
export function pageConfig() {
  const el = typeof document !== 'undefined' && document.getElementById('jupyter-config-data');
  let config = {};
  if (el) {
    try { config = JSON.parse(el.textContent || '{}'); } catch (err) { config = {}; }
  }
  const baseUrl = (typeof document !== 'undefined' && document.body && document.body.dataset.baseUrl) ||
    config.baseUrl || null;
  return { baseUrl: baseUrl, serverRoot: config.serverRoot || null };
}

/** URL of a kernel-side absolute path under the server's /files/ route, or null when
 * the page has no Jupyter server config or the path is outside the server's root. */
export function filesUrl(absPath, home) {
  const { baseUrl, serverRoot } = pageConfig();
  if (!baseUrl || !serverRoot || !absPath) return null;
  let root = serverRoot.replace(/\\/g, '/');
  if (root.startsWith('~') && home) root = home + root.slice(1);
  root = root.replace(/\/+$/, '');
  const path = absPath.replace(/\\/g, '/');
  if (!path.startsWith(root + '/')) return null;
  const rel = path.slice(root.length + 1).split('/').map(encodeURIComponent).join('/');
  return baseUrl.replace(/\/?$/, '/') + 'files/' + rel;
}

async function fetchBytes(url) {
  const response = await fetch(url, { credentials: 'same-origin' });
  if (!response.ok) throw new Error(`HTTP ${response.status} for ${url}`);
  return new Uint8Array(await response.arrayBuffer());
}

async function importFromBytes(bytes) {
  const url = URL.createObjectURL(new Blob([bytes], { type: 'text/javascript' }));
  try {
    return await import(/* webpackIgnore: true */ url);
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** The per-widget channel to the kernel, with request/response for embedded files. */
function makeChannel(model) {
  const pending = new Map();
  let counter = 0;
  function onMessage(msg, buffers) {
    if (msg && msg.kind === KIND.FILES && pending.has(msg.reply_to)) {
      const { resolve, reject } = pending.get(msg.reply_to);
      pending.delete(msg.reply_to);
      if (msg.error) reject(new Error(msg.error));
      else resolve((buffers || []).map((b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)));
    }
  }
  function requestFiles(names, ms) {
    const request = `${Date.now()}-${++counter}`;
    const answer = new Promise((resolve, reject) => pending.set(request, { resolve, reject }));
    model.send({ kind: KIND.NEED, request: request, names: names });
    return withTimeout(answer, ms, `waiting for the kernel to send ${names.join(', ')} (is it busy?)`)
      .finally(() => pending.delete(request));
  }
  return { onMessage, requestFiles };
}

/** A source of dist files for one widget: the files route if it works, else the kernel. */
function makeSource(model, channel) {
  const mode = model.get('delivery');
  const dist = model.get('dist_path');
  const home = model.get('home_dir');
  const loadMs = 1000 * model.get('load_timeout_s');
  return {
    mode: mode,
    filesBase: mode === 'embed' ? null : filesUrl(dist, home),
    async get(name, how) {
      if (how === 'files') return fetchBytes(this.filesBase + '/' + name);
      return (await channel.requestFiles([name], loadMs))[0];
    },
  };
}

function setStatus(model, text) {
  model.set('status', text);
  try { model.save_changes(); } catch (err) { /* the comm may be closed */ }
}

/** TF.js for this page: cached on globalThis per bundle id, so it is evaluated once. */
async function getTf(model, source) {
  const key = model.get('bundle_id');
  if (G.tfjs[key]) return G.tfjs[key];
  const attempt = (async () => {
    const t0 = performance.now();
    const errors = [];
    for (const how of source.filesBase ? ['files', 'embed'] : ['embed']) {
      if (how === 'embed' && source.mode === 'files') break;
      try {
        setStatus(model, how === 'files' ? 'loading TF.js from the server…' : 'loading TF.js from the kernel…');
        const tf = await importFromBytes(await source.get('tfjs-bundle.mjs', how));
        if (!tf.browserml) throw new Error('tfjs-bundle.mjs is not browserml\'s bundle');
        return { tf: tf, how: how, key: key, load_ms: performance.now() - t0, errors: errors };
      } catch (err) {
        errors.push(`${how}: ${errorText(err)}`);
      }
    }
    throw new Error('could not load TF.js: ' + errors.join('; '));
  })();
  G.tfjs[key] = attempt;
  attempt.catch(() => { if (G.tfjs[key] === attempt) delete G.tfjs[key]; });
  return attempt;
}

/** Point the wasm backend at the binary this browser runs, once per page and bundle. */
async function prepareWasm(loaded, source) {
  const { tf } = loaded;
  const key = loaded.key;
  if (G.wasm[key]) return G.wasm[key];
  const ready = (async () => {
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    const name = simd ? 'tfjs-backend-wasm-simd.wasm' : 'tfjs-backend-wasm.wasm';
    const bytes = await source.get(name, loaded.how);
    const url = URL.createObjectURL(new Blob([bytes], { type: 'application/wasm' }));
    tf.browserml.configureWasm(tf, { [name]: url });
    return { name: name, bytes: bytes.length };
  })();
  G.wasm[key] = ready;
  ready.catch(() => { if (G.wasm[key] === ready) delete G.wasm[key]; });
  return ready;
}

/** Typed array for a {dtype, buffer} spec from the kernel. */
function typed(spec, buffers) {
  const b = buffers[spec.buffer];
  const bytes = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  if (spec.dtype === 'int32') return new Int32Array(bytes);
  return new Float32Array(bytes);
}

async function modelSource(loaded, msg, buffers, source) {
  const { tf } = loaded;
  if (msg.model.how === 'embed') {
    const artifacts = tf.browserml.artifactsFromParts(msg.model.model_json, buffers[msg.model.weights_buffer]);
    return () => tf.browserml.memoryHandler(artifacts);
  }
  const url = filesUrl(msg.model.path, source.home || null) || null;
  if (!url) throw new Error(`the model at ${msg.model.path} is too large to send with the widget and this page has no Jupyter /files/ route to load it from`);
  return () => url;
}

/** Serialise results for the kernel: numbers in JSON, arrays as float32 buffers. */
function packOutputs(results) {
  const buffers = [];
  const packed = results.map((r) => {
    const outputs = {};
    for (const [name, out] of Object.entries(r.outputs || {})) {
      const data = out.data instanceof Float32Array ? out.data : Float32Array.from(out.data);
      outputs[name] = { shape: out.shape, dtype: 'float32', buffer: buffers.length };
      buffers.push(data);
    }
    return Object.assign({}, r, { outputs: r.outputs ? outputs : null });
  });
  return { packed, buffers };
}

async function handleRun(model, msg, buffers, source) {
  const loaded = await getTf(model, source);
  const { tf } = loaded;
  const reply = { kind: KIND.RESULT, id: msg.id, job: KIND.RUN, delivery: loaded.how, tfjs_load_ms: loaded.load_ms,
                  tfjs_version: tf.version.tfjs, delivery_errors: loaded.errors, results: [] };
  if (msg.backends.includes('wasm')) {
    try { reply.wasm = await prepareWasm(loaded, source); } catch (err) { reply.wasm_error = errorText(err); }
  }
  const load = await modelSource(loaded, msg, buffers, source);
  const inputs = {};
  for (const [name, spec] of Object.entries(msg.inputs)) {
    inputs[name] = { shape: spec.shape, dtype: spec.dtype, data: typed(spec, buffers) };
  }
  const results = [];
  for (const backend of msg.backends) {
    setStatus(model, `running on ${backend}…`);
    if (backend === 'wasm' && reply.wasm_error) {
      results.push({ requested: 'wasm', backend: null, error: 'wasm binary unavailable: ' + reply.wasm_error });
      continue;
    }
    results.push(await tf.browserml.runOnBackend(tf, backend, {
      manifest: msg.manifest, inputs: inputs, loadSource: load, samples: msg.samples,
      minSampleMs: msg.min_sample_ms, timeBudgetMs: 1000 * msg.time_budget_s, timeoutMs: 1000 * msg.timeout_s,
    }));
  }
  const { packed, buffers: out } = packOutputs(results);
  reply.results = packed;
  return { reply, buffers: out };
}

async function handleFit(model, msg, buffers, source) {
  const loaded = await getTf(model, source);
  const { tf } = loaded;
  if (msg.backend === 'wasm') await prepareWasm(loaded, source);
  const load = await modelSource(loaded, msg, buffers, source);
  setStatus(model, `fine-tuning on ${msg.backend}…`);
  const r = await tf.browserml.fitModel(tf, {
    manifest: msg.manifest, loadSource: load, backend: msg.backend,
    x: { shape: msg.x.shape, data: typed(msg.x, buffers) }, y: { shape: msg.y.shape, data: typed(msg.y, buffers) },
    epochs: msg.epochs, batchSize: msg.batch_size, optimizer: msg.optimizer, learningRate: msg.learning_rate,
    loss: msg.loss, shuffle: msg.shuffle, timeoutMs: 1000 * msg.timeout_s,
    onEpoch: (epoch, loss) => model.send({ kind: KIND.PROGRESS, id: msg.id, epoch: epoch, loss: loss }),
  });
  const out = [];
  const weights = (r.weights || []).map((w) => {
    out.push(w.data instanceof Float32Array ? w.data : Float32Array.from(w.data));
    return { name: w.name, shape: w.shape, dtype: 'float32', buffer: out.length - 1 };
  });
  const reply = Object.assign({ kind: KIND.RESULT, id: msg.id, job: KIND.FIT, delivery: loaded.how,
                                tfjs_version: tf.version.tfjs }, r, { weights: r.weights ? weights : null });
  return { reply, buffers: out };
}

/** Tensors in a cell's returned value travel as float32/int32 buffers, like run outputs. */
function packValue(value, out) {
  if (value && value.__tensor__) {
    const data = value.dtype === 'int32' || value.dtype === 'bool'
      ? Int32Array.from(value.data) : (value.data instanceof Float32Array ? value.data : Float32Array.from(value.data));
    out.push(data);
    return { __tensor__: true, shape: value.shape, dtype: data instanceof Int32Array ? 'int32' : 'float32',
             tfjs_dtype: value.dtype, buffer: out.length - 1 };
  }
  if (Array.isArray(value)) return value.map((v) => packValue(v, out));
  if (value && typeof value === 'object') {
    const packed = {};
    for (const [k, v] of Object.entries(value)) packed[k] = packValue(v, out);
    return packed;
  }
  return value;
}

/** A learner's %%tfjs cell, run in this page with `tf` in scope (runtime/cell.js). */
async function handleEval(model, msg, buffers, source) {
  const loaded = await getTf(model, source);
  const { tf } = loaded;
  // wasm ready whatever the cell asked for, so the cell may tf.setBackend('wasm') itself
  try { await prepareWasm(loaded, source); } catch (err) { if (msg.backend === 'wasm') throw err; }
  const scope = Object.assign({}, msg.scope || {});
  if (msg.model) {  // a URL where the server has one (the model is static files); else from memory
    scope.MODEL_URL = filesUrl(msg.model.path, source.home || null) ||
      (await modelSource(loaded, msg, buffers, source))();
  }
  setStatus(model, `running a TF.js cell on ${msg.backend}…`);
  const r = await tf.browserml.evalCell(tf, msg.code, { backend: msg.backend, timeoutMs: 1000 * msg.timeout_s, scope });
  const out = [];
  const reply = Object.assign({ kind: KIND.RESULT, id: msg.id, job: KIND.EVAL, delivery: loaded.how, where: 'page' },
                              r, { value: packValue(r.value, out) });
  return { reply, buffers: out };
}

/** Run one job; always answer, in words when it failed, and never block the page queue
 * for longer than the job's own timeout. */
function enqueue(model, msg, buffers, source) {
  const handler = { [KIND.FIT]: handleFit, [KIND.EVAL]: handleEval }[msg.kind] || handleRun;
  const budgetMs = 1000 * (model.get('load_timeout_s') + msg.timeout_s * Math.max(1, (msg.backends || [1]).length)) + 5000;
  const task = G.queue.then(() => withTimeout(handler(model, msg, buffers, source), budgetMs, `running job ${msg.id}`));
  G.queue = task.catch(() => {});
  // The kernel's summary of the answer is the last word. This status may reach the kernel
  // after the answer (ipywidgets holds state updates back while earlier ones are unanswered;
  // custom messages go at once), so the kernel ignores a page status once it has read the
  // job's answer and puts its summary back (BrowserRuntime.set_state).
  return task.then(
    ({ reply, buffers: out }) => {
      setStatus(model, 'answered; waiting for the kernel to read it…');
      model.send(reply, undefined, out);
    },
    (err) => {
      setStatus(model, 'error: ' + errorText(err));
      model.send({ kind: KIND.RESULT, id: msg.id, job: msg.kind, error: errorText(err) });
    },
  );
}

export default {
  initialize({ model }) {
    const channel = makeChannel(model);
    const source = makeSource(model, channel);
    source.home = model.get('home_dir');
    const seen = new Set();
    const onCustom = (msg, buffers) => {
      if (!msg) return;
      if (msg.kind === KIND.FILES) { channel.onMessage(msg, buffers); return; }
      if ([KIND.RUN, KIND.FIT, KIND.EVAL].includes(msg.kind) && !seen.has(msg.id)) {
        seen.add(msg.id);
        enqueue(model, msg, buffers || [], source);
      }
    };
    model.on('msg:custom', onCustom);
    const { baseUrl, serverRoot } = pageConfig();
    model.send({
      kind: KIND.HELLO,
      tfjs_cached: Boolean(G.tfjs[model.get('bundle_id')]),
      files_url: source.filesBase,
      base_url: baseUrl,
      server_root: serverRoot,
      user_agent: typeof navigator !== 'undefined' ? navigator.userAgent : '',
    });
    return () => model.off('msg:custom', onCustom);
  },

  render({ model, el }) {
    const line = document.createElement('div');
    line.style.fontFamily = 'monospace';
    line.style.fontSize = '12px';
    line.style.color = 'var(--jp-ui-font-color2, #555)';  // JupyterLab's theme, light or dark
    line.className = 'browserml-runtime-status';
    const show = () => { line.textContent = 'browser TF.js: ' + model.get('status'); };
    show();
    model.on('change:status', show);
    el.appendChild(line);
    return () => model.off('change:status', show);
  },
};

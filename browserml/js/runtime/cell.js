/**
 * A learner's TF.js cell (the %%tfjs magic, browserml/tfjs_cell.py): run the cell's
 * JavaScript with `tf` in scope, on one backend, and report what it returned, what it
 * printed, what it threw, and the live tensor count before and after.
 *
 * The same function runs in the learner's page (runner.js exports it into the notebook
 * bundle as tf.browserml.evalCell) and under Node (browserml/js/tfjs_cell.cjs), where a
 * notebook has no page (nbval, a plain kernel).
 *
 * The cell is the body of an async function, so it may `await` and should `return` what
 * Python is to get back. Tensors in the returned value are read back (shape, dtype,
 * data) and then disposed, so `num_tensors_after` counts only what the cell left behind:
 * equal to `num_tensors_before` for a cell that cleans up, higher for one that leaks.
 */
import { messageOf, now, useBackend } from './core.js';

const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;

/** Plain data for a returned value: tensors and typed arrays become {shape, dtype, data}. */
async function plain(tf, value, owned, depth = 0) {
  if (depth > 20) throw new Error('the returned value nests more than 20 levels deep');
  if (value instanceof tf.Tensor) {
    owned.push(value);
    return { __tensor__: true, shape: value.shape, dtype: value.dtype, data: await value.data() };
  }
  if (ArrayBuffer.isView(value)) {
    return { __tensor__: true, shape: [value.length], dtype: value instanceof Int32Array ? 'int32' : 'float32',
             data: value instanceof Int32Array ? value : Float32Array.from(value) };
  }
  if (Array.isArray(value)) return Promise.all(value.map((v) => plain(tf, v, owned, depth + 1)));
  if (value && typeof value === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = await plain(tf, v, owned, depth + 1);
    return out;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) return { __number__: String(value) };
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return null;
  return value;
}

/**
 * The page's next frame: requestAnimationFrame where a visible page has one, else a 16 ms
 * timer (Node, or a tab in the background, where animation frames stop).
 */
function nextTick(fn) {
  const visible = typeof document !== 'undefined' && !document.hidden;
  if (visible && typeof requestAnimationFrame === 'function') requestAnimationFrame(fn);
  else setTimeout(fn, 16);
}

/**
 * In a cell's scope as `measureFrames(work)`: run `await work()` while a frame loop records
 * the gap between frames (100 ms of quiet frames before and after), and return
 * {gaps: [ms, ...], ms: how long the work took}. A long gap is a frame the page could
 * not draw because the thread was busy.
 */
export async function measureFrames(work) {
  const gaps = [];
  let last = now();
  let running = true;
  const frame = () => { const t = now(); gaps.push(t - last); last = t; if (running) nextTick(frame); };
  const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  nextTick(frame);
  await pause(100);
  const t0 = now();
  await work();
  const ms = now() - t0;
  await pause(100);
  running = false;
  return { gaps, ms };
}

/** How console.log shows a value in the cell's printed output. */
function show(value) {
  if (typeof value === 'string') return value;
  if (value && typeof value.toString === 'function' && value.constructor && value.constructor.name === 'Tensor') {
    return value.toString();
  }
  try { return JSON.stringify(value); } catch (err) { return String(value); }
}

/**
 * Run `code` with `tf` (and a `console` whose log/info/warn/error are captured) in scope,
 * plus measureFrames and nextFrame (see above). Options: backend ('wasm'), timeoutMs
 * (30000), scope ({name: value}: more names the cell sees, e.g. the Python values it was
 * given and MODEL_URL). Returns {value, logs,
 * error, backend, num_tensors_before, num_tensors_after, ms, tfjs_version}; never throws.
 */
export async function evalCell(tf, code, options = {}) {
  const result = { value: null, logs: [], error: null, backend: null, num_tensors_before: null,
                   num_tensors_after: null, ms: null, tfjs_version: tf.version.tfjs };
  const log = (level) => (...args) => { result.logs.push((level === 'log' ? '' : level + ': ') + args.map(show).join(' ')); };
  const console = { log: log('log'), info: log('info'), warn: log('warning'), error: log('error') };
  // TF.js itself prints to the global console (model.summary(), warnings): while the cell
  // runs, that is the cell's output too
  const real = globalThis.console;
  globalThis.console = Object.assign(Object.create(real), console);
  const owned = [];
  try {
    result.backend = await useBackend(tf, options.backend || 'wasm');
    const scope = Object.assign({ measureFrames, nextFrame: () => new Promise(nextTick) }, options.scope || {});
    const body = new AsyncFunction('tf', 'console', ...Object.keys(scope), code);
    result.num_tensors_before = tf.memory().numTensors;
    const t0 = now();
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the cell ran past ${(options.timeoutMs || 30000) / 1000} s`)),
                         options.timeoutMs || 30000);
    });
    const value = await Promise.race([body(tf, console, ...Object.values(scope)), timeout]).finally(() => clearTimeout(timer));
    result.ms = now() - t0;
    result.value = await plain(tf, value, owned);
  } catch (err) {
    result.error = (err && err.name && err.name !== 'Error' ? err.name + ': ' : '') + messageOf(err);
  } finally {
    globalThis.console = real;
    owned.forEach((t) => { if (!t.isDisposed) t.dispose(); });
    result.num_tensors_after = tf.memory().numTensors;
  }
  return result;
}

// A stand-in for anywidget's model, for a widget's real front end in a plain page (no
// Jupyter): traits in a dict; the widget's custom messages leave through window.outbox
// (a test hands them to the Python widget) and the widget's answers arrive by
// window.deliver(content, base64 buffers). tests/tools/standin.py is its Python side.
(function () {
  function b64encode(b) {
    const bytes = b instanceof ArrayBuffer ? new Uint8Array(b) : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(s);
  }
  function b64decode(text) {
    const s = atob(text);
    const bytes = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
    return new DataView(bytes.buffer);
  }
  window.outbox = [];
  /** {model, handlers} over `traits`: get, set (firing change:NAME), save_changes, on, off, send. */
  window.standInModel = function (traits) {
    const handlers = {};
    const model = {
      get: (k) => traits[k],
      set: (k, v) => { traits[k] = v; (handlers['change:' + k] || []).forEach((f) => f()); },
      save_changes: () => {},
      on: (ev, f) => { (handlers[ev] = handlers[ev] || []).push(f); },
      off: (ev, f) => { handlers[ev] = (handlers[ev] || []).filter((g) => g !== f); },
      send: (content, callbacks, buffers) => {
        window.outbox.push({ content: JSON.parse(JSON.stringify(content)), buffers: (buffers || []).map(b64encode) });
      },
    };
    window.deliver = (content, buffers) => {
      (handlers['msg:custom'] || []).forEach((f) => f(content, buffers.map(b64decode)));
    };
    return { model, handlers };
  };
  /** The widget's ES module, imported from its source text. */
  window.importWidget = (esm) => import(URL.createObjectURL(new Blob([esm], { type: 'text/javascript' })));
})();

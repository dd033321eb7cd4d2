() => {
  if (window.__bml) return true;
  const panelFor = (path) => {
    for (const w of window.jupyterapp.shell.widgets('main')) {
      if (w.context && w.context.path === path) return w;
    }
    return null;
  };
  const fnv = (bytes) => {
    let h = 0x811c9dc5;
    for (let i = 0; i < bytes.length; i++) { h ^= bytes[i]; h = Math.imul(h, 0x01000193) >>> 0; }
    return h.toString(16) + ':' + bytes.length;
  };
  window.__bml = {
    panelFor,
    async digestImg(img) {
      // The bytes behind an <img> (ipywidgets Image uses blob: URLs): a new URL alone
      // would not prove the picture changed.
      if (!img || !img.src) return 'no-image';
      const buf = await (await fetch(img.src)).arrayBuffer();
      return fnv(new Uint8Array(buf));
    },
    digestCanvas(canvas) {
      if (!canvas) return 'no-canvas';
      return fnv(new TextEncoder().encode(canvas.toDataURL()));
    },
    widgetOutputs(path) {
      // Widget outputs in the notebook *model*, and the top-level views on *screen*:
      // a view counts when its renderer holds a widget and no error text.
      const panel = panelFor(path);
      if (!panel) return null;
      let inModel = 0;
      for (const cell of panel.content.model.toJSON().cells) {
        for (const out of cell.outputs || []) if (out.data && out.data[__WIDGET_MIME__]) inModel++;
      }
      let onScreen = 0, errors = [];
      // ipywidgets' renderer is the output node itself: it holds the view as a child
      // with class jupyter-widgets, or (on failure) gets that class and error text.
      for (const node of panel.node.querySelectorAll('.jp-OutputArea-output')) {
        const text = node.textContent || '';
        if (node.classList.contains('jupyter-widgets') && text.startsWith('Error displaying widget')) {
          errors.push(text.slice(0, 200));
          continue;
        }
        const view = node.querySelector(':scope > .jupyter-widgets');
        if (view && view.getBoundingClientRect().height > 0) onScreen++;
      }
      return [inModel, onScreen, errors];
    },
    lastWidget(path) {
      const panel = panelFor(path);
      if (!panel) return null;
      const nodes = [...panel.node.querySelectorAll('.jp-OutputArea-output')]
        .filter((n) => n.querySelector(':scope > .jupyter-widgets'));
      return nodes.length ? nodes[nodes.length - 1] : null;
    },
  };
  return true;
}

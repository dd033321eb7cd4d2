// widgets/scatter.py's front end: points coloured by class, the results ringed in the
// theme's ink, the query ringed larger in red, a hover tooltip, and a click that reports
// the nearest point (within 10 px) as `clicked`. Styles: scatter.css.
const M = 12;  // margin around the points, in canvas pixels
const TRAITS = ["x", "y", "labels", "class_names", "palette", "query", "highlighted", "width", "height", "message"];

export default {
  render({ model, el }) {
    const canvas = document.createElement("canvas");
    canvas.className = "browserml-scatter-canvas";
    const legend = document.createElement("div");
    legend.className = "browserml-scatter-legend";
    legend.style.maxWidth = model.get("width") + "px";
    const ctx = canvas.getContext("2d");
    let screen = [];
    function project() {
      const xs = model.get("x"), ys = model.get("y"), w = model.get("width"), h = model.get("height");
      if (!xs.length) return [];
      const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
      const sx = (w - 2 * M) / ((x1 - x0) || 1), sy = (h - 2 * M) / ((y1 - y0) || 1);
      return xs.map((x, i) => [M + (x - x0) * sx, h - M - (ys[i] - y0) * sy]);
    }
    function color(i) {
      const labels = model.get("labels"), pal = model.get("palette");
      return labels.length && pal.length ? pal[labels[i] % pal.length] : "#1f77b4";
    }
    function ring(p, r, c, lw) {
      ctx.beginPath(); ctx.arc(p[0], p[1], r, 0, 2 * Math.PI);
      ctx.lineWidth = lw; ctx.strokeStyle = c; ctx.stroke();
    }
    function draw() {
      canvas.width = model.get("width"); canvas.height = model.get("height");
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      screen = project();
      ctx.globalAlpha = 0.75;
      screen.forEach((p, i) => {
        ctx.beginPath(); ctx.arc(p[0], p[1], 3.5, 0, 2 * Math.PI);
        ctx.fillStyle = color(i); ctx.fill();
      });
      ctx.globalAlpha = 1;
      const ink = themed(el, "--jp-ui-font-color0", "#000");
      model.get("highlighted").forEach((i) => { if (screen[i]) ring(screen[i], 6, ink, 1.5); });
      const q = model.get("query");
      if (screen[q]) { ring(screen[q], 9, "#d62728", 3); }
      if (!screen.length) {
        ctx.fillStyle = themed(el, "--jp-ui-font-color2", "#888"); ctx.font = "13px sans-serif";
        ctx.fillText(model.get("message"), M, canvas.height / 2);
      }
      const pal = model.get("palette");
      legend.replaceChildren(...model.get("class_names").map((name, c) => {
        const item = document.createElement("span"), swatch = document.createElement("span");
        swatch.className = "browserml-scatter-swatch";
        swatch.style.background = pal[c % pal.length];  // the class's colour: data, not style
        item.append(swatch, name);
        return item;
      }));
    }
    function nearest(ev) {
      const r = canvas.getBoundingClientRect();
      const px = (ev.clientX - r.left) * canvas.width / r.width, py = (ev.clientY - r.top) * canvas.height / r.height;
      let best = -1, bd = 100;  // 10 px squared
      screen.forEach((p, i) => { const d = (p[0] - px) ** 2 + (p[1] - py) ** 2; if (d < bd) { bd = d; best = i; } });
      return best;
    }
    function onClick(ev) {
      const i = nearest(ev);
      if (i < 0) return;
      model.set("clicked", -1); model.save_changes();  // so a second click on the same point reports again
      model.set("clicked", i); model.save_changes();
    }
    function onMove(ev) {
      const i = nearest(ev), tips = model.get("tooltips");
      canvas.title = i >= 0 ? (tips[i] || `#${i}`) : "";
    }
    canvas.addEventListener("click", onClick);
    canvas.addEventListener("mousemove", onMove);
    for (const name of TRAITS) model.on("change:" + name, draw);
    draw();
    el.append(canvas, legend);
    return () => {
      for (const name of TRAITS) model.off("change:" + name, draw);
      canvas.removeEventListener("click", onClick);
      canvas.removeEventListener("mousemove", onMove);
    };
  },
};

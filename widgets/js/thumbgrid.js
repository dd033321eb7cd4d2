// widgets/thumbgrid.py's front end: every tile drawn from one PNG sprite, borders for the
// highlighted tiles, captions under them, hover tooltips, and a click that reports the
// tile as `clicked`. Styles: thumbgrid.css.
const CAPTION_H = 14;  // px under each tile row when there are captions (ThumbGrid reads this line)
const TRAITS = ["tile", "columns", "gap", "count", "highlighted", "colors", "captions"];

export default {
  render({ model, el }) {
    const canvas = document.createElement("canvas");
    canvas.className = "browserml-thumbgrid-canvas";
    const ctx = canvas.getContext("2d");
    const sprite = new Image();
    function layout() {
      const t = model.get("tile"), cols = Math.max(1, model.get("columns")), n = model.get("count");
      const capH = model.get("captions").length ? CAPTION_H : 0, GAP = model.get("gap");
      return { t, cols, n, capH, GAP, rows: Math.ceil(n / cols) };
    }
    function origin(i, L) {
      return [L.GAP + (i % L.cols) * (L.t + L.GAP), L.GAP + Math.floor(i / L.cols) * (L.t + L.GAP + L.capH)];
    }
    function draw() {
      const L = layout();  // the same sizes as ThumbGrid.pixel_size() in Python
      canvas.width = L.cols * (L.t + L.GAP) + L.GAP;
      canvas.height = Math.max(1, L.rows * (L.t + L.GAP + L.capH) + L.GAP);
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      const colors = {}, given = model.get("colors");
      model.get("highlighted").forEach((i, j) => { colors[i] = given[j] || "#1f77b4"; });
      const caps = model.get("captions"), ink = themed(el, "--jp-ui-font-color1", "#333");  // light or dark theme
      ctx.font = "11px sans-serif"; ctx.textAlign = "center";
      for (let i = 0; i < L.n; i++) {
        const [x, y] = origin(i, L);
        if (sprite.complete && sprite.naturalWidth) {
          ctx.drawImage(sprite, (i % L.cols) * L.t, Math.floor(i / L.cols) * L.t, L.t, L.t, x, y, L.t, L.t);
        }
        if (colors[i]) {
          ctx.lineWidth = 4; ctx.strokeStyle = colors[i];
          ctx.strokeRect(x - 2, y - 2, L.t + 4, L.t + 4);
        }
        if (caps[i]) { ctx.fillStyle = ink; ctx.fillText(caps[i], x + L.t / 2, y + L.t + 12); }
      }
    }
    function tileAt(ev) {
      const L = layout(), r = canvas.getBoundingClientRect();
      const px = (ev.clientX - r.left) * canvas.width / r.width, py = (ev.clientY - r.top) * canvas.height / r.height;
      const col = Math.floor((px - L.GAP / 2) / (L.t + L.GAP));
      const row = Math.floor((py - L.GAP / 2) / (L.t + L.GAP + L.capH));
      const i = row * L.cols + col;
      return col >= 0 && col < L.cols && row >= 0 && i < L.n ? i : -1;
    }
    function onClick(ev) {
      const i = tileAt(ev);
      if (i < 0) return;
      model.set("clicked", -1); model.save_changes();  // so a second click on the same tile reports again
      model.set("clicked", i); model.save_changes();
    }
    function onMove(ev) {
      const i = tileAt(ev), tips = model.get("tooltips");
      canvas.title = i >= 0 && tips[i] ? tips[i] : "";
    }
    function load() { sprite.src = model.get("sprite"); draw(); }
    canvas.addEventListener("click", onClick);
    canvas.addEventListener("mousemove", onMove);
    sprite.addEventListener("load", draw);
    model.on("change:sprite", load);
    for (const name of TRAITS) model.on("change:" + name, draw);
    load();
    el.appendChild(canvas);
    return () => {
      model.off("change:sprite", load);
      for (const name of TRAITS) model.off("change:" + name, draw);
      canvas.removeEventListener("click", onClick);
      canvas.removeEventListener("mousemove", onMove);
      sprite.removeEventListener("load", draw);
    };
  },
};

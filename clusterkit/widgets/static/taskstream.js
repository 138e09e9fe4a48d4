// clusterkit live task stream: one lane per worker thread, one bar per task phase,
// coloured by task prefix. Rows arrive from the kernel as
//   {type: "events", rows: [[lane, prefix, start, stop, kind], ...], now}
// and are kept in a bounded store shared by every view of the model.

const PALETTE = [
  "#1f77b4", "#2ca02c", "#9467bd", "#17becf", "#bcbd22", "#8c564b", "#e377c2", "#7f7f7f",
  "#aec7e8", "#98df8a", "#c5b0d5", "#9edae5", "#dbdb8d", "#c49c94", "#f7b6d2", "#393b79",
  "#637939", "#8c6d31", "#843c39", "#7b4173",
];
// Same order as clusterkit.widgets.taskstream.KINDS.
const KIND_COLOUR = [null, "#d62728", "#ff7f0e", "#ffbb78", null, "#000000"];

// anywidget hands each view its own model facade, so the store lives with the view:
// a new view asks the kernel for a snapshot of everything it still holds.
function add(model, store, rows, now) {
  const max = model.get("max_events") || 5000;
  for (const row of rows) {
    store.rows.push(row);
    if (row[3] > store.lastStop) store.lastStop = row[3];
  }
  if (store.rows.length > max) store.rows.splice(0, store.rows.length - max);
  if (now) store.offset = Date.now() / 1000 - now;
}

function watchVisibility(model, el, onChange) {
  const view = Math.random().toString(36).slice(2);
  let visible = null;
  let onScreen = true;
  const report = () => {
    const now = onScreen && document.visibilityState !== "hidden";
    if (now !== visible) {
      visible = now;
      onChange(now);
      model.send({ type: "visibility", view, visible: now });
    }
  };
  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) onScreen = entry.isIntersecting;
    report();
  });
  observer.observe(el);
  document.addEventListener("visibilitychange", report);
  return () => {
    observer.disconnect();
    document.removeEventListener("visibilitychange", report);
    model.send({ type: "view-closed", view });
  };
}

function css(el, name, fallback) {
  const value = getComputedStyle(el).getPropertyValue(name).trim();
  return value || fallback;
}

function render({ model, el }) {
  const store = { rows: [], offset: 0, lastStop: 0 };
  el.classList.add("ck-taskstream");
  const header = document.createElement("div");
  header.className = "ck-ts-header";
  const canvas = document.createElement("canvas");
  canvas.className = "ck-ts-canvas";
  const legend = document.createElement("div");
  legend.className = "ck-ts-legend";
  const tip = document.createElement("div");
  tip.className = "ck-ts-tip";
  el.append(header, canvas, legend, tip);

  const GUTTER = 130;
  let laneHeight = 14;
  let drawn = []; // [x, y, w, h, row] of the last frame, for hover
  let visible = true;
  let timer = null;

  function colourOf(row) {
    const kind = row[4];
    return KIND_COLOUR[kind] || PALETTE[row[1] % PALETTE.length];
  }

  function draw() {
    const lanes = model.get("lanes");
    const prefixes = model.get("prefixes");
    const windowSeconds = model.get("window") || 10;
    const width = Math.max(el.clientWidth || 600, 300);
    laneHeight = lanes.length > 24 ? Math.max(3, Math.floor(360 / lanes.length)) : 14;
    const height = Math.max(lanes.length, 1) * laneHeight + 22;
    const dpr = window.devicePixelRatio || 1;
    if (canvas.width !== width * dpr || canvas.height !== height * dpr) {
      canvas.width = width * dpr;
      canvas.height = height * dpr;
      canvas.style.width = `${width}px`;
      canvas.style.height = `${height}px`;
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const background = css(el, "--jp-layout-color1", "#ffffff");
    const text = css(el, "--jp-ui-font-color2", "#555555");
    const grid = css(el, "--jp-border-color2", "#dddddd");
    ctx.fillStyle = background;
    ctx.fillRect(0, 0, width, height);
    ctx.font = `11px ${css(el, "--jp-ui-font-family", "sans-serif")}`;
    ctx.textBaseline = "middle";

    // Follow the present while work arrives; once the cluster has been idle for most
    // of a window, hold the last activity on screen instead of scrolling it away.
    const now = Date.now() / 1000 - store.offset;
    const right = store.lastStop && now - store.lastStop > 0.9 * windowSeconds
      ? store.lastStop + 0.1 * windowSeconds : now;
    const left = right - windowSeconds;
    const plotWidth = width - GUTTER - 8;
    const x = (t) => GUTTER + ((t - left) / windowSeconds) * plotWidth;

    // Lane labels and separators.
    for (let i = 0; i < lanes.length; i++) {
      const y = i * laneHeight;
      if (laneHeight >= 10) {
        ctx.fillStyle = text;
        ctx.fillText(lanes[i], 4, y + laneHeight / 2, GUTTER - 8);
      }
      ctx.fillStyle = grid;
      ctx.fillRect(GUTTER, y + laneHeight - 0.5, plotWidth, 0.5);
    }
    // Time axis: a tick per second (or per 10 s for long windows).
    const step = windowSeconds > 60 ? 10 : 1;
    ctx.fillStyle = text;
    const axisY = lanes.length * laneHeight + 11;
    for (let t = Math.ceil(left / step) * step; t <= right; t += step) {
      const px = x(t);
      ctx.fillStyle = grid;
      ctx.fillRect(px, 0, 0.5, lanes.length * laneHeight);
      const ago = Math.round(now - t);
      if (ago % (step * 2) === 0) {
        ctx.fillStyle = text;
        ctx.fillText(ago ? `-${ago}s` : "now", px - 8, axisY);
      }
    }

    drawn = [];
    const counts = new Map();
    for (const row of store.rows) {
      const [lane, prefix, start, stop] = row;
      if (stop < left || start > right) continue;
      const x0 = Math.max(x(start), GUTTER);
      const w = Math.max(x(stop) - x0, 1);
      const y0 = lane * laneHeight + 1;
      const h = laneHeight - 2;
      ctx.fillStyle = colourOf(row);
      ctx.globalAlpha = row[4] === 1 ? 0.5 : 1;
      ctx.fillRect(x0, y0, w, h);
      if (row[4] === 4 && h > 4) {
        ctx.strokeStyle = text;
        ctx.strokeRect(x0 + 0.5, y0 + 0.5, Math.max(w - 1, 0.5), h - 1);
      }
      drawn.push([x0, y0, w, h, row]);
      counts.set(prefix, (counts.get(prefix) || 0) + 1);
    }
    ctx.globalAlpha = 1;
    el.dataset.barsDrawn = String(drawn.length);
    el.dataset.events = String(store.rows.length);

    header.textContent = `${model.get("name")} · task stream · ${model.get("event_count")} events` +
      ` · ${lanes.length} lanes` + (model.get("dropped") ? ` · ${model.get("dropped")} dropped` : "") +
      (model.get("state") === "closed" ? " · closed" : "");
    const top = [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12);
    legend.replaceChildren(...top.map(([prefix, n]) => {
      const item = document.createElement("span");
      item.className = "ck-ts-item";
      const swatch = document.createElement("i");
      swatch.style.background = PALETTE[prefix % PALETTE.length];
      item.append(swatch, `${prefixes[prefix] ?? "?"} (${n})`);
      return item;
    }));
  }

  function onMove(event) {
    const rect = canvas.getBoundingClientRect();
    const px = event.clientX - rect.left;
    const py = event.clientY - rect.top;
    const hit = drawn.find(([x0, y0, w, h]) => px >= x0 && px <= x0 + w && py >= y0 && py <= y0 + h);
    if (!hit) {
      tip.style.display = "none";
      return;
    }
    const row = hit[4];
    const ms = ((row[3] - row[2]) * 1000).toFixed(1);
    tip.textContent = `${model.get("prefixes")[row[1]]} · ${model.get("kinds")[row[4]]} · ${ms} ms · ` +
      `${model.get("lanes")[row[0]]}`;
    tip.style.display = "block";
    tip.style.left = `${px + 12}px`;
    tip.style.top = `${py + 12}px`;
  }
  canvas.addEventListener("mousemove", onMove);
  canvas.addEventListener("mouseleave", () => { tip.style.display = "none"; });

  const schedule = () => {
    clearInterval(timer);
    timer = visible ? setInterval(draw, 200) : null;
  };
  const redraw = () => { if (visible) draw(); };
  const onMessage = (msg) => {
    if (!msg || typeof msg !== "object") return;
    if (msg.type === "snapshot") {
      store.rows = [];
      store.lastStop = 0;
    } else if (msg.type !== "events") {
      return;
    }
    add(model, store, msg.rows || [], msg.now);
    redraw();
  };
  model.on("msg:custom", onMessage);
  model.send({ type: "snapshot" });
  draw();
  schedule();
  const stopWatching = watchVisibility(model, el, (now) => { visible = now; schedule(); });
  const onChange = () => redraw();
  model.on("change", onChange);
  return () => {
    clearInterval(timer);
    model.off("msg:custom", onMessage);
    model.off("change", onChange);
    stopWatching();
  };
}

export default { render };

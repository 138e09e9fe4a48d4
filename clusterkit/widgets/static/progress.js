// clusterkit progress bar: items done per function, rate and time left.
function seconds(s) {
  if (s === null || s === undefined) return "?";
  s = Math.round(s);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

function bar(done, total, erred) {
  const outer = document.createElement("div");
  outer.className = "ck-progress-bar";
  const fill = document.createElement("div");
  fill.className = "ck-progress-fill" + (erred ? " ck-erred" : "");
  const frac = total ? Math.min(done / total, 1) : 0;
  fill.style.width = total ? `${(frac * 100).toFixed(1)}%` : "100%";
  if (!total) fill.classList.add("ck-indeterminate");
  outer.append(fill);
  return outer;
}

function render({ model, el }) {
  el.classList.add("ck-progress");
  const draw = () => {
    const groups = model.get("groups");
    const total = model.get("total");
    const done = model.get("done");
    const finished = model.get("finished");
    const rows = [];
    const many = groups.length > 1;
    const list = many ? [{ name: model.get("label") || "total", done, total, erred: model.get("erred") }, ...groups]
      : groups;
    for (const g of list) {
      const row = document.createElement("div");
      row.className = "ck-progress-row";
      const name = document.createElement("span");
      name.className = "ck-progress-name";
      name.textContent = g.name || model.get("label") || "items";
      const count = document.createElement("span");
      count.className = "ck-progress-count";
      count.textContent = g.total !== null && g.total !== undefined ? `${g.done} / ${g.total}` : `${g.done}`;
      if (g.erred) count.textContent += ` (${g.erred} failed)`;
      row.append(name, bar(g.done, g.total, g.erred), count);
      rows.push(row);
    }
    const info = document.createElement("div");
    info.className = "ck-progress-info";
    const rate = model.get("rate");
    info.textContent = finished
      ? `done in ${seconds(model.get("elapsed"))} · ${rate.toFixed(1)} items/s`
      : `${rate.toFixed(1)} items/s · ETA ${seconds(model.get("eta"))} · ${seconds(model.get("elapsed"))} elapsed`;
    el.replaceChildren(...rows, info);
    el.dataset.done = String(done);
  };
  draw();
  model.on("change", draw);
  return () => model.off("change", draw);
}
export default { render };

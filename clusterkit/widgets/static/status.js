// clusterkit status widget: workers, threads, memory, tasks, and a scale control.
// The kernel polls the scheduler while a view is visible; this module reports visibility.

function watchVisibility(model, el) {
  const view = Math.random().toString(36).slice(2);
  let visible = null;
  const report = (now) => {
    now = now && document.visibilityState !== "hidden";
    if (now !== visible) {
      visible = now;
      model.send({ type: "visibility", view, visible: now });
    }
  };
  let onScreen = true;
  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) onScreen = entry.isIntersecting;
    report(onScreen);
  });
  observer.observe(el);
  const onPage = () => report(onScreen);
  document.addEventListener("visibilitychange", onPage);
  return () => {
    observer.disconnect();
    document.removeEventListener("visibilitychange", onPage);
    model.send({ type: "view-closed", view });
  };
}

function bytes(n) {
  if (!n) return "0 B";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(n < 10 && i ? 1 : 0)} ${units[i]}`;
}

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function meter(used, limit) {
  const frac = limit ? Math.min(used / limit, 1) : 0;
  const level = frac > 0.85 ? "high" : frac > 0.6 ? "mid" : "low";
  const bar = h("div", { class: "ck-meter", title: `${bytes(used)} of ${bytes(limit)}` },
    h("div", { class: `ck-meter-fill ck-${level}`, style: `width:${(frac * 100).toFixed(1)}%` }));
  return h("div", { class: "ck-meter-cell" }, bar, h("span", { class: "ck-meter-text" },
    `${bytes(used)} / ${limit ? bytes(limit) : "∞"}`));
}

function render({ model, el }) {
  el.classList.add("ck-status");
  const root = h("div", { class: "ck-status-root" });
  el.append(root);

  const nInput = h("input", { type: "number", min: "0", class: "ck-input", "aria-label": "workers" });
  const minInput = h("input", { type: "number", min: "0", class: "ck-input", "aria-label": "adapt minimum" });
  const maxInput = h("input", { type: "number", min: "0", class: "ck-input", "aria-label": "adapt maximum" });
  const scaleButton = h("button", { class: "ck-button", onclick: () => {
    model.send({ type: "scale", n: Number(nInput.value) });
  } }, "Scale");
  const adaptButton = h("button", { class: "ck-button", onclick: () => {
    model.send({ type: "adapt", minimum: Number(minInput.value), maximum: Number(maxInput.value) });
  } }, "Adapt");
  const controls = h("div", { class: "ck-controls" },
    h("label", {}, "Workers ", nInput), scaleButton,
    h("span", { class: "ck-sep" }),
    h("label", {}, "Adapt ", minInput), h("span", {}, "–"), maxInput, adaptButton);

  const header = h("div", { class: "ck-header" });
  const summary = h("div", { class: "ck-summary" });
  const table = h("table", { class: "ck-table" });
  const error = h("div", { class: "ck-error" });
  root.append(header, summary, controls, error, table);
  let inputsPrimed = false;

  function draw() {
    const state = model.get("state");
    header.replaceChildren(
      h("span", { class: `ck-dot ck-${state}`, title: state }),
      h("strong", {}, model.get("name")),
      h("span", { class: "ck-muted" }, ` ${model.get("address")}`),
    );
    const url = model.get("dashboard_url");
    if (url) header.append(h("a", { href: url, target: "_blank", rel: "noopener", class: "ck-link" }, "Dashboard ↗"));

    const adaptive = model.get("adaptive");
    const target = model.get("target");
    const queued = model.get("queued");
    const parts = [
      h("span", { class: "ck-figure", "data-field": "n_workers" }, String(model.get("n_workers"))), " workers",
    ];
    if (target !== null && target !== undefined) parts.push(h("span", { class: "ck-muted" }, ` (scaling to ${target})`));
    if (adaptive.length) parts.push(h("span", { class: "ck-muted" }, ` (adaptive ${adaptive[0]}–${adaptive[1]})`));
    parts.push(" · ", h("span", { class: "ck-figure" }, String(model.get("threads"))), " threads · ",
      h("span", { class: "ck-figure" }, String(model.get("processing"))), " processing");
    if (queued >= 0) parts.push(" · ", h("span", { class: "ck-figure" }, String(queued)), " queued");
    summary.replaceChildren(h("div", {}, ...parts), meter(model.get("memory"), model.get("memory_limit")));

    const rows = model.get("workers").map((w) => h("tr", { "data-worker": w.address },
      h("td", { title: w.address }, w.name),
      h("td", { class: "ck-num" }, String(w.threads)),
      h("td", {}, meter(w.memory, w.memory_limit)),
      h("td", { class: "ck-num" }, String(w.processing)),
      h("td", { class: "ck-num" }, `${Math.round(w.cpu)}%`),
    ));
    table.replaceChildren(
      h("thead", {}, h("tr", {}, h("th", {}, "Worker"), h("th", {}, "Threads"), h("th", {}, "Memory"),
        h("th", {}, "Processing"), h("th", {}, "CPU"))),
      h("tbody", {}, ...rows));

    error.textContent = model.get("error");
    const owned = model.get("owned");
    controls.title = owned ? "" : "Requests go to the cluster's owner";
    if (!inputsPrimed) {
      nInput.value = String(model.get("n_workers"));
      minInput.value = String(adaptive.length ? adaptive[0] : 0);
      maxInput.value = String(adaptive.length ? adaptive[1] : Math.max(model.get("n_workers"), 1) * 2);
      inputsPrimed = true;
    }
    for (const input of [nInput, minInput, maxInput]) input.max = String(model.get("max_workers"));
    root.classList.toggle("ck-closed", state === "closed");
  }

  draw();
  model.on("change", draw);
  const stopWatching = watchVisibility(model, el);
  return () => {
    model.off("change", draw);
    stopWatching();
  };
}

export default { render };

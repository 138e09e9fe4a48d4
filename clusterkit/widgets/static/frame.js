// One of Dask's dashboard plots in an iframe, served through the Jupyter server.
function render({ model, el }) {
  el.classList.add("ck-frame");
  const bar = document.createElement("div");
  bar.className = "ck-frame-bar";
  const title = document.createElement("span");
  const link = document.createElement("a");
  link.target = "_blank";
  link.rel = "noopener";
  link.textContent = "Open in new tab ↗";
  bar.append(title, link);
  const frame = document.createElement("iframe");
  frame.className = "ck-frame-iframe";
  // Dask's page runs in an opaque origin: scripts (Bokeh), popups (its tap
  // tools open info pages) and downloads (the save tool), never Jupyter's
  // origin. The proxy's CSP says the same ("sandbox ..."); see the README.
  frame.setAttribute("sandbox", "allow-scripts allow-popups allow-downloads");
  frame.referrerPolicy = "no-referrer";
  frame.addEventListener("load", () => { el.dataset.loaded = "true"; });
  el.append(bar, frame);
  const update = () => {
    title.textContent = model.get("title");
    link.href = model.get("url");
    frame.style.height = `${model.get("height")}px`;
    if (frame.getAttribute("src") !== model.get("url")) {
      el.dataset.loaded = "false";
      frame.src = model.get("url");
    }
  };
  update();
  model.on("change", update);
  return () => model.off("change", update);
}
export default { render };

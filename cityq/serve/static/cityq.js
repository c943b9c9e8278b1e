// cityq serve: sortable tables, charts, the query forms and the threshold slider. No framework.
"use strict";
window.cityqErrors = [];
(function () {
  const show = (msg) => {
    window.cityqErrors.push(msg);
    const box = document.getElementById("errors");
    if (box) { box.hidden = false; box.textContent += msg + "\n"; }
  };
  window.addEventListener("error", (e) => show("error: " + e.message));
  window.addEventListener("unhandledrejection", (e) => show("error: " + e.reason));

  // Tables: a click on a header sorts by that column (numbers as numbers, by full precision).
  for (const table of document.querySelectorAll("table.sortable")) {
    table.querySelectorAll("thead th").forEach((th, col) => th.addEventListener("click", () => {
      const body = table.tBodies[0];
      const rows = Array.from(body.rows);
      const values = rows.map((r) => r.cells[col].dataset.value ?? r.cells[col].textContent);
      const numeric = values.every((v) => v === "" || !isNaN(Number(v)));
      const asc = !th.classList.contains("asc");
      table.querySelectorAll("th").forEach((h) => h.classList.remove("asc", "desc"));
      th.classList.add(asc ? "asc" : "desc");
      const key = (v) => (numeric ? (v === "" ? -Infinity : Number(v)) : v);
      const order = rows.map((r, i) => [key(values[i]), r]);
      order.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0) * (asc ? 1 : -1));
      order.forEach(([, r]) => body.appendChild(r));
    }));
  }

  // Charts: the spec sits in the page as JSON; the Vega bundle comes from this server.
  for (const node of document.querySelectorAll("script.vega-spec")) {
    if (typeof vegaEmbed !== "function") { show("error: the Vega bundle did not load"); break; }
    vegaEmbed("#" + node.dataset.target, JSON.parse(node.textContent), { mode: "vega-lite" })
      .catch((e) => show("chart error: " + e));
  }

  // Query forms: leave empty fields out of the URL, so it holds only what was set.
  for (const form of document.querySelectorAll("form.params, form.controls")) {
    form.addEventListener("submit", () => {
      for (const input of form.querySelectorAll("input, select")) if (input.value.trim() === "") input.disabled = true;
    });
  }
  const sql = document.getElementById("sql");
  if (sql) sql.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); sql.form.submit(); }
  });

  // The threshold slider: tiles are redrawn by the server at the new threshold (cached there);
  // a filter that depends on the threshold (an object inside the explanation) reloads the page.
  const slider = document.getElementById("threshold-slider");
  if (slider) {
    const grid = slider.dataset.grid.split(",");
    const hidden = document.getElementById("threshold");
    const label = document.getElementById("threshold-value");
    const layer = document.getElementById("layer");
    const redraw = () => {
      const t = grid[Number(slider.value)];
      const shown = String(Number(t));
      hidden.value = shown; label.textContent = shown;
      document.querySelectorAll(".count .t").forEach((n) => { n.textContent = shown; });
      for (const img of document.querySelectorAll("img.tile[data-base]")) {
        img.src = img.dataset.base + "?t=" + encodeURIComponent(shown) + "&layer=" + encodeURIComponent(layer.value);
      }
      const url = new URL(window.location.href);
      url.searchParams.set("threshold", shown);
      window.history.replaceState(null, "", url);
    };
    slider.addEventListener("input", redraw);
    slider.addEventListener("change", () => { if (slider.dataset.refilter === "1") slider.form.submit(); });
    layer.addEventListener("change", () => slider.form.submit());
  }
})();

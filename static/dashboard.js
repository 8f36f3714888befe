// The accountability dashboard: reads /api/kpi (operators, municipalities, weeks) for the period
// and the municipality in scope, draws tables and Chart.js charts, drills down on a click.
(function () {
  "use strict";
  const cfg = window.KPI_DASHBOARD;
  const s = cfg.strings;
  const state = { period: cfg.period, municipality: cfg.municipality, trail: [] };
  const charts = {};
  const $ = (sel) => document.querySelector(sel);

  function fmt(v, digits) {
    if (v === null || v === undefined) return "—";
    if (typeof v === "number") return v.toLocaleString(cfg.lang === "en" ? "en-GB" : "ru-RU", { maximumFractionDigits: digits ?? 1 });
    return String(v);
  }
  function pct(v) { return v === null || v === undefined ? "—" : fmt(v * 100, 0) + " %"; }

  function query(group) {
    const p = new URLSearchParams({ group });
    if (state.period) p.set("period", state.period);
    if (state.municipality) p.set("municipality", state.municipality);
    return cfg.kpi + "?" + p.toString();
  }

  async function getJSON(url) {
    const r = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    const body = await r.json();
    if (!r.ok) throw new Error(body.message || r.status);
    return body;
  }

  function cell(tr, content, cls) {
    const td = document.createElement("td");
    if (content instanceof Node) td.appendChild(content); else td.textContent = content;
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }

  function link(text, onClick, title) {
    const a = document.createElement("a");
    a.href = "#";
    a.textContent = text;
    if (title) a.title = title;
    a.addEventListener("click", (e) => { e.preventDefault(); onClick(); });
    return a;
  }

  function draw(id, config) {
    if (charts[id]) charts[id].destroy();
    config.options = Object.assign({ animation: false, responsive: true, maintainAspectRatio: false }, config.options || {});
    charts[id] = new Chart(document.getElementById(id), config);
  }

  function ranked(rows) {
    const key = (r) => (r.resolve_median_min === null ? Infinity : r.resolve_median_min);
    return rows.slice().sort((a, b) => key(a) - key(b) || (b.share_resolved_within_limit ?? -1) - (a.share_resolved_within_limit ?? -1));
  }

  function renderOperators(report) {
    const body = $("#operators tbody");
    body.replaceChildren();
    const rows = ranked(report.rows);
    for (const r of rows) {
      const tr = document.createElement("tr");
      tr.dataset.key = r.key;
      cell(tr, link(r.name, () => showIncidents(r.links.received, r.name), s.incidents));
      cell(tr, link(fmt(r.received, 0), () => showIncidents(r.links.received, r.name)), "num");
      cell(tr, fmt(r.accept_median_min), "num");
      cell(tr, fmt(r.resolve_median_min), "num");
      cell(tr, fmt(r.resolve_p90_min), "num");
      cell(tr, pct(r.share_accepted_within_limit), "num");
      cell(tr, pct(r.share_resolved_within_limit), "num");
      cell(tr, r.overdue_now ? link(fmt(r.overdue_now, 0), () => showIncidents(r.links.overdue_now, r.name)) : "0", "num");
      cell(tr, fmt(r.reopened, 0), "num");
      cell(tr, fmt(r.duplicates_merged, 0), "num");
      cell(tr, fmt(r.consumer_hours, 0), "num");
      cell(tr, fmt(r.rating_avg), "num");
      body.appendChild(tr);
    }
    const t = report.total;
    const tr = document.createElement("tr");
    tr.className = "total";
    for (const v of [s.total, fmt(t.received, 0), fmt(t.accept_median_min), fmt(t.resolve_median_min), fmt(t.resolve_p90_min),
      pct(t.share_accepted_within_limit), pct(t.share_resolved_within_limit), fmt(t.overdue_now, 0), fmt(t.reopened, 0),
      fmt(t.duplicates_merged, 0), fmt(t.consumer_hours, 0), fmt(t.rating_avg)]) cell(tr, v);
    body.appendChild(tr);
    if (!rows.length) { const e = document.createElement("tr"); cell(e, s.no_data).colSpan = 12; body.prepend(e); }
    const top = rows.slice(0, 15);
    draw("operators-chart", {
      type: "bar",
      data: {
        labels: top.map((r) => r.name),
        datasets: [
          { label: s.resolve_median, data: top.map((r) => r.resolve_median_min), backgroundColor: "#1f78b4", yAxisID: "y" },
          { label: s.share_resolve + ", %", data: top.map((r) => r.share_resolved_within_limit === null ? null : r.share_resolved_within_limit * 100), backgroundColor: "#33a02c", yAxisID: "y1" },
        ],
      },
      options: { scales: { y: { position: "left", beginAtZero: true }, y1: { position: "right", min: 0, max: 100, grid: { drawOnChartArea: false } } } },
    });
  }

  function renderTrend(report) {
    const rows = report.rows;
    draw("trend-chart", {
      type: "line",
      data: {
        labels: rows.map((r) => r.key),
        datasets: [
          { label: s.received, data: rows.map((r) => r.received), borderColor: "#1f78b4", backgroundColor: "#1f78b4" },
          { label: s.share_resolve, data: rows.map((r) => r.resolved_within_limit), borderColor: "#33a02c", backgroundColor: "#33a02c" },
          { label: s.overdue, data: rows.map((r) => r.overdue_now), borderColor: "#e31a1c", backgroundColor: "#e31a1c" },
        ],
      },
      options: { scales: { y: { beginAtZero: true } } },
    });
  }

  // The municipalities in scope on a map (no base map: a closed network), coloured by incidents
  // per 100 km², with the overdue count in the tooltip; a click drills down like the table.
  let map = null, outlines = null, shapes = null;
  async function renderMap(report) {
    if (!window.L) return;
    if (!shapes) shapes = await getJSON(cfg.municipalities);
    if (!map) map = L.map("muni-map", { attributionControl: false, zoomSnap: 0.25 });
    if (outlines) outlines.remove();
    const rows = new Map(report.rows.map((r) => [String(r.key), r]));
    const top = Math.max(1e-9, ...report.rows.map((r) => r.received_per_100km2 || 0));
    const shown = shapes.features.filter((f) => rows.has(String(f.id)));
    outlines = L.geoJSON({ type: "FeatureCollection", features: shown }, {
      style: (f) => {
        const r = rows.get(String(f.id));
        const share = (r.received_per_100km2 || 0) / top;
        return { color: r.overdue_now ? "#b10026" : "#555", weight: r.overdue_now ? 3 : 1,
          fillColor: `rgba(255, 127, 0, ${0.15 + 0.7 * share})`, fillOpacity: 1 };
      },
      onEachFeature: (f, layer) => {
        const r = rows.get(String(f.id));
        layer.bindTooltip(`${r.name}: ${fmt(r.received_per_100km2, 2)} / 100 км² · ${s.overdue}: ${fmt(r.overdue_now, 0)}`);
        if (String(r.key) !== String(state.municipality)) layer.on("click", () => drill(r.key, r.name));
      },
    }).addTo(map);
    if (shown.length) map.fitBounds(outlines.getBounds(), { padding: [8, 8] });
    document.getElementById("muni-map").dataset.shapes = String(shown.length);
  }

  function renderMunicipalities(report) {
    const body = $("#municipalities tbody");
    body.replaceChildren();
    for (const r of report.rows) {
      const tr = document.createElement("tr");
      tr.dataset.key = r.key;
      const drillable = String(r.key) !== String(state.municipality);
      cell(tr, drillable ? link(r.name, () => drill(r.key, r.name)) : r.name);
      cell(tr, fmt(r.received, 0), "num");
      cell(tr, r.overdue_now ? link(fmt(r.overdue_now, 0), () => showIncidents(r.links.overdue_now, r.name)) : "0", "num");
      cell(tr, fmt(r.received_per_100km2, 2), "num");
      cell(tr, pct(r.share_resolved_within_limit), "num");
      body.appendChild(tr);
    }
    draw("municipalities-chart", {
      type: "bar",
      data: {
        labels: report.rows.map((r) => r.name),
        datasets: [
          { label: s.overdue, data: report.rows.map((r) => r.overdue_now), backgroundColor: "#e31a1c" },
          { label: s.density, data: report.rows.map((r) => r.received_per_100km2), backgroundColor: "#ff7f00" },
        ],
      },
      options: { indexAxis: "y" },
    });
  }

  async function showIncidents(url, title) {
    const data = await getJSON(url);
    $("#incidents-title").textContent = `${title} — ${data.numberMatched}`;
    const body = $("#incidents tbody");
    body.replaceChildren();
    for (const i of data.incidents) {
      const tr = document.createElement("tr");
      const a = document.createElement("a");
      a.href = i.url;
      a.textContent = i.id;
      cell(tr, a);
      cell(tr, i.status);
      cell(tr, new Date(i.received_at).toLocaleString(cfg.lang === "en" ? "en-GB" : "ru-RU"));
      cell(tr, fmt(i.accept_min), "num");
      cell(tr, fmt(i.resolve_min), "num");
      cell(tr, `${fmt(i.accept_limit_min, 0)} / ${fmt(i.resolve_limit_min, 0)}`, "num");
      body.appendChild(tr);
    }
    $("#incidents-section").hidden = false;
    $("#incidents-section").scrollIntoView({ block: "nearest" });
  }

  function renderCrumbs() {
    const nav = $("#crumbs");
    nav.replaceChildren(link(s.all, () => { state.trail = []; state.municipality = ""; load(); }));
    state.trail.forEach((step, n) => {
      nav.append(" › ");
      nav.append(n === state.trail.length - 1 ? step.name : link(step.name, () => {
        state.trail = state.trail.slice(0, n + 1); state.municipality = step.id; load();
      }));
    });
  }

  function drill(id, name) {
    state.trail.push({ id, name });
    state.municipality = id;
    load();
  }

  async function load() {
    document.body.dataset.ready = "0";
    $("#incidents-section").hidden = true;
    const [ops, munis, weeks] = await Promise.all(["operator", "municipality", "week"].map((g) => getJSON(query(g))));
    $("#period-label").textContent = ops.period.value;
    $("#period").value = ops.period.value;
    renderCrumbs();
    renderOperators(ops);
    renderMunicipalities(munis);
    renderTrend(weeks);
    await renderMap(munis);
    const url = new URL(location.href);
    url.searchParams.set("period", ops.period.value);
    if (state.municipality) url.searchParams.set("municipality", state.municipality); else url.searchParams.delete("municipality");
    history.replaceState(null, "", url);
    document.body.dataset.ready = "1";
  }

  $("#controls").addEventListener("submit", (e) => { e.preventDefault(); state.period = $("#period").value.trim(); load(); });
  $("#print").addEventListener("click", () => window.print());
  if (state.municipality) state.trail = [{ id: state.municipality, name: "№" + state.municipality }];
  load().catch((err) => { document.body.dataset.ready = "error"; $("#period-label").textContent = err.message; });
})();

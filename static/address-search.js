/* Address search box of the map (Russian first): type "Чехова 5", pick a candidate, the map
   jumps there and — for a dispatcher — the report form opens at the address with the responsible
   operator shown at once (GisWorkbench.openReportAt, the workbench's documented entry point).
   Attached by GisMap.start() when this script is on the page; config: cfg.addresses. */
(function () {
  "use strict";
  var T = {
    ru: { placeholder: "Найти адрес: Чехова 5", none: "Адрес не найден", unsure: "Уточните адрес:",
          failed: "Ошибка поиска: ", search: "Поиск адреса" },
    en: { placeholder: "Find an address: Chekhova 5", none: "No address found", unsure: "Which one?",
          failed: "Search failed: ", search: "Address search" }
  };

  function AddressSearch(gis, cfg) {
    this.gis = gis; this.map = gis.map; this.cfg = cfg;
    this.t = T[gis.cfg.lang] || T.ru;
    this.timer = null; this.ctrl = null;
    this.marker = L.layerGroup().addTo(this.map);
  }

  AddressSearch.prototype.build = function () {
    var self = this, t = this.t;
    var Box = L.Control.extend({
      options: { position: "topleft" },
      onAdd: function () {
        var box = L.DomUtil.create("div", "gis-address-search leaflet-bar");
        var input = L.DomUtil.create("input", "gis-address-input", box);
        input.type = "search"; input.placeholder = t.placeholder; input.maxLength = 200;
        input.setAttribute("aria-label", t.search); input.autocomplete = "off";
        var list = L.DomUtil.create("ol", "gis-address-results", box);
        list.setAttribute("role", "listbox");
        L.DomEvent.disableClickPropagation(box);
        L.DomEvent.disableScrollPropagation(box);
        self.input = input; self.list = list;
        return box;
      }
    });
    new Box().addTo(this.map);
    this.input.addEventListener("input", function () {
      clearTimeout(self.timer);
      self.timer = setTimeout(function () { self.find(false); }, 250);
    });
    this.input.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter") { ev.preventDefault(); clearTimeout(self.timer); self.find(true); }
      if (ev.key === "Escape") { self.list.textContent = ""; }
      if (ev.key === "ArrowDown") { ev.preventDefault(); self.focusItem(0); }
    });
  };

  // Ask the server for candidates near the map's centre; `pick` takes a confident first answer.
  AddressSearch.prototype.find = function (pick) {
    var self = this, q = this.input.value.trim();
    if (!q) { this.list.textContent = ""; return Promise.resolve(); }
    if (this.ctrl) this.ctrl.abort();
    this.ctrl = new AbortController();
    var c = this.map.getCenter();
    var url = this.cfg.search + "?limit=8&q=" + encodeURIComponent(q) +
      "&near=" + c.lng.toFixed(5) + "," + c.lat.toFixed(5);
    return fetch(url, { credentials: "same-origin", signal: this.ctrl.signal })
      .then(function (r) { return r.json().then(function (body) { if (!r.ok) throw new Error(body.message); return body; }); })
      .then(function (fc) {
        self.show(fc);
        if (pick && fc.features.length && (fc.confident || fc.features.length === 1)) self.go(fc.features[0]);
      })
      .catch(function (err) { if (err.name !== "AbortError") self.note(self.t.failed + err.message); });
  };

  AddressSearch.prototype.note = function (text) {
    this.list.textContent = "";
    var li = L.DomUtil.create("li", "gis-address-note", this.list);
    li.textContent = text;
  };

  AddressSearch.prototype.show = function (fc) {
    var self = this;
    this.list.textContent = "";
    if (!fc.features.length) { this.note(this.t.none); return; }
    if (!fc.confident) L.DomUtil.create("li", "gis-address-note", this.list).textContent = this.t.unsure;
    fc.features.forEach(function (f) {
      var li = L.DomUtil.create("li", "gis-address-item", self.list);
      li.setAttribute("role", "option"); li.tabIndex = 0;
      li.textContent = f.properties.label;
      li.title = f.properties.municipality_name || "";
      li.dataset.score = f.properties.score;
      li.addEventListener("click", function () { self.go(f); });
      li.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter") self.go(f);
        if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
          ev.preventDefault();
          var items = Array.prototype.slice.call(self.list.querySelectorAll(".gis-address-item"));
          var at = items.indexOf(li) + (ev.key === "ArrowDown" ? 1 : -1);
          if (at < 0) self.input.focus(); else self.focusItem(at);
        }
      });
    });
  };

  AddressSearch.prototype.focusItem = function (i) {
    var items = this.list.querySelectorAll(".gis-address-item");
    if (items.length) items[Math.min(i, items.length - 1)].focus();
  };

  // Jump to a candidate; a house opens the report form there (dispatchers), a street fits its extent.
  AddressSearch.prototype.go = function (f) {
    var self = this;
    this.list.textContent = "";
    this.input.value = f.properties.label;
    this.marker.clearLayers();
    var shape = L.geoJSON(f);
    if (f.properties.kind === "street") {
      this.map.fitBounds(shape.getBounds(), { maxZoom: 17 });
      shape.setStyle({ color: "#d81b60", weight: 6, opacity: 0.6 }).addTo(this.marker);
      return;
    }
    var c = f.geometry.coordinates, latlng = L.latLng(c[1], c[0]);
    // The house a little below the centre: the report form opens above it, under the header.
    var centre = this.map.unproject(this.map.project(latlng, 18).subtract([0, 160]), 18);
    this.map.setView(centre, 18, { animate: false });
    document.body.dataset.addressFound = f.properties.label;
    // The workbench's documented entry point (docs/workbench.md); it answers null when this user
    // may not report.
    var opened = window.GisWorkbench && window.GisWorkbench.openReportAt(latlng.lng, latlng.lat,
      { address: f.properties.label });
    if (!opened) {
      L.marker(latlng, { title: f.properties.label }).addTo(this.marker)
        .bindPopup(f.properties.label).openPopup();
    }
  };

  window.GisAddressSearch = {
    attach: function (gis) {
      if (!gis.cfg.addresses) return null;
      var s = new AddressSearch(gis, gis.cfg.addresses);
      s.build();
      window.gisAddressSearch = s;
      return s;
    }
  };
})();

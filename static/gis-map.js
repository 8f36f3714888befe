/* The map's behaviour: load each layer from the API for the current view, incidents live,
   municipalities as the frame. No framework, no CDN: only Leaflet, served by the service. */
(function () {
  "use strict";

  var T = {
    ru: {
      loading: "Загрузка…", zoomIn: "Приблизьте карту, чтобы увидеть сети", failed: "Ошибка загрузки: ",
      features: "объектов", more: "показаны первые", operator: "Оператор", externalId: "Код объекта",
      status: "Статус", reported: "Поступил", reason: "Причина выбора", distance: "Расстояние, м",
      statuses: { new: "Новый", assigned: "Назначен", accepted: "Принят", in_progress: "В работе",
        resolved: "Устранён", closed: "Закрыт", rejected: "Отклонён", duplicate: "Дубликат" },
      kinds: { accident: "Авария", incident: "Инцидент", planned_outage: "Плановое отключение" },
      yes: "да", no: "нет"
    },
    en: {
      loading: "Loading…", zoomIn: "Zoom in to see the networks", failed: "Failed to load: ",
      features: "features", more: "showing the first", operator: "Operator", externalId: "Asset id",
      status: "Status", reported: "Reported", reason: "Why this operator", distance: "Distance, m",
      statuses: { new: "New", assigned: "Assigned", accepted: "Accepted", in_progress: "In progress",
        resolved: "Resolved", closed: "Closed", rejected: "Rejected", duplicate: "Duplicate" },
      kinds: { accident: "Accident", incident: "Incident", planned_outage: "Planned outage" },
      yes: "yes", no: "no"
    }
  };
  var MAX_PAGES = 4;

  // The municipality picker of the header opens the chosen map (no inline handler: the CSP).
  document.addEventListener("change", function (event) {
    var select = event.target;
    if (select && select.classList && select.classList.contains("gis-muni") && select.value) {
      location.href = select.value;
    }
  });

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  /* A popup as a DOM node: every value goes in as text, never as HTML. */
  function table(title, rows) {
    var box = el("div", "gis-popup");
    box.appendChild(el("h3", null, title));
    var tbl = el("table");
    rows.forEach(function (r) {
      if (r[1] === null || r[1] === undefined || r[1] === "") return;
      var tr = el("tr");
      tr.appendChild(el("th", null, r[0]));
      tr.appendChild(el("td", null, r[1]));
      tbl.appendChild(tr);
    });
    box.appendChild(tbl);
    return box;
  }

  function styleFor(layer, props) {
    var s = layer.style || {};
    var color = s.color || "#333";
    if (s.by && props && props[s.by.property] !== undefined) {
      var key = String(props[s.by.property]);
      if (typeof props[s.by.property] === "number" && key.indexOf(".") < 0) key += ".0";
      color = s.by.values[key] || s.by.values[String(props[s.by.property])] || color;
    }
    return { color: color, weight: s.weight || 2, opacity: s.opacity || 0.9, dashArray: s.dash_array || null,
      radius: s.radius || 5, fillColor: s.fill_color || color, fillOpacity: s.fill_opacity || 0.8 };
  }

  function GisMap(cfg) {
    this.cfg = cfg;
    this.t = T[cfg.lang] || T.ru;
    this.map = window[cfg.map];
    this.status = document.getElementById("gis-status");
    this.pending = {};
    this.counts = {};
  }

  GisMap.prototype.say = function (text) { if (this.status) this.status.textContent = text; };

  GisMap.prototype.fetchJson = function (url, signal) {
    return fetch(url, { signal: signal, headers: { Accept: "application/geo+json, application/json" } })
      .then(function (r) {
        if (!r.ok) return r.json().then(function (e) { throw new Error(e.message || r.status); });
        return r.json();
      });
  };

  GisMap.prototype.loadMunicipalities = function () {
    var self = this, m = this.cfg.municipalities, group = window[m.group];
    return this.fetchJson(m.url).then(function (fc) {
      var focus = null;
      var layer = L.geoJSON(fc, {
        style: function (f) {
          var own = f.properties.slug === m.focus;
          return { color: own ? "#08519c" : "#6b6b6b", weight: own ? 3 : 1, fill: true,
            fillOpacity: own ? 0.02 : 0.04, fillColor: "#6baed6", dashArray: f.properties.kind === "oblast" ? "4 4" : null };
        },
        onEachFeature: function (f, lyr) {
          var name = self.cfg.lang === "en" ? f.properties.name_en : f.properties.name_ru;
          lyr.bindTooltip(name, { sticky: true });
          if (f.properties.slug === m.focus) focus = lyr;
          lyr.on("dblclick", function () { window.location.href = m.mapUrl.replace("__slug__", f.properties.slug); });
        }
      });
      group.addLayer(layer);
      layer.bringToBack();
      return focus;
    });
  };

  GisMap.prototype.popupFor = function (layer, feature) {
    var p = feature.properties, t = this.t;
    var rows = [[t.operator, p.operator], [t.externalId, p.external_id]];
    layer.properties.forEach(function (prop) {
      var v = p[prop.name];
      if (typeof v === "boolean") v = v ? t.yes : t.no;
      if (v !== undefined && v !== null) rows.push([prop.title + (prop.unit ? ", " + prop.unit : ""), v]);
    });
    var box = table(p.name || layer.title, rows);
    if (this.onFeaturePopup) this.onFeaturePopup(box, layer, feature);
    return box;
  };

  /* A large layer is drawn from vector tiles (Leaflet.VectorGrid, served by the service): its
     TileJSON names the tile URL with the layer's revision, re-read every refresh so an edited
     layer never shows stale tiles. */
  GisMap.prototype.loadTiles = function (layer) {
    var self = this, group = window[layer.group];
    if (this.map.getZoom() < layer.minZoom) {
      group.clearLayers();
      layer.grid = null;
      this.say(this.t.zoomIn);
      return;
    }
    if (layer.grid || layer.loadingTiles) return;
    layer.loadingTiles = true;
    this.fetchJson(layer.tiles).then(function (tj) {
      var style = function (props) {
        var s = styleFor(layer, props);
        if (layer.geometry === "POINT") { s.fill = true; s.radius = s.radius || 5; }
        return s;
      };
      var styles = {};
      styles[layer.id] = style;
      layer.grid = L.vectorGrid.protobuf(tj.tiles[0], {
        rendererFactory: L.canvas.tile, vectorTileLayerStyles: styles, interactive: false,
        minZoom: tj.minzoom, maxNativeZoom: 16, maxZoom: 22
      });
      layer.tileVersion = tj.version;
      group.clearLayers();
      group.addLayer(layer.grid);
      document.body.dataset["tiles_" + layer.id] = tj.version;
    }).catch(function (err) {
      self.say(self.t.failed + layer.title + ": " + err.message);
    }).then(function () { layer.loadingTiles = false; });
  };

  /* A click on the map asks each tiled layer for the feature under the pointer (a 10-pixel box)
     from /ogc: the tiles lie under the GeoJSON layers' canvas, which would swallow their clicks,
     and low-zoom tiles carry only ids anyway. */
  GisMap.prototype.identifyTiled = function (e) {
    var self = this, map = this.map, p = map.latLngToContainerPoint(e.latlng);
    var sw = map.containerPointToLatLng([p.x - 5, p.y + 5]), ne = map.containerPointToLatLng([p.x + 5, p.y - 5]);
    var bbox = [sw.lng, sw.lat, ne.lng, ne.lat].map(function (v) { return v.toFixed(6); }).join(",");
    var asked = this.cfg.layers.filter(function (layer) { return layer.grid && map.hasLayer(window[layer.group]); });
    // One popup listing what each tiled layer has under the pointer, in layer order.
    return Promise.all(asked.map(function (layer) {
      return self.fetchJson(layer.items + "?limit=1&bbox=" + bbox)
        .then(function (fc) { return fc.features.length ? [layer, fc.features[0]] : null; })
        .catch(function (err) { self.say(self.t.failed + err.message); return null; });
    })).then(function (found) {
      var hits = found.filter(Boolean);
      if (!hits.length) return false;
      var box = el("div", "gis-identify");
      hits.forEach(function (hit) { box.appendChild(self.popupFor(hit[0], hit[1])); });
      L.popup({ maxHeight: 320 }).setLatLng(e.latlng).setContent(box).openOn(map);
      return true;
    });
  };

  GisMap.prototype.refreshTiles = function () {
    var self = this;
    this.cfg.layers.forEach(function (layer) {
      if (!layer.grid) return;
      self.fetchJson(layer.tiles).then(function (tj) {
        if (tj.version !== layer.tileVersion && layer.grid) {
          layer.tileVersion = tj.version;
          layer.grid.setUrl(tj.tiles[0]);
          document.body.dataset["tiles_" + layer.id] = tj.version;
        }
      }).catch(function () {});
    });
  };

  GisMap.prototype.loadLayer = function (layer) {
    var self = this, group = window[layer.group];
    if (!this.map.hasLayer(group)) return;
    if (layer.tiles && window.L && L.vectorGrid) return this.loadTiles(layer);
    if (this.map.getZoom() < layer.minZoom) {
      group.clearLayers();
      this.say(this.t.zoomIn);
      return;
    }
    if (this.pending[layer.id]) this.pending[layer.id].abort();
    var ctrl = new AbortController();
    this.pending[layer.id] = ctrl;
    var b = this.map.getBounds();
    var bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(6); }).join(",");
    var features = [], pages = 0;
    var url = layer.url + "?bbox=" + bbox + "&limit=5000";
    this.say(this.t.loading);
    var next = function (pageUrl) {
      return self.fetchJson(pageUrl, ctrl.signal).then(function (fc) {
        features = features.concat(fc.features);
        pages += 1;
        var link = (fc.links || []).filter(function (l) { return l.rel === "next"; })[0];
        if (link && pages < MAX_PAGES) return next(link.href);
        return !!link;
      });
    };
    next(url).then(function (truncated) {
      group.clearLayers();
      group.addLayer(L.geoJSON({ type: "FeatureCollection", features: features }, {
        style: function (f) { return styleFor(layer, f.properties); },
        pointToLayer: function (f, latlng) { return L.circleMarker(latlng, styleFor(layer, f.properties)); },
        onEachFeature: function (f, lyr) {
          lyr.bindPopup(function () { return self.popupFor(layer, f); });
          // Tell the map's own click handler that this click was on a feature.
          lyr.on("click", function (e) { if (e.originalEvent) e.originalEvent.gisFeature = true; });
        }
      }));
      self.counts[layer.id] = features.length;
      self.say(layer.title + ": " + features.length + " " + self.t.features + (truncated ? " (" + self.t.more + ")" : ""));
      document.body.dataset["layer_" + layer.id] = String(features.length);
    }).catch(function (err) {
      if (err.name !== "AbortError") self.say(self.t.failed + layer.title + ": " + err.message);
    });
  };

  GisMap.prototype.start = function () {
    var self = this;
    var reload = function () { self.cfg.layers.forEach(function (l) { self.loadLayer(l); }); };
    this.map.on("moveend", reload);
    this.map.on("overlayadd", function (e) {
      self.cfg.layers.forEach(function (l) { if (window[l.group] === e.layer) self.loadLayer(l); });
    });
    var ready = [this.loadMunicipalities()];
    // Incidents, the queue and the report form live in incidents.js (the workbench).
    if (window.GisIncidents) ready.push(window.GisIncidents.attach(this));
    reload();
    setInterval(function () { self.refreshTiles(); }, 30000);
    // A click on a drawn feature opens its popup; elsewhere the tiled layers are asked, and a
    // click on nothing lets the workbench (onEmptyClick) open the report form.
    this.map.on("click", function (e) {
      if (e.originalEvent && e.originalEvent.gisFeature) return;
      self.identifyTiled(e).then(function (hit) { if (!hit && self.onEmptyClick) self.onEmptyClick(e); });
    });
    Promise.all(ready).then(function () { document.body.dataset.ready = "1"; })
      .catch(function (err) { self.say(self.t.failed + err.message); });
  };

  window.GisMapUtil = { el: el, table: table };
  window.GisMap = { init: function (cfg) { var m = new GisMap(cfg); m.start(); window.gisMap = m; return m; } };
})();

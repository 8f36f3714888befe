/* The map's behaviour: load each layer from the API for the current view, incidents live,
   municipalities as the frame. No framework, no CDN: only Leaflet, served by the service. */
(function () {
  "use strict";

  var T = {
    ru: {
      loading: "Загрузка…", zoomIn: "Приблизьте карту, чтобы увидеть сети", failed: "Ошибка загрузки: ",
      more: "показаны первые", operator: "Оператор", externalId: "Код объекта",
      status: "Статус", reported: "Поступил", reason: "Причина выбора", distance: "Расстояние, м",
      statuses: { new: "Новый", assigned: "Назначен", accepted: "Принят", in_progress: "В работе",
        resolved: "Устранён", closed: "Закрыт", rejected: "Отклонён", duplicate: "Дубликат" },
      kinds: { accident: "Авария", incident: "Инцидент", planned_outage: "Плановое отключение" },
      yes: "да", no: "нет", featureForms: ["объект", "объекта", "объектов"],
      openForms: ["открытый", "открытых", "открытых"], overdue: "просрочено"
    },
    en: {
      loading: "Loading…", zoomIn: "Zoom in to see the networks", failed: "Failed to load: ",
      more: "showing the first", operator: "Operator", externalId: "Asset id",
      status: "Status", reported: "Reported", reason: "Why this operator", distance: "Distance, m",
      statuses: { new: "New", assigned: "Assigned", accepted: "Accepted", in_progress: "In progress",
        resolved: "Resolved", closed: "Closed", rejected: "Rejected", duplicate: "Duplicate" },
      kinds: { accident: "Accident", incident: "Incident", planned_outage: "Planned outage" },
      yes: "yes", no: "no", featureForms: ["feature", "features"],
      openForms: ["open", "open"], overdue: "overdue"
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
    // Hovered features of the identify popup are drawn above the lines, below the incidents.
    this.map.createPane("gis-hover").style.zIndex = 450;
    this.hover = L.layerGroup().addTo(this.map);
    var hover = this.hover;
    this.map.on("popupclose", function () { hover.clearLayers(); delete document.body.dataset.hovered; });
  }

  GisMap.prototype.say = function (text) { if (this.status) this.status.textContent = text; };

  GisMap.prototype.fetchJson = function (url, signal) {
    return fetch(url, { signal: signal, headers: { Accept: "application/geo+json, application/json" } })
      .then(function (r) {
        if (!r.ok) return r.json().then(function (e) { throw new Error(e.message || r.status); });
        return r.json();
      });
  };

  /* The municipalities frame the map. The oblast's own outline is drawn but never interactive
     (it lies over every district and would take their hover and clicks); on the overview a click
     on a district opens its map, and each district is labelled with its open and overdue
     incidents. */
  GisMap.prototype.loadMunicipalities = function () {
    var self = this, m = this.cfg.municipalities, group = window[m.group], overview = !m.focus;
    var open = function (slug) {
      var lang = self.cfg.lang === "en" ? "?lang=en" : "";
      window.location.href = m.mapUrl.replace("__slug__", slug) + lang;
    };
    return this.fetchJson(m.url).then(function (fc) {
      var focus = null;
      var layer = L.geoJSON(fc, {
        interactive: true,
        style: function (f) {
          var own = f.properties.slug === m.focus, root = f.properties.kind === "oblast";
          return { color: own ? "#08519c" : root ? "#444" : "#6b6b6b", weight: own || root ? 3 : 1, fill: !root,
            fillOpacity: own ? 0.02 : 0.04, fillColor: "#6baed6", dashArray: root ? "4 4" : null,
            interactive: !root };
        },
        onEachFeature: function (f, lyr) {
          if (f.properties.kind === "oblast") { lyr.options.interactive = false; return; }
          var name = self.cfg.lang === "en" ? f.properties.name_en : f.properties.name_ru;
          lyr.bindTooltip(name, { sticky: true });
          if (f.properties.slug === m.focus) focus = lyr;
          lyr.on("dblclick", function (e) { L.DomEvent.stop(e); open(f.properties.slug); });
          if (overview && f.properties.kind !== "urban_settlement") {
            lyr.on("click", function (e) {
              if (self.map.getZoom() >= 11) return;  // zoomed in: clicks are for the networks
              if (e.originalEvent) e.originalEvent.gisHandled = true;
              open(f.properties.slug);
            });
          }
        }
      });
      group.addLayer(layer);
      layer.bringToBack();
      self.frame = layer;
      if (overview && m.byDistrictUrl) self.districtLabels();
      return focus;
    });
  };

  /* "Гатчинский МО · 9 открытых · 8 просрочено" at a point inside each district. */
  GisMap.prototype.districtLabels = function () {
    var self = this, t = this.t, m = this.cfg.municipalities;
    if (!this.labels) this.labels = L.layerGroup().addTo(this.map);
    return this.fetchJson(m.byDistrictUrl).then(function (answer) {
      self.labels.clearLayers();
      answer.districts.forEach(function (d) {
        var box = el("div", "gis-district" + (d.overdue ? " has-overdue" : ""));
        box.dataset.slug = d.slug;
        var name = self.cfg.lang === "en" ? d.name_en : d.name_ru;
        box.title = name;
        // The district's own word ("Гатчинский"), the kind is in the tooltip.
        box.appendChild(el("b", null, name.split(" ")[0]));
        box.appendChild(el("span", "open", self.plural(d.open, t.openForms)));
        if (d.overdue) box.appendChild(el("span", "late", t.overdue + " " + d.overdue));
        box.dataset.open = d.open;
        box.dataset.overdue = d.overdue;
        var marker = L.marker([d.lat, d.lon], {
          icon: L.divIcon({ className: "gis-district-label", html: "", iconSize: null }), keyboard: false
        });
        marker.on("add", function () { var n = marker.getElement(); n.textContent = ""; n.appendChild(box); });
        marker.on("click", function () {
          var lang = self.cfg.lang === "en" ? "?lang=en" : "";
          window.location.href = m.mapUrl.replace("__slug__", d.slug) + lang;
        });
        self.labels.addLayer(marker);
      });
      document.body.dataset.districts = String(answer.districts.length);
      self.declutterDistricts();
      if (!self.declutterHooked) {
        self.declutterHooked = true;
        self.map.on("zoomend", function () { self.declutterDistricts(); });
      }
    }).catch(function (err) { self.say(self.t.failed + err.message); });
  };

  /* Labels that would overlap (a phone, a zoomed-out map) are hidden, the district with more
     overdue, then more open incidents keeping its label; the district's tooltip still names it. */
  GisMap.prototype.declutterDistricts = function () {
    var boxes = Array.prototype.slice.call(document.querySelectorAll(".gis-district"));
    boxes.forEach(function (b) { b.classList.remove("gis-cluttered"); });
    boxes.sort(function (a, b) {
      return (+b.dataset.overdue - +a.dataset.overdue) || (+b.dataset.open - +a.dataset.open);
    });
    var kept = [];
    boxes.forEach(function (b) {
      var r = b.getBoundingClientRect();
      var hit = kept.some(function (k) {
        return r.left < k.right + 2 && k.left < r.right + 2 && r.top < k.bottom + 2 && k.top < r.bottom + 2;
      });
      if (hit) b.classList.add("gis-cluttered"); else kept.push(r);
    });
  };

  GisMap.prototype.popupFor = function (layer, feature, clicked) {
    var p = feature.properties, t = this.t;
    var rows = [[t.operator, p.operator], [t.externalId, p.external_id]];
    layer.properties.forEach(function (prop) {
      var v = p[prop.name];
      if (typeof v === "boolean") v = v ? t.yes : t.no;
      else if (prop.values && prop.values[String(v)]) v = prop.values[String(v)];
      if (v !== undefined && v !== null) rows.push([prop.title + (prop.unit ? ", " + prop.unit : ""), v]);
    });
    var box = table(p.name || layer.title, rows);
    if (this.onFeaturePopup) this.onFeaturePopup(box, layer, feature, clicked || this.lastClick);
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

  /* Pixels from a layer point to a drawn feature (a circle marker or a line), for the identify
     popup: every feature within a few pixels of the click is listed, not only the top one. */
  function pixelDistance(map, lyr, p) {
    if (lyr.getLatLng) {
      return Math.max(0, p.distanceTo(map.latLngToLayerPoint(lyr.getLatLng())) - (lyr.getRadius ? lyr.getRadius() : 0));
    }
    if (!lyr.getLatLngs) return Infinity;
    var best = Infinity, lines = lyr.getLatLngs();
    if (L.LineUtil.isFlat(lines)) lines = [lines];
    lines.forEach(function (line) {
      var prev = null;
      line.forEach(function (ll) {
        var q = map.latLngToLayerPoint(ll);
        if (prev) best = Math.min(best, L.LineUtil.pointToSegmentDistance(p, prev, q));
        prev = q;
      });
    });
    return best;
  }

  var PICK_PX = 7;

  /* Features drawn from GeoJSON within PICK_PX pixels of the click, nearest first. */
  GisMap.prototype.identifyDrawn = function (latlng) {
    var map = this.map, p = map.latLngToLayerPoint(latlng), hits = [];
    var box = L.latLngBounds(map.layerPointToLatLng(p.subtract([PICK_PX, PICK_PX])), map.layerPointToLatLng(p.add([PICK_PX, PICK_PX])));
    this.cfg.layers.forEach(function (layer) {
      var group = window[layer.group];
      if (layer.grid || !map.hasLayer(group)) return;
      group.eachLayer(function (gj) {
        if (!gj.eachLayer) return;
        gj.eachLayer(function (lyr) {
          var b = lyr.getBounds ? lyr.getBounds() : L.latLngBounds([lyr.getLatLng()]);
          if (!b.pad(0.01).intersects(box) && !(lyr.getLatLng && box.contains(lyr.getLatLng()))) return;
          var d = pixelDistance(map, lyr, p);
          if (d <= PICK_PX) hits.push({ layer: layer, feature: lyr.feature, d: d });
        });
      });
    });
    return hits.sort(function (a, b) { return a.d - b.d; });
  };

  /* Tiled layers: the features under the pointer (a box of PICK_PX pixels) from /ogc; the tiles
     carry only ids at low zoom, and a canvas of tiles cannot tell what was clicked. */
  GisMap.prototype.identifyTiled = function (latlng) {
    var self = this, map = this.map, p = map.latLngToContainerPoint(latlng);
    var sw = map.containerPointToLatLng([p.x - PICK_PX, p.y + PICK_PX]), ne = map.containerPointToLatLng([p.x + PICK_PX, p.y - PICK_PX]);
    var bbox = [sw.lng, sw.lat, ne.lng, ne.lat].map(function (v) { return v.toFixed(6); }).join(",");
    var asked = this.cfg.layers.filter(function (layer) { return layer.grid && map.hasLayer(window[layer.group]); });
    return Promise.all(asked.map(function (layer) {
      return self.fetchJson(layer.items + "?limit=5&bbox=" + bbox)
        .then(function (fc) { return fc.features.map(function (f) { return { layer: layer, feature: f, d: PICK_PX }; }); })
        .catch(function (err) { self.say(self.t.failed + err.message); return []; });
    })).then(function (lists) { return [].concat.apply([], lists); });
  };

  /* One popup listing every feature under the click; hovering an entry highlights its feature,
     so lines a few metres apart can be told apart. False when nothing is there. */
  GisMap.prototype.identify = function (latlng) {
    var self = this, map = this.map, drawn = this.identifyDrawn(latlng);
    return this.identifyTiled(latlng).then(function (tiled) {
      var hits = drawn.concat(tiled);
      if (!hits.length) return false;
      var box = el("div", "gis-identify");
      if (hits.length > 1) box.appendChild(el("p", "gis-identify-count", self.plural(hits.length, self.t.featureForms)));
      hits.forEach(function (hit, i) {
        var entry = self.popupFor(hit.layer, hit.feature, latlng);
        entry.dataset.feature = hit.feature.id;
        entry.dataset.layer = hit.layer.id;
        entry.addEventListener("mouseenter", function () { self.showHover(hit); });
        entry.addEventListener("mouseleave", function () { self.hover.clearLayers(); delete document.body.dataset.hovered; });
        box.appendChild(entry);
      });
      L.popup({ maxHeight: 320, minWidth: 240 }).setLatLng(latlng).setContent(box).openOn(map);
      return true;
    });
  };

  GisMap.prototype.showHover = function (hit) {
    this.hover.clearLayers();
    this.hover.addLayer(L.geoJSON(hit.feature, {
      pane: "gis-hover", interactive: false,
      style: { color: "#ff00ff", weight: 10, opacity: 0.75 },
      pointToLayer: function (f, ll) { return L.circleMarker(ll, { pane: "gis-hover", radius: 12, color: "#ff00ff", weight: 5, fill: false }); }
    }));
    document.body.dataset.hovered = String(hit.feature.id);
  };

  GisMap.prototype.plural = function (n, forms) {
    var rule = new Intl.PluralRules(this.cfg.lang === "en" ? "en" : "ru").select(n);
    var i = this.cfg.lang === "en" ? (rule === "one" ? 0 : 1) : { one: 0, few: 1, many: 2 }[rule];
    return n + " " + forms[i === undefined ? forms.length - 1 : i];
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
          // The click goes on to the map, whose identify popup lists every feature near it.
        }
      }));
      self.counts[layer.id] = features.length;
      self.say(layer.title + ": " + self.plural(features.length, self.t.featureForms) + (truncated ? " (" + self.t.more + ")" : ""));
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
    if (window.GisBasemap) window.GisBasemap.attach(this);  // basemap.js: the offline base map
    var ready = [this.loadMunicipalities().then(function (focus) {
      // The page was fitted for a desktop (room for the panel on the right); a phone or a tablet
      // fits the municipality (or the oblast) to its own screen.
      var frame = focus || self.frame;
      var fit = function () {
        self.map.invalidateSize(false);
        self.map.fitBounds(frame.getBounds(), { padding: [8, 8], animate: false });
      };
      if (!frame || self.map.getContainer().clientWidth > 900) return focus;
      // Folium's own fit may still be zooming: its end would undo ours, so wait for it.
      if (!self.map._animatingZoom) { fit(); return focus; }
      return new Promise(function (resolve) { self.map.once("zoomend", function () { fit(); resolve(focus); }); });
    })];
    // Incidents, the queue and the report form live in incidents.js (the workbench).
    if (window.GisIncidents) ready.push(window.GisIncidents.attach(this));
    if (window.GisAddressSearch) window.GisAddressSearch.attach(this);  // address-search.js
    reload();
    setInterval(function () { self.refreshTiles(); }, 30000);
    // A click on a drawn feature opens its popup; elsewhere the tiled layers are asked, and a
    // click on nothing lets the workbench (onEmptyClick) open the report form.
    this.map.on("click", function (e) {
      if (e.originalEvent && (e.originalEvent.gisIncident || e.originalEvent.gisHandled)) return;
      self.lastClick = e.latlng;
      self.identify(e.latlng).then(function (hit) { if (!hit && self.onEmptyClick) self.onEmptyClick(e); });
    });
    Promise.all(ready).then(function () { document.body.dataset.ready = "1"; })
      .catch(function (err) { self.say(self.t.failed + err.message); });
  };

  window.GisMapUtil = { el: el, table: table };
  window.GisMap = { init: function (cfg) { var m = new GisMap(cfg); m.start(); window.gisMap = m; return m; } };
})();

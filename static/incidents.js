/* The incident workbench, core: requests, incidents on the map (always above the network lines,
   in their own pane of HTML markers), the panel and the public API. The jobs live beside it:
   incidents-queue.js (the shift's queue), incidents-card.js (an incident's card, kept live),
   incidents-report.js (the report form), incidents-panels.js (imports, edits, export).
   Every value is put in the page as text, never as HTML. */
(function () {
  "use strict";

  var W = window.GisWords;
  var STATUS_COLORS = { "new": "#d7191c", assigned: "#fdae61", accepted: "#fee08b", in_progress: "#2b83ba",
    resolved: "#1a9641", closed: "#999999", rejected: "#7b3294", duplicate: "#bbbbbb" };

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // The browser's storage may be off (a locked-down profile): then nothing is remembered.
  function remember(key, value) { try { localStorage.setItem(key, value); } catch (e) { /* not kept */ } }
  function recall(key) { try { return localStorage.getItem(key); } catch (e) { return null; } }

  function field(labelText, input) {
    var label = el("label", "gis-field");
    label.appendChild(el("span", null, labelText));
    label.appendChild(input);
    return label;
  }

  function select(name, options, value) {
    var s = el("select");
    s.name = name;
    options.forEach(function (o) {
      var opt = el("option", null, o[1]);
      opt.value = o[0];
      if (String(o[0]) === String(value)) opt.selected = true;
      s.appendChild(opt);
    });
    return s;
  }

  function when(iso, lang) { return iso ? new Date(iso).toLocaleString(lang === "en" ? "en-GB" : "ru-RU") : ""; }

  function Workbench(gis) {
    this.gis = gis;
    this.map = gis.map;
    this.cfg = gis.cfg.workbench;
    this.lang = gis.cfg.lang;
    this.t = W.T[this.lang] || W.T.ru;
    this.highlight = L.layerGroup().addTo(this.map);
    this.panel = document.getElementById("gis-panel");
    this.queue = document.getElementById("gis-queue");
    this.card = document.getElementById("gis-card");
    this.formBox = document.getElementById("gis-form");
    this.markers = {};
    // The page's "Incidents" group (the layer control switches it), drawn in the pane below.
    this.group = window[gis.cfg.incidents.group] || L.layerGroup().addTo(this.map);
    this.mine = {};  // incidents created in this tab: no "new arrival" flash for them
    // Incidents get a pane of their own above the network lines (overlayPane 400) and the
    // municipalities: HTML markers, so a click on one is never taken by a canvas below it.
    this.pane = this.map.getPane("gis-incidents") || this.map.createPane("gis-incidents");
    this.pane.style.zIndex = 620;
    this.compactControls();
  }

  /* Phones and tablets: the panel and the legend fold away behind buttons in the header; a card
     or a report form opens the panel by itself (a bottom sheet on a phone). */
  Workbench.prototype.compactControls = function () {
    var self = this, header = document.querySelector(".gis-header"), legend = document.querySelector(".gis-legend");
    if (!header) return;
    var toggle = el("button", "gis-panel-toggle", this.t.panel);
    toggle.type = "button";
    toggle.setAttribute("aria-controls", "gis-panel");
    toggle.addEventListener("click", function () { self.openPanel(!document.body.classList.contains("panel-open")); });
    header.insertBefore(toggle, header.querySelector(".gis-lang"));
    if (legend) {
      var title = legend.querySelector("h2");
      if (title) {
        title.setAttribute("role", "button");
        title.tabIndex = 0;
        title.addEventListener("click", function () {
          legend.classList.toggle("collapsed");
          remember("gis-legend-collapsed", legend.classList.contains("collapsed") ? "1" : "0");
        });
      }
      // Folded on phones, tablets and short laptop screens (it would cover most of the map's
      // height) unless the user opened it before; the user's last choice is kept.
      var chosen = recall("gis-legend-collapsed");
      var small = window.innerWidth <= 900 || window.innerHeight < 800;
      if (chosen === "1" || (chosen === null && small)) legend.classList.add("collapsed");
    }
  };

  Workbench.prototype.openPanel = function (open) {
    document.body.classList.toggle("panel-open", open !== false);
    var toggle = document.querySelector(".gis-panel-toggle");
    if (toggle) toggle.setAttribute("aria-expanded", String(open !== false));
  };

  Workbench.prototype.request = function (method, url, body, headers) {
    var h = { Accept: "application/json" };
    if (this.cfg.csrfToken) h["X-CSRF-Token"] = this.cfg.csrfToken;
    Object.keys(headers || {}).forEach(function (k) { h[k] = headers[k]; });
    var init = { method: method, headers: h, credentials: "same-origin", cache: "no-store" };
    if (body !== undefined) { h["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    return fetch(url, init).then(function (r) {
      if (r.status === 304) return { data: null, etag: r.headers.get("ETag"), notModified: true };
      return r.text().then(function (txt) {
        var data = txt ? JSON.parse(txt) : null;
        if (!r.ok) {
          var err = new Error((data && data.message) || String(r.status));
          err.status = r.status; err.body = data;
          throw err;
        }
        return { data: data, etag: r.headers.get("ETag") };
      });
    });
  };

  Workbench.prototype.utilityName = function (code) {
    var found = this.cfg.utilities.filter(function (u) { return u.code === code; })[0];
    return found ? found.name : code;
  };

  Workbench.prototype.word = function (table, code) {
    return code === null || code === undefined ? "" : (this.t[table] && this.t[table][code]) || code;
  };

  Workbench.prototype.say = function (text) { this.gis.say(text); };

  /* The part of the map not covered by the header, the panel or the legend, as padding for
     panInside: the report point and a chosen incident are kept in it. */
  Workbench.prototype.freePadding = function () {
    var box = this.map.getContainer().getBoundingClientRect(), pad = { left: 20, top: 20, right: 20, bottom: 20 };
    [this.panel, document.querySelector(".gis-legend")].forEach(function (node) {
      if (!node || node.hidden || node.classList.contains("collapsed")) return;
      var r = node.getBoundingClientRect();
      if (!r.width || !r.height) return;
      if (r.width > box.width * 0.8) {  // a bottom sheet on a phone
        pad.bottom = Math.max(pad.bottom, box.bottom - r.top + 20);
      } else if (r.left > box.left + box.width / 2) {
        pad.right = Math.max(pad.right, box.right - r.left + 20);
      } else if (r.bottom > box.bottom - 40 && r.top > box.top + box.height / 2) {
        pad.bottom = Math.max(pad.bottom, box.bottom - r.top + 20);
      }
    });
    return pad;
  };

  /* Put the point in the middle of the part of the map the panels leave free. */
  Workbench.prototype.centreInView = function (latlng, zoom) {
    var p = this.freePadding(), size = this.map.getSize();
    var shift = L.point((p.left - p.right) / 2, (p.top - p.bottom) / 2);
    var centre = this.map.unproject(this.map.project(latlng, zoom).subtract(shift), zoom);
    this.map.setView(centre, zoom, { animate: false });
    return size;
  };

  Workbench.prototype.keepInView = function (latlng) {
    var p = this.freePadding();
    this.map.panInside(latlng, { paddingTopLeft: [p.left, p.top], paddingBottomRight: [p.right, p.bottom], animate: false });
  };

  /* --- incidents on the map ------------------------------------------------------------ */
  /* One marker per incident, asked with If-None-Match: an unchanged set is a 304 and costs
     nothing; a changed one updates only the markers whose state changed. */
  Workbench.prototype.refresh = function () {
    var self = this;
    var headers = { Accept: "application/geo+json" };
    if (this.etag) headers["If-None-Match"] = this.etag;
    return fetch(this.cfg.urls.incidentPoints, { headers: headers, cache: "no-store", credentials: "same-origin" })
      .then(function (r) {
        document.body.dataset.incidentsRefreshed = String(Date.now());
        if (r.status === 304) return null;
        if (!r.ok) throw new Error(String(r.status));
        self.etag = r.headers.get("ETag");
        return r.json();
      }).then(function (fc) { if (fc) self.draw(fc); });
  };

  function decorate(marker) {
    var node = marker.getElement(), f = marker.gisFacts;
    if (!node || !f) return;
    node.dataset.incident = f.id;
    node.dataset.status = f.status;
    node.style.setProperty("--c", STATUS_COLORS[f.status] || "#000");
    node.setAttribute("aria-label", f.tip);
  }

  Workbench.prototype.draw = function (fc) {
    var self = this, t = this.t, seen = {};
    fc.features.forEach(function (f) {
      var p = f.properties, key = p.status + (p.overdue ? "!" : "");
      seen[f.id] = true;
      var marker = self.markers[f.id];
      if (marker && marker.gisKey === key) return;
      var tip = self.word("kinds", p.kind) + " №" + f.id + " — " + self.word("statuses", p.status) +
        (p.overdue ? " — " + t.overdueMark : "");
      var icon = L.divIcon({ className: "gis-incident-marker" + (p.overdue ? " overdue" : ""), iconSize: [18, 18],
        html: "" });
      if (marker) {
        marker.setIcon(icon);
        marker.setTooltipContent(tip);
      } else {
        var c = f.geometry.coordinates;
        marker = L.marker([c[1], c[0]], { icon: icon, pane: "gis-incidents", keyboard: false, riseOnHover: true })
          .bindTooltip(tip, { direction: "top", offset: [0, -8] });
        marker.on("click", function (e) {
          if (e.originalEvent) e.originalEvent.gisIncident = true;
          L.DomEvent.stopPropagation(e);  // markers do not bubble to the map; say so anyway
          self.openCard(f.id);
        });
        // The element is made when the marker is shown (and again after the group was off).
        marker.on("add", function () { decorate(marker); });
        self.group.addLayer(marker);
        self.markers[f.id] = marker;
      }
      marker.gisFacts = { id: f.id, status: p.status, tip: tip };
      decorate(marker);
      marker.gisKey = key;
    });
    Object.keys(this.markers).forEach(function (id) {
      if (!seen[id]) { self.group.removeLayer(self.markers[id]); delete self.markers[id]; }
    });
    document.body.dataset.incidents = String(fc.features.length);
  };

  Workbench.prototype.canCreate = function () { return this.cfg.role === "dispatcher" || this.cfg.role === "admin"; };

  Workbench.prototype.legend = function () {
    var list = document.querySelector(".gis-statuses"), self = this;
    if (!list) return;
    Object.keys(STATUS_COLORS).forEach(function (s) {
      var li = el("li"), sw = el("i", "gis-swatch dot");
      sw.style.setProperty("--c", STATUS_COLORS[s]);
      li.appendChild(sw);
      li.appendChild(document.createTextNode(self.word("statuses", s)));
      list.appendChild(li);
    });
    var li = el("li"), ring = el("i", "gis-swatch dot overdue");
    li.appendChild(ring); li.appendChild(document.createTextNode(this.t.overdueMark));
    list.appendChild(li);
  };

  Workbench.prototype.start = function () {
    var self = this;
    this.legend();
    if (this.exportPanel && (this.cfg.role === "planner" || this.cfg.role === "admin")) this.exportPanel();
    if (this.canCreate()) {
      this.gis.onEmptyClick = function (e) { self.openReportAt(e.latlng.lng, e.latlng.lat); };
      this.gis.onFeaturePopup = function (box, layer, feature, clicked) {
        var b = el("button", "gis-primary gis-report-here", self.t.reportHere);
        b.type = "button";
        b.addEventListener("click", function () {
          self.map.closePopup();
          self.openReportAt(clicked.lng, clicked.lat, { utility: layer.utility, featureId: feature.id, featureTitle: layer.title });
        });
        box.appendChild(b);
      };
    }
    setInterval(function () { self.refresh().catch(function () {}); self.loadQueue().catch(function () {}); },
      this.cfg.refreshSeconds * 1000);
    return Promise.all([this.refresh(), this.loadQueue()]);
  };

  /* The public API other scripts call (address search, traces): see docs/workbench.md. */
  function publicApi(w) {
    return {
      openReportAt: function (lon, lat, opts) { return w.openReportAt(lon, lat, opts || {}); },
      showIncident: function (id) { return w.showIncident(id); },
      highlightFeature: function (id) { return w.highlightFeature(id); },
      keepInView: function (lon, lat) { return w.keepInView(L.latLng(lat, lon)); },
      refresh: function () { return Promise.all([w.refresh(), w.loadQueue()]); },
      panel: w.panel
    };
  }

  Workbench.prototype.showIncident = function (id) {
    var self = this;
    return this.openCard(id).then(function (inc) {
      if (inc) self.centreInView(L.latLng(inc.lat, inc.lon), Math.max(self.map.getZoom(), 15));
      return inc;
    });
  };

  window.GisIncidents = {
    Workbench: Workbench,
    util: { el: el, field: field, select: select, when: when, STATUS_COLORS: STATUS_COLORS },
    attach: function (gis) {
      var w = new Workbench(gis);
      window.gisWorkbench = w;
      window.GisWorkbench = publicApi(w);
      Object.keys(window.GisWorkbench).forEach(function (k) { window.GisMap[k] = window.GisWorkbench[k]; });
      return w.start();
    }
  };
})();

/* "Show what is cut off": from a feature's popup or an incident's card, ask the service for the
   trace (GET /api/features/<id>/trace or /api/incidents/<id>/trace), draw it (the failure, the
   isolated and cut-off lines, the devices to operate as distinct markers, the consumers cut off,
   the cascade into other utilities) and list it in the side panel, Russian first. */
(function () {
  "use strict";

  var T = {
    ru: {
      show: "Показать, что отключено", title: "Что отключено", close: "Скрыть", loading: "Трассировка…",
      failed: "Ошибка: ", consumers: "Потребителей отключено", buildings: "Зданий",
      social: "Социальные объекты", settlements: "Населённые пункты без снабжения",
      operate: "Закрыть / отключить", inoperable: "Неисправны, пропущены", notNeeded: "Переключать не нужно",
      closed: "Уже закрыты / отключены", municipalities: "Муниципальные образования", cascade: "Каскад",
      step: "шаг", total: "Всего потребителей с каскадом", features: "Объектов сети", none: "нет",
      kinds: { school: "школа", kindergarten: "детский сад", hospital: "больница", clinic: "поликлиника",
        care_home: "дом престарелых" },
      utilities: { water: "водоснабжение", heat: "теплоснабжение", gas: "газоснабжение",
        electricity: "электроснабжение", sewerage: "водоотведение" }
    },
    en: {
      show: "Show what is cut off", title: "What is cut off", close: "Hide", loading: "Tracing…",
      failed: "Error: ", consumers: "Consumers cut off", buildings: "Buildings",
      social: "Social objects", settlements: "Settlements without supply",
      operate: "Close / switch off", inoperable: "Inoperable, skipped", notNeeded: "No need to operate",
      closed: "Already closed / off", municipalities: "Municipalities", cascade: "Cascade",
      step: "step", total: "Consumers with the cascade", features: "Network features", none: "none",
      kinds: { school: "school", kindergarten: "kindergarten", hospital: "hospital", clinic: "clinic",
        care_home: "care home" },
      utilities: { water: "water", heat: "heat", gas: "gas", electricity: "electricity", sewerage: "sewerage" }
    }
  };
  // How each role of a feature in the trace is drawn.
  var STYLE = {
    start: { color: "#d7191c", weight: 7, opacity: 0.95 },
    isolated: { color: "#fdae61", weight: 6, opacity: 0.9 },
    cut_off: { color: "#7b3294", weight: 4, opacity: 0.8, dashArray: "6 4" },
    dependent_cut_off: { color: "#d7191c", weight: 4, opacity: 0.9 },
    upstream: { color: "#2c7bb6", weight: 5, opacity: 0.9 },
    connected: { color: "#1a9641", weight: 4, opacity: 0.8 },
    source: { color: "#2c7bb6", weight: 5, opacity: 0.9 }
  };
  var DEVICE_ROLES = { device_to_operate: "▲", device_inoperable: "✕", device_not_needed: "△", device_closed: "■" };

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function Trace(gis) {
    this.gis = gis;
    this.map = gis.map;
    this.lang = gis.cfg.lang === "en" ? "en" : "ru";
    this.t = T[this.lang];
    this.layer = L.layerGroup().addTo(this.map);
    this.box = el("section", "gis-card gis-trace");
    this.box.id = "gis-trace";
    this.box.hidden = true;
    var panel = document.getElementById("gis-panel");
    if (panel) panel.insertBefore(this.box, panel.firstChild);
  }

  Trace.prototype.button = function (url) {
    var self = this, b = el("button", "gis-trace-show", this.t.show);
    b.type = "button";
    b.addEventListener("click", function () { self.map.closePopup(); self.show(url); });
    return b;
  };

  Trace.prototype.show = function (url) {
    var self = this, t = this.t;
    this.box.hidden = false;
    this.box.dataset.state = "loading";
    this.box.textContent = t.loading;
    return fetch(url, { headers: { Accept: "application/geo+json" }, credentials: "same-origin" })
      .then(function (r) {
        return r.json().then(function (body) { if (!r.ok) throw new Error(body.message || r.status); return body; });
      })
      .then(function (fc) { self.draw(fc); self.list(fc.trace); self.box.dataset.state = "ready"; })
      .catch(function (err) { self.box.dataset.state = "failed"; self.box.textContent = t.failed + err.message; });
  };

  Trace.prototype.draw = function (fc) {
    var layer = this.layer;
    layer.clearLayers();
    var geo = L.geoJSON(fc, {
      filter: function (f) { return !DEVICE_ROLES[f.properties.trace]; },
      style: function (f) {
        var s = STYLE[f.properties.trace] || STYLE.cut_off;
        return f.properties.step ? Object.assign({}, s, { color: "#e66101" }) : s;
      },
      pointToLayer: function (f, latlng) {
        var consumer = f.properties.trace === "consumer_cut_off";
        return L.circleMarker(latlng, {
          radius: consumer ? 4 : 6, color: consumer ? "#4d4d4d" : (STYLE[f.properties.trace] || STYLE.cut_off).color,
          fillColor: consumer ? "#ffffbf" : "#ffffff", fillOpacity: 0.9, weight: 2, className: "gis-trace-" + f.properties.trace
        });
      }
    }).addTo(layer);
    fc.features.forEach(function (f) {
      var symbol = DEVICE_ROLES[f.properties.trace];
      if (!symbol || f.geometry.type !== "Point") return;
      var c = f.geometry.coordinates;
      L.marker([c[1], c[0]], {
        icon: L.divIcon({ className: "gis-trace-device gis-trace-" + f.properties.trace, html: symbol, iconSize: [18, 18] }),
        title: f.properties.dispatch_name || f.properties.name || String(f.id)
      }).addTo(layer);
    });
    var bounds = geo.getBounds();
    if (bounds.isValid()) this.map.fitBounds(bounds, { maxZoom: 16, padding: [20, 20] });
  };

  Trace.prototype.list = function (tr) {
    var self = this, t = this.t, box = this.box;
    box.textContent = "";
    var head = el("div", "gis-card-head");
    head.appendChild(el("h3", null, t.title + " · " + (t.utilities[tr.utility] || tr.utility)));
    var x = el("button", "gis-close", "×");
    x.type = "button"; x.title = t.close;
    x.addEventListener("click", function () { box.hidden = true; self.layer.clearLayers(); });
    head.appendChild(x);
    box.appendChild(head);
    var table = el("table", "gis-card-table");
    var row = function (name, value, cls) {
      if (value === undefined || value === null || value === "") return;
      var r = el("tr", cls); r.appendChild(el("th", null, name)); r.appendChild(el("td", null, value));
      table.appendChild(r);
    };
    var names = function (list) {
      return list.map(function (d) { return d.dispatch_name || d.name || ("№" + d.id); }).join(", ");
    };
    // A few social objects by name; a whole town's (dozens) as counts by kind, hospitals first,
    // so the panel stays readable during a 110 kV outage.
    var social = function (list) {
      if (list.length <= 6) {
        return list.map(function (s) { return (s.name || "") + " (" + (t.kinds[s.kind] || s.kind) + ")"; }).join("; ");
      }
      var order = ["hospital", "care_home", "clinic", "school", "kindergarten"], counts = {};
      list.forEach(function (s) { counts[s.kind] = (counts[s.kind] || 0) + 1; });
      var kinds = Object.keys(counts).sort(function (a, b) {
        var ia = order.indexOf(a), ib = order.indexOf(b);
        return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
      });
      return list.length + ": " + kinds.map(function (k) { return (t.kinds[k] || k) + " " + counts[k]; }).join(", ");
    };
    row(t.consumers, tr.consumers_cut_off, "gis-trace-consumers");
    row(t.buildings, tr.buildings_cut_off);
    if (tr.social_objects_cut_off) row(t.social, social(tr.social_objects_cut_off) || t.none);
    if (tr.settlements_cut_off) {
      row(t.settlements, tr.settlements_cut_off.map(function (s) { return self.lang === "en" ? s.name_en : s.name_ru; }).join(", ") || t.none);
    }
    row(t.operate, names(tr.devices_to_operate || []), "gis-trace-operate");
    row(t.inoperable, names(tr.devices_inoperable || []));
    row(t.notNeeded, names(tr.devices_not_needed || []));
    row(t.closed, names(tr.devices_already_closed || []));
    row(t.features, tr.features);
    row(t.municipalities, (tr.municipalities || []).map(function (m) { return self.lang === "en" ? m.name_en : m.name_ru; }).join(", "));
    box.appendChild(table);
    (tr.notes || []).forEach(function (n) { box.appendChild(el("p", "gis-trace-note", n[self.lang] || n.ru)); });
    if (tr.cascade && tr.cascade.length) {
      box.appendChild(el("h4", null, t.cascade));
      var ol = el("ol", "gis-trace-cascade");
      tr.cascade.forEach(function (s) {
        ol.appendChild(el("li", null, t.step + " " + s.level + ": " + (t.utilities[s.utility] || s.utility) + " — " +
          (s.dependent.name || s.dependent.kind) + " → " + s.consumers_cut_off + " · " + social(s.social_objects_cut_off)));
      });
      box.appendChild(ol);
      row(t.total, tr.totals.consumers_cut_off);
    }
  };

  /* The incident card's hook (incidents.js calls it with the card it has just drawn). */
  Trace.prototype.cardButton = function (card, incident) {
    card.appendChild(this.button("/api/incidents/" + incident.id + "/trace?type=isolation"));
  };

  function attach(gis) {
    var trace = new Trace(gis);
    var popupFor = gis.popupFor;
    // Every network feature's popup gets the button (roads and consumers answer with a reason).
    gis.popupFor = function (layer, feature, clicked) {
      var box = popupFor.call(gis, layer, feature, clicked);
      if (layer.utility !== "roads" && layer.utility !== "housing") {
        box.appendChild(trace.button("/api/features/" + feature.id + "/trace?type=isolation"));
      }
      return box;
    };
    window.GisTrace = trace;
    return trace;
  }

  // After the map's own start (GisMap.init runs on DOMContentLoaded): wrap its popups.
  window.addEventListener("load", function () { if (window.gisMap) attach(window.gisMap); });
})();

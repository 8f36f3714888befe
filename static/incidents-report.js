/* The report form: opens in the panel (never under the header, the queue or the legend), the
   map keeps the point in view; the point is the click, or the nearest point ON the asset chosen
   (the server's ST_ClosestPoint); the utility is the one of the asset clicked, or must be
   chosen. Enter saves, Esc cancels; a click on the map while the form is open moves the point
   and keeps every word typed. */
(function () {
  "use strict";

  var G = window.GisIncidents, W = window.GisWords, u = G.util, el = u.el, field = u.field, select = u.select;
  var P = G.Workbench.prototype;

  /* Metres of `px` screen pixels at the map's zoom and the point's latitude. */
  P.metresPerPixels = function (latlng, px) {
    var a = this.map.latLngToContainerPoint(latlng);
    return this.map.distance(latlng, this.map.containerPointToLatLng([a.x + px, a.y]));
  };

  P.openReportAt = function (lon, lat, preset) {
    var self = this;
    preset = preset || {};
    var clicked = L.latLng(lat, lon);
    if (!this.canCreate()) return Promise.resolve(null);
    var url = this.cfg.urls.reportPoint + "?lon=" + lon.toFixed(7) + "&lat=" + lat.toFixed(7);
    if (preset.featureId) url += "&feature_id=" + preset.featureId;
    else url += "&tolerance_m=" + Math.max(1, Math.min(200, Math.round(this.metresPerPixels(clicked, 12))));
    return this.request("GET", url).then(function (res) {
      return self.showForm(res.data, preset);
    }, function () { return self.showForm({ lon: lon, lat: lat, snapped: false, utility: null, feature: null }, preset); });
  };

  P.showForm = function (point, preset) {
    if (this.report) { this.report.move(point, preset); return this.report; }
    this.report = new ReportForm(this, point, preset);
    return this.report;
  };

  function ReportForm(w, point, preset) {
    var t = w.t, self = this;
    this.w = w; this.t = t;
    this.touched = {};
    var form = this.form = el("form", "gis-report");
    form.id = "gis-report";
    form.noValidate = true;
    this.title = el("h3");
    form.appendChild(this.title);
    this.where = el("p", "gis-muted gis-where");
    form.appendChild(this.where);
    this.utility = select("utility", [["", t.chooseUtility]].concat(w.cfg.utilities.map(function (x) { return [x.code, x.name]; })), "");
    this.kind = select("kind", ["incident", "accident", "planned_outage"].map(function (k) { return [k, t.kinds[k]]; }), "incident");
    this.priority = select("priority", [1, 2, 3, 4].map(function (p) { return [p, t.priorities[p]]; }), 3);
    this.category = select("category", [["", "—"]], "");
    this.description = el("textarea"); this.description.name = "description"; this.description.rows = 2; this.description.maxLength = 4000;
    this.address = el("input"); this.address.name = "address"; this.address.maxLength = 500;
    this.contact = el("input"); this.contact.name = "reporter_contact"; this.contact.maxLength = 500;
    // One click per utility (the list needs two): the chips set the list's value.
    this.chips = el("div", "gis-utility-chips");
    w.cfg.utilities.forEach(function (x) {
      var chip = el("button", "gis-chip", x.name);
      chip.type = "button";
      chip.dataset.utility = x.code;
      chip.tabIndex = -1;
      chip.addEventListener("click", function () {
        self.utility.value = x.code;
        self.utility.dispatchEvent(new Event("change"));
        self.description.focus({ preventScroll: true });
      });
      self.chips.appendChild(chip);
    });
    form.appendChild(this.chips);
    var grid = el("div", "gis-report-grid");
    [[t.utility, this.utility, "wide gis-utility-field"], [t.kind, this.kind], [t.priority, this.priority], [t.category, this.category, "wide"],
     [t.description, this.description, "wide"], [t.address, this.address, "wide"], [t.contact, this.contact, "wide"]]
      .forEach(function (f) {
        var lab = field(f[0], f[1]);
        if (f[2]) f[2].split(" ").forEach(function (c) { lab.classList.add(c); });
        grid.appendChild(lab);
      });
    form.appendChild(grid);
    this.preview = el("div", "gis-preview");
    form.appendChild(this.preview);
    this.message = el("p", "gis-error");
    form.appendChild(this.message);
    var buttons = el("div", "gis-buttons gis-sticky");
    this.submit = el("button", "gis-primary", t.create); this.submit.type = "submit";
    var cancel = el("button", "gis-secondary", t.cancel); cancel.type = "button"; cancel.name = "cancel";
    buttons.appendChild(this.submit); buttons.appendChild(cancel);
    form.appendChild(buttons);
    form.appendChild(el("p", "gis-muted gis-hint", t.moveHint));
    ["utility", "kind", "priority", "category"].forEach(function (name) {
      self[name].addEventListener("change", function () { self.touched[name] = true; });
    });
    this.utility.addEventListener("change", function () { self.fillCategories(); self.showResponsible(); });
    cancel.addEventListener("click", function () { self.close(); });
    form.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape") { ev.preventDefault(); self.close(); }
      // Enter saves from any field; Shift+Enter is a new line in the description.
      else if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && ev.target.tagName !== "BUTTON") {
        ev.preventDefault(); self.save();
      }
    });
    form.addEventListener("submit", function (ev) { ev.preventDefault(); self.save(); });
    w.formBox.textContent = "";
    w.formBox.appendChild(form);
    w.formBox.hidden = false;
    w.panel.classList.add("reporting");
    w.openPanel(true);
    document.body.classList.add("gis-reporting");
    this.marker = L.circleMarker([point.lat, point.lon], { radius: 7, color: "#000", weight: 3, fillColor: "#fff",
      fillOpacity: 1, pane: "gis-incidents", interactive: false }).addTo(w.map);
    this.move(point, preset);
  }

  ReportForm.prototype.move = function (point, preset) {
    var t = this.t, w = this.w;
    this.point = point;
    this.preset = preset || {};
    this.featureId = this.preset.featureId || null;
    this.marker.setLatLng([point.lat, point.lon]);
    this.title.textContent = this.featureId ? t.reportHere : t.report;
    this.where.textContent = (point.snapped ? t.pointOnAsset : t.pointClicked) + ": " + point.lat.toFixed(5) + ", " +
      point.lon.toFixed(5) + (point.feature ? " · " + (point.feature.external_id || point.feature.layer) : "");
    // The utility of what was clicked, unless the dispatcher chose one by hand.
    var utility = this.preset.utility || point.utility;
    if (!this.touched.utility || this.featureId) {
      if (utility) this.utility.value = utility;
      else if (!this.dirty()) this.utility.value = "";
    }
    this.fillCategories();
    if (this.preset.address && !this.address.value) this.address.value = this.preset.address;
    // No address given: the nearest known house (GET /api/addresses/reverse), unless one is typed.
    if (!this.address.value && w.cfg.urls.addressReverse) {
      var address = this.address;
      w.request("GET", w.cfg.urls.addressReverse + "?lon=" + point.lon.toFixed(6) + "&lat=" + point.lat.toFixed(6))
        .then(function (res) { var f = res.data.features[0]; if (f && !address.value) address.value = f.properties.label; })
        .catch(function () {});
    }
    this.form.dataset.lon = point.lon; this.form.dataset.lat = point.lat;
    this.form.dataset.snapped = point.snapped ? "1" : "0";
    this.form.dataset.utility = this.utility.value;
    this.showResponsible();
    w.keepInView(L.latLng(point.lat, point.lon));
    (this.utility.value ? this.description : this.utility).focus({ preventScroll: true });
  };

  ReportForm.prototype.markChip = function () {
    var code = this.utility.value;
    Array.prototype.forEach.call(this.chips.children, function (c) {
      c.classList.toggle("on", c.dataset.utility === code);
      c.setAttribute("aria-pressed", String(c.dataset.utility === code));
    });
  };

  ReportForm.prototype.fillCategories = function () {
    var t = this.t, keep = this.category.value, codes = W.CATEGORIES[this.utility.value] || ["other"];
    this.category.textContent = "";
    [["", "—"]].concat(codes.map(function (c) { return [c, t.categories[c] || c]; })).forEach(function (o) {
      var opt = el("option", null, o[1]); opt.value = o[0]; this.category.appendChild(opt);
    }, this);
    if (codes.indexOf(keep) >= 0) this.category.value = keep;
    this.form.dataset.utility = this.utility.value;
    this.markChip();
  };

  ReportForm.prototype.showResponsible = function () {
    var self = this, w = this.w, p = this.point;
    this.preview.textContent = "";
    this.preview.dataset.rule = "";  // pending: tests and people wait for the answer
    if (!this.utility.value) return;
    var url = w.cfg.urls.responsible + "?lon=" + p.lon.toFixed(7) + "&lat=" + p.lat.toFixed(7) +
      "&utility=" + encodeURIComponent(this.utility.value) + (this.featureId ? "&feature_id=" + this.featureId : "");
    this.preview.textContent = "…";
    var asked = this.asked = url;
    w.request("GET", url).then(function (res) {
      if (asked === self.asked) w.renderResponsible(self.preview, res.data);
    }).catch(function (err) { if (asked === self.asked) self.preview.textContent = w.t.failed + err.message; });
  };

  ReportForm.prototype.save = function () {
    var self = this, w = this.w, t = this.t;
    this.message.textContent = "";
    if (!this.utility.value) { this.message.textContent = t.utilityNeeded; this.utility.focus(); return; }
    if (this.submit.disabled) return;
    var body = { lon: +this.point.lon.toFixed(7), lat: +this.point.lat.toFixed(7), utility: this.utility.value,
      kind: this.kind.value, priority: +this.priority.value, description: this.description.value };
    if (this.category.value) body.category = this.category.value;
    if (this.address.value) body.address = this.address.value;
    if (this.contact.value) body.reporter_contact = this.contact.value;
    if (this.featureId && this.utility.value === (this.preset.utility || this.point.utility)) body.feature_id = this.featureId;
    this.submit.disabled = true;
    return w.request("POST", w.cfg.urls.incidents, body).then(function (res) {
      self.close();
      w.say(t.created + " №" + res.data.id);
      w.mine[res.data.id] = true;
      document.body.dataset.lastCreated = String(res.data.id);
      w.refresh();
      w.loadQueue();
      w.showCard(res.data, res.etag);
      return res.data;
    }).catch(function (err) {
      self.submit.disabled = false;
      var d = err.body && err.body.details;
      self.message.textContent = t.failed + err.message + (d && d.field ? " (" + d.field + ")" : "");
    });
  };

  ReportForm.prototype.dirty = function () {
    return !!(this.description.value || this.address.value || this.contact.value);
  };

  ReportForm.prototype.close = function () {
    var w = this.w;
    w.map.removeLayer(this.marker);
    w.formBox.textContent = "";
    w.formBox.hidden = true;
    w.panel.classList.remove("reporting");
    if (window.innerWidth <= 600 && this.w.card.hidden) w.openPanel(false);
    document.body.classList.remove("gis-reporting");
    w.highlight.clearLayers();
    w.report = null;
  };

  /* Who is responsible and why; the candidates once per operator, with every rule that named it. */
  P.renderResponsible = function (box, r) {
    var t = this.t, self = this;
    box.textContent = "";
    // /api/responsible names the operator as text beside operator_id; an incident as an object.
    var op = typeof r.operator === "string" ? { id: r.operator_id, name: r.operator } : r.operator;
    var reason = this.lang === "en" && r.reason_en ? r.reason_en : r.reason;
    box.appendChild(el("div", "gis-responsible" + (op ? "" : " unresolved"),
      t.responsible + ": " + (op ? op.name || op.short_name : t.noOperator)));
    box.appendChild(el("div", "gis-reason", t.reason + ": " + (reason || "") +
      (r.rule ? " [" + this.word("rules", r.rule) + "]" : "")));
    var featureId = r.feature_id || (r.feature && r.feature.id);
    if (featureId) this.highlightFeature(featureId);
    var byOperator = [], index = {};
    (r.candidates || []).forEach(function (c) {
      var key = String(c.operator_id || c.operator);
      if (!(key in index)) { index[key] = byOperator.length; byOperator.push({ name: c.operator, rules: [], notes: [] }); }
      var entry = byOperator[index[key]];
      var rule = self.word("rules", c.rule) + (c.distance_m !== undefined ? " " + c.distance_m + (self.lang === "en" ? " m" : " м") : "");
      if (entry.rules.indexOf(rule) < 0) entry.rules.push(rule);
      var lost = self.lang === "en" ? c.lost_because_en : c.lost_because;
      if (lost && !entry.notes.length && entry !== byOperator[0]) entry.notes.push(lost);
    });
    if (byOperator.length) {
      var details = el("details", "gis-candidates-box");
      var ol = el("ol", "gis-candidates");
      byOperator.slice(0, 6).forEach(function (c) {
        var li = el("li", null, c.name + " — " + c.rules.join(", ") + (c.notes.length ? ": " + c.notes[0] : ""));
        ol.appendChild(li);
      });
      details.appendChild(el("summary", "gis-muted", t.candidates + " (" + byOperator.length + ")"));
      details.appendChild(ol);
      box.appendChild(details);
    }
    box.dataset.operator = op ? String(op.id) : "";
    box.dataset.rule = r.rule || "";
    return self;
  };

  P.highlightFeature = function (featureId) {
    var self = this;
    return this.request("GET", this.cfg.urls.feature.replace("__id__", featureId)).then(function (res) {
      self.highlight.eachLayer(function (l) { if (l.gisHighlight) self.highlight.removeLayer(l); });
      var layer = L.geoJSON(res.data, {
        interactive: false,
        style: { color: "#00e5ff", weight: 9, opacity: 0.8 },
        pointToLayer: function (f, latlng) { return L.circleMarker(latlng, { radius: 12, color: "#00e5ff", weight: 5, fill: false }); }
      });
      layer.gisHighlight = true;
      self.highlight.addLayer(layer);
      document.body.dataset.highlighted = String(featureId);
    }).catch(function () {});
  };
})();

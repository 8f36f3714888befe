/* The side panels of other roles: operator staff see the latest imports and edits of their
   layers; planners (and admins) an export panel for the view, a municipality or the oblast. */
(function () {
  "use strict";

  var G = window.GisIncidents, u = G.util, el = u.el, field = u.field, select = u.select, when = u.when;
  var Workbench = G.Workbench;

  /* Operator staff: the latest imports of their organisation's layers. */
  Workbench.prototype.loadImports = function () {
    var self = this, t = this.t;
    if (!this.cfg.urls.imports) return Promise.resolve();
    return this.request("GET", this.cfg.urls.imports + "?limit=5").then(function (res) {
      self.extras.textContent = "";
      self.extras.appendChild(el("h3", null, t.imports));
      var ul = el("ul", "gis-queue-list");
      if (!res.data.imports.length) ul.appendChild(el("li", "gis-muted", t.empty));
      res.data.imports.forEach(function (imp) {
        ul.appendChild(el("li", "gis-import", when(imp.started_at, self.lang) + " · " + imp.layer_id + " · " +
          imp.mode + (imp.dry_run ? " (dry run)" : "") + " · +" + imp.added + " ~" + imp.changed + " −" +
          imp.removed + " ✗" + imp.rejected + " · " + imp.status));
      });
      self.extras.appendChild(ul);
      if (self.cfg.urls.featureEdits) return self.loadEdits();
    });
  };

  /* Operator staff: the latest single-feature edits of their organisation (OGC API Part 4). */
  Workbench.prototype.loadEdits = function () {
    var self = this, t = this.t;
    return this.request("GET", this.cfg.urls.featureEdits + "?limit=5").then(function (res) {
      self.extras.appendChild(el("h3", null, t.edits));
      var ul = el("ul", "gis-queue-list");
      if (!res.data.feature_edits.length) ul.appendChild(el("li", "gis-muted", t.empty));
      res.data.feature_edits.forEach(function (e) {
        ul.appendChild(el("li", "gis-edit", when(e.at, self.lang) + " · " + e.layer_id + " · " +
          (e.external_id || "#" + e.feature_id) + " " + (t.editActions[e.action] || e.action) + " · " + e.username));
      });
      self.extras.appendChild(ul);
    });
  };


  /* --- planners: the export panel ---------------------------------------------------------- */
  Workbench.prototype.exportPanel = function () {
    var self = this, t = this.t, cfg = this.cfg, gis = this.gis;
    var form = el("form", "gis-export");
    form.id = "gis-export";
    form.appendChild(el("h3", null, t.exportTitle));
    var list = el("div", "gis-export-layers");
    gis.cfg.layers.forEach(function (layer) {
      var label = el("label");
      var box = el("input"); box.type = "checkbox"; box.name = "layer"; box.value = layer.id; box.checked = true;
      label.appendChild(box);
      label.appendChild(document.createTextNode(" " + layer.title));
      list.appendChild(label);
    });
    form.appendChild(list);
    var areas = [["view", t.exportView], ["", t.exportOblast]].concat(
      cfg.municipalities.map(function (m) { return [m.slug, m.name]; }));
    var area = select("area", areas, gis.cfg.municipalities.focus || "view");
    form.appendChild(field(t.exportArea, area));
    var operator = select("operator", [["", t.exportAnyOperator]], "");
    this.request("GET", cfg.urls.operators).then(function (res) {
      res.data.operators.forEach(function (o) {
        var opt = el("option", null, o.short_name); opt.value = o.slug; operator.appendChild(opt);
      });
    });
    form.appendChild(field(t.operator, operator));
    var format = select("format", [["gpkg", "GeoPackage"], ["geojson", "GeoJSON (zip)"], ["shp", "Shapefile (zip)"],
      ["csv", "CSV WKT (zip)"], ["fgb", "FlatGeobuf (zip)"]], "gpkg");
    form.appendChild(field(t.exportFormat, format));
    var link = el("a", "gis-primary", t.exportGo);
    link.id = "gis-export-link";
    var update = function () {
      var layers = Array.prototype.filter.call(list.querySelectorAll("input"), function (b) { return b.checked; })
        .map(function (b) { return b.value; });
      var q = ["format=" + format.value, "layers=" + layers.join(",")];
      if (area.value === "view") {
        var b = self.map.getBounds();
        q.push("bbox=" + [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(5); }).join(","));
      } else if (area.value) {
        q.push("municipality=" + encodeURIComponent(area.value));
      }
      if (operator.value) q.push("operator=" + encodeURIComponent(operator.value));
      link.href = cfg.urls.exports + "?" + q.join("&");
    };
    form.addEventListener("change", update);
    this.map.on("moveend", update);
    link.addEventListener("click", update);
    update();
    form.appendChild(link);
    this.panel.insertBefore(form, this.queue);
  };

})();

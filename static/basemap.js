/* The offline base map under the networks (cfg.basemap, from GIS_APP_BASEMAP_FILE): vector tiles
   of basemap/process.lua drawn by protomaps-leaflet in a muted style (greys and pale blues, so the
   coloured networks stand out), with street names, house numbers from zoom 17, places; or raster
   tiles as a plain tile layer. Attached by GisMap.start(). */
(function () {
  "use strict";

  function classIs(names) {
    return function (z, f) { return names.indexOf(f.props["class"]) >= 0; };
  }

  function muted(P) {
    var major = classIs(["motorway", "trunk", "primary", "motorway_link", "trunk_link", "primary_link"]);
    var middle = classIs(["secondary", "tertiary", "secondary_link", "tertiary_link"]);
    var minor = function (z, f) { return !major(z, f) && !middle(z, f); };
    var paint = [
      { dataLayer: "landuse", filter: classIs(["forest"]), symbolizer: new P.PolygonSymbolizer({ fill: "#e4ebe0" }) },
      { dataLayer: "landuse", filter: classIs(["park"]), symbolizer: new P.PolygonSymbolizer({ fill: "#e8eee4" }) },
      { dataLayer: "landuse", filter: classIs(["residential"]), symbolizer: new P.PolygonSymbolizer({ fill: "#efefec" }) },
      { dataLayer: "landuse", filter: classIs(["industrial"]), symbolizer: new P.PolygonSymbolizer({ fill: "#ebe9ee" }) },
      { dataLayer: "water", symbolizer: new P.PolygonSymbolizer({ fill: "#d4e3ee" }) },
      { dataLayer: "waterway", symbolizer: new P.LineSymbolizer({ color: "#c4d8e8", width: 1.5 }) },
      { dataLayer: "buildings", minzoom: 14, symbolizer: new P.PolygonSymbolizer({ fill: "#e0dedb", stroke: "#cfccc8", width: 0.5 }) },
      { dataLayer: "rail", symbolizer: new P.LineSymbolizer({ color: "#b8b8b8", width: 1.5, dash: [3, 3] }) },
      { dataLayer: "roads", filter: minor, minzoom: 12, symbolizer: new P.LineSymbolizer({ color: "#d6d6d6", width: P.exp(1.6, [[12, 0.8], [16, 6], [19, 14]]) }) },
      { dataLayer: "roads", filter: minor, minzoom: 12, symbolizer: new P.LineSymbolizer({ color: "#ffffff", width: P.exp(1.6, [[12, 0.4], [16, 4.5], [19, 12]]) }) },
      { dataLayer: "roads", filter: middle, symbolizer: new P.LineSymbolizer({ color: "#cfcfcf", width: P.exp(1.6, [[9, 0.8], [16, 8], [19, 16]]) }) },
      { dataLayer: "roads", filter: middle, symbolizer: new P.LineSymbolizer({ color: "#fbfbfb", width: P.exp(1.6, [[9, 0.4], [16, 6], [19, 14]]) }) },
      { dataLayer: "roads", filter: major, symbolizer: new P.LineSymbolizer({ color: "#c2c2c2", width: P.exp(1.6, [[6, 0.8], [16, 10], [19, 18]]) }) },
      { dataLayer: "roads", filter: major, symbolizer: new P.LineSymbolizer({ color: "#f6f3ea", width: P.exp(1.6, [[6, 0.5], [16, 8], [19, 16]]) }) }
    ];
    var label = [
      { dataLayer: "places", symbolizer: new P.CenteredTextSymbolizer({
          labelProps: ["name"], fill: "#555", stroke: "#fff", width: 2, fontFamily: "sans-serif",
          fontWeight: 600, fontSize: function (z) { return z < 11 ? 12 : 15; } }) },
      { dataLayer: "roads", minzoom: 14, symbolizer: new P.LineLabelSymbolizer({
          labelProps: ["name"], fill: "#666", stroke: "#fff", width: 2, fontFamily: "sans-serif", fontSize: 11 }) },
      { dataLayer: "waterway", minzoom: 13, symbolizer: new P.LineLabelSymbolizer({
          labelProps: ["name"], fill: "#7a9bb5", stroke: "#fff", width: 2, fontFamily: "sans-serif", fontSize: 11 }) },
      { dataLayer: "housenumbers", minzoom: 17, symbolizer: new P.CenteredTextSymbolizer({
          labelProps: ["housenumber"], fill: "#8a8580", stroke: "#fff", width: 1.5, fontFamily: "sans-serif", fontSize: 10 }) }
    ];
    return { paint: paint, label: label };
  }

  window.GisBasemap = {
    attach: function (gis) {
      var cfg = gis.cfg.basemap;
      if (!cfg) return null;
      var layer;
      var opts = { attribution: cfg.attribution, maxZoom: 20, minZoom: 0 };
      if (cfg.vector && window.protomapsL) {
        var style = muted(window.protomapsL);
        layer = window.protomapsL.leafletLayer({
          url: cfg.url, attribution: cfg.attribution, maxDataZoom: cfg.maxDataZoom,
          paintRules: style.paint, labelRules: style.label, backgroundColor: "#f5f5f3", maxZoom: 20
        });
      } else {
        layer = L.tileLayer(cfg.url, Object.assign(opts, { maxNativeZoom: cfg.maxDataZoom }));
      }
      layer.addTo(gis.map);
      // Under everything the networks draw (they live in the overlay and marker panes).
      if (layer.bringToBack) layer.bringToBack();
      gis.basemap = layer;
      return layer;
    }
  };
})();

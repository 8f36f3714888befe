"""The web map pages, built with Folium (Leaflet), Russian first.

The data never goes into the HTML: static/gis-map.js loads each layer from the API for the current
view. Every script and style sheet comes from this service (see vendor.py), so the page works in a
control centre's closed network; base tiles from the internet are optional (GIS_APP_BASEMAP_URL).
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, redirect, request, url_for
from markupsafe import escape

from gis_app.db import get_session, replica_ok
from gis_app.errors import NotFound
from gis_app.features.pages import layer_counts
from gis_app.incidents.board import charge_by_open
from gis_app.layers import layer_registry
from gis_app.places.municipalities import extent_of_everything, municipality, municipality_list
from gis_app.utilities import list_utilities
from gis_app.web.access import csrf_token, current_identity
from gis_app.web.assets import installed
from gis_app.web.basemap_config import client_config

maps = Blueprint("maps", __name__)

STRINGS = {
    "ru": {
        "title": "Карта сетей и инцидентов",
        "oblast": "Ленинградская область",
        "municipalities": "Муниципальные образования",
        "incidents": "Инциденты",
        "choose": "Муниципальное образование…",
        "mine": "Мои районы",
        "legend": "Условные обозначения",
        "demo": "Демонстрационные данные: организации и сети вымышлены.",
        "other_lang": "English",
        "logout": "Выйти",
        "password": "Смена пароля",
        "roles": {
            "admin": "администратор",
            "dispatcher": "диспетчер",
            "operator": "оператор",
            "planner": "планировщик",
        },
    },
    "en": {
        "title": "Utility networks and incidents",
        "oblast": "Leningrad Oblast",
        "municipalities": "Municipalities",
        "incidents": "Incidents",
        "choose": "Municipality…",
        "mine": "My districts",
        "legend": "Legend",
        "demo": "Demo data: the organisations and networks are invented.",
        "other_lang": "Русский",
        "logout": "Log out",
        "password": "Change password",
        "roles": {
            "admin": "admin",
            "dispatcher": "dispatcher",
            "operator": "operator staff",
            "planner": "planner",
        },
    },
}

# The page's own scripts after gis-map.js, in order: the workbench (docs/workbench.md), then the
# address search and the base map, which call its documented API.
WORKBENCH_SCRIPTS = (
    "incidents-words.js",
    "incidents.js",
    "incidents-report.js",
    "incidents-card.js",
    "incidents-queue.js",
    "incidents-panels.js",
    "address-search.js",  # the address search box (docs/addresses.md)
    "basemap.js",  # the offline base map (docs/basemap.md)
    "trace.js",  # "show what is cut off" (docs/network.md)
)

# Network layers are fetched by bbox only from this zoom on; below it the view holds too much.
NETWORK_MIN_ZOOM = 12
# A layer drawn from vector tiles shows from this zoom (a town); tiles stay small there.
TILES_MIN_ZOOM = 10


def _lang() -> str:
    return "en" if request.args.get("lang") == "en" else "ru"


def _vendor(path: str) -> str:
    return url_for("vendor.asset", package="leaflet", filename=path)


def _new_map(bounds: list[float]) -> "folium.Map":  # noqa: F821
    """A Leaflet map fitted to bounds [w, s, e, n], with every asset served locally."""
    # Imported here: folium brings pandas, which a worker serving only the API never needs.
    import folium

    west, south, east, north = bounds
    fmap = folium.Map(
        location=[(south + north) / 2, (west + east) / 2],
        zoom_start=8,
        tiles=None,
        control_scale=True,
        prefer_canvas=True,
        attribution_control=True,
    )
    # Folium links Leaflet, jQuery, Bootstrap and Font Awesome from CDNs by default; we need only
    # Leaflet, and from here.
    fmap.default_js = [("leaflet", _vendor("leaflet.js"))]
    if installed("vectorgrid", "Leaflet.VectorGrid.bundled.min.js"):
        fmap.default_js.append(
            (
                "vectorgrid",
                url_for(
                    "vendor.asset",
                    package="vectorgrid",
                    filename="Leaflet.VectorGrid.bundled.min.js",
                ),
            )
        )
    fmap.default_css = [("leaflet_css", _vendor("leaflet.css"))]
    # Leave room for the incident panel on the right.
    fmap.fit_bounds(
        [[south, west], [north, east]], padding_top_left=(20, 20), padding_bottom_right=(350, 20)
    )
    basemap = current_app.config["GIS_APP_BASEMAP_URL"]
    local = client_config()
    if local is not None:
        # The local archive (static/basemap.js draws it); vector tiles need protomaps-leaflet.
        if local["vector"]:
            fmap.default_js.append(
                (
                    "protomaps",
                    url_for("vendor.asset", package="protomaps", filename="protomaps-leaflet.js"),
                )
            )
    elif basemap:
        folium.TileLayer(
            basemap,
            attr=current_app.config["GIS_APP_BASEMAP_ATTRIBUTION"],
            name="Подложка",
            max_zoom=19,
        ).add_to(fmap)
    return fmap


def _utilities() -> dict[str, dict]:
    return {u["code"]: u for u in list_utilities(get_session())}


def build_page(bounds: list[float], focus: dict | None, show_networks: bool) -> str:
    """The whole HTML page: the map, its layers (empty, filled by the browser), legend, header."""
    import folium

    lang = _lang()
    s = STRINGS[lang]
    fmap = _new_map(bounds)
    munis = folium.FeatureGroup(name=s["municipalities"], show=True).add_to(fmap)
    utilities = _utilities()
    layers = sorted(
        layer_registry(),
        key=lambda layer: (utilities.get(layer.utility, {}).get("sort_order", 999), layer.id),
    )
    layer_cfg = []
    counts = layer_counts(get_session())
    for layer in layers:
        title = layer.title_ru if lang == "ru" else layer.title_en
        group = folium.FeatureGroup(name=title, show=show_networks).add_to(fmap)
        layer_cfg.append(
            {
                "id": layer.id,
                "group": group.get_name(),
                "title": title,
                "geometry": layer.geometry,
                "url": url_for("api.layer_geojson", layer_id=layer.id),
                "style": layer.style,
                "utility": layer.utility,
                "properties": [
                    {
                        "name": p.name,
                        "title": p.title_ru if lang == "ru" else p.title_en,
                        "unit": p.unit,
                        # Words for the allowed values (cast_iron → чугун), from the layer file.
                        "values": {
                            code: p.value_title(code, lang) for code, _, _ in p.allowed_titles
                        },
                    }
                    for p in layer.properties
                ],
                "minZoom": NETWORK_MIN_ZOOM,
                **_tiles_config(layer.id, counts.get(layer.id, 0)),
            }
        )
    incidents = folium.FeatureGroup(name=s["incidents"], show=True).add_to(fmap)
    folium.LayerControl(collapsed=True, position="topleft").add_to(fmap)

    config = {
        "map": fmap.get_name(),
        "lang": lang,
        "csrfToken": csrf_token(),
        "municipalities": {
            "group": munis.get_name(),
            "url": url_for("api.municipalities", simplify=30),
            "focus": focus["slug"] if focus else None,
            "mapUrl": url_for("maps.municipality_map", slug="__slug__"),
            "byDistrictUrl": url_for("api.incidents_by_district"),
        },
        "incidents": {
            "group": incidents.get_name(),
            "url": url_for("api.incidents"),
            "refreshSeconds": 30,
        },
        "layers": layer_cfg,
        "utilities": utilities,
        "workbench": _workbench_config(lang, utilities),
        "basemap": client_config(),
        "addresses": {
            "search": url_for("api.address_search"),
            "reverse": url_for("api.address_reverse"),
        },
    }
    root = fmap.get_root()
    place = (focus["name_ru"] if lang == "ru" else focus["name_en"]) if focus else s["oblast"]
    root.header.add_child(
        folium.Element(
            f"<title>{escape(place)} — {escape(s['title'])}</title>"
            f'<link rel="icon" href="{url_for("static", filename="favicon.svg")}">'
            f'<link rel="stylesheet" href="{url_for("static", filename="app.css")}">'
            f'<script src="{url_for("static", filename="gis-map.js")}"></script>'
            + "".join(
                f'<script src="{url_for("static", filename=name)}"></script>'
                for name in WORKBENCH_SCRIPTS
            )
        )
    )
    root.html.add_child(
        folium.Element(
            _header_html(s, lang, focus)
            + _legend_html(s, lang, layers, utilities)
            + '<aside class="gis-panel" id="gis-panel"><div id="gis-form" class="gis-form" hidden>'
            '</div><div id="gis-card" class="gis-card" hidden></div>'
            '<div id="gis-queue" class="gis-queue"></div></aside>'
        )
    )
    # The config is JSON inside a script: escape "</" so no value can close the tag.
    payload = json.dumps(config, ensure_ascii=False).replace("</", "<\\/")
    # Folium writes its own map script after ours: start once the whole page has run.
    root.script.add_child(
        folium.Element(
            f'document.addEventListener("DOMContentLoaded", function () {{ GisMap.init({payload}); }});'
        )
    )
    html = root.render()
    return html.replace("<html>", f'<html lang="{lang}">', 1)


def _workbench_config(lang: str, utilities: dict) -> dict:
    """What the incident workbench (static/incidents.js) needs: the user, the URLs, the choices."""
    identity = current_identity()
    return {
        "role": identity.role,
        "operatorId": identity.operator_id,
        "municipalityIds": list(identity.municipality_ids)
        if identity.municipality_ids is not None
        else None,
        "csrfToken": csrf_token(),
        "refreshSeconds": 15,
        "urls": {
            "incidents": url_for("api.incident_list"),
            "incidentsGeojson": url_for("api.incidents"),
            "incidentPoints": url_for("api.incident_points"),
            "incident": url_for("api.incident_detail", incident_id=0).replace("/0", "/__id__"),
            "responsible": url_for("api.responsible"),
            "addressReverse": url_for("api.address_reverse"),
            "reportPoint": url_for("api.report_point"),
            "operators": url_for("api.operators"),
            "feature": url_for("api.network_feature", feature_id=0).replace("/0", "/__id__"),
            "imports": url_for("api.imports_list"),
            "featureEdits": url_for("api.feature_edits_list"),
            "exports": url_for("api.export_download"),
        },
        "municipalities": [
            {"slug": m["slug"], "name": m["name_ru"] if lang == "ru" else m["name_en"]}
            for m in municipality_list(get_session())
        ],
        "utilities": [
            {"code": code, "name": u["name_ru"] if lang == "ru" else u["name_en"]}
            for code, u in utilities.items()
        ],
    }


def _tiles_config(layer_id: str, count: int) -> dict:
    """For a large layer: draw it from vector tiles (TileJSON URL, lower zoom) instead of GeoJSON."""
    if count < current_app.config["GIS_APP_TILES_FROM"] or not installed(
        "vectorgrid", "Leaflet.VectorGrid.bundled.min.js"
    ):
        return {}
    return {
        "tiles": url_for("tiles.tilejson", layer_id=layer_id),
        "items": url_for("ogc.items", collection_id=layer_id),
        "minZoom": TILES_MIN_ZOOM,
    }


def _header_html(s: dict, lang: str, focus: dict | None) -> str:
    options = []
    for m in municipality_list(get_session()):
        name = m["name_ru"] if lang == "ru" else m["name_en"]
        selected = " selected" if focus and focus["slug"] == m["slug"] else ""
        indent = "\u00a0\u00a0" if m["parent"] and m["kind"] != "oblast" else ""
        href = url_for("maps.municipality_map", slug=m["slug"], lang=lang if lang == "en" else None)
        options.append(f'<option value="{escape(href)}"{selected}>{indent}{escape(name)}</option>')
    place = (focus["name_ru"] if lang == "ru" else focus["name_en"]) if focus else s["oblast"]
    identity = current_identity()
    account = url_for("auth.password_page", lang=lang if lang == "en" else None)
    user = (
        f'<form class="gis-user" method="post" action="{url_for("auth.logout")}">'
        # The name leads to the user's account: the password change (docs/accounts.md).
        f'<span><a class="gis-account" href="{escape(account)}" title="{escape(s["password"])}">'
        f"{escape(identity.username)}</a> ({escape(s['roles'][identity.role])})</span> "
        f'<input type="hidden" name="csrf_token" value="{escape(csrf_token())}">'
        # Phones and tablets hide the name: the account stays one tap away (app.css).
        f'<a class="gis-account-icon" href="{escape(account)}" title="{escape(s["password"])}"'
        f' aria-label="{escape(s["password"])}">⚙</a>'
        f'<button type="submit">{escape(s["logout"])}</button></form>'
    )
    other = "ru" if lang == "en" else "en"
    return (
        '<header class="gis-header">'
        f'<a class="gis-brand" href="{url_for("maps.index", lang=lang if lang == "en" else None)}"'
        f' title="{escape(s["oblast"])}">{escape(s["title"])}</a>'
        f'<span class="gis-place">{escape(place)}</span>{_mine_html(s, lang, focus)}'
        # No inline handler (the Content-Security-Policy allows none): gis-map.js navigates.
        f'<select class="gis-muni" aria-label="{escape(s["choose"])}">'
        f'<option value="">{escape(s["choose"])}</option>{"".join(options)}</select>'
        f'<a class="gis-lang" href="?lang={other}">{escape(s["other_lang"])}</a>'
        f'<span class="gis-status" id="gis-status" role="status"></span>{user}'
        "</header>"
    )


def _mine_html(s: dict, lang: str, focus: dict | None) -> str:
    """A dispatcher's municipalities with their open incidents, each one click away."""
    identity = current_identity()
    if identity.role != "dispatcher" or not identity.municipality_ids:
        return ""
    links = []
    for m in charge_by_open(get_session(), identity.user_id)[:4]:
        href = url_for("maps.municipality_map", slug=m["slug"], lang=lang if lang == "en" else None)
        here = ' aria-current="page"' if focus and focus["slug"] == m["slug"] else ""
        name = m["name_ru"] if lang == "ru" else m["name_en"]
        links.append(
            f'<a href="{escape(href)}"{here} data-slug="{escape(m["slug"])}">{escape(name)}'
            f" <b>{m['open']}</b></a>"
        )
    return f'<nav class="gis-mine" aria-label="{escape(s["mine"])}">{"".join(links)}</nav>'


def _legend_html(s: dict, lang: str, layers, utilities: dict) -> str:
    rows = []
    for layer in layers:
        colour = layer.style.get("color", "#333")
        shape = "line" if layer.geometry == "LINESTRING" else "dot"
        title = layer.title_ru if lang == "ru" else layer.title_en
        rows.append(
            f'<li><i class="gis-swatch {shape}" style="--c:{escape(colour)}"></i>{escape(title)}</li>'
        )
    return (
        f'<aside class="gis-legend" aria-label="{escape(s["legend"])}"><h2>{escape(s["legend"])}</h2>'
        f'<ul>{"".join(rows)}</ul><ul class="gis-statuses"></ul>'
        f'<p class="gis-demo">{escape(s["demo"])}</p></aside>'
    )


def _page(html: str) -> Response:
    return Response(html, mimetype="text/html", headers={"Cache-Control": "no-cache"})


@maps.get("/start")
def start():
    """Where a login without a destination leads: a dispatcher of some municipalities to the one
    with the most open incidents (the others are one click away in the header), others to the
    oblast overview."""
    identity = current_identity()
    lang = "en" if _lang() == "en" else None
    if identity.role == "dispatcher" and identity.municipality_ids:
        charge = charge_by_open(get_session(), identity.user_id)
        if charge:
            return redirect(url_for("maps.municipality_map", slug=charge[0]["slug"], lang=lang))
    return redirect(url_for("maps.index", lang=lang))


@maps.get("/")
@replica_ok
def index():
    """The oblast overview: municipalities, open incidents; network layers off until zoomed in."""
    bounds = extent_of_everything(get_session()) or [27.7, 58.4, 35.7, 61.4]
    return _page(build_page(bounds, focus=None, show_networks=False))


@maps.get("/map/<slug>")
@replica_ok
def municipality_map(slug: str):
    """One municipality's map with every network layer on."""
    found = municipality(get_session(), slug)
    if found is None:
        raise NotFound(
            f"Муниципальное образование '{slug}' не найдено.",
            code="municipality_not_found",
            municipality=slug,
        )
    return _page(build_page(found["bbox"], focus=found, show_networks=True))

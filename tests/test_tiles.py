"""Vector tiles: TileJSON, tiles holding exactly the features of their area, simplification by
zoom, caching that never serves a stale tile, errors; and the web map drawing a large layer from
tiles in a real browser."""

from __future__ import annotations

import math
import threading

import mapbox_vector_tile
import pytest
from helpers import CHROMIUM_FLAGS
from playwright.sync_api import sync_playwright
from sqlalchemy import text
from test_maps import open_page
from werkzeug.serving import make_server

from gis_app import create_app

GATCHINA = (30.12, 59.56)


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    """The z/x/y of the Web Mercator tile holding a point."""
    n = 2**z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return z, int((lon + 180) / 360 * n), int(y)


def decode(data: bytes) -> dict:
    return mapbox_vector_tile.decode(data) if data else {}


def test_tilejson(get, session):
    doc = get("/tiles/power_lines.json").get_json()
    assert doc["tilejson"] == "3.0.0" and doc["scheme"] == "xyz"
    assert doc["tiles"][0].endswith(f"/tiles/power_lines/{{z}}/{{x}}/{{y}}.mvt?v={doc['version']}")
    fields = doc["vector_layers"][0]["fields"]
    assert doc["vector_layers"][0]["id"] == "power_lines"
    assert fields["voltage_kv"] == "Number" and fields["operator"] == "String"
    west, south, east, north = doc["bounds"]
    assert 27 < west < east < 36 and 58 < south < north < 62


def test_tile_holds_exactly_the_features_of_its_area(get, session):
    z, x, y = tile_of(*GATCHINA, 15)
    response = get(f"/tiles/water_mains/{z}/{x}/{y}.mvt")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.mapbox-vector-tile"
    layer = decode(response.data)["water_mains"]
    expected = set(
        session.execute(
            text(
                "SELECT id FROM network_features WHERE layer_id = 'water_mains' AND"
                " ST_Intersects(ST_Transform(geom, 3857), ST_TileEnvelope(:z, :x, :y))"
            ),
            {"z": z, "x": x, "y": y},
        ).scalars()
    )
    got = {f["id"] for f in layer["features"]}
    assert expected and expected <= got  # plus those within the 5% buffer
    props = layer["features"][0]["properties"]
    assert props["operator"].startswith("ДЕМО") and "diameter_mm" in props


def test_low_zoom_tiles_are_simplified(get, session):
    """A 400-vertex pipe wiggling by a metre keeps its vertices at z18, loses them at z10."""
    lon, lat = 30.30, 59.70  # an empty corner of the district
    coords = ", ".join(f"{lon + i * 0.00005} {lat + (i % 2) * 0.00001}" for i in range(400))
    fid = session.execute(
        text(
            "INSERT INTO network_features (layer_id, utility_code, operator_id, external_id,"
            " attributes, geom) VALUES ('water_mains', 'water', (SELECT min(id) FROM operators),"
            " 'wiggle', '{\"diameter_mm\": 100}', ST_GeomFromText(:g, 4326)) RETURNING id"
        ),
        {"g": f"LINESTRING({coords})"},
    ).scalar_one()
    session.flush()

    def vertices(z: int) -> int:
        zz, x, y = tile_of(lon + 0.005, lat, z)
        layer = decode(get(f"/tiles/water_mains/{zz}/{x}/{y}.mvt").data)["water_mains"]
        feature = next(f for f in layer["features"] if f["id"] == fid)
        geometry = feature["geometry"]
        parts = (
            geometry["coordinates"]
            if geometry["type"] == "MultiLineString"
            else [geometry["coordinates"]]
        )
        return sum(len(part) for part in parts)

    assert vertices(10) < 10 and vertices(18) > 20  # a z18 tile holds ~50 of its vertices
    # Below the tiles' minimum zoom a tile is empty instead of the whole oblast.
    assert get("/tiles/road_segments/3/4/2.mvt").data == b""


def test_tiles_are_never_stale(get, session):
    tj = get("/tiles/power_substations.json").get_json()
    z, x, y = tile_of(*GATCHINA, 13)
    current = get(tj["tiles"][0].replace("{z}/{x}/{y}", f"{z}/{x}/{y}").split("localhost")[1])
    assert current.headers["Cache-Control"] == "public, max-age=86400"
    bare = get(f"/tiles/power_substations/{z}/{x}/{y}.mvt")
    assert bare.headers["Cache-Control"] == "no-cache"
    etag = bare.headers["ETag"]
    again = get(f"/tiles/power_substations/{z}/{x}/{y}.mvt", **{"If-None-Match": etag})
    assert again.status_code == 304
    # An edit bumps the layer's revision: new tile URLs, and the old ETag no longer matches.
    session.execute(
        text(
            "UPDATE network_features SET name = 'ТП-1' WHERE id = (SELECT min(id)"
            " FROM network_features WHERE layer_id = 'power_substations')"
        )
    )
    session.flush()
    assert get("/tiles/power_substations.json").get_json()["version"] != tj["version"]
    stale = get(f"/tiles/power_substations/{z}/{x}/{y}.mvt?v={tj['version']}")
    assert stale.headers["Cache-Control"] == "no-cache"  # an old v is not cached
    fresh = get(f"/tiles/power_substations/{z}/{x}/{y}.mvt", **{"If-None-Match": etag})
    assert fresh.status_code == 200 and fresh.headers["ETag"] != etag
    # Other layers keep their version.
    assert (
        get("/tiles/water_mains.json").get_json()["version"]
        == get("/tiles/water_mains.json").get_json()["version"]
    )


@pytest.mark.parametrize(
    ("url", "status", "code"),
    [
        ("/tiles/gas/10/1/1.mvt", 404, "layer_not_found"),
        ("/tiles/gas.json", 404, "layer_not_found"),
        ("/tiles/water_mains/a/1/1.mvt", 400, "invalid_tile"),
        ("/tiles/water_mains/10/1024/1.mvt", 400, "invalid_tile"),
        ("/tiles/water_mains/-1/0/0.mvt", 400, "invalid_tile"),
        ("/tiles/water_mains/23/0/0.mvt", 400, "invalid_tile"),
    ],
)
def test_bad_tiles(get, url, status, code):
    response = get(url)
    assert response.status_code == status
    assert response.get_json()["code"] == code and response.get_json()["description"]


@pytest.fixture(scope="module")
def tiled_server(postgis_url):
    """The app with a low tile threshold, so the demo's larger layers are drawn from tiles."""
    app = create_app({"DATABASE_URL": postgis_url, "TESTING": True, "GIS_APP_TILES_FROM": 1500})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_map_draws_large_layers_from_tiles_offline(tiled_server, auth_headers, engine):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
        html = None
        try:
            page, problems, outside = open_page(
                browser, f"{tiled_server}/map/gatchina", tiled_server, auth_headers
            )
            tiles = []
            page.on("response", lambda r: tiles.append(r) if ".mvt" in r.url else None)
            page.wait_for_function(
                "() => document.body.dataset.tiles_road_segments", timeout=20_000
            )
            page.wait_for_function(
                "() => document.body.dataset.layer_gas_facilities > 0", timeout=20_000
            )
            page.wait_for_timeout(1500)
            html = page.content()
            assert any("/tiles/road_segments/" in r.url and r.status == 200 for r in tiles)
            # Small layers still come as GeoJSON; the large ones never do.
            assert "layer_road_segments" not in page.evaluate(
                "Object.keys(document.body.dataset).join(' ')"
            )
            assert "/vendor/vectorgrid/Leaflet.VectorGrid.bundled.min.js" in html
            # A click on a tiled layer asks /ogc for the feature under the pointer, for its popup.
            # Below the GeoJSON layers' zoom, so the click reaches the tiles, not a drawn feature.
            page.evaluate("gisMap.map.setZoom(11, {animate: false}) && null")
            # Incident markers lie above the tiles too: take them off for this click.
            page.evaluate("gisMap.map.removeLayer(window[gisMap.cfg.incidents.group]) && null")
            page.wait_for_timeout(2500)
            center = page.evaluate("[gisMap.map.getCenter().lng, gisMap.map.getCenter().lat]")
            with engine.connect() as conn:
                lon, lat, operator = conn.execute(
                    text(
                        "SELECT ST_X(p), ST_Y(p), o.short_name FROM (SELECT operator_id,"
                        " ST_LineInterpolatePoint(geom, 0.5) p FROM network_features"
                        " WHERE layer_id = 'road_segments' ORDER BY geom <-> ST_SetSRID("
                        "ST_MakePoint(:x, :y), 4326) LIMIT 1) f JOIN operators o ON o.id = f.operator_id"
                    ),
                    {"x": center[0], "y": center[1]},
                ).one()
            x, y = page.evaluate(
                "ll => { var p = gisMap.map.latLngToContainerPoint(L.latLng(ll[1], ll[0]));"
                " var r = gisMap.map.getContainer().getBoundingClientRect();"
                " return [p.x + r.left, p.y + r.top]; }",
                [lon, lat],
            )
            with page.expect_response(lambda r: "/ogc/collections/road_segments/items?" in r.url):
                page.mouse.click(x, y)
            popup = page.locator(".leaflet-popup-content .gis-popup", has_text=operator)
            popup.first.wait_for(timeout=10_000)
            assert problems == [] and outside == []
        finally:
            browser.close()


def test_low_zoom_tiles_carry_only_the_id_and_the_styling_attribute(get):
    z, x, y = tile_of(*GATCHINA, 10)
    layer = decode(get(f"/tiles/power_lines/{z}/{x}/{y}.mvt").data)["power_lines"]
    assert layer["features"]
    assert {k for f in layer["features"] for k in f["properties"]} == {"fid", "voltage_kv"}
    assert all(f["properties"]["fid"] == f["id"] for f in layer["features"])
    z, x, y = tile_of(*GATCHINA, 14)
    full = decode(get(f"/tiles/power_lines/{z}/{x}/{y}.mvt").data)["power_lines"]
    assert {"fid", "operator", "voltage_kv", "external_id"} <= set(
        full["features"][0]["properties"]
    )

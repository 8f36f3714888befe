"""The offline base map: a tiny archive built by tilemaker from the tests' own OSM extract, served
from MBTiles (and PMTiles by HTTP ranges), drawn by the map page in Chromium with every outside
request blocked."""

from __future__ import annotations

import gzip
import math
import shutil
import subprocess
import threading

import mapbox_vector_tile
import pytest
from addresses.osm_extract import building_centre, write_pbf
from helpers import assert_error
from test_workbench import Session_
from werkzeug.serving import make_server

from gis_app import create_app
from gis_app.config import PROJECT_ROOT, ConfigError, load_config

BASEMAP = PROJECT_ROOT / "basemap"


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The XYZ tile column and row holding lon, lat at zoom z."""
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


@pytest.fixture(scope="module")
def mbtiles(tmp_path_factory):
    """The test extract made into an MBTiles archive with our tilemaker config and Lua."""
    if shutil.which("tilemaker") is None:
        pytest.skip("tilemaker is not installed (`make test` installs it)")
    folder = tmp_path_factory.mktemp("basemap")
    pbf = write_pbf(folder)
    assert pbf is not None, "osmium-tool is needed to write PBF (`make test` installs it)"
    target = folder / "gatchina.mbtiles"
    subprocess.run(
        ["tilemaker", "--input", str(pbf), "--output", str(target),
         "--config", str(BASEMAP / "config.json"), "--process", str(BASEMAP / "process.lua")],
        check=True, capture_output=True, cwd=folder,
    )  # fmt: skip
    return target


@pytest.fixture(scope="module")
def basemap_app(postgis_url, mbtiles):
    return create_app(
        {
            "DATABASE_URL": postgis_url,
            "TESTING": True,
            "GIS_APP_BASEMAP_FILE": str(mbtiles),
            "GIS_APP_LOGIN_MAX_FAILURES_PER_ADDRESS": 1_000_000,
        }
    )


def _decoded(response) -> dict:
    data = response.data
    if response.headers.get("Content-Encoding") == "gzip":
        data = gzip.decompress(data)
    return mapbox_vector_tile.decode(data)


def test_tiles_carry_streets_buildings_and_house_numbers(basemap_app):
    client = basemap_app.test_client()
    x, y = tile_of(*building_centre("улица Чехова", "5"), 14)
    r = client.get(f"/basemap/14/{x}/{y}.pbf", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.mimetype == "application/vnd.mapbox-vector-tile"
    assert r.headers["Content-Encoding"] == "gzip" and "max-age" in r.headers["Cache-Control"]
    layers = _decoded(r)
    names = {f["properties"].get("name") for f in layers["roads"]["features"]}
    assert "улица Чехова" in names
    numbers = {f["properties"]["housenumber"] for f in layers["housenumbers"]["features"]}
    assert {"5", "5А", "7"} <= numbers
    assert layers["buildings"]["features"] and "rail" in layers
    # A client that does not take gzip gets the plain tile; an unchanged tile is a 304.
    plain = client.get(f"/basemap/14/{x}/{y}.pbf")
    assert "Content-Encoding" not in plain.headers and _decoded(plain) == layers
    again = client.get(f"/basemap/14/{x}/{y}.pbf", headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304
    # Where the archive has nothing: 204, not an error.
    assert client.get("/basemap/14/0/0.pbf").status_code == 204
    assert_error(client.get(f"/basemap/14/{x}/{y}.png"), 400, "invalid_tile")
    assert_error(client.get("/basemap/3/9/0.pbf"), 400, "invalid_tile")
    assert client.get("/basemap/archive.pmtiles").status_code == 404


def test_without_an_archive_there_is_no_basemap(client):
    assert_error(client.get("/basemap/14/0/0.pbf"), 404, "basemap_not_found")


def test_a_bad_basemap_file_is_refused_at_start(tmp_path):
    wrong = tmp_path / "map.zip"
    wrong.write_bytes(b"x")
    for value in (str(wrong), str(tmp_path / "missing.mbtiles")):
        with pytest.raises(ConfigError, match="GIS_APP_BASEMAP_FILE"):
            load_config({"GIS_APP_BASEMAP_FILE": value})


def test_pmtiles_are_served_by_ranges(postgis_url, mbtiles, tmp_path):
    pmtiles_convert = pytest.importorskip("pmtiles.convert")
    target = tmp_path / "gatchina.pmtiles"
    pmtiles_convert.mbtiles_to_pmtiles(str(mbtiles), str(target), maxzoom=None)
    app = create_app(
        {"DATABASE_URL": postgis_url, "TESTING": True, "GIS_APP_BASEMAP_FILE": str(target)}
    )
    client = app.test_client()
    whole = target.read_bytes()
    r = client.get("/basemap/archive.pmtiles", headers={"Range": "bytes=0-126"})
    r.get_data()
    r.close()  # send_file's open file
    assert r.status_code == 206 and r.data == whole[:127] and r.data.startswith(b"PMTiles")
    assert r.headers["Content-Range"] == f"bytes 0-126/{len(whole)}"


@pytest.fixture(scope="module")
def basemap_server(basemap_app):
    server = make_server("127.0.0.1", 0, basemap_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_the_map_draws_the_base_map_offline(browser, basemap_server):
    tiles: list[tuple[int, str, int]] = []
    user = Session_(browser, basemap_server, "dispatcher-gatchina")
    page = user.page
    page.on(
        "response",
        lambda r: (
            tiles.append((r.status, r.url, len(r.body()) if r.status == 200 else 0))
            if "/basemap/" in r.url
            else None
        ),
    )
    lon, lat = building_centre("улица Чехова", "5")
    page.evaluate(f"gisMap.map.setView([{lat}, {lon}], 17, {{animate: false}}) && null")
    page.wait_for_function(
        "() => document.querySelectorAll('.leaflet-tile-pane canvas.leaflet-tile-loaded').length > 0",
        timeout=20_000,
    )
    page.wait_for_timeout(1500)  # labels are placed after the tiles load
    assert any(status == 200 and size > 0 for status, _, size in tiles), tiles
    assert all(status in (200, 204, 304) for status, _, _ in tiles), tiles
    # Zoom 17 is drawn from the archive's deepest zoom (14), house numbers included.
    assert any("/basemap/14/" in url for _, url, _ in tiles)
    # The tiles were drawn: canvases hold more than the background colour.
    colours = page.evaluate(
        """(() => {
          const seen = new Set();
          for (const c of document.querySelectorAll('.leaflet-tile-pane canvas')) {
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            for (let i = 0; i < d.length; i += 4 * 97) seen.add(d[i] + ',' + d[i+1] + ',' + d[i+2]);
          }
          return seen.size; })()"""
    )
    assert colours > 5
    attribution = page.locator(".leaflet-control-attribution").inner_text()
    assert "© OpenStreetMap contributors" in attribution
    # The base map is under the networks: its pane is the tile pane, below the overlays.
    assert page.evaluate("gisMap.basemap.getPane() === gisMap.map.getPanes().tilePane")
    assert user.problems == [], user.problems
    user.context.close()

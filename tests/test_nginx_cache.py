"""deploy/nginx-gis-app.conf with Debian's nginx in front of the app: the second request of a tile
is served by nginx's cache (it reaches neither the app nor its auth check), an unauthenticated
client gets no cached tile, and after an import the TileJSON names a new URL whose tile holds
the new feature."""

from __future__ import annotations

import math
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from helpers import app_process
from pg_clusters import free_port
from sqlalchemy import create_engine, text

from gis_app import config

CONF = config.PROJECT_ROOT / "deploy" / "nginx-gis-app.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
LON, LAT = 30.0512, 59.4711  # an empty spot near Gatchina, where the test imports one main


def _tile(z: int, lon: float, lat: float) -> tuple[int, int]:
    x = int((lon + 180) / 360 * 2**z)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z)
    return x, y


def _listens(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def served(postgis_url, tokens):
    """The app in its own process (its request log kept) behind nginx; (nginx URL, log path)."""
    folder = Path(tempfile.mkdtemp(prefix="gis_app_nginx_"))
    log = folder / "app.log"
    with log.open("w") as out, app_process(postgis_url, output=out) as app_url:
        port = free_port(18080)
        site = CONF.read_text()
        for old, new in (("listen 80;", f"listen 127.0.0.1:{port};"),
                         ("server 127.0.0.1:8000;", f"server {app_url.removeprefix('http://')};"),
                         ("/var/cache/nginx/gis_app", str(folder / "cache"))):  # fmt: skip
            assert old in site, old
            site = site.replace(old, new)
        (folder / "gis-app.conf").write_text(site)
        (folder / "cache").mkdir()
        temp = "\n".join(
            f"  {kind}_temp_path {folder / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")  # fmt: skip
        )
        (folder / "nginx.conf").write_text(
            ("user root;\n" if os.geteuid() == 0 else "")
            + f"daemon off;\nworker_processes 1;\npid {folder}/nginx.pid;\n"
            f"error_log {folder}/error.log;\nevents {{ worker_connections 64; }}\n"
            f"http {{\n  access_log {folder}/access.log;\n{temp}\n"
            f"  include {folder}/gis-app.conf;\n}}\n"
        )
        nginx = subprocess.Popen([NGINX, "-p", str(folder), "-e", str(folder / "error.log"),
                                  "-c", str(folder / "nginx.conf")])  # fmt: skip
        try:
            deadline = time.monotonic() + 20
            while not _listens(port):
                assert nginx.poll() is None, (folder / "error.log").read_text()
                assert time.monotonic() < deadline
                time.sleep(0.1)
            yield f"http://127.0.0.1:{port}", log
        finally:
            nginx.terminate()
            nginx.wait(10)
            shutil.rmtree(folder, ignore_errors=True)


def _get(url: str, token: str | None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def _app_requests(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if '"GET ' in line]


def _tile_url(base: str, token: str, z: int) -> str:
    status, _, body = _get(f"{base}/tiles/water_mains.json", token)
    assert status == 200
    import json

    template = json.loads(body)["tiles"][0]
    x, y = _tile(z, LON, LAT)
    assert template.startswith(base), template  # the public (nginx) address
    return template.replace("{z}", str(z)).replace("{x}", str(x)).replace("{y}", str(y))


def test_the_second_request_of_a_tile_never_reaches_the_app(served, tokens):
    base, log = served
    token = tokens["admin"]
    url = _tile_url(base, token, 14)
    status, headers, first = _get(url, token)
    assert status == 200 and headers["X-Cache-Status"] == "MISS"
    assert headers["Cache-Control"] == "public, max-age=86400"
    before = len(_app_requests(log))
    assert any("/tiles/water_mains/14/" in line for line in _app_requests(log))  # logged: counted
    for _ in range(3):
        status, headers, again = _get(url, token)
        assert status == 200 and headers["X-Cache-Status"] == "HIT" and again == first
    assert len(_app_requests(log)) == before, _app_requests(log)[before:]
    # A cached tile is still not for anyone: no credentials, or wrong ones, get 401.
    assert _get(url, None)[0] == 401
    assert _get(url, "not-a-token")[0] == 401


def test_after_an_import_the_new_tile_is_served(served, tokens, postgis_url):
    base, log = served
    token = tokens["admin"]
    old_url = _tile_url(base, token, 14)
    status, headers, old_tile = _get(old_url, token)
    assert status == 200 and b"NGINX-1" not in old_tile
    assert _get(old_url, token)[1]["X-Cache-Status"] == "HIT"
    feature = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"external_id": "NGINX-1", "diameter_mm": 150},
        "geometry": {"type": "LineString", "coordinates": [[LON - 0.001, LAT], [LON + 0.001, LAT]]},
    }]}  # fmt: skip
    import json

    request = urllib.request.Request(
        f"{base}/api/layers/water_mains/import?mode=append", data=json.dumps(feature).encode(),
        method="POST", headers={"Authorization": f"Bearer {tokens['operator']}",
                                "Content-Type": "application/geo+json"},
    )  # fmt: skip
    engine = create_engine(config.sqlalchemy_url(postgis_url))
    with engine.connect() as conn:
        last_import = conn.execute(text("SELECT coalesce(max(id), 0) FROM imports")).scalar()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            assert response.status in (200, 201), response.read()
        new_url = _tile_url(base, token, 14)
        assert new_url != old_url  # the revision moved
        status, headers, new_tile = _get(new_url, token)
        assert status == 200 and headers["X-Cache-Status"] == "MISS"
        assert b"NGINX-1" in new_tile
        assert _get(new_url, token)[1]["X-Cache-Status"] == "HIT"
    finally:
        with engine.begin() as conn:  # the test database is shared by the run: undo the import
            conn.execute(text("DELETE FROM network_features WHERE external_id = 'NGINX-1'"))
            conn.execute(text("DELETE FROM imports WHERE id > :i"), {"i": last_import})
        engine.dispose()

"""Settings: documented in the README, validated at start-up with the setting named."""

from __future__ import annotations

import pytest
from helpers import post_login
from sqlalchemy import text

from gis_app import create_app
from gis_app.config import PROJECT_ROOT, SETTINGS, ConfigError, load_config


def test_every_setting_is_in_the_readme_table():
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    for name in SETTINGS:
        assert f"| `{name}` |" in readme, name


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL"),
        ({"GIS_APP_LAYERS_DIR": "/nonexistent"}, "GIS_APP_LAYERS_DIR"),
        ({"GIS_APP_MAX_FEATURES": "many"}, "GIS_APP_MAX_FEATURES"),
        ({"GIS_APP_DEFAULT_FEATURES": 0}, "GIS_APP_DEFAULT_FEATURES"),
        ({"GIS_APP_PROXY_HOPS": -1}, "GIS_APP_PROXY_HOPS"),
    ],
)
def test_bad_setting_is_refused_by_name(postgis_url, overrides, named):
    with pytest.raises(ConfigError, match=named):
        load_config({"DATABASE_URL": postgis_url, **overrides})


def test_bad_layer_folder_stops_start_up(postgis_url, tmp_path):
    (tmp_path / "broken.toml").write_text('id = "broken"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="broken.toml"):
        create_app({"DATABASE_URL": postgis_url, "GIS_APP_LAYERS_DIR": str(tmp_path)})


def test_basemap_is_optional_and_attributed(postgis_url, auth_headers):
    app = create_app(
        {
            "DATABASE_URL": postgis_url,
            "GIS_APP_BASEMAP_URL": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        }
    )
    html = app.test_client().get("/map/gatchina", headers=auth_headers).get_data(as_text=True)
    assert "tile.openstreetmap.org" in html and "OpenStreetMap contributors" in html


FORWARDED = {
    "X-Forwarded-For": "203.0.113.7",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "gis.example.ru",
}


def test_behind_a_proxy_links_are_the_public_ones(postgis_url, tokens):
    """With GIS_APP_PROXY_HOPS=1 (nginx in front, TLS ending there) OGC links name the public
    scheme and host, so QGIS follows them; without it the same headers are ignored."""
    headers = {"Authorization": f"Bearer {tokens['planner']}", **FORWARDED}
    proxied = create_app({"DATABASE_URL": postgis_url, "GIS_APP_PROXY_HOPS": 1}).test_client()
    links = proxied.get("/ogc/collections/power_lines/items?limit=1", headers=headers).get_json()
    hrefs = [link["href"] for link in links["links"]]
    assert hrefs and all(h.startswith("https://gis.example.ru/ogc/") for h in hrefs), hrefs
    direct = create_app({"DATABASE_URL": postgis_url}).test_client()
    links = direct.get("/ogc/collections/power_lines/items?limit=1", headers=headers).get_json()
    assert all(link["href"].startswith("http://localhost/ogc/") for link in links["links"])


def test_behind_a_proxy_login_limits_count_the_client_address(postgis_url, engine):
    proxied = create_app({"DATABASE_URL": postgis_url, "GIS_APP_PROXY_HOPS": 1}).test_client()
    try:
        answer = post_login(proxied, username="nobody-proxy", password="x", _headers=FORWARDED)
        assert answer.status_code == 401
        with engine.connect() as conn:
            address = conn.execute(
                text("SELECT address FROM login_failures WHERE username = 'nobody-proxy'")
            ).scalar()
        assert address == "203.0.113.7"
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM login_failures WHERE username = 'nobody-proxy'"))

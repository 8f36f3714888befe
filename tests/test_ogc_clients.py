"""Real OGC API - Features clients read every collection over HTTP: OWSLib, and GDAL's OAPIF
driver (pyogrio's bundled GDAL), with the auth headers a deployment needs."""

from __future__ import annotations

import pyogrio
import pytest
from owslib.ogcapi.features import Features
from sqlalchemy import text

GATCHINA = (30.11, 59.555, 30.14, 59.575)


@pytest.fixture
def gdal_headers(auth_headers):
    """GDAL sends the auth headers on every HTTP request of this test.

    The OAPIF driver sets its own Accept header, which replaces GDAL_HTTP_HEADERS; a bearer token
    therefore goes through GDAL_HTTP_AUTH=BEARER, any other header through GDAL_HTTP_HEADERS.
    """
    options: dict = {"GDAL_HTTP_AUTH": None, "GDAL_HTTP_BEARER": None, "GDAL_HTTP_HEADERS": None}
    others = dict(auth_headers)
    scheme, _, token = others.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        others.pop("Authorization")
        options.update(GDAL_HTTP_AUTH="BEARER", GDAL_HTTP_BEARER=token)
    if others:
        options["GDAL_HTTP_HEADERS"] = "\r\n".join(f"{k}: {v}" for k, v in others.items())
    pyogrio.set_gdal_config_options(options)
    yield
    pyogrio.set_gdal_config_options(dict.fromkeys(options))


def test_owslib_reads_every_collection(live_server, auth_headers, counts):
    api = Features(f"{live_server}/ogc", headers=auth_headers)
    assert (
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
        in (api.conformance()["conformsTo"])
    )
    ids = [c["id"] for c in api.collections()["collections"]]
    assert {"power_lines", "road_segments", "incidents", "municipalities"} <= set(ids)
    for cid in ids:
        items = api.collection_items(cid, limit=5)
        assert items["type"] == "FeatureCollection"
        assert (
            items["numberReturned"] == min(5, counts[cid]) and items["numberMatched"] == counts[cid]
        )
    lines = api.collection_items("power_lines", bbox=list(GATCHINA), limit=10000, voltage_kv=10)
    assert lines["features"] and all(f["properties"]["voltage_kv"] == 10 for f in lines["features"])
    one = api.collection_item("power_lines", str(lines["features"][0]["id"]))
    assert one["properties"]["operator"].startswith("ДЕМО")


def test_gdal_oapif_reads_every_collection(process_server, gdal_headers, counts):
    source = f"OAPIF:{process_server}/ogc"
    layers = [name for name, _ in pyogrio.list_layers(source)]
    assert set(counts) <= set(layers)
    for name in layers:
        frame = pyogrio.read_dataframe(source, layer=name)
        assert len(frame) == counts[name], name
        assert frame.crs.to_epsg() in (4326, None) or frame.crs.to_string() == "OGC:CRS84"
    lines = pyogrio.read_dataframe(source, layer="power_lines")
    assert lines["voltage_kv"].dtype.kind == "f" and lines["year_built"].dtype.kind in "iu"
    assert lines["operator"].str.startswith("ДЕМО").all()  # Cyrillic survives


def test_gdal_oapif_bbox_and_paging(process_server, gdal_headers, engine):
    source = f"OAPIF:{process_server}/ogc"
    with engine.connect() as conn:
        expected = conn.execute(
            text(
                "SELECT count(*) FROM network_features WHERE layer_id = 'road_segments'"
                " AND ST_Intersects(geom, ST_MakeEnvelope(:w, :s, :e, :n, 4326))"
            ),
            dict(zip("wsen", GATCHINA, strict=True)),
        ).scalar()
    frame = pyogrio.read_dataframe(source, layer="road_segments", bbox=GATCHINA)
    assert len(frame) == expected > 0
    # Pages of 500 (a client limit below the server's maximum): every feature once.
    pyogrio.set_gdal_config_options({"OAPIF_PAGE_SIZE": "500"})
    try:
        paged = pyogrio.read_dataframe(source, layer="road_segments")
    finally:
        pyogrio.set_gdal_config_options({"OAPIF_PAGE_SIZE": None})
    assert paged["id"].is_unique if "id" in paged else paged.index.is_unique
    with engine.connect() as conn:
        total = conn.execute(
            text("SELECT count(*) FROM network_features WHERE layer_id = 'road_segments'")
        ).scalar()
    assert len(paged) == total


def test_gdal_oapif_with_user_and_token_as_password(process_server, tokens, counts):
    """GDAL_HTTP_USERPWD (HTTP Basic): the user name and an API token as the password."""
    pyogrio.set_gdal_config_options({"GDAL_HTTP_USERPWD": f"planner:{tokens['planner']}"})
    try:
        frame = pyogrio.read_dataframe(f"OAPIF:{process_server}/ogc", layer="power_lines")
    finally:
        pyogrio.set_gdal_config_options({"GDAL_HTTP_USERPWD": None})
    assert len(frame) == counts["power_lines"]


def test_owslib_with_user_and_token_as_password(live_server, tokens, counts):
    """OWSLib's Authentication(username, password): HTTP Basic with an API token as password."""
    from owslib.util import Authentication

    api = Features(f"{live_server}/ogc", auth=Authentication("planner", tokens["planner"]))
    items = api.collection_items("water_mains", limit=5)
    assert items["numberReturned"] == 5 and items["numberMatched"] == counts["water_mains"]
    wrong = Features(f"{live_server}/ogc", auth=Authentication("planner", "demo-2026"))
    with pytest.raises(Exception, match="401"):
        wrong.collection_items("water_mains", limit=5)

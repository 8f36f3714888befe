"""GET /api/layers/<layer>.geojson: exactly the features that intersect the bbox; clear errors."""

from __future__ import annotations

import pytest
from helpers import assert_error, assert_feature_collection
from shapely import box, from_wkt, wkt
from shapely.geometry import shape
from sqlalchemy import text

GATCHINA_BBOX = (30.11, 59.555, 30.14, 59.575)


def all_features(session, layer_id):
    rows = session.execute(
        text("SELECT id, ST_AsText(geom) FROM network_features WHERE layer_id = :l"),
        {"l": layer_id},
    ).all()
    return {row[0]: wkt.loads(row[1]) for row in rows}


@pytest.mark.parametrize("layer_id", ["water_mains", "power_substations", "road_segments"])
def test_bbox_returns_exactly_the_intersecting_features(client, session, layer_id):
    bbox = box(*GATCHINA_BBOX)
    expected = {
        fid for fid, geom in all_features(session, layer_id).items() if geom.intersects(bbox)
    }
    assert len(expected) > 10
    body = assert_feature_collection(
        client.get(
            f"/api/layers/{layer_id}.geojson?bbox={','.join(map(str, GATCHINA_BBOX))}&limit=10000"
        )
    )
    got = {f["id"] for f in body["features"]}
    assert got == expected
    assert body["numberReturned"] == len(expected)
    assert body["links"] == []


def test_edge_cases_of_intersection(client, session):
    """A line crossing the bbox with no vertex inside is in; one whose envelope overlaps the bbox
    but which passes outside its corner is out."""
    operator_id = session.execute(text("SELECT id FROM operators ORDER BY id LIMIT 1")).scalar_one()
    minx, miny, maxx, maxy = 30.50, 59.70, 30.51, 59.71  # an empty corner of the district
    crossing = f"LINESTRING({minx - 0.01} {miny + 0.005}, {maxx + 0.01} {miny + 0.005})"
    corner_miss = f"LINESTRING({maxx - 0.001} {maxy + 0.005}, {maxx + 0.005} {maxy - 0.001})"
    ids = {}
    for name, geom in (("crossing", crossing), ("miss", corner_miss)):
        ids[name] = session.execute(
            text(
                "INSERT INTO network_features (layer_id, utility_code, operator_id, external_id, attributes,"
                " geom) VALUES ('water_mains', 'water', :op, :ext, '{\"diameter_mm\": 100}',"
                " ST_GeomFromText(:g, 4326)) RETURNING id"
            ),
            {"op": operator_id, "ext": name, "g": geom},
        ).scalar_one()
    assert from_wkt(corner_miss).envelope.intersects(box(minx, miny, maxx, maxy))
    body = assert_feature_collection(
        client.get(f"/api/layers/water_mains.geojson?bbox={minx},{miny},{maxx},{maxy}")
    )
    assert [f["id"] for f in body["features"]] == [ids["crossing"]]


def test_features_are_rfc7946(client):
    body = assert_feature_collection(
        client.get("/api/layers/power_lines.geojson?bbox=30.11,59.555,30.14,59.575&limit=50")
    )
    feature = body["features"][0]
    lon, lat = feature["geometry"]["coordinates"][0]
    assert 30.0 < lon < 30.3 and 59.4 < lat < 59.7  # lon, lat order
    props = feature["properties"]
    assert props["layer"] == "power_lines" and props["utility"] == "electricity"
    assert props["operator"].startswith("ДЕМО")
    assert props["voltage_kv"] in (0.4, 10.0, 110.0)
    assert shape(feature["geometry"]).is_valid
    # The members of the answer, exactly (RFC 7946 makes a collection's "bbox" optional; we send
    # none), and every feature really intersects the box asked for.
    assert set(body) == {"type", "features", "numberReturned", "links"}
    asked = box(30.11, 59.555, 30.14, 59.575)
    assert body["features"] and all(
        shape(f["geometry"]).intersects(asked) for f in body["features"]
    )


def test_paging_by_next_links_visits_every_feature_once(client, session):
    bbox = "30.10,59.55,30.15,59.58"
    whole = assert_feature_collection(
        client.get(f"/api/layers/sewers.geojson?bbox={bbox}&limit=10000")
    )
    url, seen, pages = f"/api/layers/sewers.geojson?bbox={bbox}&limit=37", [], 0
    while url:
        body = assert_feature_collection(client.get(url))
        assert body["numberReturned"] == len(body["features"]) <= 37
        seen += [f["id"] for f in body["features"]]
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        url = nxt[0].replace("http://localhost", "") if nxt else None
        pages += 1
    assert pages > 2
    assert seen == [f["id"] for f in whole["features"]]
    assert len(seen) == len(set(seen))


def test_layer_list_and_metadata(client):
    layers = client.get("/api/layers").get_json()["layers"]
    assert {
        "power_lines",
        "water_mains",
        "gas_pipelines",
        "heat_pipes",
        "sewers",
        "road_segments",
    } <= {layer["id"] for layer in layers}
    meta = client.get("/api/layers/gas_pipelines").get_json()
    assert meta["count"] > 100 and meta["utility"] == "gas"
    west, south, east, north = meta["extent"]
    assert 27 < west < east < 36 and 58 < south < north < 62
    assert meta["title"]["ru"] == "Газопроводы"


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("bbox=1,2,3", "invalid_bbox"),
        ("bbox=a,b,c,d", "invalid_bbox"),
        ("bbox=30.2,59.5,30.1,59.6", "invalid_bbox"),
        ("bbox=30.1,59.6,30.2,59.5", "invalid_bbox"),
        ("bbox=30,59,200,60", "invalid_bbox"),
        ("bbox=nan,59,30,60", "invalid_bbox"),
        ("limit=0", "invalid_parameter"),
        ("limit=-5", "invalid_parameter"),
        ("limit=ten", "invalid_parameter"),
        ("limit=100000", "invalid_parameter"),
        ("after=x", "invalid_parameter"),
    ],
)
def test_bad_parameters_get_400_naming_the_parameter(client, query, code):
    body = assert_error(client.get(f"/api/layers/water_mains.geojson?{query}"), 400, code)
    assert body["details"]["parameter"] in query


def test_unknown_layer_is_404_listing_the_layers(client):
    body = assert_error(client.get("/api/layers/gas.geojson"), 404, "layer_not_found")
    assert body["details"]["layer"] == "gas"
    assert "gas_pipelines" in body["details"]["layers"]
    assert_error(client.get("/api/layers/nope"), 404, "layer_not_found")


def test_municipalities_and_utilities(client):
    fc = client.get("/api/municipalities.geojson?simplify=30").get_json()
    slugs = {f["properties"]["slug"] for f in fc["features"]}
    assert {"leningrad-oblast", "gatchina", "sosnovy-bor", "gatchinsky"} <= slugs
    gatchina = client.get("/api/municipalities/gatchina").get_json()
    assert gatchina["oktmo"] == "41618101" and gatchina["parent"] == "gatchinsky"
    assert_error(client.get("/api/municipalities/atlantis"), 404, "municipality_not_found")
    assert_error(client.get("/api/municipalities.geojson?simplify=-1"), 400, "invalid_parameter")
    codes = [u["code"] for u in client.get("/api/utilities").get_json()["utilities"]]
    assert codes == [
        "electricity",
        "heat",
        "hot_water",
        "gas",
        "water",
        "sewerage",
        "roads",
        "housing",
    ]


def test_incidents_geojson(client):
    body = assert_feature_collection(client.get("/api/incidents.geojson?status=new,assigned"))
    assert body["features"] and {f["properties"]["status"] for f in body["features"]} <= {
        "new",
        "assigned",
    }
    assert_error(client.get("/api/incidents.geojson?status=lost"), 400, "invalid_status")

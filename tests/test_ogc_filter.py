"""OGC API - Features Part 3 on /ogc items: CQL2 filters (text and JSON), each compared with the
same condition evaluated by SQL on the demo data; paging, counts, CRSs, HTML, errors and a fuzz;
and two real clients (GDAL's OAPIF driver, OWSLib) sending the filter to the server."""

from __future__ import annotations

import json
import random
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pyogrio
import pytest
from helpers import app_process
from owslib.ogcapi.features import Features
from sqlalchemy import text

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
EPSG3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"
GATCHINA = "POLYGON((30.11 59.555, 30.14 59.555, 30.14 59.575, 30.11 59.575, 30.11 59.555))"
# Layer attribute values as SQL (what the layer files type them as).
NUM = "(attributes->>'{}')::numeric"


def items_url(collection: str, **params) -> str:
    return f"/ogc/collections/{collection}/items?{urlencode(params)}"


def link(body: dict, rel: str) -> str | None:
    """The path and query of the link with this rel, or None."""
    hrefs = [item["href"] for item in body["links"] if item["rel"] == rel]
    if not hrefs:
        return None
    parts = urlsplit(hrefs[0])
    return parts.path + "?" + parts.query


def served(get, collection: str, cql: str, **params) -> list[int]:
    """Every id the filter selects, following the next links (in id order)."""
    url, ids = items_url(collection, filter=cql, limit=10000, **params), []
    while url:
        response = get(url)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.mimetype == "application/geo+json"
        body = json.loads(response.get_data())
        ids += [f["id"] for f in body["features"]]
        url = link(body, "next")
    return ids


def feature_ids(session, layer: str, where: str, **params) -> list[int]:
    """The same condition evaluated by SQL directly on network_features."""
    sql = f"SELECT id FROM network_features WHERE layer_id = :layer AND ({where}) ORDER BY id"
    return list(session.execute(text(sql), {"layer": layer, **params}).scalars())


def table_ids(session, table: str, where: str, **params) -> list[int]:
    sql = f"SELECT id FROM {table} WHERE {where} ORDER BY id"
    return list(session.execute(text(sql), params).scalars())


def assert_filter_error(response, status: int = 400, code: str = "invalid_filter") -> dict:
    """An OGC exception in the one error shape, naming its parameter."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"status", "code", "message", "details", "description"}
    assert body["code"] == code and body["status"] == status
    assert body["description"] == body["message"] and body["message"]
    return body


# (layer, CQL2 text, the same condition in SQL on network_features)
CASES = [
    ("power_lines", "voltage_kv >= 10 AND year_built < 1980",
     f"{NUM.format('voltage_kv')} >= 10 AND {NUM.format('year_built')} < 1980"),
    ("power_lines", "voltage_kv BETWEEN 6 AND 10", f"{NUM.format('voltage_kv')} BETWEEN 6 AND 10"),
    ("power_lines", "NOT (voltage_kv = 10 OR voltage_kv = 6)",
     f"NOT ({NUM.format('voltage_kv')} = 10 OR {NUM.format('voltage_kv')} = 6)"),
    ("power_lines", "10 <= voltage_kv AND construction = 'cable'",
     f"{NUM.format('voltage_kv')} >= 10 AND attributes->>'construction' = 'cable'"),
    ("power_lines", "voltage_kv = 0.4 OR year_built > 2015",
     f"{NUM.format('voltage_kv')} = 0.4 OR {NUM.format('year_built')} > 2015"),
    ("power_lines", "operator_id = 3 AND name IS NULL", "operator_id = 3 AND name IS NULL"),
    ("power_lines", "name IS NOT NULL", "name IS NOT NULL"),
    ("power_lines", "operator LIKE 'ДЕМО Горэлектросеть%' AND voltage_kv <> 10",
     "operator_id IN (SELECT id FROM operators WHERE short_name LIKE 'ДЕМО Горэлектросеть%')"
     f" AND {NUM.format('voltage_kv')} <> 10"),
    ("water_mains", "material IN ('cast_iron','steel')",
     "attributes->>'material' IN ('cast_iron', 'steel')"),
    ("water_mains", "material NOT IN ('cast_iron','steel') AND diameter_mm > 200",
     f"attributes->>'material' NOT IN ('cast_iron', 'steel') AND {NUM.format('diameter_mm')} > 200"),
    ("water_mains", "diameter_mm <= 150 AND dead_end = false AND year_built >= 1990",
     f"{NUM.format('diameter_mm')} <= 150 AND NOT (attributes->>'dead_end')::boolean"
     f" AND {NUM.format('year_built')} >= 1990"),
    ("road_segments", "name LIKE 'ул.%'", "name LIKE 'ул.%'"),
    ("road_segments", "name LIKE 'пр. М_ра'", "name LIKE 'пр. М_ра'"),
    ("road_segments", "street_name LIKE '%Мира%' AND lanes >= 4",
     f"attributes->>'street_name' LIKE '%Мира%' AND {NUM.format('lanes')} >= 4"),
    ("road_segments", "CASEI(name) LIKE CASEI('УЛ. Ю%')", "lower(name) LIKE 'ул. ю%'"),
    ("road_segments", "CASEI(street_name) = CASEI('ПР. МИРА')",
     "lower(attributes->>'street_name') = 'пр. мира'"),
    ("road_segments", "name NOT LIKE 'ул.%' AND road_class IN ('local', 'regional')",
     "name NOT LIKE 'ул.%' AND attributes->>'road_class' IN ('local', 'regional')"),
    ("road_segments", f"S_INTERSECTS(geometry, {GATCHINA}) AND name LIKE 'пр.%'",
     f"ST_Intersects(geom, ST_GeomFromText('{GATCHINA}', 4326)) AND name LIKE 'пр.%'"),
    ("water_mains", "S_INTERSECTS(geom, BBOX(30.11, 59.555, 30.14, 59.575)) AND operator_id = 1",
     "ST_Intersects(geom, ST_MakeEnvelope(30.11, 59.555, 30.14, 59.575, 4326)) AND operator_id = 1"),
    ("water_mains", f"S_WITHIN(geometry, {GATCHINA})",
     f"ST_Within(geom, ST_GeomFromText('{GATCHINA}', 4326))"),
    ("water_mains", f"S_DISJOINT(geometry, {GATCHINA})",
     f"ST_Disjoint(geom, ST_GeomFromText('{GATCHINA}', 4326))"),
    ("water_mains", "S_CROSSES(geometry, LINESTRING(30.0 59.565, 30.3 59.566))",
     "ST_Crosses(geom, ST_GeomFromText('LINESTRING(30.0 59.565, 30.3 59.566)', 4326))"),
    ("water_mains", f"S_CROSSES(geometry, {GATCHINA}) OR S_TOUCHES(geometry, {GATCHINA})",
     f"ST_Crosses(geom, ST_GeomFromText('{GATCHINA}', 4326))"
     f" OR ST_Touches(geom, ST_GeomFromText('{GATCHINA}', 4326))"),
    ("road_segments",
     "S_INTERSECTS(geometry, MULTILINESTRING((30.11 59.565, 30.14 59.566), (30.12 59.55, 30.121 59.58)))",
     "ST_Intersects(geom, ST_GeomFromText('MULTILINESTRING((30.11 59.565, 30.14 59.566),"
     " (30.12 59.55, 30.121 59.58))', 4326))"),
    ("power_substations",
     "S_INTERSECTS(geometry, MULTIPOLYGON(((30.11 59.555, 30.12 59.555, 30.12 59.565, 30.11 59.555)),"
     " ((32.0 59.9, 32.2 59.9, 32.2 60.0, 32.0 59.9))))",
     "ST_Intersects(geom, ST_GeomFromText('MULTIPOLYGON(((30.11 59.555, 30.12 59.555, 30.12 59.565,"
     " 30.11 59.555)), ((32.0 59.9, 32.2 59.9, 32.2 60.0, 32.0 59.9)))', 4326))"),
    ("power_substations",
     "S_INTERSECTS(geometry, GEOMETRYCOLLECTION(POINT(30.1064794 59.5690713),"
     f" {GATCHINA}))",
     "ST_Intersects(geom, ST_GeomFromText('GEOMETRYCOLLECTION(POINT(30.1064794 59.5690713),"
     f" {GATCHINA})', 4326))"),
    ("gas_pipelines", "true", "true"),
    ("gas_pipelines", "false", "false"),
    ("heat_pipes", "T_AFTER(updated_at, TIMESTAMP('2000-01-01T00:00:00Z'))",
     "updated_at > '2000-01-01T00:00:00Z'"),
]  # fmt: skip


@pytest.mark.parametrize(("layer", "cql", "where"), CASES, ids=[c[1][:60] for c in CASES])
def test_filter_gives_exactly_what_sql_gives(get, session, layer, cql, where):
    expected = feature_ids(session, layer, where)
    assert served(get, layer, cql) == expected
    if cql not in ("true", "false"):
        total = len(feature_ids(session, layer, "true"))
        # Every case selects something and not everything (T_AFTER 2000 is every feature), so
        # a filter that is ignored, or one that matches nothing, cannot pass.
        if cql.startswith("T_AFTER"):
            assert len(expected) == total > 0
        else:
            assert 0 < len(expected) < total


def test_a_point_of_a_substation_finds_it(get, session):
    fid, x, y = session.execute(
        text(
            "SELECT id, ST_X(geom), ST_Y(geom) FROM network_features"
            " WHERE layer_id = 'power_substations' ORDER BY id LIMIT 1"
        )
    ).one()
    assert fid in served(get, "power_substations", f"S_INTERSECTS(geometry, POINT({x!r} {y!r}))")
    json_filter = {"op": "s_intersects",
                   "args": [{"property": "geometry"}, {"type": "Point", "coordinates": [x, y]}]}  # fmt: skip
    assert fid in served(
        get, "power_substations", json.dumps(json_filter), **{"filter-lang": "cql2-json"}
    )


def test_incidents_and_municipalities_by_their_columns_and_time(get, session):
    times = list(
        session.execute(text("SELECT reported_at FROM incidents ORDER BY reported_at")).scalars()
    )
    middle = times[len(times) // 2].isoformat()
    cql = f"priority >= 2 AND status IN ('new', 'assigned') AND T_AFTER(reported_at, TIMESTAMP('{middle}'))"
    expected = table_ids(
        session,
        "incidents",
        "priority >= 2 AND status IN ('new', 'assigned') AND reported_at > :t",
        t=times[len(times) // 2],
    )
    assert served(get, "incidents", cql) == expected
    before = table_ids(session, "incidents", "reported_at < :t", t=times[len(times) // 2])
    assert served(get, "incidents", f"T_BEFORE(reported_at, TIMESTAMP('{middle}'))") == before
    day = times[0].date().isoformat()
    on_day = table_ids(
        session, "incidents", "(reported_at AT TIME ZONE 'UTC')::date = :d", d=times[0].date()
    )
    assert served(get, "incidents", f"T_INTERSECTS(reported_at, DATE('{day}'))") == on_day
    assert served(get, "incidents", f"reported_at >= TIMESTAMP('{middle}')") == table_ids(
        session, "incidents", "reported_at >= :t", t=times[len(times) // 2]
    )
    towns = table_ids(
        session,
        "municipalities",
        "kind = 'urban_settlement' AND ST_Intersects(geom, ST_MakeEnvelope(29, 59, 33, 61, 4326))",
    )
    cql = "kind = 'urban_settlement' AND S_INTERSECTS(geometry, BBOX(29, 59, 33, 61))"
    assert served(get, "municipalities", cql) == towns and towns
    for cql, where in (
        ("S_CONTAINS(geometry, POINT(30.12 59.565))",
         "ST_Contains(geom, ST_GeomFromText('POINT(30.12 59.565)', 4326))"),
        # a box across Gatchina town's edge
        ("S_OVERLAPS(geometry, POLYGON((30.15 59.55, 30.25 59.55, 30.25 59.6, 30.15 59.6, 30.15 59.55)))",
         "ST_Overlaps(geom, ST_MakeEnvelope(30.15, 59.55, 30.25, 59.6, 4326))"),
        (f"S_EQUALS(geometry, {GATCHINA}) OR S_WITHIN(geometry, {GATCHINA})",
         f"ST_Equals(geom, ST_GeomFromText('{GATCHINA}', 4326))"
         f" OR ST_Within(geom, ST_GeomFromText('{GATCHINA}', 4326))"),
    ):  # fmt: skip
        expected = table_ids(session, "municipalities", where)
        assert served(get, "municipalities", cql) == expected
        assert expected or "EQUALS" in cql


def test_bad_data_in_attributes_is_null_not_an_error(get, session):
    """A value of the wrong JSON type (a string where the layer file says a number) is NULL
    to the filter: no failed cast, no 500."""
    op = session.execute(text("SELECT min(id) FROM operators")).scalar()
    bad = session.execute(
        text(
            "INSERT INTO network_features (layer_id, utility_code, operator_id, external_id,"
            " attributes, geom) VALUES ('power_lines', 'electricity', :op, 'BAD-1',"
            " CAST(:attrs AS jsonb), ST_GeomFromText('LINESTRING(30.5 59.7, 30.6 59.8)', 4326))"
            " RETURNING id"
        ),
        {
            "op": op,
            "attrs": json.dumps({"voltage_kv": "abc", "year_built": [1], "construction": 7}),
        },
    ).scalar()
    session.flush()
    assert bad not in served(get, "power_lines", "voltage_kv >= 0 OR year_built < 3000")
    assert bad not in served(get, "power_lines", "construction LIKE '%'")
    assert bad in served(get, "power_lines", "voltage_kv IS NULL AND construction IS NULL")
    assert bad not in served(get, "power_lines", "voltage_kv IS NOT NULL")


# The same filters in CQL2 JSON.
JSON_CASES = [
    ("power_lines", CASES[0][2],
     {"op": "and", "args": [{"op": ">=", "args": [{"property": "voltage_kv"}, 10]},
                            {"op": "<", "args": [{"property": "year_built"}, 1980]}]}),
    ("power_lines", CASES[1][2],
     {"op": "between", "args": [{"property": "voltage_kv"}, 6, 10]}),
    ("water_mains", CASES[8][2],
     {"op": "in", "args": [{"property": "material"}, ["cast_iron", "steel"]]}),
    ("road_segments", CASES[11][2], {"op": "like", "args": [{"property": "name"}, "ул.%"]}),
    ("road_segments", CASES[14][2],
     {"op": "like", "args": [{"op": "casei", "args": [{"property": "name"}]},
                             {"op": "casei", "args": ["УЛ. Ю%"]}]}),
    ("power_lines", "name IS NOT NULL",
     {"op": "not", "args": [{"op": "isNull", "args": [{"property": "name"}]}]}),
    ("water_mains", CASES[18][2],
     {"op": "and", "args": [
         {"op": "s_intersects", "args": [{"property": "geom"}, {"bbox": [30.11, 59.555, 30.14, 59.575]}]},
         {"op": "=", "args": [{"property": "operator_id"}, 1]}]}),
    ("road_segments", CASES[17][2],
     {"op": "and", "args": [
         {"op": "s_intersects", "args": [{"property": "geometry"}, {"type": "Polygon", "coordinates": [
             [[30.11, 59.555], [30.14, 59.555], [30.14, 59.575], [30.11, 59.575], [30.11, 59.555]]]}]},
         {"op": "like", "args": [{"property": "name"}, "пр.%"]}]}),
]  # fmt: skip


@pytest.mark.parametrize(("layer", "where", "cql_json"), JSON_CASES)
def test_cql2_json_gives_the_same_ids(get, session, layer, where, cql_json):
    expected = feature_ids(session, layer, where)
    assert expected
    got = served(
        get, layer, json.dumps(cql_json, ensure_ascii=False), **{"filter-lang": "cql2-json"}
    )
    assert got == expected


def test_paging_through_a_filtered_collection_returns_every_match_once(get, session):
    cql = "name LIKE 'ул.%' AND lanes >= 2"
    expected = feature_ids(
        session, "road_segments", f"name LIKE 'ул.%' AND {NUM.format('lanes')} >= 2"
    )
    url, urls, pages = items_url("road_segments", filter=cql, limit=300), [], []
    while url:
        body = json.loads(get(url).get_data())
        assert body["numberMatched"] == len(expected)
        urls.append(url)
        pages.append([f["id"] for f in body["features"]])
        url = link(body, "next")
        if url:  # the links carry the filter
            assert parse_qs(urlsplit(url).query)["filter"] == [cql]
    seen = [fid for page in pages for fid in page]
    assert seen == expected and len(set(seen)) == len(seen)
    assert len(pages) == -(-len(expected) // 300) > 2
    # prev of the third page is the second page, filter kept
    third = json.loads(get(urls[2]).get_data())
    assert parse_qs(urlsplit(link(third, "prev")).query)["filter"] == [cql]
    assert [f["id"] for f in json.loads(get(link(third, "prev")).get_data())["features"]] == pages[
        1
    ]
    # offset paging too
    body = json.loads(get(items_url("road_segments", filter=cql, limit=10, offset=20)).get_data())
    assert [f["id"] for f in body["features"]] == expected[20:30]
    assert parse_qs(urlsplit(link(body, "next")).query)["filter"] == [cql]


def test_number_matched_exact_and_estimated(get, session, monkeypatch):
    from gis_app.web.ogc import views

    cql = "voltage_kv >= 10 AND year_built < 1980"
    expected = feature_ids(session, "power_lines", CASES[0][2])
    body = json.loads(get(items_url("power_lines", filter=cql, limit=1, count="exact")).get_data())
    assert body["numberMatched"] == len(expected) and body["numberReturned"] == 1
    monkeypatch.setattr(views, "EXACT_COUNT_BELOW", 1)
    body = json.loads(get(items_url("power_lines", filter=cql, limit=1)).get_data())
    assert "numberMatched" not in body and body["numberMatchedEstimate"] > 0
    body = json.loads(get(items_url("power_lines", filter=cql, limit=1, count="exact")).get_data())
    assert body["numberMatched"] == len(expected)


def test_filter_crs_3857_and_4326_match_postgis(get, session):
    """A polygon in EPSG:3857 (filter-crs) selects what PostGIS selects with it; EPSG:4326 is
    latitude first."""
    merc = session.execute(
        text("SELECT ST_AsText(ST_Transform(ST_GeomFromText(:w, 4326), 3857))"), {"w": GATCHINA}
    ).scalar()
    expected = feature_ids(
        session,
        "water_mains",
        "ST_Intersects(geom, ST_Transform(ST_GeomFromText(:m, 3857), 4326))",
        m=merc,
    )
    assert expected
    got = served(get, "water_mains", f"S_INTERSECTS(geometry, {merc})", **{"filter-crs": EPSG3857})
    assert got == expected
    latlon = "POLYGON((59.555 30.11, 59.555 30.14, 59.575 30.14, 59.575 30.11, 59.555 30.11))"
    plain = feature_ids(
        session, "water_mains", f"ST_Intersects(geom, ST_GeomFromText('{GATCHINA}', 4326))"
    )
    assert (
        served(get, "water_mains", f"S_INTERSECTS(geometry, {latlon})", **{"filter-crs": EPSG4326})
        == plain
    )
    assert served(
        get,
        "water_mains",
        "S_INTERSECTS(geometry, BBOX(59.555, 30.11, 59.575, 30.14))",
        **{"filter-crs": "EPSG:4326"},
    ) == feature_ids(
        session,
        "water_mains",
        "ST_Intersects(geom, ST_MakeEnvelope(30.11, 59.555, 30.14, 59.575, 4326))",
    )


def test_geometry_literals_leave_the_gist_index_usable(app, session):
    """The literal is transformed once, in the statement, not each row: with sequential scans
    off, the plan reaches the features through the (layer_id, geom) GiST index."""
    from gis_app.features.cql import parse_filter
    from gis_app.features.pages import Query, page_sql
    from gis_app.features.sources import layer_source
    from gis_app.web.ogc.params import parse_crs

    source = layer_source(app.extensions["gis_app"].get("water_mains"))
    merc = session.execute(
        text("SELECT ST_AsText(ST_Transform(ST_GeomFromText(:w, 4326), 3857))"), {"w": GATCHINA}
    ).scalar()
    found = parse_filter(f"S_INTERSECTS(geometry, {merc}) AND diameter_mm > 100", "cql2-text",
                         parse_crs(EPSG3857, "filter-crs"), source)  # fmt: skip
    sql, params = page_sql(source, Query(filter_sql=found.sql, filter_params=found.params), 100)
    session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(session.execute(text(f"EXPLAIN {sql}"), params).scalars())
    assert "network_features_layer_geom" in plan, plan


def test_filter_is_anded_with_bbox_datetime_and_attributes(get, session):
    cql = "year_built < 1980"
    expected = feature_ids(
        session,
        "power_lines",
        f"{NUM.format('year_built')} < 1980 AND {NUM.format('voltage_kv')} = 10"
        " AND ST_Intersects(geom, ST_MakeEnvelope(30.11, 59.555, 30.14, 59.575, 4326))",
    )
    assert expected
    got = served(get, "power_lines", cql, bbox="30.11,59.555,30.14,59.575", voltage_kv="10",
                 datetime="2000-01-01T00:00:00Z/..")  # fmt: skip
    assert got == expected


def test_html_view_is_filtered(get, session):
    expected = feature_ids(session, "road_segments", "name LIKE 'пр. М_ра'")
    page = get(items_url("road_segments", filter="name LIKE 'пр. М_ра'", f="html", limit=10000))
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    shown = {
        int(part.split("?")[0]) for part in html.split("/ogc/collections/road_segments/items/")[1:]
    }
    assert shown == set(expected) and expected


def test_conformance_openapi_and_queryables(get):
    classes = get("/ogc/conformance").get_json()["conformsTo"]
    for uri in (
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
        "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
        "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
        "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
        "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
        "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
        "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    ):
        assert uri in classes
    # Not done, so not declared.
    for missing in ("temporal-functions", "accent-insensitive-comparison", "arithmetic",
                    "property-property", "functions", "array-functions"):  # fmt: skip
        assert f"http://www.opengis.net/spec/cql2/1.0/conf/{missing}" not in classes
    doc = get("/ogc/api").get_json()
    for cid in ("power_lines", "incidents", "municipalities"):
        params = {
            p["name"]: p for p in doc["paths"][f"/collections/{cid}/items"]["get"]["parameters"]
        }
        assert params["filter"]["schema"]["type"] == "string"
        assert params["filter-lang"]["schema"]["default"] == "cql2-text"
        assert {"cql2-text", "cql2-json"} <= set(params["filter-lang"]["schema"]["enum"])
        assert EPSG3857 in params["filter-crs"]["schema"]["enum"]
    response = get("/ogc/collections/power_lines/queryables")
    assert response.mimetype == "application/schema+json"
    schema = response.get_json()
    assert schema["$id"].endswith("/ogc/collections/power_lines/queryables")
    assert schema["properties"]["updated_at"]["format"] == "date-time"
    assert schema["properties"]["geometry"]["x-ogc-role"] == "primary-geometry"
    assert schema["properties"]["voltage_kv"] == {"type": "number"}
    items = get(items_url("power_lines", limit=1))
    assert "/ogc/collections/power_lines/queryables>" in items.headers["Link"]
    assert 'rel="http://www.opengis.net/def/rel/ogc/1.0/queryables"' in items.headers["Link"]


@pytest.mark.parametrize(
    ("params", "code", "parameter"),
    [
        ({"filter": "voltage_kv = 'abc'"}, "invalid_filter", "filter"),
        ({"filter": "colour = 'red'"}, "invalid_filter", "filter"),
        ({"filter": "voltage_kv >="}, "invalid_filter", "filter"),
        ({"filter": "name ILIKE 'x%'"}, "invalid_filter", "filter"),
        ({"filter": "ACCENTI(name) = ACCENTI('é')"}, "invalid_filter", "filter"),
        ({"filter": "voltage_kv + 1 = 11"}, "invalid_filter", "filter"),
        ({"filter": "voltage_kv = year_built"}, "invalid_filter", "filter"),
        ({"filter": "S_INTERSECTS(geometry, POINT(90 180))"}, "invalid_filter", "filter"),
        ({"filter": "S_INTERSECTS(voltage_kv, POINT(30 60))"}, "invalid_filter", "filter"),
        ({"filter": "S_INTERSECTS(geometry, POLYGON((0 0, 1 1, 1 0, 0 1, 0 0)))"}, "invalid_filter", "filter"),
        ({"filter": "geometry = 5"}, "invalid_filter", "filter"),
        ({"filter": "T_AFTER(voltage_kv, TIMESTAMP('2020-01-01T00:00:00Z'))"}, "invalid_filter", "filter"),
        ({"filter": "T_MEETS(updated_at, INTERVAL('2020-01-01', '2021-01-01'))"}, "invalid_filter", "filter"),
        ({"filter": "updated_at = TIMESTAMP('2020-13-45T00:00:00Z')"}, "invalid_filter", "filter"),
        ({"filter": "dead_end = 'yes'"}, "invalid_filter", "filter"),
        ({"filter": "voltage_kv"}, "invalid_filter", "filter"),
        ({"filter": "{}", "filter-lang": "cql2-json"}, "invalid_filter", "filter"),
        ({"filter": "{\"op\": \"=\"", "filter-lang": "cql2-json"}, "invalid_filter", "filter"),
        ({"filter": "voltage_kv = 10", "filter-lang": "cql2-json"}, "invalid_filter", "filter"),
        ({"filter": "voltage_kv = 10", "filter-lang": "ecql"}, "invalid_parameter", "filter-lang"),
        ({"filter": "true", "filter-crs": "EPSG:32635"}, "invalid_crs", "filter-crs"),
        ({"filter-crs": "urn:nothing"}, "invalid_crs", "filter-crs"),
    ],
)  # fmt: skip
def test_bad_filters_are_400_with_the_json_body(get, params, code, parameter):
    body = assert_filter_error(get(items_url("water_mains", **params)), 400, code)
    assert body["details"]["parameter"] == parameter


def test_syntax_errors_say_where_and_what_was_expected(get):
    body = assert_filter_error(get(items_url("power_lines", filter="name = 'a'; DROP TABLE x")))
    assert body["details"]["column"] == 11 and body["details"]["line"] == 1
    assert "And" in body["details"]["expected"] and "column 11" in body["message"]
    body = assert_filter_error(get(items_url("power_lines", filter="colour = 'red'")))
    assert "voltage_kv" in body["details"]["queryables"] and body["details"]["property"] == "colour"


NASTY = [
    "name = 'x' OR 1=1 --",
    "name = 'x''; DROP TABLE network_features; --'",
    "name = '' OR ''=''",
    "name = 'a' /* comment */",
    "name = 'x'; SELECT pg_sleep(10)",
    "\"name; DROP TABLE x\" = 'a'",
    "name = E'\\x00'",
    "name = 'nul\x00byte'",
    "voltage_kv = 1e400",
    "voltage_kv = -1e400",
    "voltage_kv = 123456789012345678901234567890",
    "operator_id = 99999999999999999999",
    "voltage_kv > 0x10",
    "voltage_kv = NaN",
    "(" * 15 + "voltage_kv = 1" + ")" * 15,
    "(" * 60 + "voltage_kv = " + ")" * 60,
    "(" * 1000,
    ")" * 1000,
    "NOT " * 200 + "voltage_kv = 1",
    "NOT " * 4990 + "voltage_kv = 1",  # crashed the parser (stack overflow) before the limit
    "voltage_kv = " + "-" * 19980 + "1",
    "voltage_kv = " + "- " * 9990 + "1",
    " OR ".join(["voltage_kv = 1"] * 900),
    "voltage_kv IN (" + ",".join(["1"] * 2000) + ")",
    "name = '" + "я" * 19990 + "'",
    "name = '" + "x" * 20000 + "'",
    "S_INTERSECTS(geometry, POINT(1e308 1e308))",
    "S_INTERSECTS(geometry, POLYGON((30 59, 31 59)))",
    "S_INTERSECTS(geometry, GEOMETRYCOLLECTION(GEOMETRYCOLLECTION(POINT(30 59))))",
    "S_INTERSECTS(geometry, BBOX(31, 60, 30, 59))",
    "S_INTERSECTS(geometry, BBOX(170, 59, -170, 60))",
    "S_EQUALS(geometry, GEOMETRYCOLLECTION(POINT(30 59), LINESTRING(30 59, 31 60)))",
    "S_CONTAINS(geometry, POINT(30.12 59.56))",
    "CASEI(voltage_kv) = 1",
    "name LIKE 5",
    "name IN ()",
    "voltage_kv BETWEEN 10 AND 'x'",
    "T_INTERSECTS(updated_at, INTERVAL('2021-01-01', '2020-01-01'))",
    "T_INTERSECTS(updated_at, INTERVAL('..', '..'))",
    "updated_at = DATE('2020-02-30')",
    "'\\' = name",
    "name = '\\'",
    "%00%27",
    "😀 = '😀'",
    "",
    " ",
    '{"op": "=", "args": [{"property": "name"}, "x"]}',
]


def test_fuzz_nasty_strings_never_500(get, session):
    """Quotes, semicolons, comments, huge numbers, deep nesting, long input: a 400 or a correct
    answer, quickly, never a 500; and the table is still there."""
    for cql in NASTY:
        started = time.monotonic()
        response = get(items_url("power_lines", filter=cql, limit=1))
        assert response.status_code in (200, 400), (cql[:80], response.get_data(as_text=True)[:300])
        if response.status_code == 400:
            assert_filter_error(response)
        assert time.monotonic() - started < 2, cql[:80]
    for raw in ("[" * 100 + "]" * 100, "{\"op\": \"and\", \"args\": " + "[" * 70, "null", "1", "\"x\"",
                "{\"op\": \"and\", \"args\": [true]}", "{\"op\": \"not\", \"args\": [1, 2]}",
                "{\"op\": \"s_intersects\", \"args\": [{\"property\": \"geometry\"}, {\"bbox\": [1, 2]}]}",
                "{\"op\": \"in\", \"args\": [{\"property\": \"name\"}, \"x\"]}",
                "{\"op\": \"=\", \"args\": [{\"property\": \"name\"}, {\"property\": \"name\"}]}",
                "{\"op\": \"like\", \"args\": [{\"property\": \"name\"}, {\"op\": \"casei\", \"args\": [1]}]}"):  # fmt: skip
        response = get(
            items_url("power_lines", filter=raw, limit=1, **{"filter-lang": "cql2-json"})
        )
        assert_filter_error(response)
    assert session.execute(text("SELECT count(*) FROM network_features")).scalar() > 0


def test_fuzz_random_token_soup(get):
    """Random strings of CQL2 tokens: every answer a 200 or a 400 in the error shape."""
    tokens = ["voltage_kv", "name", "geometry", "updated_at", "=", "<>", ">=", "AND", "OR", "NOT",
              "(", ")", "'ул.%'", "10", "-1.5", "LIKE", "IN", "BETWEEN", "IS", "NULL", ",", "CASEI",
              "S_INTERSECTS", "POINT(30 59)", "BBOX(30,59,31,60)", "TIMESTAMP('2020-01-01T00:00:00Z')",
              "T_AFTER", "TRUE", "'", "\"", ";", "--", "/*"]  # fmt: skip
    rng = random.Random(20261126)
    statuses = set()
    for _ in range(60):
        cql = " ".join(rng.choice(tokens) for _ in range(rng.randint(1, 12)))
        response = get(items_url("power_lines", filter=cql, limit=1))
        assert response.status_code in (200, 400), (cql, response.get_data(as_text=True)[:300])
        if response.status_code == 400:
            assert_filter_error(response)
        statuses.add(response.status_code)
    assert 400 in statuses


# Real clients -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def logged_server(postgis_url, tokens, tmp_path_factory):
    """The app in a process of its own whose request log we read: did the filter reach it?"""
    log_path = tmp_path_factory.mktemp("server") / "requests.log"
    with open(log_path, "w") as log, app_process(postgis_url, log) as url:
        yield url, log_path


def test_gdal_sends_the_where_clause_to_the_server(logged_server, tokens, engine):
    """GDAL's OAPIF driver turns an attribute filter into a server-side CQL2 text filter (it
    finds the filter-lang in the OpenAPI document); the features are those SQL selects."""
    url, log_path = logged_server
    options = {"GDAL_HTTP_AUTH": "BEARER", "GDAL_HTTP_BEARER": tokens["admin"]}
    pyogrio.set_gdal_config_options(options)
    try:
        lines = pyogrio.read_dataframe(f"OAPIF:{url}/ogc", layer="power_lines",
                                       where="voltage_kv >= 10 AND year_built < 1980",
                                       fid_as_index=True)  # fmt: skip
        roads = pyogrio.read_dataframe(f"OAPIF:{url}/ogc", layer="road_segments",
                                       where="name LIKE 'ул.%'", fid_as_index=True)  # fmt: skip
    finally:
        pyogrio.set_gdal_config_options(dict.fromkeys(options))
    with engine.connect() as conn:
        expected_lines = feature_ids(conn, "power_lines", CASES[0][2])
        expected_roads = feature_ids(conn, "road_segments", "name LIKE 'ул.%'")
    assert sorted(lines.index) == expected_lines and expected_lines
    assert sorted(roads.index) == expected_roads and expected_roads
    assert (lines["voltage_kv"] >= 10).all() and roads["name"].str.startswith("ул.").all()
    requests = [line for line in log_path.read_text().splitlines() if "/items?" in line]
    filtered = [line for line in requests if "filter=" in line]
    assert any("/power_lines/items?" in line and "voltage_kv" in line for line in filtered)
    assert any("/road_segments/items?" in line for line in filtered)
    # Only the matches crossed the wire: no unfiltered page of road_segments was asked for.
    assert not [line for line in requests if "/road_segments/items?" in line and "filter=" not in line
                and "limit=1000" in line]  # fmt: skip


def test_owslib_passes_filter_and_filter_lang(live_server, auth_headers, engine):
    api = Features(f"{live_server}/ogc", headers=auth_headers)
    with engine.connect() as conn:
        expected = feature_ids(
            conn, "road_segments", "name LIKE 'пр.%' AND (attributes->>'lanes')::int >= 4"
        )
    found = api.collection_items(
        "road_segments", filter="name LIKE 'пр.%' AND lanes >= 4", limit=10000
    )
    assert sorted(f["id"] for f in found["features"]) == expected and expected
    assert found["numberMatched"] == len(expected)
    as_json = {"op": "and", "args": [{"op": "like", "args": [{"property": "name"}, "пр.%"]},
                                     {"op": ">=", "args": [{"property": "lanes"}, 4]}]}  # fmt: skip
    found = api.collection_items("road_segments", filter=json.dumps(as_json), limit=10000,
                                 **{"filter-lang": "cql2-json"})  # fmt: skip
    assert sorted(f["id"] for f in found["features"]) == expected

"""Checks against real OSM-derived geometry of the oblast in ../shared/data (© OpenStreetMap
contributors, ODbL). The project never depends on those files; these tests skip without them."""

from __future__ import annotations

import json

import geopandas as gpd
import pytest
from helpers import SHARED_DATA, assert_feature_collection
from shapely import box
from sqlalchemy import text

pytestmark = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is not here")


@pytest.fixture(scope="module")
def districts():
    return gpd.read_file(SHARED_DATA / "lenobl_municipal_districts_osm.geojson")


@pytest.mark.parametrize(
    ("slug", "district"),
    [
        ("gatchina", "Гатчинский район"),
        ("sosnovy-bor", "Сосновоборский"),
        ("kirishi", "Киришский район"),
        ("vyborg", "Выборгский район"),
    ],
)
def test_demo_town_lies_in_its_real_district(session, districts, slug, district):
    real = districts[districts["district"] == district].geometry.iloc[0]
    point = session.execute(
        text("SELECT ST_AsText(ST_PointOnSurface(geom)) FROM municipalities WHERE slug = :s"),
        {"s": slug},
    ).scalar_one()
    from shapely import wkt

    assert real.contains(wkt.loads(point)), f"{slug} is not in {district}"


def test_bbox_query_on_the_real_power_grid(client, session):
    """Load the real high-voltage lines (straight links, some crossing the oblast border) as a
    layer and check the bbox answer against shapely on the same geometry."""
    links = gpd.read_file(SHARED_DATA / "lenobl_power_grid_highvoltage_links.geojson")
    operator_id = session.execute(text("SELECT id FROM operators ORDER BY id LIMIT 1")).scalar_one()
    session.execute(text("DELETE FROM network_features WHERE layer_id = 'power_lines'"))
    ids = {}
    for row in links.itertuples():
        ids[
            session.execute(
                text(
                    "INSERT INTO network_features (layer_id, utility_code, operator_id, external_id, name,"
                    " attributes, geom) VALUES ('power_lines', 'electricity', :op, :ext, :name,"
                    " CAST(:attrs AS jsonb), ST_GeomFromText(:g, 4326)) RETURNING id"
                ),
                {
                    "op": operator_id,
                    "ext": f"osm-{row.l_id}",
                    "name": row.name if isinstance(row.name, str) else None,
                    # The layer holds 0.4-110 kV; these 220-750 kV lines only lend their geometry.
                    "attrs": json.dumps({"voltage_kv": 110.0, "construction": "overhead"}),
                    "g": row.geometry.wkt,
                },
            ).scalar_one()
        ] = row.geometry
    # Around Gatchina's 330 kV substation (30.1320 E, 59.5355 N).
    area = (29.9, 59.4, 30.4, 59.7)
    expected = {fid for fid, geom in ids.items() if geom.intersects(box(*area))}
    assert len(expected) >= 3
    body = assert_feature_collection(
        client.get(f"/api/layers/power_lines.geojson?bbox={','.join(map(str, area))}")
    )
    assert {f["id"] for f in body["features"]} == expected
    names = " ".join(f["properties"]["name"] or "" for f in body["features"])
    assert "кВ" in names  # Cyrillic survives the round trip

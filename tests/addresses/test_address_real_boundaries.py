"""The import against a real district outline (../shared/data, © OpenStreetMap contributors, ODbL):
thousands of vertices, cut into pieces for the point-in-polygon tests. Skips without the data."""

from __future__ import annotations

import geopandas as gpd
import pytest
from helpers import SHARED_DATA
from sqlalchemy import text

from gis_app.addresses import import_osm

pytestmark = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is not here")


def test_houses_get_the_real_district(session, osm_file):
    districts = gpd.read_file(SHARED_DATA / "lenobl_municipal_districts_osm.geojson")
    real = districts[districts["district"] == "Гатчинский район"].geometry.iloc[0]
    session.execute(
        text(
            "UPDATE municipalities SET geom = ST_Multi(ST_SetSRID(ST_GeomFromText(:wkt), 4326)) "
            "WHERE slug = 'gatchinsky'"
        ),
        {"wkt": real.wkt},
    )
    vertices = session.execute(
        text("SELECT ST_NPoints(geom) FROM municipalities WHERE slug = 'gatchinsky'")
    ).scalar_one()
    assert vertices > 500  # more than one piece of 255
    summary = import_osm(session, osm_file)
    assert summary.addresses == 9
    places = session.execute(
        text(
            "SELECT DISTINCT m.slug, s.slug FROM address_streets st "
            "JOIN municipalities m ON m.id = st.municipality_id "
            "JOIN municipalities s ON s.id = st.settlement_id"
        )
    ).all()
    assert places == [("gatchinsky", "gatchina")]

"""The demo's hand-drawn oblast does not cut off real oblast land: the towns at Saint
Petersburg's edge, the land north of Gatchina, Svetogorsk, and (where ../shared/data is here)
every one of the oblast's 33 towns and most of its real districts' area."""

from __future__ import annotations

import csv
import json

import pytest
import shapely
from helpers import SHARED_DATA
from shapely.geometry import Point, shape

from gis_app.demo.places import OBLAST, outlines

# Real places of the oblast (lon, lat, approximate centres) the first outline left out.
EDGE_PLACES = {
    "Мурино": (30.44, 60.05), "Кудрово": (30.51, 59.90), "Сертолово": (30.21, 60.14),
    "Янино": (30.56, 59.95), "Бугры": (30.39, 60.07), "Светогорск": (28.86, 61.11),
    "Тайцы": (30.12, 59.70), "north of Gatchina": (30.15, 59.65),
}  # fmt: skip


@pytest.fixture(scope="module")
def demo_oblast():
    return outlines()[OBLAST.slug]


@pytest.mark.parametrize("place", sorted(EDGE_PLACES))
def test_edge_places_are_in_the_demo_oblast(demo_oblast, place):
    assert demo_oblast.covers(Point(EDGE_PLACES[place]))


def test_saint_petersburg_itself_is_cut_out(demo_oblast):
    assert not demo_oblast.covers(Point(30.32, 59.94))  # Palace Square


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is absent")
def test_the_real_towns_and_most_of_the_real_land_are_inside(demo_oblast):
    with (SHARED_DATA / "lenobl_cities_hflabs.csv").open(encoding="utf-8") as rows:
        towns = [r for r in csv.DictReader(rows) if r["geo_lat"]]
    outside = [t["city"] for t in towns
               if not demo_oblast.covers(Point(float(t["geo_lon"]), float(t["geo_lat"])))]  # fmt: skip
    assert outside == [] and len(towns) == 33
    with (SHARED_DATA / "lenobl_municipal_districts_osm.geojson").open(encoding="utf-8") as f:
        real = shapely.union_all([shape(x["geometry"]) for x in json.load(f)["features"]])
    # The real districts include the Gulf of Finland's water; the demo leaves most of it out.
    assert real.intersection(demo_oblast).area / real.area > 0.9

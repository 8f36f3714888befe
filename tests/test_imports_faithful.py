"""Imports store what was sent or refuse it with the reason (issue 11): NUL, lone surrogates,
unknown or non-planar CRSes, oversized CSV fields, long file names, no server paths in messages."""

from __future__ import annotations

import io
import json

import geopandas as gpd
import pytest
from helpers import assert_error
from shapely.geometry import LineString
from test_imports import LAT, LON, _collection, _feature, _post


def _file(name: str, text: str) -> tuple[str, bytes]:
    return name, text.encode()


def _geojson_text(name_json: str, crs: str | None = None) -> str:
    """A FeatureCollection whose first feature's name is the JSON text `name_json`."""
    body = json.dumps(_collection(_feature("F-1", name="NAME")), ensure_ascii=False)
    body = body.replace('"NAME"', name_json)
    if crs:
        member = f'"crs": {{"type": "name", "properties": {{"name": "{crs}"}}}}, '
        body = body.replace("{", "{" + member, 1)
    return body


@pytest.mark.parametrize(
    "name_json, code",
    [
        (r'"Водовод\u0000 по ул. Чкалова"', "nul_in_value"),
        (r'"Водовод \ud800"', "lone_surrogate_in_value"),
        (r'"\udc00 Водовод"', "lone_surrogate_in_value"),
    ],
)
def test_a_geojson_file_gdal_would_change_is_refused(client_as, name_json, code):
    r = _post(client_as("operator"), file=_file("mains.geojson", _geojson_text(name_json)))
    assert "nothing was imported" in assert_error(r, 400, code)["message"]


def test_escaped_text_that_only_looks_like_nul_is_imported(client_as, session):
    # "\\u0000" is a backslash and five characters, not NUL; a surrogate pair is one character.
    text = _geojson_text(r'"Водовод \\u0000 и \ud83d\ude80"')
    r = _post(client_as("operator"), file=_file("mains.geojson", text), dry_run="true")
    assert r.status_code == 200, r.get_data(as_text=True)


def test_an_unknown_crs_in_the_file_is_not_read_as_4326(client_as):
    text = _geojson_text('"Водовод"', crs="urn:ogc:def:crs:EPSG::999999")
    r = _post(client_as("operator"), file=_file("mains.geojson", text))
    assert assert_error(r, 400, "unknown_crs")["details"]["crs"].endswith("999999")


@pytest.mark.parametrize(
    "crs, code",
    [
        ("EPSG:999999", "unknown_crs"),
        ("EPSG:4978", "unsupported_crs"),  # geocentric
        ("+proj=geocent +ellps=GRS80", "unsupported_crs"),
        ("EPSG:5703", "unsupported_crs"),  # heights only
        ("+init=epsg:4326", "unsupported_crs"),  # reads PROJ files of the server
        ('ENGCRS["x",EDATUM["d"],CS[Cartesian,2],AXIS["x",east],AXIS["y",north],'
         'LENGTHUNIT["metre",1]]', "unsupported_crs"),
    ],
)  # fmt: skip
def test_a_crs_must_be_geographic_or_projected(client_as, crs, code):
    body = _collection(_feature("C-1"))
    error = assert_error(_post(client_as("operator"), body, crs=crs), 400, code)
    assert "/" not in error["message"].split("crs:")[0]


def test_a_compound_crs_with_a_geographic_part_is_accepted(client_as):
    body = _collection(_feature("C-2"))
    r = _post(client_as("operator"), body, crs="EPSG:4326+5703", dry_run="true")
    assert r.status_code == 200, r.get_data(as_text=True)


def test_a_geojson_body_with_nul_names_the_feature(client_as):
    body = _collection(_feature("N-1"), _feature("N-2", name="Водовод\x00"))
    error = assert_error(_post(client_as("operator"), body), 400, "invalid_json_value")
    assert error["details"]["pointer"] == "/features/1/properties/name"


def test_csv_field_beyond_the_csv_limit_and_nul_are_400(client_as):
    big = "wkt,external_id,name,diameter_mm,material\n" + (
        f'"LINESTRING({LON} {LAT}, {LON + 0.001} {LAT + 0.001})",B-1,"{"x" * 200_000}",200,steel\n'
    )
    error = assert_error(
        _post(client_as("operator"), file=("big.csv", big.encode())), 400, "unreadable_file"
    )
    assert "line" in error["message"] and "field larger than field limit" in error["message"]
    nul = big.replace("x" * 200_000, "a\x00b")
    r = _post(client_as("operator"), file=("nul.csv", nul.encode()))
    (rejected,) = assert_error(r, 422, "import_failed")["details"]["rejected_features"]
    assert rejected["reason"] == "name: contains U+0000 (NUL), which is not stored"


def test_a_control_character_in_a_geopackage_value_rejects_that_feature(client_as, tmp_path):
    path = tmp_path / "mains.gpkg"
    gpd.GeoDataFrame(
        {"external_id": ["G-1", "G-2"], "name": ["Водовод", "Водовод\x07"],
         "diameter_mm": [200, 200], "material": ["steel", "steel"]},
        geometry=[LineString([(LON, LAT), (LON + 0.001, LAT + 0.001)])] * 2, crs="EPSG:4326",
    ).to_file(path, driver="GPKG")  # fmt: skip
    r = _post(client_as("operator"), file=("mains.gpkg", path.read_bytes()))
    (rejected,) = assert_error(r, 422, "import_failed")["details"]["rejected_features"]
    assert rejected["index"] == 1 and "U+0007" in rejected["reason"]


def test_long_file_names_and_unreadable_files_name_no_server_path(client_as):
    data = {"file": (io.BytesIO(b"{}"), "a" * 5000 + ".geojson")}
    r = client_as("operator").post(
        "/api/layers/water_mains/import", data=data, content_type="multipart/form-data"
    )
    assert_error(r, 400, "file_name_too_long")
    error = assert_error(_post(client_as("operator"), file=("x.gpkg", b"SQLite format 3\x00")), 400,
                         "unreadable_file")  # fmt: skip
    assert "/tmp" not in error["message"] and "gis-import" not in error["message"]

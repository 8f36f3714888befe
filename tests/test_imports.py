"""Imports of a layer by its operator: every format with Cyrillic text, reprojection, field
mapping with units, the three modes, dry runs, all or nothing, each rejection, 413, the record."""

from __future__ import annotations

import io
import json
import zipfile

import geopandas as gpd
import pytest
from helpers import assert_error
from shapely.geometry import LineString, Point
from sqlalchemy import text

from gis_app.cli import main

OPERATOR = "demo-vodokanal-gatchina"
# Known coordinates (checked against PostGIS's ST_Transform): lon 30.1, lat 59.57 in Gatchina.
LON, LAT = 30.1, 59.57
UTM35 = (675108.12, 6607610.74)  # EPSG:32635
# An MSK-47-like local system (Krassovsky, tmerc at 30.5°E) given as a PROJ string.
MSK = (
    "+proj=tmerc +lat_0=0 +lon_0=30.5 +k=1 +x_0=2250000 +y_0=-5714743.504 +ellps=krass "
    "+towgs84=23.57,-140.95,-79.8,0,0.35,0.79,-0.22 +units=m +no_defs"
)
MSK_XY = (2227516.75, 891610.38)


def _line(lon=LON, lat=LAT, step=0.001):
    return {"type": "LineString", "coordinates": [[lon, lat], [lon + step, lat + step]]}


def _feature(ext, props=None, geometry=None, name="Водовод по ул. Чкалова"):
    properties = {"external_id": ext, "name": name, "diameter_mm": 200, "material": "steel"}
    properties.update(props or {})
    return {"type": "Feature", "geometry": geometry or _line(), "properties": properties}


def _collection(*features):
    return {"type": "FeatureCollection", "features": list(features)}


def _post(test_client, body=None, layer="water_mains", file=None, **params):
    url = f"/api/layers/{layer}/import"
    if file is not None:
        name, data = file
        return test_client.post(url, data={"file": (io.BytesIO(data), name), **params},
                                content_type="multipart/form-data")  # fmt: skip
    return test_client.post(url, query_string=params, data=json.dumps(body),
                            content_type="application/geo+json")  # fmt: skip


def _rows(session, layer="water_mains", slug=OPERATOR):
    """The operator's features of a layer, exactly as stored, by id."""
    return session.execute(
        text(
            "SELECT f.id, f.external_id, f.name, f.attributes::text, ST_AsEWKB(f.geom), f.updated_at,"
            " f.updated_by FROM network_features f JOIN operators o ON o.id = f.operator_id"
            " WHERE f.layer_id = :l AND o.slug = :s ORDER BY f.id"
        ),
        {"l": layer, "s": slug},
    ).all()


def _one(session, ext, layer="water_mains"):
    return session.execute(
        text(
            "SELECT name, attributes, ST_X(ST_StartPoint(geom)) AS x, ST_Y(ST_StartPoint(geom)) AS y,"
            " updated_by, ST_X(geom) AS px, ST_Y(geom) AS py"
            " FROM network_features WHERE layer_id = :l AND external_id = :e"
            if layer.endswith("facilities")
            else "SELECT name, attributes, ST_X(ST_StartPoint(geom)) AS x,"
            " ST_Y(ST_StartPoint(geom)) AS y, updated_by FROM network_features"
            " WHERE layer_id = :l AND external_id = :e"
        ),
        {"l": layer, "e": ext},
    ).one()


def test_geojson_body_upsert_round_trip_with_cyrillic(client_as, session):
    body = _collection(_feature("T-1"), _feature("T-2", {"diameter_mm": 300, "dead_end": True}))
    response = _post(client_as("operator"), body, mode="upsert")
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert (report["added"], report["changed"], report["removed"], report["rejected"]) == (
        2,
        0,
        0,
        0,
    )
    row = _one(session, "T-1")
    assert row.name == "Водовод по ул. Чкалова"
    assert row.attributes == {"diameter_mm": 200, "material": "steel"}
    assert (round(row.x, 6), round(row.y, 6)) == (LON, LAT)
    assert row.updated_by == "operator-vodokanal-gatchina"
    back = client_as("operator").get("/api/layers/water_mains.geojson?bbox=30.09,59.56,30.11,59.58")
    names = {
        f["properties"].get("external_id"): f["properties"]["name"]
        for f in back.get_json()["features"]
    }
    assert names["T-1"] == "Водовод по ул. Чкалова"
    served = {f["properties"].get("external_id"): f for f in back.get_json()["features"]}
    assert served["T-1"]["properties"]["updated_by"] == "operator-vodokanal-gatchina"
    item = client_as("planner").get(
        f"/ogc/collections/water_mains/items/{served['T-1']['id']}?f=json"
    )
    assert item.get_json()["properties"]["updated_by"] == "operator-vodokanal-gatchina"
    # The same file again changes nothing; one attribute changed is one change.
    again = _post(client_as("operator"), body, mode="upsert").get_json()
    assert (again["added"], again["changed"], again["unchanged"]) == (0, 0, 2)
    body["features"][1]["properties"]["diameter_mm"] = 400
    third = _post(client_as("operator"), body, mode="upsert").get_json()
    assert (third["added"], third["changed"], third["unchanged"]) == (0, 1, 1)
    assert _one(session, "T-2").attributes["diameter_mm"] == 400


def test_geopackage_in_utm35_is_reprojected(client_as, session, tmp_path):
    gdf = gpd.GeoDataFrame(
        {"external_id": ["G-1"], "name": ["Насосная станция «Ижора»"], "kind": ["pumping_station"]},
        geometry=[Point(*UTM35)], crs="EPSG:32635",
    )  # fmt: skip
    path = tmp_path / "stations.gpkg"
    gdf.to_file(path, driver="GPKG")
    response = _post(client_as("operator"), layer="water_facilities",
                     file=("stations.gpkg", path.read_bytes()), mode="upsert")  # fmt: skip
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["crs"] == "EPSG:32635"
    row = _one(session, "G-1", "water_facilities")
    assert row.name == "Насосная станция «Ижора»"
    assert row.px == pytest.approx(LON, abs=1e-6) and row.py == pytest.approx(LAT, abs=1e-6)


def test_zipped_shapefile_round_trip(client_as, session, tmp_path):
    gdf = gpd.GeoDataFrame(
        {"EXT_ID": ["S-1"], "NAME": ["Магистраль Гатчина—Пудость"], "DIAM_CM": [50]},
        geometry=[LineString([(LON, LAT), (LON + 0.002, LAT + 0.001)])], crs="EPSG:4326",
    )  # fmt: skip
    gdf.to_file(tmp_path / "mains.shp", encoding="utf-8")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        for part in tmp_path.glob("mains.*"):
            zf.write(part, part.name)
    # Shapefile names are ten characters at most: the mapping names the layer's fields.
    mapping = {
        "EXT_ID": "external_id",
        "NAME": "name",
        "DIAM_CM": {"field": "diameter_mm", "unit": "cm"},
    }
    response = _post(client_as("operator"), file=("mains.zip", archive.getvalue()), mode="append",
                     mapping=json.dumps(mapping))  # fmt: skip
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["format"] == "shapefile"
    row = _one(session, "S-1")
    assert row.name == "Магистраль Гатчина—Пудость" and row.attributes == {"diameter_mm": 500}


def test_csv_with_wkt_in_a_proj_string_crs(client_as, session):
    x, y = MSK_XY
    csv_text = (
        "external_id;name;diameter_mm;material;wkt\n"
        f'C-1;Водовод «Мариенбург»;150;cast_iron;"LINESTRING ({x} {y}, {x + 50} {y + 50})"\n'
    )
    response = _post(client_as("operator"), file=("mains.csv", csv_text.encode("utf-8")),
                     crs=MSK, mode="upsert")  # fmt: skip
    assert response.status_code == 200, response.get_json()
    row = _one(session, "C-1")
    assert row.name == "Водовод «Мариенбург»"
    assert row.attributes == {"diameter_mm": 150, "material": "cast_iron"}
    assert row.x == pytest.approx(LON, abs=1e-6) and row.y == pytest.approx(LAT, abs=1e-6)


def test_csv_with_lon_lat_in_cp1251(client_as, session):
    csv_text = "external_id,name,kind,lon,lat\nL-1,Колодец № 7,well,30.11,59.575\n"
    response = _post(client_as("operator"), layer="water_facilities",
                     file=("wells.csv", csv_text.encode("cp1251")))  # fmt: skip
    assert response.status_code == 200, response.get_json()
    row = _one(session, "L-1", "water_facilities")
    assert row.name == "Колодец № 7" and (row.px, row.py) == (30.11, 59.575)


def test_field_mapping_with_volts_to_kilovolts(client_as, session):
    line = {"type": "Feature", "geometry": _line(),
            "properties": {"GIS_ID": "P-1", "NAIM": "ВЛ-10 кВ Ф-5", "U_NOM": 10000, "ISP": "overhead"}}  # fmt: skip
    mapping = {"GIS_ID": "external_id", "NAIM": "name",
               "U_NOM": {"field": "voltage_kv", "unit": "V"}, "ISP": "construction"}  # fmt: skip
    response = _post(client_as("admin"), _collection(line), layer="power_lines",
                     operator="demo-gorset-gatchina", mapping=json.dumps(mapping))  # fmt: skip
    assert response.status_code == 200, response.get_json()
    row = _one(session, "P-1", "power_lines")
    assert row.attributes == {"voltage_kv": 10.0, "construction": "overhead"}
    assert row.name == "ВЛ-10 кВ Ф-5" and row.updated_by == "admin"
    bad = _post(client_as("admin"), _collection(line), layer="power_lines",
                operator="demo-gorset-gatchina",
                mapping=json.dumps({**mapping, "U_NOM": {"field": "voltage_kv", "unit": "mV"}}))  # fmt: skip
    assert_error(bad, 400, "invalid_parameter")


def test_replace_removes_what_the_file_no_longer_holds(client_as, session):
    before = len(_rows(session))
    assert before > 100
    body = _collection(_feature("R-1"), _feature("R-2"))
    dry = _post(client_as("operator"), body, mode="replace", dry_run="true")
    assert dry.status_code == 200
    assert (dry.get_json()["added"], dry.get_json()["removed"]) == (2, before)
    assert len(_rows(session)) == before  # a dry run writes nothing
    done = _post(client_as("operator"), body, mode="replace").get_json()
    assert (done["added"], done["removed"]) == (2, before)
    assert [r.external_id for r in _rows(session)] == ["R-1", "R-2"]
    # Other operators' features of the layer are untouched.
    others = session.execute(text("SELECT count(*) FROM network_features f JOIN operators o"
                                  " ON o.id = f.operator_id WHERE layer_id = 'water_mains'"
                                  " AND o.slug <> :s"), {"s": OPERATOR}).scalar()  # fmt: skip
    assert others > 0


def test_a_failed_import_leaves_the_layer_exactly_as_it_was(client_as, session):
    before = _rows(session)
    body = _collection(_feature("A-1"), _feature("A-2", {"diameter_mm": 5}), _feature("A-3"))
    response = _post(client_as("operator"), body, mode="replace")
    error = assert_error(response, 422, "import_failed")
    assert error["details"]["rejected"] == 1
    assert error["details"]["rejected_features"] == [
        {"index": 1, "external_id": "A-2", "reason": "'diameter_mm' must be at least 15 mm"}
    ]
    assert _rows(session) == before
    recorded = client_as("operator").get("/api/imports").get_json()["imports"][0]
    assert (recorded["status"], recorded["rejected"], recorded["mode"]) == ("failed", 1, "replace")


REJECTIONS = [
    ({"diameter_mm": None}, None, "'diameter_mm' is required"),
    ({"diameter_mm": "толстая"}, None, "'diameter_mm' must be a whole number"),
    ({"material": "wood"}, None, "'material' must be one of"),
    ({"diameter_mm": 5000}, None, "'diameter_mm' must be at most 2000 mm"),
    (
        {},
        {"type": "Point", "coordinates": [LON, LAT]},
        "geometry: Point, but layer water_mains holds",
    ),
    ({}, {"type": "LineString", "coordinates": [[LON, LAT], [LON, LAT]]}, "geometry: invalid"),
    ({}, _line(37.6, 55.75), "geometry: not inside the oblast"),
    ({}, {"type": "LineString", "coordinates": []}, "geometry: empty"),
]


@pytest.mark.parametrize(("props", "geometry", "reason"), REJECTIONS)
def test_each_rejection_reason(client_as, props, geometry, reason):
    body = _collection(_feature("OK-1"), _feature("BAD-1", props, geometry))
    error = assert_error(_post(client_as("operator"), body), 422, "import_failed")
    (rejected,) = error["details"]["rejected_features"]
    assert rejected["index"] == 1 and rejected["external_id"] == "BAD-1"
    assert reason in rejected["reason"]


def test_rejections_of_ids_and_missing_geometry(client_as):
    body = _collection(_feature("D-1"), _feature("D-1"), _feature(None))
    body["features"].append(
        {"type": "Feature", "geometry": None, "properties": _feature("N-1")["properties"]}
    )
    details = assert_error(_post(client_as("operator"), body, mode="upsert"), 422, "import_failed")[
        "details"
    ]
    reasons = {r["index"]: r["reason"] for r in details["rejected_features"]}
    assert reasons[1] == "external_id: 'D-1' also at index 0"
    assert reasons[2] == "external_id: required in upsert mode"
    assert reasons[3] == "geometry: missing"
    existing = _collection(_feature("GAT-WATER_MAINS-00158"))
    details = assert_error(
        _post(client_as("operator"), existing, mode="append"), 422, "import_failed"
    )["details"]
    assert "exists already" in details["rejected_features"][0]["reason"]


def test_uploads_over_the_limit_get_413(app, client_as, monkeypatch):
    monkeypatch.setitem(app.config, "GIS_APP_MAX_IMPORT_BYTES", 1000)
    body = _collection(*[_feature(f"B-{i}") for i in range(20)])
    error = assert_error(_post(client_as("operator"), body), 413, "payload_too_large")
    assert error["details"]["limit_bytes"] == 1000
    big = ("big.geojson", json.dumps(body).encode())
    assert_error(_post(client_as("operator"), file=big), 413, "payload_too_large")


def test_bad_requests(client_as):
    operator = client_as("operator")
    assert_error(_post(operator, _collection(), mode="merge"), 400, "invalid_parameter")
    assert_error(_post(operator, _collection(), crs="EPSG:999999"), 400, "unknown_crs")
    assert_error(_post(operator, _collection(), layer="nope"), 404, "layer_not_found")
    assert_error(_post(client_as("admin"), _collection()), 400, "invalid_parameter")
    assert_error(_post(operator, file=("x.gpkg", b"not a geopackage")), 400, "unreadable_file")


def test_operators_import_only_their_own(client_as):
    body = _collection(_feature("X-1"))
    assert_error(_post(client_as("operator"), body, operator="demo-gazraspredelenie"), 403,
                 "not_your_operator")  # fmt: skip
    assert_error(_post(client_as("operator-gas"), body), 403, "wrong_utility")
    for role in ("dispatcher", "planner"):
        assert_error(_post(client_as(role), body), 403, "forbidden")


def test_the_record_of_imports(client_as, session):
    _post(client_as("operator"), _collection(_feature("REC-1")), dry_run="true")
    _post(client_as("admin"), _collection(_feature("REC-2")), operator=OPERATOR)
    gas = _collection({"type": "Feature", "geometry": _line(),
                       "properties": {"external_id": "GAS-1", "pressure_class": "low"}})  # fmt: skip
    assert _post(client_as("operator-gas"), gas, layer="gas_pipelines").status_code == 200
    mine = client_as("operator").get("/api/imports").get_json()["imports"]
    assert {i["operator"] for i in mine} == {OPERATOR}
    assert [(i["username"], i["dry_run"], i["added"]) for i in mine[:2]] == [
        ("admin", False, 1),
        ("operator-vodokanal-gatchina", True, 1),
    ]
    everyone = client_as("admin").get("/api/imports").get_json()["imports"]
    assert "demo-gazraspredelenie" in {i["operator"] for i in everyone}
    assert (
        session.execute(
            text("SELECT count(*) FROM network_features WHERE external_id = 'REC-1'")
        ).scalar()
        == 0
    )


def test_cli_import_with_progress(runner, connection, session, tmp_path):
    path = tmp_path / "mains.geojson"
    path.write_text(json.dumps(_collection(_feature("CLI-1"), _feature("CLI-2"))), encoding="utf-8")
    result = runner.invoke(main, ["import", "--layer", "water_mains", "--operator", OPERATOR,
                                  "--mode", "upsert", str(path)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2 added" in result.output and "validate" in result.output
    assert _one(session, "CLI-2").updated_by.startswith("cli:")
    bad = tmp_path / "bad.geojson"
    bad.write_text(
        json.dumps(_collection(_feature("CLI-3", {"material": "wood"}))), encoding="utf-8"
    )
    result = runner.invoke(
        main, ["import", "--layer", "water_mains", "--operator", OPERATOR, str(bad)]
    )
    assert result.exit_code != 0 and "rejected" in result.output


def test_a_dry_run_lists_rejections_and_writes_nothing(client_as, session):
    before = _rows(session)
    body = _collection(_feature("DRY-1"), _feature("DRY-2", {"material": "wood"}))
    response = _post(client_as("operator"), body, dry_run="true")
    assert response.status_code == 200
    report = response.get_json()
    # The counts are of the features that passed; the rejected one is listed.
    assert (report["dry_run"], report["added"], report["rejected"]) == (True, 1, 1)
    assert report["rejected_features"][0]["external_id"] == "DRY-2"
    assert _rows(session) == before


def test_layer_files_declare_unit_conversions(tmp_path):
    from gis_app.layers import LayerFileError, parse_layer_file

    good = (
        'id = "mains"\ntitle_ru = "т"\ntitle_en = "t"\nutility = "water"\ngeometry = "LINESTRING"\n'
        '[[properties]]\nname = "diameter_mm"\ntype = "int"\nunit = "mm"\nconvert = { cm = 10 }\n'
    )
    (tmp_path / "mains.toml").write_text(good, encoding="utf-8")
    prop = parse_layer_file(tmp_path / "mains.toml").property("diameter_mm")
    assert (prop.factor("cm"), prop.factor("mm"), prop.factor("inch")) == (10.0, 1.0, None)
    (tmp_path / "mains.toml").write_text(good.replace('unit = "mm"\n', ""), encoding="utf-8")
    with pytest.raises(LayerFileError, match="mains.toml.*convert"):
        parse_layer_file(tmp_path / "mains.toml")


def test_a_wkt_crs_overrides_the_files_own(client_as, session):
    from pyproj import CRS

    x, y = UTM35
    line = {"type": "LineString", "coordinates": [[x, y], [x + 40, y + 30]]}
    body = _collection(_feature("W-1", geometry=line))
    response = _post(client_as("operator"), body, crs=CRS.from_epsg(32635).to_wkt())
    assert response.status_code == 200, response.get_json()
    row = _one(session, "W-1")
    assert row.x == pytest.approx(LON, abs=1e-6) and row.y == pytest.approx(LAT, abs=1e-6)

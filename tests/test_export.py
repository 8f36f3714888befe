"""Planners' exports: every format read back by GDAL with types, Cyrillic and provenance intact;
cuts by municipality, operator and bbox; the API and the CLI."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pyogrio
import pytest
from sqlalchemy import text

from gis_app.cli import main
from gis_app.exports.writer import FORMATS, Cut, export
from gis_app.layers import layer_registry

GATCHINA_IDS_SQL = (
    "SELECT f.id FROM network_features f WHERE f.layer_id = :l AND ST_Intersects(f.geom,"
    " (SELECT geom FROM municipalities WHERE slug = 'gatchina')) ORDER BY f.id"
)


def read(path: Path, fmt: str, layer: str):
    """The layer read back from an export with GDAL."""
    if fmt == "gpkg":
        return pyogrio.read_dataframe(path, layer=layer)
    ext = FORMATS[fmt][1]
    return pyogrio.read_dataframe(f"/vsizip/{path}/{layer}{ext}")


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_format_keeps_types_cyrillic_and_says_its_source(app, session, tmp_path, fmt):
    layers = [layer_registry(app).get("power_lines"), layer_registry(app).get("water_mains")]
    target = tmp_path / ("out.gpkg" if fmt == "gpkg" else "out.zip")
    with app.app_context():
        export(session, layers, Cut(municipality="gatchina"), fmt, target, "test source")
    for layer in layers:
        expected = list(session.execute(text(GATCHINA_IDS_SQL), {"l": layer.id}).scalars())
        frame = read(target, fmt, layer.id)
        assert sorted(int(v) for v in frame["id"]) == expected and expected
        assert frame["operator"].str.startswith("ДЕМО").all()  # Cyrillic survives
        assert frame.crs.to_epsg() == 4326
    lines = read(target, fmt, "power_lines")
    assert lines["voltage_kv"].dtype.kind == "f"
    assert lines["year_built"].dtype.kind in "iu"
    assert lines["conductor"].dropna().str.contains("АПвПу").any()
    mains = read(target, fmt, "water_mains")
    column = "diameter_m" if fmt == "shp" else "diameter_mm"  # the 10-character limit of .dbf
    assert mains[column].dtype.kind in "iu"
    if fmt == "gpkg":
        meta = pyogrio.read_info(target, layer="power_lines")["dataset_metadata"]
        assert meta["source"] == "test source" and meta["cut"] == "municipality=gatchina"
        assert meta["exported_at"].startswith("20")
    else:
        with zipfile.ZipFile(target) as zf:
            note = json.loads(zf.read("provenance.json"))
            assert note["source"] == "test source" and note["exported_at"]
            if fmt == "shp":
                assert zf.read("power_lines.cpg").decode().strip().upper() in ("UTF-8", "65001")
            if fmt == "csv":
                assert zf.read("power_lines.csv").decode("utf-8-sig").startswith("WKT,")


def test_cut_by_operator_and_bbox(app, session, tmp_path):
    layer = layer_registry(app).get("gas_pipelines")
    slug, op_id = session.execute(
        text(
            "SELECT o.slug, o.id FROM operators o JOIN network_features f ON f.operator_id = o.id"
            " WHERE f.layer_id = 'gas_pipelines' LIMIT 1"
        )
    ).one()
    target = tmp_path / "op.gpkg"
    export(session, [layer], Cut(operator=slug, bbox=(30.0, 59.4, 30.3, 59.7)), "gpkg", target, "t")
    frame = pyogrio.read_dataframe(target)
    expected = session.execute(
        text(
            "SELECT count(*) FROM network_features WHERE layer_id = 'gas_pipelines' AND"
            " operator_id = :o AND ST_Intersects(geom, ST_MakeEnvelope(30.0, 59.4, 30.3, 59.7, 4326))"
        ),
        {"o": op_id},
    ).scalar()
    assert len(frame) == expected > 0 and (frame["operator_id"] == op_id).all()


def fetch(client, url: str, headers: dict):
    """GET a download, read it whole and close it (the file handle with it)."""
    with client.get(url, headers=headers) as response:
        response.get_data()
        return response


def test_export_api(client, auth_headers, session):
    response = fetch(
        client,
        "/api/exports?layers=heat_sources,heat_pipes&municipality=gatchina&format=geojson",
        auth_headers,
    )
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert "gatchina" in response.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(response.data)) as zf:
        assert {"heat_sources.geojson", "heat_pipes.geojson", "provenance.json"} <= set(
            zf.namelist()
        )
        doc = json.loads(zf.read("heat_pipes.geojson"))
        assert "gatchina" in doc["description"] and doc["features"]
        expected = session.execute(text(GATCHINA_IDS_SQL), {"l": "heat_pipes"}).scalars().all()
        assert len(doc["features"]) == len(expected)
    whole = fetch(client, "/api/exports?municipality=kirishi", auth_headers)
    assert whole.status_code == 200 and whole.mimetype == "application/geopackage+sqlite3"
    for url, status, code in [
        ("/api/exports?format=dwg", 400, "invalid_parameter"),
        ("/api/exports?layers=gas", 404, "layer_not_found"),
        ("/api/exports?municipality=atlantis", 404, "place_not_found"),
        ("/api/exports?bbox=30.2,59,30.1,60", 400, "invalid_bbox"),
    ]:
        bad = fetch(client, url, auth_headers)
        assert bad.status_code == status and bad.get_json()["code"] == code


def test_export_cli(runner, tmp_path):
    target = tmp_path / "sb.zip"
    result = runner.invoke(
        main,
        ["export", "--municipality", "sosnovy-bor", "-l", "sewers", "-f", "fgb", "-o", str(target)],
    )
    assert result.exit_code == 0, result.output
    assert "exported" in result.output and "municipality=sosnovy-bor" in result.output
    frame = pyogrio.read_dataframe(f"/vsizip/{target}/sewers.fgb")
    assert len(frame) > 0
    bad = runner.invoke(main, ["export", "-l", "pipes", "-o", str(tmp_path / "x.gpkg")])
    assert bad.exit_code != 0 and "pipes" in bad.output

"""What a utility's mapping file may say (constants, defaults, how to read a list of values) and
what a layer declares for features that cross the oblast's boundary (reject, clip)."""

from __future__ import annotations

import json

import pytest
from helpers import assert_error
from sqlalchemy import text

from gis_app.imports.report import group_reasons

OPERATOR = "demo-gorset-gatchina"
# The demo oblast's western edge runs near 27.9 E at 59.3 N.
CROSSING = {"type": "LineString", "coordinates": [[27.7, 59.3], [28.0, 59.3]]}
OUTSIDE = {"type": "LineString", "coordinates": [[27.0, 59.3], [27.2, 59.3]]}
INSIDE = {"type": "LineString", "coordinates": [[30.10, 59.57], [30.11, 59.57]]}


def feature(ref, voltage, geometry=INSIDE, **props):
    return {"type": "Feature", "geometry": geometry,
            "properties": {"ref": ref, "voltage": voltage, **props}}  # fmt: skip


def post(client, features, mapping, layer="power_lines", **params):
    body = json.dumps({"type": "FeatureCollection", "features": features})
    query = "&".join(f"{k}={v}" for k, v in {"operator": OPERATOR, **params}.items())
    return client.post(
        f"/api/layers/{layer}/import?{query}&mapping={json.dumps(mapping)}",
        data=body, content_type="application/geo+json",
    )  # fmt: skip


MAPPING = {
    "ref": "external_id",
    "voltage": {"field": "voltage_kv", "unit": "V", "default": 10000},
    "construction": {"value": "overhead"},
}


def stored(session, ref):
    return session.execute(
        text(
            "SELECT attributes, ST_AsText(geom) FROM network_features"
            " WHERE layer_id = 'power_lines' AND external_id = :r"
        ),
        {"r": ref},
    ).one()


def test_constant_default_and_a_list_of_circuits(client, session):
    features = [feature("L-1", "330000;330000;110000"), feature("L-2", None),
                feature("L-3", "750000")]  # fmt: skip
    response = post(client, features, MAPPING)
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert report["added"] == 3 and report["constants"] == {"construction": "overhead"}
    assert stored(session, "L-1")[0] == {"voltage_kv": 330.0, "construction": "overhead"}
    assert stored(session, "L-2")[0]["voltage_kv"] == 10.0  # the mapping's default, in volts
    assert stored(session, "L-3")[0]["voltage_kv"] == 750.0


def test_a_mapping_may_read_a_list_otherwise(client, session):
    mapping = {**MAPPING, "voltage": {"field": "voltage_kv", "unit": "V", "list": "min"}}
    assert post(client, [feature("L-4", "330000;110000")], mapping).status_code == 200
    assert stored(session, "L-4")[0]["voltage_kv"] == 110.0


def test_a_crossing_line_is_clipped_and_one_outside_refused(client, session):
    ok = post(client, [feature("X-1", "110000", CROSSING)], MAPPING)
    assert ok.status_code == 200, ok.get_json()
    assert ok.get_json()["outside_oblast"] == {"rule": "clip", "crossing": 1, "clipped": 1}
    inside = session.execute(
        text(
            "SELECT ST_CoveredBy(f.geom, ST_Buffer(o.geom, 0.000001)), ST_XMin(f.geom) > 27.8"
            " FROM network_features f, municipalities o WHERE o.kind = 'oblast'"
            " AND f.external_id = 'X-1'"
        )
    ).one()
    assert tuple(inside) == (True, True)
    error = assert_error(post(client, [feature("X-2", "110000", OUTSIDE)], MAPPING), 422,
                         "import_failed")  # fmt: skip
    assert (
        "outside the oblast (does not touch it)"
        in error["details"]["rejected_features"][0]["reason"]
    )


def test_a_layer_that_rejects_keeps_refusing_crossing_features(client_as):
    water = {"type": "Feature", "geometry": CROSSING,
             "properties": {"GIS": "W-1", "diameter_mm": 200, "material": "steel"}}  # fmt: skip
    error = assert_error(post(client_as("admin"), [water], {"GIS": "external_id"},
                              layer="water_mains", operator="demo-vodokanal-gatchina"), 422,
                         "import_failed")  # fmt: skip
    assert error["details"]["reasons"][0]["reason"] == "geometry: not inside the oblast"


@pytest.mark.parametrize(
    "mapping",
    [{"construction": {"value": "overhead"}, "colour": {"value": "red"}},
     {"voltage": {"field": "voltage_kv", "list": "sum"}},
     {"voltage": {"field": "voltage_kv", "scale": 2}}],
)  # fmt: skip
def test_bad_mapping_entries_are_400(client, mapping):
    assert_error(post(client, [feature("B-1", "10000")], mapping), 400, "invalid_parameter")


def test_reasons_group_with_counts_keeping_field_names():
    rejected = {0: ["'voltage_kv' is required", "'construction' is required"],
                1: ["'construction' is required"], 2: ["external_id: 'A' also at index 0"],
                3: ["external_id: 'B' also at index 1"]}  # fmt: skip
    groups = group_reasons(rejected, {0: "L-0", 1: "L-1", 2: "A", 3: "B"})
    assert [(g["reason"], g["count"]) for g in groups] == [
        ("'construction' is required", 2), ("external_id: … also at index …", 2),
        ("'voltage_kv' is required", 1),
    ]  # fmt: skip
    assert groups[0]["features"] == ["#0 L-0", "#1 L-1"]

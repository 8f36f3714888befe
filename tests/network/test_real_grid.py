"""The oblast's real high-voltage grid (OSM via GridKit, ../shared/data; skipped where absent):
its lines linked by the topology upkeep, the `connected` trace from one line answers exactly the
lines of its connected component in the dataset's own graph (its vertex ids)."""

from __future__ import annotations

import json

import pytest
from helpers import SHARED_DATA

from gis_app.network.service import trace_answer
from network.builder import Net

LINKS = SHARED_DATA / "lenobl_power_grid_highvoltage_links.geojson"
pytestmark = pytest.mark.skipif(not LINKS.exists(), reason="the oblast's real data is absent")


def _kv(voltage: str | None) -> float:
    """The highest circuit's voltage in kV ('330000;110000' → 330.0); 110 when unknown."""
    volts = [float(v) for v in (voltage or "").split(";") if v]
    return max(volts) / 1000 if volts else 110.0


def test_the_connected_trace_is_the_datasets_own_component(session):
    links = json.loads(LINKS.read_text(encoding="utf-8"))["features"]
    net = Net(session)
    ids = {}
    for f in links:
        p = f["properties"]
        wkt = "LINESTRING(" + ", ".join(f"{x:.9f} {y:.9f}" for x, y in f["geometry"]["coordinates"])
        attrs = {"voltage_kv": _kv(p["voltage"]), "construction": "overhead"}
        ids[p["l_id"]] = net.wkt("power_lines", wkt + ")", p["name"], **attrs)
    net.link()
    parent: dict[str, str] = {}

    def find(v: str) -> str:
        while parent.get(v, v) != v:
            v = parent[v]
        return v

    for f in links:
        a, b = find(f["properties"]["v_id_1"]), find(f["properties"]["v_id_2"])
        if a != b:
            parent[a] = b
    start = next(f for f in links if f["properties"]["ref"] == "Л-702")  # Leningrad NPP, 750 kV
    component = find(start["properties"]["v_id_1"])
    expected = {ids[f["properties"]["l_id"]] for f in links
                if find(f["properties"]["v_id_1"]) == component}  # fmt: skip
    answer = trace_answer(session, ids[start["properties"]["l_id"]], "connected")
    assert {f["id"] for f in answer["features"]} == expected
    assert len(expected) >= 70  # the oblast's 220–750 kV grid is one network
    # The oblast-wide answer concerns the municipalities the grid crosses (demo: Gatchina's).
    assert "gatchinsky" in {m["slug"] for m in answer["trace"]["municipalities"]}

"""The topology: ends join within the layer's tolerance, the report lists what does not connect,
the incremental upkeep and the full rebuild agree, and layer files are checked."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from gis_app.layers import LayerFileError, parse_layer_file
from gis_app.network import topology
from gis_app.network.report import connectivity_report
from network.builder import REGISTRY, Net


def nodes_of(session, *feature_ids) -> list[tuple]:
    return session.execute(
        text("SELECT node_a, node_b FROM network_links WHERE feature_id = ANY(:i) ORDER BY 1"),
        {"i": list(feature_ids)},
    ).all()


def test_ends_within_tolerance_join_and_near_misses_are_reported(session):
    net = Net(session, (33.41, 60.95))
    a = net.line("water_mains", (0, 0), (100, 0), diameter_mm=100)
    b = net.line("water_mains", (100.4, 0), (200, 0), diameter_mm=100)  # 0.4 m: joins (1 m)
    c = net.line("water_mains", (201.5, 0), (300, 0), diameter_mm=100)  # 1.5 m: near-miss
    hydrant = net.point("water_facilities", (300.9, 0.9), kind="hydrant")  # 1.27 m < 2 m
    net.link()
    (a1, a2), (b1, b2), (c1, c2) = (nodes_of(session, f)[0] for f in (a, b, c))
    assert a2 == b1 and b2 != c1
    assert nodes_of(session, hydrant)[0][0] == c2
    report = connectivity_report(session, REGISTRY, "water")
    assert any(
        {n["node_a"], n["node_b"]} == {b2, c1} and 1.4 < n["distance_m"] < 1.6
        for n in report["near_misses"]["items"]
    )
    dangling = {d["node"] for d in report["dangling_ends"]["items"]}
    assert a1 in dangling and b2 in dangling and c1 in dangling and c2 not in dangling


def test_a_point_off_the_network_is_reported(session):
    net = Net(session, (33.41, 60.96))
    net.line("water_mains", (0, 0), (100, 0), diameter_mm=100)
    lonely = net.point("water_facilities", (50, 30), kind="hydrant")
    net.link()
    report = connectivity_report(session, REGISTRY, "water")
    assert lonely in [p["feature_id"] for p in report["points_off_network"]["items"]]


def test_an_edit_relinks_the_feature_and_drops_unused_nodes(session):
    net = Net(session, (33.41, 60.97))
    a = net.line("water_mains", (0, 0), (100, 0), diameter_mm=100)
    b = net.line("water_mains", (100, 0), (200, 0), diameter_mm=100)
    net.link()
    assert nodes_of(session, a)[0][1] == nodes_of(session, b)[0][0]
    session.execute(
        text("UPDATE network_features SET geom = ST_GeomFromText(:g, 4326) WHERE id = :i"),
        {
            "g": "LINESTRING(%.9f %.9f, %.9f %.9f)" % (*net.lonlat(110, 0), *net.lonlat(200, 0)),
            "i": b,
        },
    )
    topology.upkeep(session, REGISTRY, REGISTRY.get("water_mains"), [b])
    assert nodes_of(session, a)[0][1] != nodes_of(session, b)[0][0]
    orphans = session.execute(
        text(
            "SELECT count(*) FROM network_nodes n WHERE n.utility_code = 'water' AND NOT EXISTS"
            " (SELECT 1 FROM network_links l WHERE n.id IN (l.node_a, l.node_b))"
        )
    ).scalar_one()
    assert orphans == 0


def test_the_full_rebuild_gives_the_demo_the_same_connectivity(session):
    def degrees():
        return session.execute(
            text(
                "SELECT count(*) FILTER (WHERE c = 1), count(*) FILTER (WHERE c = 2),"
                " count(*) FILTER (WHERE c > 2) FROM (SELECT n, count(*) c FROM (SELECT node_a n"
                " FROM network_links WHERE utility_code = 'gas' UNION ALL SELECT node_b"
                " FROM network_links WHERE utility_code = 'gas') e WHERE n IS NOT NULL"
                " GROUP BY n) d"
            )
        ).one()

    before = degrees()
    counts = topology.rebuild(session, REGISTRY, "gas")
    assert degrees() == before
    features = session.execute(
        text(
            "SELECT count(*) FROM network_features WHERE layer_id IN"
            " ('gas_pipelines', 'gas_facilities')"
        )
    ).scalar_one()
    assert counts["gas_pipelines"] + counts["gas_facilities"] == features


@pytest.mark.parametrize(
    "extra, message",
    [
        ("snap_tolerance_m = 0\n", "snap_tolerance_m"),
        ("snap_tolerance_m = 500.0\n", "snap_tolerance_m"),
        ('snap_tolerance_m = 1.0\ndevice_kinds = ["intake"]\n', "'state' and 'operable'"),
        ('source_kinds = ["intake"]\n', "needs 'snap_tolerance_m'"),
    ],
)
def test_layer_files_check_the_topology_keys(tmp_path, extra, message):
    text_ = Path(REGISTRY.get("water_facilities").source).read_text(encoding="utf-8")
    text_ = "\n".join(
        line
        for line in text_.splitlines()
        if not line.startswith(("snap_tolerance_m", "source_kinds", "device_kinds"))
    )
    path = tmp_path / "water_facilities.toml"
    path.write_text(extra + text_, encoding="utf-8")
    with pytest.raises(LayerFileError, match=message):
        parse_layer_file(path)

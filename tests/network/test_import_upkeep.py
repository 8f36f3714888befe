"""The topology that imports keep equals the one a full rebuild makes: a small generated grid
with what digitised data holds (an end off a junction within tolerance, a near-miss, a dangling
spur, a branch ending on a main's middle, a main drawn after the branches it meets, a moved and
a removed main, valves on a junction and on a main's middle) imported in steps through the API,
then the utility rebuilt from scratch."""

from __future__ import annotations

import json
import math

from sqlalchemy import text

from gis_app.network import topology
from network.builder import REGISTRY

GEOJSON = "application/geo+json"
ORIGIN = (33.43, 60.915)  # a few km off the demo towns, inside the oblast
STEP = 50.0  # metres between the grid's junctions
K = 6  # a K x K grid of junctions


def lonlat(east_m: float, north_m: float) -> list[float]:
    kx = 111_320.0 * math.cos(math.radians(ORIGIN[1]))
    return [round(ORIGIN[0] + east_m / kx, 9), round(ORIGIN[1] + north_m / 111_320.0, 9)]


def main(ext: str, *points_m: tuple[float, float]) -> dict:
    return {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": [lonlat(*p) for p in points_m]},
        "properties": {"external_id": ext, "diameter_mm": 150},
    }


def valve(ext: str, at_m: tuple[float, float], state: str = "open") -> dict:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": lonlat(*at_m)},
        "properties": {"external_id": ext, "kind": "gate_valve", "state": state,
                       "operable": True},
    }  # fmt: skip


def grid(rows: int) -> list[dict]:
    """The grid's segments east and north of each junction, for its first `rows` rows."""
    out = []
    for i in range(K):
        for j in range(rows):
            x, y = i * STEP, j * STEP
            if i + 1 < K:
                out.append(main(f"UPK-e-{i}-{j}", (x, y), (x + STEP, y)))
            if j + 1 < rows:
                out.append(main(f"UPK-n-{i}-{j}", (x, y), (x, y + STEP)))
    return out


def post(client, layer: str, mode: str, features: list[dict]) -> dict:
    response = client.post(
        f"/api/layers/{layer}/import",
        query_string={"mode": mode},
        data=json.dumps({"type": "FeatureCollection", "features": features}),
        content_type=GEOJSON,
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def topology_of(session) -> tuple[dict, dict]:
    """Independent of node ids: the links of the test's features by (external id, part) with
    their role, state and length; and for each node, which link ends meet there → its position
    in metres from the origin."""
    rows = session.execute(
        text(
            "SELECT f.external_id, l.part, l.role, l.closed, l.length_m, l.node_a, ST_X(a.geom),"
            " ST_Y(a.geom), l.node_b, ST_X(b.geom), ST_Y(b.geom)"
            " FROM network_links l JOIN network_features f ON f.id = l.feature_id"
            " JOIN network_nodes a ON a.id = l.node_a LEFT JOIN network_nodes b ON b.id = l.node_b"
            " WHERE f.external_id LIKE 'UPK-%'"
        )
    ).all()
    kx = 111_320.0 * math.cos(math.radians(ORIGIN[1]))
    links, meets, where = {}, {}, {}
    for ext, part, role, closed, length, *ends in rows:
        links[(ext, part)] = (role, closed, length)
        for end, (node, x, y) in zip("ab", (ends[:3], ends[3:]), strict=True):
            if node is not None:
                meets.setdefault(node, set()).add((ext, part, end))
                where[node] = ((x - ORIGIN[0]) * kx, (y - ORIGIN[1]) * 111_320.0)
    return links, {frozenset(m): where[node] for node, m in meets.items()}


def assert_same_topology(kept: tuple[dict, dict], rebuilt: tuple[dict, dict]) -> None:
    """The same links and the same ends meeting at each node. A node joined by ends within
    tolerance may stand elsewhere within it (an import joins an end to the node already there;
    a rebuild puts the node at the middle of the ends), and so lengths of parts may differ."""
    assert kept[0].keys() == rebuilt[0].keys()
    for key, (role, closed, length) in kept[0].items():
        assert rebuilt[0][key][:2] == (role, closed), key
        assert abs(rebuilt[0][key][2] - length) < 1.0, key
    assert kept[1].keys() == rebuilt[1].keys()
    for meet, (x, y) in kept[1].items():
        assert math.dist((x, y), rebuilt[1][meet]) < 1.0, meet


def steps() -> list[tuple[str, str, list[dict]]]:
    """The imports: (layer, mode, features)."""
    top = (K - 1) * STEP
    # 1. The southern half, and three branches north of where the grid will end.
    branches = [main(f"UPK-branch-{i}", (i * STEP + 25, top + 40), (i * STEP + 25, top + 20))
                for i in range(3)]  # fmt: skip
    # 2. The whole grid; a main drawn along the branches' ends (on its middle), a branch ending
    # on a grid main's middle, an end 0.4 m off a junction (joins), one 1.5 m off (a near-miss),
    # a dangling spur; one main of step 1 moved, one left out (removed).
    extra = [
        main("UPK-across", (0, top + 20), (3 * STEP, top + 20)),
        main("UPK-tee", (STEP + 20, -30), (STEP + 20, 0)),
        main("UPK-close", (-30, STEP), (-0.4, STEP)),
        main("UPK-miss", (-30, 2 * STEP), (-1.5, 2 * STEP)),
        main("UPK-spur", (top, top), (top + 30, top + 30)),
    ]
    full = [f for f in grid(K) if f["properties"]["external_id"] != "UPK-e-2-0"]
    moved = next(f for f in full if f["properties"]["external_id"] == "UPK-n-4-0")
    moved["geometry"]["coordinates"][1] = lonlat(4 * STEP + 10, STEP - 10)  # now dangles
    # 3. Valves: on a junction, on a main's middle (it splits the main), one closed.
    valves = [
        valve("UPK-v-node", (STEP, STEP)),
        valve("UPK-v-middle", (2 * STEP + 20, 3 * STEP)),
        valve("UPK-v-closed", (3 * STEP, 4 * STEP), "closed"),
    ]
    return [
        ("water_mains", "replace", grid(K // 2) + branches),
        ("water_mains", "replace", full + branches + extra),
        ("water_valves", "replace", valves),
    ]


def check_the_cases(kept: tuple[dict, dict]) -> None:
    """The across main and the tee's main are split, the close end joined, the near-miss not,
    the removed main gone, the valve on a main's middle splits it."""
    links, meets = kept
    parts: dict[str, int] = {}
    for ext, _ in links:
        parts[ext] = parts.get(ext, 0) + 1
    assert parts["UPK-across"] == 4  # three branch ends on its middle
    assert parts["UPK-e-1-0"] == 2  # the tee
    assert parts["UPK-e-2-3"] == 2  # the valve on its middle
    assert parts["UPK-n-0-1"] == 1 and parts["UPK-e-0-2"] == 1
    assert "UPK-e-2-0" not in parts
    close = {("UPK-close", 0, "b"), ("UPK-n-0-0", 0, "b"), ("UPK-n-0-1", 0, "a"),
             ("UPK-e-0-1", 0, "a")}  # fmt: skip
    assert frozenset(close) in meets
    assert frozenset({("UPK-miss", 0, "b")}) in meets
    assert frozenset({("UPK-n-4-0", 0, "b")}) in meets  # moved off its junction
    assert links[("UPK-v-closed", 0)][:2] == ("device", True)


def test_the_topology_imports_keep_equals_a_full_rebuild(client_as, session):
    client = client_as("operator")
    reports = [post(client, layer, mode, features) for layer, mode, features in steps()]
    assert reports[1]["removed"] == 1 and reports[1]["changed"] == 1
    kept = topology_of(session)
    check_the_cases(kept)
    topology.rebuild(session, REGISTRY, "water")
    assert_same_topology(kept, topology_of(session))


def test_the_topology_of_batches_equals_a_full_rebuild(session):
    """As imports in transactions of their own do: each batch relinks only what it added or
    changed (the test's imports share one transaction, so each relinks all of the owner's)."""
    operator = session.execute(
        text("SELECT id FROM operators WHERE slug = 'demo-vodokanal-gatchina'")
    ).scalar_one()
    ids: dict[str, int] = {}
    for layer_id, _, features in steps():
        batch = []
        for f in features:
            ext, wkt = f["properties"]["external_id"], json.dumps(f["geometry"])
            attributes = {k: v for k, v in f["properties"].items() if k != "external_id"}
            if ext in ids:
                changed = session.execute(
                    text(
                        "UPDATE network_features SET geom = ST_SetSRID(ST_GeomFromGeoJSON(:g), 4326)"
                        " WHERE id = :i AND NOT ST_Equals(geom, ST_GeomFromGeoJSON(:g))"
                    ),
                    {"g": wkt, "i": ids[ext]},
                ).rowcount
                batch += [ids[ext]] if changed else []
                continue
            ids[ext] = session.execute(
                text(
                    "INSERT INTO network_features (layer_id, utility_code, operator_id,"
                    " external_id, attributes, geom) VALUES (:l, 'water', :o, :e,"
                    " CAST(:a AS jsonb), ST_SetSRID(ST_GeomFromGeoJSON(:g), 4326)) RETURNING id"
                ),
                {"l": layer_id, "o": operator, "e": ext, "a": json.dumps(attributes), "g": wkt},
            ).scalar_one()
            batch.append(ids[ext])
        gone = set(ids) - {f["properties"]["external_id"] for f in features}
        gone = [ext for ext in gone if ext.startswith("UPK-e-") or ext.startswith("UPK-n-")]
        if gone and layer_id == "water_mains":
            session.execute(
                text("DELETE FROM network_features WHERE id = ANY(:i)"),
                {"i": [ids.pop(ext) for ext in gone]},
            )
        topology.upkeep(session, REGISTRY, REGISTRY.get(layer_id), batch)
    kept = topology_of(session)
    check_the_cases(kept)
    topology.rebuild(session, REGISTRY, "water")
    assert_same_topology(kept, topology_of(session))

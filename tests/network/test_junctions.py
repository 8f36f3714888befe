"""T-junctions: a line end (or a device) on the middle of another line joins it, the line is
split into parts between its nodes, traces treat the T right, and the upkeep keeps it current."""

from __future__ import annotations

from sqlalchemy import text

from gis_app.network import topology
from gis_app.network.report import connectivity_report
from gis_app.network.service import run_trace, trace_answer
from network.builder import REGISTRY, Net


def pipe(net: Net, *points) -> int:
    return net.line("water_mains", *points, diameter_mm=150)


def intake(net: Net, at) -> int:
    return net.point("water_facilities", at, "Водозабор", kind="intake")


def parts(session, fid: int) -> list[tuple]:
    """(part, node_a, node_b, length_m) of a feature's links."""
    return session.execute(
        text(
            "SELECT part, node_a, node_b, round(length_m) FROM network_links"
            " WHERE feature_id = :i ORDER BY part"
        ),
        {"i": fid},
    ).all()


def dangling_nodes(session) -> set[int]:
    report = connectivity_report(session, REGISTRY, "water", limit=100_000)
    return {d["node"] for d in report["dangling_ends"]["items"]}


def test_a_branch_end_on_the_middle_of_a_main_splits_it_and_is_no_dangle(session):
    net = Net(session, (33.45, 61.00))
    main = pipe(net, (0, 0), (200, 0))
    branch = pipe(net, (100, 0.5), (100, 80))  # 0.5 m off the main: within the 1 m tolerance
    net.link()
    (p0, a, t, l0), (p1, t2, b, l1) = parts(session, main)
    tee = parts(session, branch)[0][1]
    assert (p0, p1) == (0, 1) and t == t2 == tee and (l0, l1) == (100, 100)
    # The node lies on the main, at its nearest point to the branch end.
    off = session.execute(
        text(
            "SELECT ST_Distance(n.geom::geography, f.geom::geography) FROM network_nodes n,"
            " network_features f WHERE n.id = :n AND f.id = :f"
        ),
        {"n": tee, "f": main},
    ).scalar_one()
    assert off < 0.01
    assert tee not in dangling_nodes(session)
    assert {a, b} <= dangling_nodes(session)
    # Moving the branch end 5 m off the main unjoins it: the main is one part again.
    session.execute(
        text("UPDATE network_features SET geom = ST_GeomFromText(:g, 4326) WHERE id = :i"),
        {"g": "LINESTRING(%.9f %.9f, %.9f %.9f)" % (*net.lonlat(100, 5), *net.lonlat(100, 80)),
         "i": branch},
    )  # fmt: skip
    topology.upkeep(session, REGISTRY, REGISTRY.get("water_mains"), [branch])
    assert parts(session, main) == [(0, a, b, 200)]
    moved = parts(session, branch)[0][1]
    assert moved != tee and moved in dangling_nodes(session)
    orphans = session.execute(
        text(
            "SELECT count(*) FROM network_nodes n WHERE n.utility_code = 'water' AND NOT EXISTS"
            " (SELECT 1 FROM network_links l WHERE n.id IN (l.node_a, l.node_b))"
        )
    ).scalar_one()
    assert orphans == 0


def test_a_main_drawn_after_its_branches_joins_them(session):
    net = Net(session, (33.45, 61.01))
    branches = [pipe(net, (x, 0.3), (x, 60)) for x in (50, 120)]
    net.link()
    main = pipe(net, (0, 0), (200, 0))
    net.link()
    split = parts(session, main)
    assert [p[0] for p in split] == [0, 1, 2]
    assert [p[2] for p in split[:2]] == [parts(session, b)[0][1] for b in branches]
    # A full rebuild gives the same graph (node ids aside).
    before = [len(parts(session, f)) for f in (main, *branches)]
    topology.rebuild(session, REGISTRY, "water")
    assert [len(parts(session, f)) for f in (main, *branches)] == before


def test_traces_through_t_junctions(session):
    net = Net(session, (33.45, 61.02))
    intake(net, (0, 0))
    m1 = pipe(net, (0, 0), (200, 0))
    v1 = net.valve((200, 0), name="ЗВ-1")
    m2 = pipe(net, (200, 0), (400, 0))
    intake(net, (400, 0))
    br1 = pipe(net, (100, 0), (100, 100))  # tapped into the middle of m1
    net.consumer((110, 90), 50)
    br2a = pipe(net, (300, 0), (300, -30))  # tapped into the middle of m2
    v2 = net.valve((300, -30), name="ЗВ-2")
    br2b = pipe(net, (300, -30), (300, -120))
    net.consumer((310, -100), 70, "school", "Школа №2")
    net.link()
    # The branch is fed through the main: a break on it costs only itself.
    assert run_trace(session, br1, "downstream").supply_lost == {br1}
    assert {m1, br1} <= set(run_trace(session, br1, "connected").roles)
    # A break on the first main cuts off the branch tapped into it, not what lies beyond the
    # valve (fed from the other intake).
    down = run_trace(session, m1, "downstream")
    assert down.supply_lost == {m1, br1}
    assert trace_answer(session, m1, "downstream")["trace"]["consumers_cut_off"] == 50
    iso = run_trace(session, m1, "isolation")
    assert iso.devices_to_operate == [v1]
    assert br1 in iso.supply_lost and not {m2, br2a, br2b, v2} & iso.supply_lost
    # A valve on the branch isolates only the branch.
    iso = run_trace(session, br2b, "isolation")
    assert iso.devices_to_operate == [v2] and iso.supply_lost == {br2b}
    answer = trace_answer(session, br2b, "isolation")["trace"]
    assert answer["consumers_cut_off"] == 70 and answer["social_objects_by_kind"] == {"school": 1}
    assert m2 not in run_trace(session, br2a, "downstream").supply_lost


def test_a_valve_drawn_on_the_middle_of_a_main_splits_it(session):
    net = Net(session, (33.45, 61.03))
    intake(net, (0, 0))
    main = pipe(net, (0, 0), (300, 0))
    valve = net.valve((150, 1.5), name="ЗВ-3")  # 1.5 m off: within the valves' 2 m
    branch = pipe(net, (250, 0), (250, 50))
    net.link()
    split = parts(session, main)
    at = session.execute(
        text("SELECT node_a FROM network_links WHERE feature_id = :i"), {"i": valve}
    ).scalar_one()
    assert len(split) == 3 and at in {p[2] for p in split}
    iso = run_trace(session, branch, "isolation")
    assert iso.devices_to_operate == [valve]


def test_deleting_a_feature_deletes_its_links_and_parts(session):
    net = Net(session, (33.45, 61.04))
    main = pipe(net, (0, 0), (200, 0))
    pipe(net, (100, 0), (100, 50))
    net.link()
    assert len(parts(session, main)) == 2
    session.execute(text("DELETE FROM network_features WHERE id = :i"), {"i": main})
    assert parts(session, main) == []

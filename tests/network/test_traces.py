"""Traces on small hand-made networks with known answers, and on the demo towns."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from gis_app.errors import InvalidParameter
from gis_app.network.cascade import add_dependency
from gis_app.network.service import run_trace, trace_answer
from network.builder import Net


def pipe(net: Net, a, b) -> int:
    return net.line("water_mains", a, b, diameter_mm=150)


def intake(net: Net, at) -> int:
    return net.point("water_facilities", at, "Водозабор", kind="intake")


def test_a_loop_fed_from_two_sources_loses_nothing_but_the_break(session):
    net = Net(session, (33.40, 60.90))
    intake(net, (0, 0))
    intake(net, (400, 0))
    p = [pipe(net, (x, 0), (x + 100, 0)) for x in (0, 100, 200, 300)]
    net.consumer((150, 20), 80)
    net.consumer((250, 20), 90)
    net.link()
    down = trace_answer(session, p[1], "downstream")["trace"]
    # The consumer on the broken pipe loses water; the one beyond is fed from the other side.
    assert run_trace(session, p[1], "downstream").supply_lost == {p[1]}
    assert down["consumers_cut_off"] == 80 and down["buildings_cut_off"] == 1
    up = run_trace(session, p[1], "upstream")
    assert {p[0], p[2], p[3]} <= set(up.roles)


def test_a_dead_end_branch_is_cut_off_and_its_far_valve_is_not_needed(session):
    net = Net(session, (33.40, 60.91))
    intake(net, (0, 0))
    trunk = [pipe(net, (0, 0), (100, 0)), pipe(net, (100, 0), (200, 0))]
    b0 = pipe(net, (100, 0), (100, 50))
    va = net.valve((100, 50), name="ЗВ-А")
    b1 = pipe(net, (100, 50), (100, 100))
    vb = net.valve((100, 100), name="ЗВ-Б")
    b2 = pipe(net, (100, 100), (100, 200))
    school = net.consumer((120, 150), 600, "school", "Школа №1")
    net.link()
    down = run_trace(session, b0, "downstream")
    assert down.supply_lost == {b0, b1, b2, va, vb}
    iso = run_trace(session, b1, "isolation")
    assert iso.devices_to_operate == [va]
    assert iso.devices_not_needed == [vb]
    assert iso.supply_lost == {b1, b2}
    answer = trace_answer(session, b1, "isolation")["trace"]
    assert answer["consumers_cut_off"] == 600
    assert [s["id"] for s in answer["social_objects_cut_off"]] == [school]
    assert answer["social_objects_by_kind"] == {"school": 1}
    assert trunk[0] not in iso.supply_lost and trunk[1] not in iso.supply_lost


def test_a_closed_valve_already_in_the_network_bounds_the_trace(session):
    net = Net(session, (33.40, 60.92))
    intake(net, (0, 0))
    p1 = pipe(net, (0, 0), (100, 0))
    v1 = net.valve((100, 0))
    p2 = pipe(net, (100, 0), (200, 0))
    closed = net.valve((200, 0), state="closed")
    p3 = pipe(net, (200, 0), (300, 0))
    net.link()
    # Beyond the closed valve nothing was supplied before: not counted as cut off.
    assert run_trace(session, p1, "downstream").supply_lost == {p1, v1, p2}
    iso = run_trace(session, p2, "isolation")
    assert iso.devices_to_operate == [v1]
    assert iso.devices_already_closed == [closed]
    assert iso.supply_lost == {p2}
    assert p3 not in run_trace(session, p1, "connected").roles


def test_an_inoperable_valve_forces_a_larger_isolation(session):
    net = Net(session, (33.40, 60.93))
    intake(net, (0, 0))
    intake(net, (400, 0))
    p1 = pipe(net, (0, 0), (100, 0))
    v1 = net.valve((100, 0))
    p2 = pipe(net, (100, 0), (200, 0))
    v2 = net.valve((200, 0), operable=False, name="ЗВ-2")
    p3 = pipe(net, (200, 0), (300, 0))
    v3 = net.valve((300, 0))
    p4 = pipe(net, (300, 0), (400, 0))
    net.link()
    iso = run_trace(session, p2, "isolation")
    assert iso.devices_to_operate == [v1, v3]
    assert iso.devices_inoperable == [v2]
    assert iso.supply_lost == {p2, v2, p3}  # the stuck valve lies in the isolated part
    assert p1 not in iso.supply_lost and p4 not in iso.supply_lost
    notes = trace_answer(session, p2, "isolation")["trace"]["notes"]
    assert "ЗВ-2" in notes[0]["ru"] and "inoperable" in notes[0]["en"]
    # With the valve repaired, only the broken pipe's own valves are needed.
    session.execute(
        text("UPDATE network_links SET operable = true WHERE feature_id = :v"), {"v": v2}
    )
    repaired = run_trace(session, p2, "isolation")
    assert repaired.devices_to_operate == [v1, v2] and repaired.supply_lost == {p2}


def test_a_switch_cuts_when_off_in_an_electricians_words(session):
    """A switch "on" passes power and one "off" cuts it: not the valves' open/closed, whose
    meaning an electrician reads the other way round."""
    net = Net(session, (33.40, 60.935))
    net.point("power_substations", (0, 0), "ПС-1", kind="substation", voltage_class="110/10")
    cable = [net.line("power_lines", (x, 0), (x + 100, 0), voltage_kv=10.0) for x in (0, 100, 200)]
    on = net.point("power_switches", (100, 0), "Q1", kind="breaker", state="on", operable=True)
    off = net.point("power_switches", (200, 0), "Q2", kind="switch", state="off", operable=True)
    net.link()
    links = dict(
        session.execute(
            text("SELECT feature_id, closed FROM network_links WHERE feature_id IN (:a, :b)"),
            {"a": on, "b": off},
        ).all()
    )
    assert links == {on: False, off: True}
    # Beyond the switch that is off nothing was supplied: a break before it cuts off the
    # cable behind the one that is on, not the one behind the switch that is off.
    assert run_trace(session, cable[0], "downstream").supply_lost == {cable[0], on, cable[1]}
    iso = run_trace(session, cable[1], "isolation")
    assert iso.devices_to_operate == [on] and iso.devices_already_closed == [off]


def test_a_gas_break_stops_a_boiler_house_and_its_heat_network(session):
    net = Net(session, (33.40, 60.94))
    net.point("gas_facilities", (0, 0), "ГРС", kind="grs")
    g1 = net.line("gas_pipelines", (0, 0), (100, 0), pressure_class="medium")
    g2 = net.line("gas_pipelines", (100, 0), (200, 0), pressure_class="medium")
    boiler = net.point("heat_sources", (200, 200), "Котельная №7", kind="boiler_house")
    h1 = net.line("heat_pipes", (200, 200), (300, 200), diameter_mm=300)
    h2 = net.line("heat_pipes", (300, 200), (400, 200), diameter_mm=200)
    net.consumer((350, 220), 420, "residential")
    net.consumer((380, 230), 700, "school", "Школа №2")
    net.link()
    session.execute(
        text("INSERT INTO network_dependencies VALUES (:d, :s, 'gas')"), {"d": boiler, "s": g2}
    )
    answer = trace_answer(session, g1, "downstream")
    trace = answer["trace"]
    [step] = trace["cascade"]
    assert step["level"] == 1 and step["utility"] == "heat"
    assert step["dependent"]["id"] == boiler and step["because_of"]["id"] == g2
    assert step["consumers_cut_off"] == 1120
    assert [s["name"] for s in step["social_objects_cut_off"]] == ["Школа №2"]
    assert trace["totals"]["utilities_cut_off"] == ["gas", "heat"]
    heat_ids = {f["id"] for f in answer["features"] if f["properties"].get("step") == 1}
    assert {h1, h2, boiler} <= heat_ids


def test_a_110_kv_line_lost_stops_its_substation_and_the_town_network_it_feeds(session):
    """A feeding substation is a source of the 10 kV network, fed itself by its 110 kV line (a
    transformer is not a line in the topology): as a dependency, losing the line stops the
    substation and so the 10 kV network, counted once, in the same utility."""
    net = Net(session, (33.40, 60.945))
    sub = net.point("power_substations", (0, 0), "ПС 110/10 кВ №1", kind="substation",
                    voltage_class="110/10")  # fmt: skip
    hv = net.line("power_lines", (-1000, 0), (0, 0), voltage_kv=110.0, construction="overhead")
    c1 = net.line("power_lines", (0, 0), (100, 0), voltage_kv=10.0, construction="cable")
    c2 = net.line("power_lines", (100, 0), (200, 0), voltage_kv=10.0, construction="cable")
    net.consumer((150, 20), 300, "residential")
    net.consumer((60, -20), 500, "school", "Школа №5")
    net.consumer((-500, 5), 40, "residential")  # beside the 110 kV line: never supplied by it
    net.link()
    # Within one utility only a source may depend, and only on a line with a voltage.
    with pytest.raises(InvalidParameter):
        add_dependency(session, c1, hv, None)
    add_dependency(session, sub, hv, "питание ПС по ВЛ 110 кВ")
    answer = trace_answer(session, hv, "downstream")
    trace = answer["trace"]
    assert trace["consumers_cut_off"] == 0  # a 110 kV line feeds no building directly
    [step] = trace["cascade"]
    assert step["utility"] == "electricity" and step["dependent"]["id"] == sub
    assert step["because_of"]["id"] == hv
    assert step["consumers_cut_off"] == 800
    assert [s["name"] for s in step["social_objects_cut_off"]] == ["Школа №5"]
    by_step = [(f["id"], f["properties"].get("step")) for f in answer["features"]]
    assert {(sub, 1), (c1, 1), (c2, 1)} <= set(by_step)
    assert [i for i, _ in by_step].count(hv) == 1  # the line is the failure, not also cut off
    assert trace["totals"]["consumers_cut_off"] == 800


@pytest.mark.parametrize("town", ["gatchina", "sosnovy-bor", "kirishi", "vyborg"])
def test_the_intake_of_a_demo_town_feeds_every_water_consumer_of_it(session, town):
    """Known answer on the demo: without its intake a town has no water at all."""
    intake_id = session.execute(
        text(
            "SELECT f.id FROM network_features f JOIN municipalities m ON m.slug = :t"
            " WHERE f.is_demo AND f.layer_id = 'water_facilities'"
            " AND f.attributes->>'kind' = 'intake'"
            " ORDER BY f.geom <-> ST_Centroid(m.geom) LIMIT 1"
        ),
        {"t": town},
    ).scalar_one()
    expected = session.execute(
        text(
            "SELECT sum((c.attributes->>'consumers')::int) FROM consumer_supplies s"
            " JOIN network_features c ON c.id = s.consumer_id"
            " JOIN network_features w ON w.id = s.feature_id"
            " JOIN network_links l ON l.feature_id = w.id"
            " WHERE s.utility_code = 'water' AND l.node_a IN (SELECT id FROM network_nodes n"
            "  WHERE n.utility_code = 'water')"
            " AND ST_DWithin(c.geom::geography, (SELECT geom FROM municipalities"
            "  WHERE slug = :t)::geography, 0)"
        ),
        {"t": town},
    ).scalar_one()
    trace = trace_answer(session, intake_id, "downstream")["trace"]
    assert trace["consumers_cut_off"] == expected > 1000
    assert town in [m["slug"] for m in trace["municipalities"]]
    assert town in [s["slug"] for s in trace["settlements_cut_off"]]


def test_a_demo_isolation_names_valves_and_a_gas_break_cascades_into_heat(session):
    mains = session.execute(
        text(
            "SELECT f.id FROM network_features f JOIN network_links l ON l.feature_id = f.id"
            " JOIN network_links v ON v.role = 'device' AND v.node_a IN (l.node_a, l.node_b)"
            " WHERE f.layer_id = 'water_mains' AND f.is_demo AND v.operable ORDER BY f.id LIMIT 12"
        )
    ).scalars()
    answers = [trace_answer(session, main, "isolation")["trace"] for main in mains]
    operated = [a for a in answers if a["devices_to_operate"]]
    assert operated and all(a["consumers_cut_off"] > 0 for a in operated)
    assert all(d["layer"] == "water_valves" for a in operated for d in a["devices_to_operate"])
    feeding_boiler = session.execute(
        text(
            "SELECT d.supplier_id FROM network_dependencies d JOIN network_features s"
            " ON s.id = d.supplier_id WHERE s.utility_code = 'gas' ORDER BY d.supplier_id LIMIT 1"
        )
    ).scalar_one()
    down = trace_answer(session, feeding_boiler, "downstream")["trace"]
    assert any(step["utility"] == "heat" for step in down["cascade"])

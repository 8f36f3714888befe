"""How much of the graph a statement reads never changes a trace's answer: every trace type on
the demo towns' networks gives the same answer whether the walk reads up to 5,000 nodes at a
time, 3 nodes at a time (nearly level by level), or the whole utility."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from gis_app.network import graph
from gis_app.network.service import run_trace
from gis_app.network.traces import TRACE_TYPES


def _answer(session, feature_id: int, trace_type: str) -> tuple:
    trace = run_trace(session, feature_id, trace_type)
    return (
        trace.roles,
        trace.supply_lost,
        trace.devices_to_operate,
        trace.devices_not_needed,
        trace.devices_inoperable,
        trace.devices_already_closed,
    )


@pytest.mark.parametrize("layer", ["water_mains", "power_lines", "heat_pipes", "gas_pipelines"])
def test_the_answer_does_not_depend_on_how_much_a_read_takes(session, monkeypatch, layer):
    starts = session.execute(
        text(
            "SELECT f.id FROM network_features f JOIN network_links l ON l.feature_id = f.id"
            " WHERE f.layer_id = :l AND f.is_demo ORDER BY f.id LIMIT 4 OFFSET 40"
        ),
        {"l": layer},
    ).scalars()
    starts = list(starts)
    assert len(starts) == 4
    compared = 0
    for feature_id in starts:
        for trace_type in TRACE_TYPES:
            answers = []
            for cap in (graph.READ_MAX_NODES, 3, 10**9):
                monkeypatch.setattr(graph, "READ_MAX_NODES", cap)
                answers.append(_answer(session, feature_id, trace_type))
            assert answers[0] == answers[1] == answers[2], (feature_id, trace_type)
            compared += len(answers[0][0]) > 1
    assert compared > 0  # some traces reach beyond their start


def test_the_connected_answer_in_one_statement_is_the_walkers(session):
    """trace_answer's `connected` (walk, features and municipalities in one statement) and
    run_trace's answer the features the breadth-first walker finds, with the same roles."""
    from gis_app.network import queries
    from gis_app.network.service import trace_answer

    for layer in ("water_mains", "power_lines", "gas_facilities", "power_switches"):
        feature_id = session.execute(
            text(
                "SELECT f.id FROM network_features f JOIN network_links l ON l.feature_id = f.id"
                " WHERE f.layer_id = :l AND f.is_demo ORDER BY f.id LIMIT 1 OFFSET 3"
            ),
            {"l": layer},
        ).scalar_one()
        answer = trace_answer(session, feature_id, "connected")
        # The breadth-first walker's answer (graph.reach over the links read around the start).
        utility, start = queries.start_link(session, feature_id)
        walker = graph.Graph(session, utility)
        walker.fetch_component(start, through_sources=True)
        nodes, _ = graph.reach(walker, start.nodes(), set(), set())
        expected = {link.id: "connected" for n in nodes for link in walker.links_at(n)
                    if link.b is None or (link.a in nodes and link.b in nodes)}  # fmt: skip
        expected[start.id] = "start"
        roles = {f["id"]: f["properties"]["trace"] for f in answer["features"]}
        assert roles == expected == run_trace(session, feature_id, "connected").roles
        assert len(roles) > 1
        assert answer["numberReturned"] == answer["trace"]["features"] == len(roles)
        assert answer["trace"]["municipalities"] == queries.municipalities_concerned(
            session, sorted(roles)
        )

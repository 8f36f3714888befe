"""The answer after the walk (network/answer.py): one statement, features whose properties are
what they always were (the API's members and the attributes, any text escaped), and the read
growing around the failure (graph.py) without changing an answer."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import event, text

from gis_app.network import graph
from gis_app.network.queries import word_array
from gis_app.network.service import run_trace, trace_answer, trace_answer_json
from network.builder import Net


def _properties_in_sql(session, feature_id: int, role: str) -> dict:
    """A feature's properties as jsonb builds them: the API's members, then its attributes."""
    return session.execute(
        text(
            "SELECT jsonb_build_object('layer', layer_id, 'utility', utility_code, 'name', name,"
            " 'operator_id', operator_id, 'external_id', external_id, 'trace', CAST(:r AS text))"
            " || attributes FROM network_features WHERE id = :i"
        ),
        {"i": feature_id, "r": role},
    ).scalar_one()


def test_the_properties_are_the_features_own_with_any_text_escaped(session):
    net = Net(session, (33.40, 60.97))
    net.point("water_facilities", (0, 0), 'Водозабор "Южный" \\ №1\nкорпус\t2', kind="intake")
    main = net.line("water_mains", (0, 0), (100, 0), diameter_mm=150, material='ПЭ "100"')
    valve = net.valve((100, 0), name="ЗВ-\u00ab1\u00bb")
    tail = net.line("water_mains", (100, 0), (200, 0))
    net.consumer((150, 20), 40, "residential", "дом 'угловой'")
    net.link()
    answer = trace_answer(session, tail, "isolation")
    assert answer["trace"]["devices_to_operate"][0]["id"] == valve
    features = {f["id"]: f for f in answer["features"]}
    assert {f["properties"]["trace"] for f in features.values()} >= {"start", "consumer_cut_off"}
    for fid, feature in features.items():
        role = feature["properties"]["trace"]
        assert feature["properties"] == _properties_in_sql(session, fid, role), fid
    # The bytes the API sends are the same answer.
    raw = trace_answer_json(session, tail, "isolation")
    assert isinstance(raw, bytes) and json.loads(raw) == answer
    upstream = trace_answer(session, tail, "upstream")
    source = next(f for f in upstream["features"] if f["properties"]["trace"] == "source")
    assert source["properties"]["name"] == 'Водозабор "Южный" \\ №1\nкорпус\t2'
    assert main in {f["id"] for f in upstream["features"]}


def test_after_the_walk_the_answer_is_one_statement(session):
    """A trace is its start, its graph reads, and one statement for everything else."""
    net = Net(session, (33.40, 60.98))
    net.point("water_facilities", (0, 0), "Водозабор", kind="intake")
    pipes = [net.line("water_mains", (x, 0), (x + 100, 0)) for x in (0, 100, 200)]
    net.valve((100, 0))
    net.consumer((250, 20), 70, "school", "Школа")
    net.link()
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        answer = trace_answer(session, pipes[2], "isolation")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    reads = answer["trace"]["queries"]
    assert answer["trace"]["consumers_cut_off"] == 70
    assert len(statements) == 1 + reads + 1, statements


@pytest.mark.parametrize(
    "first, most",
    [(graph.READ_FIRST_NODES, graph.READ_MAX_NODES), (2, 10**9), (3, 3), (10**9, 10**9)],
)
def test_reads_that_grow_from_where_they_stopped_give_the_same_answers(
    session, monkeypatch, first, most
):
    """On the demo towns, reads starting tiny and doubling (from every node where the reads
    before stopped), reads of 3 nodes, and one read of the whole utility answer alike."""
    starts = session.execute(
        text(
            "SELECT f.id FROM network_features f JOIN network_links l ON l.feature_id = f.id"
            " WHERE f.layer_id IN ('water_mains', 'heat_pipes') AND f.is_demo"
            " ORDER BY f.id LIMIT 3 OFFSET 25"
        )
    ).scalars()
    monkeypatch.setattr(graph, "READ_FIRST_NODES", first)
    monkeypatch.setattr(graph, "READ_MAX_NODES", most)
    found = {}
    for feature_id in list(starts):
        for trace_type in ("isolation", "downstream", "upstream"):
            trace = run_trace(session, feature_id, trace_type)
            found[feature_id, trace_type] = (trace.roles, trace.supply_lost,
                                             trace.devices_to_operate)  # fmt: skip
    monkeypatch.setattr(graph, "READ_FIRST_NODES", 10**9)
    monkeypatch.setattr(graph, "READ_MAX_NODES", 10**9)
    for (feature_id, trace_type), seen in found.items():
        trace = run_trace(session, feature_id, trace_type)
        assert seen == (trace.roles, trace.supply_lost, trace.devices_to_operate)
    assert any(len(roles) > 1 for roles, _, _ in found.values())


def test_a_role_that_is_not_a_plain_word_is_refused():
    assert word_array(["cut_off", "start"]) == "{cut_off,start}"
    with pytest.raises(ValueError):
        word_array(['x","y'])

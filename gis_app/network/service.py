"""The trace service the API, the incidents and the CLI call: run a trace, follow the cascade into
dependent utilities, and shape the answer (GeoJSON of the affected features plus the figures)."""

from __future__ import annotations

import json

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.errors import InvalidParameter
from gis_app.network import queries
from gis_app.network.cascade import dependents_of
from gis_app.network.graph import Graph
from gis_app.network.traces import RUN, TRACE_TYPES, Trace

# The cascade stops after this many levels (gas → boiler house → heat → ... is three).
MAX_CASCADE_LEVELS = 5


def _devices_of(session: Session, trace: Trace) -> dict[str, list[dict]]:
    """The trace's four device lists, read in one query."""
    lists = {
        "devices_to_operate": trace.devices_to_operate,
        "devices_inoperable": trace.devices_inoperable,
        "devices_not_needed": trace.devices_not_needed,
        "devices_already_closed": trace.devices_already_closed,
    }
    every = sorted({i for ids in lists.values() for i in ids})
    found = {d["id"]: d for d in _devices(session, every)}
    return {name: [found[i] for i in sorted(ids) if i in found] for name, ids in lists.items()}


def _devices(session: Session, ids: list[int]) -> list[dict]:
    if not ids:
        return []
    rows = session.execute(
        text(
            "SELECT id, layer_id AS layer, name, attributes->>'kind' AS kind,"
            " attributes->>'dispatch_name' AS dispatch_name,"
            " coalesce((attributes->>'operable')::boolean, true) AS operable,"
            " attributes->>'state' AS state"
            " FROM network_features WHERE id = ANY(:ids) ORDER BY id"
        ),
        {"ids": ids},
    ).mappings()
    return [dict(r) for r in rows]


def _label(device: dict) -> str:
    return str(device["dispatch_name"] or device["name"] or f"№{device['id']}")


def run_trace(session: Session, feature_id: int, trace_type: str) -> Trace:
    """Run one trace of one utility from a feature (no cascade)."""
    if trace_type not in TRACE_TYPES:
        raise InvalidParameter(
            f"type must be one of {list(TRACE_TYPES)}",
            code="invalid_trace_type",
            parameter="type",
            allowed=list(TRACE_TYPES),
        )
    utility, start = queries.start_link(session, feature_id)
    return RUN[trace_type](Graph(session, utility), start)


def _figures(session: Session, trace: Trace) -> dict:
    """Consumers, social objects and settlements a trace leaves without supply."""
    lost = sorted(trace.supply_lost)
    consumers = queries.consumers_cut_off(session, trace.utility, lost)
    return {
        "consumers_cut_off": consumers["consumers"],
        "buildings_cut_off": consumers["buildings"],
        "social_objects_cut_off": consumers["social_objects"],
        "social_objects_by_kind": consumers["social_objects_by_kind"],
        "settlements_cut_off": queries.settlements_cut_off(
            session, trace.utility, consumers["ids"]
        ),
        "consumer_ids": consumers["ids"],
    }


def cascade(session: Session, trace: Trace) -> list[dict]:
    """Follow the dependencies out of a trace's cut-off set, level by level: each dependent
    feature (a boiler house without gas) fails in its own utility, and so on."""
    steps: list[dict] = []
    done = {trace.start}
    lost = trace.supply_lost
    for level in range(1, MAX_CASCADE_LEVELS + 1):
        nxt: set[int] = set()
        for dep in dependents_of(session, sorted(lost)):
            if dep["id"] in done:
                continue
            done.add(dep["id"])
            step_trace = run_trace(session, dep["id"], "downstream")
            figures = _figures(session, step_trace)
            steps.append(
                {
                    "level": level,
                    "utility": step_trace.utility,
                    "because_of": {"id": dep["supplier_id"], "utility": dep["supplier_utility"]},
                    "dependent": {
                        "id": dep["id"],
                        "layer": dep["layer_id"],
                        "name": dep["name"],
                        "kind": dep["kind"],
                    },
                    "features_cut_off": len(step_trace.supply_lost),
                    "trace": step_trace,
                    **figures,
                }
            )
            nxt |= step_trace.supply_lost
        if not nxt:
            break
        lost = nxt
    return steps


def _answer(
    session: Session, feature_id: int, trace_type: str, with_cascade: bool
) -> tuple[int, list[str], dict]:
    """The trace's features (their count and JSON texts, main trace then each cascade step's)
    and its `trace` member: devices, figures, municipalities and steps."""
    if trace_type == "connected":
        return _connected_answer(session, feature_id)
    trace = run_trace(session, feature_id, trace_type)
    summary: dict = {
        "type": trace.type,
        "utility": trace.utility,
        "start": trace.start,
        **_devices_of(session, trace),
        "features": len(trace.roles),
        "queries": trace.queries,
    }
    notes = [
        {
            "ru": f"Устройство {_label(d)} неисправно — пропущено, "
            "отключение расширено до следующих устройств.",
            "en": f"Device {_label(d)} is inoperable — skipped, "
            "the isolation reaches the next devices.",
        }
        for d in summary["devices_inoperable"]
    ]
    roles = dict(trace.roles)
    affected_ids = list(trace.roles)
    steps: list[dict] = []
    if trace.type in ("isolation", "downstream"):
        figures = _figures(session, trace)
        consumer_ids = figures.pop("consumer_ids")
        summary.update(figures)
        roles.update({i: "consumer_cut_off" for i in consumer_ids})
    # The trace's features and its consumers in one statement (consumers listed last).
    count, body = queries.features_geojson_text(session, roles)
    parts = [body]
    if trace.type in ("isolation", "downstream"):
        if with_cascade:
            for step in cascade(session, trace):
                step_trace = step.pop("trace")
                step_consumers = step.pop("consumer_ids")
                roles = {i: "cut_off" for i in step_trace.supply_lost}
                roles.update({i: "consumer_cut_off" for i in step_consumers})
                roles[step_trace.start] = "dependent_cut_off"
                n, body = queries.features_geojson_text(session, roles, step["level"])
                count, parts = count + n, parts + [body]
                affected_ids += sorted(step_trace.supply_lost)
                steps.append(step)
        summary["totals"] = {
            "consumers_cut_off": summary["consumers_cut_off"]
            + sum(s["consumers_cut_off"] for s in steps),
            "social_objects_cut_off": len(summary["social_objects_cut_off"])
            + sum(len(s["social_objects_cut_off"]) for s in steps),
            "utilities_cut_off": sorted({trace.utility} | {s["utility"] for s in steps}),
        }
    summary["cascade"] = steps
    summary["notes"] = notes
    summary["municipalities"] = queries.municipalities_concerned(session, affected_ids)
    return count, [p for p in parts if p], summary


def _connected_answer(session: Session, feature_id: int) -> tuple[int, list[str], dict]:
    """The `connected` trace in one statement (the same features as traces.connected)."""
    utility, start = queries.start_link(session, feature_id)
    count, body, municipalities = queries.connected_answer(session, start)
    summary = {"type": "connected", "utility": utility, "start": start.id}
    summary.update({k: [] for k in ("devices_to_operate", "devices_inoperable",
                                    "devices_not_needed", "devices_already_closed")})  # fmt: skip
    summary.update(features=count, queries=1, cascade=[], notes=[], municipalities=municipalities)
    return count, [body] if body else [], summary


def trace_answer(
    session: Session, feature_id: int, trace_type: str, with_cascade: bool = True
) -> dict:
    """The trace's answer: a FeatureCollection of the affected features (main trace, then each
    cascade step's) and a `trace` member with devices, figures, municipalities and steps."""
    count, parts, summary = _answer(session, feature_id, trace_type, with_cascade)
    return {
        "type": "FeatureCollection",
        "features": json.loads("[" + ",".join(parts) + "]"),
        "numberReturned": count,
        "trace": summary,
    }


def trace_answer_json(
    session: Session, feature_id: int, trace_type: str, with_cascade: bool = True
) -> str:
    """The same answer as JSON text, the features spliced in as PostGIS wrote them."""
    count, parts, summary = _answer(session, feature_id, trace_type, with_cascade)
    return (
        '{"type":"FeatureCollection","features":[' + ",".join(parts) + "],"
        f'"numberReturned":{count},"trace":'
        + json.dumps(summary, ensure_ascii=False, separators=(",", ":"), default=str)
        + "}"
    )


def trace_at_point(
    session: Session, lon: float, lat: float, utility: str, trace_type: str, max_m: float
) -> dict:
    """The trace (JSON text) from the feature of `utility` nearest to lon/lat (EPSG:4326, max_m
    metres)."""
    feature_id = queries.nearest_feature(session, lon, lat, utility, max_m)
    return trace_answer_json(session, feature_id, trace_type)

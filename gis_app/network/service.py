"""The trace service the API, the incidents and the CLI call: run a trace, follow the cascade into
dependent utilities, and shape the answer (GeoJSON of the affected features plus the figures)."""

from __future__ import annotations

import json

from sqlalchemy.orm import Session

from gis_app.errors import InvalidParameter
from gis_app.network import queries
from gis_app.network.answer import AnswerParts, answer_parts
from gis_app.network.graph import Graph
from gis_app.network.traces import RUN, TRACE_TYPES, Trace

# The cascade stops after this many levels (gas → boiler house → heat → ... is three).
MAX_CASCADE_LEVELS = 5


DEVICE_LISTS = (
    "devices_to_operate",
    "devices_inoperable",
    "devices_not_needed",
    "devices_already_closed",
)


def _device_ids(trace: Trace) -> list[int]:
    return sorted({i for name in DEVICE_LISTS for i in getattr(trace, name)})


def _devices_of(trace: Trace, found: dict[int, dict]) -> dict[str, list[dict]]:
    """The trace's four device lists, each device's details from `found` (by id)."""
    return {
        name: [found[i] for i in sorted(getattr(trace, name)) if i in found]
        for name in DEVICE_LISTS
    }


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


def cascade(
    session: Session, trace: Trace, dependents: list[dict]
) -> list[tuple[dict, AnswerParts, list[int]]]:
    """Follow the dependencies out of a trace's cut-off set (`dependents`: those of its lost
    features), level by level: each dependent feature (a boiler house without gas) fails in its
    own utility, and so on. Each step with its features and figures, and its lost features."""
    steps: list[tuple[dict, AnswerParts, list[int]]] = []
    done = {trace.start}
    # A step within the trace's own utility (a substation without its 110 kV line) may reach
    # what an earlier step already lost: each feature and its consumers are counted once.
    counted = set(trace.supply_lost)
    for level in range(1, MAX_CASCADE_LEVELS + 1):
        nxt: list[dict] = []
        for dep in dependents:
            if dep["id"] in done:
                continue
            done.add(dep["id"])
            step_trace = run_trace(session, dep["id"], "downstream")
            step_trace.supply_lost -= counted - {step_trace.start}
            counted |= step_trace.supply_lost
            roles = {i: "cut_off" for i in step_trace.supply_lost}
            roles[step_trace.start] = "dependent_cut_off"
            parts = answer_parts(
                session, step_trace.utility, roles, step_trace.supply_lost, [],
                step=level, with_municipalities=False,
            )  # fmt: skip
            step = {
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
                **parts.figures,
            }
            steps.append((step, parts, sorted(step_trace.supply_lost)))
            nxt += parts.dependents
        if not nxt:
            break
        # The next level's dependents in the order one statement over the level would give.
        dependents = sorted(nxt, key=lambda d: (d["utility_code"], d["id"], d["supplier_id"]))
    return steps


def _answer(
    session: Session, feature_id: int, trace_type: str, with_cascade: bool
) -> tuple[int, list[bytes], dict]:
    """The trace's features (their count and JSON texts as UTF-8 bytes, main trace then each
    cascade step's) and its `trace` member: devices, figures, municipalities and steps."""
    if trace_type == "connected":
        return _connected_answer(session, feature_id)
    trace = run_trace(session, feature_id, trace_type)
    cuts_off = trace.type in ("isolation", "downstream")
    # The trace's features and its consumers (listed last), the figures, the devices, the
    # cascade's first level and the municipalities: one statement.
    main = answer_parts(
        session,
        trace.utility,
        trace.roles,
        trace.supply_lost if cuts_off else set(),
        _device_ids(trace),
    )
    summary: dict = {
        "type": trace.type,
        "utility": trace.utility,
        "start": trace.start,
        **_devices_of(trace, main.devices),
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
    count, parts = main.count, [main.body]
    steps: list[dict] = []
    municipalities = main.municipalities
    if cuts_off:
        summary.update(main.figures)
        if with_cascade and main.dependents:
            affected_ids = list(trace.roles)
            for step, step_parts, step_lost in cascade(session, trace, main.dependents):
                count, parts = count + step_parts.count, parts + [step_parts.body]
                affected_ids += step_lost
                steps.append(step)
            if steps:
                municipalities = queries.municipalities_concerned(session, affected_ids)
        summary["totals"] = {
            "consumers_cut_off": summary["consumers_cut_off"]
            + sum(s["consumers_cut_off"] for s in steps),
            "social_objects_cut_off": len(summary["social_objects_cut_off"])
            + sum(len(s["social_objects_cut_off"]) for s in steps),
            "utilities_cut_off": sorted({trace.utility} | {s["utility"] for s in steps}),
        }
    summary["cascade"] = steps
    summary["notes"] = notes
    summary["municipalities"] = municipalities
    return count, [p for p in parts if p], summary


def _connected_answer(session: Session, feature_id: int) -> tuple[int, list[bytes], dict]:
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
        "features": json.loads(b"[" + b",".join(parts) + b"]"),
        "numberReturned": count,
        "trace": summary,
    }


def trace_answer_json(
    session: Session, feature_id: int, trace_type: str, with_cascade: bool = True
) -> bytes:
    """The same answer as JSON (UTF-8 bytes), the features spliced in as PostGIS wrote them."""
    count, parts, summary = _answer(session, feature_id, trace_type, with_cascade)
    summary_json = json.dumps(summary, ensure_ascii=False, separators=(",", ":"), default=str)
    return b"".join(
        (
            b'{"type":"FeatureCollection","features":[',
            b",".join(parts),
            f'],"numberReturned":{count},"trace":'.encode(),
            summary_json.encode(),
            b"}",
        )
    )


def trace_at_point(
    session: Session, lon: float, lat: float, utility: str, trace_type: str, max_m: float
) -> bytes:
    """The trace (JSON, UTF-8 bytes) from the feature of `utility` nearest to lon/lat
    (EPSG:4326, max_m metres)."""
    feature_id = queries.nearest_feature(session, lon, lat, utility, max_m)
    return trace_answer_json(session, feature_id, trace_type)

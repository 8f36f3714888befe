"""What an incident cuts off, computed from the network: the trace from its feature fills the
consumers, social objects, settlements and other utilities cut off; the record keeps the computed
figures beside whatever the dispatcher corrects later; the cascade proposes caused-by links."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.errors import InvalidParameter, PreconditionFailed
from gis_app.incidents.deadlines import OPEN_STATUSES
from gis_app.incidents.errors import IncidentNotFound
from gis_app.incidents.lifecycle import record
from gis_app.network.queries import NotInNetwork, nearest_feature, start_link
from gis_app.network.service import trace_answer, trace_answer_json

# How far from the incident's point the nearest network feature may be, when it names none.
NEAREST_MAX_M = 200.0
SOCIAL_NAMES = {
    "school": "Школа",
    "kindergarten": "Детский сад",
    "hospital": "Больница",
    "clinic": "Поликлиника",
    "care_home": "Дом престарелых",
}


def _incident(session: Session, incident_id: int, lock: bool = False):
    row = session.execute(
        text(
            "SELECT id, version, status, utility_code, feature_id, ST_X(geom) AS lon,"
            " ST_Y(geom) AS lat, caused_by_id FROM incidents WHERE id = :id"
            + (" FOR UPDATE" if lock else "")
        ),
        {"id": incident_id},
    ).one_or_none()
    if row is None:
        raise IncidentNotFound(f"Incident {incident_id} does not exist.", incident_id=incident_id)
    return row


def _trace_feature(session: Session, incident_id: int) -> int:
    """The network feature an incident's trace starts from: its own, or (when it names none or
    one outside every topology, e.g. a road) the nearest feature of its utility."""
    row = _incident(session, incident_id)
    if row.feature_id is not None:
        try:
            start_link(session, row.feature_id)
            return row.feature_id
        except NotInNetwork:
            pass  # e.g. routed to a road: look for the utility's own network nearby
    return nearest_feature(session, row.lon, row.lat, row.utility_code, NEAREST_MAX_M)


def incident_trace(session: Session, incident_id: int, trace_type: str = "isolation") -> dict:
    """The trace from the incident's network feature (or the nearest one of its utility)."""
    return trace_answer(session, _trace_feature(session, incident_id), trace_type)


def incident_trace_json(session: Session, incident_id: int, trace_type: str = "isolation") -> bytes:
    """The same trace as JSON, UTF-8 bytes (the features as PostGIS wrote them), for the API."""
    return trace_answer_json(session, _trace_feature(session, incident_id), trace_type)


def _social(trace: dict) -> list[dict]:
    """Social objects of the trace and its cascade, in the incident's format, once each."""
    seen, out = set(), []
    for obj in trace["social_objects_cut_off"] + [
        o for step in trace["cascade"] for o in step["social_objects_cut_off"]
    ]:
        if obj["id"] in seen:
            continue
        seen.add(obj["id"])
        item = {"name": obj["name"] or SOCIAL_NAMES[obj["kind"]], "kind": obj["kind"]}
        if obj.get("address"):
            item["address"] = obj["address"]
        out.append(item)
    return out


def _proposals(session: Session, incident_id: int, answer: dict) -> list[dict]:
    """Open incidents of a cascaded utility on what the cascade cut off: likely caused by this."""
    out = []
    for step in answer["trace"]["cascade"]:
        ids = [f["id"] for f in answer["features"] if f["properties"].get("step") == step["level"]]
        rows = session.execute(
            text(
                "SELECT i.id, i.utility_code FROM incidents i WHERE i.id <> :me"
                " AND i.caused_by_id IS NULL AND i.status = ANY(:open)"
                " AND i.utility_code = :u AND (i.feature_id = ANY(:ids) OR ST_DWithin("
                " i.geom::geography, (SELECT ST_Collect(geom) FROM network_features"
                " WHERE id = ANY(:ids))::geography, 50))"
            ),
            {"me": incident_id, "open": list(OPEN_STATUSES), "u": step["utility"], "ids": ids},
        ).all()
        out += [
            {"incident_id": r.id, "utility": r.utility_code, "level": step["level"]}
            for r in rows
            if r.id not in {p["incident_id"] for p in out}
        ]
    return out


def fill_cut_off(
    session: Session, actor: str, incident_id: int, version: int, trace_type: str = "isolation"
) -> dict:
    """Compute and store what the incident cuts off; returns the computed record. The caller
    commits. A stale `version` is 412, as for every incident write."""
    row = _incident(session, incident_id, lock=True)
    if row.version != version:
        raise PreconditionFailed(
            f"Incident {incident_id} changed since version {version}; it is at version "
            f"{row.version}. Re-read it and try again.",
            incident_id=incident_id,
            current_version=row.version,
            your_version=version,
        )
    answer = incident_trace(session, incident_id, trace_type)
    trace = answer["trace"]
    settlements = [
        {"id": s["id"], "slug": s["slug"], "name_ru": s["name_ru"], "name_en": s["name_en"]}
        for s in trace["settlements_cut_off"]
    ]
    figures = {
        "consumers_cut_off": trace["consumers_cut_off"],
        "social_objects_cut_off": _social(trace),
        "settlements_cut_off": settlements,
        "utilities_cut_off": sorted(set(trace["totals"]["utilities_cut_off"]) - {row.utility_code}),
    }
    computed = {
        "at": datetime.now(UTC).isoformat(),
        "by": actor,
        "trace_type": trace["type"],
        "feature_id": trace["start"],
        "figures": figures,
        "devices_to_operate": [d["id"] for d in trace["devices_to_operate"]],
        "cascade": [
            {
                "level": s["level"],
                "utility": s["utility"],
                "dependent": s["dependent"],
                "consumers_cut_off": s["consumers_cut_off"],
            }
            for s in trace["cascade"]
        ],
        "consumers_cut_off_with_cascade": trace["totals"]["consumers_cut_off"],
        "proposed_caused_by": _proposals(session, incident_id, answer),
    }
    # Column names are this module's constants; values are bound.
    session.execute(
        text(
            "UPDATE incidents SET consumers_cut_off = :c, social_objects_cut_off = CAST(:s AS jsonb),"
            " settlements_cut_off = CAST(:t AS jsonb), utilities_cut_off = CAST(:u AS text[]),"
            " cut_off_computed = CAST(:k AS jsonb), version = version + 1, updated_at = now()"
            " WHERE id = :id"
        ),
        {
            "id": incident_id,
            "c": figures["consumers_cut_off"],
            "s": json.dumps(figures["social_objects_cut_off"], ensure_ascii=False),
            "t": json.dumps(settlements, ensure_ascii=False),
            "u": figures["utilities_cut_off"],
            "k": json.dumps(computed, ensure_ascii=False),
        },
    )
    record(session, incident_id, actor, "cut_off_computed", None, None, None, computed)
    return computed


def link_caused_by(session: Session, actor: str, incident_id: int, cause_id: int | None) -> None:
    """Mark the incident as caused by another (None unlinks); no self-link and no loop."""
    row = _incident(session, incident_id, lock=True)
    if cause_id is not None:
        if cause_id == incident_id:
            raise InvalidParameter("an incident cannot cause itself", parameter="caused_by")
        chain, current = set(), cause_id
        while current is not None:
            if current == incident_id:
                raise InvalidParameter(
                    f"incident {cause_id} is (indirectly) caused by {incident_id}: a loop",
                    parameter="caused_by",
                )
            if current in chain:
                break
            chain.add(current)
            current = _incident(session, current).caused_by_id
    session.execute(
        text(
            "UPDATE incidents SET caused_by_id = :c, version = version + 1, updated_at = now()"
            " WHERE id = :id"
        ),
        {"id": incident_id, "c": cause_id},
    )
    record(
        session, incident_id, actor, "caused_by", None, None, None,
        {"caused_by": cause_id, "was": row.caused_by_id},
    )  # fmt: skip

"""Creating an incident: place it, route it, check for duplicates and planned work, set deadlines.

All in the caller's transaction: the incident, its events and its notifications are written
together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.accounts.identity import Identity
from gis_app.errors import Forbidden, InvalidParameter
from gis_app.incidents import deadlines, duplicates, notify, outages, reporter, terms
from gis_app.incidents.lifecycle import record
from gis_app.layers import LayerRegistry
from gis_app.models import Incident
from gis_app.operators.responsible import FeatureMismatch, find_responsible
from gis_app.places.municipalities import municipality_at

CREATORS = ("admin", "dispatcher")


@dataclass(frozen=True)
class DuplicatePolicy:
    """How near (metres) and how recent (hours) an open incident must be to be the same one."""

    distance_m: float = 250.0
    hours: int = 24

    @classmethod
    def from_config(cls, config: dict) -> DuplicatePolicy:
        """The policy of the app's settings (GIS_APP_DUPLICATE_DISTANCE_M, _HOURS)."""
        return cls(
            float(config["GIS_APP_DUPLICATE_DISTANCE_M"]), int(config["GIS_APP_DUPLICATE_HOURS"])
        )


def create_incident(
    session: Session,
    registry: LayerRegistry,
    actor: Identity | None,
    data: dict,
    source: str = "dispatcher",
    policy: DuplicatePolicy = DuplicatePolicy(),  # noqa: B008  (frozen, so sharing is safe)
) -> int:
    """Create an incident from checked `data` (validate.create_payload); its id.

    `actor` None is a system source (Open311), whose permission the caller has checked.
    """
    lon, lat, utility = data["lon"], data["lat"], data["utility"]
    muni_id = municipality_at(session, lon, lat)
    if muni_id is None:
        raise InvalidParameter(
            "The point is outside every municipality of the oblast.",
            code="point_outside_municipalities",
            lon=lon,
            lat=lat,
        )
    if actor is not None:
        if actor.role not in CREATORS:
            raise Forbidden(
                "Incidents are created by dispatchers and admins.",
                required_roles=list(CREATORS),
                role=actor.role,
            )
        if not actor.can_see_municipality(muni_id):
            raise Forbidden(
                "The point is outside the municipalities in your charge.",
                code="not_your_municipality",
                municipality_id=muni_id,
            )
    try:
        found = find_responsible(session, registry, utility, lon, lat, data.get("feature_id"))
    except FeatureMismatch as exc:
        raise InvalidParameter(str(exc), code=exc.code, field="feature_id", **exc.details) from None
    outage = outages.outage_at(session, utility, lon, lat)
    dups = (
        []
        if data.get("allow_duplicate")
        else duplicates.find_duplicates(
            session, utility, lon, lat, found.feature_id, policy.distance_m, policy.hours
        )
    )
    master = dups[0] if dups else None
    now = session.execute(text("SELECT now()")).scalar_one()
    rule = deadlines.deadline_for(
        session,
        utility,
        data["kind"],
        data["priority"],
        deadlines.is_dead_end(session, found.feature_id),
    )
    resolve_due = outage["ends_at"] if outage else rule.resolve_due(now, data["supply_stopped_at"])
    if master:
        status = "duplicate"
    elif data.get("assign", True) and found.operator_id is not None and source != "open311":
        status = "assigned"
    else:
        status = "new"
    incident = Incident(
        kind=data["kind"],
        utility_code=utility,
        category=data["category"],
        description=data["description"],
        status=status,
        priority=data["priority"],
        reporter_contact=data["reporter_contact"],
        address=data["address"],
        municipality_id=muni_id,
        operator_id=found.operator_id,
        feature_id=found.feature_id,
        responsible_rule=found.rule,
        responsible_reason=found.reason,
        responsible_distance_m=found.distance_m,
        responsible_candidates=found.to_json()["candidates"],
        responsible_layer=found.layer,
        responsible_area_id=found.service_area_id,
        responsible_computed_at=found.computed_at,
        duplicate_of=master["id"] if master else None,
        planned_outage_id=outage["id"] if outage else None,
        consumers_cut_off=data["consumers_cut_off"],
        social_objects_cut_off=data["social_objects_cut_off"],
        utilities_cut_off=data["utilities_cut_off"],
        supply_stopped_at=data["supply_stopped_at"],
        reported_at=now,
        assigned_at=now if status == "assigned" else None,
        accept_due_at=rule.accept_due(now) if status == "assigned" else None,
        resolve_due_at=resolve_due,
        closed_at=None,
        source=source,
        created_by=actor.username if actor else source,
        geom=f"SRID=4326;POINT({lon!r} {lat!r})",
    )
    session.add(incident)
    session.flush()
    terms.record_terms(
        session,
        incident.id,
        utility,
        data["kind"],
        data["priority"],
        rule,
        now,
        triaged=status != "new",
    )
    who = actor.username if actor else source
    record(
        session,
        incident.id,
        who,
        "created",
        None,
        "new",
        None,
        {
            "responsible": {
                "operator_id": found.operator_id,
                "rule": found.rule,
                "reason": found.reason,
            },
            "deadline_rule_id": rule.rule_id,
            "planned_outage_id": outage["id"] if outage else None,
            "possible_duplicates": dups,
        },
    )
    if master:
        record(
            session,
            incident.id,
            who,
            "duplicate",
            "new",
            "duplicate",
            f"повтор №{master['id']} ({master['distance_m']} м)",
            {"duplicate_of": master["id"]},
        )
        record(
            session,
            master["id"],
            who,
            "duplicate_linked",
            None,
            None,
            f"№{incident.id} — повторное сообщение",
            {"duplicate_id": incident.id},
        )
    elif status == "assigned":
        record(
            session,
            incident.id,
            who,
            "assign",
            "new",
            "assigned",
            found.reason,
            {"operator_id": found.operator_id, "automatic": True},
        )
        notify.enqueue(session, incident.id, "assigned")
    reporter.tell_reporter(session, incident.id, "created")
    return incident.id

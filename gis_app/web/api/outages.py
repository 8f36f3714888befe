"""Planned outages announced by operators."""

from __future__ import annotations

from flask import request, url_for

from gis_app.db import get_session
from gis_app.errors import NotFound
from gis_app.incidents import outages
from gis_app.incidents import validate as v
from gis_app.layers import layer_registry
from gis_app.web.access import current_identity
from gis_app.web.api import api


@api.get("/planned-outages")
def planned_outage_list():
    """Planned outages, latest first; `active=true`: under way now; `operator=<id>`."""
    operator = request.args.get("operator")
    items = outages.list_outages(
        get_session(),
        active=request.args.get("active") == "true",
        operator_id=v.integer(operator, "operator", 1, 2**31) if operator else None,
    )
    return {"planned_outages": items}


@api.post("/planned-outages")
def planned_outage_create():
    """Announce planned work (operator staff for their operator; admins naming it)."""
    session = get_session()
    outage = outages.announce(
        session, layer_registry(), current_identity(), request.get_json(silent=True)
    )
    session.commit()
    location = url_for("api.planned_outage_detail", outage_id=outage["id"])
    return outage, 201, {"Location": location}


@api.get("/planned-outages/<int:outage_id>")
def planned_outage_detail(outage_id: int):
    """One planned outage."""
    outage = outages.get_outage(get_session(), outage_id)
    if outage is None:
        raise NotFound(f"Planned outage {outage_id} does not exist.", code="outage_not_found")
    return outage


@api.delete("/planned-outages/<int:outage_id>")
def planned_outage_cancel(outage_id: int):
    """Cancel a planned outage (kept, with cancelled_at; reports no longer link to it)."""
    session = get_session()
    outage = outages.cancel(session, current_identity(), outage_id)
    if outage is None:
        raise NotFound(f"Planned outage {outage_id} does not exist.", code="outage_not_found")
    session.commit()
    return outage

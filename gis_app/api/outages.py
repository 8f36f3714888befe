"""Planned outages announced by operators, and each operator's webhook for notifications."""

from __future__ import annotations

import secrets

from flask import current_app, request, url_for
from sqlalchemy import text

from gis_app import layer_registry
from gis_app.access import current_identity, require_operator
from gis_app.api import api
from gis_app.db import get_session
from gis_app.errors import NotFound
from gis_app.incidents import outages, remit
from gis_app.incidents import validate as v
from gis_app.incidents.webhook_targets import WebhookRefused, check_url, parse_allowed_hosts


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
        session,
        layer_registry(),
        current_identity(),
        request.get_json(silent=True),
        remit.OutageLimits.from_config(current_app.config),
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


@api.put("/operators/<int:operator_id>/webhook")
def operator_webhook(operator_id: int):
    """Set (or clear, with url null) the operator's webhook; the secret is shown once."""
    require_operator(current_identity(), operator_id)
    body = v.require_object(request.get_json(silent=True))
    v.reject_unknown(body, {"url", "secret"})
    url = v.text_field(body.get("url"), "url", 2000)
    if url is not None and not url.startswith(("http://", "https://")):
        raise v.bad("url", "must be an http:// or https:// URL")
    if url is not None:
        allowed = parse_allowed_hosts(current_app.config["GIS_APP_WEBHOOK_ALLOWED_HOSTS"])
        try:
            check_url(url, allowed)
        except WebhookRefused as exc:
            raise v.bad("url", str(exc), "webhook_refused") from None
    secret = v.text_field(body.get("secret"), "secret", 200)
    if url and not secret:
        secret = secrets.token_urlsafe(32)
    session = get_session()
    done = session.execute(
        text("UPDATE operators SET webhook_url = :url, webhook_secret = :secret WHERE id = :id"),
        {"url": url, "secret": secret if url else None, "id": operator_id},
    ).rowcount
    if not done:
        raise NotFound(f"Operator {operator_id} does not exist.", code="operator_not_found")
    session.commit()
    return {"operator_id": operator_id, "url": url, "secret": secret if url else None}

"""The operators list (for the workbench's assign form) and each operator's webhook."""

from __future__ import annotations

import secrets

from flask import request

from gis_app.db import get_session
from gis_app.errors import InvalidParameter, NotFound
from gis_app.incidents import validate as v
from gis_app.operators.directory import list_operators, set_webhook
from gis_app.web.access import current_identity, require_operator
from gis_app.web.api import api


@api.get("/operators")
def operators():
    """Operators with their utilities and dispatch contacts; `utility` keeps those serving it."""
    utility = request.args.get("utility") or None
    if utility is not None and len(utility) > 32:
        raise InvalidParameter("utility is too long", parameter="utility")
    return {"operators": list_operators(get_session(), utility)}


@api.put("/operators/<int:operator_id>/webhook")
def operator_webhook(operator_id: int):
    """Set (or clear, with url null) the operator's webhook; the secret is shown once."""
    require_operator(current_identity(), operator_id)
    body = v.require_object(request.get_json(silent=True))
    v.reject_unknown(body, {"url", "secret"})
    url = v.text_field(body.get("url"), "url", 2000)
    if url is not None and not url.startswith(("http://", "https://")):
        raise v.bad("url", "must be an http:// or https:// URL")
    secret = v.text_field(body.get("secret"), "secret", 200)
    if url and not secret:
        secret = secrets.token_urlsafe(32)
    session = get_session()
    if not set_webhook(session, operator_id, url, secret):
        raise NotFound(f"Operator {operator_id} does not exist.", code="operator_not_found")
    session.commit()
    return {"operator_id": operator_id, "url": url, "secret": secret if url else None}

"""The oblast's set-up by an admin, without SQL: operators (create, edit, retire with hand-over),
service areas from a file, designations, utilities, and the record of these changes."""

from __future__ import annotations

from flask import request

from gis_app.changes import list_changes
from gis_app.db import get_session
from gis_app.errors import InvalidParameter
from gis_app.operators import admin
from gis_app.operators.areas import AreaImport, import_service_areas, set_designation
from gis_app.operators.directory import find_operator
from gis_app.utilities import add_utility
from gis_app.web.access import current_identity, require_role
from gis_app.web.api import api
from gis_app.web.params import parse_int
from gis_app.web.uploads import flag, param, saved_upload


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidParameter("The body must be a JSON object.", code="invalid_body")
    return body


@api.post("/admin/operators")
def admin_create_operator():
    """Create an operator: slug, names, INN (checked), dispatch phone/e-mail, webhook, utilities
    (codes), municipalities (slugs). 201 with the operator."""
    who = require_role("admin")
    session = get_session()
    created = admin.create_operator(
        session, who.username, who.user_id, request.get_json(silent=True)
    )
    session.commit()
    return created, 201


@api.get("/admin/operators/<ref>")
def admin_operator(ref: str):
    """One operator (slug or id) with its utilities, municipalities and retirement (every role
    reads what an admin reads; only admins change it)."""
    current_identity()
    session = get_session()
    return admin.operator_row(session, find_operator(session, ref).id)


@api.patch("/admin/operators/<ref>")
def admin_update_operator(ref: str):
    """Change the given fields of an operator; the others stay."""
    who = require_role("admin")
    session = get_session()
    updated = admin.update_operator(
        session, who.username, who.user_id, ref, request.get_json(silent=True)
    )
    session.commit()
    return updated


@api.post("/admin/operators/<ref>/retire")
def admin_retire_operator(ref: str):
    """Retire an operator ({successor, reason}): open incidents, networks, areas, designations go
    to the successor; staff accounts are disabled, never deleted."""
    who = require_role("admin")
    body = _body()
    session = get_session()
    done = admin.retire_operator(session, who.username, who.user_id, ref,
                                 str(body.get("successor") or ""), str(body.get("reason") or ""))  # fmt: skip
    session.commit()
    return done


@api.put("/admin/designations")
def admin_designation():
    """Designate ({municipality, utility, operator}) the operator of a municipality for a utility;
    operator null removes the designation."""
    who = require_role("admin")
    body = _body()
    for field in ("municipality", "utility"):
        if not isinstance(body.get(field), str) or not body[field]:
            raise InvalidParameter(f"{field}: is required", code="missing_field", field=field)
    session = get_session()
    done = set_designation(session, who.username, who.user_id, body["municipality"],
                           body["utility"], body.get("operator"))  # fmt: skip
    session.commit()
    return done


@api.post("/admin/service-areas/import")
def admin_import_service_areas():
    """Import an operator's service areas for a utility (multipart `file` or a GeoJSON body;
    ?operator=&utility=&priority=&name_field=&priority_field=&replace=&dry_run=)."""
    who = require_role("admin")
    for name in ("operator", "utility"):
        if not param(name):
            raise InvalidParameter(f"{name} is required", code="missing_field", parameter=name)
    session = get_session()
    with saved_upload("gis-areas-") as (path, file_name):
        req = AreaImport(
            path=path, operator=param("operator"), utility=param("utility"),
            name_field=param("name_field"), priority_field=param("priority_field"),
            priority=parse_int(param("priority"), "priority", 0, -1000, 1000),
            replace=flag("replace"), dry_run=flag("dry_run"), crs=param("crs"),
            file_name=file_name, username=who.username, user_id=who.user_id,
        )  # fmt: skip
        report = import_service_areas(session, req)
    if req.dry_run:
        session.rollback()
    else:
        session.commit()
    return report


@api.post("/admin/utilities")
def admin_add_utility():
    """Add a utility ({code, name_ru, name_en, color, sort_order}); its layers are layer files."""
    who = require_role("admin")
    session = get_session()
    row = add_utility(session, who.username, who.user_id, request.get_json(silent=True))
    session.commit()
    return row, 201


@api.get("/admin/changes")
def admin_changes():
    """The latest admin changes, newest first; ?entity=operator&key=<slug> keeps one thing's
    (readable by every role: who set up what is no secret; only admins make changes)."""
    current_identity()
    limit = parse_int(request.args.get("limit"), "limit", 100, 1, 1000)
    rows = list_changes(get_session(), request.args.get("entity"), request.args.get("key"), limit)
    return {"changes": rows}

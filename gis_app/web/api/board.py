"""The control room's board: open and overdue incidents per district (the oblast map's labels)."""

from __future__ import annotations

from gis_app.db import get_session
from gis_app.incidents.board import open_by_district
from gis_app.web.access import current_identity
from gis_app.web.api import api


@api.get("/incidents/by-district")
def incidents_by_district():
    """Each district of the oblast: slug, names, a label point (lon/lat), open and overdue."""
    current_identity()
    return {"districts": open_by_district(get_session())}

"""Single network features by id, for the map's incident workbench (it highlights them)."""

from __future__ import annotations

from gis_app.db import get_session
from gis_app.errors import NotFound
from gis_app.features import pages
from gis_app.web.api import api


@api.get("/features/<int:feature_id>")
def network_feature(feature_id: int):
    """One network feature of any layer as a GeoJSON Feature (the map highlights it)."""
    feature = pages.network_feature(get_session(), feature_id)
    if feature is None:
        raise NotFound(
            f"Feature {feature_id} does not exist.", code="feature_not_found", feature_id=feature_id
        )
    return feature, 200, {"Content-Type": "application/geo+json"}

"""Layers as RFC 7946 GeoJSON, built in PostGIS and streamed."""

from __future__ import annotations

from flask import current_app, request, url_for

from gis_app.db import get_session, replica_ok, single_statements
from gis_app.features.pages import (
    PageCount,
    Query,
    checked_revisions,
    feature_batches,
    layer_summary,
    page_features_json,
)
from gis_app.features.sources import layer_source
from gis_app.layers import get_layer, layer_registry
from gis_app.web.access import checks_credentials_itself, confirm_credentials, pending_credentials
from gis_app.web.api import api
from gis_app.web.params import parse_bbox, parse_int
from gis_app.web.streaming import dumps, make_etag, not_modified, request_key, stream

GEOJSON = "application/geo+json"


@api.get("/layers")
@replica_ok
def list_layers():
    """Every layer with its titles, schema, style and data URL."""
    return {
        "layers": [
            {**layer.to_json(), "url": url_for("api.layer_geojson", layer_id=layer.id)}
            for layer in layer_registry()
        ]
    }


@api.get("/layers/<layer_id>")
@replica_ok
def layer_metadata(layer_id: str):
    """One layer's description, feature count and extent."""
    layer = get_layer(layer_id)
    return {
        **layer.to_json(),
        **layer_summary(get_session(), layer.id),
        "url": url_for("api.layer_geojson", layer_id=layer.id),
    }


@api.get("/layers/<layer_id>.geojson")
@checks_credentials_itself
@replica_ok
@single_statements
def layer_geojson(layer_id: str):
    """Features of a layer intersecting `bbox`, at most `limit`, paged by id with `after`."""
    layer = get_layer(layer_id)
    bbox = parse_bbox(request.args.get("bbox"))
    limit = parse_int(
        request.args.get("limit"),
        "limit",
        default=current_app.config["GIS_APP_DEFAULT_FEATURES"],
        minimum=1,
        maximum=current_app.config["GIS_APP_MAX_FEATURES"],
    )
    after = parse_int(request.args.get("after"), "after", default=0, minimum=0, maximum=2**62)
    # The same path as /ogc items: GeoJSON from PostGIS, streamed, with ETag/Last-Modified/gzip.
    source = layer_source(layer)
    # One round trip before the page: the layer's revision and the token (or login) check.
    checked = checked_revisions(get_session(), source.revision_keys, pending_credentials())
    confirm_credentials(checked.who)  # 401 here when the token or login is not valid
    etag, changed = make_etag(checked.tag, request_key()), checked.changed
    cached = not_modified(etag, changed)
    if cached is not None:
        return cached
    query = Query(bbox=(bbox.minx, bbox.miny, bbox.maxx, bbox.maxy) if bbox else None)
    batches = feature_batches(get_session(), source, query, limit + 1, after=after)

    def generate():
        yield '{"type":"FeatureCollection","features":['
        count = PageCount()
        yield from page_features_json(batches, limit, count)
        links = []
        if count.more:
            last = count.last if count.last is not None else after
            args = {**request.args.to_dict(), "after": last, "limit": limit}
            nxt = url_for("api.layer_geojson", layer_id=layer.id, _external=True, **args)
            links = [{"rel": "next", "href": nxt, "type": GEOJSON}]
        yield '],"numberReturned":' + str(count.returned) + ',"links":' + dumps(links) + "}"

    return stream(generate(), GEOJSON, etag, changed)

"""The OpenAPI 3.0 document of /ogc: every path, with each collection's own filter parameters.

GDAL (3.8 and later) reads the page size from `limit`'s maximum here, so it asks for 10,000
features per page instead of 10.
"""

from __future__ import annotations

from flask import url_for

from gis_app.config import VERSION as __version__
from gis_app.features.cql import DEFAULT_LANG, LANGS
from gis_app.features.sources import CRS84, CRSES, Source
from gis_app.layers import layer_registry
from gis_app.web.ogc.collections import JSON_TYPES, title
from gis_app.web.ogc.params import DEFAULT_LIMIT, MAX_LIMIT

GEOJSON = "application/geo+json"

# Part 4 (create, replace, update, delete: gis_app/web/ogc/crud.py), declared in /ogc/conformance.
PART4 = [
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/features",
]


def _param(name: str, schema: dict, description: str, where: str = "query") -> dict:
    return {"name": name, "in": where, "required": where == "path", "schema": schema,
            "description": description, "style": "form", "explode": False}  # fmt: skip


COMMON = [
    _param("f", {"type": "string", "enum": ["json", "html"]}, "Format: json or html."),
    _param(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        f"Features per page. A larger value is served as {MAX_LIMIT}, with a next link.",
    ),
    _param(
        "bbox",
        {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
        "Features intersecting minx,miny,maxx,maxy (in bbox-crs; default CRS84 lon/lat).",
    ),
    _param("bbox-crs", {"type": "string", "format": "uri", "enum": list(CRSES)}, "CRS of bbox."),
    _param("crs", {"type": "string", "format": "uri", "enum": list(CRSES)}, "CRS of the answer."),
    _param("offset", {"type": "integer", "minimum": 0}, "Skip this many features (prefer the next link)."),
    _param("cursor", {"type": "string"}, "Page token from a next or prev link."),
    _param("count", {"type": "string", "enum": ["exact"]}, "count=exact: always give numberMatched."),
]  # fmt: skip
# OGC API - Features Part 3 (/req/filter/filter-param, filter-lang-param, filter-crs-param).
FILTER = [
    _param("filter", {"type": "string"},
           "A CQL2 filter on the collection's queryables (/queryables), ANDed with the other "
           "parameters, e.g. voltage_kv >= 10 AND name LIKE 'ул.%'."),
    _param("filter-lang", {"type": "string", "enum": list(LANGS), "default": DEFAULT_LANG},
           "Encoding of filter: cql2-text or cql2-json; cql-text, the pre-standard name, is "
           "read as cql2-text."),
    _param("filter-crs", {"type": "string", "format": "uri-reference", "enum": list(CRSES),
                          "default": CRS84}, "CRS of the geometries in filter."),
]  # fmt: skip


def _items_path(source: Source) -> dict:
    params = list(COMMON)
    if source.time_sql:
        params.append(
            _param("datetime", {"type": "string"}, "An RFC 3339 instant or interval (a/b, ../b).")
        )
    for flt in source.filters:
        params.append(
            _param(
                flt.name, {"type": JSON_TYPES[flt.type]}, f"Features whose {flt.name} equals this."
            )
        )
    params += FILTER  # Part 3 on every collection
    return {
        "get": {
            "summary": f"Features of {title(source, 'en')}",
            "operationId": f"getItems_{source.id}",
            "tags": [source.id],
            "parameters": params,
            "responses": {
                "200": {"description": "A FeatureCollection.",
                        "content": {GEOJSON: {"schema": {"type": "object"}}, "text/html": {}}},
                "400": {"$ref": "#/components/responses/Exception"},
                "404": {"$ref": "#/components/responses/Exception"},
            },
        }
    }  # fmt: skip


def _item_path(source: Source) -> dict:
    return {
        "get": {
            "summary": f"One feature of {title(source, 'en')}",
            "operationId": f"getItem_{source.id}",
            "tags": [source.id],
            "parameters": [
                _param("featureId", {"type": "integer"}, "The feature's id.", "path"),
                COMMON[0],
                COMMON[4],
            ],
            "responses": {
                "200": {"description": "A Feature.", "content": {GEOJSON: {}, "text/html": {}}},
                "404": {"$ref": "#/components/responses/Exception"},
            },
        }
    }


def _simple(summary: str, op_id: str) -> dict:
    return {"get": {"summary": summary, "operationId": op_id, "parameters": [COMMON[0]],
                    "responses": {"200": {"description": summary,
                                          "content": {"application/json": {}, "text/html": {}}}}}}  # fmt: skip


def openapi(sources: dict[str, Source]) -> dict:
    """The whole document."""

    paths = {
        "/": _simple("Landing page", "getLandingPage"),
        "/conformance": _simple("Conformance classes", "getConformance"),
        "/api": _simple("This document", "getApi"),
        "/collections": _simple("Collections", "getCollections"),
    }
    for sid, source in sources.items():
        paths[f"/collections/{sid}"] = _simple(f"Collection {sid}", f"describeCollection_{sid}")
        paths[f"/collections/{sid}/items"] = _items_path(source)
        paths[f"/collections/{sid}/items/{{featureId}}"] = _item_path(source)
        # Part 4 edits (gis_app.web.ogc.crud) on the layers' items.
        on_items, on_item = openapi_operations(sid)
        paths[f"/collections/{sid}/items"].update(on_items)
        paths[f"/collections/{sid}/items/{{featureId}}"].update(on_item)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "gis_app: utility networks of Leningrad Oblast (OGC API - Features)",
            "version": __version__,
            "description": f"Features in {CRS84} by default; crs/bbox-crs also EPSG:4326 and EPSG:3857.",
            "license": {"name": "MIT"},
        },
        "servers": [{"url": url_for("ogc.landing", _external=True).rstrip("/")}],
        "paths": paths,
        "components": {
            "responses": {
                "Exception": {
                    "description": "An error: {code, description} as OGC asks, plus status, message, details.",
                    "content": {"application/json": {"schema": {
                        "type": "object", "required": ["code", "description"],
                        "properties": {"code": {"type": "string"}, "description": {"type": "string"},
                                       "status": {"type": "integer"}, "message": {"type": "string"},
                                       "details": {"type": "object"}}}}},
                }
            }
        },
    }  # fmt: skip


ETAG_HEADER = {"description": "The feature's new ETag (send it as If-Match to edit it again)",
               "schema": {"type": "string"}}  # fmt: skip
IF_MATCH = {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
            "description": "The feature's ETag from GET (or *): 412 when the feature changed since"
                           " then. Without it the edit goes ahead."}  # fmt: skip


def _operation(
    summary: str, op_id: str, sid: str, body: str | None, ok: str, existing: bool = True
) -> dict:
    """One Part 4 operation; `existing`: it acts on a stored feature (If-Match, 412)."""
    op: dict = {"summary": summary, "operationId": f"{op_id}_{sid}", "tags": [sid],
                "responses": {ok: {"description": summary},
                              "400": {"$ref": "#/components/responses/Exception"},
                              "401": {"$ref": "#/components/responses/Exception"},
                              "403": {"$ref": "#/components/responses/Exception"},
                              "404": {"$ref": "#/components/responses/Exception"},
                              "422": {"$ref": "#/components/responses/Exception"}},
                "parameters": []}  # fmt: skip
    if existing:
        op["parameters"].append(IF_MATCH)
        op["responses"]["412"] = {"$ref": "#/components/responses/Exception"}
    if body:  # create, replace, update: the answer names the feature's new state
        op["responses"][ok]["headers"] = {"ETag": ETAG_HEADER}
        op["requestBody"] = {"required": True, "content": {body: {"schema": {"type": "object"}}}}
        op["parameters"].append({"name": "Content-Crs", "in": "header", "required": False,
                                 "schema": {"type": "string"},
                                 "description": "CRS of the body, <uri>"})  # fmt: skip
    return op


def openapi_operations(sid: str) -> tuple[dict, dict]:
    """The Part 4 operations of a collection for the OpenAPI document: (on items, on one item)."""
    if layer_registry().get(sid) is None:
        return {}, {}
    items = {"post": _operation("Create a feature (operator staff: their own organisation's)",
                                "createItem", sid, "application/geo+json", "201",
                                existing=False)}  # fmt: skip
    item = {
        "put": _operation("Replace a feature", "replaceItem", sid, "application/geo+json", "204"),
        "patch": _operation("Update a feature (JSON merge patch)", "updateItem", sid,
                            "application/merge-patch+json", "204"),
        "delete": _operation("Delete a feature", "deleteItem", sid, None, "204"),
    }  # fmt: skip
    return items, item

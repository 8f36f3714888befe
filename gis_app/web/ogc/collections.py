"""The collections of /ogc: one per layer file, plus incidents and municipalities."""

from __future__ import annotations

import datetime as dt

from flask import url_for

from gis_app.errors import NotFound
from gis_app.features.sources import CRS84, CRSES, INCIDENTS, MUNICIPALITIES, Source, layer_source
from gis_app.layers import layer_registry

TITLES = {
    "incidents": ("Инциденты", "Incidents"),
    "municipalities": ("Муниципальные образования", "Municipalities"),
}
DESCRIPTIONS = {
    "incidents": "Reported failures of the networks (points), with status and responsible operator.",
    "municipalities": "The oblast, its municipal districts and okrugs, and their settlements.",
}
GEOJSON = "application/geo+json"
# Time Reference System of the temporal extent (OGC API Features Part 1, 7.13).
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"


def sources() -> dict[str, Source]:
    """Every collection's source by id, layers first in registry order."""
    found = {layer.id: layer_source(layer) for layer in layer_registry()}
    found["incidents"] = INCIDENTS
    found["municipalities"] = MUNICIPALITIES
    return found


def get_source(collection_id: str) -> Source:
    """The collection called `collection_id`, or a 404 naming the ones there are."""
    # The one asked for, as sources() would give it (its fixed collections win over a layer's
    # name), without building the source of every layer on each request.
    fixed = {"incidents": INCIDENTS, "municipalities": MUNICIPALITIES}
    layer = layer_registry().get(collection_id)
    found = fixed.get(collection_id) or (layer_source(layer) if layer is not None else None)
    if found is None:
        raise NotFound(
            f"Collection '{collection_id}' does not exist.",
            code="collection_not_found",
            collection=collection_id,
            collections=list(sources()),
        )
    return found


def title(source: Source, lang: str = "ru") -> str:
    """The collection's title in `lang` (ru or en)."""
    layer = layer_registry().get(source.id)
    ru, en = (layer.title_ru, layer.title_en) if layer else TITLES[source.id]
    return en if lang == "en" else ru


def description(source: Source) -> str:
    """One sentence about the collection."""
    layer = layer_registry().get(source.id)
    if layer:
        return f"{layer.title_en}: network features of the '{layer.utility}' utility ({layer.geometry.lower()})."
    return DESCRIPTIONS[source.id]


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def collection_json(source: Source, bbox: list | None, interval: list | None) -> dict:
    """The collection description: extent, CRSs, links to its items and tiles."""
    cid = source.id
    doc: dict = {
        "id": cid,
        "title": title(source),
        "description": description(source),
        "itemType": "feature",
        "crs": list(CRSES),
        "storageCrs": CRS84,
    }
    extent: dict = {}
    if bbox is not None:
        extent["spatial"] = {"bbox": [bbox], "crs": CRS84}
    if interval is not None:
        extent["temporal"] = {
            "interval": [[_iso(interval[0]), _iso(interval[1])]],
            "trs": GREGORIAN,
        }
    if extent:
        doc["extent"] = extent
    links = [
        {"rel": "self", "type": "application/json", "title": "this document",
         "href": url_for("ogc.collection", collection_id=cid, _external=True)},
        {"rel": "alternate", "type": "text/html", "title": "this document as HTML",
         "href": url_for("ogc.collection", collection_id=cid, f="html", _external=True)},
        {"rel": "items", "type": GEOJSON, "title": "the features",
         "href": url_for("ogc.items", collection_id=cid, _external=True)},
        {"rel": "items", "type": "text/html", "title": "the features as HTML",
         "href": url_for("ogc.items", collection_id=cid, f="html", _external=True)},
        {"rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
         "type": "application/schema+json", "title": "the attributes to filter on",
         "href": url_for("ogc.queryables", collection_id=cid, _external=True)},
    ]  # fmt: skip
    if layer_registry().get(cid):
        links.append(
            {"rel": "describedby", "type": "application/json", "title": "TileJSON (vector tiles)",
             "href": url_for("tiles.tilejson", layer_id=cid, _external=True)}
        )  # fmt: skip
    doc["links"] = links
    return doc


JSON_TYPES = {
    "int": "integer",
    "float": "number",
    "str": "string",
    "bool": "boolean",
    "date": "string",
}


def queryables_json(source: Source) -> dict:
    """A JSON Schema of the properties to filter on: `name=value` takes the attributes, a CQL2
    `filter` (Part 3) also the time and the geometry."""
    props = {}
    for flt in source.filters:
        schema: dict = {"type": JSON_TYPES[flt.type]}
        if flt.type == "date":
            schema["format"] = "date"
        props[flt.name] = schema
    if source.time_name:
        props[source.time_name] = {
            "type": "string",
            "format": "date-time",
            "x-ogc-role": "primary-instant",
        }
    kind = "any" if source.geometry == "GEOMETRY" else source.geometry.lower()
    props["geometry"] = {
        "$ref": "https://geojson.org/schema/Geometry.json",
        "format": f"geometry-{kind}",
        "x-ogc-role": "primary-geometry",
    }
    return {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": url_for("ogc.queryables", collection_id=source.id, _external=True),
        "type": "object",
        "title": title(source),
        "properties": props,
        "additionalProperties": False,
    }

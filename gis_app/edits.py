"""Single-feature edits of a layer (create, replace, update, delete), checked exactly as an import
is: the same field coercion, schema, geometry type, validity and oblast boundary."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from pyproj import CRS
from shapely.geometry import shape
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.errors import Conflict, ImportFailed, InvalidParameter, NotFound
from gis_app.imports.load import oblast
from gis_app.imports.prepare import prepare
from gis_app.imports.read import WGS84, Batch, reproject
from gis_app.layers import LayerDef

# Properties a served feature carries that an edit may send back but never sets.
READ_ONLY = {"id", "layer", "utility", "operator", "operator_id", "updated_at", "updated_by"}


@dataclass(frozen=True)
class BodyCrs:
    """The CRS of a request body: for reprojection, and whether it is latitude first."""

    crs: CRS = WGS84
    lat_first: bool = False


LONLAT = BodyCrs()


def _geometry(raw: object, body_crs: BodyCrs) -> shapely.Geometry | None:
    if raw is None:
        return None
    try:
        geom = shape(raw)
    except (AttributeError, KeyError, TypeError, ValueError, shapely.errors.GEOSException):
        raise ImportFailed(
            "The feature's geometry is not GeoJSON.", reason="geometry: not GeoJSON"
        ) from None
    if body_crs.lat_first:
        # e.g. EPSG:4326 in Content-Crs is latitude first (OGC API Features Part 2).
        geom = shapely.transform(geom, lambda xy: xy[:, ::-1])
    return geom


def check(
    session: Session, layer: LayerDef, body: object, crs: BodyCrs = LONLAT
) -> tuple[str | None, str | None, str, str]:
    """A GeoJSON Feature as (external id, name, attributes JSON, hex EWKB in EPSG:4326);
    ImportFailed (422) with every reason when it does not fit the layer."""
    if not isinstance(body, dict) or body.get("type") != "Feature":
        raise InvalidParameter("The body must be a GeoJSON Feature.", parameter="body")
    props = body.get("properties") or {}
    if not isinstance(props, dict):
        raise InvalidParameter("properties must be an object", parameter="body")
    props = {k: v for k, v in props.items() if k not in READ_ONLY}
    known = set(layer.property_names) | {"external_id", "name"}
    unknown = sorted(set(props) - known)
    columns = sorted(set(props) & known)
    batch = Batch(
        "geojson", columns, [[props[c]] for c in columns],
        np.array([_geometry(body.get("geometry"), crs)], dtype=object), crs.crs.to_string(),
    )  # fmt: skip
    reproject(batch, crs.crs)
    prepared = prepare(layer, batch, {}, "append", oblast(session))
    reasons = list(prepared.rejected.get(0, []))
    reasons += [f"unknown attribute '{name}' (layer {layer.id} has {list(layer.property_names)})"
                for name in unknown]  # fmt: skip
    if reasons:
        raise ImportFailed("The feature does not fit the layer: " + "; ".join(reasons),
                           code="invalid_feature", reasons=reasons)  # fmt: skip
    _, external_id, name, attributes, geom = prepared.rows[0]
    return (
        external_id,
        name,
        attributes,
        shapely.to_wkb(
            shapely.set_srid(geom, 4326), hex=True, include_srid=True, output_dimension=2
        ),
    )


def _unique(session: Session, layer: LayerDef, operator_id: int, ext: str | None, fid=None) -> None:
    if ext is None:
        return
    clash = session.execute(
        text("SELECT id FROM network_features WHERE layer_id = :l AND operator_id = :o"
             " AND external_id = :e AND id IS DISTINCT FROM :f"),
        {"l": layer.id, "o": operator_id, "e": ext, "f": fid},
    ).scalar()  # fmt: skip
    if clash is not None:
        raise Conflict(f"Feature {clash} of this operator has external_id '{ext}' already.",
                       code="external_id_taken", feature=clash, external_id=ext)  # fmt: skip


def owner(session: Session, layer: LayerDef, feature_id: int) -> int:
    """The operator owning a feature of the layer; 404 when there is none."""
    found = session.execute(
        text("SELECT operator_id FROM network_features WHERE id = :i AND layer_id = :l"),
        {"i": feature_id, "l": layer.id},
    ).scalar()
    if found is None:
        raise NotFound(f"Feature '{feature_id}' does not exist in '{layer.id}'.",
                       code="feature_not_found", collection=layer.id, feature=feature_id)  # fmt: skip
    return found


def create(
    session: Session, layer: LayerDef, operator_id: int, body: object, crs: BodyCrs, user: str
) -> int:
    """Insert one feature for the operator; its id."""
    external_id, name, attributes, geom = check(session, layer, body, crs)
    _unique(session, layer, operator_id, external_id)
    return session.execute(
        text(
            "INSERT INTO network_features (layer_id, utility_code, operator_id, external_id, name,"
            " attributes, geom, updated_at, updated_by) VALUES (:l, :u, :o, :e, :n,"
            " CAST(:a AS jsonb), CAST(:g AS geometry), now(), :by) RETURNING id"
        ),
        {"l": layer.id, "u": layer.utility, "o": operator_id, "e": external_id, "n": name,
         "a": attributes, "g": geom, "by": user},
    ).scalar_one()  # fmt: skip


def replace(
    session: Session, layer: LayerDef, feature_id: int, body: object, crs: BodyCrs, user: str
) -> None:
    """Replace one feature's name, external id, attributes and geometry."""
    external_id, name, attributes, geom = check(session, layer, body, crs)
    _unique(session, layer, owner(session, layer, feature_id), external_id, feature_id)
    session.execute(
        text(
            "UPDATE network_features SET external_id = :e, name = :n, attributes = CAST(:a AS jsonb),"
            " geom = CAST(:g AS geometry), updated_at = now(), updated_by = :by WHERE id = :i"
        ),
        {"e": external_id, "n": name, "a": attributes, "g": geom, "by": user, "i": feature_id},
    )


def current(session: Session, layer: LayerDef, feature_id: int) -> dict:
    """A stored feature as a GeoJSON Feature (EPSG:4326), to merge a patch into."""
    row = session.execute(
        text("SELECT external_id, name, attributes, ST_AsGeoJSON(geom)::json FROM network_features"
             " WHERE id = :i AND layer_id = :l"),
        {"i": feature_id, "l": layer.id},
    ).one()  # fmt: skip
    props = {**row[2], "external_id": row[0], "name": row[1]}
    return {"type": "Feature", "geometry": row[3], "properties": props}


def update(
    session: Session, layer: LayerDef, feature_id: int, patch: object, crs: BodyCrs, user: str
) -> None:
    """Apply a JSON merge patch (RFC 7396) of properties and/or geometry, then check the result."""
    if not isinstance(patch, dict):
        raise InvalidParameter(
            "The body must be a JSON merge patch of a Feature.", parameter="body"
        )
    owner(session, layer, feature_id)
    merged = current(session, layer, feature_id)
    for key, value in (patch.get("properties") or {}).items():
        if value is None:
            merged["properties"].pop(key, None)
        else:
            merged["properties"][key] = value
    if "geometry" in patch:
        merged["geometry"] = patch["geometry"]
        replace(session, layer, feature_id, merged, crs, user)
    else:
        # The stored geometry is EPSG:4326 already, whatever the patch's Content-Crs.
        replace(session, layer, feature_id, merged, LONLAT, user)


def delete(session: Session, layer: LayerDef, feature_id: int) -> None:
    """Delete one feature."""
    owner(session, layer, feature_id)
    session.execute(text("DELETE FROM network_features WHERE id = :i"), {"i": feature_id})

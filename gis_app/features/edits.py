"""Single-feature edits of a layer (create, replace, update, delete), checked exactly as an import
is: the same field coercion, schema, geometry type, validity and oblast boundary.

Each edit writes its row of feature_edits in the edit's own transaction (a failed edit leaves
none). Optimistic locking: a feature's ETag is a hash of its row; `lock` takes the row FOR UPDATE
and `check_if_match` compares, so of two writers holding one ETag only the first wins.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import shapely
from pyproj import CRS
from shapely.geometry import shape
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from gis_app.errors import Conflict, ImportFailed, InvalidParameter, NotFound, PreconditionFailed
from gis_app.features.pages import feature
from gis_app.features.sources import FULL_PRECISION, layer_source
from gis_app.imports.load import oblast
from gis_app.imports.prepare import prepare
from gis_app.imports.read import WGS84, Batch, reproject
from gis_app.layers import LayerDef
from gis_app.models import FeatureEdit, Operator
from gis_app.network import topology

# Properties a served feature carries that an edit may send back but never sets.
READ_ONLY = {"id", "layer", "utility", "operator", "operator_id", "updated_at", "updated_by"}


@dataclass(frozen=True)
class BodyCrs:
    """The CRS of a request body: for reprojection, and whether it is latitude first."""

    crs: CRS = WGS84
    lat_first: bool = False


LONLAT = BodyCrs()


@dataclass(frozen=True)
class Editor:
    """Who makes an edit, as the record keeps it: the user's id (None: no user row) and name."""

    user_id: int | None
    username: str


@dataclass(frozen=True)
class FeatureState:
    """A stored feature's owner, strong ETag (a hash of its row) and last change."""

    operator_id: int
    etag: str
    updated_at: datetime


# Every column an edit or an import changes, and the operator's name the answer shows; the change
# time as epoch seconds, because the text of a timestamptz follows the session's TimeZone and the
# ETag must not.
_STATE_SQL = (
    "SELECT f.operator_id, md5(row(f.id, f.layer_id, f.operator_id, f.utility_code, f.external_id,"
    " f.name, f.attributes, f.is_demo, f.updated_by, extract(epoch FROM f.updated_at),"
    " f.geom, (SELECT o.short_name FROM operators o WHERE o.id = f.operator_id))::text) AS tag,"
    " f.updated_at FROM network_features f WHERE f.id = :i AND f.layer_id = :l"
)


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


def _missing(layer: LayerDef, feature_id: int) -> NotFound:
    return NotFound(f"Feature '{feature_id}' does not exist in '{layer.id}'.",
                    code="feature_not_found", collection=layer.id, feature=feature_id)  # fmt: skip


def owner(session: Session, layer: LayerDef, feature_id: int) -> int:
    """The operator owning a feature of the layer; 404 when there is none."""
    found = session.execute(
        text("SELECT operator_id FROM network_features WHERE id = :i AND layer_id = :l"),
        {"i": feature_id, "l": layer.id},
    ).scalar()
    if found is None:
        raise _missing(layer, feature_id)
    return found


def state(session: Session, layer: LayerDef, feature_id: int) -> FeatureState | None:
    """A feature's owner, ETag and last change, or None when the layer has no such feature."""
    row = session.execute(text(_STATE_SQL), {"i": feature_id, "l": layer.id}).one_or_none()
    return None if row is None else FeatureState(row.operator_id, f'"{row.tag}"', row.updated_at)


def lock(session: Session, layer: LayerDef, feature_id: int) -> FeatureState:
    """Lock a feature's row until the transaction ends (404 when there is none); its state.

    A writer that waited for the lock reads the row as the other writer committed it, so its
    If-Match is checked against the new ETag, not the one it saw before waiting.
    """
    row = session.execute(
        text(_STATE_SQL + " FOR UPDATE"), {"i": feature_id, "l": layer.id}
    ).one_or_none()
    if row is None:
        raise _missing(layer, feature_id)
    return FeatureState(row.operator_id, f'"{row.tag}"', row.updated_at)


def check_if_match(layer: LayerDef, feature_id: int, current: str, if_match: str | None) -> None:
    """412 unless If-Match is absent, `*`, or lists the current ETag (its W/ form too: a proxy
    that compresses weakens ETags, and the tag names one state of the row all the same)."""
    if if_match is None:
        return
    tags = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" in tags or current in tags:
        return
    raise PreconditionFailed(
        f"Feature {feature_id} of '{layer.id}' changed since the version named by If-Match."
        " Read it again (GET answers its ETag) and repeat the edit.",
        collection=layer.id, feature=feature_id, if_match=if_match, etag=current,
    )  # fmt: skip


def _record(
    session: Session, layer: LayerDef, feature_id: int, operator_id: int, external_id: str | None,
    action: str, editor: Editor, removed: dict | None = None,
) -> None:  # fmt: skip
    session.execute(
        insert(FeatureEdit).values(
            user_id=editor.user_id, username=editor.username, operator_id=operator_id,
            layer_id=layer.id, feature_id=feature_id, external_id=external_id, action=action,
            removed_feature=removed,
        )
    )  # fmt: skip


def create(
    session: Session, layer: LayerDef, operator_id: int, body: object, crs: BodyCrs, editor: Editor
) -> int:
    """Insert one feature for the operator, and its record; its id."""
    external_id, name, attributes, geom = check(session, layer, body, crs)
    _unique(session, layer, operator_id, external_id)
    feature_id = session.execute(
        text(
            "INSERT INTO network_features (layer_id, utility_code, operator_id, external_id, name,"
            " attributes, geom, updated_at, updated_by) VALUES (:l, :u, :o, :e, :n,"
            " CAST(:a AS jsonb), CAST(:g AS geometry), now(), :by) RETURNING id"
        ),
        {"l": layer.id, "u": layer.utility, "o": operator_id, "e": external_id, "n": name,
         "a": attributes, "g": geom, "by": editor.username},
    ).scalar_one()  # fmt: skip
    _record(session, layer, feature_id, operator_id, external_id, "create", editor)
    topology.upkeep(session, None, layer, [feature_id])  # same transaction: never stale
    return feature_id


def replace(
    session: Session, layer: LayerDef, feature_id: int, body: object, crs: BodyCrs,
    editor: Editor, action: str = "replace",
) -> None:  # fmt: skip
    """Replace one feature's name, external id, attributes and geometry, and record it."""
    external_id, name, attributes, geom = check(session, layer, body, crs)
    operator_id = owner(session, layer, feature_id)
    _unique(session, layer, operator_id, external_id, feature_id)
    session.execute(
        text(
            "UPDATE network_features SET external_id = :e, name = :n, attributes = CAST(:a AS jsonb),"
            " geom = CAST(:g AS geometry), updated_at = now(), updated_by = :by WHERE id = :i"
        ),
        {"e": external_id, "n": name, "a": attributes, "g": geom, "by": editor.username,
         "i": feature_id},
    )  # fmt: skip
    _record(session, layer, feature_id, operator_id, external_id, action, editor)
    topology.upkeep(session, None, layer, [feature_id])


def _stored(session: Session, layer: LayerDef, feature_id: int) -> dict | None:
    """A stored feature as the one builder makes it, to the last digit (FULL_PRECISION)."""
    found = feature(session, layer_source(layer), feature_id, FULL_PRECISION)
    return json.loads(found) if found else None


def current(session: Session, layer: LayerDef, feature_id: int) -> dict:
    """A stored feature as a GeoJSON Feature (EPSG:4326) with only what an edit may set, to merge
    a patch into."""
    stored = _stored(session, layer, feature_id)
    props = {k: v for k, v in stored["properties"].items() if k not in READ_ONLY}
    return {"type": "Feature", "geometry": stored["geometry"], "properties": props}


def update(
    session: Session, layer: LayerDef, feature_id: int, patch: object, crs: BodyCrs, editor: Editor
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
        replace(session, layer, feature_id, merged, crs, editor, "update")
    else:
        # The stored geometry is EPSG:4326 already, whatever the patch's Content-Crs.
        replace(session, layer, feature_id, merged, LONLAT, editor, "update")


def delete(session: Session, layer: LayerDef, feature_id: int, editor: Editor) -> None:
    """Delete one feature; its record keeps it as a GeoJSON Feature (EPSG:4326): its attributes,
    external id, name, owner and last change, which POSTed back to the layer's items restores it
    (under a new id)."""
    removed = _stored(session, layer, feature_id)
    if removed is None:
        raise _missing(layer, feature_id)
    for served_only in (
        "layer",
        "utility",
        "operator",
    ):  # the layer's and owner's, not the feature's
        removed["properties"].pop(served_only, None)
    row = session.execute(
        text("DELETE FROM network_features WHERE id = :i AND layer_id = :l"
             " RETURNING operator_id, external_id"),
        {"i": feature_id, "l": layer.id},
    ).one()  # fmt: skip
    _record(session, layer, feature_id, row.operator_id, row.external_id, "delete", editor, removed)


def list_edits(
    session: Session, operator_id: int | None = None, layer_id: str | None = None, limit: int = 100
) -> list[dict]:
    """The latest single-feature edits, newest first (one operator's and/or layer's if given)."""
    query = select(FeatureEdit, Operator.slug).join(
        Operator, Operator.id == FeatureEdit.operator_id
    )
    if operator_id is not None:
        query = query.where(FeatureEdit.operator_id == operator_id)
    if layer_id is not None:
        query = query.where(FeatureEdit.layer_id == layer_id)
    rows = session.execute(query.order_by(FeatureEdit.id.desc()).limit(limit)).all()
    fields = ("username", "operator_id", "layer_id", "feature_id", "external_id", "action",
              "removed_feature")  # fmt: skip
    return [
        {"id": row.id, "at": row.at.isoformat(), **{f: getattr(row, f) for f in fields},
         "operator": slug}
        for row, slug in rows
    ]  # fmt: skip

"""The point of a new report: where the dispatcher clicked, or the nearest point ON the asset.

"Report on this asset" used to save the asset's middle vertex (130 m from the click on a long
pipe); the database knows the closest point of the line to the click (ST_ClosestPoint), so the
report lands where the dispatcher pointed, on the pipe. For a click beside the networks, the asset
within a few pixels tells which utility was meant; with none, the dispatcher must choose.
"""

from __future__ import annotations

import math

from sqlalchemy import text
from sqlalchemy.orm import Session

M_PER_DEG_LAT = 111_320.0

# text(): one KNN probe per layer (the layer+geom GiST index), the nearest of them wins.
_NEAREST_SQL = text(
    """
    WITH p AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS g)
    SELECT f.id, f.layer_id, f.utility_code, f.external_id, f.name,
           ST_X(f.snap) AS lon, ST_Y(f.snap) AS lat, f.distance_m
    FROM p
    CROSS JOIN unnest(CAST(:layers AS text[])) AS l(layer_id)
    CROSS JOIN LATERAL (
        SELECT f.id, f.layer_id, f.utility_code, f.external_id, f.name,
               ST_ClosestPoint(f.geom, p.g) AS snap,
               ST_Distance(f.geom::geography, p.g::geography) AS distance_m
        FROM network_features f
        WHERE f.layer_id = l.layer_id
          AND f.geom && ST_Expand(p.g, :d_lon, :d_lat)
          AND ST_DWithin(f.geom::geography, p.g::geography, :tolerance_m)
        ORDER BY f.geom <-> p.g
        LIMIT 1
    ) f
    ORDER BY f.distance_m, f.id
    LIMIT 1
    """
)

_ON_FEATURE_SQL = text(
    """
    WITH p AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS g)
    SELECT f.id, f.layer_id, f.utility_code, f.external_id, f.name,
           ST_X(ST_ClosestPoint(f.geom, p.g)) AS lon, ST_Y(ST_ClosestPoint(f.geom, p.g)) AS lat,
           ST_Distance(f.geom::geography, p.g::geography) AS distance_m
    FROM network_features f, p WHERE f.id = :id AND f.layer_id = ANY(:layers)
    """
)


def _answer(row, lon: float, lat: float, snapped: bool) -> dict:
    feature = None
    if row is not None:
        feature = {
            "id": row.id,
            "layer": row.layer_id,
            "utility": row.utility_code,
            "external_id": row.external_id,
            "name": row.name,
            "distance_m": round(row.distance_m, 2),
        }
    if snapped and row is not None:
        lon, lat = row.lon, row.lat
    return {
        "lon": round(lon, 7),
        "lat": round(lat, 7),
        "snapped": bool(snapped and row is not None),
        "utility": feature["utility"] if feature else None,
        "feature": feature,
    }


def point_on_feature(
    session: Session, layer_ids: list[str], feature_id: int, lon: float, lat: float
) -> dict | None:
    """The point of `feature_id` nearest to lon/lat (EPSG:4326), with the feature; None: no such
    feature in a served layer."""
    row = session.execute(
        _ON_FEATURE_SQL, {"id": feature_id, "lon": lon, "lat": lat, "layers": layer_ids}
    ).one_or_none()
    return None if row is None else _answer(row, lon, lat, snapped=True)


def asset_near_click(
    session: Session, layer_ids: list[str], lon: float, lat: float, tolerance_m: float
) -> dict:
    """The click point (EPSG:4326) kept as it is, with the nearest asset of any served layer
    within `tolerance_m` metres (its utility is what the dispatcher meant), or none."""
    d_lat = tolerance_m * 1.01 / M_PER_DEG_LAT
    d_lon = d_lat / max(math.cos(math.radians(lat)), 0.01)
    row = session.execute(
        _NEAREST_SQL,
        {
            "lon": lon,
            "lat": lat,
            "layers": layer_ids,
            "tolerance_m": tolerance_m,
            "d_lon": d_lon,
            "d_lat": d_lat,
        },
    ).one_or_none()
    return _answer(row, lon, lat, snapped=False)

"""The failure history per asset, for capital repair plans: failures per feature and per 100 km
of network by material, diameter, age or layer, and the features that failed most.

A failure is an original incident (not a merged duplicate) tied to a network feature
(`incidents.feature_id`), received in the period. Lengths are on the ellipsoid (geography).
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.errors import InvalidParameter
from gis_app.kpi.periods import Period
from gis_app.kpi.report import Viewer

# Class of a feature (attribute values come from the layer files' schemas); :year is the
# period's last year, so age is counted at the end of the period, in decades.
CLASSES = {
    "material": "COALESCE(nf.attributes->>'material', '?')",
    "diameter": "COALESCE(nf.attributes->>'diameter_mm', '?')",
    "age": (
        "COALESCE((((:year - (nf.attributes->>'year_built')::int) / 10) * 10)::text || '–'"
        " || (((:year - (nf.attributes->>'year_built')::int) / 10) * 10 + 9)::text, '?')"
    ),
    "layer": "nf.layer_id",
}


def _failures(viewer: Viewer, params: dict) -> str:
    """SQL of (feature_id, failures) of the period, as the viewer may see them."""
    where = ["f.received_at >= :start", "f.received_at < :end", "NOT f.is_duplicate"]
    if viewer.role == "operator":
        where.append("f.operator_id = :own")
        params["own"] = viewer.operator_id
    elif viewer.role == "dispatcher" and viewer.municipality_ids is not None:
        where.append("f.municipality_id = ANY(:allowed)")
        params["allowed"] = list(viewer.municipality_ids)
    return (
        "SELECT i.feature_id, count(*) AS failures FROM incident_kpi_facts f"
        " JOIN incidents i ON i.id = f.incident_id"
        f" WHERE i.feature_id IS NOT NULL AND {' AND '.join(where)} GROUP BY i.feature_id"
    )


def failures_by_class(
    session: Session, viewer: Viewer, period: Period, utility: str, by: str
) -> list[dict]:
    """Per class of the utility's features: features, km, failures, per feature and per 100 km."""
    if by not in CLASSES:
        raise InvalidParameter(
            f"by {by!r} is not one of {', '.join(CLASSES)}",
            parameter="by",
            allowed=list(CLASSES),
        )
    params = {"start": period.start, "end": period.end, "utility": utility}
    params["year"] = (period.end.year - 1) if period.end.month == 1 else period.end.year
    failures = _failures(viewer, params)
    own = "AND nf.operator_id = :own" if viewer.role == "operator" else ""
    # CLASSES are fixed expressions of this module; every value is bound.
    sql = f"""
        WITH fl AS ({failures})
        SELECT {CLASSES[by]} AS class, count(*) AS features,
               sum(CASE WHEN GeometryType(nf.geom) LIKE '%LINESTRING'
                        THEN ST_Length(nf.geom::geography) ELSE 0 END) / 1000.0 AS km,
               COALESCE(sum(fl.failures), 0) AS failures,
               count(fl.feature_id) AS failed_features
        FROM network_features nf LEFT JOIN fl ON fl.feature_id = nf.id
        WHERE nf.utility_code = :utility {own}
        GROUP BY 1 ORDER BY 4 DESC, 1
    """
    out = []
    for r in session.execute(text(sql), params).mappings():
        km = float(r["km"] or 0)
        out.append(
            {
                "class": r["class"],
                "features": r["features"],
                "km": round(km, 3),
                "failures": int(r["failures"]),
                "failed_features": r["failed_features"],
                "failures_per_feature": round(int(r["failures"]) / r["features"], 4),
                "failures_per_100km": round(int(r["failures"]) / km * 100, 2) if km else None,
            }
        )
    return out


def most_failed(
    session: Session, viewer: Viewer, period: Period, utility: str | None, limit: int
) -> dict:
    """The features that failed most in the period, as a GeoJSON FeatureCollection (lon/lat)."""
    params = {"start": period.start, "end": period.end, "limit": limit, "utility": utility}
    failures = _failures(viewer, params)
    sql = f"""
        WITH fl AS ({failures})
        SELECT json_build_object('type', 'Feature', 'id', nf.id,
                   'geometry', ST_AsGeoJSON(nf.geom, 6)::json,
                   'properties', json_build_object('failures', fl.failures, 'layer', nf.layer_id,
                       'utility', nf.utility_code, 'operator_id', nf.operator_id,
                       'external_id', nf.external_id, 'attributes', nf.attributes)) AS feature
        FROM fl JOIN network_features nf ON nf.id = fl.feature_id
        WHERE (CAST(:utility AS text) IS NULL OR nf.utility_code = :utility)
        ORDER BY fl.failures DESC, nf.id LIMIT :limit
    """
    features = list(session.execute(text(sql), params).scalars())
    return {
        "type": "FeatureCollection",
        "features": features,
        "numberReturned": len(features),
        "period": period.label,
    }

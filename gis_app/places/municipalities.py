"""Municipalities: their boundaries as GeoJSON, one by slug, the list, and which contain a point.

The one "municipality at a point" is chain.units_at (settlement → district/okrug → oblast, with
the rule that decided each link); `municipalities_at` and `municipality_at` are its short forms.
Retired units (retired_at set) keep their rows but are not drawn or found.
"""

from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.geometry import COORD_DECIMALS
from gis_app.places.chain import DEFAULT_TOLERANCE_M, units_at


def municipalities_at(
    session: Session, lon: float, lat: float, tolerance_m: float = DEFAULT_TOLERANCE_M
) -> list[SimpleNamespace]:
    """The chain of units at the point (EPSG:4326), most specific first: id, slug, kind,
    name_ru, name_en, oktmo, rule, reason (see chain.units_at, the one implementation)."""
    return [SimpleNamespace(**u) for u in units_at(session, lon, lat, tolerance_m).units]


def municipality_at(
    session: Session, lon: float, lat: float, tolerance_m: float = DEFAULT_TOLERANCE_M
) -> int | None:
    """The id of the most specific active unit at the point (covering, or within the
    tolerance in metres of a sliver), or None."""
    return units_at(session, lon, lat, tolerance_m).most_specific_id


def municipality_id(session: Session, ref: str) -> int | None:
    """The id of the municipality with this slug or id (as text), or None."""
    return session.execute(
        text("SELECT id FROM municipalities WHERE slug = :ref OR CAST(id AS text) = :ref"),
        {"ref": ref},
    ).scalar_one_or_none()


def municipalities_geojson(session: Session, simplify_deg: float = 0.0) -> dict:
    """Every municipality as a FeatureCollection (boundaries simplified by `simplify_deg`)."""
    fc = session.execute(
        text(
            """
            SELECT json_build_object('type', 'FeatureCollection', 'features',
                coalesce(json_agg(json_build_object(
                    'type', 'Feature', 'id', m.id,
                    'geometry', ST_AsGeoJSON(
                        CASE WHEN :tol > 0 THEN ST_SimplifyPreserveTopology(m.geom, :tol)
                             ELSE m.geom END, :dec)::json,
                    'properties', json_build_object(
                        'slug', m.slug, 'kind', m.kind, 'oktmo', m.oktmo,
                        'name_ru', m.name_ru, 'name_en', m.name_en,
                        'parent', p.slug, 'is_demo', m.is_demo)
                ) ORDER BY m.id), '[]'::json))
            FROM municipalities m LEFT JOIN municipalities p ON p.id = m.parent_id
            WHERE m.retired_at IS NULL
            """
        ),
        {"tol": simplify_deg, "dec": COORD_DECIMALS},
    ).scalar_one()
    return fc


def municipality(session: Session, slug: str) -> dict | None:
    """One municipality by slug, with its bbox [w, s, e, n] and parent, or None."""
    row = session.execute(
        text(
            """
            SELECT m.id, m.slug, m.kind, m.oktmo, m.name_ru, m.name_en, p.slug,
                   ST_XMin(m.geom), ST_YMin(m.geom), ST_XMax(m.geom), ST_YMax(m.geom)
            FROM municipalities m LEFT JOIN municipalities p ON p.id = m.parent_id
            WHERE m.slug = :slug
            """
        ),
        {"slug": slug},
    ).one_or_none()
    if row is None:
        return None
    return {
        "id": row[0],
        "slug": row[1],
        "kind": row[2],
        "oktmo": row[3],
        "name_ru": row[4],
        "name_en": row[5],
        "parent": row[6],
        "bbox": [row[7], row[8], row[9], row[10]],
    }


def municipality_list(session: Session) -> list[dict]:
    """Every municipality: slug, names, kind, parent slug, in hierarchy order."""
    rows = session.execute(
        text(
            "SELECT m.slug, m.name_ru, m.name_en, m.kind, p.slug FROM municipalities m "
            "LEFT JOIN municipalities p ON p.id = m.parent_id WHERE m.retired_at IS NULL"
            " ORDER BY m.parent_id NULLS FIRST, m.name_ru"
        )
    ).all()
    return [
        {"slug": r[0], "name_ru": r[1], "name_en": r[2], "kind": r[3], "parent": r[4]} for r in rows
    ]


def extent_of_everything(session: Session) -> list[float] | None:
    """The bbox [w, s, e, n] of all municipalities (the oblast), or None when there are none."""
    row = session.execute(
        text(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
            "(SELECT ST_Extent(geom) e FROM municipalities WHERE retired_at IS NULL) s"
        )
    ).one()
    return None if row[0] is None else [row[0], row[1], row[2], row[3]]


def oblast_boundary_wkb(session: Session) -> bytes | None:
    """The oblast's boundary (the union of municipalities of kind 'oblast') as WKB, or None."""
    wkb = session.execute(
        text(
            "SELECT ST_AsBinary(ST_Union(geom)) FROM municipalities"
            " WHERE kind = 'oblast' AND retired_at IS NULL"
        )
    ).scalar()
    return bytes(wkb) if wkb is not None else None

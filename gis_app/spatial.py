"""Every spatial query of the service. Plain arguments in, plain data out; never imports flask.

GeoJSON is made by PostGIS (ST_AsGeoJSON and json_build_object), one feature per row, so the
server streams rows through without decoding geometries. Coordinates are EPSG:4326 (lon, lat).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

# Six decimals of a degree are about 0.1 m: finer than any utility survey we receive.
COORD_DECIMALS = 6


@dataclass(frozen=True)
class BBox:
    """A lon/lat box in EPSG:4326: west, south, east, north (degrees)."""

    minx: float
    miny: float
    maxx: float
    maxy: float

    def params(self) -> dict:
        """The bind parameters of the envelope SQL fragment."""
        return {"minx": self.minx, "miny": self.miny, "maxx": self.maxx, "maxy": self.maxy}


ENVELOPE = "ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326)"

# text(): the feature JSON is assembled in SQL so rows stream straight to the client.
_FEATURE_JSON = f"""
json_build_object(
    'type', 'Feature',
    'id', f.id,
    'geometry', ST_AsGeoJSON(f.geom, {COORD_DECIMALS})::json,
    'properties', jsonb_build_object(
        'layer', f.layer_id, 'utility', f.utility_code, 'name', f.name,
        'operator_id', f.operator_id, 'operator', o.short_name,
        'external_id', f.external_id, 'updated_at', f.updated_at, 'updated_by', f.updated_by
    ) || f.attributes
)::text
"""


def layer_features(
    session: Session, layer_id: str, bbox: BBox | None, limit: int, after_id: int = 0
) -> Iterator[tuple[int, str]]:
    """Yield (id, Feature JSON text) of a layer's features intersecting bbox, by id after `after_id`.

    Rows come from a server-side cursor, so memory stays flat whatever the page size.
    """
    where = ["f.layer_id = :layer", "f.id > :after"]
    params: dict = {"layer": layer_id, "after": after_id, "limit": limit}
    if bbox is not None:
        where.append(f"ST_Intersects(f.geom, {ENVELOPE})")
        params.update(bbox.params())
    sql = text(
        f"SELECT f.id, {_FEATURE_JSON} FROM network_features f "
        f"JOIN operators o ON o.id = f.operator_id WHERE {' AND '.join(where)} "
        "ORDER BY f.id LIMIT :limit"
    )
    yield from session.execute(
        sql, params, execution_options={"stream_results": True, "yield_per": 2000}
    )


def layer_summary(session: Session, layer_id: str) -> dict:
    """Count and extent [w, s, e, n] of one layer's features (None extent when empty)."""
    row = session.execute(
        text(
            "SELECT n, ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
            "(SELECT count(*) AS n, ST_Extent(geom) AS e FROM network_features "
            "WHERE layer_id = :layer) s"
        ),
        {"layer": layer_id},
    ).one()
    count = row[0]
    extent = [row[1], row[2], row[3], row[4]] if row[1] is not None else None
    return {"count": count, "extent": extent}


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
            "LEFT JOIN municipalities p ON p.id = m.parent_id ORDER BY m.parent_id NULLS FIRST, m.name_ru"
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
            "(SELECT ST_Extent(geom) e FROM municipalities) s"
        )
    ).one()
    return None if row[0] is None else [row[0], row[1], row[2], row[3]]


def dumps(value: object) -> str:
    """JSON text as the API writes it (UTF-8, Cyrillic kept as is)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def feature_geojson(session: Session, feature_id: int) -> dict | None:
    """One network feature as a GeoJSON Feature (dict), or None."""
    row = session.execute(
        text(
            f"SELECT {_FEATURE_JSON} FROM network_features f "
            "JOIN operators o ON o.id = f.operator_id WHERE f.id = :id"
        ),
        {"id": feature_id},
    ).scalar_one_or_none()
    return json.loads(row) if row else None


def incident_points_stamp(session: Session, statuses: list[str], overdue_sql: str) -> str:
    """A cheap fingerprint of the incidents the map shows: count, last change, overdue count.

    Overdue flips with the clock, not with a write, so its count is part of the fingerprint.
    """
    row = session.execute(
        text(
            f"SELECT count(*), max(i.updated_at), count(*) FILTER (WHERE {overdue_sql}), max(i.id)"
            " FROM incidents i WHERE i.status = ANY(:statuses)"
        ),
        {"statuses": statuses},
    ).one()
    return f"{row[0]}-{row[1].timestamp() if row[1] else 0}-{row[2]}-{row[3] or 0}"


def incident_points_geojson(session: Session, statuses: list[str], overdue_sql: str) -> str:
    """The incidents the map draws, as FeatureCollection text built by PostGIS: a point, the
    status, kind, utility, priority and whether overdue (the card loads the rest on a click)."""
    # text(): one statement builds the collection; overdue_sql is a constant of deadlines.py.
    return session.execute(
        text(
            f"""
            SELECT json_build_object('type', 'FeatureCollection', 'features',
                coalesce(json_agg(json_build_object(
                    'type', 'Feature', 'id', i.id,
                    'geometry', ST_AsGeoJSON(i.geom, {COORD_DECIMALS})::json,
                    'properties', json_build_object(
                        'status', i.status, 'kind', i.kind, 'utility', i.utility_code,
                        'priority', i.priority, 'overdue', {overdue_sql})
                ) ORDER BY i.id), '[]'::json))::text
            FROM incidents i WHERE i.status = ANY(:statuses)
            """
        ),
        {"statuses": statuses},
    ).scalar_one()

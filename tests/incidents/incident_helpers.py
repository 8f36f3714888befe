"""Geometry and lookups for the incident tests (metres around a quiet spot of the oblast)."""

from __future__ import annotations

import math

from sqlalchemy import text

LON0, LAT0 = 31.0, 59.0
M_LAT = 111_132.954 - 559.822 * math.cos(2 * math.radians(LAT0))
M_LON = 111_412.84 * math.cos(math.radians(LAT0))


def at(east_m: float = 0.0, north_m: float = 0.0) -> tuple[float, float]:
    """lon, lat of a point `east_m` and `north_m` metres from the spot."""
    return LON0 + east_m / M_LON, LAT0 + north_m / M_LAT


def line(*points_m: tuple[float, float]) -> str:
    """WKT LineString through points given in metres from the spot."""
    return "LINESTRING(" + ", ".join("%r %r" % at(e, n) for e, n in points_m) + ")"


def square(e0: float, n0: float, e1: float, n1: float) -> str:
    """WKT Polygon of a box in metres from the spot."""
    (x0, y0), (x1, y1) = at(e0, n0), at(e1, n1)
    return f"POLYGON(({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0}))"


def operator_id(session, slug: str) -> int:
    return session.execute(
        text("SELECT id FROM operators WHERE slug = :s"), {"s": slug}
    ).scalar_one()


def municipality_ids(session, slug: str) -> tuple[int, ...]:
    """The municipality and its descendants, as the access layer gives dispatchers."""
    return tuple(
        session.execute(
            text(
                "WITH RECURSIVE t AS (SELECT id FROM municipalities WHERE slug = :s UNION ALL"
                " SELECT c.id FROM municipalities c JOIN t ON c.parent_id = t.id) SELECT id FROM t"
            ),
            {"s": slug},
        ).scalars()
    )

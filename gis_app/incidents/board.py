"""The board of the control room: open and overdue incidents per district of the oblast, and the
municipalities of a dispatcher's charge ranked by their open incidents (where the day starts)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.incidents.deadlines import OPEN_STATUSES, OVERDUE_SQL

# text(): a recursive walk from each district of the oblast down to its settlements, then the
# open incidents of each tree counted once; the label point lies inside the district.
_BY_DISTRICT_SQL = text(
    f"""
    WITH RECURSIVE tree AS (
        SELECT d.id AS district, d.id FROM municipalities d
        JOIN municipalities o ON o.id = d.parent_id WHERE o.parent_id IS NULL
        UNION ALL
        SELECT tree.district, c.id FROM municipalities c JOIN tree ON c.parent_id = tree.id
    )
    SELECT d.slug, d.name_ru, d.name_en, ST_X(ST_PointOnSurface(d.geom)) AS lon,
           ST_Y(ST_PointOnSurface(d.geom)) AS lat,
           count(i.id) AS open,
           count(i.id) FILTER (WHERE {OVERDUE_SQL}) AS overdue
    FROM municipalities d
    JOIN (SELECT DISTINCT district FROM tree) t ON t.district = d.id
    LEFT JOIN tree ON tree.district = d.id
    LEFT JOIN incidents i ON i.municipality_id = tree.id AND i.status IN {OPEN_STATUSES!r}
    GROUP BY d.id ORDER BY d.name_ru
    """
)

_CHARGE_SQL = text(
    f"""
    WITH RECURSIVE charge AS (
        SELECT m.id FROM municipalities m
        JOIN user_municipalities um ON um.municipality_id = m.id WHERE um.user_id = :user
        UNION SELECT c.id FROM municipalities c JOIN charge ON c.parent_id = charge.id
    )
    SELECT m.slug, m.name_ru, m.name_en, count(i.id) AS open,
           count(i.id) FILTER (WHERE {OVERDUE_SQL}) AS overdue
    FROM charge JOIN municipalities m ON m.id = charge.id
    LEFT JOIN incidents i ON i.municipality_id = m.id AND i.status IN {OPEN_STATUSES!r}
    GROUP BY m.id ORDER BY count(i.id) DESC, ST_Area(m.geom) DESC, m.id
    """
)


def open_by_district(session: Session) -> list[dict]:
    """Each district of the oblast (the children of the root) with its open and overdue
    incidents, its settlements included, and a label point (lon/lat, EPSG:4326) inside it."""
    return [dict(r) for r in session.execute(_BY_DISTRICT_SQL).mappings()]


def charge_by_open(session: Session, user_id: int) -> list[dict]:
    """The municipalities of a dispatcher's charge (theirs and everything inside), each with the
    open and overdue incidents placed in it, most open first: the first is where to start."""
    return [dict(r) for r in session.execute(_CHARGE_SQL, {"user": user_id}).mappings()]

"""Duplicates: a report near an open incident of the same utility, or on its feature, joins it.

As outage management systems roll many calls up to one outage, without topology we group by
distance and time (docs/domain.md, "Many calls, one outage"): the nearest open incident wins, then the oldest.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.geometry import degrees_for
from gis_app.incidents.deadlines import OPEN_STATUSES

# text(): the bbox (&&) lets the incidents' GiST index pre-select; geography decides in metres.
_SQL = text(
    f"""
    WITH p AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS g)
    SELECT i.id, ST_Distance(i.geom::geography, p.g::geography) AS distance_m,
           (i.feature_id IS NOT NULL AND i.feature_id = :feature_id) AS same_feature
    FROM incidents i, p
    WHERE i.utility_code = :utility AND i.status IN {OPEN_STATUSES!r} AND i.duplicate_of IS NULL
      AND i.reported_at > now() - make_interval(hours => :hours)
      AND ((i.geom && ST_Expand(p.g, :dlon, :dlat)
            AND ST_DWithin(i.geom::geography, p.g::geography, :distance))
           OR (i.feature_id IS NOT NULL AND i.feature_id = :feature_id))
    ORDER BY same_feature DESC, distance_m, i.reported_at, i.id
    LIMIT 5
    """
)


def find_duplicates(
    session: Session,
    utility: str,
    lon: float,
    lat: float,
    feature_id: int | None,
    distance_m: float,
    hours: int,
) -> list[dict]:
    """Up to 5 open incidents this report may repeat, best first: same feature, nearer, older.

    `distance_m` 0 disables the search.
    """
    if distance_m <= 0 or hours <= 0:
        return []
    dlon, dlat = degrees_for(distance_m, lat)
    rows = session.execute(
        _SQL,
        {
            "lon": lon,
            "lat": lat,
            "utility": utility,
            "feature_id": feature_id,
            "hours": hours,
            "distance": distance_m,
            "dlon": dlon,
            "dlat": dlat,
        },
    ).mappings()
    return [
        {"id": r["id"], "distance_m": round(r["distance_m"], 1), "same_feature": r["same_feature"]}
        for r in rows
    ]

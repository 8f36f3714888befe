"""The chain of units at a point, from the most specific up to the oblast, and the rule that
decided each link: the unit covers the point; or, where boundaries overlap, the parent of the
unit below or else the smallest (m²); or, in a sliver or gap, the nearest within a tolerance in
metres; else none at that level. The one "municipality at a point" of the service."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.orm import Session

# One tolerance for every caller (the API, incidents, the responsible search), so they agree:
# a point in a sliver or gap between boundaries goes to a unit this near (metres), and says so.
DEFAULT_TOLERANCE_M = 200.0
# 0 the oblast, 1 its districts and okrugs, 2 the settlements inside a district.
LEVEL = {
    "oblast": 0,
    "municipal_district": 1,
    "municipal_okrug": 1,
    "urban_okrug": 1,
    "urban_settlement": 2,
    "rural_settlement": 2,
}
_POINT = "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)"
_COLUMNS = "m.id, m.slug, m.name_ru, m.name_en, m.kind, m.oktmo, m.parent_id"


@dataclass
class UnitsAt:
    """The units at a point, most specific first, each with its rule; why none, if none."""

    lon: float
    lat: float
    units: list[dict] = field(default_factory=list)
    nearest: dict | None = None  # when outside every unit: the nearest one and its distance

    @property
    def most_specific_id(self) -> int | None:
        """The id of the first unit of the chain (a settlement before its district), or None."""
        return self.units[0]["id"] if self.units else None

    def to_json(self) -> dict:
        """The answer of GET /api/municipalities/at."""
        rule = self.units[0]["rule"] if self.units else "outside"
        return {"lon": self.lon, "lat": self.lat, "rule": rule, "units": self.units,
                "nearest": self.nearest}  # fmt: skip


# text(): the GiST index on geom answers && and ST_Covers; one statement, no geography. Public
# for the benchmarks, which time the statements alone.
COVERING_SQL = text(
    f"SELECT {_COLUMNS} FROM municipalities m WHERE m.retired_at IS NULL"
    f" AND ST_Covers(m.geom, {_POINT})"
)


def _covering(session: Session, lon: float, lat: float) -> list[dict]:
    rows = session.execute(COVERING_SQL, {"lon": lon, "lat": lat}).mappings()
    return [dict(r) for r in rows]


def _near(
    session: Session, lon: float, lat: float, kinds: list[str], tolerance_m: float
) -> list[dict]:
    """Units of `kinds` within `tolerance_m` metres (geography), nearest first."""
    # A box in degrees around the point, a little larger than the tolerance, lets the index
    # prefilter; the distance itself is measured on the spheroid (geography), in metres.
    dy = tolerance_m / 110_574.0 * 1.1
    dx = tolerance_m / (111_320.0 * max(math.cos(math.radians(lat)), 0.01)) * 1.1
    rows = session.execute(
        text(
            f"SELECT {_COLUMNS}, ST_Distance(m.geom::geography, {_POINT}::geography) AS distance_m"
            f" FROM municipalities m WHERE m.retired_at IS NULL AND m.kind = ANY(:kinds)"
            f" AND m.geom && ST_Expand({_POINT}, :dx, :dy)"
            f" AND ST_DWithin(m.geom::geography, {_POINT}::geography, :tol)"
            " ORDER BY distance_m, m.id"
        ),
        {"lon": lon, "lat": lat, "kinds": kinds, "tol": tolerance_m, "dx": dx, "dy": dy},
    ).mappings()
    return [dict(r) for r in rows]


def _smallest(session: Session, ids: list[int]) -> list[int]:
    rows = session.execute(
        text(
            "SELECT id FROM municipalities WHERE id = ANY(:ids)"
            " ORDER BY ST_Area(geom::geography), id"
        ),
        {"ids": ids},
    ).scalars()
    return list(rows)


def _nearest_any(session: Session, lon: float, lat: float) -> dict | None:
    row = (
        session.execute(
            text(
                f"SELECT {_COLUMNS}, ST_Distance(m.geom::geography, {_POINT}::geography) AS distance_m"
                f" FROM municipalities m WHERE m.retired_at IS NULL"
                f" ORDER BY m.geom <-> {_POINT} LIMIT 1"
            ),
            {"lon": lon, "lat": lat},
        )
        .mappings()
        .first()
    )
    return _public(dict(row)) | {"distance_m": round(row["distance_m"], 1)} if row else None


def _public(unit: dict) -> dict:
    return {k: unit[k] for k in ("id", "slug", "name_ru", "name_en", "kind", "oktmo")}


def units_at(
    session: Session, lon: float, lat: float, tolerance_m: float = DEFAULT_TOLERANCE_M
) -> UnitsAt:
    """The chain of active units at (lon, lat) (EPSG:4326), most specific first, with rules."""
    answer = UnitsAt(lon, lat)
    covering = _covering(session, lon, lat)
    by_level: dict[int, list[dict]] = {0: [], 1: [], 2: []}
    for unit in covering:
        by_level[LEVEL[unit["kind"]]].append(unit)
    # One distance query for every level no unit covers (a sliver, a gap, or no such units).
    missing = [k for k, v in LEVEL.items() if not by_level[v]]
    near_by_level: dict[int, list[dict]] = {0: [], 1: [], 2: []}
    if missing and tolerance_m > 0:
        for unit in _near(session, lon, lat, missing, tolerance_m):
            near_by_level[LEVEL[unit["kind"]]].append(unit)
    below: dict | None = None
    for level in (2, 1, 0):
        found = by_level[level]
        if len(found) == 1:
            chosen, rule, why = found[0], "covers", "the unit covers the point"
        elif len(found) > 1:
            parent = [u for u in found if below and u["id"] == below["parent_id"]]
            others = ", ".join(u["name_ru"] for u in found)
            if parent:
                chosen, rule = parent[0], "overlap_parent"
                why = f"units overlap here ({others}); the parent of {below['name_ru']} wins"
            else:
                first = _smallest(session, [u["id"] for u in found])[0]
                chosen = next(u for u in found if u["id"] == first)
                rule, why = "overlap_smallest", f"units overlap here ({others}); the smallest wins"
        else:
            near = near_by_level[level]
            if not near:
                continue
            chosen, rule = near[0], "nearest_within"
            why = (
                f"no unit covers the point; {chosen['name_ru']} is the nearest, "
                f"{chosen['distance_m']:.0f} m away (tolerance {tolerance_m:.0f} m)"
            )
        entry = _public(chosen) | {"level": level, "rule": rule, "reason": why}
        if rule == "nearest_within":
            entry["distance_m"] = round(chosen["distance_m"], 1)
        answer.units.append(entry)
        below = chosen
    if not answer.units:
        answer.nearest = _nearest_any(session, lon, lat)
    return answer


def municipality_at(
    session: Session, lon: float, lat: float, tolerance_m: float = DEFAULT_TOLERANCE_M
) -> int | None:
    """The id of the most specific unit at the point (a settlement before its district), or None."""
    return units_at(session, lon, lat, tolerance_m).most_specific_id

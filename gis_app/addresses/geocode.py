"""Geocoding of a free-text address (Open311's address_string) by the same search as the map."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.addresses.normalize import checked_query
from gis_app.addresses.search import search

CANDIDATES_KEPT = 5


@dataclass(frozen=True)
class Geocoded:
    """Where an address was placed (lon, lat EPSG:4326), how sure, and the candidates weighed."""

    lon: float
    lat: float
    label: str
    score: float
    confident: bool
    candidates: list[dict] = field(default_factory=list)


def _point_of(session: Session, geometry: dict) -> tuple[float, float]:
    """A point on a candidate's geometry (the house itself, or a point on the street)."""
    if geometry["type"] == "Point":
        lon, lat = geometry["coordinates"][:2]
        return float(lon), float(lat)
    row = session.execute(
        text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface("
            "ST_SetSRID(ST_GeomFromGeoJSON(:g), 4326)) AS p) s"
        ),
        {"g": json.dumps(geometry)},
    ).one()
    return float(row[0]), float(row[1])


def geocode(session: Session, address: str) -> Geocoded | None:
    """Place `address` at its best candidate; None when nothing matches.

    Confident only when the best is a house that stands clearly above the others; otherwise the
    point is the best guess and a dispatcher should check it against `candidates`.
    """
    found = search(session, checked_query(address, "address_string"), limit=CANDIDATES_KEPT)
    if not found["features"]:
        return None
    candidates = []
    for feature in found["features"]:
        lon, lat = _point_of(session, feature["geometry"])
        props = feature["properties"]
        candidates.append(
            {
                "label": props["label"],
                "kind": props["kind"],
                "score": props["score"],
                "lon": round(lon, 6),
                "lat": round(lat, 6),
            }
        )
    best = candidates[0]
    return Geocoded(
        lon=best["lon"],
        lat=best["lat"],
        label=best["label"],
        score=best["score"],
        confident=found["confident"] and best["kind"] != "street",
        candidates=candidates,
    )

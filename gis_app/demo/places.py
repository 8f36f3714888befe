"""The demo municipalities: real locations, approximate hand-drawn outlines (not survey data).

Coordinates are lon/lat (EPSG:4326). OKTMO codes are the real codes of these municipalities.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from shapely import Polygon, make_valid
from shapely.geometry import MultiPolygon

# A coarse outline of Leningrad Oblast drawn by hand (about 10 km accuracy), with the core of
# Saint Petersburg, a federal city of its own, cut out. The cut errs on the city's side: the
# oblast towns at its edge (Murino, Bugry, Kudrovo, Yanino, Sertolovo) and the land north of
# Gatchina up to Taitsy are oblast land; Svetogorsk on the Finnish border is inside. Most of the
# Gulf of Finland's water and its islands are left out.
OBLAST_OUTLINE = [
    (27.75, 58.95),
    (27.95, 59.45),
    (28.15, 59.78),
    (28.60, 60.00),
    (28.55, 60.25),
    (27.85, 60.55),
    (28.60, 60.98),
    (28.85, 61.16),
    (29.40, 61.25),
    (30.20, 61.30),
    (31.00, 61.10),
    (32.80, 61.20),
    (33.60, 61.30),
    (34.90, 61.32),
    (35.70, 61.30),
    (35.72, 60.90),
    (35.60, 60.20),
    (35.65, 59.90),
    (35.50, 59.40),
    (34.80, 59.10),
    (33.90, 59.05),
    (32.50, 58.80),
    (31.50, 58.50),
    (30.20, 58.42),
    (29.30, 58.55),
    (28.50, 58.80),
    (27.75, 58.95),
]
SAINT_PETERSBURG = [
    (29.70, 60.00),
    (29.95, 59.87),
    (30.10, 59.80),
    (30.30, 59.78),
    (30.45, 59.83),
    (30.45, 59.95),
    (30.40, 60.02),
    (30.25, 60.03),
    (29.95, 60.03),
    (29.70, 60.00),
]

M_PER_DEG_LAT = 110_574.0


def m_per_deg_lon(lat: float) -> float:
    """Metres in one degree of longitude at latitude `lat` (spherical approximation)."""
    return 111_320.0 * math.cos(math.radians(lat))


@dataclass(frozen=True)
class Place:
    """A demo municipality: where it is and how big, and where it sits in the hierarchy."""

    slug: str
    kind: str
    name_ru: str
    name_en: str
    oktmo: str
    parent: str | None
    lon: float
    lat: float
    radius_x_m: float
    radius_y_m: float
    seed: int
    phone_code: str = ""
    grid_angle_deg: float = 0.0
    built_up_scale: float = 0.92  # share of the outline that is built up (streets and networks)


OBLAST = Place(
    "leningrad-oblast",
    "oblast",
    "Ленинградская область",
    "Leningrad Oblast",
    "41000000",
    None,
    31.5,
    59.9,
    0,
    0,
    1,
)

DISTRICTS = [
    Place(
        "gatchinsky",
        "municipal_okrug",
        "Гатчинский муниципальный округ",
        "Gatchinsky Municipal Okrug",
        "41618000",
        OBLAST.slug,
        30.05,
        59.38,
        52_000,
        30_000,
        11,
    ),
    Place(
        "sosnovy-bor",
        "urban_okrug",
        "Сосновоборский городской округ",
        "Sosnovoborsky Urban Okrug",
        "41754000",
        OBLAST.slug,
        29.10,
        59.88,
        7_000,
        4_200,
        12,
        phone_code="81369",
        grid_angle_deg=-20,
        built_up_scale=0.42,
    ),
    Place(
        "kirishsky",
        "municipal_district",
        "Киришский муниципальный район",
        "Kirishsky Municipal District",
        "41627000",
        OBLAST.slug,
        32.20,
        59.35,
        38_000,
        30_000,
        13,
    ),
    Place(
        "vyborgsky",
        "municipal_district",
        "Выборгский муниципальный район",
        "Vyborgsky Municipal District",
        "41615000",
        OBLAST.slug,
        29.05,
        60.62,
        60_000,
        35_000,
        14,
    ),
]

TOWNS = [
    Place(
        "gatchina",
        "urban_settlement",
        "Гатчина",
        "Gatchina",
        "41618101",
        "gatchinsky",
        30.128,
        59.565,
        3_600,
        3_000,
        21,
        phone_code="81371",
        grid_angle_deg=12,
    ),
    Place(
        "kirishi",
        "urban_settlement",
        "Кириши",
        "Kirishi",
        "41627101",
        "kirishsky",
        32.020,
        59.450,
        3_000,
        2_400,
        23,
        phone_code="81368",
        grid_angle_deg=-35,
    ),
    Place(
        "vyborg",
        "urban_settlement",
        "Выборг",
        "Vyborg",
        "41615101",
        "vyborgsky",
        28.750,
        60.710,
        3_400,
        2_800,
        24,
        phone_code="81378",
        grid_angle_deg=25,
    ),
]

# The towns whose networks are generated; Sosnovy Bor is an okrug that is itself the town.
NETWORK_TOWNS = [TOWNS[0], DISTRICTS[1], TOWNS[1], TOWNS[2]]


def blob(place: Place, vertices: int = 36) -> Polygon:
    """An irregular, deterministic outline around the place's centre with its two radii."""
    rng = random.Random(place.seed)
    phases = [rng.uniform(0, 2 * math.pi) for _ in range(3)]
    points = []
    for i in range(vertices):
        theta = 2 * math.pi * i / vertices
        wobble = 1 + 0.10 * math.sin(2 * theta + phases[0]) + 0.06 * math.sin(3 * theta + phases[1])
        wobble += 0.03 * math.sin(5 * theta + phases[2]) + rng.uniform(-0.02, 0.02)
        dx = place.radius_x_m * wobble * math.cos(theta)
        dy = place.radius_y_m * wobble * math.sin(theta)
        points.append((place.lon + dx / m_per_deg_lon(place.lat), place.lat + dy / M_PER_DEG_LAT))
    return Polygon(points)


def _multi(geom) -> MultiPolygon:
    geom = make_valid(geom)
    if isinstance(geom, MultiPolygon):
        return geom
    if isinstance(geom, Polygon):
        return MultiPolygon([geom])
    return MultiPolygon([g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon)])


def outlines() -> dict[str, MultiPolygon]:
    """Slug → outline of every demo municipality; children are clipped to their parents."""
    oblast = Polygon(OBLAST_OUTLINE).difference(Polygon(SAINT_PETERSBURG))
    result = {OBLAST.slug: _multi(oblast)}
    for place in DISTRICTS:
        result[place.slug] = _multi(blob(place).intersection(oblast))
    for place in TOWNS:
        result[place.slug] = _multi(blob(place).intersection(result[place.parent]))
    return result


def built_up_area(place: Place, outline: MultiPolygon) -> Polygon:
    """The part of a town's outline where the demo streets and networks are drawn."""
    from shapely import affinity

    return affinity.scale(
        outline, place.built_up_scale, place.built_up_scale, origin=(place.lon, place.lat)
    )


def all_places() -> list[Place]:
    """Every demo municipality, parents before children."""
    return [OBLAST, *DISTRICTS, *TOWNS]

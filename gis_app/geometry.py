"""Geometry helpers every floor uses: the lon/lat box, the envelope SQL, metres per degree.

Coordinates are EPSG:4326 (lon, lat); distances are metres, with the unit in the name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Six decimals of a degree are about 0.1 m: finer than any utility survey we receive.
COORD_DECIMALS = 6
# Metres per degree of latitude; longitude degrees shrink with cos(latitude). Used to turn a
# search distance in metres into a bbox that the GiST index can pre-select with (&&).
M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON_EQUATOR = 111_320.0


@dataclass(frozen=True)
class BBox:
    """A lon/lat box in EPSG:4326: west, south, east, north (degrees)."""

    minx: float
    miny: float
    maxx: float
    maxy: float

    def params(self) -> dict:
        """The bind parameters of the ENVELOPE SQL fragment."""
        return {"minx": self.minx, "miny": self.miny, "maxx": self.maxx, "maxy": self.maxy}


ENVELOPE = "ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326)"


def metres_per_degree(lat: float) -> tuple[float, float]:
    """(metres per degree of longitude, of latitude) around latitude `lat`."""
    return M_PER_DEG_LON_EQUATOR * max(math.cos(math.radians(lat)), 0.01), M_PER_DEG_LAT


def degrees_for(distance_m: float, lat: float) -> tuple[float, float]:
    """(Δlon, Δlat) in degrees that hold `distance_m` metres around latitude `lat`, with 1 %
    slack: the box only pre-selects; a geography ST_DWithin then decides in metres."""
    m_lon, m_lat = metres_per_degree(lat)
    return distance_m * 1.01 / m_lon, distance_m * 1.01 / m_lat

"""Small hand-made networks for the topology and trace tests: features placed in metres from an
origin far from the demo towns, linked by the incremental upkeep (as an edit would)."""

from __future__ import annotations

import json
import math

from sqlalchemy import text

from gis_app import config
from gis_app.layers import LayerRegistry
from gis_app.network import topology

REGISTRY = LayerRegistry.from_dir(config.PROJECT_ROOT / "layers")


class Net:
    """A hand-made network: add lines and points in metres east/north of `origin`, then link."""

    def __init__(self, session, origin: tuple[float, float] = (33.4, 60.9)) -> None:
        self.session, self.origin = session, origin
        self.operator = session.execute(text("SELECT min(id) FROM operators")).scalar_one()
        self.pending: dict[str, list[int]] = {}
        self.n = 0

    def lonlat(self, east_m: float, north_m: float) -> tuple[float, float]:
        """Metres from the origin → lon/lat (EPSG:4326)."""
        lon0, lat0 = self.origin
        kx = 111_320.0 * math.cos(math.radians(lat0))
        return (lon0 + east_m / kx, lat0 + north_m / 111_320.0)

    def _add(self, layer_id: str, wkt: str, attributes: dict, name: str | None) -> int:
        layer = REGISTRY.get(layer_id)
        self.n += 1
        fid = self.session.execute(
            text(
                "INSERT INTO network_features (layer_id, utility_code, operator_id, external_id,"
                " name, attributes, geom) VALUES (:l, :u, :o, :e, :n, CAST(:a AS jsonb),"
                " ST_GeomFromText(:g, 4326)) RETURNING id"
            ),
            {
                "l": layer_id,
                "u": layer.utility,
                "o": self.operator,
                "e": f"test-{self.origin}-{self.n}",
                "n": name,
                "a": json.dumps(attributes),
                "g": wkt,
            },
        ).scalar_one()
        self.pending.setdefault(layer_id, []).append(fid)
        return fid

    def line(self, layer_id: str, *points_m: tuple[float, float], **attributes) -> int:
        """A line through points given in metres."""
        coords = ", ".join("%.9f %.9f" % self.lonlat(*p) for p in points_m)
        return self._add(layer_id, f"LINESTRING({coords})", attributes, None)

    def wkt(self, layer_id: str, wkt: str, name=None, **attributes) -> int:
        """A feature at a WKT geometry in lon/lat (EPSG:4326), e.g. from a real dataset."""
        return self._add(layer_id, wkt, attributes, name)

    def point(self, layer_id: str, at_m: tuple[float, float], name=None, **attributes) -> int:
        """A point at metres east/north."""
        return self._add(layer_id, "POINT(%.9f %.9f)" % self.lonlat(*at_m), attributes, name)

    def valve(self, at_m, state="open", operable=True, name=None) -> int:
        """A water gate valve."""
        return self.point(
            "water_valves", at_m, name, kind="gate_valve", state=state, operable=operable
        )

    def consumer(self, at_m, people: int, kind: str = "residential", name=None) -> int:
        """A consumer building."""
        return self.point("consumers", at_m, name, kind=kind, consumers=people)

    def link(self) -> None:
        """Link what was added, lines before points, consumers last (the edit path)."""
        order = sorted(
            self.pending,
            key=lambda lid: (
                REGISTRY.get(lid).supply_distance_m is not None,
                REGISTRY.get(lid).geometry != "LINESTRING",
            ),
        )
        for layer_id in order:
            topology.upkeep(self.session, REGISTRY, REGISTRY.get(layer_id), self.pending[layer_id])
        self.pending.clear()

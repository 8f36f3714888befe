"""Plausible utility networks of a demo town, generated from a street grid.

The streets are a jittered grid clipped to the town's built-up area. Each utility network is a
tree over the street graph grown from its sources (a boiler house, a regulator station, a pumping
station, a substation); pipe diameters and line voltages follow how much of the tree lies
downstream, as on a real network. Each utility runs at its own offset from the street axis.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field

from shapely import LineString, Point
from shapely.geometry.base import BaseGeometry
from shapely.prepared import prep

from gis_app.demo.places import M_PER_DEG_LAT, Place, m_per_deg_lon

STREETS = [
    "ул. Ленина",
    "ул. Гагарина",
    "ул. Мира",
    "ул. Садовая",
    "ул. Лесная",
    "ул. Советская",
    "ул. Школьная",
    "ул. Строителей",
    "ул. Парковая",
    "ул. Заводская",
    "ул. Молодёжная",
    "ул. Пушкина",
    "ул. Чехова",
    "ул. Лермонтова",
    "ул. Комсомольская",
    "ул. Набережная",
    "ул. Полевая",
    "ул. Зелёная",
    "ул. Солнечная",
    "ул. Северная",
    "ул. Южная",
    "ул. Речная",
]
AVENUES = [
    "пр. 25 Октября",
    "пр. Победы",
    "пр. Героев",
    "Красноармейский пр.",
    "пр. Культуры",
    "Ленинградское ш.",
    "пр. Мира",
    "Киевское ш.",
    "Приморское ш.",
    "пр. Энергетиков",
    "пр. Труда",
    "Волховское ш.",
    "пр. Химиков",
    "Московский пр.",
    "пр. Металлистов",
]


@dataclass
class Feature:
    """One generated network feature, ready to load."""

    layer: str
    utility: str
    operator: str  # operator slug
    external_id: str
    name: str | None
    attributes: dict
    geom: BaseGeometry


@dataclass
class StreetGraph:
    """Street junctions (lon/lat) and the street segments between them."""

    nodes: dict[tuple[int, int], tuple[float, float]]
    edges: list[tuple[tuple[int, int], tuple[int, int]]]
    neighbours: dict[tuple[int, int], list[tuple[int, int]]] = field(default_factory=dict)


class Frame:
    """A local metric frame (metres east and north of the town centre), rotated by the grid angle."""

    def __init__(self, place: Place) -> None:
        self.lon0, self.lat0 = place.lon, place.lat
        self.kx, self.ky = m_per_deg_lon(place.lat), M_PER_DEG_LAT
        self.cos = math.cos(math.radians(place.grid_angle_deg))
        self.sin = math.sin(math.radians(place.grid_angle_deg))

    def to_lonlat(self, u: float, v: float) -> tuple[float, float]:
        """Grid coordinates (metres) → lon/lat degrees."""
        x = u * self.cos - v * self.sin
        y = u * self.sin + v * self.cos
        return (round(self.lon0 + x / self.kx, 7), round(self.lat0 + y / self.ky, 7))

    def offset(self, a: tuple[float, float], b: tuple[float, float], metres: float) -> LineString:
        """The segment a→b moved `metres` to its left (negative: right)."""
        ax, ay = (a[0] - self.lon0) * self.kx, (a[1] - self.lat0) * self.ky
        bx, by = (b[0] - self.lon0) * self.kx, (b[1] - self.lat0) * self.ky
        length = math.hypot(bx - ax, by - ay) or 1.0
        nx, ny = -(by - ay) / length * metres, (bx - ax) / length * metres
        return LineString(
            [
                (
                    round(self.lon0 + (ax + nx) / self.kx, 7),
                    round(self.lat0 + (ay + ny) / self.ky, 7),
                ),
                (
                    round(self.lon0 + (bx + nx) / self.kx, 7),
                    round(self.lat0 + (by + ny) / self.ky, 7),
                ),
            ]
        )

    def along(self, point: tuple[float, float], du_m: float, dv_m: float) -> tuple[float, float]:
        """A point moved by metres along the grid's axes (rotated with the grid), lon/lat."""
        x = du_m * self.cos - dv_m * self.sin
        y = du_m * self.sin + dv_m * self.cos
        return (round(point[0] + x / self.kx, 7), round(point[1] + y / self.ky, 7))

    def shift(self, point: tuple[float, float], east_m: float, north_m: float) -> Point:
        """A point moved by metres east and north."""
        return Point(round(point[0] + east_m / self.kx, 7), round(point[1] + north_m / self.ky, 7))


def street_graph(
    place: Place, area: BaseGeometry, frame: Frame, spacing_m: float = 230
) -> StreetGraph:
    """A jittered street grid inside `area`, kept to its largest connected piece."""
    rng = random.Random(place.seed * 7919)
    inside = prep(area)
    reach = int(max(place.radius_x_m, place.radius_y_m) * 1.3 / spacing_m) + 1
    nodes = {}
    for i in range(-reach, reach + 1):
        for j in range(-reach, reach + 1):
            u = i * spacing_m + rng.uniform(-35, 35)
            v = j * spacing_m + rng.uniform(-35, 35)
            lonlat = frame.to_lonlat(u, v)
            if inside.contains(Point(lonlat)):
                nodes[(i, j)] = lonlat
    neighbours: dict = {key: [] for key in nodes}
    for i, j in nodes:
        for other in ((i + 1, j), (i, j + 1)):
            if other in nodes and rng.random() > 0.04:  # a few blocks are merged: no street
                neighbours[(i, j)].append(other)
                neighbours[other].append((i, j))
    # Keep the largest connected component, so every network can reach every junction.
    seen, best = set(), set()
    for start in sorted(nodes):
        if start in seen:
            continue
        component, queue = {start}, deque([start])
        while queue:
            for nxt in neighbours[queue.popleft()]:
                if nxt not in component:
                    component.add(nxt)
                    queue.append(nxt)
        seen |= component
        if len(component) > len(best):
            best = component
    nodes = {k: v for k, v in nodes.items() if k in best}
    neighbours = {k: sorted(n for n in v if n in best) for k, v in neighbours.items() if k in best}
    edges = sorted({tuple(sorted((a, b))) for a, ns in neighbours.items() for b in ns})
    return StreetGraph(nodes, edges, neighbours)


def grow_tree(graph: StreetGraph, sources: list[tuple[int, int]], coverage=None):
    """Breadth-first trees from the sources over the streets: parent links, source of each node,
    and the number of junctions downstream of each node (its own included)."""
    parent: dict = {s: None for s in sources}
    owner = {s: s for s in sources}
    order, queue = list(sources), deque(sources)
    while queue:
        node = queue.popleft()
        for nxt in graph.neighbours[node]:
            if nxt not in parent and (coverage is None or coverage(nxt)):
                parent[nxt], owner[nxt] = node, owner[node]
                order.append(nxt)
                queue.append(nxt)
    downstream = {node: 1 for node in order}
    for node in reversed(order):
        if parent[node] is not None:
            downstream[parent[node]] += downstream[node]
    return parent, owner, downstream


def pick_nodes(
    graph: StreetGraph, rng: random.Random, count: int, where=None
) -> list[tuple[int, int]]:
    """`count` distinct junctions, deterministic for the rng; optionally only where(node)."""
    candidates = [n for n in sorted(graph.nodes) if where is None or where(n)]
    return rng.sample(candidates, min(count, len(candidates)))


def by_size(downstream: int, table: list[tuple[int, object]]):
    """The first value whose threshold the downstream count reaches (table sorted descending)."""
    for threshold, value in table:
        if downstream >= threshold:
            return value
    return table[-1][1]

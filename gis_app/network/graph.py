"""The topology of one utility as a graph read lazily from network_links: the links at a set of
nodes are fetched in one query per breadth-first level (or all at once around a point), so a
trace reads the part of a million-feature network it walks, not the whole of it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

# Reading around the walk stops growing here; beyond, one query per breadth-first level (a
# circle of 8 km on a dense grid would read a hundred thousand links the walk never needs).
MAX_PREFETCH_M = 4000.0
LINK_COLUMNS = "l.feature_id, l.role, l.node_a, l.node_b, l.closed, l.operable, l.length_m, l.part"


@dataclass(frozen=True)
class Link:
    """A feature in the topology: a line (or one part of a line) between nodes a and b, or a
    point at node a. `id` is the feature's; a line others meet in its middle has one Link per
    part (failing the feature removes them all). `inner`: for a trace's start only, the nodes
    between the line's parts."""

    id: int
    role: str
    a: int
    b: int | None
    closed: bool
    operable: bool
    length_m: float
    part: int = 0
    inner: tuple[int, ...] = ()

    def nodes(self) -> set[int]:
        """Every node of the feature: its ends (or point) and the nodes between its parts."""
        return {n for n in (self.a, self.b, *self.inner) if n is not None}

    def other(self, node: int) -> int | None:
        """The line's other end from `node` (None for a point)."""
        if self.b is None:
            return None
        return self.b if node == self.a else self.a


class Graph:
    """The links of one utility, fetched on demand and kept for the request."""

    def __init__(self, session: Session, utility: str) -> None:
        self.session, self.utility = session, utility
        self.at: dict[int, list[Link]] = {}
        self.links: dict[tuple[int, int], Link] = {}
        self.queries = 0
        self.radius_m = 0.0  # the last fetch_around radius; 0: level by level only

    def fetch(self, nodes) -> None:
        """Load the links at those of `nodes` not loaded yet: around one of them, twice as far
        as the last time (after fetch_around), then whatever is still missing (one query)."""
        missing = [n for n in nodes if n not in self.at]
        if not missing:
            return
        if 0 < self.radius_m < MAX_PREFETCH_M:
            self.radius_m *= 2
            self.fetch_around(missing[0], self.radius_m)
            missing = [n for n in missing if n not in self.at]
            if not missing:
                return
        self.queries += 1
        rows = self.session.execute(
            text(
                f"SELECT {LINK_COLUMNS} FROM network_links l WHERE l.node_a = ANY(:n)"
                f" UNION ALL SELECT {LINK_COLUMNS} FROM network_links l"
                " WHERE l.node_b = ANY(:n) AND l.node_a <> ALL(:n)"
            ),
            {"n": missing},
        ).all()
        for node in missing:
            self.at[node] = []
        seen = set()
        for row in rows:
            link = self.links.get((row[0], row[7])) or Link(*row)
            self.links[link.id, link.part] = link
            for node in (link.a, link.b):
                if node in missing and (node, link.id, link.part) not in seen:
                    seen.add((node, link.id, link.part))
                    self.at[node].append(link)

    def fetch_around(self, node: int, radius_m: float) -> None:
        """Load every link at the nodes within `radius_m` of `node` in one query (a town's
        network at once, instead of a query per level)."""
        self.queries += 1
        self.radius_m = radius_m
        rows = self.session.execute(
            text(
                "WITH c AS (SELECT geom FROM network_nodes WHERE id = :id),"
                " n AS (SELECT x.id FROM network_nodes x, c WHERE x.utility_code = :u"
                "  AND x.geom && ST_Expand(c.geom, :deg / cos(radians(ST_Y(c.geom))), :deg))"
                f" SELECT {LINK_COLUMNS}, NULL::bigint FROM network_links l"
                "  WHERE l.node_a IN (SELECT id FROM n)"
                f" UNION ALL SELECT {LINK_COLUMNS}, NULL FROM network_links l"
                "  WHERE l.node_b IN (SELECT id FROM n)"
                " UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, n.id FROM n"
            ),
            # Degrees of latitude; a longitude degree is shorter by cos(latitude).
            {"id": node, "u": self.utility, "deg": radius_m / 111_320.0},
        ).all()
        inside = [r[8] for r in rows if r[8] is not None]
        fresh = [n for n in inside if n not in self.at]
        for n in fresh:
            self.at[n] = []
        fresh_set = set(fresh)
        seen = set()
        for row in rows:
            if row[0] is None:
                continue
            link = self.links.get((row[0], row[7])) or Link(*row[:8])
            self.links[link.id, link.part] = link
            for n in (link.a, link.b):
                if n in fresh_set and (n, link.id, link.part) not in seen:
                    seen.add((n, link.id, link.part))
                    self.at[n].append(link)

    def links_at(self, node: int) -> list[Link]:
        """The links at a node (fetched before)."""
        return self.at[node]

    def is_source(self, node: int, removed: set[int]) -> bool:
        """Whether a source that is not removed stands at `node`."""
        return any(k.role == "source" and k.id not in removed for k in self.at[node])

    def devices(self, node: int) -> list[Link]:
        """The switching devices at a node."""
        return [k for k in self.at[node] if k.role == "device"]

    def is_closed(self, node: int) -> bool:
        """Whether a closed device stands at `node`: nothing passes through it."""
        return any(k.role == "device" and k.closed for k in self.at[node])


def reach(
    graph: Graph,
    starts: set[int],
    blocked: set[int],
    removed: set[int],
    until_source: bool = False,
) -> tuple[set[int], bool]:
    """The nodes reached from `starts` along lines, not entering `blocked` nodes nor using
    `removed` links (feature ids, or (feature id, part) for one part of a line), not passing
    closed devices; with until_source, stop at the first source
    (the second value says whether one was found)."""
    frontier = {n for n in starts if n not in blocked}
    seen = set(frontier)
    while frontier:
        graph.fetch(frontier)
        nxt: set[int] = set()
        for node in frontier:
            if until_source and graph.is_source(node, removed):
                return seen, True
            if graph.is_closed(node):
                continue
            for link in graph.links_at(node):
                other = link.other(node)
                if other is None or other in seen or other in blocked:
                    continue
                if link.id in removed or (link.id, link.part) in removed:
                    continue
                nxt.add(other)
        seen |= nxt
        frontier = nxt
    return seen, False


def classify(
    graph: Graph, sides: set[int], blocked: set[int], removed: set[int]
) -> tuple[set[int], set[int]]:
    """Split the nodes reachable from `sides` into fed (a source reachable) and cut off."""
    fed: set[int] = set()
    cut: set[int] = set()
    for side in sorted(sides):
        if side in fed or side in cut or side in blocked:
            continue
        nodes, found = reach(graph, {side}, blocked, removed, until_source=True)
        (fed if found else cut).update(nodes)
    return fed, cut

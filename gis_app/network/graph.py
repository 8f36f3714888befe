"""The topology of one utility as a graph read from network_links: the part a trace walks is read
in one recursive statement (from the failure through every node that is not a closed device or a
source, which is where a trace's walks stop; the nearest READ_MAX_NODES of them), and whatever a
walk still needs beyond it (past a source inside an isolated segment, past the cap) is read the
same way from where the walk left. Reading less never changes an answer: a node is walked only
once all its links are read (tests/network/test_graph_reads.py)."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import text
from sqlalchemy.orm import Session

LINK_COLUMNS = "l.feature_id, l.role, l.node_a, l.node_b, l.closed, l.operable, l.length_m, l.part"
# The nodes reachable from :starts along lines, not leaving a node where a closed device (or,
# unless :through_sources, a source) stands, other than the failed feature :start itself. The
# walk stops at such a node but the node is read (its links are the walk's boundary).
COMPONENT_SQL = """WITH RECURSIVE walk(node) AS (
    SELECT unnest(CAST(:starts AS bigint[]))
  UNION
    SELECT o.other FROM walk w CROSS JOIN LATERAL (
      SELECT l.node_b AS other FROM network_links l WHERE l.node_a = w.node AND l.node_b IS NOT NULL
      UNION ALL SELECT l.node_a FROM network_links l WHERE l.node_b = w.node) o
    WHERE NOT EXISTS (
      SELECT 1 FROM network_links s WHERE s.node_a = w.node AND s.node_b IS NULL
      AND s.feature_id <> :start AND (s.closed OR (s.role = 'source' AND NOT :through_sources))))"""
# (The two index scans of a node's lines, one per end, cost less than one bitmap scan over
# both: 25% of the oblast-wide 110 kV walk of 25,533 nodes.)

# A statement reads at most this many nodes, the nearest first (the recursive walk goes level
# by level and stops once this many are taken); a walk that needs more reads on from where it
# left. A town's feeder is a few thousand nodes; a meshed city network without closed valves
# would otherwise be read whole for a break whose nearest source is a few streets away.
READ_MAX_NODES = 5000
# Every link at the walk's nodes, then the nodes themselves (a node with no link is read too),
# as one row of arrays: a town's read is ~8,000 links, and rows cost Python more than arrays.
READ_SQL = (
    COMPONENT_SQL
    # The starts come first (the walk's first level): every one of them is read.
    + ", near AS (SELECT node FROM walk"
    " LIMIT greatest(CAST(:max_nodes AS int), cardinality(CAST(:starts AS bigint[])))),"
    f" links AS (SELECT {LINK_COLUMNS} FROM network_links l"
    "  WHERE l.node_a IN (SELECT node FROM near)"
    f" UNION SELECT {LINK_COLUMNS} FROM network_links l"
    "  WHERE l.node_b IN (SELECT node FROM near))"
    " SELECT (SELECT array_agg(node) FROM near), array_agg(feature_id), array_agg(role),"
    " array_agg(node_a), array_agg(node_b), array_agg(closed), array_agg(operable),"
    " array_agg(length_m), array_agg(part) FROM links"
)


class Link(NamedTuple):
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
        # Kept as each node is read, so the walks ask a set, not the node's links.
        self.closed: set[int] = set()  # nodes where a closed device stands
        self.sources: dict[int, list[int]] = {}  # node -> the sources standing there
        self.queries = 0

    def fetch(self, nodes) -> None:
        """Load the links at those of `nodes` not loaded yet, and on from there as far as a
        trace walks (to sources and closed devices), in one statement."""
        missing = [n for n in nodes if n not in self.at]
        if missing:
            self._read(missing, None, False)

    def fetch_component(self, start: Link, through_sources: bool = False) -> None:
        """Load, in one statement, every link at the nodes a trace from `start` can walk: from
        its ends, not passing closed devices nor (unless `through_sources`) sources."""
        self._read(sorted(start.nodes()), start.id, through_sources)

    def connected_ids(self, start: Link) -> list[int]:
        """The features connected to `start` (the `connected` trace), walked and picked in SQL
        in one statement: lines with both ends reached, points at a reached node. An oblast-wide
        grid is tens of thousands of links; they never come to Python as links. A line in parts
        is connected when one of its parts is."""
        self.queries += 1
        return list(
            self.session.execute(
                text(
                    COMPONENT_SQL + " SELECT DISTINCT l.feature_id FROM walk w"
                    " JOIN network_links l ON l.node_a = w.node"
                    " WHERE l.node_b IS NULL OR l.node_b IN (SELECT node FROM walk)"
                ),
                {
                    "starts": int_array(sorted(start.nodes())),
                    "start": 0,  # a closed device as the start stops the walk, as anywhere
                    "through_sources": True,
                },
            ).scalars()
        )

    def _read(self, starts: list[int], start: int | None, through_sources: bool) -> None:
        self.queries += 1
        near, *columns = self.session.execute(
            text(READ_SQL),
            {
                "starts": int_array(starts),
                "start": start or 0,
                "through_sources": through_sources,
                "max_nodes": READ_MAX_NODES,
            },
        ).one()
        rows = zip(*columns, strict=True) if columns[0] else ()
        self._add([n for n in near or () if n not in self.at], rows)

    def _add(self, nodes: list[int], rows) -> None:
        """Record `rows` (links) as all the links at `nodes`."""
        at, links = self.at, self.links
        fresh = set(nodes)
        for n in nodes:
            at[n] = []
        for row in rows:
            link = links.get((row[0], row[7]))
            if link is None:
                link = links[row[0], row[7]] = Link(*row)
            if link.a in fresh:
                at[link.a].append(link)
            if link.b in fresh and link.b != link.a:
                at[link.b].append(link)
        for n in nodes:  # one order whatever the read: ties (upstream's equal ways) break alike
            here = at[n]
            here.sort(key=_order)
            for k in here:
                if k.b is None and k.a == n:
                    if k.role == "device" and k.closed:
                        self.closed.add(n)
                    elif k.role == "source":
                        self.sources.setdefault(n, []).append(k.id)

    def links_at(self, node: int) -> list[Link]:
        """The links at a node (fetched before)."""
        return self.at[node]

    def is_source(self, node: int, removed: set[int]) -> bool:
        """Whether a source that is not removed stands at `node` (read before)."""
        return any(i not in removed for i in self.sources.get(node, ()))

    def devices(self, node: int) -> list[Link]:
        """The switching devices at a node."""
        return [k for k in self.at[node] if k.role == "device"]

    def is_closed(self, node: int) -> bool:
        """Whether a closed device stands at `node` (read before): nothing passes through it."""
        return node in self.closed


def _order(link: Link) -> tuple[int, int]:
    return link.id, link.part


def int_array(values) -> str:
    """A bigint[] parameter as PostgreSQL's array text ('{1,2,3}'): bound as one string, parsed
    by the server's array input. A Python list is sent as ARRAY[1,2,3], whose thousands of
    constants the server parses one by one (20 ms for a town's 5,000 ids)."""
    return "{" + ",".join(str(int(v)) for v in values) + "}"


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

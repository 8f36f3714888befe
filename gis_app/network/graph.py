"""The topology of one utility as a graph read from network_links: the part a trace walks is read
in one recursive statement (from the failure through every node that is not a closed device or a
source, which is where a trace's walks stop; the nearest READ_FIRST_NODES of them), and whatever a
walk still needs beyond it (past a source inside an isolated segment, past the cap) is read the
same way, twice as far, from where the walk and the reads left. Reading less never changes an
answer: a node is walked only once all its links are read (tests/network/test_graph_reads.py,
test_trace_answer.py)."""

from __future__ import annotations

from operator import itemgetter
from typing import NamedTuple

from sqlalchemy import text
from sqlalchemy.orm import Session

LINK_COLUMNS = "l.feature_id, l.role, l.node_a, l.node_b, l.closed, l.operable, l.length_m, l.part"
# The nodes reachable from :starts along lines, not leaving a node where a closed device (or,
# unless :through_sources, a source) stands, other than the failed feature :start itself. The
# walk stops at such a node but the node is read (its links are the walk's boundary).
WALK_SQL = """WITH RECURSIVE walk(node) AS (
    SELECT unnest(CAST(:starts AS bigint[]))
  UNION
    SELECT o.other FROM walk w CROSS JOIN LATERAL (
      SELECT l.node_b AS other FROM network_links l WHERE l.node_a = w.node AND l.node_b IS NOT NULL
      UNION ALL SELECT l.node_a FROM network_links l WHERE l.node_b = w.node) o
    WHERE NOT EXISTS (
      SELECT 1 FROM network_links s WHERE s.node_a = w.node AND s.node_b IS NULL
      AND s.feature_id <> :start AND (s.closed OR (s.role = 'source' AND NOT :through_sources))
    ){skip})"""
COMPONENT_SQL = WALK_SQL.format(skip="")
# (The two index scans of a node's lines, one per end, cost less than one bitmap scan over
# both: 25% of the oblast-wide 110 kV walk of 25,533 nodes.)

# A statement reads at most this many nodes, the nearest first (the recursive walk goes level
# by level and stops once this many are taken); a walk that needs more reads on from where it
# left. The first read of a trace takes READ_FIRST_NODES, each next one twice as many as the one
# before, up to READ_MAX_NODES: a break on a meshed city grid without closed valves walks a few
# hundred to 1,500 nodes to its nearest intake (reading 5,000 at once spent most of its time on
# nodes it never walked); a busbar fault walks a whole town of ~2,800 in three reads.
READ_FIRST_NODES = 1000
READ_MAX_NODES = 5000
# Every link at the walk's nodes, then the nodes themselves (a node with no link is read too),
# as one row of arrays: a town's read is ~8,000 links, and rows cost Python more than arrays.
READ_SQL = (
    # A walk that reads on does not go back into the nodes read before (:known): it would count
    # them against the cap and read them again.
    WALK_SQL.format(skip=" AND o.other <> ALL(CAST(:known AS bigint[]))")
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
        self.reads = 0  # READ_SQL statements so far (each reads twice as far as the one before)
        # Where the last reads stopped for their cap: nodes next to a read node that a walk
        # passes (no closed device, no source), not read themselves.
        self.edge: set[int] = set()

    def fetch(self, nodes) -> None:
        """Load the links at those of `nodes` not loaded yet, and on from there as far as a
        trace walks (to sources and closed devices), in one statement. The read goes on from
        every node where the reads before stopped for their cap too, so what is read grows as a
        ball around the start, not as a spike from wherever the walk first ran out."""
        missing = [n for n in nodes if n not in self.at]
        if missing:
            self._read(sorted(self.edge.union(missing)), None, False)

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
        self.reads += 1
        near, *columns = self.session.execute(
            text(READ_SQL),
            {
                "starts": int_array(starts),
                "known": int_array(self.at),
                "start": start or 0,
                "through_sources": through_sources,
                "max_nodes": min(READ_FIRST_NODES << (self.reads - 1), READ_MAX_NODES),
            },
        ).one()
        rows = sorted(zip(*columns, strict=True), key=_order) if columns[0] else ()
        fresh = [n for n in near or () if n not in self.at]
        self._add(fresh, rows)
        at = self.at
        self.edge = {n for n in self.edge if n not in at}
        for n in fresh:
            if n not in self.closed and n not in self.sources:
                for link in at[n]:
                    other = link.b if link.a == n else link.a
                    if other is not None and other not in at:
                        self.edge.add(other)

    def _add(self, nodes: list[int], rows) -> None:
        """Record `rows` (links, by feature id and part: ties such as upstream's equal ways
        break alike whatever the read) as all the links at `nodes`."""
        at, links, closed, sources = self.at, self.links, self.closed, self.sources
        fresh = set(nodes)
        for n in nodes:
            at[n] = []
        for row in rows:
            link = links.get((row[0], row[7]))
            if link is None:
                link = links[row[0], row[7]] = Link(*row)
            a, b = link.a, link.b
            if a in fresh:
                at[a].append(link)
                if b is None and link.role == "device" and link.closed:
                    closed.add(a)
                elif b is None and link.role == "source":
                    sources.setdefault(a, []).append(link.id)
            if b in fresh and b != a:
                at[b].append(link)

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


_order = itemgetter(0, 7)  # a link row's feature id and part


def int_array(values) -> str:
    """A bigint[] parameter as PostgreSQL's array text ('{1,2,3}'): bound as one string, parsed
    by the server's array input. A Python list is sent as ARRAY[1,2,3], whose thousands of
    constants the server parses one by one (20 ms for a town's 5,000 ids)."""
    return "{" + ",".join(map(str, map(int, values))) + "}"


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
    at, closed, sources = graph.at, graph.closed, graph.sources  # (read as the walk goes)
    while frontier:
        graph.fetch(frontier)
        nxt: set[int] = set()
        for node in frontier:
            if until_source and any(i not in removed for i in sources.get(node, ())):
                return seen, True
            if node in closed:
                continue
            for link in at[node]:
                other = link.b if link.a == node else link.a
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

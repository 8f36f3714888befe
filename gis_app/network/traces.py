"""Traces over one utility's topology: connected, upstream, downstream (cut off when the feature
fails) and isolation (the devices to operate, then what is cut off).

Semantics, as in Giswater's mincut and Esri's isolation trace: a device stands at a node and, when
closed, nothing passes that node; a line is supplied while either of its ends is connected to a
source; a point is supplied while its node is. A failed line is removed; a failed point removes
its node (a failed substation or boiler house stops everything it passes on).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gis_app.network.graph import Graph, Link, classify

TRACE_TYPES = ("isolation", "downstream", "upstream", "connected")
# Upstream stops this many breadth-first levels after the first source it meets.
UPSTREAM_EXTRA_LEVELS = 200


@dataclass
class Trace:
    """What a trace found, by feature id: roles for the map, and the sets the figures use."""

    type: str
    utility: str
    start: int
    roles: dict[int, str] = field(default_factory=dict)
    supply_lost: set[int] = field(default_factory=set)  # features left without supply
    devices_to_operate: list[int] = field(default_factory=list)
    devices_not_needed: list[int] = field(default_factory=list)
    devices_inoperable: list[int] = field(default_factory=list)
    devices_already_closed: list[int] = field(default_factory=list)
    queries: int = 0


def _failed(graph: Graph, start: Link) -> tuple[set[int], set[int], set[int]]:
    """The nodes a failure of `start` blocks, the links it removes, and the sides to check."""
    if start.b is not None:
        return set(), {start.id}, start.nodes()
    graph.fetch({start.a})
    sides = {k.other(start.a) for k in graph.links_at(start.a) if k.b is not None}
    return {start.a}, {start.id}, {s for s in sides if s is not None}


def _lost(graph: Graph, fed: set[int], cut: set[int], blocked: set[int]) -> set[int]:
    """Features left without supply: lines with no fed end touching a cut or blocked node,
    points at cut or blocked nodes. Beyond a closed device nothing was supplied before the
    failure either, so what lies past it is not counted."""
    lost: set[int] = set()
    region = cut | blocked
    for node in region:
        boundary = node not in blocked and graph.is_closed(node)
        for link in graph.links_at(node):
            if link.a in fed or (link.b is not None and link.b in fed):
                continue
            if boundary and (link.b is None or link.other(node) not in region):
                continue
            lost.add(link.id)
    return lost


def downstream(graph: Graph, start: Link) -> Trace:
    """Everything that loses supply when `start` fails (the failure itself included)."""
    trace = Trace("downstream", graph.utility, start.id)
    graph.fetch_component(start)
    blocked, removed, sides = _failed(graph, start)
    fed, cut = classify(graph, sides, blocked, removed)
    trace.supply_lost = _lost(graph, fed, cut, blocked) | {start.id}
    trace.roles = {i: "cut_off" for i in trace.supply_lost}
    trace.roles[start.id] = "start"
    trace.queries = graph.queries
    return trace


def connected(graph: Graph, start: Link) -> Trace:
    """Every feature reachable from `start` without passing a closed device."""
    trace = Trace("connected", graph.utility, start.id)
    trace.roles = {i: "connected" for i in graph.connected_ids(start)}
    trace.roles[start.id] = "start"
    trace.queries = graph.queries
    return trace


def upstream(graph: Graph, start: Link) -> Trace:
    """The features on the shortest (fewest nodes) way from `start` to each source that feeds it."""
    trace = Trace("upstream", graph.utility, start.id)
    graph.fetch_component(start)
    frontier = start.nodes()
    parent: dict[int, Link | None] = {n: None for n in frontier}
    found: list[int] = []
    levels_left = None
    while frontier and (levels_left is None or levels_left > 0):
        graph.fetch(frontier)
        nxt = set()
        for node in sorted(frontier):
            if graph.is_source(node, {start.id}):
                found.append(node)
                continue  # what feeds the source is another utility's matter (the cascade)
            if graph.is_closed(node):
                continue
            for link in graph.links_at(node):
                other = link.other(node)
                if other is None or link.id == start.id or other in parent:
                    continue
                parent[other] = link
                nxt.add(other)
        if found and levels_left is None:
            levels_left = UPSTREAM_EXTRA_LEVELS
        if levels_left is not None:
            levels_left -= 1
        frontier = nxt
    for source in found:
        trace.roles.update({k.id: "source" for k in graph.links_at(source) if k.role == "source"})
        node = source
        while parent.get(node) is not None:
            link = parent[node]
            trace.roles.setdefault(link.id, "upstream")
            node = link.other(node)
    trace.roles[start.id] = "start"
    trace.queries = graph.queries
    return trace


def isolation(graph: Graph, start: Link) -> Trace:
    """The nearest operable devices that cut the failure off from every source (inoperable ones
    are passed and listed), and everything that loses supply once they are closed."""
    trace = Trace("isolation", graph.utility, start.id)
    graph.fetch_component(start)
    segment_links = {start.id}
    # The parts of other lines walked (a line in parts may lie partly beyond a device).
    segment_parts: set[tuple[int, int]] = set()
    frontier = start.nodes()
    segment_nodes: set[int] = set()
    barriers: set[int] = set()
    closed: set[int] = set()
    seen = set(frontier)
    while frontier:
        graph.fetch(frontier)
        nxt = set()
        for node in sorted(frontier):
            devices = [d for d in graph.devices(node) if d.id != start.id]
            if any(d.closed for d in devices):
                closed.add(node)
                trace.devices_already_closed += [d.id for d in devices if d.closed]
                continue
            if any(d.operable for d in devices):
                barriers.add(node)
                continue
            trace.devices_inoperable += [d.id for d in devices]
            segment_nodes.add(node)
            for link in graph.links_at(node):
                other = link.other(node)
                if other is None:
                    continue
                segment_links.add(link.id)
                segment_parts.add((link.id, link.part))
                if other not in seen:
                    seen.add(other)
                    nxt.add(other)
        frontier = nxt
    blocked = segment_nodes | barriers | closed
    sides_of = {
        b: {
            k.other(b)
            for k in graph.links_at(b)
            if k.b is not None
            and k.id != start.id
            and (k.id, k.part) not in segment_parts
            and k.other(b) not in blocked
        }
        for b in barriers
    }
    removed = {start.id} | segment_parts
    fed, cut = classify(graph, set().union(*sides_of.values()), blocked, removed)
    for b in sorted(barriers):
        devices = sorted(d.id for d in graph.devices(b) if d.operable and not d.closed)
        if sides_of[b] & fed:
            trace.devices_to_operate += devices
        else:
            trace.devices_not_needed += devices
    for found in (trace.devices_to_operate, trace.devices_not_needed, trace.devices_inoperable,
                  trace.devices_already_closed):  # fmt: skip
        found.sort()  # by feature id: the same answer whatever the node ids
    lost = {k.id for n in segment_nodes for k in graph.links_at(n)} | segment_links
    lost |= _lost(graph, fed, cut, set())
    for b in barriers:  # the lines from a closed barrier into a part left without supply
        lost |= {k.id for k in graph.links_at(b) if k.b is not None and k.other(b) in cut}
    lost -= set(trace.devices_to_operate) | set(trace.devices_not_needed)
    trace.supply_lost = lost
    trace.roles = {i: "cut_off" for i in lost}
    trace.roles.update({i: "isolated" for i in segment_links})
    for role, ids in (
        ("device_to_operate", trace.devices_to_operate),
        ("device_not_needed", trace.devices_not_needed),
        ("device_inoperable", trace.devices_inoperable),
        ("device_closed", trace.devices_already_closed),
    ):
        trace.roles.update({i: role for i in ids})
    trace.roles[start.id] = "start"
    trace.queries = graph.queries
    return trace


RUN = {
    "isolation": isolation,
    "downstream": downstream,
    "upstream": upstream,
    "connected": connected,
}

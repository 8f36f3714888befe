"""A deterministic oblast-size power utility of about 1,000,000 features for the trace benchmark.

196 towns on a 14 x 14 lattice over the oblast (28.6-34.1 E, 58.75-60.96 N, 19-23 km apart),
each with its own 10 kV distribution network, joined by a 110 kV backbone:

* a town: the 10 kV busbar of its feeding substation (a source) at the centre; 8 radial feeders
  of 40 spans of 60 m, each with a breaker at its head and a section switch every 8 spans; a
  lateral of 8 spans of 40 m at every feeder node with a disconnector at its head and a
  transformer station at its end; a tie between the ends of neighbouring feeders through a
  normally disconnected switch (state `closed` in the app's words: nothing passes); consumers
  (every ninth a school, kindergarten, hospital, clinic or care home) supplied by the laterals;
* the backbone: the 110 kV busbar of each town's substation (a source of the 110 kV grid; the
  transformer between the busbars is not a line, so the towns' networks and the backbone are
  separate components of the topology), 110 kV lines to the neighbouring towns east and north
  in spans of about 300 m, with a breaker one span from each end.

The rows, their nodes and their topology links are written directly with COPY (for the benchmark
only: the app's importer and topology rebuild are measured elsewhere), so every run makes the
same network with the same ids after the demo data.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field

TOWNS_X, TOWNS_Y = 14, 14
LON0, LAT0, DLON, DLAT = 28.6, 58.75, 0.42, 0.17
FEEDERS, MAIN_SPANS, MAIN_M, LATERAL_SPANS, LATERAL_M = 8, 40, 60.0, 8, 40.0
SECTION_EVERY, BACKBONE_SPAN_M = 8, 300.0
CONSUMER_SPANS = (1, 2, 4, 5, 7)  # lateral spans (of 0..7) with a consumer beside them
SOCIAL = ("school", "kindergarten", "hospital", "clinic", "care_home")
M_PER_DEG = 111_320.0


@dataclass
class Network:
    """Rows to COPY: features, nodes, links and consumer supplies, with ids from the bases."""

    feature_base: int
    node_base: int
    operator_id: int
    housing_operator_id: int
    nodes: list[tuple[float, float]] = field(default_factory=list)
    features: list[tuple] = field(default_factory=list)
    links: list[tuple] = field(default_factory=list)
    supplies: list[tuple] = field(default_factory=list)
    towns: list[dict] = field(default_factory=list)
    backbone: list[int] = field(default_factory=list)

    def node(self, lon: float, lat: float) -> int:
        self.nodes.append((round(lon, 7), round(lat, 7)))
        return self.node_base + len(self.nodes) - 1

    def xy(self, node: int) -> tuple[float, float]:
        return self.nodes[node - self.node_base]

    def feature(self, layer: str, utility: str, ext: str, name, attrs: dict, wkt: str) -> int:
        fid = self.feature_base + len(self.features)
        operator = self.housing_operator_id if utility == "housing" else self.operator_id
        self.features.append((fid, layer, utility, operator, ext, name, json.dumps(attrs), wkt))
        return fid

    def line(self, a: int, b: int, ext: str, attrs: dict) -> int:
        (x1, y1), (x2, y2) = self.xy(a), self.xy(b)
        fid = self.feature("power_lines", "electricity", ext, None, attrs,
                           f"LINESTRING({x1} {y1},{x2} {y2})")  # fmt: skip
        kx = M_PER_DEG * math.cos(math.radians(y1))
        length = math.hypot((x2 - x1) * kx, (y2 - y1) * M_PER_DEG)
        self.links.append((fid, "power_lines", "line", a, b, round(length, 2), False, True))
        return fid

    def point(self, layer: str, role: str, at: int, ext: str, name: str, attrs: dict) -> int:
        x, y = self.xy(at)
        fid = self.feature(layer, "electricity", ext, name, attrs, f"POINT({x} {y})")
        closed = attrs.get("state") == "closed"
        self.links.append((fid, layer, role, at, None, 0.0, closed, attrs.get("operable", True)))
        return fid

    def device(self, at: int, ext: str, kind: str, name: str, n: int, state="open") -> int:
        attrs = {"kind": kind, "state": state, "operable": n % 9 != 4, "dispatch_name": name}
        return self.point("power_switches", "device", at, ext, name, attrs)


def _offset(lon: float, lat: float, dx: float, dy: float) -> tuple[float, float]:
    """lon/lat moved by dx east and dy north (metres)."""
    return lon + dx / (M_PER_DEG * math.cos(math.radians(lat))), lat + dy / M_PER_DEG


def _town(net: Network, t: int) -> None:
    lon, lat = LON0 + (t % TOWNS_X) * DLON, LAT0 + (t // TOWNS_X) * DLAT
    tag = f"OBL-{t:03d}"
    bus10 = net.node(lon, lat)
    source = net.point("power_substations", "source", bus10, f"{tag}-PS10", f"ПС-{t} 10 кВ",
                       {"kind": "substation", "voltage_class": "110/10",
                        "dispatch_name": f"ПС-{t} 10 кВ"})  # fmt: skip
    bus110 = net.node(*_offset(lon, lat, 0.0, 30.0))
    net.point("power_substations", "source", bus110, f"{tag}-PS110", f"ПС-{t} 110 кВ",
              {"kind": "substation", "voltage_class": "110/10",
               "dispatch_name": f"ПС-{t} 110 кВ"})  # fmt: skip
    town = {"index": t, "source": source, "bus110": bus110, "lines": [], "ends": []}
    attrs10 = {"voltage_kv": 10.0, "construction": "overhead"}
    consumers = 0
    for f in range(FEEDERS):
        angle = 2 * math.pi * (f + 0.5) / FEEDERS
        ux, uy = math.cos(angle), math.sin(angle)
        prev = bus10
        for i in range(1, MAIN_SPANS + 1):
            here = net.node(*_offset(lon, lat, ux * MAIN_M * i, uy * MAIN_M * i))
            town["lines"].append(net.line(prev, here, f"{tag}-F{f}-M{i}", attrs10))
            if i == 1:
                net.device(here, f"{tag}-F{f}-Q", "breaker", f"В-{t}-{f}", f)
            elif i % SECTION_EVERY == 1:
                net.device(here, f"{tag}-F{f}-S{i}", "switch", f"ВН-{t}-{f}-{i}", i)
            if i < MAIN_SPANS:
                side = 1 if i % 2 else -1
                lat_prev = here
                for j in range(1, LATERAL_SPANS + 1):
                    d = MAIN_M * i
                    dx = ux * d - uy * side * LATERAL_M * j
                    dy = uy * d + ux * side * LATERAL_M * j
                    node = net.node(*_offset(lon, lat, dx, dy))
                    span = net.line(lat_prev, node, f"{tag}-F{f}-L{i}-{j}", attrs10)
                    town["lines"].append(span)
                    if j == 1:
                        net.device(node, f"{tag}-F{f}-L{i}-R", "disconnector",
                                   f"Р-{t}-{f}-{i}", i + f)  # fmt: skip
                    if j - 1 in CONSUMER_SPANS:
                        cx, cy = _offset(lon, lat, dx + ux * 15.0, dy + uy * 15.0)
                        consumers += 1
                        kind = SOCIAL[consumers % 45 // 9] if consumers % 9 == 0 else "residential"
                        cid = net.feature(
                            "consumers", "housing", f"{tag}-C{consumers}",
                            None if kind == "residential" else f"{kind} {t}-{consumers}",
                            {"kind": kind, "consumers": 20 + consumers * 37 % 300,
                             "address": f"town {t}, feeder {f}, house {consumers}"},
                            f"POINT({cx:.7f} {cy:.7f})",
                        )  # fmt: skip
                        net.supplies.append((cid, span, 15.0))
                    lat_prev = node
                net.point("power_substations", "point", lat_prev, f"{tag}-F{f}-L{i}-TP",
                          f"ТП-{t}-{f}-{i}", {"kind": "transformer_station",
                                               "voltage_class": "10/0.4"})  # fmt: skip
            prev = here
        town["ends"].append(prev)
    for f in range(FEEDERS):  # ties: end of feeder f to the end of feeder f+1, switch between
        a, b = town["ends"][f], town["ends"][(f + 1) % FEEDERS]
        (xa, ya), (xb, yb) = net.xy(a), net.xy(b)
        mid = net.node((xa + xb) / 2, (ya + yb) / 2)
        net.line(a, mid, f"{tag}-T{f}a", attrs10)
        net.line(mid, b, f"{tag}-T{f}b", attrs10)
        net.device(mid, f"{tag}-T{f}-Q", "switch", f"ВН-{t}-связь-{f}", 0, state="closed")
    net.towns.append(town)


def _backbone(net: Network) -> None:
    attrs = {"voltage_kv": 110.0, "construction": "overhead"}
    for t in range(TOWNS_X * TOWNS_Y):
        for other in (t + 1 if t % TOWNS_X < TOWNS_X - 1 else None, t + TOWNS_X):
            if other is None or other >= TOWNS_X * TOWNS_Y:
                continue
            a, b = net.towns[t]["bus110"], net.towns[other]["bus110"]
            (xa, ya), (xb, yb) = net.xy(a), net.xy(b)
            kx = M_PER_DEG * math.cos(math.radians(ya))
            spans = max(
                3, round(math.hypot((xb - xa) * kx, (yb - ya) * M_PER_DEG) / BACKBONE_SPAN_M)
            )
            prev = a
            for s in range(1, spans + 1):
                node = b if s == spans else net.node(xa + (xb - xa) * s / spans,
                                                     ya + (yb - ya) * s / spans)  # fmt: skip
                net.backbone.append(net.line(prev, node, f"OBL-110-{t}-{other}-{s}", attrs))
                if s in (1, spans - 1):
                    net.device(node, f"OBL-110-{t}-{other}-Q{s}", "breaker",
                               f"В-110-{t}-{other}-{s}", s + t)  # fmt: skip
                prev = node


def build(feature_base: int, node_base: int, operator_id: int, housing_operator_id: int) -> Network:
    """The whole network in memory (about 1,020,000 features)."""
    net = Network(feature_base, node_base, operator_id, housing_operator_id)
    for t in range(TOWNS_X * TOWNS_Y):
        _town(net, t)
    _backbone(net)
    return net


def _copy(cursor, table: str, columns: str, rows) -> None:
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join("\\N" if v is None else _text(v) for v in row) + "\n")
    buffer.seek(0)
    cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN", buffer)


def _text(value) -> str:
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value).replace("\\", "\\\\").replace("\t", " ").replace("\n", " ")


def write(raw_connection, net: Network) -> None:
    """COPY the rows (a psycopg2 connection; the caller commits)."""
    with raw_connection.cursor() as cur:  # psycopg2: copy_expert
        _copy(cur, "network_features",
              "id, layer_id, utility_code, operator_id, external_id, name, attributes, geom",
              ((*f[:7], f"SRID=4326;{f[7]}") for f in net.features))  # fmt: skip
        _copy(cur, "network_nodes", "id, utility_code, geom",
              ((net.node_base + i, "electricity", f"SRID=4326;POINT({x} {y})")
               for i, (x, y) in enumerate(net.nodes)))  # fmt: skip
        _copy(cur, "network_links",
              "feature_id, utility_code, layer_id, role, node_a, node_b, length_m, closed, operable",
              ((k[0], "electricity", *k[1:]) for k in net.links))  # fmt: skip
        _copy(cur, "consumer_supplies", "consumer_id, utility_code, feature_id, distance_m",
              ((c, "electricity", f, d) for c, f, d in net.supplies))  # fmt: skip
        cur.execute(
            "SELECT setval('network_features_id_seq', (SELECT max(id) FROM network_features))"
        )
        cur.execute("SELECT setval('network_nodes_id_seq', (SELECT max(id) FROM network_nodes))")

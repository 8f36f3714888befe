"""The six utility networks of one demo town, built on its street graph."""

from __future__ import annotations

import math
import random

from shapely import LineString, Point

from gis_app.demo.networks import (
    AVENUES,
    STREETS,
    Feature,
    Frame,
    StreetGraph,
    by_size,
    grow_tree,
    pick_nodes,
    street_graph,
)
from gis_app.demo.places import Place

# Each utility runs parallel to the street axis at its own offset (metres along both grid axes,
# so the pieces of one network meet exactly at each junction: the topology joins them).
OFFSET_M = {"water": 5.0, "sewerage": -5.0, "heat": 9.0, "gas": -9.0, "electricity": 13.0}


class TownBuilder:
    """Builds every feature of one town; `ops` maps a role (e.g. 'water') to an operator slug."""

    def __init__(self, place: Place, built_up, ops: dict[str, str]) -> None:
        self.place, self.ops = place, ops
        self.rng = random.Random(place.seed * 104729)
        self.frame = Frame(place)
        self.graph: StreetGraph = street_graph(place, built_up, self.frame)
        self.features: list[Feature] = []
        self.prefix = place.slug[:3].upper()
        self._counter: dict[str, int] = {}
        self.year = lambda: self.rng.randint(1958, 2024)

    def add(self, layer: str, utility: str, role: str, geom, attributes: dict, name=None) -> None:
        """Record one feature with a stable external id (town, layer, running number)."""
        n = self._counter.get(layer, 0) + 1
        self._counter[layer] = n
        ext = f"{self.prefix}-{layer.upper()}-{n:05d}"
        attributes = {k: v for k, v in attributes.items() if v is not None}
        self.features.append(Feature(layer, utility, self.ops[role], ext, name, attributes, geom))

    def node(self, key):
        return self.graph.nodes[key]

    def net(self, key, utility: str) -> tuple[float, float]:
        """The junction of one utility's network at a street junction (lon/lat)."""
        offset = OFFSET_M[utility]
        return self.frame.along(self.node(key), offset, offset)

    def edge_line(self, a, b, utility: str) -> LineString:
        return LineString([self.net(a, utility), self.net(b, utility)])

    def at(self, key, utility: str) -> Point:
        """A point on a utility's network junction (a device, a station, a hydrant)."""
        return Point(self.net(key, utility))

    def devices(
        self, layer: str, utility: str, role: str, nodes, kinds: list[str], word: str, state="open"
    ):
        """Switching devices at some junctions, passing (a valve "open", a switch "on"), operable
        except the first (a stuck one)."""
        for k, node in enumerate(nodes, 1):
            self.add(
                layer,
                utility,
                role,
                self.at(node, utility),
                {
                    "kind": kinds[k % len(kinds)],
                    "state": state,
                    "operable": k != 1,
                    "dispatch_name": f"{word} {k}",
                },
                name=f"{word} {k}",
            )

    def centre_distance(self, key) -> float:
        i, j = key
        return math.hypot(i, j)

    def build(self) -> list[Feature]:
        """Every network of the town, in a fixed order."""
        self.roads()
        self.water()
        self.sewerage()
        self.heat()
        self.gas()
        self.electricity()
        self.consumers()
        return self.features

    # --- roads -------------------------------------------------------------------------------
    def roads(self) -> None:
        for a, b in self.graph.edges:
            horizontal = a[1] == b[1]
            index = a[1] if horizontal else a[0]
            main = index == 0
            name = (AVENUES if main or index % 4 == 0 else STREETS)[
                (index + self.place.seed)
                % (len(AVENUES) if main or index % 4 == 0 else len(STREETS))
            ]
            self.add(
                "road_segments",
                "roads",
                "roads",
                LineString([self.node(a), self.node(b)]),
                {
                    "road_class": "local" if main or index % 4 == 0 else "street",
                    "surface": "asphalt" if self.rng.random() < 0.85 else "gravel",
                    "lanes": 4 if main else 2,
                    "street_name": name,
                },
                name=name,
            )
        # A regional road leaves the town along the main axis in both directions.
        ends = [
            min(self.graph.nodes, key=lambda k: (k[1] != 0, k[0])),
            max(self.graph.nodes, key=lambda k: (k[1] == 0, k[0])),
        ]
        for end, direction in zip(ends, (-1, 1), strict=True):
            start = self.node(end)
            far = self.frame.shift(start, direction * 2500, direction * 400)
            self.add(
                "road_segments",
                "roads",
                "regional_roads",
                LineString([start, far.coords[0]]),
                {
                    "road_class": "regional",
                    "surface": "asphalt",
                    "lanes": 2,
                    "street_name": "региональная дорога",
                },
                name="региональная дорога",
            )

    # --- water -------------------------------------------------------------------------------
    def water(self) -> None:
        g = self.graph
        source = min(g.nodes, key=lambda k: (k[0] + k[1], k))  # the south-west edge of town
        parent, _, down = grow_tree(g, [source])
        for node, up in parent.items():
            if up is None:
                continue
            d = down[node]
            self.add(
                "water_mains",
                "water",
                "water",
                self.edge_line(up, node, "water"),
                {
                    "diameter_mm": by_size(
                        d, [(150, 500), (60, 300), (20, 200), (5, 150), (0, 100)]
                    ),
                    "material": self.rng.choice(
                        ["cast_iron", "steel", "polyethylene", "polyethylene"]
                    ),
                    "dead_end": d == 1,
                    "year_built": self.year(),
                },
            )
        src = self.node(source)
        intake = self.frame.shift(src, -600, -500)
        plant = self.frame.shift(src, -300, -250)
        station = self.frame.shift(src, -8, -8)
        # The intake feeds the plant, the plant the second-lift station, the station the town.
        for a, b in ((intake, plant), (plant, station), (station, self.at(source, "water"))):
            self.add(
                "water_mains",
                "water",
                "water",
                LineString([a.coords[0], b.coords[0]]),
                {"diameter_mm": 500, "material": "steel", "dead_end": False, "year_built": 1975},
            )
        self.add(
            "water_facilities",
            "water",
            "water",
            intake,
            {"kind": "intake", "capacity_m3_day": 25000.0, "dispatch_name": "Водозабор №1"},
            name="Водозабор",
        )
        self.add(
            "water_facilities",
            "water",
            "water",
            plant,
            {"kind": "treatment_plant", "capacity_m3_day": 24000.0, "dispatch_name": "ВОС"},
            name="Водоочистная станция",
        )
        self.add(
            "water_facilities",
            "water",
            "water",
            station,
            {"kind": "pumping_station", "capacity_m3_day": 22000.0, "dispatch_name": "ВНС-2"},
            name="Насосная станция II подъёма",
        )
        for k, node in enumerate(pick_nodes(g, self.rng, 3, lambda n: down.get(n, 0) > 40), 1):
            self.add(
                "water_facilities",
                "water",
                "water",
                self.at(node, "water"),
                {"kind": "pumping_station", "capacity_m3_day": 3000.0, "dispatch_name": f"ПНС-{k}"},
                name=f"Подкачивающая насосная станция {k}",
            )
        for k, node in enumerate(sorted(g.nodes), 1):
            if k % 3 == 0:
                self.add(
                    "water_facilities",
                    "water",
                    "water",
                    self.at(node, "water"),
                    {"kind": "hydrant", "dispatch_name": f"ПГ-{k}"},
                )
        valves = [n for k, n in enumerate(sorted(parent), 1) if k % 4 == 2 and parent[n]]
        self.devices("water_valves", "water", "water", valves, ["gate_valve"], "Задвижка В")

    # --- sewerage ----------------------------------------------------------------------------
    def sewerage(self) -> None:
        g = self.graph
        outfall = max(g.nodes, key=lambda k: (k[0] - k[1], k))  # treatment downstream, south-east
        parent, _, down = grow_tree(g, [outfall])
        for node, up in parent.items():
            if up is None:
                continue
            d = down[node]
            self.add(
                "sewers",
                "sewerage",
                "sewerage",
                self.edge_line(node, up, "sewerage"),
                {
                    "diameter_mm": by_size(
                        d, [(150, 800), (60, 500), (20, 300), (5, 250), (0, 200)]
                    ),
                    "flow": "pressure" if d > 150 else "gravity",
                    "material": self.rng.choice(
                        ["ceramic", "concrete", "polyethylene", "cast_iron"]
                    ),
                    "year_built": self.year(),
                },
            )
        plant = self.frame.shift(self.node(outfall), 500, -400)
        self.add(
            "sewers",
            "sewerage",
            "sewerage",
            LineString([self.net(outfall, "sewerage"), plant.coords[0]]),
            {"diameter_mm": 800, "flow": "pressure", "material": "concrete", "year_built": 1980},
        )
        self.add(
            "sewer_facilities",
            "sewerage",
            "sewerage",
            plant,
            {"kind": "treatment_plant", "capacity_m3_day": 20000.0, "dispatch_name": "КОС"},
            name="Канализационные очистные сооружения",
        )
        for k, node in enumerate(
            pick_nodes(g, self.rng, 4, lambda n: 20 < down.get(n, 0) < 400), 1
        ):
            self.add(
                "sewer_facilities",
                "sewerage",
                "sewerage",
                self.at(node, "sewerage"),
                {"kind": "pumping_station", "capacity_m3_day": 2500.0, "dispatch_name": f"КНС-{k}"},
                name=f"КНС-{k}",
            )

    # --- heat --------------------------------------------------------------------------------
    def heat(self) -> None:
        g = self.graph
        reach = max(self.centre_distance(n) for n in g.nodes)
        heated = [n for n in g.nodes if self.centre_distance(n) < reach * 0.8]
        sources = pick_nodes(g, self.rng, 3, lambda n: n in set(heated))
        parent, owner, down = grow_tree(
            g, sources, coverage=lambda n: self.centre_distance(n) < reach * 0.8
        )
        # The third boiler house, if a second heat operator exists, belongs to it.
        role_of = {
            s: ("heat_small" if k == 2 and "heat_small" in self.ops else "heat")
            for k, s in enumerate(sources)
        }
        for node, up in parent.items():
            if up is None:
                continue
            self.add(
                "heat_pipes",
                "heat",
                role_of[owner[node]],
                self.edge_line(up, node, "heat"),
                {
                    "diameter_mm": by_size(
                        down[node], [(120, 500), (50, 300), (15, 200), (4, 100), (0, 80)]
                    ),
                    "pipes": 4 if down[node] < 4 else 2,
                    "laying": self.rng.choice(["channel", "channel", "channelless", "overhead"]),
                    "year_built": self.year(),
                },
            )
        for k, source in enumerate(sources, 1):
            boiler = self.frame.shift(self.node(source), 15, -15)
            self.add(
                "heat_pipes",
                "heat",
                role_of[source],
                LineString([boiler.coords[0], self.net(source, "heat")]),
                {"diameter_mm": 500, "pipes": 2, "laying": "channel", "year_built": 1978},
            )
            self.add(
                "heat_sources",
                "heat",
                role_of[source],
                boiler,
                {
                    "kind": "boiler_house",
                    "capacity_gcal_h": float(self.rng.choice([40, 60, 95, 120])),
                    "fuel": "gas",
                    "dispatch_name": f"Котельная №{k}",
                },
                name=f"Котельная №{k}",
            )
        for k, node in enumerate(pick_nodes(g, self.rng, 6, lambda n: 10 < down.get(n, 0) < 60), 1):
            self.add(
                "heat_sources",
                "heat",
                role_of[owner[node]],
                self.at(node, "heat"),
                {
                    "kind": "heat_point",
                    "capacity_gcal_h": 5.0,
                    "fuel": "none",
                    "dispatch_name": f"ЦТП-{k}",
                },
                name=f"ЦТП-{k}",
            )
        valves = [n for k, n in enumerate(sorted(parent), 1) if k % 4 == 3 and parent[n]]
        for role in sorted({role_of[owner[n]] for n in valves}):
            mine = [n for n in valves if role_of[owner[n]] == role]
            self.devices("heat_valves", "heat", role, mine, ["gate_valve"], "Задвижка Т")

    # --- gas ---------------------------------------------------------------------------------
    def gas(self) -> None:
        g = self.graph
        grps = pick_nodes(g, self.rng, 4)
        parent, _, down = grow_tree(g, grps)
        for node, up in parent.items():
            if up is None:
                continue
            medium = down[node] > 25
            self.add(
                "gas_pipelines",
                "gas",
                "gas",
                self.edge_line(up, node, "gas"),
                {
                    "pressure_class": "medium" if medium else "low",
                    "pressure_mpa": 0.3 if medium else 0.003,
                    "diameter_mm": by_size(down[node], [(80, 325), (25, 219), (8, 159), (0, 108)]),
                    "material": "polyethylene" if self.rng.random() < 0.6 else "steel",
                },
            )
        # A gas distribution station outside the town feeds each regulator station at high pressure.
        west = self.node(min(g.nodes))
        grs = self.frame.shift(west, -1800, -900)
        self.add(
            "gas_facilities",
            "gas",
            "gas",
            grs,
            {
                "kind": "grs",
                "pressure_in_mpa": 5.4,
                "pressure_out_mpa": 1.2,
                "dispatch_name": "ГРС",
            },
            name="Газораспределительная станция",
        )
        for k, node in enumerate(grps, 1):
            point = self.frame.shift(self.node(node), -14, -14)
            self.add(
                "gas_pipelines",
                "gas",
                "gas",
                LineString([grs.coords[0], point.coords[0]]),
                {
                    "pressure_class": "high_2",
                    "pressure_mpa": 0.6,
                    "diameter_mm": 219,
                    "material": "steel",
                },
            )
            self.add(
                "gas_pipelines",
                "gas",
                "gas",
                LineString([point.coords[0], self.net(node, "gas")]),
                {
                    "pressure_class": "medium",
                    "pressure_mpa": 0.3,
                    "diameter_mm": 219,
                    "material": "steel",
                },
            )
            self.add(
                "gas_facilities",
                "gas",
                "gas",
                point,
                {
                    "kind": "grp",
                    "pressure_in_mpa": 0.6,
                    "pressure_out_mpa": 0.3,
                    "dispatch_name": f"ГРП-{k}",
                },
                name=f"ГРП-{k}",
            )
        for k, node in enumerate(pick_nodes(g, self.rng, 12, lambda n: down.get(n, 0) <= 25), 1):
            self.add(
                "gas_facilities",
                "gas",
                "gas",
                self.at(node, "gas"),
                {
                    "kind": "shrp",
                    "pressure_in_mpa": 0.3,
                    "pressure_out_mpa": 0.003,
                    "dispatch_name": f"ШРП-{k}",
                },
                name=f"ШРП-{k}",
            )
        for k, node in enumerate(pick_nodes(g, self.rng, 15, lambda n: down.get(n, 0) > 5), 1):
            self.add(
                "gas_facilities",
                "gas",
                "gas",
                self.at(node, "gas"),
                {
                    "kind": "valve",
                    "state": "open",
                    "operable": k != 1,
                    "dispatch_name": f"Задвижка {k}",
                },
            )

    # --- electricity -------------------------------------------------------------------------
    def electricity(self) -> None:
        g = self.graph
        feeder_points = pick_nodes(g, self.rng, 2, lambda n: self.centre_distance(n) > 4)
        parent, owner, down = grow_tree(g, feeder_points)
        transformer = {n for k, n in enumerate(sorted(g.nodes)) if k % 5 == 0}
        for node, up in parent.items():
            if up is None:
                continue
            ten_kv = down[node] > 6 or node in transformer
            self.add(
                "power_lines",
                "electricity",
                "electricity",
                self.edge_line(up, node, "electricity"),
                {
                    "voltage_kv": 10.0 if ten_kv else 0.4,
                    "construction": "cable" if ten_kv or self.rng.random() < 0.4 else "overhead",
                    "conductor": "АПвПу2г 3x240" if ten_kv else "СИП-2 3x70",
                    "year_built": self.year(),
                },
            )
        for k, source in enumerate(feeder_points, 1):
            point = self.frame.shift(self.node(source), 20, 20)
            self.add(
                "power_lines",
                "electricity",
                "electricity",
                LineString([point.coords[0], self.net(source, "electricity")]),
                {
                    "voltage_kv": 10.0,
                    "construction": "cable",
                    "conductor": "АПвПу2г 3x240",
                    "year_built": self.year(),
                },
            )
            self.add(
                "power_substations",
                "electricity",
                "grid_110",
                point,
                {
                    "kind": "substation",
                    "voltage_class": "110/10",
                    "capacity_kva": 40000.0,
                    "dispatch_name": f"ПС 110 кВ №{k}",
                },
                name=f"ПС 110/10 кВ №{k}",
            )
            far = self.frame.shift(self.node(source), 3000 * (1 if k == 1 else -1), 2200)
            self.add(
                "power_lines",
                "electricity",
                "grid_110",
                LineString([far.coords[0], point.coords[0]]),
                {
                    "voltage_kv": 110.0,
                    "construction": "overhead",
                    "conductor": "АС-185/29",
                    "year_built": self.year(),
                },
                name=f"ВЛ 110 кВ к ПС №{k}",
            )
        for k, node in enumerate(sorted(transformer), 1):
            self.add(
                "power_substations",
                "electricity",
                "electricity",
                self.at(node, "electricity"),
                {
                    "kind": "transformer_station",
                    "voltage_class": "10/0.4",
                    "capacity_kva": float(self.rng.choice([250, 400, 630, 1000])),
                    "dispatch_name": f"ТП-{k}",
                },
                name=f"ТП-{k}",
            )
        for k, node in enumerate(pick_nodes(g, self.rng, 2, lambda n: down.get(n, 0) > 30), 1):
            self.add(
                "power_substations",
                "electricity",
                "electricity",
                self.at(node, "electricity"),
                {"kind": "distribution_point", "voltage_class": "10", "dispatch_name": f"РП-{k}"},
                name=f"РП-{k}",
            )
        switches = [n for k, n in enumerate(sorted(parent), 1) if k % 5 == 4 and parent[n]]
        self.devices(
            "power_switches",
            "electricity",
            "electricity",
            switches,
            ["switch", "breaker", "disconnector"],
            "Выключатель",
            state="on",
        )

    # --- consumers ---------------------------------------------------------------------------
    SOCIAL = (
        (23, 5, "hospital", "Больница", (250, 400)),
        (29, 13, "care_home", "Дом престарелых", (60, 150)),
        (17, 8, "clinic", "Поликлиника", (20, 60)),
        (11, 3, "school", "Школа", (400, 900)),
        (11, 6, "kindergarten", "Детский сад", (80, 200)),
    )

    def consumers(self) -> None:
        """A building by every street junction: mostly housing, now and then a school, a
        kindergarten, a hospital, a clinic or a care home; people (or accounts) in each."""
        numbers: dict[str, int] = {}
        for k, node in enumerate(sorted(self.graph.nodes), 1):
            kind, name, people = "residential", None, (20, 400)
            for every, rest, social, word, size in self.SOCIAL:
                if k % every == rest:
                    numbers[social] = numbers.get(social, 0) + 1
                    kind, name, people = social, f"{word} №{numbers[social]}", size
                    break
            self.add(
                "consumers",
                "housing",
                "housing",
                Point(self.frame.along(self.node(node), 45, 30)),
                {
                    "kind": kind,
                    "consumers": self.rng.randint(*people),
                    "address": f"д. {k}",
                },
                name=name,
            )

"""A tiny OSM extract of central Gatchina, written by the tests (OSM XML; PBF via osmium).

Streets and buildings follow the real town loosely (names real, positions simplified) inside the
demo's Gatchina settlement, so every address gets the settlement and municipality of the demo data.
Data © OpenStreetMap contributors style, made here by hand for the tests (no OSM data copied).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from xml.sax.saxutils import quoteattr

# Around the demo town's centre (30.128, 59.565); a degree of latitude is ~111 km.
LON0, LAT0 = 30.118, 59.560
DX, DY = 0.0018, 0.0009  # ~100 m east, ~100 m north

# (street name, way nodes as (i, j) grid steps from the origin)
STREETS = [
    ("улица Чехова", [(0, 0), (6, 0)]),
    ("проспект 25 Октября", [(0, 3), (0, -3)]),
    ("улица Радищева", [(0, 4), (6, 4)]),
    ("Зелёная улица", [(8, -2), (8, 4)]),
    ("улица Антона Чехова", [(-6, -6), (-2, -6)]),
]

# Ways the base map draws besides streets and buildings: (tags, grid steps).
OTHER_WAYS = [
    ({"railway": "rail", "name": "Варшавская линия"}, [(-7, 2), (9, 2.5)]),
    ({"natural": "water", "name": "Пруд"}, [(5, -4), (7, -4), (7, -2.5), (5, -2.5), (5, -4)]),
    ({"place": "town", "name": "Гатчина"}, []),
]

# (street, housenumber, grid position of the building's south-west corner, as a node?)
BUILDINGS = [
    ("улица Чехова", "5", (1, 0.2), False),
    ("улица Чехова", "5А", (2, 0.2), False),
    ("улица Чехова", "7", (3, 0.2), False),
    ("улица Чехова", "12 к1", (4, -0.5), False),
    ("проспект 25 Октября", "3к1", (0.2, 2), False),
    ("улица Радищева", "5", (1, 4.2), False),
    ("Зелёная улица", "2", (8.2, 1), False),
    ("улица Антона Чехова", "5", (-5, -5.8), False),
    ("улица Радищева", "9", (3, 4.3), True),
]


def _node(nid: int, lon: float, lat: float, tags: dict | None = None) -> str:
    inner = "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in (tags or {}).items())
    attrs = f'id="{nid}" version="1" visible="true" lat="{lat:.7f}" lon="{lon:.7f}"'
    return f"  <node {attrs}>{inner}</node>\n" if inner else f"  <node {attrs}/>\n"


def _way(wid: int, refs: list[int], tags: dict) -> str:
    nds = "".join(f'<nd ref="{r}"/>' for r in refs)
    inner = "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())
    return f'  <way id="{wid}" version="1" visible="true">{nds}{inner}</way>\n'


def point(i: float, j: float) -> tuple[float, float]:
    """(lon, lat) of grid position (i, j)."""
    return LON0 + i * DX, LAT0 + j * DY


def building_centre(street: str, number: str) -> tuple[float, float]:
    """(lon, lat) of the middle of the test building at (street, number)."""
    for s, n, (i, j), _ in BUILDINGS:
        if (s, n) == (street, number):
            return point(i + 0.25, j + 0.25)
    raise KeyError((street, number))


def osm_xml() -> str:
    """The extract as OSM XML text."""
    nodes: list[str] = []
    ways: list[str] = []
    nid, wid = 1000, 5000
    for name, steps in STREETS:
        refs = []
        for i, j in steps:
            nid += 1
            nodes.append(_node(nid, *point(i, j)))
            refs.append(nid)
        wid += 1
        ways.append(_way(wid, refs, {"highway": "residential", "name": name}))
    for tags, steps in OTHER_WAYS:
        if not steps:  # a place node
            nid += 1
            nodes.append(_node(nid, *point(3, 1), tags))
            continue
        refs = []
        for i, j in steps[:-1] if steps[0] == steps[-1] else steps:
            nid += 1
            nodes.append(_node(nid, *point(i, j)))
            refs.append(nid)
        if steps[0] == steps[-1]:
            refs.append(refs[0])
        wid += 1
        ways.append(_way(wid, refs, tags))
    for street, number, (i, j), as_node in BUILDINGS:
        tags = {"addr:street": street, "addr:housenumber": number, "addr:city": "Гатчина"}
        if as_node:
            nid += 1
            nodes.append(_node(nid, *point(i + 0.25, j + 0.25), tags))
            continue
        refs = []
        for di, dj in ((0, 0), (0.5, 0), (0.5, 0.5), (0, 0.5)):
            nid += 1
            nodes.append(_node(nid, *point(i + di, j + dj)))
            refs.append(nid)
        wid += 1
        ways.append(_way(wid, [*refs, refs[0]], {"building": "apartments", **tags}))
    lons = [LON0 + k * DX for k in (-7, 9)]
    lats = [LAT0 + k * DY for k in (-7, 5)]
    bounds = (
        f'  <bounds minlat="{lats[0]:.7f}" minlon="{lons[0]:.7f}" '
        f'maxlat="{lats[1]:.7f}" maxlon="{lons[1]:.7f}"/>\n'
    )
    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<osm version="0.6" generator="gis_app tests">\n'
        + bounds
        + "".join(nodes)
        + "".join(ways)
        + "</osm>\n"
    )


def write_osm(folder: Path) -> Path:
    """Write the extract as folder/gatchina.osm and return its path."""
    path = folder / "gatchina.osm"
    path.write_text(osm_xml(), encoding="utf-8")
    return path


def write_pbf(folder: Path) -> Path | None:
    """The extract as PBF (osmium), for tools that read only PBF; None without osmium."""
    if shutil.which("osmium") is None:
        return None
    source = write_osm(folder)
    target = folder / "gatchina.osm.pbf"
    subprocess.run(
        ["osmium", "cat", "--overwrite", "-o", str(target), str(source)],
        check=True,
        capture_output=True,
    )
    return target

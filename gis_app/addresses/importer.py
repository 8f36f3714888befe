"""`gis-app addresses import FILE.osm.pbf|.osm`: buildings, address points and streets from OSM.

GDAL's OSM driver (through pyogrio, with our own osmconf.ini so addr:* come as columns) reads the
extract; the rows are copied into a temporary table and PostGIS does the rest in one transaction:
settlement and municipality of each (from the municipalities table), the normalised street and
house number (the migration's SQL functions), a new generation made current and the old one
dropped. Searches read the old generation until the commit, then the new one: no downtime, and a
failed import leaves the old addresses as they were.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from pathlib import Path

import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.errors import ImportFailed

OSMCONF = Path(__file__).with_name("osmconf.ini")
ADDRESS_COLUMNS = ["osm_id", "addr:street", "addr:housenumber", "addr:city", "addr:place"]
# Settlements and the municipality (district or okrug) an address belongs to.
SETTLEMENT_KINDS = ("urban_settlement", "rural_settlement")
MUNICIPALITY_KINDS = ("municipal_district", "municipal_okrug", "urban_okrug")


@dataclass(frozen=True)
class ImportSummary:
    """What one import loaded: its generation, counts and seconds taken."""

    generation: int
    streets: int
    addresses: int
    seconds: float


def _read(path: Path, layer: str, columns: list[str], where: str):
    import pyogrio

    try:
        return pyogrio.read_dataframe(
            path, layer=layer, columns=columns, where=where, CONFIG_FILE=str(OSMCONF)
        )
    except Exception as exc:  # pyogrio raises its own errors for unreadable files
        raise ImportFailed(
            f"Cannot read {path.name} as OpenStreetMap data: {exc}",
            code="osm_unreadable",
            file=path.name,
            layer=layer,
        ) from None


def read_osm(path: Path) -> list[tuple]:
    """Rows (kind, osm_id, street, housenumber, city, EWKB hex) of an OSM extract's addresses
    (buildings and address points) and named streets (highways); EPSG:4326."""
    if not path.is_file():
        raise ImportFailed(f"No such file: {path}", code="file_not_found", file=str(path))
    has_number = '"addr:housenumber" IS NOT NULL'
    sources = [
        ("building", "multipolygons", ADDRESS_COLUMNS, has_number),
        ("point", "points", ADDRESS_COLUMNS, has_number),
        ("highway", "lines", ["osm_id", "name"], "highway IS NOT NULL AND name IS NOT NULL"),
    ]
    rows: list[tuple] = []
    for kind, layer, columns, where in sources:
        frame = _read(path, layer, columns, where)
        if frame.empty:
            continue
        geoms = shapely.to_wkb(
            shapely.set_srid(frame.geometry.values, 4326), hex=True, include_srid=True
        )
        if kind == "highway":
            for osm_id, name, geom in zip(frame["osm_id"], frame["name"], geoms, strict=True):
                rows.append((kind, osm_id, name, None, None, geom))
            continue
        # Multipolygons of ways carry osm_way_id, of relations osm_id.
        ids = frame["osm_way_id"] if "osm_way_id" in frame else frame["osm_id"]
        if "osm_way_id" in frame:
            ids = frame["osm_way_id"].fillna(frame["osm_id"])
        for osm_id, street, place, number, city, geom in zip(
            ids,
            frame["addr:street"],
            frame["addr:place"],
            frame["addr:housenumber"],
            frame["addr:city"],
            geoms,
            strict=True,
        ):
            # A village's houses are often numbered on the place, not a street.
            rows.append((kind, osm_id, street or place, number, city or place, geom))
    return rows


def _copy_rows(session: Session, rows: list[tuple]) -> None:
    """COPY the rows into the temporary table addr_stage (fast, one round trip)."""

    def cell(value) -> str:
        if value is None:
            return "\\N"
        return (
            str(value)
            .replace("\\", "\\\\")
            .replace("\t", " ")
            .replace("\n", " ")
            .replace("\r", " ")
        )

    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(cell(v) for v in row) + "\n")
    buffer.seek(0)
    cursor = session.connection().connection.dbapi_connection.cursor()
    cursor.copy_expert(
        "COPY addr_stage (kind, osm_id, street, housenumber, city, geom) FROM STDIN", buffer
    )


# text(): bulk set-based SQL over temporary tables; nothing here comes from a request.
# Boundaries cut into pieces of at most 255 vertices, with a GiST index: a point-in-polygon test
# against a district's full outline (thousands of vertices) for each of 500,000 houses is slow.
_PARTS_SQL = """
CREATE TEMP TABLE addr_muni_parts ON COMMIT DROP AS
SELECT m.id, m.kind, m.name_ru, ST_Area(m.geom) AS area, ST_Subdivide(m.geom, 255) AS geom
FROM municipalities m
WHERE m.kind = ANY(:settlement_kinds) OR m.kind = ANY(:municipality_kinds);
CREATE INDEX ON addr_muni_parts USING gist (geom);
ANALYZE addr_muni_parts;
"""

_PLACE_SQL = """
CREATE TEMP TABLE addr_placed ON COMMIT DROP AS
SELECT s.kind, s.osm_id, s.street, s.housenumber, gis_street_norm(s.street) AS norm,
       gis_street_kind(s.street) AS street_kind,
       CASE WHEN s.kind = 'highway' THEN s.geom ELSE ST_PointOnSurface(s.geom) END AS geom,
       st.id AS settlement_id,
       coalesce(nullif(btrim(s.city), ''), st.name_ru, '') AS settlement,
       coalesce(mu.id, 0) AS municipality_id
FROM addr_stage s
CROSS JOIN LATERAL (SELECT ST_PointOnSurface(s.geom) AS pos) p
LEFT JOIN LATERAL (
    SELECT m.id, m.name_ru FROM addr_muni_parts m
    WHERE m.kind = ANY(:settlement_kinds) AND ST_Intersects(m.geom, p.pos)
    ORDER BY m.area LIMIT 1
) st ON true
LEFT JOIN LATERAL (
    SELECT m.id FROM addr_muni_parts m
    WHERE m.kind = ANY(:municipality_kinds) AND ST_Intersects(m.geom, p.pos)
    ORDER BY m.area LIMIT 1
) mu ON true
WHERE s.street IS NOT NULL
"""

_STREETS_SQL = """
INSERT INTO address_streets
    (generation, name, norm, kind, settlement_norm, settlement, settlement_id, municipality_id,
     geom)
SELECT :gen, mode() WITHIN GROUP (ORDER BY street), norm, street_kind,
       gis_street_norm(settlement), nullif(settlement, ''),
       min(settlement_id), nullif(municipality_id, 0),
       coalesce(ST_Collect(geom) FILTER (WHERE kind = 'highway'), ST_Collect(geom))
FROM addr_placed WHERE norm <> ''
GROUP BY norm, street_kind, settlement, municipality_id
"""

_ADDRESSES_SQL = """
INSERT INTO addresses (generation, street_id, kind, osm_id, housenumber, housenumber_norm, geom)
SELECT :gen, s.id, p.kind, p.osm_id, btrim(p.housenumber), gis_housenumber_norm(p.housenumber),
       p.geom
FROM addr_placed p
JOIN address_streets s ON s.generation = :gen AND s.norm = p.norm AND s.kind = p.street_kind
    AND coalesce(s.settlement, '') = p.settlement
    AND coalesce(s.municipality_id, 0) = p.municipality_id
WHERE p.kind <> 'highway' AND gis_housenumber_norm(p.housenumber) <> ''
"""


_NAMES_SQL = """
INSERT INTO address_names (generation, kind, norm)
SELECT DISTINCT :gen, 'street', norm FROM address_streets WHERE generation = :gen
UNION
SELECT DISTINCT :gen, 'settlement', settlement_norm FROM address_streets
WHERE generation = :gen AND settlement_norm <> ''
"""


def load_rows(session: Session, rows: list[tuple], source: str) -> ImportSummary:
    """Load rows of read_osm() as a new generation and make it current (caller commits)."""
    started = time.monotonic()
    if not any(r[0] != "highway" for r in rows):
        raise ImportFailed(
            f"{source} holds no building or point with addr:housenumber; nothing was changed",
            code="no_addresses",
            file=source,
        )
    session.execute(
        text(
            "CREATE TEMP TABLE addr_stage (kind text, osm_id text, street text, "
            "housenumber text, city text, geom geometry(Geometry, 4326)) ON COMMIT DROP"
        )
    )
    _copy_rows(session, rows)
    kinds = {
        "settlement_kinds": list(SETTLEMENT_KINDS),
        "municipality_kinds": list(MUNICIPALITY_KINDS),
    }
    for statement in _PARTS_SQL.split(";"):
        if statement.strip():
            session.execute(text(statement), kinds)
    session.execute(text(_PLACE_SQL), kinds)
    gen = session.execute(
        text("INSERT INTO address_generations (source) VALUES (:s) RETURNING id"), {"s": source}
    ).scalar_one()
    streets = session.execute(text(_STREETS_SQL), {"gen": gen}).rowcount
    addresses = session.execute(text(_ADDRESSES_SQL), {"gen": gen}).rowcount
    session.execute(text(_NAMES_SQL), {"gen": gen})
    # Two steps: the unique index allows one current generation at every moment.
    session.execute(text("UPDATE address_generations SET is_current = false WHERE is_current"))
    session.execute(
        text(
            "UPDATE address_generations SET is_current = true, streets = :s, addresses = :a "
            "WHERE id = :gen"
        ),
        {"gen": gen, "s": streets, "a": addresses},
    )
    # The old generations' rows go with them (ON DELETE CASCADE), in this same transaction.
    session.execute(text("DELETE FROM address_generations WHERE id <> :gen"), {"gen": gen})
    session.execute(text("DROP TABLE addr_placed, addr_stage, addr_muni_parts"))
    return ImportSummary(gen, streets, addresses, time.monotonic() - started)


def import_osm(session: Session, path: Path) -> ImportSummary:
    """Read an OSM extract (.osm.pbf or .osm) and load it as the current addresses (caller commits)."""
    started = time.monotonic()
    rows = read_osm(path)
    summary = load_rows(session, rows, path.name)
    return ImportSummary(
        summary.generation, summary.streets, summary.addresses, time.monotonic() - started
    )

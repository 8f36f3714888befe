"""What a served collection reads and how one of its rows becomes a GeoJSON Feature.

Every served collection (a layer, the incidents, the municipalities) is a Source: the tables it
reads, the SQL of a feature's properties, the attributes it filters on. `feature_json_sql` is the
one builder of a feature's GeoJSON: pages, single features, OGC items and edits all use it.
Table and column names come only from this module and the layer files; every value is bound.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from gis_app.layers import LayerDef

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


@dataclass(frozen=True)
class Crs:
    """A coordinate reference system we serve: its URI, SRID, axis order and precision."""

    uri: str
    srid: int
    # EPSG:4326 is latitude first (OGC API Features Part 2); CRS84 is longitude first.
    lat_first: bool
    decimals: int


# Six decimals of a degree are about 0.1 m; two of a metre are 1 cm.
CRSES = {
    CRS84: Crs(CRS84, 4326, False, 6),
    "http://www.opengis.net/def/crs/EPSG/0/4326": Crs(
        "http://www.opengis.net/def/crs/EPSG/0/4326", 4326, True, 6
    ),
    "http://www.opengis.net/def/crs/EPSG/0/3857": Crs(
        "http://www.opengis.net/def/crs/EPSG/0/3857", 3857, False, 2
    ),
}


# Lon/lat as stored, to the last digit GeoJSON writes: what an edit merges into and a deleted
# feature's record keeps (the 6 decimals of a served page would move a point by up to 5 cm).
FULL_PRECISION = Crs(CRS84, 4326, False, 15)


@dataclass(frozen=True)
class Filter:
    """An attribute a collection filters on: its type and how it is compared in SQL."""

    name: str
    type: str  # int | float | str | bool | date
    column: str | None = None  # a column compared with '='; None: a key of the JSONB attributes


@dataclass(frozen=True)
class Source:
    """What one collection reads and how it builds a feature."""

    id: str
    from_sql: str
    id_sql: str
    geom_sql: str
    properties_sql: str
    where: tuple[str, ...] = ()
    params: dict = field(default_factory=dict, hash=False)
    filters: tuple[Filter, ...] = ()
    time_sql: str | None = None
    time_name: str | None = None  # the property holding time_sql (CQL2 filters and queryables)
    # Keys of serving_revisions whose change changes this collection; empty: never cached.
    revision_keys: tuple[str, ...] = ()
    # Key of serving_revisions holding the collection's feature count; None: count(*) is cheap.
    count_key: str | None = None
    geometry: str = "GEOMETRY"

    def filter(self, name: str) -> Filter | None:
        """The filterable attribute called `name`, or None."""
        return next((f for f in self.filters if f.name == name), None)


# The properties every network feature carries, then its layer's attributes.
_NETWORK_PROPERTIES = (
    "jsonb_build_object('layer', f.layer_id, 'utility', f.utility_code, 'name', f.name,"
    " 'operator_id', f.operator_id, 'operator', o.short_name,"
    " 'external_id', f.external_id, 'updated_at', f.updated_at, 'updated_by', f.updated_by)"
    " || f.attributes"
)

# Every network feature of every layer (a feature looked up by id alone). A LEFT JOIN, though
# every feature has its operator: PostgreSQL leaves out a LEFT JOIN no condition or column needs
# (a count, the choice of a page's keys), where it would look up the operator of every row.
NETWORK = Source(
    id="network_features",
    from_sql="network_features f LEFT JOIN operators o ON o.id = f.operator_id",
    id_sql="f.id",
    geom_sql="f.geom",
    properties_sql=_NETWORK_PROPERTIES,
)


def layer_source(layer: LayerDef) -> Source:
    """The source of one network layer: its rows of network_features with the operator's name."""
    common = (
        Filter("operator", "str", "o.short_name"),
        Filter("operator_id", "int", "f.operator_id"),
        Filter("external_id", "str", "f.external_id"),
        Filter("name", "str", "f.name"),
    )
    return dataclasses.replace(
        NETWORK,
        id=layer.id,
        where=("f.layer_id = :layer",),
        params={"layer": layer.id},
        filters=common + tuple(Filter(p.name, p.type) for p in layer.properties),
        time_sql="f.updated_at",
        time_name="updated_at",
        revision_keys=(layer.id, "operators"),
        count_key=layer.id,
        geometry=layer.geometry,
    )


INCIDENTS = Source(
    id="incidents",
    from_sql=(
        "incidents i LEFT JOIN operators o ON o.id = i.operator_id "
        "LEFT JOIN municipalities m ON m.id = i.municipality_id"
    ),
    id_sql="i.id",
    geom_sql="i.geom",
    properties_sql=(
        "jsonb_build_object('kind', i.kind, 'utility', i.utility_code, 'category', i.category,"
        " 'description', i.description, 'status', i.status, 'priority', i.priority,"
        " 'address', i.address, 'operator_id', i.operator_id, 'operator', o.short_name,"
        " 'municipality', m.slug, 'feature_id', i.feature_id, 'reported_at', i.reported_at,"
        " 'updated_at', i.updated_at, 'is_demo', i.is_demo)"
    ),
    filters=(
        Filter("kind", "str", "i.kind"),
        Filter("utility", "str", "i.utility_code"),
        Filter("status", "str", "i.status"),
        Filter("priority", "int", "i.priority"),
        Filter("operator", "str", "o.short_name"),
        Filter("operator_id", "int", "i.operator_id"),
        Filter("municipality", "str", "m.slug"),
    ),
    time_sql="i.reported_at",
    time_name="reported_at",
    geometry="POINT",
)

MUNICIPALITIES = Source(
    id="municipalities",
    from_sql="municipalities m LEFT JOIN municipalities p ON p.id = m.parent_id",
    id_sql="m.id",
    geom_sql="m.geom",
    properties_sql=(
        "jsonb_build_object('slug', m.slug, 'kind', m.kind, 'oktmo', m.oktmo,"
        " 'name_ru', m.name_ru, 'name_en', m.name_en, 'parent', p.slug, 'is_demo', m.is_demo)"
    ),
    filters=(
        Filter("slug", "str", "m.slug"),
        Filter("kind", "str", "m.kind"),
        Filter("oktmo", "str", "m.oktmo"),
        Filter("parent", "str", "p.slug"),
    ),
    revision_keys=("municipalities",),
    geometry="MULTIPOLYGON",
)


def _geometry_sql(source: Source, crs: Crs) -> str:
    geom = source.geom_sql
    if crs.srid != 4326:
        geom = f"ST_Transform({geom}, {int(crs.srid)})"
    if crs.lat_first:
        geom = f"ST_FlipCoordinates({geom})"
    return f"ST_AsGeoJSON({geom}, {int(crs.decimals)})::json"


def feature_json_sql(source: Source, crs: Crs) -> str:
    """SQL of one row's GeoJSON Feature as text."""
    return (
        f"json_build_object('type', 'Feature', 'id', {source.id_sql}, "
        f"'geometry', {_geometry_sql(source, crs)}, 'properties', {source.properties_sql})::text"
    )

"""The SQL around the graph: the start feature, the nearest feature of a utility, one feature of
an answer as GeoJSON text, the municipalities concerned and the `connected` trace's whole answer
(the other traces' answer is network/answer.py's one statement)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.db import TEXT_AS_BYTES
from gis_app.errors import AppError, NotFound
from gis_app.network.graph import COMPONENT_SQL, Link, int_array

SOCIAL_KINDS = ("school", "kindergarten", "hospital", "clinic", "care_home")
# Settlement-level municipalities: those a federal accident card lists as "cut off".
SETTLEMENT_KINDS = ("urban_settlement", "rural_settlement", "urban_okrug", "municipal_okrug")


class NotInNetwork(AppError):
    """The feature exists but is not part of any network topology (a road, a consumer)."""

    status = 422
    code = "feature_not_in_network"


def start_link(session: Session, feature_id: int) -> tuple[str, Link]:
    """The utility and topology link of a feature; 404 if none, 422 if outside the topology."""
    row = session.execute(
        # A line in parts answers as a whole: its first and last nodes, the ones between.
        text(
            "SELECT f.utility_code, f.layer_id, l.feature_id, l.role, l.node_a,"
            " (SELECT p.node_b FROM network_links p WHERE p.feature_id = f.id"
            "  ORDER BY p.part DESC LIMIT 1), l.closed, l.operable,"
            " (SELECT sum(p.length_m) FROM network_links p WHERE p.feature_id = f.id), 0,"
            " ARRAY(SELECT p.node_a FROM network_links p WHERE p.feature_id = f.id AND p.part > 0)"
            " FROM network_features f LEFT JOIN network_links l ON l.feature_id = f.id AND l.part = 0 WHERE f.id = :id"
        ),
        {"id": feature_id},
    ).one_or_none()
    if row is None:
        raise NotFound(
            f"Feature {feature_id} does not exist.", code="feature_not_found", feature_id=feature_id
        )
    if row[2] is None:
        raise NotInNetwork(
            f"Feature {feature_id} (layer {row[1]}) is not part of a network topology.",
            feature_id=feature_id,
            layer=row[1],
        )
    return row[0], Link(*row[2:10], inner=tuple(n for n in row[10] if n is not None))


def nearest_feature(session: Session, lon: float, lat: float, utility: str, max_m: float) -> int:
    """The network feature of `utility` nearest to lon/lat (EPSG:4326) within max_m metres."""
    found = session.execute(
        text(
            "SELECT f.id FROM network_links l JOIN network_features f ON f.id = l.feature_id"
            " WHERE l.utility_code = :u AND f.geom && ST_Expand(ST_MakePoint(:x, :y), :deg)"
            " AND ST_DWithin(f.geom::geography, ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography,"
            " :m) ORDER BY f.geom <-> ST_SetSRID(ST_MakePoint(:x, :y), 4326) LIMIT 1"
        ),
        {"u": utility, "x": lon, "y": lat, "m": max_m, "deg": max_m / 111_320.0 * 2.5},
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(
            f"No {utility} network feature within {max_m:g} m of ({lon}, {lat}).",
            code="feature_not_found",
            utility=utility,
            max_distance_m=max_m,
        )
    return found


# One feature of a trace's answer as GeoJSON text, from `f` (network_features) and `r.role`, with
# the cascade step :step if not null. Text joined around ST_AsGeoJSON's text: the geometry is
# never parsed as JSON, and Python never parses nor dumps the features again. The properties are
# text too, the attributes' own JSON text spliced in after the API's members (the layer registry
# keeps its property names apart from those): a jsonb_build_object per feature, merged with the
# attributes and written out again, took a third of a town's answer (20 of 60 ms).
FEATURE_TEXT = (
    '\'{"type":"Feature","id":\' || f.id'
    " || ',\"geometry\":' || ST_AsGeoJSON(f.geom, 6)"
    ' || \',"properties":{"layer":\' || to_json(f.layer_id)'
    " || ',\"utility\":' || to_json(f.utility_code)"
    " || ',\"name\":' || coalesce(to_json(f.name)::text, 'null')"
    " || ',\"operator_id\":' || f.operator_id"
    " || ',\"external_id\":' || coalesce(to_json(f.external_id)::text, 'null')"
    " || ',\"trace\":' || to_json(r.role)"
    " || CASE WHEN f.attributes = '{}' THEN ''"
    "  ELSE ',' || left(substr(f.attributes::text, 2), -1) END"
    " || CASE WHEN CAST(:step AS int) IS NULL THEN ''"
    "  ELSE ',\"step\":' || CAST(:step AS int) END || '}}'"
)
# The municipalities (below the oblast) any geometry of `g` lies in, smallest first, as JSON.
# Each municipality stops at its first feature inside (its polygon prepared once by PostGIS);
# one ST_Intersects of every polygon with the collection of an oblast-wide answer took seconds.
MUNICIPALITIES_OF_G = (
    "SELECT coalesce(json_agg(json_build_object('id', m.id, 'slug', m.slug, 'kind', m.kind,"
    " 'name_ru', m.name_ru, 'name_en', m.name_en) ORDER BY ST_Area(m.geom), m.id), '[]')"
    " FROM municipalities m, (SELECT ST_SetSRID(ST_Extent(geom)::geometry, 4326) AS b FROM g) box"
    " WHERE m.kind <> 'oblast' AND m.geom && box.b"
    " AND EXISTS (SELECT 1 FROM g WHERE g.geom && m.geom AND ST_Intersects(m.geom, g.geom))"
)


def word_array(words) -> str:
    """A text[] parameter of plain words (the trace roles) as PostgreSQL's array text."""
    words = list(words)
    if not all(w.isidentifier() for w in words):
        raise ValueError("not plain words")
    return "{" + ",".join(words) + "}"


def municipalities_concerned(session: Session, feature_ids: list[int]) -> list[dict]:
    """The municipalities (below the oblast) that any of the features lies in, smallest first."""
    if not feature_ids:
        return []
    return session.execute(
        text(
            "WITH g AS MATERIALIZED (SELECT geom FROM network_features WHERE id = ANY(CAST(:ids AS bigint[])))"
            f" {MUNICIPALITIES_OF_G}"
        ),
        {"ids": int_array(feature_ids)},
    ).scalar_one()


def connected_answer(session: Session, start: Link) -> tuple[int, bytes, list[dict]]:
    """The `connected` trace's answer in one statement: the walk (graph.COMPONENT_SQL through
    sources), the features (role `start` or `connected`: lines with both ends of a part reached,
    points at a reached node) as GeoJSON text, their count and the municipalities concerned. An oblast-wide
    grid is tens of thousands of features; none of them comes to Python but as text."""
    return tuple(
        session.execute(
            text(
                COMPONENT_SQL + ", r AS MATERIALIZED (SELECT DISTINCT l.feature_id AS id,"
                " CASE WHEN l.feature_id = :sid"
                " THEN 'start' ELSE 'connected' END AS role FROM walk w JOIN network_links l"
                " ON l.node_a = w.node WHERE l.node_b IS NULL OR l.node_b IN (SELECT node FROM walk)),"
                " rf AS MATERIALIZED (SELECT r.role, f.* FROM r JOIN network_features f ON f.id = r.id),"
                " g AS (SELECT geom FROM rf)"
                " SELECT (SELECT count(*) FROM rf),"
                " (SELECT coalesce(string_agg("
                + FEATURE_TEXT.replace("r.role", "f.role")
                + ", ',' ORDER BY f.role, f.id), '') FROM rf f),"
                f" ({MUNICIPALITIES_OF_G})"
            ),
            {
                "starts": int_array(sorted(start.nodes())),
                "start": 0,  # a closed device as the start stops the walk, as anywhere
                "through_sources": True,
                "sid": start.id,
                "step": None,
            },
            execution_options={TEXT_AS_BYTES: True},
        ).one()
    )

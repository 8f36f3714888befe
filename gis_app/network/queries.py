"""The SQL a trace's answer needs around the graph: the start feature, the nearest feature of a
utility, the affected features as GeoJSON, the consumers and social objects cut off, and the
municipalities and settlements concerned."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.errors import AppError, NotFound
from gis_app.network.graph import COMPONENT_SQL, Link

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
# never parsed as JSON, and Python never parses nor dumps the features again.
FEATURE_TEXT = (
    '\'{"type":"Feature","id":\' || f.id'
    " || ',\"geometry\":' || ST_AsGeoJSON(f.geom, 6) || ',\"properties\":'"
    " || (jsonb_build_object('layer', f.layer_id, 'utility', f.utility_code,"
    " 'name', f.name, 'operator_id', f.operator_id, 'external_id', f.external_id,"
    " 'trace', r.role) || f.attributes"
    " || CASE WHEN CAST(:step AS int) IS NULL THEN '{}'::jsonb"
    " ELSE jsonb_build_object('step', CAST(:step AS int)) END)::text || '}'"
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


def features_geojson_text(
    session: Session, roles: dict[int, str], step: int | None = None
) -> tuple[int, str]:
    """The features of a trace as GeoJSON Features built in PostGIS, each with its `trace` role
    (and the cascade `step`, if given): their count and their JSON texts joined by commas (the
    answer's features are never parsed and dumped again in Python)."""
    if not roles:
        return 0, ""
    count, body = session.execute(
        text(
            "SELECT count(*), coalesce(string_agg("
            + FEATURE_TEXT
            # The consumers after the network's features, as the answer has always listed them.
            + ", ',' ORDER BY r.role = 'consumer_cut_off', r.role, f.id), '')"
            " FROM unnest(CAST(:ids AS bigint[]), CAST(:roles AS text[])) r(id, role)"
            " JOIN network_features f ON f.id = r.id"
        ),
        {"ids": list(roles), "roles": list(roles.values()), "step": step},
    ).one()
    return count, body


def consumers_cut_off(session: Session, utility: str, feature_ids: list[int]) -> dict:
    """The consumers supplied with `utility` by any of `feature_ids`: count of people
    (accounts), buildings, the social objects among them, and their ids."""
    rows = session.execute(
        text(
            "SELECT c.id, c.name, c.attributes->>'kind' AS kind,"
            " coalesce((c.attributes->>'consumers')::int, 0) AS consumers,"
            " c.attributes->>'address' AS address"
            " FROM consumer_supplies s JOIN network_features c ON c.id = s.consumer_id"
            " WHERE s.utility_code = :u AND s.feature_id = ANY(:ids) ORDER BY c.id"
        ),
        {"u": utility, "ids": feature_ids},
    ).mappings()
    rows = [dict(r) for r in rows]
    social = [r for r in rows if r["kind"] in SOCIAL_KINDS]
    by_kind: dict[str, int] = {}
    for r in social:
        by_kind[r["kind"]] = by_kind.get(r["kind"], 0) + 1
    return {
        "consumers": sum(r["consumers"] for r in rows),
        "buildings": len(rows),
        "social_objects": social,
        "social_objects_by_kind": by_kind,
        "ids": [r["id"] for r in rows],
    }


def municipalities_concerned(session: Session, feature_ids: list[int]) -> list[dict]:
    """The municipalities (below the oblast) that any of the features lies in, smallest first."""
    if not feature_ids:
        return []
    return session.execute(
        text(
            "WITH g AS MATERIALIZED (SELECT geom FROM network_features WHERE id = ANY(:ids))"
            f" {MUNICIPALITIES_OF_G}"
        ),
        {"ids": feature_ids},
    ).scalar_one()


def connected_answer(session: Session, start: Link) -> tuple[int, str, list[dict]]:
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
                "starts": sorted(start.nodes()),
                "start": 0,  # a closed device as the start stops the walk, as anywhere
                "through_sources": True,
                "sid": start.id,
                "step": None,
            },
        ).one()
    )


def settlements_cut_off(session: Session, utility: str, consumer_ids: list[int]) -> list[dict]:
    """Settlements whose every consumer supplied with `utility` is among `consumer_ids`."""
    if not consumer_ids:
        return []
    # From the few cut-off consumers to their settlements, then one indexed look (layer and
    # bbox) for a consumer of the same utility there that still has supply.
    rows = session.execute(
        text(
            "WITH cut AS (SELECT id, layer_id, geom FROM network_features WHERE id = ANY(:ids))"
            " SELECT m.id, m.slug, m.kind, m.name_ru, m.name_en FROM municipalities m"
            " WHERE m.kind = ANY(:kinds)"
            " AND EXISTS (SELECT 1 FROM cut WHERE cut.geom && m.geom"
            "   AND ST_Intersects(cut.geom, m.geom))"
            " AND NOT EXISTS (SELECT 1 FROM network_features c"
            "   JOIN consumer_supplies s ON s.consumer_id = c.id AND s.utility_code = :u"
            "   WHERE c.layer_id IN (SELECT DISTINCT layer_id FROM cut)"
            "   AND c.geom && m.geom AND ST_Intersects(c.geom, m.geom) AND c.id <> ALL(:ids))"
            " ORDER BY m.id"
        ),
        {"u": utility, "ids": consumer_ids, "kinds": list(SETTLEMENT_KINDS)},
    ).mappings()
    return [dict(r) for r in rows]

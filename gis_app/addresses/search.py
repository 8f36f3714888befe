"""Address search and reverse look-up over the current generation (PostGIS + pg_trgm).

Search: the query is split in Python (normalize.parse_query) into a street, a house number and a
street kind; a settlement named in it is recognised (exact, from the names dictionary). Street
names are matched by trigram word similarity on the distinct names (GIN index; typos and word
order tolerated), then the streets of those names (btree) ranked by name, kind, settlement and
nearness, then houses by exact normalised number ("5" also finds "5А"/"5к1", ranked lower). The
score is in 0..1; `confident` says whether the best stands clearly above the rest. Reverse: the
nearest address point, in metres.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.addresses.normalize import parse_query, street_norm
from gis_app.errors import NotFound

# Names, then streets of those names, read before houses are matched.
NAME_CANDIDATES = 10
STREET_CANDIDATES = 60
# Settlement names looked for in the query: runs of up to this many words.
SETTLEMENT_WORDS = 3
# Lower bound of word similarity for a street to be a candidate at all (typo tolerance).
WORD_SIMILARITY_MIN = 0.3
# A confident answer: the best scores at least this and leads the next by at least the gap.
CONFIDENT_SCORE = 0.75
CONFIDENT_GAP = 0.1
# Scale of the "near" preference: a candidate this far away loses about a fifth of its score.
NEAR_SCALE_M = 5000.0


@dataclass(frozen=True)
class Near:
    """A point to prefer candidates around: lon, lat in EPSG:4326."""

    lon: float
    lat: float


# text(): the candidates are ranked in SQL and only the best `limit` become GeoJSON there.
_FEATURE = """
json_build_object(
    'type', 'Feature',
    'id', h.id,
    'geometry', ST_AsGeoJSON(h.geom, 6)::json,
    'properties', json_build_object(
        'kind', h.kind, 'street', st.name, 'housenumber', h.housenumber,
        'settlement', st.settlement, 'municipality', mu.slug, 'municipality_name', mu.name_ru,
        'label', concat_ws(', ', st.settlement, st.name, h.housenumber),
        'score', round(h.score::numeric, 3), 'distance_m', round(h.distance_m::numeric, 1)
    )
)::text
"""

# Candidate streets: first the distinct names (a small dictionary: "садовая" once, not once per
# village) holding the query's street words (GIN trigram index, typos tolerated), then the
# streets of those names (btree), ranked by name, kind, settlement named, and nearness.
_CANDIDATES = """
WITH names AS MATERIALIZED (
    SELECT n.norm,
           0.6 * word_similarity(:street, n.norm) + 0.4 * similarity(:street, n.norm) AS score
    FROM address_names n
    WHERE n.generation = :gen AND n.kind = 'street' AND (n.norm = :street OR :street <% n.norm)
    ORDER BY score DESC, n.norm
    LIMIT :name_cap
)
SELECT id, geom, base FROM (
    SELECT st.id, st.geom, s.base, s.base {near_order} AS rank
    FROM names JOIN address_streets st ON st.generation = :gen AND st.norm = names.norm
    CROSS JOIN LATERAL (SELECT names.score
        * CASE WHEN :kind = '' OR st.kind = '' OR st.kind = :kind THEN 1.0 ELSE 0.9 END
        * CASE WHEN :settlement = '' OR st.settlement_norm = :settlement THEN 1.0 ELSE 0.8 END
        AS base) s
    WHERE true {muni}
) ranked
ORDER BY rank DESC, id
LIMIT :street_cap
"""


def _municipality_ids(session: Session, slug: str) -> list[int]:
    """The municipality of `slug` and every municipality inside it (by parent)."""
    ids = session.execute(
        text(
            "WITH RECURSIVE t AS (SELECT id FROM municipalities WHERE slug = :slug "
            "UNION SELECT m.id FROM municipalities m JOIN t ON m.parent_id = t.id) "
            "SELECT id FROM t"
        ),
        {"slug": slug},
    ).scalars()
    found = list(ids)
    if not found:
        raise NotFound(
            f"Municipality '{slug}' does not exist.",
            code="municipality_not_found",
            municipality=slug,
        )
    return found


# Word similarity finds the street inside name + settlement; plain similarity prefers the street
# whose whole name was typed ("чехова" over "антона чехова"); a kind named but not matching
# ("ул." for a "переулок") costs a tenth, a street of another settlement than the one named a fifth.
_TEXT_SCORE = "c.base"


def _settlement_runs(street: str) -> dict[str, tuple[int, int]]:
    """Runs of up to SETTLEMENT_WORDS words of the street part (never all of it): start, length."""
    tokens = street.split()
    return {
        " ".join(tokens[i : i + n]): (i, n)
        for n in range(1, min(SETTLEMENT_WORDS, len(tokens) - 1) + 1)
        for i in range(len(tokens) - n + 1)
    }


def _prepare(session: Session, street: str, threshold: float) -> tuple[int | None, list[str]]:
    """One round trip: the current generation, the settlements named among the street words,
    and the `<%` threshold set for this transaction."""
    row = session.execute(
        text(
            "SELECT set_config('pg_trgm.word_similarity_threshold', :thr, true), g.id, "
            "ARRAY(SELECT norm FROM address_names WHERE generation = g.id "
            "AND kind = 'settlement' AND norm = ANY(:runs)) "
            "FROM (SELECT (SELECT id FROM address_generations WHERE is_current) AS id) g"
        ),
        {"thr": str(threshold), "runs": list(_settlement_runs(street))},
    ).one()
    return row[1], list(row[2])


def _split_settlement(street: str, found: list[str]) -> tuple[str, str]:
    """(the settlement named in the street words or "", the street words without it)."""
    runs = _settlement_runs(street)
    best = max(found, key=lambda norm: (runs[norm][1], -runs[norm][0]), default=None)
    if best is None:
        return "", street
    i, n = runs[best]
    tokens = street.split()
    return best, " ".join(tokens[:i] + tokens[i + n :])


def search(
    session: Session,
    query: str,
    near: Near | None = None,
    municipality: str | None = None,
    limit: int = 10,
) -> dict:
    """Ranked address candidates for a free-text query, as a GeoJSON FeatureCollection.

    Features are houses (kind building/point) when the query has a house number found on a
    matching street, else streets (kind street). Coordinates EPSG:4326; distance_m in metres.
    """
    parsed = parse_query(query)
    gen, settlements = _prepare(session, parsed.street, WORD_SIMILARITY_MIN)
    features: list[str] = []
    muni = ""
    params: dict = {
        "gen": gen,
        "name_cap": NAME_CANDIDATES,
        "street_cap": STREET_CANDIDATES,
        "limit": limit,
        "scale": NEAR_SCALE_M,
        "kind": parsed.kind,
        "lon": near.lon if near else None,
        "lat": near.lat if near else None,
    }
    if municipality:
        params["munis"] = _municipality_ids(session, municipality)
        muni = "AND (st.settlement_id = ANY(:munis) OR st.municipality_id = ANY(:munis))"
    if gen is not None:
        settlement, street = _split_settlement(parsed.street, settlements)
        params["settlement"] = settlement
        if parsed.housenumber and street:
            features = _houses(session, street, parsed.housenumber, near, muni, params)
        if not features:
            # No house with that number (or no number): the streets themselves; "25 Октября"
            # without a house is the street, so the whole text is tried as a street too.
            streets = {street, street_norm(query)} - {""}
            for candidate in sorted(streets, key=len, reverse=True):
                features = _streets(session, candidate, near, muni, params)
                if features:
                    break
    parsed_features = [json.loads(f) for f in features]
    scores = [f["properties"]["score"] for f in parsed_features]
    confident = (
        bool(scores)
        and scores[0] >= CONFIDENT_SCORE
        and (len(scores) == 1 or scores[0] - scores[1] >= CONFIDENT_GAP)
    )
    return {
        "type": "FeatureCollection",
        "query": {"q": query, "street": parsed.street, "housenumber": parsed.housenumber},
        "confident": confident,
        "numberReturned": len(parsed_features),
        "features": parsed_features,
    }


def _candidates(near: Near | None, muni: str) -> str:
    """The candidate streets' SQL; with `near`, nearer streets of equal names rank first."""
    near_order = ""
    if near is not None:
        # Box distance in degrees × 111 km: a cheap stand-in for metres, only to choose which
        # streets go on (the final score uses metres).
        near_order = (
            "* (0.8 + 0.2 * exp(-(st.geom <#> ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))"
            " * 111000 / :scale))"
        )
    return _CANDIDATES.format(muni=muni, near_order=near_order)


def _near(near: Near | None, geom: str) -> tuple[str, str]:
    """SQL of (score factor, distance in metres) for a candidate geometry."""
    if near is None:
        return "1.0", "NULL::float"
    # Distances in metres: geography, not degrees (a degree of longitude is ~55 km here).
    distance = (
        f"ST_Distance({geom}::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography)"
    )
    return f"(0.8 + 0.2 * exp(-({distance}) / :scale))", distance


def _houses(
    session: Session, street: str, number: str, near: Near | None, muni: str, params: dict
) -> list[str]:
    factor, distance = _near(near, "a.geom")
    # "5" finds "5" (1.0) and "5а", "5к1", "5/2" (0.85), never "50".
    sql = f"""
    WITH c AS MATERIALIZED ({_candidates(near, muni)}),
    h AS (
        SELECT a.id, a.street_id, a.kind, a.housenumber, a.geom, {distance} AS distance_m,
               {_TEXT_SCORE} * CASE WHEN a.housenumber_norm = :number THEN 1.0 ELSE 0.85 END
               * {factor} AS score
        FROM c JOIN addresses a ON a.street_id = c.id
        WHERE a.housenumber_norm = :number
           OR (left(a.housenumber_norm, length(:number)) = :number
               AND substr(a.housenumber_norm, length(:number) + 1, 1) !~ '[0-9]')
        ORDER BY score DESC, a.id
        LIMIT :limit
    )
    SELECT {_FEATURE} AS f
    FROM h JOIN address_streets st ON st.id = h.street_id
    LEFT JOIN municipalities mu ON mu.id = st.municipality_id
    ORDER BY h.score DESC, h.id
    """
    rows = session.execute(text(sql), {**params, "street": street, "number": number})
    return [row.f for row in rows]


def _streets(
    session: Session, street: str, near: Near | None, muni: str, params: dict
) -> list[str]:
    factor, distance = _near(near, "c.geom")
    sql = f"""
    WITH c AS MATERIALIZED ({_candidates(near, muni)}),
    h AS (
        SELECT c.id, c.id AS street_id, 'street' AS kind, NULL::text AS housenumber, c.geom,
               {distance} AS distance_m, {_TEXT_SCORE} * {factor} AS score
        FROM c
        ORDER BY score DESC, c.id
        LIMIT :limit
    )
    SELECT {_FEATURE} AS f
    FROM h JOIN address_streets st ON st.id = h.street_id
    LEFT JOIN municipalities mu ON mu.id = st.municipality_id
    ORDER BY h.score DESC, h.id
    """
    return [row.f for row in session.execute(text(sql), {**params, "street": street})]


def reverse(session: Session, lon: float, lat: float, max_distance_m: float) -> dict | None:
    """The address nearest to (lon, lat) within max_distance_m metres, as a GeoJSON Feature."""
    # The index orders by degrees; the ten nearest by degrees are re-ranked by metres.
    sql = """
    WITH p AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS g),
    near AS (
        SELECT a.*, ST_Distance(a.geom::geography, (SELECT g FROM p)::geography) AS d
        FROM addresses a
        WHERE a.generation = (SELECT id FROM address_generations WHERE is_current)
        ORDER BY a.geom <-> (SELECT g FROM p)
        LIMIT 10
    )
    SELECT json_build_object(
        'type', 'Feature', 'id', a.id,
        'geometry', ST_AsGeoJSON(a.geom, 6)::json,
        'properties', json_build_object(
            'kind', a.kind, 'street', st.name, 'housenumber', a.housenumber,
            'settlement', st.settlement, 'municipality', mu.slug,
            'municipality_name', mu.name_ru,
            'label', concat_ws(', ', st.settlement, st.name, a.housenumber),
            'distance_m', round(a.d::numeric, 1)
        )
    )::text AS f
    FROM near a JOIN address_streets st ON st.id = a.street_id
    LEFT JOIN municipalities mu ON mu.id = st.municipality_id
    WHERE a.d <= :max_m
    ORDER BY a.d, a.id
    LIMIT 1
    """
    row = session.execute(text(sql), {"lon": lon, "lat": lat, "max_m": max_distance_m}).first()
    return json.loads(row.f) if row else None

"""Everything a trace's answer needs from the database after the walk, in one statement: the
affected features as GeoJSON text, the consumers and social objects cut off, the settlements left
without supply, the devices' details, the dependents of other utilities the cut-off set stops
(the cascade's next level) and the municipalities concerned.

A busbar fault that cuts off a whole town sends 5,000 ids; as six statements each parsed them
again and paid a round trip (about 45 ms of a 300 ms answer besides the GeoJSON itself)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.db import TEXT_AS_BYTES
from gis_app.network.cascade import DEPENDENTS_JSON
from gis_app.network.graph import int_array
from gis_app.network.queries import (
    FEATURE_TEXT,
    MUNICIPALITIES_OF_G,
    SETTLEMENT_KINDS,
    SOCIAL_KINDS,
    word_array,
)

# :ids/:roles are the trace's features, :lost those of them left without supply (their
# consumers are cut off: role consumer_cut_off, listed after the network's features).
ANSWER_SQL = (
    "WITH cons AS MATERIALIZED (SELECT c.id, c.name, c.attributes->>'kind' AS kind,"
    " coalesce((c.attributes->>'consumers')::int, 0) AS consumers,"
    " c.attributes->>'address' AS address, c.layer_id, c.geom"
    # LATERAL: an index probe per lost feature (a merge join read the supplies from the start).
    " FROM unnest(CAST(:lost AS bigint[])) lost(id) CROSS JOIN LATERAL (SELECT s.consumer_id"
    "  FROM consumer_supplies s WHERE s.feature_id = lost.id AND s.utility_code = :u OFFSET 0) s"
    " JOIN network_features c ON c.id = s.consumer_id),"
    " r AS (SELECT t.id, t.role FROM unnest(CAST(:ids AS bigint[]), CAST(:roles AS text[]))"
    "  t(id, role) WHERE NOT EXISTS (SELECT 1 FROM cons WHERE cons.id = t.id)"
    "  UNION ALL SELECT id, 'consumer_cut_off' FROM cons),"
    # The features' rows, read once for the GeoJSON and for the municipalities.
    " rf AS MATERIALIZED (SELECT r.role, f.id, f.layer_id, f.utility_code, f.name,"
    "  f.operator_id, f.external_id, f.attributes, f.geom"
    "  FROM r JOIN network_features f ON f.id = r.id),"
    " g AS (SELECT geom FROM rf WHERE role <> 'consumer_cut_off'"
    "  AND CAST(:with_municipalities AS boolean))"
    " SELECT a.count, a.body,"
    # The consumers cut off: people (accounts), buildings, the social objects among them.
    " (SELECT json_build_object('consumers', coalesce(sum(consumers), 0), 'buildings', count(*),"
    "  'social_objects', coalesce(json_agg(json_build_object('id', id, 'name', name,"
    "  'kind', kind, 'consumers', consumers, 'address', address) ORDER BY id)"
    "  FILTER (WHERE kind = ANY(:social)), '[]')) FROM cons),"
    # Settlements whose every consumer supplied with the utility is among those cut off: from
    # the cut-off consumers to their settlements, then one indexed look (layer and bbox) for a
    # consumer of the same utility there that still has supply.
    " (SELECT coalesce(json_agg(json_build_object('id', m.id, 'slug', m.slug, 'kind', m.kind,"
    "  'name_ru', m.name_ru, 'name_en', m.name_en) ORDER BY m.id), '[]')"
    "  FROM municipalities m WHERE m.kind = ANY(:kinds)"
    "  AND EXISTS (SELECT 1 FROM cons WHERE cons.geom && m.geom"
    "   AND ST_Intersects(cons.geom, m.geom))"
    "  AND NOT EXISTS (SELECT 1 FROM network_features c"
    "   JOIN consumer_supplies s ON s.consumer_id = c.id AND s.utility_code = :u"
    "   WHERE c.layer_id IN (SELECT DISTINCT layer_id FROM cons)"
    "   AND c.geom && m.geom AND ST_Intersects(c.geom, m.geom)"
    "   AND c.id NOT IN (SELECT id FROM cons))),"
    " (SELECT coalesce(json_agg(json_build_object('id', id, 'layer', layer_id, 'name', name,"
    "  'kind', attributes->>'kind', 'dispatch_name', attributes->>'dispatch_name',"
    "  'operable', coalesce((attributes->>'operable')::boolean, true),"
    "  'state', attributes->>'state') ORDER BY id), '[]')"
    "  FROM network_features WHERE id = ANY(CAST(:devices AS bigint[]))),"
    f" ({DEPENDENTS_JSON.replace(':ids', ':lost')}),"
    f" CASE WHEN CAST(:with_municipalities AS boolean) THEN ({MUNICIPALITIES_OF_G}) END"
    " FROM (SELECT count(*) AS count, coalesce(string_agg("
    + FEATURE_TEXT.replace("r.role", "f.role")
    + ", ',' ORDER BY f.role = 'consumer_cut_off', f.role, f.id), '') AS body"
    " FROM rf f) a"
)


@dataclass
class AnswerParts:
    """What ANSWER_SQL found for one trace (the main one or a cascade step)."""

    count: int  # features answered, consumers included
    body: bytes  # their GeoJSON Features joined by commas, as the server wrote them
    figures: dict  # consumers, buildings, social objects (by kind) and settlements cut off
    devices: dict[int, dict]  # by id
    dependents: list[dict]  # features of other utilities that need one of the lost ones
    municipalities: list[dict] | None


def answer_parts(
    session: Session,
    utility: str,
    roles: dict[int, str],
    lost: set[int],
    devices: list[int],
    step: int | None = None,
    with_municipalities: bool = True,
) -> AnswerParts:
    """The features of a trace (`roles`) as GeoJSON with those cut off by the loss of `lost`,
    the figures, `devices`' details, the next cascade level and the municipalities concerned,
    in one statement."""
    row = session.execute(
        text(ANSWER_SQL),
        {
            "u": utility,
            "ids": int_array(roles),
            "roles": word_array(roles.values()),
            "lost": int_array(sorted(lost)),
            "devices": int_array(devices),
            "step": step,
            "social": list(SOCIAL_KINDS),
            "kinds": list(SETTLEMENT_KINDS),
            "with_municipalities": with_municipalities,
        },
        execution_options={TEXT_AS_BYTES: True},
    ).one()
    count, body, consumers, settlements, found, dependents, municipalities = row
    by_kind: dict[str, int] = {}
    for obj in consumers["social_objects"]:
        by_kind[obj["kind"]] = by_kind.get(obj["kind"], 0) + 1
    figures = {
        "consumers_cut_off": consumers["consumers"],
        "buildings_cut_off": consumers["buildings"],
        "social_objects_cut_off": consumers["social_objects"],
        "social_objects_by_kind": by_kind,
        "settlements_cut_off": settlements,
    }
    return AnswerParts(
        count, body, figures, {d["id"]: d for d in found}, dependents, municipalities
    )

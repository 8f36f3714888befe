"""The responsible operator of a point and a utility, with the rule that decided and why.

Rules, first match wins (docs/domain.md, "Routing": networks ignore boundaries, so the asset comes first):

1. `selected_feature` — the feature the dispatcher clicked, if it is within its layer's
   search distance;
2. `nearest_feature` — the owner of the nearest feature of the utility within its layer's
   `search_distance_m` (metres on the spheroid); ties: distance to the centimetre, then an owner
   whose service area covers the point, then the lower feature id;
3. `service_area` — the operator of the smallest service area of the utility covering the point;
   ties: higher priority, then the lower area id;
4. `designated` — the operator the most specific municipality around the point designates;
5. `unresolved` — nobody: a dispatcher assigns by hand, helped by the ranked candidates.

Every candidate of every rule is kept, ranked, with the reason it lost. The SQL is here because
it exists only for these rules; the units around a point come from gis_app.places.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.geometry import metres_per_degree
from gis_app.layers import LayerRegistry
from gis_app.places.municipalities import municipalities_at

RULES = ("selected_feature", "nearest_feature", "service_area", "designated", "unresolved")
FEATURES_PER_LAYER = 8

# text(): a LATERAL join per layer, each bounded by its own search distance, so one round trip
# serves every layer of the utility. The bbox (&&) uses the GiST index on (layer_id, geom); the
# geography ST_DWithin then checks metres on the spheroid, and KNN (<->) orders the few left.
_FEATURES_SQL = text(
    """
    WITH p AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS g)
    SELECT f.id, f.layer_id, f.operator_id, f.external_id, f.name, f.distance_m, l.max_d,
           o.short_name,
           EXISTS (SELECT 1 FROM service_areas s WHERE s.operator_id = f.operator_id
                   AND s.utility_code = :utility AND ST_Covers(s.geom, p.g)) AS serves_here
    FROM p
    CROSS JOIN unnest(CAST(:layers AS text[]), CAST(:dists AS float8[])) AS l(layer_id, max_d)
    CROSS JOIN LATERAL (
        SELECT f.id, f.layer_id, f.operator_id, f.external_id, f.name,
               ST_Distance(f.geom::geography, p.g::geography) AS distance_m
        FROM network_features f
        WHERE f.layer_id = l.layer_id
          AND f.geom && ST_Expand(p.g, l.max_d / :m_lon, l.max_d / :m_lat)
          AND ST_DWithin(f.geom::geography, p.g::geography, l.max_d)
        ORDER BY f.geom <-> p.g
        LIMIT :per_layer
    ) f
    JOIN operators o ON o.id = f.operator_id
    """
)

_SELECTED_SQL = text(
    """
    SELECT f.id, f.layer_id, f.operator_id, f.external_id, f.name, f.utility_code,
           ST_Distance(f.geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography),
           o.short_name
    FROM network_features f JOIN operators o ON o.id = f.operator_id WHERE f.id = :id
    """
)

_AREAS_SQL = text(
    """
    SELECT s.id, s.operator_id, s.name, s.priority, ST_Area(s.geom::geography) AS area_m2,
           o.short_name
    FROM service_areas s JOIN operators o ON o.id = s.operator_id
    WHERE s.utility_code = :utility
      AND ST_Covers(s.geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
    ORDER BY area_m2, s.priority DESC, s.id
    """
)

# The operator each municipality designates for the utility (the units come from places).
_DESIGNATED_SQL = text(
    """
    SELECT d.municipality_id, d.operator_id, o.short_name FROM designated_operators d
    JOIN operators o ON o.id = d.operator_id
    WHERE d.utility_code = :utility AND d.municipality_id = ANY(:ids)
    """
)


class FeatureMismatch(ValueError):
    """The clicked feature does not exist, is of another utility, or is too far from the point."""

    def __init__(self, message: str, code: str, **details: object) -> None:
        super().__init__(message)
        self.code = code
        self.details = details


@dataclass
class Candidate:
    """An operator one rule proposes, with what supports it and, unless it won, why it lost."""

    operator_id: int
    operator: str
    rule: str
    feature_id: int | None = None
    layer: str | None = None
    layer_title: str | None = None  # the layer's Russian title, for the reason a person reads
    layer_title_en: str | None = None
    external_id: str | None = None
    distance_m: float | None = None
    service_area_id: int | None = None
    service_area: str | None = None
    area_km2: float | None = None
    priority: int | None = None
    municipality: str | None = None
    rank: int = 0
    lost_because: str | None = None
    lost_because_en: str | None = None
    takes_utility: bool = True  # False: the operator does not list this utility it matched for


@dataclass
class Responsible:
    """The answer: the operator (or None), the deciding rule and reason, and every candidate."""

    operator_id: int | None
    operator: str | None
    rule: str
    reason: str
    reason_en: str
    feature_id: int | None = None
    layer: str | None = None
    external_id: str | None = None
    distance_m: float | None = None
    service_area_id: int | None = None
    municipality_id: int | None = None
    municipality: str | None = None
    candidates: list[Candidate] = field(default_factory=list)
    computed_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_json(self) -> dict:
        """The answer as JSON-ready data (distances rounded to 0.1 m)."""
        data = asdict(self)
        data["distance_m"] = _round(self.distance_m)
        data["computed_at"] = self.computed_at.isoformat()
        data["candidates"] = [
            {k: v for k, v in {**c, "distance_m": _round(c["distance_m"])}.items() if v is not None}
            for c in data["candidates"]
        ]
        return data


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _feature_candidates(
    session: Session, registry: LayerRegistry, utility: str, lon: float, lat: float
) -> list[Candidate]:
    layers = registry.for_utility(utility)
    if not layers:
        return []
    m_lon, m_lat = metres_per_degree(lat)
    rows = session.execute(
        _FEATURES_SQL,
        {
            "lon": lon,
            "lat": lat,
            "utility": utility,
            "layers": [layer.id for layer in layers],
            # 1 % slack: the box only pre-selects; ST_DWithin decides in metres.
            "dists": [layer.search_distance_m * 1.01 for layer in layers],
            "m_lon": m_lon,
            "m_lat": m_lat,
            "per_layer": FEATURES_PER_LAYER,
        },
    ).all()
    limits = {layer.id: layer.search_distance_m for layer in layers}
    rows = [r for r in rows if r.distance_m <= limits[r.layer_id]]
    # Distances equal to the centimetre are a tie (a point on a junction of two owners' pipes).
    rows.sort(key=lambda r: (round(r.distance_m, 2), not r.serves_here, r.id))
    return [
        Candidate(
            operator_id=r.operator_id,
            operator=r.short_name,
            rule="nearest_feature",
            feature_id=r.id,
            layer=r.layer_id,
            layer_title=registry.get(r.layer_id).title_ru,
            layer_title_en=registry.get(r.layer_id).title_en,
            external_id=r.external_id,
            distance_m=r.distance_m,
        )
        for r in rows
    ]


def _selected_candidate(
    session: Session, registry: LayerRegistry, utility: str, lon: float, lat: float, fid: int
) -> Candidate:
    row = session.execute(_SELECTED_SQL, {"lon": lon, "lat": lat, "id": fid}).one_or_none()
    if row is None:
        raise FeatureMismatch(f"Feature {fid} does not exist.", "feature_not_found", feature_id=fid)
    if row.utility_code != utility:
        raise FeatureMismatch(
            f"Feature {fid} belongs to utility '{row.utility_code}', not '{utility}'.",
            "feature_utility_mismatch",
            feature_id=fid,
            feature_utility=row.utility_code,
        )
    layer = registry.get(row.layer_id)
    limit = layer.search_distance_m if layer else 0.0
    distance = row[6]
    if distance > limit:
        raise FeatureMismatch(
            f"Feature {fid} is {distance:.1f} m from the point, beyond its layer's search "
            f"distance of {limit:g} m.",
            "feature_too_far",
            feature_id=fid,
            distance_m=round(distance, 1),
            search_distance_m=limit,
        )
    return Candidate(
        operator_id=row.operator_id,
        operator=row.short_name,
        rule="selected_feature",
        feature_id=row.id,
        layer=row.layer_id,
        layer_title=layer.title_ru if layer else None,
        layer_title_en=layer.title_en if layer else None,
        external_id=row.external_id,
        distance_m=distance,
    )


def find_responsible(
    session: Session,
    registry: LayerRegistry,
    utility: str,
    lon: float,
    lat: float,
    feature_id: int | None = None,
) -> Responsible:
    """The responsible operator for a point (EPSG:4326 lon/lat) and a utility code, with reasons.

    Raises FeatureMismatch when `feature_id` is given but cannot be the answer.
    """
    candidates: list[Candidate] = []
    if feature_id is not None:
        candidates.append(_selected_candidate(session, registry, utility, lon, lat, feature_id))
    candidates += [
        c
        for c in _feature_candidates(session, registry, utility, lon, lat)
        if c.feature_id != feature_id
    ]
    params = {"utility": utility, "lon": lon, "lat": lat}
    for r in session.execute(_AREAS_SQL, params):
        candidates.append(
            Candidate(
                operator_id=r.operator_id,
                operator=r.short_name,
                rule="service_area",
                service_area_id=r.id,
                service_area=r.name,
                area_km2=round(r.area_m2 / 1e6, 3),
                priority=r.priority,
            )
        )
    munis = municipalities_at(session, lon, lat)
    designated = {
        r.municipality_id: r
        for r in session.execute(
            _DESIGNATED_SQL, {"utility": utility, "ids": [m.id for m in munis]}
        )
    }
    for m in munis:
        if m.id in designated:
            candidates.append(
                Candidate(
                    operator_id=designated[m.id].operator_id,
                    operator=designated[m.id].short_name,
                    rule="designated",
                    municipality=m.name_ru,
                )
            )
    muni = munis[0] if munis else None
    base = {
        "municipality_id": muni.id if muni else None,
        "municipality": muni.name_ru if muni else None,
    }
    if not candidates:
        return Responsible(None, None, "unresolved", *UNRESOLVED, **base)
    # FixMyStreet's bodies_missing lesson: say so when a match does not declare this utility.
    serving = set(
        session.execute(
            text(
                "SELECT operator_id FROM operator_utilities"
                " WHERE utility_code = :utility AND operator_id = ANY(:ids)"
            ),
            {"utility": utility, "ids": sorted({c.operator_id for c in candidates})},
        ).scalars()
    )
    winner = candidates[0]
    for rank, cand in enumerate(candidates, start=1):
        cand.rank = rank
        cand.takes_utility = cand.operator_id in serving
        if cand is not winner:
            cand.lost_because, cand.lost_because_en = _why_lost(cand, winner)
    ru, en = _reason(winner)
    return Responsible(
        winner.operator_id,
        winner.operator,
        winner.rule,
        ru,
        en,
        feature_id=winner.feature_id,
        layer=winner.layer,
        external_id=winner.external_id,
        distance_m=winner.distance_m,
        service_area_id=winner.service_area_id,
        candidates=candidates,
        **base,
    )


UNRESOLVED = (
    "не найден: нет объектов сети рядом, зон обслуживания и назначенного оператора",
    "unresolved: no network feature nearby, no service area and no designated operator",
)


def reason_of(candidates: list[dict] | None) -> tuple[str, str]:
    """The reason (Russian, English) of a stored answer, rebuilt from its candidates as JSON (the
    winner first): an incident keeps the Russian line, the English page needs its own."""
    if not candidates:
        return UNRESOLVED
    names = set(Candidate.__dataclass_fields__)
    return _reason(Candidate(**{k: v for k, v in candidates[0].items() if k in names}))


# The rules as a dispatcher reads them (Russian, English), for "lost because" lines.
RULE_WORDS = {
    "selected_feature": ("выбранный объект", "the selected feature"),
    "nearest_feature": ("ближайший объект сети", "the nearest network feature"),
    "service_area": ("зона обслуживания", "the service area"),
    "designated": ("назначение муниципалитетом", "the municipality's designation"),
}


def _rule_words(rule: str) -> tuple[str, str]:
    return RULE_WORDS.get(rule, (rule, rule))


def _reason(w: Candidate) -> tuple[str, str]:
    # Answers stored before layer titles were kept name the layer by its id.
    title, title_en = w.layer_title or w.layer, w.layer_title_en or w.layer
    if w.rule == "selected_feature":
        return (
            f"выбранный объект «{title}» {w.external_id} в {w.distance_m:.1f} м",
            f"the selected feature '{title_en}' {w.external_id}, {w.distance_m:.1f} m away",
        )
    if w.rule == "nearest_feature":
        return (
            f"ближайший объект сети «{title}» {w.external_id} в {w.distance_m:.1f} м",
            f"nearest network feature '{title_en}' {w.external_id}, {w.distance_m:.1f} m away",
        )
    if w.rule == "service_area":
        return (
            f"точка в зоне обслуживания «{w.service_area}» ({w.area_km2:g} км², "
            f"приоритет {w.priority}); объектов сети в радиусе поиска нет",
            f"inside service area '{w.service_area}' ({w.area_km2:g} km², priority "
            f"{w.priority}); no network feature within the search distance",
        )
    return (
        f"оператор, назначенный муниципалитетом «{w.municipality}»; объектов сети и зон "
        "обслуживания нет",
        f"the operator designated by '{w.municipality}'; no feature nearby, no service area",
    )


def _why_lost(c: Candidate, w: Candidate) -> tuple[str, str]:
    """Why candidate `c` lost to the winner `w`: (Russian, English)."""
    if c.operator_id == w.operator_id and c.rule != w.rule:
        return (
            f"тот же оператор, по следующему правилу «{_rule_words(c.rule)[0]}»",
            f"agrees: the same operator, by the later rule '{_rule_words(c.rule)[1]}'",
        )
    if c.rule == w.rule == "nearest_feature":
        if round(c.distance_m, 2) > round(w.distance_m, 2):
            return (
                f"дальше: {c.distance_m:.1f} м против {w.distance_m:.1f} м",
                f"farther: {c.distance_m:.1f} m against {w.distance_m:.1f} m",
            )
        return (
            "то же расстояние; зона победителя покрывает точку или меньше id объекта",
            "same distance; the winner's owner serves this point, or has the lower feature id",
        )
    if c.rule == w.rule == "service_area":
        if c.area_km2 != w.area_km2:
            return (
                f"зона больше: {c.area_km2:g} км² против {w.area_km2:g} км²",
                f"larger area: {c.area_km2:g} km² against {w.area_km2:g} km²",
            )
        return (
            f"та же площадь; приоритет {c.priority} против {w.priority} или больше id зоны",
            f"same area; priority {c.priority} against {w.priority}, or a higher area id",
        )
    if c.rule == w.rule == "designated":
        return (
            "назначен более крупным муниципальным образованием",
            "designated by a larger municipality",
        )
    (c_ru, c_en), (w_ru, w_en) = _rule_words(c.rule), _rule_words(w.rule)
    return (f"правило «{c_ru}» идёт после «{w_ru}»", f"rule '{c_en}' comes after '{w_en}'")

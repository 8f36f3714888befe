"""The demo data: where it is, what it holds, and that loading it twice changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from gis_app.demo.load import load_demo
from gis_app.demo.operators import INN_WEIGHTS
from gis_app.layers import layer_registry, validate_attributes

UTILITIES = ("electricity", "heat", "gas", "water", "sewerage", "roads")

FINGERPRINT = text(
    """
    SELECT (SELECT md5(string_agg(layer_id || external_id || o.slug || attributes::text
                                  || ST_AsEWKB(f.geom)::text, ',' ORDER BY layer_id, external_id))
            FROM network_features f JOIN operators o ON o.id = f.operator_id),
           (SELECT md5(string_agg(slug || kind || coalesce(oktmo, '') || ST_AsEWKB(geom)::text, ','
                                  ORDER BY slug)) FROM municipalities),
           (SELECT md5(string_agg(slug || full_name || coalesce(inn, ''), ',' ORDER BY slug)) FROM operators),
           (SELECT md5(string_agg(o.slug || s.utility_code || s.priority || ST_AsEWKB(s.geom)::text, ','
                                  ORDER BY o.slug, s.utility_code, s.name)) FROM service_areas s
                                  JOIN operators o ON o.id = s.operator_id),
           (SELECT count(*) FROM incidents), (SELECT count(*) FROM incident_events)
    """
)


def test_load_twice_gives_the_same_content(app, session):
    before = session.execute(FINGERPRINT).one()
    with app.app_context():
        counts = load_demo(session, layer_registry(app))
        once = session.execute(FINGERPRINT).one()
        again = load_demo(session, layer_registry(app))
    assert counts == again
    assert session.execute(FINGERPRINT).one() == once == before
    assert counts["network_features"] >= 5000


@pytest.mark.parametrize("town", ["gatchina", "sosnovy-bor", "kirishi", "vyborg"])
def test_every_town_has_all_six_utilities_inside_it(session, town):
    rows = session.execute(
        text(
            """
            SELECT f.utility_code, count(*),
                   count(*) FILTER (WHERE ST_Within(f.geom, ST_Buffer(m.geom::geography, 3500)::geometry))
            FROM network_features f JOIN operators o ON o.id = f.operator_id
            JOIN operator_municipalities om ON om.operator_id = o.id
            JOIN municipalities m ON m.slug = :town
            WHERE ST_Intersects(f.geom, ST_Buffer(m.geom::geography, 3500)::geometry)
            GROUP BY f.utility_code
            """
        ),
        {"town": town},
    ).all()
    by_utility = {row[0]: row[1] for row in rows}
    assert set(UTILITIES) <= set(by_utility), by_utility
    assert all(n >= 5 for n in by_utility.values())


def test_towns_are_at_their_real_places(session):
    # Centres of the towns (hflabs/city, FIAS): each must lie inside its demo outline.
    towns = {
        "gatchina": (30.1282, 59.5652),
        "sosnovy-bor": (29.1292, 59.8773),
        "kirishi": (32.0205, 59.4474),
        "vyborg": (28.7526, 60.7096),
    }
    for slug, (lon, lat) in towns.items():
        inside = session.execute(
            text(
                "SELECT ST_Contains(geom, ST_SetSRID(ST_Point(:lon, :lat), 4326)) FROM municipalities"
                " WHERE slug = :slug"
            ),
            {"lon": lon, "lat": lat, "slug": slug},
        ).scalar_one()
        assert inside, slug


def test_hierarchy_nests_and_siblings_do_not_overlap(session):
    outside = (
        session.execute(
            text(
                "SELECT c.slug FROM municipalities c JOIN municipalities p ON p.id = c.parent_id "
                "WHERE NOT ST_Covers(ST_Buffer(p.geom, 1e-9), c.geom)"
            )
        )
        .scalars()
        .all()
    )
    assert outside == []
    overlaps = session.execute(
        text(
            "SELECT a.slug, b.slug FROM municipalities a JOIN municipalities b "
            "ON a.parent_id = b.parent_id AND a.id < b.id WHERE ST_Overlaps(a.geom, b.geom)"
        )
    ).all()
    assert overlaps == []
    kinds = dict(session.execute(text("SELECT slug, kind FROM municipalities")).all())
    assert kinds["leningrad-oblast"] == "oblast" and kinds["gatchina"] == "urban_settlement"
    assert kinds["sosnovy-bor"] == "urban_okrug"


def test_every_feature_fits_its_layer(app, session):
    registry = layer_registry(app)
    rows = session.execute(
        text(
            "SELECT layer_id, attributes, GeometryType(geom), ST_IsValid(geom) FROM network_features"
        )
    ).all()
    for layer_id, attributes, geometry_type, valid in rows:
        layer = registry.get(layer_id)
        assert layer is not None, layer_id
        assert validate_attributes(layer, attributes) == []
        assert geometry_type == layer.geometry and valid


def test_operators_are_marked_demo_with_well_formed_inn(session):
    rows = session.execute(
        text("SELECT short_name, full_name, inn, dispatch_email, is_demo FROM operators")
    ).all()
    assert len(rows) >= 10
    for short_name, full_name, inn, email, is_demo in rows:
        assert is_demo and short_name.startswith("ДЕМО") and full_name.startswith("ДЕМО")
        assert email.endswith(".demo.invalid")
        digits = [int(c) for c in inn]
        assert (
            sum(w * d for w, d in zip(INN_WEIGHTS, digits[:9], strict=True)) % 11 % 10 == digits[9]
        )


def test_each_town_has_designated_operators_and_service_areas(session):
    rows = session.execute(
        text(
            "SELECT m.slug, count(DISTINCT d.utility_code) FROM designated_operators d "
            "JOIN municipalities m ON m.id = d.municipality_id GROUP BY m.slug"
        )
    ).all()
    designated = dict(rows)
    for town in ("gatchina", "sosnovy-bor", "kirishi", "vyborg"):
        assert designated[town] == 7  # the six utilities and hot water (ГВС)
    # Service areas contain their own operator's features (the town ones: the town's networks).
    stray = session.execute(
        text(
            """
        SELECT count(*) FROM network_features f
        WHERE NOT EXISTS (SELECT 1 FROM service_areas s WHERE s.operator_id = f.operator_id
                          AND s.utility_code = f.utility_code AND ST_Intersects(s.geom, f.geom))
        """
        )
    ).scalar_one()
    assert stray == 0


def test_incidents_are_in_their_municipality_next_to_their_feature(session):
    rows = session.execute(
        text(
            """
        SELECT i.status, i.operator_id = f.operator_id, i.responsible_distance_m,
               ST_Contains(m.geom, i.geom)
        FROM incidents i JOIN network_features f ON f.id = i.feature_id
        JOIN municipalities m ON m.id = i.municipality_id
        """
        )
    ).all()
    assert len(rows) >= 20
    assert {r[0] for r in rows} >= {"new", "assigned", "in_progress", "resolved", "closed"}
    assert all(r[1] and r[2] < 30 and r[3] for r in rows)

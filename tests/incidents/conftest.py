"""Fixtures of the incident tests: a quiet spot of the oblast, builders, identities per role.

The spot (31.0 E, 59.0 N) lies in the oblast but in no demo town: no network feature within
kilometres, only the oblast-wide service areas (electricity, gas, roads) of the demo data.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from gis_app.layers import layer_registry
from gis_app.web.access import Identity
from incidents.incident_helpers import municipality_ids, operator_id


@pytest.fixture
def registry(app):
    return layer_registry(app)


@pytest.fixture
def make_operator(session):
    def make(slug: str, email: str | None = None, webhook: str | None = None) -> int:
        return session.execute(
            text(
                "INSERT INTO operators (slug, full_name, short_name, dispatch_email, webhook_url,"
                " webhook_secret) VALUES (:s, :s, :s, :e, :w, :k) RETURNING id"
            ),
            {"s": slug, "e": email, "w": webhook, "k": "s3cret" if webhook else None},
        ).scalar_one()

    return make


@pytest.fixture
def make_feature(session):
    def make(
        operator_id: int,
        wkt: str,
        layer: str = "water_mains",
        utility: str = "water",
        attributes: dict | None = None,
    ) -> int:
        attrs = attributes or {"diameter_mm": 200, "material": "steel"}
        return session.execute(
            text(
                "INSERT INTO network_features (layer_id, utility_code, operator_id, external_id,"
                " attributes, geom) VALUES (:l, :u, :o, 'T-' || :o || '-' || md5(:w), "
                " CAST(:a AS jsonb), ST_GeomFromText(:w, 4326)) RETURNING id"
            ),
            {"l": layer, "u": utility, "o": operator_id, "w": wkt, "a": json.dumps(attrs)},
        ).scalar_one()

    return make


@pytest.fixture
def make_area(session):
    def make(
        operator_id: int, wkt: str, utility: str = "water", priority: int = 0, name: str = "area"
    ) -> int:
        return session.execute(
            text(
                "INSERT INTO service_areas (operator_id, utility_code, name, priority, geom)"
                " VALUES (:o, :u, :n, :p, ST_Multi(ST_GeomFromText(:w, 4326))) RETURNING id"
            ),
            {"o": operator_id, "u": utility, "n": name, "p": priority, "w": wkt},
        ).scalar_one()

    return make


@pytest.fixture
def actors(session):
    """Identities of each role, as the access layer would give them."""
    return {
        "admin": Identity(1, "admin", "admin"),
        "dispatcher": Identity(2, "dispatcher-oblast", "dispatcher", None, None),
        "dispatcher-gatchina": Identity(
            3, "dispatcher-gatchina", "dispatcher", None, municipality_ids(session, "gatchinsky")
        ),
        "operator": Identity(
            4,
            "operator-vodokanal-gatchina",
            "operator",
            operator_id(session, "demo-vodokanal-gatchina"),
        ),
        "operator-gas": Identity(
            5, "operator-gas", "operator", operator_id(session, "demo-gazraspredelenie")
        ),
        "planner": Identity(6, "planner", "planner"),
    }

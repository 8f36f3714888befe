"""The migrations build the schema on an empty database, revert it, and match the models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from helpers import recreate_database
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from gis_app import config, migrate
from gis_app.migrate import include_object
from gis_app.models import Base

TABLES = {
    "municipalities",
    "utilities",
    "operators",
    "operator_utilities",
    "operator_municipalities",
    "designated_operators",
    "service_areas",
    "network_features",
    "incidents",
    "incident_events",
}


@pytest.fixture(scope="module")
def empty_url(postgis_url):
    url = make_url(config.sqlalchemy_url(postgis_url))
    url = url.set(database=f"{url.database}_migrations").render_as_string(hide_password=False)
    recreate_database(url)
    return url


def test_upgrade_downgrade_upgrade(empty_url):
    engine = create_engine(config.sqlalchemy_url(empty_url))
    migrate.upgrade(empty_url)
    assert TABLES <= set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        codes = set(conn.execute(text("SELECT code FROM utilities")).scalars())
        assert codes == {
            "electricity",
            "heat",
            "hot_water",
            "gas",
            "water",
            "sewerage",
            "roads",
            "housing",
        }
        srid = conn.execute(text("SELECT Find_SRID('public', 'network_features', 'geom')")).scalar()
        assert srid == 4326
        indexes = {
            row[0]
            for row in conn.execute(
                text("SELECT indexname FROM pg_indexes WHERE indexdef ILIKE '%USING gist%'")
            )
        }
        assert {
            "network_features_layer_geom",
            "municipalities_geom_idx",
            "service_areas_geom_idx",
            "incidents_geom_idx",
        } <= indexes
    migrate.downgrade(empty_url, "base")
    engine.dispose()
    engine = create_engine(config.sqlalchemy_url(empty_url))
    assert not TABLES & set(inspect(engine).get_table_names())
    migrate.upgrade(empty_url)
    engine.dispose()
    engine = create_engine(config.sqlalchemy_url(empty_url))
    assert TABLES <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_models_match_migrations(postgis_url):
    """Autogenerate against the migrated test database finds nothing to do."""
    engine = create_engine(config.sqlalchemy_url(postgis_url))
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include_object})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []


def test_constraints_reject_bad_rows(session):
    with pytest.raises(Exception, match="operator_inn"):
        session.execute(
            text(
                "INSERT INTO operators (slug, full_name, short_name, inn) VALUES ('x', 'X', 'X', '12ab')"
            )
        )


def test_switch_states_keep_their_meaning_in_the_electricians_words(empty_url):
    """Migration 0021: power switches stored with the valves' words keep their meaning (open
    passes → on, closed cuts → off), other layers' states untouched; and back on downgrade."""
    engine = create_engine(config.sqlalchemy_url(empty_url))
    migrate.upgrade(empty_url)
    migrate.downgrade(empty_url, "0021@-1")
    with engine.begin() as conn:
        op = conn.execute(
            text(
                "INSERT INTO operators (slug, full_name, short_name) VALUES ('t-mig', 'Т', 'Т')"
                " RETURNING id"
            )
        ).scalar_one()
        for n, (layer, utility, state) in enumerate(
            [
                ("power_switches", "electricity", "open"),
                ("power_switches", "electricity", "closed"),
                ("water_valves", "water", "closed"),
            ]  # fmt: skip
        ):
            conn.execute(
                text(
                    "INSERT INTO network_features (layer_id, utility_code, operator_id,"
                    " external_id, attributes, geom) VALUES (:l, :u, :o, :e,"
                    " jsonb_build_object('state', CAST(:s AS text)),"
                    " ST_SetSRID(ST_MakePoint(30.1, 59.5), 4326))"
                ),
                {"l": layer, "u": utility, "o": op, "e": f"mig-{n}", "s": state},
            )

    def states() -> list[str]:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    text(
                        "SELECT attributes->>'state' FROM network_features"
                        " WHERE external_id LIKE 'mig-%' ORDER BY external_id"
                    )
                ).scalars()
            )

    migrate.upgrade(empty_url)
    assert states() == ["on", "off", "closed"]
    migrate.downgrade(empty_url, "0021@-1")
    assert states() == ["open", "closed", "closed"]
    migrate.upgrade(empty_url)
    engine.dispose()

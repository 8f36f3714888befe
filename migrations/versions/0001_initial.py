"""The initial schema: municipalities, utilities, operators, service areas, network features,
incidents and their events; PostGIS and btree_gist; the six utilities of the design card.

Revision ID: 0001
Revises:
Create Date: 2026-11-26 13:07:21.551377
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


UTILITIES = [
    {
        "code": "electricity",
        "name_ru": "Электроснабжение",
        "name_en": "Electricity",
        "color": "#e31a1c",
        "sort_order": 10,
    },
    {
        "code": "heat",
        "name_ru": "Теплоснабжение",
        "name_en": "Heat",
        "color": "#ff7f00",
        "sort_order": 20,
    },
    {
        "code": "gas",
        "name_ru": "Газоснабжение",
        "name_en": "Gas",
        "color": "#b8a200",
        "sort_order": 30,
    },
    {
        "code": "water",
        "name_ru": "Водоснабжение",
        "name_en": "Water supply",
        "color": "#1f78b4",
        "sort_order": 40,
    },
    {
        "code": "sewerage",
        "name_ru": "Водоотведение",
        "name_en": "Sewerage",
        "color": "#6a3d9a",
        "sort_order": 50,
    },
    {
        "code": "roads",
        "name_ru": "Дороги",
        "name_en": "Roads",
        "color": "#636363",
        "sort_order": 60,
    },
]


def upgrade() -> None:
    # PostGIS for the geometries; btree_gist for the (layer_id, geom) index.
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.create_geospatial_table(
        "municipalities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("oktmo", sa.String(length=11), nullable=True),
        sa.Column("name_ru", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("is_demo", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('oblast', 'municipal_district', 'municipal_okrug', 'urban_okrug', 'urban_settlement', 'rural_settlement')",
            name="municipality_kind",
        ),
        sa.ForeignKeyConstraint(["parent_id"], ["municipalities.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("oktmo"),
        sa.UniqueConstraint("slug"),
    )
    op.create_index(
        op.f("ix_municipalities_parent_id"), "municipalities", ["parent_id"], unique=False
    )
    op.create_geospatial_index(
        "municipalities_geom_idx",
        "municipalities",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_table(
        "operators",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("full_name", sa.Text(), nullable=False),
        sa.Column("short_name", sa.Text(), nullable=False),
        sa.Column("inn", sa.String(length=12), nullable=True),
        sa.Column("dispatch_phone", sa.Text(), nullable=True),
        sa.Column("dispatch_email", sa.Text(), nullable=True),
        sa.Column("is_demo", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("inn ~ '^([0-9]{10}|[0-9]{12})$'", name="operator_inn"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("inn"),
        sa.UniqueConstraint("slug"),
    )
    op.create_table(
        "utilities",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name_ru", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("color", sa.String(length=7), nullable=False),
        sa.Column("sort_order", sa.Integer(), server_default="100", nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    utilities = sa.table(
        "utilities",
        sa.column("code"),
        sa.column("name_ru"),
        sa.column("name_en"),
        sa.column("color"),
        sa.column("sort_order"),
    )
    op.bulk_insert(utilities, UTILITIES)
    op.create_table(
        "designated_operators",
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column("utility_code", sa.String(length=32), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["municipality_id"], ["municipalities.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["utility_code"],
            ["utilities.code"],
        ),
        sa.PrimaryKeyConstraint("municipality_id", "utility_code"),
    )
    op.create_index(
        op.f("ix_designated_operators_operator_id"),
        "designated_operators",
        ["operator_id"],
        unique=False,
    )
    op.create_geospatial_table(
        "network_features",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("layer_id", sa.String(length=64), nullable=False),
        sa.Column("utility_code", sa.String(length=32), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column(
            "attributes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("is_demo", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "geom",
            Geometry(
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "GeometryType(geom) IN ('POINT', 'LINESTRING', 'MULTILINESTRING', 'MULTIPOINT')",
            name="feature_geometry_type",
        ),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["utility_code"],
            ["utilities.code"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("layer_id", "operator_id", "external_id", name="feature_external_id"),
    )
    op.create_index(
        op.f("ix_network_features_operator_id"), "network_features", ["operator_id"], unique=False
    )
    op.create_index(
        op.f("ix_network_features_utility_code"), "network_features", ["utility_code"], unique=False
    )
    op.create_index(
        "network_features_layer_geom",
        "network_features",
        ["layer_id", "geom"],
        unique=False,
        postgresql_using="gist",
    )
    op.create_index(
        "network_features_utility_geom",
        "network_features",
        ["utility_code", "geom"],
        unique=False,
        postgresql_using="gist",
    )
    op.create_table(
        "operator_municipalities",
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["municipality_id"], ["municipalities.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("operator_id", "municipality_id"),
    )
    op.create_table(
        "operator_utilities",
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("utility_code", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["utility_code"],
            ["utilities.code"],
        ),
        sa.PrimaryKeyConstraint("operator_id", "utility_code"),
    )
    op.create_geospatial_table(
        "service_areas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("utility_code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("priority", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["utility_code"],
            ["utilities.code"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_service_areas_operator_id"), "service_areas", ["operator_id"], unique=False
    )
    op.create_index(
        op.f("ix_service_areas_utility_code"), "service_areas", ["utility_code"], unique=False
    )
    op.create_geospatial_index(
        "service_areas_geom_idx",
        "service_areas",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_table(
        "incidents",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), server_default="incident", nullable=False),
        sa.Column("utility_code", sa.String(length=32), nullable=False),
        sa.Column("category", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("status", sa.String(length=16), server_default="new", nullable=False),
        sa.Column("priority", sa.Integer(), server_default="3", nullable=False),
        sa.Column("reporter_contact", sa.Text(), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("municipality_id", sa.Integer(), nullable=True),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("feature_id", sa.BigInteger(), nullable=True),
        sa.Column("responsible_rule", sa.String(length=32), nullable=True),
        sa.Column("responsible_reason", sa.Text(), nullable=True),
        sa.Column("responsible_distance_m", sa.Float(), nullable=True),
        sa.Column(
            "responsible_candidates",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
        sa.Column("duplicate_of", sa.BigInteger(), nullable=True),
        sa.Column("consumers_cut_off", sa.Integer(), nullable=True),
        sa.Column(
            "social_objects_cut_off",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
        sa.Column(
            "utilities_cut_off",
            postgresql.ARRAY(sa.String(length=32)),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("supply_stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "reported_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("accept_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolve_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("is_demo", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('accident', 'incident', 'planned_outage')", name="incident_kind"
        ),
        sa.CheckConstraint(
            "status IN ('new', 'assigned', 'accepted', 'in_progress', 'resolved', 'closed', 'rejected', 'duplicate')",
            name="incident_status",
        ),
        sa.CheckConstraint("priority BETWEEN 1 AND 4", name="incident_priority"),
        sa.ForeignKeyConstraint(["duplicate_of"], ["incidents.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["feature_id"], ["network_features.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["municipality_id"], ["municipalities.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["utility_code"],
            ["utilities.code"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_geospatial_index(
        "incidents_geom_idx",
        "incidents",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        op.f("ix_incidents_municipality_id"), "incidents", ["municipality_id"], unique=False
    )
    op.create_index(op.f("ix_incidents_operator_id"), "incidents", ["operator_id"], unique=False)
    op.create_index(op.f("ix_incidents_status"), "incidents", ["status"], unique=False)
    op.create_index(op.f("ix_incidents_utility_code"), "incidents", ["utility_code"], unique=False)
    op.create_table(
        "incident_events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column(
            "data", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_incident_events_incident_id"), "incident_events", ["incident_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_incident_events_incident_id"), table_name="incident_events")
    op.drop_table("incident_events")
    op.drop_index(op.f("ix_incidents_utility_code"), table_name="incidents")
    op.drop_index(op.f("ix_incidents_status"), table_name="incidents")
    op.drop_index(op.f("ix_incidents_operator_id"), table_name="incidents")
    op.drop_index(op.f("ix_incidents_municipality_id"), table_name="incidents")
    op.drop_geospatial_index(
        "incidents_geom_idx", table_name="incidents", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("incidents")
    op.drop_geospatial_index(
        "service_areas_geom_idx",
        table_name="service_areas",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_index(op.f("ix_service_areas_utility_code"), table_name="service_areas")
    op.drop_index(op.f("ix_service_areas_operator_id"), table_name="service_areas")
    op.drop_geospatial_table("service_areas")
    op.drop_table("operator_utilities")
    op.drop_table("operator_municipalities")
    op.drop_index(
        "network_features_utility_geom", table_name="network_features", postgresql_using="gist"
    )
    op.drop_index(
        "network_features_layer_geom", table_name="network_features", postgresql_using="gist"
    )
    op.drop_index(op.f("ix_network_features_utility_code"), table_name="network_features")
    op.drop_index(op.f("ix_network_features_operator_id"), table_name="network_features")
    op.drop_geospatial_table("network_features")
    op.drop_index(op.f("ix_designated_operators_operator_id"), table_name="designated_operators")
    op.drop_table("designated_operators")
    op.drop_table("utilities")
    op.drop_table("operators")
    op.drop_geospatial_index(
        "municipalities_geom_idx",
        table_name="municipalities",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_index(op.f("ix_municipalities_parent_id"), table_name="municipalities")
    op.drop_geospatial_table("municipalities")

"""Network topology (issue 16): nodes, feature links, consumers' suppliers, cross-utility
dependencies; incidents get settlements cut off, computed figures and caused_by; the 'housing'
utility holds the consumers layer.

Revision ID: 0014
Revises: 0001
Depends on: 0004 (incidents)
"""

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014"
down_revision = "0001"
branch_labels = None
depends_on = ("0004",)


def upgrade() -> None:
    """The topology tables and the incident columns."""
    op.execute(
        "INSERT INTO utilities (code, name_ru, name_en, color, sort_order) VALUES"
        " ('housing', 'Жилищный фонд и потребители', 'Housing and consumers', '#4d4d4d', 90)"
        " ON CONFLICT (code) DO NOTHING"
    )
    op.create_table(
        "network_nodes",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("utility_code", sa.String(length=32), nullable=False),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="POINT",
                srid=4326,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "network_nodes_utility_geom",
        "network_nodes",
        ["utility_code", "geom"],
        unique=False,
        postgresql_using="gist",
    )
    op.create_table(
        "network_links",
        sa.Column("feature_id", sa.BigInteger(), nullable=False),
        sa.Column("utility_code", sa.String(length=32), nullable=False),
        sa.Column("layer_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("node_a", sa.BigInteger(), nullable=False),
        sa.Column("node_b", sa.BigInteger(), nullable=True),
        sa.Column("length_m", sa.Float(), server_default="0", nullable=False),
        sa.Column("closed", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("operable", sa.Boolean(), server_default="true", nullable=False),
        sa.CheckConstraint(
            "role IN ('line', 'source', 'device', 'point')", name="network_link_role"
        ),
        sa.ForeignKeyConstraint(["feature_id"], ["network_features.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("feature_id"),
    )
    op.create_index("network_links_node_a", "network_links", ["node_a"])
    op.create_index("network_links_node_b", "network_links", ["node_b"])
    op.create_table(
        "consumer_supplies",
        sa.Column("consumer_id", sa.BigInteger(), nullable=False),
        sa.Column("utility_code", sa.String(length=32), nullable=False),
        sa.Column("feature_id", sa.BigInteger(), nullable=False),
        sa.Column("distance_m", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["consumer_id"], ["network_features.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["feature_id"], ["network_features.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("consumer_id", "utility_code"),
    )
    op.create_index(
        op.f("ix_consumer_supplies_feature_id"), "consumer_supplies", ["feature_id"], unique=False
    )
    op.create_table(
        "network_dependencies",
        sa.Column("dependent_id", sa.BigInteger(), nullable=False),
        sa.Column("supplier_id", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["dependent_id"], ["network_features.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["supplier_id"], ["network_features.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("dependent_id", "supplier_id"),
    )
    op.create_index(
        op.f("ix_network_dependencies_supplier_id"),
        "network_dependencies",
        ["supplier_id"],
        unique=False,
    )
    op.add_column(
        "incidents",
        sa.Column(
            "settlements_cut_off",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
    )
    op.add_column(
        "incidents",
        sa.Column(
            "cut_off_computed",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
    )
    op.add_column("incidents", sa.Column("caused_by_id", sa.BigInteger(), nullable=True))
    op.create_index(op.f("ix_incidents_caused_by_id"), "incidents", ["caused_by_id"])
    op.create_foreign_key(
        "incidents_caused_by_id_fkey",
        "incidents",
        "incidents",
        ["caused_by_id"],
        ["id"],
        ondelete="SET NULL",
    )


def downgrade() -> None:
    """Drop what upgrade made (the 'housing' utility goes only if nothing uses it)."""
    op.drop_constraint("incidents_caused_by_id_fkey", "incidents", type_="foreignkey")
    op.drop_index(op.f("ix_incidents_caused_by_id"), table_name="incidents")
    op.drop_column("incidents", "caused_by_id")
    op.drop_column("incidents", "cut_off_computed")
    op.drop_column("incidents", "settlements_cut_off")
    op.drop_table("network_dependencies")
    op.drop_table("consumer_supplies")
    op.drop_table("network_links")
    op.drop_table("network_nodes")
    op.execute(
        "DELETE FROM utilities u WHERE code = 'housing' AND NOT EXISTS"
        " (SELECT 1 FROM network_features f WHERE f.utility_code = u.code)"
        " AND NOT EXISTS (SELECT 1 FROM incidents i WHERE i.utility_code = u.code)"
        " AND NOT EXISTS (SELECT 1 FROM operator_utilities o WHERE o.utility_code = u.code)"
    )

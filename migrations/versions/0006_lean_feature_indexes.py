"""Leaner indexes on network_features: every query reaches features through their layer, so the
(utility_code, geom) GiST and the utility_code btree were maintained on each insert and never
read. Dropping them takes about a sixth off a large import.

Revision ID: 0006
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Drop the two unused indexes."""
    op.drop_index("network_features_utility_geom", table_name="network_features")
    op.drop_index("ix_network_features_utility_code", table_name="network_features")


def downgrade() -> None:
    """Create them again."""
    op.create_index(
        "ix_network_features_utility_code", "network_features", ["utility_code"], unique=False
    )
    op.create_index(
        "network_features_utility_geom",
        "network_features",
        ["utility_code", sa.text("geom")],
        unique=False,
        postgresql_using="gist",
    )

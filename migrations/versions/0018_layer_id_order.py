"""A btree on network_features (layer_id, id): a layer's features in key order, as its pages
are served. Without it a page walked the primary key through every other layer's rows, or took
all of a box's matches from the GiST index and sorted them (issue 17: a 1,000-feature page of a
town's roads was 11x slower in a 10M-feature table than in a 1M one, for the same answer).

Revision ID: 0018
Revises: 0001
Depends on: 0006 (the feature indexes it leaves)
"""

from alembic import op

revision = "0018"
down_revision = "0001"
branch_labels = None
depends_on = ("0006",)


def upgrade() -> None:
    """Create the index."""
    op.create_index("network_features_layer_id", "network_features", ["layer_id", "id"])


def downgrade() -> None:
    """Drop it."""
    op.drop_index("network_features_layer_id", table_name="network_features")

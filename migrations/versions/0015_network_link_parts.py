"""Network links in parts (issue 16): a line that other lines meet in its middle (a
T-junction) or that a device stands on is split, for the graph, into parts between its nodes;
network_links gets a part number and its key becomes (feature_id, part).

Revision ID: 0015
Revises: 0001
Depends on: 0014 (network topology)
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0001"
branch_labels = None
depends_on = ("0014",)


def upgrade() -> None:
    """The part column (0 for the existing, whole, links) in the primary key."""
    op.add_column(
        "network_links",
        sa.Column("part", sa.SmallInteger(), server_default="0", nullable=False),
    )
    op.drop_constraint("network_links_pkey", "network_links", type_="primary")
    op.create_primary_key("network_links_pkey", "network_links", ["feature_id", "part"])


def downgrade() -> None:
    """Back to one link per feature (the parts beyond the first are dropped: rebuild after)."""
    op.execute("DELETE FROM network_links WHERE part > 0")
    op.drop_constraint("network_links_pkey", "network_links", type_="primary")
    op.create_primary_key("network_links_pkey", "network_links", ["feature_id"])
    op.drop_column("network_links", "part")

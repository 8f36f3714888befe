"""Network links in parts (issue 16): a line that other lines meet in its middle (a
T-junction) or that a device stands on is split, for the graph, into parts between its nodes;
network_links gets a part number and its key becomes (feature_id, part). Its foreign key to
network_features (a check per inserted link: 2 s of an import of 200,000 lines) is replaced by a
statement trigger that deletes the links of deleted features.

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
    op.drop_constraint("network_links_feature_id_fkey", "network_links", type_="foreignkey")
    op.execute(
        "CREATE FUNCTION network_links_forget() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN DELETE FROM network_links l USING old_rows o WHERE l.feature_id = o.id;"
        " RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER network_features_forget_links AFTER DELETE ON network_features"
        " REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT"
        " EXECUTE FUNCTION network_links_forget()"
    )


def downgrade() -> None:
    """Back to one link per feature (the parts beyond the first are dropped: rebuild after)."""
    op.execute("DROP TRIGGER network_features_forget_links ON network_features")
    op.execute("DROP FUNCTION network_links_forget()")
    op.execute(
        "DELETE FROM network_links l WHERE NOT EXISTS"
        " (SELECT 1 FROM network_features f WHERE f.id = l.feature_id)"
    )
    op.create_foreign_key(
        "network_links_feature_id_fkey",
        "network_links",
        "network_features",
        ["feature_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.execute("DELETE FROM network_links WHERE part > 0")
    op.drop_constraint("network_links_pkey", "network_links", type_="primary")
    op.create_primary_key("network_links_pkey", "network_links", ["feature_id"])
    op.drop_column("network_links", "part")

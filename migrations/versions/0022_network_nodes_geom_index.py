"""The topology's nodes are found by a spatial index on their position alone.

Migration 0014 indexed network_nodes on (utility_code, geom) with GiST (btree_gist for the text
column). Every node an import creates paid for that composite entry: 100,475 new nodes of a
200,000-line import took 1.1 s to insert, about three times a GiST on the position alone
(docs/benchmarks.md, issue 16). The readers (the upkeep's look-up of the nodes around a batch,
the T-junction probe, the report's near-misses) ask for one utility's nodes in a small box: the
box selects them and the utility is a filter on the few rows found. No trace reads nodes.

Revision ID: 0022
Revises: 0001
Depends on: 0014 (network topology)
"""

from alembic import op

revision = "0022"
down_revision = "0001"
branch_labels = None
depends_on = ("0014",)


def upgrade() -> None:
    """GiST on geom replaces GiST on (utility_code, geom)."""
    op.create_index("network_nodes_geom", "network_nodes", ["geom"], postgresql_using="gist")
    op.drop_index("network_nodes_utility_geom", table_name="network_nodes")


def downgrade() -> None:
    """Back to the composite index."""
    op.create_index(
        "network_nodes_utility_geom",
        "network_nodes",
        ["utility_code", "geom"],
        postgresql_using="gist",
    )
    op.drop_index("network_nodes_geom", table_name="network_nodes")

"""Feature edits: a record of every single-feature create, replace, update and delete (OGC API -
Features Part 4), with what a delete removed.

Revision ID: 0007
Revises: 0001
Depends on: 0003 (users)
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0001"
branch_labels = None
depends_on = "0003"


def upgrade() -> None:
    """The feature_edits table and its indexes."""
    op.create_table(
        "feature_edits",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("layer_id", sa.String(length=64), nullable=False),
        # No foreign key: the record of a deleted feature outlives it.
        sa.Column("feature_id", sa.BigInteger(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("removed_feature", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.CheckConstraint(
            "action IN ('create', 'replace', 'update', 'delete')", name="feature_edit_action"
        ),
        sa.CheckConstraint(
            "(action = 'delete') = (removed_feature IS NOT NULL)", name="feature_edit_removed"
        ),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_feature_edits_feature_id"), "feature_edits", ["feature_id"])
    op.create_index(op.f("ix_feature_edits_operator_id"), "feature_edits", ["operator_id"])
    op.create_index(op.f("ix_feature_edits_user_id"), "feature_edits", ["user_id"])


def downgrade() -> None:
    """Drop what upgrade made."""
    op.drop_index(op.f("ix_feature_edits_user_id"), table_name="feature_edits")
    op.drop_index(op.f("ix_feature_edits_operator_id"), table_name="feature_edits")
    op.drop_index(op.f("ix_feature_edits_feature_id"), table_name="feature_edits")
    op.drop_table("feature_edits")

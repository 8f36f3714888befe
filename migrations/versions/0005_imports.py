"""Imports: a record of every layer import, and who changed each network feature last.

Revision ID: 0005
Revises: 0001
Depends on: 0003 (users)
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0001"
branch_labels = None
depends_on = "0003"


def upgrade() -> None:
    """The imports table and network_features.updated_by."""
    op.create_table(
        "imports",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("layer_id", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.Text(), server_default="", nullable=False),
        sa.Column("file_format", sa.String(length=16), server_default="", nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("crs", sa.Text(), nullable=True),
        sa.Column("dry_run", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("added", sa.Integer(), server_default="0", nullable=False),
        sa.Column("changed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("removed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("unchanged", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rejected", sa.Integer(), server_default="0", nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column(
            "started_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("mode IN ('replace', 'upsert', 'append')", name="import_mode"),
        sa.CheckConstraint("status IN ('succeeded', 'failed')", name="import_status"),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_imports_operator_id"), "imports", ["operator_id"], unique=False)
    op.create_index(op.f("ix_imports_user_id"), "imports", ["user_id"], unique=False)
    op.add_column("network_features", sa.Column("updated_by", sa.Text(), nullable=True))


def downgrade() -> None:
    """Drop what upgrade made."""
    op.drop_column("network_features", "updated_by")
    op.drop_index(op.f("ix_imports_user_id"), table_name="imports")
    op.drop_index(op.f("ix_imports_operator_id"), table_name="imports")
    op.drop_table("imports")

"""The live oblast: retiring instead of deleting, and the record of admin changes.

Municipalities and operators gain `retired_at`/`retired_reason` (an operator also who took over
its incidents); links from accounts, incidents, features, imports, edits and planned outages to an
operator or a municipality no longer cascade or go NULL on delete, they restrict it: history is
never lost by removing a row (issue 12). `admin_changes` records who changed what, before/after.

0010b (incidents, planned outages) and 0010c (imports) restrict the keys of the other branches.

Revision ID: 0010
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0001"
branch_labels = None
depends_on = "0007"  # feature_edits, and through it 0003 (users)

# (table, column, referred table, ondelete before this revision)
RESTRICTED = [
    ("users", "operator_id", "operators", "CASCADE"),
    ("user_municipalities", "municipality_id", "municipalities", "CASCADE"),
    ("network_features", "operator_id", "operators", "CASCADE"),
    ("feature_edits", "operator_id", "operators", "CASCADE"),
]


def _refk(table: str, column: str, referred: str, ondelete: str) -> None:
    name = f"{table}_{column}_fkey"
    op.drop_constraint(name, table, type_="foreignkey")
    op.create_foreign_key(name, table, referred, [column], ["id"], ondelete=ondelete)


def upgrade() -> None:
    """Retirement columns, restricting foreign keys, the admin_changes table."""
    for table in ("municipalities", "operators"):
        op.add_column(table, sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True))
        op.add_column(table, sa.Column("retired_reason", sa.Text(), nullable=True))
    op.add_column("operators", sa.Column("handed_over_to", sa.Integer(), nullable=True))
    op.create_foreign_key(
        "operators_handed_over_to_fkey", "operators", "operators", ["handed_over_to"], ["id"],
        ondelete="RESTRICT",
    )  # fmt: skip
    for table, column, referred, _ in RESTRICTED:
        _refk(table, column, referred, "RESTRICT")
    op.create_table(
        "admin_changes",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("entity_key", sa.Text(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("after", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_admin_changes_entity", "admin_changes", ["entity", "entity_key"])
    op.create_index(op.f("ix_admin_changes_user_id"), "admin_changes", ["user_id"])


def downgrade() -> None:
    """Back to cascading keys and no retirement (retired rows stay, as plain rows)."""
    op.drop_index(op.f("ix_admin_changes_user_id"), table_name="admin_changes")
    op.drop_index("ix_admin_changes_entity", table_name="admin_changes")
    op.drop_table("admin_changes")
    for table, column, referred, ondelete in RESTRICTED:
        _refk(table, column, referred, ondelete)
    op.drop_constraint("operators_handed_over_to_fkey", "operators", type_="foreignkey")
    op.drop_column("operators", "handed_over_to")
    for table in ("municipalities", "operators"):
        op.drop_column(table, "retired_reason")
        op.drop_column(table, "retired_at")

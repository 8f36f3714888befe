"""The record of imports keeps its operator: deletes are restricted.

Revision ID: 0010c
Revises: 0010b
"""

from alembic import op

revision = "0010c"
down_revision = "0010b"
branch_labels = None
depends_on = "0005"

# (table, column, referred table, ondelete before this revision)
RESTRICTED = [("imports", "operator_id", "operators", "CASCADE")]


def _refk(table: str, column: str, referred: str, ondelete: str) -> None:
    name = f"{table}_{column}_fkey"
    op.drop_constraint(name, table, type_="foreignkey")
    op.create_foreign_key(name, table, referred, [column], ["id"], ondelete=ondelete)


def upgrade() -> None:
    """Restrict deletes through these keys."""
    for table, column, referred, _ in RESTRICTED:
        _refk(table, column, referred, "RESTRICT")


def downgrade() -> None:
    """The keys as they were."""
    for table, column, referred, ondelete in RESTRICTED:
        _refk(table, column, referred, ondelete)

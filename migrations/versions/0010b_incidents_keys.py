"""Incidents and planned outages keep their operator and municipality: deletes are restricted.

Revision ID: 0010b
Revises: 0010
"""

from alembic import op

revision = "0010b"
down_revision = "0010"
branch_labels = None
depends_on = "0004"

# (table, column, referred table, ondelete before this revision)
RESTRICTED = [
    ("incidents", "operator_id", "operators", "SET NULL"),
    ("incidents", "municipality_id", "municipalities", "SET NULL"),
    ("planned_outages", "operator_id", "operators", "CASCADE"),
]


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

"""Login failures: every failed password check, counted to block password guessing.

Revision ID: 0008
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """The login_failures table and its indexes (by name, by address, by age)."""
    op.create_table(
        "login_failures",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column(
            "failed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "login_failures_username_at", "login_failures", ["username", "failed_at"], unique=False
    )
    op.create_index(
        "login_failures_address_at", "login_failures", ["address", "failed_at"], unique=False
    )
    op.create_index("login_failures_at", "login_failures", ["failed_at"], unique=False)


def downgrade() -> None:
    """Drop what upgrade made."""
    op.drop_index("login_failures_at", table_name="login_failures")
    op.drop_index("login_failures_address_at", table_name="login_failures")
    op.drop_index("login_failures_username_at", table_name="login_failures")
    op.drop_table("login_failures")

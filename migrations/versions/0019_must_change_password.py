"""Password changes: users.must_change_password, set when an admin sets a user's password.

Revision ID: 0019
Revises: 0001
Depends on: 0003 (users)
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0001"
branch_labels = None
depends_on = ("0003",)


def upgrade() -> None:
    """users.must_change_password (false for every existing user)."""
    # The next login of a user whose password an admin set must change it before anything else.
    op.add_column(
        "users",
        sa.Column("must_change_password", sa.Boolean(), server_default="false", nullable=False),
    )


def downgrade() -> None:
    """Drop it again."""
    op.drop_column("users", "must_change_password")

"""Security (issue 11): a public summary of incidents, session versions, running imports.

Revision ID: 0009
Revises: 0001
Depends on: 0003 (users), 0004 (incidents), 0005 (imports)
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0001"
branch_labels = None
depends_on = ("0004", "0005")  # 0005 depends on 0003 (users)


def upgrade() -> None:
    """incidents.public_summary, users.session_version, imports.status 'running'."""
    # What Open311's public reads show instead of the caller's words (a dispatcher approves it).
    op.add_column("incidents", sa.Column("public_summary", sa.Text(), nullable=True))
    # Bumped by logout and by a password change: every older session cookie stops working.
    op.add_column(
        "users",
        sa.Column("session_version", sa.Integer(), server_default="1", nullable=False),
    )
    # An import is recorded 'running' before its work; a sweep marks those a dead worker left.
    op.drop_constraint("import_status", "imports", type_="check")
    op.create_check_constraint(
        "import_status", "imports", "status IN ('running', 'succeeded', 'failed')"
    )


def downgrade() -> None:
    """Drop them again (a running import counts as failed)."""
    op.execute("UPDATE imports SET status = 'failed' WHERE status = 'running'")
    op.drop_constraint("import_status", "imports", type_="check")
    op.create_check_constraint("import_status", "imports", "status IN ('succeeded', 'failed')")
    op.drop_column("users", "session_version")
    op.drop_column("incidents", "public_summary")

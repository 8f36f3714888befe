"""Hot water (ГВС) is a utility of its own: in the oblast it is usually supplied by the heat
company, not the water company, and the federal accident card counts it with heat; who answers
for it in a municipality is a designation (issue 12).

Revision ID: 0010d
Revises: 0010c
"""

import sqlalchemy as sa
from alembic import op

revision = "0010d"
down_revision = "0010c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """The hot_water row."""
    op.execute(
        sa.text(
            "INSERT INTO utilities (code, name_ru, name_en, color, sort_order) VALUES"
            " ('hot_water', 'Горячее водоснабжение (ГВС)', 'Hot water', '#f16913', 25)"
            " ON CONFLICT (code) DO NOTHING"
        )
    )


def downgrade() -> None:
    """Remove it (refused while rows point at it: nothing is lost silently)."""
    op.execute(sa.text("DELETE FROM utilities WHERE code = 'hot_water'"))

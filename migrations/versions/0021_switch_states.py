"""Power switches say "on"/"off", not the valves' "open"/"closed".

The layer file `power_switches` now names its states as an electrical dispatcher does
(«включён»/«отключён»), and `device_cut_states = ["off"]` (docs/network.md). Rows stored before
used the valve words with the valve meaning (closed = nothing passes), so each keeps its meaning:
open → on, closed → off. Their topology links already say closed/open and need no relink; the
layer's serving revision moves with the update (its trigger), so no cached tile shows the old
words.

Revision ID: 0021
Revises: 0001
"""

from alembic import op

revision = "0021"
down_revision = "0001"
branch_labels = None
depends_on = ("0002",)

_RENAME = """
UPDATE network_features
SET attributes = jsonb_set(attributes, '{{state}}',
        to_jsonb(CASE attributes->>'state' WHEN '{a}' THEN '{b}' ELSE '{c}' END)),
    updated_at = now()
WHERE layer_id = 'power_switches' AND attributes->>'state' IN ('{a}', '{d}')
"""


def upgrade() -> None:
    """open → on, closed → off."""
    op.execute(_RENAME.format(a="open", b="on", c="off", d="closed"))


def downgrade() -> None:
    """on → open, off → closed."""
    op.execute(_RENAME.format(a="on", b="open", c="closed", d="off"))

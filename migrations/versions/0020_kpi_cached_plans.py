"""The KPI facts trigger with cached plans: `kpi_refresh_facts` in PL/pgSQL, generic plans.

A LANGUAGE sql function of several statements is planned again at every call; planning the
facts view (five lateral joins) takes several times longer than running it for one incident, so
every incident event paid ~4 ms for the rollup. PL/pgSQL keeps each statement's plan for the
life of the connection, and a generic plan (index look-ups by incident id, right for one
incident and linear for a batch) is forced, since the planner would otherwise keep planning each
call for the array parameter. Measured in docs/kpi.md ("What keeping the facts costs").

Revision ID: 0020
Revises: 0001
"""

import importlib.util
from pathlib import Path

from alembic import op

revision = "0020"
down_revision = "0001"
branch_labels = None
depends_on = ("0013",)


def _kpi_revision():
    """Migration 0013's module (its function body is the one both versions run)."""
    path = Path(__file__).with_name("0013_kpi.py")
    spec = importlib.util.spec_from_file_location("migration_0013_kpi", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade() -> None:
    """Replace the SQL function by a PL/pgSQL one running the same statements."""
    body = _kpi_revision().REFRESH_FUNCTION.split("$$")[1]
    op.execute(
        "CREATE OR REPLACE FUNCTION kpi_refresh_facts(ids bigint[]) RETURNS void"
        " LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan"
        f" AS $$\nBEGIN{body}END $$"
    )


def downgrade() -> None:
    """Back to 0013's LANGUAGE sql function (a language change needs a drop)."""
    op.execute("DROP FUNCTION kpi_refresh_facts(bigint[])")
    op.execute(_kpi_revision().REFRESH_FUNCTION)

"""`gis-app kpi`: the KPI summaries of calendar years and months (gis_app/kpi/summaries.py)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.orm import Session

from gis_app.kpi import summaries

kpi_group = AppGroup("kpi", help="KPI summaries of years and months for the dashboard.")


@kpi_group.command("refresh")
@click.option("--all", "everything", is_flag=True, help="Every year and month with incidents.")
def refresh_command(everything: bool) -> None:
    """Remake the stale summaries and those of the current year and month."""
    max_age = int(current_app.config["GIS_APP_KPI_MAX_AGE_S"])
    with Session(current_app.config["ENGINE"]) as session, session.begin():
        n = summaries.refresh_stale(session, everything=everything, max_age_s=max_age)
    click.echo(f"{n} KPI summaries made")

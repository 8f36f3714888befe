"""`gis-app notify`: the incident worker (overdue checks and the notification outbox)."""

from __future__ import annotations

import time

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.orm import Session

from gis_app.incidents import notify
from gis_app.incidents.worker import run_once
from gis_app.kpi import summaries

notify_group = AppGroup("notify", help="Incident notifications: overdue checks and the outbox.")


@notify_group.command("run")
@click.option("--once", is_flag=True, help="One cycle, then exit.")
@click.option("--interval", default=10.0, show_default=True, help="Seconds between cycles.")
def run_command(once: bool, interval: float) -> None:
    """Flag overdue incidents and send due notifications, forever (or --once)."""
    settings = notify.NotifySettings.from_config(current_app.config)
    max_age = int(current_app.config["GIS_APP_KPI_MAX_AGE_S"])
    while True:
        with Session(current_app.config["ENGINE"]) as session, session.begin():
            counts = run_once(session, settings)
        # The KPI summaries the events of this cycle (and of the web) made stale, in a
        # transaction of their own: a slow report never holds up the notifications.
        with Session(current_app.config["ENGINE"]) as session, session.begin():
            counts["kpi_summaries"] = summaries.refresh_stale(session, max_age_s=max_age)
        click.echo(", ".join(f"{n} {name}" for name, n in counts.items()))
        if once:
            return
        time.sleep(interval)


@notify_group.command("retry-failed")
def retry_failed_command() -> None:
    """Queue every failed notification again (after fixing the receiver)."""
    with Session(current_app.config["ENGINE"]) as session, session.begin():
        n = notify.retry_failed(session)
    click.echo(f"{n} notifications queued again")

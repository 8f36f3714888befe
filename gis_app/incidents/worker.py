"""The background work: flag overdue incidents, deliver the outbox. `gis-app notify run`."""

from __future__ import annotations

import time

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.incidents import notify
from gis_app.incidents.deadlines import OVERDUE_SQL
from gis_app.incidents.lifecycle import record

notify_group = AppGroup("notify", help="Incident notifications: overdue checks and the outbox.")


def mark_overdue(session: Session) -> list[int]:
    """Flag incidents that became overdue since the last check; queue a message for each."""
    ids = (
        session.execute(
            text(
                f"UPDATE incidents i SET overdue_notified_at = now() WHERE {OVERDUE_SQL}"
                " AND i.overdue_notified_at IS NULL AND i.operator_id IS NOT NULL RETURNING i.id"
            )
        )
        .scalars()
        .all()
    )
    for incident_id in sorted(ids):
        record(session, incident_id, "system", "overdue", None, None, "срок истёк / overdue")
        notify.enqueue(session, incident_id, "overdue")
    return sorted(ids)


def run_once(session: Session, settings: notify.NotifySettings) -> dict[str, int]:
    """One cycle: overdue check, then every due delivery. The caller commits."""
    overdue = mark_overdue(session)
    counts = notify.deliver_due(session, settings)
    return {"overdue": len(overdue), **counts}


@notify_group.command("run")
@click.option("--once", is_flag=True, help="One cycle, then exit.")
@click.option("--interval", default=10.0, show_default=True, help="Seconds between cycles.")
def run_command(once: bool, interval: float) -> None:
    """Flag overdue incidents and send due notifications, forever (or --once)."""
    settings = notify.NotifySettings.from_config(current_app.config)
    while True:
        with Session(current_app.config["ENGINE"]) as session, session.begin():
            counts = run_once(session, settings)
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

"""`gis-app network`: rebuild the topology, report what does not connect, run a trace."""

from __future__ import annotations

import json
import time

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.orm import Session

from gis_app.layers import layer_registry
from gis_app.network.report import connectivity_report
from gis_app.network.service import trace_answer
from gis_app.network.topology import rebuild
from gis_app.network.traces import TRACE_TYPES

network_group = AppGroup("network", help="Network topology: rebuild, report, trace.")


@network_group.command("rebuild")
@click.option("--utility", default=None, help="Only this utility (default: every one).")
def rebuild_command(utility: str | None) -> None:
    """Drop and rebuild the topology from the layers, then the consumers' suppliers."""
    started = time.monotonic()
    with Session(current_app.config["ENGINE"]) as session, session.begin():
        counts = rebuild(session, layer_registry(), utility)
    summary = ", ".join(f"{n} {layer}" for layer, n in counts.items())
    click.echo(f"topology rebuilt in {time.monotonic() - started:.1f} s: {summary}")


@network_group.command("report")
@click.argument("utility")
@click.option("--limit", default=20, show_default=True, help="Entries listed per problem.")
def report_command(utility: str, limit: int) -> None:
    """Print what does not connect in a utility's network (JSON)."""
    with Session(current_app.config["ENGINE"]) as session:
        report = connectivity_report(session, layer_registry(), utility, limit)
    click.echo(json.dumps(report, ensure_ascii=False, indent=1, default=str))


@network_group.command("trace")
@click.argument("feature_id", type=int)
@click.option("--type", "trace_type", type=click.Choice(TRACE_TYPES), default="isolation")
def trace_command(feature_id: int, trace_type: str) -> None:
    """Print a trace's figures (without the features) as JSON."""
    with Session(current_app.config["ENGINE"]) as session:
        answer = trace_answer(session, feature_id, trace_type)
    click.echo(json.dumps(answer["trace"], ensure_ascii=False, indent=1, default=str))

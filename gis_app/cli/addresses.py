"""`gis-app addresses import FILE.osm.pbf|.osm`: the address search's data, from OpenStreetMap."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.addresses import import_osm
from gis_app.errors import AppError

addresses_group = AppGroup("addresses", help="Address search: import from an OSM extract.")


@addresses_group.command("import")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def import_addresses(path: Path) -> None:
    """Load buildings, address points and streets of an OSM extract; replaces the current set."""
    engine = current_app.config["ENGINE"]
    try:
        with Session(engine) as session, session.begin():
            summary = import_osm(session, path)
    except AppError as exc:
        raise click.ClickException(exc.message) from exc
    # Fresh statistics for the planner right away (ANALYZE cannot run inside the import).
    with engine.connect() as conn:
        conn.execute(text("ANALYZE address_streets, addresses"))
        conn.commit()
    click.echo(
        f"addresses imported from {path.name}: {summary.addresses} addresses on "
        f"{summary.streets} streets (generation {summary.generation}) in {summary.seconds:.1f} s"
    )

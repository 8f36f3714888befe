"""The `gis-app` command: the app's Flask CLI plus the project's own commands.

Each command prints a one-line summary and exits non-zero on failure.
"""

from __future__ import annotations

import sys
import time

import click
from flask import current_app
from flask.cli import AppGroup, FlaskGroup
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app import create_app, layer_registry


def _create_app():
    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def main() -> None:
    """Map service of a control centre: utility networks, operators and incidents."""


localdb = AppGroup("localdb", help="The project-local PostgreSQL cluster under var/.")
db_group = AppGroup("db", help="Schema migrations (Alembic).")
demo = AppGroup("demo", help="The demo data of four towns.")
layers = AppGroup("layers", help="The layer files in layers/.")
for group in (localdb, db_group, demo, layers):
    main.add_command(group)


@localdb.command("start", with_appcontext=False)
def localdb_start() -> None:
    """Create and start the cluster unless DATABASE_URL names a database; print the URL's host."""
    from gis_app import config
    from gis_app import localdb as local

    if config.env("DATABASE_URL"):
        click.echo("DATABASE_URL is set: using it, no local cluster")
        return
    try:
        url = local.start(int(config.env("GIS_APP_LOCAL_PG_PORT", "54329")))
    except local.LocalDbError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"local PostgreSQL ready at {url.split('@')[1]} (URL in var/database_url)")


@localdb.command("stop", with_appcontext=False)
def localdb_stop() -> None:
    """Stop the project-local cluster."""
    from gis_app import localdb as local

    click.echo("local PostgreSQL stopped" if local.stop() else "local PostgreSQL was not running")


@localdb.command("url", with_appcontext=False)
def localdb_url() -> None:
    """Print the database URL the app will use."""
    from gis_app.config import load_config

    click.echo(load_config()["DATABASE_URL"])


@db_group.command("upgrade", with_appcontext=False)
@click.argument("revision", default="heads")
def db_upgrade(revision: str) -> None:
    """Apply the migrations (default: all of them)."""
    from gis_app import migrate
    from gis_app.config import load_config

    migrate.upgrade(load_config()["DATABASE_URL"], revision)
    click.echo(f"database migrated to {revision}")


@db_group.command("downgrade", with_appcontext=False)
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert the migrations down to REVISION ('base' empties the schema)."""
    from gis_app import migrate
    from gis_app.config import load_config

    migrate.downgrade(load_config()["DATABASE_URL"], revision)
    click.echo(f"database downgraded to {revision}")


@demo.command("load")
def demo_load() -> None:
    """Load (or reload) the demo data of Gatchina, Sosnovy Bor, Kirishi and Vyborg."""
    from gis_app.demo.load import load_demo

    started = time.monotonic()
    with Session(current_app.config["ENGINE"]) as session, session.begin():
        counts = load_demo(session, layer_registry())
    summary = ", ".join(f"{n} {name}" for name, n in counts.items())
    click.echo(f"demo data loaded in {time.monotonic() - started:.1f} s: {summary}")


@layers.command("check")
def layers_check() -> None:
    """Check every layer file against the database's utilities (the files were read at start)."""
    with Session(current_app.config["ENGINE"]) as session:
        known = set(session.execute(text("SELECT code FROM utilities")).scalars())
    bad = [
        f"{layer.id}.toml: key 'utility': unknown utility '{layer.utility}'"
        for layer in layer_registry()
        if layer.utility not in known
    ]
    if bad:
        raise click.ClickException("; ".join(bad))
    click.echo(f"{len(layer_registry())} layer files OK")


@layers.command("list")
def layers_list() -> None:
    """List the layers: id, utility, geometry, title."""
    for layer in layer_registry():
        click.echo(f"{layer.id:20} {layer.utility:12} {layer.geometry:10} {layer.title_ru}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

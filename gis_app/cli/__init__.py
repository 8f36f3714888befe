"""The `gis-app` command: the app's Flask CLI plus the project's own commands.

Each command prints a one-line summary and exits non-zero on failure.
"""

from __future__ import annotations

import sys
import time

import click
from flask import current_app
from flask.cli import AppGroup, FlaskGroup
from sqlalchemy.orm import Session

from gis_app import create_app
from gis_app.accounts.users import disable_user, list_users
from gis_app.cli.addresses import addresses_group
from gis_app.cli.imports import import_command
from gis_app.cli.kpi import kpi_group
from gis_app.cli.municipalities import municipalities_group
from gis_app.cli.network import network_group
from gis_app.cli.notify import notify_group
from gis_app.cli.operators import COMMANDS as SETUP_COMMANDS
from gis_app.layers import layer_registry
from gis_app.utilities import utility_codes


def _create_app():
    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def main() -> None:
    """Map service of a control centre: utility networks, operators and incidents."""


localdb = AppGroup("localdb", help="The project-local PostgreSQL cluster under var/.")
db_group = AppGroup("db", help="Schema migrations (Alembic).")
demo = AppGroup("demo", help="The demo data of four towns.")
layers = AppGroup("layers", help="The layer files in layers/.")
users = AppGroup("users", help="Accounts: admin, dispatcher, operator staff, planner.")
tokens = AppGroup("tokens", help="API tokens for programs (Authorization: Bearer ...).")
for group in (localdb, db_group, demo, layers, users, tokens):
    main.add_command(group)
main.add_command(import_command)
main.add_command(notify_group)
main.add_command(addresses_group)
main.add_command(network_group)
main.add_command(municipalities_group)
for command in SETUP_COMMANDS:  # cli/operators.py: the oblast's set-up
    main.add_command(command)
main.add_command(kpi_group)


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
@click.option(
    "--auto",
    is_flag=True,
    help="as `make run` does: obey GIS_APP_DEMO (auto: skip when the database holds real data)",
)
def demo_load(auto: bool) -> None:
    """Load (or reload, in place) the demo data of Gatchina, Sosnovy Bor, Kirishi and Vyborg."""
    from gis_app.demo.load import load_demo
    from gis_app.demo.rows import DemoConflict, non_demo_rows

    started = time.monotonic()
    with Session(current_app.config["ENGINE"]) as session, session.begin():
        if auto:
            setting = current_app.config["GIS_APP_DEMO"]
            real = non_demo_rows(session) if setting == "auto" else {}
            if setting == "never" or real:
                why = ", ".join(f"{n} {t}" for t, n in real.items()) or "GIS_APP_DEMO=never"
                click.echo(f"demo data not loaded: the database holds real data ({why})"
                           if real else f"demo data not loaded: {why}")  # fmt: skip
                return
        try:
            counts = load_demo(session, layer_registry())
        except DemoConflict as exc:
            raise click.ClickException(str(exc)) from exc
    summary = ", ".join(f"{n} {name}" for name, n in counts.items())
    click.echo(f"demo data loaded in {time.monotonic() - started:.1f} s: {summary}")


@layers.command("check")
def layers_check() -> None:
    """Check every layer file against the database's utilities (the files were read at start)."""
    with Session(current_app.config["ENGINE"]) as session:
        known = set(utility_codes(session))
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


@users.command("create")
@click.argument("username")
@click.option(
    "--role", required=True, type=click.Choice(["admin", "dispatcher", "operator", "planner"])
)
@click.option("--operator", "operator_slug", help="the organisation of operator staff (its slug)")
@click.option(
    "--municipality",
    "municipalities",
    multiple=True,
    help="a dispatcher's municipality (slug); repeat for several; the oblast for all",
)
@click.option("--full-name", default="")
@click.option("--email")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
def users_create(username, role, operator_slug, municipalities, full_name, email, password_stdin):
    """Create a user; the password is asked for (or read from stdin with --password-stdin)."""
    from gis_app.accounts.users import create_user
    from gis_app.errors import AppError

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with Session(current_app.config["ENGINE"]) as session, session.begin():
            create_user(
                session,
                username,
                role,
                password,
                operator_slug,
                tuple(municipalities),
                full_name,
                email,
            )
    except AppError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"user {username} created ({role})")


@users.command("list")
def users_list():
    """List the users: name, role, operator, municipalities, active."""
    with Session(current_app.config["ENGINE"]) as session:
        rows = list_users(session)
    for u in rows:
        state = "" if u["is_active"] else "disabled"
        if u["must_change_password"]:
            state = (state + " must-change-password").strip()
        click.echo(
            f"{u['username']:32} {u['role']:10} {u['operator'] or u['municipalities'] or '':30}"
            f" {state}"
        )


@users.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
@click.option("--revoke-tokens", is_flag=True, help="also revoke the user's API tokens")
def users_set_password(username, password_stdin, revoke_tokens):
    """Set a user's password (asked for, or read from stdin; never an argument): their sessions
    end and they must change it at the next login."""
    from gis_app.accounts.passwords import set_password
    from gis_app.errors import AppError

    if password_stdin:
        password = repeat = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("New password", hide_input=True)
        repeat = click.prompt("Repeat for confirmation", hide_input=True)
    try:
        with Session(current_app.config["ENGINE"]) as session, session.begin():
            # Recorded as by "cli": whoever runs commands on the server (its own logs say who).
            set_password(session, username, password, repeat, "cli", revoke_tokens=revoke_tokens)
    except AppError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"password of {username} set; it must be changed at the next login")


@users.command("disable")
@click.argument("username")
def users_disable(username):
    """Disable a user: their logins and tokens stop working at once."""
    with Session(current_app.config["ENGINE"]) as session, session.begin():
        done = disable_user(session, username)
    if not done:
        raise click.ClickException(f"no user {username}")
    click.echo(f"user {username} disabled")


@tokens.command("create")
@click.argument("username")
@click.option("--name", default="", help="what the token is for")
@click.option("--days", default=365, show_default=True, type=click.IntRange(1, 3650))
def tokens_create(username, name, days):
    """Make an API token and print it alone on stdout (it is not shown again)."""
    from gis_app.accounts.users import create_token
    from gis_app.errors import AppError

    try:
        with Session(current_app.config["ENGINE"]) as session, session.begin():
            token = create_token(session, username, name, days)
    except AppError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(token)


@tokens.command("revoke")
@click.argument("token_id", type=int)
def tokens_revoke(token_id):
    """Revoke a token by its id (see `tokens list`)."""
    from gis_app.accounts.users import revoke_token

    with Session(current_app.config["ENGINE"]) as session, session.begin():
        if not revoke_token(session, token_id):
            raise click.ClickException(f"no active token {token_id}")
    click.echo(f"token {token_id} revoked")


@tokens.command("list")
def tokens_list():
    """List the tokens (never their secrets)."""
    from gis_app.accounts.users import list_tokens

    with Session(current_app.config["ENGINE"]) as session:
        for t in list_tokens(session):
            state = (
                "revoked"
                if t["revoked_at"]
                else f"expires {t['expires_at']:%Y-%m-%d}"
                if t["expires_at"]
                else ""
            )
            click.echo(f"{t['id']:5} {t['username']:30} {t['prefix']}… {t['name']:20} {state}")


def _add_export() -> None:
    from gis_app.cli.exports import export_command

    main.add_command(export_command)


_add_export()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""`gis-app operators|designations|service-areas|utilities|changes`: the oblast's set-up from the
command line, as an admin does it through /api/admin (the same domain functions)."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import click
from flask.cli import AppGroup, with_appcontext

from gis_app.changes import list_changes
from gis_app.cli.imports import echo_rejections
from gis_app.db import get_session
from gis_app.errors import AppError
from gis_app.operators import admin
from gis_app.operators.areas import AreaImport, import_service_areas, set_designation
from gis_app.utilities import add_utility

operators_group = AppGroup("operators", help="Operators: create, edit, retire (admin set-up).")
designations_group = AppGroup("designations", help="Who a municipality designates per utility.")
areas_group = AppGroup("service-areas", help="Operators' service areas from files.")
utilities_group = AppGroup("utilities", help="The utilities (rows; their layers are files).")


def _who(user: str | None) -> str:
    return user or f"cli:{getpass.getuser()}"


def _run(action, commit: bool = True):
    """Run a domain call in the app's Session; commit (a dry run rolls back), or roll back and
    exit non-zero naming why."""
    session = get_session()
    try:
        result = action(session)
    except AppError as exc:
        session.rollback()
        echo_rejections(exc.details)
        details = {
            k: v for k, v in exc.details.items() if k not in ("reasons", "rejected_features")
        }
        raise click.ClickException(f"{exc.message} {json.dumps(details, ensure_ascii=False)}"
                                   if details else exc.message) from exc  # fmt: skip
    if commit:
        session.commit()
    else:
        session.rollback()
    return result


def _fields(pairs: tuple[str, ...]) -> dict:
    """FIELD=VALUE pairs; utilities and municipalities take comma-separated lists."""
    body = {}
    for pair in pairs:
        field, sep, value = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"{pair!r}: use FIELD=VALUE", param_hint="--set")
        lists = ("utilities", "municipalities")
        body[field] = [v for v in value.split(",") if v] if field in lists else value
    return body


@operators_group.command("create")
@click.option("--set", "pairs", multiple=True, required=True,
              help="FIELD=VALUE: slug, full_name, short_name, inn, dispatch_phone, dispatch_email,"
                   " webhook_url, utilities=a,b, municipalities=x,y; repeat")  # fmt: skip
@click.option("--user", help="who to record (default: cli:<OS user>)")
def operators_create(pairs, user):
    """Create an operator (the INN's check digits are checked)."""
    row = _run(lambda s: admin.create_operator(s, _who(user), None, _fields(pairs)))
    click.echo(f"operator {row['slug']} created (id {row['id']}): {', '.join(row['utilities'])}")


@operators_group.command("edit")
@click.argument("operator")
@click.option("--set", "pairs", multiple=True, required=True, help="FIELD=VALUE; repeat")
@click.option("--user", help="who to record (default: cli:<OS user>)")
def operators_edit(operator, pairs, user):
    """Change fields of OPERATOR (slug or id)."""
    row = _run(lambda s: admin.update_operator(s, _who(user), None, operator, _fields(pairs)))
    click.echo(f"operator {row['slug']} updated")


@operators_group.command("retire")
@click.argument("operator")
@click.option("--successor", required=True, help="the operator that takes over (slug or id)")
@click.option("--reason", required=True, help="why (kept in the record)")
@click.option("--user", help="who to record (default: cli:<OS user>)")
def operators_retire(operator, successor, reason, user):
    """Retire OPERATOR: open incidents, networks, areas and designations go to the successor."""
    done = _run(lambda s: admin.retire_operator(s, _who(user), None, operator, successor, reason))
    moved = ", ".join(f"{n} {what}" for what, n in done["handed_over"].items())
    click.echo(f"operator {operator} retired; to {done['successor']}: {moved}")


@designations_group.command("set")
@click.argument("municipality")
@click.argument("utility")
@click.argument("operator", required=False)
@click.option("--user", help="who to record (default: cli:<OS user>)")
def designations_set(municipality, utility, operator, user):
    """Designate OPERATOR for UTILITY in MUNICIPALITY (no OPERATOR: remove the designation)."""
    done = _run(lambda s: set_designation(s, _who(user), None, municipality, utility, operator))
    click.echo(f"{done['municipality']}/{done['utility']}: {done['before'] or '-'} → "
               f"{done['operator'] or '-'}")  # fmt: skip


@areas_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--operator", required=True)
@click.option("--utility", required=True)
@click.option("--name-field", help="the column naming each area")
@click.option("--priority-field", help="the column of each area's priority")
@click.option("--priority", type=int, default=0, show_default=True, help="priority otherwise")
@click.option("--replace", is_flag=True, help="drop the operator's other areas of this utility")
@click.option("--crs", help="the file's CRS if it does not say")
@click.option("--dry-run", is_flag=True, help="check and report, write nothing")
@click.option("--user", help="who to record (default: cli:<OS user>)")
def areas_import(file, operator, utility, name_field, priority_field, priority, replace, crs,
                 dry_run, user):  # fmt: skip
    """Import an operator's service areas for a utility from FILE (polygons; all or nothing)."""
    req = AreaImport(Path(file), operator, utility, name_field, priority_field, priority, replace,
                     dry_run, crs, Path(file).name, _who(user))  # fmt: skip
    report = _run(lambda s: import_service_areas(s, req), commit=not dry_run)
    echo_rejections(report)
    click.echo(f"{'dry run: ' if dry_run else ''}{report['features']} areas of {report['operator']}"
               f" for {report['utility']}: {report['added']} added, {report['removed']} removed, "
               f"{report['rejected']} rejected")  # fmt: skip


@utilities_group.command("add")
@click.argument("code")
@click.option("--name-ru", required=True)
@click.option("--name-en", required=True)
@click.option("--color", default="#636363", show_default=True)
@click.option("--sort-order", type=int, default=100, show_default=True)
@click.option("--user", help="who to record (default: cli:<OS user>)")
def utilities_add(code, name_ru, name_en, color, sort_order, user):
    """Add a utility; then add its layer files (layers/*.toml naming it) and restart."""
    body = {"code": code, "name_ru": name_ru, "name_en": name_en, "color": color,
            "sort_order": sort_order}  # fmt: skip
    row = _run(lambda s: add_utility(s, _who(user), None, body))
    click.echo(f"utility {row['code']} added")


@click.command("changes")
@with_appcontext
@click.option("--entity", help="operator, service_area, designation, municipality, utility")
@click.option("--key", help="one entity's key (an operator's slug...)")
@click.option("--limit", type=int, default=20, show_default=True)
def changes_command(entity, key, limit):
    """The latest admin changes, newest first: who, when, what, before → after."""
    for row in list_changes(get_session(), entity, key, limit):
        click.echo(f"{row['at'][:19]} {row['username']:16} {row['action']:8} {row['entity']} "
                   f"{row['entity_key']}{': ' + row['comment'] if row['comment'] else ''}")  # fmt: skip


COMMANDS = (operators_group, designations_group, areas_group, utilities_group, changes_command)

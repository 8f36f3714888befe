"""`gis-app municipalities import|at`: load official boundary files; ask a point's units."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import click
from flask.cli import AppGroup

from gis_app.cli.imports import echo_rejections
from gis_app.db import get_session
from gis_app.errors import AppError
from gis_app.municipalities.kinds import LEVEL
from gis_app.municipalities.prepare import Fields
from gis_app.municipalities.service import (
    MunicipalityImport,
    import_municipalities,
    retire_unit,
)
from gis_app.places.chain import units_at

municipalities_group = AppGroup("municipalities", help="Municipal units: import boundaries, ask.")


@municipalities_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--name-field", help="the column of the unit's name (default: guessed)")
@click.option("--oktmo-field", help="the column of the OKTMO code (default: 'oktmo' if present)")
@click.option("--kind-field", help="the column of the kind (code or Russian words)")
@click.option("--kind", type=click.Choice(list(LEVEL)), help="the kind where no kind column says")
@click.option("--mode", type=click.Choice(["upsert", "replace"]), default="upsert",
              show_default=True, help="replace: retire units of these kinds not in the file")  # fmt: skip
@click.option("--crs", help="the file's CRS if it does not say (EPSG:32636, PROJ or WKT)")
@click.option("--encoding", help="text encoding of a Shapefile without one declared")
@click.option("--oblast-from-units", is_flag=True,
              help="make the oblast's outline the union of its districts and okrugs")  # fmt: skip
@click.option("--oblast-name", default="Ленинградская область", show_default=True)
@click.option("--oblast-oktmo", help="OKTMO of an oblast made from its units (e.g. 41000000)")
@click.option("--dry-run", is_flag=True, help="check and report, write nothing")
@click.option("--user", "username", help="who to record (default: cli:<OS user>)")
@click.option("--json", "as_json", is_flag=True, help="print the whole report as JSON")
def import_command(file, name_field, oktmo_field, kind_field, kind, mode, crs, encoding,
                   oblast_from_units, oblast_name, oblast_oktmo, dry_run, username, as_json):  # fmt: skip
    """Import the municipal units of FILE (GeoJSON, GeoPackage, zipped Shapefile; any CRS)."""
    session = get_session()  # the app's Session (a test binds it to its transaction)
    req = MunicipalityImport(
        path=Path(file), fields=Fields(name_field, oktmo_field, kind_field, kind), mode=mode,
        dry_run=dry_run, crs=crs, encoding=encoding, oblast_from_units=oblast_from_units,
        oblast_name=oblast_name, oblast_oktmo=oblast_oktmo, file_name=Path(file).name,
        username=username or f"cli:{getpass.getuser()}",
    )  # fmt: skip
    try:
        report = import_municipalities(session, req)
    except AppError as exc:
        session.rollback()
        echo_rejections(exc.details)
        raise click.ClickException(exc.message) from exc
    if dry_run:
        session.rollback()
    else:
        session.commit()
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=1, default=str))
    echo_rejections(report)
    click.echo(
        f"{'dry run: ' if dry_run else ''}{report['features']} features: {report['added']} added, "
        f"{report['changed']} changed, {report['unchanged']} unchanged, {report['retired']} "
        f"retired, {report['repaired']} repaired, {report['rejected']} rejected"
        + (f"; oblast {report['oblast']['action']} from its units" if "oblast" in report else "")
    )


@municipalities_group.command("at")
@click.argument("lon", type=float)
@click.argument("lat", type=float)
def at_command(lon: float, lat: float) -> None:
    """The units at a point (lon lat, degrees), most specific first, with the deciding rule."""
    answer = units_at(get_session(), lon, lat).to_json()
    for unit in answer["units"]:
        click.echo(f"{unit['kind']:18} {unit['name_ru']} (id {unit['id']}, OKTMO "
                   f"{unit['oktmo'] or '-'}): {unit['rule']}, {unit['reason']}")  # fmt: skip
    if not answer["units"]:
        near = answer["nearest"]
        where = f"; nearest {near['name_ru']} at {near['distance_m']} m" if near else ""
        raise click.ClickException(f"outside every municipality{where}")


@municipalities_group.command("retire")
@click.argument("municipality")
@click.option("--reason", required=True, help="why (kept in the record)")
@click.option("--user", "username", help="who to record (default: cli:<OS user>)")
def retire_command(municipality: str, reason: str, username: str | None) -> None:
    """Retire a unit: it keeps its accounts, incidents and history, and stops answering."""
    session = get_session()
    try:
        done = retire_unit(session, username or f"cli:{getpass.getuser()}", None, municipality,
                           reason)  # fmt: skip
    except AppError as exc:
        session.rollback()
        raise click.ClickException(exc.message) from exc
    session.commit()
    children = done["active_children"]
    click.echo(f"{done['retired']['slug']} retired"
               + (f"; its units still active: {', '.join(children)}" if children else ""))  # fmt: skip

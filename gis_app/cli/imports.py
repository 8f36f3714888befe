"""`gis-app import`: import a file into an operator's part of a layer, with a progress bar."""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

from gis_app.db import get_session
from gis_app.errors import AppError
from gis_app.imports.service import ImportRequest, run_import
from gis_app.layers import layer_registry
from gis_app.operators.directory import find_operator


class _Bars:
    """One click progress bar per stage (validate, stage, write), made when the stage starts."""

    def __init__(self) -> None:
        self.current: tuple[str, object] | None = None

    def __call__(self, stage: str, advance: int, total: int) -> None:
        if self.current is None or self.current[0] != stage:
            self.close()
            bar = click.progressbar(length=total, label=f"{stage:9}", file=sys.stderr)
            bar.__enter__()
            self.current = (stage, bar)
        self.current[1].update(advance)

    def close(self) -> None:
        if self.current is not None:
            self.current[1].__exit__(None, None, None)
            self.current = None


def _mapping(pairs: tuple[str, ...], mapping_file: str | None) -> dict:
    mapping = json.loads(Path(mapping_file).read_text(encoding="utf-8")) if mapping_file else {}
    for pair in pairs:
        column, sep, target = pair.partition("=")
        if not sep or not target:
            raise click.BadParameter(
                f"{pair!r}: use COLUMN=field or COLUMN=field:unit", param_hint="--map"
            )
        field, _, unit = target.partition(":")
        mapping[column] = {"field": field, "unit": unit} if unit else field
    return mapping


def echo_rejections(report: dict) -> None:
    """Rejected features grouped by reason with counts, then the first 20 of them (stderr)."""
    for group in report.get("reasons", []):
        click.echo(f"  {group['count']:5} × {group['reason']}  e.g. {', '.join(group['features'])}",
                   err=True)  # fmt: skip
    for item in report.get("rejected_features", [])[:20]:
        click.echo(f"  rejected #{item['index']} {item.get('external_id') or item.get('name') or ''}: {item['reason']}",
                   err=True)  # fmt: skip


@click.command("import")
@click.option("--layer", "layer_id", required=True, help="the layer id (see `gis-app layers list`)")
@click.option("--operator", "operator_ref", required=True, help="the owning operator (slug or id)")
@click.option(
    "--mode",
    type=click.Choice(["replace", "upsert", "append"]),
    default="upsert",
    show_default=True,
)
@click.option("--crs", help="the file's CRS if it does not say (EPSG:32635, a PROJ or WKT string)")
@click.option(
    "--map", "pairs", multiple=True, help="COLUMN=field[:unit], e.g. U_NOM=voltage_kv:V; repeat"
)
@click.option(
    "--mapping",
    "mapping_file",
    type=click.Path(exists=True, dir_okay=False),
    help="a JSON field mapping",
)
@click.option("--encoding", help="text encoding of a Shapefile or CSV without one declared")
@click.option("--dry-run", is_flag=True, help="check and count, write nothing")
@click.option("--user", "username", help="who to record as the importer (default: cli:<OS user>)")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def import_command(
    layer_id, operator_ref, mode, crs, pairs, mapping_file, encoding, dry_run, username, file
):
    """Import FILE (GeoJSON, GeoPackage, zipped Shapefile, CSV) into the operator's features."""
    layer = layer_registry().get(layer_id)
    if layer is None:
        raise click.ClickException(f"no layer {layer_id}")
    bars = _Bars()
    try:
        session = get_session()  # the app's Session (a test binds it to its transaction)
        operator = find_operator(session, operator_ref)
        req = ImportRequest(
            layer=layer, operator_id=operator.id, path=Path(file), mode=mode, crs=crs,
            dry_run=dry_run, mapping=_mapping(pairs, mapping_file), encoding=encoding,
            file_name=Path(file).name, username=username or f"cli:{getpass.getuser()}",
        )  # fmt: skip
        report = run_import(session, req, bars)
    except AppError as exc:
        bars.close()
        echo_rejections(exc.details)
        raise click.ClickException(exc.message) from exc
    bars.close()
    echo_rejections(report)
    crossing = report.get("outside_oblast", {})
    if crossing.get("crossing"):
        done = "clipped to the oblast" if crossing["rule"] == "clip" else "kept whole"
        click.echo(f"{crossing['crossing']} features cross the oblast's boundary: {done}")
    click.echo(
        f"{'dry run: ' if dry_run else ''}{layer.id} of {operator.slug}: {report['features']} features, "
        f"{report['added']} added, {report['changed']} changed, {report['removed']} removed, "
        f"{report['unchanged']} unchanged, {report['rejected']} rejected (import {report['import_id']})"
    )

"""`gis-app export`: the planners' export from the command line, with a progress bar."""

from __future__ import annotations

import datetime as dt
import socket
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from gis_app.exports.writer import FORMATS, Cut, UnknownPlace, check_cut, count, export, file_name
from gis_app.layers import layer_registry


def _bbox(ctx, param, value: str | None):
    if not value:
        return None
    try:
        box = tuple(float(v) for v in value.split(","))
    except ValueError:
        box = ()
    if len(box) != 4 or box[0] > box[2] or box[1] > box[3]:
        raise click.BadParameter("minlon,minlat,maxlon,maxlat")
    return box


@click.command("export")
@click.option("-l", "--layer", "layer_ids", multiple=True, help="a layer (repeat; default: all)")
@click.option("--municipality", help="only features inside this municipality (slug)")
@click.option("--operator", help="only features of this operator (slug)")
@click.option("--bbox", callback=_bbox, help="only features in minlon,minlat,maxlon,maxlat")
@click.option("-f", "--format", "fmt", type=click.Choice(list(FORMATS)), default="gpkg")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="the file to write (default: a telling name in the current folder)")  # fmt: skip
@with_appcontext
def export_command(layer_ids, municipality, operator, bbox, fmt, output):
    """Export layers as GeoPackage, GeoJSON, Shapefile, CSV (WKT) or FlatGeobuf."""
    unknown = [name for name in layer_ids if name not in layer_registry()]
    if unknown:
        raise click.ClickException(f"unknown layer(s) {unknown}")
    layers = [layer_registry().get(n) for n in layer_ids] or list(layer_registry())
    cut = Cut(bbox=bbox, municipality=municipality, operator=operator)
    output = output or Path(file_name(layers, cut, fmt))
    source = f"gis_app export on {socket.gethostname()}, database {current_app.config['ENGINE'].url.database}"
    started = dt.datetime.now(dt.UTC)
    with Session(current_app.config["ENGINE"]) as session:
        try:
            check_cut(session, cut)
        except UnknownPlace as exc:
            raise click.ClickException(str(exc)) from None
        total = count(session, layers, cut)
        with click.progressbar(length=total, label=f"{total} features", file=sys.stderr) as bar:
            export(session, layers, cut, fmt, output, source, progress=bar.update)
    seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
    click.echo(
        f"exported {total} features of {len(layers)} layer(s) ({cut.describe()}) to {output} in {seconds:.1f} s"
    )

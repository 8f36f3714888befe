"""Planners' exports: layers cut by bbox, municipality or operator, written with GDAL (pyogrio) as
GeoPackage, GeoJSON, zipped Shapefile (UTF-8, with .cpg), CSV with WKT (and .csvt types), or
FlatGeobuf. Attribute types follow the layer files; every export says its source and time.

Rows are read in chunks from a server-side cursor, so progress can be reported as they come.
Never imports flask.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.config import VERSION as __version__
from gis_app.layers import LayerDef

if TYPE_CHECKING:
    import geopandas as gpd

# format -> (GDAL driver, file extension, dataset options, layer options)
FORMATS: dict[str, tuple[str, str, dict, dict]] = {
    "gpkg": ("GPKG", ".gpkg", {}, {}),
    "geojson": ("GeoJSON", ".geojson", {}, {"RFC7946": "YES", "WRITE_NAME": "YES"}),
    "shp": ("ESRI Shapefile", ".shp", {}, {"ENCODING": "UTF-8"}),
    "csv": ("CSV", ".csv", {}, {"GEOMETRY": "AS_WKT", "CREATE_CSVT": "YES", "WRITE_BOM": "YES"}),
    "fgb": ("FlatGeobuf", ".fgb", {}, {}),
}
DTYPES = {"int": "Int64", "float": "Float64", "bool": "boolean", "str": "string", "date": "string"}
CHUNK = 20_000


@dataclass(frozen=True)
class Cut:
    """Which features: inside a bbox (lon/lat), a municipality (slug), of an operator (slug)."""

    bbox: tuple[float, float, float, float] | None = None
    municipality: str | None = None
    operator: str | None = None

    def describe(self) -> str:
        """The cut in words, for the provenance note and the file name."""
        parts = []
        if self.municipality:
            parts.append(f"municipality={self.municipality}")
        if self.operator:
            parts.append(f"operator={self.operator}")
        if self.bbox:
            parts.append("bbox=" + ",".join(f"{v:g}" for v in self.bbox))
        return "; ".join(parts) or "everything"


class UnknownPlace(LookupError):
    """The municipality or operator of a cut does not exist."""


def _where(layer: LayerDef, cut: Cut) -> tuple[str, dict]:
    where, params = ["f.layer_id = :layer"], {"layer": layer.id}
    if cut.bbox:
        where.append("ST_Intersects(f.geom, ST_MakeEnvelope(:w, :s, :e, :n, 4326))")
        params.update(dict(zip(("w", "s", "e", "n"), cut.bbox, strict=True)))
    if cut.municipality:
        where.append("ST_Intersects(f.geom, (SELECT geom FROM municipalities WHERE slug = :muni))")
        params["muni"] = cut.municipality
    if cut.operator:
        where.append("o.slug = :operator")
        params["operator"] = cut.operator
    return " AND ".join(where), params


def check_cut(session: Session, cut: Cut) -> None:
    """Raise UnknownPlace when the cut names a municipality or operator that does not exist."""
    for table, slug in (("municipalities", cut.municipality), ("operators", cut.operator)):
        if (
            slug
            and not session.execute(
                text(f"SELECT 1 FROM {table} WHERE slug = :s"), {"s": slug}
            ).first()
        ):
            raise UnknownPlace(f"{table[:-1].replace('ie', 'y')} '{slug}' does not exist")


def count(session: Session, layers: list[LayerDef], cut: Cut) -> int:
    """How many features the export will hold."""
    total = 0
    for layer in layers:
        where, params = _where(layer, cut)
        total += session.execute(
            text(
                "SELECT count(*) FROM network_features f JOIN operators o ON o.id = f.operator_id "
                f"WHERE {where}"
            ),
            params,
        ).scalar()
    return int(total)


def read_layer(
    session: Session, layer: LayerDef, cut: Cut, progress: Callable[[int], None] | None = None
) -> gpd.GeoDataFrame:
    """The layer's features in the cut, typed by the layer file, EPSG:4326."""
    # Imported here: pandas and GDAL cost every server process ~40 MB, and only exports need them.
    import geopandas as gpd
    import pandas as pd
    import shapely

    where, params = _where(layer, cut)
    # text(): columns are fixed; the layer id and the cut's values are bound.
    result = session.execute(
        text(
            "SELECT f.id, f.external_id, f.name, o.short_name AS operator, f.operator_id,"
            " f.updated_at, f.attributes, ST_AsBinary(f.geom) AS wkb FROM network_features f"
            f" JOIN operators o ON o.id = f.operator_id WHERE {where} ORDER BY f.id"
        ),
        params,
        execution_options={"stream_results": True, "yield_per": CHUNK},
    )
    frames = []
    for chunk in result.partitions(CHUNK):
        rows = [dict(r._mapping) for r in chunk]
        frame = pd.DataFrame(
            {
                "id": [r["id"] for r in rows],
                "external_id": [r["external_id"] for r in rows],
                "name": [r["name"] for r in rows],
                "operator": [r["operator"] for r in rows],
                "operator_id": [r["operator_id"] for r in rows],
                # Naive UTC: every format keeps it; the provenance note says it is UTC.
                "updated_at": [
                    r["updated_at"].astimezone(dt.UTC).replace(tzinfo=None) for r in rows
                ],
                **{p.name: [r["attributes"].get(p.name) for r in rows] for p in layer.properties},
            }
        )
        frames.append(
            gpd.GeoDataFrame(
                frame, geometry=shapely.from_wkb([bytes(r["wkb"]) for r in rows]), crs=4326
            )
        )
        if progress:
            progress(len(rows))
    if frames:
        gdf = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=4326)
    else:
        columns = ["id", "external_id", "name", "operator", "operator_id", "updated_at"]
        gdf = gpd.GeoDataFrame(
            columns=columns + list(layer.property_names) + ["geometry"],
            geometry="geometry",
            crs=4326,
        )
    types = {
        "id": "Int64",
        "operator_id": "Int64",
        "external_id": "string",
        "name": "string",
        "operator": "string",
    }
    types.update({p.name: DTYPES[p.type] for p in layer.properties})
    gdf = gdf.astype(types)
    gdf["updated_at"] = pd.to_datetime(gdf["updated_at"])
    return gdf


def provenance(layers: list[LayerDef], cut: Cut, source: str, at: dt.datetime) -> dict:
    """Where the data came from and when: written into or beside every export."""
    return {
        "source": source,
        "generator": f"gis_app {__version__}",
        "exported_at": at.isoformat(timespec="seconds"),
        "layers": [layer.id for layer in layers],
        "cut": cut.describe(),
        "crs": "EPSG:4326 (lon/lat)",
        "note": "updated_at is UTC. Demo rows are invented data (is_demo in the database). "
        "Shapefile cuts field names to 10 characters (diameter_mm -> diameter_m) and stores "
        "updated_at as text.",
    }


def export(
    session: Session,
    layers: list[LayerDef],
    cut: Cut,
    fmt: str,
    target: Path,
    source: str,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Write the layers in the cut to `target` (a .gpkg, or a .zip for the other formats)."""
    import pyogrio

    driver, ext, _, layer_options = FORMATS[fmt]
    at = dt.datetime.now(dt.UTC)
    note = provenance(layers, cut, source, at)
    description = f"{note['source']} — {note['cut']} — {note['exported_at']}"
    if fmt == "gpkg":
        target.unlink(missing_ok=True)
        for layer in layers:
            gdf = read_layer(session, layer, cut, progress)
            pyogrio.write_dataframe(
                gdf, target, layer=layer.id, driver=driver, append=target.exists(),
                dataset_metadata={k: str(v) for k, v in note.items()},
                layer_metadata={"DESCRIPTION": f"{layer.title_ru} / {layer.title_en}; {description}"},
            )  # fmt: skip
        return target
    with (
        tempfile.TemporaryDirectory() as tmp,
        zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf,
    ):
        for layer in layers:
            gdf = read_layer(session, layer, cut, progress)
            options = dict(layer_options)
            if fmt == "geojson":
                options["DESCRIPTION"] = description
            if fmt == "fgb":
                options.update(TITLE=layer.title_ru, DESCRIPTION=description)
            path = Path(tmp) / f"{layer.id}{ext}"
            with warnings.catch_warnings():
                # Shapefile cuts field names to 10 characters and keeps dates only: said in
                # the provenance note, not warned about on every layer.
                warnings.simplefilter("ignore", RuntimeWarning)
                pyogrio.write_dataframe(
                    gdf, path, layer=layer.id, driver=driver, layer_options=options
                )
            for part in sorted(Path(tmp).glob(f"{layer.id}.*")):
                zf.write(part, part.name)
                part.unlink()
        zf.writestr("provenance.json", json.dumps(note, ensure_ascii=False, indent=2))
    return target


def file_name(layers: list[LayerDef], cut: Cut, fmt: str, at: dt.datetime | None = None) -> str:
    """A telling file name: what, where, when."""
    at = at or dt.datetime.now(dt.UTC)
    what = layers[0].id if len(layers) == 1 else f"{len(layers)}-layers"
    where = cut.municipality or cut.operator or ("bbox" if cut.bbox else "oblast")
    return f"gis_app-{what}-{where}-{at:%Y%m%dT%H%M%SZ}" + (
        ".gpkg" if fmt == "gpkg" else f"-{fmt}.zip"
    )

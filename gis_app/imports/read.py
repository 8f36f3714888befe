"""Reading an uploaded file into columns and EPSG:4326 geometries: GeoJSON, GeoPackage, zipped
Shapefile, CSV with WKT or lon/lat columns; any CRS pyproj understands."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from gis_app.errors import InvalidParameter
from gis_app.imports import faithful

FORMATS = ("geojson", "gpkg", "shapefile", "csv")
SUFFIXES = {".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg", ".zip": "shapefile",
            ".csv": "csv"}  # fmt: skip
WKT_COLUMNS = ("wkt", "geometry", "geom", "the_geom")
X_COLUMNS = ("lon", "lng", "long", "longitude", "x")
Y_COLUMNS = ("lat", "latitude", "y")
WGS84 = CRS.from_epsg(4326)


@dataclass
class Batch:
    """The features of a file: column names, their values per column, EPSG:4326 geometries."""

    file_format: str
    columns: list[str]
    values: list[list]  # one list per column, one value per feature
    geoms: np.ndarray  # shapely geometries in EPSG:4326 (None where missing or unreadable)
    crs: str  # the source CRS as given or as the file says
    problems: dict[int, str] = field(default_factory=dict)  # feature index → why unreadable

    def __len__(self) -> int:
        return len(self.geoms)


def parse_crs(value: str | None) -> CRS | None:
    """A CRS from an EPSG code, a PROJ string or WKT (None when not given); 400 when unknown."""
    if value is None or not str(value).strip():
        return None
    return faithful.parse_client_crs(str(value))


def detect_format(path: Path) -> str:
    """The format of a file, by its name, else by its first bytes."""
    by_name = SUFFIXES.get(path.suffix.lower())
    if by_name:
        return by_name
    head = path.read_bytes()[:16]
    if head.startswith(b"PK"):
        return "shapefile"
    if head.startswith(b"SQLite format 3"):
        return "gpkg"
    if head.lstrip().startswith((b"{", b"\xef\xbb\xbf{")):
        return "geojson"
    return "csv"


def read_file(path: Path, crs: CRS | None = None, encoding: str | None = None) -> Batch:
    """Read every feature of `path`, reprojected to EPSG:4326 (`crs` overrides the file's own)."""
    file_format = detect_format(path)
    if file_format == "csv":
        return _read_csv(path, crs, encoding)
    if file_format == "geojson":
        faithful.check_geojson_bytes(path.read_bytes())
    source = str(path)
    if file_format == "shapefile":
        source = "/vsizip/" + source
        if not zipfile.is_zipfile(path):
            raise InvalidParameter(
                "file: not a zip archive", code="unreadable_file", parameter="file"
            )
    try:
        # Imported here: pyogrio pulls in geopandas and pandas, which web workers need only here.
        import pyogrio.raw

        meta, _, wkb, data = pyogrio.raw.read(source, encoding=encoding, datetime_as_string=True)
    except Exception as exc:  # pyogrio raises DataSourceError, DataLayerError and plain errors
        # GDAL's message names the temporary file: the client sees its own file's name instead.
        reason = str(exc).replace(source, "the file").replace(str(path.parent), "")
        raise InvalidParameter(
            f"file: cannot read it as {file_format} ({reason})", code="unreadable_file",
            parameter="file",
        ) from None  # fmt: skip
    try:
        source_crs = crs or (CRS.from_user_input(meta["crs"]) if meta.get("crs") else WGS84)
    except CRSError:
        raise InvalidParameter(
            f"file: its CRS {str(meta['crs'])[:200]!r} is not one PROJ knows; give crs",
            code="unknown_crs", parameter="crs",
        ) from None  # fmt: skip
    geoms = shapely.from_wkb(wkb, on_invalid="ignore") if wkb is not None else None
    if geoms is None:
        geoms = np.full(len(data[0]) if data else 0, None, dtype=object)
    columns = [str(name) for name in meta["fields"]]
    values = [_to_python(column) for column in data]
    problems = faithful.value_problems(columns, values)
    batch = Batch(file_format, columns, values, geoms, _crs_name(crs, meta.get("crs")), problems)
    reproject(batch, source_crs)
    return batch


def _to_python(column: np.ndarray) -> list:
    """A column as Python values; float NaN (GDAL's null of numbers) becomes None."""
    values = column.tolist()
    if column.dtype.kind == "f":
        return [None if v != v else v for v in values]
    return values


def _crs_name(given: CRS | None, from_file: str | None) -> str:
    if given is not None:
        return given.to_string()
    return from_file or "EPSG:4326"


def _read_csv(path: Path, crs: CRS | None, encoding: str | None) -> Batch:
    raw = path.read_bytes()
    text = None
    for candidate in [encoding] if encoding else ["utf-8-sig", "cp1251"]:
        try:
            text = raw.decode(candidate)
            break
        except (UnicodeDecodeError, LookupError):
            continue
    if text is None:
        raise InvalidParameter("file: not UTF-8 or CP1251 text", code="unreadable_file",
                               parameter="file")  # fmt: skip
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        rows = list(reader)
    except csv.Error as exc:  # a field past csv's limit (128 KiB), a NUL, a broken quote
        raise InvalidParameter(
            f"file: line {reader.line_num} of the CSV cannot be read ({exc})",
            code="unreadable_file", parameter="file", line=reader.line_num,
        ) from None  # fmt: skip
    if not rows:
        raise InvalidParameter("file: the CSV is empty", code="unreadable_file", parameter="file")
    header, rows = [h.strip() for h in rows[0]], [r for r in rows[1:] if any(c.strip() for c in r)]
    lower = {h.lower(): i for i, h in enumerate(header)}
    wkt = next((lower[c] for c in WKT_COLUMNS if c in lower), None)
    x = next((lower[c] for c in X_COLUMNS if c in lower), None)
    y = next((lower[c] for c in Y_COLUMNS if c in lower), None)
    if wkt is None and (x is None or y is None):
        raise InvalidParameter(
            f"file: a CSV needs a WKT column ({', '.join(WKT_COLUMNS)}) or lon/lat columns "
            f"({', '.join(X_COLUMNS)} and {', '.join(Y_COLUMNS)}); it has {header}",
            code="unreadable_file", parameter="file",
        )  # fmt: skip
    width = len(header)
    cells = [(r + [""] * width)[:width] for r in rows]
    problems: dict[int, str] = {}
    if wkt is not None:
        texts = [c[wkt].strip() or None for c in cells]
        geoms = shapely.from_wkt(np.array(texts, dtype=object), on_invalid="ignore")
        for i, (t, g) in enumerate(zip(texts, geoms, strict=True)):
            if t is not None and g is None:
                problems[i] = "geometry: not readable WKT"
        used = {wkt}
    else:
        geoms = np.full(len(cells), None, dtype=object)
        for i, c in enumerate(cells):
            try:
                geoms[i] = shapely.Point(
                    float(c[x].replace(",", ".")), float(c[y].replace(",", "."))
                )
            except ValueError:
                problems[i] = f"geometry: {header[x]}/{header[y]} are not numbers"
        used = {x, y}
    keep = [i for i in range(width) if i not in used]
    values = [[c[i] for c in cells] for i in keep]
    for row, reason in faithful.value_problems([header[i] for i in keep], values).items():
        problems.setdefault(row, reason)
    batch = Batch("csv", [header[i] for i in keep], values, geoms, _crs_name(crs, None), problems)
    reproject(batch, crs or WGS84)
    return batch


def reproject(batch: Batch, source: CRS) -> None:
    """Reproject the batch's geometries to EPSG:4326 (lon/lat) in place; 2D only."""
    geoms = batch.geoms
    if shapely.has_z(geoms).any():
        geoms = shapely.force_2d(geoms)
    if not source.equals(WGS84, ignore_axis_order=True):
        transformer = Transformer.from_crs(source, WGS84, always_xy=True)

        def _xy(coords: np.ndarray) -> np.ndarray:
            lon, lat = transformer.transform(coords[:, 0], coords[:, 1])
            return np.column_stack([lon, lat])

        geoms = shapely.transform(geoms, _xy)
        finite = shapely.is_missing(geoms) | np.isfinite(shapely.bounds(geoms)).all(axis=1)
        for i in np.flatnonzero(~finite):
            batch.problems.setdefault(int(i), f"geometry: cannot be reprojected from {batch.crs}")
            geoms[i] = None
    batch.geoms = geoms

"""Read a base-map tile archive: MBTiles (SQLite, read here tile by tile) or PMTiles (one file
the browser reads itself with HTTP range requests; here only its header is checked).

MBTiles rows are in TMS order (y counted from the south): tile(z, x, y) takes XYZ and flips.
Vector tiles are usually stored gzipped (tilemaker does so); `tile()` says so, and the web floor
sends them with Content-Encoding: gzip as they are.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path

PMTILES_MAGIC = b"PMTiles"
# PMTiles v3 header: tile type at byte 99 (1 mvt, 2 png, 3 jpeg, 4 webp), zooms at 100 and 101.
PMTILES_TYPES = {1: "pbf", 2: "png", 3: "jpg", 4: "webp"}
RASTER_FORMATS = ("png", "jpg", "jpeg", "webp")


class ArchiveError(RuntimeError):
    """The base-map file cannot be used (missing, not MBTiles/PMTiles, unreadable)."""


@dataclass
class Archive:
    """An opened archive: path, kind (mbtiles|pmtiles), tile format, zooms, bounds, attribution."""

    path: Path
    kind: str
    format: str
    minzoom: int
    maxzoom: int
    bounds: list[float] | None
    attribution: str | None
    version: str
    _local: threading.local = field(default_factory=threading.local, repr=False)

    @property
    def vector(self) -> bool:
        """Whether the tiles are vector (Mapbox Vector Tile) rather than images."""
        return self.format not in RASTER_FORMATS

    def _db(self) -> sqlite3.Connection:
        # One read-only connection per thread: sqlite3 connections are not shared across threads.
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=True)
            self._local.conn = conn
        return conn

    def tile(self, z: int, x: int, y: int) -> tuple[bytes, bool] | None:
        """The tile at XYZ z/x/y as (data, gzipped), or None where the archive has none."""
        if self.kind != "mbtiles":
            raise ArchiveError("tiles of a PMTiles archive are read by the browser")
        if not (0 <= z <= 30 and 0 <= x < 2**z and 0 <= y < 2**z):
            return None
        row = (
            self._db()
            .execute(
                "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
                (z, x, (2**z - 1) - y),
            )
            .fetchone()
        )
        if row is None or row[0] is None:
            return None
        data = bytes(row[0])
        return data, data[:2] == b"\x1f\x8b"


def _mbtiles(path: Path, version: str) -> Archive:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        meta = dict(conn.execute("SELECT name, value FROM metadata").fetchall())
        zooms = conn.execute("SELECT min(zoom_level), max(zoom_level) FROM tiles").fetchone()
        conn.close()
    except sqlite3.Error as exc:
        raise ArchiveError(f"{path.name} is not a readable MBTiles file: {exc}") from None
    bounds = None
    if meta.get("bounds"):
        try:
            bounds = [float(v) for v in meta["bounds"].split(",")]
        except ValueError:
            bounds = None
    fmt = (meta.get("format") or "pbf").lower()
    return Archive(
        path=path,
        kind="mbtiles",
        format="pbf" if fmt in ("pbf", "mvt") else fmt,
        minzoom=int(meta.get("minzoom", zooms[0] if zooms[0] is not None else 0)),
        maxzoom=int(meta.get("maxzoom", zooms[1] if zooms[1] is not None else 14)),
        bounds=bounds,
        attribution=meta.get("attribution"),
        version=version,
    )


def _pmtiles(path: Path, version: str) -> Archive:
    with path.open("rb") as f:
        header = f.read(127)
    if len(header) < 127 or not header.startswith(PMTILES_MAGIC) or header[7] != 3:
        raise ArchiveError(f"{path.name} is not a PMTiles v3 file")
    # Bounds: four signed 32-bit ints (degrees × 10^7) from byte 102.
    coords = [
        int.from_bytes(header[102 + 4 * i : 106 + 4 * i], "little", signed=True) / 1e7
        for i in range(4)
    ]
    return Archive(
        path=path,
        kind="pmtiles",
        format=PMTILES_TYPES.get(header[99], "pbf"),
        minzoom=header[100],
        maxzoom=header[101],
        bounds=coords,
        attribution=None,
        version=version,
    )


_opened: dict[str, Archive] = {}
_lock = threading.Lock()


def open_archive(path: str | Path) -> Archive:
    """The archive at `path` (.mbtiles or .pmtiles), reopened when the file changes."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        raise ArchiveError(f"base-map file {path} does not exist") from None
    # A new file copied over the old one (a fresh extract) is a new version: new ETags too.
    version = f"{int(stat.st_mtime)}-{stat.st_size}"
    key = str(path)
    with _lock:
        found = _opened.get(key)
        if found is not None and found.version == version:
            return found
        if path.suffix == ".mbtiles":
            archive = _mbtiles(path, version)
        elif path.suffix == ".pmtiles":
            archive = _pmtiles(path, version)
        else:
            raise ArchiveError(f"base-map file {path.name} must end in .mbtiles or .pmtiles")
        _opened[key] = archive
        return archive

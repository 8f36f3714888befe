"""The offline base map: tiles from a local archive (MBTiles or PMTiles) an admin provides."""

from gis_app.basemap.archive import Archive, ArchiveError, open_archive

__all__ = ["Archive", "ArchiveError", "open_archive"]

"""Loading the oblast's municipal units from official boundary files (GeoJSON, GeoPackage,
zipped Shapefile): checked, matched by OKTMO or name, linked to their parents, all or nothing.
The point → units look-up is gis_app.places.chain."""

from gis_app.municipalities.service import MunicipalityImport, import_municipalities, retire_unit

__all__ = ["MunicipalityImport", "import_municipalities", "retire_unit"]

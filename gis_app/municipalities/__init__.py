"""Municipalities of the oblast: importing official boundary files, and the chain of units at a
point (settlement → district/okrug → oblast) with the rule that decided each link."""

from gis_app.municipalities.at import UnitsAt, municipality_at, units_at
from gis_app.municipalities.service import MunicipalityImport, import_municipalities

__all__ = [
    "MunicipalityImport",
    "UnitsAt",
    "import_municipalities",
    "municipality_at",
    "units_at",
]

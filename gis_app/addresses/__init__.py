"""Addresses: import from OpenStreetMap, search ("ул. Чехова, д. 5") and reverse look-up."""

from gis_app.addresses.geocode import Geocoded, geocode
from gis_app.addresses.importer import ImportSummary, import_osm, load_rows, read_osm
from gis_app.addresses.normalize import checked_query, housenumber_norm, parse_query, street_norm
from gis_app.addresses.search import Near, reverse, search

__all__ = [
    "Geocoded",
    "checked_query",
    "geocode",
    "ImportSummary",
    "Near",
    "housenumber_norm",
    "import_osm",
    "load_rows",
    "parse_query",
    "read_osm",
    "reverse",
    "search",
    "street_norm",
]

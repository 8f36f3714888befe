"""Fixtures of the address tests: the test extract of Gatchina imported in the test's transaction."""

from __future__ import annotations

import pytest

from addresses.osm_extract import write_osm
from gis_app.addresses import import_osm


@pytest.fixture
def osm_file(tmp_path):
    """The test extract written as OSM XML."""
    return write_osm(tmp_path)


@pytest.fixture
def imported(session, osm_file):
    """The extract imported (rolled back with the test); its ImportSummary."""
    summary = import_osm(session, osm_file)
    session.flush()
    return summary

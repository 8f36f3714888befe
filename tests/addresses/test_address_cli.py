"""`gis-app addresses import`: one summary line; a bad file fails with a message, nothing changed."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from addresses.osm_extract import BUILDINGS, write_osm, write_pbf
from gis_app.cli import main


@pytest.fixture
def committed_cleanup(engine):
    """Remove what a CLI import committed to the shared test database."""
    yield
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM address_generations"))


def test_import_command_osm_and_pbf(app, engine, tmp_path, committed_cleanup):
    runner = app.test_cli_runner()
    result = runner.invoke(main, ["addresses", "import", str(write_osm(tmp_path))])
    assert result.exit_code == 0, result.output
    assert f"{len(BUILDINGS)} addresses on 5 streets" in result.output
    pbf = write_pbf(tmp_path)
    if pbf is not None:  # osmium is installed by `make test`; the XML path is tested anyway
        result = runner.invoke(main, ["addresses", "import", str(pbf)])
        assert result.exit_code == 0, result.output
        assert f"{len(BUILDINGS)} addresses on 5 streets" in result.output
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM address_generations")).scalar() == 1


def test_import_command_bad_file(app, engine, tmp_path, committed_cleanup):
    bad = tmp_path / "x.osm.pbf"
    bad.write_bytes(b"\x00garbage")
    result = app.test_cli_runner().invoke(main, ["addresses", "import", str(bad)])
    assert result.exit_code != 0
    assert "x.osm.pbf" in result.output
    missing = app.test_cli_runner().invoke(main, ["addresses", "import", str(tmp_path / "no.pbf")])
    assert missing.exit_code != 0 and "No such file" in missing.output
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM address_generations")).scalar() == 0

"""The live oblast: an app on an empty database of its own (no demo) into which the CLI loads
the oblast's 18 real municipal districts (OSM, ../shared/data), as a control centre going live
would; the tests of real files share it."""

from __future__ import annotations

import pytest
from helpers import SHARED_DATA, recreate_database
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from gis_app import config, create_app, migrate
from gis_app.accounts.users import create_token, create_user
from gis_app.cli import main

DISTRICTS = SHARED_DATA / "lenobl_municipal_districts_osm.geojson"
TOWNS = SHARED_DATA / "lenobl_cities_hflabs.csv"
GRID = SHARED_DATA / "lenobl_power_grid_highvoltage_links.geojson"


@pytest.fixture(scope="module")
def live_app(postgis_url):
    """An app on an empty database of its own (no demo): the oblast loaded from real files."""
    if not (DISTRICTS.exists() and TOWNS.exists()):
        pytest.skip("../shared/data is absent")
    url = make_url(config.sqlalchemy_url(postgis_url))
    url = url.set(database=f"{url.database}_oblast").render_as_string(hide_password=False)
    recreate_database(url)
    migrate.upgrade(url)
    app = create_app({"DATABASE_URL": url, "TESTING": True})
    runner = app.test_cli_runner()
    args = ["municipalities", "import", str(DISTRICTS), "--name-field", "district",
            "--kind", "municipal_district", "--oblast-from-units", "--oblast-oktmo", "41000000"]  # fmt: skip
    dry = runner.invoke(main, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "dry run: 18 features: 18 added" in dry.output
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "18 features: 18 added" in result.output and "oblast added" in result.output
    engine = create_engine(config.sqlalchemy_url(url))
    with Session(engine) as session, session.begin():
        create_user(session, "admin", "admin", "x" * 12)
        app.config["TEST_TOKEN"] = create_token(session, "admin", "tests")
    engine.dispose()
    return app

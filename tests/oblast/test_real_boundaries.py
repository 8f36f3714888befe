"""The oblast's 18 real municipal districts (OSM, in ../shared/data) loaded by the CLI into an
empty database; then each of the 33 towns of the oblast falls in its own district."""

from __future__ import annotations

import csv

import pytest
from sqlalchemy import text

from gis_app.cli import main
from oblast.conftest import DISTRICTS, TOWNS

pytestmark = pytest.mark.skipif(
    not (DISTRICTS.exists() and TOWNS.exists()), reason="../shared/data is absent"
)


def test_the_cli_loaded_18_districts_under_one_oblast(live_app):
    with live_app.config["ENGINE"].connect() as conn:
        rows = conn.execute(
            text(
                "SELECT m.kind, p.name_ru, count(*) FROM municipalities m"
                " LEFT JOIN municipalities p ON p.id = m.parent_id GROUP BY 1, 2"
            )
        ).all()
    assert sorted(rows) == [
        ("municipal_district", "Ленинградская область", 18),
        ("oblast", None, 1),
    ]
    again = live_app.test_cli_runner().invoke(
        main,
        [
            "municipalities",
            "import",
            str(DISTRICTS),
            "--name-field",
            "district",
            "--kind",
            "municipal_district",
        ],  # fmt: skip
    )
    assert "0 added, 0 changed, 18 unchanged" in again.output, again.output


def test_each_of_the_33_towns_falls_in_its_own_unit(live_app):
    client = live_app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {live_app.config['TEST_TOKEN']}"
    with TOWNS.open(encoding="utf-8") as rows:
        towns = list(csv.DictReader(rows))
    assert len(towns) == 33
    for town in towns:
        response = client.get(f"/api/municipalities/at?lon={town['geo_lon']}&lat={town['geo_lat']}")
        answer = response.get_json()
        chain = [(u["kind"], u["name_ru"]) for u in answer["units"]]
        # The file names the district ("Гатчинский"); Sosnovy Bor is an okrug of its own.
        expected = f"{town['area']} район" if town["area"] else "Сосновоборский"
        assert chain == [("municipal_district", expected), ("oblast", "Ленинградская область")], (
            town["city"],
            answer,
        )
        assert answer["rule"] == "covers"

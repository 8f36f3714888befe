"""The oblast's real high-voltage grid (75 OSM lines, ../shared/data) imports as it comes, with a
mapping file a utility could write (tests/data/power_grid_osm_mapping.json): 220-750 kV,
multi-circuit voltage lists read as their highest, a constant construction, lines that run on
into Saint Petersburg or a neighbouring region clipped to the oblast."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from gis_app.cli import main
from oblast.conftest import GRID

MAPPING = Path(__file__).resolve().parents[1] / "data" / "power_grid_osm_mapping.json"
pytestmark = pytest.mark.skipif(not GRID.exists(), reason="../shared/data is absent")


@pytest.fixture(scope="module")
def grid_operator(live_app):
    with live_app.config["ENGINE"].begin() as conn:
        conn.execute(
            text(
                "INSERT INTO operators (slug, full_name, short_name) VALUES"
                " ('grid-operator', 'Сетевая компания', 'Сетевая компания');"
                " INSERT INTO operator_utilities SELECT id, 'electricity' FROM operators"
                " WHERE slug = 'grid-operator'"
            )
        )
    return "grid-operator"


def _import(live_app, operator, *extra):
    args = ["import", "--layer", "power_lines", "--operator", operator, *extra, str(GRID)]
    return live_app.test_cli_runner().invoke(main, args)


def test_dry_run_without_a_mapping_lists_reasons_grouped_with_counts(live_app, grid_operator):
    result = _import(live_app, grid_operator, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "75 rejected" in result.output
    assert "75 × 'construction' is required" in result.output
    assert "75 × external_id: required in upsert mode" in result.output
    assert "rejected #0" in result.output  # then the first features


def test_the_real_grid_imports_with_a_mapping_file(live_app, grid_operator):
    result = _import(live_app, grid_operator, "--mapping", str(MAPPING))
    assert result.exit_code == 0, result.output
    assert "75 features, 75 added" in result.output and "0 rejected" in result.output
    assert "features cross the oblast's boundary: clipped to the oblast" in result.output
    with live_app.config["ENGINE"].connect() as conn:
        voltages = dict(
            conn.execute(
                text(
                    "SELECT (attributes->>'voltage_kv')::float, count(*) FROM network_features"
                    " WHERE layer_id = 'power_lines' GROUP BY 1"
                )
            ).all()
        )
        outside = conn.execute(
            text(
                "SELECT count(*) FROM network_features f, municipalities o WHERE o.kind = 'oblast'"
                " AND NOT ST_CoveredBy(f.geom, ST_Buffer(o.geom, 0.000001))"
            )
        ).scalar()
        npp = conn.execute(
            text(
                "SELECT attributes FROM network_features WHERE external_id = '1383'"
            )  # ВЛ 750 кВ Л-702 Ленинградская АЭС - ПС Ленинградская
        ).scalar()
    assert set(voltages) == {220.0, 330.0, 750.0} and sum(voltages.values()) == 75
    assert npp == {"voltage_kv": 750.0, "construction": "overhead"}
    assert outside == 0  # every stored line lies in the oblast: clipped where it crossed

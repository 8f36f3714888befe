"""QGIS itself (Debian's, its OAPIF provider) loads the collections a planner adds through
"Layer > Add Layer > Add WFS / OGC API - Features Layer", logging in with a user name and an
API token as the password. QGIS 3.22 pages through the whole collection by the server's next
links (100 features a page) and filters a bbox itself."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from sqlalchemy import text

SCRIPT = Path(__file__).with_name("qgis_read.py")
SYSTEM_PYTHON = "/usr/bin/python3"  # the Python that Debian's python3-qgis belongs to
GATCHINA = "30.0,59.5,30.2,59.62"


def qgis(server: str, user: str, token: str, collections: list[str], bbox: str | None = None):
    """Run tests/qgis_read.py; what QGIS saw, by collection."""
    args = [SYSTEM_PYTHON, str(SCRIPT), server, user, token, ",".join(collections)]
    done = subprocess.run(args + ([bbox] if bbox else []), capture_output=True, text=True,
                          timeout=240)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])["collections"]


def test_qgis_is_installed():
    """make test installs it (python3-qgis, qgis-providers): this must not be skipped quietly."""
    done = subprocess.run([SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True)
    assert done.returncode == 0, (
        "QGIS is missing: `make test` installs python3-qgis and qgis-providers"
    )


def test_qgis_loads_every_collection(process_server, tokens, counts):
    seen = qgis(process_server, "planner", tokens["planner"], sorted(counts))
    for cid, expected in counts.items():
        layer = seen[cid]
        assert layer["valid"], cid
        assert layer["count"] == expected, cid
        assert layer["crs"] == "EPSG:4326", cid
    lines = seen["power_lines"]
    assert {"voltage_kv", "operator", "external_id"} <= set(lines["fields"])
    assert lines["properties"]["operator"].startswith("ДЕМО")  # Cyrillic survives
    assert lines["geometry"].startswith("LineString")
    assert seen["municipalities"]["geometry"].startswith(("Polygon", "MultiPolygon"))


def test_qgis_bbox_matches_the_database(process_server, tokens, engine):
    seen = qgis(process_server, "planner", tokens["planner"], ["road_segments"], GATCHINA)
    with engine.connect() as conn:
        expected = conn.execute(
            text(
                "SELECT count(*) FROM network_features WHERE layer_id = 'road_segments'"
                " AND ST_Intersects(geom, ST_MakeEnvelope(30.0, 59.5, 30.2, 59.62, 4326))"
            )
        ).scalar()
    assert 0 < expected == seen["road_segments"]["count"]


def test_qgis_with_a_wrong_token_gets_nothing(process_server, tokens):
    seen = qgis(process_server, "planner", tokens["admin"], ["power_lines"])  # admin's token
    assert seen["power_lines"]["valid"] is False

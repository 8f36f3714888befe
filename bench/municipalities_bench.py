"""Benchmark of the chain of units at a point (GET /api/municipalities/at) and of the
responsible-operator search (GET /api/responsible) on real boundaries against the demo's.

Builds (once) two databases beside the app's own on the same server:
  - gis_app_bench_munis_demo: migrated, the demo data (8 hand-drawn units of 36-40 vertices);
  - gis_app_bench_munis_real: migrated, the oblast's 18 real municipal districts (OSM, ../shared
    data; thousands of vertices each) imported with the service's own import, the oblast as their
    union, and 200 settlements cut from the districts (Voronoi cells of random points clipped to
    their district, so each has real district boundary where it touches one; no public file of
    settlement polygons exists), plus the real 75-line high-voltage grid.
Then, through gunicorn (2 workers × 4 threads, as `make run`), one client, keep-alive, measures
both endpoints on the same random points inside the real oblast (p50/p99), and the covering
statement alone (the SQL floor).

    .venv/bin/python bench/municipalities_bench.py [--points 2000] [--rebuild]

Results go to bench/results-municipalities.json.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import shapely
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from incidents_bench import free_port, start_server, summary  # noqa: E402

from gis_app import config, migrate  # noqa: E402
from gis_app.layers import LayerRegistry  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
DISTRICTS = DATA / "lenobl_municipal_districts_osm.geojson"
GRID = DATA / "lenobl_power_grid_highvoltage_links.geojson"
DBS = {"demo": "gis_app_bench_munis_demo", "real": "gis_app_bench_munis_real"}


def url_of(database: str) -> str:
    """A bench database's URL on the app's server (never the app's own database)."""
    base = make_url(config.sqlalchemy_url(config.load_config()["DATABASE_URL"]))
    assert base.database != database
    return base.set(database=database).render_as_string(hide_password=False)


def _create(url: str, rebuild: bool) -> bool:
    """Create the database unless it exists; True when it must be filled."""
    name = make_url(url).database
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": name})
        if exists.first() and not rebuild:
            admin.dispose()
            return False
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    migrate.upgrade(url)
    return True


def _settlements(district_geoms: list, count: int, seed: int = 12) -> dict:
    """Voronoi cells of random points inside the districts, each clipped to its district."""
    rng = random.Random(seed)
    union = shapely.union_all(district_geoms)
    w, s, e, n = union.bounds
    points = []
    while len(points) < count:
        p = shapely.Point(rng.uniform(w, e), rng.uniform(s, n))
        if union.contains(p):
            points.append(p)
    cells = shapely.voronoi_polygons(shapely.MultiPoint(points), extend_to=union.envelope)
    features = []
    for k, cell in enumerate(shapely.get_parts(cells)):
        for d, district in enumerate(district_geoms):
            part = shapely.intersection(cell, district)
            if part.area > 1e-5 and part.geom_type in ("Polygon", "MultiPolygon"):
                features.append({"type": "Feature", "properties": {
                    "name": f"Поселение {k + 1}-{d + 1}", "kind": "rural_settlement"},
                    "geometry": shapely.geometry.mapping(part)})  # fmt: skip
    return {"type": "FeatureCollection", "features": features}


def build(rebuild: bool, settlements: int) -> dict:
    """Fill both databases (once); their unit counts and vertices."""
    from gis_app.accounts.users import create_user
    from gis_app.demo.load import load_demo
    from gis_app.imports.service import ImportRequest, run_import
    from gis_app.municipalities import MunicipalityImport, import_municipalities
    from gis_app.municipalities.prepare import Fields

    registry = LayerRegistry.from_dir(ROOT / "layers")
    demo_url, real_url = url_of(DBS["demo"]), url_of(DBS["real"])
    if _create(demo_url, rebuild):
        engine = create_engine(demo_url)
        with Session(engine) as session, session.begin():
            load_demo(session, registry)
        engine.dispose()
    if _create(real_url, rebuild):
        engine = create_engine(real_url)
        with Session(engine) as session:
            import_municipalities(session, MunicipalityImport(
                DISTRICTS, Fields("district", None, None, "municipal_district"),
                oblast_from_units=True, oblast_oktmo="41000000", username="bench"))  # fmt: skip
            session.commit()
            geoms = [shapely.from_wkb(bytes(r[0])) for r in session.execute(text(
                "SELECT ST_AsBinary(geom) FROM municipalities WHERE kind = 'municipal_district'"))]  # fmt: skip
            path = ROOT / "var" / "bench_settlements.geojson"
            path.write_text(json.dumps(_settlements(geoms, settlements)), encoding="utf-8")
            import_municipalities(session, MunicipalityImport(path, Fields("name", None, "kind"),
                                                              username="bench"))  # fmt: skip
            session.commit()
            session.execute(text(
                "INSERT INTO operators (slug, full_name, short_name) VALUES ('grid', 'Grid', 'Grid');"
                " INSERT INTO operator_utilities SELECT id, 'electricity' FROM operators"))  # fmt: skip
            create_user(session, "admin", "admin", "bench-password")
            session.commit()
            mapping = json.loads((ROOT / "tests/data/power_grid_osm_mapping.json").read_text())
            run_import(session, ImportRequest(registry.get("power_lines"), 1, GRID,
                                              mapping=mapping, username="bench"))  # fmt: skip
        engine.dispose()
    sizes = {}
    for name, url in (("demo", demo_url), ("real", real_url)):
        engine = create_engine(url)
        with engine.connect() as conn:
            sizes[name] = dict(conn.execute(text(
                "SELECT count(*) AS units, sum(ST_NPoints(geom)) AS vertices,"
                " max(ST_NPoints(geom)) AS max_vertices FROM municipalities")).mappings().one())  # fmt: skip
        engine.dispose()
    return sizes


def sample(count: int, seed: int = 2026) -> list[tuple[float, float]]:
    """Random points inside the real oblast (the same for both databases)."""
    rng = random.Random(seed)
    with DISTRICTS.open(encoding="utf-8") as f:
        union = shapely.union_all([shapely.geometry.shape(x["geometry"])
                                   for x in json.load(f)["features"]])  # fmt: skip
    shapely.prepare(union)
    w, s, e, n = union.bounds
    out = []
    while len(out) < count:
        x, y = rng.uniform(w, e), rng.uniform(s, n)
        if union.contains(shapely.Point(x, y)):
            out.append((round(x, 6), round(y, 6)))
    return out


def http_get(port: int, token: str, paths: list[str]) -> dict:
    """GET each path on one keep-alive connection; latency summary."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    lat = []
    started = time.perf_counter()
    for path in paths:
        t = time.perf_counter()
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        response.read()
        assert response.status == 200, (path, response.status)
        lat.append((time.perf_counter() - t) * 1000)
    conn.close()
    return summary(lat, time.perf_counter() - started)


def sql_floor(url: str, points: list) -> dict:
    """The covering statement of the chain alone, per point (the floor of /municipalities/at)."""
    from gis_app.places.chain import COVERING_SQL

    engine = create_engine(url)
    lat = []
    with engine.connect() as conn:
        for x, y in points[:100]:
            conn.execute(COVERING_SQL, {"lon": x, "lat": y}).all()
        started = time.perf_counter()
        for x, y in points:
            t = time.perf_counter()
            conn.execute(COVERING_SQL, {"lon": x, "lat": y}).all()
            lat.append((time.perf_counter() - t) * 1000)
    engine.dispose()
    return summary(lat, time.perf_counter() - started)


def token_for(url: str) -> str:
    from gis_app.accounts.users import create_token

    engine = create_engine(url)
    with Session(engine) as session, session.begin():
        token = create_token(session, "admin", "bench")
    engine.dispose()
    return token


def main() -> None:
    """Build, measure, print and write the results."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=2000)
    parser.add_argument("--settlements", type=int, default=200)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    results = {"data": build(args.rebuild, args.settlements), "points": args.points}
    points = sample(args.points)
    for name, database in DBS.items():
        url = url_of(database)
        port = free_port()
        server = start_server(url, port)
        try:
            token = token_for(url)
            at = [f"/api/municipalities/at?lon={x}&lat={y}" for x, y in points]
            resp = [f"/api/responsible?lon={x}&lat={y}&utility=electricity" for x, y in points]
            http_get(port, token, at[:200] + resp[:200])  # warm-up of both workers
            results[name] = {
                "sql_covering": sql_floor(url, points),
                "http_municipalities_at": http_get(port, token, at),
                "http_responsible": http_get(port, token, resp),
            }
        finally:
            server.terminate()
            server.wait(10)
    for name in DBS:
        for what, figures in results[name].items():
            print(f"{name:5} {what:24} p50 {figures['p50_ms']:7} ms  p99 {figures['p99_ms']:7} ms"
                  f"  {figures['per_s']:7}/s")  # fmt: skip
    print(json.dumps(results["data"]))
    out = ROOT / "bench" / "results-municipalities.json"
    out.write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()

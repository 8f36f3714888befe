"""Big pages beside their floor (issue 17, item 4): bbox pages of 1,000 and 10,000 road segments
from /ogc/collections/road_segments/items (gunicorn, 2 workers, one client, kept-alive
connection) against the plain SQL of the same page fetched by psycopg2 (features.feature_batches
on one open connection, no HTTP), request by request in turn, so the load of a shared machine
weighs on both alike. On the database of serving_generate.py:

    .venv/bin/python bench/pages_bench.py [--database gis_app_bench] [--rounds 5]

Writes bench/results-pages.json and prints it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.serving_bench import BOXES, LAYER, get, item_urls, ours, stop  # noqa: E402
from bench.serving_generate import bench_url  # noqa: E402
from bench.tiles_bench import stats  # noqa: E402
from gis_app import config  # noqa: E402
from gis_app.features.pages import Query, feature_batches  # noqa: E402
from gis_app.features.sources import layer_source  # noqa: E402
from gis_app.layers import LayerRegistry  # noqa: E402


def side_by_side(url: str, headers: dict, limit: int, rounds: int) -> dict:
    """Each box's page from the floor, then from gis_app, `rounds` times (after a warm-up)."""
    source = layer_source(LayerRegistry.from_dir(ROOT / "layers").get(LAYER))
    engine = create_engine(config.sqlalchemy_url(url), pool_size=1)
    urls = item_urls("gis_app", limit)
    times: dict[str, list[float]] = {"floor": [], "gis_app": []}
    with Session(engine) as session:
        for r in range(rounds + 1):
            for box, page_url in zip(BOXES, urls, strict=True):
                started = time.perf_counter()
                rows = sum(len(b) for b in feature_batches(session, source, Query(bbox=box), limit))
                floor_s = time.perf_counter() - started
                session.rollback()
                assert rows == limit
                status, size, ours_s = get(page_url, headers)
                assert status == 200, status
                if r:  # the first round warms up
                    times["floor"].append(floor_s)
                    times["gis_app"].append(ours_s)
    engine.dispose()
    rename = {"tiles": "pages", "tiles_s": "pages_s"}
    result = {
        name: {rename.get(k, k): v for k, v in stats(values).items()}
        for name, values in times.items()
    }
    result["gis_app_to_floor"] = round(result["gis_app"]["mean_ms"] / result["floor"]["mean_ms"], 2)
    return result


def main() -> None:
    """Run both page sizes; print the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="gis_app_bench")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    url = bench_url(args.database)
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    results: dict = {"database": args.database, "layer": LAYER, "clients": 1}
    proc, headers = ours(url, out)
    try:
        for limit in (1000, 10000):
            results[f"page_{limit}"] = side_by_side(url, headers, limit, args.rounds)
            print(limit, json.dumps(results[f"page_{limit}"]), flush=True)
    finally:
        stop(proc)
    (ROOT / "bench" / "results-pages.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

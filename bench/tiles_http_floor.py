"""The plain tile statement behind the least HTTP server, for bench/tiles_bench.py: a bare WSGI
function (no framework, no pool, no token, no revision) serving /<z>/<x>/<y> from the statement
of tiles_bench.plain_sql on one psycopg2 connection per thread. Run by gunicorn as ours is:

    DATABASE_URL=... .venv/bin/gunicorn --workers 2 --threads 4 bench.tiles_http_floor:app
"""

from __future__ import annotations

import os
import threading

from bench.tiles_bench import plain_connection, plain_sql

_LOCAL = threading.local()
_SQL: dict[int, str] = {}


def app(environ, start_response):
    """GET /z/x/y: the tile's bytes."""
    try:
        z, x, y = (int(part) for part in environ["PATH_INFO"].strip("/").split("/"))
    except ValueError:
        start_response("400 Bad Request", [("Content-Length", "0")])
        return [b""]
    if not hasattr(_LOCAL, "cur"):
        _LOCAL.cur = plain_connection(os.environ["DATABASE_URL"]).cursor()
    sql = _SQL.get(z) or _SQL.setdefault(z, plain_sql(z))
    _LOCAL.cur.execute(sql, {"z": z, "x": x, "y": y})
    body = bytes(_LOCAL.cur.fetchone()[0] or b"")
    start_response("200 OK", [("Content-Type", "application/vnd.mapbox-vector-tile"),
                              ("Content-Length", str(len(body)))])  # fmt: skip
    return [body]

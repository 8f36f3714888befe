"""Long CQL2 filters work through gunicorn as `make run` starts it, up to the documented length
(features.cql.MAX_CHARS characters); a longer URL is a 414 in the error shape."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from gis_app.config import PROJECT_ROOT
from gis_app.features.cql import MAX_CHARS
from gis_app.web.guard import MAX_URL_BYTES


def makefile_gunicorn_args() -> list[str]:
    found = re.search(r"^GUNICORN_ARGS \?= (.*)$", (PROJECT_ROOT / "Makefile").read_text(), re.M)
    assert found, "the Makefile sets GUNICORN_ARGS"
    return found.group(1).split()


@pytest.fixture(scope="module")
def gunicorn(postgis_url, tokens):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [str(PROJECT_ROOT / ".venv/bin/gunicorn"), *makefile_gunicorn_args(),
               "--bind", f"127.0.0.1:{port}", "--workers", "1", "wsgi:app"]  # fmt: skip
    proc = subprocess.Popen(command, cwd=PROJECT_ROOT, env={**os.environ,
                            "DATABASE_URL": postgis_url}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline and proc.poll() is None, "gunicorn did not start"
            time.sleep(0.3)
    yield f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {tokens['planner']}"}
    proc.terminate()
    proc.wait(10)


def fetch(url: str, headers: dict) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def long_filter(chars: int) -> str:
    names = []
    while len("name IN ()") + sum(len(n) + 2 for n in names) < chars - 20:
        names.append(f"'Водовод ул. Чкалова {len(names)}'")
    return f"name IN ({', '.join(names)})"


def test_a_filter_of_the_documented_length_passes_gunicorn(gunicorn):
    base, headers = gunicorn
    cql = long_filter(MAX_CHARS - 100)
    query = urllib.parse.urlencode({"filter": cql, "limit": 1})
    assert len(query) > 8190  # beyond gunicorn's own largest limit
    status, body = fetch(f"{base}/ogc/collections/water_mains/items?{query}", headers)
    assert status == 200, body[:300]


def test_a_longer_url_is_a_414_in_the_error_shape(gunicorn):
    base, headers = gunicorn
    status, body = fetch(f"{base}/api/layers?x={'a' * (MAX_URL_BYTES + 10)}", headers)
    assert status == 414 and b'"code":"uri_too_long"' in body.replace(b" ", b"")

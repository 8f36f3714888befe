"""A streamed answer holds one pooled connection from the view's first query to its last chunk,
and gives it back however the body ends: read to the end, gzipped, or dropped by a client that
stopped reading (before or after the first chunk). With a pool of one connection, any leak would
make the next request wait and fail."""

from __future__ import annotations

import http.client
import socket
import threading
import time

import pytest
from werkzeug.serving import make_server

from gis_app import create_app
from gis_app.db import make_engine

PAGE = "/ogc/collections/road_segments/items?limit=10000"


@pytest.fixture(scope="module")
def one_connection_server(postgis_url):
    engine = make_engine(postgis_url, pool_size=1, max_overflow=0, pool_timeout=5)
    app = create_app({"DATABASE_URL": postgis_url, "ENGINE": engine})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_port, engine
    server.shutdown()
    engine.dispose()


def _get(port: int, token: str, path: str, headers: dict | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}", **(headers or {})})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body


def _drop_after(port: int, token: str, path: str, nbytes: int, headers: str = "") -> None:
    """Send the request, read `nbytes` of the answer (0: none), and hang up."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n{headers}\r\n".encode()
    )
    received = 0
    while received < nbytes:
        data = sock.recv(65536)
        if not data:
            break
        received += len(data)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()  # a reset: the server's next write fails


def test_every_way_a_stream_ends_gives_the_connection_back(one_connection_server, tokens):
    port, engine = one_connection_server
    token = tokens["planner"]
    for _ in range(3):
        status, body = _get(port, token, PAGE)
        assert status == 200 and body.endswith(b"}")
        status, body = _get(port, token, PAGE, {"Accept-Encoding": "gzip"})
        assert status == 200 and body[:2] == b"\x1f\x8b"
    for nbytes in (0, 1, 100_000):
        for headers in ("", "Accept-Encoding: gzip\r\n"):
            _drop_after(port, token, PAGE, nbytes, headers)
    deadline = time.monotonic() + 10
    while engine.pool.checkedout() and time.monotonic() < deadline:
        time.sleep(0.05)  # the server notices a hang-up at its next write
    assert engine.pool.checkedout() == 0
    status, body = _get(port, token, PAGE)  # the pool of one serves again
    assert status == 200 and b'"numberReturned":' in body


def _head_and_body(port: int, token: str, path: str) -> tuple[dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return {k.lower(): v for k, v in response.getheaders()}, body


def test_a_small_page_is_sent_whole_and_a_big_one_streams(
    one_connection_server, tokens, monkeypatch
):
    from gis_app.web import streaming

    port, engine = one_connection_server
    path = "/ogc/collections/road_segments/items?limit=50"
    headers, body = _head_and_body(port, tokens["planner"], path)
    assert int(headers["content-length"]) == len(body) and "transfer-encoding" not in headers
    assert b'"numberReturned":50' in body and body.endswith(b"}")
    # The same page over the size sent whole: streamed in chunks, the same features.
    monkeypatch.setattr(streaming, "WHOLE_BYTES", 1000)
    streamed_headers, streamed = _head_and_body(port, tokens["planner"], path)
    assert streamed_headers["transfer-encoding"] == "chunked"
    assert "content-length" not in streamed_headers
    features = streamed.split(b'"features":', 1)[1].split(b'],"numberReturned"', 1)[0]
    assert features == body.split(b'"features":', 1)[1].split(b'],"numberReturned"', 1)[0]
    assert engine.pool.checkedout() == 0

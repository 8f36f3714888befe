"""Streamed answers with validators: ETag and Last-Modified, 304 on a conditional GET, gzip on request.

Shared by /api/layers/<id>.geojson, /ogc and /tiles. The ETag is made from the data's revision
(serving_revisions, kept by triggers) and the request, so it changes whenever the data does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zlib
from collections.abc import Iterable, Iterator

from flask import Response, g, request, stream_with_context

from gis_app.db import close_session


def dumps(value: object) -> str:
    """JSON text as the API writes it (UTF-8, Cyrillic kept as is, no spaces)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# Chunks of about this size go to the socket (and to gzip): fewer, larger writes.
CHUNK_BYTES = 64 * 1024
# An answer of at most this size is read whole and sent with its Content-Length (a 1,000-feature
# page is about 0.5 MB): the client reads one body instead of a chunked one (http.client parses
# each chunk's header in Python), and the Session goes back to the pool before the answer is sent.
# Larger answers (a 10,000-feature page is about 5 MB) stream, so a worker holds at most this
# much and one batch.
WHOLE_BYTES = 1024 * 1024


def make_etag(*parts: object) -> str:
    """A weak ETag of the parts (weak: the gzipped and plain bodies share it)."""
    digest = hashlib.sha1("\x1f".join(map(str, parts)).encode()).hexdigest()[:24]
    return f'W/"{digest}"'


def request_key() -> str:
    """The request's path and its arguments in a stable order (for an ETag)."""
    args = sorted(request.args.items(multi=True))
    return request.path + "?" + "&".join(f"{k}={v}" for k, v in args)


def not_modified(etag: str | None, last_modified: dt.datetime | None) -> Response | None:
    """A 304 when the client's copy is current, else None. If-None-Match wins over the date."""
    if etag is None:
        return None
    inm = request.headers.get("If-None-Match")
    if inm is not None:
        tags = {t.strip() for t in inm.split(",")}
        if etag in tags or etag.removeprefix("W/") in tags or "*" in tags:
            return _304(etag, last_modified)
        return None
    ims = request.if_modified_since
    if (
        ims is not None
        and last_modified is not None
        and last_modified.replace(microsecond=0) <= ims
    ):
        return _304(etag, last_modified)
    return None


def _304(etag: str, last_modified: dt.datetime | None) -> Response:
    response = Response(status=304)
    response.headers["ETag"] = etag
    if last_modified is not None:
        response.last_modified = last_modified
    return response


def _close(chunks: Iterable) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()


def _batched(chunks: Iterable[str | bytes]) -> Iterator[bytes]:
    buf: list[bytes] = []
    size = 0
    try:
        for chunk in chunks:
            data = chunk.encode() if isinstance(chunk, str) else chunk
            if len(data) >= CHUNK_BYTES:
                # A page's batch of features is large already: sent as it is, not copied
                # into one with the few bytes before it (those go first, on their own).
                if buf:
                    yield b"".join(buf)
                    buf, size = [], 0
                yield data
                continue
            buf.append(data)
            size += len(data)
            if size >= CHUNK_BYTES:
                yield b"".join(buf)
                buf, size = [], 0
        if buf:
            yield b"".join(buf)
    finally:
        _close(chunks)  # a body closed early closes the view's generator (and its cursor) now


def _gzipped(chunks: Iterator[bytes]) -> Iterator[bytes]:
    # Level 1: JSON still shrinks about 8x, and compressing keeps pace with the database.
    zipper = zlib.compressobj(1, zlib.DEFLATED, 31)
    try:
        for chunk in chunks:
            out = zipper.compress(chunk)
            if out:
                yield out
        yield zipper.flush()
    finally:
        _close(chunks)


class _Closing:
    """The body's chunks, then the request's Session closed: the stream takes the Session over
    from the request (whose teardown would close it before the body is sent), so a page runs
    on the connection and transaction the view used (one checkout, one pre-ping per request)
    and gives it back when the last chunk is sent, or when the server closes the body early
    (a client that stopped reading), started or not."""

    def __init__(self, chunks: Iterator[bytes], session) -> None:
        self.chunks, self.session = chunks, session

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        try:
            return next(self.chunks)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        try:
            _close(self.chunks)
        finally:
            if self.session is not None:
                close_session(self.session)
                self.session = None


def _primed(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The chunks, the first one already taken (errors raise here, in the view)."""
    first = next(chunks, None)

    def rest() -> Iterator[bytes]:
        try:
            if first is not None:
                yield first
                yield from chunks
        finally:
            _close(chunks)

    return rest()


def _chained(taken: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    """The chunks already taken, then the rest (closed however the body ends)."""
    try:
        yield from taken
        yield from rest
    finally:
        _close(rest)


def gzipped(data: bytes) -> bytes:
    """`data` gzipped as stream() gzips its chunks (level 1)."""
    return b"".join(_gzipped(iter([data])))


def wants_gzip() -> bool:
    """Whether the client accepts a gzip-encoded body."""
    return request.accept_encodings["gzip"] > 0


def stream(
    chunks: Iterable[str | bytes],
    mimetype: str,
    etag: str | None = None,
    last_modified: dt.datetime | None = None,
    cache_control: str = "no-cache",
    headers: dict | None = None,
) -> Response:
    """Stream text chunks in batches, gzipped when asked, with the validators and cache policy.

    The first batch is made before the answer starts: the page's query runs now, so a database
    that is down gives the client a 503 (with Retry-After), not a 200 whose body breaks off.
    An answer that ends within WHOLE_BYTES is sent in one piece with its Content-Length."""
    batched = _batched(chunks)
    taken, size = [], 0
    try:
        for chunk in batched:
            taken.append(chunk)
            size += len(chunk)
            if size > WHOLE_BYTES:
                break
        else:  # all of it is here: no chunked body, no stream to hold the Session
            return whole(taken, mimetype, etag, last_modified, cache_control, headers)
    except BaseException:
        _close(batched)
        raise
    body = _primed(_chained(taken, batched))
    gzip = wants_gzip()
    if gzip:
        body = _gzipped(body)
    body = _Closing(body, g.pop("db_session", None))
    response = Response(stream_with_context(body), mimetype=mimetype)
    return _with_headers(response, gzip, etag, last_modified, cache_control, headers)


def whole(
    data: bytes | list[bytes],
    mimetype: str,
    etag: str | None = None,
    last_modified: dt.datetime | None = None,
    cache_control: str = "no-cache",
    headers: dict | None = None,
) -> Response:
    """A small answer already in memory (a tile) as stream() would send it, but in one piece
    with its Content-Length: not a chunked body. A list of parts is sent as it is (its
    Content-Length their sum), not copied into one."""
    parts = [data] if isinstance(data, bytes) else data
    gzip = wants_gzip()
    if gzip:
        parts = [b"".join(_gzipped(iter(parts)))]
    response = Response(parts, mimetype=mimetype)
    response.headers["Content-Length"] = str(sum(map(len, parts)))
    return _with_headers(response, gzip, etag, last_modified, cache_control, headers)


def _with_headers(
    response: Response,
    gzip: bool,
    etag: str | None,
    last_modified: dt.datetime | None,
    cache_control: str,
    headers: dict | None,
) -> Response:
    if gzip:
        response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding, Accept"
    response.headers["Cache-Control"] = cache_control
    if etag is not None:
        response.headers["ETag"] = etag
    if last_modified is not None:
        response.last_modified = last_modified
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response

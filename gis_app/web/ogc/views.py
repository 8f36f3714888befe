"""The /ogc endpoints: landing page, conformance, OpenAPI, collections, items, one item."""

from __future__ import annotations

import datetime as dt
import json

from flask import Response, render_template, request, url_for

from gis_app.db import get_session, replica_ok, single_statements
from gis_app.errors import InvalidParameter, NotFound
from gis_app.features import edits
from gis_app.features.cql import CONFORMANCE as PART3
from gis_app.features.pages import (
    CheckedRevisions,
    PageCount,
    Query,
    checked_revisions,
    count_exact,
    exists_before,
    extent,
    feature,
    feature_batches,
    page_features_json,
    revisions,
)
from gis_app.features.pages import count_estimate as _estimate
from gis_app.features.sources import Source
from gis_app.layers import layer_registry
from gis_app.web.access import checks_credentials_itself, confirm_credentials, pending_credentials
from gis_app.web.ogc import ogc
from gis_app.web.ogc.collections import collection_json, get_source, queryables_json, sources, title
from gis_app.web.ogc.openapi import PART4, openapi
from gis_app.web.ogc.params import Page, encode_cursor, parse_crs, parse_page, parse_query
from gis_app.web.streaming import dumps, make_etag, not_modified, request_key, stream

GEOJSON = "application/geo+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    *PART3,  # filter, features-filter, queryables; the CQL2 classes (gis_app.features.cql)
    *PART4,  # create, replace, update, delete (gis_app.web.ogc.crud)
]
# Below this many features a collection is counted exactly on every page (cheap); above it the
# count needs count=exact or no filter (the trigger-kept total).
EXACT_COUNT_BELOW = 10_000


def _html() -> bool:
    f = request.args.get("f")
    if f in ("json", "geojson"):
        return False
    if f == "html":
        return True
    if f:
        raise InvalidParameter("f must be json or html", parameter="f", value=f)
    best = request.accept_mimetypes.best_match(["application/json", GEOJSON, "text/html"])
    return best == "text/html"


def _links(endpoint: str, json_type: str = "application/json", **values) -> list[dict]:
    return [
        {"rel": "self", "type": json_type, "title": "this document",
         "href": url_for(endpoint, _external=True, **values)},
        {"rel": "alternate", "type": "text/html", "title": "this document as HTML",
         "href": url_for(endpoint, _external=True, f="html", **values)},
    ]  # fmt: skip


def _answer(doc: dict, page_title: str, mimetype: str = "application/json") -> Response:
    if _html():
        html = render_template("ogc.html", title=page_title, doc=doc, features=None)
        return Response(html, mimetype="text/html")
    return Response(dumps(doc), mimetype=mimetype)


@ogc.get("/", strict_slashes=False)
def landing():
    """The landing page: links to the API document, conformance and collections."""
    doc = {
        "title": "gis_app — сети и инциденты Ленинградской области (OGC API - Features)",
        "description": "Utility networks, incidents and municipalities of Leningrad Oblast.",
        "links": _links("ogc.landing") + [
            {"rel": "service-desc", "type": OPENAPI, "title": "the API definition (OpenAPI 3.0)",
             "href": url_for("ogc.api", _external=True)},
            {"rel": "service-doc", "type": "text/html", "title": "the API definition as HTML",
             "href": url_for("ogc.api", f="html", _external=True)},
            {"rel": "conformance", "type": "application/json", "title": "conformance classes",
             "href": url_for("ogc.conformance", _external=True)},
            {"rel": "data", "type": "application/json", "title": "the collections",
             "href": url_for("ogc.collections", _external=True)},
        ],
    }  # fmt: skip
    return _answer(doc, doc["title"])


@ogc.get("/conformance")
def conformance():
    """The conformance classes the service meets."""
    return _answer({"conformsTo": CONFORMANCE}, "Conformance")


@ogc.get("/api")
def api():
    """The OpenAPI 3.0 document."""
    return _answer(openapi(sources()), "OpenAPI 3.0", OPENAPI)


def _collection_doc(source: Source) -> dict:
    session = get_session()
    tag = revisions(session, source.revision_keys)[0] if source.revision_keys else None
    bbox, interval = extent(session, source, tag)
    return collection_json(source, bbox, interval)


@ogc.get("/collections")
@replica_ok
def collections():
    """Every collection with its extent and links."""
    doc = {
        "links": _links("ogc.collections"),
        "crs": [],
        "collections": [_collection_doc(s) for s in sources().values()],
    }
    doc["crs"] = doc["collections"][0]["crs"] if doc["collections"] else []
    return _answer(doc, "Collections")


@ogc.get("/collections/<collection_id>")
@replica_ok
def collection(collection_id: str):
    """One collection's description."""
    source = get_source(collection_id)
    return _answer(_collection_doc(source), title(source))


@ogc.get("/collections/<collection_id>/queryables")
@replica_ok
def queryables(collection_id: str):
    """The attributes one may filter on, as a JSON Schema."""
    source = get_source(collection_id)
    return _answer(
        queryables_json(source), f"Queryables: {title(source)}", "application/schema+json"
    )


def _validators(
    source: Source, checked: CheckedRevisions | None = None
) -> tuple[str | None, dt.datetime | None, str]:
    """(ETag, Last-Modified, Cache-Control) of an answer from this source (from the revisions
    already `checked`, or looked up now)."""
    if not source.revision_keys:  # incidents change by the minute: never cached
        return None, None, "no-store"
    if checked is None:
        tag, changed = revisions(get_session(), source.revision_keys)
    else:
        tag, changed = checked.tag, checked.changed
    return make_etag(tag, request_key(), _html(), ""), changed, "no-cache"


def _number_matched(source: Source, query: Query) -> tuple[int | None, int | None]:
    """(numberMatched, estimate): exact when cheap or asked for, otherwise the planner's estimate."""
    session = get_session()
    if request.args.get("count") not in (None, "", "exact"):
        raise InvalidParameter(
            "count must be 'exact'", parameter="count", value=request.args["count"]
        )
    if request.args.get("count") == "exact" or query.is_unfiltered() or not source.count_key:
        return count_exact(session, source, query), None
    estimate = _estimate(session, source, query)
    if estimate < EXACT_COUNT_BELOW:
        return count_exact(session, source, query), None
    return None, estimate


def _page_url(cid: str, **changes) -> str:
    args = request.args.to_dict()
    args.pop("cursor", None)
    args.pop("offset", None)
    args.update({k: v for k, v in changes.items() if v is not None})
    return url_for("ogc.items", collection_id=cid, _external=True, **args)


@ogc.get("/collections/<collection_id>/items")
@checks_credentials_itself
@replica_ok
@single_statements
def items(collection_id: str):
    """Features of a collection: bbox, attribute, time and CQL2 filters, paged by key (or offset)."""
    source = get_source(collection_id)
    query = parse_query(request.args, source)
    page = parse_page(request.args)
    queryables_url = url_for("ogc.queryables", collection_id=collection_id, _external=True)
    headers = {
        "Content-Crs": f"<{query.crs.uri}>",
        # Part 3 (/req/queryables/queryables-link): the filterable resource links its queryables.
        "Link": f'<{queryables_url}>; rel="http://www.opengis.net/def/rel/ogc/1.0/queryables";'
        ' type="application/schema+json"',
    }
    # One round trip before the page: the revision and the token (or login) check.
    checked = checked_revisions(get_session(), source.revision_keys, pending_credentials())
    confirm_credentials(checked.who)  # 401 here when the token or login is not valid
    etag, changed, cache = _validators(source, checked)
    cached = not_modified(etag, changed)
    if cached is not None:
        return cached
    matched, estimate = _number_matched(source, query)
    session = get_session()
    batches = feature_batches(session, source, query, page.limit + (page.before is None),
                              page.after, page.before, page.offset)  # fmt: skip
    if _html():
        collected = [json.loads(text) for batch in batches for _, text in batch]
        shown = collected[: page.limit] if page.before is None else collected
        more = len(collected) > len(shown)
        first, last = (shown[0]["id"], shown[-1]["id"]) if shown else (None, None)
        paging = _paging(session, source, query, page, first, last, more)
        body = {"numberReturned": len(shown), "numberMatched": matched,
                "links": _items_links(collection_id, paging)}  # fmt: skip
        html = render_template(
            "ogc.html",
            title=title(source),
            doc=body,
            features=shown,
            collection_id=collection_id,
        )
        return Response(html, mimetype="text/html", headers=headers)
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

    def generate():
        yield '{"type":"FeatureCollection","features":['
        count = PageCount()
        yield from page_features_json(batches, page.limit, count)
        paging = _paging(session, source, query, page, count.first, count.last, count.more)
        links = _items_links(collection_id, paging)
        tail = {"numberReturned": count.returned, "timeStamp": stamp, "links": links}
        if matched is not None:
            tail["numberMatched"] = matched
        else:
            tail["numberMatchedEstimate"] = estimate
        if page.clamped_from is not None:
            tail["limitClamped"] = {"requested": page.clamped_from, "served": page.limit}
        yield "]," + dumps(tail)[1:]

    return stream(generate(), GEOJSON, etag, changed, cache, headers)


def _items_links(collection_id: str, paging: list[tuple[str, str]]) -> list[dict]:
    """self and alternate (GeoJSON and HTML, the request's own arguments kept, percent-encoded),
    then the paging links; the HTML page's links are the same, its `self` being the HTML one."""
    args = {k: v for k, v in request.args.items() if k != "f"}
    as_json = url_for("ogc.items", collection_id=collection_id, _external=True, **args)
    as_html = url_for("ogc.items", collection_id=collection_id, _external=True, f="html", **args)
    html = _html()
    links = [
        {"rel": "alternate" if html else "self", "type": GEOJSON, "title": "this page as GeoJSON",
         "href": as_json},
        {"rel": "self" if html else "alternate", "type": "text/html", "title": "this page as HTML",
         "href": as_html},
    ]  # fmt: skip
    for rel, href in paging:
        links.append({"rel": rel, "type": "text/html" if html else GEOJSON,
                      "title": f"{rel} page", "href": href})  # fmt: skip
    return links


def _paging(session, source, query, page: Page, first, last, more) -> list[tuple[str, str]]:
    """The next and prev links of a page: by offset if the client used it, else by key."""
    cid, limit = source.id, page.limit
    links = []
    if page.offset is not None:
        if more:
            links.append(("next", _page_url(cid, offset=page.offset + limit, limit=limit)))
        if page.offset > 0:
            links.append(("prev", _page_url(cid, offset=max(page.offset - limit, 0), limit=limit)))
        return links
    if page.before is not None:
        more = True  # we came back from the page after this one
    if more and last is not None:
        links.append(("next", _page_url(cid, cursor=encode_cursor(after=last), limit=limit)))
    has_prev = (page.after is not None or page.before is not None) and first is not None
    # The view's Session, not get_session(): by now the request is torn down (see streaming.py).
    if has_prev and exists_before(session, source, query, first):
        links.append(("prev", _page_url(cid, cursor=encode_cursor(before=first), limit=limit)))
    return links


def _feature_validators(collection_id: str, feature_id: int) -> tuple[str, dt.datetime] | None:
    """(strong ETag, Last-Modified) of one feature of an edited layer, from its row: they change
    with every write of that feature and no other (If-Match of Part 4 edits compares the ETag).
    None when the layer has no such feature."""
    found = edits.state(get_session(), layer_registry().get(collection_id), feature_id)
    if found is None:
        return None
    # The HTML page is another representation at the same URL: another strong ETag.
    etag = found.etag[:-1] + '-html"' if _html() else found.etag
    return etag, found.updated_at


@ogc.get("/collections/<collection_id>/items/<feature_id>")
@replica_ok
def item(collection_id: str, feature_id: str):
    """One feature by id; for layers, with the strong ETag of its current state."""
    source = get_source(collection_id)
    unknown = sorted(set(request.args) - {"f", "crs"})
    if unknown:
        raise InvalidParameter(
            f"unknown parameter(s) {unknown}", code="unknown_parameter", parameter=unknown[0]
        )
    crs = parse_crs(request.args.get("crs"), "crs")
    missing = NotFound(
        f"Feature '{feature_id}' does not exist in '{collection_id}'.",
        code="feature_not_found", collection=collection_id, feature=feature_id,
    )  # fmt: skip
    if not (feature_id.isascii() and feature_id.isdigit()) or int(feature_id) >= 2**63:
        raise missing
    per_feature = collection_id in layer_registry()
    if per_feature:
        # Read before the feature: a write between the two then only makes this ETag stale
        # (a 412 later), never pairs an older body with a newer ETag (a lost update).
        validators = _feature_validators(collection_id, int(feature_id))
        if validators is None:
            raise missing
        (etag, changed), cache = validators, "no-cache"
    else:
        etag, changed, cache = _validators(source)
    cached = not_modified(etag, changed)
    if cached is not None:
        return cached
    text = feature(get_session(), source, int(feature_id), crs)
    if text is None:
        raise missing
    doc = json.loads(text)
    doc["links"] = _links("ogc.item", GEOJSON, collection_id=collection_id, feature_id=feature_id) + [
        {"rel": "collection", "type": "application/json", "title": title(source),
         "href": url_for("ogc.collection", collection_id=collection_id, _external=True)}
    ]  # fmt: skip
    headers = {"Content-Crs": f"<{crs.uri}>"}
    if _html():
        html = render_template(
            "ogc.html",
            title=f"{title(source)} — {feature_id}",
            doc={"links": doc["links"]},
            features=[doc],
            collection_id=collection_id,
        )
        if per_feature:
            headers.update({"ETag": etag, "Cache-Control": cache, "Vary": "Accept"})
        return Response(html, mimetype="text/html", headers=headers)
    if per_feature:
        # Not gzipped: a strong ETag names these exact bytes, and one feature is small.
        response = Response(dumps(doc), mimetype=GEOJSON, headers=headers)
        response.headers.update({"ETag": etag, "Cache-Control": cache, "Vary": "Accept"})
        response.last_modified = changed
        return response
    return stream([dumps(doc)], GEOJSON, etag, changed, cache, headers)

"""Every bad request is a 4xx in the error shape (issue 11): a battery over every route.

The routes come from app.url_map, so a new route is covered without editing this file. Each
class of bad input of the issue is sent where a value goes: the path, the query string (the
parameters the views read), a JSON body and a form body. No answer may be a 5xx; every 4xx
must carry the JSON error shape (Open311's list of {code, description} under /open311).
"""

from __future__ import annotations

import inspect
import re
import sys

import pytest

# Values a path segment or a query parameter gets, percent-encoded as a client would send them.
BAD_VALUES = {
    "nul": "%00",
    "nul-inside": "12%00",
    "control": "a%01b",
    "newline": "1%0A2",
    "lone-surrogate": "%ED%A0%80",
    "bad-utf8": "%FF%FE",
    "superscript-one": "%C2%B9",
    "arabic-indic-3": "%D9%A3",
    "fullwidth-1": "%EF%BC%91",
    "int-65-bits": "36893488147419103232",
    "int-huge": "9" * 400,
    "underscored": "1_000",
    "nan": "nan",
    "inf": "-inf",
    "float-huge": "1e400",
    "date-before-1": "0001-01-01T00:00:00%2B03:00",
    "date-after-9999": "9999-12-31T23:59:59-03:00",
    "date-arabic": "%D9%A2%D9%A0%D9%A2%D9%A6-01-01",
    "long": "x" * 5000,
}
# Query parameters the views read (any view ignores those it does not know, or answers 400).
PARAMS = [
    "limit", "offset", "bbox", "datetime", "filter", "crs", "bbox-crs", "filter-crs",
    "operator", "status", "utility", "lon", "lat", "start_date", "end_date",
    "service_request_id", "service_code", "layer", "municipality", "cursor", "active", "format",
    "days",
    "max_distance_m", "overdue", "after_id", "next", "lang", "f", "properties", "sortby",
]  # fmt: skip
# A valid value of each named path parameter, so the bad value is the only fault.
SAMPLES = {
    "layer_id": "water_mains",
    "collection_id": "water_mains",
    "slug": "gatchina",
    "code": "water",
    "action": "accept",
    "package": "leaflet",
    "filename": "leaflet.js",
    "anything": "requests",
    "z": "12",
    "x": "2400",
    "y": "1200",
}


# A restricting base query per route, so a request whose bad parameter is ignored stays cheap.
BASE = {
    "/api/exports": {"format": "geojson", "layers": "water_hydrants", "bbox": "30,59,30.001,59.001"}
}


def read_parameters(app, endpoint: str, template: str) -> list[str]:
    """The names of PARAMS the route's view module (and the OGC parameter parser) mention."""
    module = sys.modules[app.view_functions[endpoint].__module__]
    source = inspect.getsource(module)
    if template.startswith("/ogc"):
        source += inspect.getsource(sys.modules["gis_app.web.ogc.params"])
    return [name for name in PARAMS if f'"{name}"' in source]


def routes(app) -> list[tuple[str, str]]:
    """(method, URL template with <name> placeholders) of every route but static assets."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("static", "vendor.asset"):
            continue
        template = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"<\1>", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, template))
    return sorted(found)


def fill(template: str, bad: str | None = None, which: str | None = None) -> str:
    """The URL with sample values; the parameter `which` gets `bad`."""

    def value(match: re.Match) -> str:
        name = match.group(1)
        if name == which:
            return bad or ""
        return SAMPLES.get(name, "1")

    return re.sub(r"<([a-z_]+)>", value, template)


def assert_client_error(response, what: str) -> None:
    """A 2xx/3xx, or a 4xx in the error shape; never a 5xx."""
    data = response.get_data()
    response.close()
    status = response.status_code
    assert status < 500, f"{what}: {status} {data[:300]!r}"
    if status < 400 or response.mimetype == "text/html":
        return
    assert response.mimetype == "application/json", f"{what}: {response.mimetype}"
    body = response.get_json()
    if isinstance(body, list):  # Open311
        assert body and {"code", "description"} <= set(body[0]), what
    else:
        assert {"status", "code", "message"} <= set(body), f"{what}: {body}"
        assert body["status"] == status, what


@pytest.fixture(scope="module")
def all_routes(app):
    return routes(app)


@pytest.fixture(scope="module")
def get_routes(app):
    """(URL template, base query, parameters read) of every GET route."""
    found = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in ("static", "vendor.asset"):
            continue
        template = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"<\1>", rule.rule)
        names = read_parameters(app, rule.endpoint, template)
        found.append((template, BASE.get(template, {"limit": "1"}), names))
    return sorted(found)


def test_every_route_is_in_the_battery(all_routes):
    assert ("POST", "/api/incidents") in all_routes
    assert ("GET", "/ogc/collections/<collection_id>/items") in all_routes
    assert len(all_routes) > 50


@pytest.mark.parametrize("kind", sorted(BAD_VALUES))
def test_bad_query_values_on_every_get(client, get_routes, kind):
    bad = BAD_VALUES[kind]
    for template, base, names in get_routes:
        url = fill(template)
        for name in names:
            query = "&".join(f"{k}={v}" for k, v in base.items() if k != name)
            r = client.get(f"{url}?{query}&{name}={bad}", headers={"Accept": "application/json"})
            assert_client_error(r, f"GET {url}?{name}={bad[:30]}")


@pytest.mark.parametrize("kind", sorted(BAD_VALUES))
def test_bad_path_values_on_every_route(client, all_routes, kind):
    bad = BAD_VALUES[kind]
    for method, template in all_routes:
        for name in re.findall(r"<([a-z_]+)>", template):
            url = fill(template, bad, name)
            r = client.open(url, method=method, headers={"Accept": "application/json"})
            assert_client_error(r, f"{method} {url[:120]}")


JSON_BODIES = {
    "nul-in-string": '{"description": "\\u0000", "title": "a\\u0000b", "name": "\\u0000"}',
    "lone-surrogate": '{"description": "\\ud800", "title": "\\udfff", "name": "\\ud83d"}',
    "nul-in-key": '{"\\u0000": 1}',
    "deep": "[" * 100000 + "]" * 100000,
    "deep-object": '{"a":' * 5000 + "1" + "}" * 5000,
    "int-65-bits": '{"priority": 36893488147419103232, "operator_id": 36893488147419103232,'
    ' "lon": 36893488147419103232, "days": 36893488147419103232}',
    "huge-int": '{"lon": ' + "9" * 4000 + ', "lat": 1}',
    "float-huge": '{"lon": 1e400, "lat": -1e400}',
    "dates": '{"starts_at": "0001-01-01T00:00:00+03:00", "ends_at": "9999-12-31T23:59:59-03:00",'
    ' "expected_at": "0001-01-01T01:00:00+05:00", "supply_stopped_at": "0001-01-01T00:00+01:00"}',
    "not-json": "{",
    "array": "[]",
}


@pytest.mark.parametrize("kind", sorted(JSON_BODIES))
def test_bad_json_bodies_on_every_write(client, all_routes, kind):
    body = JSON_BODIES[kind]
    for method, template in all_routes:
        if method == "GET":
            continue
        url = fill(template)
        for ctype in ("application/json", "application/geo+json"):
            r = client.open(
                url,
                method=method,
                data=body,
                headers={"Content-Type": ctype, "If-Match": '"1"', "Accept": "application/json"},
            )
            assert_client_error(r, f"{method} {url} {kind} {ctype}")


@pytest.mark.parametrize("kind", ["nul", "control", "lone-surrogate-bytes", "long-file-name"])
def test_bad_form_bodies_on_every_write(client, all_routes, kind):
    import io

    for method, template in all_routes:
        if method == "GET":
            continue
        url = fill(template)
        if kind == "long-file-name":
            data = {"file": (io.BytesIO(b'{"type":"FeatureCollection","features":[]}'), "a" * 5000)}
            r = client.open(url, method=method, data=data, content_type="multipart/form-data")
        else:
            raw = {
                "nul": b"username=a%00b&password=x&lat=1%00&long=2&service_code=water&api_key=k",
                "control": b"username=a%07&description=%1b[31m",
                "lone-surrogate-bytes": b"username=%ED%A0%80&description=%ED%B0%80",
            }[kind]
            r = client.open(
                url,
                method=method,
                data=raw,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        assert_client_error(r, f"{method} {url} {kind}")


def test_bad_headers(client):
    for header, value in [
        ("If-Match", '"1\x01"'),
        ("Content-Crs", "<http://www.opengis.net/def/crs/EPSG/0/4326\x00>"),
        ("X-CSRF-Token", "a\x00"),
        ("Accept-Language", "ru\x1b"),
    ]:
        r = client.get("/api/layers", headers={header: value})
        assert_client_error(r, header)
        assert r.status_code == 400, header


@pytest.mark.parametrize(
    "query",
    [
        "filter=material LIKE 'st\\'",  # a trailing escape: PostgreSQL would raise
        "filter=material LIKE 'st\\x'",
        "filter=material = '\ud800'".encode("utf-8", "surrogatepass").decode("latin-1"),
        "filter=diameter_mm = 36893488147419103232",
        "filter=diameter_mm = ٣",
        "filter=T_AFTER(updated_at, TIMESTAMP('0001-01-01T00:00:00+03:00'))",
        "filter=T_AFTER(updated_at, DATE('9999-12-31'))",
        "filter=T_AFTER(updated_at, DATE('２０２６-01-01'))",
        "datetime=9999-12-31",
        "datetime=0001-01-01T00:00:00%2B03:00/..",
        "diameter_mm=٣",
        "diameter_mm=1_000",
        "limit=¹",
        "offset=36893488147419103232",
        "bbox=٣,59,31,60",
        "bbox=nan,59,31,60",
    ],
)
def test_ogc_items_refuse_what_python_would_accept(client, query):
    from urllib.parse import quote

    name, _, value = query.partition("=")
    raw = value.encode("latin-1") if query.startswith("filter=material = ") else value.encode()
    r = client.get(f"/ogc/collections/water_mains/items?{name}={quote(raw, safe='%')}")
    r.get_data()
    r.close()
    assert r.status_code == 400, (query, r.get_data(as_text=True))
    assert r.get_json()["code"] in (
        "invalid_parameter",
        "invalid_filter",
        "invalid_bbox",
        "invalid_character",
        "invalid_encoding",
    ), r.get_json()


@pytest.mark.parametrize(
    "body, field, code",
    [
        ({"description": "нет\x00воды"}, "description", "invalid_json_value"),
        ({"priority": "٣"}, "priority", "invalid_field"),
        ({"priority": 2**64}, "priority", "invalid_json_value"),
        ({"lon": "٣٠", "lat": 59}, "lon", "invalid_field"),
        ({"lon": 10**300, "lat": 59}, "lon", "invalid_json_value"),
        ({"lon": "1e400", "lat": 59}, "lon", "invalid_field"),
        ({"supply_stopped_at": "0001-01-01T00:00:00+03:00"}, "supply_stopped_at", "invalid_field"),
    ],
)
def test_incident_fields_are_refused_not_changed(client, body, field, code):
    payload = {"lon": 30.1, "lat": 59.57, "utility": "water", "description": "x", **body}
    r = client.post("/api/incidents", json=payload)
    assert r.status_code == 400, r.get_data(as_text=True)
    answer = r.get_json()
    assert answer["code"] == code and field in answer["message"], answer


def test_nul_in_text_is_named_not_truncated(client):
    r = client.post(
        "/api/incidents",
        data='{"lon": 30.1, "lat": 59.57, "utility": "water", "description": "a\\u0000b"}',
        content_type="application/json",
    )
    body = r.get_json()
    assert r.status_code == 400 and body["details"]["pointer"] == "/description"
    assert "U+0000 (NUL)" in body["message"]


def test_deep_json_is_a_400(client):
    r = client.post(
        "/api/incidents", data="[" * 50000 + "]" * 50000, content_type="application/json"
    )
    assert r.status_code == 400 and r.get_json()["status"] == 400

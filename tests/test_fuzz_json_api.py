"""Fuzzing the JSON API's writes with hypothesis (issue 11): any JSON body, near-valid or wild,
is a 2xx or a 4xx in the error shape, never a 5xx. Bounded: few examples, no example database."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# Text with the characters that broke things: NUL, controls, surrogates, Unicode digits.
nasty_text = st.text(
    alphabet=st.characters(codec=None, exclude_categories=()) | st.sampled_from("\x00\x1b¹٣"),
    max_size=30,
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | nasty_text
    | st.sampled_from(["0001-01-01T00:00:00+03:00", "9999-12-31T23:59:59-03:00", "water", "gas"])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(nasty_text, inner, max_size=4),
    max_leaves=12,
)
FIELDS = ["kind", "description", "priority", "address", "feature_id",
          "supply_stopped_at", "expected_at", "operator_id", "duplicate_of", "comment", "title",
          "starts_at", "ends_at", "area", "feature_ids", "public_summary", "url", "days", "name"]  # fmt: skip
near_valid = st.fixed_dictionaries(
    {"lon": st.just(30.1), "lat": st.just(59.57), "utility": st.just("water")},
    optional={name: json_values for name in FIELDS},
)
TARGETS = [
    ("post", "/api/incidents"),
    ("patch", "/api/incidents/1"),
    ("post", "/api/incidents/1/assign"),
    ("post", "/api/incidents/1/duplicate"),
    ("post", "/api/planned-outages"),
    ("put", "/api/operators/1/webhook"),
    ("post", "/api/tokens"),
]


def check(response) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)[:300]
    if response.status_code >= 400:
        body = response.get_json()
        assert {"status", "code", "message"} <= set(body) and body["status"] == response.status_code


@settings(max_examples=60, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))  # fmt: skip
@given(body=near_valid | json_values, target=st.sampled_from(TARGETS))
def test_json_writes_never_5xx(client, body, target):
    method, url = target
    check(getattr(client, method)(url, json=body, headers={"If-Match": '"1"'}))

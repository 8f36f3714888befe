"""Fuzzing the OGC API from its own OpenAPI document (issue 11), bounded in time.

schemathesis generates requests for every operation the document declares (path and query
parameters, bodies), sends them to the app inside the test's transaction (nothing written
stays), and checks that no answer is a 5xx and that each answer is one the document declares
(status code, content type). Examples per operation are few and the whole run has a budget, so
`make test` stays practical; hypothesis' database is off, so every run is the same size.
"""

from __future__ import annotations

import time

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    status_code_conformance,
)

BUDGET_S = 60
EXAMPLES = 12
# One layer collection stands for the other eleven (their operations are the same code).
SKIPPED_COLLECTIONS = ("gas_", "heat_", "power_", "road_", "sewer", "water_facilities")


@pytest.fixture
def schema(app, connection, tokens):
    headers = {"Authorization": f"Bearer {tokens['admin']}"}
    loaded = schemathesis.openapi.from_wsgi("/ogc/api", app, headers=headers)
    return loaded, headers


def operations(schema):
    for result in schema.get_all_operations():
        operation = result.ok()
        if any(f"/collections/{name}" in operation.path for name in SKIPPED_COLLECTIONS):
            continue
        yield operation


def test_the_openapi_document_is_valid(schema):
    loaded, _ = schema
    ops = list(operations(loaded))
    assert len(ops) >= 15
    for op in ops:
        # Every path parameter is defined, and every operation documents its answers.
        for name in op.path.split("{")[1:]:
            assert op.get_parameter(name.split("}")[0], "path") is not None, op.label
        responses = op.definition.raw.get("responses", {})
        assert {"200", "400", "401", "503", "default"} <= set(responses) or (
            {"400", "401", "503", "default"} <= set(responses) and op.method != "get"
        ), op.label


def test_fuzz_the_ogc_api_no_5xx_and_documented_answers(schema):
    loaded, headers = schema
    deadline = time.monotonic() + BUDGET_S
    failures: list[str] = []
    counter = [0]
    statuses: set[int] = set()
    for operation in operations(loaded):
        if time.monotonic() > deadline:
            break
        fuzz(operation, headers, deadline, failures, counter, statuses)
    assert counter[0] > 50, counter
    # Generated requests both pass and fail validation: the fuzzing reaches the views.
    assert {s // 100 for s in statuses} >= {2, 4}, statuses
    assert not failures, "\n".join(failures[:20])


def fuzz(
    operation, headers: dict, deadline: float, failures: list, counter: list, statuses: set
) -> None:
    """Send EXAMPLES generated requests of one operation; record every failed check."""

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    # Valid requests (positive) and requests that break the document (negative) alike.
    @given(
        case=operation.as_strategy()
        | operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE)
    )
    def run(case):
        if time.monotonic() > deadline:
            return
        counter[0] += 1
        response = case.call(headers=headers)
        statuses.add(response.status_code)
        try:
            case.validate_response(
                response,
                checks=[not_a_server_error, status_code_conformance, content_type_conformance],
            )
        except BaseExceptionGroup as exc:  # schemathesis raises a group of failed checks
            failures.append(f"{operation.label}: {str(exc)[:400]}")

    run()

"""schemathesis in GraphQL mode against the live gateway: no 5xx, no stack traces, every
error coded — for whatever queries it generates from the schema."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.live import LiveStack

pytestmark = pytest.mark.e2e

MAX_EXAMPLES = 40


@pytest.fixture(scope="module")
def graphql_schema(live: LiveStack) -> Any:
    schema = schemathesis.graphql.from_url(live.graphql_url)
    schema.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True)
    return schema


def test_generated_queries_never_break_the_gateway(live: LiveStack, graphql_schema: Any) -> None:
    failures: list[str] = []
    calls = 0
    for operation in graphql_schema.get_all_operations():
        strategy = operation.ok().as_strategy()

        @settings(
            max_examples=MAX_EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def run(case: Any) -> None:
            nonlocal calls
            calls += 1
            response = case.call(headers={"Authorization": f"Bearer {live.token('u0042')}"})
            text = response.text
            if response.status_code >= 500 or "Traceback" in text:
                failures.append(f"{response.status_code}: {case.body}: {text[:300]}")
                return
            body = response.json()
            for error in body.get("errors") or []:
                code = (error.get("extensions") or {}).get("code")
                if not code or code == "INTERNAL_SERVER_ERROR":
                    failures.append(f"uncoded/internal error for {case.body}: {error}")

        run()
    assert calls >= 4 * 10
    assert not failures, "\n".join(failures[:10])

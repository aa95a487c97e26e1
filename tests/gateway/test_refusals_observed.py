"""Requests refused before execution (401, 413, 429, persisted queries) are counted in
``pgw_http_refusals_total`` and logged as ``refused`` access lines with their request id,
and the standard library's loggers render as the same JSON, with the ids bound."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from prometheus_client import REGISTRY
from structlog.contextvars import bound_contextvars, merge_contextvars
from structlog.testing import LogCapture

from gateway.logs import configure_logging
from tests.gateway.conftest import GatewayFactory

QUERY = "{ discovery(location: {lat: 60.17, lon: 24.94}) { degraded } }"
APQ_ONLY = {
    "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "ab" * 32}},
}


def _refusals(status: int, code: str) -> float:
    value = REGISTRY.get_sample_value(
        "pgw_http_refusals_total", {"status": str(status), "code": code}
    )
    return value or 0.0


async def test_each_refusal_is_counted_and_logged_with_its_request_id(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway(rate_limit_anonymous_rps=0.01, rate_limit_anonymous_burst=1) as gw:
        cases = {
            (401, "UNAUTHENTICATED"): lambda rid: gw.client.post(
                "/graphql",
                json={"query": QUERY},
                headers={"Authorization": "Bearer nope", "X-Request-Id": rid},
            ),
            (413, "PAYLOAD_TOO_LARGE"): lambda rid: gw.client.post(
                "/graphql",
                content=b"{" + b" " * 70_000 + b"}",
                headers={"Content-Type": "application/json", "X-Request-Id": rid},
            ),
            (200, "PERSISTED_QUERY_NOT_FOUND"): lambda rid: gw.client.post(
                "/graphql", json=APQ_ONLY, headers={"X-Request-Id": rid}
            ),
        }
        capture = LogCapture()
        structlog.configure(processors=[merge_contextvars, capture])
        try:
            for (status, code), send in cases.items():
                before = _refusals(status, code)
                capture.entries.clear()
                response = await send(f"req-{status}")
                assert response.status_code == status
                assert _refusals(status, code) == before + 1
                [line] = [e for e in capture.entries if e["event"] == "refused"]
                assert (line["status"], line["code"]) == (status, code)
                assert line["correlation_id"] == f"req-{status}"
                assert line["request_id"] != line["correlation_id"]
        finally:
            configure_logging()

        # anonymous burst of one: the second request is refused
        assert (await gw.query(QUERY)).status_code == 200
        before = _refusals(429, "RATE_LIMITED")
        assert (await gw.query(QUERY)).status_code == 429
        assert _refusals(429, "RATE_LIMITED") == before + 1


@pytest.fixture
def json_logging() -> Iterator[None]:
    configure_logging()
    yield
    logging.getLogger().handlers[:] = [
        h for h in logging.getLogger().handlers if h.get_name() != "pgw-json"
    ]


@pytest.mark.usefixtures("json_logging")
def test_standard_library_loggers_render_as_json_with_the_request_ids(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with bound_contextvars(request_id="req-7", trace_id="4bf92f3577b34da6a3ce929d0e0e4736"):
        logging.getLogger("clients.cache").info("cache unavailable: %s", "timeout")
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logging.getLogger("strawberry.execution").exception("masked error")
    logging.getLogger("clients.cache").debug("not at INFO")
    logging.getLogger("httpx").info("HTTP Request: POST … (one per call: left out)")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["event"] for line in lines] == ["cache unavailable: timeout", "masked error"]
    info, error = lines
    assert info["level"] == "info"
    assert info["logger"] == "clients.cache"
    assert info["request_id"] == "req-7"
    assert info["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert error["level"] == "error"
    assert "RuntimeError: boom" in error["exception"]
    assert "timestamp" in error

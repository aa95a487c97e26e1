"""Provider side: the committed pacts replayed against the live reference backends.

Provider states are set by a fixture-side handler: the reference data is seeded, so a state
holds once the backend is healthy — the handler clears any injected fault before each
interaction (the live stack is shared with the end-to-end tests). A deliberately broken
backend proves the verifier and the CLI fail, and say why.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from typer.testing import CliRunner

from gateway.cli import app as cli_app
from tests.live import LiveStack
from tools.pact_verifier import BACKENDS, InteractionResult, load_interactions, verify_backend

pytestmark = pytest.mark.e2e


def _clear_faults_setter(url: str) -> Any:
    def setter(state: str, params: Mapping[str, Any], action: str) -> None:
        if action == "setup":
            httpx.delete(f"{url}/_faults", timeout=5).raise_for_status()

    return setter


def _failures(results: list[InteractionResult]) -> list[str]:
    return [
        f"{r.backend}: {r.description}: {r.pact_detail} {r.problems}"
        for r in results
        if not r.passed
    ]


@pytest.mark.parametrize("backend", BACKENDS)
def test_reference_backend_honours_the_gateway_pacts(live: LiveStack, backend: str) -> None:
    url = live.backend_urls[backend]
    results = verify_backend(backend, url, state=_clear_faults_setter(url))
    assert len(results) == len(load_interactions(backend))
    assert not _failures(results), _failures(results)


def test_cli_verify_prints_a_table_and_exits_zero(live: LiveStack) -> None:
    result = CliRunner().invoke(
        cli_app,
        [
            "contracts",
            "verify",
            "--backend",
            f"ranking={live.backend_urls['ranking']}",
            "--backend",
            f"popularity={live.backend_urls['popularity']}",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "a score for every venue candidate of a known user" in result.output
    assert "PASS" in result.output
    assert "FAIL" not in result.output


# -- a backend that breaks the contract in the ways the gateway cares about ----------------------


def _broken_app() -> FastAPI:
    """Shapes that match the pacts' type rules, semantics that do not."""
    app = FastAPI()

    @app.post("/v1/rank")
    async def rank(body: dict[str, Any]) -> dict[str, Any]:
        ids = list(body["candidate_ids"])
        scored = ids[:-1] + ids[:1] + ["v-extra"] if ids else []  # drops one, repeats one
        return {"scores": [{"id": i, "score": 0.5} for i in scored], "model_version": "bad"}

    @app.post("/v1/venues:batchGet")
    async def venues(body: dict[str, Any]) -> dict[str, Any]:
        return {"entities": [], "missing": []}  # asked ids neither found nor missing

    @app.post("/v1/decide")
    async def decide(body: dict[str, Any]) -> dict[str, Any]:
        return {
            "decision_id": "d-1",
            "ranking": [{"arm": a, "propensity": 0.0} for a in body["arms"]],
            "policy_version": "bad",
        }

    @app.post("/v1/rank:batch")
    async def rank_batch(body: dict[str, Any]) -> dict[str, Any]:
        asked = body["requests"]
        return {  # the last request goes unanswered
            "responses": [
                {
                    "scores": [{"id": i, "score": 0.5} for i in r["candidate_ids"]],
                    "model_version": "m",
                }
                for r in asked[:-1]
            ]
        }

    @app.post("/v1/decide:batch")
    async def decide_batch(body: dict[str, Any]) -> dict[str, Any]:
        return {  # valid decisions, but all under one id: rewards could not tell them apart
            "responses": [
                {
                    "decision_id": "d-1",
                    "ranking": [{"arm": a, "propensity": 0.5} for a in r["arms"]],
                    "policy_version": "bad",
                }
                for r in body["requests"]
            ]
        }

    return app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def broken_url() -> Iterator[str]:
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(_broken_app(), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "broken backend did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=5)


def test_verifier_reports_semantic_breaches(broken_url: str) -> None:
    ranking = {r.description: r for r in verify_backend("ranking", broken_url)}
    known = ranking["a score for every venue candidate of a known user"]
    assert not known.passed
    text = " ".join(known.problems)
    assert "no score for candidates" in text
    assert "duplicate ids" in text
    assert "scores for ids not asked: v-extra" in text
    rejected = ranking["an unknown variant is rejected with 400 and a message"]
    assert not rejected.pact_ok
    assert "expected 400 but was 200" in rejected.pact_detail

    batch = ranking["venues, brands and categories of a known user in one batch, in request order"]
    assert not batch.pact_ok
    assert batch.problems == ["2 responses to 3 requests"]

    bandit = verify_backend("bandit", broken_url)
    assert all(not r.passed for r in bandit)
    assert any("propensity" in p for r in bandit for p in r.problems)
    batched = [r for r in bandit if "in one batch" in r.description]
    assert batched
    for r in batched:  # the shape is fine: only the semantic check sees the shared id
        assert r.pact_ok, r.pact_detail
        assert r.problems == ["one decision_id for several requests: d-1"]


def test_cli_verify_fails_on_a_broken_backend(broken_url: str) -> None:
    result = CliRunner().invoke(
        cli_app,
        ["contracts", "verify", "--backend", f"catalog={broken_url}", "--width", "200"],
    )
    assert result.exit_code == 1, result.output
    assert "FAIL" in result.output
    assert "asked but neither found nor missing" in result.output
    assert "mismatch" in result.output  # the Pact match failed too (too few entities)
    assert "failed" in result.output


def test_cli_verify_rejects_a_bad_backend_option() -> None:
    result = CliRunner().invoke(cli_app, ["contracts", "verify", "--backend", "nosuch=http://x"])
    assert result.exit_code == 2
    assert "NAME=URL" in result.output

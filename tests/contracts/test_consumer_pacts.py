"""Consumer side of the contracts: the gateway's clients against Pact mock servers.

Each interaction in ``interactions.py`` is served by pact-python's mock server (Pact V4);
the gateway's real typed client sends its request, the mock server checks the request
matches the pact exactly, and the test checks the client understood the answer. The pact
files these tests produce are committed in ``pacts/``; the last test fails when they are
stale. Regenerate with ``PGW_UPDATE_PACTS=1 pytest tests/contracts``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from pact import Pact

from tests.contracts.interactions import PROVIDERS, Spec, all_specs
from tools.pact_verifier import PACT_DIR, pact_path

os.environ.setdefault("PACT_DO_NOT_TRACK", "true")

SPECS = all_specs()


def add_interaction(pact: Pact, spec: Spec) -> None:
    interaction = pact.upon_receiving(spec.description)
    for name, params in spec.states:
        interaction.given(name, params)
    interaction.with_request(spec.method, spec.path)
    if spec.query:
        interaction.with_query_parameters(spec.query)
    if spec.body is not None:
        interaction.with_body(spec.request_body, "application/json")
    interaction.will_respond_with(spec.status)
    if spec.response is not None:
        interaction.with_body(spec.response, "application/json")


def build_pact(provider: str, specs: list[Spec]) -> Pact:
    pact = Pact("gateway", provider).with_specification("V4")
    for spec in specs:
        add_interaction(pact, spec)
    return pact


def test_descriptions_are_unique_per_backend() -> None:
    seen = [(s.provider, s.description) for s in SPECS]
    assert len(seen) == len(set(seen))
    assert {s.provider for s in SPECS} == set(PROVIDERS)


@pytest.mark.parametrize("spec", SPECS, ids=[s.id for s in SPECS])
async def test_gateway_client_against_the_pact_mock(spec: Spec) -> None:
    pact = build_pact(spec.provider, [spec])
    with pact.serve(addr="127.0.0.1") as server:
        await spec.drive(str(server.url).rstrip("/"))
    # leaving the block raises if the request did not match the pact


def _normalised(path: Path) -> Any:
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc.get("metadata", {}).pop("pactRust", None)  # library versions, not the contract
    return doc


def test_committed_pacts_are_the_consumer_tests_pacts(tmp_path: Path) -> None:
    update = os.environ.get("PGW_UPDATE_PACTS") == "1"
    stale: list[str] = []
    for provider in PROVIDERS:
        pact = build_pact(provider, [s for s in SPECS if s.provider == provider])
        pact.write_file(PACT_DIR if update else tmp_path, overwrite=True)
        if update:
            continue
        committed = pact_path(provider)
        if not committed.exists() or _normalised(committed) != _normalised(
            pact_path(provider, tmp_path)
        ):
            stale.append(provider)
    assert not stale, (
        f"pacts/ is stale for {stale}: run `PGW_UPDATE_PACTS=1 pytest tests/contracts` "
        "and commit pacts/ (then have the backend teams verify the new pacts)"
    )

"""Fragment cycles and fan-out chains: refused by graphql-core's cycle rule, or walked once.

Before: the cost rule followed spreads with no memory of visited fragments, so the issue's
40-byte document (and any chain of fragments spreading the next one twice) ran exponential
time on the event loop and stopped the worker for good.
"""

from __future__ import annotations

import time

from graphql import parse

from gateway.app import gateway_schema
from gateway.document_shape import document_shape
from gateway.limits import Limits, gate
from tests.gateway.conftest import Gateway
from tests.security.hostile import FRAGMENT_SELF_CYCLE, fan_out_chain, fragment_cycle

SCHEMA = gateway_schema(Limits(max_tokens=100_000))._schema


def _cpu_ms(document: str) -> tuple[float, list[str]]:
    started = time.thread_time()
    errors = gate(SCHEMA, parse(document), [], Limits())
    return (time.thread_time() - started) * 1000, [e.message for e in errors]


async def test_the_40_byte_document_is_refused_by_the_cycle_rule(gateway: Gateway) -> None:
    assert len(FRAGMENT_SELF_CYCLE) < 50
    response = await gateway.query(FRAGMENT_SELF_CYCLE)
    [first, *_] = response.json()["errors"]
    assert first["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "within itself" in first["message"]
    assert sum(gateway.fakes.calls.values()) == 0


def test_a_cycle_is_seen_by_the_shape_and_the_limits_are_skipped() -> None:
    shape = document_shape(SCHEMA, parse(fragment_cycle(50)))
    assert shape.fragment_cycle
    assert shape.operations == ()


def test_long_cycles_and_fan_out_chains_cost_linear_time() -> None:
    # 2**200 paths through the chain: any walk without memoisation never returns
    for document in (fragment_cycle(200), fan_out_chain(200)):
        cpu_ms, messages = _cpu_ms(document)
        assert messages, document[:80]
        assert cpu_ms < 300, (cpu_ms, document[:80])  # linear: ~10 ms; >= 10x margin


def test_a_fan_out_chain_is_refused_for_its_cost_not_its_walk() -> None:
    shape = document_shape(SCHEMA, parse(fan_out_chain(60)))
    assert not shape.fragment_cycle
    [operation] = shape.operations
    assert operation.cost > 2**40  # every path counted (saturating), each fragment walked once
    assert operation.root_fields == 1


async def test_a_fan_out_chain_gets_a_coded_refusal(gateway: Gateway) -> None:
    response = await gateway.query(fan_out_chain(20))
    assert response.status_code == 200
    codes = {e["extensions"]["code"] for e in response.json()["errors"]}
    assert codes == {"QUERY_TOO_COMPLEX"}
    assert sum(gateway.fakes.calls.values()) == 0

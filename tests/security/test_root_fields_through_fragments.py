"""Root fields count after named and inline fragment expansion (each response key once).

Before: twenty aliased ``discovery`` fields inside ``... on Query { }`` passed every limit
and one anonymous request built twenty pages (100 backend calls).
"""

from __future__ import annotations

import pytest
from graphql import parse

from gateway.app import gateway_schema
from gateway.document_shape import ROOT_FIELD_COST, document_shape
from gateway.limits import Limits
from tests.gateway.conftest import Gateway
from tests.security.hostile import (
    LOC,
    root_fields_through_fragment,
    root_fields_through_inline_fragment,
)

SCHEMA = gateway_schema(Limits())._schema


@pytest.mark.parametrize(
    "document", [root_fields_through_inline_fragment(20), root_fields_through_fragment(20)]
)
async def test_twenty_pages_through_fragments_are_refused_before_any_backend_call(
    gateway: Gateway, document: str
) -> None:
    response = await gateway.query(document)
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert "20" in error["message"]
    assert sum(gateway.fakes.calls.values()) == 0


def test_root_fields_count_distinct_response_keys_through_every_path() -> None:
    document = (
        f"{{ a: discovery({LOC}) {{ degraded }} ... on Query {{ a: discovery({LOC}) "
        f"{{ requestId }} b: discovery({LOC}) {{ degraded }} }} ...R __typename }} "
        f"fragment R on Query {{ b: discovery({LOC}) {{ degraded }} c: discovery({LOC}) "
        "{ degraded } }"
    )
    [operation] = document_shape(SCHEMA, parse(document)).operations
    assert operation.root_fields == 3  # a, b, c: what the executor resolves
    assert operation.cost >= 3 * ROOT_FIELD_COST


async def test_four_pages_through_a_fragment_are_still_allowed(gateway: Gateway) -> None:
    response = await gateway.query(root_fields_through_fragment(4))
    assert "errors" not in response.json(), response.json()

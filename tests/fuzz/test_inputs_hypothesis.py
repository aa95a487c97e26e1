"""Every input type under hypothesis: each outcome is data or a coded GraphQL error."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes import FakeBackends
from tests.gateway.conftest import Gateway, gateway_settings, running_gateway

KNOWN_CODES = {
    "BAD_USER_INPUT",
    "NOT_FOUND",
    "GRAPHQL_VALIDATION_FAILED",
    "GRAPHQL_PARSE_FAILED",
    "QUERY_TOO_COMPLEX",
}

ODD_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80
) | st.sampled_from(["", " ", "pizza", "v03", "i031", "\u202e", "🍕", "a" * 5000, "null", "0"])
FLOATS = st.floats(allow_nan=False, allow_infinity=False, width=64) | st.sampled_from(
    [60.17, 24.94, 90.0, -90.0, 180.0, -180.0, 90.0000001, 0.0]
)
INTS = st.integers(min_value=-(2**40), max_value=2**40) | st.sampled_from([0, 1, 20, 50, 51])
LOCATION = st.fixed_dictionaries({"lat": FLOATS, "lon": FLOATS})
LINES = st.lists(st.fixed_dictionaries({"itemId": ODD_TEXT, "quantity": INTS}), max_size=4)

OPERATIONS = {
    "discovery": (
        "query($loc: LocationInput!) { discovery(location: $loc) { degraded sections { id } } }",
        st.fixed_dictionaries({"loc": LOCATION}),
    ),
    "category": (
        "query($slug: String!, $loc: LocationInput!, $first: Int!, $after: String) { "
        "category(slug: $slug, location: $loc, first: $first, after: $after) "
        "{ source venues { edges { cursor } } } }",
        st.fixed_dictionaries(
            {"slug": ODD_TEXT, "loc": LOCATION, "first": INTS, "after": st.none() | ODD_TEXT}
        ),
    ),
    "venuePage": (
        "query($id: ID!, $loc: LocationInput!) { venuePage(venueId: $id, location: $loc) "
        "{ venue { id } } }",
        st.fixed_dictionaries({"id": ODD_TEXT, "loc": LOCATION}),
    ),
    "cart": (
        "query($cart: CartInput!, $loc: LocationInput!) { cart(cart: $cart, location: $loc) "
        "{ sections { id } } }",
        st.fixed_dictionaries(
            {"cart": st.fixed_dictionaries({"venueId": ODD_TEXT, "lines": LINES}), "loc": LOCATION}
        ),
    ),
}


def _check(status: int, body: dict[str, Any], text: str) -> None:
    assert status == 200, text
    assert "Traceback" not in text
    errors = body.get("errors")
    if errors:
        for error in errors:
            assert error["extensions"]["code"] in KNOWN_CODES, error
            assert error["message"]
    else:
        assert body["data"] is not None


def test_every_input_yields_data_or_a_coded_error(tmp_path_factory: Any) -> None:
    fakes = FakeBackends()
    tmp = tmp_path_factory.mktemp("fuzz")

    async def run(check: Any) -> None:
        async with running_gateway(
            gateway_settings(tmp, fakes, rate_limit_enabled=False), fakes
        ) as gw:
            await check(gw)

    samples: list[tuple[str, dict[str, Any]]] = []

    @settings(
        max_examples=60,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        st.sampled_from(sorted(OPERATIONS)).flatmap(
            lambda name: st.tuples(st.just(name), OPERATIONS[name][1])
        )
    )
    def collect(sample: tuple[str, dict[str, Any]]) -> None:
        samples.append(sample)

    collect()

    async def check_all(gw: Gateway) -> None:
        for name, variables in samples:
            response = await gw.query(OPERATIONS[name][0], variables, user="u0001")
            _check(response.status_code, response.json(), response.text)

    asyncio.run(run(check_all))
    assert len(samples) >= 60

"""Every backend x every failure: all four surfaces still answer, complete, in budget."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.fakes import BACKENDS, FAILURES
from tests.gateway.conftest import HELSINKI, Gateway

SURFACE_QUERIES: dict[str, tuple[str, dict[str, Any], float]] = {
    "discovery": (
        "query($loc: LocationInput!) { discovery(location: $loc) "
        "{ degraded sections { id source } } }",
        {"loc": HELSINKI},
        0.300,
    ),
    "category": (
        'query($loc: LocationInput!) { category(slug: "pizza", location: $loc, first: 5) '
        "{ degraded source venues { edges { node { id } } } } }",
        {"loc": HELSINKI},
        0.250,
    ),
    "venuePage": (
        'query($loc: LocationInput!) { venuePage(venueId: "v03", location: $loc) '
        "{ degraded venue { id } sections { id source } } }",
        {"loc": HELSINKI},
        0.200,
    ),
    "cart": (
        'query($loc: LocationInput!) { cart(cart: {venueId: "v03", lines: '
        '[{itemId: "i031", quantity: 1}]}, location: $loc) { degraded sections { id source } } }',
        {"loc": HELSINKI},
        0.150,
    ),
}

# The source each section falls back to when one backend fails (sections not listed keep
# their usual source). Popularity lists for city and category scopes live in memory, so a
# popularity outage only shows where a venue-scoped list is fetched.
EXPECTED: dict[str, dict[str, dict[str, str | None]]] = {
    "retrieval": {
        "discovery": {
            "categories": "POPULAR",
            # falls back to the city's popular list, every venue of which (in this small
            # world) "Popular near you" already shows above it: hidden, not shown empty
            "for_you": None,
            "new_on_the_app": "POPULAR",
            "brands": "POPULAR",
            "popular_near_you": "POPULAR",
            "banners": "PERSONALISED",
        },
        "category": {"": "POPULAR"},
        "venuePage": {"recommended_items": "POPULAR", "popular_items": "POPULAR"},
        "cart": {"add_to_order": "POPULAR"},
    },
    "ranking": {
        "discovery": {
            "categories": "CANDIDATE_ORDER",
            "for_you": "CANDIDATE_ORDER",
            "new_on_the_app": "CANDIDATE_ORDER",
            "brands": "CANDIDATE_ORDER",
            "order_again": "CANDIDATE_ORDER",
            "banners": "PERSONALISED",
        },
        "category": {"": "CANDIDATE_ORDER"},
        "venuePage": {"recommended_items": "CANDIDATE_ORDER", "popular_items": "POPULAR"},
        "cart": {"add_to_order": "CANDIDATE_ORDER"},
    },
    "bandit": {
        "discovery": {"banners": "CANDIDATE_ORDER", "for_you": "PERSONALISED"},
        "category": {"": "PERSONALISED"},
        "venuePage": {"recommended_items": "PERSONALISED"},
        "cart": {"add_to_order": "PERSONALISED"},
    },
    "popularity": {
        "discovery": {"popular_near_you": "POPULAR", "for_you": "PERSONALISED"},
        "category": {"": "PERSONALISED"},
        # venue-scoped list: fetched, and on failure taken from the reference snapshot
        "venuePage": {"recommended_items": "PERSONALISED", "popular_items": "STALE"},
        "cart": {"add_to_order": "PERSONALISED"},
    },
    "catalog": {
        "discovery": {
            "for_you": "DEFAULT",
            "new_on_the_app": "DEFAULT",
            "brands": "DEFAULT",
            "popular_near_you": "DEFAULT",
            "categories": "PERSONALISED",
            "banners": "PERSONALISED",
        },
        "category": {"": "DEFAULT"},
        "venuePage": {"recommended_items": "DEFAULT", "popular_items": "DEFAULT"},
        "cart": {"add_to_order": "DEFAULT"},
    },
}

# Where the failing backend is not consulted at all, the page is complete and not degraded.
NOT_CONSULTED = {
    ("popularity", "discovery"),
    ("popularity", "category"),
    ("popularity", "cart"),
    ("bandit", "category"),
    ("bandit", "venuePage"),
    ("bandit", "cart"),
}

#: A surface answers within its budget; 3x that leaves room for a loaded CI machine and still
#: catches a hang (the fakes hang until the test ends).
MARGIN_FACTOR = 3


@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize("backend", BACKENDS)
async def test_every_surface_survives(gateway: Gateway, backend: str, failure: str) -> None:
    gateway.fakes.fail(backend, failure)
    for surface, (query, variables, budget) in SURFACE_QUERIES.items():
        started = time.perf_counter()
        response = await gateway.query(query, variables, user="u0001")
        elapsed = time.perf_counter() - started

        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, (surface, body)
        page = body["data"][surface]
        assert elapsed < MARGIN_FACTOR * budget, f"{surface} took {elapsed * 1000:.0f} ms"

        expected = EXPECTED[backend][surface]
        if surface == "category":
            assert page["source"] == expected[""], (surface, page)
        else:
            sources = {s["id"]: s["source"] for s in page["sections"]}
            for section, source in expected.items():
                assert sources.get(section) == source, (surface, section, sources)
        consulted = (backend, surface) not in NOT_CONSULTED
        assert page["degraded"] is consulted, (surface, page)
        if surface == "venuePage":
            assert (page["venue"] is None) is (backend == "catalog")

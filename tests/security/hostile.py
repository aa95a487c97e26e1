"""Hostile documents of the known denial-of-service classes, sized to the limits.

Shared by the security tests, the end-to-end "worker keeps answering" test and the fuzz
campaign (``make fuzz``); each builder takes a size so the property tests can vary it.
"""

from __future__ import annotations

LOC = "location: {lat: 60.17, lon: 24.94}"

#: The issue's 40-byte document: a fragment spreading itself twice.
FRAGMENT_SELF_CYCLE = "query { ...A } fragment A on Query { ...A ...A }"


def fragment_cycle(length: int) -> str:
    """A cycle through ``length`` fragments, each spreading the next twice."""
    n = max(length, 1)
    chain = " ".join(
        f"fragment F{i} on Query {{ ...F{(i + 1) % n} ...F{(i + 1) % n} }}" for i in range(n)
    )
    return "query { ...F0 } " + chain


def fan_out_chain(length: int) -> str:
    """No cycle: fragment i spreads fragment i+1 twice (2**length paths)."""
    chain = " ".join(
        f"fragment F{i} on DiscoveryPage {{ degraded ...F{i + 1} ...F{i + 1} }}"
        for i in range(length)
    )
    return (
        f"query {{ discovery({LOC}) {{ ...F0 }} }} {chain} "
        f"fragment F{length} on DiscoveryPage {{ requestId }}"
    )


def deep_nesting(depth: int) -> str:
    """Fields nested ``depth`` levels (unknown below the schema's own depth)."""
    return "{ discovery(" + LOC + ") " + "{ sections " * depth + "{ id }" + " }" * depth + " }"


def field_duplication(count: int) -> str:
    """The same field ``count`` times, each with a sub-selection (quadratic to merge)."""
    return "{ discovery(" + LOC + ") { " + " ".join(["sections { id }"] * count) + " } }"


def alias_duplication(count: int) -> str:
    """``count`` aliases of one cheap field."""
    return (
        "{ discovery(" + LOC + ") { " + " ".join(f"a{i}: degraded" for i in range(count)) + " } }"
    )


def directive_overload(count: int) -> str:
    """graphql-cop's shape: one unknown directive repeated ``count`` times."""
    return "query cop { __typename " + "@aa" * count + " }"


def root_fields_through_inline_fragment(count: int) -> str:
    """The issue's second document: aliased ``discovery`` fields inside ``... on Query``."""
    fields = " ".join(f"p{i}: discovery({LOC}) {{ degraded }}" for i in range(count))
    return "{ ... on Query { " + fields + " } }"


def root_fields_through_fragment(count: int) -> str:
    """Aliased ``discovery`` fields in a named fragment on ``Query``."""
    fields = " ".join(f"p{i}: discovery({LOC}) {{ degraded }}" for i in range(count))
    return "{ ...Pages } fragment Pages on Query { " + fields + " }"


def many_spreads(count: int) -> str:
    """``count`` distinct fragments spread into one selection set (pairwise compared)."""
    spreads = " ".join(f"...F{i}" for i in range(count))
    fragments = " ".join(f"fragment F{i} on Query {{ __typename }}" for i in range(count))
    return "query { " + spreads + " } " + fragments


def introspection_cycle(depth: int) -> str:
    """``__schema { types { fields { type { fields { type ...`` nested ``depth`` times."""
    inner = "name"
    for _ in range(depth):
        inner = f"fields {{ type {{ {inner} }} }}"
    return "{ __schema { types { " + inner + " } } }"


def long_string(length: int) -> str:
    """A string argument of ``length`` characters (unicode)."""
    text = ("é😀" * (length // 2 + 1))[:length]
    return '{ category(slug: "' + text + '", ' + LOC + ") { title } }"


def huge_variables(count: int) -> tuple[str, dict[str, object]]:
    """A small document with a ``count``-element variables object."""
    query = "query Q($loc: LocationInput!) { discovery(location: $loc) { degraded } }"
    return query, {"loc": {"lat": 1, "lon": 2}, **{f"v{i}": "x" * 32 for i in range(count)}}

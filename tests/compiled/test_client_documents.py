"""The documents clients really send (decision 0023): Apollo's ``__typename`` insertion and an
app's own fragments and aliases are compiled by meaning and answer byte for byte as
Strawberry does; hotness, the one-off-spelling rule and the plan bound hold."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import parse, validate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.app import gateway_schema
from gateway.compiled.meaning import meaning_of
from gateway.compiled.serving import CompiledPath, shipped_documents
from gateway.limits import Limits
from schema.operations import OPERATIONS_DIR, operation_document
from tests.compiled.clients import apollo_typename, client_spelling
from tests.compiled.support import SCHEMA, assert_same, pages
from tests.compiled.test_compiled import QUERIES, VARIABLES

SETTINGS = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FIELDS = sorted(
    {name for type_ in SCHEMA.type_map.values() for name in getattr(type_, "fields", {}) or {}}
)


def _shipped(name: str) -> str:
    return operation_document(OPERATIONS_DIR / name)


def _aliases(chosen: frozenset[str]) -> Any:
    return lambda field: f"my{field[0].upper()}{field[1:]}" if field in chosen else None


@pytest.mark.parametrize("name", QUERIES)
def test_client_spellings_are_valid_and_mean_the_shipped_document(name: str) -> None:
    shipped = _shipped(name)
    apollo = apollo_typename(shipped)
    own = client_spelling(apollo, _aliases(frozenset(FIELDS)))
    assert "__typename" in apollo
    assert "fragment App" in own
    assert "myId:" in own
    for text in (apollo, own):
        assert not validate(SCHEMA, parse(text)), text
        assert meaning_of(parse(text), None) == meaning_of(parse(shipped), None)
    fewer = shipped.replace("requestId", "", 1)
    assert meaning_of(parse(fewer), None) != meaning_of(parse(shipped), None)


@pytest.mark.parametrize("name", QUERIES)
@SETTINGS
@given(page_objects=pages(), chosen=st.frozensets(st.sampled_from(FIELDS)), apollo=st.booleans())
async def test_client_spellings_match_standard_execution(
    name: str, page_objects: dict[str, Any], chosen: frozenset[str], apollo: bool
) -> None:
    text = _shipped(name)
    if apollo:
        text = apollo_typename(text)
    text = client_spelling(text, _aliases(chosen))
    await assert_same(text, VARIABLES[name], page_objects)


@SETTINGS
@given(page_objects=pages(odd=True))
async def test_apollo_documents_match_standard_execution_on_odd_values(
    page_objects: dict[str, Any],
) -> None:
    for name in QUERIES:
        await assert_same(apollo_typename(_shipped(name)), VARIABLES[name], page_objects)


def _path(**kwargs: Any) -> CompiledPath:
    return CompiledPath(
        gateway_schema(Limits()), documents=shipped_documents(), compile_unknown=True, **kwargs
    )


def test_a_variant_of_a_shipped_document_compiles_when_it_comes_back() -> None:
    path = _path(hot_after=3)
    apollo = apollo_typename(_shipped("discovery.graphql"))
    assert path.lookup(apollo, None) is None  # first sight: one-off spellings compile nothing
    compiled = path.lookup(apollo, None)
    assert compiled is not None
    assert path.lookup(apollo, None) is compiled
    assert path.compilations == 1


def test_a_new_meaning_compiles_after_hot_after_runs_of_any_spelling() -> None:
    path = _path(hot_after=3)
    loc = "location: {lat: 1, lon: 2}"
    first = "query A { discovery(" + loc + ") { degraded requestId } }"
    second = "query B {\n  d: discovery(" + loc + ") { degraded __typename requestId }\n}"
    assert path.lookup(first, "A") is None
    assert path.lookup(second, "B") is None
    compiled = path.lookup(first, "A")  # third run of the meaning, the text came back
    assert compiled is not None
    assert path.lookup(second, "B") is not None  # hot meaning, and it came back
    assert path.compilations == 2


def test_one_off_spellings_of_a_hot_meaning_compile_nothing() -> None:
    path = _path(hot_after=3)
    shipped = _shipped("discovery.graphql")
    for n in range(20):
        assert path.lookup(f"# spelling {n}\n" + shipped, None) is None
    assert path.compilations == 0


def test_the_plans_are_bounded() -> None:
    path = _path(hot_after=1, maxsize=2)
    loc = "location: {lat: 1, lon: 2}"
    texts = [f"{{ discovery({loc}) {{ {field} }} }}" for field in ("degraded", "requestId")]
    texts.append("{ discovery(" + loc + ") { degraded requestId } }")
    first = path.lookup(texts[0], None)
    assert first is not None
    for text in texts[1:]:
        assert path.lookup(text, None) is not None
    assert path.lookup(texts[0], None) is not first  # evicted, compiled again
    assert path.compilations == 4


def test_invalid_and_deferred_documents_stay_on_the_standard_path() -> None:
    path = _path(hot_after=1)
    loc = "location: {lat: 1, lon: 2}"
    invalid = "{ discovery(" + loc + ") { nope } }"
    deferred = "{ discovery(" + loc + ") { degraded ... @defer { requestId } } }"
    for text in (invalid, deferred, "{ nope(", "query A { __typename } query B { __typename }"):
        for _ in range(3):
            assert path.lookup(text, None) is None


async def test_the_gateway_serves_an_apollo_document_compiled_like_standard(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.compiled.test_serving import _capture, _gateway

    query = apollo_typename(_shipped("discovery.graphql"))
    variables = VARIABLES["discovery.graphql"]
    async with _gateway(tmp_path, monkeypatch, compiled=True) as (gw, path):
        assert path is not None
        captured = _capture(gw, "discovery")
        for _ in range(2):
            response = await gw.query(query, variables, user="u0001")
            assert response.status_code == 200
            assert "errors" not in response.json()
        compiled = path.lookup(query, None)
        assert compiled is not None
        assert (compiled.fast_executions, path.compilations) == (1, 1)
    expected, _ = await assert_same(query, variables, {"discovery": captured[-1]})
    assert response.json()["data"] == expected["data"]


def test_a_fragment_bomb_has_no_meaning() -> None:
    """Each fragment spreads the next twice: inlining would be exponential."""
    fragments = [f"fragment F{n} on DiscoveryPage {{ ...F{n + 1} ...F{n + 1} }}" for n in range(30)]
    fragments.append("fragment F30 on DiscoveryPage { degraded }")
    text = "{ discovery(location: {lat: 1, lon: 2}) { ...F0 } }\n" + "\n".join(fragments)
    assert meaning_of(parse(text), None) is None

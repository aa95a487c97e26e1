"""Random documents over the real schema, executed by Strawberry and by the compiled path
over the same page objects: the responses must be identical, byte for byte."""

from __future__ import annotations

import os
from typing import Any

from graphql import parse, validate
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.compiled.documents import Document, documents
from tests.compiled.support import SCHEMA, assert_same, pages

# 75 examples per property keep `make test` inside its budget; `make fuzz` runs 400.
EXAMPLES = int(os.environ.get("PGW_DIFFERENTIAL_EXAMPLES", "75"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _valid(document: Document) -> bool:
    return not validate(SCHEMA, parse(document.query))


@SETTINGS
@given(document=documents(), page_objects=pages())
async def test_random_selections_match_standard_execution(
    document: Document, page_objects: dict[str, Any]
) -> None:
    assume(_valid(document))
    await assert_same(document.query, document.variables, page_objects)


@SETTINGS
@given(document=documents(), page_objects=pages(odd=True))
async def test_odd_values_match_standard_execution(
    document: Document, page_objects: dict[str, Any]
) -> None:
    """Nulls in non-null fields, values needing coercion, out-of-range ints, NaN: whatever
    graphql-core does with them (coerce, or null the nearest nullable parent with an
    error), the compiled path returns too, resolving each root field once."""
    assume(_valid(document))
    await assert_same(document.query, document.variables, page_objects)


@settings(
    max_examples=max(EXAMPLES // 3, 10), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(document=documents(), page_objects=pages(), data=st.data())
async def test_one_compilation_serves_every_condition_combination(
    document: Document, page_objects: dict[str, Any], data: st.DataObject
) -> None:
    """The per-document compilation is reused across requests whose conditions differ."""
    assume(_valid(document))
    _, compiled = await assert_same(document.query, document.variables, page_objects)
    for _ in range(3):
        variables = dict(document.variables)
        for name in compiled.condition_variables:
            variables[name] = data.draw(st.booleans())
        await assert_same(document.query, variables, page_objects, compiled=compiled)

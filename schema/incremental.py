"""Incremental delivery (``@defer``/``@stream``, decision 0021): what a document asks for.

The Discovery root builds a progressive page only for a document run on the incremental
schema (it uses ``@defer`` or ``@stream``) that selects the page's ``layout`` (directly, in
an inline fragment or in a named fragment). Every other document gets the page built whole,
as before; its ``layout``, if selected, has every section ready (the compiled path projects
it like any other field).
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLResolveInfo,
    InlineFragmentNode,
    SelectionSetNode,
)

LAYOUT = "layout"


def incremental(info: Any) -> bool:
    """Whether this execution runs on the schema with ``@defer``/``@stream``."""
    config = getattr(info.schema, "config", None)
    return bool(getattr(config, "enable_experimental_incremental_execution", False))


def asks_for_layout(info: GraphQLResolveInfo[Any]) -> bool:
    """Whether the field being resolved selects ``layout`` on its result."""
    return any(_selects(node.selection_set, LAYOUT, info, 0) for node in info.field_nodes)


def _selects(
    selection_set: SelectionSetNode | None, name: str, info: GraphQLResolveInfo[Any], depth: int
) -> bool:
    if selection_set is None or depth > 8:
        return False
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if selection.name.value == name:
                return True
        elif isinstance(selection, InlineFragmentNode):
            if _selects(selection.selection_set, name, info, depth + 1):
                return True
        elif isinstance(selection, FragmentSpreadNode):
            fragment = info.fragments.get(selection.name.value)
            if fragment is not None and _selects(fragment.selection_set, name, info, depth + 1):
                return True
    return False

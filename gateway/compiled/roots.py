"""Call the schema's own root resolvers (``schema/query.py``) from the compiled path.

The compiled path must not re-implement the root fields: they validate arguments through
``resolvers.Surfaces``, turn a ``ClientError`` into a coded ``GraphQLError`` and note the
surface for the access log. ``root_caller`` gives ``CompiledOperation.execute`` a
``call_root`` that invokes the very resolver graphql-core would (Strawberry's wrapper, which
converts the coerced arguments into the Strawberry input types) with a resolve info carrying
the request's context.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Sequence
from typing import Any, TypeGuard

from graphql import GraphQLResolveInfo
from graphql.execution.values import VariableValues
from graphql.pyutils import Path
from graphql.type.definition import GraphQLResolveInfoHelpers

from gateway.compiled.compiler import CallRoot, CompiledOperation


def _is_awaitable(value: Any) -> TypeGuard[Awaitable[Any]]:
    return inspect.isawaitable(value)


async def _gather(awaitables: Sequence[Awaitable[Any]]) -> list[Any]:
    return [await awaitable for awaitable in awaitables]


def _track(_values: Sequence[Any]) -> None:
    return None


_HELPERS = GraphQLResolveInfoHelpers(_gather, _track)


def root_caller(
    compiled: CompiledOperation,
    context: Any,
    *,
    root_value: Any = None,
    variables: VariableValues | None = None,
) -> CallRoot:
    """A ``call_root`` running the schema's resolver of each root field with ``context``."""
    schema = compiled.schema
    query = schema.query_type
    assert query is not None
    fragments = {name: details.definition for name, details in compiled.fragment_details.items()}
    nodes_by_field = {root.field_name: root for root in reversed(compiled.root_fields)}

    async def call_root(field_name: str, args: dict[str, Any]) -> Any:
        field_def = query.fields[field_name]
        root = nodes_by_field.get(field_name)
        key = root.response_key if root is not None else field_name
        info: GraphQLResolveInfo[Any] = GraphQLResolveInfo(
            field_name,
            list(root.nodes) if root is not None else [],
            field_def.type,
            query,
            Path(None, key, query.name),
            schema,
            fragments,
            root_value,
            compiled.operation,
            variables or VariableValues({}, {}),
            context,
            _is_awaitable,
            None,
            _HELPERS,
        )
        resolve = field_def.resolve
        if resolve is None:
            return getattr(root_value, field_name, None)
        result = resolve(root_value, info, **args)
        if inspect.isawaitable(result):
            result = await result
        return result

    return call_root

"""Operation names safe for telemetry: a shipped operation's name, or ``other``.

A client chooses ``operationName`` (and the names in its document); used as a metric label
or a span name as given, every new name would be a new time series in Prometheus and a new
span name in the tracing backend, so one client could grow both without bound. Only the
names of the operations the apps ship (``schema/operations/``) are kept.
"""

from __future__ import annotations

import functools

from graphql import OperationDefinitionNode, parse

OTHER = "other"


@functools.cache
def shipped_operation_names() -> frozenset[str]:
    from schema.operations import operation_files

    names: set[str] = set()
    for path in operation_files():
        for definition in parse(path.read_text(encoding="utf-8")).definitions:
            if isinstance(definition, OperationDefinitionNode) and definition.name:
                names.add(definition.name.value)
    return frozenset(names)


def telemetry_name(name: str | None) -> str:
    """``name`` when it is a shipped operation's, else ``other``."""
    return name if name is not None and name in shipped_operation_names() else OTHER

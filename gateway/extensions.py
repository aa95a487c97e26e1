"""GraphQL-wide concerns as Strawberry extensions, one job each.

- ``ErrorPolicy``: every error leaves with an ``extensions.code``; anything unexpected is
  masked as "Internal error" plus the request id (the full error is logged server-side), so
  no stack trace or backend detail ever reaches a client.
- ``DebugTimings``: with ``PGW_DEBUG=true``, per-backend timings, cache results and the
  fallback step chosen per section go into the response ``extensions``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

log = logging.getLogger("gateway.errors")


def _code_for(error: GraphQLError) -> str | None:
    """The code an error deserves, or None when it must be masked."""
    existing = (error.extensions or {}).get("code")
    if existing:
        return str(existing)
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        message = error.message
        if message.startswith("Syntax Error"):
            return "GRAPHQL_PARSE_FAILED"
        if message.startswith("Variable '$") or "got invalid value" in message:
            return "BAD_USER_INPUT"
        return "GRAPHQL_VALIDATION_FAILED"
    return None


class ErrorPolicy(SchemaExtension):
    """Codes known errors, masks unknown ones."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if not errors:
            return
        request_id = getattr(getattr(self.execution_context.context, "viewer", None),
                             "request_id", "-")
        coded: list[GraphQLError] = []
        for error in errors:
            code = _code_for(error)
            if code is not None:
                extensions = dict(error.extensions or {})
                extensions["code"] = code
                coded.append(
                    GraphQLError(
                        error.message,
                        nodes=error.nodes,
                        source=error.source,
                        positions=error.positions,
                        path=error.path,
                        original_error=None,
                        extensions=extensions,
                    )
                )
                continue
            log.error(
                "unexpected error in resolver (request %s)",
                request_id,
                exc_info=error.original_error,
            )
            coded.append(
                GraphQLError(
                    f"Internal error (request id {request_id}).",
                    nodes=error.nodes,
                    source=error.source,
                    positions=error.positions,
                    path=error.path,
                    extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
                )
            )
        result.errors = coded  # type: ignore[union-attr]


class DebugTimings(SchemaExtension):
    """Adds what happened under the hood to ``extensions.debug`` when debug is on."""

    def get_results(self) -> dict[str, Any]:
        context = self.execution_context.context
        if not getattr(context, "debug", False):
            return {}
        viewer = context.viewer
        pages = []
        for trace in viewer.traces:
            pages.append(
                {
                    "sections": dict(trace.sections),
                    "backendCalls": [
                        {
                            "backend": c.backend,
                            "endpoint": c.endpoint,
                            "ms": c.elapsed_ms,
                            "cache": c.cache,
                            "outcome": c.outcome,
                        }
                        for c in trace.calls
                    ],
                    "failures": list(trace.failures),
                }
            )
        return {"debug": {"requestId": viewer.request_id, "pages": pages}}

"""GraphQL-wide error and debug policies.

- ``code_errors``: every error leaves with an ``extensions.code``; anything unexpected is
  masked as "Internal error" plus the request id (the full error is logged server-side), so
  no stack trace or backend detail ever reaches a client. It runs as the schema's
  ``process_errors``, the one hook that sees parse, validation and execution errors alike,
  and rewrites the errors in place.
- ``DebugTimings``: with ``PGW_DEBUG=true``, per-backend timings, cache results and the
  fallback step chosen per section go into the response ``extensions``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from schema import gateway_context

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


def code_errors(errors: list[GraphQLError], execution_context: ExecutionContext | None) -> None:
    """Give each error a code; mask (and log) the ones nobody meant to send."""
    context = gateway_context(execution_context)
    request_id = context.viewer.request_id if context is not None else "-"
    for error in errors:
        code = _code_for(error)
        if code is not None:
            error.extensions = {**(error.extensions or {}), "code": code}
            continue
        log.error(
            "unexpected error in resolver (request %s)", request_id, exc_info=error.original_error
        )
        error.message = f"Internal error (request id {request_id})."
        error.original_error = None
        error.extensions = {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}


#: graphql-core's hints ("Did you mean 'discovery'?"): they name fields introspection hides.
SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def error_policy(
    *, suggestions: bool, max_errors: int
) -> Callable[[list[GraphQLError], ExecutionContext | None], None]:
    """``code_errors``, then: no "Did you mean" hints unless introspection is allowed (they
    would leak the schema it hides), and at most ``max_errors`` errors per response (the
    last one says how many more there were)."""

    def process(errors: list[GraphQLError], execution_context: ExecutionContext | None) -> None:
        code_errors(errors, execution_context)
        if not suggestions:
            for error in errors:
                if "Did you mean" in error.message:
                    error.message = SUGGESTION.sub("", error.message)
        if len(errors) > max_errors:
            hidden = len(errors) - max_errors + 1
            errors[max_errors - 1 :] = [
                GraphQLError(
                    f"{hidden} more errors not shown.", extensions={"code": "TOO_MANY_ERRORS"}
                )
            ]

    return process


class DebugTimings(SchemaExtension):
    """Adds what happened under the hood to ``extensions.debug`` when debug is on."""

    def get_results(self) -> dict[str, Any]:
        context = gateway_context(self.execution_context)
        if context is None or not context.debug:
            return {}
        viewer = context.viewer
        pages = [
            {
                "sections": dict(trace.sections),
                "pageCache": trace.page_cache,
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
            for trace in context.report.pages
        ]
        return {"debug": {"requestId": viewer.request_id, "pages": pages}}

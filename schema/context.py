"""The one typed GraphQL context: built once per HTTP request at the edge, read everywhere.

Like Strawberry's own ``ExecutionContext``, a single dataclass that every resolver and
extension reads by attribute: who asks and by when (:class:`resolvers.RequestScope`), the
report the pages fill in, and the services that answer. Extensions reach it through
:func:`gateway_context`, never through ``getattr``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError
from strawberry.fastapi import BaseContext
from strawberry.types import ExecutionContext, Info

from resolvers import RequestReport, RequestScope, Surfaces, Viewer
from resolvers.events import EventRecorder


@dataclass
class GatewayContext(BaseContext):
    """Who is asking, by when, what happened, and the services to answer with.

    Args:
        surfaces: the four surfaces' entry points (the root ``Query`` fields call them).
        scope: the viewer, the caller's deadline and the request's report.
        events: the ``recordEvents`` recorder; None where this gateway records none.
        rate_key: the viewer's rate-limit key (``u:<id>`` or ``ip:<address>``), which the
            event recorder's own limit shares.
        debug: whether ``extensions.debug`` shows the report (``PGW_DEBUG``).
        trace_id: the caller's W3C trace id, for the access log.
        correlation_id: the caller's own ``X-Request-Id`` (validated), for joining its logs
            to ours; the request id is always the gateway's.
    """

    surfaces: Surfaces
    scope: RequestScope
    events: EventRecorder | None = None
    rate_key: str = "-"
    debug: bool = False
    trace_id: str | None = None
    correlation_id: str | None = None

    def __post_init__(self) -> None:
        super().__init__()

    @property
    def viewer(self) -> Viewer:
        return self.scope.viewer

    @property
    def report(self) -> RequestReport:
        return self.scope.report


GatewayInfo = Info[GatewayContext, None]
"""What every root resolver receives: Strawberry's ``Info`` over the gateway's context."""


def gateway_context(execution_context: ExecutionContext | None) -> GatewayContext | None:
    """The operation's context, when it is the gateway's (it is, for every served request;
    Strawberry's error hook may run before there is one)."""
    if execution_context is None:
        return None
    context = execution_context.context
    return context if isinstance(context, GatewayContext) else None


def operation_errors(execution_context: ExecutionContext) -> Sequence[GraphQLError]:
    """The errors the operation's result carries (none before there is a result); of an
    incremental result (``@defer``, decision 0021), those of its first payload."""
    result: Any = execution_context.result
    if result is not None and not hasattr(result, "errors"):
        result = getattr(result, "initial_result", None)
    return (result.errors if result is not None else None) or ()

"""Graceful overload: past saturation, cheaper pages first, then a 503 (decision 0024).

A worker past saturation that accepts every request queues them all: each page waits
behind the others, every deadline is missed, every page degrades after having cost its
full price, and the breakers open on healthy backends. ``LoadShedder`` counts the GraphQL
requests in flight in this worker (Little's law: in flight = arrival rate × time in the
system, so the count rises steeply once the worker cannot keep up) and, per request at
arrival:

- up to ``degrade_at`` in flight: served as usual;
- beyond it: marked ``shed`` (``scope["state"]["shed"]``): the context getter hands that to
  the page build (``RequestScope.shed`` → ``PageRequest.shed``), which builds the cheapest
  complete page — popularity, stale and default sections, no retrieval, ranking or bandit
  call, flagged ``degraded`` — and the page cache keeps it a few seconds;
- beyond ``refuse_at``: refused with 503, ``Retry-After`` and a GraphQL error coded
  ``OVERLOADED`` (a client's retry then lands after the burst, not in it).

Pure ASGI (one counter, no task), in front of everything else that costs CPU per request.
``degrade_at``/``refuse_at`` of 0 switch the respective step off.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.responses import accept_of, graphql_error

__all__ = ["LoadShedder"]


class LoadShedder:
    """ASGI middleware: counts ``path``'s requests in flight; sheds, then refuses."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        path: str = "/graphql",
        degrade_at: int = 0,
        refuse_at: int = 0,
        retry_after_s: int = 1,
    ) -> None:
        self.app = app
        self.path = path
        self.degrade_at = degrade_at
        self.refuse_at = refuse_at
        self.retry_after_s = retry_after_s
        self.in_flight = 0
        self.shed = 0
        self.refused = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") != self.path:
            await self.app(scope, receive, send)
            return
        load = self.in_flight + 1
        if self.refuse_at and load > self.refuse_at:
            self.refused += 1
            response = graphql_error(
                503,
                "The gateway is overloaded; retry shortly.",
                "OVERLOADED",
                {"Retry-After": str(self.retry_after_s)},
                accept=accept_of(scope),
            )
            await response(scope, receive, send)
            return
        if self.degrade_at and load > self.degrade_at:
            self.shed += 1
            scope.setdefault("state", {})["shed"] = True
        self.in_flight = load
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

"""The application factory: FastAPI + Strawberry's view as a plain route, wired to the backends.

``create_app(settings)`` validates the configuration (plans file included) before anything
starts; its lifespan opens the five backend clients, loads the reference snapshot, starts the
background refresh and closes everything in reverse on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import orjson
from cross_web import HTTPException as StrawberryHTTPException
from fastapi import FastAPI, HTTPException, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache
from strawberry.http import GraphQLRequestData
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult
from structlog.contextvars import bind_contextvars, reset_contextvars

from clients.registry import Backends, open_backends
from gateway.asgi_body import read_body, replaying
from gateway.auth import AuthError, TokenVerifier, mint_token
from gateway.collector import report_pauses, settle_after_start_up
from gateway.compiled.serving import CompiledPath, shipped_documents
from gateway.compiled.view import CompiledExecutionMixin
from gateway.document_manifest import by_sha256, load_manifest
from gateway.extensions import DebugTimings, error_policy
from gateway.feedback import Feedback, open_feedback
from gateway.graphiql import demo_headers, graphiql_html, mount_graphiql_assets
from gateway.incremental import IncrementalDeliveryMixin
from gateway.limits import Limits, limit_extensions
from gateway.logs import AccessLog, configure_logging, trace_id_from
from gateway.media import (
    APPLICATION_JSON,
    CONTENT_TYPES,
    GRAPHQL_RESPONSE_JSON,
    is_request_error,
    response_media_type,
)
from gateway.metrics import (
    PrometheusObserver,
    RequestMetrics,
    mark_worker_dead,
    observe_gc_pause,
    render_metrics,
)
from gateway.persisted import (
    MarkValidated,
    PersistedQueryMiddleware,
    PersistedQueryStore,
    mark_validated,
    trusted_documents,
)
from gateway.preview import PREVIEW_ENVIRONMENTS, mount_preview
from gateway.ratelimit import FailedTokenGuard, Quota, RateLimiter
from gateway.request_reading import (
    STATE_KEY,
    RequestRefused,
    is_json,
    read_json_body,
    read_query_string,
)
from gateway.responses import accept_of, graphql_error
from gateway.settings import Settings, get_settings
from gateway.shedding import LoadShedder
from gateway.tracing import OperationSpan, configure_tracing
from resolvers import RequestScope, Services, StaleSections, Surfaces, Viewer, load_plans
from resolvers.events.decision_stream import durable_writes, settle
from resolvers.page_cache import PageCache
from resolvers.plans import Plans
from schema import GatewayContext, build_schema
from schema.subgraph import build_subgraph_schema

log = logging.getLogger("gateway")

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass
class Runtime:
    """What the running app holds between requests."""

    settings: Settings
    plans: Plans
    backends: Backends | None = None
    surfaces: Surfaces | None = None
    stale: StaleSections | None = None
    feedback: Feedback | None = None
    shutting_down: bool = False
    compiled_path: CompiledPath | None = None


class RequestIdMiddleware:
    """Stamps each request with an id of ours and its arrival time (the deadline's start), and
    refuses a body over the size limit with a GraphQL-shaped 413: at once when its length is
    declared, after reading at most the limit when it is streamed without one.

    It also holds the response until the decision lines the request recorded are in the
    durable stream (``resolvers.events.decision_stream``; at most ``write_timeout_s``), so a
    page that was answered is a page whose decisions were kept.

    Pure ASGI rather than ``BaseHTTPMiddleware``: it runs on every request and must cost
    microseconds, not a task and a stream copy.
    """

    def __init__(
        self, app: ASGIApp, max_body_bytes: int | None = None, write_timeout_s: float = 1.0
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.write_timeout_s = write_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        arrived = time.monotonic()
        incoming = None
        traceparent = None
        declared: int | None = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
            elif name == b"content-length" and value.isdigit():
                declared = int(value)
            elif name == b"traceparent":
                traceparent = value.decode("latin-1")
        # our ids are ours: a client's X-Request-Id is kept only to correlate log lines
        # (decision 0016), never as the request, decision or exposure id
        request_id = os.urandom(16).hex()
        correlation_id = incoming if incoming and REQUEST_ID.match(incoming) else None
        # every line logged while this request is handled (structlog's and the standard
        # library's) carries its ids; reset after, for callers that share a task (tests)
        tokens = bind_contextvars(
            request_id=request_id,
            correlation_id=correlation_id,
            trace_id=trace_id_from(traceparent),
        )
        try:
            with durable_writes() as waiting:
                await self._handle(
                    scope, receive, send, request_id, correlation_id, arrived, declared, waiting
                )
        finally:
            reset_contextvars(**tokens)

    async def _handle(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        request_id: str,
        correlation_id: str | None,
        arrived: float,
        declared: int | None,
        waiting: list[asyncio.Future[bool]],
    ) -> None:
        limit = self.max_body_bytes
        if limit is not None and scope.get("method") in ("POST", "PUT", "PATCH"):
            if declared is None:
                body = await read_body(receive, limit)
                receive, declared = replaying(body, receive), len(body)
            if declared > limit:
                response = graphql_error(
                    413,
                    f"The request body is over the {limit} bytes allowed.",
                    "PAYLOAD_TOO_LARGE",
                    {"x-request-id": request_id},
                    accept=accept_of(scope),
                )
                await response(scope, receive, send)
                return
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["correlation_id"] = correlation_id
        state["arrived"] = arrived

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                if waiting:
                    await settle(waiting, self.write_timeout_s)
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)


def _as_of(request: Request, settings: Settings) -> datetime | None:
    """``X-Debug-Local-Time`` (ISO 8601 with offset): build the page as of that moment.

    Debug only (offline evaluation replays orders at their own time); ignored otherwise,
    and ignored when unparsable or without an offset.
    """
    raw = request.headers.get("x-debug-local-time")
    if not raw or not settings.debug or settings.production:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _device_id(request: Request) -> str | None:
    """``X-Device-Id``: the unit of experiment assignment for anonymous viewers."""
    raw = request.headers.get("x-device-id")
    return raw if raw and REQUEST_ID.match(raw) else None


def _timeout_ms(request: Request) -> float | None:
    raw = request.headers.get("x-request-timeout-ms")
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if value >= 0 else None


class RateLimited(Exception):
    """The viewer spent their request budget; ``retry_after_s`` until the next token."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(retry_after_s)
        self.retry_after_s = retry_after_s


class GatewayGraphQL(
    CompiledExecutionMixin, IncrementalDeliveryMixin, GraphQL[GatewayContext, None]
):
    """Strawberry's ASGI view, served as a plain route, with orjson both ways.

    Strawberry's FastAPI router would resolve the context through FastAPI's dependency
    injection on every request (its cost is measured in decision 0014); this gateway's
    context needs only the request, so the view builds it directly.
    """

    def __init__(
        self,
        schema: Any,
        context_getter: Callable[[Request], Awaitable[GatewayContext]],
        *,
        graphiql: bool = True,
        graphiql_page: Callable[[], str] = graphiql_html,
    ) -> None:
        super().__init__(schema, graphql_ide="graphiql" if graphiql else None)
        self._context_getter = context_getter
        self._graphiql_page = graphiql_page

    async def get_context(self, request: Any, response: Any) -> GatewayContext:
        context = await self._context_getter(request)
        context.request = request
        context.response = response
        return context

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)

    async def run(self, request: Request) -> Response:  # type: ignore[override]
        """Strawberry's run, answered in the media type the client asked for (decision 0019).

        Strawberry's own HTTP refusals (bad JSON, batching) become GraphQL errors with a code
        instead of plain text; an operation the method does not allow (a mutation over GET)
        is a 405 with ``Allow: POST``, as GraphQL over HTTP requires. With
        ``application/graphql-response+json`` a request error is a 400 without ``data``.
        """
        accept = request.headers.get("accept")
        try:
            response = await super().run(request)
        except StrawberryHTTPException as exc:
            if isinstance(exc.__cause__, InvalidOperationTypeError) and request.method == "GET":
                return graphql_error(
                    405, exc.reason, "METHOD_NOT_ALLOWED", {"Allow": "POST"}, accept=accept
                )
            code = "NOT_FOUND" if exc.status_code == 404 else "BAD_REQUEST"
            return graphql_error(exc.status_code, exc.reason, code, {}, accept=accept)
        if response_media_type(accept) == GRAPHQL_RESPONSE_JSON and response.headers.get(
            "content-type", ""
        ).startswith(APPLICATION_JSON):
            response.headers["content-type"] = CONTENT_TYPES[GRAPHQL_RESPONSE_JSON]
            if getattr(request.state, "graphql_request_error", False):
                response.status_code = 400
        return response

    async def parse_http_body(self, request: Any) -> Any:
        """The request as ``PersistedQueryMiddleware`` read it (``gateway.request_reading``),
        never a second reading that could disagree with the first; read here the same way
        when no middleware did (Strawberry's own reading only for other content types)."""
        scope: dict[str, Any] = getattr(getattr(request, "_request", None), "scope", {})
        reading = scope.get("state", {}).get(STATE_KEY)
        if reading is None:
            try:
                if request.method == "GET":
                    reading = read_query_string(scope.get("query_string", b""))
                elif is_json(request.content_type):
                    reading = read_json_body(await request.get_body())
                else:
                    return await super().parse_http_body(request)
            except RequestRefused as refused:
                raise StrawberryHTTPException(refused.status, refused.message) from None
        transport = self._get_stream_transport_from_headers(request.headers)
        return GraphQLRequestData(
            query=reading.query,
            variables=reading.variables,
            operation_name=reading.operation_name,
            extensions=reading.extensions,
            protocol=transport.protocol if transport else "http",
        )

    def should_render_graphql_ide(self, request: Any) -> bool:
        """Strawberry's rule (a GET without a query, HTML acceptable) on the one reading."""
        if request.method != "GET":
            return False
        scope: dict[str, Any] = getattr(getattr(request, "_request", None), "scope", {})
        reading = scope.get("state", {}).get(STATE_KEY)
        if reading is None:
            try:
                reading = read_query_string(scope.get("query_string", b""))
            except RequestRefused:
                return False
        accept = request.headers.get("accept", "")
        return reading.query is None and ("text/html" in accept or "*/*" in accept)

    def document_validated(self, request: Any, query: str | None) -> None:
        """The compiled path served ``query``: it validated at compile time (APQ stores)."""
        if query:
            mark_validated(request, query)

    async def process_result(self, request: Request, result: ExecutionResult) -> Any:
        """Strawberry's result body; without ``data`` for a request error when the client
        asked for ``application/graphql-response+json`` (``run`` then answers 400)."""
        body = await super().process_result(request, result)
        accept = request.headers.get("accept")
        if response_media_type(accept) == GRAPHQL_RESPONSE_JSON and is_request_error(result):
            body.pop("data", None)
            request.state.graphql_request_error = True
        return body

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        """GraphiQL from the bundle built at set-up, never from a CDN."""
        return HTMLResponse(self._graphiql_page())


def _parser_cache() -> ParserCache:
    return ParserCache(maxsize=512)


def _errors(limits: Limits) -> Any:
    return error_policy(suggestions=limits.introspection, max_errors=limits.max_errors)


def _extensions(limits: Limits) -> list[Any]:
    return [
        OperationSpan,
        *limit_extensions(limits),  # DocumentGate replaces Strawberry's ValidationCache
        MarkValidated,
        _parser_cache,
        RequestMetrics,
        AccessLog,
        DebugTimings,
    ]


#: The viewer whose token GraphiQL's headers editor holds outside production.
GRAPHIQL_DEMO_VIEWER = "u0042"


def _graphiql_page(settings: Settings) -> str:
    """GraphiQL with the shipped operations as tabs; outside production, with a fresh token
    of a demo viewer in the headers editor (when tokens are HS256-signed here)."""
    token = None
    if not settings.production and settings.jwt_secret is not None:
        token = mint_token(GRAPHIQL_DEMO_VIEWER, settings.jwt_secret.get_secret_value())
    return graphiql_html(headers=demo_headers(token))


@functools.cache
def gateway_schema(limits: Limits) -> Any:
    """The executable schema, built once per process (and set of limits).

    It is static, and Strawberry memoises per schema instance, so building one per app
    would only grow the heap (and the garbage collector's pauses) in tests.
    """
    return build_schema(_extensions(limits), error_processor=_errors(limits))


@functools.cache
def gateway_incremental_schema(limits: Limits) -> Any:
    """The same schema with ``@defer``/``@stream``, for the documents using them (0021)."""
    return build_schema(_extensions(limits), error_processor=_errors(limits), incremental=True)


@functools.cache
def gateway_subgraph_schema(limits: Limits) -> Any:
    """The Federation 2 subgraph schema (decision 0020), with the same extensions."""
    return build_subgraph_schema(_extensions(limits), error_processor=_errors(limits))


def create_app(
    settings: Settings | None = None,
    *,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
) -> FastAPI:
    """Build the gateway app; raises ``PlanError`` / ``ValidationError`` on bad config.

    Args:
        settings: configuration; read from ``PGW_*`` variables when omitted.
        transports: per-backend httpx transports (tests pass ``httpx.MockTransport``).
    """
    settings = settings or get_settings()
    manifest = load_manifest(settings.persisted_documents) if settings.persisted_documents else {}
    persisted = PersistedQueryStore(
        {**trusted_documents(), **by_sha256(manifest)},
        max_entries=settings.apq_max_entries,
        max_bytes=settings.apq_max_bytes,
        max_document_bytes=settings.apq_max_document_bytes,
    )
    verifier = TokenVerifier(settings)
    limiter = RateLimiter(settings.redis_url, namespace=settings.cache_namespace)
    user_quota = Quota(settings.rate_limit_rps, settings.rate_limit_burst)
    anonymous_quota = Quota(settings.rate_limit_anonymous_rps, settings.rate_limit_anonymous_burst)
    failed_tokens = FailedTokenGuard(
        limiter,
        Quota(settings.rate_limit_failed_tokens_rps, settings.rate_limit_failed_tokens_burst),
    )
    secret = settings.jwt_secret.get_secret_value().encode() if settings.jwt_secret else None
    configure_logging(hash_key=secret)
    configure_tracing()
    runtime = Runtime(settings=settings, plans=load_plans(settings.plans_path))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            open_backends(
                settings.backend_configs(),
                settings.cache_config(),
                settings.snapshot_path,
                transports=transports,
                observer=PrometheusObserver(),
                refresh_interval_s=settings.reference_refresh_s,
                refresh_cities=[m.id for m in runtime.plans.markets],
                reference_max_age_s=settings.reference_max_age_s,
            ) as backends,
            contextlib.AsyncExitStack() as feedback_stack,
        ):
            stale = StaleSections(backends.cache, runtime.plans.stale_section_ttl_s)
            runtime.backends = backends
            persisted.share_through(backends.cache)
            runtime.stale = stale
            # feedback (0007): tracking ids, decision log, reward outbox and its worker
            feedback = await feedback_stack.enter_async_context(
                open_feedback(settings, backends.bandit)
            )
            runtime.feedback = feedback
            runtime.surfaces = Surfaces(
                Services(backends, runtime.plans, stale),
                feedback.tracker,
                page_cache=PageCache(
                    settings.page_cache_ttl_s,
                    settings.page_cache_max_entries,
                    shed_ttl_s=settings.shed_page_ttl_s,
                ),
            )
            await asyncio.gather(*(c.warm_up() for c in backends.clients().values()))
            settle_after_start_up(settings.gc_thresholds)
            stop_reporting_pauses = report_pauses(observe_gc_pause)
            try:
                yield
            finally:
                runtime.shutting_down = True
                stop_reporting_pauses()
                await stale.drain()
                await limiter.aclose()
                mark_worker_dead()

    app = FastAPI(
        title="Personalisation gateway",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.runtime = runtime

    async def get_context(request: Request) -> GatewayContext:
        surfaces = runtime.surfaces
        assert surfaces is not None, "the lifespan has not started"
        # the peer address, or the client's behind a proxy trusted by uvicorn's
        # --forwarded-allow-ips (FORWARDED_ALLOW_IPS); never a header a client can forge
        client = request.client.host if request.client else "-"
        header = request.headers.get("authorization")
        user_id = None
        if header:
            if settings.rate_limit_enabled and not verifier.remembers(header):
                wait_s = failed_tokens.retry_after_s(client)
                if wait_s:
                    raise RateLimited(wait_s)
            try:
                user_id = await verifier.viewer(header)
            except AuthError:
                if settings.rate_limit_enabled:
                    wait_s = await failed_tokens.failed(client)
                    if wait_s:
                        raise RateLimited(wait_s) from None
                raise
        if user_id is not None:
            key, quota = f"u:{user_id}", user_quota
        else:
            key = f"ip:{client}"
            quota = anonymous_quota
        if settings.rate_limit_enabled:
            decision = await limiter.check(key, quota)
            if not decision.allowed:
                raise RateLimited(decision.retry_after_s)
        state = request.scope.get("state", {})
        arrived = state.get("arrived") or time.monotonic()
        timeout_ms = _timeout_ms(request)
        viewer = Viewer(
            request_id=state.get("request_id") or os.urandom(16).hex(),
            user_id=user_id,
            platform=request.headers.get("x-client-platform"),
            device_id=_device_id(request),
            as_of=_as_of(request, settings),
        )
        return GatewayContext(
            surfaces=surfaces,
            scope=RequestScope.arrived_at(
                viewer,
                arrived,
                timeout_s=None if timeout_ms is None else timeout_ms / 1000,
                shed=bool(state.get("shed")),
            ),
            correlation_id=state.get("correlation_id"),
            events=runtime.feedback.recorder if runtime.feedback else None,
            rate_key=key,
            debug=settings.debug,
            trace_id=trace_id_from(request.headers.get("traceparent")),
        )

    schema = gateway_schema(settings.limits())
    graphql = GatewayGraphQL(
        schema,
        context_getter=get_context,
        graphiql=settings.graphiql_enabled,
        graphiql_page=functools.partial(_graphiql_page, settings),
    )
    graphql.incremental_schema = gateway_incremental_schema(settings.limits())
    if settings.compiled_execution:
        # The shipped operations skip graphql-core's executor: compiled once at start-up
        # into projectors over the page objects (gateway/compiled; decision 0008).
        # Any other valid query is compiled once hot, keyed by its meaning (decision 0023).
        graphql.compiled_path = CompiledPath(
            schema,
            documents=shipped_documents(),
            compile_unknown=settings.compiled_hot_after > 0,
            hot_after=settings.compiled_hot_after,
            maxsize=settings.compiled_max_plans,
        )
        runtime.compiled_path = graphql.compiled_path
    app.router.routes.append(Route("/graphql", graphql, methods=["GET", "POST"]))
    if settings.federation:
        # A supergraph's router talks to this route; clients keep /graphql (decision 0020).
        subgraph = GatewayGraphQL(gateway_subgraph_schema(settings.limits()), get_context)
        app.router.routes.append(Route("/subgraph", subgraph, methods=["GET", "POST"]))
    if settings.graphiql_enabled:  # never in production unless PGW_GRAPHIQL=true
        mount_graphiql_assets(app)

    if settings.environment in PREVIEW_ENVIRONMENTS:

        def running_surfaces() -> Surfaces:
            assert runtime.surfaces is not None, "the lifespan has not started"
            return runtime.surfaces

        mount_preview(app, settings, running_surfaces, runtime.plans)

    @app.exception_handler(RateLimited)
    async def rate_limited(request: Request, exc: RateLimited) -> Response:
        return graphql_error(
            429,
            f"Too many requests; retry in {exc.retry_after_s} s.",
            "RATE_LIMITED",
            {"Retry-After": str(exc.retry_after_s)},
            accept=request.headers.get("accept"),
        )

    @app.exception_handler(AuthError)
    async def unauthenticated(request: Request, exc: AuthError) -> Response:
        return graphql_error(
            401,
            exc.message,
            "UNAUTHENTICATED",
            {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            accept=request.headers.get("accept"),
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        code = "PAYLOAD_TOO_LARGE" if exc.status_code == 413 else "BAD_REQUEST"
        return graphql_error(
            exc.status_code,
            str(exc.detail),
            code,
            exc.headers or {},
            accept=request.headers.get("accept"),
        )

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        backends = runtime.backends
        checks: dict[str, Any] = {
            "plans": True,
            "backends_configured": backends is not None,
            "reference_loaded": bool(backends and backends.reference.loaded),
            "shutting_down": runtime.shutting_down,
        }
        ready = (
            checks["backends_configured"]
            and checks["reference_loaded"]
            and not runtime.shutting_down
        )
        return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)

    if settings.metrics_port is None:  # else on its own port (gateway.cli serve)

        @app.get("/metrics", include_in_schema=False)
        async def metrics() -> Response:
            body, content_type = render_metrics()
            return Response(body, media_type=content_type)

    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "X-Request-Timeout-Ms",
                "X-Request-Id",
                "X-Device-Id",
                "X-Client-Platform",
                "traceparent",
            ],
            expose_headers=["X-Request-Id"],
            max_age=600,
        )
    app.add_middleware(
        PersistedQueryMiddleware,
        path="/graphql",
        mode=settings.persisted_queries,
        store=persisted,
        documents=manifest,
    )
    app.add_middleware(
        RequestIdMiddleware,
        max_body_bytes=settings.max_body_bytes,
        write_timeout_s=settings.events_write_timeout_s,
    )
    # outermost: an overloaded worker refuses before spending anything on the request
    app.add_middleware(
        LoadShedder,
        path="/graphql",
        degrade_at=settings.shed_degrade_at,
        refuse_at=settings.shed_refuse_at,
    )
    return app

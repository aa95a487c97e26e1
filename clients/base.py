"""The resilience layer every backend client shares.

:class:`BackendClient` owns one pooled ``httpx.AsyncClient`` per backend. A call is one
frozen :class:`clients.call.Call` (decision 0022), built by :meth:`BackendClient.prepare`
and passed through thin layers, from the outside in::

    send      cache (clients.readthrough: fresh hit → no network; stale on failure)
    shared    single-flight (identical concurrent calls share one fetch and its store)
    retried   retries (tenacity: idempotent calls, connect/429/503, within the deadline)
    attempt   circuit breaker + one HTTP attempt bounded by the call's deadline
              └── validation with the contract's pydantic model

Batched (``clients.batching``) and per-entity (``clients.catalog``) calls use the same cache
logic through :meth:`BackendClient.read_through` and report through :meth:`record` /
:meth:`observe`. Every httpx / pydantic exception is translated once, in
:func:`map_backend_errors`; callers only ever see :class:`clients.errors.BackendError`
subclasses."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from enum import Enum
from types import TracebackType
from typing import Any, Self, TypeVar, cast

import httpx
import orjson
import pydantic
from opentelemetry import trace
from opentelemetry.propagate import inject
from opentelemetry.trace import SpanKind, Status, StatusCode
from pydantic import BaseModel
from tenacity import RetryCallState

from clients.breaker import BreakerState, CircuitBreaker
from clients.cache import ResponseCache
from clients.call import UNCACHED, CachePolicy, Call
from clients.config import BackendConfig
from clients.deadline import Deadline
from clients.errors import (
    BackendError,
    BackendMalformed,
    BackendRejected,
    BackendTimeout,
    BackendUnavailable,
    CallOutcome,
)
from clients.observe import CallObserver, NoopObserver
from clients.readthrough import Answers, Slot, read_through, revalidate
from clients.results import CacheResult, Fetched
from clients.retry import build_retrying, is_retryable
from clients.singleflight import SingleFlight

__all__ = ["DEFAULT_RESERVE_S", "BackendClient", "fingerprint", "map_backend_errors"]

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")
V = TypeVar("V")

_tracer = trace.get_tracer("pgw.clients")
log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 503})

DEFAULT_RESERVE_S = 0.015
"""Time kept back from the deadline for the caller's fallbacks, hydration and serialisation."""


@contextmanager
def map_backend_errors(backend: str, endpoint: str) -> Iterator[None]:
    """Translate httpx, pydantic and timeout exceptions into :class:`BackendError`.

    The most specific match wins; the original stays attached as ``__cause__``.
    """
    try:
        yield
    except BackendError:
        raise
    except (httpx.TimeoutException, TimeoutError) as exc:
        raise BackendTimeout(backend, endpoint, f"timed out ({type(exc).__name__})") from exc
    except httpx.ConnectError as exc:
        raise BackendUnavailable(
            backend, endpoint, f"connect failed: {exc}", retryable=True
        ) from exc
    except httpx.DecodingError as exc:
        raise BackendMalformed(backend, endpoint, f"undecodable body: {exc}") from exc
    except httpx.HTTPError as exc:
        raise BackendUnavailable(backend, endpoint, f"{type(exc).__name__}: {exc}") from exc
    except pydantic.ValidationError as exc:
        raise BackendMalformed(
            backend, endpoint, f"{exc.error_count()} validation error(s): {exc.errors()[:1]}"
        ) from exc
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise BackendMalformed(backend, endpoint, f"invalid body: {exc}") from exc


def status_error(backend: str, endpoint: str, status: int) -> BackendError:
    """The error for a non-2xx answer."""
    if 400 <= status < 500 and status != 429:
        return BackendRejected(backend, endpoint, f"HTTP {status}", status=status)
    return BackendUnavailable(
        backend, endpoint, f"HTTP {status}", status=status, retryable=status in RETRYABLE_STATUSES
    )


_DEFAULT_HEADERS = {"accept": "application/json"}


def _digest(params: Mapping[str, str | int] | None, content: bytes | None) -> str:
    """A short hash of a call's query and encoded body: its single-flight identity."""
    digest = hashlib.sha256(orjson.dumps(params or {}, option=orjson.OPT_SORT_KEYS))
    digest.update(content or b"")
    return digest.hexdigest()[:32]


def fingerprint(*parts: Any) -> str:
    """A short stable hash of JSON-able parts (models are dumped in JSON mode)."""
    normalised = [p.model_dump(mode="json") if isinstance(p, BaseModel) else p for p in parts]
    digest = hashlib.sha256(orjson.dumps(normalised, option=orjson.OPT_SORT_KEYS))
    return digest.hexdigest()[:32]


class _State(Enum):
    OPEN = 1
    CLOSED = 2


class BackendClient:
    """One backend: pooled HTTP, deadline-bounded attempts, retries, breaker, cache.

    Typed clients (``RetrievalClient``...) subclass it and only declare endpoints.

    Args:
        name: the backend's name (``catalog``...), used in errors, cache keys and metrics.
        config: URL, timeouts, pool size, cache TTLs, retry and breaker policies.
        cache: the shared response cache.
        transport: an httpx transport to use instead of the network (tests, ASGI apps).
        observer: receives call / retry / breaker events (metrics); no-op by default.
        clock: monotonic clock for the circuit breaker; injected by tests.

    Example usage:
        ```python
        async with BackendClient("ranking", config, cache) as client:
            fetched = await client.call(
                "rank", "POST", "/v1/rank", RankResponse, Deadline.after(0.3),
                json=request, cache_key="rank:" + fingerprint(request),
            )
        ```
    """

    def __init__(
        self,
        name: str,
        config: BackendConfig,
        cache: ResponseCache,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        observer: CallObserver | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.config = config
        self.cache = cache
        self.observer: CallObserver = observer or NoopObserver()
        self.breaker = CircuitBreaker(
            config.breaker, clock, name=name, on_state_change=self._on_breaker_state
        )
        self._flight = SingleFlight()
        limits = httpx.Limits(
            max_connections=config.max_connections,
            max_keepalive_connections=config.max_connections,
        )
        # Calls go to the transport directly (see ``_attempt``); the client on top of it is
        # kept for what is not on the request path (warm-up) and owns the pool's lifetime.
        self._transport: httpx.AsyncBaseTransport = transport or httpx.AsyncHTTPTransport(
            limits=limits
        )
        self._http = httpx.AsyncClient(
            base_url=config.base_url,
            transport=self._transport,
            timeout=httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s),
            follow_redirects=False,
            headers=_DEFAULT_HEADERS,
        )
        self._urls: dict[str, httpx.URL] = {}
        self._state = _State.OPEN

    # -- lifetime ---------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self.ensure_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool; the client cannot be used afterwards."""
        if self._state is _State.CLOSED:
            return
        self._state = _State.CLOSED
        await self._flight.aclose()
        await self._http.aclose()

    async def warm_up(
        self, path: str = "/healthz", *, timeout_s: float = 1.0, connections: int = 4
    ) -> bool:
        """Open a few pooled connections before traffic arrives; never raises.

        The first requests after start-up would otherwise pay for TCP set-up in parallel,
        time out together and open the breaker on a healthy backend. Not counted by the
        breaker or the observer.
        """
        self.ensure_open()

        async def one() -> bool:
            try:
                response = await self._http.get(path, timeout=timeout_s)
            except Exception:  # warming is best effort: a failure here is not a failure
                return False
            return response.is_success

        results = await asyncio.gather(*(one() for _ in range(connections)))
        return any(results)

    @property
    def closed(self) -> bool:
        return self._state is _State.CLOSED

    def ensure_open(self) -> None:
        if self._state is _State.CLOSED:
            raise RuntimeError(f"{self.name} client is closed")

    # -- the call ---------------------------------------------------------------------------

    def cache_key(self, endpoint: str, *parts: Any) -> str:
        """A cache key for this backend's ``endpoint`` from JSON-able parts."""
        return f"{self.name}:{endpoint}:v1:{fingerprint(*parts)}"

    @property
    def cache_policy(self) -> CachePolicy:
        """How this backend's answers are cached (``cache_ttl_s`` None: not at all)."""
        config = self.config
        return CachePolicy(config.cache_ttl_s, config.stale_ttl_s, config.negative_ttl_s)

    def prepare(
        self,
        endpoint: str,
        method: str,
        path: str,
        model: type[M] | None,
        deadline: Deadline,
        *,
        json: BaseModel | None = None,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
        cache_key: str | None = None,
        reserve_s: float = DEFAULT_RESERVE_S,
        expect_status: int | None = None,
    ) -> Call[M]:
        """The frozen :class:`~clients.call.Call` the layers of :meth:`send` read: the body
        encoded, the headers merged, the reserve folded into the deadline."""
        content = json.model_dump_json().encode() if json is not None else None
        request_headers = {**_DEFAULT_HEADERS, **(headers or {})}
        if content is not None:
            request_headers["content-type"] = "application/json"
        return Call(
            backend=self.name,
            endpoint=endpoint,
            method=method,
            path=path,
            model=model,
            deadline=deadline.reserved(reserve_s),
            content=content,
            params=params,
            headers=request_headers,
            idempotent=idempotent,
            cache_key=cache_key,
            expect_status=expect_status,
        )

    async def call(
        self,
        endpoint: str,
        method: str,
        path: str,
        model: type[M],
        deadline: Deadline,
        *,
        json: BaseModel | None = None,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
        cache_key: str | None = None,
        reserve_s: float = DEFAULT_RESERVE_S,
    ) -> Fetched[M]:
        """Call the backend and validate the answer with ``model``, in its own span.

        Args:
            endpoint: logical endpoint name for errors and metrics (``rank``).
            method: HTTP method.
            path: path relative to the backend's base URL.
            model: the contract model of the response body.
            deadline: the request's deadline; each attempt gets
                ``deadline.budget_for(config.timeout_s, reserve_s)``.
            json: request body.
            params: query parameters.
            headers: extra request headers (trace propagation).
            idempotent: whether the call may be retried and shared between callers.
            cache_key: cache the validated response under this key (if the backend has a
                ``cache_ttl_s``); also the single-flight key.
            reserve_s: time kept back from the deadline for the caller's fallbacks.

        Returns:
            The validated model with its provenance.

        Raises:
            BackendError: the call failed and no stale entry could stand in.
        """
        call = self.prepare(
            endpoint,
            method,
            path,
            model,
            deadline,
            json=json,
            params=params,
            headers=headers,
            idempotent=idempotent,
            cache_key=cache_key,
            reserve_s=reserve_s,
        )
        with _tracer.start_as_current_span(
            f"{self.name} {endpoint}",
            kind=SpanKind.INTERNAL,  # the HTTP attempts under it are the CLIENT spans
            attributes={"pgw.backend": self.name, "pgw.endpoint": endpoint},
        ):
            return cast(Fetched[M], await self.send(call))

    async def call_no_content(
        self,
        endpoint: str,
        method: str,
        path: str,
        deadline: Deadline,
        *,
        json: BaseModel | None = None,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = False,
        expect_status: int = 202,
        reserve_s: float = DEFAULT_RESERVE_S,
    ) -> Fetched[None]:
        """Like :meth:`call` for endpoints that answer ``expect_status`` with no body to read.

        Never cached or shared; retried only if ``idempotent``.
        """
        call: Call[Any] = self.prepare(
            endpoint,
            method,
            path,
            None,
            deadline,
            json=json,
            params=params,
            headers=headers,
            idempotent=idempotent,
            reserve_s=reserve_s,
            expect_status=expect_status,
        )
        return cast(Fetched[None], await self.send(call))

    # -- the layers ---------------------------------------------------------------------------

    async def send(self, call: Call[M]) -> Fetched[M | None]:
        """The cache layer: a fresh entry, or the fetch below (shared, retried, guarded by
        the breaker); a stale entry when that fails. Reports the call to the observer."""
        self.ensure_open()
        started = time.perf_counter()
        model = call.model
        cached = call.cache_key is not None and model is not None
        policy = self.cache_policy if cached else UNCACHED

        def check(value: Any) -> M | None:
            return revalidate(model, value) if model is not None else None

        async def fetch(_todo: list[int]) -> dict[int, tuple[Any, int]]:
            return {0: await self.retried(call)}

        [slot] = await read_through(
            self.cache,
            policy,
            [call.cache_key or ""],
            check,
            fetch,
            run=lambda thunk: self.shared(call, thunk),
        )
        if slot.error is not None:
            if slot.cache is CacheResult.STALE:
                log.info("%s: serving stale (%s)", self.name, slot.error)
                return self.record(
                    call.endpoint,
                    started,
                    slot.error.outcome,
                    slot.cache,
                    slot.attempts,
                    slot.value,
                )
            self.observe(call.endpoint, started, slot.error.outcome, slot.cache, slot.attempts)
            raise slot.error
        return self.record(call.endpoint, started, "ok", slot.cache, slot.attempts, slot.value)

    async def shared(self, call: Call[Any], thunk: Callable[[], Awaitable[R]]) -> R:
        """The single-flight layer: identical concurrent calls (same cache key, or same
        idempotent request) share one ``thunk``; each waits no longer than its own budget.
        Fails fast when the deadline leaves no time for an attempt."""
        if call.budget(self.config.timeout_s) <= 0:
            raise BackendTimeout(self.name, call.endpoint, "no time left in the deadline")
        key = call.cache_key
        if key is None and call.idempotent and call.expect_status is None:
            key = f"{call.method} {call.path} {_digest(call.params, call.content)}"
        if key is None:
            return await thunk()
        try:
            async with asyncio.timeout(call.deadline.remaining()):
                return await self._flight.do(key, thunk)
        except TimeoutError as exc:
            raise BackendTimeout(self.name, call.endpoint, "deadline passed while waiting") from exc

    async def retried(self, call: Call[Any]) -> tuple[Any, int]:
        """The retry layer: attempts (tenacity) while the call is idempotent, the failure
        retryable and the deadline long enough; the value and the number of attempts.

        The first attempt runs bare: nearly every call succeeds at once, and building the
        tenacity controller and its futures cost a visible share of a page's CPU (the
        profile in ``bench/measured/scratch.md``). Only a retryable failure of an
        idempotent call enters the policy, whose first attempt then re-raises that failure
        without touching the network, so waits, stops and retry reports are exactly the
        policy's.
        """
        try:
            return await self.attempt(call), 1
        except BackendError as exc:
            if not (call.idempotent and is_retryable(exc) and self.config.retry.max_retries):
                exc.attempts = 1
                raise
            first: BackendError | None = exc
        attempts = 1

        def on_retry(state: RetryCallState) -> None:
            self.observer.on_retry(self.name, call.endpoint)

        retrying = build_retrying(
            self.config.retry,
            call.deadline,
            timeout_s=self.config.timeout_s,
            reserve_s=0.0,
            idempotent=call.idempotent,
            on_retry=on_retry,
        )
        value: Any = None
        try:
            async for attempt in retrying:
                with attempt:
                    if first is not None:
                        failed, first = first, None
                        raise failed
                    attempts += 1
                    value = await self.attempt(call)
        except BackendError as exc:
            exc.attempts = attempts
            raise
        return value, attempts

    async def attempt(self, call: Call[Any]) -> Any:
        """The breaker and one HTTP attempt bounded by the deadline's budget; the answer
        validated with the call's model."""
        budget = call.budget(self.config.timeout_s)
        endpoint = call.endpoint
        if budget <= 0:
            raise BackendTimeout(self.name, endpoint, "no time left in the deadline")
        permit = self.breaker.before_call(endpoint)
        headers = dict(call.headers or _DEFAULT_HEADERS)
        inject(headers)  # W3C traceparent of the current span, when tracing is on
        try:
            with map_backend_errors(self.name, endpoint):
                async with asyncio.timeout(budget):
                    request = httpx.Request(
                        call.method,
                        self._url(call.path),
                        params=call.params,
                        content=call.content,
                        headers=headers,
                        extensions={
                            "timeout": httpx.Timeout(
                                budget, connect=min(self.config.connect_timeout_s, budget)
                            ).as_dict()
                        },
                    )
                    response = await self._send(request)
                    model = call.model
                    if (
                        call.expect_status is not None
                        and response.status_code == call.expect_status
                    ):
                        value: Any = None
                    elif response.is_success and model is not None:
                        value = model.model_validate_json(response.content)
                    else:
                        raise status_error(self.name, endpoint, response.status_code)
        except BackendRejected:
            self.breaker.release(permit)
            raise
        except BackendError:
            self.breaker.record_failure(permit)
            raise
        except BaseException:
            self.breaker.release(permit)
            raise
        self.breaker.record_success(permit)
        return value

    async def read_through(
        self,
        keys: Sequence[str],
        check: Callable[[Any], V | None],
        fetch: Callable[[list[int]], Awaitable[Answers]],
    ) -> list[Slot[V]]:
        """This backend's cache in front of ``fetch`` (:func:`clients.readthrough.read_through`)
        for batched and per-entity calls: one slot per key."""
        self.ensure_open()
        return await read_through(self.cache, self.cache_policy, keys, check, fetch)

    # -- transport ----------------------------------------------------------------------------

    async def _send(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through the pooled transport and read the whole body.

        The transport is httpx's public low-level API, and what ``AsyncClient.send`` ends in.
        Calling it directly skips the client layer this gateway has no use for — URL and
        header merging (done once, see :meth:`_url` and ``_DEFAULT_HEADERS``), auth and
        redirect flows (never followed), cookie persistence (one client serves every
        viewer: a backend's cookie must not reach another viewer's call) — about a quarter
        of each call's CPU. Timeouts travel in the request's ``timeout`` extension as the
        client would put them there; errors are the same httpx exceptions.
        """
        if trace.get_current_span().is_recording():
            return await self._send_traced(request)
        response = await self._transport.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response

    async def _send_traced(self, request: httpx.Request) -> httpx.Response:
        """One attempt as an HTTP client span (OpenTelemetry's HTTP conventions); the
        backend's ``traceparent`` is this span's."""
        url = request.url
        attributes: dict[str, str | int] = {
            "http.request.method": request.method,
            "server.address": url.host,
            "server.port": url.port or (443 if url.scheme == "https" else 80),
            "url.full": str(url.copy_with(username=None, password=None)),
        }
        with _tracer.start_as_current_span(
            request.method, kind=SpanKind.CLIENT, attributes=attributes
        ) as span:
            carrier: dict[str, str] = {}
            inject(carrier)
            request.headers.update(carrier)
            try:
                response = await self._transport.handle_async_request(request)
                try:
                    await response.aread()
                finally:
                    await response.aclose()
            except Exception as exc:
                span.set_attribute("error.type", type(exc).__qualname__)
                raise
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                span.set_attribute("error.type", str(response.status_code))
                span.set_status(Status(StatusCode.ERROR))
            return response

    def _url(self, path: str) -> httpx.URL:
        """The absolute URL of an endpoint's ``path``, merged with the base URL once.

        Given a relative path, httpx parses it and the base URL again on every request (host
        validation included), a measurable share of a call's CPU. The merge is httpx's own:
        the base URL always ends in ``/``, and the path is appended without its leading one.
        Endpoint paths are a small fixed set, so the memo needs no bound.
        """
        url = self._urls.get(path)
        if url is None:
            base = self._http.base_url
            merged = base.copy_with(raw_path=base.raw_path + path.lstrip("/").encode("ascii"))
            url = self._urls[path] = merged
        return url

    # -- reporting ----------------------------------------------------------------------------

    def record(
        self,
        endpoint: str,
        started: float,
        outcome: CallOutcome,
        cache: CacheResult,
        attempts: int,
        value: R,
    ) -> Fetched[R]:
        elapsed = self.observe(endpoint, started, outcome, cache, attempts)
        return Fetched(value=value, cache=cache, elapsed_ms=elapsed * 1000, attempts=attempts)

    def observe(
        self,
        endpoint: str,
        started: float,
        outcome: CallOutcome,
        cache: CacheResult,
        attempts: int,
    ) -> float:
        elapsed = time.perf_counter() - started
        span = trace.get_current_span()
        if span.is_recording():
            span.set_attributes(
                {
                    "pgw.outcome": outcome,
                    "pgw.cache": cache.value,
                    "pgw.attempts": attempts,
                    "pgw.retries": max(attempts - 1, 0),
                }
            )
            if outcome != "ok":
                span.set_status(Status(StatusCode.ERROR, outcome))
        try:
            self.observer.on_call(self.name, endpoint, outcome, elapsed, cache, attempts)
        except Exception:  # pragma: no cover - an observer must never fail a call
            log.exception("observer failed")
        return elapsed

    def _on_breaker_state(self, state: BreakerState) -> None:
        log.warning("%s: circuit breaker %s", self.name, state.name)
        try:
            self.observer.on_breaker_state(self.name, state)
        except Exception:  # pragma: no cover
            log.exception("observer failed")

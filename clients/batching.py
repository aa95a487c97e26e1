"""Several requests to one backend endpoint in one round trip, each cached on its own.

``RetrievalClient.candidates_many``, ``RankingClient.rank_many`` and
``BanditClient.decide_many`` all go through :func:`fetch_many`:

1. every request's cache key is the one its single call uses (``cache_key(endpoint,
   *cache_parts(req))``), so single and batched calls share entries;
2. fresh entries are served from the cache (``HIT``), in one ``get_many``;
3. the rest go to the batch endpoint, at most ``max_requests`` per call (several calls run
   concurrently), through :meth:`BackendClient.call` (breaker, deadline, retries when the
   endpoint is idempotent), and each answer is cached under its own key in one ``set_many``;
4. when a call fails, each of its requests gets its stale entry if one is kept (``STALE``,
   as the single call would serve it), otherwise the error; a rejection (4xx) is never
   covered by a stale entry. An answer with the wrong number of responses is
   :class:`BackendMalformed` for all of that call's requests.

Each request is reported to the observer under the single endpoint's name (``rank``), with
its own cache result; the batch call itself is reported as ``<endpoint>:batch``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel

from clients.base import DEFAULT_RESERVE_S, BackendClient, _revalidate
from clients.deadline import Deadline
from clients.errors import BackendError, BackendMalformed, BackendRejected
from clients.results import CacheResult, Fetched

__all__ = ["BatchEndpoint", "fetch_many"]

Req = TypeVar("Req", bound=BaseModel)
Resp = TypeVar("Resp", bound=BaseModel)
Batch = TypeVar("Batch", bound=BaseModel)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BatchEndpoint(Generic[Req, Resp, Batch]):
    """How one endpoint is asked in batches.

    Attributes:
        endpoint: the single endpoint's logical name (``rank``): per-request metrics and
            cache keys; the batch call is reported as ``<endpoint>:batch``.
        path: the batch endpoint's path (``/v1/rank:batch``).
        response: the single endpoint's response model (cached entries are revalidated).
        batch_response: the batch endpoint's response model.
        wrap: the batch request body for a list of requests.
        unwrap: the responses of a batch answer, in request order.
        cache_parts: what one request's answer depends on: the single call's key parts.
        max_requests: at most this many requests per call.
        idempotent: whether a batch call may be retried (and shared by identical calls).
    """

    endpoint: str
    path: str
    response: type[Resp]
    batch_response: type[Batch]
    wrap: Callable[[list[Req]], BaseModel]
    unwrap: Callable[[Batch], Sequence[Resp]]
    cache_parts: Callable[[Req], list[object]]
    max_requests: int
    idempotent: bool = True

    @property
    def batch_endpoint(self) -> str:
        return f"{self.endpoint}:batch"


async def fetch_many(
    client: BackendClient,
    spec: BatchEndpoint[Req, Resp, Batch],
    reqs: Sequence[Req],
    deadline: Deadline,
    *,
    headers: Mapping[str, str] | None = None,
    reserve_s: float = DEFAULT_RESERVE_S,
) -> list[Fetched[Resp] | BackendError]:
    """One result per request, in order: cached ones from the cache, the rest batched.

    A failure is returned in the request's place, not raised; a request with a stale entry
    gets that entry instead (except on a rejection), as its single call would.
    """
    client._ensure_open()
    started = time.perf_counter()
    ttl = client.config.cache_ttl_s
    keys = (
        [client.cache_key(spec.endpoint, *spec.cache_parts(r)) for r in reqs]
        if ttl is not None
        else []
    )
    results: list[Fetched[Resp] | BackendError | None] = [None] * len(reqs)
    stale: dict[int, Resp] = {}
    if ttl is not None and keys:
        found = await client.cache.get_many(keys, ttl)
        for n, key in enumerate(keys):
            entry = found.get(key)
            if entry is None:
                continue
            value = _revalidate(spec.response, entry[0])
            if value is None:
                continue
            if entry[1]:
                results[n] = client._done(spec.endpoint, started, "ok", CacheResult.HIT, 0, value)
            else:
                stale[n] = value
    missing = [n for n, result in enumerate(results) if result is None]
    size = max(spec.max_requests, 1)
    chunks = [missing[i : i + size] for i in range(0, len(missing), size)]
    fetches = [
        _fetch_batch(client, spec, reqs, chunk, keys, stale, results, deadline, headers, reserve_s)
        for chunk in chunks
    ]
    if len(fetches) == 1:
        await fetches[0]
    elif fetches:
        await asyncio.gather(*fetches)
    return [r for r in results if r is not None]


async def _fetch_batch(
    client: BackendClient,
    spec: BatchEndpoint[Req, Resp, Batch],
    reqs: Sequence[Req],
    slots: list[int],
    keys: Sequence[str],
    stale: Mapping[int, Resp],
    results: list[Fetched[Resp] | BackendError | None],
    deadline: Deadline,
    headers: Mapping[str, str] | None,
    reserve_s: float,
) -> None:
    """One batch call for ``reqs[slot]`` of each slot; ``results[slot]`` gets the answer,
    the stale entry when the call failed and one is kept, or the error."""
    started = time.perf_counter()
    ttl = client.config.cache_ttl_s
    cache = CacheResult.MISS if ttl is not None else CacheResult.BYPASS
    batch = [reqs[n] for n in slots]
    try:
        fetched = await client.call(
            spec.batch_endpoint,
            "POST",
            spec.path,
            spec.batch_response,
            deadline,
            json=spec.wrap(batch),
            headers=headers,
            idempotent=spec.idempotent,
            reserve_s=reserve_s,
        )
        responses = spec.unwrap(fetched.value)
        if len(responses) != len(batch):
            raise BackendMalformed(
                client.name,
                spec.batch_endpoint,
                f"{len(responses)} answers to {len(batch)} requests",
                attempts=fetched.attempts,
            )
    except BackendError as exc:
        served_stale = 0
        for n in slots:
            if n in stale and not isinstance(exc, BackendRejected):
                served_stale += 1
                results[n] = client._done(
                    spec.endpoint, started, exc.outcome, CacheResult.STALE, exc.attempts, stale[n]
                )
            else:
                client._observe(spec.endpoint, started, exc.outcome, cache, exc.attempts)
                results[n] = exc
        if served_stale:
            log.info("%s: serving %d stale (%s)", client.name, served_stale, exc)
        return
    if ttl is not None:
        stores_objects = client.cache.stores_objects
        await client.cache.set_many(
            {
                keys[n]: r if stores_objects else r.model_dump(mode="json")
                for n, r in zip(slots, responses, strict=True)
            },
            ttl,
            stale_ttl_s=client.config.stale_ttl_s,
        )
    for n, response in zip(slots, responses, strict=True):
        results[n] = client._done(spec.endpoint, started, "ok", cache, fetched.attempts, response)

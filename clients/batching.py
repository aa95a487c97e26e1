"""Several requests to one backend endpoint in one round trip, each cached on its own.

``RetrievalClient.candidates_many``, ``RankingClient.rank_many`` and
``BanditClient.decide_many`` all go through :func:`fetch_many`:

1. every request's cache key is the one its single call uses (``cache_key(endpoint,
   *cache_parts(req))``), so single and batched calls share entries;
2. the cache in front is the client's own :meth:`BackendClient.read_through` (the logic of
   single calls): fresh entries in one ``get_many`` (``HIT``), each answer stored under its
   own key in one ``set_many``, a stale entry (``STALE``) for a request whose call failed
   (never for a rejection);
3. the rest go to the batch endpoint, at most ``max_requests`` per call (several calls run
   concurrently), through :meth:`BackendClient.call` (breaker, deadline, retries when the
   endpoint is idempotent). An answer with the wrong number of responses is
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
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from clients.base import DEFAULT_RESERVE_S, BackendClient
from clients.deadline import Deadline
from clients.errors import BackendError, BackendMalformed
from clients.readthrough import Answers, revalidate
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
    started = time.perf_counter()
    if client.cache_policy.enabled:
        keys = [client.cache_key(spec.endpoint, *spec.cache_parts(r)) for r in reqs]
    else:
        keys = [""] * len(reqs)  # nothing read or stored: no key to compute

    def check(value: Any) -> Resp | None:
        return revalidate(spec.response, value)

    async def fetch(todo: list[int]) -> Answers:
        size = max(spec.max_requests, 1)
        chunks = [todo[i : i + size] for i in range(0, len(todo), size)]
        answers: dict[int, tuple[Any, int]] = {}
        calls = [
            _fetch_batch(client, spec, reqs, chunk, deadline, headers, reserve_s)
            for chunk in chunks
        ]
        for part in [await calls[0]] if len(calls) == 1 else await asyncio.gather(*calls):
            answers.update(part)
        return answers

    slots = await client.read_through(keys, check, fetch)
    results: list[Fetched[Resp] | BackendError] = []
    served_stale: BackendError | None = None
    for slot in slots:
        if slot.error is None:
            assert slot.value is not None
            results.append(
                client.record(spec.endpoint, started, "ok", slot.cache, slot.attempts, slot.value)
            )
        elif slot.value is not None:
            served_stale = slot.error
            results.append(
                client.record(
                    spec.endpoint,
                    started,
                    slot.error.outcome,
                    CacheResult.STALE,
                    slot.error.attempts,
                    slot.value,
                )
            )
        else:
            client.observe(spec.endpoint, started, slot.error.outcome, slot.cache, slot.attempts)
            results.append(slot.error)
    if served_stale is not None:
        stale = sum(1 for slot in slots if slot.cache is CacheResult.STALE)
        log.info("%s: serving %d stale (%s)", client.name, stale, served_stale)
    return results


async def _fetch_batch(
    client: BackendClient,
    spec: BatchEndpoint[Req, Resp, Batch],
    reqs: Sequence[Req],
    slots: list[int],
    deadline: Deadline,
    headers: Mapping[str, str] | None,
    reserve_s: float,
) -> Answers:
    """One batch call for ``reqs[slot]`` of each slot: each slot's answer, or the call's
    error for all of them."""
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
        return {n: (exc, exc.attempts) for n in slots}
    return {n: (r, fetched.attempts) for n, r in zip(slots, responses, strict=True)}

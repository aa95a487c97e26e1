"""Catalog backend: entities by id in batches, plus per-city listings.

Batch lookups are cached per entity, not per request: a page asking for venues ``a, b, c``
after another asked for ``b, c, d`` sends only ``a`` to the backend. Ids the catalog reports
``missing`` are remembered for ``negative_ttl_s`` so unknown ids do not hit it every time.
When the backend fails, entities whose cache entries are stale still come back (``STALE``).
The cache logic is the client's own :meth:`BackendClient.read_through`, one key per entity.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from clients.base import DEFAULT_RESERVE_S, BackendClient
from clients.contracts.catalog import (
    BannerEntity,
    BannersBatch,
    BatchGetRequest,
    BrandEntity,
    BrandsBatch,
    CategoriesResponse,
    CategoryEntity,
    ItemEntity,
    ItemsBatch,
    VenueEntity,
    VenuesBatch,
)
from clients.deadline import Deadline
from clients.errors import BackendError
from clients.readthrough import Answers, revalidate
from clients.results import CacheResult, Fetched

__all__ = ["MAX_BATCH", "CatalogClient"]

MAX_BATCH = 500
"""Most ids the catalog accepts in one batchGet."""

E = TypeVar("E", bound=BaseModel)
B = TypeVar("B", bound=BaseModel)


class _Batch(Generic[E, B]):
    """How one entity kind is fetched: endpoint, models, and how to unpack a batch."""

    def __init__(
        self,
        kind: str,
        entity: type[E],
        batch: type[B],
        unpack: Callable[[B], tuple[list[E], list[str]]],
        key_of: Callable[[E], str],
    ) -> None:
        self.kind = kind
        self.endpoint = f"{kind}s"
        self.path = f"/v1/{kind}s:batchGet"
        self.entity = entity
        self.batch = batch
        self.unpack = unpack
        self.key_of = key_of


_VENUES = _Batch(
    "venue", VenueEntity, VenuesBatch, lambda b: (b.entities, b.missing), lambda e: e.id
)
_ITEMS = _Batch("item", ItemEntity, ItemsBatch, lambda b: (b.entities, b.missing), lambda e: e.id)
_BRANDS = _Batch(
    "brand", BrandEntity, BrandsBatch, lambda b: (b.entities, b.missing), lambda e: e.id
)
_BANNERS = _Batch(
    "banner", BannerEntity, BannersBatch, lambda b: (b.entities, b.missing), lambda e: e.id
)


class CatalogClient(BackendClient):
    """Typed client of the catalog backend with entity-level caching."""

    async def venues(
        self,
        ids: Iterable[str],
        deadline: Deadline,
        *,
        headers: Mapping[str, str] | None = None,
        reserve_s: float = DEFAULT_RESERVE_S,
    ) -> Fetched[dict[str, VenueEntity]]:
        """Venues by id (``POST /v1/venues:batchGet``); missing ids are absent from the dict."""
        return await self._batch_get(_VENUES, ids, deadline, headers, reserve_s)

    async def items(
        self,
        ids: Iterable[str],
        deadline: Deadline,
        *,
        headers: Mapping[str, str] | None = None,
        reserve_s: float = DEFAULT_RESERVE_S,
    ) -> Fetched[dict[str, ItemEntity]]:
        """Menu items by id; missing ids are absent from the dict."""
        return await self._batch_get(_ITEMS, ids, deadline, headers, reserve_s)

    async def brands(
        self,
        ids: Iterable[str],
        deadline: Deadline,
        *,
        headers: Mapping[str, str] | None = None,
        reserve_s: float = DEFAULT_RESERVE_S,
    ) -> Fetched[dict[str, BrandEntity]]:
        """Brands by id; missing ids are absent from the dict."""
        return await self._batch_get(_BRANDS, ids, deadline, headers, reserve_s)

    async def banners(
        self,
        ids: Iterable[str],
        deadline: Deadline,
        *,
        headers: Mapping[str, str] | None = None,
        reserve_s: float = DEFAULT_RESERVE_S,
    ) -> Fetched[dict[str, BannerEntity]]:
        """Banners by id (active or not); missing ids are absent from the dict."""
        return await self._batch_get(_BANNERS, ids, deadline, headers, reserve_s)

    async def categories(
        self,
        city: str,
        deadline: Deadline,
        *,
        headers: Mapping[str, str] | None = None,
        reserve_s: float = DEFAULT_RESERVE_S,
    ) -> Fetched[list[CategoryEntity]]:
        """``GET /v1/categories?city=``: the city's categories (cached)."""
        fetched = await self.call(
            "categories",
            "GET",
            "/v1/categories",
            CategoriesResponse,
            deadline,
            params={"city": city},
            headers=headers,
            reserve_s=reserve_s,
            cache_key=f"{self.name}:categories:v1:{city}",
        )
        return Fetched(
            list(fetched.value.categories), fetched.cache, fetched.elapsed_ms, fetched.attempts
        )

    async def active_banners(
        self,
        city: str,
        deadline: Deadline,
        *,
        headers: Mapping[str, str] | None = None,
        reserve_s: float = DEFAULT_RESERVE_S,
    ) -> Fetched[list[BannerEntity]]:
        """``GET /v1/banners?city=`` (a ``BannersBatch``): the city's active banners (cached)."""
        fetched = await self.call(
            "active_banners",
            "GET",
            "/v1/banners",
            BannersBatch,
            deadline,
            params={"city": city},
            headers=headers,
            reserve_s=reserve_s,
            cache_key=f"{self.name}:banners:v1:{city}",
        )
        return Fetched(
            list(fetched.value.entities), fetched.cache, fetched.elapsed_ms, fetched.attempts
        )

    def entity_key(self, kind: str, entity_id: str) -> str:
        """The cache key of one entity."""
        return f"{self.name}:{kind}:v1:{entity_id}"

    async def _batch_get(
        self,
        spec: _Batch[E, B],
        ids: Iterable[str],
        deadline: Deadline,
        headers: Mapping[str, str] | None,
        reserve_s: float,
    ) -> Fetched[dict[str, E]]:
        started = time.perf_counter()
        wanted = list(dict.fromkeys(ids))
        keys = [self.entity_key(spec.kind, i) for i in wanted]

        def check(value: Any) -> E | None:
            return revalidate(spec.entity, value)

        async def fetch(todo: list[int]) -> Answers:
            asked = [wanted[n] for n in todo]
            chunks = [asked[i : i + MAX_BATCH] for i in range(0, len(asked), MAX_BATCH)]
            results = await asyncio.gather(
                *(
                    self.call(
                        spec.endpoint,
                        "POST",
                        spec.path,
                        spec.batch,
                        deadline,
                        json=BatchGetRequest(ids=chunk),
                        headers=headers,
                        reserve_s=reserve_s,
                    )
                    for chunk in chunks
                ),
                return_exceptions=True,
            )
            answers: dict[int, tuple[Any, int]] = {}
            position = dict(zip(asked, todo, strict=True))
            for chunk, result in zip(chunks, results, strict=True):
                if isinstance(result, BackendError):
                    answers.update((position[i], (result, result.attempts)) for i in chunk)
                elif isinstance(result, BaseException):
                    raise result
                else:
                    entities, missing = spec.unpack(result.value)
                    for entity in entities:
                        n = position.get(spec.key_of(entity))
                        if n is not None:
                            answers[n] = (entity, result.attempts)
                    # ids the catalog reports missing are remembered as such (None)
                    answers.update(
                        (position[i], (None, result.attempts)) for i in missing if i in position
                    )
            return answers

        if not wanted:
            slots = []
        else:
            slots = await self.read_through(keys, check, fetch)
        found = {
            i: slot.value for i, slot in zip(wanted, slots, strict=True) if slot.value is not None
        }
        errors = [slot.error for slot in slots if slot.error is not None]
        attempts = max((slot.attempts for slot in slots), default=0)
        if all(slot.cache is CacheResult.HIT for slot in slots):
            cache = CacheResult.HIT if self.cache_policy.enabled else CacheResult.BYPASS
            return self.record(spec.endpoint, started, "ok", cache, 0, found)
        if not errors:
            cache = CacheResult.MISS if self.cache_policy.enabled else CacheResult.BYPASS
            return Fetched(found, cache, _ms(started), attempts)
        # Degraded: serve what is at hand (fresh hits, other batches, stale entries).
        if not found:
            raise errors[0]
        return Fetched(found, CacheResult.STALE, _ms(started), attempts)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000

"""Catalog backend: entities by id in batches, plus per-city listings.

Batch lookups are cached per entity, not per request: a page asking for venues ``a, b, c``
after another asked for ``b, c, d`` sends only ``a`` to the backend. Ids the catalog reports
``missing`` are remembered for ``negative_ttl_s`` so unknown ids do not hit it every time.
When the backend fails, entities whose cache entries are stale still come back (``STALE``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

import pydantic
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
        self._ensure_open()
        started = time.perf_counter()
        wanted = list(dict.fromkeys(ids))
        ttl = self.config.cache_ttl_s
        found: dict[str, E] = {}
        stale: dict[str, E] = {}
        known_missing: set[str] = set()

        if ttl is not None and wanted:
            keys = {self.entity_key(spec.kind, i): i for i in wanted}
            for key, (value, fresh) in (await self.cache.get_many(keys, ttl)).items():
                entity_id = keys[key]
                if value is None:
                    known_missing.add(entity_id)
                    continue
                entity = _revalidate(spec.entity, value)
                if entity is None:
                    continue
                (found if fresh else stale)[entity_id] = entity

        to_fetch = [i for i in wanted if i not in found and i not in known_missing]
        if not to_fetch:
            cache = CacheResult.HIT if ttl is not None else CacheResult.BYPASS
            return self._done(spec.endpoint, started, "ok", cache, 0, _ordered(wanted, found))

        chunks = [to_fetch[i : i + MAX_BATCH] for i in range(0, len(to_fetch), MAX_BATCH)]
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

        errors: list[BackendError] = []
        fetched: dict[str, E] = {}
        missing: list[str] = []
        attempts = 0
        for result in results:
            if isinstance(result, BackendError):
                errors.append(result)
                attempts = max(attempts, result.attempts)
            elif isinstance(result, BaseException):
                raise result
            else:
                entities, batch_missing = spec.unpack(result.value)
                fetched.update((spec.key_of(e), e) for e in entities)
                missing.extend(batch_missing)
                attempts = max(attempts, result.attempts)

        if ttl is not None:
            await self.cache.set_many(
                {
                    self.entity_key(spec.kind, k): (
                        e if self.cache.stores_objects else e.model_dump(mode="json")
                    )
                    for k, e in fetched.items()
                },
                ttl,
                stale_ttl_s=self.config.stale_ttl_s,
            )
            if missing and self.config.negative_ttl_s > 0:
                await self.cache.set_many(
                    {self.entity_key(spec.kind, i): None for i in missing},
                    self.config.negative_ttl_s,
                )

        found.update(fetched)
        if not errors:
            cache = CacheResult.MISS if ttl is not None else CacheResult.BYPASS
            return Fetched(_ordered(wanted, found), cache, _ms(started), attempts)
        # Degraded: serve what is at hand (fresh hits, other batches, stale entries).
        for entity_id in to_fetch:
            if entity_id not in found and entity_id in stale:
                found[entity_id] = stale[entity_id]
        if not found:
            raise errors[0]
        return Fetched(_ordered(wanted, found), CacheResult.STALE, _ms(started), attempts)


def _ordered(wanted: list[str], found: dict[str, E]) -> dict[str, E]:
    return {i: found[i] for i in wanted if i in found}


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _revalidate(model: type[E], value: Any) -> E | None:
    if isinstance(value, model):
        return value
    try:
        return model.model_validate(value)
    except pydantic.ValidationError:
        return None

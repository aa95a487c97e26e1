"""All backend clients of one gateway process, opened and closed together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx

from clients.bandit import BanditClient
from clients.base import BackendClient
from clients.cache import ResponseCache
from clients.catalog import CatalogClient
from clients.config import BackendConfig, CacheConfig
from clients.contracts.ports import BACKEND_NAMES
from clients.observe import CallObserver
from clients.popularity import PopularityClient
from clients.ranking import RankingClient
from clients.reference import ReferenceStore
from clients.retrieval import RetrievalClient

__all__ = ["BACKEND_NAMES", "Backends", "open_backends"]

log = logging.getLogger(__name__)


@dataclass
class Backends:
    """The five typed clients, the shared response cache and the reference data."""

    catalog: CatalogClient
    retrieval: RetrievalClient
    ranking: RankingClient
    bandit: BanditClient
    popularity: PopularityClient
    cache: ResponseCache
    reference: ReferenceStore

    def clients(self) -> dict[str, BackendClient]:
        """The clients by backend name (for health and metrics)."""
        return {
            "catalog": self.catalog,
            "retrieval": self.retrieval,
            "ranking": self.ranking,
            "bandit": self.bandit,
            "popularity": self.popularity,
        }


_Client = TypeVar("_Client", bound=BackendClient)


@asynccontextmanager
async def open_backends(
    configs: Mapping[str, BackendConfig],
    cache_config: CacheConfig,
    snapshot_path: Path,
    *,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    observer: CallObserver | None = None,
    refresh_interval_s: float | None = 60.0,
    refresh_cities: Sequence[str] | None = None,
    reference_max_age_s: float | None = None,
) -> AsyncIterator[Backends]:
    """Open every client, load the reference snapshot and start its background refresh.

    Args:
        configs: one :class:`BackendConfig` per name in :data:`BACKEND_NAMES`.
        cache_config: the response cache (memory or Redis).
        snapshot_path: the reference snapshot JSON (absent: start empty).
        transports: per-backend httpx transports replacing the network (tests, in-process).
        observer: receives call / retry / breaker events.
        refresh_interval_s: reference refresh period; ``None`` disables the refresh.
        refresh_cities: cities to refresh; default: the snapshot's cities.
        reference_max_age_s: reference lists older than this are served as stale.

    Example usage:
        ```python
        async with open_backends(settings.backends, settings.cache, path) as backends:
            fetched = await backends.ranking.rank(request, deadline)
        ```

    Raises:
        ValueError: a backend has no configuration, or the snapshot is invalid.
    """
    missing = [name for name in BACKEND_NAMES if name not in configs]
    if missing:
        raise ValueError(f"no configuration for backend(s): {', '.join(missing)}")
    transports = transports or {}
    reference = ReferenceStore.from_snapshot(snapshot_path, max_age_s=reference_max_age_s)

    async with AsyncExitStack() as stack:
        cache = ResponseCache(cache_config)
        stack.push_async_callback(cache.aclose)

        async def opened(cls: type[_Client], name: str) -> _Client:
            client = cls(
                name, configs[name], cache, transport=transports.get(name), observer=observer
            )
            stack.push_async_callback(client.aclose)
            return client

        backends = Backends(
            catalog=await opened(CatalogClient, "catalog"),
            retrieval=await opened(RetrievalClient, "retrieval"),
            ranking=await opened(RankingClient, "ranking"),
            bandit=await opened(BanditClient, "bandit"),
            popularity=await opened(PopularityClient, "popularity"),
            cache=cache,
            reference=reference,
        )
        if refresh_interval_s is not None:
            cities = list(refresh_cities) if refresh_cities is not None else reference.cities
            task = asyncio.create_task(
                reference.run_refresh(
                    backends.popularity, backends.catalog, cities, refresh_interval_s
                ),
                name="reference-refresh",
            )

            async def stop_refresh() -> None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

            stack.push_async_callback(stop_refresh)
        yield backends

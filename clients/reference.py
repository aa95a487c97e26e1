"""Reference data held in memory: popularity lists, per-city categories and active banners.

This is the last-resort content of every section, so reading it never waits on the network.
It starts from a snapshot file shipped with the project (a cold start with the popularity
backend down still has content) and is refreshed in the background from the popularity and
catalog backends. A failed refresh keeps the last good data of whatever it could not fetch.

Snapshot format::

    {"generated_at": "2026-01-01T00:00:00Z",
     "popular": {"city/helsinki/venue": ["v1", ...], "category/helsinki:pizza/venue": [...]},
     "categories": {"helsinki": [CategoryEntity, ...]},
     "banners": {"helsinki": [BannerEntity, ...]}}
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from clients.contracts.catalog import BannerEntity, CategoryEntity
from clients.contracts.common import EntityKind
from clients.contracts.popularity import PopularityScope
from clients.deadline import Deadline
from clients.errors import BackendError

if TYPE_CHECKING:
    from clients.catalog import CatalogClient
    from clients.popularity import PopularityClient

__all__ = ["CITY_KINDS", "ReferenceSnapshot", "ReferenceStore", "popular_key"]

log = logging.getLogger(__name__)

T = TypeVar("T")

CITY_KINDS: tuple[EntityKind, ...] = (
    EntityKind.VENUE,
    EntityKind.BRAND,
    EntityKind.CATEGORY,
    EntityKind.ITEM,
)
"""Kinds refreshed per city: ``city/{city}/{kind}``."""


def popular_key(scope: PopularityScope | str, key: str, kind: EntityKind | str) -> str:
    """The key of a popularity list: ``{scope}/{key}/{kind}``."""
    return f"{PopularityScope(scope).value}/{key}/{EntityKind(kind).value}"


class ReferenceSnapshot(BaseModel):
    """The snapshot file's shape."""

    model_config = ConfigDict(extra="ignore")

    generated_at: datetime | None = None
    popular: dict[str, list[str]] = Field(default_factory=dict)
    categories: dict[str, list[CategoryEntity]] = Field(default_factory=dict)
    banners: dict[str, list[BannerEntity]] = Field(default_factory=dict)


class ReferenceStore:
    """In-memory reference data with snapshot load and background refresh.

    Example usage:
        ```python
        store = ReferenceStore.from_snapshot(Path("gateway/data/reference_snapshot.json"))
        task = asyncio.create_task(store.run_refresh(popularity, catalog, ["helsinki"], 60))
        ids = store.popular("city", "helsinki", "venue") or []
        ```
    """

    def __init__(
        self,
        *,
        max_age_s: float | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._popular: dict[str, list[str]] = {}
        self._categories: dict[str, list[CategoryEntity]] = {}
        self._banners: dict[str, list[BannerEntity]] = {}
        # when each list was current: the snapshot's generated_at, or the refresh that
        # fetched it (a failed fetch keeps the old list *and* its old time)
        self._as_of: dict[str, datetime | None] = {}
        self.max_age_s = max_age_s
        self._clock = clock
        self.loaded = False
        self.refreshed_at: datetime | None = None

    # -- freshness --------------------------------------------------------------------------

    def age_s(self, what: str) -> float | None:
        """Seconds since ``what`` (``popular:<key>``, ``banners:<city>``,
        ``categories:<city>``) was current; ``None`` when unknown or absent."""
        as_of = self._as_of.get(what)
        return None if as_of is None else (self._clock() - as_of).total_seconds()

    def is_stale(self, what: str) -> bool:
        """Older than ``max_age_s`` (an unknown age counts as old); never without a limit."""
        if self.max_age_s is None:
            return False
        age = self.age_s(what)
        return age is None or age > self.max_age_s

    def popular_is_stale(
        self, scope: PopularityScope | str, key: str, kind: EntityKind | str
    ) -> bool:
        return self.is_stale(f"popular:{popular_key(scope, key, kind)}")

    def banners_are_stale(self, city: str) -> bool:
        return self.is_stale(f"banners:{city}")

    # -- reading ----------------------------------------------------------------------------

    def popular(
        self, scope: PopularityScope | str, key: str, kind: EntityKind | str
    ) -> list[str] | None:
        """The popularity list, most popular first, or ``None`` if there is none."""
        ids = self._popular.get(popular_key(scope, key, kind))
        return list(ids) if ids is not None else None

    def categories(self, city: str) -> list[CategoryEntity]:
        """The city's categories (empty if unknown)."""
        return list(self._categories.get(city, ()))

    def banners(self, city: str) -> list[BannerEntity]:
        """The city's active banners (empty if unknown)."""
        return list(self._banners.get(city, ()))

    @property
    def cities(self) -> list[str]:
        """Cities that have categories or banners."""
        return sorted(set(self._categories) | set(self._banners))

    # -- loading ----------------------------------------------------------------------------

    @classmethod
    def from_snapshot(cls, path: Path, *, max_age_s: float | None = None) -> ReferenceStore:
        """A store loaded from ``path``; an absent file leaves it empty (``loaded`` false).

        Raises:
            ValueError: the file exists but is not a valid snapshot.
        """
        store = cls(max_age_s=max_age_s)
        store.load_snapshot(path)
        return store

    def load_snapshot(self, path: Path) -> bool:
        """Replace the data with the snapshot at ``path``; ``False`` if there is no file."""
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            log.warning("reference snapshot %s not found; starting empty", path)
            return False
        try:
            snapshot = ReferenceSnapshot.model_validate_json(raw)
        except ValueError as exc:
            raise ValueError(f"invalid reference snapshot {path}: {exc}") from exc
        self.apply(snapshot, as_of=snapshot.generated_at)
        self.refreshed_at = snapshot.generated_at
        log.info("reference snapshot %s: %d popularity lists", path, len(snapshot.popular))
        return True

    def apply(self, snapshot: ReferenceSnapshot, *, as_of: datetime | None = None) -> None:
        """Merge ``snapshot`` into the store (its lists replace lists of the same key), each
        list current as of ``as_of`` (default: the snapshot's ``generated_at``)."""
        when = as_of if as_of is not None else snapshot.generated_at
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        self._popular = {**self._popular, **snapshot.popular}
        self._categories = {**self._categories, **snapshot.categories}
        self._banners = {**self._banners, **snapshot.banners}
        self._as_of.update(
            {
                **{f"popular:{k}": when for k in snapshot.popular},
                **{f"categories:{c}": when for c in snapshot.categories},
                **{f"banners:{c}": when for c in snapshot.banners},
            }
        )
        self.loaded = True

    def snapshot(self) -> ReferenceSnapshot:
        """The current data in snapshot form (to write a new snapshot file)."""
        return ReferenceSnapshot(
            generated_at=self.refreshed_at,
            popular=dict(self._popular),
            categories=dict(self._categories),
            banners=dict(self._banners),
        )

    # -- refreshing -------------------------------------------------------------------------

    async def refresh(
        self,
        popularity: PopularityClient,
        catalog: CatalogClient,
        cities: Iterable[str],
        *,
        timeout_s: float = 10.0,
        limit: int = 200,
        concurrency: int = 4,
    ) -> bool:
        """Refresh everything once, within ``timeout_s``.

        Fetches, per city, the categories, the active banners, ``city/{city}/{kind}`` for
        venues, brands, categories and items, then ``category/{city}:{slug}/venue`` for each
        of the city's categories. What fails keeps its previous value. At most
        ``concurrency`` calls are in flight at once, so a refresh never bursts enough
        connections at a backend to trip its breaker for live traffic.

        Returns:
            Whether every fetch succeeded.
        """
        deadline = Deadline.after(timeout_s)
        update = ReferenceSnapshot()
        ok = True
        slots = asyncio.Semaphore(concurrency)

        async def fetch(what: str, call: Callable[[], Awaitable[T]]) -> T | None:
            nonlocal ok
            try:
                async with slots:
                    return await call()
            except BackendError as exc:
                ok = False
                log.warning("reference refresh: %s failed: %s", what, exc)
                return None

        async def popular_list(scope: PopularityScope, key: str, kind: EntityKind) -> None:
            result = await fetch(
                popular_key(scope, key, kind),
                lambda: popularity.popular(scope, key, kind, limit, deadline),
            )
            if result is not None:
                update.popular[popular_key(scope, key, kind)] = result.value.ids

        async def city_banners(city: str) -> None:
            banners = await fetch(f"banners {city}", lambda: catalog.active_banners(city, deadline))
            if banners is not None:
                update.banners[city] = banners.value

        async def city_lists(city: str) -> None:
            categories = await fetch(
                f"categories {city}", lambda: catalog.categories(city, deadline)
            )
            if categories is not None:
                update.categories[city] = categories.value
            slugs = [c.slug for c in (categories.value if categories else self.categories(city))]
            await asyncio.gather(
                city_banners(city),
                *(popular_list(PopularityScope.CITY, city, kind) for kind in CITY_KINDS),
                *(
                    popular_list(PopularityScope.CATEGORY, f"{city}:{slug}", EntityKind.VENUE)
                    for slug in slugs
                ),
            )

        await asyncio.gather(*(city_lists(city) for city in cities))
        if update.popular or update.categories or update.banners:
            now = self._clock()
            self.apply(update, as_of=now)
            self.refreshed_at = now
        return ok

    async def run_refresh(
        self,
        popularity: PopularityClient,
        catalog: CatalogClient,
        cities: Iterable[str],
        interval_s: float = 60.0,
        *,
        timeout_s: float | None = None,
    ) -> None:
        """Refresh now and then every ``interval_s`` until cancelled; never raises otherwise.

        Each refresh is bounded by ``timeout_s`` (default: half the interval, at most 10 s).
        """
        cities = list(cities)
        bound = timeout_s if timeout_s is not None else min(10.0, interval_s / 2)
        while True:
            try:
                await self.refresh(popularity, catalog, cities, timeout_s=bound)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reference refresh failed; keeping the last good data")
            await asyncio.sleep(interval_s)

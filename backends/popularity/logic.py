"""Popularity lists: time-decayed order counts (half-life 14 days) of the training split.

All lists are precomputed at start-up (a few thousand short lists), so a request is a dict
lookup and a slice. Lists are complete (every venue of a category, every item of a venue),
ties broken by rating or id, so a fallback never comes up short just because something had
no recent orders.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

import numpy as np

from backends.dataset import CATEGORY_SLUGS, CITIES, ITEMS_PER_VENUE, brand_id, item_id, venue_id
from backends.world import World, get_world
from clients.contracts import EntityKind, PopularityScope


class Popularity:
    """Precomputed ``(scope, key, kind) → ids`` lists."""

    def __init__(self, world: World) -> None:
        self.generated_at = datetime.now(UTC).isoformat(timespec="seconds")
        ds = world.ds
        self.lists: dict[tuple[str, str, str], list[str]] = {}
        vpop = world.venue_pop + 0.001 * ds.v_rating  # rating breaks ties of unordered venues
        ipop = world.item_pop
        for ci, city in enumerate(CITIES):
            vs = np.flatnonzero(ds.v_city == ci)
            order = vs[np.argsort(-vpop[vs], kind="stable")]
            self._put("city", city.id, "venue", [venue_id(v) for v in order])
            items = np.flatnonzero(ds.v_city[ds.it_venue] == ci)
            top_items = items[np.argsort(-ipop[items], kind="stable")][:500]
            self._put("city", city.id, "item", [item_id(i) for i in top_items])
            bp = world.brand_pop_city[ci]
            present = np.unique(ds.v_brand[vs][ds.v_brand[vs] >= 0])
            bo = present[np.argsort(-bp[present], kind="stable")]
            self._put("city", city.id, "brand", [brand_id(b) for b in bo])
            cp = world.cat_pop_city[ci]
            cats = np.flatnonzero(ds.v_cats[vs].any(0))
            co = cats[np.argsort(-cp[cats], kind="stable")]
            self._put("city", city.id, "category", [CATEGORY_SLUGS[c] for c in co])
            for c in cats:
                cv = order[ds.v_cats[order, c]]
                self._put(
                    "category", f"{city.id}:{CATEGORY_SLUGS[c]}", "venue", [venue_id(v) for v in cv]
                )
        for v in range(ds.n_venues):
            its = np.arange(v * ITEMS_PER_VENUE, (v + 1) * ITEMS_PER_VENUE)
            io = its[np.argsort(-ipop[its], kind="stable")]
            self._put("venue", venue_id(v), "item", [item_id(i) for i in io])

    def _put(self, scope: str, key: str, kind: str, ids: list[str]) -> None:
        self.lists[(scope, key, kind)] = ids

    def popular(self, scope: PopularityScope, key: str, kind: EntityKind, limit: int) -> list[str]:
        """Most popular ids first; unknown key or unsupported scope/kind → empty list."""
        return self.lists.get((scope.value, key, kind.value), [])[:limit]


@functools.cache
def get_popularity() -> Popularity:
    return Popularity(get_world())

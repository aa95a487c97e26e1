"""Pages built moments ago, kept per viewer and situation, so a refresh skips the fan-out.

A Discovery page refreshed within seconds would be rebuilt from the same cached backend
answers (candidates and ranking 60 s, bandit decisions 30 s, catalog 300 s), into the same
sections in the same order. Building it again costs most of the gateway's CPU per request
(hydrating and materialising a few hundred venues), so the built sections are kept for a
short TTL and reused (decision 0011).

What a hit shares, and what it does not:

* Shared: the sections after ordering, de-duplication and limits, with their sources and
  decisions. The key holds everything a build reads: surface, viewer, experiment variant and
  hidden sections, platform, location to four decimals (~10 m, below what a phone's fix
  jitters), the local hour (ranking and bandit decisions change with it), and the surface's
  inputs (category, venue, cart). The minute is deliberately not in the key: open-now may
  be up to one TTL late at a venue's opening or closing time, which is the price of not
  rebuilding every cached page at once when the minute turns.
* Expiry is spread: each page lives between 80 % and 100 % of the TTL, so pages cached
  together (a deploy, a traffic spike) are not all rebuilt in the same second.
* Not shared: the request id, tracking ids and decision-log lines, which are made for each
  request from the sections, so every impression is still logged and attributable.
* Never kept: a degraded page (a fallback, stale content, a missed deadline). The next
  request builds again, so a recovered backend shows at once. Except a page built cheap on
  purpose because the gateway was past saturation (``PageRequest.shed``, decision 0024):
  it is kept for ``shed_ttl_s`` (a few seconds, flagged degraded when replayed), so that
  overload does not switch the page cache off.

The cache is per process and bounded (entries, LRU, TTL): a hit is a dictionary lookup of
Python objects, which no shared store could offer, and pages are big (tens of kilobytes each).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

from cachetools import TLRUCache

from resolvers.engine import BuiltSection
from resolvers.request import PageReport, PageRequest

__all__ = ["CachedPage", "PageCache"]

SPREAD = 0.2
"""Each page expires after a uniformly drawn (1 − SPREAD … 1) × TTL."""


@dataclass(frozen=True, slots=True)
class CachedPage:
    """The visible sections of a healthy page, and the fallback step each one took."""

    sections: tuple[BuiltSection, ...]
    steps: tuple[tuple[str, str], ...]
    degraded: bool = False
    keep_s: float | None = None

    def replay(self, trace: PageReport, surface: str) -> list[BuiltSection]:
        """The sections, with the page report filled in as the build would have."""
        trace.surface = surface
        trace.sections.update(self.steps)
        trace.sources = {b.plan.id: b.source.value for b in self.sections}
        trace.degraded = self.degraded
        trace.page_cache = "hit"
        return list(self.sections)


class PageCache:
    """A bounded, short-lived map from a page's situation to its built sections.

    ``ttl_s`` of 0 turns it off. Sections are shared between requests, so nothing
    downstream may mutate them (tracking and the schema projection only read).
    """

    def __init__(
        self,
        ttl_s: float,
        max_entries: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        shed_ttl_s: float = 0.0,
    ) -> None:
        self.ttl_s = ttl_s
        self.shed_ttl_s = min(shed_ttl_s, ttl_s)
        spread = rng or random.Random()

        def expires(_key: Hashable, page: CachedPage, now: float) -> float:
            ttl = page.keep_s if page.keep_s is not None else ttl_s
            return now + ttl * (1 - SPREAD * spread.random())

        self._pages: TLRUCache[Hashable, CachedPage] | None = (
            TLRUCache(maxsize=max_entries, ttu=expires, timer=clock)
            if ttl_s > 0 and max_entries > 0
            else None
        )

    @property
    def enabled(self) -> bool:
        return self._pages is not None

    def __len__(self) -> int:
        return 0 if self._pages is None else len(self._pages)

    @staticmethod
    def key(request: PageRequest) -> Hashable:
        """Everything the build of this page reads from the request."""
        inputs = request.inputs
        return (
            inputs.surface.value,
            request.user_id,
            None if request.user_id else request.device_id,
            request.ranking_variant,
            request.hidden_sections,
            request.platform,
            round(request.location.lat, 4),
            round(request.location.lon, 4),
            request.local_now.replace(minute=0),
            inputs.category,
            inputs.venue_id,
            tuple(sorted(inputs.cart_item_ids)),
        )

    def get(self, key: Hashable) -> CachedPage | None:
        if self._pages is None:
            return None
        return self._pages.get(key)

    def put(
        self,
        key: Hashable,
        sections: Sequence[BuiltSection],
        trace: PageReport,
        *,
        degraded: bool,
        shed: bool = False,
    ) -> None:
        """Keep a healthy page; a degraded one only when it was shed (for ``shed_ttl_s``)."""
        if self._pages is None:
            return
        steps = tuple(trace.sections.items())
        if shed and self.shed_ttl_s > 0:
            page = CachedPage(tuple(sections), steps, degraded, self.shed_ttl_s)
            self._pages[key] = page
            return
        if degraded or trace.deadline_exceeded:
            return
        self._pages[key] = CachedPage(tuple(sections), steps)

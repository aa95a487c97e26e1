"""Progressive pages (decision 0021): what is ready at once, and the rest when it is ready.

A Discovery page asked for with its ``layout`` is answered as soon as the sections that wait
for no ranking are built (popularity lists, bandit banners; every section when the page came
from the page cache or the whole build was that quick): each slot of the layout holds its
``instant`` section, or a ``personalised`` one that resolves when the ranking answers or the
deadline makes the section fall back. A client that puts ``personalised`` in a ``@defer``
fragment gets the first part in the first payload and the rest in later ones.

Venues are not repeated across carousels, as on a whole page, with one difference forced by
the order of delivery: an instant section is final when it is sent, so a personalised
section drops the venues an instant section shows even when it is displayed above it (the
whole page would drop them from the instant section instead).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from resolvers.engine import BuiltSection, InstantPart
from resolvers.page import AnySection, Venue


@dataclass(slots=True)
class SectionSlot:
    """One place on the page, in display order: its section now, or its section later."""

    id: str
    instant: AnySection | None
    personalised: Awaitable[AnySection | None] | None


@dataclass(slots=True)
class ProgressiveDiscoveryPage:
    """A Discovery page whose personalised sections are still being built.

    ``sections`` and ``degraded`` resolve with the whole page (as the plain page has them);
    ``layout`` is there at once.
    """

    request_id: str
    layout: list[SectionSlot]
    sections: Awaitable[list[AnySection]]
    degraded: Awaitable[bool]


Track = Callable[[BuiltSection, int], AnySection]
"""A built section with its tracking id at a display position (logs its decision)."""


def settled_layout(sections: Sequence[AnySection]) -> list[SectionSlot]:
    """The layout of sections all ready: every slot instant."""
    return [SectionSlot(s.id, s, None) for s in sections]


def instant_page(
    request_id: str, sections: Sequence[AnySection], degraded: bool
) -> ProgressiveDiscoveryPage:
    """A page that was ready at once (page cache, or a build quicker than its first part)."""
    loop = asyncio.get_running_loop()
    whole: asyncio.Future[list[AnySection]] = loop.create_future()
    whole.set_result(list(sections))
    flag: asyncio.Future[bool] = loop.create_future()
    flag.set_result(degraded)
    return ProgressiveDiscoveryPage(request_id, settled_layout(sections), whole, flag)


def progressive_page(
    request_id: str,
    part: InstantPart,
    build: asyncio.Task[tuple[list[BuiltSection], bool]],
    track: Track,
    finish: Callable[[list[BuiltSection]], None],
) -> ProgressiveDiscoveryPage:
    """The layout now, its personalised slots resolved when ``build`` completes.

    ``track`` gives a section its tracking id (at its place in the layout); ``finish`` logs
    the page once its sections are all known.
    """
    loop = asyncio.get_running_loop()
    layout: list[SectionSlot] = []
    pending: dict[str, asyncio.Future[AnySection | None]] = {}
    instant_venues: set[str] = set()
    for section_id in part.order:
        built = part.sections.get(section_id)
        if built is not None:
            section = track(built, len(layout))
            layout.append(SectionSlot(section_id, section, None))
            instant_venues.update(e.id for e in built.entities if isinstance(e, Venue))
        elif section_id in part.personalised:
            pending[section_id] = loop.create_future()
            layout.append(SectionSlot(section_id, None, pending[section_id]))
    whole: asyncio.Future[list[AnySection]] = loop.create_future()
    flag: asyncio.Future[bool] = loop.create_future()

    def done(task: asyncio.Task[tuple[list[BuiltSection], bool]]) -> None:
        error = asyncio.CancelledError() if task.cancelled() else task.exception()
        if error is not None:
            futures: list[asyncio.Future[Any]] = [*pending.values(), whole, flag]
            for future in futures:
                future.set_exception(error)
                future.exception()  # retrieved: a slot nobody asked for is no error
            return
        built, degraded = task.result()
        by_id = {b.plan.id: b for b in built}
        shown: list[BuiltSection] = []
        sections: list[AnySection] = []
        for position, slot in enumerate(layout):
            if slot.instant is not None:
                shown.append(part.sections[slot.id])
                sections.append(slot.instant)
                continue
            found = by_id.get(slot.id)
            kept = _without(found, instant_venues) if found is not None else None
            section = track(kept, position) if kept is not None else None
            pending[slot.id].set_result(section)
            if kept is not None and section is not None:
                shown.append(kept)
                sections.append(section)
        finish(shown)
        whole.set_result(sections)
        flag.set_result(degraded)

    build.add_done_callback(done)
    return ProgressiveDiscoveryPage(request_id, layout, whole, flag)


def _without(built: BuiltSection, venue_ids: set[str]) -> BuiltSection | None:
    """The personalised section without the venues instant sections already show; None when
    nothing is left of a carousel that had venues."""
    if not (built.plan.dedupe and built.plan.kind.value == "venue"):
        return built
    kept = [e for e in built.entities if not (isinstance(e, Venue) and e.id in venue_ids)]
    if built.entities and not kept:
        return None
    built.entities = kept
    return built


__all__ = [
    "ProgressiveDiscoveryPage",
    "SectionSlot",
    "instant_page",
    "progressive_page",
]

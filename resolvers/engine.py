"""Builds the sections of one surface: parallel fan-out, one call per backend (retrieval,
ranking, bandit; a catalog batch per kind), and a fallback chain per section.

The timeline of a page, all of it bounded by the request's deadline:

    t0 ─┬─ retrieval (one batch for all strategies) ───┬─ ranking (one batch, all kinds) ┐
        │                                              └─ catalog (candidates) ─────────┤
        ├─ bandit (one batch: banners, order) ──────────────────────────────────────────┤
        ├─ catalog (popular fallback ids, prefetched) ──────────────────────────────────┤
        └─ popularity (venue-scoped lists; city lists are already in memory) ───────────┴─ assemble

Latency is the slowest chain (retrieval → ranking), never the sum. Each section then walks
its fallback chain over results that are already there; only the ``stale`` step may read
the cache and hydrate again, and it runs only when everything before it failed.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from opentelemetry import trace

from clients.contracts import (
    CandidatesRequest,
    CandidatesResponse,
    DecideRequest,
    DecideResponse,
    EntityKind,
    PopularityScope,
    RankRequest,
    RankResponse,
)
from clients.errors import BackendError
from clients.registry import Backends
from clients.results import CacheResult, Fetched
from resolvers.materialise import Audience, CatalogEntity, entity_ids, materialise
from resolvers.page import ContentSource, Entity, Venue
from resolvers.plans import FallbackStep, Plans, SectionPlan, SurfacePlan
from resolvers.request import PageRequest
from resolvers.stale import StaleSections

T = TypeVar("T")

_tracer = trace.get_tracer("pgw.resolvers")

STEP_SOURCE: dict[FallbackStep, ContentSource] = {
    FallbackStep.RANKED: ContentSource.PERSONALISED,
    FallbackStep.CANDIDATE_ORDER: ContentSource.CANDIDATE_ORDER,
    FallbackStep.POPULAR: ContentSource.POPULAR,
    FallbackStep.STALE: ContentSource.STALE,
    FallbackStep.DEFAULT: ContentSource.DEFAULT,
}

# How many candidates to ask for per shown slot: de-duplication across carousels, the
# delivery-area filter and missing catalog entries all thin the list out.
OVERFETCH = 3
MAX_CANDIDATES = 500


@dataclass(frozen=True, slots=True)
class Services:
    """What page builds share across requests: backends, plans and the stale store."""

    backends: Backends
    plans: Plans
    stale: StaleSections


@dataclass(slots=True)
class BuiltSection:
    """A section's chosen content before page-level ordering, de-duplication and limits."""

    plan: SectionPlan
    source: ContentSource
    entities: list[Entity]
    degraded: bool
    hidden: bool = False
    decision: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class BuiltPage:
    sections: list[BuiltSection]
    degraded: bool


@dataclass(frozen=True, slots=True)
class InstantPart:
    """What a page can show before the ranking answers (progressive delivery, 0021).

    ``order`` is every planned section's id in display order; ``sections`` holds the ones
    already built and shown (popularity lists, bandit banners), de-duplicated and cut among
    themselves; ``personalised`` the ones still being built (a retrieval strategy each).
    """

    order: list[str]
    sections: dict[str, BuiltSection]
    personalised: frozenset[str]


@dataclass(slots=True)
class _Step:
    """Ids a fallback step offers, and whether they came from a stale cache entry."""

    ids: list[str]
    reasons: Mapping[str, str | None]
    stale: bool = False
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Gathered:
    """What the fan-out brought back for one section (each None when not asked for)."""

    candidates: Fetched[CandidatesResponse] | BackendError | None
    ranking: Fetched[RankResponse] | BackendError | None
    decision: Fetched[DecideResponse] | BackendError | None
    popular: _Step | None


class _Hydrator:
    """One catalog batch per kind for all ids on the page; later asks reuse in-flight batches.

    Categories and banners come from the in-memory reference data and need no call.
    """

    def __init__(self, services: Services, request: PageRequest, audience: Audience) -> None:
        self._backends = services.backends
        self._request = request
        self._audience = audience
        self._pending: dict[EntityKind, dict[str, asyncio.Task[dict[str, CatalogEntity]]]] = (
            defaultdict(dict)
        )
        self.failed = False

    def prefetch(self, kind: EntityKind, ids: Iterable[str]) -> None:
        if kind in (EntityKind.CATEGORY, EntityKind.BANNER):
            return
        pending = self._pending[kind]
        new = [i for i in dict.fromkeys(ids) if i not in pending]
        if not new:
            return
        task = asyncio.get_running_loop().create_task(self._fetch(kind, new))
        for entity_id in new:
            pending[entity_id] = task

    async def get(self, kind: EntityKind, ids: Sequence[str]) -> dict[str, CatalogEntity]:
        reference = self._backends.reference
        city = self._request.city
        if kind is EntityKind.CATEGORY:
            return {c.slug: c for c in reference.categories(city)} if city else {}
        if kind is EntityKind.BANNER:
            return {b.id: b for b in reference.banners(city)} if city else {}
        self.prefetch(kind, ids)
        pending = self._pending[kind]
        tasks = {pending[i] for i in ids}
        merged: dict[str, CatalogEntity] = {}
        for found in await asyncio.gather(*tasks):
            merged.update(found)
        return merged

    async def _fetch(self, kind: EntityKind, ids: list[str]) -> dict[str, CatalogEntity]:
        catalog = self._backends.catalog
        request = self._request
        call: Awaitable[Fetched[Any]]
        if kind is EntityKind.VENUE:
            call = catalog.venues(ids, request.deadline, reserve_s=request.reserve_s)
        elif kind is EntityKind.ITEM:
            call = catalog.items(ids, request.deadline, reserve_s=request.reserve_s)
        else:
            call = catalog.brands(ids, request.deadline, reserve_s=request.reserve_s)
        result: Fetched[Any] | BackendError = await observed(
            request, "catalog", f"{kind.value}s:batchGet", call
        )
        if isinstance(result, BackendError):
            self.failed = True
            return {}
        if kind is EntityKind.VENUE:
            # distance and open-now now, while the ranking call is still out, rather than
            # after it answers (materialisation then only builds the objects)
            self._audience.prime(result.value.values())
        return dict(result.value)


async def observed(
    request: PageRequest, backend: str, endpoint: str, call: Awaitable[Fetched[T]]
) -> Fetched[T] | BackendError:
    """Await a client call, recording its timing; a backend failure becomes a value."""
    started = time.perf_counter()
    try:
        result: Fetched[T] | BackendError = await call
    except BackendError as exc:
        result = exc
    _record(request, backend, endpoint, started, result)
    return result


def _record(
    request: PageRequest,
    backend: str,
    endpoint: str,
    started: float,
    result: Fetched[Any] | BackendError,
) -> None:
    """A call's timing, and its failure, in the page report."""
    if isinstance(result, BackendError):
        request.report.record(backend, endpoint, started, CacheResult.BYPASS, type(result).__name__)
        request.report.failures.append(f"{backend}:{endpoint}:{type(result).__name__}")
    else:
        request.report.record(backend, endpoint, started, result.cache, "ok")


class PageBuild:
    """Builds every section of one surface for one request."""

    def __init__(
        self,
        services: Services,
        request: PageRequest,
        plan: SurfacePlan,
    ) -> None:
        self._services = services
        self._backends = services.backends
        self._request = request
        self._plan = plan
        self._inputs = request.inputs
        self._audience = request.audience
        self._hydrator = _Hydrator(services, request, request.audience)
        self.sections = [
            s
            for s in plan.sections
            if not (s.personalised_only and request.user_id is None)
            and s.id not in request.hidden_sections
        ]

    # -- t0: everything that needs nothing but the request --------------------------------

    def _candidates_request(self, section: SectionPlan) -> CandidatesRequest:
        strategy = section.content.strategy
        assert strategy is not None
        return CandidatesRequest(
            surface=self._inputs.surface,
            strategy=strategy,
            user_id=self._request.user_id,
            location=self._request.location,
            local_time=self._request.local_now.isoformat(timespec="seconds"),
            category=self._inputs.category,
            venue_id=self._inputs.venue_id,
            cart_item_ids=list(self._inputs.cart_item_ids),
            limit=min(section.limit * OVERFETCH, MAX_CANDIDATES),
        )

    async def _retrieve(
        self, sections: Sequence[SectionPlan]
    ) -> dict[str, Fetched[CandidatesResponse] | BackendError]:
        """Every section's candidates: cached ones from the cache, the rest in one call."""
        if not sections:
            return {}
        requests = [self._candidates_request(s) for s in sections]
        started = time.perf_counter()
        results = await self._backends.retrieval.candidates_many(
            requests, self._request.deadline, reserve_s=self._request.reserve_s
        )
        for req, result in zip(requests, results, strict=True):
            _record(self._request, "retrieval", f"candidates:{req.strategy.value}", started, result)
        return {s.id: r for s, r in zip(sections, results, strict=True)}

    async def _decide(
        self, asks: Sequence[tuple[str, list[str]]]
    ) -> list[Fetched[DecideResponse] | BackendError]:
        """Every decision the page needs (decision point, arms): one bandit call at most."""
        if not asks:
            return []
        requests = [
            DecideRequest(
                decision_point=point,
                arms=arms,
                user_id=self._request.user_id,
                device_id=None if self._request.user_id else self._request.device_id,
                decision_id=f"d-{uuid.uuid4().hex}",
                context=self._request.backend_context(),
            )
            for point, arms in asks
        ]
        started = time.perf_counter()
        results = await self._backends.bandit.decide_many(
            requests, self._request.deadline, reserve_s=self._request.reserve_s
        )
        for (point, _), result in zip(asks, results, strict=True):
            _record(self._request, "bandit", f"decide:{point}", started, result)
        return results

    def _popular_key(self, section: SectionPlan) -> tuple[PopularityScope, str] | None:
        city = self._request.city
        scope = section.content.popular
        if scope is None:
            scope = (
                PopularityScope.CATEGORY
                if self._inputs.category
                else PopularityScope.VENUE
                if section.kind is EntityKind.ITEM
                else PopularityScope.CITY
            )
        if scope is PopularityScope.VENUE:
            return (scope, self._inputs.venue_id) if self._inputs.venue_id else None
        if city is None:
            return None
        if scope is PopularityScope.CATEGORY:
            return (scope, f"{city}:{self._inputs.category}") if self._inputs.category else None
        return scope, city

    async def _popular(self, section: SectionPlan) -> _Step | None:
        """The popularity list for a section: from memory, or (venue scope) one cached call.

        When that call fails, the list kept in the reference snapshot is offered as stale.
        """
        key = self._popular_key(section)
        if key is None:
            return _Step([], {})
        scope, scope_key = key
        reference = self._backends.reference
        if scope is not PopularityScope.VENUE:
            ids = reference.popular(scope, scope_key, section.kind)
            if ids is None:
                return None
            # older than the configured freshness: shown, but as STALE on a degraded page
            return _Step(ids, {}, stale=reference.popular_is_stale(scope, scope_key, section.kind))
        result = await observed(
            self._request,
            "popularity",
            "popular:venue",
            self._backends.popularity.popular(
                scope,
                scope_key,
                section.kind,
                section.limit * OVERFETCH,
                self._request.deadline,
                reserve_s=self._request.reserve_s,
            ),
        )
        if isinstance(result, BackendError):
            kept = reference.popular(scope, scope_key, section.kind)
            return None if kept is None else _Step(kept, {}, stale=True)
        return _Step(list(result.value.ids), {}, stale=result.cache is CacheResult.STALE)

    # -- the build ----------------------------------------------------------------------

    async def run(self, on_instant: Callable[[InstantPart], None] | None = None) -> BuiltPage:
        """Build the page. ``on_instant`` (progressive delivery, decision 0021) is called as
        soon as the sections that wait for no retrieval or ranking are built, with the page's
        display order, while the ranking is still in flight."""
        loop = asyncio.get_running_loop()
        # Shed (past saturation): no retrieval, ranking or bandit call; every section walks
        # its chain from what needs none — popularity lists, stale entries, defaults.
        shed = self._request.shed
        retrieval = loop.create_task(
            self._retrieve([] if shed else [s for s in self.sections if s.content.strategy])
        )
        # the page's decisions (each banner section's, then the section order) in one call
        asks: list[tuple[str, list[str]]] = []
        deciding: list[str] = []
        for s in [] if shed else self.sections:
            if s.content.decision_point and (arms := self._banner_arms()):
                asks.append((s.content.decision_point, arms))
                deciding.append(s.id)
        section_order = self._plan.section_order
        if section_order and len(self.sections) > 1 and not shed:
            asks.append((section_order.decision_point, [s.id for s in self.sections]))
        ordered = len(asks) > len(deciding)
        decisions_task = loop.create_task(self._decide(asks))
        popular_tasks = {
            s.id: loop.create_task(self._popular(s))
            for s in self.sections
            if FallbackStep.POPULAR in s.fallback
        }
        for section in self.sections:
            task = popular_tasks.get(section.id)
            if task is not None and section.content.popular is None:
                # Fallback-only lists: prefetch their entities now so the fallback is ready
                # whatever the retrieval does. City lists are in memory, so this starts at t0.
                task.add_done_callback(self._prefetch_popular(section))
        # Progressive delivery: sections with no retrieval strategy (popularity lists, bandit
        # banners) need nothing the ranking brings, so they are built while it is in flight.
        instant_task = (
            loop.create_task(
                self._instant(popular_tasks, decisions_task, deciding, ordered, on_instant)
            )
            if on_instant is not None
            else None
        )

        candidates = await retrieval

        rankings = self._rank_and_hydrate(candidates)
        popular = dict(
            zip(popular_tasks, await asyncio.gather(*popular_tasks.values()), strict=True)
        )
        for section in self.sections:
            offered = popular.get(section.id)
            if offered and section.content.popular is not None:
                self._hydrator.prefetch(section.kind, offered.ids[: section.limit * OVERFETCH])
        ranked = await rankings if rankings is not None else {}
        decisions = await decisions_task
        decided = dict(zip(deciding, decisions[: len(deciding)], strict=True))
        order = decisions[len(deciding)] if ordered else None
        instant = await instant_task if instant_task is not None else {}

        built = list(
            await asyncio.gather(
                *(
                    _ready(instant[s.id])
                    if s.id in instant
                    else self._assemble(
                        s,
                        _Gathered(
                            candidates.get(s.id),
                            ranked.get(s.kind),
                            decided.get(s.id),
                            popular.get(s.id),
                        ),
                    )
                    for s in self.sections
                )
            )
        )
        order_failed = False
        if order is not None:
            if isinstance(order, BackendError):
                order_failed = True
            else:
                built = _in_bandit_order(built, order.value)
                _note_order_decision(built, order.value, [s.id for s in self.sections])
        self._remember(built)
        emptied = dedupe_and_limit(built, dedupe_venues=self._services.plans.dedupe_venues)
        degraded = order_failed or any(b.degraded for b in built)
        trace = self._request.report
        for section_id in emptied:
            trace.sections[section_id] = "deduplicated"  # built, then hidden: see debug
        trace.surface = self._inputs.surface.value
        trace.sources = {b.plan.id: b.source.value for b in built}
        trace.degraded = degraded
        trace.deadline_exceeded = self._request.deadline.expired
        visible = [
            b for b in built if not (b.hidden or (b.plan.hide_when_empty and not b.entities))
        ]
        return BuiltPage(sections=visible, degraded=degraded)

    async def _instant(
        self,
        popular_tasks: Mapping[str, asyncio.Task[_Step | None]],
        decisions_task: asyncio.Task[list[Fetched[DecideResponse] | BackendError]],
        deciding: list[str],
        ordered: bool,
        on_instant: Callable[[InstantPart], None],
    ) -> dict[str, BuiltSection]:
        """The sections without a retrieval strategy, built from the popularity lists and
        the bandit's decisions; ``on_instant`` gets them, de-duplicated and cut among
        themselves, in the page's display order."""
        instant = [s for s in self.sections if not s.content.strategy]
        popular = dict(
            zip(popular_tasks, await asyncio.gather(*popular_tasks.values()), strict=True)
        )
        decisions = await decisions_task
        decided = dict(zip(deciding, decisions[: len(deciding)], strict=True))
        built = await asyncio.gather(
            *(
                self._assemble(s, _Gathered(None, None, decided.get(s.id), popular.get(s.id)))
                for s in instant
            )
        )
        order = decisions[len(deciding)] if ordered else None
        on_instant(self._instant_part(built, order))
        return {b.plan.id: b for b in built}

    def _instant_part(
        self,
        built: Sequence[BuiltSection],
        order: Fetched[DecideResponse] | BackendError | None,
    ) -> InstantPart:
        """Copies of the instant sections as they will be shown, and the display order."""
        shown = [replace(b, entities=list(b.entities), decision=dict(b.decision)) for b in built]
        ids = [s.id for s in self.sections]
        if order is not None and not isinstance(order, BackendError):
            by_id = {s.id: s for s in self.sections}
            ids = [a.arm for a in order.value.ranking if a.arm in by_id]
            ids += [s.id for s in self.sections if s.id not in ids]
            _note_order_decision(shown, order.value, [s.id for s in self.sections])
        position = {section_id: i for i, section_id in enumerate(ids)}
        shown.sort(key=lambda b: position[b.plan.id])
        dedupe_and_limit(shown, dedupe_venues=self._services.plans.dedupe_venues)
        visible = {
            b.plan.id: b
            for b in shown
            if not (b.hidden or (b.plan.hide_when_empty and not b.entities))
        }
        personalised = frozenset(s.id for s in self.sections if s.content.strategy)
        return InstantPart(order=ids, sections=visible, personalised=personalised)

    def _banner_arms(self) -> list[str]:
        city = self._request.city
        return [b.id for b in self._backends.reference.banners(city)] if city else []

    def _prefetch_popular(
        self, section: SectionPlan
    ) -> Callable[[asyncio.Task[_Step | None]], None]:
        def prefetch(task: asyncio.Task[_Step | None]) -> None:
            if not task.cancelled() and task.exception() is None and (offered := task.result()):
                self._hydrator.prefetch(section.kind, offered.ids[: section.limit * OVERFETCH])

        return prefetch

    def _rank_and_hydrate(
        self, candidates: Mapping[str, Fetched[CandidatesResponse] | BackendError]
    ) -> asyncio.Task[dict[EntityKind, Fetched[RankResponse] | BackendError]] | None:
        """One catalog batch per kind, and one ranking call for all kinds, over the union of
        each kind's candidates."""
        union: dict[EntityKind, dict[str, None]] = defaultdict(dict)
        to_rank: set[EntityKind] = set()
        for section in self.sections:
            result = candidates.get(section.id)
            if result is None or isinstance(result, BackendError):
                continue
            union[section.kind].update(dict.fromkeys(c.id for c in result.value.candidates))
            if FallbackStep.RANKED in section.fallback:
                to_rank.add(section.kind)
        ranking = {kind: list(ids) for kind, ids in union.items() if ids and kind in to_rank}
        # the ranking request first: it is the critical path, and hydration (a cache read
        # and venue facts for a warm catalog) then runs while it is in flight
        task = asyncio.get_running_loop().create_task(self._rank(ranking)) if ranking else None
        for kind, union_ids in union.items():
            if union_ids:
                self._hydrator.prefetch(kind, union_ids)
        return task

    async def _rank(
        self, ids: Mapping[EntityKind, list[str]]
    ) -> dict[EntityKind, Fetched[RankResponse] | BackendError]:
        """Scores for each kind's candidates, all kinds in one ranking call."""
        requests = []
        for kind, kind_ids in ids.items():
            variants = {s.ranking_variant for s in self.sections if s.kind is kind}
            variant = self._request.ranking_variant or next(iter(variants - {None}), None)
            requests.append(
                RankRequest(
                    surface=self._inputs.surface,
                    kind=kind,
                    user_id=self._request.user_id,
                    context=self._request.backend_context(),
                    candidate_ids=sorted(kind_ids),
                    variant=variant,
                )
            )
        started = time.perf_counter()
        results = await self._backends.ranking.rank_many(
            requests, self._request.deadline, reserve_s=self._request.reserve_s
        )
        for kind, result in zip(ids, results, strict=True):
            _record(self._request, "ranking", f"rank:{kind.value}", started, result)
        return dict(zip(ids, results, strict=True))

    # -- the fallback chain -----------------------------------------------------------------

    def _stale_key(self, section: SectionPlan) -> str:
        loc = self._request.location
        return StaleSections.key(
            self._inputs.surface.value,
            section.id,
            self._request.user_id or "anon",
            self._request.city,
            f"{loc.lat:.2f},{loc.lon:.2f}",
            self._inputs.context_key,
        )

    async def _step(
        self,
        section: SectionPlan,
        step: FallbackStep,
        got: _Gathered,
    ) -> _Step | None:
        """The ids a step offers, or None when the step's backend failed."""
        candidates, ranking, decision, popular = (
            got.candidates,
            got.ranking,
            got.decision,
            got.popular,
        )
        if section.content.decision_point is not None and step in (
            FallbackStep.RANKED,
            FallbackStep.CANDIDATE_ORDER,
        ):
            return self._banner_step(step, decision)
        if step in (FallbackStep.RANKED, FallbackStep.CANDIDATE_ORDER):
            if candidates is None or isinstance(candidates, BackendError):
                return None
            found = candidates.value.candidates
            reasons = {c.id: c.reason for c in found}
            ids = [c.id for c in found]
            stale = candidates.cache is CacheResult.STALE
            if step is FallbackStep.CANDIDATE_ORDER:
                return _Step(ids, reasons, stale)
            if ranking is None or isinstance(ranking, BackendError):
                return None if ids else _Step([], reasons, stale)
            scores = {s.id: s.score for s in ranking.value.scores}
            order = sorted(
                range(len(ids)), key=lambda i: (ids[i] not in scores, -scores.get(ids[i], 0.0), i)
            )
            return _Step(
                [ids[i] for i in order],
                reasons,
                stale or ranking.cache is CacheResult.STALE,
                {"model_version": ranking.value.model_version},
            )
        if step is FallbackStep.POPULAR:
            return popular
        if step is FallbackStep.STALE:
            found_stale = await self._services.stale.get(self._stale_key(section))
            return None if found_stale is None else _Step(found_stale[0], found_stale[1], True)
        return _Step(list(section.default_ids), {})

    def _banner_step(
        self, step: FallbackStep, decision: Fetched[DecideResponse] | BackendError | None
    ) -> _Step | None:
        if step is FallbackStep.RANKED:
            if decision is None or isinstance(decision, BackendError):
                return None
            value = decision.value
            city = self._request.city
            return _Step(
                [a.arm for a in value.ranking],
                {},
                stale=bool(city) and self._backends.reference.banners_are_stale(city or ""),
                meta={
                    "decision_id": value.decision_id,
                    "policy_version": value.policy_version,
                    "propensities": {a.arm: a.propensity for a in value.ranking},
                    "arms": self._banner_arms(),
                },
            )
        return _Step(self._banner_arms(), {})

    async def _assemble(
        self,
        section: SectionPlan,
        got: _Gathered,
    ) -> BuiltSection:
        """The section, in a span saying where its content came from.

        Backend calls are shared between sections, so they are the page's children, not
        a section's; the section span covers choosing and hydrating its content.
        """
        with _tracer.start_as_current_span(
            f"section {section.id}",
            attributes={"pgw.surface": self._inputs.surface.value, "pgw.section": section.id},
        ) as span:
            built = await self._walk_chain(section, got)
            if span.is_recording():
                span.set_attributes(
                    {
                        "pgw.source": built.source.value,
                        "pgw.step": self._request.report.sections.get(section.id, ""),
                        "pgw.degraded": built.degraded,
                        "pgw.items": len(built.entities),
                    }
                )
            return built

    async def _walk_chain(
        self,
        section: SectionPlan,
        got: _Gathered,
    ) -> BuiltSection:
        """Walk the section's fallback chain; the first step with content wins.

        A step that fails (its backend erred, or hydration lost everything) marks the
        section degraded; a step that succeeds with nothing to show (a new user has no
        order history) does not.
        """
        failed = False
        for step in section.fallback:
            offered = await self._step(section, step, got)
            if offered is None:
                failed = failed or step is not FallbackStep.STALE
                continue
            if step is FallbackStep.DEFAULT:
                entities = await self._materialise(section, offered)
                self._request.report.sections[section.id] = step.value
                return BuiltSection(
                    section,
                    ContentSource.DEFAULT,
                    entities,
                    failed,
                    hidden=section.hide_when_empty and not entities,
                )
            entities = await self._materialise(section, offered)
            if not entities:
                if offered.ids and self._hydrator.failed:
                    failed = True
                elif section.hide_when_empty and step in (
                    FallbackStep.RANKED,
                    FallbackStep.CANDIDATE_ORDER,
                ):
                    self._request.report.sections[section.id] = "empty"
                    return BuiltSection(section, STEP_SOURCE[step], [], failed, hidden=True)
                continue
            source = ContentSource.STALE if offered.stale else STEP_SOURCE[step]
            self._request.report.sections[section.id] = step.value
            return BuiltSection(
                section, source, entities, failed or offered.stale, decision=offered.meta
            )
        raise AssertionError("a fallback chain always ends with 'default'")  # pragma: no cover

    async def _materialise(self, section: SectionPlan, offered: _Step) -> list[Entity]:
        if not offered.ids:
            return []
        entities = await self._hydrator.get(section.kind, offered.ids)
        return materialise(section.kind, offered.ids, entities, self._audience, offered.reasons)

    def _remember(self, built: Sequence[BuiltSection]) -> None:
        entries: dict[str, tuple[list[str], dict[str, str | None]]] = {}
        for section in built:
            if section.entities and section.source not in (
                ContentSource.STALE,
                ContentSource.DEFAULT,
            ):
                shown = section.entities[: section.plan.limit * OVERFETCH]
                ids = entity_ids(shown)
                reasons = {i: getattr(e, "reason", None) for i, e in zip(ids, shown, strict=True)}
                entries[self._stale_key(section.plan)] = (ids, reasons)
        self._services.stale.remember(entries)


async def _ready(built: BuiltSection) -> BuiltSection:
    return built


def _in_bandit_order(built: Sequence[BuiltSection], decision: DecideResponse) -> list[BuiltSection]:
    by_id = {b.plan.id: b for b in built}
    ordered = [by_id.pop(a.arm) for a in decision.ranking if a.arm in by_id]
    return ordered + [b for b in built if b.plan.id in by_id]


def _note_order_decision(
    built: Sequence[BuiltSection], decision: DecideResponse, arms: list[str]
) -> None:
    """Tracking: each section carries the page-level decision that placed it."""
    propensities = {a.arm: a.propensity for a in decision.ranking}
    for section in built:
        section.decision["order"] = {
            "decision_id": decision.decision_id,
            "policy_version": decision.policy_version,
            "propensity": propensities.get(section.plan.id),
            "arms": arms,
            "propensities": propensities,
        }


def dedupe_and_limit(sections: Sequence[BuiltSection], *, dedupe_venues: bool) -> list[str]:
    """Trim each section to its limit; a venue shown earlier is not repeated later.

    A section planned with ``dedupe: false`` ("Order again": its venues are its point) keeps
    all of its venues; they still count as shown for the sections after it. A carousel
    whose every venue is already shown above is hidden rather than shown empty (a few new
    venues near the viewer can all be in "For you" too); their ids are returned.
    """
    shown: set[str] = set()
    emptied: list[str] = []
    for section in sections:
        entities = section.entities
        if dedupe_venues and section.plan.dedupe and section.plan.kind is EntityKind.VENUE:
            entities = [e for e in entities if not (isinstance(e, Venue) and e.id in shown)]
            if section.entities and not entities:
                section.hidden = True
                emptied.append(section.plan.id)
        section.entities = entities[: section.plan.limit]
        if dedupe_venues:
            shown.update(e.id for e in section.entities if isinstance(e, Venue))
    return emptied

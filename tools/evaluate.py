"""Offline evaluation: replay held-out demo orders through the running gateway.

For every held-out order (``GET {retrieval}/_demo/holdout``, orders the backends never
trained on) the gateway is asked for the Discovery page at the customer's location, once
as the customer (bearer token) and once anonymously. The venue actually ordered is the one
relevant item; each method is scored on its own section as served:

* ``for_you`` as the customer: the personalised section;
* ``popular_near_you`` on the same page: popularity alone, with the same candidate
  constraints (the city's list, filtered to venues delivering there, closed ones last);
* ``for_you`` anonymously: the non-personalised fall-back of the same section.

Metrics are hit-rate@k and NDCG@k with binary relevance (one relevant venue per order, so
IDCG is 1 and NDCG is ``1 / log2(rank + 1)`` when the venue is in the top k).

Caveats the report states:

* The gateway de-duplicates venues across carousels in display order (chosen per viewer by
  the bandit), so a section never shows a venue an earlier section already showed. A method
  may therefore miss the ordered venue only because an earlier section took it. Each method
  counts those orders ("lost to de-dup") and gets a second, upper-bound score in which such
  an order counts as a hit at rank 1. Comparing personalised as served against popularity's
  upper bound is the conservative test.
* The request time is the gateway's wall clock, not the order's ``local_time`` (the API has
  no way to set it), so opening hours (closed venues go last) reflect now, not then.

The gateway must not import ``backends``: the hold-out comes over HTTP.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from pydantic import BaseModel, TypeAdapter, ValidationError
from rich.console import Console
from rich.table import Table

from gateway.auth import mint_token

K = 10
DEFAULT_GATEWAY_URL = "http://127.0.0.1:8000"
DEFAULT_RETRIEVAL_URL = "http://127.0.0.1:8102"

# Proposed, debug-only: build the page as of this local time. Sent only when asked for.
LOCAL_TIME_HEADER = "X-Debug-Local-Time"

FOR_YOU = "for_you"
POPULAR = "popular_near_you"

DISCOVERY_QUERY = """
query Evaluate($loc: LocationInput!) {
  discovery(location: $loc) {
    degraded
    sections { id source ... on VenueCarousel { venues { id } } }
  }
}
"""


class EvaluationError(RuntimeError):
    """The evaluation cannot run (a service is unreachable, or refuses the token)."""


class _Location(BaseModel):
    lat: float
    lon: float


class HoldoutOrder(BaseModel):
    """One held-out order as the retrieval backend's demo endpoint returns it."""

    user_id: str
    city: str
    location: _Location
    local_time: str
    venue_id: str


_HOLDOUT = TypeAdapter(list[HoldoutOrder])


@dataclass(frozen=True, slots=True)
class Method:
    """One way of filling the top of the page: which section, asked by whom."""

    key: str
    label: str
    section: str
    personalised: bool
    expected_source: str


METHODS: tuple[Method, ...] = (
    Method("personalised", "For you (personalised)", FOR_YOU, True, "PERSONALISED"),
    Method("popularity", "Popular near you (popularity alone)", POPULAR, True, "POPULAR"),
    Method("anonymous", "For you (anonymous request)", FOR_YOU, False, "PERSONALISED"),
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one method did on one order."""

    rank: int | None  # 1-based position of the ordered venue in the section, if shown
    lost_to_dedupe: bool  # an earlier venue section on the page showed the ordered venue
    source: str | None  # the section's ContentSource, None when the section was missing

    def gain(self, k: int, *, credit_dedupe: bool = False) -> float:
        if self.rank is not None and self.rank <= k:
            return 1.0 / math.log2(self.rank + 1)
        return 1.0 if credit_dedupe and self.lost_to_dedupe else 0.0

    def hit(self, k: int, *, credit_dedupe: bool = False) -> bool:
        if self.rank is not None and self.rank <= k:
            return True
        return credit_dedupe and self.lost_to_dedupe


@dataclass(frozen=True, slots=True)
class MethodMetrics:
    """One method's scores over the evaluated orders."""

    key: str
    label: str
    hit_rate: float
    ndcg: float
    hit_rate_bound: float  # orders lost to de-duplication counted as hits at rank 1
    ndcg_bound: float
    lost_to_dedupe: int
    missing: int  # orders whose page had no such section (e.g. nothing delivers there)
    fallback: int  # orders where the section came from a fallback, not its primary source


@dataclass(frozen=True, slots=True)
class Lift:
    """Personalised against popularity, paired per order."""

    hit_rate_ratio: float
    hit_rate_diff: float
    hit_rate_diff_ci95: float  # half-width, normal approximation over paired differences
    ndcg_ratio: float
    ndcg_diff: float
    ndcg_diff_ci95: float
    conservative_hit_rate_ratio: float  # personalised as served / popularity's upper bound
    conservative_ndcg_ratio: float


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    k: int
    orders_requested: int
    orders_evaluated: int
    skipped: dict[str, int]
    methods: list[MethodMetrics]
    lift: Lift
    for_you_before_popular: int  # pages where the For you section came first
    degraded_pages: int
    elapsed_s: float
    notes: list[str] = field(default_factory=list)

    def method(self, key: str) -> MethodMetrics:
        return next(m for m in self.methods if m.key == key)


@dataclass(slots=True)
class _Page:
    sections: list[tuple[str, str, list[str]]]  # (id, source, venue ids) in display order
    degraded: bool

    @property
    def repeats_venues(self) -> bool:
        """True when a venue is in two sections: the gateway does not de-duplicate."""
        seen: set[str] = set()
        for _, _, venues in self.sections:
            if seen.intersection(venues):
                return True
            seen.update(venues)
        return False


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else math.inf if a > 0 else 1.0


def _mean_ci(values: Sequence[float]) -> tuple[float, float]:
    n = len(values)
    if n == 0:
        return 0.0, 0.0
    mean = sum(values) / n
    if n < 2:
        return mean, 0.0
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, 1.96 * math.sqrt(var / n)


def score(page: _Page, section_id: str, venue_id: str, *, deduped: bool = True) -> Outcome:
    """Where the ordered venue is in one section of a page, and whether de-dup hid it."""
    earlier: set[str] = set()
    if not deduped:
        found = next((v for sid, _, v in page.sections if sid == section_id), None)
        source = next((src for sid, src, _ in page.sections if sid == section_id), None)
        rank = found.index(venue_id) + 1 if found and venue_id in found else None
        return Outcome(rank=rank, lost_to_dedupe=False, source=source)
    for sid, source, venues in page.sections:
        if sid == section_id:
            rank = venues.index(venue_id) + 1 if venue_id in venues else None
            return Outcome(rank=rank, lost_to_dedupe=venue_id in earlier, source=source)
        earlier.update(venues)
    return Outcome(rank=None, lost_to_dedupe=venue_id in earlier, source=None)


def _parse_page(body: Any) -> _Page:
    if not isinstance(body, dict) or body.get("errors") or not body.get("data"):
        errors = body.get("errors") if isinstance(body, dict) else body
        raise ValueError(f"GraphQL errors: {errors}")
    discovery = body["data"]["discovery"]
    sections = [
        (str(s["id"]), str(s["source"]), [str(v["id"]) for v in s.get("venues") or []])
        for s in discovery["sections"]
    ]
    return _Page(sections=sections, degraded=bool(discovery["degraded"]))


class _Runner:
    def __init__(
        self,
        client: httpx.AsyncClient,
        graphql_url: str,
        secret: str,
        concurrency: int,
        replay_local_time: bool,
    ) -> None:
        self._replay_local_time = replay_local_time
        self._client = client
        self._graphql_url = graphql_url
        self._secret = secret
        self._limit = asyncio.Semaphore(max(concurrency, 1))

    async def page(self, order: HoldoutOrder, *, as_user: bool) -> _Page:
        headers = {}
        if self._replay_local_time:
            headers[LOCAL_TIME_HEADER] = order.local_time
        if as_user:
            headers["Authorization"] = f"Bearer {mint_token(order.user_id, self._secret)}"
        payload = {"query": DISCOVERY_QUERY, "variables": {"loc": order.location.model_dump()}}
        async with self._limit:
            for attempt in range(2):
                try:
                    response = await self._client.post(
                        self._graphql_url, json=payload, headers=headers
                    )
                    break
                except httpx.TransportError:
                    if attempt:
                        raise
        if response.status_code == 401:
            raise EvaluationError(
                "the gateway refused the bearer token (401): evaluate with the secret the "
                "gateway verifies with (PGW_JWT_SECRET)"
            )
        response.raise_for_status()
        return _parse_page(response.json())

    async def order(self, order: HoldoutOrder, anonymous: bool) -> tuple[_Page, _Page | None]:
        if not anonymous:
            return await self.page(order, as_user=True), None
        user, anon = await asyncio.gather(
            self.page(order, as_user=True), self.page(order, as_user=False)
        )
        return user, anon


async def _fetch_holdout(
    client: httpx.AsyncClient, retrieval_url: str, limit: int
) -> list[HoldoutOrder]:
    url = f"{retrieval_url.rstrip('/')}/_demo/holdout"
    try:
        response = await client.get(url, params={"limit": limit})
        response.raise_for_status()
        return _HOLDOUT.validate_python(response.json())
    except (httpx.HTTPError, ValidationError, ValueError) as exc:
        raise EvaluationError(f"cannot read the held-out orders from {url}: {exc}") from exc


async def evaluate_async(
    gateway_url: str,
    retrieval_url: str,
    secret: str,
    limit: int = 500,
    concurrency: int = 8,
    *,
    k: int = K,
    timeout_s: float = 10.0,
    replay_local_time: bool = False,
    include_anonymous: bool = True,
) -> EvaluationReport:
    """Replay up to ``limit`` held-out orders through the gateway and score each method."""
    started = time.perf_counter()
    graphql_url = f"{gateway_url.rstrip('/')}/graphql"
    limits = httpx.Limits(max_connections=max(concurrency, 1) * 2)
    async with httpx.AsyncClient(timeout=timeout_s, limits=limits) as client:
        orders: list[HoldoutOrder] = await _fetch_holdout(client, retrieval_url, limit)
        runner = _Runner(client, graphql_url, secret, concurrency, replay_local_time)
        results = await asyncio.gather(
            *(runner.order(o, include_anonymous) for o in orders), return_exceptions=True
        )

    skipped: Counter[str] = Counter()
    methods = [m for m in METHODS if include_anonymous or m.personalised]
    outcomes: dict[str, list[Outcome]] = {m.key: [] for m in methods}
    for_you_first = degraded = 0
    first_error: BaseException | None = None
    pages = [r for r in results if not isinstance(r, BaseException)]
    deduped = not any(p.repeats_venues for pair in pages for p in pair if p is not None)
    for order, result in zip(orders, results, strict=True):
        if isinstance(result, EvaluationError):
            raise result
        if isinstance(result, BaseException):
            first_error = first_error or result
            skipped[type(result).__name__] += 1
            continue
        user_page, anon_page = result
        for method in methods:
            page = user_page if method.personalised else anon_page
            assert page is not None
            outcomes[method.key].append(
                score(page, method.section, order.venue_id, deduped=deduped)
            )
        ids = [sid for sid, _, _ in user_page.sections]
        if FOR_YOU in ids and (POPULAR not in ids or ids.index(FOR_YOU) < ids.index(POPULAR)):
            for_you_first += 1
        degraded += user_page.degraded or (anon_page is not None and anon_page.degraded)

    evaluated = len(outcomes[methods[0].key])
    if orders and not evaluated:
        raise EvaluationError(f"no order could be evaluated at {graphql_url}: {first_error!r}")
    metrics = [_metrics(m, outcomes[m.key], k) for m in methods]
    lift = _lift(outcomes["personalised"], outcomes["popularity"], k)
    notes = [
        "Lists are scored as served: the gateway de-duplicates venues across carousels in "
        "display order (chosen per viewer by the bandit), so a section cannot show a venue "
        "an earlier section showed; 'lost to de-dup' counts those orders, and 'bound' scores "
        "count them as hits at rank 1 (an upper bound)."
        if deduped
        else "The gateway repeats venues across sections (de-duplication is off), so every "
        "section is scored on its full list; the 'bound' columns equal the plain ones.",
    ]
    if replay_local_time:
        notes.append(
            f"Each page was asked for as of the order's local time ({LOCAL_TIME_HEADER}); "
            "a gateway that ignores that header builds it at its current time instead."
        )
    else:
        notes.append(
            "Pages are built at the gateway's current time, not the order's local time (the "
            "API cannot set it): time-aware ranking and the closed-last order see now, not "
            "the moment of the order, which penalises the personalised ranking most."
        )
    if degraded:
        notes.append(f"{degraded} order(s) had a degraded page (a backend fell back).")
    fell_back = max((m.fallback for m in metrics), default=0)
    if fell_back > 0.05 * max(evaluated, 1):
        notes.append(
            f"Up to {fell_back} section(s) per method came from a fallback, not their own "
            "source: the backends could not keep up; evaluate with a lower concurrency."
        )
    return EvaluationReport(
        k=k,
        orders_requested=limit,
        orders_evaluated=evaluated,
        skipped=dict(skipped),
        methods=metrics,
        lift=lift,
        for_you_before_popular=for_you_first,
        degraded_pages=degraded,
        elapsed_s=round(time.perf_counter() - started, 2),
        notes=notes,
    )


def _metrics(method: Method, outcomes: Sequence[Outcome], k: int) -> MethodMetrics:
    n = max(len(outcomes), 1)
    return MethodMetrics(
        key=method.key,
        label=method.label,
        hit_rate=sum(o.hit(k) for o in outcomes) / n,
        ndcg=sum(o.gain(k) for o in outcomes) / n,
        hit_rate_bound=sum(o.hit(k, credit_dedupe=True) for o in outcomes) / n,
        ndcg_bound=sum(o.gain(k, credit_dedupe=True) for o in outcomes) / n,
        lost_to_dedupe=sum(o.lost_to_dedupe for o in outcomes),
        missing=sum(o.source is None for o in outcomes),
        fallback=sum(o.source not in (None, method.expected_source) for o in outcomes),
    )


def _lift(mine: Sequence[Outcome], base: Sequence[Outcome], k: int) -> Lift:
    pairs = list(zip(mine, base, strict=True))
    hit_diff, hit_ci = _mean_ci([float(a.hit(k)) - b.hit(k) for a, b in pairs])
    ndcg_diff, ndcg_ci = _mean_ci([a.gain(k) - b.gain(k) for a, b in pairs])
    n = max(len(mine), 1)
    hit_mine = sum(o.hit(k) for o in mine) / n
    hit_base = sum(o.hit(k) for o in base) / n
    ndcg_mine = sum(o.gain(k) for o in mine) / n
    ndcg_base = sum(o.gain(k) for o in base) / n
    return Lift(
        hit_rate_ratio=_ratio(hit_mine, hit_base),
        hit_rate_diff=hit_diff,
        hit_rate_diff_ci95=hit_ci,
        ndcg_ratio=_ratio(ndcg_mine, ndcg_base),
        ndcg_diff=ndcg_diff,
        ndcg_diff_ci95=ndcg_ci,
        conservative_hit_rate_ratio=_ratio(
            hit_mine, sum(o.hit(k, credit_dedupe=True) for o in base) / n
        ),
        conservative_ndcg_ratio=_ratio(
            ndcg_mine, sum(o.gain(k, credit_dedupe=True) for o in base) / n
        ),
    )


def evaluate(
    gateway_url: str,
    retrieval_url: str,
    secret: str,
    limit: int = 500,
    concurrency: int = 8,
    *,
    replay_local_time: bool = False,
    include_anonymous: bool = True,
) -> EvaluationReport:
    """Synchronous entry point (runs its own event loop)."""
    return asyncio.run(
        evaluate_async(
            gateway_url,
            retrieval_url,
            secret,
            limit,
            concurrency,
            replay_local_time=replay_local_time,
            include_anonymous=include_anonymous,
        )
    )


def render(report: EvaluationReport) -> Table:
    """The report as a rich table, caveats in the caption."""
    k = report.k
    skipped = sum(report.skipped.values())
    table = Table(
        title=(
            f"Held-out orders: {report.orders_evaluated} evaluated, {skipped} skipped "
            f"({report.elapsed_s:.1f} s)"
        ),
        title_justify="left",
    )
    table.add_column("Method")
    table.add_column(f"Hit@{k}", justify="right")
    table.add_column(f"NDCG@{k}", justify="right")
    table.add_column("Lost to de-dup", justify="right")
    table.add_column(f"Hit@{k} bound", justify="right")
    table.add_column(f"NDCG@{k} bound", justify="right")
    table.add_column("Fallback / missing", justify="right")
    for m in report.methods:
        table.add_row(
            m.label,
            f"{m.hit_rate:.3f}",
            f"{m.ndcg:.3f}",
            str(m.lost_to_dedupe),
            f"{m.hit_rate_bound:.3f}",
            f"{m.ndcg_bound:.3f}",
            f"{m.fallback} / {m.missing}",
        )
    lift = report.lift
    lines = [
        f"Personalised vs popularity: Hit@{k} x{lift.hit_rate_ratio:.2f} "
        f"({lift.hit_rate_diff:+.3f} ± {lift.hit_rate_diff_ci95:.3f}), "
        f"NDCG@{k} x{lift.ndcg_ratio:.2f} ({lift.ndcg_diff:+.3f} ± {lift.ndcg_diff_ci95:.3f}); "
        f"against popularity's bound: x{lift.conservative_hit_rate_ratio:.2f} / "
        f"x{lift.conservative_ndcg_ratio:.2f}.",
        f"For you was above Popular near you on {report.for_you_before_popular} of "
        f"{report.orders_evaluated} personalised pages.",
    ]
    if report.skipped:
        lines.append(
            "Skipped: " + ", ".join(f"{n} {why}" for why, n in sorted(report.skipped.items()))
        )
    table.caption = "\n".join([*lines, *report.notes])
    table.caption_justify = "left"
    return table


def main(
    gateway_url: str = DEFAULT_GATEWAY_URL,
    retrieval_url: str | None = None,
    secret: str | None = None,
    limit: int = 500,
    concurrency: int = 8,
    console: Console | None = None,
    *,
    replay_local_time: bool = False,
    out_path: Path | None = None,
) -> int:
    """What ``python -m gateway evaluate`` runs: print the table; the exit status.

    The retrieval URL defaults to ``PGW_RETRIEVAL__BASE_URL`` (else the demo port), the
    secret to ``PGW_JWT_SECRET`` (else the demo key). Exits 1 when the evaluation cannot run.
    With ``out_path`` the report is also written there as JSON (``docs/results/``: the
    README quotes it and a test holds the two together).
    """
    out = console or Console()
    retrieval = retrieval_url or os.environ.get("PGW_RETRIEVAL__BASE_URL") or DEFAULT_RETRIEVAL_URL
    if secret is None:
        from gateway.demo_secret import demo_secret

        secret = os.environ.get("PGW_JWT_SECRET") or demo_secret()
    try:
        report = evaluate(
            gateway_url,
            retrieval,
            secret,
            limit=limit,
            concurrency=concurrency,
            replay_local_time=replay_local_time,
        )
    except EvaluationError as exc:
        Console(stderr=True).print(f"[red]evaluation failed:[/red] {exc}", highlight=False)
        return 1
    out.print(render(report))
    if out_path is not None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        data = {"command": f"python -m gateway evaluate --limit {limit}", **asdict(report)}
        out_path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        out.print(f"wrote {out_path}")
    return 0


# -- the CLI: python -m gateway evaluate -------------------------------------------------------

evaluate_app = typer.Typer(add_completion=False)


@evaluate_app.command()
def evaluate_command(
    gateway_url: Annotated[str, typer.Option(help="The running gateway.")] = (
        "http://127.0.0.1:8000"
    ),
    retrieval_url: Annotated[
        str,
        typer.Option(
            envvar="PGW_RETRIEVAL__BASE_URL", help="Retrieval backend (serves the hold-out)."
        ),
    ] = "http://127.0.0.1:8102",
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Held-out orders.")] = 500,
    concurrency: Annotated[
        int, typer.Option(min=1, help="Pages in flight; the demo backends keep up with ~2.")
    ] = 2,
    replay_local_time: Annotated[
        bool,
        typer.Option(help="Build each page as of the order's time (X-Debug-Local-Time)."),
    ] = True,
    out: Annotated[
        Path | None,
        typer.Option(help="Also write the report as JSON (e.g. docs/results/evaluation.json)."),
    ] = None,
) -> None:
    """Replay held-out demo orders: hit-rate@10 and NDCG@10 of For you vs popularity."""
    raise typer.Exit(
        code=main(
            gateway_url,
            retrieval_url,
            limit=limit,
            concurrency=concurrency,
            replay_local_time=replay_local_time,
            out_path=out,
        )
    )

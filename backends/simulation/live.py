"""The population against the real gateway and bandit, over HTTP, through ``recordEvents``.

Each step asks the gateway for the viewer's Discovery page (as that user, with the
segment as ``X-Client-Platform``), takes the top banner of the bandit-decided banner
carousel, and reports what the viewer did with ``recordEvents``: an IMPRESSION of it, and a
CLICK when the population clicks. Rewards go through the gateway's durable outbox and its
delivery worker to the bandit; nothing is sent to the bandit directly. ``concurrency``
pages are in flight at once, so decisions are made while earlier rewards are still on
their way, as in production.

The run also watches the loop itself: at every sample it reads how many trials and
successes the bandit has counted (``/v1/stats``) against the impressions and clicks the
gateway accepted, which is the delivery lag; after the run it waits for the outbox to
drain and checks that every accepted impression and click was counted exactly once.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import httpx

from backends.simulation.population import Population, Scenario, Trace

POINT = "discovery.banners"
TALLINN = {"lat": 59.4370, "lon": 24.7536}
PAGE = (
    "query($loc: LocationInput!) { discovery(location: $loc) { sections { id trackingId "
    "source ... on BannerCarousel { banners { id } } } } }"
)
EVENTS = (
    "mutation($events: [EventInput!]!) { recordEvents(events: $events) "
    "{ accepted rejected results { reason } } }"
)


@dataclass(slots=True)
class LiveRun:
    trace: Trace
    decided: int = 0
    fallbacks: int = 0
    rejected: int = 0
    errors: int = 0
    sent_trials: int = 0
    sent_successes: int = 0
    counted_trials: float = 0.0
    counted_successes: float = 0.0
    lag: list[int] = field(default_factory=list)
    drain_s: float = 0.0
    seconds: float = 0.0


async def counted(client: httpx.AsyncClient, bandit_url: str) -> tuple[float, float]:
    """(trials, successes) the bandit has counted for Tallinn's banner decisions."""
    stats = (
        await client.get(
            f"{bandit_url}/v1/stats", params={"decision_point": POINT, "city": "tallinn"}
        )
    ).json()
    arms = stats["arms"].values()
    return (
        float(sum(a["city"]["trials"] for a in arms)),
        float(sum(a["city"]["successes"] for a in arms)),
    )


async def run_live(
    gateway_url: str,
    bandit_url: str,
    tokens: dict[str, str] | None,
    mint: object,
    scenario: Scenario,
    impressions: int,
    seed: int,
    *,
    concurrency: int = 4,
    every: int = 500,
    prefix: str = "sim",
    drain_timeout_s: float = 300.0,
    budget_s: float | None = None,
) -> LiveRun:
    """Run ``impressions`` steps — fewer if ``budget_s`` of wall-clock time runs out first
    (the run is bounded; the result says how many it served); ``mint(user)`` gives a bearer
    token for a user."""
    assert callable(mint)
    steps = Population(seed, prefix=prefix).steps(impressions)
    run = LiveRun(Trace(scenario))
    results: list[tuple[str, bool, str, bool] | None] = [None] * impressions
    started = time.monotonic()
    limits = httpx.Limits(max_connections=concurrency * 2)
    async with httpx.AsyncClient(timeout=30.0, limits=limits) as client:
        base_trials, base_successes = await counted(client, bandit_url)
        cursor = 0
        lock = asyncio.Lock()

        async def worker() -> None:
            nonlocal cursor
            while True:
                async with lock:
                    if cursor >= impressions or (
                        budget_s is not None and time.monotonic() - started > budget_s
                    ):
                        return
                    n = cursor
                    cursor += 1
                user, segment, new, u = steps[n]
                results[n] = await _step(
                    client, gateway_url, run, mint(user), segment, new, u, scenario
                )

        done_before = 0
        workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
        while not all(w.done() for w in workers):
            await asyncio.sleep(0.5)
            finished = sum(1 for r in results if r is not None)
            if finished // every > done_before // every:
                trials, _ = await counted(client, bandit_url)
                run.lag.append(int(run.sent_trials - (trials - base_trials)))
                done_before = finished
        for w in workers:
            w.result()
        run.seconds = time.monotonic() - started
        drain_started = time.monotonic()
        while True:
            trials, successes = await counted(client, bandit_url)
            run.counted_trials = trials - base_trials
            run.counted_successes = successes - base_successes
            if (
                run.counted_trials >= run.sent_trials
                and run.counted_successes >= run.sent_successes
            ) or time.monotonic() - drain_started > drain_timeout_s:
                break
            await asyncio.sleep(0.25)
        # anything counted twice would show up a moment after the drain
        await asyncio.sleep(1.0)
        trials, successes = await counted(client, bandit_url)
        run.counted_trials = trials - base_trials
        run.counted_successes = successes - base_successes
        run.drain_s = time.monotonic() - drain_started
    for result in results:
        if result is not None:
            run.trace.add(*result)
    return run


async def _step(
    client: httpx.AsyncClient,
    gateway_url: str,
    run: LiveRun,
    token: object,
    segment: str,
    new: bool,
    u: float,
    scenario: Scenario,
) -> tuple[str, bool, str, bool] | None:
    headers = {"Authorization": f"Bearer {token}", "X-Client-Platform": segment}
    try:
        page = await client.post(
            f"{gateway_url}/graphql",
            json={"query": PAGE, "variables": {"loc": TALLINN}},
            headers=headers,
        )
        sections = page.json()["data"]["discovery"]["sections"]
    except (httpx.HTTPError, KeyError, TypeError, ValueError):
        run.errors += 1
        return None
    banners = next((s for s in sections if s["id"] == "banners"), None)
    if banners is None or not banners.get("banners"):
        run.errors += 1
        return None
    arm = banners["banners"][0]["id"]
    decided = banners["source"] == "PERSONALISED"
    click = u < scenario.rates[segment][arm]
    events = [
        {"kind": "IMPRESSION", "trackingId": banners["trackingId"], "entityId": arm, "position": 0}
    ]
    if click:
        events.append({**events[0], "kind": "CLICK"})
    try:
        answer = await client.post(
            f"{gateway_url}/graphql",
            json={"query": EVENTS, "variables": {"events": events}},
            headers=headers,
        )
        recorded = answer.json()["data"]["recordEvents"]
    except (httpx.HTTPError, KeyError, TypeError, ValueError):
        run.errors += 1
        return None
    run.rejected += int(recorded["rejected"])
    if recorded["accepted"] != len(events):
        return None
    if decided:
        run.decided += 1
        run.sent_trials += 1
        run.sent_successes += int(click)
    else:
        run.fallbacks += 1
    return segment, new, arm, click

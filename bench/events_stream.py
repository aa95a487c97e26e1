"""Durable events under a crash: ``kill -9`` of a loaded gateway, then a restart (ADR 0017).

A gateway writing to a private durable Redis (append-only, ``noeviction``) serves pages
and accepts click events from a few client threads; mid-load it is killed with SIGKILL and
started again on the same Redis. Then, from the streams themselves:

- every decision of every page that was answered is in the decision stream exactly once,
  and every event a ``recordEvents`` answer accepted is there exactly once (per decision it
  joins);
- the delivery worker of the new process resumes: the reward outbox drains to zero, taking
  over what the dead process had claimed, and the dead consumer leaves the group.

Figures (``python -m bench.events_stream``, writes ``docs/results/events-stream.json``):
restart time (SIGKILL to ``/readyz`` 200), decision lines and events per second through the
stream during the run, and the outbox's lag after the load stops (time to drain);
``--throughput N`` writes ``docs/results/events-stream-throughput.json``.
``tests/feedback/test_durable_stream.py`` runs a short version and asserts the counts.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import redis

from clients.contracts.ports import BACKEND_NAMES
from tests.live import ROOT, SECRET, LiveStack, free_port, wait_healthy
from tests.redis_server import redis_server

DISCOVERY = (
    "query($loc: LocationInput!) { discovery(location: $loc) { requestId sections { id "
    "trackingId ... on BannerCarousel { banners { id } } } } }"
)
RECORD = (
    "mutation($events: [EventInput!]!) { recordEvents(events: $events) { accepted "
    "results { accepted eventId } } }"
)
HELSINKI = {"lat": 60.1699, "lon": 24.9384}


@dataclass
class Served:
    """What the clients were answered: pages (request id → sections) and accepted events."""

    pages: dict[str, list[str]] = field(default_factory=dict)
    events: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Result:
    pages_served: int
    events_accepted: int
    decision_lines: int
    feedback_lines: int
    missing_decisions: int
    duplicate_decisions: int
    missing_events: int
    duplicate_feedback: int
    restart_s: float
    load_s: float
    decision_lines_per_s: float
    events_per_s: float
    drain_s: float
    outbox_pending_after: int
    consumers_after: list[str]
    stream_lines: int
    exported_lines: int
    second_exit_status: int


class Gateway:
    """One ``python -m gateway serve`` process on the durable Redis."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--port", str(self.port)],
            env=env,
            cwd=ROOT,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )

    def ready(self, timeout_s: float) -> None:
        wait_healthy(f"{self.url}/readyz", timeout_s, self.proc)


def _client_loop(live: LiveStack, urls: list[str], served: Served, stop: threading.Event) -> None:
    rng = random.Random(threading.get_ident())
    with httpx.Client(timeout=10) as client:
        while not stop.is_set():
            user = f"u{rng.randint(1, 5000):04d}"
            headers = {"Authorization": f"Bearer {live.token(user)}"}
            url = urls[-1]
            try:
                page = client.post(
                    f"{url}/graphql",
                    json={"query": DISCOVERY, "variables": {"loc": HELSINKI}},
                    headers=headers,
                )
                if page.status_code != 200 or "errors" in page.json():
                    continue
                body = page.json()["data"]["discovery"]
                with served.lock:
                    served.pages[body["requestId"]] = [s["id"] for s in body["sections"]]
                events = [
                    {"kind": "CLICK", "trackingId": s["trackingId"], "entityId": b["id"]}
                    for s in body["sections"]
                    for b in (s.get("banners") or [])[:1]
                ]
                if not events:
                    continue
                answer = client.post(
                    f"{url}/graphql", json={"query": RECORD, "variables": {"events": events}},
                    headers=headers,
                )  # fmt: skip
                if answer.status_code == 200 and "errors" not in answer.json():
                    results = answer.json()["data"]["recordEvents"]["results"]
                    with served.lock:
                        served.events |= {r["eventId"] for r in results if r["accepted"]}
            except (httpx.HTTPError, ValueError):
                time.sleep(0.05)  # the gateway is down: not served, not counted


def _records(client: redis.Redis, stream: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    start = "-"
    while True:
        batch = client.xrange(stream, min=start, max="+", count=1000)
        if not batch:
            return out
        out += [orjson.loads(fields[b"d"]) for _, fields in batch]
        start = "(" + batch[-1][0].decode()


def _pending(client: redis.Redis, stream: str) -> int:
    for group in client.xinfo_groups(stream):
        return int(group.get("pending", 0)) + int(group.get("lag") or 0)
    return 0


def run(
    live: LiveStack,
    work: Path,
    *,
    clients: int = 4,
    before_kill_s: float = 5.0,
    after_restart_s: float = 5.0,
    lease_s: float = 1.0,
    ready_timeout_s: float = 240.0,
) -> Result:
    """The scenario against ``live``'s backends; ``work`` holds Redis's files and logs."""
    namespace = f"pgw-kill9-{uuid.uuid4().hex[:8]}"
    with redis_server(work / "events-redis", durable=True) as port:
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "PGW_ENVIRONMENT": "test",
            "PGW_JWT_SECRET": SECRET,
            "PGW_RATE_LIMIT_ENABLED": "false",
            "PGW_EVENTS_RATE_PER_S": "1000",
            "PGW_PAGE_CACHE_TTL_S": "0",
            "PGW_EVENTS_REDIS_URL": f"redis://127.0.0.1:{port}/0",
            "PGW_CACHE_NAMESPACE": namespace,
            "PGW_REWARDS_LEASE_S": str(lease_s),
            "PGW_REWARDS_POLL_S": "0.2",
            "PGW_REWARDS_BACKOFF_MAX_S": "1",
            "PGW_DECISION_LOG_PATH": str(work / "unused-decisions.jsonl"),
            "PGW_EVENTS_OUTBOX_PATH": str(work / "unused-outbox.sqlite3"),
            **{f"PGW_{n.upper()}__BASE_URL": u for n, u in live.backend_urls.items()},
        }
        env.pop("PGW_REDIS_URL", None)
        client = redis.Redis(host="127.0.0.1", port=port)
        decisions, rewards = f"{namespace}:decisions", f"{namespace}:rewards"
        served = Served()
        stop = threading.Event()
        first = Gateway(env, work / "gateway-1.log")
        first.ready(ready_timeout_s)
        urls = [first.url]
        threads = [
            threading.Thread(target=_client_loop, args=(live, urls, served, stop), daemon=True)
            for _ in range(clients)
        ]
        load_started = time.monotonic()
        for t in threads:
            t.start()
        time.sleep(before_kill_s)
        killed_at = time.monotonic()
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait()
        second = Gateway(env, work / "gateway-2.log")
        try:
            second.ready(ready_timeout_s)
            restart_s = time.monotonic() - killed_at
            urls.append(second.url)
            time.sleep(after_restart_s)
            stop.set()
            for t in threads:
                t.join(timeout=30)
            load_s = time.monotonic() - load_started - restart_s
            stopped = time.monotonic()
            deadline = stopped + max(30.0, 20 * lease_s)
            while _pending(client, rewards) and time.monotonic() < deadline:
                time.sleep(0.1)
            drain_s = time.monotonic() - stopped
            pending_after = _pending(client, rewards)
            # the dead consumer leaves the group once idle past twice the lease
            deadline = time.monotonic() + 10 * lease_s + 10
            while time.monotonic() < deadline:
                consumers = [
                    c["name"].decode() for c in client.xinfo_consumers(rewards, "pgw-rewards")
                ]
                if len(consumers) <= 1:
                    break
                time.sleep(0.2)
            exported = work / "exported.jsonl"
            subprocess.run(
                [sys.executable, "-m", "gateway", "decisions", "export", "--out", str(exported)],
                env=env, cwd=ROOT, check=True, capture_output=True, timeout=120,
            )  # fmt: skip
        finally:
            second.proc.send_signal(signal.SIGTERM)
            second_status = second.proc.wait(timeout=60)
        records = _records(client, decisions)
        client.close()
    made = Counter((r["request_id"], r["section"]) for r in records if r["type"] == "decision")
    joined = Counter((r["event_id"], r["decision_id"]) for r in records if r["type"] == "feedback")
    logged_events = {event for event, _ in joined}
    wanted = {(rid, section) for rid, sections in served.pages.items() for section in sections}
    decision_lines = sum(1 for r in records if r["type"] == "decision")
    feedback_lines = sum(joined.values())
    return Result(
        pages_served=len(served.pages),
        events_accepted=len(served.events),
        decision_lines=decision_lines,
        feedback_lines=feedback_lines,
        missing_decisions=sum(1 for key in wanted if made[key] == 0),
        duplicate_decisions=sum(1 for n in made.values() if n > 1),
        missing_events=len(served.events - logged_events),
        duplicate_feedback=sum(1 for n in joined.values() if n > 1),
        restart_s=round(restart_s, 2),
        load_s=round(load_s, 2),
        decision_lines_per_s=round(decision_lines / load_s, 1),
        events_per_s=round(feedback_lines / load_s, 1),
        drain_s=round(drain_s, 2),
        outbox_pending_after=pending_after,
        consumers_after=consumers,
        stream_lines=len(records),
        exported_lines=sum(1 for _ in exported.open("rb")),
        second_exit_status=second_status,
    )


@contextlib.contextmanager
def _backends(work: Path, timeout_s: float = 600) -> Iterator[LiveStack]:
    """The five reference backends only (this scenario runs its own gateways)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    urls: dict[str, str] = {}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for name in BACKEND_NAMES:
            port = free_port()
            urls[name] = f"http://127.0.0.1:{port}"
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "backends", "serve", name, "--port", str(port)],
                    env=env,
                    cwd=ROOT,
                    stdout=(work / f"{name}.log").open("wb"),
                    stderr=subprocess.STDOUT,
                )
            )
        for proc, url in zip(procs, urls.values(), strict=True):
            wait_healthy(f"{url}/healthz", timeout_s, proc)
        yield LiveStack(gateway_url="", backend_urls=urls, procs=procs)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


async def _throughput(port: int, lines: int) -> dict[str, float]:
    """Decision lines through ``RedisDecisionStream`` alone, as fast as it takes them: the
    stream's own ceiling, apart from page building (what a loaded machine's pages measure)."""

    from resolvers.events.decision_stream import RedisDecisionStream, durable_writes, settle

    stream = RedisDecisionStream(f"redis://127.0.0.1:{port}/0", "bench:decisions")
    await stream.start()
    line = {"type": "decision", "decision_id": "x" * 32, "arms": ["a", "b", "c"], "p": 0.5}
    latencies: list[float] = []
    started = time.perf_counter()
    for batch in range(lines // 10):  # pages of ten lines, each waited for as a response is
        with durable_writes() as waiting:
            for _ in range(10):
                stream.record({**line, "n": batch})
            t = time.perf_counter()
            await settle(waiting, 5.0)
            latencies.append(time.perf_counter() - t)
    elapsed = time.perf_counter() - started
    await stream.aclose()
    latencies.sort()
    return {
        "lines": lines,
        "lines_per_s": round(lines / elapsed),
        "page_wait_p50_ms": round(latencies[len(latencies) // 2] * 1000, 3),
        "page_wait_p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 3),
        "dropped": stream.dropped,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.events_stream", description=__doc__)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--before-kill-s", type=float, default=20.0)
    parser.add_argument("--after-restart-s", type=float, default=20.0)
    parser.add_argument(
        "--throughput", type=int, default=0, help="only: N lines through the stream writer"
    )
    args = parser.parse_args(argv)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    work = ROOT / ".cache" / "bench" / f"events-stream-{stamp}"
    work.mkdir(parents=True, exist_ok=True)
    if args.throughput:
        import asyncio

        with redis_server(work / "events-redis", durable=True) as port:
            figures = asyncio.run(_throughput(port, args.throughput))
        out = ROOT / "docs" / "results" / "events-stream-throughput.json"
        record = {
            "command": "python -m bench.events_stream " + " ".join(argv or sys.argv[1:]),
            "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
            "cores": os.cpu_count(),
            **figures,
        }
        out.write_text(json.dumps(record, indent=2) + "\n")
        print(json.dumps(record, indent=2))
        print(f"written: {out.relative_to(ROOT)}")
        return 0
    with _backends(work) as live:
        result = run(
            live,
            work,
            clients=args.clients,
            before_kill_s=args.before_kill_s,
            after_restart_s=args.after_restart_s,
        )
    out = ROOT / "docs" / "results" / "events-stream.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    record = {
        "command": "python -m bench.events_stream " + " ".join(argv or sys.argv[1:]),
        "loadavg_at_end": [round(x, 2) for x in load],
        "cores": os.cpu_count(),
        **asdict(result),
    }
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))
    print(f"written: {out.relative_to(ROOT)}")
    ok = (
        result.missing_decisions == result.duplicate_decisions == 0
        and result.missing_events == result.duplicate_feedback == 0
        and result.outbox_pending_after == 0
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

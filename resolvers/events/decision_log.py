"""The decision log: one JSON line per decision, ready for off-policy evaluation.

Each page's sections are decisions; a bandit decision (banners, the section order) carries
what logged-bandit estimators need (Vowpal Wabbit's ``action:cost:probability`` and the Open
Bandit Pipeline's ``context / action / position / pscore / reward``): the context, the arms
offered in offered order, the order shown, the logging policy's propensity per arm and its
version. Accepted events add ``feedback`` lines that join on ``decision_id`` and ``arm``.

Lines are written off the request path: :meth:`DecisionLog.record` only enqueues (never
blocks, never raises); a writer task appends batches from a thread, lingering 20 ms after
a batch's first line so that one write carries many pages. When the queue is full the record
is dropped and counted (``dropped``), never waited for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger("pgw.decisions")

#: A target policy: (context, arms offered) -> probability of putting each arm first.
TargetPolicy = Callable[[Mapping[str, Any], Sequence[str]], Mapping[str, float]]


class DecisionLog:
    """A bounded, buffered JSON-lines writer (append-only; one file per deployment)."""

    def __init__(
        self, path: Path | None, *, max_queue: int = 10_000, linger_s: float = 0.02
    ) -> None:
        self.path = path
        # after the first line of a batch, wait this long for more: one thread hand-off and
        # one write per batch instead of one per page (a page logs a line per section)
        self.linger_s = linger_s
        self.dropped = 0
        self.written = 0
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=max_queue)
        self._task: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return self.path is not None

    def record(self, entry: Mapping[str, Any]) -> None:
        """Enqueue one line; drops (and counts) it when the writer is behind."""
        if self.path is None:
            return
        try:
            self._queue.put_nowait(orjson.dumps(entry) + b"\n")
        except asyncio.QueueFull:
            self.dropped += 1

    async def start(self) -> None:
        if self.path is None or self._task is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._task = asyncio.get_running_loop().create_task(self._writer(), name="decision-log")

    async def flush(self) -> None:
        """Wait until everything recorded so far is on disk."""
        if self._task is not None:
            await self._queue.join()

    async def aclose(self) -> None:
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _writer(self) -> None:
        assert self.path is not None
        path = self.path
        while True:
            lines = [await self._queue.get()]
            if self.linger_s > 0:
                await asyncio.sleep(self.linger_s)
            while not self._queue.empty() and len(lines) < 1000:
                lines.append(self._queue.get_nowait())
            try:
                await asyncio.to_thread(_append, path, b"".join(lines))
                self.written += len(lines)
            except OSError:
                self.dropped += len(lines)
                log.exception("decision log write failed; %d lines dropped", len(lines))
            finally:
                for _ in lines:
                    self._queue.task_done()


def _append(path: Path, data: bytes) -> None:
    with path.open("ab") as handle:
        handle.write(data)


def read_log(path: Path) -> Iterator[dict[str, Any]]:
    """Every record of a decision log (a torn last line, from a crash, is skipped)."""
    with path.open("rb") as handle:
        for line in handle:
            with contextlib.suppress(orjson.JSONDecodeError):
                record = orjson.loads(line)
                if isinstance(record, dict):
                    yield record


@dataclass(frozen=True, slots=True)
class IpsEstimate:
    """Off-policy estimates of a target policy's click-through rate at one position.

    ``value``/``stderr``: inverse-propensity scoring (IPS), unbiased when the logged
    propensities are right; ``snips``/``snips_stderr``: self-normalised IPS (divides by the
    sum of the weights instead of the count: a little bias, much less variance when the
    weights are large). Each term is one impression — one served decision whose arm at
    ``position`` was seen — so terms are independent and the standard errors hold.
    """

    value: float
    stderr: float
    decisions: int
    snips: float = math.nan
    snips_stderr: float = math.nan

    def interval(self, z: float = 1.959963984540054) -> tuple[float, float]:
        """The normal 95 % interval of the IPS estimate."""
        return self.value - z * self.stderr, self.value + z * self.stderr


def ips_estimate(
    path: Path,
    target_policy: TargetPolicy,
    *,
    decision_point: str | None = None,
    position: int = 0,
    reward_kinds: Sequence[str] = ("CLICK",),
    per_impression: bool = True,
) -> IpsEstimate:
    """IPS and SNIPS: over logged impressions, ``w · r`` with ``w = π_target(a|x) /
    π_logged(a|x)``.

    ``a`` is the arm the logging policy showed at ``position``, ``π_logged`` its logged
    propensity there, and ``r`` 1 when a feedback line of ``reward_kinds`` names that arm
    of that decision, else 0. With ``per_impression`` (the default) only decisions whose
    arm was seen count — an IMPRESSION or a reward line for it —, each once: decision ids
    are unique per page served, so one click is credited to one impression. Decisions
    without propensities (not bandit-decided) are skipped: they cannot be re-weighted.
    """
    decisions: list[dict[str, Any]] = []
    rewarded: set[tuple[str, str]] = set()
    seen: set[tuple[str, str]] = set()
    kinds = set(reward_kinds)
    for record in read_log(path):
        kind = record.get("type")
        if kind == "decision" and record.get("propensities"):
            if decision_point is None or record.get("decision_point") == decision_point:
                decisions.append(record)
        elif kind == "feedback":
            pair = (str(record["decision_id"]), str(record["arm"]))
            if record.get("kind") in kinds:
                rewarded.add(pair)
                seen.add(pair)
            elif record.get("kind") == "IMPRESSION":
                seen.add(pair)
    weights: list[float] = []
    rewards: list[float] = []
    done: set[str] = set()
    for record in decisions:
        shown = record["shown"]
        decision_id = str(record["decision_id"])
        if len(shown) <= position or decision_id in done:
            continue
        arm = shown[position]
        if per_impression and (decision_id, arm) not in seen:
            continue
        done.add(decision_id)
        logged = float(record["propensities"][arm])
        weights.append(
            float(target_policy(record["context"], record["arms"]).get(arm, 0.0)) / logged
        )
        rewards.append(1.0 if (decision_id, arm) in rewarded else 0.0)
    return _estimates(weights, rewards)


def _estimates(weights: Sequence[float], rewards: Sequence[float]) -> IpsEstimate:
    n = len(weights)
    if n == 0:
        return IpsEstimate(value=math.nan, stderr=math.nan, decisions=0)
    terms = [w * r for w, r in zip(weights, rewards, strict=True)]
    mean = sum(terms) / n
    variance = sum((t - mean) ** 2 for t in terms) / max(n - 1, 1)
    total = sum(weights)
    if total > 0:
        snips = sum(terms) / total
        spread = sum((w * (r - snips)) ** 2 for w, r in zip(weights, rewards, strict=True))
        snips_stderr = math.sqrt(spread) / total
    else:
        snips, snips_stderr = math.nan, math.nan
    return IpsEstimate(
        value=mean,
        stderr=math.sqrt(variance / n),
        decisions=n,
        snips=snips,
        snips_stderr=snips_stderr,
    )


__all__ = ["DecisionLog", "IpsEstimate", "TargetPolicy", "ips_estimate", "read_log"]

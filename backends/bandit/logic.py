"""Thompson sampling over Beta posteriors with hierarchical priors (user → city → global).

Why hierarchical: most (user, arm) pairs have no feedback at all; a user's posterior is
therefore centred on the city's, and the city's on the global one, each prior capped at a
modest strength so real local evidence quickly dominates. Rewards update all three levels.

Propensities: the probability that the sampling policy puts the chosen arm at the position
it got, estimated by Monte Carlo re-runs of the same policy (the actual draw included, so
the estimate is never 0). Off-policy evaluation re-weights logged rewards by them.

State is in memory (a reference backend); decisions are kept in a bounded LRU.

Cost per decision: the Monte Carlo re-runs (``mc_samples`` Beta draws per arm from the
process-wide generator) are the model and stay as they are, draw for draw; around them the
posterior is plain float arithmetic over a handful of arms (numpy's per-call overhead costs
more than the maths there), the sticky Thompson draw is memoised per viewer and hour while
nothing is learned (it is a pure function of that key), and journal lines are encoded once
with orjson when that gives the very bytes ``json.dumps`` would.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson

from backends.world import city_for_location
from clients.contracts import DecideRequest, DecideResponse, RewardRequest

POLICY_VERSION = "ts-hier-beta-v1"
#: Caps on how many pseudo-observations a parent level contributes as prior.
CITY_PRIOR_STRENGTH = 20.0
USER_PRIOR_STRENGTH = 10.0
MAX_DECISIONS = 200_000
MAX_EVENTS = 500_000
#: Sticky Thompson orderings remembered (viewer x hour x decision point x arms).
MAX_STICKY = 50_000


class UnknownDecisionError(KeyError):
    """Reward for a decision id this process never issued (or has forgotten): 404."""


class UnknownArmError(ValueError):
    """Reward for an arm that was not offered in the decision: 422."""


@dataclass
class Decision:
    decision_point: str
    user_id: str | None
    city: str
    arms: frozenset[str]


class Bandit:
    """Posteriors, issued decisions and seen reward events of one process."""

    def __init__(self, seed: int = 0, mc_samples: int = 400, journal: Path | None = None) -> None:
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        # rewards applied per decision point: part of the draw's seed, so learning changes
        # the decisions while an unchanged posterior gives a viewer the same page.
        self.updates: defaultdict[str, int] = defaultdict(int)
        self.mc_samples = mc_samples
        # (level, key, decision_point, arm) -> [successes, failures]
        self.counts: defaultdict[tuple[str, str, str, str], list[float]] = defaultdict(
            lambda: [0.0, 0.0]
        )
        self.arms_seen: defaultdict[str, set[str]] = defaultdict(set)
        self.decisions: OrderedDict[str, Decision] = OrderedDict()
        self.events: OrderedDict[str, None] = OrderedDict()
        self._sticky: OrderedDict[tuple[object, ...], np.ndarray] = OrderedDict()
        # An append-only journal of decisions and counted rewards: a restarted bandit
        # replays it, so rewards for decisions made before a crash still count (once).
        self._journal: IO[str] | None = None
        if journal is not None:
            if journal.exists():
                self._replay(journal)
            journal.parent.mkdir(parents=True, exist_ok=True)
            self._journal = journal.open("a", encoding="utf-8")

    def _write(self, record: dict[str, object]) -> None:
        if self._journal is not None:
            self._journal.write(_journal_line(record))
            self._journal.flush()

    def _replay(self, journal: Path) -> None:
        with journal.open(encoding="utf-8") as lines:
            for line in lines:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a torn last line
                if "decision" in record:
                    self._remember(
                        record["decision"],
                        Decision(
                            record["point"],
                            record["user"],
                            record["city"],
                            frozenset(record["arms"]),
                        ),
                    )
                elif "reward" in record:
                    self._count(RewardRequest.model_validate(record["reward"]))

    def _remember(self, decision_id: str, decision: Decision) -> None:
        self.decisions[decision_id] = decision
        if len(self.decisions) > MAX_DECISIONS:
            self.decisions.popitem(last=False)
        self.arms_seen[decision.decision_point].update(decision.arms)

    # -- posteriors
    def posterior(
        self, decision_point: str, arms: list[str], city: str, user_id: str | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(alpha, beta) per arm at the most specific level available.

        Plain floats: the same IEEE operations numpy did on arrays of a few arms, without
        numpy's per-call overhead.
        """
        counts = self.counts.get
        none = (0.0, 0.0)
        alpha: list[float] = []
        beta: list[float] = []
        for arm in arms:
            gs, gf = counts(("global", "", decision_point, arm), none)
            a, b = _shrink(
                1.0 + gs,
                1.0 + gf,
                CITY_PRIOR_STRENGTH,
                counts(("city", city, decision_point, arm), none),
            )
            if user_id:
                a, b = _shrink(
                    a, b, USER_PRIOR_STRENGTH, counts(("user", user_id, decision_point, arm), none)
                )
            alpha.append(a)
            beta.append(b)
        return np.array(alpha), np.array(beta)

    # -- decisions
    def decide(self, req: DecideRequest) -> DecideResponse:
        """Decide one ``POST /v1/decide`` request (remembered and journalled)."""
        return DecideResponse.model_validate(self.decide_payload(req))

    def decide_payload(self, req: DecideRequest) -> dict[str, Any]:
        """:meth:`decide` as plain JSON-ready data, fields in contract order (for
        ``backends.server.json_response``: the model's bytes without the models)."""
        arms = list(dict.fromkeys(req.arms))
        city = req.context.city or _city_id(req.context.location.lat, req.context.location.lon)
        a, b = self.posterior(req.decision_point, arms, city, req.user_id)
        ranking = self._sticky_ranking(req, city, arms, a, b)
        m = max(50, min(self.mc_samples, 40_000 // max(len(arms), 1)))
        sims = np.argsort(-self.rng.beta(a, b, size=(m, len(arms))), axis=1)
        same = (sims == ranking[None, :]).sum(0)  # per position: re-runs agreeing with ours
        propensity = np.minimum((same + 1) / (m + 1), 1.0)
        decision_id = f"d-{uuid.uuid4().hex}"
        self._remember(
            decision_id, Decision(req.decision_point, req.user_id, city, frozenset(arms))
        )
        self._write(
            {
                "decision": decision_id,
                "point": req.decision_point,
                "user": req.user_id,
                "city": city,
                "arms": arms,
            }
        )
        return {
            "decision_id": decision_id,
            "ranking": [
                {"arm": arms[k], "propensity": p}
                for k, p in zip(ranking.tolist(), propensity.tolist(), strict=True)
            ],
            "policy_version": POLICY_VERSION,
        }

    def _sticky_ranking(
        self, req: DecideRequest, city: str, arms: list[str], a: np.ndarray, b: np.ndarray
    ) -> np.ndarray:
        """The Thompson ordering of the arms, drawn from :meth:`_sticky_rng`.

        Memoised: the draw is a function of the generator's key and of the posterior, and
        the posterior of a decision point only changes when a reward for it is counted, which
        bumps ``updates[point]``, part of the key. So the same key means the same draw.
        """
        key = (
            req.decision_point,
            req.user_id,
            city,
            req.context.local_time[:13],
            self.updates[req.decision_point],
            tuple(arms),
        )
        ranking = self._sticky.get(key)
        if ranking is not None:
            self._sticky.move_to_end(key)
            return ranking
        theta = self._sticky_rng(req, city).beta(a, b)
        ranking = np.argsort(-theta, kind="stable")
        ranking.flags.writeable = False
        self._sticky[key] = ranking
        if len(self._sticky) > MAX_STICKY:
            self._sticky.popitem(last=False)
        return ranking

    def _sticky_rng(self, req: DecideRequest, city: str) -> np.random.Generator:
        """The Thompson draw's generator, seeded by who/where/which hour and the posterior.

        Sticky decisions: the same viewer sees the same order within the hour while
        nothing was learned (a page does not reshuffle on refresh); across viewers, hours
        and rewards the draws are independent, so exploration is intact.
        """
        hour = req.context.local_time[:13]
        viewer = req.user_id or f"anon:{city}"
        key = f"{self.seed}|{req.decision_point}|{viewer}|{hour}|{self.updates[req.decision_point]}"
        digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
        return np.random.default_rng(int.from_bytes(digest, "big"))

    def reward(self, req: RewardRequest) -> bool:
        """Apply a reward; False if ``event_id`` was already counted (idempotent retry)."""
        counted = self._count(req)
        if counted:
            self._write({"reward": req.model_dump(mode="json")})
        return counted

    def _count(self, req: RewardRequest) -> bool:
        d = self.decisions.get(req.decision_id)
        if d is None:
            raise UnknownDecisionError(req.decision_id)
        if req.arm not in d.arms:
            raise UnknownArmError(f"arm {req.arm!r} was not offered in decision {req.decision_id}")
        if req.event_id is not None:
            if req.event_id in self.events:
                return False
            self.events[req.event_id] = None
            if len(self.events) > MAX_EVENTS:
                self.events.popitem(last=False)
        levels = [("global", ""), ("city", d.city)] + ([("user", d.user_id)] if d.user_id else [])
        for level, key in levels:
            c = self.counts[(level, key, d.decision_point, req.arm)]
            c[0] += req.reward
            c[1] += 1.0 - req.reward
        self.updates[d.decision_point] += 1
        return True

    def stats(
        self, decision_point: str, city: str | None, user_id: str | None
    ) -> dict[str, object]:
        """Posterior summaries per arm at each level (for operators and tests)."""
        arms = sorted(self.arms_seen.get(decision_point, set()))
        out: dict[str, object] = {}
        for arm in arms:
            entry: dict[str, object] = {}
            for level, key in (("global", ""), ("city", city), ("user", user_id)):
                if key is None:
                    continue
                s, f = self.counts.get((level, key, decision_point, arm), [0.0, 0.0])
                entry[level] = {"successes": s, "failures": f}
            a, b = self.posterior(decision_point, [arm], city or "", user_id)
            entry["alpha"], entry["beta"] = float(a[0]), float(b[0])
            entry["mean"] = float(a[0] / (a[0] + b[0]))
            out[arm] = entry
        return {"decision_point": decision_point, "policy_version": POLICY_VERSION, "arms": out}


def _shrink(
    a: float, b: float, strength: float, counts: tuple[float, float] | list[float]
) -> tuple[float, float]:
    """Child posterior of one arm: parent mean as prior with at most ``strength``
    pseudo-counts, plus the child's own (successes, failures)."""
    k = min(a + b, strength)
    mean = a / (a + b)
    # Floor keeps Beta parameters away from 0 after many one-sided rewards.
    return max(mean * k + counts[0], 0.1), max((1 - mean) * k + counts[1], 0.1)


def _journal_line(record: dict[str, object]) -> str:
    """``json.dumps(record, separators=(",", ":"))`` and a newline, byte for byte.

    orjson writes the same bytes for ASCII text (it never escapes DEL or non-ASCII, which
    ``json.dumps`` does) without floats (it spells some exponents differently): decision
    records qualify; anything else goes through ``json.dumps``.
    """
    if "reward" not in record:
        line = orjson.dumps(record)
        if line.isascii() and b"\x7f" not in line:
            return line.decode() + "\n"
    return json.dumps(record, separators=(",", ":")) + "\n"


def _city_id(lat: float, lon: float) -> str:
    city = city_for_location(lat, lon)
    return city.id if city else "unknown"

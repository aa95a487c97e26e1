"""Thompson sampling over Beta posteriors of click-through rate, with hierarchical priors.

What is learned: per decision point and arm, clicks out of impressions. An impression of an
arm in a decision is a trial, a click a success, each counted at most once per (decision,
arm) — a click whose impression never arrived counts its trial too, a repeated or re-sent
one counts nothing — so the posterior is Beta(α + clicks, β + impressions − clicks).

Why hierarchical (viewer → segment → city → country): most (viewer, arm) pairs have no
feedback, and at banner click-through rates a single viewer never has enough. Each level's
prior is its parent's posterior *without the child's own counts* (leave-one-out, so evidence
is not counted twice), discounted to at most ``PRIOR_CAP[level]`` pseudo-observations: a
segment (city × platform) may differ from its city, so its prior is moderate; viewers of one
segment are alike at click-through resolution, so theirs is strong and a new viewer is
served what the segment has learned. ``flat`` priors (Beta(1, 1) per viewer, no pooling)
and ``uniform`` (random order) are the baselines the simulator compares against
(``PGW_BANDIT_POLICY``).

Decision ids: the gateway names each decision (``decision_id`` in the request) and serves
it as ``<decision id>~<page id>`` on every page it is shown on, so a decision reused from a
cache is still one decision per page served; rewards name the served id and are resolved to
the decision here.

Propensities: the probability that the sampling policy puts the chosen arm at the position
it got, estimated by Monte Carlo re-runs of the same policy (the actual draw included, so
the estimate is never 0); exact (1/n) for the uniform policy.

State is in memory (a reference backend); decisions are kept in a bounded LRU and replayed
from the journal after a restart.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson

from backends.world import city_for_location
from clients.contracts import DecideRequest, DecideResponse, RewardKind, RewardRequest

MAX_DECISIONS = 200_000
MAX_EVENTS = 500_000
#: (served decision, arm) pairs whose trial/success is remembered (exactly-once counting).
MAX_COUNTED = 1_000_000
#: Sticky Thompson orderings remembered (viewer x hour x decision point x arms).
MAX_STICKY = 50_000
#: A served decision id: ``<decision id>~<page id>``.
SERVED_SEPARATOR = "~"

#: Levels from the most general to the most specific.
LEVELS = ("country", "city", "segment", "viewer")
#: At most this many pseudo-observations of the parent's posterior form a level's prior.
PRIOR_CAP: dict[str, float] = {"city": 2_000.0, "segment": 500.0, "viewer": 5_000.0}
#: Each city's country (the reference world has one city per country).
COUNTRY_OF_CITY = {"helsinki": "FI", "stockholm": "SE", "tallinn": "EE"}

TRIAL = 1
SUCCESS = 2


class Policy(StrEnum):
    HIERARCHICAL = "hierarchical"
    FLAT = "flat"
    UNIFORM = "uniform"


POLICY_VERSIONS = {
    Policy.HIERARCHICAL: "ts-hier-beta-v2",
    Policy.FLAT: "ts-flat-beta-v2",
    Policy.UNIFORM: "uniform-v1",
}
POLICY_VERSION = POLICY_VERSIONS[Policy.HIERARCHICAL]


class UnknownDecisionError(KeyError):
    """Reward for a decision id this process never issued (or has forgotten): 404."""


class UnknownArmError(ValueError):
    """Reward for an arm that was not offered in the decision: 422."""


class DuplicateDecisionError(ValueError):
    """A decide request naming a decision id already in use: 409."""


@dataclass(frozen=True, slots=True)
class Decision:
    decision_point: str
    viewer: str | None
    city: str
    segment: str
    arms: frozenset[str]

    def levels(self) -> list[tuple[str, str]]:
        """(level, key) of every level this decision's rewards update."""
        out = [
            ("country", COUNTRY_OF_CITY.get(self.city, "ZZ")),
            ("city", self.city),
            ("segment", f"{self.city}|{self.segment}"),
        ]
        if self.viewer is not None:
            out.append(("viewer", self.viewer))
        return out


def viewer_key(user_id: str | None, device_id: str | None) -> str | None:
    """Whose decision it is: the user, else the device; never shared between viewers."""
    if user_id:
        return f"u:{user_id}"
    if device_id:
        return f"d:{device_id}"
    return None


def decision_of(served_id: str) -> str:
    """The decision a served id (``<decision>~<page>``) belongs to."""
    return served_id.split(SERVED_SEPARATOR, 1)[0]


class Bandit:
    """Posteriors, issued decisions and counted rewards of one process."""

    def __init__(
        self,
        seed: int = 0,
        mc_samples: int = 400,
        journal: Path | None = None,
        policy: Policy | str = Policy.HIERARCHICAL,
    ) -> None:
        self.seed = seed
        self.policy = Policy(policy)
        self.policy_version = POLICY_VERSIONS[self.policy]
        self.rng = np.random.default_rng(seed)
        # rewards applied per decision point: part of the draw's seed, so learning changes
        # the decisions while an unchanged posterior gives a viewer the same page.
        self.updates: defaultdict[str, int] = defaultdict(int)
        self.mc_samples = mc_samples
        # (level, key, decision_point, arm) -> [clicks, impressions]
        self.counts: defaultdict[tuple[str, str, str, str], list[float]] = defaultdict(
            lambda: [0.0, 0.0]
        )
        self.arms_seen: defaultdict[str, set[str]] = defaultdict(set)
        self.decisions: OrderedDict[str, Decision] = OrderedDict()
        self.events: OrderedDict[str, None] = OrderedDict()
        # (served decision id, arm) -> TRIAL | SUCCESS bits already counted
        self.counted: OrderedDict[tuple[str, str], int] = OrderedDict()
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
                            record.get("viewer", record.get("user")),
                            record["city"],
                            record.get("segment") or "-",
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
        self,
        decision_point: str,
        arms: list[str],
        city: str,
        viewer: str | None,
        segment: str = "-",
    ) -> tuple[np.ndarray, np.ndarray]:
        """(alpha, beta) per arm at the most specific level available.

        Plain floats: a handful of arms, where numpy's per-call overhead costs more than
        the arithmetic.
        """
        keys = Decision(decision_point, viewer, city, segment, frozenset()).levels()
        counts = self.counts.get
        none = (0.0, 0.0)
        alpha: list[float] = []
        beta: list[float] = []
        for arm in arms:
            if self.policy is Policy.FLAT:
                clicks, trials = counts(
                    ("viewer", viewer or f"anon:{city}", decision_point, arm), none
                )
                alpha.append(1.0 + clicks)
                beta.append(1.0 + trials - clicks)
                continue
            levels = [counts((level, key, decision_point, arm), none) for level, key in keys]
            a, b = 1.0 + levels[0][0], 1.0 + levels[0][1] - levels[0][0]
            for depth in range(1, len(levels)):
                a, b = _pool(a, b, PRIOR_CAP[keys[depth][0]], levels[depth])
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
        segment = req.context.platform or "-"
        viewer = viewer_key(req.user_id, req.device_id)
        decision_id = req.decision_id or f"d-{uuid.uuid4().hex}"
        if decision_id in self.decisions:
            raise DuplicateDecisionError(f"decision id {decision_id!r} is already in use")
        n = len(arms)
        if self.policy is Policy.UNIFORM:
            ranking = self._sticky_rng(req, viewer, city).permutation(n)
            propensity = np.full(n, 1.0 / n)
        else:
            a, b = self.posterior(req.decision_point, arms, city, viewer, segment)
            ranking = self._sticky_ranking(req, viewer, city, arms, a, b)
            m = max(50, min(self.mc_samples, 40_000 // max(n, 1)))
            sims = np.argsort(-self.rng.beta(a, b, size=(m, n)), axis=1)
            same = (sims == ranking[None, :]).sum(0)  # per position: re-runs agreeing with ours
            propensity = np.minimum((same + 1) / (m + 1), 1.0)
        self._remember(
            decision_id,
            Decision(req.decision_point, viewer, city, segment, frozenset(arms)),
        )
        self._write(
            {
                "decision": decision_id,
                "point": req.decision_point,
                "viewer": viewer,
                "city": city,
                "segment": segment,
                "arms": arms,
            }
        )
        return {
            "decision_id": decision_id,
            "ranking": [
                {"arm": arms[k], "propensity": p}
                for k, p in zip(ranking.tolist(), propensity.tolist(), strict=True)
            ],
            "policy_version": self.policy_version,
        }

    def _sticky_ranking(
        self,
        req: DecideRequest,
        viewer: str | None,
        city: str,
        arms: list[str],
        a: np.ndarray,
        b: np.ndarray,
    ) -> np.ndarray:
        """The Thompson ordering of the arms, drawn from :meth:`_sticky_rng`.

        Memoised: the draw is a function of the generator's key and of the posterior, and
        the posterior of a decision point only changes when a reward for it is counted, which
        bumps ``updates[point]``, part of the key. So the same key means the same draw.
        """
        if viewer is None:  # nobody to be sticky for: a fresh draw, never remembered
            fresh = np.argsort(-self._sticky_rng(req, viewer, city).beta(a, b), kind="stable")
            return fresh
        key = (
            req.decision_point,
            viewer,
            city,
            req.context.platform,
            req.context.local_time[:13],
            self.updates[req.decision_point],
            tuple(arms),
        )
        ranking = self._sticky.get(key)
        if ranking is not None:
            self._sticky.move_to_end(key)
            return ranking
        theta = self._sticky_rng(req, viewer, city).beta(a, b)
        ranking = np.argsort(-theta, kind="stable")
        ranking.flags.writeable = False
        self._sticky[key] = ranking
        if len(self._sticky) > MAX_STICKY:
            self._sticky.popitem(last=False)
        return ranking

    def _sticky_rng(self, req: DecideRequest, viewer: str | None, city: str) -> np.random.Generator:
        """The draw's generator, seeded by who/where/which hour and the posterior.

        Sticky decisions: the same viewer (user, else device) sees the same order within
        the hour while nothing was learned; viewers never share a draw (an anonymous viewer
        without a device id gets a fresh one); any counted reward moves the seed, so a
        viewer is never pinned to an early draw.
        """
        if viewer is None:
            return np.random.default_rng(self.rng.integers(2**63))
        hour = req.context.local_time[:13]
        key = (
            f"{self.seed}|{req.decision_point}|{viewer}|{req.context.platform}|{hour}|"
            f"{self.updates[req.decision_point]}"
        )
        digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
        return np.random.default_rng(int.from_bytes(digest, "big"))

    # -- rewards
    def reward(self, req: RewardRequest) -> bool:
        """Apply a reward; False if it changed nothing (already counted for that
        (served decision, arm), or a re-sent ``event_id``)."""
        counted = self._count(req)
        if counted:
            self._write({"reward": req.model_dump(mode="json")})
        return counted

    def _count(self, req: RewardRequest) -> bool:
        d = self.decisions.get(decision_of(req.decision_id))
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
        kind = req.kind or (RewardKind.CLICK if req.reward >= 0.5 else RewardKind.IMPRESSION)
        wanted = TRIAL | SUCCESS if kind is RewardKind.CLICK else TRIAL
        pair = (req.decision_id, req.arm)
        done = self.counted.get(pair, 0)
        new = wanted & ~done
        if not new:
            return False
        self.counted[pair] = done | new
        if len(self.counted) > MAX_COUNTED:
            self.counted.popitem(last=False)
        clicks = 1.0 if new & SUCCESS else 0.0
        trials = 1.0 if new & TRIAL else 0.0
        for level, key in d.levels():
            c = self.counts[(level, key, d.decision_point, req.arm)]
            c[0] += clicks
            c[1] += trials
        self.updates[d.decision_point] += 1
        return True

    def stats(
        self,
        decision_point: str,
        city: str | None,
        user_id: str | None,
        *,
        device_id: str | None = None,
        platform: str | None = None,
    ) -> dict[str, object]:
        """Posterior summaries per arm at each level (for operators and tests)."""
        arms = sorted(self.arms_seen.get(decision_point, set()))
        viewer = viewer_key(user_id, device_id)
        segment = platform or "-"
        out: dict[str, object] = {}
        levels: list[tuple[str, str | None]] = [("global", None)]
        if city is not None:
            levels += [
                ("country", COUNTRY_OF_CITY.get(city, "ZZ")),
                ("city", city),
                ("segment", f"{city}|{segment}"),
            ]
        if viewer is not None:
            levels.append(("viewer", viewer))
        for arm in arms:
            entry: dict[str, object] = {}
            for level, key in levels:
                if level == "global":
                    clicks = trials = 0.0
                    for country in {*COUNTRY_OF_CITY.values(), "ZZ"}:
                        c = self.counts.get(("country", country, decision_point, arm))
                        if c is not None:
                            clicks += c[0]
                            trials += c[1]
                else:
                    clicks, trials = self.counts.get(
                        (level, key or "", decision_point, arm), (0.0, 0.0)
                    )
                entry[level] = {
                    "successes": clicks,
                    "trials": trials,
                    "failures": trials - clicks,
                }
            a, b = self.posterior(decision_point, [arm], city or "", viewer, segment)
            entry["alpha"], entry["beta"] = float(a[0]), float(b[0])
            entry["mean"] = float(a[0] / (a[0] + b[0]))
            out[arm] = entry
        return {
            "decision_point": decision_point,
            "policy_version": self.policy_version,
            "arms": out,
        }


def _pool(
    a: float, b: float, cap: float, counts: tuple[float, float] | list[float]
) -> tuple[float, float]:
    """A child's posterior of one arm: its parent's posterior (``a``, ``b``, which include
    the child's counts) without the child's own counts, as a prior of at most ``cap``
    pseudo-observations, plus the child's (clicks, impressions)."""
    clicks, trials = counts[0], counts[1]
    pa = max(a - clicks, 1e-3)
    pb = max(b - (trials - clicks), 1e-3)
    k = min(pa + pb, cap)
    mean = pa / (pa + pb)
    return max(mean * k + clicks, 1e-3), max((1 - mean) * k + trials - clicks, 1e-3)


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

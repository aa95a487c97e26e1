"""A simulated population: viewers in segments, each banner's click-through rate per segment.

Seeded and bounded. A step is one page served to one viewer: a new viewer with probability
``new_share``, else one seen before. The viewer looks at the top banner (an impression) and
clicks it with the segment's rate for that banner. The best banner differs between segments,
and the best and second-best differ by ``gap`` (one percentage point in the shipped
scenario), so the loop has to learn click-through *rates*, per segment, to win.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

#: The segments (the viewer's platform, ``X-Client-Platform``) and their traffic shares.
SEGMENTS: tuple[tuple[str, float], ...] = (("ios", 0.45), ("android", 0.35), ("web", 0.20))


@dataclass(frozen=True, slots=True)
class Scenario:
    """Click-through rates: ``rates[segment][arm]``; ``best[segment]`` is the best arm."""

    arms: tuple[str, ...]
    rates: dict[str, dict[str, float]]

    def best(self, segment: str) -> str:
        rates = self.rates[segment]
        return max(rates, key=lambda a: rates[a])

    def regret(self, segment: str, arm: str) -> float:
        rates = self.rates[segment]
        return rates[self.best(segment)] - rates[arm]


def scenario(arms: list[str], *, top: float = 0.03, gap: float = 0.01) -> Scenario:
    """Five arms: the best at ``top``, the second ``gap`` below, the rest lower still.

    iOS and Android share their best arm; the web's best is another one, so a policy that
    pools everything serves the web the wrong banner.
    """
    ladder = [top, top - gap, top - 1.5 * gap, top - 1.8 * gap, top - 2.0 * gap]
    ladder = [max(r, 0.001) for r in ladder]
    ordered = sorted(arms)
    web = ordered[1:2] + ordered[:1] + ordered[2:]
    return Scenario(
        arms=tuple(ordered),
        rates={
            "ios": dict(zip(ordered, ladder, strict=False)),
            "android": dict(zip(ordered, ladder, strict=False)),
            "web": dict(zip(web, ladder, strict=False)),
        },
    )


@dataclass(slots=True)
class Population:
    """Who visits next, seeded."""

    seed: int
    new_share: float = 0.3
    prefix: str = "sim"
    rng: random.Random = field(init=False)
    viewers: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def next_viewer(self) -> tuple[str, str, bool]:
        """(user id, segment, whether this is the viewer's first visit)."""
        if not self.viewers or self.rng.random() < self.new_share:
            segment = self.rng.choices([s for s, _ in SEGMENTS], weights=[w for _, w in SEGMENTS])[
                0
            ]
            viewer = (f"{self.prefix}-{self.seed}-{len(self.viewers)}", segment)
            self.viewers.append(viewer)
            return viewer[0], viewer[1], True
        user, segment = self.rng.choice(self.viewers)
        return user, segment, False

    def clicks(self, rate: float) -> bool:
        return self.rng.random() < rate

    def steps(self, n: int) -> list[tuple[str, str, bool, float]]:
        """``n`` steps drawn up front — (user, segment, new, uniform for the click) — so the
        population is the same whatever order concurrent pages come back in."""
        out = []
        for _ in range(n):
            user, segment, new = self.next_viewer()
            out.append((user, segment, new, self.rng.random()))
        return out


@dataclass(slots=True)
class Trace:
    """What a run showed: per impression the segment, whether the viewer was new, the arm
    on top and whether it was clicked; summarised into the curves the figures plot."""

    scenario: Scenario
    segments: list[str] = field(default_factory=list)
    new: list[bool] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)
    clicked: list[bool] = field(default_factory=list)

    def add(self, segment: str, new: bool, arm: str, click: bool) -> None:
        self.segments.append(segment)
        self.new.append(new)
        self.shown.append(arm)
        self.clicked.append(click)

    def regrets(self) -> list[float]:
        return [self.scenario.regret(s, a) for s, a in zip(self.segments, self.shown, strict=True)]

    def best_hits(self) -> list[bool]:
        return [a == self.scenario.best(s) for s, a in zip(self.segments, self.shown, strict=True)]

    def summary(self, window: int, every: int) -> dict[str, object]:
        """Cumulative regret and best-arm share (over the last ``window`` impressions),
        sampled every ``every`` impressions; and the same for new viewers only."""
        regrets = self.regrets()
        hits = self.best_hits()
        n = len(regrets)
        points = list(range(every, n + 1, every)) or [n]
        cumulative: list[float] = []
        share: list[float] = []
        total = 0.0
        for k in range(n):
            total += regrets[k]
            if k + 1 in points:
                cumulative.append(round(total, 3))
                recent = hits[max(0, k + 1 - window) : k + 1]
                share.append(round(sum(recent) / len(recent), 4))
        new_regret = [r for r, fresh in zip(regrets, self.new, strict=True) if fresh]
        tail = hits[-window:]
        return {
            "impressions": n,
            "clicks": sum(self.clicked),
            "at": points,
            "cumulative_regret": cumulative,
            "best_arm_share": share,
            "final_best_arm_share": round(sum(tail) / max(len(tail), 1), 4),
            "total_regret": round(sum(regrets), 3),
            "new_viewer_impressions": len(new_regret),
            "new_viewer_regret_per_impression": round(sum(new_regret) / max(len(new_regret), 1), 5),
        }

"""Assignment: stable per unit, shares as configured, independent across experiments."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from scipy import stats

from clients.contracts.common import Surface
from resolvers.experiments import Experiment, Variant, assignments

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
USERS = [f"u{n:05d}" for n in range(10_000)]


def _experiment(name: str, salt: str, shares: tuple[float, ...] = (0.5, 0.5)) -> Experiment:
    variants = tuple(
        Variant(name=f"v{n}", share=share, ranking_variant="treatment" if n else "control")
        for n, share in enumerate(shares)
    )
    return Experiment(name=name, surface=Surface.DISCOVERY, salt=salt, variants=variants)


def test_assignment_is_stable_per_user() -> None:
    experiment = _experiment("ranker", "s1")
    first = [experiment.assign(u).name for u in USERS[:500]]
    again = [experiment.assign(u).name for u in USERS[:500]]
    assert first == again
    fresh = _experiment("ranker", "s1")  # another replica, same config
    assert [fresh.assign(u).name for u in USERS[:500]] == first


@pytest.mark.parametrize("shares", [(0.5, 0.5), (0.9, 0.1), (0.2, 0.3, 0.5)])
def test_shares_match_the_configuration(shares: tuple[float, ...]) -> None:
    experiment = _experiment("ranker", "s-shares", shares)
    counts = [0] * len(shares)
    for user in USERS:
        counts[int(experiment.assign(user).name[1:])] += 1
    expected = [share * len(USERS) for share in shares]
    # chi-square goodness of fit: a correct hash fails this 1 time in 1,000
    assert stats.chisquare(counts, expected).pvalue > 0.001, counts


def test_layered_experiments_are_independent() -> None:
    first, second = _experiment("ranker", "salt-a"), _experiment("layout", "salt-b")
    table = [[0, 0], [0, 0]]
    for user in USERS:
        table[int(first.assign(user).name[1:])][int(second.assign(user).name[1:])] += 1
    assert stats.chi2_contingency(table).pvalue > 0.001, table
    # the same salt would make them fully dependent: the test can tell
    clone = _experiment("layout", "salt-a")
    same = sum(first.assign(u).name == clone.assign(u).name for u in USERS)
    assert same == len(USERS)


def test_only_running_experiments_of_the_surface_apply() -> None:
    running = _experiment("ranker", "s1")
    stopped = Experiment(
        name="old",
        surface=Surface.DISCOVERY,
        salt="s2",
        variants=(Variant(name="a", share=1.0),),
        stop=datetime(2026, 1, 1, tzinfo=UTC),
    )
    other = Experiment(
        name="cart", surface=Surface.CART, salt="s3", variants=(Variant(name="a", share=1.0),)
    )
    got = assignments((running, stopped, other), Surface.DISCOVERY, "u00001", NOW)
    assert set(got) == {"ranker"}
    assert assignments((running,), Surface.DISCOVERY, None, NOW) == {}


def test_shares_must_sum_to_one() -> None:
    with pytest.raises(ValueError, match="sum to"):
        _experiment("bad", "s", (0.5, 0.6))

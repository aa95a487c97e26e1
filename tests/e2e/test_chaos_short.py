"""A short chaos run inside ``make test``: a few representative backend faults under load
against the shared live stack (``make chaos`` runs the whole matrix).

Each case drives ~2 s of concurrent surface traffic with the fault on, then clears it (a
stopped backend is restarted on its own port) and waits for fully personalised pages, so
the stack is left as the other end-to-end tests expect it. Zero 5xx and complete,
schema-valid pages are strict; the p99 allowance is generous because the load generator
shares a small machine with six server processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bench.chaos import CaseResult, ChaosConfig, ChaosRunner, Workload
from tests.live import LiveStack

pytestmark = pytest.mark.e2e

CONFIG = ChaosConfig(duration_s=2.0, concurrency=2, margin_ms=150.0, warmup_s=1.5)
CASES = [
    ("ranking", "500"),
    ("retrieval", "hang"),
    ("catalog", "down"),
    ("bandit", "flapping"),
]


@pytest.fixture(scope="module")
def workload() -> Workload:
    return Workload.from_dataset()


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chaos-logs")


@pytest.fixture(scope="module")
def warmed(live: LiveStack, workload: Workload, log_dir: Path) -> Iterator[None]:
    """The stack serves fully personalised pages before the first fault."""
    import asyncio

    runner = ChaosRunner(live, CONFIG, log_dir, workload=workload)
    asyncio.run(runner.drive(CONFIG.warmup_s))
    assert asyncio.run(runner.wait_recovered(30)) is not None, "stack never fully personalised"
    yield
    live.clear_faults()


def _explain(result: CaseResult) -> str:
    return (
        f"{result.name}: {result.failures}; p99 {result.p99_ms:.0f} ms by surface "
        f"{result.p99_ms_by_surface}; failed calls {result.failed_calls}; "
        f"bad {result.bad_samples[:3]}; slowest {result.slowest[:2]}"
    )


@pytest.mark.usefixtures("warmed")
@pytest.mark.parametrize(("backend", "fault"), CASES, ids=[f"{b}-{f}" for b, f in CASES])
async def test_fault_under_load_never_breaks_a_page(
    live: LiveStack, workload: Workload, log_dir: Path, backend: str, fault: str
) -> None:
    # A seed per case: replaying another case's users and venues would find every entity
    # in the gateway's cache and hide a catalog outage.
    seed = CONFIG.seed + CASES.index((backend, fault)) + 1
    runner = ChaosRunner(live, replace(CONFIG, seed=seed), log_dir, workload=workload)
    result = await runner.run_case(backend, fault)

    assert result.requests >= 10, _explain(result)
    assert result.http_5xx == 0, _explain(result)
    assert result.no_response == 0, _explain(result)
    assert result.incomplete == 0, _explain(result)
    assert result.degraded_share > 0, f"the fault had no visible effect: {_explain(result)}"
    assert result.p99_over_budget_ms <= CONFIG.margin_ms, _explain(result)
    assert result.recovery_s is not None, _explain(result)
    assert result.recovery_s <= runner.open_s + CONFIG.recovery_slack_s, _explain(result)
    assert result.ok, _explain(result)

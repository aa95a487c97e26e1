"""No event and no decision is lost when a gateway dies (ADR 0017): under load the gateway
is killed with SIGKILL and restarted on the same durable Redis (``bench/events_stream``);
every decision of every answered page and every accepted event is in the stream exactly
once, the delivery worker of the new process drains the reward outbox (claiming what the
dead one held), the dead consumer leaves the group, and ``decisions export`` writes it all.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.events_stream import run
from tests.live import LiveStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


def test_kill_9_under_load_loses_nothing_and_duplicates_nothing(
    live: LiveStack, tmp_path: Path
) -> None:
    result = run(live, tmp_path, clients=3, before_kill_s=4.0, after_restart_s=4.0)
    assert result.pages_served > 0
    assert result.events_accepted > 0
    assert result.missing_decisions == 0, result
    assert result.duplicate_decisions == 0, result
    assert result.missing_events == 0, result
    assert result.duplicate_feedback == 0, result
    assert result.outbox_pending_after == 0, result
    assert len(result.consumers_after) == 1, result
    assert result.exported_lines == result.stream_lines > 0
    assert result.second_exit_status == 0

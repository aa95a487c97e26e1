"""Shared fixtures: the live system for end-to-end tests (started once per session)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

from tests.live import LiveStack, live_stack

# Property tests draw the same examples on every run and machine (the guide's deterministic
# seeds): a failure in CI is one a developer reproduces by running the test again.
# ``HYPOTHESIS_PROFILE=explore`` draws fresh examples, to look for new failures on purpose.
settings.register_profile("deterministic", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    """The five reference backends and a gateway, over real HTTP on loopback."""
    with live_stack(tmp_path_factory.mktemp("live-logs")) as stack:
        yield stack

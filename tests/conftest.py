"""Shared fixtures: the live system for end-to-end tests (started once per session)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.live import LiveStack, live_stack


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    """The five reference backends and a gateway, over real HTTP on loopback."""
    with live_stack(tmp_path_factory.mktemp("live-logs")) as stack:
        yield stack

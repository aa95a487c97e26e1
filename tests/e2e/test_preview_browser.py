"""``/preview`` in headless Chromium, offline: a healthy page, then the same viewer's pages
with ranking down — degraded, sections from their fallbacks, the failing calls listed.
Screenshots of both are kept as artefacts (``var/artefacts/preview/``). The gateway is real
(uvicorn, real HTTP) over the fake backends, so ranking fails on cue and the test takes
seconds; the demo's own fault switches are tested against the reference backends' fault
router in ``tests/gateway/test_preview.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from clients.contracts.ports import BACKEND_NAMES
from tests.artefacts import artefact_dir
from tests.browser_support import is_local, offline_page
from tests.fakes import FakeBackends
from tests.threaded_gateway import serving

pytestmark = [pytest.mark.browser]

STATE = """() => ({
  surfaces: [...document.querySelectorAll('[data-surface]')].map(s => s.dataset.surface),
  degraded: [...document.querySelectorAll('[data-degraded]')].map(
    b => b.dataset.degraded === 'true'),
  sources: [...document.querySelectorAll('[data-source]')].map(s => s.dataset.source),
  cards: document.querySelectorAll('.card').length,
})"""


def test_preview_healthy_then_ranking_down(tmp_path: Path) -> None:
    shots = artefact_dir("preview")
    fakes = FakeBackends()
    with (
        serving(
            tmp_path,
            fakes,
            environment="development",
            page_cache_ttl_s=0.0,
            # generous deadlines: the healthy page must not degrade on a loaded machine;
            # ranking uncached, so its failure shows on the very next page
            budget_ms=5000,
            backends={
                name: {"timeout_s": 3.0, **({"cache_ttl_s": None} if name == "ranking" else {})}
                for name in BACKEND_NAMES
            },
        ) as base,
        offline_page(height=1600) as (page, seen),
    ):
        try:
            page.goto(f"{base}/preview?user=u0042", wait_until="load")
            healthy: dict[str, Any] = page.evaluate(STATE)
            assert healthy["surfaces"] == ["Discovery", "Category", "Venue page", "Cart"]
            assert healthy["degraded"] == [False] * 4, healthy
            assert "PERSONALISED" in healthy["sources"]
            assert healthy["cards"] > 10
            page.screenshot(path=str(shots / "healthy.png"), full_page=True)

            fakes.fail("ranking", "500")
            page.goto(f"{base}/preview?user=u0042", wait_until="load")
            down: dict[str, Any] = page.evaluate(STATE)
            assert down["surfaces"] == healthy["surfaces"]
            assert down["degraded"][0], down  # the discovery page fell back
            assert set(down["sources"]) - {"PERSONALISED"}, down
            assert down["cards"] > 0  # fallbacks still fill the page
            assert "failures:" in page.content()
            page.screenshot(path=str(shots / "ranking-down.png"), full_page=True)
        except Exception:
            page.screenshot(path=str(shots / "failure.png"), full_page=True)
            raise
    assert seen.foreign == [], seen.foreign
    assert all(is_local(u) for u in seen.requests), seen.requests
    assert seen.errors == []
    assert (shots / "ranking-down.png").stat().st_size > 10_000

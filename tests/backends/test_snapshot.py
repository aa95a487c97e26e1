"""The committed cold-start snapshot has the agreed shape and stays small."""

from __future__ import annotations

import json

from backends.config import PROJECT_ROOT
from backends.snapshot import build_snapshot
from clients.contracts import BannerEntity, CategoryEntity

PATH = PROJECT_ROOT / "gateway" / "data" / "reference_snapshot.json"


def test_committed_snapshot_shape() -> None:
    assert PATH.stat().st_size < 1_000_000
    snap = json.loads(PATH.read_text())
    assert set(snap) == {"generated_at", "popular", "categories", "banners"}
    for city in ("helsinki", "stockholm", "tallinn"):
        for kind in ("venue", "brand", "category", "item"):
            assert snap["popular"][f"city/{city}/{kind}"]
        assert snap["popular"][f"category/{city}:pizza/venue"]
        for c in snap["categories"][city]:
            CategoryEntity.model_validate(c)
        for b in snap["banners"][city]:
            BannerEntity.model_validate(b)
    assert all(len(ids) <= 100 for ids in snap["popular"].values())


def test_snapshot_matches_current_data() -> None:
    fresh = build_snapshot()
    committed = json.loads(PATH.read_text())
    assert fresh["popular"] == committed["popular"]

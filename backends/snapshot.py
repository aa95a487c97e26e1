"""The gateway's cold-start snapshot: popularity lists, categories and banners per city.

Shipped in the repository so the gateway can render popular content even when it starts
with the popularity (and catalog) backends down. Shape::

    {"generated_at": ISO8601,
     "popular": {"{scope}/{key}/{kind}": [ids, top 100]},
     "categories": {city: [CategoryEntity]},
     "banners": {city: [BannerEntity]}}
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from backends.catalog.logic import Catalog
from backends.dataset import CITIES, get_dataset
from backends.popularity.logic import get_popularity

TOP_N = 100


def build_snapshot() -> dict[str, Any]:
    pop = get_popularity()
    catalog = Catalog(get_dataset())
    popular = {
        f"{scope}/{key}/{kind}": ids[:TOP_N]
        for (scope, key, kind), ids in sorted(pop.lists.items())
    }
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "popular": popular,
        "categories": {c.id: [e.model_dump() for e in catalog.categories(c.id)] for c in CITIES},
        "banners": {c.id: [e.model_dump() for e in catalog.active_banners(c.id)] for c in CITIES},
    }


def write_snapshot(out: str | Path) -> Path:
    """Write the snapshot compactly: one popularity list per line keeps diffs readable."""
    snap = build_snapshot()
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["{", f'"generated_at": {json.dumps(snap["generated_at"])},', '"popular": {']
    items = list(snap["popular"].items())
    for i, (key, ids) in enumerate(items):
        sep = "," if i < len(items) - 1 else ""
        lines.append(f"{json.dumps(key)}: {json.dumps(ids, separators=(',', ':'))}{sep}")
    lines.append("},")
    lines.append(f'"categories": {json.dumps(snap["categories"], ensure_ascii=False)},')
    lines.append(f'"banners": {json.dumps(snap["banners"], ensure_ascii=False)}')
    lines.append("}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path

"""Ranking: one score per candidate, variants, and real signal on held-out orders."""

from __future__ import annotations

import time

import httpx
import numpy as np
import pytest

from backends.ranking.logic import evaluate, get_ranker
from clients.contracts import RankRequest, RankResponse
from tests.backends.conftest import CTX


def _body(ids: list[str], **kw: object) -> dict[str, object]:
    return {"surface": "discovery", "context": CTX, "candidate_ids": ids, "user_id": "u0001", **kw}


async def test_one_score_per_candidate(ranking: httpx.AsyncClient) -> None:
    ids = ["v00003", "v00001", "v00003", "v99999", "v00002"]
    r = await ranking.post("/v1/rank", json=_body(ids))
    body = RankResponse.model_validate(r.json())
    assert [s.id for s in body.scores] == ["v00003", "v00001", "v99999", "v00002"]
    assert body.model_version.startswith("venue-gbdt-control-")


async def test_variants_differ_and_unknown_variant_is_400(ranking: httpx.AsyncClient) -> None:
    ids = [f"v{i:05d}" for i in range(1, 60)]
    a = RankResponse.model_validate(
        (await ranking.post("/v1/rank", json=_body(ids, variant="control"))).json()
    )
    b = RankResponse.model_validate(
        (await ranking.post("/v1/rank", json=_body(ids, variant="treatment"))).json()
    )
    assert a.model_version != b.model_version
    assert [s.score for s in a.scores] != [s.score for s in b.scores]
    r = await ranking.post("/v1/rank", json=_body(ids, variant="nope"))
    assert r.status_code == 400
    assert "nope" in r.json()["detail"]


@pytest.mark.parametrize(
    ("kind", "ids"),
    [
        ("item", ["i000001", "i000002"]),
        ("brand", ["b001", "b002"]),
        ("category", ["pizza", "sushi"]),
    ],
)
async def test_other_kinds_scoreable(ranking: httpx.AsyncClient, kind: str, ids: list[str]) -> None:
    body = RankResponse.model_validate(
        (await ranking.post("/v1/rank", json=_body(ids, kind=kind))).json()
    )
    assert [s.id for s in body.scores] == ids
    assert body.model_version.startswith(kind)


def test_scoring_200_candidates_is_fast() -> None:
    ranker = get_ranker()
    req = RankRequest.model_validate(_body([f"v{i:05d}" for i in range(1, 201)]))
    ranker.rank(req)
    t = time.perf_counter()
    for _ in range(20):
        ranker.rank(req)
    assert (time.perf_counter() - t) / 20 < 0.02


def test_model_beats_popularity_on_held_out_orders() -> None:
    result = evaluate(get_ranker(), n=600)
    assert result["n"] > 300
    assert result["control"] > result["popularity"] + 0.1
    assert result["treatment"] > result["popularity"] + 0.1


def test_exported_trees_match_sklearn() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    from backends.ranking.logic import export_hgb

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 5))
    y = (x[:, 0] + x[:, 1] * x[:, 2] + rng.normal(size=2000) > 0).astype(int)
    clf = HistGradientBoostingClassifier(max_iter=30, max_depth=4, random_state=0).fit(x, y)
    ours = export_hgb(clf).predict(x[:300])
    assert np.allclose(ours, clf.predict_proba(x[:300])[:, 1], atol=1e-9)

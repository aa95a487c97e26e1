"""Ranking: one score per candidate, variants, and real signal on held-out orders."""

from __future__ import annotations

import time

import httpx
import numpy as np
import pytest

from backends.ranking.logic import (
    CompiledTrees,
    TreeEnsemble,
    evaluate,
    export_hgb,
    get_ranker,
    venue_features,
)
from backends.server import json_response
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

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 5))
    y = (x[:, 0] + x[:, 1] * x[:, 2] + rng.normal(size=2000) > 0).astype(int)
    clf = HistGradientBoostingClassifier(max_iter=30, max_depth=4, random_state=0).fit(x, y)
    ours = export_hgb(clf).predict(x[:300])
    assert np.allclose(ours, clf.predict_proba(x[:300])[:, 1], atol=1e-9)


def _traverse(trees: TreeEnsemble, x: np.ndarray) -> np.ndarray:
    """The trees walked node by node as first written (the reference for the compiled form)."""
    n = x.shape[0]
    idx = np.repeat(trees.roots[:, None], n, axis=1)
    cols = np.arange(n)[None, :]
    for _ in range(trees.depth + 1):
        vals = x[cols, trees.feature[idx]]
        go_left = np.where(np.isnan(vals), trees.missing_left[idx], vals <= trees.threshold[idx])
        nxt = np.where(go_left, trees.left[idx], trees.right[idx])
        idx = np.where(trees.is_leaf[idx], idx, nxt)
    raw = trees.value[idx].sum(0) + trees.baseline
    return 1.0 / (1.0 + np.exp(-raw))


def test_serving_features_are_the_training_features_to_the_bit() -> None:
    ranker = get_ranker()
    w, ds = ranker.w, ranker.ds
    rng = np.random.default_rng(5)
    users = [-1, 0, ds.n_users - 1, *rng.integers(0, ds.n_users, 25).tolist()]
    for u in users:
        v = rng.choice(ds.n_venues, size=int(rng.integers(1, 90)), replace=False)
        home = max(u, 0)
        lat = float(ds.u_lat[home] + rng.normal(0, 0.02))
        lon = float(ds.u_lon[home] + rng.normal(0, 0.02))
        weekday, minute = int(rng.integers(7)), int(rng.integers(1440))
        n = len(v)
        want = venue_features(
            w,
            ranker.t,
            np.full(n, u, dtype=np.int64),
            v,
            np.full(n, lat),
            np.full(n, lon),
            np.full(n, weekday),
            np.full(n, minute),
        )
        got = ranker.serving.venues(u, v, lat, lon, weekday, minute)
        assert got.dtype == want.dtype
        assert np.array_equal(got, want), u


def test_compiled_trees_predict_exactly_what_the_trees_do() -> None:
    ranker = get_ranker()
    trees = ranker.bundle.models["control"]
    assert isinstance(trees, TreeEnsemble)
    ds = ranker.ds
    rng = np.random.default_rng(9)
    v = rng.choice(ds.n_venues, size=300)
    x = ranker.serving.venues(3, v, float(ds.u_lat[3]), float(ds.u_lon[3]), 2, 12 * 60)
    x *= rng.uniform(0.5, 1.5, x.shape)  # off the training grid, both sides of thresholds
    assert np.array_equal(CompiledTrees(trees).predict(x), _traverse(trees, x))
    x[rng.random(x.shape) < 0.1] = np.nan  # rows with missing values take missing_left
    assert np.array_equal(CompiledTrees(trees).predict(x), _traverse(trees, x))


def test_exported_trees_follow_sklearn_on_missing_values() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(1)
    x = rng.normal(size=(2000, 4))
    y = (x[:, 0] - x[:, 1] + rng.normal(size=2000) > 0).astype(int)
    x[rng.random(x.shape) < 0.15] = np.nan
    clf = HistGradientBoostingClassifier(max_iter=20, max_depth=3, random_state=0).fit(x, y)
    ours = export_hgb(clf).predict(x[:400])
    assert np.allclose(ours, clf.predict_proba(x[:400])[:, 1], atol=1e-9)


@pytest.mark.parametrize("kind", ["venue", "item", "brand", "category", "banner"])
async def test_rank_payload_is_the_answer_on_the_wire(
    ranking: httpx.AsyncClient, kind: str
) -> None:
    ids = {
        "venue": ["v00003", "v00001", "v00003", "v99999", "x"],
        "item": ["i000001", "i000026", "nope"],
        "brand": ["b001", "b040", "b999"],
        "category": ["pizza", "sushi", "unicorns"],
        "banner": ["bn-hel-1"],
    }[kind]
    for user, variant in (("u0001", "control"), (None, "treatment"), ("u4950", None)):
        body = _body(ids, kind=kind, user_id=user, variant=variant)
        r = await ranking.post("/v1/rank", json=body)
        assert r.status_code == 200
        payload = get_ranker().rank_payload(RankRequest.model_validate(body))
        assert json_response(payload).body == r.content

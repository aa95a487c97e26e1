"""Ranking: features, model training (scikit-learn), numpy-only serving, evaluation.

Why export the models to numpy: importing scikit-learn takes seconds (decision 0015,
"Figures"), which would blow the warm-start budget of the five-process stack. So scikit-
learn is only imported to *train* (first start, or ``python -m backends train``); the fitted
models are exported to plain arrays (every tree's nodes for the gradient-boosted model,
coefficients for the logistic regression) and served with vectorised numpy, which also keeps
scoring a full candidate list cheap.

Training data: every sampled training order is a positive for (user, venue, place, time)
and a few venues that also deliver to the user's home are negatives. User statistics are
computed leave-one-out (the order's own venue and categories subtracted), otherwise
"has ordered here before" would leak the label.

Variants (A/B experiment arms): ``control`` = gradient-boosted trees on all features;
``treatment`` = logistic regression on standardised features (a different model *and* a
smaller feature set without the time-of-day signals).
"""

from __future__ import annotations

import functools
import hashlib
import pickle
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backends.config import cache_root
from backends.dataset import (
    CATEGORY_INDEX,
    CITIES,
    CITY_BY_ID,
    DATASET_VERSION,
    ITEMS_PER_VENUE,
    atomic_pickle,
    brand_id,
    file_lock,
    haversine_m,
    item_id,
    parse_id,
    venue_id,
)
from backends.world import (
    World,
    city_for_location,
    get_world,
    parse_local_time,
    time_bucket,
    week_slot,
)
from clients.contracts import EntityKind, RankRequest, RankResponse

#: Bump when features or training change: it keys the model cache.
MODEL_VERSION = "2"
FEATURES = (
    "taste",
    "user_venue_orders",
    "user_brand_orders",
    "price_gap",
    "distance_km",
    "distance_ratio",
    "rating",
    "log_popularity",
    "venue_time_share",
    "open_now",
    "user_log_orders",
    "delivery_minutes",
    "price_level",
)
TREATMENT_FEATURES = tuple(
    i for i, f in enumerate(FEATURES) if f not in ("venue_time_share", "open_now")
)
DEFAULT_VARIANT = "control"
VARIANTS = ("control", "treatment")


class UnknownVariantError(ValueError):
    """The requested experiment variant has no model; the app answers 400."""


# --------------------------------------------------------------------------------------
# features
# --------------------------------------------------------------------------------------


@dataclass
class FeatureTables:
    """Per-user tables precomputed once so feature rows are pure fancy-indexing."""

    user_brand: np.ndarray  # (n_users, n_brands + 1): training orders per brand (last = none)
    user_price_sum: np.ndarray
    log_pop: np.ndarray
    mean_price: float


def feature_tables(w: World) -> FeatureTables:
    ds = w.ds
    onehot = np.zeros((ds.n_venues, ds.n_brands + 1), dtype=np.float32)
    onehot[np.arange(ds.n_venues), np.where(ds.v_brand >= 0, ds.v_brand, ds.n_brands)] = 1
    return FeatureTables(
        user_brand=w.user_venue @ onehot,
        user_price_sum=w.user_venue @ ds.v_price.astype(np.float32),
        log_pop=np.log1p(w.venue_pop),
        mean_price=float(np.average(ds.v_price, weights=w.venue_pop + 1e-9)),
    )


def venue_features(
    w: World,
    t: FeatureTables,
    u: np.ndarray,
    v: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    weekday: np.ndarray,
    minute: np.ndarray,
    loo_venue: np.ndarray | None = None,
) -> np.ndarray:
    """Feature matrix (n, len(FEATURES)) for user rows ``u`` (-1 = anonymous) x venues ``v``.

    ``loo_venue`` (training only) is the venue of the order each row was sampled from; its
    contribution is removed from the user's statistics.
    """
    ds = w.ds
    n = len(v)
    known = u >= 0
    us = np.where(known, u, 0)
    uc = np.where(known[:, None], w.user_cat[us], 0.0)
    un = np.where(known, w.user_n[us], 0.0)
    uv = np.where(known, w.user_venue[us, v], 0.0)
    vb = np.where(ds.v_brand[v] >= 0, ds.v_brand[v], ds.n_brands)
    ub = np.where(known, t.user_brand[us, vb], 0.0)
    ps = np.where(known, t.user_price_sum[us], 0.0)
    if loo_venue is not None:
        uc = uc - ds.v_cats[loo_venue]
        un = un - 1
        uv = uv - (v == loo_venue)
        lb = np.where(ds.v_brand[loo_venue] >= 0, ds.v_brand[loo_venue], ds.n_brands)
        ub = ub - (lb == vb)
        ps = ps - ds.v_price[loo_venue]
    un = np.maximum(un, 0)
    aff = (uc + 2.0 * w.cat_share) / (un[:, None] + 2.0)
    taste = (ds.v_cats[v] * aff).max(1)
    brand_other = np.where(ds.v_brand[v] >= 0, np.maximum(ub - uv, 0), 0.0)
    user_price = np.where(un > 0, ps / np.maximum(un, 1), t.mean_price)
    dist = haversine_m_pairs(lat, lon, ds.v_lat[v], ds.v_lon[v])
    bucket = time_bucket(minute)
    slot = weekday * 96 + minute // 15
    x = np.empty((n, len(FEATURES)), dtype=np.float64)
    x[:, 0] = taste
    x[:, 1] = np.log1p(np.maximum(uv, 0))
    x[:, 2] = np.log1p(brand_other)
    x[:, 3] = np.abs(ds.v_price[v] - user_price)
    x[:, 4] = dist / 1000
    x[:, 5] = dist / ds.v_radius_m[v]
    x[:, 6] = ds.v_rating[v]
    x[:, 7] = t.log_pop[v]
    x[:, 8] = w.venue_bucket[v, bucket]
    x[:, 9] = ds.v_open[v, slot]
    x[:, 10] = np.log1p(un)
    x[:, 11] = ds.v_delivery_min[v]
    x[:, 12] = ds.v_price[v]
    return x


def haversine_m_pairs(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    """Element-wise great-circle distance (metres) between two arrays of points."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = (
        np.sin((p2 - p1) / 2) ** 2
        + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_000.0 * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


# --------------------------------------------------------------------------------------
# numpy-served models
# --------------------------------------------------------------------------------------


@dataclass
class TreeEnsemble:
    """A binary HistGradientBoostingClassifier flattened to arrays (all trees concatenated)."""

    feature: np.ndarray
    threshold: np.ndarray
    missing_left: np.ndarray
    left: np.ndarray  # absolute node index
    right: np.ndarray
    is_leaf: np.ndarray
    value: np.ndarray
    roots: np.ndarray
    depth: int
    baseline: float
    kind: str = "gbdt"

    def predict(self, x: np.ndarray) -> np.ndarray:
        """P(order) per row: every tree traversed at once, one numpy step per depth level."""
        return CompiledTrees(self).predict(x)


class CompiledTrees:
    """A :class:`TreeEnsemble` laid out for serving; predicts exactly what it does.

    Leaves point to themselves (so a row that reached one stays without an ``is_leaf``
    test) and a node's children sit side by side (``child[2 * node + go_right]``), so a
    level is a handful of flat gathers. Rows with a NaN take the general path, where the
    node's ``missing_left`` decides. The leaf values are summed tree by tree as before.
    """

    def __init__(self, trees: TreeEnsemble) -> None:
        leaf = trees.is_leaf
        nodes = np.arange(len(leaf), dtype=np.int64)
        self.trees = trees
        self.feature = np.where(leaf, 0, trees.feature).astype(np.intp)
        self.threshold = np.where(leaf, 0.0, trees.threshold)
        left = np.where(leaf, nodes, trees.left)
        right = np.where(leaf, nodes, trees.right)
        self.child = np.stack([left, right], axis=1).ravel().astype(np.intp)
        self.missing_right = np.where(leaf, False, ~trees.missing_left)
        self.roots = trees.roots.astype(np.intp)
        self.value = trees.value
        self.baseline = trees.baseline
        # root depth is 0, so ``depth`` steps reach the deepest leaf
        self.steps = trees.depth

    def predict(self, x: np.ndarray) -> np.ndarray:
        n, n_features = x.shape
        flat = np.ascontiguousarray(x, dtype=np.float64).ravel()
        has_nan = bool(np.isnan(flat).any())
        offsets = np.arange(n, dtype=np.intp) * n_features
        idx = np.repeat(self.roots[:, None], n, axis=1)
        for _ in range(self.steps):
            vals = flat[self.feature[idx] + offsets]
            go_right = vals > self.threshold[idx]
            if has_nan:
                missing = np.isnan(vals)
                go_right = np.where(missing, self.missing_right[idx], go_right)
            idx *= 2
            idx += go_right
            idx = self.child[idx]
        raw = self.value[idx].sum(0) + self.baseline
        return 1.0 / (1.0 + np.exp(-raw))


@dataclass
class Linear:
    """A logistic regression over standardised columns ``cols``."""

    cols: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    kind: str = "logreg"

    def predict(self, x: np.ndarray) -> np.ndarray:
        z = ((x[:, self.cols] - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-z))


@dataclass
class ModelBundle:
    """Everything the ranking service loads at start-up (no scikit-learn needed)."""

    models: dict[str, TreeEnsemble | Linear]
    hashes: dict[str, str]
    metrics: dict[str, float] = field(default_factory=dict)
    trained_in_s: float = 0.0


def export_hgb(clf: object) -> TreeEnsemble:
    """Flatten a fitted binary ``HistGradientBoostingClassifier`` into a TreeEnsemble."""
    preds = [it[0] for it in clf._predictors]  # type: ignore[attr-defined]
    feats, thr, miss, left, right, leaf, value, roots = [], [], [], [], [], [], [], []
    offset = 0
    depth = 0
    for p in preds:
        nodes = p.nodes
        roots.append(offset)
        feats.append(nodes["feature_idx"])
        thr.append(nodes["num_threshold"])
        miss.append(nodes["missing_go_to_left"].astype(bool))
        left.append(nodes["left"].astype(np.int64) + offset)
        right.append(nodes["right"].astype(np.int64) + offset)
        leaf.append(nodes["is_leaf"].astype(bool))
        value.append(nodes["value"])
        depth = max(depth, int(nodes["depth"].max()))
        offset += len(nodes)
    return TreeEnsemble(
        feature=np.concatenate(feats).astype(np.int64),
        threshold=np.concatenate(thr),
        missing_left=np.concatenate(miss),
        left=np.concatenate(left),
        right=np.concatenate(right),
        is_leaf=np.concatenate(leaf),
        value=np.concatenate(value),
        roots=np.array(roots, dtype=np.int64),
        depth=depth,
        baseline=float(np.ravel(clf._baseline_prediction)[0]),  # type: ignore[attr-defined]
    )


# --------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------


def training_matrix(
    w: World, t: FeatureTables, n_orders: int = 25_000, n_neg: int = 8, seed: int = 7
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, y, group) from sampled training orders: 1 positive + up to ``n_neg`` negatives.

    Negatives are venues of the same city that also deliver to the user's home, so the
    model learns to choose among what the user could actually have ordered.
    """
    ds = w.ds
    rng = np.random.default_rng(seed)
    train_idx = np.flatnonzero(w.train)
    pick = rng.choice(train_idx, size=min(n_orders, len(train_idx)), replace=False)
    u = ds.o_user[pick]
    city = ds.u_city[u]
    city_venues = [np.flatnonzero(ds.v_city == ci) for ci in range(len(CITIES))]
    draws = 24
    cand = np.empty((len(pick), draws), dtype=np.int64)
    for ci, vs in enumerate(city_venues):
        m = city == ci
        cand[m] = vs[rng.integers(0, len(vs), (m.sum(), draws))]
    lat = ds.u_lat[u][:, None]
    lon = ds.u_lon[u][:, None]
    d = haversine_m_pairs(
        np.broadcast_to(lat, cand.shape),
        np.broadcast_to(lon, cand.shape),
        ds.v_lat[cand],
        ds.v_lon[cand],
    )
    ok = (d <= ds.v_radius_m[cand]) & (cand != ds.o_venue[pick][:, None])
    rank = np.cumsum(ok, axis=1)
    ok &= rank <= n_neg
    rows_o, cols = np.nonzero(ok)
    neg_v = cand[rows_o, cols]
    o_all = np.concatenate([np.arange(len(pick)), rows_o])
    v_all = np.concatenate([ds.o_venue[pick], neg_v])
    y = np.concatenate([np.ones(len(pick)), np.zeros(len(neg_v))])
    o = pick[o_all]
    x = venue_features(
        w,
        t,
        ds.o_user[o].astype(np.int64),
        v_all.astype(np.int64),
        ds.u_lat[ds.o_user[o]],
        ds.u_lon[ds.o_user[o]],
        ds.o_weekday[o],
        ds.o_minute[o],
        loo_venue=ds.o_venue[o].astype(np.int64),
    )
    return x, y, o_all


def train_models(w: World) -> ModelBundle:
    """Fit both variants with scikit-learn and export them (imports sklearn lazily)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    started = time.perf_counter()
    t = feature_tables(w)
    x, y, _ = training_matrix(w, t)
    gbdt = HistGradientBoostingClassifier(
        max_iter=120, learning_rate=0.1, max_depth=6, max_leaf_nodes=31, random_state=0
    )
    gbdt.fit(x, y)
    control = export_hgb(gbdt)
    cols = np.array(TREATMENT_FEATURES)
    xs = x[:, cols]
    mean, scale = xs.mean(0), xs.std(0) + 1e-9
    lr = LogisticRegression(max_iter=500, C=1.0)
    lr.fit((xs - mean) / scale, y)
    treatment = Linear(
        cols=cols,
        mean=mean,
        scale=scale,
        coef=lr.coef_[0].copy(),
        intercept=float(lr.intercept_[0]),
    )
    models: dict[str, TreeEnsemble | Linear] = {"control": control, "treatment": treatment}
    hashes = {name: _hash_model(m) for name, m in models.items()}
    return ModelBundle(models=models, hashes=hashes, trained_in_s=time.perf_counter() - started)


def _hash_model(m: TreeEnsemble | Linear) -> str:
    h = hashlib.sha256()
    for value in vars(m).values():
        h.update(
            np.asarray(value).tobytes() if isinstance(value, np.ndarray) else repr(value).encode()
        )
    return h.hexdigest()[:8]


def model_path(w: World) -> str:
    ds = w.ds
    return str(
        cache_root()
        / "models"
        / f"ranking-data{DATASET_VERSION}-seed{ds.seed}-{ds.fingerprint[:8]}-m{MODEL_VERSION}.pkl"
    )


def load_or_train(w: World, *, retrain: bool = False) -> ModelBundle:
    """The cached bundle for this dataset, training (under a file lock) if absent."""
    from pathlib import Path

    path = Path(model_path(w))
    if path.exists() and not retrain:
        with open(path, "rb") as fh:
            return pickle.load(fh)  # type: ignore[no-any-return]
    with file_lock(path.with_suffix(".lock")):
        if path.exists() and not retrain:
            with open(path, "rb") as fh:
                return pickle.load(fh)  # type: ignore[no-any-return]
        bundle = train_models(w)
        atomic_pickle(bundle, path)
        return bundle


# --------------------------------------------------------------------------------------
# serving
# --------------------------------------------------------------------------------------


class Ranker:
    """Scores candidates of any kind; venues with the trained model of the variant.

    Everything that does not depend on the request is prepared here: id → row tables,
    the venues' static feature columns and radians, per-city popularity terms, and the
    models in their serving layout (:class:`CompiledTrees`).
    """

    def __init__(self, world: World, bundle: ModelBundle) -> None:
        self.w = world
        ds = self.ds = world.ds
        self.t = feature_tables(world)
        self.bundle = bundle
        self.item_log_pop = np.log1p(world.item_pop)
        self.data_hash = self.ds.fingerprint[:6]
        self.predictors = {
            name: (CompiledTrees(m) if isinstance(m, TreeEnsemble) else m).predict
            for name, m in bundle.models.items()
        }
        self.venue_rows = {venue_id(v): v for v in range(ds.n_venues)}
        self.item_rows = {item_id(i): i for i in range(ds.n_items)}
        self.brand_rows = {brand_id(b): b for b in range(ds.n_brands)}
        self.serving = ServingFeatures(world, self.t)
        # per city (index; None = no city): normalised log popularity of brands, categories
        self.brand_lp: dict[int | None, np.ndarray] = {}
        self.category_lp: dict[int | None, np.ndarray] = {}
        for ci in [*range(len(CITIES)), None]:
            pop = world.brand_pop_city[ci] if ci is not None else world.brand_pop_city.sum(0)
            self.brand_lp[ci] = np.log1p(pop) / (np.log1p(pop).max() + 1e-9)
            pop = world.cat_pop_city[ci] if ci is not None else world.cat_pop_city.sum(0)
            self.category_lp[ci] = np.log1p(pop) / (np.log1p(pop).max() + 1e-9)

    def _rows(
        self, ids: list[str], table: dict[str, int], prefix: str, count: int
    ) -> list[int | None]:
        """Row per id (None = unknown), as :func:`parse_id` reads it; canonical ids by table."""
        get = table.get
        return [r if (r := get(i)) is not None else parse_id(i, prefix, count) for i in ids]

    def variant(self, name: str | None) -> str:
        name = name or DEFAULT_VARIANT
        if name not in self.bundle.models:
            known = ", ".join(sorted(self.bundle.models))
            raise UnknownVariantError(f"unknown ranking variant {name!r}; known variants: {known}")
        return name

    def rank(self, req: RankRequest) -> RankResponse:
        """The answer to one ``POST /v1/rank`` request."""
        return RankResponse.model_validate(self.rank_payload(req))

    def rank_payload(self, req: RankRequest) -> dict[str, Any]:
        """:meth:`rank` as plain JSON-ready data, fields in contract order (for
        ``backends.server.json_response``: the model's bytes without the models)."""
        variant = self.variant(req.variant)
        ids = list(dict.fromkeys(req.candidate_ids))  # dedupe, keep order
        city = CITY_BY_ID.get(req.context.city or "") or city_for_location(
            req.context.location.lat, req.context.location.lon
        )
        weekday, minute = parse_local_time(req.context.local_time, city)
        u = parse_id(req.user_id, "u", self.ds.n_users)
        u_row = -1 if u is None else u
        kind = req.kind
        if kind == EntityKind.VENUE:
            scores = self._venues(ids, variant, u_row, req, weekday, minute)
            version = (
                f"venue-{self.bundle.models[variant].kind}-{variant}-{self.bundle.hashes[variant]}"
            )
        elif kind == EntityKind.ITEM:
            scores = self._items(ids, variant, u_row)
            version = f"item-popularity-{variant}-{self.data_hash}"
        elif kind == EntityKind.BRAND:
            scores = self._brands(ids, variant, u_row, city)
            version = f"brand-popularity-{variant}-{self.data_hash}"
        elif kind == EntityKind.CATEGORY:
            scores = self._categories(ids, variant, u_row, city)
            version = f"category-affinity-{variant}-{self.data_hash}"
        else:
            scores = np.full(len(ids), 0.5)
            version = f"{kind.value}-uniform-{variant}"
        return {
            "scores": [
                {"id": i, "score": round(s, 6)} for i, s in zip(ids, scores.tolist(), strict=True)
            ],
            "model_version": version,
        }

    def _venues(
        self, ids: list[str], variant: str, u: int, req: RankRequest, weekday: int, minute: int
    ) -> np.ndarray:
        rows = self._rows(ids, self.venue_rows, "v", self.ds.n_venues)
        found = [r for r in rows if r is not None]
        out = np.zeros(len(ids))
        if not found:
            return out
        x = self.serving.venues(
            u,
            np.array(found, dtype=np.int64),
            req.context.location.lat,
            req.context.location.lon,
            weekday,
            minute,
        )
        scores = self.predictors[variant](x)
        if len(found) == len(ids):
            return scores
        out[[r is not None for r in rows]] = scores
        return out

    def _items(self, ids: list[str], variant: str, u: int) -> np.ndarray:
        rows = self._rows(ids, self.item_rows, "i", self.ds.n_items)
        known = np.array([r is not None for r in rows], dtype=bool)
        out = np.zeros(len(ids))
        if not known.any():
            return out
        it = np.array([r for r in rows if r is not None], dtype=np.int64)
        pop = self.item_log_pop[it] / (self.item_log_pop[it].max() + 1e-9)
        mine = np.log1p(self.w.user_item_count(u, it)) if u >= 0 else np.zeros(len(it))
        main = self.ds.it_role[it] == 0
        wp, wm = (0.6, 0.4) if variant == "control" else (0.8, 0.2)
        out[known] = (wp * pop + wm * np.minimum(mine, 1.0) + 0.05 * main) / (wp + wm + 0.05)
        return out

    def _brands(self, ids: list[str], variant: str, u: int, city: object) -> np.ndarray:
        ds = self.ds
        rows = self._rows(ids, self.brand_rows, "b", ds.n_brands)
        lp = self.brand_lp[_city_index(city)]
        mine = np.log1p(self.t.user_brand[u, : ds.n_brands]) if u >= 0 else np.zeros(ds.n_brands)
        wm = 0.5 if variant == "control" else 0.3
        score = ((1 - wm) * lp + wm * np.minimum(mine, 1.0)).tolist()
        return np.array([score[r] if r is not None else 0.0 for r in rows])

    def _categories(self, ids: list[str], variant: str, u: int, city: object) -> np.ndarray:
        lp = self.category_lp[_city_index(city)]
        aff = self.w.user_affinity(u if u >= 0 and self.w.user_n[u] > 0 else None)
        aff = aff / aff.max()
        wa = 0.6 if variant == "control" else 0.4
        score = ((1 - wa) * lp + wa * aff).tolist()
        at = CATEGORY_INDEX.get
        return np.array([score[c] if (c := at(i)) is not None else 0.0 for i in ids])


def _city_index(city: object) -> int | None:
    return next((k for k, c in enumerate(CITIES) if c is city), None)


class ServingFeatures:
    """:func:`venue_features` for one request: one viewer, place and time, many venues.

    The same numbers as the general function (the same operations on the same dtypes, the
    viewer's terms computed once instead of once per row), with the venues' static columns
    and radians prepared at start-up. ``tests/backends/test_ranking.py`` checks it against
    :func:`venue_features` bit for bit.
    """

    def __init__(self, w: World, t: FeatureTables) -> None:
        ds = w.ds
        self.w, self.t, self.ds = w, t, ds
        self.static = np.zeros((ds.n_venues, len(FEATURES)), dtype=np.float64)
        self.static[:, 6] = ds.v_rating
        self.static[:, 7] = t.log_pop
        self.static[:, 11] = ds.v_delivery_min
        self.static[:, 12] = ds.v_price
        self.has_brand = ds.v_brand >= 0
        self.brand_col = np.where(self.has_brand, ds.v_brand, ds.n_brands)
        self.lat_rad = np.radians(ds.v_lat)
        self.cos_lat = np.cos(self.lat_rad)
        self.mean_price = np.float32(t.mean_price)  # np.where made it float32 in the arrays
        self.zero32 = np.float32(0.0)
        self.no_cats = np.zeros(w.user_cat.shape[1], dtype=w.user_cat.dtype)

    def venues(
        self, u: int, v: np.ndarray, lat: float, lon: float, weekday: int, minute: int
    ) -> np.ndarray:
        """Feature matrix of venue rows ``v`` for user row ``u`` (-1 = anonymous)."""
        w, t, ds = self.w, self.t, self.ds
        n = len(v)
        if u >= 0:
            uc = w.user_cat[u]
            un = np.maximum(w.user_n[u], 0)
            uv = w.user_venue[u, v]
            ub = t.user_brand[u, self.brand_col[v]]
            ps = t.user_price_sum[u]
        else:
            uc, un, ps = self.no_cats, self.zero32, self.zero32
            uv = ub = np.zeros(n, dtype=np.float32)
        aff = (uc + 2.0 * w.cat_share) / (un + 2.0)
        has_brand = self.has_brand[v]
        brand_other = np.where(has_brand, np.maximum(ub - uv, 0), 0.0)
        user_price = ps / np.maximum(un, 1) if un > 0 else self.mean_price
        # haversine_m_pairs with the viewer's side computed once
        p1 = np.radians(lat)
        a = (
            np.sin((self.lat_rad[v] - p1) / 2) ** 2
            + np.cos(p1) * self.cos_lat[v] * np.sin(np.radians(ds.v_lon[v] - lon) / 2) ** 2
        )
        dist = 2 * 6_371_000.0 * np.arcsin(np.sqrt(np.minimum(a, 1.0)))
        bucket = int(time_bucket(minute))
        slot = weekday * 96 + minute // 15
        x = self.static[v]
        x[:, 0] = (ds.v_cats[v] * aff).max(1)
        x[:, 1] = np.log1p(np.maximum(uv, 0))
        x[:, 2] = np.log1p(brand_other)
        x[:, 3] = np.abs(ds.v_price[v] - user_price)
        x[:, 4] = dist / 1000
        x[:, 5] = dist / ds.v_radius_m[v]
        x[:, 8] = w.venue_bucket[v, bucket]
        x[:, 9] = ds.v_open[v, slot]
        x[:, 10] = np.log1p(un)
        return x


@functools.cache
def get_ranker() -> Ranker:
    w = get_world()
    return Ranker(w, load_or_train(w))


# --------------------------------------------------------------------------------------
# offline evaluation on the held-out orders
# --------------------------------------------------------------------------------------


def evaluate(ranker: Ranker, n: int = 1500, k: int = 10, seed: int = 3) -> dict[str, float]:
    """Hit rate@k of the held-out venue among the open venues delivering to the user.

    Compares each model variant with the popularity baseline (decayed order counts) on
    test-split orders of users with training history.
    """
    w, ds = ranker.w, ranker.ds
    idx = np.flatnonzero(ds.o_test & (w.user_n[ds.o_user] > 0))
    idx = np.random.default_rng(seed).choice(idx, size=min(n, len(idx)), replace=False)
    hits = {"popularity": 0.0, **{name: 0.0 for name in ranker.bundle.models}}
    used = 0
    for o in idx:
        u = int(ds.o_user[o])
        d = haversine_m(ds.u_lat[u], ds.u_lon[u], ds.v_lat, ds.v_lon)
        slot = week_slot(int(ds.o_weekday[o]), int(ds.o_minute[o]))
        cand = np.flatnonzero((d <= ds.v_radius_m) & ds.v_open[:, slot])
        target = int(ds.o_venue[o])
        if target not in cand or len(cand) <= k:
            continue
        used += 1
        pos = int(np.flatnonzero(cand == target)[0])
        hits["popularity"] += _hit(w.venue_pop[cand], pos, k)
        m = len(cand)
        x = venue_features(
            w,
            ranker.t,
            np.full(m, u, dtype=np.int64),
            cand,
            np.full(m, ds.u_lat[u]),
            np.full(m, ds.u_lon[u]),
            np.full(m, int(ds.o_weekday[o])),
            np.full(m, int(ds.o_minute[o])),
        )
        for name, model in ranker.bundle.models.items():
            hits[name] += _hit(model.predict(x), pos, k)
    return {name: h / max(used, 1) for name, h in hits.items()} | {"n": float(used)}


def _hit(scores: np.ndarray, pos: int, k: int) -> float:
    return float((scores > scores[pos]).sum() < k)


def items_per_venue() -> int:
    return ITEMS_PER_VENUE

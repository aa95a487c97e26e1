"""Candidate generation: one function per :class:`RetrievalStrategy`, over numpy arrays.

Every venue strategy first restricts to venues that *deliver to the location* (distance
within the venue's delivery radius). Open-now is a soft signal: closed venues stay in the
list with a score below every open one, because the gateway shows them last rather than
hiding them. Venue scores are in [0, 1]: open venues in (0.5, 1], closed in [0, 0.5].

Unknown categories, venues or users are not errors: they yield empty (or anonymous)
results, since the gateway falls back on its own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from backends.dataset import (
    CATEGORY_INDEX,
    CATEGORY_NAMES,
    CATEGORY_SLUGS,
    CITIES,
    DATASET_VERSION,
    ITEMS_PER_VENUE,
    NEW_VENUE_DAYS,
    GeoIndex,
    brand_id,
    item_id,
    local_datetime,
    parse_id,
    venue_id,
)
from backends.world import World, city_for_location, get_world, parse_local_time, week_slot
from clients.contracts import CandidatesRequest, CandidatesResponse, RetrievalStrategy

#: One candidate as it goes on the wire: ``{"id", "score", "reason"}`` (validated into
#: :class:`clients.contracts.Candidate` once per response, not one constructor call each).
CandidateDict = dict[str, Any]
#: Reasons of the selected candidates, given their positions in the strategy's arrays.
Reasons = Callable[[np.ndarray], Sequence[str | None]]


def _norm(x: np.ndarray) -> np.ndarray:
    """Min-max to [0, 1] (all-equal → 0.5) so signals of different scale can be mixed."""
    if len(x) == 0:
        return x
    lo, hi = float(x.min()), float(x.max())
    return np.full(len(x), 0.5) if hi - lo < 1e-12 else (x - lo) / (hi - lo)


class Retrieval:
    """Candidate generators over one :class:`World`.

    What does not depend on the request is prepared here once: ids and reason texts per
    row, the venues' coordinates for distances, each user's training orders. A request then
    scores every deliverable venue with numpy and writes ids and reasons only for the
    ``limit`` it returns.
    """

    def __init__(self, world: World) -> None:
        self.w = world
        ds = world.ds
        self.ds = ds
        self.source_version = f"retrieval-v1-data{DATASET_VERSION}-{ds.fingerprint[:8]}"
        self.log_pop = _norm(np.log1p(world.venue_pop))
        self.rating = _norm(ds.v_rating.astype(float))
        self.geo = GeoIndex(ds.v_lat, ds.v_lon)
        self.venue_ids = [venue_id(v) for v in range(ds.n_venues)]
        self.ordered_from_venue = [f"Because you ordered from {n}" for n in ds.v_name]
        self.ordered_from_brand = [f"Because you ordered from {n}" for n in ds.b_name]
        self.you_like = [f"Because you like {CATEGORY_NAMES[s]}" for s in CATEGORY_SLUGS]
        self.has_brand = np.flatnonzero(ds.v_brand >= 0)
        # training orders grouped by user (time order kept within a user)
        train_orders = np.flatnonzero(world.train)
        self.user_orders = train_orders[np.argsort(ds.o_user[train_orders], kind="stable")]
        self.user_orders_at = np.searchsorted(
            ds.o_user[self.user_orders], np.arange(ds.n_users + 1)
        )
        # training orders per (user, brand); the last column counts unbranded venues. Sums
        # of whole numbers, so exactly what adding them up per request gave.
        users, venues = np.nonzero(world.user_venue)
        self.user_brand_orders = np.zeros((ds.n_users, ds.n_brands + 1))
        np.add.at(
            self.user_brand_orders, (users, ds.v_brand[venues]), world.user_venue[users, venues]
        )
        self._deliverable_at = functools.lru_cache(maxsize=1024)(self._deliverable_uncached)

    # -- shared helpers
    def _user(self, user_id: str | None) -> int | None:
        """User row if known *and* with training history (new users act as anonymous)."""
        u = parse_id(user_id, "u", self.ds.n_users)
        return u if u is not None and self.w.user_n[u] > 0 else None

    def _deliverable(self, lat: float, lon: float) -> tuple[np.ndarray, np.ndarray]:
        """(venue rows delivering to the point, their distances in metres), read-only.

        Memoised per point: a page's batch asks for several strategies at one location.
        """
        return self._deliverable_at(float(lat), float(lon))

    def _deliverable_uncached(self, lat: float, lon: float) -> tuple[np.ndarray, np.ndarray]:
        d = self.geo.distances_m(lat, lon)
        rows = np.flatnonzero(d <= self.ds.v_radius_m)
        dist = d[rows]
        rows.flags.writeable = False
        dist.flags.writeable = False
        return rows, dist

    def _open(self, rows: np.ndarray, req: CandidatesRequest) -> np.ndarray:
        city = city_for_location(req.location.lat, req.location.lon)
        weekday, minute = parse_local_time(req.local_time, city)
        return self.ds.v_open[rows, week_slot(weekday, minute)]

    def _taste(self, u: int | None, rows: np.ndarray) -> np.ndarray:
        """How well each venue matches the user's cuisine history (population if anon)."""
        aff = self.w.user_affinity(u)
        return (self.ds.v_cats[rows] * aff).max(1)

    def _finish(
        self,
        rows: np.ndarray,
        base: np.ndarray,
        is_open: np.ndarray,
        reasons: Reasons,
        limit: int,
    ) -> list[CandidateDict]:
        """Open in (0.5, 1], closed in [0, 0.5]; best first; ties by id for stability.

        ``reasons`` is asked only for the positions that make the cut.
        """
        score = np.where(is_open, 0.5 + 0.5 * base, 0.5 * base)
        order = np.lexsort((rows, -score))[:limit]
        ids = self.venue_ids
        return [
            {"id": ids[r], "score": round(s, 6), "reason": why}
            for r, s, why in zip(
                rows[order].tolist(), score[order].tolist(), reasons(order), strict=True
            )
        ]

    # -- strategies
    def candidates(self, req: CandidatesRequest) -> CandidatesResponse:
        """The answer to one ``POST /v1/candidates`` request."""
        return CandidatesResponse.model_validate(self.candidates_payload(req))

    def candidates_payload(self, req: CandidatesRequest) -> dict[str, Any]:
        """:meth:`candidates` as plain JSON-ready data, fields in contract order: what
        ``backends.server.json_response`` writes is the very bytes the model would serialise
        to, without building a model per candidate."""
        handler = {
            RetrievalStrategy.FOR_YOU: self.for_you,
            RetrievalStrategy.ORDER_AGAIN: self.order_again,
            RetrievalStrategy.NEW: self.new,
            RetrievalStrategy.NEARBY: self.nearby,
            RetrievalStrategy.CATEGORY: self.category,
            RetrievalStrategy.CO_PURCHASE: self.co_purchase,
            RetrievalStrategy.VENUE_ITEMS: self.venue_items,
            RetrievalStrategy.BRANDS: self.brands,
            RetrievalStrategy.CATEGORIES: self.categories,
        }[req.strategy]
        return {"candidates": handler(req), "source_version": self.source_version}

    def for_you(self, req: CandidatesRequest) -> list[CandidateDict]:
        """Taste x quality x popularity for known users; broadly good venues otherwise."""
        rows, dist = self._deliverable(req.location.lat, req.location.lon)
        if len(rows) == 0:
            return []
        u = self._user(req.user_id)
        is_open = self._open(rows, req)
        ds = self.ds
        if u is None:
            base = 0.6 * self.log_pop[rows] + 0.4 * self.rating[rows]
            popular = self.log_pop[rows] > 0.7

            def anonymous(order: np.ndarray) -> list[str | None]:
                return [
                    "Popular near you" if p else "Highly rated" for p in popular[order].tolist()
                ]

            return self._finish(rows, _norm(base), is_open, anonymous, req.limit)
        taste = _norm(self._taste(u, rows))
        ordered = self.w.user_venue[u, rows]
        same_brand = self._brand_orders(u, rows)
        base = (
            0.45 * taste
            + 0.2 * self.log_pop[rows]
            + 0.15 * self.rating[rows]
            + 0.15 * _norm(np.log1p(ordered + same_brand))
            - 0.05 * _norm(dist)
        )
        aff = self.w.user_affinity(u)

        def known(order: np.ndarray) -> list[str | None]:
            picked = rows[order]
            liked = np.argmax(ds.v_cats[picked] * aff, axis=1).tolist()
            out: list[str | None] = []
            for r, o, b, c in zip(
                picked.tolist(),
                (ordered[order] > 0).tolist(),
                (same_brand[order] > 0).tolist(),
                liked,
                strict=True,
            ):
                if o:
                    out.append(self.ordered_from_venue[r])
                elif b:
                    out.append(self.ordered_from_brand[ds.v_brand[r]])
                else:
                    out.append(self.you_like[c])
            return out

        return self._finish(rows, _norm(base), is_open, known, req.limit)

    def _brand_orders(self, u: int, rows: np.ndarray) -> np.ndarray:
        """Orders of user ``u`` at *other* venues of the same brand as each row."""
        b = self.ds.v_brand[rows]
        counts = self.user_brand_orders[u]
        return np.where(b >= 0, counts[b] - self.w.user_venue[u, rows], 0.0)

    def order_again(self, req: CandidatesRequest) -> list[CandidateDict]:
        """Venues the user ordered from (by frequency and recency) that deliver here."""
        u = self._user(req.user_id)
        if u is None:
            return []
        rows, _ = self._deliverable(req.location.lat, req.location.lon)
        counts = self.w.user_venue[u, rows]
        rows, counts = rows[counts > 0], counts[counts > 0]
        if len(rows) == 0:
            return []
        ds = self.ds
        mine = self.user_orders[self.user_orders_at[u] : self.user_orders_at[u + 1]]
        last = np.full(ds.n_venues, 10_000)
        np.minimum.at(last, ds.o_venue[mine], ds.o_day_back[mine])
        recency = 1.0 / (1.0 + last[rows] / 14.0)
        base = _norm(0.6 * _norm(np.log1p(counts)) + 0.4 * recency)

        def times(order: np.ndarray) -> list[str | None]:
            return [
                f"You ordered here {int(c)} times" if c > 1 else "You ordered here before"
                for c in counts[order].tolist()
            ]

        return self._finish(rows, base, self._open(rows, req), times, req.limit)

    def new(self, req: CandidatesRequest) -> list[CandidateDict]:
        """Venues created in the last 30 days, by freshness, quality and taste."""
        rows, _ = self._deliverable(req.location.lat, req.location.lon)
        rows = rows[self.ds.v_created_days[rows] < NEW_VENUE_DAYS]
        if len(rows) == 0:
            return []
        fresh = 1 - self.ds.v_created_days[rows] / NEW_VENUE_DAYS
        u = self._user(req.user_id)
        base = 0.3 * fresh + 0.3 * self.rating[rows] + 0.4 * _norm(self._taste(u, rows))
        return self._finish(rows, _norm(base), self._open(rows, req), _new_on_the_app, req.limit)

    def nearby(self, req: CandidatesRequest) -> list[CandidateDict]:
        """Closest deliverable venues first."""
        rows, dist = self._deliverable(req.location.lat, req.location.lon)
        if len(rows) == 0:
            return []
        base = 1 - dist / max(float(dist.max()), 1.0)

        def away(order: np.ndarray) -> list[str | None]:
            return [f"{d / 1000:.1f} km away" for d in dist[order].tolist()]

        return self._finish(rows, base, self._open(rows, req), away, req.limit)

    def category(self, req: CandidatesRequest) -> list[CandidateDict]:
        """Deliverable venues of ``category``; unknown/missing category → empty."""
        c = CATEGORY_INDEX.get(req.category or "")
        if c is None:
            return []
        rows, dist = self._deliverable(req.location.lat, req.location.lon)
        keep = self.ds.v_cats[rows, c]
        rows, dist = rows[keep], dist[keep]
        if len(rows) == 0:
            return []
        u = self._user(req.user_id)
        ordered = self.w.user_venue[u, rows] if u is not None else np.zeros(len(rows))
        base = (
            0.45 * self.log_pop[rows]
            + 0.3 * self.rating[rows]
            + 0.15 * _norm(np.log1p(ordered))
            + 0.1 * (1 - _norm(dist))
        )
        popular_in = f"Popular in {CATEGORY_NAMES[CATEGORY_SLUGS[c]]}"

        def ordered_or_popular(order: np.ndarray) -> list[str | None]:
            return [
                self.ordered_from_venue[r] if o else popular_in
                for r, o in zip(rows[order].tolist(), (ordered[order] > 0).tolist(), strict=True)
            ]

        return self._finish(rows, _norm(base), self._open(rows, req), ordered_or_popular, req.limit)

    def co_purchase(self, req: CandidatesRequest) -> list[CandidateDict]:
        """Items bought together with the cart's items, same venue, never the cart items.

        Scored by co-occurrence lift-ish counts summed over the cart; the venue's other
        popular items fill the remainder with lower scores so the carousel is not empty
        for an unusual cart.
        """
        ds = self.ds
        cart = [
            i for i in (parse_id(x, "i", ds.n_items) for x in req.cart_item_ids) if i is not None
        ]
        v = parse_id(req.venue_id, "v", ds.n_venues)
        if v is None and cart:
            v = int(ds.it_venue[cart[0]])
        if v is None:
            return []
        venue_items = np.arange(v * ITEMS_PER_VENUE, (v + 1) * ITEMS_PER_VENUE)
        score = np.zeros(ITEMS_PER_VENUE)
        because: list[int] = [-1] * ITEMS_PER_VENUE
        best = np.zeros(ITEMS_PER_VENUE)
        for ci in cart:
            if ds.it_venue[ci] != v:
                continue
            others, counts = self.w.co_items(ci)
            same = ds.it_venue[others] == v
            others, counts = others[same], counts[same]
            denom = np.sqrt(self.w.item_pop[ci] + 1.0) * np.sqrt(self.w.item_pop[others] + 1.0)
            s = counts / denom
            off = others - v * ITEMS_PER_VENUE
            score[off] += s
            for o, val in zip(off.tolist(), s.tolist(), strict=True):
                if val > best[o]:
                    best[o], because[o] = val, ci
        pop = _norm(np.log1p(self.w.item_pop[venue_items]))
        final = np.where(score > 0, 0.5 + 0.5 * _norm(score), 0.4 * pop)
        in_cart = np.isin(venue_items, np.array(cart, dtype=np.int64))
        keep = np.flatnonzero(~in_cart)
        keep = keep[np.lexsort((keep, -final[keep]))][: req.limit]
        out: list[CandidateDict] = []
        for k, s in zip(keep.tolist(), final[keep].tolist(), strict=True):
            if because[k] >= 0:
                reason = f"Popular with people who bought {ds.it_name[because[k]]}"
            else:
                reason = f"Popular at {ds.v_name[v]}"
            out.append(
                {"id": item_id(v * ITEMS_PER_VENUE + k), "score": round(s, 6), "reason": reason}
            )
        return out

    def venue_items(self, req: CandidatesRequest) -> list[CandidateDict]:
        """Items of ``venue_id``: popular ones, boosted by the user's own past purchases."""
        ds = self.ds
        v = parse_id(req.venue_id, "v", ds.n_venues)
        if v is None:
            return []
        items = np.arange(v * ITEMS_PER_VENUE, (v + 1) * ITEMS_PER_VENUE)
        pop = _norm(np.log1p(self.w.item_pop[items]))
        u = self._user(req.user_id)
        mine = self.w.user_item_count(u, items) if u is not None else np.zeros(len(items))
        score = _norm(0.6 * pop + 0.4 * _norm(np.log1p(mine)) + 0.05 * (ds.it_role[items] == 0))
        order = np.lexsort((items, -score))[: req.limit]
        return [
            {
                "id": item_id(i),
                "score": round(s, 6),
                "reason": "You ordered this before" if m else ("Popular" if p else None),
            }
            for i, s, m, p in zip(
                items[order].tolist(),
                score[order].tolist(),
                (mine[order] > 0).tolist(),
                (pop[order] > 0.6).tolist(),
                strict=True,
            )
        ]

    def brands(self, req: CandidatesRequest) -> list[CandidateDict]:
        """Brands with at least one venue delivering here, by popularity and the user."""
        ds = self.ds
        rows, _ = self._deliverable(req.location.lat, req.location.lon)
        rows = rows[ds.v_brand[rows] >= 0]
        if len(rows) == 0:
            return []
        rb = ds.v_brand[rows]
        brands = np.unique(rb)
        # bincount adds in input order, as np.add.at did: the same sums
        pop = np.bincount(rb, weights=self.w.venue_pop[rows], minlength=ds.n_brands)
        u = self._user(req.user_id)
        mine = np.zeros(ds.n_brands)
        if u is not None:
            has = self.has_brand
            mine = np.bincount(
                ds.v_brand[has], weights=self.w.user_venue[u, has], minlength=ds.n_brands
            )
        score = _norm(0.6 * _norm(np.log1p(pop[brands])) + 0.4 * _norm(np.log1p(mine[brands])))
        order = np.lexsort((brands, -score))[: req.limit]
        picked = brands[order]
        return [
            {
                "id": brand_id(b),
                "score": round(s, 6),
                "reason": self.ordered_from_brand[b] if m else None,
            }
            for b, s, m in zip(
                picked.tolist(), score[order].tolist(), (mine[picked] > 0).tolist(), strict=True
            )
        ]

    def categories(self, req: CandidatesRequest) -> list[CandidateDict]:
        """Category slugs with deliverable venues, by the user's taste and local demand."""
        ds = self.ds
        rows, _ = self._deliverable(req.location.lat, req.location.lon)
        if len(rows) == 0:
            return []
        present = np.flatnonzero(ds.v_cats[rows].any(0))
        local = self.w.venue_pop[rows] @ ds.v_cats[rows]
        u = self._user(req.user_id)
        aff = self.w.user_affinity(u)
        score = _norm(0.5 * _norm(np.log1p(local[present])) + 0.5 * _norm(aff[present]))
        order = np.lexsort((present, -score))[: req.limit]
        picked = present[order]
        liked = (
            (self.w.user_cat[u, picked] > 0).tolist() if u is not None else [False] * len(picked)
        )
        return [
            {
                "id": CATEGORY_SLUGS[c],
                "score": round(s, 6),
                "reason": self.you_like[c] if k else None,
            }
            for c, s, k in zip(picked.tolist(), score[order].tolist(), liked, strict=True)
        ]

    # -- demo-only: held-out orders for the gateway's offline evaluation
    def holdout(self, limit: int) -> list[dict[str, object]]:
        """Held-out (test split) orders of users with training history, shuffled by seed."""
        ds = self.ds
        idx = np.flatnonzero(ds.o_test & (self.w.user_n[ds.o_user] > 0))
        idx = idx[np.random.default_rng(ds.seed).permutation(len(idx))][:limit]
        out: list[dict[str, object]] = []
        for o in idx:
            u = int(ds.o_user[o])
            city = CITIES[ds.u_city[u]]
            t = local_datetime(city, int(ds.o_day_back[o]), int(ds.o_minute[o]))
            out.append(
                {
                    "user_id": f"u{u + 1:04d}",
                    "city": city.id,
                    "location": {
                        "lat": round(float(ds.u_lat[u]), 6),
                        "lon": round(float(ds.u_lon[u]), 6),
                    },
                    "local_time": t.isoformat(),
                    "venue_id": venue_id(int(ds.o_venue[o])),
                }
            )
        return out


def _new_on_the_app(order: np.ndarray) -> list[str | None]:
    return ["New on the app"] * len(order)


@functools.cache
def get_retrieval() -> Retrieval:
    return Retrieval(get_world())

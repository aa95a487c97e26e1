"""What the backends *learn* from the training split, plus geo/time helpers they share.

Only orders outside the held-out test split feed these statistics, so evaluating on the
held-out orders measures generalisation, not memorisation. Everything is a handful of
``bincount``/``unique`` calls over the training orders, cheap enough to recompute in each
process instead of caching yet another file (decision 0015, "Figures").
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from backends.dataset import (
    CATEGORY_SLUGS,
    CITIES,
    SLOT_MINUTES,
    SLOTS_PER_DAY,
    City,
    Dataset,
    get_dataset,
    haversine_m,
)

#: Popularity half-life in days (time-decayed order counts).
HALF_LIFE_DAYS = 14.0


class BadLocalTimeError(ValueError):
    """``local_time`` is not ISO 8601; the apps turn this into a 422."""


def time_bucket(minute: np.ndarray | int) -> np.ndarray:
    """0 = lunch (10-15 h), 1 = dinner (15-22 h), 2 = late night / other."""
    m = np.asarray(minute)
    return np.where((m >= 600) & (m < 900), 0, np.where((m >= 900) & (m < 1320), 1, 2))


def city_for_location(lat: float, lon: float) -> City | None:
    """The market a point belongs to (nearest centre within radius + 10 km), else None.

    Memoised per point: every strategy of a retrieval batch and every rank call of a page
    asks for the same viewer's location.
    """
    return _city_for_location(float(lat), float(lon))


@functools.lru_cache(maxsize=8192)
def _city_for_location(lat: float, lon: float) -> City | None:
    best: City | None = None
    best_d = float("inf")
    for city in CITIES:
        d = float(haversine_m(lat, lon, np.array([city.lat]), np.array([city.lon]))[0])
        if d <= (city.radius_km + 10) * 1000 and d < best_d:
            best, best_d = city, d
    return best


def parse_local_time(value: str | None, city: City | None) -> tuple[int, int]:
    """(weekday, minute of day) in the city's wall clock; ``None`` means now.

    A time with another offset is converted to the city's zone so a UTC timestamp still
    answers "is it open *there*"; a naive time is taken as the city's wall clock.
    """
    if value is None:
        dt = datetime.now(ZoneInfo(city.timezone) if city else None)
        return dt.weekday(), dt.hour * 60 + dt.minute
    return _parse_local_time(value, city.timezone if city else None)


@functools.lru_cache(maxsize=8192)
def _parse_local_time(value: str, timezone: str | None) -> tuple[int, int]:
    """:func:`parse_local_time` of a given text: a pure function of (text, zone), memoised
    (a page's calls all carry the same local time)."""
    try:
        dt = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadLocalTimeError(f"local_time is not ISO 8601: {value!r}") from exc
    if dt.tzinfo is not None and timezone is not None:
        dt = dt.astimezone(ZoneInfo(timezone))
    return dt.weekday(), dt.hour * 60 + dt.minute


def week_slot(weekday: int, minute: int) -> int:
    return weekday * SLOTS_PER_DAY + minute // SLOT_MINUTES


@dataclass
class World:
    """Dataset plus training-split statistics; one per process via :func:`get_world`."""

    ds: Dataset
    train: np.ndarray  # bool per order
    order_weight: np.ndarray  # time-decay weight per order (0 for test orders)
    venue_pop: np.ndarray  # decayed order counts per venue
    item_pop: np.ndarray  # decayed counts per item
    brand_pop_city: np.ndarray  # (n_cities, n_brands)
    cat_pop_city: np.ndarray  # (n_cities, n_categories)
    user_venue: np.ndarray  # (n_users, n_venues) float32 training order counts
    user_cat: np.ndarray  # (n_users, n_categories) counts of ordered venue categories
    user_n: np.ndarray  # training orders per user
    user_price: np.ndarray  # mean price level ordered (population mean if none)
    user_bucket: np.ndarray  # (n_users, 3) share of orders per time bucket (smoothed)
    venue_bucket: np.ndarray  # (n_venues, 3) share of orders per time bucket (smoothed)
    user_item_keys: np.ndarray  # sorted u * n_items + i of training purchases
    user_item_counts: np.ndarray
    cooc_keys: np.ndarray  # sorted a * n_items + b, a != b, bought in one order
    cooc_counts: np.ndarray
    cat_share: np.ndarray  # global share of orders per category

    def user_item_count(self, u: int, items: np.ndarray) -> np.ndarray:
        """How often user ``u`` bought each of ``items`` in training."""
        keys = u * self.ds.n_items + items.astype(np.int64)
        pos = np.searchsorted(self.user_item_keys, keys)
        pos = np.minimum(pos, len(self.user_item_keys) - 1)
        hit = self.user_item_keys[pos] == keys
        return np.where(hit, self.user_item_counts[pos], 0)

    def co_items(self, item: int) -> tuple[np.ndarray, np.ndarray]:
        """Items bought together with ``item`` and how often (training baskets)."""
        n = self.ds.n_items
        lo = np.searchsorted(self.cooc_keys, item * n)
        hi = np.searchsorted(self.cooc_keys, (item + 1) * n)
        return self.cooc_keys[lo:hi] - item * n, self.cooc_counts[lo:hi]

    def user_affinity(self, u: int | None) -> np.ndarray:
        """Smoothed category preference of a user (the population's for anonymous/new)."""
        prior = 2.0
        if u is None:
            return self.cat_share
        return (self.user_cat[u] + prior * self.cat_share) / (self.user_n[u] + prior)


def build_world(ds: Dataset) -> World:
    """Compute the training statistics of ``ds`` (see :class:`World`)."""
    train = ~ds.o_test
    nv, ni, nu = ds.n_venues, ds.n_items, ds.n_users
    n_cat = len(CATEGORY_SLUGS)
    last_train_day = int(ds.o_day_back[train].min())
    w = 0.5 ** ((ds.o_day_back - last_train_day) / HALF_LIFE_DAYS)
    w = np.where(train, w, 0.0)
    venue_pop = np.bincount(ds.o_venue, weights=w, minlength=nv)
    line_w = w[ds.ol_order]
    item_pop = np.bincount(ds.ol_item, weights=line_w, minlength=ni)
    n_cities = len(CITIES)
    vb = ds.v_brand
    has_b = vb >= 0
    brand_pop_city = np.zeros((n_cities, ds.n_brands))
    np.add.at(brand_pop_city, (ds.v_city[has_b], vb[has_b]), venue_pop[has_b])
    cat_pop_city = np.zeros((n_cities, n_cat))
    for ci in range(n_cities):
        m = ds.v_city == ci
        cat_pop_city[ci] = venue_pop[m] @ ds.v_cats[m]

    tu, tv = ds.o_user[train], ds.o_venue[train]
    user_venue = (
        np.bincount(tu.astype(np.int64) * nv + tv, minlength=nu * nv)
        .reshape(nu, nv)
        .astype(np.float32)
    )
    user_cat = user_venue @ ds.v_cats.astype(np.float32)
    user_n = user_venue.sum(1)
    price_sum = user_venue @ ds.v_price.astype(np.float32)
    mean_price = float(ds.v_price[tv].mean())
    user_price = np.where(user_n > 0, price_sum / np.maximum(user_n, 1), mean_price)
    bucket = time_bucket(ds.o_minute[train])
    ub = np.bincount(tu * 3 + bucket, minlength=nu * 3).reshape(nu, 3).astype(float)
    global_b = ub.sum(0) / ub.sum()
    user_bucket = (ub + 2 * global_b) / (ub.sum(1, keepdims=True) + 2)
    vbk = np.bincount(tv * 3 + bucket, minlength=nv * 3).reshape(nv, 3).astype(float)
    venue_bucket = (vbk + 3 * global_b) / (vbk.sum(1, keepdims=True) + 3)

    line_train = train[ds.ol_order]
    lo, li = ds.ol_order[line_train], ds.ol_item[line_train]
    ukeys = ds.o_user[lo].astype(np.int64) * ni + li
    user_item_keys, user_item_counts = np.unique(ukeys, return_counts=True)
    a_l, b_l = [], []
    for k in range(1, 6):
        same = lo[:-k] == lo[k:]
        a, b = li[:-k][same], li[k:][same]
        keep = a != b
        a_l += [a[keep], b[keep]]
        b_l += [b[keep], a[keep]]
    ckeys = np.concatenate(a_l).astype(np.int64) * ni + np.concatenate(b_l)
    cooc_keys, cooc_counts = np.unique(ckeys, return_counts=True)
    cat_share = user_cat.sum(0) + 1.0
    cat_share = cat_share / cat_share.sum()
    return World(
        ds=ds,
        train=train,
        order_weight=w,
        venue_pop=venue_pop,
        item_pop=item_pop,
        brand_pop_city=brand_pop_city,
        cat_pop_city=cat_pop_city,
        user_venue=user_venue,
        user_cat=user_cat,
        user_n=user_n,
        user_price=user_price,
        user_bucket=user_bucket,
        venue_bucket=venue_bucket,
        user_item_keys=user_item_keys,
        user_item_counts=user_item_counts,
        cooc_keys=cooc_keys,
        cooc_counts=cooc_counts,
        cat_share=cat_share,
    )


@functools.cache
def get_world() -> World:
    """Process-wide world over the cached dataset."""
    return build_world(get_dataset())

"""The demo world is deterministic per seed and has the shape the gateway relies on."""

from __future__ import annotations

import numpy as np

from backends.dataset import CITIES, N_NEW_USERS, generate, get_dataset
from backends.world import get_world


def test_same_seed_same_world_other_seed_differs() -> None:
    a, b, c = generate(11), generate(11), generate(12)
    assert a.fingerprint == b.fingerprint
    assert np.array_equal(a.o_venue, b.o_venue)
    assert a.fingerprint != c.fingerprint


def test_shape_of_the_demo_world() -> None:
    ds = get_dataset()
    assert [c.id for c in CITIES] == ["helsinki", "stockholm", "tallinn"]
    assert ds.n_users == 5000
    assert ds.n_items == 25 * ds.n_venues
    users_with_orders = np.unique(ds.o_user)
    assert users_with_orders.max() < ds.n_users - N_NEW_USERS  # u4901…u5000 are new
    assert 0.08 < ds.o_test.mean() < 0.12
    # held-out orders are the most recent ones
    ts = ds.o_ts
    assert ts[ds.o_test].min() >= ts[~ds.o_test].max()
    assert (ds.v_created_days < 30).any()
    assert (ds.v_radius_m >= 2000).all()
    assert (ds.v_radius_m <= 8000).all()
    assert ds.v_brand.max() > 0
    assert len({int(c) for c in ds.v_city[ds.v_brand == ds.v_brand.max()]}) >= 1


def test_world_learns_only_from_training_split() -> None:
    w = get_world()
    ds = w.ds
    assert w.user_venue.sum() == (~ds.o_test).sum()

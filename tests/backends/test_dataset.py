"""The demo world is deterministic per seed and has the shape the gateway relies on."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from backends.dataset import CITIES, N_NEW_USERS, GeoIndex, generate, get_dataset, haversine_m
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


_VENUES = GeoIndex(get_dataset().v_lat, get_dataset().v_lon)


@settings(max_examples=150, deadline=None)
@given(
    lat=st.floats(min_value=-90, max_value=90, allow_nan=False),
    lon=st.floats(min_value=-180, max_value=180, allow_nan=False),
)
def test_geo_index_distances_are_the_scalar_formula_to_the_bit(lat: float, lon: float) -> None:
    """The prepared venue distances are haversine_m's numbers, not just close to them:
    deliverability and every distance-based score must not move."""
    ds = get_dataset()
    assert np.array_equal(_VENUES.distances_m(lat, lon), haversine_m(lat, lon, ds.v_lat, ds.v_lon))


def test_geo_index_at_the_users_homes() -> None:
    ds = get_dataset()
    for u in range(0, ds.n_users, 7):
        lat, lon = float(ds.u_lat[u]), float(ds.u_lon[u])
        assert np.array_equal(
            _VENUES.distances_m(lat, lon), haversine_m(lat, lon, ds.v_lat, ds.v_lon)
        )

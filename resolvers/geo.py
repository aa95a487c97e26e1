"""Distances and market lookup on the WGS84 sphere."""

from __future__ import annotations

from math import asin, cos, radians, sin, sqrt

from clients.contracts import Location
from resolvers.plans import Market

EARTH_RADIUS_M = 6_371_000.0


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres; accurate to well under 1 % in a city."""
    p1, p2 = radians(lat1), radians(lat2)
    dlat = p2 - p1
    dlon = radians(lon2 - lon1)
    a = sin(dlat / 2) ** 2 + cos(p1) * cos(p2) * sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * asin(min(1.0, sqrt(a)))


def find_market(markets: tuple[Market, ...], location: Location) -> Market | None:
    """The nearest market whose radius covers the location, or None outside coverage."""
    best: tuple[float, Market] | None = None
    for market in markets:
        d = distance_m(location.lat, location.lon, market.center.lat, market.center.lon)
        if d <= market.radius_km * 1000 and (best is None or d < best[0]):
            best = (d, market)
    return best[1] if best else None

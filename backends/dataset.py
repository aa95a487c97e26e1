"""Seeded, deterministic demo world: cities, venues, items, brands, banners, users, orders.

Why synthetic: the reference backends must show *real* personalisation signal (a trained
ranking model that beats popularity on held-out orders) without downloads or private data.
Users get latent tastes (cuisine affinities, price and distance sensitivity, lunch/dinner
habits, a few favourite venues) and their orders are sampled from those tastes, so what a
model learns from the training split generalises to the held-out most recent orders.

Generation is vectorised with numpy and takes a couple of seconds; the result is pickled
under ``.cache/demo-data/`` keyed by seed and :data:`DATASET_VERSION`, guarded by a file lock,
so the five backend processes starting together generate it once and then just load it.

Time: orders are placed ``day_back`` days before an *as-of* date (day 1 = yesterday) at a
local ``minute`` of the day. The generated arrays never depend on the wall clock; only the
rendering of dates (``created_at``, hold-out ``local_time``) does, via :func:`as_of_date`,
which is the most recent :data:`AS_OF_WEEKDAY` on or before today so weekdays stay true.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import os
import pickle
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from backends.config import cache_root, demo_seed

#: Bump whenever generation changes: it keys the on-disk cache and the trained models.
DATASET_VERSION = "3"
#: Weekday (0 = Monday) of the as-of date the order history ends on.
AS_OF_WEEKDAY = 0
#: Days of order history generated.
HISTORY_DAYS = 180
#: Share of orders (the most recent by time) held out as the test split.
TEST_SHARE = 0.10
#: Users without any orders (the "new users" of the demo): u4901 … u5000.
N_USERS = 5000
N_NEW_USERS = 100
#: Fixed menu layout per venue; offsets within a venue's block of items.
ITEMS_PER_VENUE = 25
MAIN_SLOTS = range(0, 13)
SIDE_SLOTS = range(13, 18)
DRINK_SLOTS = range(18, 22)
DESSERT_SLOTS = range(22, 25)
ITEM_ROLES = ("mains", "sides", "drinks", "desserts")
#: Venues created less than this many days ago count as "new on the app".
NEW_VENUE_DAYS = 30
#: Opening-hours resolution: 15-minute slots over a week.
SLOT_MINUTES = 15
SLOTS_PER_DAY = 24 * 60 // SLOT_MINUTES
SLOTS_PER_WEEK = 7 * SLOTS_PER_DAY


@dataclass(frozen=True)
class City:
    """A market: venues deliver and users live within ``radius_km`` of the centre."""

    id: str
    code: str
    name: str
    lat: float
    lon: float
    radius_km: float
    timezone: str
    currency: str
    n_venues: int
    user_share: float
    districts: tuple[str, ...]


CITIES: tuple[City, ...] = (
    City(
        "helsinki",
        "hel",
        "Helsinki",
        60.1699,
        24.9384,
        15.0,
        "Europe/Helsinki",
        "EUR",
        330,
        0.40,
        ("Kamppi", "Kallio", "Punavuori", "Töölö", "Pasila", "Itäkeskus", "Lauttasaari"),
    ),
    City(
        "stockholm",
        "sto",
        "Stockholm",
        59.3293,
        18.0686,
        20.0,
        "Europe/Stockholm",
        "SEK",
        380,
        0.40,
        ("Södermalm", "Vasastan", "Östermalm", "Kungsholmen", "Norrmalm", "Hammarby"),
    ),
    City(
        "tallinn",
        "tal",
        "Tallinn",
        59.4370,
        24.7536,
        12.0,
        "Europe/Tallinn",
        "EUR",
        240,
        0.20,
        ("Kesklinn", "Kalamaja", "Kadriorg", "Mustamäe", "Lasnamäe", "Rotermann"),
    ),
)
CITY_BY_ID: dict[str, City] = {c.id: c for c in CITIES}

#: (slug, display name, relative share of venues, typical price level, dishes).
CATEGORY_SPECS: tuple[tuple[str, str, float, float, tuple[str, ...]], ...] = (
    ("pizza", "Pizza", 3.0, 1.8, ("Margherita", "Pepperoni", "Quattro Formaggi", "Diavola")),
    ("burgers", "Burgers", 3.0, 2.0, ("Cheeseburger", "Bacon Burger", "Veggie Burger", "Smash")),
    ("sushi", "Sushi", 2.5, 2.6, ("Salmon Nigiri", "Maki Set", "Uramaki", "Sashimi")),
    ("thai", "Thai", 1.8, 2.0, ("Pad Thai", "Green Curry", "Tom Yum", "Massaman")),
    ("indian", "Indian", 1.8, 2.0, ("Butter Chicken", "Tikka Masala", "Palak Paneer", "Biryani")),
    ("vegan", "Vegan", 1.2, 2.2, ("Buddha Bowl", "Tofu Wrap", "Seitan Burger", "Lentil Dahl")),
    ("grocery", "Grocery", 1.5, 1.5, ("Milk", "Bread", "Eggs", "Bananas", "Coffee Beans")),
    ("chinese", "Chinese", 1.5, 1.8, ("Kung Pao", "Dumplings", "Fried Rice", "Chow Mein")),
    ("vietnamese", "Vietnamese", 1.2, 1.8, ("Pho", "Banh Mi", "Bun Bo", "Summer Rolls")),
    ("mexican", "Mexican", 1.3, 2.0, ("Burrito", "Tacos", "Quesadilla", "Nachos")),
    ("italian", "Italian", 1.4, 2.6, ("Carbonara", "Lasagne", "Risotto", "Gnocchi")),
    ("korean", "Korean", 0.9, 2.2, ("Bibimbap", "Korean Fried Chicken", "Bulgogi", "Kimbap")),
    ("japanese", "Japanese", 0.8, 2.6, ("Katsu Curry", "Donburi", "Gyoza", "Teriyaki")),
    ("middle-eastern", "Middle Eastern", 1.0, 1.8, ("Falafel", "Shawarma", "Hummus", "Mezze")),
    ("greek", "Greek", 0.7, 2.2, ("Gyros", "Souvlaki", "Moussaka", "Greek Salad")),
    ("kebab", "Kebab", 1.5, 1.2, ("Kebab Plate", "Durum", "Kebab Pita", "Iskender")),
    ("salads", "Salads", 0.9, 2.2, ("Caesar", "Quinoa Salad", "Chicken Salad", "Poke Salad")),
    ("poke", "Poke", 0.9, 2.3, ("Salmon Poke", "Tuna Poke", "Tofu Poke", "Shrimp Poke")),
    ("breakfast", "Breakfast", 0.7, 2.0, ("Pancakes", "Eggs Benedict", "Porridge", "Omelette")),
    ("bakery", "Bakery", 0.8, 1.6, ("Croissant", "Sourdough", "Cinnamon Roll", "Danish")),
    ("desserts", "Desserts", 0.6, 2.0, ("Gelato", "Cheesecake", "Brownie", "Waffles")),
    ("coffee", "Coffee", 0.8, 1.6, ("Latte", "Cappuccino", "Flat White", "Cold Brew")),
    ("chicken", "Chicken", 1.2, 1.6, ("Chicken Wings", "Chicken Tenders", "Chicken Wrap")),
    ("seafood", "Seafood", 0.6, 3.3, ("Fish and Chips", "Shrimp Platter", "Lobster Roll")),
    ("nepalese", "Nepalese", 0.8, 2.0, ("Momo", "Dal Bhat", "Chicken Curry", "Thukpa")),
    ("ramen", "Ramen", 0.8, 2.3, ("Tonkotsu", "Shoyu Ramen", "Miso Ramen", "Spicy Ramen")),
    ("steak", "Steak", 0.5, 3.6, ("Ribeye", "Sirloin", "Tenderloin", "Steak Frites")),
    ("sandwiches", "Sandwiches", 0.9, 1.6, ("Club Sandwich", "Reuben", "BLT", "Panini")),
    ("healthy", "Healthy", 0.8, 2.4, ("Protein Bowl", "Smoothie Bowl", "Acai Bowl", "Wrap")),
    ("convenience", "Convenience", 0.8, 1.5, ("Snacks", "Soft Drinks", "Candy", "Chips")),
)
CATEGORY_SLUGS: tuple[str, ...] = tuple(s[0] for s in CATEGORY_SPECS)
CATEGORY_NAMES: dict[str, str] = {s[0]: s[1] for s in CATEGORY_SPECS}
CATEGORY_INDEX: dict[str, int] = {slug: i for i, slug in enumerate(CATEGORY_SLUGS)}

_MODIFIERS = ("Classic", "Spicy", "Double", "House", "Mini", "Deluxe", "Crispy", "Family")
_SIDES = ("Fries", "Side Salad", "Garlic Bread", "Rice", "Edamame", "Coleslaw", "Onion Rings")
_DRINKS = ("Cola", "Sparkling Water", "Lemonade", "Iced Tea", "Ginger Beer", "Orange Juice")
_DESSERTS = ("Brownie", "Cheesecake", "Ice Cream", "Mochi", "Tiramisu", "Cinnamon Bun")
_VENUE_ADJ = (
    "Golden", "Happy", "Little", "Urban", "Lucky", "Royal", "Green", "Blue", "Red", "Nordic",
    "Wild", "Sunny", "Old Town", "Corner", "Harbour", "Midnight", "Fresh", "Tasty", "Daily",
)  # fmt: skip
_VENUE_NOUN = ("Kitchen", "House", "Bar", "Corner", "Garden", "Spot", "Place", "Express", "Deli")
_BRAND_WORDS = (
    "Nordic", "Mega", "Fast", "Super", "Hungry", "Smart", "Uncle", "Mama", "Papa", "Street",
    "Big", "Tiny", "Crazy", "Prime", "Metro", "Arctic", "Baltic", "Viking", "Polar", "Rocket",
)  # fmt: skip
_BANNER_TITLES = (
    "Free delivery this week",
    "20 % off your first order",
    "Lunch deals under 12",
    "Late night cravings",
    "New restaurants near you",
    "Grocery in 30 minutes",
)
_TAG_POOL = ("family-friendly", "vegetarian-options", "gluten-free", "fast-delivery", "local")


@dataclass
class Dataset:
    """The whole demo world as flat numpy arrays (index = row) plus display strings.

    Row ``v`` of the venue arrays is venue id ``v{v+1:05d}``; item ``i`` is
    ``i{i+1:06d}``, the 25 items of venue ``v`` are rows ``25v … 25v+24``; user ``u`` is
    ``u{u+1:04d}``; brand ``b`` is ``b{b+1:03d}``.
    """

    seed: int
    version: str
    # venues
    v_city: np.ndarray
    v_lat: np.ndarray
    v_lon: np.ndarray
    v_radius_m: np.ndarray
    v_cat: np.ndarray  # primary category index
    v_cats: np.ndarray  # (n_venues, n_categories) bool
    v_brand: np.ndarray  # brand index or -1
    v_rating: np.ndarray
    v_price: np.ndarray
    v_delivery_min: np.ndarray
    v_created_days: np.ndarray  # days before the as-of date
    v_quality: np.ndarray
    v_open: np.ndarray  # (n_venues, SLOTS_PER_WEEK) bool
    v_hours: list[list[tuple[int, int, int]]]  # (weekday, opens_min, closes_min)
    v_name: list[str]
    v_slug: list[str]
    v_tags: list[list[str]]
    # brands
    b_name: list[str]
    b_cat: np.ndarray
    # items
    it_venue: np.ndarray
    it_role: np.ndarray
    it_price: np.ndarray
    it_name: list[str]
    # banners: (id, city, title, target_url, active)
    banners: list[tuple[str, str, str, str, bool]]
    # users
    u_city: np.ndarray
    u_lat: np.ndarray
    u_lon: np.ndarray
    # orders (sorted by time, oldest first)
    o_user: np.ndarray
    o_venue: np.ndarray
    o_day_back: np.ndarray  # 1 = the day before the as-of date
    o_minute: np.ndarray  # local minute of day, 0..1439
    o_test: np.ndarray  # bool: in the held-out test split
    # order lines, flat: (order row, item row)
    ol_order: np.ndarray
    ol_item: np.ndarray
    fingerprint: str = field(default="")

    @property
    def n_venues(self) -> int:
        return len(self.v_city)

    @property
    def n_items(self) -> int:
        return len(self.it_venue)

    @property
    def n_users(self) -> int:
        return len(self.u_city)

    @property
    def n_brands(self) -> int:
        return len(self.b_name)

    @property
    def o_ts(self) -> np.ndarray:
        """Order time in minutes relative to the as-of midnight (negative = past)."""
        return -self.o_day_back.astype(np.int64) * 1440 + self.o_minute

    @property
    def o_weekday(self) -> np.ndarray:
        """Weekday (0 = Monday) of each order."""
        return (AS_OF_WEEKDAY - self.o_day_back) % 7


# --------------------------------------------------------------------------------------
# ids and small helpers
# --------------------------------------------------------------------------------------


def venue_id(v: int) -> str:
    return f"v{v + 1:05d}"


def item_id(i: int) -> str:
    return f"i{i + 1:06d}"


def user_id(u: int) -> str:
    return f"u{u + 1:04d}"


def brand_id(b: int) -> str:
    return f"b{b + 1:03d}"


_ID_RE = {"v": re.compile(r"^v(\d{5})$"), "i": re.compile(r"^i(\d{6})$")}
_ID_RE["u"] = re.compile(r"^u(\d{4})$")
_ID_RE["b"] = re.compile(r"^b(\d{3})$")


def parse_id(value: str | None, prefix: str, count: int) -> int | None:
    """Row index of an id like ``v00012`` (prefix ``v``), or None if malformed/unknown.

    Unknown ids are a normal situation (stale caches, other environments), so callers get
    None rather than an exception and answer "missing"/empty.
    """
    if not value:
        return None
    m = _ID_RE[prefix].match(value)
    if not m:
        return None
    row = int(m.group(1)) - 1
    return row if 0 <= row < count else None


def slugify(text: str) -> str:
    table = str.maketrans({"ä": "a", "ö": "o", "å": "a", "Ä": "a", "Ö": "o", "Å": "a"})
    return re.sub(r"[^a-z0-9]+", "-", text.translate(table).lower()).strip("-")


def haversine_m(lat1: float, lon1: float, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance in metres from one point to many (vectorised)."""
    r = 6_371_000.0
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dl = np.radians(lon2 - lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * r * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


class GeoIndex:
    """Fixed points (e.g. every venue) prepared for many "distance from here" queries.

    :meth:`distances_m` is :func:`haversine_m` with the work that depends only on the stored
    points (degrees to radians, their cosines) done once, and the rest in preallocated
    buffers: the same floating-point operations in the same order, so the same metres.
    """

    def __init__(self, lat: np.ndarray, lon: np.ndarray) -> None:
        self.lon = np.asarray(lon, dtype=np.float64)
        self.lat_rad = np.radians(np.asarray(lat, dtype=np.float64))
        self.cos_lat = np.cos(self.lat_rad)

    def distances_m(self, lat: float, lon: float) -> np.ndarray:
        """Great-circle metres from ``(lat, lon)`` to every stored point (a new array)."""
        p1 = np.radians(lat)
        half_dphi = np.subtract(self.lat_rad, p1)
        half_dphi /= 2
        a = np.sin(half_dphi, out=half_dphi)
        np.square(a, out=a)
        dl = np.subtract(self.lon, lon)
        np.radians(dl, out=dl)
        dl /= 2
        np.sin(dl, out=dl)
        np.square(dl, out=dl)
        cos_term = np.multiply(np.cos(p1), self.cos_lat)
        cos_term *= dl
        a += cos_term
        np.minimum(a, 1.0, out=a)
        np.sqrt(a, out=a)
        np.arcsin(a, out=a)
        a *= 2 * 6_371_000.0
        return a


def as_of_date(today: date | None = None) -> date:
    """The date the order history ends on: most recent :data:`AS_OF_WEEKDAY` ≤ today.

    ``PGW_DEMO_AS_OF`` (``YYYY-MM-DD``) pins it, for reproducible renders.
    """
    pinned = os.environ.get("PGW_DEMO_AS_OF")
    if pinned:
        return date.fromisoformat(pinned)
    today = today or date.today()
    return today - timedelta(days=(today.weekday() - AS_OF_WEEKDAY) % 7)


def local_datetime(city: City, day_back: int, minute: int) -> datetime:
    """Timezone-aware local time of an event ``day_back`` days before the as-of date."""
    d = as_of_date() - timedelta(days=int(day_back))
    naive = datetime(d.year, d.month, d.day) + timedelta(minutes=int(minute))
    return naive.replace(tzinfo=ZoneInfo(city.timezone))


def _hhmm(minute: int) -> str:
    minute %= 1440
    return f"{minute // 60:02d}:{minute % 60:02d}"


def hhmm(minute: int) -> str:
    """``HH:MM`` of a minute of the day (wrapping past midnight)."""
    return _hhmm(minute)


# --------------------------------------------------------------------------------------
# generation
# --------------------------------------------------------------------------------------


def _points_in_disk(
    rng: np.random.Generator, lat: float, lon: float, radius_km: float, n: int
) -> tuple[np.ndarray, np.ndarray]:
    r = radius_km * np.sqrt(rng.random(n))
    theta = rng.random(n) * 2 * np.pi
    dlat = (r * np.cos(theta)) / 111.32
    dlon = (r * np.sin(theta)) / (111.32 * np.cos(np.radians(lat)))
    return lat + dlat, lon + dlon


def _opening_hours(rng: np.random.Generator, is_grocery: bool) -> list[tuple[int, int, int]]:
    """One venue's weekly intervals; the mix covers late-night, lunch-only, closed Sundays."""
    if is_grocery:
        return [(d, 7 * 60, 23 * 60) for d in range(7)]
    kind = rng.choice(5, p=[0.40, 0.15, 0.10, 0.20, 0.15])
    if kind == 0:  # standard, every day
        o, c = int(rng.choice([9, 10, 11])) * 60, int(rng.choice([21, 22, 23])) * 60
        return [(d, o, c) for d in range(7)]
    if kind == 1:  # late night: past midnight, later at weekends
        return [(d, 11 * 60, (3 if d in (4, 5) else 1) * 60) for d in range(7)]
    if kind == 2:  # lunch only, weekdays
        return [(d, 10 * 60 + 30, 15 * 60) for d in range(5)]
    if kind == 3:  # closed on Sundays
        return [(d, 10 * 60, 21 * 60) for d in range(6)]
    return [(d, 16 * 60, 23 * 60) for d in range(7)]  # dinner only


def open_slots(hours: list[tuple[int, int, int]]) -> np.ndarray:
    """Weekly 15-minute open mask; intervals whose close is before open run past midnight."""
    mask = np.zeros(SLOTS_PER_WEEK, dtype=bool)
    for weekday, opens, closes in hours:
        end = closes if closes > opens else closes + 1440
        start_slot = weekday * SLOTS_PER_DAY + opens // SLOT_MINUTES
        end_slot = weekday * SLOTS_PER_DAY + (end + SLOT_MINUTES - 1) // SLOT_MINUTES
        idx = np.arange(start_slot, end_slot) % SLOTS_PER_WEEK
        mask[idx] = True
    return mask


def generate(seed: int) -> Dataset:
    """Build the world from ``seed``; pure function of the seed (no clock, no I/O)."""
    rng = np.random.default_rng(seed)
    n_cat = len(CATEGORY_SPECS)
    cat_share = np.array([s[2] for s in CATEGORY_SPECS])
    cat_share = cat_share / cat_share.sum()
    cat_price = np.array([s[3] for s in CATEGORY_SPECS])

    # ---- brands: chains present in several cities, one cuisine each
    n_brands = 40
    b_cat = rng.choice(n_cat, size=n_brands, p=cat_share)
    b_name: list[str] = []
    for b in range(n_brands):
        base = f"{_BRAND_WORDS[b % len(_BRAND_WORDS)]} {CATEGORY_NAMES[CATEGORY_SLUGS[b_cat[b]]]}"
        b_name.append(base if base not in b_name else f"{base} Co")

    # ---- venues
    v_city_l, v_lat_l, v_lon_l, v_cat_l, v_brand_l = [], [], [], [], []
    for ci, city in enumerate(CITIES):
        n = city.n_venues
        lat, lon = _points_in_disk(rng, city.lat, city.lon, city.radius_km * 0.9, n)
        brand = np.where(rng.random(n) < 0.3, rng.integers(0, n_brands, n), -1)
        cat = np.where(brand >= 0, b_cat[np.maximum(brand, 0)], rng.choice(n_cat, n, p=cat_share))
        v_city_l.append(np.full(n, ci))
        v_lat_l.append(lat)
        v_lon_l.append(lon)
        v_cat_l.append(cat)
        v_brand_l.append(brand)
    v_city = np.concatenate(v_city_l).astype(np.int8)
    v_lat = np.concatenate(v_lat_l)
    v_lon = np.concatenate(v_lon_l)
    v_cat = np.concatenate(v_cat_l).astype(np.int16)
    v_brand = np.concatenate(v_brand_l).astype(np.int16)
    nv = len(v_city)
    v_cats = np.zeros((nv, n_cat), dtype=bool)
    v_cats[np.arange(nv), v_cat] = True
    second = rng.choice(n_cat, nv, p=cat_share)
    has_second = (rng.random(nv) < 0.3) & (second != v_cat) & (v_brand < 0)
    v_cats[np.arange(nv)[has_second], second[has_second]] = True
    grocery = CATEGORY_INDEX["grocery"]
    v_cats[v_cat == grocery] = False
    v_cats[v_cat == grocery, grocery] = True

    v_quality = rng.normal(0, 1, nv)
    brand_quality = rng.normal(0, 0.6, n_brands)
    v_quality = np.where(v_brand >= 0, 0.5 * v_quality + brand_quality[v_brand], v_quality)
    v_rating = np.round(np.clip(4.1 + 0.35 * v_quality + rng.normal(0, 0.15, nv), 3.0, 5.0), 1)
    v_price = np.clip(np.rint(cat_price[v_cat] + rng.normal(0, 0.6, nv)), 1, 4).astype(np.int8)
    v_radius_m = (rng.integers(20, 81, nv) * 100).astype(np.int32)
    v_delivery_min = (rng.integers(3, 12, nv) * 5).astype(np.int16)
    new_mask = rng.random(nv) < 0.08
    v_created_days = np.where(
        new_mask, rng.integers(0, NEW_VENUE_DAYS, nv), rng.integers(NEW_VENUE_DAYS + 5, 1500, nv)
    ).astype(np.int32)
    v_hours = [_opening_hours(rng, bool(v_cat[v] == grocery)) for v in range(nv)]
    v_open = np.stack([open_slots(h) for h in v_hours])

    v_name: list[str] = []
    v_slug: list[str] = []
    v_tags: list[list[str]] = []
    for v in range(nv):
        city = CITIES[v_city[v]]
        cat_name = CATEGORY_NAMES[CATEGORY_SLUGS[v_cat[v]]]
        if v_brand[v] >= 0:
            name = f"{b_name[v_brand[v]]} {city.districts[rng.integers(len(city.districts))]}"
        else:
            adj = _VENUE_ADJ[rng.integers(len(_VENUE_ADJ))]
            name = f"{adj} {cat_name} {_VENUE_NOUN[rng.integers(len(_VENUE_NOUN))]}"
        v_name.append(name)
        v_slug.append(f"{slugify(name)}-{v + 1}")
        tags = [CATEGORY_SLUGS[c] for c in np.flatnonzero(v_cats[v])]
        tags += [t for t in _TAG_POOL if rng.random() < 0.15]
        if v_created_days[v] < NEW_VENUE_DAYS:
            tags.append("new")
        v_tags.append(tags)

    # ---- items: fixed layout per venue so baskets can be sampled vectorised
    it_venue = np.repeat(np.arange(nv), ITEMS_PER_VENUE).astype(np.int32)
    offsets = np.tile(np.arange(ITEMS_PER_VENUE), nv)
    it_role = np.select([offsets < 13, offsets < 18, offsets < 22], [0, 1, 2], default=3).astype(
        np.int8
    )
    fx = np.array([11.0 if CITIES[c].currency == "SEK" else 1.0 for c in range(len(CITIES))])
    role_base = np.array([700.0, 250.0, 200.0, 350.0])
    lvl = v_price[it_venue].astype(float)
    price = (role_base[it_role] + np.where(it_role == 0, 300.0 * lvl, 60.0 * lvl)) * rng.uniform(
        0.8, 1.25, len(it_venue)
    )
    price *= fx[v_city[it_venue]]
    it_price = np.where(
        fx[v_city[it_venue]] > 1, np.round(price / 100) * 100, np.round(price / 10) * 10 - 10
    ).astype(np.int64)
    it_name: list[str] = []
    for v in range(nv):
        dishes = CATEGORY_SPECS[v_cat[v]][4]
        mains = [d for d in dishes] + [f"{m} {d}" for m in _MODIFIERS for d in dishes]
        pick = rng.permutation(len(mains) - len(dishes))[: 13 - len(dishes)] + len(dishes)
        names = dishes[:13] + tuple(mains[p] for p in pick)
        it_name.extend(names[:13])
        it_name.extend(str(x) for x in rng.choice(_SIDES, 5, replace=False))
        it_name.extend(str(x) for x in rng.choice(_DRINKS, 4, replace=False))
        it_name.extend(str(x) for x in rng.choice(_DESSERTS, 3, replace=False))

    # ---- banners: a handful per city, the last one inactive (batchGet-able, not listed)
    banners: list[tuple[str, str, str, str, bool]] = []
    for city in CITIES:
        for k, title in enumerate(_BANNER_TITLES, start=1):
            bid = f"bn-{city.code}-{k}"
            target = f"https://app.example/{city.id}/promo/{slugify(title)}"
            banners.append((bid, city.id, title, target, k < len(_BANNER_TITLES)))

    # ---- users with latent tastes
    nu = N_USERS
    u_city = rng.choice(len(CITIES), nu, p=[c.user_share for c in CITIES]).astype(np.int8)
    u_lat = np.empty(nu)
    u_lon = np.empty(nu)
    for ci, city in enumerate(CITIES):
        m = u_city == ci
        u_lat[m], u_lon[m] = _points_in_disk(rng, city.lat, city.lon, city.radius_km * 0.8, m.sum())
    u_aff = rng.gamma(0.25, 1.0, (nu, n_cat)) * cat_share * n_cat
    u_aff /= u_aff.sum(1, keepdims=True)
    u_price_pref = rng.choice(4, nu, p=[0.25, 0.4, 0.25, 0.1]) + 1
    u_price_sens = rng.uniform(0.2, 1.2, nu)
    u_dist_sens = rng.uniform(0.05, 0.5, nu)
    u_quality_sens = rng.uniform(0.2, 1.0, nu)
    u_p_lunch = rng.beta(2, 3, nu)
    u_p_late = rng.beta(1, 9, nu)
    n_orders = np.minimum(1 + rng.poisson(rng.lognormal(2.2, 0.6, nu)), 80)
    n_orders[nu - N_NEW_USERS :] = 0

    o_user_l, o_venue_l, o_day_l, o_min_l = [], [], [], []
    city_venues = [np.flatnonzero(v_city == ci) for ci in range(len(CITIES))]
    for u in range(nu):
        n = int(n_orders[u])
        if n == 0:
            continue
        cand = city_venues[u_city[u]]
        dist = haversine_m(u_lat[u], u_lon[u], v_lat[cand], v_lon[cand])
        cand = cand[dist <= v_radius_m[cand]]
        if len(cand) == 0:
            continue
        dist_km = haversine_m(u_lat[u], u_lon[u], v_lat[cand], v_lon[cand]) / 1000
        aff = (v_cats[cand] * u_aff[u]).max(1)
        static = (
            1.6 * np.log(aff + 0.01)
            + u_quality_sens[u] * v_quality[cand]
            - u_price_sens[u] * np.abs(v_price[cand] - u_price_pref[u])
            - u_dist_sens[u] * dist_km
        )
        top = np.argsort(-static)[:12]
        fav = rng.choice(top, size=min(2, len(top)), replace=False)
        static[fav] += 1.8
        # when: lunch, dinner or late night, on a random day of the history
        bucket = rng.choice(3, n, p=_norm3(u_p_lunch[u], u_p_late[u]))
        minute = np.select(
            [bucket == 0, bucket == 1],
            [rng.integers(11 * 60, 14 * 60, n), rng.integers(17 * 60, 21 * 60 + 30, n)],
            default=rng.integers(22 * 60, 25 * 60 + 30, n),
        )
        day_back = rng.integers(1, HISTORY_DAYS + 1, n)
        past_midnight = minute >= 1440
        minute = np.where(past_midnight, minute - 1440, minute)
        day_back = np.where(past_midnight, day_back - 1, day_back)
        day_back = np.maximum(day_back, 1)
        weekday = (AS_OF_WEEKDAY - day_back) % 7
        slot = weekday * SLOTS_PER_DAY + minute // SLOT_MINUTES
        is_open = v_open[cand][:, slot].T  # (n, len(cand))
        util = static[None, :] + rng.gumbel(0, 1, (n, len(cand)))
        util = np.where(is_open, util, -np.inf)
        ok = np.isfinite(util).any(1)
        choice = cand[np.argmax(util, axis=1)]
        o_user_l.append(np.full(ok.sum(), u))
        o_venue_l.append(choice[ok])
        o_day_l.append(day_back[ok])
        o_min_l.append(minute[ok])
    o_user = np.concatenate(o_user_l).astype(np.int32)
    o_venue = np.concatenate(o_venue_l).astype(np.int32)
    o_day = np.concatenate(o_day_l).astype(np.int32)
    o_min = np.concatenate(o_min_l).astype(np.int32)
    ts = -o_day.astype(np.int64) * 1440 + o_min
    order = np.lexsort((o_user, ts))
    o_user, o_venue, o_day, o_min, ts = (a[order] for a in (o_user, o_venue, o_day, o_min, ts))
    cutoff = np.quantile(ts, 1 - TEST_SHARE)
    o_test = ts > cutoff

    # ---- baskets: a main, its usual side/drink (co-purchase signal), extras
    no = len(o_user)
    main_w = rng.gamma(0.7, 1.0, (nv, 13))
    main_cum = np.cumsum(main_w / main_w.sum(1, keepdims=True), axis=1)
    comp_side = rng.integers(13, 18, (nv, 13))
    comp_drink = rng.integers(18, 22, (nv, 13))

    def sample_main() -> np.ndarray:
        u = rng.random(no)
        return np.minimum((main_cum[o_venue] < u[:, None]).sum(1), 12)

    base = o_venue.astype(np.int64) * ITEMS_PER_VENUE
    main = sample_main()
    lines_o = [np.arange(no)]
    lines_i = [base + main]
    r = rng.random((no, 5))
    side = np.where(r[:, 0] < 0.55, comp_side[o_venue, main], rng.integers(13, 18, no))
    take_side = (r[:, 0] < 0.55) | (r[:, 1] < 0.15)
    drink_take = r[:, 2] < 0.45
    main2 = sample_main()
    take_main2 = (r[:, 3] < 0.25) & (main2 != main)
    take_dessert = r[:, 4] < 0.12
    dessert = rng.integers(22, 25, no)
    for take, off in (
        (take_side, side),
        (drink_take, comp_drink[o_venue, main]),
        (take_main2, main2),
        (take_dessert, dessert),
    ):
        idx = np.flatnonzero(take)
        lines_o.append(idx)
        lines_i.append(base[idx] + off[idx])
    ol_order = np.concatenate(lines_o).astype(np.int32)
    ol_item = np.concatenate(lines_i).astype(np.int32)
    srt = np.lexsort((ol_item, ol_order))
    ol_order, ol_item = ol_order[srt], ol_item[srt]

    ds = Dataset(
        seed=seed,
        version=DATASET_VERSION,
        v_city=v_city,
        v_lat=v_lat,
        v_lon=v_lon,
        v_radius_m=v_radius_m,
        v_cat=v_cat,
        v_cats=v_cats,
        v_brand=v_brand,
        v_rating=v_rating,
        v_price=v_price,
        v_delivery_min=v_delivery_min,
        v_created_days=v_created_days,
        v_quality=v_quality,
        v_open=v_open,
        v_hours=v_hours,
        v_name=v_name,
        v_slug=v_slug,
        v_tags=v_tags,
        b_name=b_name,
        b_cat=b_cat,
        it_venue=it_venue,
        it_role=it_role,
        it_price=it_price,
        it_name=it_name,
        banners=banners,
        u_city=u_city,
        u_lat=u_lat,
        u_lon=u_lon,
        o_user=o_user,
        o_venue=o_venue,
        o_day_back=o_day,
        o_minute=o_min,
        o_test=o_test,
        ol_order=ol_order,
        ol_item=ol_item,
    )
    ds.fingerprint = fingerprint(ds)
    return ds


def _norm3(p_lunch: float, p_late: float) -> list[float]:
    dinner = max(1.0 - p_lunch - p_late, 0.05)
    total = p_lunch + dinner + p_late
    return [p_lunch / total, dinner / total, p_late / total]


def fingerprint(ds: Dataset) -> str:
    """Content hash of the generated arrays: equal seeds must give equal fingerprints."""
    h = hashlib.sha256()
    for name in ("v_lat", "v_lon", "v_cat", "v_price", "it_price", "o_user", "o_venue", "ol_item"):
        h.update(np.ascontiguousarray(getattr(ds, name)).tobytes())
    h.update("|".join(ds.v_name).encode())
    h.update("|".join(ds.it_name).encode())
    return h.hexdigest()[:12]


# --------------------------------------------------------------------------------------
# on-disk cache
# --------------------------------------------------------------------------------------


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Exclusive inter-process lock so concurrent cold starts build a cache file once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def dataset_path(seed: int) -> Path:
    return cache_root() / "demo-data" / f"dataset-v{DATASET_VERSION}-seed{seed}.pkl"


def atomic_pickle(obj: object, path: Path) -> None:
    """Write-then-rename so a reader never sees a half-written cache file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)


def load_or_build(seed: int | None = None) -> Dataset:
    """The dataset for ``seed`` from the disk cache, generating and caching it if absent."""
    seed = demo_seed() if seed is None else seed
    path = dataset_path(seed)
    if path.exists():
        with contextlib.suppress(Exception), open(path, "rb") as fh:
            ds = pickle.load(fh)
            if isinstance(ds, Dataset) and ds.version == DATASET_VERSION:
                return ds
    with file_lock(path.with_suffix(".lock")):
        if path.exists():  # another process built it while we waited
            with contextlib.suppress(Exception), open(path, "rb") as fh:
                ds = pickle.load(fh)
                if isinstance(ds, Dataset) and ds.version == DATASET_VERSION:
                    return ds
        ds = generate(seed)
        atomic_pickle(ds, path)
        return ds


@functools.cache
def get_dataset() -> Dataset:
    """Process-wide dataset, loaded lazily on first use (the apps warm it at start-up)."""
    return load_or_build()

"""Value types shared by several backend contracts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


class Contract(BaseModel):
    """Base of every contract model.

    Frozen so a validated response can be cached and shared between concurrent requests
    without anyone mutating it; unknown fields are ignored so a backend may add fields
    without breaking the gateway (the tolerant-reader half of the contract).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")


class Surface(StrEnum):
    """The four client surfaces; backends may specialise their models per surface."""

    DISCOVERY = "discovery"
    CATEGORY = "category"
    VENUE_PAGE = "venue_page"
    CART = "cart"


class EntityKind(StrEnum):
    """What an id refers to; ranking and popularity are asked per kind."""

    VENUE = "venue"
    ITEM = "item"
    BRAND = "brand"
    CATEGORY = "category"
    BANNER = "banner"


def _iso_8601(value: str) -> str:
    """Accept what ``datetime.fromisoformat`` reads; keep the text as sent."""
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not an ISO 8601 date-time: {value!r}") from None
    return value


IsoDateTime = Annotated[
    str,
    AfterValidator(_iso_8601),
    Field(json_schema_extra={"format": "date-time"}),
]
"""An ISO 8601 date-time kept as text, e.g. ``2026-01-05T12:30:00+02:00``; documented as
``format: date-time`` so generated clients and fuzzers send real times."""


class Location(Contract):
    """A WGS84 point."""

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class Money(Contract):
    """An amount in minor units (cents) with its ISO 4217 currency."""

    amount: int
    currency: str = Field(min_length=3, max_length=3)


class RequestContext(Contract):
    """What a model may condition on besides the user: where, when, on what device.

    ``local_time`` is ISO 8601 with the offset of the market's time zone, so backends
    need no time-zone database to know whether it is lunch time.
    """

    location: Location
    local_time: IsoDateTime
    city: str | None = None
    platform: str | None = None

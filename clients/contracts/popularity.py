"""Popularity contract: ``GET /v1/popular``."""

from __future__ import annotations

from enum import StrEnum

from clients.contracts.common import Contract


class PopularityScope(StrEnum):
    """What a popularity list is computed over.

    Keys: ``city`` → city id (``helsinki``); ``category`` → ``city:slug``
    (``helsinki:pizza``); ``venue`` → venue id.
    """

    CITY = "city"
    CATEGORY = "category"
    VENUE = "venue"


class PopularResponse(Contract):
    """Ids, most popular first, and when the list was computed (ISO 8601)."""

    ids: list[str]
    generated_at: str

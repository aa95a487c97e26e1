"""Popularity backend: precomputed popularity lists (``GET /v1/popular``)."""

from __future__ import annotations

from collections.abc import Mapping

from clients.base import DEFAULT_RESERVE_S, BackendClient
from clients.contracts.common import EntityKind
from clients.contracts.popularity import PopularityScope, PopularResponse
from clients.deadline import Deadline
from clients.results import Fetched

__all__ = ["PopularityClient"]


class PopularityClient(BackendClient):
    """Typed client of the popularity backend (cached when the backend has a TTL)."""

    async def popular(
        self,
        scope: PopularityScope | str,
        key: str,
        kind: EntityKind | str,
        limit: int,
        deadline: Deadline,
        *,
        headers: Mapping[str, str] | None = None,
        reserve_s: float = DEFAULT_RESERVE_S,
    ) -> Fetched[PopularResponse]:
        """The ``limit`` most popular ids of ``kind`` in ``scope``/``key``.

        Keys: ``city`` → ``helsinki``; ``category`` → ``helsinki:pizza``; ``venue`` → id.
        """
        scope = PopularityScope(scope)
        kind = EntityKind(kind)
        return await self.call(
            "popular",
            "GET",
            "/v1/popular",
            PopularResponse,
            deadline,
            params={"scope": scope.value, "key": key, "kind": kind.value, "limit": limit},
            headers=headers,
            reserve_s=reserve_s,
            cache_key=f"{self.name}:popular:v1:{scope.value}/{key}/{kind.value}/{limit}",
        )

"""Retrieval backend: candidate generation (``POST /v1/candidates``)."""

from __future__ import annotations

from collections.abc import Mapping

from clients.base import DEFAULT_RESERVE_S, BackendClient
from clients.contracts.retrieval import CandidatesRequest, CandidatesResponse
from clients.deadline import Deadline
from clients.results import Fetched

__all__ = ["RetrievalClient"]


class RetrievalClient(BackendClient):
    """Typed client of the retrieval backend; responses cached per request.

    Construct with ``RetrievalClient("retrieval", config, cache, transport=..., observer=...)``.
    """

    async def candidates(
        self,
        req: CandidatesRequest,
        deadline: Deadline,
        *,
        headers: Mapping[str, str] | None = None,
        reserve_s: float = DEFAULT_RESERVE_S,
    ) -> Fetched[CandidatesResponse]:
        """Candidates for one strategy, in the generator's order (cached by request)."""
        return await self.call(
            "candidates",
            "POST",
            "/v1/candidates",
            CandidatesResponse,
            deadline,
            json=req,
            headers=headers,
            reserve_s=reserve_s,
            cache_key=self.cache_key("candidates", req),
        )

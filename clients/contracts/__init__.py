"""Backend contracts v1: the wire models, the pydantic bodies that are the single source of truth.

"Contract" has two more meanings in this repository, kept apart by name and place: the
consumer contracts (Pact V4, ``pacts/``, written by ``tests/contracts/``) and the verifier
that checks a live backend against them (``python -m gateway contracts verify``,
``tools/pact_verifier.py``). This package is neither: it holds the bodies both sides import.

The gateway's clients validate every backend response with these models, and the
reference backends in ``backends/`` import them to declare their request and response
bodies, so the two sides cannot drift apart silently. ``docs/contracts.md`` describes them
for humans.
"""

from clients.contracts.bandit import (
    Arm,
    DecideBatchRequest,
    DecideBatchResponse,
    DecideRequest,
    DecideResponse,
    RewardKind,
    RewardRequest,
)
from clients.contracts.catalog import (
    BannerEntity,
    BannersBatch,
    BatchGetRequest,
    BrandEntity,
    BrandsBatch,
    CategoriesResponse,
    CategoryEntity,
    ItemEntity,
    ItemsBatch,
    OpeningInterval,
    VenueEntity,
    VenuesBatch,
)
from clients.contracts.common import EntityKind, Location, Money, RequestContext, Surface
from clients.contracts.faults import FaultConfig
from clients.contracts.popularity import PopularityScope, PopularResponse
from clients.contracts.ranking import (
    RankBatchRequest,
    RankBatchResponse,
    RankRequest,
    RankResponse,
    ScoredId,
)
from clients.contracts.retrieval import (
    Candidate,
    CandidatesBatchRequest,
    CandidatesBatchResponse,
    CandidatesRequest,
    CandidatesResponse,
    RetrievalStrategy,
)

__all__ = [
    "Arm",
    "BannerEntity",
    "BannersBatch",
    "BatchGetRequest",
    "BrandEntity",
    "BrandsBatch",
    "Candidate",
    "CandidatesBatchRequest",
    "CandidatesBatchResponse",
    "CandidatesRequest",
    "CandidatesResponse",
    "CategoriesResponse",
    "CategoryEntity",
    "DecideBatchRequest",
    "DecideBatchResponse",
    "DecideRequest",
    "DecideResponse",
    "EntityKind",
    "FaultConfig",
    "ItemEntity",
    "ItemsBatch",
    "Location",
    "Money",
    "OpeningInterval",
    "PopularResponse",
    "PopularityScope",
    "RankBatchRequest",
    "RankBatchResponse",
    "RankRequest",
    "RankResponse",
    "RequestContext",
    "RetrievalStrategy",
    "RewardKind",
    "RewardRequest",
    "ScoredId",
    "Surface",
    "VenueEntity",
    "VenuesBatch",
]

"""Typed async clients of the five backends over a shared resilience layer.

Deadline-aware timeouts, retries, a circuit breaker, a response cache with
stale-while-revalidate and single-flight, and the backend contract models
(:mod:`clients.contracts`). Knows nothing of GraphQL or HTTP servers: callers get
:class:`Fetched` values or :class:`BackendError` subclasses, nothing else.

Example usage:
    ```python
    async with open_backends(configs, CacheConfig(), snapshot_path) as backends:
        deadline = Deadline.after(0.3)
        try:
            fetched = await backends.retrieval.candidates(request, deadline)
        except BackendError:
            ...  # fall back
    ```
"""

from clients.bandit import BanditClient
from clients.base import DEFAULT_RESERVE_S, BackendClient, fingerprint, map_backend_errors
from clients.breaker import BreakerState, CircuitBreaker
from clients.cache import ResponseCache
from clients.catalog import CatalogClient
from clients.config import BackendConfig, BreakerConfig, CacheConfig, RetryConfig
from clients.deadline import Deadline
from clients.errors import (
    BackendError,
    BackendMalformed,
    BackendRejected,
    BackendTimeout,
    BackendUnavailable,
    CallOutcome,
    CircuitOpen,
)
from clients.observe import CallObserver, NoopObserver
from clients.popularity import PopularityClient
from clients.ranking import RankingClient
from clients.reference import ReferenceSnapshot, ReferenceStore, popular_key
from clients.registry import BACKEND_NAMES, Backends, open_backends
from clients.results import CacheResult, Fetched
from clients.retrieval import RetrievalClient
from clients.singleflight import SingleFlight

__all__ = [
    "BACKEND_NAMES",
    "DEFAULT_RESERVE_S",
    "BackendClient",
    "BackendConfig",
    "BackendError",
    "BackendMalformed",
    "BackendRejected",
    "BackendTimeout",
    "BackendUnavailable",
    "Backends",
    "BanditClient",
    "BreakerConfig",
    "BreakerState",
    "CacheConfig",
    "CacheResult",
    "CallObserver",
    "CallOutcome",
    "CatalogClient",
    "CircuitBreaker",
    "CircuitOpen",
    "Deadline",
    "Fetched",
    "NoopObserver",
    "PopularityClient",
    "RankingClient",
    "ReferenceSnapshot",
    "ReferenceStore",
    "ResponseCache",
    "RetrievalClient",
    "RetryConfig",
    "SingleFlight",
    "fingerprint",
    "map_backend_errors",
    "open_backends",
    "popular_key",
]

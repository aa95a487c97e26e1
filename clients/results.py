"""What a backend call returns: the value plus where it came from and what it cost."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

T = TypeVar("T")

__all__ = ["CacheResult", "Fetched"]


class CacheResult(StrEnum):
    """How the cache took part in a call.

    ``HIT``: served fresh from the cache, no network. ``MISS``: fetched and stored.
    ``STALE``: the backend failed and an expired entry was served instead.
    ``BYPASS``: the call is not cached (e.g. bandit decisions).
    """

    HIT = "hit"
    MISS = "miss"
    STALE = "stale"
    BYPASS = "bypass"


@dataclass(frozen=True, slots=True)
class Fetched(Generic[T]):
    """A validated value with its provenance.

    Attributes:
        value: the contract model (or what a typed client made of it).
        cache: how the cache took part.
        elapsed_ms: wall time of the call as the caller saw it.
        attempts: HTTP attempts made (0 for cache hits).
    """

    value: T
    cache: CacheResult
    elapsed_ms: float
    attempts: int

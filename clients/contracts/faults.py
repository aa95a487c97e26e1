"""Fault injection contract shared by every reference backend: ``PUT/DELETE /_faults``."""

from __future__ import annotations

from pydantic import Field

from clients.contracts.common import Contract


class FaultConfig(Contract):
    """How a reference backend should misbehave until the faults are deleted.

    ``error_rate`` answers HTTP 500, ``malformed_rate`` answers a body that is not JSON or
    not the contract's shape, ``hang`` never answers; ``status`` picks the error status
    (500 by default; 503 or 429 exercise the retry path).
    """

    latency_ms: float = Field(default=0, ge=0)
    jitter_ms: float = Field(default=0, ge=0)
    error_rate: float = Field(default=0, ge=0, le=1)
    malformed_rate: float = Field(default=0, ge=0, le=1)
    hang: bool = False
    status: int = Field(default=500, ge=400, le=599)

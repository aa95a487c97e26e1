"""Hooks through which the clients report what they do; metrics plug in here.

The clients call an observer synchronously on the request path, so implementations must be
cheap and must not raise (a Prometheus counter increment is the intended use).
"""

from __future__ import annotations

from typing import Protocol

from clients.breaker import BreakerState
from clients.errors import CallOutcome
from clients.results import CacheResult

__all__ = ["CallObserver", "NoopObserver"]


class CallObserver(Protocol):
    """Receives one event per backend call, per retry and per breaker state change."""

    def on_call(
        self,
        backend: str,
        endpoint: str,
        outcome: CallOutcome,
        duration_s: float,
        cache: CacheResult,
        attempts: int,
    ) -> None:
        """A call finished; ``outcome`` is ``"ok"`` or the error's kind (see ``errors``).

        A stale entry served after a failure reports the failure's outcome with
        ``cache=STALE``.
        """

    def on_retry(self, backend: str, endpoint: str) -> None:
        """A failed attempt is about to be retried."""

    def on_breaker_state(self, backend: str, state: BreakerState) -> None:
        """The backend's circuit breaker changed state."""


class NoopObserver:
    """The default observer: ignores everything."""

    def on_call(
        self,
        backend: str,
        endpoint: str,
        outcome: CallOutcome,
        duration_s: float,
        cache: CacheResult,
        attempts: int,
    ) -> None:
        return None

    def on_retry(self, backend: str, endpoint: str) -> None:
        return None

    def on_breaker_state(self, backend: str, state: BreakerState) -> None:
        return None

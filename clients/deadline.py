"""Request deadlines: one absolute point in (monotonic) time that every backend call respects.

A request's deadline is built once, at the edge (``resolvers.RequestScope``: the caller's
``X-Request-Timeout-Ms`` counted from arrival, narrowed per page to the surface's latency
budget; decision 0025), and handed down. Each backend call then asks
:meth:`Deadline.budget_for` how long it may take: ``min(backend timeout, remaining -
reserve)``. The reserve is kept for fallbacks, hydration and
serialisation, so a slow backend eats its own budget, never the page's.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Deadline:
    """An absolute deadline on a monotonic clock.

    Args:
        expires_at: when the deadline passes, in the clock's seconds.
        clock: the clock; ``time.monotonic`` unless a test injects a fake one.

    Example usage:
        ```python
        deadline = Deadline.after(0.3)
        timeout = deadline.budget_for(0.25, reserve_s=DEFAULT_RESERVE_S)
        if timeout <= 0:
            ...  # no time left: fail fast, run the fallback
        ```
    """

    expires_at: float
    clock: Clock = field(default=time.monotonic, compare=False, repr=False)

    @classmethod
    def after(cls, seconds: float, *, clock: Clock = time.monotonic) -> Deadline:
        """A deadline ``seconds`` from now."""
        return cls(clock() + seconds, clock)

    @classmethod
    def never(cls, *, clock: Clock = time.monotonic) -> Deadline:
        """A deadline that never passes (background jobs bound themselves otherwise)."""
        return cls(math.inf, clock)

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self.expires_at - self.clock())

    @property
    def expired(self) -> bool:
        """Whether no time is left."""
        return self.remaining() <= 0.0

    def budget_for(self, timeout_s: float, reserve_s: float = 0.0) -> float:
        """How long one call may take: ``min(timeout_s, remaining - reserve_s)``.

        May be zero or negative, meaning "no time": the caller must fail fast without
        touching the network.
        """
        return min(timeout_s, self.remaining() - reserve_s)

    def reserved(self, reserve_s: float) -> Deadline:
        """This deadline ``reserve_s`` earlier: the part of it a backend call may use, the
        rest kept for the caller's fallbacks, hydration and serialisation."""
        if not reserve_s:
            return self
        return Deadline(self.expires_at - reserve_s, self.clock)

    def within(self, seconds: float) -> Deadline:
        """This deadline, or one ``seconds`` from now if that comes earlier."""
        return Deadline(min(self.expires_at, self.clock() + seconds), self.clock)
